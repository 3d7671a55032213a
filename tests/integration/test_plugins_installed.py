"""Real plugin distributions installed with pip, used through the real command line.

The PBO gate plugin and the xsmom strategy-family plugin from ``plugins/``, and a
distribution of deliberately broken plugins, are installed with pip into folders of their own; the CLI runs in a subprocess with those
folders on ``PYTHONPATH``, exactly as if they were installed next to strategy-autopilot.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
PBO_SOURCE = ROOT / "plugins" / "autopilot-pbo"
XSMOM_SOURCE = ROOT / "plugins" / "autopilot-xsmom"
FIXTURE_SOURCE = Path(__file__).parent / "fixture_plugins"


def pip_install(source: Path, workdir: Path) -> Path:
    """Install a plugin distribution with pip into a folder of its own; return the folder."""
    copy = workdir / "src"
    shutil.copytree(source, copy, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    target = workdir / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--disable-pip-version-check",
            "--target",
            str(target),
            str(copy),
        ],
        check=True,
        capture_output=True,
    )
    return target


@pytest.fixture(scope="session")
def pbo_site(tmp_path_factory) -> Path:
    return pip_install(PBO_SOURCE, tmp_path_factory.mktemp("pbo"))


@pytest.fixture(scope="session")
def xsmom_site(tmp_path_factory) -> Path:
    return pip_install(XSMOM_SOURCE, tmp_path_factory.mktemp("xsmom"))


@pytest.fixture(scope="session")
def fixture_site(tmp_path_factory) -> Path:
    return pip_install(FIXTURE_SOURCE, tmp_path_factory.mktemp("fixtures"))


def run(args: list[str], *sites: Path, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(str(s) for s in sites))
    return subprocess.run(
        [sys.executable, "-m", "autopilot.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=300,
    )


def probe(code: str, *sites: Path, cwd: Path) -> str:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(str(s) for s in sites))
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=cwd, check=True
    )
    return done.stdout.strip()


@pytest.fixture
def returns_file(tmp_path) -> Path:
    rng = np.random.default_rng(7)
    dates = pd.bdate_range("2020-01-01", periods=400)
    frame = pd.DataFrame({"date": dates})
    for i in range(6):
        frame[f"s{i}"] = rng.normal(0.0008 * i, 0.01, len(dates))
    frame["regime"] = (np.arange(len(dates)) // 100) % 2
    path = tmp_path / "batch.csv"
    frame.to_csv(path, index=False)
    return path


def env_file(tmp_path: Path, plugins: list[str], gates: dict) -> Path:
    import yaml

    path = tmp_path / "env.yaml"
    path.write_text(yaml.safe_dump({"periods_per_year": 252, "plugins": plugins, "gates": gates}))
    return path


def families_env(tmp_path: Path, plugins: list[str]) -> Path:
    """An environment whose only strategy family is xsmom, on a two-point grid."""
    import yaml

    path = tmp_path / "families.yaml"
    families = {"xsmom": {"lookback": [63, 126], "skip": 21, "fraction": 0.2}}
    path.write_text(
        yaml.safe_dump(
            {"periods_per_year": 252, "plugins": plugins, "strategies": {"families": families}}
        )
    )
    return path


def test_installed_plugin_is_discovered_but_not_enabled(tmp_path, pbo_site):
    done = run(["gates", "list", "--format", "json"], pbo_site, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    listing = json.loads(done.stdout)
    assert listing["installed_not_enabled"] == [
        {"name": "pbo", "distribution": "autopilot-pbo", "version": "0.1.0"}
    ]
    assert {g["name"]: g["status"] for g in listing["gates"]}["sharpe"] == "available"
    assert "pbo" not in {g["name"] for g in listing["gates"]}


def test_a_plugin_not_allowed_is_never_imported(tmp_path, pbo_site):
    env = env_file(tmp_path, [], {"sharpe": {}})
    code = (
        "import sys; from autopilot.promotion_gate import GateSet; from autopilot.config import load_config;"
        f"g = GateSet(load_config({str(env)!r}));"
        "print(sorted(p.name for p in g.catalog.not_enabled), 'autopilot_pbo' in sys.modules)"
    )
    assert probe(code, pbo_site, cwd=tmp_path) == "['pbo'] False"


def test_allowed_plugin_is_used_from_yaml(tmp_path, pbo_site, returns_file):
    env = env_file(
        tmp_path,
        ["pbo"],
        {
            "sharpe": {"params": {"min": 0.0}},
            "pbo": {"params": {"blocks": 8, "max_probability": 0.5}},
        },
    )
    listing = run(["gates", "list", "--env", str(env), "--format", "json"], pbo_site, cwd=tmp_path)
    pbo = next(g for g in json.loads(listing.stdout)["gates"] if g["name"] == "pbo")
    assert (pbo["status"], pbo["mode"], pbo["distribution"], pbo["version"]) == (
        "enabled",
        "enforce",
        "autopilot-pbo",
        "0.1.0",
    )
    done = run(
        ["gates", "check", str(returns_file), "--env", str(env), "--format", "json"],
        pbo_site,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    pbo = [next(g for g in d["gates"] if g["gate"] == "pbo") for d in payload["decisions"]]
    assert len({v["value"] for v in pbo}) == 1  # one batch-level probability
    assert 0.0 <= pbo[0]["value"] <= 1.0
    assert pbo[0]["reason"].split(":")[0] in {"OK", "ABOVE_MAX"}
    assert "splits=70" in pbo[0]["reason"]  # C(8, 4)


def test_gate_of_a_plugin_not_allowed_is_a_config_error(tmp_path, pbo_site, returns_file):
    env = env_file(tmp_path, [], {"pbo": {}})
    done = run(["gates", "check", str(returns_file), "--env", str(env)], pbo_site, cwd=tmp_path)
    assert done.returncode == 2
    assert "gates.pbo: unknown gate" in done.stderr
    assert "Installed but not enabled plugins: pbo" in done.stderr
    assert done.stdout == ""


def test_allowed_but_missing_plugin(tmp_path, returns_file):
    env = env_file(tmp_path, ["not_installed_anywhere"], {"sharpe": {}})
    done = run(["gates", "check", str(returns_file), "--env", str(env)], cwd=tmp_path)
    assert done.returncode == 2
    assert "plugin 'not_installed_anywhere' is allowed in" in done.stderr
    assert "but not installed" in done.stderr


def test_plugin_that_fails_to_import_fails_closed(tmp_path, fixture_site, returns_file):
    env = env_file(tmp_path, ["broken_import"], {"sharpe": {}})
    report = tmp_path / "report.html"
    done = run(
        ["gates", "check", str(returns_file), "--env", str(env), "--report", str(report)],
        fixture_site,
        cwd=tmp_path,
    )
    assert done.returncode == 2
    assert "plugin 'broken_import'" in done.stderr
    assert (
        "ModuleNotFoundError" in done.stderr and "a_dependency_that_is_not_installed" in done.stderr
    )
    assert done.stdout == "" and not report.exists()


def test_broken_plugin_that_is_not_allowed_does_no_harm(tmp_path, fixture_site, returns_file):
    env = env_file(tmp_path, [], {"sharpe": {}})
    done = run(["gates", "check", str(returns_file), "--env", str(env)], fixture_site, cwd=tmp_path)
    assert done.returncode == 0, done.stderr


def test_gate_that_raises_gives_error_verdicts(tmp_path, fixture_site, returns_file):
    env = env_file(
        tmp_path, ["raising_gate"], {"sharpe": {"params": {"min": -100.0}}, "exploding": {}}
    )
    done = run(
        ["gates", "check", str(returns_file), "--env", str(env), "--format", "json"],
        fixture_site,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    decisions = json.loads(done.stdout)["decisions"]
    assert decisions and not any(d["promotable"] for d in decisions)
    for d in decisions:
        exploding = next(g for g in d["gates"] if g["gate"] == "exploding")
        assert exploding["outcome"] == "ERROR"
        assert (
            exploding["reason"]
            == "GATE_EXCEPTION: type=ZeroDivisionError, message=the plugin divided by zero"
        )


@pytest.mark.parametrize(
    ("plugin", "message"),
    [
        (
            "raising_hook",
            "plugin 'raising_hook' raised in autopilot_register_gates: RuntimeError: registration failed",
        ),
        (
            "duplicate_sharpe",
            "gate 'sharpe' is offered by plugin 'sharpe' (strategy-autopilot) and by plugin 'duplicate_sharpe' (autopilot-fixture-plugins)",
        ),
        ("misspelled_hook", "unknown hook"),
    ],
)
def test_badly_behaved_plugins_stop_the_load(tmp_path, fixture_site, returns_file, plugin, message):
    env = env_file(tmp_path, [plugin], {"max_drawdown": {}})
    done = run(["gates", "check", str(returns_file), "--env", str(env)], fixture_site, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert done.stdout == ""


# --- the gate contract fails closed (issue 7) ----------------------------------------------


def gates_check_json(tmp_path: Path, site: Path, returns_file: Path, plugin: str, *extra: str):
    """``autopilot gates check --format json`` with a passing sharpe gate and ``plugin``."""
    env = env_file(tmp_path, [plugin], {"sharpe": {"params": {"min": -100.0}}, plugin: {}})
    done = run(
        ["gates", "check", str(returns_file), "--env", str(env), "--format", "json", *extra],
        site,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    decisions = json.loads(done.stdout)["decisions"]
    assert [d["strategy_id"] for d in decisions] == [f"s{i}" for i in range(6)]
    return decisions


def verdict_of(decision: dict, gate: str) -> dict:
    return next(v for v in decision["gates"] if v["gate"] == gate)


@pytest.mark.parametrize(
    ("plugin", "reason"),
    [
        # np.zeros(n, bool) means "none passed"; cast to codes it read PASS for everyone.
        ("bool_mask", "CONTRACT_VIOLATION: returned=bool outcomes, expected=integer codes 0..3"),
        # NaN and 0.9 were cast to 0 = PASS with only a RuntimeWarning.
        ("nan_codes", "CONTRACT_VIOLATION: returned=float64 outcomes, expected=integer codes 0..3"),
    ],
)
def test_outcome_codes_that_are_not_integers_are_errors(
    tmp_path, fixture_site, returns_file, plugin, reason
):
    for decision in gates_check_json(tmp_path, fixture_site, returns_file, plugin):
        assert not decision["promotable"]
        broken = verdict_of(decision, plugin)
        assert (broken["outcome"], broken["value"], broken["reason"]) == ("ERROR", None, reason)
        assert verdict_of(decision, "sharpe")["outcome"] == "PASS"


def test_a_raising_reason_is_an_error_for_its_candidates_not_a_crash(
    tmp_path, fixture_site, returns_file
):
    report = tmp_path / "report.html"
    decisions = gates_check_json(
        tmp_path, fixture_site, returns_file, "raising_reason", "--report", str(report)
    )
    for i, decision in enumerate(decisions):
        verdict = verdict_of(decision, "raising_reason")
        if i % 2:
            assert verdict["outcome"] == "ERROR"
            assert verdict["reason"] == (
                f"REASON_EXCEPTION: type=ValueError, message=no reason for candidate {i}"
            )
            assert not decision["promotable"]
        else:
            assert (verdict["outcome"], verdict["reason"]) == ("PASS", "OK")
            assert decision["promotable"]
    assert report.stat().st_size > 0  # the HTML report read the same reasons


def test_a_raising_reason_never_reaches_the_registry_as_a_pass(
    tmp_path, fixture_site, returns_file
):
    from autopilot.registry import StrategyRegistry

    env = env_file(
        tmp_path, ["raising_reason"], {"sharpe": {"params": {"min": -100.0}}, "raising_reason": {}}
    )
    state = tmp_path / "state"
    update = ["registry", "--state-dir", str(state), "update", str(returns_file), "--init"]
    done = run([*update, "--env", str(env)], fixture_site, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert sorted(StrategyRegistry(state).active()) == ["s0", "s2", "s4"]


# --- a strategy-family plugin: the xsmom example ---------------------------------------------

XSMOM_IDS = [
    "xsmom(lookback=63, skip=21, fraction=0.2, long_only=false)",
    "xsmom(lookback=126, skip=21, fraction=0.2, long_only=false)",
]


def test_installed_family_plugin_is_listed_but_not_enabled(tmp_path, xsmom_site):
    done = run(["candidates", "families", "--format", "json"], xsmom_site, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    listing = json.loads(done.stdout)
    assert listing["kind"] == "family_catalog"
    assert listing["installed_not_enabled"] == [
        {"name": "xsmom", "distribution": "autopilot-xsmom", "version": "0.1.0"}
    ]
    assert {f["name"] for f in listing["families"]} == {
        "low_vol",
        "ma_cross",
        "mean_reversion",
        "tsmom",
        "vol_breakout",
    }
    table = run(["candidates", "families"], xsmom_site, cwd=tmp_path)
    assert table.stdout.splitlines()[-1] == (
        "xsmom  [installed, not enabled]  plugin xsmom (autopilot-xsmom 0.1.0); "
        "add `xsmom` to `plugins:` to load it"
    )
    # The gate listing is about gates: a family plugin is not one of its plugins.
    gates = json.loads(run(["gates", "list", "--format", "json"], xsmom_site, cwd=tmp_path).stdout)
    assert gates["installed_not_enabled"] == []


def test_a_family_of_a_plugin_not_allowed_is_refused_and_never_imported(tmp_path, xsmom_site):
    env = families_env(tmp_path, [])
    out = tmp_path / "batch.parquet"
    build = ["candidates", "build", "--env", str(env), "--as-of", "2005-12-30", str(out)]
    done = run(build, xsmom_site, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"error: {env}: strategies.families.xsmom: strategy family 'xsmom' is not registered: "
        f"plugin 'xsmom' (autopilot-xsmom 0.1.0) is installed but not allowed; allow it in "
        f"{env}: `plugins: [xsmom]`."
    ]
    assert done.stdout == "" and not out.exists()
    listing = run(["candidates", "families", "--env", str(env)], xsmom_site, cwd=tmp_path)
    assert listing.returncode == 2 and "is installed but not allowed" in listing.stderr
    code = (
        "import sys; from autopilot.config import load_config;"
        "from autopilot.sdk.plugins import load_strategy_catalog;"
        f"c = load_config({str(env)!r}); catalog = load_strategy_catalog(c.plugins);"
        "print(sorted(catalog.families), 'autopilot_xsmom' in sys.modules)"
    )
    assert probe(code, xsmom_site, cwd=tmp_path) == (
        "['low_vol', 'ma_cross', 'mean_reversion', 'tsmom', 'vol_breakout'] False"
    )


def test_an_allowed_family_plugin_builds_candidates(tmp_path, xsmom_site):
    env = families_env(tmp_path, ["xsmom"])
    listing = run(
        ["candidates", "families", "--env", str(env), "--format", "json"], xsmom_site, cwd=tmp_path
    )
    assert listing.returncode == 0, listing.stderr
    xsmom = next(f for f in json.loads(listing.stdout)["families"] if f["name"] == "xsmom")
    assert (xsmom["status"], xsmom["candidates"], xsmom["distribution"]) == (
        "in the grid",
        2,
        "autopilot-xsmom",
    )
    assert xsmom["parameters"]["lookback"]["grid"] == [63, 126]
    out = tmp_path / "batch.parquet"
    build = ["candidates", "build", "--env", str(env), "--as-of", "2005-12-30", str(out)]
    done = run(build, xsmom_site, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"wrote 2 candidates to {out}"
    frame = pd.read_parquet(out)
    assert list(frame.columns) == ["date", *XSMOM_IDS, "regime"]
    assert frame["date"].iloc[-1] == pd.Timestamp("2005-12-30")
    # lookback 63 decides at bar 63 and trades from bar 64, the first row; 126 later.
    returns = frame[XSMOM_IDS].to_numpy()
    assert np.isfinite(returns[:, 0]).all()
    assert np.isnan(returns[:63, 1]).all() and np.isfinite(returns[63:, 1]).all()
