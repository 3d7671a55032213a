from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from autopilot.errors import InputError
from autopilot.market.bundled import load_index
from autopilot.market.regimes import CALM, TURBULENT, volatility_regimes
from autopilot.stats.metrics import MISSING_REGIME

LOOKBACK = 21
WINDOW = 252


def _prices_from_returns(returns: np.ndarray) -> pd.Series:
    dates = pd.bdate_range("2000-01-03", periods=returns.size + 1)
    levels = 100.0 * np.cumprod(np.concatenate(([1.0], 1.0 + returns)))
    return pd.Series(levels, index=dates)


def _vol_switch_series(n_calm: int, n_turbulent: int, seed: int = 7) -> pd.Series:
    """Gaussian daily returns whose volatility quadruples after ``n_calm`` returns."""
    rng = np.random.default_rng(seed)
    sigma = np.concatenate((np.full(n_calm, 0.005), np.full(n_turbulent, 0.02)))
    return _prices_from_returns(rng.standard_normal(sigma.size) * sigma)


def test_labels_are_minus_one_zero_or_one_and_int() -> None:
    labels = volatility_regimes(load_index())
    assert labels.dtype == np.int64
    assert set(np.unique(labels)) <= {MISSING_REGIME, CALM, TURBULENT}
    assert labels.name == "regime"


def test_first_bars_without_history_are_missing_and_the_rest_labelled() -> None:
    index = load_index()
    labels = volatility_regimes(index, lookback=LOOKBACK, threshold_window=WINDOW)
    first_labelled = LOOKBACK + WINDOW - 1
    assert (labels.iloc[:first_labelled] == MISSING_REGIME).all()
    assert (labels.iloc[first_labelled:] != MISSING_REGIME).all()
    assert labels.index.equals(index.index)


def test_real_crises_are_turbulent() -> None:
    labels = volatility_regimes(load_index())
    assert (labels["2008-10-01":"2008-11-28"] == TURBULENT).mean() > 0.9
    assert (labels["2020-03-09":"2020-04-09"] == TURBULENT).all()


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("cut", [30, 273, 274, 600, 1111, 1499])
def test_labels_are_causal_under_truncation(seed: int, cut: int) -> None:
    prices = _vol_switch_series(800, 700, seed=seed)
    full = volatility_regimes(prices)
    truncated = volatility_regimes(prices.iloc[:cut])
    pd.testing.assert_series_equal(truncated, full.iloc[:cut])


@pytest.mark.parametrize("cut", [300, 900, 1200])
def test_labels_are_causal_when_later_prices_change(cut: int) -> None:
    prices = _vol_switch_series(800, 700)
    rng = np.random.default_rng(cut)
    altered = prices.copy()
    # Later prices replaced by a wild, different path: earlier labels must not move.
    altered.iloc[cut:] = prices.iloc[cut - 1] * np.exp(
        np.cumsum(rng.normal(0.0, 0.08, len(prices) - cut))
    )
    before = volatility_regimes(prices).iloc[:cut]
    after = volatility_regimes(altered).iloc[:cut]
    pd.testing.assert_series_equal(before, after)
    assert not volatility_regimes(prices).equals(volatility_regimes(altered))


@pytest.mark.parametrize(
    ("shape", "enter_ratio"),
    # Random signs with a fixed magnitude keep sampling noise in the volatility estimate
    # below 10 %, so the default entry level holds; Gaussian returns need a wider one.
    [("random_signs", 1.25), ("gaussian", 2.0)],
)
def test_volatility_quadrupling_turns_turbulent_within_the_lookback(
    shape: str, enter_ratio: float
) -> None:
    n_calm = 1000
    if shape == "gaussian":
        prices = _vol_switch_series(n_calm, 400)
    else:
        rng = np.random.default_rng(11)
        magnitude = np.concatenate((np.full(n_calm, 0.005), np.full(400, 0.02)))
        prices = _prices_from_returns(rng.choice([-1.0, 1.0], magnitude.size) * magnitude)
    labels = volatility_regimes(
        prices, lookback=LOOKBACK, threshold_window=WINDOW, enter_ratio=enter_ratio
    )
    # Price bar b carries return b - 1: the first high-volatility return is at bar n_calm + 1.
    switch = n_calm + 1
    calm = labels.iloc[LOOKBACK + WINDOW - 1 : switch]
    assert (calm == CALM).all()
    first_turbulent = switch + int(np.argmax(labels.iloc[switch:].to_numpy() == TURBULENT))
    assert first_turbulent < switch + LOOKBACK
    # Until the trailing median itself adapts (half a threshold window), all turbulent.
    assert (labels.iloc[first_turbulent : switch + WINDOW // 2] == TURBULENT).all()


def test_hysteresis_keeps_label_between_exit_and_entry_levels() -> None:
    # Constant-magnitude alternating returns make the realised volatility exact.
    small, mid, big = 0.01, 0.0115, 0.02
    # The reference (median of 100 volatilities) stays at the small level throughout.
    magnitudes = np.concatenate((np.full(300, small), np.full(20, big), np.full(25, mid)))
    signs = np.where(np.arange(magnitudes.size) % 2 == 0, 1.0, -1.0)
    prices = _prices_from_returns(magnitudes * signs)
    with_band = volatility_regimes(prices, lookback=10, threshold_window=100)
    no_band = volatility_regimes(
        prices, lookback=10, threshold_window=100, enter_ratio=1.25, exit_ratio=1.25
    )
    tail = slice(len(prices) - 10, None)
    # mid / small = 1.15: below the entry level but above the exit level.
    assert (with_band.iloc[tail] == TURBULENT).all()
    assert (no_band.iloc[tail] == CALM).all()


def test_missing_price_gives_missing_labels_only_where_windows_touch_it() -> None:
    prices = _vol_switch_series(600, 0)
    prices.iloc[450] = np.nan
    labels = volatility_regimes(prices, lookback=LOOKBACK, threshold_window=50)
    assert (labels.iloc[450 : 450 + LOOKBACK + 1] == MISSING_REGIME).all()
    assert (labels.iloc[LOOKBACK + 49 : 450] != MISSING_REGIME).all()
    # The reference median needs 50 clean volatilities again after the gap.
    assert (labels.iloc[450 + LOOKBACK + 50 :] != MISSING_REGIME).all()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"lookback": 1}, "lookback"),
        ({"threshold_window": 0}, "threshold_window"),
        ({"enter_ratio": 1.0, "exit_ratio": 1.1}, "exit_ratio"),
    ],
)
def test_bad_parameters_are_refused(kwargs: dict[str, float], match: str) -> None:
    with pytest.raises(InputError, match=match):
        volatility_regimes(load_index(), **kwargs)


def test_non_positive_prices_and_non_series_are_refused() -> None:
    prices = _vol_switch_series(100, 0)
    prices.iloc[5] = 0.0
    with pytest.raises(InputError, match="positive"):
        volatility_regimes(prices)
    with pytest.raises(InputError, match="Series"):
        volatility_regimes(prices.to_frame())  # type: ignore[arg-type]
