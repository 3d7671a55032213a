"""autopilot-xsmom: a cross-sectional momentum strategy family for strategy-autopilot.

The family ``xsmom`` ranks the securities by their return from ``t - lookback`` to
``t - skip`` and, at the close of every bar ``t``, holds the best ``fraction`` of them long
and the worst ``fraction`` short (only the best with ``long_only``), equally weighted. It is
also the example of a strategy family written as a plugin: declared parameters, a rule
across parameters, a default grid, causal positions and the registration hook, published
under the entry-point group ``autopilot.strategies`` (see this distribution's README).
"""

from __future__ import annotations

import numpy as np

from autopilot import Interval, Param, StrategyFamily, hookimpl

__version__ = "0.1.0"

__all__ = ["CrossSectionalMomentum", "autopilot_register_strategies", "trailing_returns"]

# fraction * N is rounded down; this absorbs the float error of the product
# (0.29 * 100 is 28.999999999999996, which means 29 securities).
_ROUNDING = 1e-9


class CrossSectionalMomentum(StrategyFamily):
    """Long the winners and short the losers of the trailing return, equally weighted.

    At the close of bar ``t`` a security is *ranked* when it has a price at ``t`` and its
    trailing return ``close[t - skip] / close[t - lookback] - 1`` is known. Of the
    ``N_t`` ranked securities, ``k_t = floor(fraction * N_t)`` with the highest return are
    held long and the ``k_t`` with the lowest short, each at ``1 / (2 k_t)`` (long-only:
    the ``k_t`` winners at ``1 / k_t``), so the absolute weights of a row sum to 1. Equal
    returns are ranked in column order (the first column counts as the better one, in
    both tails, so no security is both a winner and a loser). Ranked securities in
    neither tail hold 0; a bar with ``k_t = 0`` (fewer than ``1 / fraction`` ranked
    securities) holds nothing. Securities that are not ranked hold NaN (no position).
    Row ``t`` reads rows ``t - lookback``, ``t - skip`` and ``t`` of ``close`` only.

    Parameters
    ----------
    lookback : int
        Bars from the start of the ranked return to ``t``, at least 1.
    skip : int
        Most recent bars left out of the ranked return (0 by default; 21 skips the last
        month of daily bars, the classic "12-1" momentum), below ``lookback``.
    fraction : float
        Share of the ranked securities held on each side, in (0, 1]; at most 0.5 unless
        ``long_only`` (the winners and the losers would overlap). 0.2 by default.
    long_only : bool
        Hold the winners only (False by default).
    """

    name = "xsmom"
    description = "long the best `fraction` by trailing return, short the worst, equal weights"
    parameters = {
        "lookback": Param(
            int, interval=Interval(1, None), doc="bars from the start of the ranked return to t"
        ),
        "skip": Param(
            int,
            default=0,
            interval=Interval(0, None),
            doc="most recent bars left out of the ranked return",
        ),
        "fraction": Param(
            float,
            default=0.2,
            interval=Interval(0, 1, closed="right"),
            doc="share of the ranked securities held on each side",
        ),
        "long_only": Param(bool, default=False, doc="hold the winners only, no short"),
    }
    default_grid = {"lookback": (63, 126, 252), "skip": (0, 21), "fraction": (0.1, 0.2, 0.3)}

    def check_params(self) -> str | None:
        """``skip`` below ``lookback``; with shorts, ``fraction`` at most 0.5."""
        lookback, skip = self.params["lookback"], self.params["skip"]
        if skip >= lookback:
            return f"need skip < lookback, were skip={skip}, lookback={lookback}"
        fraction = self.params["fraction"]
        if not self.params["long_only"] and fraction > 0.5:
            return (
                f"need fraction <= 0.5 with long_only=false (the winners and the losers would "
                f"overlap), was fraction={fraction!r}"
            )
        return None

    def positions(self, close: np.ndarray) -> np.ndarray:
        """``+-1 / (2 k_t)`` (long-only ``1 / k_t``) in the tails of the ranking at each bar.

        NaN where a security is not ranked, 0 where it is ranked but in neither tail; the
        base class states the contract.
        """
        score = trailing_returns(close, self.params["lookback"], self.params["skip"])
        ranked = np.isfinite(score) & ~np.isnan(close)
        n_ranked = ranked.sum(axis=1)[:, None]
        per_side = np.floor(self.params["fraction"] * n_ranked + _ROUNDING).astype(np.int64)
        # One order for both tails (best first, unranked last), so that no security is a
        # winner and a loser at once, even when returns tie in the middle.
        rank = _ranks(np.where(ranked, -score, np.inf))
        winners = rank < per_side
        if self.params["long_only"]:
            weights = np.where(winners, 1.0, 0.0)
        else:
            losers = ranked & (rank >= n_ranked - per_side)
            weights = np.where(winners, 0.5, 0.0) - np.where(losers, 0.5, 0.0)
        weights /= np.maximum(per_side, 1)
        return np.where(ranked, weights, np.nan)


def trailing_returns(close: np.ndarray, lookback: int, skip: int) -> np.ndarray:
    """``close[t - skip] / close[t - lookback] - 1`` at every bar, NaN before ``lookback``.

    Parameters
    ----------
    close : ndarray of float64, shape (T, N)
        Close prices.
    lookback, skip : int
        ``0 <= skip < lookback``.

    Returns
    -------
    ndarray of float64, shape (T, N)
        A new array; NaN wherever either close is missing.
    """
    t_bars = close.shape[0]
    score = np.full(close.shape, np.nan)
    if lookback < t_bars:
        score[lookback:] = close[lookback - skip : t_bars - skip] / close[: t_bars - lookback] - 1.0
    return score


def _ranks(keys: np.ndarray) -> np.ndarray:
    """0-based ascending rank of every cell within its row, ties in column order."""
    order = np.argsort(keys, axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(keys.shape[1])[None, :], axis=1)
    return ranks


@hookimpl
def autopilot_register_strategies() -> list[type[StrategyFamily]]:
    """Offer the ``xsmom`` family."""
    return [CrossSectionalMomentum]
