"""Gate ``transition_drawdown``: drawdown around regime changes at most ``max`` (seed T2)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from autopilot import hookimpl
from autopilot.sdk.gate import EvaluationContext, Gate, GateResult, threshold_result
from autopilot.sdk.params import Interval, Param
from autopilot.sdk.verdicts import Outcome
from autopilot.stats.batch import CandidateBatch


class TransitionDrawdownGate(Gate):
    """Largest drawdown inside the ±``window``-bar windows around regime changes.

    Windows sharing a bar merge; equity is re-anchored at 1.0 before each window. A track
    record without a regime change is INSUFFICIENT_DATA; missing labels are an ERROR.
    """

    name = "transition_drawdown"
    description = "largest drawdown within ±window bars of a regime change, at most `max`"
    parameters = {
        "max": Param(float, default=0.2, interval=Interval(0, 1), doc="largest allowed drawdown"),
        "window": Param(int, default=3, interval=Interval(1, None), doc="bars each side"),
    }
    threshold_parameter = "max"
    higher_is_better = False

    def transition_windows(self) -> Sequence[int]:
        """The window half-width, so the shared pass computes it."""
        return (self.params["window"],)

    def evaluate(self, batch: CandidateBatch, context: EvaluationContext) -> GateResult:
        """Compare each candidate's transition drawdown with ``max``."""
        if batch.regimes is None:
            n = batch.n_candidates
            return GateResult(
                np.full(n, Outcome.ERROR, dtype=np.int8),
                np.full(n, np.nan),
                ["NO_REGIME_LABELS: source=none (add a `regime` column or pass --regimes)"] * n,
                self.threshold,
            )
        transition = batch.transition(self.params["window"])
        return threshold_result(
            transition.drawdown,
            self.params["max"],
            "max",
            {
                "NO_REGIME_LABELS": (transition.labels_missing, Outcome.ERROR),
                "NO_REGIME_CHANGE": (transition.changes == 0, Outcome.INSUFFICIENT_DATA),
            },
        )


@hookimpl
def autopilot_register_gates() -> list[type[Gate]]:
    """Offer the ``transition_drawdown`` gate."""
    return [TransitionDrawdownGate]
