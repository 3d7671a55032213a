"""The fused single-pass batch kernel agrees with the readable 1-D definitions in metrics."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import event, given, settings
from hypothesis import strategies as st

from autopilot.stats import metrics
from autopilot.stats.batch import CandidateBatch, annualised_sharpe, per_period_sharpe
from tests.strategies import live_bounds, returns_cases, returns_matrices, well_conditioned

SETTINGS = settings(derandomize=True, deadline=None, max_examples=100)


def _close(got: float, want: float, rel: float, abs_: float = 0.0) -> bool:
    if math.isnan(want):
        return math.isnan(got)
    return math.isclose(got, want, rel_tol=rel, abs_tol=abs_)


@SETTINGS
@given(matrix=returns_matrices(non_constant=False), periods=st.sampled_from([12, 252]))
def test_statistics_match_reference(matrix: np.ndarray, periods: int) -> None:
    batch = CandidateBatch(matrix, [f"s{j}" for j in range(matrix.shape[1])])
    stats = batch.statistics()
    sharpe = annualised_sharpe(stats, periods, 0.0)
    for j in range(matrix.shape[1]):
        first, last = live_bounds(matrix, j)
        segment = matrix[first : last + 1, j]
        assert stats.first_live[j] == first and stats.last_live[j] == last
        assert stats.live_bars[j] == segment.size
        assert not stats.has_gap[j] and not stats.has_non_finite[j]
        assert np.array_equal(batch.live_returns(j), segment)
        assert _close(stats.max_drawdown[j], metrics.max_drawdown(segment), 0.0, 1e-12)
        assert bool(stats.zero_variance[j]) == (np.ptp(segment) == 0.0)
        if np.ptp(segment) == 0.0:
            assert math.isnan(sharpe[j])
            assert math.isnan(metrics.sharpe_ratio(segment, periods))
        if well_conditioned(segment):
            assert _close(sharpe[j], metrics.sharpe_ratio(segment, periods), 1e-9)
            scale = np.max(np.abs(segment)) / segment.std()
            assert _close(stats.skewness[j], metrics.skewness(segment), 1e-7, 1e-12 * scale**3)
            assert _close(stats.kurtosis[j], metrics.kurtosis(segment), 1e-7)


@SETTINGS
@given(
    matrix=returns_matrices(),
    annual_rf=st.sampled_from([0.0, 0.03, -0.01]),
    periods=st.sampled_from([12, 252]),
)
def test_sharpe_with_risk_free_rate_matches_reference(
    matrix: np.ndarray, annual_rf: float, periods: int
) -> None:
    batch = CandidateBatch(matrix, [f"s{j}" for j in range(matrix.shape[1])])
    rf = metrics.per_period_rate(annual_rf, periods)
    stats = batch.statistics()
    annual = annualised_sharpe(stats, periods, rf)
    per_period = per_period_sharpe(stats, rf)
    for j in range(matrix.shape[1]):
        first, last = live_bounds(matrix, j)
        segment = matrix[first : last + 1, j]
        if not well_conditioned(segment):
            continue
        want = metrics.sharpe_ratio(segment, periods, annual_rf)
        # A rate shifts the mean: compare with an absolute floor scaled like the rate term.
        floor = 1e-12 * math.sqrt(periods) * (np.max(np.abs(segment)) + abs(rf)) / segment.std()
        assert _close(annual[j], want, 1e-9, floor)
        assert _close(per_period[j] * math.sqrt(periods), want, 1e-9, floor)


def _check_transitions(case, k: int) -> None:
    batch = CandidateBatch(case.returns, case.ids, regimes=case.regimes)
    transition = batch.transition(k)
    assert transition.window == k
    for j in range(case.returns.shape[1]):
        first, last = live_bounds(case.returns, j)
        segment = case.returns[first : last + 1, j]
        labels = case.labels_of(j)[first : last + 1]
        n_changes = int(np.count_nonzero(labels[1:] != labels[:-1]))
        want = metrics.transition_drawdown(segment, labels, k)
        assert transition.changes[j] == n_changes, j
        assert not transition.labels_missing[j], j
        full = case.labels_of(j)
        changes = np.flatnonzero(full[1:] != full[:-1]) + 1
        outside = changes[(changes <= first) | (changes > last)]
        near = outside[(outside >= first - k) & (outside <= last + k)]
        event("window cut by the live range" if near.size else "no cut window")
        if n_changes == 0:
            assert math.isnan(want)
            assert math.isnan(transition.drawdown[j]), j
        else:
            assert _close(transition.drawdown[j], want, 0.0, 1e-12), (j, first, last)


@SETTINGS
@given(case=returns_cases(per_candidate=False), k=st.integers(1, 4))
def test_shared_label_transition_drawdown_matches_reference(case, k: int) -> None:
    _check_transitions(case, k)


@SETTINGS
@given(case=returns_cases(per_candidate=True), k=st.integers(1, 4))
def test_per_candidate_label_transition_drawdown_matches_reference(case, k: int) -> None:
    _check_transitions(case, k)


@settings(derandomize=True, deadline=None, max_examples=50)
@given(case=returns_cases(), windows=st.lists(st.integers(1, 5), min_size=1, max_size=3))
def test_prepared_windows_match_windows_computed_on_demand(case, windows) -> None:
    """Windows fused into one pass agree with windows computed one at a time."""
    fused = CandidateBatch(case.returns, case.ids, regimes=case.regimes)
    fused.prepare(windows)
    for k in windows:
        alone = CandidateBatch(case.returns, case.ids, regimes=case.regimes).transition(k)
        together = fused.transition(k)
        np.testing.assert_allclose(together.drawdown, alone.drawdown, rtol=0, atol=1e-15)
        np.testing.assert_array_equal(together.changes, alone.changes)
