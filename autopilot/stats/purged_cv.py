"""Cross-validation for labels that span time: purged, embargoed K-fold (never shuffled).

Each event ``i`` has a label window ``[start_i, end_i]`` in bars (its entry and the bar
its label became known). A test fold is a run of consecutive events in time order; its
span is ``[min start, max end]`` over them. A training event is kept only when its window
ends before the span starts (its label read nothing the test fold's trades saw) or starts
more than ``embargo`` bars after the span ends (serial correlation just after a test
fold would leak its outcomes into training). This is the scheme of M. López de Prado,
*Advances in Financial Machine Learning* (2018), ch. 7.

scikit-learn's own splitters purge nothing, and skfolio's ``CombinatorialPurgedCV`` purges
a fixed number of observations around each fold, which is not the same thing when
events have windows of different lengths and several events share a bar; hence this
small splitter. It yields positions into the event arrays, so its splits go straight into
any scikit-learn ``cv=`` argument.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from autopilot.errors import InputError

__all__ = ["PurgedKFold"]


class PurgedKFold:
    """K contiguous folds over events in time order, with purging and an embargo.

    Parameters
    ----------
    n_splits : int
        Number of folds, at least 2.
    embargo : int
        Bars after each test fold's span during which no training event may start.
    """

    def __init__(self, n_splits: int = 5, embargo: int = 0) -> None:
        if isinstance(n_splits, bool) or not isinstance(n_splits, int) or n_splits < 2:
            raise InputError(f"The 'n_splits' parameter must be an integer >= 2, was {n_splits!r}.")
        if isinstance(embargo, bool) or not isinstance(embargo, int) or embargo < 0:
            raise InputError(f"The 'embargo' parameter must be an integer >= 0, was {embargo!r}.")
        self.n_splits = n_splits
        self.embargo = embargo

    def __repr__(self) -> str:
        return f"PurgedKFold(n_splits={self.n_splits}, embargo={self.embargo})"

    def split(
        self, starts: np.ndarray, ends: np.ndarray
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(train, test)`` positions for events with windows ``[starts, ends]``.

        Parameters
        ----------
        starts, ends : ndarray of int, shape (E,)
            Each event's first and last bar (``ends >= starts``), in any order.

        Yields
        ------
        train, test : ndarray of int64
            Positions into the event arrays; ``train`` never overlaps ``test`` in time.
        """
        start = np.asarray(starts, dtype=np.int64)
        end = np.asarray(ends, dtype=np.int64)
        if start.shape != end.shape or start.ndim != 1:
            raise InputError("starts and ends must be 1-D arrays of the same length")
        if (end < start).any():
            raise InputError("every event must end at or after its start")
        if start.size < self.n_splits:
            raise InputError(
                f"{start.size} events cannot make {self.n_splits} folds; label more events "
                f"or lower n_splits"
            )
        order = np.lexsort((end, start))
        for test in np.array_split(order, self.n_splits):
            span_start, span_end = start[test].min(), end[test].max()
            keep = (end < span_start) | (start > span_end + self.embargo)
            keep[test] = False
            yield np.flatnonzero(keep), np.sort(test)
