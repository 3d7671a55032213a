"""Family ``ma_cross``: moving-average crossover, fast simple average against slow."""

from __future__ import annotations

import numpy as np

from autopilot import hookimpl
from autopilot.sdk.family import StrategyFamily
from autopilot.sdk.params import Interval, Param
from autopilot.strategies.kernels import crossover_weights


class MovingAverageCrossover(StrategyFamily):
    """Long (short) while the ``fast``-bar mean close is above (below) the ``slow``-bar one.

    Weights are ``sign / N_live`` over the securities with ``slow`` prices at ``t``.
    """

    name = "ma_cross"
    description = "sign of the fast minus the slow simple moving average of the close"
    parameters = {
        "fast": Param(int, interval=Interval(1, None), doc="bars of the fast average"),
        "slow": Param(int, interval=Interval(2, None), doc="bars of the slow average"),
        "long_only": Param(bool, default=False, doc="hold 0 instead of a short"),
    }
    default_grid = {"fast": (5, 10, 20, 50), "slow": (100, 150, 200, 250)}

    def check_params(self) -> str | None:
        """``fast`` must be below ``slow``."""
        if self.params["fast"] >= self.params["slow"]:
            return f"need fast < slow, were fast={self.params['fast']}, slow={self.params['slow']}"
        return None

    def positions(self, close: np.ndarray) -> np.ndarray:
        """``sign(mean_fast - mean_slow) / N_live``."""
        p = self.params
        return crossover_weights(close, p["fast"], p["slow"], p["long_only"])


@hookimpl
def autopilot_register_strategies() -> list[type[StrategyFamily]]:
    """Offer the ``ma_cross`` family."""
    return [MovingAverageCrossover]
