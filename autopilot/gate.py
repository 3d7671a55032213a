"""The gate contract: a named, parameter-validated, vectorised check over a candidate batch.

A gate never reads files, clocks or globals: everything it sees arrives in the
:class:`~autopilot.batch.CandidateBatch` and the :class:`EvaluationContext`.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from autopilot.batch import CandidateBatch
from autopilot.params import Param, validate_params
from autopilot.verdicts import FAIL_CODE, INSUFFICIENT_CODE, PASS_CODE, format_reason

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
        Candidates that passed the data-quality and history checks; batch-level gates
        (DSR, PBO) build their cross-section from these only.
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
    outcomes : ndarray of int8, shape (N,)
        Codes into :data:`autopilot.verdicts.OUTCOMES` (PASS=0, FAIL=1, INSUFFICIENT_DATA=2,
        ERROR=3).
    values : ndarray of float64, shape (N,)
        The measured value; NaN where there is none.
    reasons : sequence of str or callable
        The reason for candidate ``i``; a callable lets reasons be formatted only for the
        verdicts someone reads.
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
    mapping of :class:`~autopilot.params.Param`), ``threshold_parameter`` (the parameter
    shown as the verdict's threshold), and implement :meth:`evaluate`.

    Class attributes
    ----------------
    needs_history : bool
        Candidates with fewer live bars than the ``min_history`` gate requires get
        INSUFFICIENT_DATA from this gate without it being asked.
    batch_level : bool
        The verdict on one candidate depends on the others in the batch (DSR, PBO).
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    parameters: ClassVar[Mapping[str, Param]] = {}
    threshold_parameter: ClassVar[str | None] = None
    needs_history: ClassVar[bool] = True
    batch_level: ClassVar[bool] = False

    def __init__(self, **params: Any) -> None:
        self.params = validate_params(self.name, self.parameters, params)

    @property
    def threshold(self) -> float | None:
        """The value of the threshold parameter, if the gate has one."""
        if self.threshold_parameter is None:
            return None
        return self.params[self.threshold_parameter]

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
    values: np.ndarray,
    threshold: float,
    bound: str,
    problems: Mapping[str, np.ndarray] | None = None,
    problem_outcome: int = INSUFFICIENT_CODE,
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
    problems : mapping of reason code to boolean mask, optional
        Candidates for which the value could not be computed, checked in order; the first
        matching code wins. Any other NaN value is reported as ``NOT_COMPUTABLE``.
    problem_outcome : int
        Outcome code of those candidates (INSUFFICIENT_DATA by default).
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
    outcomes = np.where(passed, PASS_CODE, FAIL_CODE).astype(np.int8)
    problem_codes = np.full(values.shape, -1, dtype=np.int16)
    codes = list((problems or {}).items())
    for index, (_, mask) in reversed(list(enumerate(codes))):
        problem_codes[np.asarray(mask, dtype=bool)] = index
    unknown = np.isnan(values) & (problem_codes < 0)
    problem_codes[unknown] = len(codes)
    labels = [code for code, _ in codes] + ["NOT_COMPUTABLE"]
    outcomes[problem_codes >= 0] = problem_outcome

    def reason(i: int) -> str:
        if problem_codes[i] >= 0:
            return labels[problem_codes[i]]
        value = float(values[i])
        return format_reason("OK" if passed[i] else fail_code, value=value, **{bound: threshold})

    return GateResult(outcomes, values, reason, threshold)

