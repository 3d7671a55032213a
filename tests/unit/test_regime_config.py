"""The ``regimes:`` section of the environment YAML: defaults, merging, validation, display."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from autopilot import cli
from autopilot.config import config_from_dict, dump_config, load_config
from autopilot.errors import ConfigError
from autopilot.market.regime_settings import MODELS, RegimeSettings
from autopilot.market.regimes import REGIME_NAMES
from autopilot.promotion_gate import GateSet

VOLATILITY_DEFAULTS = {
    "lookback": 21,
    "threshold_window": 252,
    "enter_ratio": 1.25,
    "exit_ratio": 1.0,
}
MIXTURE_DEFAULTS = {
    "states": 2,
    "lookback": 21,
    "refit_every": 63,
    "min_train": 504,
    "covariance_type": "full",
    "n_init": 1,
    "max_iter": 500,
    "tol": 1e-3,
    "random_state": 0,
}
GATES = "periods_per_year: 252\ngates: {sharpe: {}}\n"


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_declared_defaults():
    assert {k: p.default for k, p in MODELS["volatility"].items()} == VOLATILITY_DEFAULTS
    assert {k: p.default for k, p in MODELS["gaussian_mixture"].items()} == MIXTURE_DEFAULTS
    assert RegimeSettings().to_dict() == {"model": "volatility", "params": VOLATILITY_DEFAULTS}
    mixture = RegimeSettings("gaussian_mixture", {"states": 3})
    assert mixture.to_dict() == {
        "model": "gaussian_mixture",
        "params": {**MIXTURE_DEFAULTS, "states": 3},
    }


def test_states_counts_the_labels_of_the_model():
    assert RegimeSettings().states == len(REGIME_NAMES) == 2
    assert RegimeSettings("gaussian_mixture").states == 2
    assert RegimeSettings("gaussian_mixture", {"states": 5}).states == 5


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_shipped_environments_use_the_volatility_rule_with_its_defaults(config_dir, env):
    assert load_config(env, config_dir).regimes == RegimeSettings()


def test_a_file_without_regimes_gets_the_volatility_rule(tmp_path):
    config = load_config(write(tmp_path, "e.yaml", GATES))
    assert config.regimes == RegimeSettings()
    assert config.to_dict()["regimes"] == {"model": "volatility", "params": VOLATILITY_DEFAULTS}


def test_an_extending_file_merges_the_parameters_of_the_same_model(tmp_path):
    write(
        tmp_path,
        "base.yaml",
        GATES + "regimes: {model: gaussian_mixture, params: {states: 3, refit_every: 21}}\n",
    )
    env = write(tmp_path, "prod.yaml", "extends: base.yaml\nregimes: {params: {min_train: 252}}\n")
    config = load_config(env)
    assert config.regimes.model == "gaussian_mixture"
    assert dict(config.regimes.params) == {
        **MIXTURE_DEFAULTS,
        "states": 3,
        "refit_every": 21,
        "min_train": 252,
    }


def test_naming_another_model_replaces_the_base_section(tmp_path):
    write(tmp_path, "base.yaml", GATES + "regimes: {model: volatility, params: {lookback: 30}}\n")
    env = write(
        tmp_path,
        "prod.yaml",
        "extends: base.yaml\nregimes: {model: gaussian_mixture, params: {states: 3}}\n",
    )
    config = load_config(env)
    # The base's lookback belonged to the volatility rule: the mixture keeps its own default.
    assert dict(config.regimes.params) == {**MIXTURE_DEFAULTS, "states": 3}
    assert not any(
        path[0] == "regimes" and config.origins[path] != str(env) for path in config.origins
    )


def test_a_base_without_a_model_name_holds_the_default_model(tmp_path):
    write(tmp_path, "base.yaml", GATES + "regimes: {params: {threshold_window: 126}}\n")
    mixture = write(tmp_path, "m.yaml", "extends: base.yaml\nregimes: {model: gaussian_mixture}\n")
    assert dict(load_config(mixture).regimes.params) == MIXTURE_DEFAULTS
    rule = write(tmp_path, "v.yaml", "extends: base.yaml\nregimes: {model: volatility}\n")
    assert load_config(rule).regimes.params["threshold_window"] == 126


def test_dump_and_reload_keep_the_regimes_and_the_hash(tmp_path):
    text = GATES + "regimes: {model: gaussian_mixture, params: {states: 4, tol: 0.0001}}\n"
    original = GateSet(load_config(write(tmp_path, "a.yaml", text)))
    reloaded = GateSet(load_config(write(tmp_path, "b.yaml", dump_config(original.describe()))))
    assert reloaded.config.regimes == original.config.regimes
    assert reloaded.config_hash == original.config_hash
    assert config_from_dict(original.config.to_dict()).regimes == original.config.regimes


def test_the_regimes_are_part_of_the_rules_hash(tmp_path):
    plain = GateSet(load_config(write(tmp_path, "a.yaml", GATES))).config_hash
    same = GateSet(
        load_config(write(tmp_path, "b.yaml", GATES + "regimes: {params: {lookback: 21}}\n"))
    ).config_hash
    other = GateSet(
        load_config(write(tmp_path, "c.yaml", GATES + "regimes: {params: {lookback: 30}}\n"))
    ).config_hash
    assert plain == same != other


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("regimes:\n", "regimes: is empty (null) where a mapping with model/params is expected"),
        (
            "regimes: [volatility]\n",
            "regimes: must be a mapping with model/params, was ['volatility']",
        ),
        (
            "regimes: {model: volatility, lookback: 21}\n",
            "regimes.lookback: unknown key. Allowed keys here: model, params.",
        ),
        (
            "regimes: {model: hmm}\n",
            "regimes.model: must be one of 'volatility', 'gaussian_mixture', was 'hmm'. Name one of the regime models: volatility, gaussian_mixture.",
        ),
        ("regimes: {model: }\n", "regimes.model: must be of type str, was None (NoneType)"),
        ("regimes: {model: 2}\n", "regimes.model: must be of type str, was 2 (int)"),
        (
            "regimes: {params: }\n",
            "regimes.params: is empty (null) where a mapping of parameter to value is expected",
        ),
        ("regimes: {params: [21]}\n", "regimes.params: must be a mapping, was [21]"),
        # Parameters, checked against the model once the files are merged.
        (
            "regimes: {params: {lookbak: 21}}\n",
            "regimes.params: Regime model 'volatility' has no parameter 'lookbak'; its parameters are: enter_ratio, exit_ratio, lookback, threshold_window.",
        ),
        (
            "regimes: {params: {states: 2}}\n",
            "regimes.params: Regime model 'volatility' has no parameter 'states'",
        ),
        (
            "regimes: {params: {lookback: 1}}\n",
            "regimes.params: The 'lookback' parameter of regime model 'volatility' must be in [2, inf), was 1.",
        ),
        (
            "regimes: {params: {lookback: 21.0}}\n",
            "The 'lookback' parameter of regime model 'volatility' must be an integer, was 21.0 (float).",
        ),
        (
            "regimes: {params: {threshold_window: 0}}\n",
            "The 'threshold_window' parameter of regime model 'volatility' must be in [1, inf), was 0.",
        ),
        (
            "regimes: {params: {enter_ratio: 0}}\n",
            "The 'enter_ratio' parameter of regime model 'volatility' must be in (0, inf), was 0.",
        ),
        (
            "regimes: {params: {enter_ratio: .nan}}\n",
            "The 'enter_ratio' parameter of regime model 'volatility' must be a finite number, was nan.",
        ),
        (
            "regimes: {params: {exit_ratio: high}}\n",
            "The 'exit_ratio' parameter of regime model 'volatility' must be a number, was 'high' (str).",
        ),
        (
            "regimes: {params: {exit_ratio: 1.5}}\n",
            "The 'exit_ratio' parameter of regime model 'volatility' must not exceed enter_ratio (1.25), was 1.5.",
        ),
        (
            "regimes: {model: gaussian_mixture, params: {lookback: 21, threshold_window: 252}}\n",
            "Regime model 'gaussian_mixture' has no parameter 'threshold_window'",
        ),
        (
            "regimes: {model: gaussian_mixture, params: {states: 1}}\n",
            "The 'states' parameter of regime model 'gaussian_mixture' must be in [2, 8], was 1.",
        ),
        (
            "regimes: {model: gaussian_mixture, params: {states: 9}}\n",
            "The 'states' parameter of regime model 'gaussian_mixture' must be in [2, 8], was 9.",
        ),
        (
            "regimes: {model: gaussian_mixture, params: {states: true}}\n",
            "The 'states' parameter of regime model 'gaussian_mixture' must be an integer, was True (bool).",
        ),
        (
            "regimes: {model: gaussian_mixture, params: {lookback: 1}}\n",
            "The 'lookback' parameter of regime model 'gaussian_mixture' must be in [2, inf), was 1.",
        ),
        (
            "regimes: {model: gaussian_mixture, params: {refit_every: 0}}\n",
            "The 'refit_every' parameter of regime model 'gaussian_mixture' must be in [1, inf), was 0.",
        ),
        (
            "regimes: {model: gaussian_mixture, params: {min_train: 99}}\n",
            "The 'min_train' parameter of regime model 'gaussian_mixture' must be in [100, inf), was 99.",
        ),
        (
            "regimes: {model: gaussian_mixture, params: {covariance_type: tri}}\n",
            "The 'covariance_type' parameter of regime model 'gaussian_mixture' must be one of 'full', 'tied', 'diag', 'spherical', was 'tri'.",
        ),
        (
            "regimes: {model: gaussian_mixture, params: {n_init: 0}}\n",
            "The 'n_init' parameter of regime model 'gaussian_mixture' must be in [1, 100], was 0.",
        ),
        (
            "regimes: {model: gaussian_mixture, params: {max_iter: 0}}\n",
            "The 'max_iter' parameter of regime model 'gaussian_mixture' must be in [1, inf), was 0.",
        ),
        (
            "regimes: {model: gaussian_mixture, params: {tol: 0.0}}\n",
            "The 'tol' parameter of regime model 'gaussian_mixture' must be in (0, inf), was 0.0.",
        ),
        (
            "regimes: {model: gaussian_mixture, params: {random_state: -1}}\n",
            "The 'random_state' parameter of regime model 'gaussian_mixture' must be in [0, 4294967295], was -1.",
        ),
        (
            "regimes: {model: gaussian_mixture, params: {random_state: null}}\n",
            "The 'random_state' parameter of regime model 'gaussian_mixture' must be an integer, was None (NoneType).",
        ),
    ],
)
def test_a_bad_regimes_section_names_file_key_rule_and_value(tmp_path, section, message):
    env = write(tmp_path, "env.yaml", GATES + section)
    with pytest.raises(ConfigError) as info:
        load_config(env)
    text = str(info.value)
    assert text.startswith(f"{env}: regimes")
    assert message in text
    assert "\n" not in text


def test_a_bad_parameter_is_named_in_the_file_that_holds_it(tmp_path):
    base = write(tmp_path, "base.yaml", GATES + "regimes: {params: {exit_ratio: 1.2}}\n")
    prod = write(
        tmp_path, "prod.yaml", "extends: base.yaml\nregimes: {params: {enter_ratio: 1.1}}\n"
    )
    with pytest.raises(ConfigError) as info:
        load_config(prod)
    # exit_ratio (1.2, from base.yaml) now exceeds enter_ratio (1.1, from prod.yaml).
    assert str(info.value) == (
        f"{base}: regimes.params: The 'exit_ratio' parameter of regime model 'volatility' "
        "must not exceed enter_ratio (1.1), was 1.2."
    )
    write(tmp_path, "base.yaml", GATES + "regimes: {model: gaussian_mixture}\n")
    write(tmp_path, "prod.yaml", "extends: base.yaml\nregimes: {params: {states: 0}}\n")
    with pytest.raises(ConfigError, match=rf"^{prod}: regimes\.params: The 'states' parameter"):
        load_config(prod)


def test_a_null_regimes_section_in_an_extending_file_is_refused(tmp_path):
    write(tmp_path, "base.yaml", GATES + "regimes: {model: gaussian_mixture}\n")
    env = write(tmp_path, "prod.yaml", "extends: base.yaml\nregimes:\n")
    with pytest.raises(ConfigError, match=rf"^{env}: regimes: is empty \(null\)"):
        load_config(env)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"model": "hmm"},
            "The 'model' setting of 'RegimeSettings' must be one of 'volatility', 'gaussian_mixture', was 'hmm'.",
        ),
        (
            {"params": [("lookback", 3)]},
            "The 'params' setting of 'RegimeSettings' must be a mapping, was [('lookback', 3)] (list).",
        ),
        (
            {"params": {"lookback": 0}},
            "The 'lookback' parameter of regime model 'volatility' must be in [2, inf), was 0.",
        ),
    ],
)
def test_settings_built_in_code_are_checked_too(kwargs, message):
    with pytest.raises(ConfigError) as info:
        RegimeSettings(**kwargs)
    assert str(info.value) == message


def test_config_show_prints_the_regimes_in_yaml_and_json(tmp_path, capsys):
    write(
        tmp_path,
        "qa.yaml",
        GATES + "regimes: {model: gaussian_mixture, params: {states: 3, min_train: 252}}\n",
    )
    argv = ["--config-dir", str(tmp_path), "config", "show", "--env", "qa"]
    assert cli.main(argv) == 0
    shown = capsys.readouterr().out
    assert (
        "regimes:\n  model: gaussian_mixture\n  params:\n    states: 3\n    lookback: 21\n" in shown
    )
    assert cli.main([*argv, "--format", "json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["config"]["regimes"] == {
        "model": "gaussian_mixture",
        "params": {**MIXTURE_DEFAULTS, "states": 3, "min_train": 252},
    }


def test_config_show_does_not_import_scikit_learn(tmp_path):
    write(tmp_path, "qa.yaml", GATES + "regimes: {model: gaussian_mixture}\n")
    probe = (
        "import sys\n"
        "from autopilot.cli import main\n"
        "code = main(['--config-dir', sys.argv[1], 'config', 'show', '--env', 'qa'])\n"
        "print(code, sorted({m.split('.')[0] for m in sys.modules} & {'sklearn', 'threadpoolctl'}),"
        " file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, str(tmp_path)], capture_output=True, text=True, check=True
    )
    assert done.stderr.strip().splitlines()[-1] == "0 []"
