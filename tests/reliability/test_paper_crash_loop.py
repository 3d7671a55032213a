"""The paper trader under kill -9 at random instants (seed T1, T3, T4).

A fork server (``paper_worker.py``) forks children that run paper cycles in a tight loop on
one state folder (20 securities, whole shares, execution noise on; cycle ``k``'s prices and
targets are a function of ``k``, so positions open, change and close), and the test kills
each child with SIGKILL after a seeded random 0-50 ms or 50-150 ms. A cycle writes (1) its
trade-log record, the commit point, (2) the portfolio snapshot (generation = cycle), (3) the
calibrator, so kills land before, between and after those writes. After every kill, with
the child dead, a fresh reader (which must write nothing) sees:

* every complete trade-log record as a committed cycle: cycles 1..g in order, each exactly
  once; the ``portfolio.json`` snapshot is complete by itself and at most at g (a kill
  between a record and the snapshot leaves it behind: the reader replays the records);
* the committed cycle count never goes backwards;
* replaying ``committed_fills()`` from the initial cash (``cash -= side * shares *
  fill_price``; ``shares += side * shares``) gives the book's cash (1e-6 relative) and shares
  (exactly): no trade in the log that the book does not reflect, and the reverse;
* ``PaperTrader.calibrator()`` holds exactly the committed fills' costs (the last
  ``calibration_window`` of them, every field), also when the calibrator file is behind
  (killed before the calibrator save), and its fitted multiplier is the one an uncrashed
  run has (the catch-up refits it);
* the book, every committed fill (predicted costs included) and the multiplier equal those
  of an uncrashed run of the same cycles in another folder: a kill changes nothing a later
  cycle sees.

The number of kills is ``AUTOPILOT_PAPER_KILLS`` (default 100).
"""

from __future__ import annotations

import json
import math
import os
import random
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

from autopilot.cost_calibrator import TradeCost
from autopilot.paper_trader import Portfolio
from autopilot.state.cycles import StateFolder
from autopilot.state.journal import Journal
from tests.fork_server import ForkServerProcess

from . import paper_worker as worker

KILLS = int(os.environ.get("AUTOPILOT_PAPER_KILLS", "100"))
SEED = 20250612
# Half the kills land inside a child's first cycle (about 30-60 ms: fork, load, catch-up,
# three durable writes), the other half after one to several cycles.
SHORT_SLEEP = 0.050
LONG_SLEEP = 0.150
WINDOW = worker.SETTINGS.calibration_window


class ForkServer(ForkServerProcess):
    """The worker process; ``kill_child_after(seconds)`` forks one child and SIGKILLs it."""

    def __init__(self, state: Path, scratch: Path) -> None:
        super().__init__([str(worker.WORKER_PATH), str(state)], scratch)

    def kill_child_after(self, seconds: float) -> None:
        status = self.run_child_for(seconds)
        assert os.WIFSIGNALED(status), self.child_errors()
        assert os.WTERMSIG(status) == signal.SIGKILL, self.child_errors()


class Reference:
    """An uncrashed run of the same cycles in its own folder, advanced on demand."""

    def __init__(self, folder: Path) -> None:
        self.trader = worker.make_trader(folder)
        self.books: list[Portfolio] = [Portfolio(worker.INITIAL_CASH)]
        self.fills: list[list[dict[str, Any]]] = [[]]
        self.multipliers: list[float] = [worker.COST_MODEL.multiplier]

    def advance_to(self, generation: int) -> None:
        while len(self.books) <= generation:
            summary = worker.run_cycle(self.trader, len(self.books))
            book, _, calibrator = self.trader.snapshot()
            self.books.append(book)
            self.fills.append(list(summary.fills))
            self.multipliers.append(calibrator.multiplier)


def _sleep(rng: random.Random) -> float:
    if rng.random() < 0.5:
        return rng.uniform(0.0, SHORT_SLEEP)
    return rng.uniform(SHORT_SLEEP, LONG_SLEEP)


def _temp_files(folder: Path) -> list[Path]:
    if not folder.exists():  # killed before its first write
        return []
    return [p for p in folder.iterdir() if p.name.startswith(".") and p.name.endswith(".tmp")]


def _generation_of(path: Path) -> int:
    """Generation of a state file read on its own (no recovery); fails if it is unusable."""
    payload = json.loads(path.read_bytes())
    assert payload["kind"] == "portfolio" and payload["schema_version"] == 1
    Portfolio.from_state(payload["data"])
    return payload["generation"]


def _trade_cost(fill: dict[str, Any]) -> TradeCost:
    return TradeCost(
        predicted_bps=fill["predicted_cost_bps"],
        actual_bps=fill["actual_cost_bps"],
        notional=fill["notional"],
        side=fill["side"],
        participation=fill["participation"],
        volatility=fill["volatility"],
        time=fill["date"],
        base_predicted_bps=fill["base_cost_bps"],
    )


def replay(fills: list[dict[str, Any]]) -> tuple[float, dict[str, float]]:
    """Cash and shares from the initial cash and the fills, in order."""
    cash = worker.INITIAL_CASH
    shares: dict[str, float] = {}
    for fill in fills:
        signed = fill["side"] * fill["shares"]
        cash -= signed * fill["fill_price"]
        shares[fill["security_id"]] = shares.get(fill["security_id"], 0.0) + signed
    return cash, {sid: n for sid, n in shares.items() if abs(n) >= 1e-9}


class Checker:
    """Checks the state folder after each kill."""

    def __init__(self, state: Path, reference: Reference) -> None:
        self.state = state
        self.reference = reference
        self.generation = 0
        self.stats: Counter[str] = Counter()
        self.seconds: Counter[str] = Counter()

    def check(self) -> None:
        state = self.state
        stats = self.stats
        # What the kill left on disk, before anything repairs it.
        stats["kills leaving temp files"] += bool(_temp_files(state))
        log_path = state / "trades.jsonl"
        raw_log = log_path.read_bytes() if log_path.exists() else b""
        stats["torn trade-log tails"] += bool(raw_log) and not raw_log.endswith(b"\n")
        main_generation = 0
        if (state / "portfolio.json").exists():
            main_generation = _generation_of(state / "portfolio.json")  # atomic: complete
        calibrator_file = state / "cost_calibrator.json"
        calibrated_to = 0
        if calibrator_file.exists():
            calibrated_to = json.loads(calibrator_file.read_bytes())["data"]["last_cycle"]

        before = {p.name: p.read_bytes() for p in state.iterdir()}
        fills = worker.make_trader(state).committed_fills()
        trader = worker.make_trader(state)
        book = trader.portfolio()
        generation = trader.last_cycle().cycle
        assert {p.name: p.read_bytes() for p in state.iterdir()} == before, "reading wrote"
        assert main_generation <= generation
        stats["kills leaving the snapshot behind its records (replayed)"] += (
            main_generation < generation
        )
        assert generation >= self.generation, (
            f"committed cycles went back from {self.generation} to {generation}"
        )
        stats["kills with no new cycle"] += generation == self.generation
        self.generation = generation

        # No trade in the log that the book does not reflect, and the reverse.
        assert fills == trader.committed_fills()
        cash, shares = replay(fills)
        assert shares == {sid: p.shares for sid, p in book.positions.items()}, generation
        assert math.isclose(cash, book.cash, rel_tol=1e-6), (cash, book.cash)

        # The log: every complete record is a committed cycle, 1..g, each exactly once.
        records = list(Journal(log_path))
        assert [r["cycle"] for r in records] == list(range(1, generation + 1))
        effective = {r["cycle"]: r for r in records}
        assert fills == [f for k in range(1, generation + 1) for f in effective[k]["fills"]]
        for k in range(1, generation + 1):
            assert effective[k]["as_of"] == worker.cycle_day(k).isoformat()
            assert all(f["cycle"] == k for f in effective[k]["fills"])

        # The same book and fills as a run that was never killed.
        t0 = time.perf_counter()
        self.reference.advance_to(generation)
        self.seconds["reference run"] += time.perf_counter() - t0
        assert book == self.reference.books[generation], generation
        for k in range(1, generation + 1):
            assert effective[k]["fills"] == self.reference.fills[k], k

        # The calibrator holds exactly the committed fills' costs, also when it was behind.
        assert 0 <= calibrated_to <= generation
        lag = generation - calibrated_to
        stats["kills leaving the calibrator behind"] += lag > 0
        stats["largest calibrator lag (cycles)"] = max(
            stats["largest calibrator lag (cycles)"], lag
        )
        calibrator = trader.calibrator()
        expected = [_trade_cost(f) for f in fills][-WINDOW:]
        assert calibrator.window == WINDOW
        assert len(calibrator.trades) == min(len(fills), WINDOW)
        assert calibrator.trades == expected, generation
        assert calibrator.multiplier == self.reference.multipliers[generation], generation


def test_paper_trader_survives_kill_9_at_random_instants(tmp_path):
    rng = random.Random(SEED)
    state = tmp_path / "state"
    StateFolder.create(state, initial_cash=worker.INITIAL_CASH)
    checker = Checker(state, Reference(tmp_path / "reference"))
    started = time.monotonic()
    server = ForkServer(state, tmp_path)
    try:
        for _ in range(KILLS):
            t0 = time.perf_counter()
            server.kill_child_after(_sleep(rng))
            t1 = time.perf_counter()
            checker.check()
            checker.seconds["forked children, until killed"] += t1 - t0
            checker.seconds["checks, with the reference run"] += time.perf_counter() - t1
            checker.stats["kills"] += 1
    finally:
        server.close()

    # One clean cycle afterwards catches the calibrator file up and saves it.
    trader = worker.make_trader(state)
    final = trader.last_cycle().cycle + 1
    worker.run_cycle(trader, final)
    assert _temp_files(state) == [], f"the writer did not sweep {_temp_files(state)}"
    saved = json.loads((state / "cost_calibrator.json").read_bytes())["data"]
    assert saved["last_cycle"] == final
    assert [TradeCost(**t) for t in saved["trades"]] == [
        _trade_cost(f) for f in trader.committed_fills()
    ][-WINDOW:]

    elapsed = time.monotonic() - started
    stats = checker.stats
    assert stats["kills"] == KILLS
    assert checker.generation > 0  # the children made progress between kills
    if KILLS >= 50:  # about three kills in four leave the calibrator file behind
        assert stats["kills leaving the calibrator behind"] > 0
    committed = len(trader.committed_fills())
    print(
        f"\npaper crash loop: {KILLS} kills in {elapsed:.1f} s, final generation "
        f"{checker.generation}, {committed} committed fills; "
        + ", ".join(f"{name}: {count}" for name, count in sorted(stats.items()))
        + "; seconds in "
        + ", ".join(f"{name}: {value:.1f}" for name, value in checker.seconds.items())
    )


def test_committed_fills_of_a_fresh_trader_match_the_saved_portfolio(tmp_path):
    """Regression: a fresh trader once filtered on a generation it had not loaded yet."""
    writer = worker.make_trader(tmp_path)
    for k in (1, 2, 3):
        worker.run_cycle(writer, k)
    expected = writer.committed_fills()
    assert expected
    assert worker.make_trader(tmp_path).committed_fills() == expected
