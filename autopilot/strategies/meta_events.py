"""The meta-labeler's training events: entries of primary signals, labelled and featured.

A primary signal *enters* a trade on a security at bar ``t`` when its target position
there changes sign from what it was at ``t - 1`` (flat to long, short to long, ...): one
event with that side. :func:`training_set` turns the positions of the active strategies
into the rows a :class:`~autopilot.meta_labeler.MetaLabelingModel` is fitted on, keeping
only the events whose triple-barrier label is known at the training bar, so nothing in a
row reads a price after it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from autopilot.errors import InputError
from autopilot.strategies.event_features import event_features
from autopilot.strategies.triple_barrier import causal_volatility, triple_barrier

__all__ = ["DEFAULT_BARRIERS", "Barriers", "Entries", "TrainingSet", "entries", "training_set"]


@dataclass(frozen=True)
class Entries:
    """Entries of one strategy's signals (arrays of equal length, in bar order).

    Attributes
    ----------
    bars, securities, sides : ndarray of int64
        Entry bar, security column and side (+1 / -1).
    strengths : ndarray of float64
        The size of the target position at the entry.
    """

    bars: np.ndarray
    securities: np.ndarray
    sides: np.ndarray
    strengths: np.ndarray


@dataclass(frozen=True)
class Barriers:
    """Triple-barrier settings: multiples of the horizon's volatility and the horizon."""

    profit_take: float = 1.0
    stop_loss: float = 1.0
    max_bars: int = 10
    volatility_span: int = 21


DEFAULT_BARRIERS = Barriers()


@dataclass(frozen=True)
class TrainingSet:
    """What :meth:`~autopilot.meta_labeler.MetaLabelingModel.fit` takes.

    Attributes
    ----------
    features : DataFrame
        One row per event (see :mod:`autopilot.strategies.event_features`).
    labels, starts, ends : ndarray of int64
        Label, entry bar and label bar of each event.
    returns : ndarray of float64
        Each event's realised side-adjusted return.
    """

    features: pd.DataFrame
    labels: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    returns: np.ndarray


def entries(positions: np.ndarray) -> Entries:
    """The entries of a T x S matrix of target positions (see the module docstring)."""
    target = np.nan_to_num(np.asarray(positions, dtype=np.float64), nan=0.0)
    if target.ndim != 2:
        raise InputError(f"positions must be a bars x securities matrix, got {target.ndim}-D")
    side = np.sign(target).astype(np.int64)
    previous = np.vstack([np.zeros((1, side.shape[1]), dtype=np.int64), side[:-1]])
    bars, securities = np.nonzero((side != 0) & (side != previous))
    return Entries(bars, securities, side[bars, securities], np.abs(target[bars, securities]))


def training_set(
    close: np.ndarray,
    market: np.ndarray,
    regimes: np.ndarray,
    confidence: np.ndarray,
    positions: Mapping[str, np.ndarray],
    *,
    as_of: int,
    barriers: Barriers = DEFAULT_BARRIERS,
    families: Mapping[str, str] | None = None,
    first_bar: int = 0,
) -> TrainingSet:
    """Labelled, featured entries of ``positions`` whose labels are known at bar ``as_of``.

    Parameters
    ----------
    close : ndarray, shape (T, S)
        Prices of the universe.
    market : ndarray, shape (T,)
        The market's level.
    regimes, confidence : ndarray, shape (T,)
        Regime label and confidence per bar.
    positions : mapping of str to ndarray, shape (T, S)
        Each strategy's target positions, by strategy id.
    as_of : int
        The training bar: only events resolved at or before it enter.
    barriers : Barriers
        The labelling settings.
    families : mapping of str to str, optional
        The family of each strategy id (the ``family=<name>`` features), so that a model
        learns about families and filters any strategy of one; by default each id is its
        own family.
    first_bar : int
        The earliest entry bar an event may have (the bars before only give history to
        its features).

    Returns
    -------
    TrainingSet
        Events in (entry bar, strategy id, security) order.
    """
    prices = np.asarray(close, dtype=np.float64)
    if not 0 <= as_of < prices.shape[0]:
        raise InputError(f"as_of bar {as_of} is outside the data (0..{prices.shape[0] - 1})")
    names = sorted(positions)
    family_of = {name: (families or {}).get(name, name) for name in names}
    found = [entries(positions[name]) for name in names]
    kept = [(e.bars >= first_bar) & (e.bars <= as_of) for e in found]
    bar, security, side, strength = (
        np.concatenate([getattr(e, field)[k] for e, k in zip(found, kept, strict=True)])
        for field in ("bars", "securities", "sides", "strengths")
    )
    strategy_code = np.concatenate(
        [np.full(int(k.sum()), code, dtype=np.int64) for code, k in enumerate(kept)]
    )
    # Each security's path is labelled with its own volatility; only prices up to as_of.
    seen = prices[: as_of + 1]
    label = np.full(bar.size, -1, dtype=np.int64)
    end = np.full(bar.size, -1, dtype=np.int64)
    realised = np.full(bar.size, np.nan)
    for column in np.unique(security):
        rows = np.flatnonzero(security == column)
        path = seen[:, column]
        live = np.isfinite(path)
        if not live.any():
            continue
        first, last = np.flatnonzero(live)[[0, -1]]
        inside = (bar[rows] >= first) & (bar[rows] <= last)
        rows = rows[inside]
        segment = path[first : last + 1]
        labels = triple_barrier(
            segment,
            bar[rows] - first,
            side[rows],
            causal_volatility(segment, barriers.volatility_span),
            profit_take=barriers.profit_take,
            stop_loss=barriers.stop_loss,
            max_bars=barriers.max_bars,
        )
        label[rows] = labels.label
        end[rows] = np.where(labels.exit >= 0, labels.exit + first, -1)
        realised[rows] = labels.ret
    known = end >= 0  # labelled from prices up to as_of only, so known by then
    order = np.lexsort((security[known], strategy_code[known], bar[known]))
    picked = np.flatnonzero(known)[order]
    cut = slice(0, as_of + 1)  # nothing after the training bar reaches the features
    features = event_features(
        seen,
        np.asarray(market)[cut],
        np.asarray(regimes)[cut],
        np.asarray(confidence)[cut],
        bars=bar[picked],
        securities=security[picked],
        sides=side[picked],
        families=[family_of[names[code]] for code in strategy_code[picked]],
        strengths=strength[picked],
        family_names=sorted(set(family_of.values())),
    )
    return TrainingSet(features, label[picked], bar[picked], end[picked], realised[picked])
