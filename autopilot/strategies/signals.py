"""The active strategies' signals on a cycle's last bar, filtered by the meta-labeler (T6).

Each active strategy's position on the last bar is a signal per security. A non-zero one is
judged as the entry that opened it, the event the meta-labeler was trained on: the last bar
where the position took its current side, with the features known at that bar. It is kept
when the model's probability is at least **the model's own** ``confidence_threshold_``.
Without a model every signal passes, and the result says so; the signals of a family the
model never saw pass as well, counted apart (the model has no feature for them).

The wanted book is the average of the strategies' kept positions: each strategy's absolute
weights sum to at most 1, so the average's do too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from autopilot.meta_labeler import MetaLabelingModel
from autopilot.strategies.event_features import event_features

__all__ = ["CycleSignals", "cycle_signals", "model_families"]

_FAMILY_PREFIX = "family="


@dataclass(frozen=True)
class CycleSignals:
    """What the filter did on one cycle.

    Attributes
    ----------
    wanted : dict of str to float
        The combined book of the kept signals, by security id (long and short).
    signals : int
        Non-zero positions of the active strategies on the last bar.
    kept : int
        Of those, the ones in ``wanted`` (judged and kept, or passed unjudged).
    unjudged : int
        Signals passed without a judgement: no model, or a family it never saw.
    threshold : float or None
        The model's own threshold, None without a model.
    model_sha256 : str or None
        The model's hash, None without a model.
    """

    wanted: dict[str, float]
    signals: int
    kept: int
    unjudged: int
    threshold: float | None
    model_sha256: str | None

    def to_record(self) -> dict[str, Any]:
        """Plain JSON for the cycle's audit record."""
        return {
            "filtered": self.threshold is not None,
            "confidence_threshold": self.threshold,
            "model_sha256": self.model_sha256,
            "signals": self.signals,
            "kept": self.kept,
            "unjudged": self.unjudged,
        }


def model_families(model: MetaLabelingModel) -> list[str]:
    """The families a fitted model has a feature for, in its column order."""
    return [
        str(name)[len(_FAMILY_PREFIX) :]
        for name in model.feature_names_in_
        if str(name).startswith(_FAMILY_PREFIX)
    ]


def _entry_bars(positions: np.ndarray, columns: np.ndarray, sides: np.ndarray) -> np.ndarray:
    """For each column, the first bar of the run of ``side`` that ends on the last bar."""
    held = np.sign(np.nan_to_num(positions[:, columns], nan=0.0))
    other = held != sides[None, :]
    # The last bar on another side, plus one (0 when the run starts the window).
    last_other = np.where(other.any(axis=0), held.shape[0] - 1 - np.argmax(other[::-1], 0), -1)
    return last_other + 1


def cycle_signals(
    positions: Mapping[str, np.ndarray],
    families: Mapping[str, str],
    close: np.ndarray,
    securities: Sequence[str],
    market: np.ndarray,
    regimes: np.ndarray,
    confidence: np.ndarray,
    model: MetaLabelingModel | None,
    model_sha256: str | None = None,
) -> CycleSignals:
    """Filter the active strategies' last-bar signals and combine the kept ones.

    Parameters
    ----------
    positions : mapping of str to ndarray, shape (T, N)
        Each active strategy's positions over the window, by strategy id.
    families : mapping of str to str
        Each strategy id's family.
    close : ndarray, shape (T, N)
        The window's prices (the features read rows up to each entry bar only).
    securities : sequence of str
        The ids of the ``N`` columns.
    market, regimes, confidence : ndarray, shape (T,)
        The market's level, the regime labels and their confidence on the window's bars.
    model : MetaLabelingModel or None
        The current model; None passes every signal.
    model_sha256 : str, optional
        Its hash, for the record.

    Returns
    -------
    CycleSignals
    """
    known = set(model_families(model)) if model is not None else set()
    ids = sorted(positions)
    lasts = [np.nan_to_num(positions[sid][-1], nan=0.0) for sid in ids]
    columns = [np.flatnonzero(last != 0.0) for last in lasts]
    judged = [model is not None and families[sid] in known for sid in ids]
    keep = [np.ones(c.size, dtype=bool) for c in columns]
    # One feature frame and one prediction for every judged signal of every strategy.
    events = [k for k, j in enumerate(judged) if j and columns[k].size]
    if model is not None and events:
        sides = [np.sign(lasts[k][columns[k]]) for k in events]
        bars = [
            _entry_bars(positions[ids[k]], columns[k], side)
            for k, side in zip(events, sides, strict=True)
        ]
        features = event_features(
            close,
            market,
            regimes,
            confidence,
            bars=np.concatenate(bars),
            securities=np.concatenate([columns[k] for k in events]),
            sides=np.concatenate(sides).astype(np.int64),
            families=[families[ids[k]] for k in events for _ in range(columns[k].size)],
            strengths=np.concatenate(
                [
                    np.abs(positions[ids[k]][b, columns[k]])
                    for k, b in zip(events, bars, strict=True)
                ]
            ),
            family_names=model_families(model),
        )
        kept_all = model.filter(features).keep
        ends = np.cumsum([columns[k].size for k in events])
        for k, part in zip(events, np.split(kept_all, ends[:-1]), strict=True):
            keep[k] = part
    wanted = np.zeros(close.shape[1])
    for last, column, kept_here in zip(lasts, columns, keep, strict=True):
        wanted[column[kept_here]] += last[column[kept_here]]
    if positions:
        wanted /= len(positions)
    signals = sum(c.size for c in columns)
    unjudged = sum(c.size for c, j in zip(columns, judged, strict=True) if not j)
    kept = sum(int(k.sum()) for k in keep)
    book = {securities[int(i)]: float(wanted[i]) for i in np.flatnonzero(wanted != 0.0)}
    threshold = float(model.confidence_threshold_) if model is not None else None
    return CycleSignals(book, signals, kept, unjudged, threshold, model_sha256)
