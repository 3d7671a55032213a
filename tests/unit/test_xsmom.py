"""The autopilot-xsmom example family: known answers, a pandas reference, no look-ahead.

The plugin's installation, allow-list and ``candidates build`` are tested for real in
tests/integration/test_plugins_installed.py; here it is imported from its source folder.
"""

from __future__ import annotations

import itertools
import math
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

# The plugin is a separate distribution, not installed in the test venv.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plugins" / "autopilot-xsmom"))

from autopilot_xsmom import CrossSectionalMomentum, autopilot_register_strategies

from autopilot.errors import GateParameterError
from autopilot.market.bundled import load_prices
from autopilot.sdk.family import checked_positions
from autopilot.sdk.plugins import InstalledPlugin, load_strategy_catalog


def reference(close: np.ndarray, lookback, skip=0, fraction=0.2, long_only=False) -> np.ndarray:
    """The family's definition with pandas: shifted closes, row ranks, equal weights."""
    frame = pd.DataFrame(close)
    score = frame.shift(skip) / frame.shift(lookback) - 1
    ranked = score.notna() & frame.notna()
    score = score.where(ranked)
    per_side = np.floor(fraction * ranked.sum(axis=1) + 1e-9)
    best = score.rank(axis=1, ascending=False, method="first")  # 1 = best, ties by column
    winners = best.le(per_side, axis=0)
    losers = best.gt(ranked.sum(axis=1) - per_side, axis=0)
    size = per_side.clip(lower=1)
    if long_only:
        weights = winners.astype(float).div(size, axis=0)
    else:
        weights = (winners.astype(float) - losers.astype(float)).div(2 * size, axis=0)
    return weights.where(ranked).to_numpy()


def test_known_answer_on_a_hand_made_panel():
    # Five securities; lookback 2 compares row t with row t-2.
    close = np.array(
        [
            [10.0, 10.0, 10.0, 10.0, np.nan],
            [10.0, 10.0, 10.0, 10.0, 10.0],
            [13.0, 11.0, 10.0, 8.0, 12.0],  # returns +30 %, +10 %, 0, -20 %, unranked
            [12.0, 12.0, 9.0, 9.0, 13.0],  # +20 %, +20 %, -10 %, +12.5 %, +30 %
        ]
    )
    w = CrossSectionalMomentum(lookback=2, fraction=0.5).positions(close)
    assert np.isnan(w[:2]).all()
    # Row 2: four ranked, two per side: long the first two, short the last two.
    np.testing.assert_array_equal(w[2], [0.25, 0.25, -0.25, -0.25, np.nan])
    # Row 3: five ranked, floor(2.5) = 2 per side; the 20 % tie goes to the first column.
    np.testing.assert_array_equal(w[3], [0.25, 0.0, -0.25, -0.25, 0.25])
    # A tie in the middle: +10 %, 0, 0, -10 %; the first 0 is a winner, the second a loser.
    tied = np.array([[10.0, 10.0, 10.0, 10.0], [11.0, 10.0, 10.0, 9.0]])
    w_tied = CrossSectionalMomentum(lookback=1, fraction=0.5).positions(tied)
    np.testing.assert_array_equal(w_tied[1], [0.25, 0.25, -0.25, -0.25])
    w = CrossSectionalMomentum(lookback=2, fraction=0.2, long_only=True).positions(close)
    np.testing.assert_array_equal(w[2], [0.0, 0.0, 0.0, 0.0, np.nan])  # floor(0.8) = 0: flat
    np.testing.assert_array_equal(w[3], [0.0, 0.0, 0.0, 0.0, 1.0])
    # skip 1: row 3 ranks close[2] / close[1]: +30 %, +10 %, 0, -20 %, +20 %; 2 per side.
    w = CrossSectionalMomentum(lookback=2, skip=1, fraction=0.4).positions(close)
    np.testing.assert_array_equal(w[3], [0.25, 0.0, -0.25, -0.25, 0.25])


@pytest.mark.parametrize(
    "params",
    [
        {"lookback": 10},
        {"lookback": 21, "skip": 5, "fraction": 0.5},
        {"lookback": 7, "skip": 6, "fraction": 0.1},
        {"lookback": 15, "fraction": 0.34, "long_only": True},
        {"lookback": 3, "fraction": 1.0, "long_only": True},
    ],
)
def test_positions_match_a_pandas_reference(params):
    rng = np.random.default_rng(3)
    close = np.round(100 * np.exp(np.cumsum(rng.normal(0, 0.02, (200, 12)), axis=0)), 0)
    close[:60, 2] = np.nan  # listed late
    close[150:, 7] = np.nan  # delisted
    close[:, 9] = close[:, 4]  # ties on every bar
    w = checked_positions(CrossSectionalMomentum(**params), close)
    np.testing.assert_allclose(w, reference(close, **params), rtol=0, atol=1e-15)
    ranked = ~np.isnan(w)
    assert np.allclose(np.abs(w).sum(axis=1, where=ranked)[params["lookback"] :], 1.0)


def test_no_look_ahead_changing_prices_after_t_never_changes_positions_up_to_t():
    rng = np.random.default_rng(11)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, (300, 8)), axis=0))
    close[:40, 1] = np.nan
    close[250:, 2] = np.nan
    family = CrossSectionalMomentum(lookback=30, skip=5, fraction=0.25)
    base = family.positions(close)
    for cut in (0, 29, 30, 41, 150, 249, 250, 298):
        changed = close.copy()
        changed[cut + 1 :] *= np.exp(rng.normal(0, 0.3, changed[cut + 1 :].shape))
        changed[cut + 1 :: 5, 3] = np.nan
        other = family.positions(changed)
        assert np.array_equal(base[: cut + 1], other[: cut + 1], equal_nan=True), cut
        assert not np.array_equal(base, other, equal_nan=True)  # the future did matter


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"lookback": 21, "skip": 21},
            "The parameters of family 'xsmom' need skip < lookback, were skip=21, lookback=21.",
        ),
        (
            {"lookback": 21, "fraction": 0.6},
            "The parameters of family 'xsmom' need fraction <= 0.5 with long_only=false (the "
            "winners and the losers would overlap), was fraction=0.6.",
        ),
        (
            {"lookback": 21, "fraction": 0.0},
            "The 'fraction' parameter of family 'xsmom' must be in (0, 1], was 0.0.",
        ),
        ({"lookback": 0}, "The 'lookback' parameter of family 'xsmom' must be in [1, inf), was 0."),
        (
            {"skip": 1},
            "The 'lookback' parameter of family 'xsmom' is required (int in [1, inf), required).",
        ),
    ],
)
def test_parameters_and_their_cross_checks_are_validated(params, message):
    with pytest.raises(GateParameterError) as err:
        CrossSectionalMomentum(**params)
    assert str(err.value) == message


def test_long_only_allows_fractions_above_one_half():
    family = CrossSectionalMomentum(lookback=21, fraction=0.8, long_only=True)
    assert family.candidate_id == "xsmom(lookback=21, skip=0, fraction=0.8, long_only=true)"


def test_registers_through_the_hook_and_every_default_grid_point_keeps_the_contract():
    plugin = InstalledPlugin("xsmom", "autopilot_xsmom", "autopilot-xsmom", "0.1.0")
    module = SimpleNamespace(autopilot_register_strategies=autopilot_register_strategies)
    catalog = load_strategy_catalog(extra_plugins=[(plugin, module)])
    info = catalog.families["xsmom"]
    assert info.cls is CrossSectionalMomentum and info.plugin is plugin
    close = np.ascontiguousarray(load_prices().to_numpy()[-600:])
    close[:100, 3] = np.nan
    grid = info.cls.default_grid
    points = list(itertools.product(*grid.values()))
    assert len(points) == math.prod(len(v) for v in grid.values()) == 18
    for point in points:
        w = checked_positions(info.cls(**dict(zip(grid, point, strict=True))), close)
        assert np.isfinite(w[-1]).all()
        np.testing.assert_allclose(np.nansum(np.abs(w[-1])), 1.0)
