"""Causality of the regime models: appending future bars never changes an earlier bar's regime."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import event, given, settings
from hypothesis import strategies as st

from autopilot.market.regime_models import gaussian_mixture_regimes, regimes_from_config
from autopilot.market.regime_settings import RegimeSettings
from autopilot.stats.metrics import MISSING_REGIME
from tests.strategies import mixture_params, price_paths

SETTINGS = settings(derandomize=True, deadline=None, max_examples=25)


def _series(values: np.ndarray) -> pd.Series:
    return pd.Series(values, index=pd.bdate_range("2001-01-01", periods=values.size))


def _assert_same_prefix(short, long) -> None:
    n = len(short.labels)
    np.testing.assert_array_equal(short.labels.to_numpy(), long.labels.to_numpy()[:n])
    # Bit for bit, NaN where unlabelled: not a tolerance.
    assert np.array_equal(
        short.confidence.to_numpy(), long.confidence.to_numpy()[:n], equal_nan=True
    )
    assert short.labels.index.equals(long.labels.index[:n])
    assert short.fits == long.fits[: len(short.fits)]


@SETTINGS
@given(
    past=price_paths(min_bars=240, max_bars=480),
    future=price_paths(min_bars=1, max_bars=200),
    params=mixture_params(),
)
def test_appending_future_bars_never_changes_an_earlier_mixture_regime(past, future, params):
    # The future continues from the last past price (or from 100 after a missing one).
    anchor = past[-1] if np.isfinite(past[-1]) else 100.0
    joined = np.concatenate((past, anchor * future / 100.0))
    short = gaussian_mixture_regimes(_series(past), **params)
    long = gaussian_mixture_regimes(_series(joined), **params)
    event(f"refits before the cut: {min(len(short.fits), 3)}{'+' * (len(short.fits) >= 3)}")
    _assert_same_prefix(short, long)
    labelled = long.labels.to_numpy() != MISSING_REGIME
    confidence = long.confidence.to_numpy()
    assert np.isnan(confidence[~labelled]).all()
    assert ((confidence[labelled] >= 1.0 / params["states"]) & (confidence[labelled] <= 1.0)).all()
    assert set(np.unique(long.labels)) <= {MISSING_REGIME, *range(params["states"])}


@SETTINGS
@given(past=price_paths(min_bars=1, max_bars=600), cut=st.floats(0.0, 1.0))
def test_appending_future_bars_never_changes_an_earlier_volatility_regime(past, cut):
    settings = RegimeSettings("volatility", {"lookback": 10, "threshold_window": 50})
    prefix = max(1, int(cut * past.size))
    short = regimes_from_config(_series(past[:prefix]), settings)
    long = regimes_from_config(_series(past), settings)
    _assert_same_prefix(short, long)
