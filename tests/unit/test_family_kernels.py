"""The built-in families' compiled kernels against pandas' rolling statistics.

pandas is the independent implementation: each family is written again below from
``DataFrame.rolling`` and ``rank`` the way its docstring states it, on random walks with a
late listing, an early delisting and a gap, and the kernels must agree with it everywhere.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from autopilot.strategies.kernels import (
    breakout_weights,
    crossover_weights,
    low_volatility_weights,
    momentum_weights,
    reversal_weights,
)


@pytest.fixture(scope="module")
def close() -> np.ndarray:
    rng = np.random.default_rng(29)
    prices = 40.0 * np.exp(np.cumsum(rng.normal(0.0002, 0.02, (700, 9)), axis=0))
    prices[:150, 1] = np.nan  # listed late
    prices[520:, 2] = np.nan  # delisted
    prices[300:304, 3] = np.nan  # a gap: every window across it restarts
    prices[:, 4] = 25.0  # a flat price: zero volatility, equal means
    return np.ascontiguousarray(prices)


def equal_weighted(signal: pd.DataFrame, close: np.ndarray, long_only: bool) -> np.ndarray:
    signal = signal.where(~np.isnan(close))
    if long_only:
        signal = signal.clip(lower=0.0)
    return (signal.div(signal.notna().sum(axis=1), axis=0)).to_numpy()


@pytest.mark.parametrize("long_only", [False, True])
@pytest.mark.parametrize(("lookback", "skip"), [(1, 0), (20, 0), (60, 10)])
def test_momentum_matches_pandas(close, lookback, skip, long_only):
    frame = pd.DataFrame(close)
    signal = np.sign(frame.shift(skip) / frame.shift(lookback) - 1.0)
    expected = equal_weighted(signal, close, long_only)
    got = momentum_weights(close, lookback, skip, long_only)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("long_only", [False, True])
@pytest.mark.parametrize(("fast", "slow"), [(1, 2), (5, 50), (20, 200)])
def test_crossover_matches_pandas(close, fast, slow, long_only):
    frame = pd.DataFrame(close)
    difference = frame.rolling(fast).mean() - frame.rolling(slow).mean()
    # The flat security's means are both exactly 25: no signal, not a rounding sign.
    difference[4] = difference[4].round(9)
    expected = equal_weighted(np.sign(difference), close, long_only)
    got = crossover_weights(close, fast, slow, long_only)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("long_only", [False, True])
@pytest.mark.parametrize(("lookback", "threshold", "vol_window"), [(1, 0.0, 2), (5, 1.0, 63)])
def test_reversal_matches_pandas(close, lookback, threshold, vol_window, long_only):
    frame = pd.DataFrame(close)
    sigma = frame.pct_change(fill_method=None).rolling(vol_window).std()
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (frame / frame.shift(lookback) - 1.0) / (sigma * np.sqrt(lookback))
    signal = (-np.sign(z)).where(z.abs() > threshold, 0.0).where(z.notna())
    expected = equal_weighted(signal, close, long_only)
    got = reversal_weights(close, lookback, threshold, vol_window, long_only)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("long_only", [False, True])
@pytest.mark.parametrize(("window", "k"), [(2, 0.5), (20, 1.0), (100, 2.0)])
def test_breakout_matches_pandas(close, window, k, long_only):
    frame = pd.DataFrame(close)
    mean = frame.rolling(window).mean()
    width = k * frame.rolling(window).std()
    signal = pd.DataFrame(np.where(frame > mean + width, 1.0, 0.0))
    signal = signal.where(~(frame < mean - width), -1.0)
    signal[4] = 0.0  # flat: the band is the price itself, never left
    signal = signal.where(mean.notna() & width.notna())
    expected = equal_weighted(signal, close, long_only)
    got = breakout_weights(close, window, k, long_only)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize(("window", "fraction"), [(2, 0.1), (21, 0.3), (126, 0.5), (21, 1.0)])
def test_low_volatility_matches_pandas(close, window, fraction):
    sigma = pd.DataFrame(close).pct_change(fill_method=None).rolling(window).std()
    sigma[4] = sigma[4].where(sigma[4].isna(), 0.0)  # flat: exactly zero, lowest of all
    live = sigma.notna().to_numpy()
    n_held = np.ceil(fraction * live.sum(axis=1))
    rank = sigma.rank(axis=1, method="first").to_numpy()  # ties: lower column first
    with np.errstate(divide="ignore"):
        expected = np.where(rank <= n_held[:, None], 1.0 / n_held[:, None], 0.0)
    expected = np.where(live, expected, np.nan)
    got = low_volatility_weights(close, window, fraction)
    np.testing.assert_allclose(got, expected, rtol=0, atol=0)


def test_ties_in_volatility_go_to_the_lower_column():
    # Securities 0 and 2 move identically, 1 more: holding one goes to column 0.
    close = np.array([[10.0, 10.0, 10.0], [11.0, 12.0, 11.0], [10.0, 10.0, 10.0]])
    got = low_volatility_weights(close, 2, 0.5)
    np.testing.assert_array_equal(got[2], [0.5, 0.0, 0.5])
    got = low_volatility_weights(close, 2, 0.1)
    np.testing.assert_array_equal(got[2], [1.0, 0.0, 0.0])
