"""Training events: entries found exactly, labels known at the training bar only."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

from autopilot.errors import InputError
from autopilot.market.bundled import load_index, load_prices
from autopilot.meta_labeler import MetaLabelingModel
from autopilot.strategies.meta_events import Barriers, entries, training_set


def test_an_entry_is_a_change_to_a_new_side():
    positions = np.array(
        [
            [0.0, np.nan],
            [0.5, 0.0],
            [0.5, -0.2],
            [-0.5, -0.2],
            [0.0, 0.3],
            [0.5, 0.3],
        ]
    )
    found = entries(positions)
    got = sorted(zip(found.bars, found.securities, found.sides, found.strengths, strict=True))
    assert got == [(1, 0, 1, 0.5), (2, 1, -1, 0.2), (3, 0, -1, 0.5), (4, 1, 1, 0.3), (5, 0, 1, 0.5)]


def momentum(close: np.ndarray, lookback: int) -> np.ndarray:
    """Long the securities up over ``lookback`` bars, short the others (causal)."""
    change = close / np.vstack([np.full((lookback, close.shape[1]), np.nan), close[:-lookback]])
    return np.sign(np.nan_to_num(change - 1.0)) / close.shape[1]


@pytest.fixture(scope="module")
def market():
    close = load_prices().iloc[:2000].to_numpy()
    index = load_index().iloc[:2000].to_numpy()
    regimes = np.zeros(2000)
    confidence = np.ones(2000)
    positions = {"fast": momentum(close, 21), "slow": momentum(close, 126)}
    return close, index, regimes, confidence, positions


def test_only_events_known_at_the_training_bar_enter(market):
    close, index, regimes, confidence, positions = market
    at = 1500
    data = training_set(close, index, regimes, confidence, positions, as_of=at)
    assert len(data.labels) > 500
    assert (data.ends <= at).all() and (data.starts < data.ends).all()
    # Prices after the training bar change nothing in what it trains on.
    changed = close.copy()
    changed[at + 1 :] *= 3.0
    again = training_set(changed, index, regimes, confidence, positions, as_of=at)
    assert np.array_equal(again.labels, data.labels)
    assert np.array_equal(again.ends, data.ends)
    assert again.features.equals(data.features)
    assert set(data.features.columns) >= {"family=fast", "family=slow", "return_21"}


def test_a_later_training_bar_adds_events_and_keeps_the_earlier_ones(market):
    close, index, regimes, confidence, positions = market
    early = training_set(close, index, regimes, confidence, positions, as_of=1000)
    late = training_set(close, index, regimes, confidence, positions, as_of=1800)
    assert len(late.labels) > len(early.labels)
    known = {(s, e) for s, e in zip(early.starts, early.ends, strict=True)}
    assert known <= {(s, e) for s, e in zip(late.starts, late.ends, strict=True)}


def test_the_model_trains_on_it(market):
    close, index, regimes, confidence, positions = market
    data = training_set(
        close, index, regimes, confidence, positions, as_of=1900, barriers=Barriers(max_bars=5)
    )
    quick = HistGradientBoostingClassifier(max_iter=20, random_state=0)
    model = MetaLabelingModel(quick, n_splits=3, tune_threshold=False).fit(
        data.features, data.labels, starts=data.starts, ends=data.ends, returns=data.returns
    )
    assert 0.0 <= model.validation_["auc"] <= 1.0
    assert model.n_events_ == len(data.labels)


def test_a_training_bar_outside_the_data_is_refused(market):
    close, index, regimes, confidence, positions = market
    with pytest.raises(InputError, match="as_of bar 2000 is outside the data"):
        training_set(close, index, regimes, confidence, positions, as_of=2000)
