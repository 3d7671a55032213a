"""From the strategies' wanted weights to the book's next weights, with skfolio's ``MeanRisk``.

The active strategies' positions, filtered by the meta-labeler, are combined into one
wanted book ``w*`` (long and short). Its views are the returns that make ``w*`` the best
mean-variance book (reverse optimisation, as in Black & Litterman's equilibrium returns).
``MeanRisk`` maximises skfolio's utility ``w' mu - risk_aversion * w' Sigma w``, whose
optimum without constraints is ``Sigma^-1 mu / (2 * risk_aversion)``, so::

    mu = 2 * risk_aversion_reference * Sigma @ w*

with ``Sigma`` the covariance of daily returns over a trailing window. The optimiser
maximises that utility less ``costs' |w - w_now|`` over long-only
books (the paper book holds no shorts) within the profile's limits: gross exposure, a cap
per position, turnover ``sum |w - w_now| <= turnover_limit``, and new positions only among
the ``max_positions`` securities with the largest views. ``w_now`` is the paper book marked
at ``last_price`` (seed T3; a position never marked is left out and named). With the
reference risk aversion, no cost and no limit binding, the result is ``w*`` where it is
long; a more risk averse profile holds less. Costs are the calibrated cost model's per unit
of turnover, spread over the bars a position is expected to be held.

A solver failure or an infeasible problem keeps the current book: the decision says so,
with the solver's status and message, and nothing passes silently.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import cvxpy as cp
import numpy as np
import pandas as pd
from skfolio.moments import BaseMu
from skfolio.optimization import MeanRisk, ObjectiveFunction
from skfolio.prior import EmpiricalPrior

from autopilot.errors import InputError

__all__ = ["BookDecision", "BookLimits", "implied_returns", "optimise_book"]

logger = logging.getLogger(__name__)

#: Weights below this are dust the solver leaves behind; they are dropped, not traded.
_DUST = 1e-6


@dataclass(frozen=True)
class BookLimits:
    """What the optimiser may do this cycle (from the allocator's profile).

    Attributes
    ----------
    gross_exposure : float
        Largest sum of weights (0 to 1: the paper book does not lever).
    position_cap : float
        Largest weight of one security (0 to 1].
    turnover_limit : float
        Largest turnover ``sum |w - w_now|`` per cycle (>= 0; a full switch is 2).
    risk_aversion : float
        Of the mean-variance utility (> 0).
    max_positions : int
        Securities a new position may be opened in: those with the largest views.
    """

    gross_exposure: float = 1.0
    position_cap: float = 1.0
    turnover_limit: float = 2.0
    risk_aversion: float = 1.0
    max_positions: int = 1_000_000

    def __post_init__(self) -> None:
        checks = (
            ("gross_exposure", 0.0 <= self.gross_exposure <= 1.0, "in [0, 1]"),
            ("position_cap", 0.0 < self.position_cap <= 1.0, "in (0, 1]"),
            ("turnover_limit", 0.0 <= self.turnover_limit < np.inf, "finite and >= 0"),
            ("risk_aversion", 0.0 < self.risk_aversion < np.inf, "finite and > 0"),
            ("max_positions", self.max_positions >= 1, ">= 1"),
        )
        for name, ok, rule in checks:
            if not ok:
                raise InputError(f"book limit {name} must be {rule}, was {getattr(self, name)!r}")


@dataclass(frozen=True)
class BookDecision:
    """The optimiser's answer for one cycle.

    Attributes
    ----------
    weights : dict of str to float
        The book's next weights (long only; the rest is cash).
    status : str
        ``optimal`` (or the solver's other success status), or the failure's status
        (``infeasible``, ``solver_error``, ...) when the current book was kept.
    kept_current : bool
        The solver failed and the book keeps its current weights: no trades.
    turnover : float
        ``sum |weights - current|``.
    message : str
        Why the current book was kept (empty on success).
    left_out : tuple of str
        Positions without a ``last_price``, left out of the current weights.
    """

    weights: dict[str, float]
    status: str
    kept_current: bool
    turnover: float
    message: str = ""
    left_out: tuple[str, ...] = field(default_factory=tuple)

    def to_record(self) -> dict[str, Any]:
        """Plain JSON for the cycle's audit record."""
        return {
            "status": self.status,
            "kept_current": self.kept_current,
            "turnover": self.turnover,
            "message": self.message,
            "left_out": list(self.left_out),
            "positions": len(self.weights),
        }


def implied_returns(wanted: pd.Series, covariance: pd.DataFrame, risk_aversion: float) -> pd.Series:
    """``2 * risk_aversion * Sigma @ wanted``: the views under which ``wanted`` is optimal.

    Parameters
    ----------
    wanted : pandas.Series
        Wanted weights by security (long and short).
    covariance : pandas.DataFrame
        Covariance of daily returns, indexed and labelled by the same securities.
    risk_aversion : float
        Of the utility ``w' mu - risk_aversion * w' Sigma w`` the views are implied under.

    Returns
    -------
    pandas.Series
        Daily expected returns by security.
    """
    aligned = wanted.reindex(covariance.columns).fillna(0.0)
    implied = 2.0 * risk_aversion * covariance.to_numpy() @ aligned.to_numpy()
    return pd.Series(implied, covariance.index)


def _compliance_turnover(current: np.ndarray, caps: np.ndarray, gross: float) -> float:
    """The least turnover that brings ``current`` within its caps and the gross exposure."""
    capped = np.minimum(current, caps)
    return float((current - capped).sum() + max(capped.sum() - gross, 0.0))


def optimise_book(
    wanted: Mapping[str, float],
    returns: pd.DataFrame,
    current: Mapping[str, float],
    limits: BookLimits,
    *,
    cost_per_turnover: float,
    horizon_bars: int,
    reference_risk_aversion: float,
    left_out: tuple[str, ...] = (),
) -> BookDecision:
    """The book's next weights: ``MeanRisk`` on the views implied by ``wanted``.

    Parameters
    ----------
    wanted : mapping of str to float
        The combined strategies' weights by security (long and short).
    returns : pandas.DataFrame
        Daily returns of the investable securities over the covariance window, up to the
        cycle's date; a security with a NaN in the window cannot be bought.
    current : mapping of str to float
        The book's weights at ``last_price`` (:meth:`Portfolio.current_weights`).
    limits : BookLimits
        This cycle's limits.
    cost_per_turnover : float
        Trading cost per unit of turnover, a fraction (the calibrated cost model's).
    horizon_bars : int
        Bars a trade's cost is spread over: the expected holding, at least the bars until
        the next cycle.
    reference_risk_aversion : float
        The risk aversion ``wanted`` is optimal under.
    left_out : tuple of str
        Positions without a ``last_price``, named in the decision.

    Returns
    -------
    BookDecision
        Held securities the optimiser cannot price (no full return history) keep their
        weight. A failed solve keeps the whole current book.

    Raises
    ------
    InputError
        A weight, return or setting is not a finite number in range.
    """
    if horizon_bars < 1 or not (0.0 <= cost_per_turnover < 1.0):
        raise InputError(
            f"need horizon_bars >= 1 and a cost per turnover in [0, 1), were "
            f"{horizon_bars!r} and {cost_per_turnover!r}"
        )
    for name, weights, low in (("wanted", wanted, -np.inf), ("current", current, 0.0)):
        bad = {sid: w for sid, w in weights.items() if not (np.isfinite(w) and w >= low)}
        if bad:
            rule = "finite" if name == "wanted" else "finite and >= 0"
            raise InputError(f"{name} weights must be {rule}, were {bad}")
    priced = returns.columns[returns.notna().all(axis=0).to_numpy()]
    window = returns[priced].astype(np.float64)
    carried = {sid: w for sid, w in current.items() if sid not in set(priced) and w > _DUST}
    now = np.array([current.get(sid, 0.0) for sid in priced])
    if len(priced) == 0 or len(window) < 2:
        return _kept(current, "no_universe", "no security has a full return window", left_out)
    covariance = pd.DataFrame(np.cov(window.to_numpy(), rowvar=False), priced, priced)
    views = implied_returns(
        pd.Series(wanted, dtype=np.float64), covariance, reference_risk_aversion
    )
    # New positions only in the max_positions largest views; held names beyond them may
    # only shrink. A position over its cap shrinks to it.
    ranked = views[views > 0].sort_values(ascending=False, kind="stable")
    allowed = set(ranked.index[: limits.max_positions])
    caps = np.array(
        [
            limits.position_cap if sid in allowed else min(limits.position_cap, w)
            for sid, w in zip(priced, now, strict=True)
        ]
    )
    gross = max(limits.gross_exposure - sum(carried.values()), 0.0)
    needed = _compliance_turnover(now, caps, gross)
    turnover_limit = max(limits.turnover_limit, needed + 1e-9)
    if turnover_limit > limits.turnover_limit:
        logger.info(
            "turnover limit raised from %.4g to %.4g to bring the book within its caps",
            limits.turnover_limit,
            turnover_limit,
            extra={"event": "turnover_limit_raised", "needed": needed},
        )
    model = MeanRisk(
        objective_function=ObjectiveFunction.MAXIMIZE_UTILITY,
        risk_aversion=limits.risk_aversion,
        prior_estimator=EmpiricalPrior(mu_estimator=_FixedMu(views.to_numpy())),
        min_weights=0.0,
        max_weights=caps,
        budget=None,
        min_budget=0.0,
        max_budget=gross,
        previous_weights=now,
        transaction_costs=cost_per_turnover / horizon_bars,
        add_constraints=lambda w: [_total_turnover(w, now) <= turnover_limit],
        fallback="previous_weights",
        save_problem=True,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the fallback's warning: reported below instead
        model.fit(window)
    problem = getattr(model, "problem_", None)
    # No problem (the prior failed) or no status (the solver gave up): "failed".
    status = str(problem.status) if problem is not None and problem.status else "failed"
    if getattr(model, "fallback_", None) is not None:
        message = "; ".join(str(outcome) for _, outcome in model.fallback_chain_[:-1])
        return _kept(current, status, message, left_out)
    solved = np.where(model.weights_ > _DUST, model.weights_, 0.0)
    weights = {sid: float(w) for sid, w in zip(priced, solved, strict=True) if w > 0.0}
    weights.update(carried)
    return BookDecision(
        weights, status, False, float(np.abs(solved - now).sum()), left_out=tuple(left_out)
    )


def _kept(
    current: Mapping[str, float], status: str, message: str, left_out: tuple[str, ...]
) -> BookDecision:
    logger.warning(
        "the optimiser failed (%s): the book keeps its current weights; %s",
        status,
        message,
        extra={"event": "optimiser_failed", "status": status},
    )
    return BookDecision(dict(current), status, True, 0.0, message, tuple(left_out))


def _total_turnover(w: cp.Variable, now: np.ndarray) -> cp.Expression:
    return cp.sum(cp.abs(w - now))


class _FixedMu(BaseMu):
    """A skfolio expected-returns estimator that returns the given views."""

    def __init__(self, views: np.ndarray | None = None) -> None:
        self.views = views

    def fit(self, X: Any, y: None = None) -> _FixedMu:
        """Set ``mu_`` to the views (``X`` only gives the number of securities)."""
        self.mu_ = np.asarray(self.views, dtype=np.float64)
        self.n_features_in_ = np.asarray(X).shape[1]
        return self
