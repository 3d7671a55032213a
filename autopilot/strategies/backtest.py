"""The vectorised backtest: candidates' target positions into a ``T x K`` returns matrix.

Timing: the position ``w_t`` decided at the close of bar ``t`` is held over bar ``t+1``::

    return[t+1] = sum_i w[t, i] * r[t+1, i]  -  cost_rate * sum_i d[t, i]
                                             -  sum_i impact[t, i] * d[t, i] ** 1.5

with ``r[t+1, i] = close[t+1, i] / close[t, i] - 1``, ``d[t, i] = |w[t, i] - w[t-1, i]|``
the turnover of the trade made at the close of ``t``, charged in the return of the bar it
is first held over. NaN positions are no position (weight 0); the weight before a
candidate's first position is 0, so entering is charged. A held security whose price ends
at ``t`` (no ``close[t+1]``) contributes 0 to bar ``t+1``: it is valued at its last price
and its weight drops to 0 at the next decision, which pays the exit. A candidate's returns
are NaN up to and including the first bar with a finite position (nothing was held before
it).

``cost_rate`` is a fraction per unit of turnover; :func:`cost_rate_from_model` derives it
from the cost model (half-spread and fees). The impact term is the cost model's square-root
law where the prices come with volume (:func:`impact_coefficients`): a trade of ``d`` of
``capital`` in a security is ``d * capital / (adv * close)`` of its average daily volume.

Each candidate's positions are checked against the contract and turned into returns in
one compiled pass (:func:`~autopilot.strategies._net_returns.net_returns`), then dropped
unless asked for: peak memory is the returns matrix plus one candidate's working set,
whatever the grid's size. Candidates are taken in chunks, the unit of progress reports.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from autopilot.costs import CostModel
from autopilot.errors import InputError
from autopilot.executor import Executor
from autopilot.sdk.family import StrategyFamily, checked_positions
from autopilot.strategies._large_blocks import reuse_freed_blocks
from autopilot.strategies._net_returns import net_returns

__all__ = [
    "IMPACT_WINDOW",
    "BacktestResult",
    "backtest",
    "backtest_chunk",
    "cost_rate_from_model",
    "impact_coefficients",
    "impact_coverage",
]

logger = logging.getLogger(__name__)

DEFAULT_CHUNK = 64
#: Bars of the trailing volatility and average daily volume behind the impact term.
IMPACT_WINDOW = 21


def cost_rate_from_model(model: CostModel | None = None) -> float:
    """Cost per unit of turnover, as a fraction: the model's cost at zero participation.

    ``multiplier * (half_spread_bps + fee_bps) / 1e4``; the square-root impact term is
    :func:`impact_coefficients`.
    """
    model = CostModel() if model is None else model
    return model.predicted_cost_bps(0.0, 0.0) / 1e4


def impact_coefficients(
    close: np.ndarray,
    volume: np.ndarray,
    capital: float,
    model: CostModel | None = None,
    window: int = IMPACT_WINDOW,
) -> np.ndarray:
    """The square-root impact of a trade at each close, per unit of turnover to the power 1.5.

    The cost model charges ``multiplier * impact * sigma * sqrt(participation)`` (a
    fraction of the traded notional); a trade of ``d`` of ``capital`` at the close of ``t``
    has participation ``d * capital / (adv[t] * close[t])``, so its cost as a fraction of
    capital is ``coefficient[t] * d ** 1.5`` with::

        coefficient[t] = multiplier * impact * sigma[t] * sqrt(capital / (adv[t] * close[t]))

    ``sigma`` is the sample standard deviation of the last ``window`` daily returns and
    ``adv`` the mean volume (shares) of the last ``window`` bars, both known at ``t``.

    Parameters
    ----------
    close, volume : ndarray of float64, shape (T, N)
        Close prices and volumes in shares (NaN where unknown).
    capital : float
        The notional a candidate's weights are fractions of (> 0).
    model : CostModel, optional
        By default the default cost model.
    window : int
        Bars of ``sigma`` and ``adv`` (>= 2).

    Returns
    -------
    ndarray of float64, shape (T, N)
        0 where either is unknown (the window not filled, a NaN in it, or no volume at all):
        such trades pay half-spread and fees only; :func:`impact_coverage` tells how many.

    Raises
    ------
    InputError
        Shapes differ, ``capital`` is not a positive finite number, or ``window`` < 2.
    """
    if volume.shape != close.shape:
        raise InputError(f"volume has shape {volume.shape}; close has {close.shape}")
    if not (isinstance(capital, (int, float)) and 0.0 < capital < np.inf):
        raise InputError(f"capital must be a positive number, was {capital!r}")
    if window < 2:
        raise InputError(f"the impact window must be at least 2 bars, was {window!r}")
    model = CostModel() if model is None else model
    frame = pd.DataFrame(close)
    sigma = frame.pct_change(fill_method=None).rolling(window).std().to_numpy()
    adv = pd.DataFrame(volume).rolling(window).mean().to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        coefficient = model.multiplier * model.impact * sigma * np.sqrt(capital / (adv * close))
    return np.where(np.isfinite(coefficient), coefficient, 0.0)


def impact_coverage(coefficients: np.ndarray, close: np.ndarray) -> float:
    """The share of priced security-bars whose trades are charged an impact (0 to 1)."""
    priced = ~np.isnan(close)
    return float((coefficients[priced] > 0.0).mean()) if priced.any() else 0.0


@dataclass(frozen=True)
class BacktestResult:
    """What the backtest gives the gate set and the engine.

    Attributes
    ----------
    candidate_ids : list of str
        ``name(key=value, ...)`` per candidate, the returns' column order.
    returns : ndarray of float64, shape (T, K)
        Simple per-bar returns net of costs; NaN before a candidate can trade.
    positions : dict of str to ndarray
        The positions (``T x N``) of the candidates asked for with ``keep_positions``.
    """

    candidate_ids: list[str]
    returns: np.ndarray
    positions: dict[str, np.ndarray] = field(default_factory=dict)


def _check_close(close: np.ndarray) -> None:
    if not isinstance(close, np.ndarray) or close.ndim != 2 or close.dtype != np.float64:
        kind = getattr(close, "dtype", type(close).__name__)
        raise InputError(f"close must be a T x N float64 ndarray, was {kind}")
    if np.isinf(close).any() or (close <= 0.0).any():
        row, col = (int(i) for i in np.argwhere(np.isinf(close) | (close <= 0.0))[0])
        raise InputError(
            f"close[{row}, {col}] is {float(close[row, col])!r}; prices must be positive and "
            f"finite (NaN where a security has no price)"
        )


def backtest_chunk(
    close: np.ndarray,
    candidates: Sequence[StrategyFamily],
    cost_rate: float,
    keep: Collection[str] = (),
    impact: np.ndarray | None = None,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Net returns (``T x k``) of ``candidates``, and the positions of those named in ``keep``.

    The inputs are checked by :func:`backtest`; this is its unit of work.

    Raises
    ------
    StrategyContractError
        A candidate's positions break the contract (see :mod:`autopilot.sdk.family`).
    """
    reuse_freed_blocks()  # a Dask worker's environment switches glibc's reuse off
    impact = np.zeros((0, 0)) if impact is None else impact
    returns = np.empty((close.shape[0], len(candidates)))
    kept: dict[str, np.ndarray] = {}
    for k, family in enumerate(candidates):
        positions = checked_positions(family, close)
        returns[:, k] = net_returns(positions, close, cost_rate, impact)
        if family.candidate_id in keep:
            kept[family.candidate_id] = positions
    return returns, kept


def backtest(
    close: np.ndarray,
    candidates: Sequence[StrategyFamily],
    *,
    cost_rate: float | None = None,
    impact: np.ndarray | None = None,
    chunk: int = DEFAULT_CHUNK,
    keep_positions: Sequence[str] = (),
    on_chunk: Callable[[int], None] | None = None,
    executor: Executor | None = None,
) -> BacktestResult:
    """Backtest every candidate on ``close``.

    Parameters
    ----------
    close : ndarray of float64, shape (T, N)
        Close prices, C-ordered; NaN before a security's first price and after its last.
    candidates : sequence of StrategyFamily
        Family instances (one parameter set each), with unique ``candidate_id``.
    cost_rate : float, optional
        Cost per unit of turnover, a fraction (0.00025 = 2.5 bps); by default
        :func:`cost_rate_from_model` of the default cost model.
    impact : ndarray of float64, shape (T, N), optional
        Square-root impact coefficients (:func:`impact_coefficients`, finite and >= 0);
        none by default.
    chunk : int
        Candidates per unit of work (``on_chunk`` is called after each).
    keep_positions : sequence of str
        Candidate ids whose positions are returned.
    on_chunk : callable, optional
        Called with the number of candidates done after each chunk.
    executor : Executor, optional
        Runs the chunks (:mod:`autopilot.executor`): in this process by default, or in
        local processes or on a Dask cluster, with the same results bit for bit.

    Returns
    -------
    BacktestResult

    Raises
    ------
    InputError
        ``close`` is not a T x N float64 array of positive prices or NaN, ``cost_rate`` is
        negative, ``impact`` is not a finite non-negative array of ``close``'s shape,
        ``chunk`` < 1, ids repeat, or ``keep_positions`` names no candidate.
    StrategyContractError
        A family's positions break the contract.
    """
    _check_close(close)
    rate = cost_rate_from_model() if cost_rate is None else float(cost_rate)
    if not (0.0 <= rate < 1.0):
        raise InputError(f"cost_rate must be a fraction in [0, 1), was {cost_rate!r}")
    if impact is not None and (
        impact.shape != close.shape or not (np.isfinite(impact) & (impact >= 0.0)).all()
    ):
        raise InputError(
            f"impact must be a {close.shape} array of finite coefficients >= 0 "
            f"(impact_coefficients makes one)"
        )
    if impact is not None:
        impact = np.ascontiguousarray(impact, dtype=np.float64)
    if chunk < 1:
        raise InputError(f"chunk must be at least 1, was {chunk!r}")
    ids = [c.candidate_id for c in candidates]
    if len(set(ids)) != len(ids):
        repeated = next(i for i in ids if ids.count(i) > 1)
        raise InputError(f"candidate {repeated} appears twice; each parameter set once")
    unknown = sorted(set(keep_positions) - set(ids))
    if unknown:
        raise InputError(f"keep_positions names {unknown[0]!r}, which is not a candidate")
    keep = set(keep_positions)
    close = np.ascontiguousarray(close)
    starts = range(0, len(candidates), chunk)
    tasks = [(close, candidates[s : s + chunk], rate, keep, impact) for s in starts]
    sizes = [len(task[1]) for task in tasks]
    done = (lambda n: on_chunk(sum(sizes[:n]))) if on_chunk is not None else None
    shared = [close] if impact is None else [close, impact]
    # Each chunk's returns are copied in as it arrives: the parts are never all held.
    parts = (executor or Executor()).results(backtest_chunk, tasks, shared=shared, on_done=done)
    returns = np.empty((close.shape[0], len(ids)))
    kept: dict[str, np.ndarray] = {}
    for start, (part, kept_here) in zip(starts, parts, strict=True):
        returns[:, start : start + part.shape[1]] = part
        kept.update(kept_here)
    logger.info("backtest: %d candidates x %d bars x %d securities", len(ids), *close.shape)
    return BacktestResult(ids, returns, kept)
