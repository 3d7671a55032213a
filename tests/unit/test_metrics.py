"""Known answers from the issue's formulas and the papers' published examples."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from autopilot.stats import metrics

SHARPE_RETURNS = [0.01, -0.02, 0.03, -0.01, 0.02]
TRANSITION_RETURNS = [0.01, 0.02, -0.05, 0.01, -0.03, 0.02, 0.04, -0.06, 0.01, 0.03, -0.02, 0.01]
TRANSITION_LABELS = [0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0]


def thirty_bar_case() -> tuple[np.ndarray, np.ndarray]:
    returns = np.zeros(30)
    returns[[8, 9]] = -0.10
    returns[11] = 0.05
    returns[20] = -0.30
    labels = np.r_[np.zeros(10), np.ones(20)]
    return returns, labels


@pytest.mark.parametrize("container", [np.asarray, pd.Series, list])
def test_sharpe_reference(container):
    r = container(SHARPE_RETURNS)
    assert metrics.sharpe_ratio(r, 252) == pytest.approx(4.593220484431883, rel=1e-13)
    assert metrics.sharpe_ratio(r, 252, 0.02) == pytest.approx(4.533060823549919, rel=1e-13)


def test_sharpe_undefined_is_nan_not_infinite():
    assert math.isnan(metrics.sharpe_ratio([0.01, 0.01, 0.01], 252))
    assert math.isnan(metrics.sharpe_ratio([0.01], 252))


def test_per_period_rate_compounds_back_to_annual():
    daily = metrics.per_period_rate(0.02, 252)
    assert (1 + daily) ** 252 == pytest.approx(1.02, rel=1e-14)


@pytest.mark.parametrize("container", [np.asarray, pd.Series])
def test_max_drawdown_reference(container):
    assert metrics.max_drawdown(container([-0.2, 0.1, 0.05])) == pytest.approx(0.2, abs=1e-15)


def test_first_bar_loss_counts():
    assert metrics.max_drawdown([-0.1]) == pytest.approx(0.1)


def test_transition_windows_merge_into_one():
    assert metrics.transition_windows(TRANSITION_LABELS, 3) == [(0, 10)]


def test_transition_drawdown_merged_window_reference():
    value = metrics.transition_drawdown(TRANSITION_RETURNS, TRANSITION_LABELS, 3)
    assert value == pytest.approx(0.0719357, abs=5e-8)


def test_transition_drawdown_thirty_bar_reference():
    returns, labels = thirty_bar_case()
    assert metrics.transition_windows(labels, 3) == [(7, 13)]
    assert metrics.transition_drawdown(returns, labels, 3) == pytest.approx(0.19, abs=1e-12)
    assert metrics.max_drawdown(returns) == pytest.approx(0.40465, abs=1e-12)


def test_transition_drawdown_without_change_is_nan():
    assert math.isnan(metrics.transition_drawdown([0.1, -0.2, 0.3], [1, 1, 1], 3))


def test_windows_are_clipped_to_the_series():
    assert metrics.transition_windows([0, 1, 1, 1, 1, 1], 3) == [(0, 4)]
    assert metrics.transition_windows([0, 0, 0, 0, 0, 1], 2) == [(3, 5)]


def test_psr_reference_nonnormal():
    psr = metrics.probabilistic_sharpe_ratio(1.585 / math.sqrt(12), 0.0, 24, -2.448, 10.164)
    assert psr == pytest.approx(0.91323430688486018, abs=1e-12)


def test_psr_reference_normal():
    assert metrics.probabilistic_sharpe_ratio(1.14, 1.0, 250) == pytest.approx(
        0.95727, abs=1e-5
    )  # published to 5 d.p.


def test_psr_is_vectorised():
    values = metrics.probabilistic_sharpe_ratio(np.array([1.14, 1.14]), 1.0, np.array([250, 1]))
    assert values[0] == pytest.approx(0.95727, abs=1e-5)  # published to 5 d.p.
    assert math.isnan(values[1])


def test_expected_max_sharpe_reference():
    assert metrics.expected_max_sharpe(100) == pytest.approx(2.5306028932016846, abs=1e-13)


def test_expected_max_sharpe_needs_two_trials():
    with pytest.raises(ValueError, match="at least 2"):
        metrics.expected_max_sharpe(1)


def test_dsr_paper_example():
    dsr = metrics.deflated_sharpe_ratio(
        sharpe=2.5 / math.sqrt(250),
        n_obs=1250,
        skew=-3.0,
        kurt=10.0,
        sharpe_variance=0.5 / 250,
        n_trials=100,
    )
    assert dsr == pytest.approx(0.90039683444939034, abs=1e-12)


def test_moments_of_a_known_sample():
    # [1, 2, 3, 4, 10]: mean 4, central moments m2=10, m3=36, m4=...
    x = np.array([1.0, 2.0, 3.0, 4.0, 10.0])
    d = x - 4.0
    m2, m3, m4 = (d**2).mean(), (d**3).mean(), (d**4).mean()
    assert metrics.skewness(x) == pytest.approx(m3 / m2**1.5)
    assert metrics.kurtosis(x) == pytest.approx(m4 / m2**2)
    assert metrics.kurtosis(np.r_[np.ones(5), -np.ones(5)]) == pytest.approx(1.0)
