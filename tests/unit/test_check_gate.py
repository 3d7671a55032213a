"""The conformance suite: every built-in gate passes it, and it catches broken gates."""

from __future__ import annotations

import numpy as np
import pytest

from autopilot import Gate, GateResult, Interval, Outcome, Param, threshold_result
from autopilot.sdk.plugins import load_gate_catalog
from autopilot.testing import CHECKS, check_gate, gate_checks, parametrize_with_checks

BUILTIN = {name: info.cls for name, info in load_gate_catalog(()).gates.items()}


def test_every_builtin_gate_is_checked():
    assert sorted(BUILTIN) == [
        "deflated_sharpe",
        "max_drawdown",
        "min_history",
        "probabilistic_sharpe",
        "sharpe",
        "transition_drawdown",
    ]


@parametrize_with_checks(
    [
        *BUILTIN.values(),
        # The other branches of some gates.
        (BUILTIN["sharpe"], {"min": -1.0}),
        (BUILTIN["deflated_sharpe"], {"trials": 100, "sharpe_variance": 0.5}),
        (BUILTIN["transition_drawdown"], {"max": 0.05, "window": 1}),
        (BUILTIN["min_history"], {"bars": 300}),
    ]
)
def test_builtin_gates_follow_the_contract(gate_check):
    gate_check()


# --- a conforming third-party gate (the README's example) ------------------------------------


class HitRateGate(Gate):
    """Share of live bars with a positive return, at least `min`."""

    name = "hit_rate"
    description = "share of positive bars at least `min`"
    parameters = {"min": Param(float, default=0.5, interval=Interval(0, 1))}
    threshold_parameter = "min"

    def evaluate(self, batch, context):
        live = ~np.isnan(batch.returns)
        hits = (np.nan_to_num(batch.returns) > 0).sum(axis=0) / np.maximum(live.sum(axis=0), 1)
        return threshold_result(hits, self.params["min"], "min")


def test_the_readme_example_gate_passes():
    check_gate(HitRateGate)
    check_gate(HitRateGate, {"min": 0.45})


# --- broken gates: each must be caught -------------------------------------------------------


def failing_checks(gate_class: type[Gate], params=None) -> dict[str, str]:
    """Check name -> message, for every check the gate fails."""
    failures = {}
    for check in gate_checks(gate_class, params):
        try:
            check()
        except AssertionError as exc:
            failures[check.check.__name__] = str(exc)
    return failures


class _Broken(HitRateGate):
    """Base of the broken gates: a conforming gate with one thing wrong in each subclass."""

    name = "broken"


class BoolMask(_Broken):
    def evaluate(self, batch, context):
        n = batch.n_candidates
        return GateResult(np.zeros(n, dtype=bool), np.ones(n), ["OK"] * n)


class NanCodes(_Broken):
    def evaluate(self, batch, context):
        n = batch.n_candidates
        return GateResult(np.full(n, np.nan), np.ones(n), ["OK"] * n)


class ListCodes(_Broken):
    """Accepted by the gate set (an ndarray-like of ints) but not what the contract says."""

    def evaluate(self, batch, context):
        result = super().evaluate(batch, context)
        return GateResult(result.outcomes.tolist(), result.values, result.reasons, 0.5)


class MutatesReturns(_Broken):
    def evaluate(self, batch, context):
        np.nan_to_num(batch.returns, copy=False)  # fills NaN in the shared matrix
        return super().evaluate(batch, context)


class MutatesStatistics(_Broken):
    def evaluate(self, batch, context):
        batch.statistics().mean[:] = 0.0  # the cache every other gate reads
        return super().evaluate(batch, context)


class MutatesUsable(_Broken):
    def evaluate(self, batch, context):
        context.usable[:] = True
        return super().evaluate(batch, context)


class FreezesReturns(_Broken):
    def evaluate(self, batch, context):
        batch.returns.setflags(write=False)
        return super().evaluate(batch, context)


class NonDeterministic(_Broken):
    def evaluate(self, batch, context):
        noise = np.random.default_rng().random(batch.n_candidates)  # unseeded
        return threshold_result(noise, self.params["min"], "min")


class AcceptsUnknownParameter(_Broken):
    def __init__(self, **params):
        known = {k: v for k, v in params.items() if k in self.parameters}
        super().__init__(**known)


class SkipsValidation(_Broken):
    def __init__(self, **params):
        self.params = {"min": 0.5, **params}


class ClampsOutOfRange(_Broken):
    def __init__(self, **params):
        if "min" in params and isinstance(params["min"], float):
            params["min"] = min(max(params["min"], 0.0), 1.0)  # silently, instead of refusing
        super().__init__(**params)


class PassWithoutValue(_Broken):
    def evaluate(self, batch, context):
        n = batch.n_candidates
        return GateResult(np.zeros(n, dtype=np.int8), np.full(n, np.nan), ["OK"] * n)


class PassWithoutValueDeclared(PassWithoutValue):
    has_value = False


class RaisingReason(_Broken):
    def evaluate(self, batch, context):
        result = super().evaluate(batch, context)

        def reason(i):
            raise KeyError(i)

        return GateResult(result.outcomes, result.values, reason, result.threshold)


class FreeTextReason(_Broken):
    def evaluate(self, batch, context):
        result = super().evaluate(batch, context)
        return GateResult(result.outcomes, result.values, ["looks fine"] * len(batch), 0.5)


class RaisesOnUnusable(_Broken):
    def evaluate(self, batch, context):
        if not np.asarray(context.usable).all():
            raise ValueError("every candidate must be usable")
        return super().evaluate(batch, context)


class RaisesOnOneCandidate(_Broken):
    def evaluate(self, batch, context):
        if batch.n_candidates < 2:
            raise ValueError("need a cross-section")
        return super().evaluate(batch, context)


class DependsOnBatch(_Broken):
    """Compares with the batch median but does not declare batch_level."""

    def evaluate(self, batch, context):
        mean = np.nan_to_num(batch.statistics().mean)
        return threshold_result(mean, float(np.median(mean)), "min")


class DependsOnPosition(_Broken):
    batch_level = True

    def evaluate(self, batch, context):
        n = batch.n_candidates
        outcomes = np.full(n, Outcome.FAIL, dtype=np.int8)
        outcomes[0] = Outcome.PASS  # the first column, whoever it is
        return GateResult(outcomes, np.ones(n), ["OK"] * n)


class BadName(_Broken):
    name = "Hit-Rate"


class BadThresholdParameter(_Broken):
    threshold_parameter = "minimum"


@pytest.mark.parametrize(
    ("gate_class", "check", "message"),
    [
        (BoolMask, "check_result_contract", "CONTRACT_VIOLATION: returned=bool outcomes"),
        (NanCodes, "check_result_contract", "CONTRACT_VIOLATION: returned=float64 outcomes"),
        (ListCodes, "check_result_contract", "outcomes are a list"),
        (MutatesReturns, "check_batch_not_mutated", "evaluate modified returns"),
        (MutatesStatistics, "check_batch_not_mutated", "statistics().mean"),
        (MutatesUsable, "check_batch_not_mutated", "context.usable"),
        (FreezesReturns, "check_batch_not_mutated", "returns flags"),
        (NonDeterministic, "check_deterministic", "a second evaluation"),
        (AcceptsUnknownParameter, "check_unknown_parameter_refused", "was accepted"),
        (SkipsValidation, "check_wrong_types_refused", "min='1' (not a float) was accepted"),
        (ClampsOutOfRange, "check_out_of_range_refused", "min=-1.0 (outside float in [0, 1]"),
        (
            PassWithoutValue,
            "check_pass_fail_have_finite_values",
            "candidate 0 is PASS with value nan",
        ),
        (RaisingReason, "check_result_contract", "the reason of candidate 0 raised KeyError"),
        (FreeTextReason, "check_reason_format", "'looks fine'"),
        (RaisesOnUnusable, "check_result_contract", "every candidate must be usable"),
        (
            RaisesOnOneCandidate,
            "check_result_contract",
            "need a cross-section (on a single candidate)",
        ),
        (DependsOnBatch, "check_candidates_independent", "set batch_level = True"),
        (DependsOnPosition, "check_permutation_equivariant", "in a permuted batch"),
        (BadName, "check_class_attributes", "name is 'Hit-Rate'"),
        (BadThresholdParameter, "check_class_attributes", "threshold_parameter 'minimum'"),
        (BadThresholdParameter, "check_instantiates", "the gate raised KeyError: 'minimum'"),
    ],
    ids=lambda value: value.__name__ if isinstance(value, type) else None,
)
def test_check_gate_catches_a_broken_gate(gate_class, check, message):
    failures = failing_checks(gate_class)
    assert check in failures, failures
    assert message in failures[check]
    with pytest.raises(AssertionError, match=r"^gate '.*' \(\w+\) fails check_\w+: "):
        check_gate(gate_class)


class GarbageForUnusable(_Broken):
    """Answers anything for candidates the gate set overrides anyway: allowed."""

    def evaluate(self, batch, context):
        result = super().evaluate(batch, context)
        outcomes = np.where(context.usable, result.outcomes, Outcome.PASS).astype(np.int8)
        values = np.where(context.usable, result.values, np.nan)
        reasons = [result.reason(i) if ok else "whatever" for i, ok in enumerate(context.usable)]
        return GateResult(outcomes, values, reasons, result.threshold)


def test_verdicts_the_gate_set_overrides_may_be_anything_within_the_contract():
    check_gate(GarbageForUnusable)


def test_a_gate_that_declares_it_has_no_value_may_pass_with_nan():
    assert "check_pass_fail_have_finite_values" not in failing_checks(PassWithoutValueDeclared)


def test_check_gate_stops_at_the_first_failure_and_names_it():
    with pytest.raises(AssertionError) as info:
        check_gate(BoolMask)
    assert str(info.value).startswith(
        "gate 'broken' (BoolMask) fails check_result_contract: "
        "CONTRACT_VIOLATION: returned=bool outcomes, expected=integer codes 0..3 "
        "(on the standard batch, 10 candidates)"
    )


def test_bad_params_for_check_gate_fail_clearly():
    with pytest.raises(AssertionError, match=r"fails check_instantiates: .*must be in \[0, 1\]"):
        check_gate(HitRateGate, {"min": 2.0})


def test_one_gate_check_per_check():
    checks = gate_checks(HitRateGate, {"min": 0.4})
    assert [c.check for c in checks] == list(CHECKS)
    assert checks[0].id == "HitRateGate-check_class_attributes"
    assert {c.params["min"] for c in checks} == {0.4}
