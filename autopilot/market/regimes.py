"""A causal volatility regime rule: calm (0) or turbulent (1), ``-1`` without enough history.

The label at bar ``t`` uses prices up to and including bar ``t`` only, so labels computed
on a truncated series equal the leading labels computed on the full one.

Rule
----
1. Simple returns ``r_t = P_t / P_{t-1} - 1``.
2. Realised volatility ``v_t`` = sample standard deviation (ddof=1) of the last
   ``lookback`` returns ``r_{t-lookback+1} .. r_t``.
3. Reference level ``m_t`` = median of the last ``threshold_window`` values ``v`` up to
   and including ``v_t``.
4. Hysteresis, so that noise around the reference does not flip the label every few bars
   (each flip opens a transition window for the transition-drawdown gate): a calm bar
   turns turbulent when ``v_t > enter_ratio * m_t``; a turbulent bar turns calm
   when ``v_t < exit_ratio * m_t``; in between the previous label is kept. The first labelled bar
   starts calm unless it already exceeds the entry level.

Bars before ``v_t`` and ``m_t`` are both defined (the first ``lookback + threshold_window - 1``
bars), and bars whose windows contain a missing price, get ``-1`` (the ``MISSING_REGIME``
code of :class:`autopilot.stats.batch.CandidateBatch`). A ``-1`` bar does not reset the hysteresis
state: the next labelled bar continues from the last known label.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from autopilot.errors import InputError
from autopilot.stats.metrics import MISSING_REGIME

__all__ = ["CALM", "REGIME_NAMES", "TURBULENT", "volatility_regimes"]

logger = logging.getLogger(__name__)

CALM = 0
TURBULENT = 1
REGIME_NAMES: tuple[str, ...] = ("calm", "turbulent")


def volatility_regimes(
    prices: pd.Series,
    lookback: int = 21,
    threshold_window: int = 252,
    *,
    enter_ratio: float = 1.25,
    exit_ratio: float = 1.0,
) -> pd.Series:
    """Label each bar calm (0) or turbulent (1) from trailing realised volatility.

    Parameters
    ----------
    prices : pandas.Series
        Positive prices (e.g. an index level), one per bar, in time order.
    lookback : int
        Returns in the realised-volatility window (21 ≈ one trading month); at least 2.
    threshold_window : int
        Volatility values in the trailing median that serves as the reference level
        (252 ≈ one trading year); at least 1.
    enter_ratio : float
        A calm bar turns turbulent when volatility exceeds ``enter_ratio`` times the reference.
    exit_ratio : float
        A turbulent bar turns calm when volatility falls below ``exit_ratio`` times the reference;
        must not exceed ``enter_ratio`` (equal ratios disable the hysteresis).

    Returns
    -------
    pandas.Series
        ``int64`` labels named ``"regime"`` on the index of ``prices``: 0 calm, 1 turbulent,
        -1 where there is not enough history (see the module docstring).

    Raises
    ------
    InputError
        If ``prices`` is not a Series, contains non-positive values, or a parameter is out
        of range.
    """
    if not isinstance(prices, pd.Series):
        raise InputError(f"prices must be a pandas Series, got {type(prices).__name__}")
    if lookback < 2:
        raise InputError(f"lookback must be at least 2 returns, was {lookback}")
    if threshold_window < 1:
        raise InputError(f"threshold_window must be at least 1, was {threshold_window}")
    if not 0.0 < exit_ratio <= enter_ratio:
        raise InputError(
            f"need 0 < exit_ratio <= enter_ratio, got exit_ratio={exit_ratio}, "
            f"enter_ratio={enter_ratio}"
        )
    values = prices.to_numpy(dtype=np.float64, na_value=np.nan)
    if (values <= 0.0).any():
        raise InputError("prices must be positive to form returns")

    returns = pd.Series(values).pct_change(fill_method=None)
    # min_periods equal to the window: a window with any missing value gives NaN, hence -1.
    vol = returns.rolling(lookback, min_periods=lookback).std(ddof=1)
    reference = vol.rolling(threshold_window, min_periods=threshold_window).median()
    labels = _hysteresis(vol.to_numpy(), reference.to_numpy(), enter_ratio, exit_ratio)
    logger.debug(
        "volatility regimes: %d bars, %d turbulent, %d unlabelled",
        labels.size,
        int((labels == TURBULENT).sum()),
        int((labels == MISSING_REGIME).sum()),
    )
    return pd.Series(labels, index=prices.index, name="regime", dtype=np.int64)


def _hysteresis(
    vol: np.ndarray, reference: np.ndarray, enter_ratio: float, exit_ratio: float
) -> np.ndarray:
    """Run the two-level switch bar by bar; the state only depends on earlier bars."""
    labels = np.full(vol.size, MISSING_REGIME, dtype=np.int64)
    valid = np.isfinite(vol) & np.isfinite(reference)
    state = CALM
    for t in np.flatnonzero(valid):
        if state == CALM and vol[t] > enter_ratio * reference[t]:
            state = TURBULENT
        elif state == TURBULENT and vol[t] < exit_ratio * reference[t]:
            state = CALM
        labels[t] = state
    return labels
