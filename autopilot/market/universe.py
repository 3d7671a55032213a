"""The securities a cycle trades and the market they trade in, known up to an as-of date.

``candidates build`` and ``model train`` read a :class:`Universe`: a
:class:`~autopilot.market.prices_io.PricePanel` of the traded securities (closes and, when
the file has it, volume) and a market series on the same dates, whose regimes label the
candidate batch and whose returns are the meta-labeler's market features. Nothing is
read after the as-of date.

* :func:`embedded_universe`: the embedded 20-stock S&P 500 panel; the market is the S&P 500
  index, which is not one of the panel's securities.
* :func:`panel_universe`: a user's panel (:func:`~autopilot.market.prices_io.read_prices`).
  The market is either one of its securities, named by the user and left out of the traded
  ones, or, when none is named, the equal-weighted average return of the traded securities
  compounded from 1.0 on the first date. :attr:`Universe.market_name` says which, in words
  the command line prints, so the choice is never silent.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from autopilot.errors import InputError
from autopilot.market._price_checks import day
from autopilot.market.bundled import load_index
from autopilot.market.prices_io import PricePanel

__all__ = ["Universe", "embedded_universe", "panel_universe"]

logger = logging.getLogger(__name__)

# Security ids named in a refusal before "... (N more)".
_SHOWN_IDS = 8


@dataclass(frozen=True, eq=False)
class Universe:
    """Traded prices and a market series, cut at the same as-of date.

    Parameters
    ----------
    panel : PricePanel
        The traded securities, every bar up to and including ``as_of``.
    market : pandas.Series
        The market's level on ``panel.dates`` (float64, positive; NaN where it has no
        price).
    market_name : str
        What the market is, for a person (``"the S&P 500 index (embedded)"``).
    as_of : datetime.date
        The date the data were cut at.

    Raises
    ------
    InputError
        The market is not indexed by the panel's dates.
    """

    panel: PricePanel
    market: pd.Series
    market_name: str
    as_of: dt.date

    def __post_init__(self) -> None:
        if not self.market.index.equals(self.panel.dates):
            raise InputError(
                f"{self.panel.source}: the market series must be indexed by the panel's dates "
                f"({self.panel.n_bars} from {day(self.panel.dates[0])})"
            )


def embedded_universe(as_of: dt.date) -> Universe:
    """The embedded 20 S&P 500 stocks and the S&P 500 index, up to ``as_of``.

    Raises
    ------
    InputError
        ``as_of`` is outside the embedded data, naming their range.
    """
    panel = PricePanel.bundled().up_to(as_of)
    market = load_index().reindex(panel.dates)  # the same trading dates
    return Universe(panel, market, "the S&P 500 index (embedded)", as_of)


def panel_universe(panel: PricePanel, as_of: dt.date, market: str | None = None) -> Universe:
    """A user's panel up to ``as_of``, with the named market or the equal-weighted one.

    Parameters
    ----------
    panel : PricePanel
        The whole panel, as read.
    as_of : datetime.date
        The last date used (its bars included).
    market : str, optional
        A security of ``panel`` to use as the market; it is left out of the traded
        securities. None: the equal-weighted average return of the traded securities.

    Returns
    -------
    Universe

    Raises
    ------
    InputError
        ``as_of`` outside the panel's dates (naming the file and its range); ``market`` not
        a security of the panel (naming the file and some of its ids); the market being the
        only security, or the only one with a price on some date; a bar where no security
        has a return, for the equal-weighted market.
    """
    if market is None:
        traded = panel.up_to(as_of)
        return Universe(traded, _equal_weighted(traded), _equal_weighted_name(traded), as_of)
    traded, series = _split_market(panel, market)
    traded = traded.up_to(as_of)
    known = series.reindex(traded.dates)
    if known.isna().all():
        first = day(series.dropna().index[0])
        raise InputError(
            f"{panel.source}: market {market!r} has no price up to {as_of.isoformat()}; its "
            f"first is on {first}: choose a later date, or another market"
        )
    name = f"security {market!r} of {panel.source}, left out of the traded securities"
    return Universe(traded, known, name, as_of)


def _split_market(panel: PricePanel, market: str) -> tuple[PricePanel, pd.Series]:
    """The panel without ``market``, and ``market``'s closes."""
    source = panel.source
    if market not in panel.securities:
        shown = ", ".join(panel.securities[:_SHOWN_IDS])
        more = panel.n_securities - _SHOWN_IDS
        raise InputError(
            f"{source}: market {market!r} is not a security of the file (its "
            f"{panel.n_securities} securities: {shown}{f', ... ({more} more)' if more > 0 else ''}"
            f"); name one of them, as written in the file, with --market"
        )
    if panel.n_securities == 1:
        raise InputError(
            f"{source}: market {market!r} is the file's only security; nothing is left to trade"
        )
    j = panel.securities.index(market)
    keep = [k for k in range(panel.n_securities) if k != j]
    close = panel.close[:, keep]
    priced = ~np.isnan(close).all(axis=1)
    if not priced.all():
        t = int(np.flatnonzero(~priced)[0])
        raise InputError(
            f"{source}: on {day(panel.dates[t])} only the market {market!r} has a price; every "
            f"date needs a price of a traded security: leave the date out, or name another "
            f"market"
        )
    volume = None if panel.volume is None else panel.volume[:, keep]
    traded = PricePanel(
        panel.dates, tuple(panel.securities[k] for k in keep), close, volume, source
    )
    return traded, pd.Series(panel.close[:, j], index=panel.dates, name=market)


def _equal_weighted(panel: PricePanel) -> pd.Series:
    """1.0 on the first date, compounded by the mean return of the securities that have one."""
    returns = panel.returns()[1:]
    counts = (~np.isnan(returns)).sum(axis=1)
    if not counts.all():
        t = int(np.flatnonzero(counts == 0)[0]) + 1
        raise InputError(
            f"{panel.source}: on {day(panel.dates[t])} no security has a return (a price there "
            f"and on the date before), so the equal-weighted market is not known there; name "
            f"a security of the file as the market with --market"
        )
    mean = np.nansum(returns, axis=1) / counts
    level = np.concatenate(([1.0], np.cumprod(1.0 + mean)))
    return pd.Series(level, index=panel.dates, name="market")


def _equal_weighted_name(panel: PricePanel) -> str:
    return (
        f"the equal-weighted average return of the {panel.n_securities} securities of "
        f"{panel.source} (name one of them with --market ID instead)"
    )
