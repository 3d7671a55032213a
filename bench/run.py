"""Benchmark of the default gate set, measured side by side with its baselines in one run.

Figures (all medians over several repeats, each timed after one untimed warm-up call):

* floor: ``np.sum`` over the returns matrix, the cost of reading it once from memory;
* gates: ``GateSet.evaluate_arrays`` on a fresh :class:`~autopilot.stats.batch.CandidateBatch`;
* gates+dicts: the same followed by ``.records()`` (the JSON-ready dicts ``gates check
  --format json`` writes, made column by column, every reason formatted);
* gates+records: the same followed by ``.decisions()`` (one Verdict record per gate and
  candidate, reasons formatted);
* empyrical: ``sharpe_ratio`` + ``max_drawdown`` on the same 2-D matrix;
* quantstats: ``stats.sharpe`` + ``stats.max_drawdown`` on a 500-column DataFrame slice,
  extrapolated linearly to the full candidate count.

It also reports scaling in candidates and bars, the peak memory of one evaluation
(tracemalloc) and the agreement of the batch statistics with empyrical and with the
reference 1-D functions of :mod:`autopilot.stats.metrics`. Results go to stdout and to
``build/bench_results.json``. These are figures, never pass/fail tests: the script exits 0
even when a target is missed.

Run ``make bench`` or ``.venv/bin/python bench/run.py [--quick] [--candidates N] [--bars T]``.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
import tracemalloc
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import empyrical as ep
import numba
import numpy as np
import pandas as pd

from autopilot.config import config_from_dict
from autopilot.promotion_gate import GateSet, VerdictTable
from autopilot.sdk.verdicts import Outcome
from autopilot.stats import metrics
from autopilot.stats._kernels import fused_column_statistics
from autopilot.stats.batch import CandidateBatch, annualised_sharpe

SEED = 20261124
FULL_SIZE = (10_000, 2_520)
QUICK_SIZE = (1_000, 504)
FAST_REPEATS = 7
SLOW_REPEATS = 3
PERIODS_PER_YEAR = 252
TRANSITION_WINDOW = 3
QUANTSTATS_COLUMNS = 500
REFERENCE_COLUMNS = 50
TOLERANCE = 1e-9
TARGET_GATES_OVER_FLOOR = 5.0
TARGET_EMPYRICAL_OVER_GATES = 10.0
TARGET_PEAK_MEMORY = 3.0
RESULTS_PATH = Path(__file__).resolve().parents[1] / "build" / "bench_results.json"

GATE_CONFIG: dict[str, Any] = {
    "environment": "bench",
    "periods_per_year": PERIODS_PER_YEAR,
    "gates": {
        "sharpe": {"params": {"min": 0.5}},
        "max_drawdown": {"params": {"max": 0.3}},
        "transition_drawdown": {"params": {"max": 0.2, "window": TRANSITION_WINDOW}},
        "min_history": {"params": {"bars": 252}},
        "probabilistic_sharpe": {"params": {"min_probability": 0.9}},
    },
}


# --------------------------------------------------------------------------- timing


@dataclass(frozen=True)
class Timing:
    """Wall-clock seconds of one measured operation.

    Attributes
    ----------
    median : float
        Median of the timed repeats.
    samples : tuple of float
        Every timed repeat, in order.
    warmup : float
        The untimed-for-the-median warm-up call (first call of this operation in the run).
    """

    median: float
    samples: tuple[float, ...]
    warmup: float

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict."""
        return {"median_s": self.median, "samples_s": list(self.samples), "warmup_s": self.warmup}


def _timed_call(fn: Callable[..., object], setup: Callable[[], object] | None) -> float:
    """Time one call of ``fn``; ``setup`` runs outside the timed region."""
    args = () if setup is None else (setup(),)
    # Collect the previous repeat's garbage now, so it is not charged to this one.
    gc.collect()
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def median_time(
    fn: Callable[..., object], repeats: int, setup: Callable[[], object] | None = None
) -> Timing:
    """Median wall-clock time of ``fn`` over ``repeats`` calls after one warm-up call.

    Parameters
    ----------
    fn : callable
        Called with no argument, or with the value ``setup`` returns.
    repeats : int
        Timed calls.
    setup : callable, optional
        Builds a fresh argument for every call (warm-up included), outside the timing;
        used to hand each repeat a new, uncached ``CandidateBatch``.

    Returns
    -------
    Timing
        Median, every sample and the warm-up time.
    """
    warmup = _timed_call(fn, setup)
    samples = tuple(_timed_call(fn, setup) for _ in range(repeats))
    return Timing(statistics.median(samples), samples, warmup)


def peak_extra_bytes(fn: Callable[..., object], setup: Callable[[], object] | None = None) -> int:
    """Peak bytes allocated by one call of ``fn`` above what was live when it started.

    tracemalloc sees NumPy buffers and numba's runtime allocations (both go through
    hooked allocators), so this covers the kernel's scratch arrays too.
    """
    args = () if setup is None else (setup(),)
    gc.collect()
    tracemalloc.start()
    try:
        baseline, _ = tracemalloc.get_traced_memory()
        result = fn(*args)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del result
    return peak - baseline


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class BenchData:
    """The synthetic candidate returns shared by every measurement.

    Attributes
    ----------
    returns : ndarray, shape (T, N)
        C-contiguous float64 returns with leading/trailing NaN for late/early-stopped
        candidates.
    clean : ndarray, shape (T, N)
        The same returns before any NaN was written (for the agreement check).
    labels : ndarray, shape (T,)
        Shared regime codes from a 2-state Markov chain.
    ids : tuple of str
        One id per column.
    late_start, early_stop : ndarray
        Column indices with leading NaN and with trailing NaN (disjoint).
    """

    returns: np.ndarray
    clean: np.ndarray
    labels: np.ndarray
    ids: tuple[str, ...]
    late_start: np.ndarray
    early_stop: np.ndarray

    @property
    def n_bars(self) -> int:
        """Rows of the matrix."""
        return self.returns.shape[0]

    @property
    def n_candidates(self) -> int:
        """Columns of the matrix."""
        return self.returns.shape[1]


def markov_labels(n_bars: int, expected_changes: int, rng: np.random.Generator) -> np.ndarray:
    """A symmetric 2-state Markov chain of ``n_bars`` labels with about ``expected_changes``."""
    switch = rng.random(n_bars) < expected_changes / n_bars
    switch[0] = False
    return (np.cumsum(switch) % 2).astype(np.int64)


def make_data(n_candidates: int, n_bars: int, seed: int = SEED) -> BenchData:
    """Build the seeded synthetic benchmark data (see :class:`BenchData`)."""
    rng = np.random.default_rng(seed)
    drift = rng.normal(0.0004, 0.0003, n_candidates)
    vol = 0.01 * np.exp(rng.normal(0.0, 0.25, n_candidates))
    # In-place scaling keeps a single T x N buffer, C-ordered (rows are bars).
    clean = rng.standard_normal((n_bars, n_candidates))
    clean *= vol
    clean += drift
    returns = clean.copy()
    order = rng.permutation(n_candidates)
    late = np.sort(order[: n_candidates // 10])
    early = np.sort(order[n_candidates // 10 : n_candidates // 10 + n_candidates // 20])
    # Some late starters end up shorter than min_history, exercising INSUFFICIENT_DATA.
    starts = rng.integers(1, max(2, n_bars - n_bars // 20), late.size)
    stops = rng.integers(n_bars // 4, n_bars - 1, early.size)
    for column, start in zip(late, starts, strict=True):
        returns[:start, column] = np.nan
    for column, stop in zip(early, stops, strict=True):
        returns[stop + 1 :, column] = np.nan
    labels = markov_labels(n_bars, 20, rng)
    ids = tuple(f"cand{j:05d}" for j in range(n_candidates))
    return BenchData(returns, clean, labels, ids, late, early)


def fresh_batch(returns: np.ndarray, ids: Sequence[str], labels: np.ndarray) -> CandidateBatch:
    """A new batch (empty statistics cache) wrapping ``returns`` without copying it."""
    return CandidateBatch(returns, ids, dates=None, regimes=labels)


def batch_factory(
    data: BenchData, columns: int | None = None, bars: int | None = None
) -> Callable[[], CandidateBatch]:
    """A zero-argument factory of fresh batches over a (contiguous) part of the data."""
    returns = data.returns
    if columns is not None:
        # A column slice is strided; copy it once here so the batch itself copies nothing.
        returns = np.ascontiguousarray(returns[:, :columns])
    if bars is not None:
        returns = returns[:bars]  # a row slice of a C-ordered matrix stays contiguous
    ids = data.ids[: returns.shape[1]]
    labels = data.labels[: returns.shape[0]]
    return lambda: fresh_batch(returns, ids, labels)


# --------------------------------------------------------------------------- measurements


def first_call(gate_set: GateSet, data: BenchData) -> dict[str, Any]:
    """Time the run's first evaluation, which includes numba's JIT compile or cache load."""
    batch = fresh_batch(data.returns, data.ids, data.labels)
    start = time.perf_counter()
    gate_set.evaluate_arrays(batch)
    seconds = time.perf_counter() - start
    stats = fused_column_statistics.stats
    return {
        "seconds": seconds,
        "numba_cache_hits": sum(stats.cache_hits.values()),
        "numba_cache_misses": sum(stats.cache_misses.values()),
    }


def import_seconds() -> float | None:
    """Import time of the project in a fresh interpreter (numba import, ufunc cache load)."""
    code = (
        "import time; t = time.perf_counter(); "
        "import autopilot.promotion_gate, autopilot_gates.sharpe, autopilot_gates.max_drawdown, "
        "autopilot_gates.transition_drawdown, autopilot_gates.min_history, "
        "autopilot_gates.probabilistic_sharpe; "
        "print(time.perf_counter() - t)"
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
        )
        return float(done.stdout.strip().splitlines()[-1])
    except (subprocess.SubprocessError, ValueError, IndexError):
        return None


def check_no_copy(data: BenchData) -> dict[str, bool]:
    """Whether wrapping the matrix (and labels) in a batch reuses the caller's buffers."""
    batch = fresh_batch(data.returns, data.ids, data.labels)
    return {
        "returns_is_same_object": batch.returns is data.returns,
        "returns_shares_memory": bool(np.shares_memory(batch.returns, data.returns)),
        "labels_shares_memory": bool(np.shares_memory(batch.regimes, data.labels)),
    }


def outcome_counts(table: VerdictTable) -> dict[str, dict[str, int]]:
    """Per gate, how many candidates got each outcome (a sanity check of the workload)."""
    counts = {}
    for column in table.columns:
        codes = np.bincount(column.outcomes.astype(np.int64), minlength=len(Outcome))
        counts[column.gate] = {o.name: int(c) for o, c in zip(Outcome, codes, strict=True)}
    counts["promotable"] = {"yes": int(table.promotable.sum())}
    return counts


def empyrical_both(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """empyrical's 2-D Sharpe ratio and (negative) maximum drawdown of every column."""
    with warnings.catch_warnings():
        # All-NaN slices and the like warn inside numpy; irrelevant to the timing.
        warnings.simplefilter("ignore", RuntimeWarning)
        return ep.sharpe_ratio(matrix, annualization=PERIODS_PER_YEAR), ep.max_drawdown(matrix)


@contextmanager
def no_network() -> Iterator[None]:
    """Make every socket connection raise, so the baselines can never download anything."""

    def refuse(self: socket.socket, *args: object, **kwargs: object) -> None:
        raise RuntimeError("network access attempted during the benchmark")

    saved = socket.socket.connect, socket.socket.connect_ex
    socket.socket.connect = refuse  # type: ignore[method-assign]
    socket.socket.connect_ex = refuse  # type: ignore[method-assign, assignment]
    try:
        yield
    finally:
        socket.socket.connect, socket.socket.connect_ex = saved  # type: ignore[method-assign]


def quantstats_frame(data: BenchData, columns: np.ndarray) -> pd.DataFrame:
    """The given candidates as a DataFrame on a business-day index."""
    index = pd.bdate_range("2016-01-04", periods=data.n_bars)
    names = [data.ids[j] for j in columns]
    return pd.DataFrame(data.returns[:, columns], index=index, columns=names)


@dataclass(frozen=True)
class QuantstatsResult:
    """quantstats' timing and figures on a column slice.

    Attributes
    ----------
    timing : Timing
        Sharpe + max drawdown, median over the slow repeats.
    columns : ndarray
        The candidate columns that were measured.
    sharpe, max_drawdown : ndarray
        quantstats' figures for those columns (max drawdown negative).
    notes : tuple of str
        What had to be worked around.
    """

    timing: Timing
    columns: np.ndarray
    sharpe: np.ndarray
    max_drawdown: np.ndarray
    notes: tuple[str, ...]


def measure_quantstats(data: BenchData, count: int) -> QuantstatsResult:
    """Time quantstats' Sharpe + max drawdown on ``count`` candidates as a DataFrame."""
    with no_network():
        # Imported here, under the guard, so an import-time download would be caught too.
        import quantstats as qs
        from quantstats import utils as qs_utils

        results: dict[str, Any] = {}

        def clear_cache(frame: pd.DataFrame) -> Callable[[], pd.DataFrame]:
            def setup() -> pd.DataFrame:
                # quantstats memoises prepared returns by content hash; a repeat on the same
                # frame would otherwise skip work a first call on new candidates must do.
                qs_utils._PREPARE_RETURNS_CACHE.clear()
                return frame

            return setup

        def run(df: pd.DataFrame) -> None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                results["sharpe"] = qs.stats.sharpe(df, periods=PERIODS_PER_YEAR)
                results["max_drawdown"] = qs.stats.max_drawdown(df)

        notes = []
        columns = np.arange(min(count, data.n_candidates))
        try:
            run(clear_cache(quantstats_frame(data, columns))())
        except qs_utils.DataValidationError as exc:
            # validate_input() tests data.dropna().empty, and DataFrame.dropna drops every
            # row with ANY NaN: a frame of staggered track records (some candidate not live
            # on every row) is refused outright. Measure on fully live columns instead.
            live = np.flatnonzero(~np.isnan(data.returns).any(axis=0))
            columns = live[:count]
            notes.append(
                f"quantstats refused the first {count} columns (with late/early NaN) as a "
                f"DataFrame: DataValidationError({exc}) - its validate_input() uses "
                f"DataFrame.dropna(), which drops every row where ANY column is NaN; measured "
                f"on the first {columns.size} fully live columns instead"
            )
        timing = median_time(run, SLOW_REPEATS, setup=clear_cache(quantstats_frame(data, columns)))
    return QuantstatsResult(
        timing,
        columns,
        np.asarray(results["sharpe"], dtype=np.float64),
        np.asarray(results["max_drawdown"], dtype=np.float64),
        tuple(notes),
    )


@contextmanager
def numba_threads(count: int | None) -> Iterator[None]:
    """Run the block with numba limited to ``count`` threads (None: leave as configured)."""
    saved = numba.get_num_threads()
    if count is not None:
        numba.set_num_threads(count)
    try:
        yield
    finally:
        numba.set_num_threads(saved)


def single_thread(fn: Callable[..., object], repeats: int, setup: Callable[[], object]) -> Timing:
    """``median_time`` with numba limited to one thread: a like-for-like figure against the
    single-core baselines, and one far less disturbed by other processes on the machine."""
    with numba_threads(1):
        return median_time(fn, repeats, setup)


Case = tuple[Callable[..., object], Callable[[], object] | None]


def interleaved_times(cases: dict[str, Case], repeats: int) -> dict[str, Timing]:
    """Median times of several operations timed round-robin rather than one after another.

    A ratio of two figures is only meaningful if both saw the same machine; interleaving
    spreads any burst of load from other processes over every case alike.
    """
    warmups = {name: _timed_call(fn, setup) for name, (fn, setup) in cases.items()}
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeats):
        for name, (fn, setup) in cases.items():
            samples[name].append(_timed_call(fn, setup))
    return {
        name: Timing(statistics.median(s), tuple(s), warmups[name]) for name, s in samples.items()
    }


def scaling(gate_set: GateSet, data: BenchData) -> dict[str, Any]:
    """Gate-set time at a quarter of the candidates and at half the bars, vs the full size.

    The sizes are timed interleaved, with numba's configured threads and with one thread
    (which separates the algorithm's scaling from thread scheduling on a busy machine);
    the memory floor is timed alongside.
    """
    evaluate = gate_set.evaluate_arrays
    makers = {
        "full": batch_factory(data),
        "quarter": batch_factory(data, columns=data.n_candidates // 4),
        "half": batch_factory(data, bars=data.n_bars // 2),
    }
    matrices = {name: make().returns for name, make in makers.items()}
    gate_cases: dict[str, Case] = {name: (evaluate, make) for name, make in makers.items()}
    floor_cases: dict[str, Case] = {
        f"floor_{name}": (lambda m=m: np.sum(m), None) for name, m in matrices.items()
    }
    times = interleaved_times({**gate_cases, **floor_cases}, FAST_REPEATS)
    with numba_threads(1):
        one = interleaved_times(gate_cases, FAST_REPEATS)

    def summary(small: str, n_small: int, n_large: int) -> dict[str, Any]:
        return {
            "small": n_small,
            "large": n_large,
            "ideal": n_large / n_small,
            "gates_large": times["full"].to_dict(),
            "gates_small": times[small].to_dict(),
            "gates_ratio": times["full"].median / times[small].median,
            "gates_1_thread_ratio": one["full"].median / one[small].median,
            "floor_ratio": times["floor_full"].median / times[f"floor_{small}"].median,
        }

    return {
        "candidates": summary("quarter", data.n_candidates // 4, data.n_candidates),
        "bars": summary("half", data.n_bars // 2, data.n_bars),
    }


def measure_memory(gate_set: GateSet, data: BenchData) -> dict[str, Any]:
    """Peak extra bytes of one evaluation (and of the baselines) over the matrix size."""
    make = batch_factory(data)
    matrix_bytes = data.returns.nbytes
    gates = peak_extra_bytes(gate_set.evaluate_arrays, setup=make)
    records = peak_extra_bytes(lambda b: gate_set.evaluate_arrays(b).decisions(), setup=make)
    empyrical = peak_extra_bytes(lambda: empyrical_both(data.returns))
    return {
        "matrix_bytes": matrix_bytes,
        "gates_peak_extra_bytes": gates,
        "gates_ratio": gates / matrix_bytes,
        "records_peak_extra_bytes": records,
        "records_ratio": records / matrix_bytes,
        "empyrical_peak_extra_bytes": empyrical,
        "empyrical_ratio": empyrical / matrix_bytes,
    }


# --------------------------------------------------------------------------- agreement


def compare(ours: np.ndarray, reference: np.ndarray) -> dict[str, Any]:
    """Largest absolute and relative difference of two arrays over the entries both define.

    Entries where exactly one side is NaN are counted as ``nan_mismatch``: a definedness
    disagreement must not disappear into the maxima.
    """
    ours = np.asarray(ours, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    both = np.isfinite(ours) & np.isfinite(reference)
    diff = np.abs(ours[both] - reference[both])
    scale = np.abs(reference[both])
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = np.where(scale > 0.0, diff / scale, np.where(diff > 0.0, np.inf, 0.0))
    return {
        "compared": int(both.sum()),
        "nan_mismatch": int((np.isnan(ours) != np.isnan(reference)).sum()),
        "max_abs": float(diff.max()) if diff.size else 0.0,
        "max_rel": float(relative.max()) if relative.size else 0.0,
        "min_abs_reference": float(scale.min()) if scale.size else None,
    }


def agree_with_empyrical(data: BenchData, matrix: np.ndarray) -> dict[str, Any]:
    """Batch Sharpe and max drawdown vs empyrical on ``matrix`` (sign conventions aside)."""
    stats = fresh_batch(matrix, data.ids, data.labels).statistics()
    sharpe = annualised_sharpe(stats, PERIODS_PER_YEAR, 0.0)
    ep_sharpe, ep_mdd = empyrical_both(matrix)
    return {
        "sharpe": compare(sharpe, ep_sharpe),
        "max_drawdown": compare(stats.max_drawdown, -ep_mdd),
    }


def agree_with_quantstats(data: BenchData, measured: QuantstatsResult) -> dict[str, Any]:
    """Batch figures vs quantstats on the measured columns (informational)."""
    columns = measured.columns
    ids = [data.ids[j] for j in columns]
    stats = fresh_batch(data.returns[:, columns], ids, data.labels).statistics()
    sharpe = annualised_sharpe(stats, PERIODS_PER_YEAR, 0.0)
    return {
        "sharpe": compare(sharpe, measured.sharpe),
        "max_drawdown": compare(stats.max_drawdown, -measured.max_drawdown),
    }


def reference_columns(data: BenchData, count: int, rng: np.random.Generator) -> np.ndarray:
    """About ``count`` columns: 40 % fully live, 30 % late starters, 30 % early stoppers."""
    full = np.setdiff1d(np.arange(data.n_candidates), np.union1d(data.late_start, data.early_stop))
    picks = [
        rng.choice(full, min(full.size, count * 2 // 5), replace=False),
        rng.choice(data.late_start, min(data.late_start.size, count * 3 // 10), replace=False),
        rng.choice(data.early_stop, min(data.early_stop.size, count * 3 // 10), replace=False),
    ]
    return np.sort(np.concatenate(picks))


def agree_with_metrics(data: BenchData, count: int = REFERENCE_COLUMNS) -> dict[str, Any]:
    """Batch statistics vs the readable 1-D definitions in :mod:`autopilot.stats.metrics`.

    Sharpe, max drawdown, skewness and kurtosis are compared on each column's live
    segment. The transition drawdown is compared on columns live from bar 0 to the end
    (the required check) and, separately, on the cut columns' own track records.
    """
    batch = fresh_batch(data.returns, data.ids, data.labels)
    batch.prepare([TRANSITION_WINDOW])
    stats = batch.statistics()
    transition = batch.transition(TRANSITION_WINDOW)
    columns = reference_columns(data, count, np.random.default_rng(SEED + 1))
    rows = {name: ([], []) for name in ("sharpe", "max_drawdown", "skewness", "kurtosis")}
    full_td: tuple[list[float], list[float]] = ([], [])
    cut_td: tuple[list[float], list[float]] = ([], [])
    for j in columns:
        segment = batch.live_returns(int(j))
        expected = {
            "sharpe": metrics.sharpe_ratio(segment, PERIODS_PER_YEAR),
            "max_drawdown": metrics.max_drawdown(segment),
            "skewness": metrics.skewness(segment),
            "kurtosis": metrics.kurtosis(segment),
        }
        got = {
            "sharpe": annualised_sharpe(stats, PERIODS_PER_YEAR, 0.0)[j],
            "max_drawdown": stats.max_drawdown[j],
            "skewness": stats.skewness[j],
            "kurtosis": stats.kurtosis[j],
        }
        for name, (ours, reference) in rows.items():
            ours.append(got[name])
            reference.append(expected[name])
        first, last = int(stats.first_live[j]), int(stats.last_live[j])
        labels = data.labels[first : last + 1]
        reference_td = metrics.transition_drawdown(segment, labels, TRANSITION_WINDOW)
        target = full_td if (first == 0 and last == data.n_bars - 1) else cut_td
        target[0].append(transition.drawdown[j])
        target[1].append(reference_td)
    result = {name: compare(np.array(o), np.array(r)) for name, (o, r) in rows.items()}
    result["transition_drawdown_full_columns"] = compare(np.array(full_td[0]), np.array(full_td[1]))
    result["transition_drawdown_cut_columns"] = compare(np.array(cut_td[0]), np.array(cut_td[1]))
    result["columns"] = int(columns.size)
    return result


def empyrical_quirks() -> list[str]:
    """Probe empyrical-reloaded's 2-D ``max_drawdown`` on tiny inputs; describe surprises."""
    notes = []
    probe = np.array([[-0.1, np.nan, 0.05], [0.02, np.nan, -0.2], [0.01, np.nan, np.nan]])
    before = probe.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mdd = ep.max_drawdown(probe)
        sharpe = ep.sharpe_ratio(probe, annualization=PERIODS_PER_YEAR)
    if not np.array_equal(probe, before, equal_nan=True):
        notes.append("empyrical modified its input array")
    if isinstance(mdd, np.ndarray) and mdd[0] < 0:
        notes.append(
            "max_drawdown returns NEGATIVE fractions (ndarray for 2-D ndarray input, a Series "
            "for a DataFrame); compared here as -empyrical"
        )
    if np.isclose(mdd[0], -0.1):
        notes.append("a first-bar loss counts (equity anchored before bar 0), as in autopilot")
    if mdd[1] == 0.0 and np.isnan(sharpe[1]):
        notes.append(
            "an all-NaN column gets max_drawdown 0.0 (NaN are treated as flat days), not "
            "NaN, while its sharpe_ratio is NaN; autopilot makes such a candidate "
            "INSUFFICIENT_DATA before any figure is used"
        )
    notes.append(
        "2-D max_drawdown materialises a (T+1) x N equity array plus running-peak and "
        "difference temporaries (see the memory figures)"
    )
    return notes


# --------------------------------------------------------------------------- report


def environment() -> dict[str, Any]:
    """Where the figures were measured."""
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "numba": numba.__version__,
        "numba_threads": numba.config.NUMBA_NUM_THREADS,
        "empyrical": getattr(ep, "__version__", "?"),
        "load_average_1min": os.getloadavg()[0],
    }


def ms(seconds: float) -> str:
    """Seconds as a right-aligned millisecond figure."""
    return f"{seconds * 1e3:10.1f} ms"


def timed(entry: dict[str, Any]) -> str:
    """A timing's median with the range of its repeats."""
    samples = entry["samples_s"]
    return f"{ms(entry['median_s'])} [{min(samples) * 1e3:.1f}..{max(samples) * 1e3:.1f}]"


def verdict(met: bool) -> str:
    """Target marker."""
    return "MET" if met else "NOT MET"


def print_report(r: dict[str, Any]) -> None:
    """Print the collected figures as a readable report."""
    n, t = r["size"]["candidates"], r["size"]["bars"]
    env = r["environment"]
    t_ = r["timings"]
    print(f"strategy-autopilot gate-set benchmark  ({n:,} candidates x {t:,} bars, float64)")
    print(
        f"python {env['python']}, numpy {env['numpy']}, numba {env['numba']} "
        f"({env['numba_threads']} threads), {env['cpu_count']} CPUs, {env['platform']}"
    )
    data = r["data"]
    print(
        f"matrix {r['memory']['matrix_bytes'] / 2**20:.1f} MiB; {data['late_start']} late "
        f"starters, {data['early_stop']} early stoppers; {data['regime_changes']} regime "
        f"changes; batch wraps the matrix without copying: "
        f"{data['no_copy']['returns_is_same_object']}"
    )
    print(
        f"1-min load average {env['load_average_1min_start']:.2f} at start, "
        f"{env['load_average_1min']:.2f} at end, on {env['cpu_count']} CPUs "
        "(other processes share the machine: above the CPU count, expect noisy timings)"
    )
    print()
    print(
        f"Timings (median of {FAST_REPEATS} fast / {SLOW_REPEATS} slow repeats after one "
        "warm-up; [min..max] of the repeats)"
    )
    first = r["first_call"]
    print(
        f"  first call incl. JIT/cache load     {ms(first['seconds'])}   (numba cache hits "
        f"{first['numba_cache_hits']}, misses {first['numba_cache_misses']}; "
        f"JIT/cache share ~{ms(first['seconds'] - t_['gates']['median_s']).strip()})"
    )
    if r["import_seconds"] is not None:
        print(f"  import autopilot + gates (cold)     {ms(r['import_seconds'])}")
    print(f"  batch construction (no copy)        {timed(t_['construct'])}")
    print(f"  floor   np.sum(matrix)              {timed(t_['floor'])}")
    print(f"  fused statistics pass only          {timed(t_['statistics'])}")
    print(f"  gates   evaluate_arrays             {timed(t_['gates'])}")
    print(f"  gates   evaluate_arrays, 1 thread   {timed(t_['gates_1_thread'])}")
    records = t_["records"]["median_s"]
    print(
        f"  gates+dicts    .records()           {timed(t_['dicts'])}\n"
        f"  gates+records  .decisions()         {timed(t_['records'])}   "
        f"({r['records']['verdicts']:,} Verdict records; "
        f"{(records - t_['gates']['median_s']) / r['records']['verdicts'] * 1e6:.2f} us each)"
    )
    print(f"  empyrical sharpe_ratio              {timed(t_['empyrical_sharpe'])}")
    print(f"  empyrical max_drawdown              {timed(t_['empyrical_max_drawdown'])}")
    print(f"  empyrical sharpe + max_drawdown     {timed(t_['empyrical'])}")
    qs = r["quantstats"]
    print(
        f"  quantstats sharpe + max_drawdown    {timed(t_['quantstats'])}   "
        f"(measured, {qs['columns']} columns)"
    )
    print(
        f"  quantstats EXTRAPOLATED to {n:,}     {ms(qs['extrapolated_s'])}   "
        f"(linear in columns, not measured)"
    )
    print()
    ratios = r["ratios"]
    print("Ratios")
    print(
        f"  gates / floor          {ratios['gates_over_floor']:8.2f}   "
        f"target <= {TARGET_GATES_OVER_FLOOR:g}: {verdict(ratios['gates_over_floor_met'])}"
    )
    print(
        f"  empyrical / gates      {ratios['empyrical_over_gates']:8.2f}   "
        f"target >= {TARGET_EMPYRICAL_OVER_GATES:g}: {verdict(ratios['empyrical_over_gates_met'])}"
    )
    print(
        f"  empyrical / gates(1 thread) {ratios['empyrical_over_gates_1_thread']:8.2f}   "
        f"(single core on both sides)"
    )
    print(f"  gates+records / gates  {ratios['records_over_gates']:8.2f}")
    print(f"  quantstats (extrap.) / gates {ratios['quantstats_extrapolated_over_gates']:8.1f}")
    print()
    print("Scaling (interleaved; gates with configured threads, 1 thread, and the floor)")
    for key in ("candidates", "bars"):
        s = r["scaling"][key]
        print(
            f"  {s['large']:>6,} vs {s['small']:>6,} {key:<10} gates x{s['gates_ratio']:.2f}  "
            f"gates(1 thread) x{s['gates_1_thread_ratio']:.2f}  floor x{s['floor_ratio']:.2f}  "
            f"(ideal {s['ideal']:.1f})"
        )
    print()
    m = r["memory"]
    print("Peak memory above live memory, one call (tracemalloc), relative to the matrix")
    print(
        f"  gates evaluate_arrays  {m['gates_ratio']:6.3f} x  "
        f"({m['gates_peak_extra_bytes'] / 2**20:.1f} MiB)  target < {TARGET_PEAK_MEMORY:g}: "
        f"{verdict(m['gates_ratio'] < TARGET_PEAK_MEMORY)}"
    )
    print(
        f"  gates+records          {m['records_ratio']:6.3f} x  "
        f"({m['records_peak_extra_bytes'] / 2**20:.1f} MiB)"
    )
    print(
        f"  empyrical (both)       {m['empyrical_ratio']:6.3f} x  "
        f"({m['empyrical_peak_extra_bytes'] / 2**20:.1f} MiB)"
    )
    print()
    print(f"Agreement (max differences; tolerance {TOLERANCE:g}, sign conventions aside)")
    for title, block, required in (
        ("vs empyrical, NaN-free copy", r["agreement"]["empyrical_nan_free"], True),
        ("vs empyrical, matrix with NaN (info)", r["agreement"]["empyrical_with_nan"], False),
        ("vs quantstats, sliced columns (info)", r["agreement"]["quantstats"], False),
        (
            f"vs autopilot.stats.metrics 1-D, {r['agreement']['metrics']['columns']} columns",
            r["agreement"]["metrics"],
            True,
        ),
    ):
        print(f"  {title}")
        for name, c in block.items():
            if not isinstance(c, dict):
                continue
            ok = c["max_rel"] <= TOLERANCE or c["max_abs"] <= TOLERANCE
            ok = ok and c["nan_mismatch"] == 0
            mark = ("OK" if ok else "DISAGREE") if required else ("ok" if ok else "differs")
            print(
                f"    {name:<34} n={c['compared']:>6}  max_abs={c['max_abs']:.3e}  "
                f"max_rel={c['max_rel']:.3e}  nan_mismatch={c['nan_mismatch']}  {mark}"
            )
    print()
    print("Notes")
    for note in r["notes"]:
        print(f"  - {note}")
    print(f"\nresults written to {r['results_path']}")


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke size (1,000 x 504)")
    parser.add_argument("--candidates", type=int, help="number of candidates (columns)")
    parser.add_argument("--bars", type=int, help="number of bars (rows)")
    parser.add_argument("--output", type=Path, default=RESULTS_PATH, help="results JSON path")
    return parser.parse_args(argv)


def agreement_ok(block: dict[str, Any]) -> bool:
    """Whether every comparison of a block is within tolerance with no NaN mismatch."""
    return all(
        (c["max_rel"] <= TOLERANCE or c["max_abs"] <= TOLERANCE) and c["nan_mismatch"] == 0
        for c in block.values()
        if isinstance(c, dict)
    )


def run(n_candidates: int, n_bars: int, output: Path) -> dict[str, Any]:
    """Take every measurement in one process and return the results."""
    # Other processes compete for the same cores; the load is recorded to judge the noise.
    load_before = os.getloadavg()[0]
    gate_set = GateSet(config_from_dict(GATE_CONFIG))
    data = make_data(n_candidates, n_bars)
    make = batch_factory(data)
    evaluate = gate_set.evaluate_arrays
    # First: nothing may have called the kernel before, or JIT would hide elsewhere.
    first = first_call(gate_set, data)
    table = evaluate(make())
    decisions = table.decisions()
    timings = {
        "construct": median_time(make, FAST_REPEATS),
        "floor": median_time(lambda: np.sum(data.returns), FAST_REPEATS),
        "statistics": median_time(lambda b: b.prepare([TRANSITION_WINDOW]), FAST_REPEATS, make),
        "gates": median_time(evaluate, FAST_REPEATS, make),
        "gates_1_thread": single_thread(evaluate, FAST_REPEATS, make),
        "records": median_time(lambda b: evaluate(b).decisions(), SLOW_REPEATS, make),
        "dicts": median_time(lambda b: list(evaluate(b).records()), SLOW_REPEATS, make),
        "empyrical_sharpe": median_time(
            lambda: ep.sharpe_ratio(data.returns, annualization=PERIODS_PER_YEAR), SLOW_REPEATS
        ),
        "empyrical_max_drawdown": median_time(lambda: ep.max_drawdown(data.returns), SLOW_REPEATS),
        "empyrical": median_time(lambda: empyrical_both(data.returns), SLOW_REPEATS),
    }
    quantstats = measure_quantstats(data, QUANTSTATS_COLUMNS)
    timings["quantstats"] = quantstats.timing
    qs_columns = int(quantstats.columns.size)
    qs_extrapolated = timings["quantstats"].median * n_candidates / qs_columns
    gates_s, floor_s = timings["gates"].median, timings["floor"].median
    ratios = {
        "gates_over_floor": gates_s / floor_s,
        "gates_over_floor_met": gates_s / floor_s <= TARGET_GATES_OVER_FLOOR,
        "empyrical_over_gates": timings["empyrical"].median / gates_s,
        "empyrical_over_gates_met": timings["empyrical"].median / gates_s
        >= TARGET_EMPYRICAL_OVER_GATES,
        "empyrical_over_gates_1_thread": timings["empyrical"].median
        / timings["gates_1_thread"].median,
        "records_over_gates": timings["records"].median / gates_s,
        "quantstats_extrapolated_over_gates": qs_extrapolated / gates_s,
    }
    agreement = {
        "empyrical_nan_free": agree_with_empyrical(data, data.clean),
        "empyrical_with_nan": agree_with_empyrical(data, data.returns),
        "quantstats": agree_with_quantstats(data, quantstats),
        "metrics": agree_with_metrics(data),
    }
    results: dict[str, Any] = {
        "size": {"candidates": n_candidates, "bars": n_bars},
        "seed": SEED,
        "config": GATE_CONFIG,
        "environment": environment(),
        "data": {
            "late_start": int(data.late_start.size),
            "early_stop": int(data.early_stop.size),
            "regime_changes": int(np.count_nonzero(np.diff(data.labels))),
            "no_copy": check_no_copy(data),
        },
        "first_call": first,
        "import_seconds": import_seconds(),
        "timings": {name: timing.to_dict() for name, timing in timings.items()},
        "records": {
            "decisions": len(decisions),
            "verdicts": sum(len(d.verdicts) for d in decisions),
        },
        "outcomes": outcome_counts(table),
        "quantstats": {
            "columns": qs_columns,
            "measured_s": timings["quantstats"].median,
            "extrapolated_s": qs_extrapolated,
            "extrapolated_note": (
                f"measured on {qs_columns} columns, scaled by {n_candidates / qs_columns:g}"
            ),
        },
        "ratios": ratios,
        "scaling": scaling(gate_set, data),
        "memory": measure_memory(gate_set, data),
        "agreement": agreement,
        "agreement_within_tolerance": {
            "empyrical_nan_free": agreement_ok(agreement["empyrical_nan_free"]),
            "metrics": agreement_ok(agreement["metrics"]),
        },
        "notes": [
            *empyrical_quirks(),
            *quantstats.notes,
            "quantstats' prepared-returns cache is cleared before every repeat (untimed), "
            "so repeats do the work a first call on new candidates does",
            "each gate-set repeat gets a fresh CandidateBatch (statistics are cached per "
            "batch); building it is untimed and reported separately",
            f"the gate set runs on {numba.config.NUMBA_NUM_THREADS} numba threads; "
            "np.sum, empyrical and quantstats run on one core",
        ],
        "results_path": str(output),
    }
    results["environment"]["load_average_1min_start"] = load_before
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the report and write the JSON results."""
    args = parse_args(argv)
    n_candidates, n_bars = QUICK_SIZE if args.quick else FULL_SIZE
    n_candidates = args.candidates or n_candidates
    n_bars = args.bars or n_bars
    results = run(n_candidates, n_bars, args.output)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print_report(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
