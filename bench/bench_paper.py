"""Benchmark of one paper-trading cycle on a 1,000-position book.

Figures (medians over several repeats, measured in one run):

* cycle: ``PaperTrader.run_cycle`` with 1,000 securities, on a book that already holds
  1,000 positions and a calibrator already full (5,000 trades), with targets that move
  ~every position each cycle: mark, current weights, orders, simulated fills, calibrator
  record + fit, trade-log append, portfolio save and calibrator save, all durable;
* its breakdown, each part timed on its own with the same data: loading (and validating)
  the two state files, marking + weights, simulating 1,000 fills, recording 1,000 trades,
  ``CostCalibrator.fit`` on 5,000 trades, ``Portfolio.to_state`` and
  ``CostCalibrator.to_state`` (dataclasses to dicts), the portfolio and
  calibrator saves (``StateFile.save`` under the lock), the trade-log append;
* catch-up: ``PaperTrader.calibrator()`` when the calibrator file is one cycle behind the
  portfolio (as a kill between the two saves leaves it), which replays from the trade log.
  It reads the log from its end, only the records the calibrator misses; the log's size is
  reported to show that it does not matter.

Results go to stdout and to ``build/bench_paper_results.json``. These are figures, never
pass/fail tests. The scratch folder is created under ``build/`` (the project's own disk:
``/tmp`` may be a RAM disk where fsync costs nothing) and removed afterwards.

Run ``.venv/bin/python bench/bench_paper.py [--quick]``.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from _timing import machine, ms, summary, timed  # bench/ is the script folder

from autopilot.cost_calibrator import CostCalibrator
from autopilot.costs import CostModel
from autopilot.paper_trader import PaperTrader, Portfolio, TraderSettings
from autopilot.state.journal import Journal
from autopilot.state.state_file import StateFile

ROOT = Path(__file__).resolve().parents[1]
RESULTS_PATH = ROOT / "build" / "bench_paper_results.json"
N_POSITIONS = 1_000
WINDOW = 5_000
INITIAL_CASH = 1e9
INVESTED = 0.95
SEED = 20250613
START = date(2025, 1, 2)
SECURITIES = tuple(f"US{i:09d}" for i in range(N_POSITIONS))


# --------------------------------------------------------------------------- data


class Market:
    """Seeded prices, volumes, volatilities and targets for 1,000 securities."""

    def __init__(self) -> None:
        rng = np.random.default_rng(SEED)
        self.base_prices = rng.uniform(5.0, 500.0, N_POSITIONS)
        self.base_weights = rng.uniform(0.5, 1.5, N_POSITIONS)
        self.volumes = dict(
            zip(SECURITIES, rng.uniform(1e5, 1e7, N_POSITIONS).tolist(), strict=True)
        )
        self.volatilities = dict(
            zip(SECURITIES, rng.uniform(0.005, 0.04, N_POSITIONS).tolist(), strict=True)
        )

    def cycle(self, k: int) -> tuple[date, dict[str, float], dict[str, float]]:
        """Day, prices and target weights of cycle ``k``: every weight moves by 20-40 %."""
        rng = np.random.default_rng([SEED, k])
        prices = self.base_prices * np.exp(0.01 * rng.standard_normal(N_POSITIONS))
        sign = np.where(rng.random(N_POSITIONS) < 0.5, -1.0, 1.0)
        weights = self.base_weights * (1.0 + sign * rng.uniform(0.2, 0.4, N_POSITIONS))
        weights *= INVESTED / weights.sum()
        return (
            START + timedelta(days=k),
            dict(zip(SECURITIES, np.round(prices, 4).tolist(), strict=True)),
            dict(zip(SECURITIES, weights.tolist(), strict=True)),
        )


# --------------------------------------------------------------------------- timing


# --------------------------------------------------------------------------- benchmarks


def make_trader(folder: Path) -> PaperTrader:
    return PaperTrader(
        folder,
        TraderSettings(fractional=False, seed=1, calibration_window=WINDOW),
        CostModel(noise_bps=10.0),
        initial_cash=INITIAL_CASH,
        create=True,
    )


def run(trader: PaperTrader, market: Market, k: int):
    day, prices, targets = market.cycle(k)
    return trader.run_cycle(
        day, prices, targets, volumes=market.volumes, volatilities=market.volatilities
    )


def bench_cycles(scratch: Path, market: Market, repeats: int) -> tuple[dict[str, Any], int]:
    """Warm the book up to 1,000 positions and a full calibrator, then time cycles."""
    trader = make_trader(scratch / "trader")
    k = 0
    warm_up = []
    while True:  # until the calibrator is full and the book holds every security
        k += 1
        start = time.perf_counter()
        run(trader, market, k)
        warm_up.append(time.perf_counter() - start)
        book, _, calibrator = trader.snapshot()
        if len(calibrator.trades) >= WINDOW and len(book.positions) == N_POSITIONS:
            break
    samples, fills, positions = [], [], []
    for _ in range(repeats):
        k += 1
        gc.collect()
        start = time.perf_counter()
        result = run(trader, market, k)
        samples.append(time.perf_counter() - start)
        fills.append(len(result.fills))
        positions.append(len(trader.portfolio().positions))
    folder = scratch / "trader"
    return {
        "warm_up_cycles": len(warm_up),
        "first_cycle_s": warm_up[0],
        "fills_per_cycle": {"min": min(fills), "max": max(fills)},
        "positions": {"min": min(positions), "max": max(positions)},
        "timing": summary(samples),
        "bytes": {
            "portfolio.json": (folder / "portfolio.json").stat().st_size,
            "cost_calibrator.json": (folder / "cost_calibrator.json").stat().st_size,
            "trade_log_record": (folder / "trades.jsonl").stat().st_size // k,
        },
    }, k


def bench_parts(scratch: Path, market: Market, k: int, repeats: int) -> dict[str, Any]:
    """Each step of a cycle on its own, on the state the timed cycles left."""
    trader = make_trader(scratch / "trader")
    book, _, calibrator = trader.snapshot()
    day, prices, _ = market.cycle(k + 1)
    model = CostModel(noise_bps=10.0, multiplier=calibrator.multiplier)
    last = list(Journal(scratch / "trader" / "trades.jsonl"))[-1]
    fills_record = {"cycle": k + 1, "date": day.isoformat(), "fills": last["fills"]}
    portfolio_data = {**book.to_state(), "as_of": day.isoformat()}
    calibrator_data = {**calibrator.to_state(), "last_cycle": k}
    saves = scratch / "saves"
    portfolio_state = StateFile(
        saves / "portfolio.json",
        kind="portfolio",
        schema_version=1,
        default=lambda: Portfolio(INITIAL_CASH).to_state(),
        validate=Portfolio.from_state,
    )
    calibrator_state = StateFile(
        saves / "cost_calibrator.json",
        kind="cost_calibrator",
        schema_version=1,
        default=lambda: CostCalibrator(WINDOW).to_state(),
        validate=CostCalibrator.from_state,
    )
    journal = Journal(saves / "trades.jsonl")

    def save(state: StateFile, data: dict[str, Any]) -> Callable[[], None]:
        """One save; the loop below holds the lock and has loaded (a save needs both)."""

        def write() -> None:
            state.save(data)

        return write

    def load(state: StateFile, build: Callable[[dict[str, Any]], object]) -> Callable[[], None]:
        def read() -> None:
            with state.locked():
                build(state.load())

        return read

    def mark_and_weights() -> None:
        copy_of_book = Portfolio(book.cash, dict(book.positions))
        copy_of_book.mark(prices, day)
        copy_of_book.current_weights()

    rng = np.random.default_rng(1)
    orders = [
        (sid, 1 if i % 2 else -1, float(100 + i)) for i, sid in enumerate(SECURITIES)
    ]  # one order per security, as the timed cycles send

    def simulate() -> None:
        for sid, side, shares in orders:
            model.simulate_fill(side, shares, prices[sid], 0.001, 0.02, rng)

    def record() -> None:
        target = CostCalibrator(WINDOW, calibrator.trades, calibrator.multiplier)
        for fill in last["fills"]:
            PaperTrader._record(target, fill)

    def fit() -> None:
        CostCalibrator(WINDOW, calibrator.trades, calibrator.multiplier).fit()

    operations = {
        "load_portfolio": load(trader.portfolio_state, Portfolio.from_state),
        "load_calibrator": load(trader.calibrator_state, CostCalibrator.from_state),
        "mark_and_weights": mark_and_weights,
        "simulate_fills": simulate,
        "record_trades": record,
        "fit": fit,
        "portfolio_to_state": book.to_state,
        "calibrator_to_state": calibrator.to_state,
        "portfolio_save": save(portfolio_state, portfolio_data),
        "calibrator_save": save(calibrator_state, calibrator_data),
        "trade_log_append": lambda: journal.append(fills_record),
    }
    samples: dict[str, list[float]] = {name: [] for name in operations}
    with portfolio_state.locked(), calibrator_state.locked():
        portfolio_state.load()
        calibrator_state.load()
        for operation in operations.values():  # warm-up; also creates the .bak files
            operation()
            operation()
        for _ in range(repeats):
            for name, operation in operations.items():
                samples[name].append(timed(operation))
    return {
        "trades_in_calibrator": len(calibrator.trades),
        "fills_in_record": len(last["fills"]),
        "timings": {name: summary(values) for name, values in samples.items()},
    }


def bench_catch_up(scratch: Path, repeats: int) -> dict[str, Any]:
    """``calibrator()`` with the calibrator file one cycle behind the portfolio."""
    folder = scratch / "trader"
    trader = make_trader(folder)
    trader.portfolio()
    current = folder / "cost_calibrator.json"
    behind = folder / "cost_calibrator.json.bak"  # the previous generation: one cycle behind
    saved = current.read_bytes()
    lag = trader.portfolio_state.generation - json.loads(behind.read_bytes())["data"]["last_cycle"]
    shutil.copyfile(behind, current)
    samples = []
    try:
        for _ in range(repeats):
            samples.append(timed(lambda: make_trader(folder).calibrator()))
        caught_up = make_trader(folder).calibrator()
    finally:
        current.write_bytes(saved)
    return {
        "lag_cycles": lag,
        "trade_log_bytes": (folder / "trades.jsonl").stat().st_size,
        "trade_log_records": sum(1 for _ in Journal(folder / "trades.jsonl")),
        "trades_after_catch_up": len(caught_up.trades),
        "timing": summary(samples),
    }


# --------------------------------------------------------------------------- report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--repeats", type=int, help="timed repeats per figure")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    repeats = args.repeats or (7 if args.quick else 21)
    (ROOT / "build").mkdir(exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="bench_paper_", dir=ROOT / "build"))
    load_start = os.getloadavg()
    market = Market()
    try:
        cycles, k = bench_cycles(scratch, market, repeats)
        parts = bench_parts(scratch, market, k, repeats)
        catch_up = bench_catch_up(scratch, max(3, repeats // 3))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    load_end = os.getloadavg()

    results = {
        "machine": machine(
            load_start, load_end, numpy=np.__version__, scratch_folder=str(scratch.parent)
        ),
        "repeats": repeats,
        "quick": args.quick,
        "positions": N_POSITIONS,
        "calibration_window": WINDOW,
        "cycle": cycles,
        "parts": parts,
        "catch_up": catch_up,
    }
    t = parts["timings"]
    parts_total = sum(entry["median_s"] for entry in t.values())
    results["parts_sum_over_cycle"] = parts_total / cycles["timing"]["median_s"]
    RESULTS_PATH.write_text(json.dumps(results, indent=1))

    c = cycles["timing"]
    print(f"strategy-autopilot paper-trader benchmark  ({repeats} timed repeats, medians)")
    print(
        f"python {results['machine']['python']}, numpy {np.__version__}, "
        f"{results['machine']['cpus']} CPUs, load {load_start[0]:.2f} at start, "
        f"{load_end[0]:.2f} at end; disk of {scratch.parent}"
    )
    print()
    print(
        f"One cycle, {N_POSITIONS:,} positions held, {cycles['fills_per_cycle']['min']:,}-"
        f"{cycles['fills_per_cycle']['max']:,} fills per cycle, calibrator window "
        f"{WINDOW:,} (full), after {cycles['warm_up_cycles']} warm-up cycles"
    )
    print(
        f"  PaperTrader.run_cycle        {ms(c['median_s'])}   (p10 {ms(c['p10_s'])}, "
        f"p90 {ms(c['p90_s'])}; first cycle on an empty book {ms(cycles['first_cycle_s'])})"
    )
    b = cycles["bytes"]
    print(
        f"  files: portfolio.json {b['portfolio.json']:,} B, cost_calibrator.json "
        f"{b['cost_calibrator.json']:,} B, trade-log record ~{b['trade_log_record']:,} B"
    )
    print()
    print("Breakdown (each part on its own, same data)")
    labels = {
        "load_portfolio": "load + validate portfolio.json",
        "load_calibrator": f"load + validate calibrator ({parts['trades_in_calibrator']:,} trades)",
        "mark_and_weights": "mark 1,000 + current weights",
        "simulate_fills": "simulate 1,000 fills",
        "record_trades": f"record {parts['fills_in_record']:,} trades",
        "fit": f"CostCalibrator.fit ({parts['trades_in_calibrator']:,} trades)",
        "portfolio_to_state": "Portfolio.to_state (1,000 positions)",
        "calibrator_to_state": "CostCalibrator.to_state",
        "portfolio_save": "portfolio save (durable)",
        "calibrator_save": "calibrator save (durable)",
        "trade_log_append": "trade-log append (fsync)",
    }
    for name, label in labels.items():
        entry = t[name]
        share = entry["median_s"] / c["median_s"]
        print(f"  {label:<46} {ms(entry['median_s'])}   {share:6.1%} of a cycle")
    print(
        f"  sum of the parts / cycle: {results['parts_sum_over_cycle']:.2f} "
        "(the loads include the state files' double parse: validate, then build)"
    )
    print()
    u = catch_up
    print(
        f"Catch-up: calibrator() with the calibrator {u['lag_cycles']} cycle(s) behind "
        f"(reads the missing records from the end of a trade log of "
        f"{u['trade_log_records']} records, {u['trade_log_bytes'] / 1e6:.1f} MB)  "
        f"{ms(u['timing']['median_s'])}"
    )
    print()
    print(f"results: {RESULTS_PATH.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
