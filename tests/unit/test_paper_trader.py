"""Unit tests of the paper trader: marks (T3), signed costs (T4), orders and crash-safe books."""

from __future__ import annotations

import json
import logging
import math
import shutil
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest

from autopilot.costs import CostModel, Fill
from autopilot.errors import ConfigError, InputError, StateError
from autopilot.paper_trader import (
    PaperTrader,
    Portfolio,
    Position,
    StaleMark,
    TraderSettings,
)
from autopilot.state.journal import Journal

D1 = date(2024, 1, 2)
D2 = date(2024, 1, 3)
D3 = date(2024, 1, 8)
D4 = date(2024, 1, 9)

FREE = CostModel(half_spread_bps=0.0, fee_bps=0.0, impact=0.0, noise_bps=0.0)


def _trader(path: Path, cost_model: CostModel = FREE, **settings) -> PaperTrader:
    return PaperTrader(
        path, TraderSettings(**settings), cost_model, initial_cash=100_000.0, create=True
    )


def _warnings_naming(caplog: pytest.LogCaptureFixture, security_id: str) -> list[str]:
    """The events of the paper trader's warnings that name ``security_id`` (structured)."""
    return [
        r.event
        for r in caplog.records
        if r.levelno == logging.WARNING
        and r.name == "autopilot.paper_trader"
        and security_id in getattr(r, "security_ids", ())
    ]


# --------------------------------------------------------------------------------------------
# T3: weights at last_price, stale marks, unmarked positions


def test_position_bought_at_100_marked_at_150_is_weighted_at_150(tmp_path: Path) -> None:
    trader = _trader(tmp_path)
    first = trader.run_cycle(D1, {"AAA": 100.0}, {"AAA": 0.1})
    assert [(f["side"], f["shares"], f["fill_price"]) for f in first.fills] == [(1, 100.0, 100.0)]

    # Equity after the mark: 90,000 cash + 100 * 150 = 105,000; weight 15,000 / 105,000.
    expected = 100 * 150.0 / (90_000.0 + 100 * 150.0)
    second = trader.run_cycle(D2, {"AAA": 150.0}, {"AAA": expected})
    assert second.fills == ()  # already at target: nothing traded
    assert second.weights == {"AAA": pytest.approx(expected, rel=1e-12)}
    book = trader.portfolio()
    position = book.positions["AAA"]
    assert (position.entry_price, position.last_price, position.last_price_date) == (
        100.0,
        150.0,
        D2.isoformat(),
    )
    assert book.current_weights() == {"AAA": pytest.approx(expected, rel=1e-12)}
    assert book.current_weights()["AAA"] != pytest.approx(10_000.0 / 100_000.0)  # not entry
    assert book.equity() == pytest.approx(105_000.0)
    assert position.unrealised_pnl == pytest.approx(5_000.0)


def _held_at_150(tmp_path: Path) -> tuple[PaperTrader, float]:
    trader = _trader(tmp_path)
    trader.run_cycle(D1, {"AAA": 100.0}, {"AAA": 0.1})
    weight = 100 * 150.0 / 105_000.0
    trader.run_cycle(D2, {"AAA": 150.0}, {"AAA": weight})
    return trader, weight


def test_position_without_a_price_keeps_its_mark_and_is_reported_stale(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    trader, weight = _held_at_150(tmp_path)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        summary = trader.run_cycle(D3, {"BBB": 20.0}, {})

    assert summary.stale == (StaleMark("AAA", D2.isoformat(), (D3 - D2).days),)
    assert summary.stale[0].age_days == 5
    position = trader.portfolio().positions["AAA"]
    assert (position.last_price, position.last_price_date, position.shares) == (
        150.0,
        D2.isoformat(),
        100.0,
    )
    assert summary.weights == {"AAA": pytest.approx(weight, rel=1e-12)}
    assert summary.fills == ()  # no price: neither marked nor traded
    assert _warnings_naming(caplog, "AAA") == ["stale_marks"]


def test_stale_position_still_targeted_is_warned_about_once_per_cycle(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    trader, weight = _held_at_150(tmp_path)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        summary = trader.run_cycle(D3, {}, {"AAA": weight})
    assert [s.security_id for s in summary.stale] == ["AAA"]
    assert _warnings_naming(caplog, "AAA") == ["stale_marks"]


def test_stale_age_grows_across_cycles(tmp_path: Path) -> None:
    trader, _ = _held_at_150(tmp_path)
    assert trader.run_cycle(D3, {}, {}).stale[0].age_days == 5
    assert trader.run_cycle(D4, {}, {}).stale == (StaleMark("AAA", D2.isoformat(), 6),)


def test_mark_reports_a_never_marked_position_as_stale_without_age() -> None:
    book = Portfolio(1000.0, {"X": Position("X", 1.0, 10.0, "2024-01-01")})
    assert book.mark({}, D1) == [StaleMark("X", None, None)]
    book.mark({"X": 12.0}, D2)
    assert book.positions["X"].last_price == 12.0
    assert book.positions["X"].last_price_date == D2.isoformat()


def _book_with_unmarked(entry_price_of_b: float) -> Portfolio:
    return Portfolio(
        1000.0,
        {
            "AAA": Position("AAA", 10.0, 100.0, "2024-01-01", 150.0, "2024-01-02"),
            "BBB": Position("BBB", 5.0, entry_price_of_b, "2024-01-01", None, None),
        },
    )


def test_position_without_last_price_is_left_out_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    book = _book_with_unmarked(200.0)
    with caplog.at_level(logging.WARNING):
        weights = book.current_weights()
    # Equity: 1,000 cash + 10 * 150; BBB's 5 * 200 at entry price must not count.
    assert weights == {"AAA": pytest.approx(1500.0 / 2500.0, rel=1e-12)}
    assert book.equity() == pytest.approx(2500.0)
    assert book.marked_value() == pytest.approx(1500.0)
    assert book.positions["BBB"].market_value is None
    assert book.positions["BBB"].unrealised_pnl is None
    assert _warnings_naming(caplog, "BBB") == ["unmarked_left_out"]
    assert _warnings_naming(caplog, "AAA") == []


@pytest.mark.parametrize("entry_price", [0.01, 200.0, 1e9])
def test_entry_price_of_an_unmarked_position_does_not_influence_weights(
    entry_price: float,
) -> None:
    book = _book_with_unmarked(entry_price)
    reference = _book_with_unmarked(200.0)
    assert book.current_weights() == reference.current_weights()
    assert book.equity() == reference.equity()


def test_cycle_marks_an_unmarked_position_and_then_weights_it(tmp_path: Path) -> None:
    trader = _trader(tmp_path)
    trader.run_cycle(D1, {"AAA": 100.0}, {"AAA": 0.1})
    state = json.loads((tmp_path / "portfolio.json").read_text())
    # Simulate a book written by an older version: AAA without a mark.
    state["data"]["positions"]["AAA"].update(last_price=None, last_price_date=None)
    (tmp_path / "portfolio.json").write_text(json.dumps(state))
    assert trader.portfolio().current_weights() == {}
    summary = trader.run_cycle(D2, {"AAA": 120.0}, {"AAA": 12_000.0 / 102_000.0})
    assert summary.weights == {"AAA": pytest.approx(12_000.0 / 102_000.0, rel=1e-12)}


# --------------------------------------------------------------------------------------------
# T4: negative costs reach the calibrator unchanged


def test_price_improvements_reach_the_calibrator_with_their_sign(tmp_path: Path) -> None:
    noisy = CostModel(half_spread_bps=0.0, fee_bps=0.0, impact=0.0, noise_bps=10.0)
    trader = _trader(tmp_path, noisy, fractional=True, seed=11)
    ids = [f"S{i:02d}" for i in range(10)]
    prices = {sid: 20.0 + 7.0 * i for i, sid in enumerate(ids)}
    trader.run_cycle(D1, prices, dict.fromkeys(ids, 0.09))
    trader.run_cycle(D2, prices, {})  # sell everything

    log = list(Journal(tmp_path / "trades.jsonl"))
    fills = [fill for record in log for fill in record["fills"]]
    assert len(fills) == 20
    trades = trader.calibrator().trades
    assert len(trades) == len(fills)

    improved_buys = improved_sells = 0
    for fill, trade in zip(fills, trades, strict=True):
        side, arrival, price = fill["side"], fill["arrival_price"], fill["fill_price"]
        expected = 1e4 * side * (price - arrival) / arrival
        assert fill["actual_cost_bps"] == expected
        assert trade.actual_bps == expected
        assert (trade.side, trade.notional) == (side, fill["notional"])
        if side == 1 and price < arrival:
            improved_buys += 1
            assert trade.actual_bps < 0
        if side == -1 and price > arrival:
            improved_sells += 1
            assert trade.actual_bps < 0
    assert improved_buys >= 1
    assert improved_sells >= 1
    surprise = trader.calibrator().compute_cost_surprise()
    assert surprise.price_improvements == improved_buys + improved_sells


# --------------------------------------------------------------------------------------------
# Orders


def test_whole_shares_are_rounded_toward_zero(tmp_path: Path) -> None:
    summary = _trader(tmp_path).run_cycle(D1, {"AAA": 30.0}, {"AAA": 0.5})
    assert [f["shares"] for f in summary.fills] == [1666.0]  # 50,000 / 30 = 1666.67
    assert summary.cash == pytest.approx(100_000.0 - 1666 * 30.0)


def test_fractional_shares_hit_the_target(tmp_path: Path) -> None:
    summary = _trader(tmp_path, fractional=True).run_cycle(D1, {"AAA": 30.0}, {"AAA": 0.5})
    assert summary.fills[0]["shares"] == pytest.approx(50_000.0 / 30.0, rel=1e-12)
    assert summary.weights == {"AAA": pytest.approx(0.5, rel=1e-12)}


def test_orders_below_min_trade_notional_are_not_sent(tmp_path: Path) -> None:
    trader = _trader(tmp_path, min_trade_notional=1000.0)
    # 0.5 % of 100,000 = 500 < 1,000: not sent; 2 % = 2,000: sent.
    summary = trader.run_cycle(D1, {"AAA": 10.0, "BBB": 10.0}, {"AAA": 0.005, "BBB": 0.02})
    assert [(f["security_id"], f["shares"]) for f in summary.fills] == [("BBB", 200.0)]
    # A rebalance smaller than the minimum is not sent either.
    again = trader.run_cycle(D2, {"AAA": 10.0, "BBB": 10.0}, {"BBB": 0.025})
    assert again.fills == ()
    assert trader.portfolio().positions["BBB"].shares == 200.0


def _paid_model() -> CostModel:
    return CostModel(half_spread_bps=5.0, fee_bps=1.0, impact=0.0, noise_bps=0.0)


def test_buys_are_cut_to_the_cash_available(tmp_path: Path) -> None:
    # Full investment plus a 6 bps cost: the buy cannot be paid in full.
    summary = _trader(tmp_path, _paid_model()).run_cycle(D1, {"AAA": 100.0}, {"AAA": 1.0})
    fill = summary.fills[0]
    assert fill["shares"] == 999.0  # 1,000 wanted, 999 affordable at 100.06
    assert summary.cash >= 0.0
    assert summary.cash < fill["fill_price"]


def test_fractional_buys_are_cut_to_the_cash_available(tmp_path: Path) -> None:
    trader = _trader(tmp_path, _paid_model(), fractional=True, seed=4)
    summary = trader.run_cycle(D1, {"A": 37.3, "B": 13.7}, {"A": 0.5, "B": 0.5})
    fill = summary.fills[-1]
    assert fill["shares"] < 0.5 * 100_000.0 / 13.7
    # Spent down to float rounding, never below zero (see the next test).
    assert summary.cash == pytest.approx(0.0, abs=1e-9)


def test_fractional_buy_cut_to_cash_never_leaves_negative_cash(tmp_path: Path) -> None:
    # Default cost model and settings (negative cash not allowed), fractional shares.
    trader = PaperTrader(
        tmp_path,
        TraderSettings(fractional=True, seed=4),
        CostModel(),
        initial_cash=1000.0,
        create=True,
    )
    summary = trader.run_cycle(D1, {"A": 37.3, "B": 13.7}, {"A": 0.5, "B": 0.5})
    assert summary.cash == pytest.approx(0.0, abs=1e-9)  # the buy was cut to cash
    assert summary.cash >= 0.0


def test_negative_cash_only_when_allowed(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"sum to 1\.5 > 1"):
        _trader(tmp_path / "a").run_cycle(D1, {"AAA": 100.0}, {"AAA": 1.5})
    assert not (tmp_path / "a" / "trades.jsonl").exists()
    summary = _trader(tmp_path / "b", allow_negative_cash=True).run_cycle(
        D1, {"AAA": 100.0}, {"AAA": 1.5}
    )
    assert summary.fills[0]["shares"] == 1500.0
    assert summary.cash == pytest.approx(-50_000.0)
    assert summary.equity == pytest.approx(100_000.0)


def test_sells_are_executed_before_buys(tmp_path: Path) -> None:
    trader = _trader(tmp_path)
    trader.run_cycle(D1, {"ZZZ": 100.0}, {"ZZZ": 0.9})
    # AAA sorts first, but the buy is only affordable with the proceeds of the ZZZ sale.
    summary = trader.run_cycle(D2, {"AAA": 50.0, "ZZZ": 100.0}, {"AAA": 0.9})
    assert [(f["security_id"], f["side"]) for f in summary.fills] == [("ZZZ", -1), ("AAA", 1)]
    assert summary.fills[1]["shares"] == 1800.0
    assert summary.cash == pytest.approx(10_000.0)


def test_selling_a_position_not_in_the_targets_closes_it(tmp_path: Path) -> None:
    trader = _trader(tmp_path, fractional=True)
    trader.run_cycle(D1, {"AAA": 70.0, "BBB": 40.0}, {"AAA": 0.3, "BBB": 0.3})
    held = trader.portfolio().positions["AAA"].shares
    assert held != math.floor(held)  # a fractional holding
    summary = trader.run_cycle(D2, {"AAA": 70.0, "BBB": 40.0}, {"BBB": 0.3})
    assert [(f["security_id"], f["side"], f["shares"]) for f in summary.fills] == [
        ("AAA", -1, held)
    ]
    book = trader.portfolio()
    assert set(book.positions) == {"BBB"}
    assert book.cash == pytest.approx(70_000.0)


@pytest.mark.parametrize("weights", [{"A": 0.6, "B": 0.5}, {"A": 1.0 + 1e-6}])
def test_target_weights_above_one_without_leverage_are_refused(
    tmp_path: Path, weights: dict
) -> None:
    with pytest.raises(InputError, match="> 1"):
        _trader(tmp_path).run_cycle(D1, {"A": 10.0, "B": 10.0}, weights)
    assert not (tmp_path / "portfolio.json").exists()


@pytest.mark.parametrize("weight", [-0.1, math.nan])
def test_negative_or_nan_target_weight_is_refused(tmp_path: Path, weight: float) -> None:
    with pytest.raises(InputError, match="'B'"):
        _trader(tmp_path).run_cycle(D1, {"A": 10.0, "B": 10.0}, {"A": 0.1, "B": weight})


@pytest.mark.parametrize("price", [0.0, -5.0, math.nan, math.inf])
def test_non_positive_or_nan_price_is_refused_naming_the_security(
    tmp_path: Path, price: float
) -> None:
    trader = _trader(tmp_path)
    with pytest.raises(InputError, match="'BAD_ID'"):
        trader.run_cycle(D1, {"AAA": 10.0, "BAD_ID": price}, {"AAA": 0.1})
    assert not (tmp_path / "trades.jsonl").exists()
    assert not (tmp_path / "portfolio.json").exists()


# --------------------------------------------------------------------------------------------
# Trade log, committed fills, calibrator catch-up, state files


def test_trade_log_has_one_record_per_cycle_with_its_fills(tmp_path: Path) -> None:
    trader = _trader(tmp_path)
    summaries = [
        trader.run_cycle(D1, {"A": 10.0, "B": 20.0}, {"A": 0.3, "B": 0.3}),
        trader.run_cycle(D2, {"A": 10.0, "B": 20.0}, {"A": 0.3, "B": 0.3}),  # no trade
        trader.run_cycle(D3, {"A": 11.0, "B": 20.0}, {"B": 0.5}),
    ]
    log = list(Journal(tmp_path / "trades.jsonl"))
    assert [r["cycle"] for r in log] == [1, 2, 3]
    assert [r["as_of"] for r in log] == [D1.isoformat(), D2.isoformat(), D3.isoformat()]
    for record, summary in zip(log, summaries, strict=True):
        assert record["fills"] == list(summary.fills)
        assert all(f["cycle"] == summary.cycle for f in record["fills"])
    assert log[1]["fills"] == []
    assert trader.committed_fills() == [f for s in summaries for f in s.fills]


def test_a_committed_record_the_snapshot_missed_is_replayed_not_dropped(
    tmp_path: Path,
) -> None:
    # A kill between the trade-log append of cycle 2 (the commit) and the portfolio save:
    # the snapshot of cycle 1 is what a restarted process finds.
    trader = _trader(tmp_path, CostModel(noise_bps=10.0), seed=3)
    trader.run_cycle(D1, {"A": 10.0}, {"A": 0.3})
    snapshot_1 = (tmp_path / "portfolio.json").read_bytes()
    second = trader.run_cycle(D2, {"A": 11.0, "B": 5.0}, {"A": 0.1, "B": 0.2})
    uninterrupted = trader.portfolio().to_state()
    (tmp_path / "portfolio.json").write_bytes(snapshot_1)

    restarted = _trader(tmp_path, CostModel(noise_bps=10.0), seed=3)
    assert restarted.portfolio().to_state() == uninterrupted  # bit for bit, marks included
    assert [f["cycle"] for f in restarted.committed_fills()][-len(second.fills) :] == [2] * len(
        second.fills
    )
    third = restarted.run_cycle(D3, {"A": 11.0, "B": 5.0}, {"A": 0.1, "B": 0.2})
    assert third.cycle == 3
    assert [r["cycle"] for r in Journal(tmp_path / "trades.jsonl")] == [1, 2, 3]


def test_calibrator_behind_the_portfolio_is_caught_up_from_the_log(tmp_path: Path) -> None:
    noisy = CostModel(noise_bps=10.0)
    trader = _trader(tmp_path, noisy, seed=5)
    prices = {"A": 10.0, "B": 20.0, "C": 30.0}
    trader.run_cycle(D1, prices, {"A": 0.3, "B": 0.3})
    aside = tmp_path / "calibrator-after-cycle-1.json"
    shutil.copyfile(tmp_path / "cost_calibrator.json", aside)
    trader.run_cycle(D2, prices, {"B": 0.3, "C": 0.3})
    trader.run_cycle(D3, prices, {"A": 0.5})
    complete = [t.actual_bps for t in trader.calibrator().trades]

    shutil.copyfile(aside, tmp_path / "cost_calibrator.json")  # rewind to cycle 1
    stored = json.loads((tmp_path / "cost_calibrator.json").read_text())
    assert stored["data"]["last_cycle"] == 1

    restarted = _trader(tmp_path, noisy, seed=5)
    caught_up = restarted.calibrator()
    committed = restarted.committed_fills()
    assert len(caught_up.trades) == len(committed) == len(complete)
    assert [t.actual_bps for t in caught_up.trades] == [f["actual_cost_bps"] for f in committed]
    assert [t.actual_bps for t in caught_up.trades] == complete

    # The next cycle persists the caught-up calibrator.
    summary = restarted.run_cycle(D4, prices, {"A": 0.5})
    stored = json.loads((tmp_path / "cost_calibrator.json").read_text())
    assert stored["data"]["last_cycle"] == summary.cycle == 4
    assert len(stored["data"]["trades"]) == len(restarted.committed_fills())


def test_committed_fills_of_a_fresh_trader_on_an_existing_folder(tmp_path: Path) -> None:
    first = _trader(tmp_path).run_cycle(D1, {"A": 10.0}, {"A": 0.3})
    assert first.fills
    assert _trader(tmp_path).committed_fills() == list(first.fills)


def test_state_files_carry_schema_version_and_generation(tmp_path: Path) -> None:
    trader = _trader(tmp_path)
    trader.run_cycle(D1, {"A": 10.0}, {"A": 0.3})
    trader.run_cycle(D2, {"A": 10.0}, {"A": 0.4})
    portfolio = json.loads((tmp_path / "portfolio.json").read_text())
    calibrator = json.loads((tmp_path / "cost_calibrator.json").read_text())
    assert (portfolio["kind"], portfolio["schema_version"], portfolio["generation"]) == (
        "portfolio",
        1,
        2,
    )
    assert portfolio["data"]["as_of"] == D2.isoformat()
    assert (calibrator["kind"], calibrator["schema_version"], calibrator["generation"]) == (
        "cost_calibrator",
        1,
        2,
    )
    assert calibrator["data"]["last_cycle"] == 2
    backup = json.loads((tmp_path / "portfolio.json.bak").read_text())
    assert backup["generation"] == 1


def test_a_corrupt_portfolio_never_rolls_back_a_committed_cycle(tmp_path: Path) -> None:
    trader = _trader(tmp_path)
    trader.run_cycle(D1, {"A": 10.0, "B": 20.0}, {"A": 0.3, "B": 0.3})
    second = trader.run_cycle(D2, {"A": 10.0, "B": 20.0}, {"A": 0.3})  # sells B
    assert any(f["side"] == -1 and f["security_id"] == "B" for f in second.fills)
    after_second = trader.portfolio().to_state()
    (tmp_path / "portfolio.json").write_text('{"kind": "portfolio", "schema_ver')

    restarted = _trader(tmp_path)
    assert restarted.portfolio().to_state() == after_second  # the .bak plus cycle 2's record
    assert not list(tmp_path.glob("portfolio.json.corrupt-*"))  # reading moved nothing
    assert restarted.committed_fills() == [
        f for r in Journal(tmp_path / "trades.jsonl") for f in r["fills"]
    ]
    third = restarted.run_cycle(D3, {"A": 10.0}, {"A": 0.3})
    assert third.cycle == 3
    assert len(list(tmp_path.glob("portfolio.json.corrupt-*"))) == 1  # the writer moved it
    assert restarted.portfolio().positions.keys() == {"A"}


def test_calibrator_matches_committed_fills_after_backup_recovery(tmp_path: Path) -> None:
    trader = _trader(tmp_path)
    trader.run_cycle(D1, {"A": 100.0}, {"A": 0.5})
    trader.run_cycle(D2, {"A": 100.0, "B": 50.0}, {"A": 0.2, "B": 0.3})
    (tmp_path / "portfolio.json").write_text("{garbage")
    restarted = _trader(tmp_path)
    restarted.run_cycle(D3, {"A": 100.0, "B": 50.0}, {"A": 0.2, "B": 0.3})
    assert len(restarted.calibrator().trades) == len(restarted.committed_fills())


# --------------------------------------------------------------------------------------------
# A cycle is identified by its date


def test_a_retry_of_the_last_date_books_nothing_twice(tmp_path: Path) -> None:
    trader = _trader(tmp_path, CostModel(noise_bps=10.0))
    trader.run_cycle(D1, {"A": 10.0}, {"A": 0.3})
    first = trader.run_cycle(D2, {"A": 10.0, "B": 5.0}, {"A": 0.1, "B": 0.2})
    book = trader.portfolio().to_state()
    retry = trader.run_cycle(D2, {"A": 10.0, "B": 5.0}, {"A": 0.1, "B": 0.2})
    assert retry.repeated and not first.repeated
    assert (retry.cycle, retry.fills, retry.cash) == (first.cycle, first.fills, first.cash)
    assert trader.portfolio().to_state() == book
    assert [r["cycle"] for r in Journal(tmp_path / "trades.jsonl")] == [1, 2]
    assert len(trader.calibrator().trades) == len(trader.committed_fills())


def test_an_earlier_date_or_other_inputs_for_a_committed_date_are_refused(
    tmp_path: Path,
) -> None:
    trader = _trader(tmp_path)
    trader.run_cycle(D2, {"A": 10.0}, {"A": 0.3})
    before = (tmp_path / "trades.jsonl").read_bytes()
    with pytest.raises(StateError, match=r"as-of 2024-01-02 is earlier than .* 2024-01-03"):
        trader.run_cycle(D1, {"A": 10.0}, {"A": 0.3})
    with pytest.raises(StateError, match=r"already committed with other inputs"):
        trader.run_cycle(D2, {"A": 10.0}, {"A": 0.5})
    assert (tmp_path / "trades.jsonl").read_bytes() == before


def test_a_folder_without_state_is_refused_and_nothing_is_created(tmp_path: Path) -> None:
    typo = tmp_path / "stat"
    reader = PaperTrader(typo)
    with pytest.raises(StateError, match=r"does not exist.*autopilot init"):
        reader.portfolio()
    with pytest.raises(StateError, match=r"does not exist"):
        reader.run_cycle(D1, {"A": 10.0}, {"A": 0.3})
    assert not typo.exists()
    with pytest.raises(StateError, match=r"holds no autopilot state"):
        PaperTrader(tmp_path).portfolio()
    assert list(tmp_path.iterdir()) == []


def test_the_initial_cash_of_an_existing_book_cannot_change(tmp_path: Path) -> None:
    _trader(tmp_path).run_cycle(D1, {"A": 10.0}, {"A": 0.3})
    with pytest.raises(StateError, match=r"initial cash 100,000.00"):
        PaperTrader(tmp_path, initial_cash=5_000.0).run_cycle(D2, {"A": 10.0}, {"A": 0.3})
    with pytest.raises(StateError, match=r"initial cash 100,000.00"):
        PaperTrader(tmp_path, initial_cash=5_000.0, create=True)._open_folder()


def test_reading_works_on_a_read_only_folder_and_writes_nothing(tmp_path: Path) -> None:
    trader = _trader(tmp_path)
    trader.run_cycle(D1, {"A": 10.0}, {"A": 0.3})
    (tmp_path / "portfolio.json").write_text("{garbage")  # reading must not move it aside
    listing = sorted(p.name for p in tmp_path.iterdir())
    tmp_path.chmod(0o555)
    try:
        book, as_of, calibrator = PaperTrader(tmp_path).snapshot()
    finally:
        tmp_path.chmod(0o755)
    assert as_of == D1.isoformat() and book.positions.keys() == {"A"}
    assert len(calibrator.trades) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == listing


def test_a_fill_through_zero_opens_a_new_position_at_its_price() -> None:
    book = Portfolio(cash=0.0)
    day1, day2 = date(2024, 1, 2), date(2024, 1, 3)
    book.apply("A", Fill(1, 10.0, 100.0, 100.0, 0.0, 0.01, 0.02), day1)
    book.apply("A", Fill(-1, 15.0, 120.0, 120.0, 0.0, 0.01, 0.02), day2)
    position = book.positions["A"]
    assert position.shares == -5.0
    assert (position.entry_price, position.entry_date) == (120.0, "2024-01-03")
    assert book.cash == pytest.approx(-1000.0 + 1800.0)


def test_a_dust_position_not_targeted_is_closed_despite_the_minimum_trade(tmp_path: Path) -> None:
    settings = TraderSettings(fractional=True, min_trade_notional=1000.0)
    trader = PaperTrader(
        tmp_path, settings, CostModel(0, 0, 0, 0), initial_cash=10_000.0, create=True
    )
    trader.run_cycle(date(2024, 1, 2), {"A": 10.0}, {"A": 0.5})
    trader.run_cycle(date(2024, 1, 3), {"A": 10.0}, {"A": 0.45})  # trims 50 currency: too small
    assert trader.portfolio().positions["A"].shares == pytest.approx(500.0)
    trader.run_cycle(date(2024, 1, 4), {"A": 0.01}, {})  # worth 5: below the minimum, still closed
    assert trader.portfolio().positions == {}


# --------------------------------------------------------------------------------------------
# Settings and inputs are checked against their declared constraints


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"min_trade_notional": -5},
            "The 'min_trade_notional' setting of 'TraderSettings' must be in [0, inf), was -5.",
        ),
        (
            {"default_participation": 1.5},
            "The 'default_participation' setting of 'TraderSettings' must be in [0, 1], was 1.5.",
        ),
        (
            {"default_volatility": math.inf},
            "The 'default_volatility' setting of 'TraderSettings' must be a finite number, "
            "was inf.",
        ),
        (
            {"seed": -1},
            "The 'seed' setting of 'TraderSettings' must be in [0, inf), was -1.",
        ),
        (
            {"calibration_window": 0},
            "The 'calibration_window' setting of 'TraderSettings' must be in [1, inf), was 0.",
        ),
        (
            {"seed": True},
            "The 'seed' setting of 'TraderSettings' must be an integer, was True (bool).",
        ),
        (
            {"min_trade_notional": False},
            "The 'min_trade_notional' setting of 'TraderSettings' must be a number, "
            "was False (bool).",
        ),
        (
            {"fractional": 1},
            "The 'fractional' setting of 'TraderSettings' must be of type bool, was 1 (int).",
        ),
    ],
)
def test_trader_settings_validate_their_fields(settings: dict, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        TraderSettings(**settings)
    assert str(info.value) == message
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("volumes", -100.0),
        ("volumes", 0.0),
        ("volumes", math.nan),
        ("volumes", math.inf),
        ("volatilities", -0.01),
        ("volatilities", math.nan),
        ("volatilities", math.inf),
        ("volatilities", True),
    ],
)
def test_run_cycle_refuses_a_bad_volume_or_volatility_naming_the_security(
    tmp_path: Path, column: str, value: float
) -> None:
    trader = _trader(tmp_path, CostModel())
    with pytest.raises(InputError) as info:
        trader.run_cycle(
            D1,
            {"AAA": 10.0, "BAD": 20.0},
            {"AAA": 0.3, "BAD": 0.3},
            **{column: {"AAA": 0.5, "BAD": value}},
        )
    noun = column[:-1] if column == "volumes" else "volatility"
    assert str(info.value).startswith(f"The {noun} of security 'BAD' must be ")
    assert not (tmp_path / "portfolio.json").exists()
    assert not (tmp_path / "trades.jsonl").exists()


def test_the_cost_model_refuses_a_non_finite_volatility() -> None:
    with pytest.raises(InputError, match=r"The volatility of an order must be a finite number"):
        CostModel().base_cost_bps(0.01, math.inf)
    with pytest.raises(InputError, match=r"The participation of an order must be in \[0, inf\)"):
        CostModel().base_cost_bps(-0.01, 0.02)


def test_a_replayed_cycle_gives_the_same_book_to_the_last_bit(tmp_path: Path) -> None:
    """Kills between commit records and snapshot saves change no later figure at all."""
    rng = np.random.default_rng(21)
    names = [f"S{i:02d}" for i in range(12)]
    days = [date(2024, 1, 1) + timedelta(days=k) for k in range(10)]
    cycles = [
        (
            {s: float(p) for s, p in zip(names, rng.uniform(5, 500, len(names)), strict=True)},
            {
                s: float(w)
                for s, w in zip(names, rng.dirichlet(np.ones(len(names))) * 0.9, strict=True)
                if w > 0.03
            },
        )
        for _ in days
    ]

    def trader(folder: Path) -> PaperTrader:
        return _trader(folder, CostModel(noise_bps=15.0), fractional=True, seed=9)

    plain, crashed = trader(tmp_path / "plain"), trader(tmp_path / "crashed")
    for k, (day, (prices, targets)) in enumerate(zip(days, cycles, strict=True)):
        expected = plain.run_cycle(day, prices, targets)
        before = (tmp_path / "crashed" / "portfolio.json").read_bytes() if k else None
        got = crashed.run_cycle(day, prices, targets)
        assert got.fills == expected.fills and got.cash == expected.cash, k
        if before is not None and k % 2:  # the snapshot save "never happened"
            (tmp_path / "crashed" / "portfolio.json").write_bytes(before)
    assert crashed.portfolio() == plain.portfolio()


def test_a_calibrator_whose_files_are_both_unusable_is_rebuilt_from_the_log(tmp_path: Path) -> None:
    trader = _trader(tmp_path, CostModel(noise_bps=10.0))
    trader.run_cycle(D1, {"A": 10.0, "B": 20.0}, {"A": 0.3, "B": 0.3})
    trader.run_cycle(D2, {"A": 11.0, "B": 19.0}, {"A": 0.2, "B": 0.4})
    expected = trader.calibrator().trades
    (tmp_path / "cost_calibrator.json").write_text("{garbage")
    (tmp_path / "cost_calibrator.json.bak").write_text("")
    assert _trader(tmp_path).calibrator().trades == expected
    assert _trader(tmp_path).run_cycle(D3, {"A": 11.0}, {"A": 0.2}).cycle == 3
    assert len(_trader(tmp_path).calibrator().trades) == len(trader.committed_fills())


def test_a_retry_with_other_settings_is_not_a_retry(tmp_path: Path) -> None:
    _trader(tmp_path).run_cycle(D1, {"A": 10.0}, {"A": 0.3})
    with pytest.raises(StateError, match=r"already committed with other inputs"):
        _trader(tmp_path, min_trade_notional=5_000.0).run_cycle(D1, {"A": 10.0}, {"A": 0.3})


def test_the_registry_and_the_book_run_under_one_hold_of_the_folder_lock(tmp_path: Path) -> None:
    from autopilot.registry import StrategyRegistry
    from autopilot.sdk.verdicts import Decision, Mode, Outcome, Verdict

    ok = Decision("s", (Verdict("sharpe", Outcome.PASS, 1.0, 0.5, Mode.ENFORCE, "OK"),))
    book = _trader(tmp_path)
    book._open_folder()  # created with the book's initial cash
    registry = StrategyRegistry(tmp_path)
    with registry.folder.locked():  # one cycle of both parts, as the engine will run it
        registry.update([ok], as_of=D1)
        book.run_cycle(D1, {"A": 10.0}, {"A": 0.3})
    # Killed after the registry's part of D2: running D2 again repeats it, runs the rest.
    registry.update([ok], as_of=D2)
    with registry.folder.locked():
        assert registry.update([ok], as_of=D2).repeated
        assert not book.run_cycle(D2, {"A": 10.0}, {"A": 0.3}).repeated
    assert book.last_cycle().as_of == registry.snapshot()[1].as_of == D2.isoformat()
