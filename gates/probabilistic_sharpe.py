"""Gate ``probabilistic_sharpe``: PSR against an annual benchmark at least ``min_probability``."""

from __future__ import annotations

import math

from autopilot import hookimpl
from autopilot.sdk.gate import EvaluationContext, Gate, GateResult, threshold_result
from autopilot.sdk.params import Interval, Param
from autopilot.sdk.verdicts import Outcome
from autopilot.stats.batch import CandidateBatch, per_period_sharpe
from autopilot.stats.metrics import probabilistic_sharpe_ratio


class ProbabilisticSharpeGate(Gate):
    """Probability that the true Sharpe ratio exceeds ``benchmark_sharpe`` (Bailey & López de
    Prado, 2012), with the sample's skewness and raw kurtosis, in per-period units."""

    name = "probabilistic_sharpe"
    description = "P(true Sharpe > benchmark_sharpe), adjusted for skew and kurtosis"
    parameters = {
        "min_probability": Param(
            float, default=0.95, interval=Interval(0, 1), doc="minimum probability"
        ),
        "benchmark_sharpe": Param(float, default=0.0, doc="annualised benchmark Sharpe ratio"),
    }
    threshold_parameter = "min_probability"

    def evaluate(self, batch: CandidateBatch, context: EvaluationContext) -> GateResult:
        """Compare each candidate's PSR with ``min_probability``."""
        stats = batch.statistics()
        sharpe = per_period_sharpe(stats, context.rf_per_period)
        benchmark = self.params["benchmark_sharpe"] / math.sqrt(context.periods_per_year)
        psr = probabilistic_sharpe_ratio(
            sharpe, benchmark, stats.live_bars, stats.skewness, stats.kurtosis
        )
        return threshold_result(
            psr,
            self.params["min_probability"],
            "min",
            {
                "TOO_FEW_BARS: min_bars=3": (stats.live_bars < 3, Outcome.INSUFFICIENT_DATA),
                "ZERO_VARIANCE": (stats.zero_variance, Outcome.ERROR),
            },
        )


@hookimpl
def autopilot_register_gates() -> list[type[Gate]]:
    """Offer the ``probabilistic_sharpe`` gate."""
    return [ProbabilisticSharpeGate]
