"""``autopilot data check``: what a price file holds and everything that would be refused."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from autopilot.cli._common import EXIT_OK, EXIT_USAGE, format_parent, print_json, verbose_parent
from autopilot.cli._prices import price_reading_parent, reading_options

if TYPE_CHECKING:
    from autopilot.market.prices_io import PriceReport

__all__ = ["add_commands"]

# Securities named in the table before it says how many more there are (JSON lists all).
_SHOWN = 10


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Add ``data check``."""
    verbose = verbose_parent(top_level=False)
    data = commands.add_parser("data", parents=[verbose], help="check a price file")
    data_commands = data.add_subparsers(dest="data_command", required=True)
    check = data_commands.add_parser(
        "check",
        parents=[verbose, format_parent(), price_reading_parent()],
        help="summarise a price file and list everything that would be refused",
        description="Read a price file (Parquet or CSV, wide: date + one column of closes per "
        "security; long: date, security|ticker|permno, close[, volume]) and print what it "
        "holds and every problem found. Exit 0 when it would be accepted, 2 when not.",
    )
    check.add_argument("file", type=Path, help="Parquet or CSV prices, wide or long layout")
    check.set_defaults(handler=data_check)


def data_check(args: argparse.Namespace) -> int:
    """Print the summary and the problems; exit 0 when the file would be accepted, 2 if not."""
    from autopilot.market.prices_io import check_prices

    report = check_prices(args.file, **reading_options(args))
    if args.format == "json":
        print_json("price_check", report.to_dict())
    else:
        print(_format_report(report))
    if report.accepted:
        return EXIT_OK
    n = len(report.problems)
    print(
        f"error: {report.source}: would be refused, {n} problem{'s' if n > 1 else ''} "
        f"(listed on stdout)",
        file=sys.stderr,
    )
    return EXIT_USAGE


def _format_report(report: PriceReport) -> str:
    from autopilot.market._price_checks import day

    layout = report.layout
    if report.id_column is not None:
        volume = ", volume" if report.has_volume else ""
        layout += f" (date, {report.id_column}, close{volume})"
    else:
        layout += " (date, one column of closes per security)"
    lines = [f"file         {report.source}", f"layout       {layout}"]
    lines.append(f"securities   {len(report.securities)}: {_some(list(report.securities))}")
    dates = report.dates
    lines.append(f"dates        {day(dates[0])} to {day(dates[-1])}, {len(dates)} bars")
    spacing = report.largest_spacing
    if spacing is not None:
        lines.append(
            f"spacing      median {_days(report.median_spacing_days)}, largest "
            f"{_days(spacing[0])} ({day(spacing[1])} to {day(spacing[2])})"
        )
    for title, spans in (("late starts", report.late_starts), ("early ends", report.early_ends)):
        named = [f"{s} ({day(d)})" for s, d in spans]
        lines.append(f"{title:<12} {len(named)}{': ' + _some(named) if named else ''}")
    lines.append(f"volume       {'yes' if report.has_volume else 'no'}")
    if report.accepted:
        lines.append("accepted: read_prices returns this panel")
    else:
        n = len(report.problems)
        lines.append(f"refused: {n} problem{'s' if n > 1 else ''}")
        lines += [f"  {problem.message}" for problem in report.problems]
    return "\n".join(lines)


def _days(days: float | None) -> str:
    return f"{days:.4g} day{'' if days == 1 else 's'}"


def _some(names: list[str]) -> str:
    shown = ", ".join(names[:_SHOWN])
    rest = len(names) - _SHOWN
    return shown + (f", ... ({rest} more; --format json lists all)" if rest > 0 else "")
