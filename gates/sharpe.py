"""Gate ``sharpe``: annualised Sharpe ratio at least ``min``."""

from __future__ import annotations

from autopilot import hookimpl
from autopilot.sdk.gate import EvaluationContext, Gate, GateResult, threshold_result
from autopilot.sdk.params import Param
from autopilot.sdk.verdicts import Outcome
from autopilot.stats.batch import CandidateBatch, annualised_sharpe


class SharpeGate(Gate):
    """``mean(r - rf_p) / std(r, ddof=1) * sqrt(P)`` must be at least ``min``.

    Zero variance is an ERROR (``ZERO_VARIANCE``), never an infinite ratio that passes.
    """

    name = "sharpe"
    description = "annualised Sharpe ratio (sample std, ddof=1) at least `min`"
    parameters = {"min": Param(float, default=0.5, doc="minimum annualised Sharpe ratio")}
    threshold_parameter = "min"

    def evaluate(self, batch: CandidateBatch, context: EvaluationContext) -> GateResult:
        """Compare each candidate's annualised Sharpe ratio with ``min``."""
        stats = batch.statistics()
        sharpe = annualised_sharpe(stats, context.periods_per_year, context.rf_per_period)
        return threshold_result(
            sharpe,
            self.params["min"],
            "min",
            {
                "TOO_FEW_BARS: min_bars=2": (stats.live_bars < 2, Outcome.INSUFFICIENT_DATA),
                "ZERO_VARIANCE": (stats.zero_variance, Outcome.ERROR),
            },
        )


@hookimpl
def autopilot_register_gates() -> list[type[Gate]]:
    """Offer the ``sharpe`` gate."""
    return [SharpeGate]
