"""The fused single-pass kernel behind the built-in gates.

One read of the T x N returns matrix yields everything the built-in gates need per
candidate: live-bar count and span, non-finite flag, power sums (about the first live
return) for mean, variance, skewness, kurtosis and the exact zero-variance test, maximum
drawdown and the drawdown inside shared transition windows.

The matrix is C-ordered (rows are bars), so the kernel walks rows and keeps per-column
state for a block of columns small enough to stay in L1 cache; blocks run in parallel.
The inner loop over a block's columns is written so that LLVM turns it into SIMD code:
every state is a float64 array updated unconditionally (no branch, no select of the value
just loaded, which would become a slow masked store), min/max are ``llvm.minnum/maxnum``,
and the next rows of the block are prefetched, since each row of a block is a run of
only a kilobyte that the hardware prefetcher does not see coming. It is about twice as
fast as the scalar loop it replaced.
A NaN contributes a zero return: equity does not move before a candidate is live or after
it stopped, which is exactly the "not live yet / any more" semantics. Interior NaN are
detected separately (count vs span) and make the candidate an ERROR upstream.
"""

from __future__ import annotations

import numba
import numpy as np

from autopilot.stats._llvm_ops import fmax, fmin, prefetch

_BLOCK = 128
_AHEAD = 2  # rows prefetched ahead: each row of a block is a short run the hardware misses
_LINE = 8  # float64 per 64-byte cache line


@numba.njit(parallel=True, cache=True, nogil=True, error_model="numpy")
def fused_column_statistics(returns, window_reset, window_member):  # pragma: no cover - jitted
    """Return per-column statistics of ``returns`` (T x N, C-ordered float64).

    ``window_reset`` and ``window_member`` are (W, T) boolean arrays describing W sets of
    merged transition windows: equity is re-anchored at rows where ``window_reset`` is set
    and followed on rows where ``window_member`` is set.

    Returns ``(count, first, last, nonfinite, shift, s1, s2, s3, s4, min_ratio,
    window_min_ratio)``: ``s1..s4`` are power sums of ``d = r - shift`` with ``shift`` the
    first live return, so that central moments keep full precision even for nearly
    constant series (the mean is ``shift + s1 / count``, and the series is constant exactly
    when ``s2 == 0``), and ``min_ratio`` is ``min_t E_t / peak_t``, so
    ``MDD = 1 - min_ratio``. Every figure the gates read and no other: each extra
    per-column accumulator costs about a tenth of the pass. Counts and bar positions are
    carried as float64 (exact below 2**53) so that the whole state vectorises alike.
    """
    n_rows, n_cols = returns.shape
    n_windows = window_reset.shape[0]
    count = np.zeros(n_cols, np.int64)
    first = np.full(n_cols, -1, np.int64)
    last = np.full(n_cols, -1, np.int64)
    nonfinite = np.zeros(n_cols, np.bool_)
    shift = np.zeros(n_cols)
    s1 = np.zeros(n_cols)
    s2 = np.zeros(n_cols)
    s3 = np.zeros(n_cols)
    s4 = np.zeros(n_cols)
    min_ratio = np.ones(n_cols)
    window_min_ratio = np.ones((n_windows, n_cols))
    n_blocks = (n_cols + _BLOCK - 1) // _BLOCK
    for block in numba.prange(n_blocks):
        j0 = block * _BLOCK
        width = min(n_cols, j0 + _BLOCK) - j0
        b_count = np.zeros(width)
        b_first = np.full(width, np.inf)
        b_last = np.full(width, -1.0)
        b_bad = np.zeros(width)
        b_shift = np.zeros(width)
        b_s1 = np.zeros(width)
        b_s2 = np.zeros(width)
        b_s3 = np.zeros(width)
        b_s4 = np.zeros(width)
        equity = np.ones(width)
        peak = np.ones(width)
        b_min = np.ones(width)
        w_equity = np.ones((n_windows, width))
        w_peak = np.ones((n_windows, width))
        w_min = np.ones((n_windows, width))
        for t in range(n_rows):
            if t + _AHEAD < n_rows:
                ahead = returns[t + _AHEAD, j0 : j0 + width]
                for k in range(0, width, _LINE):
                    prefetch(ahead, k)
            row = returns[t, j0 : j0 + width]
            at = float(t)
            for k in range(width):
                x = row[k]
                live = x == x
                r = x if live else 0.0
                n = b_count[k] + (1.0 if live else 0.0)
                b_count[k] = n
                b_first[k] = fmin(b_first[k], at if live else np.inf)
                b_last[k] = fmax(b_last[k], at if live else -1.0)
                b_bad[k] += r - r  # 0 for a finite return, NaN for an infinite one
                # shift is 0 until the first live bar, which sets it to that bar's return
                sh = b_shift[k] + (r if n == 1.0 else 0.0)
                b_shift[k] = sh
                d = r - sh if live else 0.0
                d2 = d * d
                b_s1[k] += d
                b_s2[k] += d2
                b_s3[k] += d2 * d
                b_s4[k] += d2 * d2
                e = equity[k] * (1.0 + r)
                p = fmax(peak[k], e)
                equity[k] = e
                peak[k] = p
                b_min[k] = fmin(b_min[k], e / p)
            for w in range(n_windows):
                if window_reset[w, t]:
                    w_equity[w, :] = 1.0
                    w_peak[w, :] = 1.0
                if window_member[w, t]:
                    for k in range(width):
                        x = row[k]
                        e = w_equity[w, k] * (1.0 + (x if x == x else 0.0))
                        p = fmax(w_peak[w, k], e)
                        w_equity[w, k] = e
                        w_peak[w, k] = p
                        w_min[w, k] = fmin(w_min[w, k], e / p)
        for k in range(width):
            live_bars = b_count[k]
            count[j0 + k] = np.int64(live_bars)
            if live_bars > 0:
                first[j0 + k] = np.int64(b_first[k])
                last[j0 + k] = np.int64(b_last[k])
            nonfinite[j0 + k] = b_bad[k] != 0.0
        shift[j0 : j0 + width] = b_shift
        s1[j0 : j0 + width] = b_s1
        s2[j0 : j0 + width] = b_s2
        s3[j0 : j0 + width] = b_s3
        s4[j0 : j0 + width] = b_s4
        min_ratio[j0 : j0 + width] = b_min
        window_min_ratio[:, j0 : j0 + width] = w_min
    return (count, first, last, nonfinite, shift, s1, s2, s3, s4, min_ratio, window_min_ratio)


@numba.njit(cache=True, nogil=True)
def _window_drawdown(returns, start, end):  # pragma: no cover - jitted
    """Drawdown of bars start..end with equity re-anchored at 1.0 before ``start``."""
    equity = 1.0
    peak = 1.0
    worst = 0.0
    for t in range(start, end + 1):
        x = returns[t]
        equity *= 1.0 + (x if x == x else 0.0)
        peak = max(peak, equity)
        worst = max(worst, 1.0 - equity / peak)
    return worst


@numba.njit(cache=True, nogil=True)
def segment_transition_drawdown(returns, labels, window):  # pragma: no cover - jitted
    """Transition drawdown of one track record (the live segment of one candidate).

    Returns ``(drawdown, changes, missing)``: the largest drawdown over the merged windows
    (NaN without a change), the number of regime changes, and whether a label is missing.
    """
    n = returns.shape[0]
    for t in range(n):
        if labels[t] < 0:
            return np.nan, 0, True
    worst = -1.0
    changes = 0
    start = -1
    end = -1
    for t in range(1, n):
        if labels[t] != labels[t - 1]:
            changes += 1
            lo = max(0, t - window)
            hi = min(n - 1, t + window)
            if start >= 0 and lo <= end:
                end = max(end, hi)
            else:
                if start >= 0:
                    worst = max(worst, _window_drawdown(returns, start, end))
                start = lo
                end = hi
    if start >= 0:
        worst = max(worst, _window_drawdown(returns, start, end))
    return (worst if changes > 0 else np.nan), changes, False


@numba.njit(parallel=True, cache=True, nogil=True)
def transition_drawdown_columns(returns, labels, columns, first, last, window):  # pragma: no cover
    """Exact transition drawdown for the given columns over their live segments.

    ``labels`` is (T,) when shared by every candidate or (T, N) per candidate. Returns
    ``(drawdown, changes, missing)`` arrays aligned with ``columns``.
    """
    m = columns.shape[0]
    drawdown = np.full(m, np.nan)
    changes = np.zeros(m, np.int64)
    missing = np.ones(m, np.bool_)
    for i in numba.prange(m):
        j = columns[i]
        if first[j] < 0:
            continue
        segment = returns[first[j] : last[j] + 1, j]
        lab = (
            labels[first[j] : last[j] + 1]
            if labels.ndim == 1
            else labels[first[j] : last[j] + 1, j]
        )
        drawdown[i], changes[i], missing[i] = segment_transition_drawdown(segment, lab, window)
    return drawdown, changes, missing


def load_kernels() -> None:
    """Load the compiled kernels for the argument types a batch passes them.

    A process's first call of a numba kernel loads its machine code from numba's disk cache
    and starts numba's runtime: about half a second, whatever the batch's size. A command
    calls this in a thread from its start, so that time overlaps its imports and its reading
    (numba links the machine code in LLVM, without the GIL); this module imports neither
    pandas nor anything else the command's main thread is importing meanwhile.
    """
    returns = np.zeros((2, 1))
    no_windows = np.zeros((0, 2), dtype=np.bool_)
    fused_column_statistics(returns, no_windows, no_windows)
    one = np.zeros(1, dtype=np.int64)
    transition_drawdown_columns(returns, np.zeros(2, dtype=np.int64), one, one, one, 1)
