"""Execution-cost model of the paper trader: what a fill is predicted to cost, and what it did.

Predicted cost, in basis points of the arrival price, for an order that is a fraction
``participation`` of the day's volume of a security with daily volatility ``sigma``::

    predicted = multiplier * (half_spread + fee + 1e4 * impact * sigma * sqrt(participation))

(the square-root law of market impact). A simulated fill adds seeded, zero-mean execution
noise, so a fill can be better than the arrival price. The actual cost is *signed*::

    actual_bps = 1e4 * side * (fill_price - arrival_price) / arrival_price

with ``side`` +1 for a buy and -1 for a sell: negative means price improvement (seed T4).
Nothing downstream may clip, log or take the square root of it.

The model's settings and an order's participation and volatility are checked against
constraints declared with :class:`~autopilot.sdk.params.Param`, in the words gate parameters use.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import ClassVar

import numpy as np

from autopilot.errors import InputError
from autopilot.sdk.params import ConstrainedSettings, Interval, Param

__all__ = ["ORDER_INPUTS", "CostModel", "Fill", "signed_cost_bps"]

_NON_NEGATIVE = Interval(0, None)

#: What the cost of an order depends on besides the model: checked on every prediction.
ORDER_INPUTS: Mapping[str, Param] = MappingProxyType(
    {
        "participation": Param(float, interval=_NON_NEGATIVE, doc="order / average volume"),
        "volatility": Param(float, interval=_NON_NEGATIVE, doc="daily return volatility"),
    }
)


def _check_order(participation: float, volatility: float) -> None:
    for name, value in (("participation", participation), ("volatility", volatility)):
        problem = ORDER_INPUTS[name].violation(value)
        if problem is not None:
            raise InputError(f"The {name} of an order {problem}.")


def signed_cost_bps(side: int, arrival_price: float, fill_price: float) -> float:
    """``1e4 * side * (fill - arrival) / arrival``; negative = price improvement."""
    if side not in (1, -1):
        raise ValueError(f"side must be +1 (buy) or -1 (sell), was {side!r}")
    if not arrival_price > 0:
        raise ValueError(f"arrival price must be positive, was {arrival_price!r}")
    return 1e4 * side * (fill_price - arrival_price) / arrival_price


@dataclass(frozen=True)
class Fill:
    """A simulated execution."""

    side: int
    shares: float
    arrival_price: float
    fill_price: float
    predicted_cost_bps: float
    participation: float
    volatility: float

    @property
    def actual_cost_bps(self) -> float:
        """Signed cost against the arrival price (negative = price improvement)."""
        return signed_cost_bps(self.side, self.arrival_price, self.fill_price)

    @property
    def notional(self) -> float:
        """Traded value at the arrival price (always positive)."""
        return abs(self.shares) * self.arrival_price


@dataclass(frozen=True)
class CostModel(ConstrainedSettings):
    """Half-spread + fee + square-root impact, scaled by a calibrated multiplier.

    Parameters
    ----------
    half_spread_bps : float
        Half the quoted spread.
    fee_bps : float
        Commissions and fees, folded into the fill price.
    impact : float
        Coefficient of the square-root law (dimensionless, about 0.5-1 in the literature).
    noise_bps : float
        Standard deviation of the zero-mean execution noise of simulated fills.
    multiplier : float
        Scale of the predicted cost, fitted by the cost calibrator.

    Raises
    ------
    ConfigError
        A setting is not a finite number >= 0, e.g. ``The 'fee_bps' setting of 'CostModel'
        must be in [0, inf), was -1.``
    """

    constraints: ClassVar[Mapping[str, Param]] = MappingProxyType(
        {
            name: Param(float, interval=_NON_NEGATIVE)
            for name in ("half_spread_bps", "fee_bps", "impact", "noise_bps", "multiplier")
        }
    )

    half_spread_bps: float = 2.0
    fee_bps: float = 0.5
    impact: float = 0.7
    noise_bps: float = 10.0
    multiplier: float = 1.0

    def base_cost_bps(self, participation: float, volatility: float) -> float:
        """The model's cost before the calibrated multiplier.

        Raises
        ------
        InputError
            ``participation`` or ``volatility`` is not a finite number >= 0.
        """
        # Three calls a fill: plain floats in range skip the declared check, which words
        # the refusal of everything else.
        if not (
            type(participation) is float
            and type(volatility) is float
            and 0.0 <= participation < math.inf
            and 0.0 <= volatility < math.inf
        ):
            _check_order(participation, volatility)
        impact = 1e4 * self.impact * volatility * math.sqrt(participation)
        return self.half_spread_bps + self.fee_bps + impact

    def predicted_cost_bps(self, participation: float, volatility: float) -> float:
        """The cost the next fill is predicted to have."""
        return self.multiplier * self.base_cost_bps(participation, volatility)

    def simulate_fill(
        self,
        side: int,
        shares: float,
        arrival_price: float,
        participation: float,
        volatility: float,
        rng: np.random.Generator,
    ) -> Fill:
        """Simulate one execution: the true cost is the unscaled model plus noise.

        Raises
        ------
        InputError
            The cost reaches 100 % of the price (a sell would fill at or below zero): the
            order is many times the volume, which is a unit mistake, not a trade.
        """
        true_cost = self.base_cost_bps(participation, volatility) + rng.normal(0.0, self.noise_bps)
        fill_price = arrival_price * (1.0 + side * true_cost / 1e4)
        if not abs(true_cost) < 1e4:
            raise InputError(
                f"the simulated cost of this order is {true_cost:,.0f} bps, a fill at "
                f"{fill_price:.6g} against an arrival price of {arrival_price:.6g}: its "
                f"participation is {participation:.4g} times the volume (volatility "
                f"{volatility:.4g}); check the order size and the volume's unit"
            )
        return Fill(
            side=side,
            shares=shares,
            arrival_price=arrival_price,
            fill_price=fill_price,
            predicted_cost_bps=self.predicted_cost_bps(participation, volatility),
            participation=participation,
            volatility=volatility,
        )
