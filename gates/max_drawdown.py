"""Gate ``max_drawdown``: maximum drawdown at most ``max``."""

from __future__ import annotations

from autopilot import hookimpl
from autopilot.sdk.gate import EvaluationContext, Gate, GateResult, threshold_result
from autopilot.sdk.params import Interval, Param
from autopilot.stats.batch import CandidateBatch


class MaxDrawdownGate(Gate):
    """``MDD = max_t (1 - E_t / max_{s<=t} E_s)`` with equity 1.0 before the first return."""

    name = "max_drawdown"
    description = "largest peak-to-trough loss, a positive fraction, at most `max`"
    parameters = {
        "max": Param(float, default=0.2, interval=Interval(0, 1), doc="largest allowed drawdown")
    }
    threshold_parameter = "max"
    higher_is_better = False

    def evaluate(self, batch: CandidateBatch, context: EvaluationContext) -> GateResult:
        """Compare each candidate's maximum drawdown with ``max``."""
        return threshold_result(batch.statistics().max_drawdown, self.params["max"], "max")


@hookimpl
def autopilot_register_gates() -> list[type[Gate]]:
    """Offer the ``max_drawdown`` gate."""
    return [MaxDrawdownGate]
