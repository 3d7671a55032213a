"""Triple-barrier labels and purged folds against hand-worked paths and their definitions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autopilot.errors import InputError
from autopilot.stats.purged_cv import PurgedKFold
from autopilot.strategies.triple_barrier import (
    BARRIER_PROFIT,
    BARRIER_STOP,
    BARRIER_VERTICAL,
    causal_volatility,
    triple_barrier,
)

# Per-bar volatility 1 % and a 4-bar horizon: barriers at +-2 x 0.01 x sqrt(4) = +-4 %.
FLAT_VOL = np.full(10, 0.01)


def label(path, side=1, entry=0, max_bars=4):
    close = np.asarray(path, dtype=np.float64)
    vol = FLAT_VOL[: close.size]
    return triple_barrier(
        close,
        np.array([entry]),
        np.array([side]),
        vol,
        profit_take=2.0,
        stop_loss=2.0,
        max_bars=max_bars,
    )


def test_the_profit_take_touched_first_is_a_paying_trade():
    out = label([100, 101, 104.5, 90, 100])  # +4.5 % on bar 2, before the -10 % on bar 3
    assert (out.label[0], out.barrier[0], out.exit[0]) == (1, BARRIER_PROFIT, 2)
    assert out.ret[0] == pytest.approx(0.045)


def test_the_stop_loss_touched_first_is_a_losing_trade():
    out = label([100, 99, 95.9, 120, 120])  # -4.1 % on bar 2
    assert (out.label[0], out.barrier[0], out.exit[0]) == (0, BARRIER_STOP, 2)


def test_a_short_pays_when_the_price_falls():
    out = label([100, 99, 95.9, 120, 120], side=-1)
    assert (out.label[0], out.barrier[0]) == (1, BARRIER_PROFIT)
    assert out.ret[0] == pytest.approx(0.041)


def test_the_vertical_barrier_labels_by_the_sign_of_the_return():
    up = label([100, 101, 102, 101, 100.5])
    down = label([100, 101, 102, 101, 99.5])
    assert (up.label[0], up.barrier[0], up.exit[0]) == (1, BARRIER_VERTICAL, 4)
    assert (down.label[0], down.barrier[0], down.exit[0]) == (0, BARRIER_VERTICAL, 4)


def test_a_horizon_past_the_data_without_a_touch_has_no_label_yet():
    out = label([100, 101, 102])
    assert (out.label[0], out.exit[0]) == (-1, -1)
    assert math.isnan(out.ret[0])
    # ... but a touch inside the data labels it.
    assert label([100, 105, 102]).label[0] == 1


def test_an_entry_without_volatility_yet_has_no_label():
    close = np.array([100.0, 105.0, 110.0, 111.0, 112.0])
    vol = np.array([np.nan, 0.01, 0.01, 0.01, 0.01])
    out = triple_barrier(
        close, np.array([0, 1]), np.array([1, 1]), vol, profit_take=2, stop_loss=2, max_bars=2
    )
    assert out.label.tolist() == [-1, 1]


def test_a_label_known_at_a_bar_never_changes_when_later_prices_do():
    rng = np.random.default_rng(3)
    close = 100 * np.cumprod(1 + rng.normal(0, 0.01, 300))
    vol = causal_volatility(close, 20)
    entries = np.arange(25, 280, 3)
    sides = np.where(rng.random(entries.size) < 0.5, -1, 1)
    before = triple_barrier(close, entries, sides, vol, profit_take=1, stop_loss=1, max_bars=10)
    cut = 150
    changed = close.copy()
    changed[cut + 1 :] *= np.exp(rng.normal(0, 0.05, changed.size - cut - 1))
    after = triple_barrier(
        changed,
        entries,
        sides,
        causal_volatility(changed, 20),
        profit_take=1,
        stop_loss=1,
        max_bars=10,
    )
    known = before.known_at(cut)
    assert known.sum() > 10
    for field in ("exit", "label", "barrier", "ret"):
        assert np.array_equal(getattr(before, field)[known], getattr(after, field)[known])


def test_causal_volatility_uses_no_later_price():
    rng = np.random.default_rng(4)
    close = 100 * np.cumprod(1 + rng.normal(0, 0.01, 200))
    full = causal_volatility(close, 10)
    assert np.array_equal(causal_volatility(close[:120], 10), full[:120], equal_nan=True)
    assert np.isnan(full[:10]).all() and np.isfinite(full[10:]).all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"profit_take": 0.0}, "'profit_take' barrier must be a positive number"),
        ({"stop_loss": float("nan")}, "'stop_loss' barrier must be a positive number"),
        ({"max_bars": 0}, "'max_bars' barrier must be an integer >= 1"),
    ],
)
def test_bad_barriers_are_refused(kwargs, message):
    args = {"profit_take": 1.0, "stop_loss": 1.0, "max_bars": 3} | kwargs
    with pytest.raises(InputError, match=message):
        triple_barrier(np.ones(5), np.array([0]), np.array([1]), np.full(5, 0.01), **args)


def test_a_side_other_than_plus_or_minus_one_is_refused():
    with pytest.raises(InputError, match="sides must be"):
        triple_barrier(
            np.ones(5),
            np.array([0]),
            np.array([0]),
            np.full(5, 0.01),
            profit_take=1,
            stop_loss=1,
            max_bars=2,
        )


# --- purged folds ------------------------------------------------------------------------


@st.composite
def event_windows(draw):
    n = draw(st.integers(6, 60))
    starts = np.array(draw(st.lists(st.integers(0, 200), min_size=n, max_size=n)))
    lengths = np.array(draw(st.lists(st.integers(0, 15), min_size=n, max_size=n)))
    return starts, starts + lengths


@settings(max_examples=60, deadline=None)
@given(windows=event_windows(), n_splits=st.integers(2, 5), embargo=st.integers(0, 5))
def test_no_training_window_reaches_into_a_test_fold_or_its_embargo(windows, n_splits, embargo):
    starts, ends = windows
    tested = []
    for train, test in PurgedKFold(n_splits, embargo).split(starts, ends):
        lo, hi = starts[test].min(), ends[test].max()
        assert ((ends[train] < lo) | (starts[train] > hi + embargo)).all()
        assert not np.intersect1d(train, test).size
        tested.extend(test.tolist())
    assert sorted(tested) == list(range(starts.size))  # every event is tested exactly once


def test_folds_are_contiguous_in_time_and_purging_removes_only_overlaps():
    starts = np.arange(0, 100, 10)  # ten events, 10 bars apart, each 4 bars long
    ends = starts + 4
    folds = list(PurgedKFold(5, embargo=0).split(starts, ends))
    train, test = folds[2]
    assert test.tolist() == [4, 5]
    assert train.tolist() == [0, 1, 2, 3, 6, 7, 8, 9]  # nothing overlaps: nothing purged
    long_ends = starts + 12  # now each window reaches into the next event's
    train, test = list(PurgedKFold(5, embargo=0).split(starts, long_ends))[2]
    # The test span is bars 40..62: event 3 (30..42) and event 6 (60..72) overlap it.
    assert train.tolist() == [0, 1, 2, 7, 8, 9]
    train, _ = list(PurgedKFold(5, embargo=10).split(starts, long_ends))[2]
    assert train.tolist() == [0, 1, 2, 8, 9]  # event 7 starts at 70, inside 62 + 10


def test_too_few_events_for_the_folds_is_refused():
    with pytest.raises(InputError, match="3 events cannot make 5 folds"):
        list(PurgedKFold(5).split(np.arange(3), np.arange(3)))
