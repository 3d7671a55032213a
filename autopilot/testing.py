"""Conformance checks for gates, in the spirit of scikit-learn's ``check_estimator``.

Every gate, built-in or third-party, must pass :func:`check_gate`. It evaluates the gate
directly (no gate set, no plugin loading) on small seeded batches and raises
:class:`AssertionError` with a message naming the gate and the check at the first failure::

    from autopilot.testing import check_gate

    def test_hit_rate_gate_follows_the_contract():
        check_gate(HitRateGate)                 # or check_gate(HitRateGate, {"min": 0.4})

To see every failing check at once, run them one by one::

    from autopilot.testing import parametrize_with_checks

    @parametrize_with_checks([HitRateGate, (PboGate, {"blocks": 8})])
    def test_gate_contract(gate_check):
        gate_check()

The checks, in order (:data:`CHECKS`):

- the class attributes (``name`` is a gate name, flags are bools, ``threshold_parameter``
  names a declared parameter) and the gate builds with ``params``;
- parameters: an unknown key, a wrong type and an out-of-range value (each bound of each
  declared :class:`~autopilot.sdk.params.Interval`, a value outside ``choices``) are refused
  with :class:`~autopilot.errors.GateParameterError` naming the key;
- the result on every test batch: a :class:`~autopilot.sdk.gate.GateResult` with integer codes
  0..3 of shape (N,) in an ndarray, float values of shape (N,), a str reason for every
  candidate in the form ``CODE: key=value, ...``, a real or no threshold;
- a PASS or FAIL has a finite value, unless the gate sets ``has_value = False``;
- determinism: evaluating twice (also with a fresh instance) gives the same verdicts;
- the batch, its cached statistics and ``context.usable`` are not modified;
- robustness: candidates that are not usable (gap, infinite return, never live), a batch
  of all-NaN columns, a single candidate and a batch without regime labels are answered
  (within the contract), never with an exception;
- batch independence: for a gate with ``batch_level = False``, a candidate's verdict is
  the same whatever else is in the batch; for every gate, evaluating a permuted batch gives
  the permuted verdicts.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pandas as pd

from autopilot.errors import GateParameterError
from autopilot.sdk.gate import (
    EvaluationContext,
    Gate,
    _checked_result,
    _ContractViolation,
)
from autopilot.sdk.params import Param
from autopilot.sdk.plugins import _GATE_NAME
from autopilot.sdk.verdicts import Outcome
from autopilot.stats.batch import CandidateBatch
from autopilot.stats.metrics import per_period_rate

__all__ = [
    "CHECKS",
    "GateCheck",
    "check_gate",
    "gate_checks",
    "parametrize_with_checks",
]

SEED = 20240607
PERIODS_PER_YEAR = 252
RISK_FREE_RATE = 0.02
# As a gate set with `min_history: {bars: 100}` would, so batch-level gates see a sensible
# cross-section (a 20-bar candidate is in the batch but not usable).
MIN_USABLE_BARS = 100

_REASON_CODE = re.compile(r"[A-Z][A-Z0-9_]*")
_REASON_DETAIL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=.*")


# --------------------------------------------------------------------------- test batches


def _standard_returns(rng: np.random.Generator) -> tuple[np.ndarray, list[str]]:
    """300 bars of ten candidates of different characters, all clean (no gap, no inf)."""
    t = 300
    columns = {
        "strong": rng.normal(0.002, 0.01, t),
        "losing": rng.normal(-0.001, 0.01, t),
        "noise": rng.normal(0.0, 0.01, t),
        "fat_tails": 0.006 * rng.standard_t(3, t) + 0.0005,
        "late_start": rng.normal(0.001, 0.012, t),
        "early_stop": rng.normal(0.0008, 0.008, t),
        "short": rng.normal(0.001, 0.01, t),
        "constant": np.full(t, 0.0004),
        "crash": rng.normal(0.0012, 0.009, t),
        "quiet": rng.normal(0.0004, 0.004, t),
    }
    columns["late_start"][:60] = np.nan
    columns["early_stop"][230:] = np.nan
    columns["short"][:280] = np.nan
    columns["crash"][150] = -0.3
    return np.column_stack(list(columns.values())), list(columns)


def _regimes(t: int) -> np.ndarray:
    """Shared labels changing every 50 bars (the crash at bar 150 is next to a change)."""
    return ((np.arange(t) // 50) % 2).astype(np.int64)


@dataclass(frozen=True)
class _Case:
    """A named batch, the ``usable`` flags the gate set would give it, and ``clean``.

    ``clean`` marks the candidates that are live with no gap and no infinite return: the
    gate set shows their verdicts from gates without ``needs_history``, and the verdicts
    of ``usable`` candidates from every gate. The others it overrides, so a gate may
    answer them anything within the contract.
    """

    label: str
    batch: CandidateBatch
    usable: np.ndarray
    clean: np.ndarray

    def shown(self, gate: type[Gate] | Gate) -> np.ndarray:
        """The candidates whose verdicts from ``gate`` the gate set would show."""
        return self.usable if gate.needs_history else self.clean


def _clean(batch: CandidateBatch) -> np.ndarray:
    stats = batch.statistics()
    return ~stats.has_gap & ~stats.has_non_finite & (stats.live_bars > 0)


def _case(label: str, returns: np.ndarray, ids: Sequence[str], regimes: bool = True) -> _Case:
    labels = _regimes(returns.shape[0]) if regimes else None
    dates = pd.bdate_range("2020-01-01", periods=returns.shape[0])
    batch = CandidateBatch(returns.copy(), ids, dates=dates, regimes=labels)
    clean = _clean(batch)
    return _Case(label, batch, clean & (batch.statistics().live_bars >= MIN_USABLE_BARS), clean)


def _standard_case() -> _Case:
    returns, ids = _standard_returns(np.random.default_rng(SEED))
    return _case("the standard batch", returns, ids)


def _unusable_case() -> _Case:
    """The standard batch plus candidates the gate set marks not usable."""
    returns, ids = _standard_returns(np.random.default_rng(SEED))
    t = returns.shape[0]
    rng = np.random.default_rng(SEED + 2)
    gap = rng.normal(0.001, 0.01, size=(t,))
    gap[[100, 101]] = np.nan
    infinite = rng.normal(0.001, 0.01, size=(t,))
    infinite[200] = np.inf
    never = np.full(t, np.nan)
    extra = np.column_stack([gap, infinite, never])
    # Interleaved, so position-dependent mistakes show.
    matrix = np.column_stack(
        [returns[:, :3], extra[:, :1], returns[:, 3:7], extra[:, 1:], returns[:, 7:]]
    )
    names = [*ids[:3], "gap", *ids[3:7], "infinite", "never_live", *ids[7:]]
    return _case("a batch with unusable candidates (gap, inf, never live)", matrix, names)


def _cases() -> list[_Case]:
    """Every batch the result checks run on."""
    standard_returns, ids = _standard_returns(np.random.default_rng(SEED))
    return [
        _standard_case(),
        _unusable_case(),
        _case(
            "a batch of all-NaN columns", np.full((120, 4), np.nan), [f"nan{j}" for j in range(4)]
        ),
        _case("a single candidate", standard_returns[:, :1], ids[:1]),
        _case("a batch without regime labels", standard_returns, ids, regimes=False),
    ]


def _context(usable: np.ndarray) -> EvaluationContext:
    return EvaluationContext(
        periods_per_year=PERIODS_PER_YEAR,
        risk_free_rate=RISK_FREE_RATE,
        rf_per_period=per_period_rate(RISK_FREE_RATE, PERIODS_PER_YEAR),
        usable=np.asarray(usable, dtype=bool).copy(),
    )


# --------------------------------------------------------------------------- evaluation


@dataclass(frozen=True)
class _Verdicts:
    """A checked result with every reason formatted, and which verdicts a gate set shows."""

    outcomes: np.ndarray
    values: np.ndarray
    reasons: list[str]
    threshold: float | None
    shown: np.ndarray


def _build(gate_class: type[Gate], params: Mapping[str, Any]) -> Gate:
    try:
        return gate_class(**params)
    except Exception as exc:
        raise AssertionError(
            f"{gate_class.__name__}(**{dict(params)!r}) raised {type(exc).__name__}: {exc}"
        ) from exc


def _evaluate(gate: Gate, case: _Case, *, columns: np.ndarray | None = None) -> _Verdicts:
    """Evaluate ``gate`` as the gate set does and check the result strictly."""
    batch, usable, shown = case.batch, case.usable, case.shown(gate)
    label = case.label
    if columns is not None:
        batch, usable, shown = batch.subset(columns), usable[columns], shown[columns]
        label = f"{case.label}, candidates {list(map(int, columns))}"
    batch.prepare(sorted(set(gate.transition_windows())))
    n = batch.n_candidates
    try:
        result = gate.evaluate(batch, _context(usable))
    except Exception as exc:
        raise AssertionError(
            f"evaluate raised {type(exc).__name__}: {exc} (on {label}); a gate answers every "
            "candidate, with ERROR or INSUFFICIENT_DATA where it cannot decide"
        ) from exc
    try:
        checked = _checked_result(result, n)
    except _ContractViolation as exc:
        raise AssertionError(f"{exc.args[0]} (on {label}, {n} candidates)") from None
    # The gate set also takes lists; the contract (and this check) asks for ndarrays.
    given = result
    if not isinstance(given.outcomes, np.ndarray):
        raise AssertionError(
            f"outcomes are a {type(given.outcomes).__name__}, expected an ndarray of integer "
            f"codes (on {label})"
        )
    if not isinstance(given.values, np.ndarray) or given.values.dtype.kind != "f":
        what = getattr(given.values, "dtype", type(given.values).__name__)
        raise AssertionError(f"values are {what}, expected an ndarray of floats (on {label})")
    reasons = []
    for i in range(n):
        try:
            text = checked.reason(i)
        except Exception as exc:
            raise AssertionError(
                f"the reason of candidate {i} raised {type(exc).__name__}: {exc} (on {label})"
            ) from exc
        if not isinstance(text, str):
            raise AssertionError(
                f"the reason of candidate {i} is {type(text).__name__}, expected str (on {label})"
            )
        reasons.append(text)
    return _Verdicts(checked.outcomes, checked.values, reasons, checked.threshold, shown)


def _same_value(a: float, b: float, exact: bool) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    # Another cross-section may sum in another order: allow rounding, nothing more.
    return a == b if exact else math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)


def _assert_same_verdict(
    got: _Verdicts, i: int, want: _Verdicts, j: int, what: str, *, exact: bool = False
) -> None:
    a = (Outcome(int(got.outcomes[i])).name, float(got.values[i]), got.reasons[i])
    b = (Outcome(int(want.outcomes[j])).name, float(want.values[j]), want.reasons[j])
    if a[0] != b[0] or a[2] != b[2] or not _same_value(a[1], b[1], exact):
        raise AssertionError(f"{what}: got {a}, expected {b}")


# --------------------------------------------------------------------------- checks


def check_class_attributes(gate_class: type[Gate], params: Mapping[str, Any]) -> None:
    """``name``, ``description``, ``parameters``, flags and ``threshold_parameter``."""
    if not (isinstance(gate_class, type) and issubclass(gate_class, Gate)):
        raise AssertionError(f"{gate_class!r} is not a subclass of autopilot.Gate")
    name = getattr(gate_class, "name", None)
    if not isinstance(name, str) or not _GATE_NAME.match(name):
        raise AssertionError(
            f"name is {name!r}; expected a non-empty str of lowercase letters, digits and "
            "underscores, starting with a letter"
        )
    if not isinstance(gate_class.description, str):
        raise AssertionError(f"description is {type(gate_class.description).__name__}, not str")
    if not isinstance(gate_class.parameters, Mapping):
        raise AssertionError("parameters must be a mapping of name to autopilot.Param")
    for key, param in gate_class.parameters.items():
        if not isinstance(key, str) or not key.isidentifier() or not isinstance(param, Param):
            raise AssertionError(f"parameter {key!r}: expected an identifier mapped to a Param")
    for flag in ("needs_history", "batch_level", "higher_is_better", "has_value"):
        if not isinstance(getattr(gate_class, flag), bool):
            raise AssertionError(f"{flag} is {getattr(gate_class, flag)!r}, expected a bool")
    threshold = gate_class.threshold_parameter
    if threshold is not None and threshold not in gate_class.parameters:
        raise AssertionError(
            f"threshold_parameter {threshold!r} is not a declared parameter "
            f"({', '.join(gate_class.parameters) or 'none'})"
        )


def check_instantiates(gate_class: type[Gate], params: Mapping[str, Any]) -> None:
    """The gate builds with ``params``; every parameter resolved; hooks well typed."""
    gate = _build(gate_class, params)
    missing = set(gate_class.parameters) - set(gate.params)
    if missing:
        raise AssertionError(f"gate.params lacks {sorted(missing)}; call Gate.__init__")
    threshold = gate.threshold
    if threshold is not None and (
        isinstance(threshold, bool) or not isinstance(threshold, int | float)
    ):
        raise AssertionError(f"threshold is {threshold!r}, expected a number or None")
    history = gate.required_history()
    if history is not None and (isinstance(history, bool) or not isinstance(history, int)):
        raise AssertionError(f"required_history() returned {history!r}, expected int or None")
    windows = list(gate.transition_windows())
    if any(isinstance(k, bool) or not isinstance(k, int) or k < 1 for k in windows):
        raise AssertionError(
            f"transition_windows() returned {windows!r}, expected positive integers"
        )


def check_unknown_parameter_refused(gate_class: type[Gate], params: Mapping[str, Any]) -> None:
    """An unknown parameter is refused with GateParameterError naming it."""
    key = "no_such_parameter"
    try:
        gate_class(**{**params, key: 1})
    except GateParameterError as exc:
        if key not in str(exc):
            raise AssertionError(f"the message does not name {key!r}: {exc}") from None
        return
    except Exception as exc:
        raise AssertionError(
            f"an unknown parameter raised {type(exc).__name__}: {exc}, expected "
            "GateParameterError (call Gate.__init__, which validates the parameters)"
        ) from exc
    raise AssertionError(f"the unknown parameter {key!r}=1 was accepted")


def _wrong_type(kind: type) -> object:
    if kind in (float, int):
        return "1" if kind is float else 1.5
    if kind is str:
        return 1
    if kind is bool:
        return "yes"
    return object()


def _out_of_range(param: Param) -> list[object]:
    """Values of the right kind that the declared interval or choices exclude."""
    bad: list[object] = []
    interval = param.interval
    cast = int if param.kind is int else float
    if interval is not None:
        if interval.low is not None:
            bad.append(cast(math.floor(interval.low) - 1))
            if interval.closed in ("right", "neither"):
                bad.append(cast(interval.low))
        if interval.high is not None:
            bad.append(cast(math.ceil(interval.high) + 1))
            if interval.closed in ("left", "neither"):
                bad.append(cast(interval.high))
    if param.choices is not None:
        if param.kind is str:
            bad.append("__not_a_choice__")
        elif param.kind in (int, float):
            bad.append(cast(max(param.choices) + 1))
    return bad


def _assert_refused(
    gate_class: type[Gate], params: Mapping[str, Any], key: str, value: object, why: str
) -> None:
    try:
        gate_class(**{**params, key: value})
    except GateParameterError as exc:
        if key not in str(exc):
            raise AssertionError(
                f"{key}={value!r}: the message does not name {key!r}: {exc}"
            ) from None
        return
    except Exception as exc:
        raise AssertionError(
            f"{key}={value!r} ({why}) raised {type(exc).__name__}: {exc}, expected "
            "GateParameterError"
        ) from exc
    raise AssertionError(f"{key}={value!r} ({why}) was accepted")


def check_wrong_types_refused(gate_class: type[Gate], params: Mapping[str, Any]) -> None:
    """Each declared parameter refuses a value of the wrong type."""
    for key, param in gate_class.parameters.items():
        value = _wrong_type(param.kind)
        _assert_refused(gate_class, params, key, value, f"not a {param.kind.__name__}")


def check_out_of_range_refused(gate_class: type[Gate], params: Mapping[str, Any]) -> None:
    """Each declared parameter refuses values outside its interval or choices."""
    for key, param in gate_class.parameters.items():
        for value in _out_of_range(param):
            _assert_refused(gate_class, params, key, value, f"outside {param.describe()}")


def check_result_contract(gate_class: type[Gate], params: Mapping[str, Any]) -> None:
    """Integer codes 0..3, float values and str reasons of shape (N,) on every test batch."""
    gate = _build(gate_class, params)
    for case in _cases():
        _evaluate(gate, case)


def check_reason_format(gate_class: type[Gate], params: Mapping[str, Any]) -> None:
    """Every reason reads ``CODE`` or ``CODE: key=value, ...``."""
    gate = _build(gate_class, params)
    for case in _cases():
        verdicts = _evaluate(gate, case)
        for i in np.flatnonzero(verdicts.shown).tolist():
            reason = verdicts.reasons[i]
            code, sep, details = reason.partition(": ")
            ok = _REASON_CODE.fullmatch(code) is not None and (
                not sep or all(_REASON_DETAIL.fullmatch(d) for d in details.split(", "))
            )
            if not ok:
                raise AssertionError(
                    f"reason of candidate {i} is {reason!r}; expected 'CODE' or "
                    f"'CODE: key=value, ...' with CODE in capitals (on {case.label})"
                )


def check_pass_fail_have_finite_values(gate_class: type[Gate], params: Mapping[str, Any]) -> None:
    """A PASS or FAIL has a finite value unless the gate declares ``has_value = False``."""
    if not gate_class.has_value:
        return
    gate = _build(gate_class, params)
    for case in _cases():
        verdicts = _evaluate(gate, case)
        decided = verdicts.outcomes <= Outcome.FAIL
        bad = np.flatnonzero(decided & ~np.isfinite(verdicts.values) & verdicts.shown)
        if bad.size:
            i = int(bad[0])
            raise AssertionError(
                f"candidate {i} is {Outcome(int(verdicts.outcomes[i])).name} with value "
                f"{verdicts.values[i]} (on {case.label}); give a finite value, or return "
                "ERROR / INSUFFICIENT_DATA, or set has_value = False"
            )


def check_deterministic(gate_class: type[Gate], params: Mapping[str, Any]) -> None:
    """The same batch gives the same verdicts: twice on one instance, and on a new one."""
    gate = _build(gate_class, params)
    case = _unusable_case()
    first = _evaluate(gate, case)
    runs = (
        (_evaluate(gate, case), "a second evaluation"),
        (_evaluate(_build(gate_class, params), _unusable_case()), "a new instance and batch"),
    )
    for other, how in runs:
        if repr(other.threshold) != repr(first.threshold):  # NaN equals NaN here
            raise AssertionError(
                f"{how} gave threshold {other.threshold!r}, the first {first.threshold!r}"
            )
        for i in range(len(first.reasons)):
            _assert_same_verdict(other, i, first, i, f"{how}, candidate {i}", exact=True)


def _snapshot(batch: CandidateBatch, usable: np.ndarray) -> dict[str, Any]:
    stats = batch.statistics()
    snap: dict[str, Any] = {
        "returns object": id(batch.returns),
        "returns": batch.returns.copy(),
        "returns flags": (batch.returns.flags.writeable, batch.returns.flags.c_contiguous),
        "regimes": None if batch.regimes is None else batch.regimes.copy(),
        "strategy_ids": batch.strategy_ids,
        "dates": None if batch.dates is None else batch.dates.copy(),
        "context.usable": usable.copy(),
    }
    for f in fields(stats):
        value = getattr(stats, f.name)
        if isinstance(value, np.ndarray):
            snap[f"statistics().{f.name}"] = value.copy()
    for k, transition in batch._transitions.items():
        for f in fields(transition):
            value = getattr(transition, f.name)
            if isinstance(value, np.ndarray):
                snap[f"transition({k}).{f.name}"] = value.copy()
    return snap


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (
            isinstance(a, np.ndarray)
            and isinstance(b, np.ndarray)
            and a.shape == b.shape
            and a.dtype == b.dtype
            and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
        )
    if isinstance(a, pd.Index):
        return isinstance(b, pd.Index) and a.equals(b)
    return a == b


def check_batch_not_mutated(gate_class: type[Gate], params: Mapping[str, Any]) -> None:
    """The returns, labels, ids, dates, cached statistics and ``usable`` stay as they were."""
    gate = _build(gate_class, params)
    case = _unusable_case()
    batch = case.batch
    batch.prepare(sorted(set(gate.transition_windows())))
    context = _context(case.usable)
    before = _snapshot(batch, context.usable)
    try:
        gate.evaluate(batch, context)
    except Exception as exc:
        raise AssertionError(f"evaluate raised {type(exc).__name__}: {exc}") from exc
    after = _snapshot(batch, context.usable)
    changed = [key for key in before if not _same(before[key], after[key])]
    if changed:
        raise AssertionError(
            f"evaluate modified {', '.join(changed)}; the batch is shared by every gate of "
            "the gate set: copy before changing anything"
        )


def check_candidates_independent(gate_class: type[Gate], params: Mapping[str, Any]) -> None:
    """Without ``batch_level``, a verdict does not depend on the other candidates."""
    if gate_class.batch_level:
        return
    gate = _build(gate_class, params)
    case = _unusable_case()
    full = _evaluate(gate, case)
    n = case.batch.n_candidates
    rng = np.random.default_rng(SEED + 3)
    subsets = [np.array([j]) for j in range(n)]
    subsets.append(rng.permutation(n)[: n // 2])
    for columns in subsets:
        part = _evaluate(gate, case, columns=columns)
        for i, j in enumerate(columns.tolist()):
            if not full.shown[j]:
                continue
            _assert_same_verdict(
                part,
                i,
                full,
                j,
                f"candidate {case.batch.strategy_ids[j]!r} evaluated with candidates "
                f"{columns.tolist()} only differs from the whole batch; set batch_level = True "
                "if the verdict depends on the other candidates",
            )


def check_permutation_equivariant(gate_class: type[Gate], params: Mapping[str, Any]) -> None:
    """Evaluating a permuted batch gives the permuted verdicts (batch-level gates too)."""
    gate = _build(gate_class, params)
    case = _unusable_case()
    full = _evaluate(gate, case)
    order = np.random.default_rng(SEED + 4).permutation(case.batch.n_candidates)
    permuted = _evaluate(gate, case, columns=order)
    for i, j in enumerate(order.tolist()):
        if not full.shown[j]:
            continue
        _assert_same_verdict(
            permuted,
            i,
            full,
            j,
            f"candidate {case.batch.strategy_ids[j]!r} in a permuted batch (order "
            f"{order.tolist()}) differs from the original order",
        )


CHECKS: tuple[Callable[[type[Gate], Mapping[str, Any]], None], ...] = (
    check_class_attributes,
    check_instantiates,
    check_unknown_parameter_refused,
    check_wrong_types_refused,
    check_out_of_range_refused,
    check_result_contract,
    check_reason_format,
    check_pass_fail_have_finite_values,
    check_deterministic,
    check_batch_not_mutated,
    check_candidates_independent,
    check_permutation_equivariant,
)
"""Every check, in the order :func:`check_gate` runs them."""


# --------------------------------------------------------------------------- entry points


@dataclass(frozen=True)
class GateCheck:
    """One conformance check bound to a gate class and its parameters; call it to run it.

    Attributes
    ----------
    gate_class : type[Gate]
        The gate under test.
    params : Mapping[str, Any]
        Parameters to build it with.
    check : callable
        One of :data:`CHECKS`.
    """

    gate_class: type[Gate]
    params: Mapping[str, Any]
    check: Callable[[type[Gate], Mapping[str, Any]], None]

    @property
    def id(self) -> str:
        """``GateClass-check_name``, for test ids."""
        return f"{self.gate_class.__name__}-{self.check.__name__}"

    def __call__(self) -> None:
        """Run the check.

        Raises
        ------
        AssertionError
            The gate fails the check; the message names the gate and the check.
        """
        name = getattr(self.gate_class, "name", self.gate_class.__name__)
        prefix = f"gate {name!r} ({self.gate_class.__name__}) fails {self.check.__name__}"
        try:
            self.check(self.gate_class, self.params)
        except AssertionError as exc:
            raise AssertionError(f"{prefix}: {exc}") from exc.__cause__
        except Exception as exc:  # raised by the gate's own code outside evaluate
            raise AssertionError(f"{prefix}: the gate raised {type(exc).__name__}: {exc}") from exc


def gate_checks(gate_class: type[Gate], params: Mapping[str, Any] | None = None) -> list[GateCheck]:
    """Every conformance check for ``gate_class``, ready to run one at a time.

    Parameters
    ----------
    gate_class : type[Gate]
        The gate class (not an instance).
    params : mapping, optional
        Parameters to build the gate with; by default its declared defaults.

    Returns
    -------
    list of GateCheck
        In the order of :data:`CHECKS`.
    """
    given = dict(params or {})
    return [GateCheck(gate_class, given, check) for check in CHECKS]


def check_gate(gate_class: type[Gate], params: Mapping[str, Any] | None = None) -> None:
    """Check that a gate class follows the gate contract.

    Parameters
    ----------
    gate_class : type[Gate]
        The gate class (not an instance).
    params : mapping, optional
        Parameters to build the gate with; by default its declared defaults. Required
        parameters must be given.

    Raises
    ------
    AssertionError
        At the first failed check, naming the gate, the check and what was wrong.

    Examples
    --------
    >>> from autopilot_gates.sharpe import SharpeGate
    >>> check_gate(SharpeGate, {"min": 0.5})
    """
    for check in gate_checks(gate_class, params):
        check()


def parametrize_with_checks(
    gates: Iterable[type[Gate] | tuple[type[Gate], Mapping[str, Any]]],
) -> Any:
    """A ``pytest.mark.parametrize`` over every check of every gate (argument ``gate_check``).

    Parameters
    ----------
    gates : iterable
        Gate classes, or ``(gate class, params)`` pairs.

    Returns
    -------
    pytest.MarkDecorator
        Parametrises the argument ``gate_check`` with :class:`GateCheck` objects; the test
        calls ``gate_check()``.
    """
    import pytest  # only where the caller runs pytest

    checks = []
    for entry in gates:
        gate_class, params = entry if isinstance(entry, tuple) else (entry, None)
        checks.extend(gate_checks(gate_class, params))
    return pytest.mark.parametrize("gate_check", checks, ids=[c.id for c in checks])
