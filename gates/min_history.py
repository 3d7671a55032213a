"""Gate ``min_history``: at least ``bars`` live bars, or INSUFFICIENT_DATA everywhere."""

from __future__ import annotations

import numpy as np

from autopilot import hookimpl
from autopilot.sdk.gate import EvaluationContext, Gate, GateResult
from autopilot.sdk.params import Interval, Param
from autopilot.sdk.verdicts import Outcome
from autopilot.stats.batch import CandidateBatch


class MinHistoryGate(Gate):
    """A candidate with fewer live bars than ``bars`` is INSUFFICIENT_DATA.

    The gate set applies the same minimum to every gate that needs history, so a short
    track record can never pass a Sharpe or drawdown gate by luck.
    """

    name = "min_history"
    description = "at least `bars` live bars; shorter records are INSUFFICIENT_DATA for all gates"
    parameters = {
        "bars": Param(int, default=252, interval=Interval(2, None), doc="minimum live bars")
    }
    threshold_parameter = "bars"
    needs_history = False

    def required_history(self) -> int:
        """The minimum every history-needing gate applies."""
        return self.params["bars"]

    def evaluate(self, batch: CandidateBatch, context: EvaluationContext) -> GateResult:
        """Count live bars per candidate."""
        live = batch.statistics().live_bars
        bars = self.params["bars"]
        enough = live >= bars
        outcomes = np.where(enough, Outcome.PASS, Outcome.INSUFFICIENT_DATA).astype(np.int8)

        # Reasons are formatted one by one (and those of promotable candidates as soon as the
        # table is built): lists index cheaply, and the constant part is formatted once. The
        # text is format_reason(code, live_bars=..., min_bars=...).
        live_bars, enough_bars = live.astype(np.int64).tolist(), enough.tolist()
        suffix = f", min_bars={bars}"

        def reason(i: int) -> str:
            code = "OK" if enough_bars[i] else "INSUFFICIENT_HISTORY"
            return f"{code}: live_bars={live_bars[i]}{suffix}"

        return GateResult(outcomes, live.astype(np.float64), reason, float(bars))


@hookimpl
def autopilot_register_gates() -> list[type[Gate]]:
    """Offer the ``min_history`` gate."""
    return [MinHistoryGate]
