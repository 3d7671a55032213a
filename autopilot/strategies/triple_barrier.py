"""Triple-barrier labels of trade entries, for meta-labeling.

An *event* is the entry of a primary signal at the close of bar ``t`` on the side
``+1`` (long) or ``-1`` (short). Its label says whether that trade would have paid, by
the first of three barriers its side-adjusted path return ``side * (P_s / P_t - 1)``
touches on the bars ``s = t+1, ..., t+max_bars``:

- the profit-take barrier ``+profit_take * width_t`` → label 1;
- the stop-loss barrier ``-stop_loss * width_t`` → label 0;
- the vertical barrier at ``s = t + max_bars`` → label 1 when the return there is above
  zero, else 0.

``width_t = volatility_t * sqrt(max_bars)`` scales the horizontal barriers to the
horizon, with ``volatility_t`` the causal per-bar volatility known at the entry
(:func:`causal_volatility`). A bar that touches both barriers at once cannot happen: the
barriers have opposite signs.

An event is *resolved* at the bar of its first touch; an event whose horizon runs past the
data without a touch, or whose entry has no volatility yet, has no label (``exit = -1``).
Training on events known at a date ``D`` uses only events with ``exit <= D``: their
labels read no price after ``D``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from autopilot.errors import InputError

__all__ = [
    "BARRIER_PROFIT",
    "BARRIER_STOP",
    "BARRIER_VERTICAL",
    "UNRESOLVED",
    "Labels",
    "causal_volatility",
    "triple_barrier",
]

BARRIER_STOP = -1
BARRIER_VERTICAL = 0
BARRIER_PROFIT = 1
UNRESOLVED = -1


@dataclass(frozen=True)
class Labels:
    """Triple-barrier outcome of each event, arrays aligned with the events given.

    Attributes
    ----------
    entry : ndarray of int64
        The entry bar of each event.
    exit : ndarray of int64
        The bar where its label became known; ``-1`` when it has no label.
    label : ndarray of int8
        1 when the trade paid, 0 when not, ``-1`` without a label.
    barrier : ndarray of int8
        Which barrier ended it: 1 profit-take, -1 stop-loss, 0 vertical (meaningless
        without a label).
    ret : ndarray of float64
        The side-adjusted simple return from entry to exit; NaN without a label.
    """

    entry: np.ndarray
    exit: np.ndarray
    label: np.ndarray
    barrier: np.ndarray
    ret: np.ndarray

    def known_at(self, bar: int) -> np.ndarray:
        """Boolean mask of the events whose label is known at ``bar`` (resolved by then)."""
        return (self.exit >= 0) & (self.exit <= bar)


def causal_volatility(close: pd.Series | np.ndarray, span: int) -> np.ndarray:
    """Per-bar volatility of simple returns, exponentially weighted, from bars up to each one.

    Parameters
    ----------
    close : Series or ndarray, shape (T,)
        Positive prices.
    span : int
        The span of the exponential weights (``alpha = 2 / (span + 1)``); at least 2.

    Returns
    -------
    ndarray, shape (T,)
        NaN until ``span`` returns are known, then the bias-corrected EW standard deviation
        of the returns up to and including that bar.
    """
    if span < 2:
        raise InputError(f"the volatility span must be at least 2 bars, was {span}")
    prices = np.asarray(close, dtype=np.float64)
    returns = pd.Series(prices).pct_change(fill_method=None)
    volatility = returns.ewm(span=span, min_periods=span).std()
    return volatility.to_numpy(dtype=np.float64, na_value=np.nan)


def triple_barrier(
    close: np.ndarray,
    entries: np.ndarray,
    sides: np.ndarray,
    volatility: np.ndarray,
    *,
    profit_take: float,
    stop_loss: float,
    max_bars: int,
) -> Labels:
    """Label each entry by the first barrier its path touches (see the module docstring).

    Parameters
    ----------
    close : ndarray, shape (T,)
        Positive prices of the traded security, one per bar.
    entries : ndarray of int, shape (E,)
        Entry bars (positions in ``close``).
    sides : ndarray of int, shape (E,)
        ``+1`` long or ``-1`` short, per event.
    volatility : ndarray, shape (T,)
        Causal per-bar volatility (:func:`causal_volatility`); NaN where unknown.
    profit_take, stop_loss : float
        Barrier multiples of the horizon's volatility; positive and finite.
    max_bars : int
        The vertical barrier, in bars after the entry; at least 1.

    Returns
    -------
    Labels
    """
    prices = np.asarray(close, dtype=np.float64)
    entry = np.asarray(entries, dtype=np.int64)
    side = np.asarray(sides, dtype=np.int64)
    sigma = np.asarray(volatility, dtype=np.float64)
    _check(prices, entry, side, sigma, profit_take, stop_loss, max_bars)
    n_bars, n_events = prices.size, entry.size
    # Side-adjusted path returns of every event over its horizon: an E x max_bars array
    # (bars past the data are NaN and touch nothing).
    offsets = np.arange(1, max_bars + 1)
    bars = entry[:, None] + offsets[None, :]
    inside = bars < n_bars
    path = np.where(inside, prices[np.minimum(bars, n_bars - 1)], np.nan)
    returns = side[:, None] * (path / prices[entry][:, None] - 1.0)
    width = sigma[entry] * math.sqrt(max_bars)
    with np.errstate(invalid="ignore"):
        up = returns >= profit_take * width[:, None]
        down = returns <= -stop_loss * width[:, None]
    first_up = np.where(up.any(axis=1), up.argmax(axis=1), max_bars)
    first_down = np.where(down.any(axis=1), down.argmax(axis=1), max_bars)
    touched = np.minimum(first_up, first_down)
    vertical = touched == max_bars
    complete = inside[:, -1]  # the vertical barrier is inside the data
    labelled = np.isfinite(width) & (~vertical | complete)

    exit_ = np.full(n_events, UNRESOLVED, dtype=np.int64)
    label = np.full(n_events, -1, dtype=np.int8)
    barrier = np.zeros(n_events, dtype=np.int8)
    ret = np.full(n_events, np.nan)
    step = np.where(vertical, max_bars - 1, touched)  # column of the exit bar
    rows = np.flatnonzero(labelled)
    exit_[rows] = entry[rows] + step[rows] + 1
    ret[rows] = returns[rows, step[rows]]
    barrier[rows] = np.where(
        vertical[rows],
        BARRIER_VERTICAL,
        np.where(first_up[rows] < first_down[rows], BARRIER_PROFIT, BARRIER_STOP),
    )
    label[rows] = np.where(vertical[rows], ret[rows] > 0.0, barrier[rows] == BARRIER_PROFIT).astype(
        np.int8
    )
    return Labels(entry, exit_, label, barrier, ret)


def _check(
    prices: np.ndarray,
    entry: np.ndarray,
    side: np.ndarray,
    sigma: np.ndarray,
    profit_take: float,
    stop_loss: float,
    max_bars: int,
) -> None:
    if prices.ndim != 1 or sigma.shape != prices.shape:
        raise InputError(
            f"close and volatility must be 1-D of the same length, got {prices.shape} and "
            f"{sigma.shape}"
        )
    if not (np.isfinite(prices).all() and (prices > 0.0).all()):
        raise InputError("close prices must be positive and finite on every bar")
    if entry.ndim != 1 or side.shape != entry.shape:
        raise InputError(
            f"entries and sides must be 1-D of the same length, got {entry.shape} and {side.shape}"
        )
    if entry.size and (entry.min() < 0 or entry.max() >= prices.size):
        raise InputError(f"entry bars must lie in 0..{prices.size - 1}")
    if not np.isin(side, (-1, 1)).all():
        raise InputError("sides must be +1 (long) or -1 (short)")
    for name, value in (("profit_take", profit_take), ("stop_loss", stop_loss)):
        if not (math.isfinite(value) and value > 0.0):
            raise InputError(f"The {name!r} barrier must be a positive number, was {value!r}.")
    if isinstance(max_bars, bool) or not isinstance(max_bars, int | np.integer) or max_bars < 1:
        raise InputError(f"The 'max_bars' barrier must be an integer >= 1, was {max_bars!r}.")
