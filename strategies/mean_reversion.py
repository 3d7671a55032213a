"""Family ``mean_reversion``: short-term reversal of large moves, scaled by volatility."""

from __future__ import annotations

import numpy as np

from autopilot import hookimpl
from autopilot.sdk.family import StrategyFamily
from autopilot.sdk.params import Interval, Param
from autopilot.strategies.kernels import reversal_weights


class ShortTermMeanReversion(StrategyFamily):
    """Bet against each security's ``lookback``-bar move when it is large.

    ``z = r_lookback / (sigma * sqrt(lookback))`` with ``sigma`` the sample standard
    deviation of the last ``vol_window`` daily returns; the signal is ``-sign(z)`` where
    ``|z| > threshold``, else 0; weights ``signal / N_live``.
    """

    name = "mean_reversion"
    description = "against the trailing move when its volatility-scaled size exceeds a threshold"
    parameters = {
        "lookback": Param(int, interval=Interval(1, None), doc="bars of the move"),
        "threshold": Param(float, default=0.0, interval=Interval(0, None), doc="|z| to trade"),
        "vol_window": Param(int, default=63, interval=Interval(2, None), doc="bars of sigma"),
        "long_only": Param(bool, default=False, doc="hold 0 instead of a short"),
    }
    default_grid = {"lookback": (1, 2, 3, 5, 10, 21), "threshold": (0.0, 0.5, 1.0, 1.5, 2.0)}

    def positions(self, close: np.ndarray) -> np.ndarray:
        """``-sign(z) * (|z| > threshold) / N_live``."""
        p = self.params
        return reversal_weights(
            close, p["lookback"], p["threshold"], p["vol_window"], p["long_only"]
        )


@hookimpl
def autopilot_register_strategies() -> list[type[StrategyFamily]]:
    """Offer the ``mean_reversion`` family."""
    return [ShortTermMeanReversion]
