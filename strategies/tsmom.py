"""Family ``tsmom``: time-series momentum, the sign of each security's own trailing return."""

from __future__ import annotations

import numpy as np

from autopilot import hookimpl
from autopilot.sdk.family import StrategyFamily
from autopilot.sdk.params import Interval, Param
from autopilot.strategies.kernels import momentum_weights


class TimeSeriesMomentum(StrategyFamily):
    """Long (short) every security whose return from ``t-lookback`` to ``t-skip`` is > 0 (< 0).

    Weights are ``sign / N_live``, ``N_live`` the securities with a full lookback at ``t``;
    ``long_only`` holds 0 instead of a short.
    """

    name = "tsmom"
    description = "sign of the trailing return over `lookback` bars, skipping the last `skip`"
    parameters = {
        "lookback": Param(int, interval=Interval(1, None), doc="bars of the trailing return"),
        "skip": Param(int, default=0, interval=Interval(0, None), doc="most recent bars skipped"),
        "long_only": Param(bool, default=False, doc="hold 0 instead of a short"),
    }
    default_grid = {"lookback": (63, 126, 252), "skip": (0, 21)}

    def check_params(self) -> str | None:
        """``skip`` must be below ``lookback``."""
        if self.params["skip"] >= self.params["lookback"]:
            return (
                f"need skip < lookback, were skip={self.params['skip']}, "
                f"lookback={self.params['lookback']}"
            )
        return None

    def positions(self, close: np.ndarray) -> np.ndarray:
        """``sign(close[t-skip] / close[t-lookback] - 1) / N_live``."""
        p = self.params
        return momentum_weights(close, p["lookback"], p["skip"], p["long_only"])


@hookimpl
def autopilot_register_strategies() -> list[type[StrategyFamily]]:
    """Offer the ``tsmom`` family."""
    return [TimeSeriesMomentum]
