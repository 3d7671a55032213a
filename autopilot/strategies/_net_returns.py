"""The backtest's accounting in one pass: a candidate's positions into its net returns."""

from __future__ import annotations

import math

import numba
import numpy as np


@numba.njit(cache=True, nogil=True, error_model="numpy")
def net_returns(
    weights: np.ndarray, close: np.ndarray, cost_rate: float, impact: np.ndarray
) -> np.ndarray:  # pragma: no cover - jitted
    """Per-bar returns of holding ``weights[t-1]`` over bar ``t``, net of trading costs.

    ``weights`` and ``close`` are ``T x N`` (NaN weight = no position = 0, NaN close = no
    price: the holding earns 0 that bar). The trade made at the close of ``t-1`` turns over
    ``d = |w[t-1] - w[t-2]|`` per security (``w[-1] = 0``) and costs ``cost_rate * d``, plus
    ``impact[t-1, i] * d ** 1.5`` when ``impact`` is a ``T x N`` array (square-root market
    impact; an empty array leaves it out). The result is NaN up to and including the first
    row holding a finite weight.
    """
    n_bars, n = weights.shape
    out = np.full(n_bars, np.nan)
    first = -1
    for t in range(n_bars):
        for i in range(n):
            if weights[t, i] == weights[t, i]:
                first = t
                break
        if first >= 0:
            break
    if first < 0:
        return out
    with_impact = impact.shape[0] > 0
    for t in range(first + 1, n_bars):
        gross = 0.0
        cost = 0.0
        for i in range(n):
            held = weights[t - 1, i]
            held = held if held == held else 0.0
            change = close[t, i] / close[t - 1, i] - 1.0
            gross += held * change if change == change else 0.0
            before = weights[t - 2, i] if t >= 2 else 0.0
            traded = abs(held - (before if before == before else 0.0))
            cost += cost_rate * traded
            if with_impact:
                cost += impact[t - 1, i] * traded * math.sqrt(traded)
        out[t] = gross - cost
    return out
