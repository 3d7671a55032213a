"""The `strategies:` section, grid expansion and `autopilot candidates build` end to end."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from autopilot.config import config_from_dict, load_config
from autopilot.errors import ConfigError
from autopilot.sdk.plugins import load_strategy_catalog
from autopilot.strategies.grid import build_candidates


def config_with(families):
    return config_from_dict(
        {"periods_per_year": 252, "strategies": {"families": families}}, "env.yaml"
    )


def test_default_grids_give_a_few_hundred_candidates():
    candidates = build_candidates(load_config("dev"), load_strategy_catalog())
    # tsmom 5*3*2 + ma_cross 4*4*2 + mean_reversion 6*5*2*2 + vol_breakout 5*5*2 + low_vol 4*4
    assert len(candidates) == 30 + 32 + 120 + 50 + 16 == 248
    assert len({c.candidate_id for c in candidates}) == 248


def test_a_scalar_fixes_a_value_and_the_family_default_grid_fills_the_rest():
    candidates = build_candidates(config_with({"tsmom": {"skip": 0}}), load_strategy_catalog())
    assert [c.candidate_id for c in candidates] == [
        f"tsmom(lookback={n}, skip=0, long_only=false)" for n in (21, 63, 126, 252)
    ]


@pytest.mark.parametrize(
    ("families", "message"),
    [
        (
            {"tsmom": {"lookback": [0]}},
            "env.yaml: strategies.families.tsmom: The 'lookback' parameter of family 'tsmom' must be in [1, inf), was 0.",
        ),
        (
            {"tsmom": {"window": [3]}},
            "env.yaml: strategies.families.tsmom: Family 'tsmom' has no parameter 'window'; its parameters are: long_only, lookback, skip.",
        ),
        (
            {"carry": {}},
            "env.yaml: strategies.families.carry: no such strategy family (registered: low_vol, ma_cross, mean_reversion, tsmom, vol_breakout). Name a registered family, or allow the plugin that offers it under `plugins`.",
        ),
    ],
)
def test_bad_grid_values_are_refused_naming_file_key_rule_and_value(families, message):
    with pytest.raises(ConfigError) as err:
        build_candidates(config_with(families), load_strategy_catalog())
    assert str(err.value) == message


@pytest.mark.parametrize(
    ("strategies", "message"),
    [
        ({"grids": {}}, "env.yaml: strategies.grids: unknown key. Allowed keys here: families."),
        (
            {"families": {"tsmom": [21]}},
            "env.yaml: strategies.families.tsmom: must be a mapping of parameter to values, was [21].",
        ),
        (
            {"families": {"tsmom": {"lookback": []}}},
            "env.yaml: strategies.families.tsmom.lookback: is an empty list.",
        ),
    ],
)
def test_bad_strategies_structure_is_refused(strategies, message):
    with pytest.raises(ConfigError) as err:
        config_from_dict({"periods_per_year": 252, "strategies": strategies}, "env.yaml")
    assert str(err.value).startswith(message)


def test_enabled_false_drops_a_family():
    config = config_with({"tsmom": {"enabled": False}, "low_vol": {"window": 21, "fraction": 0.5}})
    assert [c.name for c in build_candidates(config, load_strategy_catalog())] == ["low_vol"]


def test_candidates_build_writes_a_batch_that_gates_check_reads(tmp_path):
    env = tmp_path / "small.yaml"
    env.write_text(
        "extends: {base}\nstrategies:\n  families:\n"
        "    tsmom: {{enabled: false}}\n    ma_cross: {{enabled: false}}\n"
        "    mean_reversion: {{enabled: false}}\n    vol_breakout: {{enabled: false}}\n"
        "    low_vol: {{window: [21, 63], fraction: 0.5}}\n".format(
            base=Path(load_config("dev").sources[-1]).resolve()
        )
    )
    out = tmp_path / "batch.parquet"
    cli = [sys.executable, "-m", "autopilot.cli"]
    built = subprocess.run(
        [*cli, "candidates", "build", "--env", str(env), "--as-of", "2020-12-31", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    assert built.stdout.strip() == f"wrote 2 candidates to {out}"
    frame = pd.read_parquet(out)
    assert list(frame.columns) == [
        "date",
        "low_vol(window=21, fraction=0.5)",
        "low_vol(window=63, fraction=0.5)",
        "regime",
    ]
    assert frame["date"].iloc[-1] == pd.Timestamp("2020-12-31")
    # The 21-bar window decides at bar 21 and trades from bar 22: the first row.
    assert np.isfinite(frame.iloc[0, 1]) and np.isnan(frame.iloc[0, 2])
    checked = subprocess.run(
        [*cli, "gates", "check", str(out), "--env", "dev", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert checked.returncode == 0, checked.stderr
    assert "low_vol(window=63, fraction=0.5)" in checked.stdout


def test_as_of_outside_the_data_is_refused(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "autopilot.cli",
            "candidates",
            "build",
            "--env",
            "dev",
            "--as-of",
            "2030-01-02",
            str(tmp_path / "b.parquet"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "error: the bundled S&P 500 panel: as-of date 2030-01-02 is after the last date of the "
        "prices (2022-12-28), which are not known there yet; the prices run from 1990-01-02 to "
        "2022-12-28"
    )
