"""The backtest on every executor: one process, two local processes, a two-worker cluster.

2,000 candidates (the five built-in families over wide grids, long-only variants included)
on the synthetic panel of ``bench_backtest.py``: 500 securities x 2,520 bars. For each
executor: seconds, the speed-up over one process, and the peak resident memory of one
worker (the cluster's workers report their own). The results are checked to be equal, bit
for bit, across executors. From the one-process run: the cost per chunk and per cell, and
the projection the README draws for 3,000 securities x 5,000 bars x 10,000 candidates.

Figures, never pass/fail: the run exits 0. Results go to stdout and
``build/bench_dask_results.json``.
"""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path
from typing import Any

import numpy as np
from _timing import machine, save_results  # bench/ is the script folder
from bench_backtest import candidates_of, synthetic_close
from distributed import Client, LocalCluster

from autopilot.config import ExecutorSettings
from autopilot.executor import Executor
from autopilot.strategies.backtest import DEFAULT_CHUNK, backtest

RESULTS_PATH = Path(__file__).resolve().parents[1] / "build" / "bench_dask_results.json"
BOTH = [False, True]
# 400 candidates per family, 2,000 in all.
GRIDS: dict[str, dict[str, list[Any]]] = {
    "tsmom": {"lookback": list(range(22, 272, 5)), "skip": [0, 5, 10, 21], "long_only": BOTH},
    "ma_cross": {
        "fast": list(range(2, 42, 2)),
        "slow": list(range(60, 260, 20)),
        "long_only": BOTH,
    },
    "mean_reversion": {
        "lookback": list(range(1, 41)),
        "threshold": [0.0, 0.5, 1.0, 1.5, 2.0],
        "long_only": BOTH,
    },
    "vol_breakout": {
        "window": list(range(10, 210, 5)),
        "k": [0.5, 1.0, 1.5, 2.0, 2.5],
        "long_only": BOTH,
    },
    "low_vol": {
        "window": list(range(21, 271, 5)),
        "fraction": [0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5],
    },
}
# The projection's problem.
BIG_SECURITIES, BIG_BARS, BIG_CANDIDATES = 3_000, 5_000, 10_000
TEN_MINUTES = 600.0


def _worker_peak() -> int:
    """This process's peak resident memory, in bytes (run on a cluster worker)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def timed(close: np.ndarray, candidates: list, settings: ExecutorSettings) -> dict[str, Any]:
    """Seconds of one backtest on ``settings`` (after a warm-up that starts the workers)."""
    with Executor(settings) as executor:
        backtest(close, candidates[: DEFAULT_CHUNK * 2], executor=executor)  # workers warm
        began = time.perf_counter()
        result = backtest(close, candidates, executor=executor)
        seconds = time.perf_counter() - began
    return {"seconds": seconds, "returns": result.returns}


def main() -> None:
    """Run the three executors and print the figures."""
    load_start = os.getloadavg()
    close = synthetic_close(500, 2520)
    candidates = candidates_of(GRIDS)
    cells = len(candidates) * close.size
    one = timed(close, candidates, ExecutorSettings())
    one_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    local = timed(close, candidates, ExecutorSettings(kind="local", workers=2))
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as cluster:
        dask = timed(
            close, candidates, ExecutorSettings(kind="dask", address=cluster.scheduler_address)
        )
        with Client(cluster) as client:
            peaks = list(client.run(_worker_peak).values())
    equal = all(
        np.array_equal(one["returns"], other["returns"], equal_nan=True) for other in (local, dask)
    )
    chunks = -(-len(candidates) // DEFAULT_CHUNK)
    per_cell = one["seconds"] / cells
    big_seconds = per_cell * BIG_SECURITIES * BIG_BARS * BIG_CANDIDATES
    results = {
        "candidates": len(candidates),
        "securities": close.shape[1],
        "bars": close.shape[0],
        "one_process_seconds": one["seconds"],
        "one_process_peak_bytes": one_peak,
        "two_local_processes_seconds": local["seconds"],
        "two_worker_cluster_seconds": dask["seconds"],
        "cluster_worker_peak_bytes": peaks,
        "bit_identical": equal,
        "chunk_candidates": DEFAULT_CHUNK,
        "chunks": chunks,
        "seconds_per_chunk": one["seconds"] / chunks,
        "ns_per_cell": per_cell * 1e9,
        "projection": {
            "securities": BIG_SECURITIES,
            "bars": BIG_BARS,
            "candidates": BIG_CANDIDATES,
            "chunks": -(-BIG_CANDIDATES // DEFAULT_CHUNK),
            "one_core_seconds": big_seconds,
            "workers_for_ten_minutes": int(np.ceil(big_seconds / TEN_MINUTES)),
        },
        "machine": machine(load_start, os.getloadavg()),
    }
    report(results)
    save_results(RESULTS_PATH, results)


def report(results: dict[str, Any]) -> None:
    """Print the figures."""
    one = results["one_process_seconds"]
    mib = 2**20
    print(
        f"strategy-autopilot backtest on executors: {results['candidates']:,} candidates x "
        f"{results['securities']} securities x {results['bars']:,} bars"
    )
    peak = results["one_process_peak_bytes"] / mib
    print(f"  {'one process':<24} {one:7.1f} s  peak RSS {peak:,.0f} MiB")
    for name, key in (
        ("two local processes", "two_local_processes_seconds"),
        ("two-worker LocalCluster", "two_worker_cluster_seconds"),
    ):
        print(f"  {name:<24} {results[key]:7.1f} s  speed-up x{one / results[key]:.2f}")
    peaks = ", ".join(f"{p / mib:,.0f}" for p in results["cluster_worker_peak_bytes"])
    print(f"  cluster workers' peak RSS: {peaks} MiB; bit for bit: {results['bit_identical']}")
    print(
        f"  per chunk of {results['chunk_candidates']} candidates: "
        f"{results['seconds_per_chunk']:.2f} s; per cell {results['ns_per_cell']:.1f} ns"
    )
    big = results["projection"]
    print(
        f"  projection, {big['securities']:,} x {big['bars']:,} x {big['candidates']:,}: "
        f"{big['chunks']} chunks, {big['one_core_seconds'] / 3600:.1f} core-hours, "
        f"{big['workers_for_ten_minutes']} one-core workers for ten minutes"
    )


if __name__ == "__main__":
    main()
