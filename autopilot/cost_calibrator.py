"""The cost calibrator: learns from paper fills how far the cost model is off (seed T4).

Every fill reaches :meth:`CostCalibrator.record_trade` with its *signed* actual cost: a
negative cost (price improvement) is recorded as it is, never clipped, so the mean cost and
the cost surprise stay unbiased. Where costs are summarised nothing assumes they are
positive: no logarithm or square root of a cost, no division by a mean cost, and the
robust fit below regresses actual on predicted costs instead of taking their ratio.

The multiplier of the cost model is fitted by a Huber regression through the origin,
``actual ≈ m * base_predicted``, over the most recent ``window`` trades (iteratively
reweighted least squares with a MAD scale), so that a few extreme fills cannot drag it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np

from autopilot.sdk.params import Interval, Param, validate_fields

__all__ = ["CostCalibrator", "CostSurprise", "TradeCost", "huber_multiplier"]

logger = logging.getLogger(__name__)

_HUBER_K = 1.345  # 95 % efficiency under normal noise


@dataclass(frozen=True)
class TradeCost:
    """One fill as the calibrator sees it."""

    predicted_bps: float
    actual_bps: float
    notional: float
    side: int
    participation: float
    volatility: float
    time: str
    base_predicted_bps: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        # Built by hand: dataclasses.asdict deep-copies and was a third of a paper cycle.
        return {name: getattr(self, name) for name in _TRADE_FIELDS}


_TRADE_FIELDS = tuple(f.name for f in fields(TradeCost))


@dataclass(frozen=True)
class CostSurprise:
    """Actual minus predicted cost over a window of trades, in basis points."""

    weighted_mean_bps: float
    median_bps: float
    count: int
    price_improvements: int
    notional: float


def huber_multiplier(actual: np.ndarray, base: np.ndarray, iterations: int = 50) -> float:
    """Robust slope ``m`` of ``actual ≈ m * base`` (Huber loss, MAD scale, IRLS).

    Returns NaN when ``base`` is all zero. ``actual`` may be negative.
    """
    actual = np.asarray(actual, dtype=np.float64)
    base = np.asarray(base, dtype=np.float64)
    if not np.any(base != 0.0):
        return math.nan
    slope = float(np.dot(base, actual) / np.dot(base, base))
    for _ in range(iterations):
        residual = actual - slope * base
        scale = 1.4826 * float(np.median(np.abs(residual - np.median(residual))))
        if scale == 0.0:
            break
        u = np.abs(residual) / (_HUBER_K * scale)
        weight = np.where(u <= 1.0, 1.0, 1.0 / np.maximum(u, 1e-300))
        new = float(np.dot(weight * base, actual) / np.dot(weight * base, base))
        if abs(new - slope) <= 1e-12 * max(1.0, abs(slope)):
            slope = new
            break
        slope = new
    return slope


class CostCalibrator:
    """Records signed fill costs and fits the cost model's multiplier.

    Parameters
    ----------
    window : int
        Number of most recent trades kept and used by the fit and the default surprise.
    trades : iterable of TradeCost, optional
        Restored history (from :meth:`to_state`).
    multiplier : float
        The current fitted multiplier.

    Raises
    ------
    ConfigError
        ``window`` or ``multiplier`` breaks its declared constraint (``constraints``).
    """

    constraints: ClassVar[Mapping[str, Param]] = MappingProxyType(
        {
            "window": Param(int, interval=Interval(1, None), doc="trades kept and fitted on"),
            # fit() floors the multiplier at zero: a negative one predicts rebates.
            "multiplier": Param(float, interval=Interval(0, None), doc="fitted cost scale"),
        }
    )

    def __init__(
        self, window: int = 5000, trades: Iterable[TradeCost] = (), multiplier: float = 1.0
    ) -> None:
        validate_fields(
            type(self).__name__, self.constraints, {"window": window, "multiplier": multiplier}
        )
        self.window = window
        self.trades: list[TradeCost] = list(trades)[-window:]
        self.multiplier = multiplier

    def record_trade(
        self,
        predicted_bps: float,
        actual_bps: float,
        notional: float,
        side: int,
        participation: float,
        volatility: float,
        time: datetime | str,
        base_predicted_bps: float | None = None,
    ) -> TradeCost:
        """Record one fill; ``actual_bps`` is signed and kept as it is.

        Raises
        ------
        ValueError
            On a non-finite cost, a non-positive notional or a side other than +1/-1.
        """
        for name, value in (("predicted_bps", predicted_bps), ("actual_bps", actual_bps)):
            if not math.isfinite(value):
                raise ValueError(f"{name} must be finite, was {value!r}")
        if not notional > 0:
            raise ValueError(f"notional must be positive, was {notional!r}")
        if side not in (1, -1):
            raise ValueError(f"side must be +1 or -1, was {side!r}")
        if actual_bps < 0:
            logger.info(
                "price improvement of %.2f bps on a %s of %.2f",
                -actual_bps,
                "buy" if side == 1 else "sell",
                notional,
            )
        trade = TradeCost(
            predicted_bps=float(predicted_bps),
            actual_bps=float(actual_bps),
            notional=float(notional),
            side=side,
            participation=float(participation),
            volatility=float(volatility),
            time=time.isoformat() if isinstance(time, datetime) else str(time),
            base_predicted_bps=None if base_predicted_bps is None else float(base_predicted_bps),
        )
        self.trades.append(trade)
        del self.trades[: -self.window]
        return trade

    def _recent(self, window: int | None) -> list[TradeCost]:
        return self.trades if window is None else self.trades[-window:]

    def mean_cost_bps(self, window: int | None = None) -> float:
        """Notional-weighted mean of the actual (signed) costs; NaN without trades."""
        trades = self._recent(window)
        if not trades:
            return math.nan
        notional = np.array([t.notional for t in trades])
        actual = np.array([t.actual_bps for t in trades])
        return float(np.dot(notional, actual) / notional.sum())

    def compute_cost_surprise(self, window: int | None = None) -> CostSurprise:
        """Actual minus predicted cost over the last ``window`` trades (all kept by default)."""
        trades = self._recent(window)
        if not trades:
            return CostSurprise(math.nan, math.nan, 0, 0, 0.0)
        notional = np.array([t.notional for t in trades])
        surprise = np.array([t.actual_bps - t.predicted_bps for t in trades])
        return CostSurprise(
            weighted_mean_bps=float(np.dot(notional, surprise) / notional.sum()),
            median_bps=float(np.median(surprise)),
            count=len(trades),
            price_improvements=sum(t.actual_bps < 0 for t in trades),
            notional=float(notional.sum()),
        )

    def fit(self, min_trades: int = 30) -> float:
        """Refit the multiplier on the kept trades; unchanged with fewer than ``min_trades``."""
        usable = [t for t in self.trades if t.base_predicted_bps is not None]
        if len(usable) < min_trades:
            return self.multiplier
        fitted = huber_multiplier(
            np.array([t.actual_bps for t in usable]),
            np.array([t.base_predicted_bps for t in usable]),
        )
        if math.isfinite(fitted):
            # A negative slope would predict rebates on every trade: floor it at zero.
            self.multiplier = max(fitted, 0.0)
        return self.multiplier

    def to_state(self) -> dict[str, Any]:
        """Data for a :class:`~autopilot.state.state_file.StateFile`."""
        return {
            "window": self.window,
            "multiplier": self.multiplier,
            "trades": [t.to_dict() for t in self.trades],
        }

    @classmethod
    def from_state(cls, data: Mapping[str, Any]) -> CostCalibrator:
        """Rebuild from :meth:`to_state` output (raises KeyError/TypeError/ValueError)."""
        return cls(
            window=int(data["window"]),
            trades=[TradeCost(**t) for t in data["trades"]],
            multiplier=float(data["multiplier"]),
        )
