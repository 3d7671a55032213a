"""Family ``low_vol``: a long-only tilt to the least volatile securities."""

from __future__ import annotations

import numpy as np

from autopilot import hookimpl
from autopilot.sdk.family import StrategyFamily
from autopilot.sdk.params import Interval, Param
from autopilot.strategies.kernels import low_volatility_weights


class LowVolatilityTilt(StrategyFamily):
    """Equal weights in the ``ceil(fraction * N_live)`` securities of lowest trailing volatility.

    Volatility is the sample standard deviation of the last ``window`` daily returns;
    ``N_live`` counts securities with a full window at ``t``; ties are broken by column
    order. Rows sum to 1 (fully invested, long only).
    """

    name = "low_vol"
    description = "long the least volatile fraction of the universe, equally weighted"
    parameters = {
        "window": Param(int, interval=Interval(2, None), doc="bars of the volatility"),
        "fraction": Param(
            float, interval=Interval(0, 1, closed="right"), doc="share of securities held"
        ),
    }
    default_grid = {"window": (21, 63, 126, 252), "fraction": (0.1, 0.2, 0.3, 0.5)}

    def positions(self, close: np.ndarray) -> np.ndarray:
        """``1 / n_held`` in the ``n_held`` lowest-volatility securities, 0 elsewhere."""
        return low_volatility_weights(close, self.params["window"], self.params["fraction"])


@hookimpl
def autopilot_register_strategies() -> list[type[StrategyFamily]]:
    """Offer the ``low_vol`` family."""
    return [LowVolatilityTilt]
