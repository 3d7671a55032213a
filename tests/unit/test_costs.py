"""Unit tests of the cost model and the cost calibrator (seed T4: signed, unclipped costs)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from autopilot.cost_calibrator import CostCalibrator, huber_multiplier
from autopilot.costs import CostModel, Fill, signed_cost_bps
from autopilot.errors import ConfigError

# Tolerance of a cost recovered from a simulated fill price: the fill price is a float, so
# 1e4 * side * (fill - arrival) / arrival carries rounding of ~1e-12 bps, never more.
PRICE_ROUNDING_BPS = 1e-9

TRUE_MEAN_BPS = 2.0
TRUE_STD_BPS = 10.0
N_TRADES = 5000


def _phi(x: float) -> float:
    return math.exp(-0.5 * x * x) / math.sqrt(2.0 * math.pi)


def _big_phi(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def _simulated_costs(seed: int = 20240601) -> tuple[np.ndarray, np.ndarray]:
    """True signed costs ~ N(2, 10) bps and varied notionals."""
    rng = np.random.default_rng(seed)
    costs = rng.normal(TRUE_MEAN_BPS, TRUE_STD_BPS, N_TRADES)
    notionals = rng.uniform(1e3, 1e6, N_TRADES)
    return costs, notionals


def _calibrator_with(
    costs: np.ndarray, notionals: np.ndarray, predicted: float = TRUE_MEAN_BPS
) -> CostCalibrator:
    calibrator = CostCalibrator(window=N_TRADES)
    for i, (cost, notional) in enumerate(zip(costs, notionals, strict=True)):
        calibrator.record_trade(
            predicted_bps=predicted,
            actual_bps=float(cost),
            notional=float(notional),
            side=1 if i % 2 == 0 else -1,
            participation=0.01,
            volatility=0.02,
            time="2024-06-03",
            base_predicted_bps=predicted,
        )
    return calibrator


# --------------------------------------------------------------------------------------------
# CostModel


@pytest.mark.parametrize(
    "name", ["half_spread_bps", "fee_bps", "impact", "noise_bps", "multiplier"]
)
@pytest.mark.parametrize("value", [-0.1, -1, math.nan, math.inf, -math.inf])
def test_cost_model_rejects_negative_or_non_finite_parameters(name: str, value: float) -> None:
    with pytest.raises(ValueError, match=name) as info:
        CostModel(**{name: value})
    assert repr(value) in str(info.value)


@pytest.mark.parametrize("name", ["half_spread_bps", "fee_bps", "impact", "noise_bps"])
def test_cost_model_accepts_zero_parameters(name: str) -> None:
    model = CostModel(**{name: 0.0})
    assert getattr(model, name) == 0.0


def test_predicted_cost_formula_by_hand() -> None:
    model = CostModel(half_spread_bps=2.0, fee_bps=0.5, impact=0.7, noise_bps=10.0, multiplier=1.3)
    # impact term: 1e4 * 0.7 * 0.02 * sqrt(0.04) = 1e4 * 0.7 * 0.02 * 0.2 = 28 bps
    base = 2.0 + 0.5 + 28.0
    assert model.base_cost_bps(0.04, 0.02) == pytest.approx(base, rel=1e-12)
    assert model.predicted_cost_bps(0.04, 0.02) == pytest.approx(1.3 * base, rel=1e-12)
    # no participation: spread and fee only
    assert model.predicted_cost_bps(0.0, 0.02) == pytest.approx(1.3 * 2.5, rel=1e-12)


def test_base_cost_rejects_negative_participation_or_volatility() -> None:
    model = CostModel()
    with pytest.raises(ValueError):
        model.base_cost_bps(-0.01, 0.02)
    with pytest.raises(ValueError):
        model.base_cost_bps(0.01, -0.02)


@pytest.mark.parametrize("side", [1, -1])
@pytest.mark.parametrize("arrival", [100.0, 37.31, 1234.5678, 0.77])
@pytest.mark.parametrize("participation", [0.0, 0.01, 0.1234])
def test_simulate_fill_without_noise_costs_exactly_the_base_cost(
    side: int, arrival: float, participation: float
) -> None:
    model = CostModel(half_spread_bps=2.0, fee_bps=0.5, impact=0.7, noise_bps=0.0)
    fill = model.simulate_fill(side, 10.0, arrival, participation, 0.02, np.random.default_rng(0))
    base = model.base_cost_bps(participation, 0.02)
    assert fill.actual_cost_bps == pytest.approx(base, rel=0.0, abs=PRICE_ROUNDING_BPS)
    assert fill.predicted_cost_bps == base  # multiplier 1
    # a cost is paid: a buy fills above, a sell below the arrival price
    assert side * (fill.fill_price - arrival) > 0
    assert fill.notional == 10.0 * arrival
    assert (fill.side, fill.shares, fill.arrival_price) == (side, 10.0, arrival)


def test_simulate_fill_predicted_cost_uses_multiplier_but_true_cost_does_not() -> None:
    model = CostModel(half_spread_bps=3.0, fee_bps=1.0, impact=0.0, noise_bps=0.0, multiplier=2.0)
    fill = model.simulate_fill(1, 5.0, 50.0, 0.01, 0.02, np.random.default_rng(1))
    assert fill.predicted_cost_bps == pytest.approx(8.0)
    assert fill.actual_cost_bps == pytest.approx(4.0, abs=PRICE_ROUNDING_BPS)


def test_simulate_fill_is_reproducible_with_a_seeded_generator() -> None:
    model = CostModel()
    a = model.simulate_fill(1, 1.0, 100.0, 0.01, 0.02, np.random.default_rng(7))
    b = model.simulate_fill(1, 1.0, 100.0, 0.01, 0.02, np.random.default_rng(7))
    assert a == b


# --------------------------------------------------------------------------------------------
# signed_cost_bps


def test_signed_cost_by_hand() -> None:
    assert signed_cost_bps(1, 100.0, 100.5) == pytest.approx(50.0)
    assert signed_cost_bps(1, 100.0, 99.9) == pytest.approx(-10.0)  # bought below arrival
    assert signed_cost_bps(-1, 100.0, 100.2) == pytest.approx(-20.0)  # sold above arrival
    assert signed_cost_bps(-1, 100.0, 99.7) == pytest.approx(30.0)
    assert signed_cost_bps(1, 100.0, 100.0) == 0.0


@pytest.mark.parametrize("side", [0, 2, -2])
def test_signed_cost_rejects_other_sides(side: int) -> None:
    with pytest.raises(ValueError, match="side"):
        signed_cost_bps(side, 100.0, 101.0)


@pytest.mark.parametrize("arrival", [0.0, -1.0, math.nan])
def test_signed_cost_rejects_non_positive_arrival(arrival: float) -> None:
    with pytest.raises(ValueError, match="arrival"):
        signed_cost_bps(1, arrival, 101.0)


def test_fill_actual_cost_is_signed() -> None:
    fill = Fill(1, 10.0, 100.0, 99.95, 2.5, 0.01, 0.02)
    assert fill.actual_cost_bps == pytest.approx(-5.0)
    assert fill.notional == 1000.0


# --------------------------------------------------------------------------------------------
# CostCalibrator: negative costs are kept, the mean and the surprise are unbiased


def test_record_trade_keeps_a_negative_cost_unchanged() -> None:
    calibrator = CostCalibrator()
    trade = calibrator.record_trade(2.5, -7.25, 1000.0, -1, 0.01, 0.02, "2024-06-03", 2.5)
    assert trade.actual_bps == -7.25
    assert calibrator.trades == [trade]
    assert calibrator.mean_cost_bps() == -7.25
    surprise = calibrator.compute_cost_surprise()
    assert surprise.weighted_mean_bps == pytest.approx(-9.75)
    assert surprise.price_improvements == 1


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"actual_bps": math.nan}, "actual_bps"),
        ({"predicted_bps": math.inf}, "predicted_bps"),
        ({"notional": 0.0}, "notional"),
        ({"notional": -5.0}, "notional"),
        ({"side": 0}, "side"),
    ],
)
def test_record_trade_rejects_invalid_input(kwargs: dict, match: str) -> None:
    args = {
        "predicted_bps": 2.0,
        "actual_bps": 1.0,
        "notional": 100.0,
        "side": 1,
        "participation": 0.01,
        "volatility": 0.02,
        "time": "2024-06-03",
    }
    with pytest.raises(ValueError, match=match):
        CostCalibrator().record_trade(**{**args, **kwargs})


def test_window_keeps_the_most_recent_trades() -> None:
    calibrator = CostCalibrator(window=3)
    for cost in [1.0, -2.0, 3.0, -4.0, 5.0]:
        calibrator.record_trade(0.0, cost, 1.0, 1, 0.01, 0.02, "2024-06-03")
    assert [t.actual_bps for t in calibrator.trades] == [3.0, -4.0, 5.0]
    assert calibrator.mean_cost_bps(window=2) == pytest.approx(0.5)


def test_empty_calibrator_reports_nan() -> None:
    calibrator = CostCalibrator()
    assert math.isnan(calibrator.mean_cost_bps())
    surprise = calibrator.compute_cost_surprise()
    assert surprise.count == 0 and math.isnan(surprise.weighted_mean_bps)


def test_simulated_costs_are_about_42_percent_negative() -> None:
    costs, _ = _simulated_costs()
    share = float(np.mean(costs < 0))
    assert _big_phi(-0.2) == pytest.approx(0.4207, abs=1e-4)
    assert share == pytest.approx(_big_phi(-0.2), abs=0.02)


@pytest.mark.parametrize("notionals", ["equal", "varied"])
def test_mean_cost_of_5000_signed_trades_is_unbiased(notionals: str) -> None:
    costs, varied = _simulated_costs()
    weights = np.full(N_TRADES, 10_000.0) if notionals == "equal" else varied
    calibrator = _calibrator_with(costs, weights)

    assert len(calibrator.trades) == N_TRADES
    assert [t.actual_bps for t in calibrator.trades] == costs.tolist()
    estimate = calibrator.mean_cost_bps()
    assert abs(estimate - TRUE_MEAN_BPS) < 0.5

    # Contrast: clipping at zero biases the estimate to E[max(X, 0)], X ~ N(2, 10).
    expected_clipped = TRUE_MEAN_BPS * _big_phi(0.2) + TRUE_STD_BPS * _phi(0.2)
    assert expected_clipped == pytest.approx(5.07, abs=0.01)
    clipped = float(np.average(np.maximum(costs, 0.0), weights=weights))
    assert clipped == pytest.approx(expected_clipped, abs=0.5)
    assert clipped - estimate > 2.5


@pytest.mark.parametrize("notionals", ["equal", "varied"])
def test_cost_surprise_of_a_correct_model_is_about_zero(notionals: str) -> None:
    costs, varied = _simulated_costs()
    weights = np.full(N_TRADES, 10_000.0) if notionals == "equal" else varied
    surprise = _calibrator_with(costs, weights, predicted=TRUE_MEAN_BPS).compute_cost_surprise()
    assert surprise.count == N_TRADES
    assert abs(surprise.weighted_mean_bps) < 0.5
    assert abs(surprise.median_bps) < 0.5
    assert surprise.price_improvements == int(np.sum(costs < 0))
    assert surprise.notional == pytest.approx(float(weights.sum()))


def test_fit_recovers_the_true_multiplier_from_signed_noisy_costs() -> None:
    rng = np.random.default_rng(99)
    m_true = 1.3
    base = rng.uniform(2.0, 20.0, N_TRADES)
    actual = m_true * base + rng.normal(0.0, 10.0, N_TRADES)
    assert np.mean(actual < 0) > 0.1  # plenty of price improvements
    calibrator = CostCalibrator(window=N_TRADES)
    for b, a in zip(base, actual, strict=True):
        calibrator.record_trade(b, float(a), 1000.0, 1, 0.01, 0.02, "2024-06-03", float(b))
    assert calibrator.fit() == pytest.approx(m_true, abs=0.05)
    assert calibrator.multiplier == pytest.approx(m_true, abs=0.05)


def test_fit_keeps_the_multiplier_with_too_few_trades() -> None:
    calibrator = CostCalibrator(multiplier=1.7)
    for _ in range(29):
        calibrator.record_trade(2.0, -3.0, 1000.0, 1, 0.01, 0.02, "2024-06-03", 2.0)
    assert calibrator.fit(min_trades=30) == 1.7


def test_fit_floors_a_negative_slope_at_zero() -> None:
    calibrator = CostCalibrator()
    for b in np.linspace(1.0, 10.0, 40):
        calibrator.record_trade(b, -2.0 * b, 1000.0, -1, 0.01, 0.02, "2024-06-03", b)
    assert calibrator.fit() == 0.0


def test_huber_multiplier_is_robust_to_a_few_huge_outliers() -> None:
    rng = np.random.default_rng(3)
    m_true = 1.5
    base = rng.uniform(2.0, 20.0, 1000)
    actual = m_true * base + rng.normal(0.0, 2.0, 1000)
    actual[:5] = 1e5  # five absurd fills
    base[:5] = 20.0
    least_squares = float(np.dot(base, actual) / np.dot(base, base))
    robust = huber_multiplier(actual, base)
    assert abs(least_squares - m_true) > 1.0
    assert robust == pytest.approx(m_true, abs=0.05)


def test_huber_multiplier_with_all_zero_base_is_nan() -> None:
    assert math.isnan(huber_multiplier(np.array([-1.0, 2.0]), np.zeros(2)))


def test_negative_costs_never_raise_anywhere() -> None:
    calibrator = CostCalibrator(window=100)
    for i in range(60):
        calibrator.record_trade(
            -5.0, -50.0 - i, 1000.0 + i, 1 if i % 2 else -1, 0.0, 0.0, "2024-06-03", -5.0
        )
    assert calibrator.mean_cost_bps() < 0
    surprise = calibrator.compute_cost_surprise(window=10)
    assert surprise.price_improvements == 10
    assert math.isfinite(calibrator.fit())
    assert math.isfinite(huber_multiplier(np.full(10, -3.0), np.full(10, 1.0)))
    restored = CostCalibrator.from_state(calibrator.to_state())
    assert restored.trades == calibrator.trades
    assert restored.mean_cost_bps() == calibrator.mean_cost_bps()


@pytest.mark.parametrize(
    "name", ["half_spread_bps", "fee_bps", "impact", "noise_bps", "multiplier"]
)
def test_cost_model_rejects_booleans(name: str) -> None:
    with pytest.raises(ValueError, match=name):
        CostModel(**{name: True})


def test_cost_model_settings_use_the_declared_constraint_message() -> None:
    with pytest.raises(ConfigError) as info:
        CostModel(fee_bps=-1)
    assert str(info.value) == "The 'fee_bps' setting of 'CostModel' must be in [0, inf), was -1."


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"window": 0}, "The 'window' setting of 'CostCalibrator' must be in [1, inf), was 0."),
        ({"window": 2.5}, "The 'window' setting of 'CostCalibrator' must be an integer, was 2.5"),
        ({"window": True}, "must be an integer, was True (bool)"),
        (
            {"multiplier": math.nan},
            "The 'multiplier' setting of 'CostCalibrator' must be a finite number, was nan.",
        ),
        ({"multiplier": -0.5}, "must be in [0, inf), was -0.5."),
    ],
)
def test_cost_calibrator_settings_validate_their_fields(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        CostCalibrator(**kwargs)
    assert message in str(info.value)
