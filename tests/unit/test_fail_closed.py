"""The gate set fails closed on anything a gate returns that is not exactly the contract.

Every test runs a scripted gate next to a sharpe gate that passes everyone, through a real
gate set, and checks the verdict arrays, the promotable flags and the decision records.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from autopilot import Gate, GateResult, Outcome, PluginLoadError, format_reason, threshold_result
from autopilot.promotion_gate import VerdictTable
from autopilot.sdk.verdicts import Decision
from tests.conftest import batch_of, make_gate_set

N = 4
PASS, FAIL, INSUFFICIENT, ERROR = (int(o) for o in Outcome)


def scripted(
    result: Callable[[int], object], name: str = "scripted", **attributes: object
) -> type[Gate]:
    """A gate class whose ``evaluate`` returns ``result(n)``."""

    def evaluate(self, batch, context):
        return result(batch.n_candidates)

    return type("ScriptedGate", (Gate,), {"name": name, "evaluate": evaluate, **attributes})


def evaluate(gate: type[Gate], mode: str = "enforce") -> tuple[VerdictTable, list[Decision]]:
    """Evaluate ``gate`` on four clean candidates; check the table against the records."""
    rng = np.random.default_rng(11)
    batch = batch_of({f"c{i}": rng.normal(0.001, 0.01, 300) for i in range(N)})
    gate_set = make_gate_set(
        {"sharpe": {"params": {"min": -100.0}}, gate.name: {"mode": mode}}, extra_gates=[gate]
    )
    table = gate_set.evaluate_arrays(batch)
    promotable = table.promotable.copy()
    decisions = table.decisions()
    # Reading the reasons never changes promotability, and arrays and records agree.
    assert table.promotable.tolist() == promotable.tolist()
    assert [d.promotable for d in decisions] == promotable.tolist()
    for k, column in enumerate(table.columns):
        assert [Outcome(int(o)) for o in column.outcomes] == [
            d.verdicts[k].outcome for d in decisions
        ]
    assert gate_set.evaluate(batch) == decisions
    # The columnar records and settle() of a fresh table reach the same verdicts.
    assert list(gate_set.evaluate_arrays(batch).records()) == [d.to_dict() for d in decisions]
    settled = gate_set.evaluate_arrays(batch)
    settled.settle()
    assert [c.outcomes.tolist() for c in settled.columns] == [
        c.outcomes.tolist() for c in table.columns
    ]
    return table, decisions


def column(table: VerdictTable, gate: str = "scripted"):
    return next(c for c in table.columns if c.gate == gate)


def verdicts(decisions: list[Decision], gate: str = "scripted"):
    return [next(v for v in d.verdicts if v.gate == gate) for d in decisions]


def ok(n: int) -> list[str]:
    return ["OK"] * n


def violation(returned: str, expected: str = "integer codes 0..3") -> str:
    return f"CONTRACT_VIOLATION: returned={returned}, expected={expected}"


# --- results that break the contract as a whole ----------------------------------------------


@pytest.mark.parametrize(
    ("result", "reason"),
    [
        pytest.param(
            lambda n: GateResult(np.zeros(n, dtype=bool), np.ones(n), ok(n)),
            violation("bool outcomes"),
            id="bool-mask",
        ),
        pytest.param(
            lambda n: GateResult(np.full(n, np.nan), np.ones(n), ok(n)),
            violation("float64 outcomes"),
            id="nan-codes",
        ),
        pytest.param(
            lambda n: GateResult(np.full(n, 0.9), np.ones(n), ok(n)),
            violation("float64 outcomes"),
            id="fractional-codes",
        ),
        pytest.param(
            lambda n: GateResult(np.zeros(n), np.ones(n), ok(n)),
            violation("float64 outcomes"),
            id="whole-float-codes",
        ),
        pytest.param(
            lambda n: GateResult([False] * n, np.ones(n), ok(n)),
            violation("list of bool outcomes"),
            id="list-of-bools",
        ),
        pytest.param(
            lambda n: GateResult(None, np.ones(n), ok(n)),
            violation("NoneType outcomes"),
            id="no-outcomes",
        ),
        pytest.param(
            lambda n: GateResult(np.array([0, 1, 2, 7]), np.ones(n), ok(n)),
            violation("outcome codes 0..7"),
            id="code-above-3",
        ),
        pytest.param(
            lambda n: GateResult(np.array([-1, 0, 0, 0], dtype=np.int8), np.ones(n), ok(n)),
            violation("outcome codes -1..0"),
            id="negative-code",
        ),
        pytest.param(
            lambda n: GateResult(np.zeros(n + 1, dtype=np.int8), np.ones(n + 1), ok(n + 1)),
            violation("outcomes of shape (5,)", "shape (4,)"),
            id="one-too-many",
        ),
        pytest.param(
            lambda n: GateResult(np.zeros((n, 1), dtype=np.int8), np.ones(n), ok(n)),
            violation("outcomes of shape (4,1)", "shape (4,)"),
            id="column-vector",
        ),
        pytest.param(
            lambda n: GateResult(np.zeros(n, dtype=np.int8), [None] * n, ok(n)),
            violation("list values", "real numbers"),
            id="values-none",
        ),
        pytest.param(
            lambda n: GateResult(np.zeros(n, dtype=np.int8), np.ones(n, dtype=bool), ok(n)),
            violation("bool values", "real numbers"),
            id="values-bool",
        ),
        pytest.param(
            lambda n: GateResult(np.zeros(n, dtype=np.int8), np.ones(n - 1), ok(n)),
            violation("values of shape (3,)", "shape (4,)"),
            id="values-short",
        ),
        pytest.param(
            lambda n: GateResult(np.zeros(n, dtype=np.int8), np.ones(n), ok(n - 1)),
            violation("3 reasons", "4 reasons"),
            id="reasons-short",
        ),
        pytest.param(
            lambda n: GateResult(np.zeros(n, dtype=np.int8), np.ones(n), "OK"),
            violation("str reasons", "a sequence of str or a callable"),
            id="reasons-str",
        ),
        pytest.param(
            lambda n: GateResult(np.zeros(n, dtype=np.int8), np.ones(n), None),
            violation("NoneType reasons", "a sequence of str or a callable"),
            id="reasons-none",
        ),
        pytest.param(
            lambda n: GateResult(np.zeros(n, dtype=np.int8), np.ones(n), ok(n), "high"),
            violation("str threshold", "a real number or None"),
            id="threshold-str",
        ),
        pytest.param(lambda n: None, violation("NoneType", "GateResult"), id="none"),
        pytest.param(
            lambda n: {"outcomes": np.zeros(n, dtype=np.int8)},
            violation("dict", "GateResult"),
            id="dict",
        ),
        pytest.param(
            lambda n: (np.zeros(n, dtype=np.int8), np.ones(n), ok(n)),
            violation("tuple", "GateResult"),
            id="tuple",
        ),
    ],
)
def test_a_result_that_breaks_the_contract_is_an_error_for_every_candidate(result, reason):
    table, decisions = evaluate(scripted(result))
    assert not table.promotable.any()
    assert column(table).outcomes.tolist() == [ERROR] * N
    assert {(v.outcome, v.value, v.reason) for v in verdicts(decisions)} == {
        (Outcome.ERROR, None, reason)
    }
    assert {v.outcome for v in verdicts(decisions, "sharpe")} == {Outcome.PASS}


def test_a_gate_that_raises_keeps_failing_closed_with_a_broken_threshold():
    def explode(n):
        raise ZeroDivisionError("boom")

    gate = scripted(explode, threshold_parameter="not_declared")
    table, decisions = evaluate(gate)
    assert not table.promotable.any()
    assert {(v.outcome, v.threshold, v.reason) for v in verdicts(decisions)} == {
        (Outcome.ERROR, None, "GATE_EXCEPTION: type=ZeroDivisionError, message=boom")
    }


@pytest.mark.parametrize(
    "outcomes",
    [
        pytest.param(lambda n: [0] * n, id="list-of-ints"),
        pytest.param(lambda n: [Outcome.PASS] * n, id="list-of-outcomes"),
        pytest.param(lambda n: np.zeros(n, dtype=np.int64), id="int64"),
        pytest.param(lambda n: np.zeros(n, dtype=np.uint8), id="uint8"),
    ],
)
def test_integer_codes_of_any_integer_type_are_read_as_given(outcomes):
    gate = scripted(lambda n: GateResult(outcomes(n), [1.0] * n, ok(n), 0.5))
    table, decisions = evaluate(gate)
    assert table.promotable.all()
    assert {(v.outcome, v.value, v.threshold, v.reason) for v in verdicts(decisions)} == {
        (Outcome.PASS, 1.0, 0.5, "OK")
    }


# --- a PASS or FAIL needs a finite value -----------------------------------------------------


def _valueless(n: int) -> GateResult:
    outcomes = np.array([PASS, FAIL, PASS, INSUFFICIENT], dtype=np.int8)
    return GateResult(outcomes, np.array([np.nan, np.inf, 1.0, np.nan]), ok(n))


def test_a_pass_or_fail_without_a_finite_value_is_an_error():
    table, decisions = evaluate(scripted(_valueless))
    assert table.promotable.tolist() == [False, False, True, False]
    assert [(v.outcome, v.reason) for v in verdicts(decisions)] == [
        (
            Outcome.ERROR,
            violation("PASS without a finite value (nan)", "finite value"),
        ),
        (
            Outcome.ERROR,
            violation("FAIL without a finite value (inf)", "finite value"),
        ),
        (Outcome.PASS, "OK"),
        (Outcome.INSUFFICIENT_DATA, "OK"),
    ]


def test_a_gate_without_a_value_may_pass_with_nan():
    table, decisions = evaluate(scripted(_valueless, has_value=False))
    assert table.promotable.tolist() == [True, False, True, False]
    assert [v.outcome for v in verdicts(decisions)] == [
        Outcome.PASS,
        Outcome.FAIL,
        Outcome.PASS,
        Outcome.INSUFFICIENT_DATA,
    ]


# --- reasons that raise ------------------------------------------------------------------------


def _codes(outcome: int, reason: Callable[[int], object]) -> Callable[[int], GateResult]:
    return lambda n: GateResult(np.full(n, outcome, dtype=np.int8), np.ones(n), reason)


def _raise_for_odd(i: int) -> str:
    if i % 2:
        raise KeyError("candidate")
    return "OK"


def test_a_pass_whose_reason_raises_is_an_error_before_anyone_reads_it():
    table = make_gate_set(
        {"sharpe": {"params": {"min": -100.0}}, "scripted": {}},
        extra_gates=[scripted(_codes(PASS, _raise_for_odd))],
    ).evaluate_arrays(batch_of({f"c{i}": np.linspace(-0.01, 0.02, 300) for i in range(N)}))
    # Settled when the table is built, not when the reasons are read.
    assert table.promotable.tolist() == [True, False, True, False]
    assert column(table).outcomes.tolist() == [PASS, ERROR, PASS, ERROR]


def test_a_raising_reason_gives_an_error_verdict_with_its_exception():
    table, decisions = evaluate(scripted(_codes(PASS, _raise_for_odd)))
    assert table.promotable.tolist() == [True, False, True, False]
    assert [(v.outcome, v.reason) for v in verdicts(decisions)] == [
        (Outcome.PASS, "OK"),
        (Outcome.ERROR, "REASON_EXCEPTION: type=KeyError, message='candidate'"),
        (Outcome.PASS, "OK"),
        (Outcome.ERROR, "REASON_EXCEPTION: type=KeyError, message='candidate'"),
    ]


def test_a_failing_verdict_whose_reason_raises_becomes_an_error_when_read():
    table, decisions = evaluate(scripted(_codes(FAIL, _raise_for_odd)))
    assert not table.promotable.any()
    assert [v.outcome for v in verdicts(decisions)] == [
        Outcome.FAIL,
        Outcome.ERROR,
        Outcome.FAIL,
        Outcome.ERROR,
    ]
    assert column(table).outcomes.tolist() == [FAIL, ERROR, FAIL, ERROR]


def test_a_shadow_gate_whose_reason_raises_reports_errors_and_blocks_nothing():
    table, decisions = evaluate(scripted(_codes(PASS, _raise_for_odd)), mode="shadow")
    assert table.promotable.all()
    assert [v.outcome for v in verdicts(decisions)] == [
        Outcome.PASS,
        Outcome.ERROR,
        Outcome.PASS,
        Outcome.ERROR,
    ]


def test_a_reason_that_is_not_a_str_is_an_error():
    table, decisions = evaluate(scripted(_codes(PASS, lambda i: None if i == 0 else "OK")))
    assert table.promotable.tolist() == [False, True, True, True]
    assert verdicts(decisions)[0].reason == (
        "REASON_EXCEPTION: type=TypeError, message=the reason is NoneType, not str"
    )


def test_a_reason_sequence_with_a_non_str_is_an_error_for_that_candidate_only():
    gate = scripted(
        lambda n: GateResult(np.zeros(n, dtype=np.int8), np.ones(n), ["OK", 3, "OK", b"OK"])
    )
    table, decisions = evaluate(gate)
    assert table.promotable.tolist() == [True, False, True, False]
    assert [v.reason for v in verdicts(decisions)] == [
        "OK",
        "REASON_EXCEPTION: type=TypeError, message=the reason is int, not str",
        "OK",
        "REASON_EXCEPTION: type=TypeError, message=the reason is bytes, not str",
    ]


def test_a_reason_exception_message_stays_on_one_line():
    def reason(i):
        raise RuntimeError("first line\nsecond line")

    _, decisions = evaluate(scripted(_codes(PASS, reason)))
    assert {v.reason for v in verdicts(decisions)} == {
        "REASON_EXCEPTION: type=RuntimeError, message=first line second line"
    }


# --- reasons the gate set does not need to confirm -----------------------------------------


@pytest.mark.parametrize("bound", ["min", "max"])
def test_threshold_reasons_are_format_reason_texts(bound):
    values = np.array([0.5, 0.4999999, 1e-9, -3.25, 123456789.0, 2.0 / 3.0, np.nan, 7.0])
    problems = {"TOO_FEW_BARS: min_bars=2": (np.arange(8) == 7, Outcome.INSUFFICIENT_DATA)}
    result = threshold_result(values, 0.5, bound, problems)
    passed = values >= 0.5 if bound == "min" else values <= 0.5
    failure = "BELOW_MIN" if bound == "min" else "ABOVE_MAX"
    expected = [
        format_reason("OK" if ok else failure, value=float(v), **{bound: 0.5})
        for v, ok in zip(values[:6], passed[:6], strict=True)
    ]
    assert [result.reason(i) for i in range(8)] == [
        *expected,
        "NOT_COMPUTABLE",
        "TOO_FEW_BARS: min_bars=2",
    ]


def test_threshold_problems_must_be_keyed_by_reason_codes():
    def result(n):
        return threshold_result(np.ones(n), 0.5, "min", {7: (np.zeros(n, bool), Outcome.PASS)})

    table, decisions = evaluate(scripted(result))
    assert not table.promotable.any()
    assert {v.reason for v in verdicts(decisions)} == {
        "GATE_EXCEPTION: type=TypeError, message=problems must be keyed by reason codes (str), got [7]"
    }


def test_a_wrapped_threshold_reason_is_still_confirmed():
    def result(n):
        inner = threshold_result(np.ones(n), 0.5, "min")
        return GateResult(inner.outcomes, inner.values, _raise_for_odd, inner.threshold)

    table, _ = evaluate(scripted(result))
    assert table.promotable.tolist() == [True, False, True, False]


# --- declarations read outside evaluate() -----------------------------------------------------


def _raises(self):
    raise RuntimeError("boom")


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        ({"transition_windows": _raises}, "raised while declaring what it needs: RuntimeError"),
        ({"required_history": _raises}, "raised while declaring what it needs: RuntimeError"),
        ({"transition_windows": lambda self: [0]}, "transition_windows() returned (0,)"),
        ({"transition_windows": lambda self: ["3"]}, "transition_windows() returned ('3',)"),
        ({"required_history": lambda self: "252"}, "required_history() returned '252'"),
        ({"required_history": lambda self: True}, "required_history() returned True"),
        ({"needs_history": "yes"}, "needs_history is 'yes'"),
        ({"has_value": None}, "has_value is None"),
    ],
)
def test_a_gate_whose_declarations_break_the_contract_stops_the_load(attributes, message):
    gate = scripted(lambda n: GateResult(np.zeros(n, np.int8), np.ones(n), ok(n)), **attributes)
    with pytest.raises(PluginLoadError) as info:
        make_gate_set({"sharpe": {}, "scripted": {}}, extra_gates=[gate])
    assert "gate 'scripted' of plugin 'test_gates'" in str(info.value)
    assert message in str(info.value)


def test_one_pass_over_the_matrix_serves_every_window_the_gates_ask_for(monkeypatch):
    import autopilot.stats.batch as batch_module

    calls = []
    real = batch_module.fused_column_statistics

    def counted(*args):
        calls.append(args[1].shape[0])  # the number of windows computed in this pass
        return real(*args)

    monkeypatch.setattr(batch_module, "fused_column_statistics", counted)

    def wide_window(self, batch, context):
        drawdown = batch.transition(7).drawdown
        return threshold_result(drawdown, 0.5, "max")

    gate = type(
        "WideWindow",
        (Gate,),
        {"name": "wide_window", "evaluate": wide_window, "transition_windows": lambda s: (7,)},
    )
    rng = np.random.default_rng(5)
    regimes = np.repeat([0, 1, 0, 1], 75)
    batch = batch_of({f"c{i}": rng.normal(0.001, 0.01, 300) for i in range(N)}, regimes)
    gate_set = make_gate_set(
        {"sharpe": {}, "transition_drawdown": {"params": {"window": 3}}, "wide_window": {}},
        extra_gates=[gate],
    )
    table = gate_set.evaluate_arrays(batch)
    assert calls == [2]  # windows 3 and 7, one pass
    assert column(table, "wide_window").outcomes.tolist() != [ERROR] * N


def test_to_frame_holds_every_verdict_of_the_records():
    rng = np.random.default_rng(8)
    batch = batch_of({f"c{i}": rng.normal(0.0005 * i, 0.01, 300) for i in range(N)})
    gate_set = make_gate_set({"sharpe": {"params": {"min": 0.5}}, "max_drawdown": {}})
    table = gate_set.evaluate_arrays(batch)
    frame = table.to_frame()
    decisions = gate_set.evaluate(batch)
    assert list(frame.index) == [d.strategy_id for d in decisions]
    assert frame[("promotable", "")].tolist() == [d.promotable for d in decisions]
    for decision in decisions:
        for verdict in decision.verdicts:
            row = frame.loc[decision.strategy_id, verdict.gate]
            assert (row["outcome"], row["reason"]) == (verdict.outcome.name, verdict.reason)
            assert row["value"] == verdict.value or (
                verdict.value is None and row["value"] != row["value"]
            )
