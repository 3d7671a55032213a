"""Tearsheet figures of one equity series sampled once per cycle.

The series is the value of a book (or of an index rebased to it) at each cycle's date,
the first point being the value before the first return. Returns are simple returns from
one point to the next; the number of returns a year, ``P``, is read off the dates (the
spacing of cycles is a schedule, not a configured bar frequency) by
:func:`periods_per_year`, and every annualised figure uses it:

=============  ===================================================================
CAGR           ``(E_n / E_0) ** (P / n) - 1`` over ``n`` returns
volatility     ``std(r, ddof=1) * sqrt(P)``
Sharpe         ``mean(r) / std(r, ddof=1) * sqrt(P)`` (risk-free rate 0)
Sortino        ``mean(r) / sqrt(mean(min(r, 0) ** 2)) * sqrt(P)`` (target 0, the
               downside deviation over every return)
max drawdown   ``max_t (1 - E_t / max_{s <= t} E_s)``, a positive fraction
Calmar         ``CAGR / max drawdown``
=============  ===================================================================

A figure that is not defined (fewer than two returns, no variation, no loss, no drawdown)
is NaN, never an infinite ratio.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

__all__ = [
    "DAYS_PER_YEAR",
    "Drawdown",
    "annual_volatility",
    "cagr",
    "calmar_ratio",
    "drawdown_series",
    "max_drawdown",
    "monthly_returns",
    "periods_per_year",
    "rolling_sharpe",
    "sharpe_ratio",
    "simple_returns",
    "sortino_ratio",
    "summary",
    "worst_drawdowns",
]

#: Days in a year, on average over the Gregorian leap cycle.
DAYS_PER_YEAR = 365.25


def periods_per_year(dates: Sequence[date] | pd.DatetimeIndex) -> float:
    """Returns a year implied by the dates: ``(n - 1) * 365.25 / days`` for ``n`` dates.

    Raises
    ------
    ValueError
        Fewer than two dates, or dates that do not increase.
    """
    index = pd.DatetimeIndex(list(dates))
    if index.size < 2:
        raise ValueError(f"{index.size} date(s): a return needs two")
    if not index.is_monotonic_increasing or not index.is_unique:
        raise ValueError("the dates do not increase")
    days = (index[-1] - index[0]).days
    return (index.size - 1) * DAYS_PER_YEAR / days


def _equity(values: ArrayLike) -> np.ndarray:
    equity = np.asarray(values, dtype=np.float64)
    if equity.ndim != 1 or equity.size < 1:
        raise ValueError("equity must be a non-empty 1-D series")
    if not (np.isfinite(equity).all() and (equity > 0).all()):
        raise ValueError("equity must be finite and positive")
    return equity


def simple_returns(equity: ArrayLike) -> np.ndarray:
    """``E_t / E_{t-1} - 1``: one return fewer than points."""
    e = _equity(equity)
    return e[1:] / e[:-1] - 1.0


def cagr(equity: ArrayLike, periods_per_year: float) -> float:
    """Compound annual growth: ``(E_n / E_0) ** (P / n) - 1`` over ``n`` returns."""
    e = _equity(equity)
    n = e.size - 1
    if n < 1:
        return math.nan
    return float((e[-1] / e[0]) ** (periods_per_year / n) - 1.0)


def annual_volatility(returns: ArrayLike, periods_per_year: float) -> float:
    """``std(r, ddof=1) * sqrt(P)``; NaN for fewer than two returns."""
    r = np.asarray(returns, dtype=np.float64)
    if r.size < 2:
        return math.nan
    return float(r.std(ddof=1) * math.sqrt(periods_per_year))


def sharpe_ratio(returns: ArrayLike, periods_per_year: float) -> float:
    """``mean(r) / std(r, ddof=1) * sqrt(P)``; NaN for fewer than two returns or no variation."""
    r = np.asarray(returns, dtype=np.float64)
    if r.size < 2 or np.ptp(r) == 0.0:
        return math.nan
    return float(r.mean() / r.std(ddof=1) * math.sqrt(periods_per_year))


def sortino_ratio(returns: ArrayLike, periods_per_year: float) -> float:
    """``mean(r) / sqrt(mean(min(r, 0) ** 2)) * sqrt(P)``; NaN without returns or a loss."""
    r = np.asarray(returns, dtype=np.float64)
    if r.size < 1:
        return math.nan
    downside = math.sqrt(float(np.mean(np.minimum(r, 0.0) ** 2)))
    if downside == 0.0:
        return math.nan
    return float(r.mean() / downside * math.sqrt(periods_per_year))


def drawdown_series(equity: ArrayLike) -> np.ndarray:
    """``1 - E_t / max_{s <= t} E_s`` at every point (0 at a new high)."""
    e = _equity(equity)
    return 1.0 - e / np.maximum.accumulate(e)


def max_drawdown(equity: ArrayLike) -> float:
    """The deepest drawdown, a positive fraction (0 for a series that never fell)."""
    return float(drawdown_series(equity).max())


def calmar_ratio(equity: ArrayLike, periods_per_year: float) -> float:
    """``CAGR / max drawdown``; NaN when the series never fell."""
    deepest = max_drawdown(equity)
    return math.nan if deepest == 0.0 else cagr(equity, periods_per_year) / deepest


@dataclass(frozen=True)
class Drawdown:
    """One fall from a high and the recovery to it, as positions in the series.

    Attributes
    ----------
    depth : float
        ``1 - trough / peak``, a positive fraction.
    peak, trough : int
        The high it fell from and its lowest point.
    recovery : int or None
        The first point back at or above the peak; None while it has not recovered.
    """

    depth: float
    peak: int
    trough: int
    recovery: int | None


def worst_drawdowns(equity: ArrayLike, n: int = 5) -> list[Drawdown]:
    """The ``n`` deepest drawdowns, deepest first (ties: the earlier first).

    An episode starts at a high the series then falls below and ends at the first point
    back at that high, so episodes never overlap.
    """
    e = _equity(equity)
    episodes: list[Drawdown] = []
    peak = 0
    trough = 0
    for t in range(1, e.size):
        if e[t] >= e[peak]:
            if trough != peak:
                episodes.append(Drawdown(1.0 - e[trough] / e[peak], peak, trough, t))
            peak = trough = t
        elif e[t] < e[trough]:
            trough = t
    if trough != peak:
        episodes.append(Drawdown(1.0 - e[trough] / e[peak], peak, trough, None))
    episodes.sort(key=lambda d: (-d.depth, d.peak))
    return episodes[: max(n, 0)]


def rolling_sharpe(returns: ArrayLike, window: int, periods_per_year: float) -> np.ndarray:
    """Sharpe ratio of each run of ``window`` returns ending at each return.

    The first ``window - 1`` values, and windows without variation, are NaN.
    """
    if window < 2:
        raise ValueError(f"window must be at least 2, was {window}")
    r = np.asarray(returns, dtype=np.float64)
    out = np.full(r.size, np.nan)
    for end in range(window, r.size + 1):
        out[end - 1] = sharpe_ratio(r[end - window : end], periods_per_year)
    return out


def monthly_returns(equity: pd.Series) -> pd.DataFrame:
    """Returns by calendar month and year, from the last point of each month.

    Parameters
    ----------
    equity : pandas.Series
        Values indexed by increasing dates; the first is the value the first month's
        return starts from.

    Returns
    -------
    pandas.DataFrame
        One row per year, columns ``1`` to ``12`` (NaN for a month without a point)
        and ``"year"``: a month's last value over the previous month's (or the first
        value), and a year's last value over the previous year's (or the first value).
    """
    values = _equity(equity.to_numpy())
    index = pd.DatetimeIndex(equity.index)
    series = pd.Series(values, index=index)
    start = values[0]
    months = series.groupby(index.to_period("M")).last()
    monthly = months / months.shift(1, fill_value=start) - 1.0
    years = series.groupby(index.year).last()
    yearly = years / years.shift(1, fill_value=start) - 1.0
    table = pd.DataFrame(np.nan, index=years.index, columns=[*range(1, 13), "year"])
    for period, value in monthly.items():
        table.loc[period.year, period.month] = value  # type: ignore[attr-defined]
    table["year"] = yearly
    table.index.name = None
    return table


def summary(equity: ArrayLike, periods_per_year: float) -> dict[str, float]:
    """Every scalar figure of the tearsheet for one equity series.

    Returns
    -------
    dict
        ``total_return``, ``cagr``, ``volatility``, ``sharpe``, ``sortino``,
        ``max_drawdown``, ``calmar``, ``best``, ``worst`` (best and worst single return)
        and ``positive`` (the share of returns above zero).
    """
    e = _equity(equity)
    r = simple_returns(e)
    return {
        "total_return": float(e[-1] / e[0] - 1.0),
        "cagr": cagr(e, periods_per_year),
        "volatility": annual_volatility(r, periods_per_year),
        "sharpe": sharpe_ratio(r, periods_per_year),
        "sortino": sortino_ratio(r, periods_per_year),
        "max_drawdown": max_drawdown(e),
        "calmar": calmar_ratio(e, periods_per_year),
        "best": float(r.max()) if r.size else math.nan,
        "worst": float(r.min()) if r.size else math.nan,
        "positive": float((r > 0).mean()) if r.size else math.nan,
    }
