"""The book optimiser: known answers from the mean-variance formula, limits, failures, T3."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from autopilot.costs import Fill
from autopilot.errors import InputError
from autopilot.paper_trader import Portfolio
from autopilot.portfolio_construction import BookLimits, implied_returns, optimise_book

SECURITIES = list("ABCDE")


@pytest.fixture(scope="module")
def returns() -> pd.DataFrame:
    rng = np.random.default_rng(8)
    mixing = rng.normal(0, 0.01, (5, 5))
    return pd.DataFrame(rng.normal(0, 1, (250, 5)) @ mixing, columns=SECURITIES)


def solve(wanted, returns, current=None, **limits):
    reference = limits.pop("reference", 2.0)
    cost = limits.pop("cost", 0.0)
    return optimise_book(
        wanted,
        returns,
        current or {},
        BookLimits(**{"risk_aversion": 2.0, **limits}),
        cost_per_turnover=cost,
        horizon_bars=5,
        reference_risk_aversion=reference,
    )


def test_implied_returns_make_the_wanted_book_optimal(returns):
    # Unconstrained optimum of w'mu - l w'Sw is S^-1 mu / (2 l): solve it with numpy.
    wanted = pd.Series({"A": 0.3, "B": -0.1, "C": 0.2}, dtype=float)
    covariance = returns.cov()
    mu = implied_returns(wanted, covariance, 4.0)
    optimum = np.linalg.solve(covariance.to_numpy(), mu.to_numpy()) / (2 * 4.0)
    np.testing.assert_allclose(optimum, [0.3, -0.1, 0.2, 0.0, 0.0], atol=1e-12)


def test_with_no_limit_binding_the_book_is_the_wanted_one(returns):
    wanted = {"A": 0.3, "B": 0.2, "C": 0.1, "D": 0.25}
    decision = solve(wanted, returns)
    assert decision.status == "optimal" and not decision.kept_current
    got = pd.Series(decision.weights).reindex(SECURITIES, fill_value=0.0)
    np.testing.assert_allclose(got, [0.3, 0.2, 0.1, 0.25, 0.0], atol=1e-3)
    assert decision.turnover == pytest.approx(0.85, abs=1e-3)  # the solver's tolerance


def test_twice_the_risk_aversion_holds_half(returns):
    wanted = {"A": 0.3, "B": 0.2, "C": 0.1, "D": 0.25}
    decision = solve(wanted, returns, risk_aversion=4.0)
    got = pd.Series(decision.weights).reindex(SECURITIES, fill_value=0.0)
    np.testing.assert_allclose(got, [0.15, 0.1, 0.05, 0.125, 0.0], atol=1e-3)


def test_caps_gross_and_turnover_hold(returns):
    wanted = {"A": 0.5, "B": 0.4, "C": 0.3}
    decision = solve(
        wanted,
        returns,
        current={"D": 0.2},
        position_cap=0.25,
        gross_exposure=0.6,
        turnover_limit=0.5,
    )
    weights = pd.Series(decision.weights)
    assert weights.max() <= 0.25 + 1e-6
    assert weights.sum() <= 0.6 + 1e-6
    now = pd.Series({"D": 0.2}).reindex(weights.index.union(["D"]), fill_value=0.0)
    moved = (weights.reindex(now.index, fill_value=0.0) - now).abs().sum()
    assert moved <= 0.5 + 1e-6 and decision.turnover == pytest.approx(moved, abs=1e-9)


def test_new_positions_only_in_the_largest_views_and_others_only_shrink(returns):
    wanted = {"A": 0.3, "B": 0.25, "C": 0.2, "D": 0.15}
    covariance = returns.cov()
    views = implied_returns(pd.Series(wanted), covariance, 2.0)
    top_two = set(views.sort_values(ascending=False).index[:2])
    held = next(s for s in ("C", "D", "A", "B") if s not in top_two)
    decision = solve(wanted, returns, current={held: 0.05}, max_positions=2)
    assert set(decision.weights) <= top_two | {held}
    assert decision.weights.get(held, 0.0) <= 0.05 + 1e-6


def test_a_book_over_its_caps_is_brought_within_them_even_past_the_turnover_limit(returns):
    decision = solve({"A": 0.5}, returns, current={"A": 0.6}, position_cap=0.25, turnover_limit=0.1)
    assert decision.weights["A"] == pytest.approx(0.25, abs=1e-5)
    assert decision.turnover == pytest.approx(0.35, abs=1e-5)


def test_a_solver_failure_keeps_the_current_book_and_says_why():
    rng = np.random.default_rng(1)
    huge = pd.DataFrame(rng.normal(0, 1, (100, 4)) * 1e150, columns=list("ABCD"))
    decision = solve({"A": 0.3, "B": 0.2}, huge, current={"A": 0.1})
    assert decision.kept_current and decision.weights == {"A": 0.1}
    assert decision.turnover == 0.0 and decision.status != "optimal"
    assert "CLARABEL" in decision.message
    record = decision.to_record()
    assert record["kept_current"] is True and record["status"] == decision.status
    flat = pd.DataFrame(np.zeros((50, 2)), columns=["A", "B"])
    decision = solve({"A": 0.3}, flat, current={"B": 0.2})
    assert decision.kept_current and "non positive variance" in decision.message


def test_a_security_without_a_full_window_is_not_bought_and_a_held_one_is_carried(returns):
    window = returns.copy()
    window.loc[:10, "E"] = np.nan  # listed during the window
    decision = solve({"E": 0.5, "A": 0.2}, window, current={"E": 0.1})
    assert decision.weights["E"] == 0.1  # carried: no covariance to optimise it with
    assert decision.weights["A"] == pytest.approx(0.2, abs=1e-3)  # the solver's tolerance


def test_t3_the_current_weights_are_marked_at_last_price_not_entry(returns):
    book = Portfolio(cash=10_000.0)
    day = dt.date(2024, 1, 2)
    book.apply(
        "A",
        Fill(
            side=1,
            shares=100.0,
            arrival_price=100.0,
            fill_price=100.0,
            predicted_cost_bps=0.0,
            participation=0.0,
            volatility=0.0,
        ),
        day,
    )
    book.mark({"A": 150.0}, day)
    current = book.current_weights()
    # Bought for 10,000 of 20,000; marked at 150 it is 15,000 of 15,000 cash-less equity.
    assert current["A"] == pytest.approx(15_000.0 / 15_000.0)
    decision = solve({"A": 0.5}, returns, current=current, position_cap=0.5, turnover_limit=0.1)
    assert decision.weights["A"] == pytest.approx(0.5, abs=1e-5)
    assert decision.turnover == pytest.approx(0.5, abs=1e-5)  # cut from 1.0, not from 0.67


def test_bad_inputs_are_refused(returns):
    with pytest.raises(InputError, match="position_cap must be in"):
        BookLimits(position_cap=1.5)
    with pytest.raises(InputError, match="wanted weights must be finite"):
        solve({"A": np.nan}, returns)
    with pytest.raises(InputError, match="current weights"):
        solve({"A": 0.1}, returns, current={"A": -0.1})
