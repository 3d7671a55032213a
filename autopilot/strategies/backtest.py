"""The vectorised backtest: candidates' target positions into a ``T x K`` returns matrix.

Timing: the position ``w_t`` decided at the close of bar ``t`` is held over bar ``t+1``::

    return[t+1] = sum_i w[t, i] * r[t+1, i]  -  cost_rate * sum_i |w[t, i] - w[t-1, i]|

with ``r[t+1, i] = close[t+1, i] / close[t, i] - 1`` and the cost of the trade made at
the close of ``t`` charged in the return of the bar it is first held over. NaN positions
are no position (weight 0); the weight before a candidate's first position is 0, so
entering is charged. A held security whose price ends at ``t`` (no ``close[t+1]``)
contributes 0 to bar ``t+1``: it is valued at its last price and its weight drops to 0 at
the next decision, which pays the exit. A candidate's returns are NaN up to and including
the first bar with a finite position (nothing was held before it).

``cost_rate`` is a fraction per unit of turnover; :func:`cost_rate_from_model` derives it
from the cost model (half-spread and fees; the impact term needs volume and is left out).

Candidates are processed in chunks: peak memory is one chunk of positions (``chunk x T x
N`` float64) plus the returns matrix, whatever the grid's size.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from autopilot.costs import CostModel
from autopilot.errors import InputError
from autopilot.sdk.family import StrategyFamily, checked_positions
from autopilot.strategies.rolling import simple_returns

__all__ = ["BacktestResult", "backtest", "candidate_returns", "cost_rate_from_model"]

logger = logging.getLogger(__name__)

DEFAULT_CHUNK = 64


def cost_rate_from_model(model: CostModel | None = None) -> float:
    """Cost per unit of turnover, as a fraction: the model's cost at zero participation.

    ``multiplier * (half_spread_bps + fee_bps) / 1e4``; the square-root impact term needs
    each order's participation in volume, which a price panel alone does not give.
    """
    model = CostModel() if model is None else model
    return model.predicted_cost_bps(0.0, 0.0) / 1e4


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


def candidate_returns(
    positions: np.ndarray, asset_returns: np.ndarray, cost_rate: float
) -> np.ndarray:
    """The net returns of one candidate from its positions and the securities' returns.

    Parameters
    ----------
    positions : ndarray of float64, shape (T, N)
        Weights decided at each close; NaN = no position.
    asset_returns : ndarray of float64, shape (T, N)
        ``close[t] / close[t-1] - 1`` (NaN where either price is missing).
    cost_rate : float
        Cost per unit of turnover, as a fraction.

    Returns
    -------
    ndarray of float64, shape (T,)
        NaN up to and including the first bar with a finite position.
    """
    t = positions.shape[0]
    decided = ~np.isnan(positions).all(axis=1)
    out = np.full(t, np.nan)
    if not decided.any():
        return out
    first = int(np.argmax(decided))
    w = np.nan_to_num(positions, nan=0.0)
    r = np.nan_to_num(asset_returns, nan=0.0)
    gross = np.einsum("ij,ij->i", w[:-1], r[1:])
    previous = np.vstack([np.zeros((1, w.shape[1])), w[:-2]])
    turnover = np.abs(w[:-1] - previous).sum(axis=1)
    out[1:] = gross - cost_rate * turnover
    out[: first + 1] = np.nan
    return out


def iter_chunks(
    close: np.ndarray,
    candidates: Sequence[StrategyFamily],
    cost_rate: float,
    chunk: int = DEFAULT_CHUNK,
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """Yield ``(start, returns T x k, positions k x T x N)`` for chunks of ``chunk`` candidates.

    Raises
    ------
    StrategyContractError
        A candidate's positions break the contract (see :mod:`autopilot.sdk.family`).
    """
    asset_returns = simple_returns(close)
    for start in range(0, len(candidates), chunk):
        part = candidates[start : start + chunk]
        positions = np.empty((len(part), *close.shape))
        returns = np.empty((close.shape[0], len(part)))
        for k, family in enumerate(part):
            positions[k] = checked_positions(family, close)
            returns[:, k] = candidate_returns(positions[k], asset_returns, cost_rate)
        yield start, returns, positions


def backtest(
    close: np.ndarray,
    candidates: Sequence[StrategyFamily],
    *,
    cost_rate: float | None = None,
    chunk: int = DEFAULT_CHUNK,
    keep_positions: Sequence[str] = (),
    on_chunk: Callable[[int], None] | None = None,
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
    chunk : int
        Candidates whose positions are held in memory at once.
    keep_positions : sequence of str
        Candidate ids whose positions are returned.
    on_chunk : callable, optional
        Called with the number of candidates done after each chunk.

    Returns
    -------
    BacktestResult

    Raises
    ------
    InputError
        ``close`` is not a T x N float64 array of positive prices or NaN, ``cost_rate`` is
        negative, ``chunk`` < 1, ids repeat, or ``keep_positions`` names no candidate.
    StrategyContractError
        A family's positions break the contract.
    """
    _check_close(close)
    rate = cost_rate_from_model() if cost_rate is None else float(cost_rate)
    if not (0.0 <= rate < 1.0):
        raise InputError(f"cost_rate must be a fraction in [0, 1), was {cost_rate!r}")
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
    returns = np.empty((close.shape[0], len(ids)))
    kept: dict[str, np.ndarray] = {}
    for start, part, positions in iter_chunks(close, candidates, rate, chunk):
        returns[:, start : start + part.shape[1]] = part
        for k in range(part.shape[1]):
            if ids[start + k] in keep:
                kept[ids[start + k]] = positions[k].copy()
        if on_chunk is not None:
            on_chunk(start + part.shape[1])
    logger.info("backtest: %d candidates x %d bars x %d securities", len(ids), *close.shape)
    return BacktestResult(ids, returns, kept)
