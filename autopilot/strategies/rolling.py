"""Causal building blocks for strategy families, on ``T x N`` float64 arrays.

Every function's row ``t`` uses only rows ``<= t`` of its input, and is NaN where its
window is not full of finite values (before a security's first price, after its last, and
while the lookback fills). Rolling sums are differences of running sums, so a window
costs the same whatever its length; a row's value never depends on later rows.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "equal_weights",
    "lagged",
    "rolling_mean",
    "rolling_std",
    "simple_returns",
    "trailing_return",
]


def lagged(x: np.ndarray, lag: int) -> np.ndarray:
    """``x`` shifted down by ``lag`` rows (row ``t`` holds row ``t - lag``), NaN on top."""
    out = np.full_like(x, np.nan)
    if lag < x.shape[0]:
        out[lag:] = x[: x.shape[0] - lag]
    return out


def simple_returns(close: np.ndarray) -> np.ndarray:
    """``close[t] / close[t-1] - 1``; NaN in row 0 and wherever either price is missing."""
    return close / lagged(close, 1) - 1.0


def trailing_return(close: np.ndarray, lookback: int, skip: int = 0) -> np.ndarray:
    """``close[t-skip] / close[t-lookback] - 1``, the return over ``lookback - skip`` bars."""
    return lagged(close, skip) / lagged(close, lookback) - 1.0


def _window_sums(x: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Sum of the finite values and their count over the trailing ``window`` rows."""
    finite = np.isfinite(x)
    values = np.where(finite, x, 0.0)
    zero = np.zeros((1, x.shape[1]))
    running = np.concatenate([zero, np.cumsum(values, axis=0)])
    counts = np.concatenate([zero, np.cumsum(finite, axis=0, dtype=np.float64)])
    t = x.shape[0]
    sums = np.full_like(x, np.nan)
    count = np.zeros_like(x)
    if window <= t:
        sums[window - 1 :] = running[window:] - running[: t - window + 1]
        count[window - 1 :] = counts[window:] - counts[: t - window + 1]
    return sums, count


def rolling_mean(x: np.ndarray, window: int) -> np.ndarray:
    """Mean of the trailing ``window`` rows; NaN unless all of them are finite."""
    sums, count = _window_sums(x, window)
    return np.where(count == window, sums / window, np.nan)


def rolling_std(x: np.ndarray, window: int) -> np.ndarray:
    """Sample standard deviation (ddof=1) of the trailing ``window`` rows (``window >= 2``).

    Computed as ``sqrt((sum(x^2) - sum(x)^2 / n) / (n - 1))`` from running sums, clipped at
    zero against rounding; NaN unless the whole window is finite.
    """
    sums, count = _window_sums(x, window)
    squares, _ = _window_sums(x * x, window)
    variance = (squares - sums * sums / window) / (window - 1)
    return np.where(count == window, np.sqrt(np.maximum(variance, 0.0)), np.nan)


def equal_weights(signal: np.ndarray, close: np.ndarray) -> np.ndarray:
    """Scale a signal in {-1, 0, +1} to ``signal / N_live`` per row.

    The signal is dropped (NaN) where ``close`` has no price at that bar; ``N_live`` is the
    number of securities left with a finite signal, so the absolute weights of a row sum to
    at most 1; rows without one stay NaN.
    """
    signal = np.where(np.isnan(close), np.nan, signal)
    live = np.sum(np.isfinite(signal), axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(live > 0, signal / np.maximum(live, 1), np.nan)
