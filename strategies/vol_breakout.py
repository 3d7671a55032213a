"""Family ``vol_breakout``: volatility breakout out of a band around the moving average."""

from __future__ import annotations

import numpy as np

from autopilot import hookimpl
from autopilot.sdk.family import StrategyFamily
from autopilot.sdk.params import Interval, Param
from autopilot.strategies.kernels import breakout_weights


class VolatilityBreakout(StrategyFamily):
    """Long above ``mean + k * std`` of the last ``window`` closes, short below ``mean - k * std``.

    Inside the band the position is 0; weights ``signal / N_live``.
    """

    name = "vol_breakout"
    description = "follow a close that leaves the band mean +- k standard deviations"
    parameters = {
        "window": Param(int, interval=Interval(2, None), doc="bars of the band"),
        "k": Param(float, interval=Interval(0, None, closed="neither"), doc="band half-width"),
        "long_only": Param(bool, default=False, doc="hold 0 instead of a short"),
    }
    default_grid = {"window": (10, 20, 50, 100, 200), "k": (0.5, 1.0, 1.5, 2.0)}

    def positions(self, close: np.ndarray) -> np.ndarray:
        """``(+1 above the band, -1 below, 0 inside) / N_live``."""
        p = self.params
        return breakout_weights(close, p["window"], p["k"], p["long_only"])


@hookimpl
def autopilot_register_strategies() -> list[type[StrategyFamily]]:
    """Offer the ``vol_breakout`` family."""
    return [VolatilityBreakout]
