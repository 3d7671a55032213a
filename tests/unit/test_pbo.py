"""Known-answer and reference tests of the autopilot-pbo plugin (CSCV, Bailey et al. 2017)."""

from __future__ import annotations

import itertools
import math
import sys
from pathlib import Path

import numpy as np
import pytest

# The plugin is a separate distribution, not installed in the test venv.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plugins" / "autopilot-pbo"))

from autopilot_pbo import (
    PboGate,
    autopilot_register_gates,
    probability_of_backtest_overfitting,
    split_count,
)

from autopilot import CandidateBatch, EvaluationContext, GateParameterError, Outcome
from autopilot.testing import parametrize_with_checks


def naive_pbo(matrix: np.ndarray, blocks: int) -> tuple[float, np.ndarray]:
    """CSCV straight from the definition: loops, np.std(ddof=1), no shortcuts."""
    t, n = matrix.shape
    matrix = matrix[t % blocks :]
    parts = np.split(matrix, blocks)

    def sharpe(rows: np.ndarray) -> np.ndarray:
        out = np.empty(n)
        for j in range(n):
            sd = np.std(rows[:, j], ddof=1)
            out[j] = -np.inf if sd == 0 else np.mean(rows[:, j]) / sd
        return out

    logits = []
    for chosen in itertools.combinations(range(blocks), blocks // 2):
        rest = [b for b in range(blocks) if b not in chosen]
        is_perf = sharpe(np.vstack([parts[b] for b in chosen]))
        oos_perf = sharpe(np.vstack([parts[b] for b in rest]))
        best = int(np.argmax(is_perf))
        rank = 1 + sum(1 for j in range(n) if oos_perf[j] < oos_perf[best])
        omega = rank / (n + 1)
        logits.append(math.log(omega / (1 - omega)))
    logits_arr = np.array(logits)
    return float(np.mean(logits_arr <= 0)), logits_arr


def block_noise(rng: np.random.Generator, blocks: int, length: int) -> np.ndarray:
    """Noise with zero mean and equal variance inside every block."""
    z = rng.normal(0.0, 0.01, (blocks, length))
    z -= z.mean(axis=1, keepdims=True)
    z /= z.std(axis=1, keepdims=True)
    return (0.01 * z).reshape(-1)


def context(n: int, usable: np.ndarray | None = None) -> EvaluationContext:
    return EvaluationContext(
        periods_per_year=252,
        risk_free_rate=0.0,
        rf_per_period=0.0,
        usable=np.ones(n, dtype=bool) if usable is None else usable,
    )


# ---------------------------------------------------------------- the pure function


def test_dominant_candidate_everywhere_gives_zero():
    # Same deviations for all, so on any union of blocks the std is shared and the Sharpe
    # ratio orders candidates by their mean: candidate 0 is IS best and OOS best everywhere.
    rng = np.random.default_rng(1)
    z = block_noise(rng, 8, 10)
    means = np.array([0.004, 0.001, 0.0, -0.001, -0.002])
    matrix = z[:, None] + means[None, :]
    result = probability_of_backtest_overfitting(matrix, 8)
    assert result.probability == 0.0
    assert (result.best_in_sample == 0).all()
    assert (result.oos_rank == 5).all()
    np.testing.assert_allclose(result.logits, math.log(5 / 1))


def test_reversal_between_two_blocks_gives_one():
    # A is good in block 0 and bad in block 1, B the opposite: the IS winner is the OOS loser.
    z = block_noise(np.random.default_rng(2), 2, 12)
    shift = np.repeat([0.01, -0.01], 12)
    matrix = np.column_stack([z + shift, z - shift])
    result = probability_of_backtest_overfitting(matrix, 2)
    assert result.n_splits == 2
    assert result.probability == 1.0
    assert result.best_in_sample.tolist() == [0, 1]  # split 0: block 0 IS; split 1: block 1 IS
    assert result.oos_rank.tolist() == [1, 1]
    np.testing.assert_allclose(result.logits, math.log((1 / 3) / (2 / 3)))


@pytest.mark.parametrize(
    ("t", "n", "blocks", "seed"),
    [(48, 5, 6, 0), (50, 5, 6, 1), (61, 7, 4, 2), (40, 2, 2, 3), (64, 9, 8, 4)],
)
def test_matches_naive_implementation(t, n, blocks, seed):
    rng = np.random.default_rng(seed)
    matrix = rng.normal(0.0005, 0.01, (t, n)) + rng.normal(0, 0.002, n)
    expected_pbo, expected_logits = naive_pbo(matrix, blocks)
    result = probability_of_backtest_overfitting(matrix, blocks)
    np.testing.assert_allclose(result.logits, expected_logits, rtol=0, atol=1e-12)
    assert result.probability == pytest.approx(expected_pbo, abs=1e-12)
    assert result.n_dropped == t % blocks
    assert result.n_bars == t - t % blocks


def test_chunking_does_not_change_the_answer():
    rng = np.random.default_rng(5)
    matrix = rng.normal(0.0, 0.01, (96, 30))
    whole = probability_of_backtest_overfitting(matrix, 8)
    # A tiny budget forces one split per chunk.
    pieces = probability_of_backtest_overfitting(matrix, 8, memory_limit=1)
    np.testing.assert_array_equal(whole.logits, pieces.logits)
    np.testing.assert_array_equal(whole.best_in_sample, pieces.best_in_sample)


@pytest.mark.parametrize("blocks", [2, 4, 6, 8, 10, 16])
def test_number_of_splits(blocks):
    matrix = np.random.default_rng(blocks).normal(0.0, 0.01, (blocks * 3, 3))
    result = probability_of_backtest_overfitting(matrix, blocks)
    assert result.n_splits == math.comb(blocks, blocks // 2) == split_count(blocks)
    assert result.logits.shape == (result.n_splits,)


def test_zero_variance_is_minus_infinity_and_matches_naive():
    rng = np.random.default_rng(6)
    matrix = rng.normal(0.0, 0.01, (32, 4))
    matrix[:, 1] = 0.25  # constant everywhere: never IS best, always OOS worst
    # Constant within blocks, and over the splits {0, 1} and {2, 3} only.
    matrix[:, 2] = np.repeat([0.25, 0.25, 0.5, 0.5], 8)
    result = probability_of_backtest_overfitting(matrix, 4)
    assert np.isfinite(result.logits).all()
    assert 1 not in result.best_in_sample
    _, expected = naive_pbo(matrix, 4)
    np.testing.assert_allclose(result.logits, expected, rtol=0, atol=1e-12)


def test_ties_count_against_the_chosen_candidate():
    # Identical candidates: column 0 is IS best (first of equals) and no OOS value is
    # strictly below it, so rank 1 in every split.
    column = np.random.default_rng(7).normal(0.0, 0.01, 40)
    result = probability_of_backtest_overfitting(np.column_stack([column] * 3), 4)
    assert (result.best_in_sample == 0).all()
    assert (result.oos_rank == 1).all()
    assert result.probability == 1.0


@pytest.mark.parametrize(
    ("matrix", "blocks"),
    [
        (np.zeros((40, 1)), 4),  # one candidate
        (np.zeros(40), 4),  # not 2-D
        (np.zeros((40, 3)), 5),  # odd blocks
        (np.zeros((40, 3)), 0),  # too few blocks
        (np.zeros((3, 3)), 2),  # a half of one row
        (np.full((40, 3), np.nan), 4),  # non-finite
    ],
)
def test_bad_input_is_refused(matrix, blocks):
    with pytest.raises(ValueError):
        probability_of_backtest_overfitting(matrix, blocks)


# ---------------------------------------------------------------- the gate


def reversal_batch(n_bars: int = 64) -> CandidateBatch:
    z = block_noise(np.random.default_rng(8), 2, n_bars // 2)
    shift = np.repeat([0.01, -0.01], n_bars // 2)
    return CandidateBatch(np.column_stack([z + shift, z - shift]), ["a", "b"])


def test_registration_and_metadata():
    assert autopilot_register_gates() == [PboGate]
    gate = PboGate()
    assert gate.name == "pbo"
    assert gate.batch_level
    assert dict(gate.params) == {"max_probability": 0.5, "blocks": 16, "min_bars_per_block": 4}
    assert gate.threshold == 0.5


def test_gate_fails_an_overfit_batch():
    gate = PboGate(blocks=2, max_probability=0.5)
    result = gate.evaluate(reversal_batch(), context(2))
    assert result.outcomes.tolist() == [Outcome.FAIL, Outcome.FAIL]
    np.testing.assert_array_equal(result.values, [1.0, 1.0])
    assert result.threshold == 0.5
    assert result.reason(0) == "ABOVE_MAX: pbo=1, max=0.5, splits=2, candidates=2, bars=64"
    assert result.reason(1) == result.reason(0)


def test_gate_passes_a_dominated_batch():
    rng = np.random.default_rng(9)
    z = block_noise(rng, 4, 25)
    means = np.array([0.003, 0.001, 0.0])
    returns = np.vstack([np.full((3, 3), np.nan), z[:, None] + means])  # 3 leading non-live
    returns[:3, 0] = 0.001  # candidate 0 lives longer; only common bars count
    gate = PboGate(blocks=4, min_bars_per_block=5, max_probability=0.0)
    result = gate.evaluate(CandidateBatch(returns, ["x", "y", "z"]), context(3))
    assert result.outcomes.tolist() == [Outcome.PASS] * 3
    np.testing.assert_array_equal(result.values, [0.0] * 3)
    assert result.reason(2) == "OK: pbo=0, max=0, splits=6, candidates=3, bars=100"


def test_gate_uses_only_usable_candidates():
    batch = reversal_batch()
    # A third column that is never live would empty the common span if it were used.
    returns = np.column_stack([batch.returns, np.full(batch.n_bars, np.nan)])
    batch3 = CandidateBatch(returns, ["a", "b", "dead"])
    result = PboGate(blocks=2).evaluate(batch3, context(3, np.array([True, True, False])))
    assert result.outcomes.tolist() == [Outcome.FAIL] * 3
    assert result.reason(0).startswith("ABOVE_MAX: pbo=1,")


def test_gate_drops_oldest_rows_to_fit_blocks():
    rng = np.random.default_rng(10)
    returns = rng.normal(0.0, 0.01, (70, 4))
    result = PboGate(blocks=4).evaluate(CandidateBatch(returns, list("abcd")), context(4))
    expected, _ = naive_pbo(returns, 4)
    assert result.values[0] == pytest.approx(expected, abs=1e-12)
    assert result.reason(0).endswith("splits=6, candidates=4, bars=68")


def test_too_few_candidates():
    batch = reversal_batch()
    result = PboGate(blocks=2).evaluate(batch, context(2, np.array([True, False])))
    assert result.outcomes.tolist() == [Outcome.INSUFFICIENT_DATA] * 2
    assert np.isnan(result.values).all()
    assert result.reason(0) == "TOO_FEW_CANDIDATES: candidates=1, min=2"


def test_too_few_common_bars():
    rng = np.random.default_rng(11)
    returns = rng.normal(0.0, 0.01, (80, 2))
    returns[:50, 1] = np.nan  # common span is the last 30 bars
    gate = PboGate(blocks=4, min_bars_per_block=8)
    result = gate.evaluate(CandidateBatch(returns, ["a", "b"]), context(2))
    assert result.outcomes.tolist() == [Outcome.INSUFFICIENT_DATA] * 2
    assert np.isnan(result.values).all()
    assert result.reason(1) == "TOO_FEW_COMMON_BARS: bars=30, min=32"


def test_disjoint_live_spans_have_no_common_bars():
    returns = np.full((80, 2), np.nan)
    returns[:40, 0] = 0.01 * np.sin(np.arange(40))
    returns[40:, 1] = 0.01 * np.cos(np.arange(40))
    result = PboGate(blocks=2).evaluate(CandidateBatch(returns, ["a", "b"]), context(2))
    assert result.outcomes.tolist() == [Outcome.INSUFFICIENT_DATA] * 2
    assert result.reason(0) == "TOO_FEW_COMMON_BARS: bars=0, min=8"


def test_odd_blocks_are_refused():
    with pytest.raises(GateParameterError) as info:
        PboGate(blocks=7)
    assert str(info.value) == (
        "The 'blocks' parameter of gate 'pbo' must be an even integer in [2, 20], was 7."
    )


@pytest.mark.parametrize(
    "params",
    [
        {"threshold": 0.5},  # unknown key
        {"max_probability": 1.5},
        {"blocks": 0},
        {"blocks": 22},  # C(22, 11) splits would run for hours
        {"blocks": 4.0},
        {"min_bars_per_block": 1},
    ],
)
def test_bad_parameters_are_refused(params):
    with pytest.raises(GateParameterError):
        PboGate(**params)


@parametrize_with_checks(
    [PboGate, (PboGate, {"blocks": 8, "max_probability": 0.9, "min_bars_per_block": 10})]
)
def test_pbo_gate_follows_the_gate_contract(gate_check):
    gate_check()
