"""YAML environments: shipped files, strict validation and the dump/reload round trip."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autopilot import cli
from autopilot.config import (
    config_from_dict,
    copy_default_configs,
    dump_config,
    is_packaged,
    load_config,
    resolve_config_path,
)
from autopilot.errors import ConfigError, GateParameterError
from autopilot.promotion_gate import GateSet
from autopilot.sdk.gate import Gate
from autopilot.sdk.params import Interval, Param
from autopilot.sdk.plugins import (
    GateCatalog,
    GateInfo,
    InstalledPlugin,
    load_gate_catalog,
    new_plugin_manager,
)

ENVIRONMENTS = ["dev", "staging", "prod"]


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_shipped_configs_load_and_build_a_gate_set(config_dir, env):
    config = load_config(env, config_dir)
    gate_set = GateSet(config)
    assert config.environment == env
    assert config.periods_per_year == 252
    assert {g.name for g in gate_set.gates} >= {"sharpe", "max_drawdown", "transition_drawdown"}


def params(config_dir, env):
    return {g.name: g.gate.params for g in GateSet(load_config(env, config_dir)).gates}


def test_prod_is_the_strictest(config_dir):
    prod, staging, dev = (params(config_dir, e) for e in ("prod", "staging", "dev"))
    for looser in (staging, dev):
        assert prod["sharpe"]["min"] >= looser["sharpe"]["min"]
        assert prod["max_drawdown"]["max"] <= looser["max_drawdown"]["max"]
        assert prod["transition_drawdown"]["max"] <= looser["transition_drawdown"]["max"]
        assert prod["min_history"]["bars"] >= looser["min_history"]["bars"]
        assert (
            prod["probabilistic_sharpe"]["min_probability"]
            >= looser["probabilistic_sharpe"]["min_probability"]
        )
    modes = {g.name: g.mode.value for g in GateSet(load_config("prod", config_dir)).gates}
    assert set(modes.values()) == {"enforce"}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_dump_and_reload_gives_the_same_gate_set(tmp_path, config_dir, env):
    original = GateSet(load_config(env, config_dir))
    dumped = write(tmp_path, f"{env}.yaml", dump_config(original.describe()))
    reloaded = GateSet(load_config(dumped))
    assert reloaded.describe() == original.describe()
    assert reloaded.config_hash == original.config_hash
    assert dump_config(load_config(dumped)) == dump_config(original.describe())


def test_hash_ignores_layout_but_not_rules(tmp_path):
    a = write(tmp_path, "a.yaml", "periods_per_year: 252\ngates: {sharpe: {params: {min: 0.5}}}\n")
    b = write(tmp_path, "b.yaml", "periods_per_year: 252\ngates:\n  sharpe: {}\n")
    c = write(tmp_path, "c.yaml", "periods_per_year: 252\ngates: {sharpe: {params: {min: 0.6}}}\n")
    hashes = [GateSet(load_config(p)).config_hash for p in (a, b, c)]
    assert hashes[0] == hashes[1] != hashes[2]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("periods_per_year: 252\nperiods_per_year: 12\n", "duplicate key 'periods_per_year'"),
        ("periods_per_year: 252\nperiod_per_year: 12\n", "period_per_year: unknown key"),
        ("periods_per_year: daily\n", "periods_per_year: must be a positive integer, was 'daily'"),
        ("periods_per_year: 0\n", "must be a positive integer"),
        ("periods_per_year: true\n", "must be a positive integer"),
        ("risk_free_rate: 0.02\n", "periods_per_year: is required"),
        ("periods_per_year: 252\nrisk_free_rate: 2\n", "risk_free_rate: must be an annual rate"),
        ("periods_per_year: 252\nplugins: pbo\n", "plugins: must be a list"),
        ("periods_per_year: 252\ngates: [sharpe]\n", "gates: must be a mapping"),
        (
            "periods_per_year: 252\ngates: {sharpe: {mode: block}}\n",
            "gates.sharpe.mode: must be 'enforce' or 'shadow'",
        ),
        ("periods_per_year: 252\ngates: {sharpe: {min: 1}}\n", "gates.sharpe.min: unknown key"),
        (
            "periods_per_year: 252\ngates: {sharpe: {enabled: 'no'}}\n",
            "gates.sharpe.enabled: must be true or false",
        ),
        (
            "periods_per_year: 252\nregistry: {promotion_grace_cycles: 0}\n",
            "registry.promotion_grace_cycles: must be an integer >= 1",
        ),
        ("periods_per_year: 252\nregistry: {max_active: -3}\n", "registry.max_active"),
        ("periods_per_year: 252\nregistry: {grace: 3}\n", "registry.grace: unknown key"),
        ("periods_per_year: [252\n", "invalid YAML"),
        ("- 1\n- 2\n", "the top level must be a mapping"),
        (
            "periods_per_year: 252\nextends: missing.yaml\n",
            "missing.yaml: configuration file not found",
        ),
        ("periods_per_year: !!python/object:os.system ls\n", "invalid YAML"),
    ],
)
def test_bad_files_name_file_key_and_fix(tmp_path, text, message):
    path = write(tmp_path, "env.yaml", text)
    with pytest.raises(ConfigError, match=None) as info:
        load_config(path)
    assert message in str(info.value)
    assert "env.yaml" in str(info.value) or "missing.yaml" in str(info.value)


def test_error_names_the_file_that_holds_the_bad_key(tmp_path):
    write(tmp_path, "base.yaml", "periods_per_year: 252\ngates: {sharpe: {paramz: {}}}\n")
    env = write(tmp_path, "dev.yaml", "extends: base.yaml\n")
    with pytest.raises(ConfigError, match=r"base\.yaml: gates\.sharpe\.paramz: unknown key"):
        load_config(env)


def test_extends_cycle_is_refused(tmp_path):
    write(tmp_path, "a.yaml", "extends: b.yaml\nperiods_per_year: 252\n")
    write(tmp_path, "b.yaml", "extends: a.yaml\n")
    with pytest.raises(ConfigError, match="cycle"):
        load_config(tmp_path / "a.yaml")


def test_extending_file_overrides_and_can_disable(tmp_path):
    write(
        tmp_path,
        "base.yaml",
        "periods_per_year: 252\ngates: {sharpe: {params: {min: 0.5}}, max_drawdown: {}}\n",
    )
    env = write(
        tmp_path,
        "x.yaml",
        "extends: base.yaml\ngates: {sharpe: {params: {min: 1.0}}, max_drawdown: {enabled: false}}\n",
    )
    config = load_config(env)
    assert [(g.name, dict(g.params)) for g in config.gates] == [("sharpe", {"min": 1.0})]
    assert config.environment == "x"


def test_unknown_environment_in_a_given_folder_lists_what_it_holds(config_dir):
    with pytest.raises(ConfigError) as info:
        load_config("qa", config_dir)
    assert str(info.value) == (
        f"{config_dir / 'qa.yaml'}: no configuration for environment 'qa' in the folder "
        f"{config_dir} (environments: base, dev, prod, staging). Name one of those "
        f"environments, a YAML file, or another folder of environment files."
    )


# --- where an environment name is looked up ----------------------------------------------


@pytest.fixture
def elsewhere(tmp_path, monkeypatch) -> Path:
    """An empty working folder outside the repository."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_without_a_local_folder_the_shipped_defaults_are_read(elsewhere, config_dir):
    config = load_config("dev")
    assert config.sources == (str(config_dir / "dev.yaml"), str(config_dir / "base.yaml"))
    assert resolve_config_path("prod") == config_dir / "prod.yaml"
    assert all(is_packaged(source) for source in config.sources)


def test_a_local_configs_folder_is_read_before_the_defaults(elsewhere, config_dir):
    copy_default_configs("configs")
    (elsewhere / "configs" / "staging.yaml").unlink()
    (elsewhere / "configs" / "base.yaml").write_text(
        (config_dir / "base.yaml").read_text().replace("{min: 0.5}", "{min: 0.7}")
    )
    local = load_config("dev")
    assert local.sources == ("configs/dev.yaml", "configs/base.yaml")
    assert not any(is_packaged(source) for source in local.sources)
    assert GateSet(local).describe()["gates"]["sharpe"]["params"] == {"min": 0.7}
    # A name the local folder does not hold comes from the defaults, base file included.
    staging = load_config("staging")
    assert staging.sources == (str(config_dir / "staging.yaml"), str(config_dir / "base.yaml"))
    assert GateSet(staging).describe()["gates"]["sharpe"]["params"] == {"min": 0.5}


def test_extends_is_read_from_the_folder_of_the_extending_file(elsewhere, config_dir):
    (elsewhere / "configs").mkdir()
    (elsewhere / "configs" / "dev.yaml").write_bytes((config_dir / "dev.yaml").read_bytes())
    # The shipped base.yaml is not taken in place of the missing local one.
    with pytest.raises(ConfigError, match=r"^configs/base\.yaml: configuration file not found$"):
        load_config("dev")


def test_a_given_folder_is_the_only_one_searched(elsewhere):
    copy_default_configs("configs")
    (elsewhere / "mine").mkdir()
    (elsewhere / "mine" / "prod.yaml").write_text("periods_per_year: 252\ngates: {sharpe: {}}\n")
    assert load_config("prod", "mine").sources == ("mine/prod.yaml",)
    with pytest.raises(ConfigError) as info:
        load_config("dev", "mine")
    assert str(info.value).startswith(
        "mine/dev.yaml: no configuration for environment 'dev' in the folder mine "
        "(environments: prod). "
    )
    with pytest.raises(ConfigError, match=r"in the folder nowhere \(no such folder\)"):
        load_config("dev", "nowhere")


def test_an_unknown_environment_names_every_folder_searched(elsewhere, config_dir):
    with pytest.raises(ConfigError) as info:
        load_config("qa")
    assert str(info.value) == (
        f"no configuration for environment 'qa': searched ./configs (no such folder) and the "
        f"defaults shipped with autopilot in {config_dir} (environments: base, dev, prod, "
        f"staging). Name one of those environments, a YAML file, or a folder of environment "
        f"files (--config-dir)."
    )
    (elsewhere / "configs").mkdir()
    (elsewhere / "configs" / "mine.yaml").write_text("periods_per_year: 252\n")
    with pytest.raises(ConfigError, match=r"searched ./configs \(environments: mine\) and"):
        load_config("qa")


def test_a_path_is_read_as_given(elsewhere):
    copy_default_configs("configs")
    assert resolve_config_path("configs/dev.yaml") == Path("configs/dev.yaml")
    assert resolve_config_path("other.yml") == Path("other.yml")
    with pytest.raises(ConfigError, match=r"^other\.yml: configuration file not found$"):
        load_config("other.yml")


def test_copying_the_defaults_writes_exact_copies_and_never_overwrites(elsewhere, config_dir):
    written = copy_default_configs(elsewhere / "a" / "b")
    names = ["base.yaml", "dev.yaml", "prod.yaml", "staging.yaml"]
    assert written == [elsewhere / "a" / "b" / name for name in names]
    for name in names:
        assert (elsewhere / "a" / "b" / name).read_bytes() == (config_dir / name).read_bytes()
    (elsewhere / "c").mkdir()
    (elsewhere / "c" / "dev.yaml").write_text("mine\n")
    (elsewhere / "c" / "prod.yaml").write_text("mine\n")
    with pytest.raises(ConfigError) as info:
        copy_default_configs(elsewhere / "c")
    assert str(info.value) == (
        f"{elsewhere / 'c'}: already holds dev.yaml, prod.yaml; nothing was copied, nothing is "
        f"overwritten. Move those files away first, or copy into another folder."
    )
    assert sorted(p.name for p in (elsewhere / "c").iterdir()) == ["dev.yaml", "prod.yaml"]
    assert (elsewhere / "c" / "dev.yaml").read_text() == "mine\n"
    (elsewhere / "f").write_text("")
    with pytest.raises(ConfigError, match="is a file; name a folder"):
        copy_default_configs(elsewhere / "f")


def test_unknown_gate_lists_available_gates(tmp_path):
    env = write(tmp_path, "e.yaml", "periods_per_year: 252\ngates: {sharp: {}}\n")
    with pytest.raises(
        ConfigError, match=r"e\.yaml: gates\.sharp: unknown gate\. Available gates: .*sharpe"
    ):
        GateSet(load_config(env))


@pytest.mark.parametrize(
    ("gate", "params", "message"),
    [
        (
            "max_drawdown",
            {"max": 1.5},
            "The 'max' parameter of gate 'max_drawdown' must be in [0, 1], was 1.5.",
        ),
        (
            "sharpe",
            {"min": "high"},
            "The 'min' parameter of gate 'sharpe' must be a number, was 'high' (str).",
        ),
        (
            "sharpe",
            {"minimum": 1},
            "Gate 'sharpe' has no parameter 'minimum'; its parameters are: min.",
        ),
        (
            "transition_drawdown",
            {"window": 2.5},
            "The 'window' parameter of gate 'transition_drawdown' must be an integer",
        ),
        ("min_history", {"bars": True}, "must be an integer, was True"),
        ("sharpe", {"min": float("nan")}, "must be a finite number"),
    ],
)
def test_bad_gate_parameters_name_file_key_rule_and_value(gate, params, message):
    with pytest.raises(GateParameterError) as info:
        GateSet(
            config_from_dict(
                {"periods_per_year": 252, "gates": {gate: {"params": params}}}, "t.yaml"
            )
        )
    assert message in str(info.value)
    assert f"t.yaml: gates.{gate}.params" in str(info.value)


def test_a_config_without_gates_is_refused():
    with pytest.raises(ConfigError, match="no gate is enforced"):
        GateSet(config_from_dict({"periods_per_year": 252, "gates": {}}))


# --------------------------------------------------------------------------------------------
# A configuration cannot weaken silently


STRICT_BASE = (
    "periods_per_year: 252\n"
    "plugins: []\n"
    "gates:\n"
    "  sharpe: {params: {min: 1.5}}\n"
    "  max_drawdown: {params: {max: 0.2}}\n"
    "registry: {max_active: 5, rank_by: sharpe}\n"
)


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("gates:\n  sharpe:\n", "gates.sharpe"),
        ("gates:\n  sharpe: ~\n", "gates.sharpe"),
        ("gates:\n  sharpe:\n    params:\n", "gates.sharpe.params"),
        ("gates:\n", "gates"),
        ("registry:\n", "registry"),
        ("plugins:\n", "plugins"),
    ],
)
def test_a_null_entry_in_an_extending_file_is_refused_naming_file_and_key(tmp_path, override, key):
    write(tmp_path, "base.yaml", STRICT_BASE)
    env = write(tmp_path, "prod.yaml", "extends: base.yaml\n" + override)
    with pytest.raises(ConfigError) as info:
        load_config(env)
    message = str(info.value)
    assert message.startswith(f"{env}: {key}: is empty (null) where ")
    assert "Write " in message  # the fix


@pytest.mark.parametrize(
    "text",
    [
        "periods_per_year: 252\ngates:\n  sharpe:\n",
        "periods_per_year: 252\ngates:\n  sharpe: {params: }\n",
    ],
)
def test_a_null_entry_is_refused_in_a_file_without_base_too(tmp_path, text):
    env = write(tmp_path, "dev.yaml", text)
    with pytest.raises(ConfigError, match=r"dev\.yaml: gates\.sharpe.*: is empty \(null\)"):
        load_config(env)
    with pytest.raises(ConfigError, match="is empty"):
        config_from_dict({"periods_per_year": 252, "gates": {"sharpe": None}}, "d.yaml")


def test_an_empty_mapping_keeps_the_base_and_means_defaults_without_one(tmp_path):
    write(tmp_path, "base.yaml", STRICT_BASE)
    extending = write(
        tmp_path,
        "prod.yaml",
        "extends: base.yaml\ngates:\n  sharpe: {}\n  max_drawdown: {params: {}}\n",
    )
    standalone = write(tmp_path, "solo.yaml", "periods_per_year: 252\ngates:\n  sharpe: {}\n")
    inherited = params_of(load_config(extending))
    assert inherited["sharpe"] == {"min": 1.5}
    assert inherited["max_drawdown"] == {"max": 0.2}
    assert params_of(load_config(standalone))["sharpe"] == {"min": 0.5}  # the gate's default


def params_of(config):
    return {g.name: dict(g.gate.params) for g in GateSet(config).gates}


def test_config_show_of_a_null_entry_exits_2_naming_file_and_key(tmp_path, capsys):
    write(tmp_path, "base.yaml", STRICT_BASE)
    write(tmp_path, "prod.yaml", "extends: base.yaml\ngates:\n  sharpe:\n")
    assert cli.main(["--config-dir", str(tmp_path), "config", "show", "--env", "prod"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"error: {tmp_path / 'prod.yaml'}: gates.sharpe: is empty")


@pytest.mark.parametrize(
    ("base_registry", "override", "problem"),
    [
        ("{rank_by: sharp}", "", "'sharp' is not a configured gate"),
        ("{rank_by: sharpe}", "gates: {sharpe: {enabled: false}}\n", "'sharpe' is disabled"),
    ],
)
def test_rank_by_an_unknown_or_disabled_gate_is_refused_at_load(
    tmp_path, base_registry, override, problem
):
    base = write(
        tmp_path,
        "base.yaml",
        "periods_per_year: 252\ngates: {sharpe: {}, max_drawdown: {}}\n"
        f"registry: {base_registry}\n",
    )
    env = write(tmp_path, "prod.yaml", "extends: base.yaml\n" + override)
    with pytest.raises(ConfigError) as info:
        load_config(env)
    message = str(info.value)
    # Named in the file that sets rank_by; a disabled gate also names the disabling file.
    assert message.startswith(f"{base}: registry.rank_by: {problem}")
    if "disabled" in problem:
        assert f"enabled: false in {env})" in message
    assert "`rank_by: null`" in message


def test_rank_by_is_checked_for_configurations_built_in_code():
    with pytest.raises(ConfigError, match=r"c\.yaml: registry\.rank_by: 'pbo' is not"):
        config_from_dict(
            {"periods_per_year": 252, "gates": {"sharpe": {}}, "registry": {"rank_by": "pbo"}},
            "c.yaml",
        )


@pytest.mark.parametrize(
    "command", [["config", "show"], ["gates", "list"], ["gates", "check", "x.csv"]]
)
def test_every_command_refuses_a_bad_rank_by(tmp_path, capsys, command):
    write(
        tmp_path,
        "qa.yaml",
        "periods_per_year: 252\ngates: {sharpe: {}}\nregistry: {rank_by: deflated_sharpe}\n",
    )
    argv = ["--config-dir", str(tmp_path), *command, "--env", "qa"]
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "qa.yaml: registry.rank_by: 'deflated_sharpe' is not a configured gate" in captured.err


def test_a_bad_parameter_names_the_file_that_holds_it(tmp_path):
    base = write(
        tmp_path,
        "base.yaml",
        "periods_per_year: 252\ngates:\n"
        "  max_drawdown: {params: {max: 1.5}}\n"
        "  transition_drawdown: {params: {max: 0.2}}\n",
    )
    prod = write(
        tmp_path,
        "prod.yaml",
        "extends: base.yaml\ngates:\n"
        "  max_drawdown: {mode: shadow}\n"
        "  transition_drawdown: {params: {window: 0}}\n",
    )
    config = load_config(prod)
    assert config.origins[("gates", "max_drawdown", "params", "max")] == str(base)
    assert config.origins[("gates", "max_drawdown", "mode")] == str(prod)
    with pytest.raises(GateParameterError) as info:
        GateSet(config)
    assert str(info.value).startswith(
        f"{base}: gates.max_drawdown.params: The 'max' parameter of gate 'max_drawdown' "
        "must be in [0, 1], was 1.5."
    )
    assert info.value.key == "max"

    fixed = write(
        tmp_path, "fixed.yaml", "extends: prod.yaml\ngates: {max_drawdown: {params: {max: 0.3}}}\n"
    )
    with pytest.raises(GateParameterError) as info:
        GateSet(load_config(fixed))
    assert str(info.value).startswith(f"{prod}: gates.transition_drawdown.params: The 'window'")


def test_a_replaced_value_forgets_the_origins_of_its_parts(tmp_path):
    write(tmp_path, "base.yaml", STRICT_BASE)
    env = write(tmp_path, "prod.yaml", "extends: base.yaml\nplugins: []\n")
    origins = load_config(env).origins
    assert origins[("plugins",)] == str(env)
    assert origins[("gates", "sharpe", "params", "min")] == str(tmp_path / "base.yaml")


def test_a_gate_check_without_a_key_names_the_one_file_that_set_its_parameters(tmp_path):
    class EvenGate(Gate):
        name = "even"
        parameters = {"n": Param(int, default=2, interval=Interval(0, None))}

        def __init__(self, **params):
            super().__init__(**params)
            if self.params["n"] % 2:  # a check of the gate's own, without a key
                raise GateParameterError("The 'n' parameter of gate 'even' must be even, was 3.")

        def evaluate(self, batch, context):  # pragma: no cover - never evaluated
            raise NotImplementedError

    plugin = InstalledPlugin("even", "tests", "tests", "0")
    catalog = GateCatalog(
        {"even": GateInfo("even", EvenGate, plugin), **load_gate_catalog(()).gates},
        (),
        new_plugin_manager(),
    )
    base = write(tmp_path, "base.yaml", "periods_per_year: 252\ngates: {even: {params: {n: 3}}}\n")
    env = write(tmp_path, "prod.yaml", "extends: base.yaml\ngates: {even: {mode: enforce}}\n")
    pattern = rf"^{re.escape(str(base))}: gates\.even\.params: .*must be even"
    with pytest.raises(GateParameterError, match=pattern):
        GateSet(load_config(env), catalog)


def test_a_copy_of_the_package_outside_its_install_reads_local_configs(tmp_path):
    """A copy run with ``python -m`` has no shipped defaults; ./configs must still serve."""
    root = Path(__file__).resolve().parents[2]
    shutil.copytree(root / "autopilot", tmp_path / "autopilot")
    shutil.copytree(root / "configs", tmp_path / "configs")
    (tmp_path / "w.csv").write_text("date,a\n2024-01-02,0.01\n2024-01-03,0.02\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "NUMBA_DISABLE_JIT": "1"}
    command = [sys.executable, "-m", "autopilot.cli", "config", "show", "--env", "dev"]
    shown = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr
    assert "# from configs/dev.yaml <- configs/base.yaml" in shown.stdout
    gone = subprocess.run(
        [*command[:-1], "prod2"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert gone.returncode == 2 and "the default configurations are missing" in gone.stderr
