"""The active strategies' last-bar signals, judged as their entries by the meta-labeler (T6)."""

from __future__ import annotations

import numpy as np
import pytest

from autopilot.market.bundled import load_index, load_prices
from autopilot.meta_labeler import MetaLabelingModel
from autopilot.strategies.event_features import event_features
from autopilot.strategies.meta_events import entries, training_set
from autopilot.strategies.signals import _entry_bars, cycle_signals


def test_the_entry_is_the_first_bar_of_the_run_that_ends_on_the_last_bar():
    p = np.array(
        [[np.nan, 0.5, 0.2], [0.5, 0.5, -0.2], [-0.5, 0.5, 0.2], [-0.5, 0.5, 0.3]],
    )
    bars = _entry_bars(p, np.array([0, 1, 2]), np.array([-1.0, 1.0, 1.0]))
    np.testing.assert_array_equal(bars, [2, 0, 2])


@pytest.fixture(scope="module")
def market():
    close = np.ascontiguousarray(load_prices().to_numpy()[-1500:])
    index = load_index().to_numpy()[-1500:]
    regimes = np.zeros(len(close), dtype=np.int64)
    return close, index, regimes, np.ones(len(close))


def positions_of(close):
    """Two hand-made strategies: long the rising half, and a family the model never saw."""
    trend = np.sign(close / np.roll(close, 20, axis=0) - 1.0)
    trend[:20] = np.nan
    up = np.where(trend > 0, 1.0 / close.shape[1], 0.0)
    down = np.where(trend < 0, -1.0 / close.shape[1], 0.0)
    return {"up(a)": up, "down(b)": down}


def test_without_a_model_every_signal_passes_and_the_record_says_so(market):
    close, index, regimes, confidence = market
    positions = positions_of(close)
    got = cycle_signals(
        positions,
        {"up(a)": "up", "down(b)": "down"},
        close,
        [f"S{i}" for i in range(20)],
        index,
        regimes,
        confidence,
        None,
    )
    expected = (positions["up(a)"][-1] + positions["down(b)"][-1]) / 2
    assert got.wanted == {f"S{i}": expected[i] for i in np.flatnonzero(expected)}
    assert got.signals == got.kept == got.unjudged == int((expected != 0).sum())
    assert got.to_record()["filtered"] is False and got.threshold is None


def test_a_model_keeps_the_entries_it_scores_at_its_own_threshold(market):
    close, index, regimes, confidence = market
    positions = positions_of(close)
    families = {"up(a)": "up", "down(b)": "down"}
    train = training_set(
        close,
        index,
        regimes,
        confidence,
        {"up(a)": positions["up(a)"]},
        as_of=len(close) - 30,
        families={"up(a)": "up"},
    )
    model = MetaLabelingModel(tune_threshold=False, n_splits=2).fit(
        train.features, train.labels, starts=train.starts, ends=train.ends
    )
    model.confidence_threshold_ = 0.65  # the model's own, whatever a configuration says
    got = cycle_signals(
        positions,
        families,
        close,
        [f"S{i}" for i in range(20)],
        index,
        regimes,
        confidence,
        model,
        "abc",
    )
    # Independently: the last entry of each held security from entries(), scored.
    found = entries(positions["up(a)"])
    last = positions["up(a)"][-1]
    held = np.flatnonzero(last)
    bars = np.array([found.bars[found.securities == j].max() for j in held])
    features = event_features(
        close,
        index,
        regimes,
        confidence,
        bars=bars,
        securities=held,
        sides=np.ones(held.size, dtype=np.int64),
        families=["up"] * held.size,
        strengths=np.abs(positions["up(a)"][bars, held]),
        family_names=["up"],
    )
    keep = model.predict_proba(features)[:, 1] >= 0.65
    down = positions["down(b)"][-1]
    expected = np.zeros(20)
    expected[held[keep]] += last[held[keep]]
    expected += down
    expected /= 2
    assert got.wanted == pytest.approx({f"S{i}": expected[i] for i in np.flatnonzero(expected)})
    assert got.threshold == 0.65 and got.model_sha256 == "abc"
    assert got.unjudged == int((down != 0).sum())  # a family the model has no feature for
    assert got.kept == int(keep.sum()) + got.unjudged
