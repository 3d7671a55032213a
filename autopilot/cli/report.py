"""``autopilot report``: the walk's report, one self-contained HTML page (reads the state only)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from autopilot.cli._common import EXIT_OK, folder_path, state_parent, verbose_parent

__all__ = ["add_commands"]

PAGE = "index.html"
DEFAULT_FOLDER = "report"  # inside the state folder


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Add ``report``."""
    report = commands.add_parser(
        "report",
        parents=[verbose_parent(top_level=False), state_parent(group=True)],
        help="write the walk's report: one self-contained HTML page",
        description="Write the report of the walk in the state folder: paper equity against "
        "the index, a tearsheet, the active strategies, costs, meta-labeling, the allocator "
        "and the last cycle's verdicts, as one HTML page that works offline.",
    )
    report.add_argument(
        "--out",
        type=folder_path,
        help=f"folder of the page, created if needed; {PAGE} is written there (default: "
        f"STATE_DIR/{DEFAULT_FOLDER})",
    )
    report.add_argument(
        "--transition-window",
        type=_count(1),
        default=3,
        metavar="K",
        help="bars shaded each side of a regime change on the strategies' charts (default 3, "
        "the transition-drawdown gate's default)",
    )
    report.add_argument(
        "--max-charts",
        type=_count(0),
        default=40,
        metavar="N",
        help="most strategies to chart, active and promotable first (default 40)",
    )
    report.set_defaults(handler=write_report)


def write_report(args: argparse.Namespace) -> int:
    """Write the report of ``args.state_dir``'s walk."""
    from autopilot.report.walk import write_walk_report

    folder: Path = args.out or args.state_dir / DEFAULT_FOLDER
    done = write_walk_report(
        args.state_dir,
        folder / PAGE,
        transition_window=args.transition_window,
        max_plots=args.max_charts,
    )
    cycles = f"{done.cycles} cycle{'s' if done.cycles != 1 else ''}"
    print(f"report: {done.path} ({cycles}, {done.charts} charts, {done.size / 1e6:.1f} MB)")
    return EXIT_OK


def _count(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number at least ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{text!r} is below {minimum}")
        return value

    return parse
