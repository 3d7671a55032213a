"""The vectorised backtest: time and peak memory, and how they grow, beside ``np.sum``.

Figures:

* 1,000 candidates on the embedded panel (20 stocks x 8,313 bars): the five built-in
  families over wider grids than the defaults (listed in :data:`EMBEDDED_GRIDS`);
* a synthetic panel of 500 securities x 2,520 bars (seeded geometric random walks, a tenth
  of the securities listed late and a twentieth delisted early) with 100 candidates;
* growth: the synthetic panel with 25, 50 and 100 candidates, and with 125, 250 and 500
  securities (100 candidates);
* per cell: seconds / (candidates x securities x bars), against ``np.sum`` over float64
  cells of a 25-million-cell array measured in the same run (per cell as well);
* peak memory: tracemalloc's peak above what was live before the call, against the
  output returns matrix plus one candidate's positions (the bound the backtest promises:
  a candidate's positions are dropped once its returns are booked) and against the whole
  grid's positions (what a backtest keeping them all would hold).

Figures, never pass/fail: the run exits 0. Results go to stdout and
``build/bench_backtest_results.json``. Run ``.venv/bin/python bench/bench_backtest.py``.
"""

from __future__ import annotations

import gc
import itertools
import os
import statistics
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from _timing import machine, save_results  # bench/ is the script folder

from autopilot.market.bundled import load_prices
from autopilot.sdk.family import StrategyFamily
from autopilot.sdk.plugins import load_strategy_catalog
from autopilot.strategies.backtest import backtest

RESULTS_PATH = Path(__file__).resolve().parents[1] / "build" / "bench_backtest_results.json"
SEED = 20261129
REPEATS = 3
FLOOR_CELLS = 25_000_000
TARGET_PER_CELL = 30.0
# 200 candidates per family, 1,000 in all.
EMBEDDED_GRIDS: dict[str, dict[str, list[Any]]] = {
    "tsmom": {"lookback": list(range(22, 272, 5)), "skip": [0, 5, 10, 21]},
    "ma_cross": {"fast": list(range(2, 42, 2)), "slow": list(range(60, 260, 20))},
    "mean_reversion": {"lookback": list(range(1, 41)), "threshold": [0.0, 0.5, 1.0, 1.5, 2.0]},
    "vol_breakout": {"window": list(range(10, 210, 5)), "k": [0.5, 1.0, 1.5, 2.0, 2.5]},
    "low_vol": {"window": list(range(21, 271, 5)), "fraction": [0.1, 0.2, 0.3, 0.5]},
}


def candidates_of(grids: dict[str, dict[str, list[Any]]], limit: int | None = None) -> list:
    """Family instances over the grids' products (at most ``limit``, cycling families)."""
    catalog = load_strategy_catalog()
    per_family = []
    for name, grid in grids.items():
        cls = catalog.families[name].cls
        keys = list(grid)
        built: list[StrategyFamily] = []
        for values in itertools.product(*(grid[k] for k in keys)):
            try:
                built.append(cls(**dict(zip(keys, values, strict=True))))
            except ValueError:  # a cross-parameter rule (skip < lookback, fast < slow)
                continue
        per_family.append(built)
    mixed = [c for group in itertools.zip_longest(*per_family) for c in group if c is not None]
    return mixed[:limit] if limit is not None else mixed


def synthetic_close(n_securities: int, n_bars: int) -> np.ndarray:
    """Seeded random-walk closes with late listings and early delistings (NaN outside)."""
    rng = np.random.default_rng(SEED)
    log_returns = rng.normal(0.0003, 0.015, (n_bars, n_securities))
    close = 50.0 * np.exp(np.cumsum(log_returns, axis=0))
    late = rng.choice(n_securities, n_securities // 10, replace=False)
    for j in late:
        close[: rng.integers(1, n_bars // 2), j] = np.nan
    early = rng.choice(np.setdiff1d(np.arange(n_securities), late), n_securities // 20, False)
    for j in early:
        close[rng.integers(n_bars // 2, n_bars - 1) :, j] = np.nan
    return np.ascontiguousarray(close)


def timed(fn: Callable[[], object], repeats: int = REPEATS) -> float:
    """Median seconds of ``repeats`` calls after one warm-up."""
    fn()
    samples = []
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def peak_bytes(fn: Callable[[], object]) -> int:
    """tracemalloc's peak above the memory live before the call."""
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak - base


def measure(close: np.ndarray, candidates: list, floor_per_cell: float) -> dict[str, Any]:
    """Time, per-cell cost and peak memory of one backtest."""
    n_bars, n_securities = close.shape
    seconds = timed(lambda: backtest(close, candidates))
    cells = len(candidates) * n_securities * n_bars
    bound_bytes = (len(candidates) + n_securities) * n_bars * 8
    peak = peak_bytes(lambda: backtest(close, candidates))
    return {
        "candidates": len(candidates),
        "securities": n_securities,
        "bars": n_bars,
        "seconds": seconds,
        "ns_per_cell": seconds / cells * 1e9,
        "per_cell_over_floor": seconds / cells / floor_per_cell,
        "peak_bytes": peak,
        "peak_over_bound": peak / bound_bytes,
        "peak_over_all_positions": peak / (cells * 8),
    }


def _floor_per_cell() -> float:
    """Seconds per cell of ``np.sum`` over a 25-million-cell float64 array (freed after)."""
    cells = np.random.default_rng(SEED).random(FLOOR_CELLS)
    return timed(lambda: np.sum(cells), repeats=7) / FLOOR_CELLS


def main() -> None:
    """Run every measurement and print the figures."""
    load_start = os.getloadavg()
    floor_per_cell = _floor_per_cell()
    embedded = np.ascontiguousarray(load_prices().to_numpy(dtype=np.float64))
    grid = candidates_of(EMBEDDED_GRIDS, limit=1000)
    synthetic = synthetic_close(500, 2520)
    hundred = candidates_of(EMBEDDED_GRIDS, limit=100)
    results: dict[str, Any] = {
        "floor_ns_per_cell": floor_per_cell * 1e9,
        "embedded_1000": measure(embedded, grid, floor_per_cell),
        "synthetic_500x2520": measure(synthetic, hundred, floor_per_cell),
        "growth_candidates": [
            measure(synthetic, hundred[:k], floor_per_cell) for k in (25, 50, 100)
        ],
        "growth_securities": [
            measure(np.ascontiguousarray(synthetic[:, :n]), hundred, floor_per_cell)
            for n in (125, 250, 500)
        ],
    }
    results["machine"] = machine(load_start, os.getloadavg())
    report(results)
    save_results(RESULTS_PATH, results)


def report(results: dict[str, Any]) -> None:
    """Print the figures as a table."""
    print("strategy-autopilot backtest benchmark")
    print(
        f"  floor: np.sum over {FLOOR_CELLS:,} float64 cells: "
        f"{results['floor_ns_per_cell']:.3f} ns per cell"
    )
    header = (
        f"  {'candidates':>10} {'securities':>10} {'bars':>6} {'seconds':>8} "
        f"{'ns/cell':>8} {'x np.sum':>9} {'peak MiB':>9} {'x bound':>8} {'x grid':>7}"
    )
    print(header)
    rows = [results["embedded_1000"], results["synthetic_500x2520"]]
    rows += results["growth_candidates"] + results["growth_securities"]
    for r in rows:
        print(
            f"  {r['candidates']:>10} {r['securities']:>10} {r['bars']:>6} "
            f"{r['seconds']:>8.2f} {r['ns_per_cell']:>8.2f} {r['per_cell_over_floor']:>9.1f} "
            f"{r['peak_bytes'] / 2**20:>9.1f} {r['peak_over_bound']:>8.2f} "
            f"{r['peak_over_all_positions']:>7.3f}"
        )
    grow_c = results["growth_candidates"]
    grow_s = results["growth_securities"]
    print(
        f"  growth x4 candidates: time x{grow_c[-1]['seconds'] / grow_c[0]['seconds']:.2f}, "
        f"peak x{grow_c[-1]['peak_bytes'] / grow_c[0]['peak_bytes']:.2f}; "
        f"x4 securities: time x{grow_s[-1]['seconds'] / grow_s[0]['seconds']:.2f}, "
        f"peak x{grow_s[-1]['peak_bytes'] / grow_s[0]['peak_bytes']:.2f}"
    )
    print(f"  target: per cell within {TARGET_PER_CELL:g}x np.sum")


if __name__ == "__main__":
    main()
