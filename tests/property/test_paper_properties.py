"""Property tests of the paper book and of signed costs (seeds T3 and T4)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from autopilot.cost_calibrator import CostCalibrator
from autopilot.costs import Fill, signed_cost_bps
from autopilot.paper_trader import Portfolio, Position

PROPERTY = settings(derandomize=True, deadline=None, max_examples=150)
DAY = date(2024, 1, 2)
MARK_DAY = date(2024, 1, 3)
SECURITIES = ("AAA", "BBB", "CCC", "DDD")

# Prices on a cent grid in [0.01, 5000], shares on a 0.001 grid in (0, 10,000].
PRICES = st.integers(1, 500_000).map(lambda c: c / 100)
SHARES = st.integers(1, 10_000_000).map(lambda m: m / 1000)
CASH = st.integers(0, 10**9).map(lambda c: c / 100)
COSTS_BPS = st.integers(-100_000, 100_000).map(lambda c: c / 1000)  # [-100, 100] bps


@st.composite
def fills(draw: st.DrawFn) -> tuple[str, Fill]:
    side = draw(st.sampled_from((1, -1)))
    arrival = draw(PRICES)
    cost = draw(COSTS_BPS)
    fill = Fill(
        side=side,
        shares=draw(SHARES),
        arrival_price=arrival,
        fill_price=arrival * (1.0 + side * cost / 1e4),
        predicted_cost_bps=0.0,
        participation=0.01,
        volatility=0.02,
    )
    return draw(st.sampled_from(SECURITIES)), fill


@st.composite
def portfolios(draw: st.DrawFn, unmarked: bool = True) -> Portfolio:
    """Long positions, some (optionally) never marked, and non-negative cash."""
    positions = {}
    for sid in draw(st.lists(st.sampled_from(SECURITIES), unique=True)):
        marked = not unmarked or draw(st.booleans())
        price = draw(PRICES)
        positions[sid] = Position(
            sid,
            draw(SHARES),
            draw(PRICES),
            DAY.isoformat(),
            price if marked else None,
            DAY.isoformat() if marked else None,
        )
    return Portfolio(draw(CASH), positions)


def _tolerance(*magnitudes: float) -> float:
    return 1e-9 * max(1.0, *(abs(m) for m in magnitudes))


@PROPERTY
@given(
    cash=CASH,
    sequence=st.lists(fills(), max_size=30),
    marks=st.fixed_dictionaries({sid: PRICES for sid in SECURITIES}),
)
def test_cash_plus_marked_value_is_equity_after_any_fills(
    cash: float, sequence: list[tuple[str, Fill]], marks: dict[str, float]
) -> None:
    book = Portfolio(cash)
    expected_cash = cash
    shares = dict.fromkeys(SECURITIES, 0.0)
    for sid, fill in sequence:
        book.apply(sid, fill, DAY)
        expected_cash -= fill.side * fill.shares * fill.fill_price
        shares[sid] += fill.side * fill.shares
    stale = book.mark(marks, MARK_DAY)

    assert stale == []
    assert all(p.last_price == marks[p.security_id] for p in book.positions.values())
    expected_value = sum(shares[sid] * marks[sid] for sid in SECURITIES)
    scale = _tolerance(
        expected_cash, *(abs(f.shares) * max(f.fill_price, marks[s]) for s, f in sequence)
    )
    assert book.cash == pytest.approx(expected_cash, abs=scale)
    assert book.marked_value() == pytest.approx(expected_value, abs=scale)
    assert book.equity() == pytest.approx(expected_cash + expected_value, abs=scale)
    assert book.equity() == book.cash + book.marked_value()


@PROPERTY
@given(book=portfolios(unmarked=False), sid=st.sampled_from(SECURITIES), shares=SHARES)
def test_buy_then_sell_at_the_same_price_without_cost_leaves_equity_unchanged(
    book: Portfolio, sid: str, shares: float
) -> None:
    held = book.positions.get(sid)
    price = held.last_price if held is not None else 123.45
    before = book.equity()
    for side in (1, -1):
        book.apply(sid, Fill(side, shares, price, price, 0.0, 0.01, 0.02), DAY)
    assert book.equity() == pytest.approx(before, abs=_tolerance(before, shares * price))
    if held is None:
        assert sid not in book.positions
    else:
        assert book.positions[sid].shares == pytest.approx(held.shares, abs=1e-9)


@PROPERTY
@given(book=portfolios())
def test_weights_sum_to_the_invested_fraction(book: Portfolio) -> None:
    marked = {sid: p.shares * p.last_price for sid, p in book.positions.items() if p.last_price}
    equity = book.cash + sum(marked.values())
    assume(equity > 0)
    weights = book.current_weights()
    assert set(weights) == set(marked)
    assert sum(weights.values()) == pytest.approx(sum(marked.values()) / equity, abs=1e-12)
    assert sum(weights.values()) == pytest.approx(book.marked_value() / book.equity(), abs=1e-12)
    for sid, weight in weights.items():
        assert weight == pytest.approx(marked[sid] / equity, rel=1e-12)


@PROPERTY
@given(arrival=PRICES, fill=PRICES)
def test_signed_cost_flips_sign_with_side(arrival: float, fill: float) -> None:
    assert signed_cost_bps(1, arrival, fill) == -signed_cost_bps(-1, arrival, fill)
    assert (signed_cost_bps(1, arrival, fill) < 0) == (fill < arrival)  # buy below = gain
    assert (signed_cost_bps(-1, arrival, fill) < 0) == (fill > arrival)  # sell above = gain


@PROPERTY
@given(
    trades=st.lists(
        st.tuples(COSTS_BPS, st.integers(1, 10**8).map(float)), min_size=1, max_size=100
    ),
    equal=st.booleans(),
)
def test_calibrator_mean_cost_is_unbiased_under_sign(
    trades: list[tuple[float, float]], equal: bool
) -> None:
    costs = [cost for cost, _ in trades]
    weights = [1000.0] * len(trades) if equal else [notional for _, notional in trades]
    calibrator = CostCalibrator(window=1000)
    for i, (cost, notional) in enumerate(zip(costs, weights, strict=True)):
        calibrator.record_trade(1.0, cost, notional, 1 if i % 2 else -1, 0.01, 0.02, "2024-01-02")
    recorded = [t.actual_bps for t in calibrator.trades]
    assert recorded == costs
    expected = float(np.mean(costs)) if equal else float(np.average(costs, weights=weights))
    assert calibrator.mean_cost_bps() == pytest.approx(expected, abs=1e-9)
    assert calibrator.compute_cost_surprise().price_improvements == sum(c < 0 for c in costs)
