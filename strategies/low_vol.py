"""Family ``low_vol``: a long-only tilt to the least volatile securities."""

from __future__ import annotations

import numpy as np

from autopilot import hookimpl
from autopilot.sdk.family import StrategyFamily
from autopilot.sdk.params import Interval, Param
from autopilot.strategies.rolling import rolling_std, simple_returns


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
        sigma = rolling_std(simple_returns(close), self.params["window"])
        live = np.isfinite(sigma)
        n_live = live.sum(axis=1)
        n_held = np.ceil(self.params["fraction"] * n_live).astype(np.int64)
        # Rank within the row; NaN sorts last, so ranks < n_held are live securities.
        order = np.argsort(np.where(live, sigma, np.inf), axis=1, kind="stable")
        ranks = np.empty_like(order)
        np.put_along_axis(ranks, order, np.arange(close.shape[1])[None, :], axis=1)
        held = live & (ranks < n_held[:, None])
        weights = np.where(held, 1.0 / np.maximum(n_held, 1)[:, None], 0.0)
        return np.where(live & ~np.isnan(close), weights, np.nan)


@hookimpl
def autopilot_register_strategies() -> list[type[StrategyFamily]]:
    """Offer the ``low_vol`` family."""
    return [LowVolatilityTilt]
