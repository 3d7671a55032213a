"""A batch of candidate return series and the statistics every built-in gate reads.

A :class:`CandidateBatch` is a T x N matrix of simple returns (rows are bars, columns are
candidates). Leading and trailing NaN mean "not live yet / any more"; an interior NaN is a
gap and an infinite value is non-finite: both make the candidate an ERROR upstream.

Regime labels are either shared by all candidates (shape ``(T,)``) or given per candidate
(shape ``(T, N)``), as non-negative integer codes with ``-1`` for "missing".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from autopilot.errors import InputError
from autopilot.stats import metrics
from autopilot.stats._kernels import fused_column_statistics, transition_drawdown_columns

__all__ = ["BatchStatistics", "CandidateBatch", "TransitionStatistics"]


@dataclass(frozen=True)
class TransitionStatistics:
    """Per-candidate transition-drawdown figures for one window half-width ``k``.

    Attributes
    ----------
    drawdown : ndarray
        Largest drawdown inside a transition window; NaN without a regime change.
    changes : ndarray
        Regime changes inside each candidate's track record.
    labels_missing : ndarray
        True where a live bar has no regime label (or no labels were given at all).
    """

    window: int
    drawdown: np.ndarray
    changes: np.ndarray
    labels_missing: np.ndarray


@dataclass(frozen=True)
class BatchStatistics:
    """Per-candidate statistics from one pass over the returns matrix (arrays of length N)."""

    live_bars: np.ndarray
    first_live: np.ndarray
    last_live: np.ndarray
    has_gap: np.ndarray
    has_non_finite: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    skewness: np.ndarray
    kurtosis: np.ndarray
    zero_variance: np.ndarray
    max_drawdown: np.ndarray
    transitions: dict[int, TransitionStatistics] = field(default_factory=dict)


class CandidateBatch:
    """Returns of N candidates over T bars, with optional dates and regime labels.

    Parameters
    ----------
    returns : array-like, shape (T, N)
        Simple per-bar returns; NaN where a candidate is not live.
    strategy_ids : sequence of str
        One unique id per column.
    dates : sequence, optional
        One timestamp per row.
    regimes : array-like of int, shape (T,) or (T, N), optional
        Regime codes, ``-1`` where missing.
    regime_names : sequence of str, optional
        Display names of the regime codes.
    """

    def __init__(
        self,
        returns: np.ndarray,
        strategy_ids: Sequence[str],
        dates: pd.DatetimeIndex | Sequence[object] | None = None,
        regimes: np.ndarray | None = None,
        regime_names: Sequence[str] | None = None,
    ) -> None:
        matrix = np.ascontiguousarray(returns, dtype=np.float64)
        if matrix.ndim == 1:
            matrix = matrix.reshape(-1, 1)
        if matrix.ndim != 2:
            raise InputError(
                f"returns must be a 2-D (bars x candidates) matrix, got {matrix.ndim}-D"
            )
        ids = tuple(str(s) for s in strategy_ids)
        if len(ids) != matrix.shape[1]:
            raise InputError(
                f"{len(ids)} strategy ids for {matrix.shape[1]} return columns; "
                "give one id per column"
            )
        duplicated = pd.Index(ids)[pd.Index(ids).duplicated()].unique().tolist()
        if duplicated:
            raise InputError(f"duplicate strategy ids: {', '.join(map(str, duplicated[:5]))}")
        index = None
        if dates is not None:
            index = pd.DatetimeIndex(dates)  # type: ignore[arg-type]  # any date-likes
            if len(index) != matrix.shape[0]:
                raise InputError(f"{len(index)} dates for {matrix.shape[0]} rows of returns")
        if regimes is not None:
            regimes = np.asarray(regimes)
            if regimes.shape not in ((matrix.shape[0],), matrix.shape):
                raise InputError(
                    f"regime labels have shape {regimes.shape}; expected ({matrix.shape[0]},) "
                    f"or {matrix.shape}"
                )
            regimes = regimes.astype(np.int64, copy=False)
        self.returns = matrix
        self.strategy_ids = ids
        self.dates: pd.DatetimeIndex | None = index
        self.regimes = regimes
        self.regime_names = tuple(regime_names) if regime_names is not None else None
        self._statistics: BatchStatistics | None = None
        self._transitions: dict[int, TransitionStatistics] = {}

    @property
    def n_bars(self) -> int:
        """Number of rows (bars)."""
        return self.returns.shape[0]

    @property
    def n_candidates(self) -> int:
        """Number of columns (candidates)."""
        return self.returns.shape[1]

    def __len__(self) -> int:
        return self.n_candidates

    def __repr__(self) -> str:
        regimes = (
            "none"
            if self.regimes is None
            else ("shared" if self.regimes.ndim == 1 else "per candidate")
        )
        return (
            f"CandidateBatch(bars={self.n_bars}, candidates={self.n_candidates}, regimes={regimes})"
        )

    def subset(self, columns: Sequence[int] | np.ndarray) -> CandidateBatch:
        """Return a batch with only the given candidate columns (same bars and labels)."""
        idx = np.asarray(columns, dtype=np.int64)
        regimes = self.regimes
        if regimes is not None and regimes.ndim == 2:
            regimes = regimes[:, idx]
        return CandidateBatch(
            self.returns[:, idx],
            [self.strategy_ids[i] for i in idx],
            self.dates,
            regimes,
            self.regime_names,
        )

    def live_returns(self, column: int) -> np.ndarray:
        """The returns of one candidate from its first to its last live bar."""
        stats = self.statistics()
        first, last = stats.first_live[column], stats.last_live[column]
        if first < 0:
            return np.empty(0)
        return self.returns[first : last + 1, column]

    def prepare(self, transition_windows: Sequence[int] = ()) -> None:
        """Compute the statistics (and transition windows) in a single pass, ahead of the gates."""
        wanted = sorted(set(transition_windows) - set(self._transitions))
        if self._statistics is not None and not wanted:
            return
        self._compute(wanted)

    def statistics(self) -> BatchStatistics:
        """The per-candidate statistics, computed once per batch."""
        if self._statistics is None:
            self._compute([])
        assert self._statistics is not None
        return self._statistics

    def transition(self, window: int) -> TransitionStatistics:
        """Transition-drawdown statistics for half-width ``window`` (computed on first use)."""
        if window not in self._transitions:
            self._compute([window])
        return self._transitions[window]

    @cached_property
    def _shared_changes(self) -> np.ndarray | None:
        """Boolean (T,) regime-change flags when labels are shared; None otherwise."""
        if self.regimes is None or self.regimes.ndim != 1:
            return None
        return metrics.regime_changes(self.regimes)

    def _compute(self, windows: list[int]) -> None:
        changes = self._shared_changes
        fused_windows = windows if changes is not None else []
        flagged = np.flatnonzero(changes) if changes is not None else np.empty(0, np.int64)
        reset = np.zeros((len(fused_windows), self.n_bars), dtype=np.bool_)
        member = np.zeros_like(reset)
        for w, k in enumerate(fused_windows):
            for start, end in metrics.merge_windows(flagged, k, self.n_bars):
                reset[w, start] = True
                member[w, start : end + 1] = True
        *columns, w_min_ratio = fused_column_statistics(self.returns, reset, member)
        if self._statistics is None:
            self._statistics = _finish_statistics(*columns)
        stats = self._statistics
        for w, k in enumerate(fused_windows):
            self._transitions[k] = self._shared_transition(stats, k, 1.0 - w_min_ratio[w])
        for k in windows:
            if k not in self._transitions:
                self._transitions[k] = self._per_candidate_transition(stats, k)

    def _shared_transition(
        self, stats: BatchStatistics, k: int, fused_drawdown: np.ndarray
    ) -> TransitionStatistics:
        """Finish the fused figures: count changes in each track record, fix cut windows."""
        changes, labels = self._shared_changes, self.regimes
        assert changes is not None and labels is not None  # only called for shared labels
        first, last = stats.first_live, stats.last_live
        live = first >= 0
        cum_change = np.concatenate((np.zeros(1, np.int64), np.cumsum(changes)))
        cum_missing = np.concatenate((np.zeros(1, np.int64), np.cumsum(labels < 0)))

        def count(cum: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
            """Occurrences in rows lo..hi inclusive (clipped; empty when hi < lo)."""
            lo = np.clip(lo, 0, self.n_bars)
            hi = np.clip(hi + 1, 0, self.n_bars)
            return np.where(hi > lo, cum[hi] - cum[np.minimum(lo, hi)], 0)

        n_changes = np.where(live, count(cum_change, first + 1, last), 0)
        missing = np.where(live, count(cum_missing, first, last) > 0, False)
        drawdown = np.where(n_changes > 0, fused_drawdown, np.nan)
        # A change outside the track record whose window reaches into it would wrongly add
        # or bridge a window: recompute those few candidates exactly on their own record.
        cut = live & (
            (count(cum_change, first - k, first) > 0) | (count(cum_change, last + 1, last + k) > 0)
        )
        clean = ~stats.has_gap & ~stats.has_non_finite  # the others are ERROR anyway
        redo = np.flatnonzero(cut & clean & (n_changes > 0) & ~missing)
        if redo.size:
            exact, _, _ = transition_drawdown_columns(
                self.returns, self.regimes, redo, first, last, k
            )
            drawdown[redo] = exact
        return TransitionStatistics(k, drawdown, n_changes, missing | ~live)

    def _per_candidate_transition(self, stats: BatchStatistics, k: int) -> TransitionStatistics:
        n = self.n_candidates
        if self.regimes is None:
            return TransitionStatistics(
                k, np.full(n, np.nan), np.zeros(n, dtype=np.int64), np.ones(n, dtype=bool)
            )
        columns = np.arange(n, dtype=np.int64)
        drawdown, n_changes, missing = transition_drawdown_columns(
            self.returns, self.regimes, columns, stats.first_live, stats.last_live, k
        )
        return TransitionStatistics(k, drawdown, n_changes, missing)


def _finish_statistics(*columns: np.ndarray) -> BatchStatistics:
    count, first, last, bad, shift, s1, s2, s3, s4, min_ratio = columns
    n = count.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # Moments of d = r - r_first; the central moments of r are those of d.
        mean_d = s1 / n
        m2 = s2 / n - mean_d**2
        m3 = s3 / n - 3.0 * mean_d * s2 / n + 2.0 * mean_d**3
        m4 = s4 / n - 4.0 * mean_d * s3 / n + 6.0 * mean_d**2 * s2 / n - 3.0 * mean_d**4
        mean = shift + mean_d
        variance = np.maximum(m2, 0.0) * n / (n - 1.0)
        std = np.where(count >= 2, np.sqrt(variance), np.nan)
        # Every d is exactly 0 (all returns equal) when s2 is; rounding cannot hide it.
        zero_variance = (s2 == 0.0) | ~(m2 > 0.0)
        skew = np.where(zero_variance, np.nan, m3 / m2**1.5)
        kurt = np.where(zero_variance, np.nan, m4 / m2**2)
    span = np.where(first >= 0, last - first + 1, 0)
    return BatchStatistics(
        live_bars=count,
        first_live=first,
        last_live=last,
        has_gap=count != span,
        has_non_finite=bad,
        mean=mean,
        std=std,
        skewness=skew,
        kurtosis=kurt,
        zero_variance=zero_variance & (count > 0),
        max_drawdown=1.0 - min_ratio,
    )


def per_period_sharpe(stats: BatchStatistics, rf_per_period: float) -> np.ndarray:
    """Per-bar Sharpe ratio ``mean(r - rf_p) / std(r, ddof=1)``; NaN where undefined."""
    with np.errstate(divide="ignore", invalid="ignore"):
        sharpe = (stats.mean - rf_per_period) / stats.std
    return np.where(stats.zero_variance | (stats.live_bars < 2), np.nan, sharpe)


def annualised_sharpe(
    stats: BatchStatistics, periods_per_year: int, rf_per_period: float
) -> np.ndarray:
    """Annualised Sharpe ratio per candidate: the per-bar ratio times ``sqrt(P)``."""
    return per_period_sharpe(stats, rf_per_period) * math.sqrt(periods_per_year)
