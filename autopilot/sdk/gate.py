"""The gate contract: a named, parameter-validated, vectorised check over a candidate batch.

A gate never reads files, clocks or globals: everything it sees arrives in the
:class:`~autopilot.stats.batch.CandidateBatch` and the :class:`EvaluationContext`.

What a gate returns is checked by the gate set before anything reads it
(:func:`_checked_result`): a result that is not exactly the contract gives ERROR verdicts
with the reason ``CONTRACT_VIOLATION: returned=..., expected=...``, never a pass.
"""

from __future__ import annotations

import abc
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from autopilot.sdk.params import Param, validate_params
from autopilot.sdk.verdicts import Outcome, _format_detail, format_reason
from autopilot.stats.batch import CandidateBatch

__all__ = ["EvaluationContext", "Gate", "GateResult", "threshold_result"]

ReasonSource = Sequence[str] | Callable[[int], str]


@dataclass(frozen=True)
class EvaluationContext:
    """What every gate may know besides the returns.

    Attributes
    ----------
    periods_per_year : int
        Bars per year, configured (never guessed).
    risk_free_rate : float
        Annual risk-free rate.
    rf_per_period : float
        The same rate converted once to a per-bar rate.
    usable : ndarray of bool
        Candidates that passed the data-quality and history checks. A batch-level gate
        that needs a common history (PBO) builds its cross-section from these.
    """

    periods_per_year: int
    risk_free_rate: float
    rf_per_period: float
    usable: np.ndarray


@dataclass(frozen=True)
class GateResult:
    """A gate's vectorised answer for a batch of N candidates.

    Attributes
    ----------
    outcomes : ndarray of int, shape (N,)
        :class:`~autopilot.sdk.verdicts.Outcome` codes (PASS=0, FAIL=1, INSUFFICIENT_DATA=2,
        ERROR=3) in an integer array (int8 is enough). A boolean mask, floats, NaN or codes
        outside 0..3 make every verdict of the gate an ERROR.
    values : ndarray of float64, shape (N,)
        The measured value; NaN where there is none. A PASS or FAIL needs a finite value
        unless the gate sets ``has_value = False``.
    reasons : sequence of str or callable
        The reason for candidate ``i``, as ``CODE: key=value, ...``; a callable
        ``reasons(i) -> str`` lets reasons be formatted only for the verdicts someone reads.
        A reason that raises or is not a str makes that verdict an ERROR
        (``REASON_EXCEPTION``).
    threshold : float or None
        The threshold shown in verdicts.
    """

    outcomes: np.ndarray
    values: np.ndarray
    reasons: ReasonSource
    threshold: float | None = None

    def reason(self, i: int) -> str:
        """The reason for candidate ``i``."""
        return self.reasons(i) if callable(self.reasons) else self.reasons[i]


class Gate(abc.ABC):
    """Base class of every gate.

    Subclasses set ``name`` (unique across plugins), ``description``, ``parameters`` (a
    mapping of :class:`~autopilot.sdk.params.Param`), ``threshold_parameter`` (the parameter
    shown as the verdict's threshold), and implement :meth:`evaluate`.

    Class attributes
    ----------------
    needs_history : bool
        Candidates with fewer live bars than the ``min_history`` gate requires get
        INSUFFICIENT_DATA from this gate without it being asked.
    batch_level : bool
        The verdict on one candidate depends on the others in the batch (DSR, PBO).
    higher_is_better : bool
        Direction of the value when the registry ranks candidates by this gate.
    has_value : bool
        The gate measures a value for every PASS and FAIL (the default). A PASS or FAIL
        whose value is NaN or infinite is then an ERROR (``CONTRACT_VIOLATION``). Set it to
        False for a pure rule without a measured value, whose values may all be NaN.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    parameters: ClassVar[Mapping[str, Param]] = {}
    threshold_parameter: ClassVar[str | None] = None
    needs_history: ClassVar[bool] = True
    batch_level: ClassVar[bool] = False
    higher_is_better: ClassVar[bool] = True
    has_value: ClassVar[bool] = True

    def __init__(self, **params: Any) -> None:
        self.params = validate_params(self.name, self.parameters, params)

    @property
    def threshold(self) -> float | None:
        """The value of the threshold parameter, if the gate has one."""
        if self.threshold_parameter is None:
            return None
        return self.params[self.threshold_parameter]

    def required_history(self) -> int | None:
        """Live bars every history-needing gate requires; only ``min_history`` sets it."""
        return None

    def transition_windows(self) -> Sequence[int]:
        """Transition-window half-widths this gate reads, so one pass can compute them all."""
        return ()

    @abc.abstractmethod
    def evaluate(self, batch: CandidateBatch, context: EvaluationContext) -> GateResult:
        """Evaluate every candidate of ``batch``.

        Candidates that are not ``context.usable`` get their verdicts overridden by the gate
        set, so a gate may compute garbage for them but must not fail because of them.
        """

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({params})"


def threshold_result(
    values: npt.ArrayLike,
    threshold: float,
    bound: str,
    problems: Mapping[str, tuple[np.ndarray, int]] | None = None,
) -> GateResult:
    """Compare ``values`` with a ``min`` or ``max`` threshold.

    Parameters
    ----------
    values : ndarray
        One value per candidate.
    threshold : float
        The limit.
    bound : {"min", "max"}
        ``min``: PASS when ``value >= threshold``; ``max``: PASS when ``value <= threshold``.
    problems : mapping of reason code to (mask, Outcome), optional
        Candidates whose value could not be computed, checked in order (the first matching
        code wins), with the outcome they get. Any other NaN value is an ERROR with reason
        ``NOT_COMPUTABLE``, so a NaN can never pass.
    """
    values = np.asarray(values, dtype=np.float64)
    if bound == "min":
        passed = values >= threshold
        fail_code = "BELOW_MIN"
    elif bound == "max":
        passed = values <= threshold
        fail_code = "ABOVE_MAX"
    else:
        raise ValueError(f"bound must be 'min' or 'max', was {bound!r}")
    outcomes = np.where(passed, Outcome.PASS, Outcome.FAIL).astype(np.int8)
    labels = [*(problems or {}), "NOT_COMPUTABLE"]
    if not all(isinstance(label, str) for label in labels):
        raise TypeError(f"problems must be keyed by reason codes (str), got {labels[:-1]!r}")
    problem_index = np.full(values.shape, -1, dtype=np.int16)
    for index, (mask, outcome) in reversed(list(enumerate((problems or {}).values()))):
        mask = np.asarray(mask, dtype=bool)
        problem_index[mask] = index
        outcomes[mask] = outcome
    unknown = np.isnan(values) & (problem_index < 0)
    problem_index[unknown] = len(labels) - 1
    outcomes[unknown] = Outcome.ERROR

    kinds = np.where(problem_index >= 0, problem_index, np.where(passed, -2, -1))
    suffix = f", {bound}={_format_detail(threshold)}"
    return GateResult(
        outcomes, values, _ThresholdReasons(kinds, labels, values, fail_code, suffix), threshold
    )


class _ThresholdReasons:
    """The reasons of :func:`threshold_result`, formatted on demand.

    Formatted by autopilot itself from lists built here (str labels, Python floats), so a
    call with a candidate index cannot fail: the gate set need not confirm these reasons
    before trusting a PASS (see :mod:`autopilot.promotion_gate`). The text is exactly
    ``format_reason(code, value=..., min=...)``. Reasons are formatted one by one, tens of
    thousands per batch: Python lists, built at the first call, index much faster than
    NumPy scalars.
    """

    __slots__ = ("_fail_code", "_kind_array", "_kinds", "_labels", "_suffix", "_values")

    def __init__(
        self,
        kinds: np.ndarray,
        labels: Sequence[str],
        values: np.ndarray,
        fail_code: str,
        suffix: str,
    ) -> None:
        self._kind_array = kinds  # a label index, or -2 for OK and -1 for the failure
        self._kinds: list[int] | None = None
        self._labels = list(labels)
        self._values: list[float] | np.ndarray = values
        self._fail_code = fail_code
        self._suffix = suffix

    def __call__(self, i: int) -> str:
        if self._kinds is None:
            self._kinds = self._kind_array.tolist()
            self._values = np.asarray(self._values).tolist()
        kind = self._kinds[i]
        if kind >= 0:
            return self._labels[kind]
        code = "OK" if kind == -2 else self._fail_code
        return f"{code}: value={self._values[i]:.6g}{self._suffix}"


class _ContractViolation(Exception):
    """A gate returned something other than the contract; ``args[0]`` is the reason text."""


def _violation(returned: str, expected: str) -> _ContractViolation:
    return _ContractViolation(
        format_reason("CONTRACT_VIOLATION", returned=returned, expected=expected)
    )


def _shape_text(shape: tuple[int, ...]) -> str:
    # No ", " inside a detail value, so that ``key=value, ...`` stays splittable.
    return "(" + ",".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _as_array(obj: object, what: str, kinds: str, expected: str) -> np.ndarray:
    """``obj`` as an ndarray whose dtype kind is one of ``kinds``, or a violation."""
    if isinstance(obj, np.ndarray):
        array = obj
        described = str(obj.dtype)
    else:
        try:
            array = np.asarray(obj)
        except Exception:
            raise _violation(f"{type(obj).__name__} {what}", expected) from None
        described = type(obj).__name__
        if array.dtype.kind not in "O":
            described += f" of {array.dtype}"
    if array.dtype.kind not in kinds:
        raise _violation(f"{described} {what}", expected)
    return array


def _checked_result(result: object, n: int) -> GateResult:
    """Check a gate's answer against the contract and normalise it.

    Parameters
    ----------
    result : object
        What ``Gate.evaluate`` returned.
    n : int
        Candidates in the batch.

    Returns
    -------
    GateResult
        Outcomes as int8, values as float64, reasons as a list (when a sequence was given)
        or the callable itself, the threshold as a float or None.

    Raises
    ------
    _ContractViolation
        With the reason ``CONTRACT_VIOLATION: returned=..., expected=...`` for every
        candidate. Per-candidate problems (a PASS without a finite value, a reason that is
        not a str) are left to the gate set, which makes only those verdicts ERROR.
    """
    if not isinstance(result, GateResult):
        raise _violation(type(result).__name__, "GateResult")
    codes = "integer codes 0..3"
    outcomes = _as_array(result.outcomes, "outcomes", "iu", codes)
    if outcomes.shape != (n,):
        raise _violation(
            f"outcomes of shape {_shape_text(outcomes.shape)}", f"shape {_shape_text((n,))}"
        )
    if n:
        low, high = int(outcomes.min()), int(outcomes.max())
        if low < 0 or high > len(Outcome) - 1:
            raise _violation(f"outcome codes {low}..{high}", codes)
    values = _as_array(result.values, "values", "iuf", "real numbers")
    if values.shape != (n,):
        raise _violation(
            f"values of shape {_shape_text(values.shape)}", f"shape {_shape_text((n,))}"
        )
    reasons: ReasonSource
    if callable(result.reasons):
        reasons = result.reasons
    else:
        expected = "a sequence of str or a callable"
        if isinstance(result.reasons, str | bytes | Mapping):
            raise _violation(f"{type(result.reasons).__name__} reasons", expected)
        try:
            reasons = list(result.reasons)
        except Exception:
            raise _violation(f"{type(result.reasons).__name__} reasons", expected) from None
        if len(reasons) != n:
            raise _violation(f"{len(reasons)} reasons", f"{n} reasons")
    threshold = result.threshold
    if threshold is not None:
        if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real):
            raise _violation(f"{type(threshold).__name__} threshold", "a real number or None")
        threshold = float(threshold)
    return GateResult(
        outcomes.astype(np.int8, copy=False),
        values.astype(np.float64, copy=False),
        reasons,
        threshold,
    )
