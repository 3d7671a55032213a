"""One-pass causal kernels behind the built-in strategy families.

Each kernel turns a ``T x N`` C-ordered float64 close panel into a family's target weights
in a single walk down the rows, keeping per-security state (a sliding window's sums) in
arrays of length ``N``; the numpy form of the same families made a dozen full-size
temporaries per candidate and cost ten to thirty times more. Row ``t`` of every output
reads rows ``<= t`` of ``close`` only.

Windows follow one rule: a window statistic exists at ``t`` when the ``window`` values
ending at ``t`` are all finite; a NaN empties the window, which refills from the next
finite value. Sums are kept about the first value of the current run of finite values
(``shift``), so a flat series has a mean equal to its value and a variance of exactly 0,
and the sums stay small for the usual price paths.

Weights are ``signal / N_live`` per row, ``N_live`` the securities with a finite signal
(NaN where a security has no price or its lookback is not filled), so a row's absolute
weights sum to at most 1; a row without any signal is all NaN. ``long_only`` holds 0
instead of a short.

The loops over a row's securities are written without branches (every state is updated,
the new value chosen by a select), so that LLVM turns them into SIMD code: it more than
halves their cost. Run lengths are float64 so that the whole state vectorises alike, and
the row a full window drops is clamped to row 0, where it is read but not used.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = [
    "breakout_weights",
    "crossover_weights",
    "low_volatility_weights",
    "momentum_weights",
    "reversal_weights",
]

_kernel = numba.njit(cache=True, nogil=True, error_model="numpy")
_inlined = numba.njit(cache=True, nogil=True, error_model="numpy", inline="always")


@_inlined
def _slide(
    run: float, shift: float, s1: float, s2: float, x: float, leaving: float, window: float
) -> tuple[float, float, float, float]:  # pragma: no cover - jitted
    """A window's state ``(run, shift, s1, s2)`` moved on by ``x``.

    ``run`` counts the finite values ending here (up to ``window``), ``s1``/``s2`` are the
    sums of them and their squares less ``shift``; ``leaving`` is the value the window drops
    once full. Scalars in and out: an array argument would cost a reference count per call.
    """
    finite = math.isfinite(x)
    shift = x if run == 0.0 else shift
    d = x - shift
    old = leaving - shift if run >= window else 0.0
    s1 = s1 + d - old if finite else 0.0
    s2 = s2 + d * d - old * old if finite else 0.0
    run = min(run + 1.0, window) if finite else 0.0
    return run, shift, s1, s2


@_inlined
def _std(s1: float, s2: float, window: float) -> float:  # pragma: no cover - jitted
    """Sample standard deviation (ddof=1) of a full window from its shifted sums."""
    return math.sqrt(max((s2 - s1 * s1 / window) / (window - 1.0), 0.0))


@_kernel
def _equal_weights(out: np.ndarray, long_only: bool) -> np.ndarray:  # pragma: no cover - jitted
    """Turn every row of signals into ``signal / N_live`` weights, in place."""
    n_bars, n = out.shape
    for t in range(n_bars):
        live = 0
        for i in range(n):
            live += out[t, i] == out[t, i]
        scale = 1.0 / max(live, 1)
        for i in range(n):
            s = out[t, i]
            out[t, i] = (0.0 if long_only and s < 0.0 else s) * scale
    return out


@_kernel
def _kth_smallest(values: np.ndarray, count: int, k: int) -> float:  # pragma: no cover - jitted
    """The ``k``-th smallest (from 0) of ``values[:count]``, which it reorders (Hoare's select)."""
    lo = 0
    hi = count - 1
    while lo < hi:
        pivot = values[(lo + hi) // 2]
        i = lo
        j = hi
        while i <= j:
            while values[i] < pivot:
                i += 1
            while values[j] > pivot:
                j -= 1
            if i <= j:
                values[i], values[j] = values[j], values[i]
                i += 1
                j -= 1
        if k <= j:
            hi = j
        elif k >= i:
            lo = i
        else:
            break
    return values[k]


@_kernel
def momentum_weights(
    close: np.ndarray, lookback: int, skip: int, long_only: bool
) -> np.ndarray:  # pragma: no cover - jitted
    """``sign(close[t-skip] / close[t-lookback] - 1) / N_live`` (time-series momentum)."""
    n_bars, n = close.shape
    out = np.empty_like(close)
    for t in range(n_bars):
        if t < lookback:
            out[t] = np.nan
            continue
        for i in range(n):
            signal = np.sign(close[t - skip, i] / close[t - lookback, i] - 1.0)
            out[t, i] = signal if close[t, i] == close[t, i] else np.nan
    return _equal_weights(out, long_only)


@_kernel
def crossover_weights(
    close: np.ndarray, fast: int, slow: int, long_only: bool
) -> np.ndarray:  # pragma: no cover - jitted
    """``sign(mean of the last fast closes - mean of the last slow) / N_live``."""
    n_bars, n = close.shape
    out = np.empty_like(close)
    fast_run, fast_shift, fast_sum = np.zeros(n), np.zeros(n), np.zeros(n)
    slow_run, slow_shift, slow_sum = np.zeros(n), np.zeros(n), np.zeros(n)
    w_fast, w_slow = float(fast), float(slow)
    for t in range(n_bars):
        fast_out, slow_out = max(t - fast, 0), max(t - slow, 0)
        for i in range(n):
            x = close[t, i]
            fast_run[i], fast_shift[i], fast_sum[i], _ = _slide(
                fast_run[i], fast_shift[i], fast_sum[i], 0.0, x, close[fast_out, i], w_fast
            )
            slow_run[i], slow_shift[i], slow_sum[i], _ = _slide(
                slow_run[i], slow_shift[i], slow_sum[i], 0.0, x, close[slow_out, i], w_slow
            )
            fast_mean = fast_shift[i] + fast_sum[i] / w_fast
            slow_mean = slow_shift[i] + slow_sum[i] / w_slow
            # The slow window covers the fast one.
            out[t, i] = np.sign(fast_mean - slow_mean) if slow_run[i] >= w_slow else np.nan
    return _equal_weights(out, long_only)


@_kernel
def reversal_weights(
    close: np.ndarray, lookback: int, threshold: float, vol_window: int, long_only: bool
) -> np.ndarray:  # pragma: no cover
    """``-sign(z) * (|z| > threshold) / N_live`` with ``z`` the volatility-scaled move.

    ``z = (close[t] / close[t-lookback] - 1) / (sigma * sqrt(lookback))``, ``sigma`` the
    sample standard deviation of the last ``vol_window`` daily returns. A zero ``sigma``
    makes a non-zero move infinitely large and a zero move undefined (NaN).
    """
    n_bars, n = close.shape
    out = np.empty_like(close)
    run, shift, s1, s2 = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    window = float(vol_window)
    root = math.sqrt(lookback)
    for t in range(n_bars):
        # Row 0 has no return; the window drops the return of row t - vol_window.
        no_return = np.nan if t == 0 else 0.0
        before = max(t - 1, 0)
        dropped = min(max(t - vol_window, 1), t)  # read but unused until the window is full
        start = max(t - lookback, 0)
        for i in range(n):
            r = close[t, i] / close[before, i] - 1.0 + no_return
            leaving = close[dropped, i] / close[max(dropped - 1, 0), i] - 1.0
            run[i], shift[i], s1[i], s2[i] = _slide(
                run[i], shift[i], s1[i], s2[i], r, leaving, window
            )
            z = (close[t, i] / close[start, i] - 1.0) / (_std(s1[i], s2[i], window) * root)
            signal = -np.sign(z) if abs(z) > threshold else 0.0
            out[t, i] = signal if run[i] >= window and z == z and t >= lookback else np.nan
    return _equal_weights(out, long_only)


@_kernel
def breakout_weights(
    close: np.ndarray, window: int, k: float, long_only: bool
) -> np.ndarray:  # pragma: no cover - jitted
    """``(+1 above mean + k * std, -1 below mean - k * std, else 0) / N_live``."""
    n_bars, n = close.shape
    out = np.empty_like(close)
    run, shift, s1, s2 = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    size = float(window)
    for t in range(n_bars):
        dropped = max(t - window, 0)
        for i in range(n):
            x = close[t, i]
            run[i], shift[i], s1[i], s2[i] = _slide(
                run[i], shift[i], s1[i], s2[i], x, close[dropped, i], size
            )
            mean = shift[i] + s1[i] / size
            width = k * _std(s1[i], s2[i], size)
            signal = 1.0 if x > mean + width else (-1.0 if x < mean - width else 0.0)
            out[t, i] = signal if run[i] >= size else np.nan
    return _equal_weights(out, long_only)


@_kernel
def low_volatility_weights(
    close: np.ndarray, window: int, fraction: float
) -> np.ndarray:  # pragma: no cover - jitted
    """``1 / n_held`` in the ``ceil(fraction * N_live)`` least volatile securities, else 0.

    Volatility is the sample standard deviation of the last ``window`` daily returns; ties
    go to the lower column. Each row selects in linear expected time, without sorting.
    """
    n_bars, n = close.shape
    out = np.empty_like(close)
    run, shift, s1, s2 = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    size = float(window)
    sigma = np.empty(n)
    live_sigma = np.empty(n)
    for t in range(n_bars):
        no_return = np.nan if t == 0 else 0.0
        before = max(t - 1, 0)
        dropped = min(max(t - window, 1), t)
        for i in range(n):
            r = close[t, i] / close[before, i] - 1.0 + no_return
            leaving = close[dropped, i] / close[max(dropped - 1, 0), i] - 1.0
            run[i], shift[i], s1[i], s2[i] = _slide(
                run[i], shift[i], s1[i], s2[i], r, leaving, size
            )
            sigma[i] = _std(s1[i], s2[i], size) if run[i] >= size else np.inf
        n_live = 0
        for i in range(n):
            if sigma[i] < np.inf:
                live_sigma[n_live] = sigma[i]
                n_live += 1
        n_held = math.ceil(fraction * n_live)
        # The n_held-th smallest volatility; held: every one below it, then the lowest
        # columns equal to it (a stable sort's tie order) until n_held are held.
        kth = _kth_smallest(live_sigma, n_live, n_held - 1) if n_held > 0 else -np.inf
        ties = n_held
        for i in range(n):
            ties -= sigma[i] < kth
        weight = 1.0 / max(n_held, 1)
        for i in range(n):
            held = sigma[i] < kth or (sigma[i] == kth and ties > 0)
            ties -= sigma[i] == kth and ties > 0
            out[t, i] = weight if held else (0.0 if sigma[i] < np.inf else np.nan)
    return out
