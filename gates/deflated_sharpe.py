"""Gate ``deflated_sharpe``: DSR at least ``min_probability`` (a batch-level gate)."""

from __future__ import annotations

import math

import numpy as np

from autopilot import hookimpl
from autopilot.sdk.gate import EvaluationContext, Gate, GateResult, threshold_result
from autopilot.sdk.params import Interval, Param
from autopilot.sdk.verdicts import Outcome, format_reason
from autopilot.stats.batch import CandidateBatch, per_period_sharpe
from autopilot.stats.metrics import deflated_sharpe_ratio


class DeflatedSharpeGate(Gate):
    """Deflated Sharpe ratio (Bailey & López de Prado, 2014).

    The PSR against the expected maximum Sharpe ratio of ``trials`` unskilled strategies.
    By default every candidate of the batch counts as a trial (whatever its verdicts: it
    was tried), and the variance is the cross-sectional sample variance (ddof=1) of the
    per-period Sharpe ratios of all candidates whose returns are clean. Neither depends on
    other gates' thresholds, so tightening ``min_history`` never deflates less. Both can be
    fixed in the configuration when more was tried than is evaluated.
    """

    name = "deflated_sharpe"
    description = "PSR against the expected best of N unskilled trials, at least `min_probability`"
    parameters = {
        "min_probability": Param(
            float, default=0.95, interval=Interval(0, 1), doc="minimum probability"
        ),
        "trials": Param(
            int, default=None, interval=Interval(2, None), doc="trials N (default: batch size)"
        ),
        "sharpe_variance": Param(
            float,
            default=None,
            interval=Interval(0, None, closed="neither"),
            doc="annualised variance of the trials' Sharpe ratios (default: from the batch)",
        ),
    }
    threshold_parameter = "min_probability"
    batch_level = True

    def evaluate(self, batch: CandidateBatch, context: EvaluationContext) -> GateResult:
        """Deflate each candidate's Sharpe ratio by the selection bias of the whole batch."""
        stats = batch.statistics()
        periods = context.periods_per_year
        sharpe = per_period_sharpe(stats, context.rf_per_period)
        clean = ~stats.has_gap & ~stats.has_non_finite & np.isfinite(sharpe)
        cross_section = sharpe[clean]
        trials = self.params["trials"] or batch.n_candidates
        if self.params["sharpe_variance"] is not None:
            variance = self.params["sharpe_variance"] / periods
        elif cross_section.size >= 2:
            variance = float(np.var(cross_section, ddof=1))
        else:
            variance = math.nan
        n = batch.n_candidates
        if trials < 2 or not variance > 0.0:
            too_few = format_reason(
                "TOO_FEW_TRIALS",
                trials=int(trials),
                sharpe_variance=variance * periods,  # annual, the unit of the parameter
                min_trials=2,
            )
            return GateResult(
                np.full(n, Outcome.INSUFFICIENT_DATA, dtype=np.int8),
                np.full(n, np.nan),
                [too_few] * n,
                self.threshold,
            )
        dsr = deflated_sharpe_ratio(
            sharpe, stats.live_bars, stats.skewness, stats.kurtosis, variance, trials
        )
        result = threshold_result(
            dsr,
            self.params["min_probability"],
            "min",
            {
                "TOO_FEW_BARS: min_bars=3": (stats.live_bars < 3, Outcome.INSUFFICIENT_DATA),
                "ZERO_VARIANCE": (stats.zero_variance, Outcome.ERROR),
            },
        )
        # Annual, the unit of the ``sharpe_variance`` parameter it sits beside.
        detail = f"trials={int(trials)}, sharpe_variance={variance * periods:.6g}"

        def reason(i: int) -> str:
            text = result.reason(i)
            return f"{text}, {detail}" if ":" in text else text

        return GateResult(result.outcomes, result.values, reason, result.threshold)


@hookimpl
def autopilot_register_gates() -> list[type[Gate]]:
    """Offer the ``deflated_sharpe`` gate."""
    return [DeflatedSharpeGate]
