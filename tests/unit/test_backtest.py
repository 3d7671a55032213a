"""The vectorised backtest: known answers, timing, costs, chunking, and no look-ahead."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from autopilot.costs import CostModel
from autopilot.errors import InputError
from autopilot.sdk.family import StrategyFamily
from autopilot.sdk.params import Param
from autopilot.sdk.plugins import load_strategy_catalog
from autopilot.strategies.backtest import (
    backtest,
    cost_rate_from_model,
    impact_coefficients,
    impact_coverage,
)


class Fixed(StrategyFamily):
    """Positions given in full, for hand-computed cases."""

    name = "fixed"
    parameters = {"tag": Param(int, default=0)}
    table: np.ndarray = np.empty((0, 0))

    def positions(self, close):
        return self.table.copy()


def fixed(table, tag=0):
    cls = type("F", (Fixed,), {"table": np.asarray(table, dtype=np.float64)})
    return cls(tag=tag)


def test_known_answer_two_securities_with_costs():
    close = np.array([[100.0, 50.0], [110.0, 50.0], [99.0, 55.0], [99.0, 44.0]])
    # asset returns: bar1 (+10 %, 0), bar2 (-10 %, +10 %), bar3 (0, -20 %)
    w = [[np.nan, np.nan], [0.5, -0.5], [0.0, 0.5], [0.0, 0.0]]
    result = backtest(close, [fixed(w)], cost_rate=0.001)
    r = result.returns[:, 0]
    assert np.isnan(r[:2]).all()  # nothing held before the close of bar 1
    # bar2: 0.5 * -0.1 + -0.5 * 0.1 = -0.1, entry turnover 1.0 -> cost 0.001
    assert r[2] == pytest.approx(-0.1 - 0.001, abs=1e-15)
    # bar3: 0 * 0 + 0.5 * -0.2 = -0.1, turnover |0-0.5| + |0.5+0.5| = 1.5
    assert r[3] == pytest.approx(-0.1 - 0.0015, abs=1e-15)


def test_a_position_is_held_over_the_next_bar_only():
    close = np.array([[1.0], [2.0], [1.0], [1.0]])
    # Long decided at bar 1 (after the +100 %) earns bar 2's -50 %, never bar 1's gain.
    result = backtest(close, [fixed([[0.0], [1.0], [0.0], [0.0]])], cost_rate=0.0)
    np.testing.assert_array_equal(result.returns[:, 0], [np.nan, 0.0, -0.5, 0.0])


def test_a_delisted_holding_earns_nothing_and_pays_its_exit():
    close = np.array([[10.0, 10.0], [10.0, 11.0], [10.0, np.nan]])
    w = [[0.5, 0.5], [0.5, 0.5], [0.5, np.nan]]
    r = backtest(close, [fixed(w)], cost_rate=0.01).returns[:, 0]
    assert r[1] == pytest.approx(0.5 * 0.1 - 0.01 * 1.0)
    assert r[2] == pytest.approx(0.0)  # bar 2: security 1 has no price; held weight earns 0
    close = np.vstack([close, [[10.0, np.nan]]])
    w = [*w, [0.5, np.nan]]
    r = backtest(close, [fixed(w)], cost_rate=0.01).returns[:, 0]
    assert r[3] == pytest.approx(-0.01 * 0.5)  # the exit of security 1, decided at bar 2


def test_cost_rate_comes_from_the_cost_model():
    assert cost_rate_from_model() == pytest.approx((2.0 + 0.5) / 1e4)
    model = CostModel(half_spread_bps=1.0, fee_bps=1.0, multiplier=2.0)
    assert cost_rate_from_model(model) == pytest.approx(4.0 / 1e4)


def test_chunks_give_the_same_matrix_and_keep_positions():
    rng = np.random.default_rng(3)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, (400, 6)), axis=0))
    catalog = load_strategy_catalog()
    candidates = [catalog.families["tsmom"].cls(lookback=n) for n in (5, 10, 20, 40, 80)]
    one = backtest(close, candidates, chunk=1, keep_positions=[candidates[2].candidate_id])
    all_at_once = backtest(close, candidates, chunk=64)
    np.testing.assert_array_equal(one.returns, all_at_once.returns)
    np.testing.assert_array_equal(
        one.positions[candidates[2].candidate_id], candidates[2].positions(close)
    )
    # NaN exactly until the first full lookback: tsmom(lookback=n) decides at bar n.
    for k, n in enumerate((5, 10, 20, 40, 80)):
        assert (
            np.isnan(one.returns[: n + 1, k]).all() and np.isfinite(one.returns[n + 1 :, k]).all()
        )


def test_bad_input_is_refused():
    tsmom = load_strategy_catalog().families["tsmom"].cls
    with pytest.raises(InputError, match=r"close\[1, 0\] is -1.0"):
        backtest(np.array([[1.0], [-1.0]]), [tsmom(lookback=1)])
    with pytest.raises(InputError, match="appears twice"):
        backtest(np.ones((3, 1)), [tsmom(lookback=1), tsmom(lookback=1)])
    with pytest.raises(InputError, match="cost_rate must be a fraction"):
        backtest(np.ones((3, 1)), [tsmom(lookback=1)], cost_rate=-0.1)


def _grid_sample():
    catalog = load_strategy_catalog()
    for info in catalog.families.values():
        grid = info.cls.default_grid
        yield info.cls(**{k: v[0] for k, v in grid.items()})
        yield info.cls(**{k: v[len(v) // 2] for k, v in grid.items()})


def test_no_look_ahead_changing_prices_after_t_never_changes_positions_up_to_t():
    rng = np.random.default_rng(11)
    t_bars, n = 320, 5
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, (t_bars, n)), axis=0))
    close[:40, 1] = np.nan  # listed late
    close[260:, 2] = np.nan  # delisted
    candidates = list(_grid_sample())
    base = backtest(
        close, candidates, cost_rate=0.0005, keep_positions=[c.candidate_id for c in candidates]
    )
    for cut in (0, 1, 30, 41, 150, 259, 260, 318):
        changed = close.copy()
        future = changed[cut + 1 :]
        future *= np.exp(rng.normal(0, 0.2, future.shape))  # a different future
        changed[cut + 1 :: 7, 3] = np.nan  # and gaps in it
        other = backtest(changed, candidates, cost_rate=0.0005, keep_positions=base.positions)
        for cid in base.positions:
            assert np.array_equal(
                base.positions[cid][: cut + 1], other.positions[cid][: cut + 1], equal_nan=True
            ), (cid, cut)
        # Returns through bar t use positions up to t-1 and prices up to t only.
        assert np.array_equal(base.returns[: cut + 1], other.returns[: cut + 1], equal_nan=True)
        # The future did change something, so the comparison has teeth.
        if cut < 300:
            assert not np.array_equal(base.returns, other.returns, equal_nan=True)


def test_net_returns_match_a_pandas_walk_through_the_formula():
    # An independent writing of the module docstring's formula, on random positions with
    # gaps, a late listing and a delisting.
    rng = np.random.default_rng(17)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.02, (300, 7)), axis=0))
    close[:30, 1] = np.nan
    close[250:, 2] = np.nan
    w = rng.normal(0, 0.1, close.shape)
    w[rng.random(close.shape) < 0.2] = np.nan
    w[:5] = np.nan
    w[np.isnan(close)] = np.nan
    impact = rng.uniform(0, 0.01, close.shape)
    got = backtest(close, [fixed(w)], cost_rate=0.0007, impact=impact).returns[:, 0]
    held = pd.DataFrame(w).fillna(0.0)
    asset = pd.DataFrame(close).pct_change(fill_method=None).fillna(0.0)
    traded = (held - held.shift(1).fillna(0.0)).abs()
    expected = (
        (held.shift(1) * asset).sum(axis=1)
        - 0.0007 * traded.shift(1).sum(axis=1)
        - (pd.DataFrame(impact).shift(1) * traded.shift(1) ** 1.5).sum(axis=1)
    ).to_numpy(copy=True)
    expected[:6] = np.nan  # nothing held before the close of bar 5
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)


def test_impact_is_the_cost_models_square_root_law_on_each_trade():
    rng = np.random.default_rng(5)
    t_bars, n = 80, 3
    close = 30 * np.exp(np.cumsum(rng.normal(0, 0.015, (t_bars, n)), axis=0))
    volume = rng.uniform(1e5, 5e5, (t_bars, n))
    volume[40:45, 2] = np.nan  # unknown volume: no impact while it is in the window
    model = CostModel(impact=0.8, multiplier=1.3)
    capital = 2e7
    coefficients = impact_coefficients(close, volume, capital, model)
    t, i, d = 60, 1, 0.4  # a trade of 40 % of capital in security 1 at the close of bar 60
    sigma = np.std(close[t - 20 : t + 1, i] / close[t - 21 : t, i] - 1, ddof=1)
    adv = volume[t - 20 : t + 1, i].mean()
    participation = d * capital / (adv * close[t, i])
    charged = cost_rate_from_model(model) * d + coefficients[t, i] * d**1.5
    assert charged == pytest.approx(d * model.predicted_cost_bps(participation, sigma) / 1e4)
    assert (coefficients[:21] == 0).all()  # the window is not filled before bar 21
    assert (coefficients[40:65, 2] == 0).all() and (coefficients[65:, 2] > 0).all()
    assert impact_coverage(coefficients, close) == pytest.approx(
        (coefficients > 0).sum() / close.size
    )
    with pytest.raises(InputError, match="capital must be a positive number"):
        impact_coefficients(close, volume, 0.0)
    with pytest.raises(InputError, match="impact must be a"):
        backtest(close, [fixed(np.zeros_like(close))], impact=-coefficients - 1)


def test_impact_makes_a_trade_cost_more_than_spread_and_fees():
    close = np.full((4, 1), 100.0)
    w = [[1.0], [1.0], [0.25], [0.25]]
    impact = np.full((4, 1), 0.01)
    r = backtest(close, [fixed(w)], cost_rate=0.0, impact=impact).returns[:, 0]
    # bar 1 holds the entry made at bar 0 (d = 1); bar 3 the sale of 0.75 made at bar 2.
    np.testing.assert_allclose(r, [np.nan, -0.01, 0.0, -0.01 * 0.75**1.5])
