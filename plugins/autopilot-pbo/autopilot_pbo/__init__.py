"""autopilot-pbo: a strategy-autopilot gate on the Probability of Backtest Overfitting.

The gate ``pbo`` runs CSCV (Bailey, Borwein, López de Prado & Zhu 2017) over the usable
candidates of a batch and gives every candidate the same verdict: PASS when the batch's
PBO is at most ``max_probability``. The computation is
:func:`autopilot_pbo.cscv.probability_of_backtest_overfitting`.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from autopilot import (
    CandidateBatch,
    EvaluationContext,
    Gate,
    GateParameterError,
    GateResult,
    Interval,
    Outcome,
    Param,
    format_reason,
    hookimpl,
)
from autopilot_pbo.cscv import PboResult, probability_of_backtest_overfitting, split_count

__version__ = "0.1.0"

__all__ = [
    "PboGate",
    "PboResult",
    "autopilot_register_gates",
    "probability_of_backtest_overfitting",
    "split_count",
]

logger = logging.getLogger(__name__)

MIN_CANDIDATES = 2


class PboGate(Gate):
    """Probability of Backtest Overfitting of the batch, by CSCV.

    The cross-section is the usable candidates over the bars where all of them are live.
    Every candidate gets the same value (the batch's PBO) and the same outcome.

    Parameters
    ----------
    max_probability : float
        Largest PBO that passes, in [0, 1].
    blocks : int
        S, the number of contiguous blocks; even, >= 2. There are ``C(S, S/2)`` splits.
    min_bars_per_block : int
        The common history must hold at least ``blocks * min_bars_per_block`` bars.
    """

    name = "pbo"
    description = (
        "Probability of Backtest Overfitting of the batch (CSCV): the share of splits whose "
        "in-sample best candidate ranks in the lower half out of sample."
    )
    parameters = {
        "max_probability": Param(
            float, default=0.5, interval=Interval(0, 1), doc="largest PBO that passes"
        ),
        "blocks": Param(
            # C(S, S/2) splits: 184,756 at S=20; beyond that the gate would run for hours.
            int,
            default=16,
            interval=Interval(2, 20),
            doc="number of CSCV blocks S (even)",
        ),
        "min_bars_per_block": Param(
            int, default=4, interval=Interval(2, None), doc="least common bars per block"
        ),
    }
    threshold_parameter = "max_probability"
    batch_level = True
    higher_is_better = False  # a lower probability of overfitting ranks first

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        blocks = self.params["blocks"]
        # Evenness is not expressible as an Interval; checked here in the same wording.
        if blocks % 2:
            raise GateParameterError(
                f"The 'blocks' parameter of gate '{self.name}' must be an even integer in [2, 20], "
                f"was {blocks!r}."
            )

    def evaluate(self, batch: CandidateBatch, context: EvaluationContext) -> GateResult:
        """Give every candidate the batch's PBO and the verdict on it.

        Parameters
        ----------
        batch : CandidateBatch
            The candidates; only those with ``context.usable`` form the cross-section.
        context : EvaluationContext
            Supplies ``usable``.

        Returns
        -------
        GateResult
            The same outcome, value and reason for every candidate: INSUFFICIENT_DATA with
            ``TOO_FEW_CANDIDATES`` or ``TOO_FEW_COMMON_BARS`` (value NaN), otherwise PASS
            (``OK``) or FAIL (``ABOVE_MAX``).
        """
        n = batch.n_candidates
        max_probability = float(self.params["max_probability"])
        blocks = int(self.params["blocks"])
        columns = np.flatnonzero(np.asarray(context.usable, dtype=bool))
        if columns.size < MIN_CANDIDATES:
            reason = format_reason(
                "TOO_FEW_CANDIDATES", candidates=int(columns.size), min=MIN_CANDIDATES
            )
            return _uniform(n, Outcome.INSUFFICIENT_DATA, np.nan, reason, max_probability)

        stats = batch.statistics()
        first = stats.first_live[columns]
        last = stats.last_live[columns]
        start, end = int(first.max()), int(last.min())
        bars = 0 if (first < 0).any() else max(0, end - start + 1)
        needed = blocks * int(self.params["min_bars_per_block"])
        if bars < needed:
            reason = format_reason("TOO_FEW_COMMON_BARS", bars=bars, min=needed)
            return _uniform(n, Outcome.INSUFFICIENT_DATA, np.nan, reason, max_probability)

        result = probability_of_backtest_overfitting(
            batch.returns[start : end + 1, columns], blocks
        )
        passed = result.probability <= max_probability
        reason = format_reason(
            "OK" if passed else "ABOVE_MAX",
            pbo=result.probability,
            max=max_probability,
            splits=result.n_splits,
            candidates=result.n_candidates,
            bars=result.n_bars,
        )
        logger.info("pbo gate: %s", reason)
        code = Outcome.PASS if passed else Outcome.FAIL
        return _uniform(n, code, result.probability, reason, max_probability)


def _uniform(n: int, code: Outcome, value: float, reason: str, threshold: float) -> GateResult:
    """One outcome, value and reason for all ``n`` candidates."""
    return GateResult(
        outcomes=np.full(n, code, dtype=np.int8),
        values=np.full(n, value, dtype=np.float64),
        reasons=lambda _i: reason,
        threshold=threshold,
    )


@hookimpl
def autopilot_register_gates() -> list[type[Gate]]:
    """Offer the ``pbo`` gate to strategy-autopilot.

    Returns
    -------
    list of type[Gate]
        ``[PboGate]``.
    """
    return [PboGate]
