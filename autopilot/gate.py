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
from autopilot.verdicts import Outcome, format_reason

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
        :class:`~autopilot.verdicts.Outcome` codes (PASS=0, FAIL=1, INSUFFICIENT_DATA=2,
        ERROR=3) in an integer array (int8 is enough).
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
    higher_is_better : bool
        Direction of the value when the registry ranks candidates by this gate.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    parameters: ClassVar[Mapping[str, Param]] = {}
    threshold_parameter: ClassVar[str | None] = None
    needs_history: ClassVar[bool] = True
    batch_level: ClassVar[bool] = False
    higher_is_better: ClassVar[bool] = True

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
    values: np.ndarray,
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
    problem_index = np.full(values.shape, -1, dtype=np.int16)
    for index, (mask, outcome) in reversed(list(enumerate((problems or {}).values()))):
        mask = np.asarray(mask, dtype=bool)
        problem_index[mask] = index
        outcomes[mask] = outcome
    unknown = np.isnan(values) & (problem_index < 0)
    problem_index[unknown] = len(labels) - 1
    outcomes[unknown] = Outcome.ERROR

    def reason(i: int) -> str:
        if problem_index[i] >= 0:
            return labels[problem_index[i]]
        code = "OK" if passed[i] else fail_code
        return format_reason(code, value=float(values[i]), **{bound: threshold})

    return GateResult(outcomes, values, reason, threshold)
