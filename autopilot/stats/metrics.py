"""Performance metrics on one return series: the readable definitions.

These functions are the specification the fused batch kernel (:mod:`autopilot.stats._kernels`)
is tested against. They accept a 1-D ndarray or a pandas Series of simple per-bar
returns. Conventions (see DESIGN.md): drawdowns are positive fractions, equity starts at
1.0 before the first return, Sharpe ratios use the sample standard deviation (ddof=1),
risk-free rates are annual and converted to per-period once.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
from numpy.typing import ArrayLike

# Defined apart so that light modules read it without NumPy; importable from here as before.
from autopilot.stats.regime_labels import MISSING_REGIME

# Elementwise erfc without a compile step at import (NaN stays NaN); a batch holds at
# most tens of thousands of values, so the per-element call costs a few milliseconds.
_erfc = np.frompyfunc(math.erfc, 1, 1)


def normal_cdf(z: ArrayLike) -> np.ndarray:
    """Standard normal CDF, elementwise (NaN stays NaN)."""
    return np.asarray(0.5 * _erfc(-np.asarray(z, dtype=np.float64) / math.sqrt(2.0)), dtype=float)


__all__ = [
    "EULER_MASCHERONI",
    "deflated_sharpe_ratio",
    "expected_max_sharpe",
    "kurtosis",
    "max_drawdown",
    "merge_windows",
    "per_period_rate",
    "probabilistic_sharpe_ratio",
    "sharpe_ratio",
    "skewness",
    "transition_drawdown",
    "transition_windows",
]

EULER_MASCHERONI = 0.5772156649015329
_NORMAL = NormalDist()


def _as_array(values: ArrayLike) -> np.ndarray:
    return np.asarray(values, dtype=np.float64).ravel()


def per_period_rate(annual_rate: float, periods_per_year: int) -> float:
    """Convert an annual rate to a per-period one: ``(1 + annual) ** (1 / P) - 1``."""
    return (1.0 + annual_rate) ** (1.0 / periods_per_year) - 1.0


def sharpe_ratio(returns: ArrayLike, periods_per_year: int, risk_free_rate: float = 0.0) -> float:
    """Annualised Sharpe ratio: ``mean(r - rf_p) / std(r, ddof=1) * sqrt(P)``.

    Parameters
    ----------
    returns : array-like
        Simple per-bar returns.
    periods_per_year : int
        Bars per year (252 for daily equities).
    risk_free_rate : float
        Annual risk-free rate, converted with :func:`per_period_rate`.

    Returns
    -------
    float
        NaN for fewer than two returns or zero variance (never an infinite ratio).
    """
    r = _as_array(returns)
    if r.size < 2:
        return math.nan
    std = r.std(ddof=1)
    if std == 0.0 or np.ptp(r) == 0.0:
        return math.nan
    excess = r.mean() - per_period_rate(risk_free_rate, periods_per_year)
    return float(excess / std * math.sqrt(periods_per_year))


def drawdowns(returns: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Equity (1.0 before the first return) and drawdown, both with ``n + 1`` points.

    The drawdown is the positive fraction ``1 - E_t / max_{s <= t} E_s``.
    """
    r = _as_array(returns)
    equity = np.concatenate(([1.0], np.cumprod(1.0 + r)))
    return equity, 1.0 - equity / np.maximum.accumulate(equity)


def max_drawdown(returns: ArrayLike) -> float:
    """Maximum drawdown as a positive fraction; equity is 1.0 before the first return.

    ``MDD = max_t (1 - E_t / max_{s <= t} E_s)`` with ``E_{-1} = 1``.
    """
    return float(np.max(drawdowns(returns)[1]))


def regime_changes(labels: ArrayLike) -> np.ndarray:
    """Boolean flags of the bars ``t >= 1`` whose label differs from bar ``t - 1``'s.

    A bar next to a missing label (:data:`MISSING_REGIME`) is not a change: nothing is
    known about what happened there.
    """
    lab = np.asarray(labels).ravel()
    change = np.zeros(lab.size, dtype=bool)
    known = lab != MISSING_REGIME
    change[1:] = (lab[1:] != lab[:-1]) & known[1:] & known[:-1]
    return change


def merge_windows(change_bars: ArrayLike, window: int, n_bars: int) -> list[tuple[int, int]]:
    """Merge the windows ``max(0, t - window) .. min(n_bars - 1, t + window)`` of sorted bars.

    Windows that share a bar become one; bounds are inclusive.
    """
    merged: list[tuple[int, int]] = []
    for t in np.asarray(change_bars, dtype=np.int64):
        start, end = max(0, int(t) - window), min(n_bars - 1, int(t) + window)
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def transition_windows(labels: ArrayLike, window: int) -> list[tuple[int, int]]:
    """Merged windows of ``±window`` bars around regime changes.

    A change is a bar of :func:`regime_changes`; its window is
    ``max(0, t - window) .. min(n - 1, t + window)`` (inclusive); windows sharing a bar merge.
    """
    changes = regime_changes(labels)
    return merge_windows(np.flatnonzero(changes), window, changes.size)


def transition_drawdown(returns: ArrayLike, labels: ArrayLike, window: int = 3) -> float:
    """Largest drawdown inside the merged windows around regime changes.

    Inside each window equity is re-anchored at 1.0 just before the window's first bar and
    the peak resets. Returns NaN when the labels never change.
    """
    r = _as_array(returns)
    lab = np.asarray(labels).ravel()
    if lab.size != r.size:
        raise ValueError(f"returns has {r.size} bars but labels has {lab.size}")
    windows = transition_windows(lab, window)
    if not windows:
        return math.nan
    return max(max_drawdown(r[start : end + 1]) for start, end in windows)


def skewness(returns: ArrayLike) -> float:
    """Moment skewness ``m3 / m2**1.5`` (the biased estimator used by Bailey & López de Prado)."""
    r = _as_array(returns)
    d = r - r.mean()
    m2 = np.mean(d**2)
    return float(np.mean(d**3) / m2**1.5)


def kurtosis(returns: ArrayLike) -> float:
    """Raw (not excess) moment kurtosis ``m4 / m2**2``; 3 for a normal distribution."""
    r = _as_array(returns)
    d = r - r.mean()
    m2 = np.mean(d**2)
    return float(np.mean(d**4) / m2**2)


def probabilistic_sharpe_ratio(
    sharpe: ArrayLike,
    benchmark: ArrayLike,
    n_obs: ArrayLike,
    skew: ArrayLike = 0.0,
    kurt: ArrayLike = 3.0,
) -> float | np.ndarray:
    """Probabilistic Sharpe ratio (Bailey & López de Prado, 2012).

    ``Φ((SR - SR*) * sqrt(T - 1) / sqrt(1 - γ3 SR + (γ4 - 1) / 4 SR²))`` with per-period
    Sharpe ratios, skewness γ3 and raw kurtosis γ4. Arguments broadcast like NumPy arrays.

    Returns
    -------
    float or ndarray
        NaN where ``n_obs < 2`` or the variance term is not positive.
    """
    sr, sr_star, n, g3, g4 = (
        np.asarray(a, dtype=np.float64) for a in (sharpe, benchmark, n_obs, skew, kurt)
    )
    denominator = 1.0 - g3 * sr + (g4 - 1.0) / 4.0 * sr**2
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (sr - sr_star) * np.sqrt(n - 1.0) / np.sqrt(denominator)
    z = np.where((n >= 2) & (denominator > 0.0), z, np.nan)
    result = normal_cdf(z)
    return float(result) if np.ndim(result) == 0 else result


def expected_max_sharpe(n_trials: int, variance: float = 1.0) -> float:
    """Expected maximum Sharpe ratio of ``n_trials`` unskilled trials (the DSR benchmark).

    ``sqrt(V) * ((1 - γ) Φ⁻¹(1 - 1/N) + γ Φ⁻¹(1 - 1/(N e)))``, γ the Euler-Mascheroni
    constant.
    """
    if n_trials < 2:
        raise ValueError(f"n_trials must be at least 2, was {n_trials}")
    g = EULER_MASCHERONI
    bracket = (1.0 - g) * _NORMAL.inv_cdf(1.0 - 1.0 / n_trials) + g * _NORMAL.inv_cdf(
        1.0 - 1.0 / (n_trials * math.e)
    )
    return math.sqrt(variance) * bracket


def deflated_sharpe_ratio(
    sharpe: ArrayLike,
    n_obs: ArrayLike,
    skew: ArrayLike,
    kurt: ArrayLike,
    sharpe_variance: float,
    n_trials: int,
) -> float | np.ndarray:
    """Deflated Sharpe ratio (Bailey & López de Prado, 2014), per-period units.

    The PSR of ``sharpe`` against the expected maximum of ``n_trials`` Sharpe ratios whose
    cross-sectional variance is ``sharpe_variance``.
    """
    benchmark = expected_max_sharpe(n_trials, sharpe_variance)
    return probabilistic_sharpe_ratio(sharpe, benchmark, n_obs, skew, kurt)
