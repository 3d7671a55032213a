"""The tearsheet's figures against hand-computed values, and their invariants."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from autopilot.stats import tearsheet as ts

# 100 -> 110 -> 99 -> 118.8: returns +10 %, -10 %, +20 %.
EQUITY = np.array([100.0, 110.0, 99.0, 118.8])
P = 52.0


def test_returns_of_an_equity_series():
    np.testing.assert_allclose(ts.simple_returns(EQUITY), [0.1, -0.1, 0.2])


def test_periods_per_year_from_the_dates():
    fridays = pd.date_range("2021-01-01", "2021-12-31", freq="W-FRI")  # 53 Fridays, 364 days
    assert ts.periods_per_year(fridays) == pytest.approx(52 * 365.25 / 364)
    assert ts.periods_per_year(pd.to_datetime(["2021-01-31", "2022-01-31"])) == pytest.approx(
        365.25 / 365
    )
    for bad in ([pd.Timestamp("2021-01-01")], pd.to_datetime(["2021-02-01", "2021-01-01"])):
        with pytest.raises(ValueError):
            ts.periods_per_year(bad)


def test_known_answers():
    # mean 0.2/3; std (ddof=1) sqrt(0.07/3); downside deviation sqrt(0.01/3).
    mean, std, downside = 0.2 / 3, math.sqrt(0.07 / 3), math.sqrt(0.01 / 3)
    r = ts.simple_returns(EQUITY)
    assert ts.annual_volatility(r, P) == pytest.approx(std * math.sqrt(52))
    assert ts.sharpe_ratio(r, P) == pytest.approx(mean / std * math.sqrt(52))
    assert ts.sharpe_ratio(r, P) == pytest.approx(3.147183, abs=1e-6)
    assert ts.sortino_ratio(r, P) == pytest.approx(mean / downside * math.sqrt(52))
    assert ts.sortino_ratio(r, P) == pytest.approx(8.326664, abs=1e-6)
    assert ts.cagr(EQUITY, P) == pytest.approx(1.188 ** (52 / 3) - 1)
    assert ts.max_drawdown(EQUITY) == pytest.approx(0.1)
    assert ts.calmar_ratio(EQUITY, P) == pytest.approx((1.188 ** (52 / 3) - 1) / 0.1)
    np.testing.assert_allclose(ts.drawdown_series(EQUITY), [0.0, 0.0, 0.1, 0.0], atol=1e-15)


def test_summary_holds_every_figure():
    figures = ts.summary(EQUITY, P)
    assert figures["total_return"] == pytest.approx(0.188)
    assert figures["best"] == pytest.approx(0.2)
    assert figures["worst"] == pytest.approx(-0.1)
    assert figures["positive"] == pytest.approx(2 / 3)
    assert figures["sharpe"] == ts.sharpe_ratio(ts.simple_returns(EQUITY), P)
    assert set(figures) == {
        "total_return",
        "cagr",
        "volatility",
        "sharpe",
        "sortino",
        "max_drawdown",
        "calmar",
        "best",
        "worst",
        "positive",
    }


def test_undefined_figures_are_nan_not_infinite():
    rising = np.array([1.0, 1.1, 1.21])
    assert math.isnan(ts.sortino_ratio(ts.simple_returns(rising), P))  # no loss
    assert math.isnan(ts.calmar_ratio(rising, P))  # no drawdown
    assert math.isnan(ts.sharpe_ratio([0.1, 0.1, 0.1], P))  # no variation
    assert math.isnan(ts.sharpe_ratio([0.1], P))
    assert math.isnan(ts.cagr([1.0], P))
    single = ts.summary([1.0], P)
    assert single["total_return"] == 0.0 and math.isnan(single["best"])


@pytest.mark.parametrize("bad", [[1.0, 0.0, 1.0], [1.0, -1.0], [1.0, np.nan], []])
def test_equity_must_be_finite_and_positive(bad):
    with pytest.raises(ValueError):
        ts.max_drawdown(bad)


def test_worst_drawdowns_are_episodes_deepest_first():
    equity = [100, 120, 90, 130, 117, 104, 140, 126]
    assert ts.worst_drawdowns(equity) == [
        ts.Drawdown(pytest.approx(0.25), 1, 2, 3),
        ts.Drawdown(pytest.approx(0.2), 3, 5, 6),
        ts.Drawdown(pytest.approx(0.1), 6, 7, None),
    ]
    assert [d.peak for d in ts.worst_drawdowns(equity, 2)] == [1, 3]
    assert ts.worst_drawdowns([1.0, 2.0, 3.0]) == []
    # A return exactly to the peak ends the episode.
    assert ts.worst_drawdowns([1.0, 0.5, 1.0, 0.9]) == [
        ts.Drawdown(0.5, 0, 1, 2),
        ts.Drawdown(pytest.approx(0.1), 2, 3, None),
    ]


def test_rolling_sharpe_known_answer():
    r = [0.1, -0.1, 0.2]
    out = ts.rolling_sharpe(r, 2, 4.0)
    assert math.isnan(out[0])
    assert out[1] == pytest.approx(0.0)
    assert out[2] == pytest.approx(0.05 / np.std([-0.1, 0.2], ddof=1) * 2.0)
    with pytest.raises(ValueError):
        ts.rolling_sharpe(r, 1, 4.0)


def test_monthly_returns_known_answer():
    dates = pd.to_datetime(
        ["2021-01-15", "2021-01-29", "2021-02-12", "2021-02-26", "2021-03-31", "2022-01-28"]
    )
    equity = pd.Series([100.0, 105.0, 110.0, 121.0, 108.9, 119.79], index=dates)
    table = ts.monthly_returns(equity)
    assert list(table.index) == [2021, 2022]
    assert list(table.columns) == [*range(1, 13), "year"]
    assert table.loc[2021, 1] == pytest.approx(0.05)
    assert table.loc[2021, 2] == pytest.approx(121 / 105 - 1)
    assert table.loc[2021, 3] == pytest.approx(-0.1)
    assert table.loc[2021, "year"] == pytest.approx(0.089)
    assert table.loc[2022, 1] == pytest.approx(0.1)
    assert table.loc[2022, "year"] == pytest.approx(0.1)
    assert table.loc[2021, 4:12].isna().all() and table.loc[2022, 2:12].isna().all()


def test_invariants_scaling_and_appending_a_gain():
    rng = np.random.default_rng(3)
    equity = 100.0 * np.cumprod(np.concatenate(([1.0], 1.0 + rng.normal(0.002, 0.02, 80))))
    base = ts.summary(equity, P)
    scaled = ts.summary(equity * 7.5, P)
    for key, value in base.items():
        assert scaled[key] == pytest.approx(value, rel=1e-12), key
    # A new high after the series ends: drawdowns stay, returns grow.
    higher = np.append(equity, equity.max() * 1.1)
    assert ts.max_drawdown(higher) == pytest.approx(base["max_drawdown"])
    assert ts.summary(higher, P)["total_return"] > base["total_return"]
    assert ts.worst_drawdowns(higher)[0].depth == pytest.approx(ts.max_drawdown(equity))
    # Series and ndarray agree.
    assert ts.max_drawdown(pd.Series(equity)) == ts.max_drawdown(equity)
