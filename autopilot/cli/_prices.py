"""Price files on the command line: the reading options and ``--prices FILE --market ID``.

``data check FILE``, ``candidates build --prices FILE`` and ``model train --prices FILE``
read a price file with the same options (one argument group, :func:`price_reading_parent`);
the last two turn it into the :class:`~autopilot.market.universe.Universe` they trade.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autopilot.cli._common import add_date_format
from autopilot.errors import InputError

if TYPE_CHECKING:
    from autopilot.config import EnvironmentConfig
    from autopilot.market.prices_io import PricePanel
    from autopilot.market.universe import Universe

__all__ = [
    "WalkData",
    "price_reading_parent",
    "prices_parent",
    "reading_options",
    "universe_from_args",
    "walk_data",
]

_DEFAULT_MIN_HISTORY = 2  # autopilot.market.prices_io.DEFAULT_MIN_HISTORY, without pandas


def price_reading_parent() -> argparse.ArgumentParser:
    """How a price file is read: ``--date-format``, ``--ignore-columns``, ``--min-history``."""
    parent = argparse.ArgumentParser(add_help=False)
    _add_reading_options(parent)
    return parent


def _add_reading_options(parser: argparse.ArgumentParser) -> None:
    reading = parser.add_argument_group("reading the price file (nothing is guessed)")
    add_date_format(reading)
    reading.add_argument(
        "--ignore-columns",
        nargs="+",
        default=[],
        metavar="NAME",
        help="columns to leave out (a saved index, a column of another field)",
    )
    reading.add_argument(
        "--min-history",
        type=_at_least_one,
        metavar="N",
        help=f"the fewest prices a security may have (default {_DEFAULT_MIN_HISTORY}: one return)",
    )


def prices_parent(names: tuple[str, ...] = ("--prices",)) -> argparse.ArgumentParser:
    """``--prices FILE`` (or ``names``) and ``--market ID``, with the file's reading options."""
    parent = argparse.ArgumentParser(add_help=False)
    own = parent.add_argument_group("your own prices (default: the embedded S&P 500 data)")
    own.add_argument(
        *names,
        dest="prices",
        type=Path,
        metavar="FILE",
        help="Parquet or CSV closes, wide (date + one column per security) or long (date, "
        "security|ticker|permno, close[, volume]); `autopilot data check FILE` checks it",
    )
    own.add_argument(
        "--market",
        metavar="ID",
        help="a security of --prices used as the market (regimes, the meta-labeler's market "
        "features) and left out of the traded securities; default: the equal-weighted average "
        "return of the file's securities",
    )
    _add_reading_options(parent)
    return parent


def _at_least_one(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not at least 1")
    return value


def reading_options(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of ``read_prices`` and ``check_prices`` the options give."""
    min_history = args.min_history
    return {
        "date_format": args.date_format,
        "ignore_columns": args.ignore_columns,
        "min_history": _DEFAULT_MIN_HISTORY if min_history is None else min_history,
    }


def universe_from_args(
    args: argparse.Namespace, config: EnvironmentConfig, as_of: date
) -> Universe:
    """The embedded data, or ``--prices`` with its market, cut at ``as_of``.

    With ``--prices`` one line on stdout says what the market is. The file's bar spacing
    must agree with the environment's ``periods_per_year`` (unless ``irregular_bars``).

    Raises
    ------
    InputError
        A reading option or ``--market`` without ``--prices``; anything the file, the
        as-of date or the market is refused for.
    """
    from autopilot.market.universe import embedded_universe, panel_universe

    if args.prices is None:
        given = [
            option
            for option, value in (
                ("--market", args.market),
                ("--date-format", args.date_format),
                ("--ignore-columns", args.ignore_columns),
                ("--min-history", args.min_history),
            )
            if value
        ]
        if given:
            raise InputError(
                f"{given[0]} applies to a price file given with --prices FILE; without one, "
                f"the embedded S&P 500 data are used (the index as the market)"
            )
        return embedded_universe(as_of)
    from autopilot.market.prices_io import read_prices
    from autopilot.market.returns_io import check_bar_spacing

    panel = read_prices(args.prices, **reading_options(args))
    if not config.irregular_bars:
        check_bar_spacing(panel.dates, config.periods_per_year, args.prices)
    universe = panel_universe(panel, as_of, args.market)
    print(f"market: {universe.market_name}")
    return universe


@dataclass(frozen=True)
class WalkData:
    """The prices a walk reads: the whole panel, and each cycle's cut of it.

    Attributes
    ----------
    panel : PricePanel
        The traded securities' prices, every date (the market left out).
    universe_at : callable
        ``universe_at(as_of)``: the universe cut at a cycle's date.
    source : str
        The data's name, for messages.
    """

    panel: PricePanel
    universe_at: Callable[[date], Universe]
    source: str


def walk_data(args: argparse.Namespace, config: EnvironmentConfig) -> WalkData:
    """The embedded data, or ``--data FILE`` with its market, for a walk of cycles.

    Raises
    ------
    InputError
        As :func:`universe_from_args`.
    """
    from autopilot.market.prices_io import PricePanel, read_prices
    from autopilot.market.returns_io import check_bar_spacing
    from autopilot.market.universe import embedded_universe, panel_universe

    if args.prices is None:
        universe_from_args(args, config, PricePanel.bundled().dates[-1].date())  # refusals
        bundled = PricePanel.bundled()
        return WalkData(bundled, embedded_universe, bundled.source)
    panel = read_prices(args.prices, **reading_options(args))
    if not config.irregular_bars:
        check_bar_spacing(panel.dates, config.periods_per_year, args.prices)
    last = panel_universe(panel, panel.dates[-1].date(), args.market)
    print(f"market: {last.market_name}")
    market = args.market
    return WalkData(
        last.panel, lambda as_of: panel_universe(panel, as_of, market), str(args.prices)
    )
