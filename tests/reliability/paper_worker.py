"""Worker of ``test_paper_crash_loop.py``: paper-trading cycles until SIGKILL.

Run as ``python paper_worker.py STATE_DIR ERROR_FILE``. A fork server: it imports
:mod:`autopilot.paper_trader` once, prints ``ready``, then for every ``fork`` line on stdin
forks a child that runs :meth:`~autopilot.paper_trader.PaperTrader.run_cycle` in a tight
loop on ``STATE_DIR`` until it is killed, prints the child's pid, waits for it and prints
``exit <wait status>``; ``quit`` ends it. Forking avoids paying the interpreter and NumPy
start-up for each of the hundreds of kills; the child is a real process, killed for real.
A child that fails writes its traceback to ``ERROR_FILE`` and exits with status 3.

Cycle ``k`` trades :func:`cycle_inputs` ``(k)``: prices, target weights, volumes and
volatilities of :data:`SECURITIES` drawn from a generator seeded by ``k`` alone, so the
book of every generation can be replayed by the test in a fresh folder. Targets drop about
a third of the securities each cycle (positions close and reopen), some prices are missing
(held positions keep an older mark and are not traded), and every 13th cycle goes to cash.

The importable helpers (settings, inputs, :func:`make_trader`) are shared with the test.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from autopilot.costs import CostModel
from autopilot.paper_trader import PaperTrader, TraderSettings

# Run as a script: make the repository root importable for the shared test helper.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.fork_server import serve_forks

WORKER_PATH = Path(__file__).resolve()
SECURITIES = tuple(f"SEC{i:02d}" for i in range(20))
BASE_PRICES = np.array([8.0 + 13.0 * i for i in range(len(SECURITIES))])
INITIAL_CASH = 1_000_000.0
SEED = 20250611
START = date(1990, 1, 1)  # thousands of daily cycles stay in the past
SETTINGS = TraderSettings(
    fractional=False,
    min_trade_notional=100.0,
    allow_negative_cash=False,
    seed=7,
    calibration_window=500,
)
COST_MODEL = CostModel(noise_bps=10.0)  # noise on: some fills improve on the arrival price
CASH_EVERY = 13  # cycles k with k % CASH_EVERY == 0 sell everything


@dataclass(frozen=True)
class CycleInputs:
    """Arguments of one ``run_cycle`` call."""

    day: date
    prices: dict[str, float]
    targets: dict[str, float]
    volumes: dict[str, float]
    volatilities: dict[str, float]


def cycle_day(k: int) -> date:
    """The date of cycle ``k``."""
    return START + timedelta(days=k)


def cycle_inputs(k: int) -> CycleInputs:
    """The inputs of cycle ``k`` (a function of ``k`` alone)."""
    rng = np.random.default_rng([SEED, k])
    n = len(SECURITIES)
    levels = BASE_PRICES * np.exp(0.25 * rng.standard_normal(n))
    priced = rng.random(n) >= 0.08
    wanted = rng.random(n) < 0.65
    raw = rng.uniform(0.2, 1.0, n) * wanted
    invested = rng.uniform(0.6, 0.98)
    has_volume = rng.random(n) < 0.5
    volumes = rng.uniform(2e4, 5e5, n)
    has_volatility = rng.random(n) < 0.5
    volatilities = rng.uniform(0.005, 0.04, n)
    targets: dict[str, float] = {}
    if k % CASH_EVERY and raw.sum() > 0:
        weights = raw / raw.sum() * invested
        targets = {sid: float(w) for sid, w in zip(SECURITIES, weights, strict=True) if w > 0}
    return CycleInputs(
        day=cycle_day(k),
        prices={
            sid: round(float(p), 4)
            for sid, p, ok in zip(SECURITIES, levels, priced, strict=True)
            if ok
        },
        targets=targets,
        volumes={
            sid: float(v) for sid, v, ok in zip(SECURITIES, volumes, has_volume, strict=True) if ok
        },
        volatilities={
            sid: float(v)
            for sid, v, ok in zip(SECURITIES, volatilities, has_volatility, strict=True)
            if ok
        },
    )


def make_trader(state_dir: str | os.PathLike[str]) -> PaperTrader:
    """The paper trader of the crash loop on ``state_dir``."""
    return PaperTrader(state_dir, SETTINGS, COST_MODEL, initial_cash=INITIAL_CASH, create=True)


def run_cycle(trader: PaperTrader, k: int):
    """Run cycle ``k`` of the crash loop; fails when the trader is at another cycle."""
    inputs = cycle_inputs(k)
    summary = trader.run_cycle(
        inputs.day,
        inputs.prices,
        inputs.targets,
        volumes=inputs.volumes,
        volatilities=inputs.volatilities,
    )
    if summary.cycle != k:
        raise AssertionError(f"cycle {summary.cycle} written where {k} was expected")
    return summary


def _loop_forever(state_dir: str) -> None:
    """A forked child: paper cycles in a tight loop, until SIGKILL."""
    trader = make_trader(state_dir)
    k = trader.last_cycle().cycle + 1
    while True:
        run_cycle(trader, k)
        k += 1


def _serve(state_dir: str, error_file: str) -> int:
    return serve_forks(lambda: _loop_forever(state_dir), error_file)


def main(argv: list[str]) -> int:
    # Stale marks and unpriced targets are expected here; keep stderr for real errors.
    logging.basicConfig(level=logging.ERROR)
    state_dir, error_file = argv
    return _serve(state_dir, error_file)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
