"""The one-pass check of a family's positions against the contract (see ``family.py``)."""

from __future__ import annotations

import numba
import numpy as np

#: What :func:`first_violation` found: nothing, an infinite weight, a weight where the
#: security has no price, a row whose absolute weights sum to more than 1.
OK, INFINITE, UNPRICED, OVER_GROSS = 0, 1, 2, 3


@numba.njit(cache=True, nogil=True)
def first_violation(
    weights: np.ndarray, close: np.ndarray, tolerance: float
) -> tuple[int, int, int, float]:  # pragma: no cover - jitted
    """``(kind, row, column, value)`` of the first break of the contract, row by row.

    ``kind`` is one of the constants above (``OK`` with row -1 when there is none); for
    ``OVER_GROSS`` the column is -1 and the value is the row's gross exposure.
    """
    n_bars, n = weights.shape
    for t in range(n_bars):
        # Flags and sums without a branch per weight; the row is searched only if it broke.
        gross = 0.0
        infinite = False
        unpriced = False
        for i in range(n):
            w = weights[t, i]
            held = w == w
            gross += abs(w) if held else 0.0
            infinite |= np.isinf(w)
            unpriced |= held & (w != 0.0) & (close[t, i] != close[t, i])
        if infinite or unpriced:
            for i in range(n):
                w = weights[t, i]
                if np.isinf(w):
                    return INFINITE, t, i, w
                if w == w and w != 0.0 and close[t, i] != close[t, i]:
                    return UNPRICED, t, i, w
        if gross > 1.0 + tolerance:
            return OVER_GROSS, t, -1, gross
    return OK, -1, -1, 0.0
