"""Features of trade events for the meta-labeler, each known at the event's entry bar.

An event is a primary signal's entry: a bar, a security, a side (+1 long, -1 short), the
family that signalled it and the signal's strength. Its features use prices up to and
including the entry bar only:

========================  ==============================================================
column                    meaning
========================  ==============================================================
``family=<name>``         1.0 for the event's family, one column per family given
``side``                  +1 long, -1 short
``strength``              the family's signal strength (its own scale)
``return_<h>``            the security's simple return over the last ``h`` bars
``volatility``            its exponentially weighted per-bar volatility (span 21)
``trend``                 its price over its 63-bar mean, minus 1
``regime``                the regime label at the entry (-1 when unknown)
``regime_confidence``     the regime model's confidence in it (NaN when unknown)
``market_return``         the market's 21-bar return
``market_volatility``     the market's exponentially weighted volatility (span 21)
========================  ==============================================================

A feature without enough history is NaN (the default classifier handles missing values).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from autopilot.errors import InputError

__all__ = ["RETURN_HORIZONS", "event_features"]

RETURN_HORIZONS = (5, 21, 63)
_VOLATILITY_SPAN = 21
_TREND_WINDOW = 63
_MARKET_HORIZON = 21


def event_features(
    close: np.ndarray,
    market: np.ndarray,
    regimes: np.ndarray,
    confidence: np.ndarray,
    *,
    bars: np.ndarray,
    securities: np.ndarray,
    sides: np.ndarray,
    families: Sequence[str],
    strengths: np.ndarray,
    family_names: Sequence[str],
) -> pd.DataFrame:
    """One row of features per event, in the order given.

    Parameters
    ----------
    close : ndarray, shape (T, S)
        Prices of the universe (NaN before a security's first price or after its last).
    market : ndarray, shape (T,)
        The market's level (an index).
    regimes, confidence : ndarray, shape (T,)
        Regime label and confidence per bar.
    bars, securities, sides : ndarray of int, shape (E,)
        Each event's entry bar, security column and side.
    families : sequence of str, length E
        Each event's family.
    strengths : ndarray, shape (E,)
        Each event's signal strength.
    family_names : sequence of str
        Every family the model knows, fixing the one-hot columns and their order.

    Returns
    -------
    DataFrame
        Columns as in the module docstring, one row per event.
    """
    prices = np.asarray(close, dtype=np.float64)
    n_bars = prices.shape[0]
    bar = np.asarray(bars, dtype=np.int64)
    column = np.asarray(securities, dtype=np.int64)
    names = list(family_names)
    unknown = sorted(set(families) - set(names))
    if unknown:
        raise InputError(f"events of families {unknown} not among the model's {names}")
    if bar.size and (bar.min() < 0 or bar.max() >= n_bars):
        raise InputError(f"event bars must lie in 0..{n_bars - 1}")
    frame = pd.DataFrame(prices)
    features: dict[str, np.ndarray] = {}
    kinds = np.asarray(list(families), dtype=object)
    for name in names:
        features[f"family={name}"] = (kinds == name).astype(np.float64)
    features["side"] = np.asarray(sides, dtype=np.float64)
    features["strength"] = np.asarray(strengths, dtype=np.float64)
    for horizon in RETURN_HORIZONS:
        trailing = (frame / frame.shift(horizon) - 1.0).to_numpy()
        features[f"return_{horizon}"] = trailing[bar, column]
    returns = frame.pct_change(fill_method=None)
    volatility = returns.ewm(span=_VOLATILITY_SPAN, min_periods=_VOLATILITY_SPAN).std()
    features["volatility"] = volatility.to_numpy()[bar, column]
    mean = frame.rolling(_TREND_WINDOW, min_periods=_TREND_WINDOW).mean()
    features["trend"] = (frame / mean - 1.0).to_numpy()[bar, column]
    features["regime"] = np.asarray(regimes, dtype=np.float64)[bar]
    features["regime_confidence"] = np.asarray(confidence, dtype=np.float64)[bar]
    level = pd.Series(np.asarray(market, dtype=np.float64))
    market_return = (level / level.shift(_MARKET_HORIZON) - 1.0).to_numpy()
    market_volatility = (
        level.pct_change(fill_method=None)
        .ewm(span=_VOLATILITY_SPAN, min_periods=_VOLATILITY_SPAN)
        .std()
        .to_numpy()
    )
    features["market_return"] = market_return[bar]
    features["market_volatility"] = market_volatility[bar]
    return pd.DataFrame(features)
