"""``autopilot example``: the example batch built from the embedded market data."""

from __future__ import annotations

import argparse
from pathlib import Path

from autopilot.cli._common import EXIT_OK, check_writable, verbose_parent

__all__ = ["add_commands"]


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Add ``example``."""
    example = commands.add_parser(
        "example",
        parents=[verbose_parent(top_level=False)],
        help="write the example batch built from the embedded market data",
    )
    example.add_argument("out", type=Path, help="output file (.parquet or .csv)")
    example.set_defaults(handler=write_example_batch)


def write_example_batch(args: argparse.Namespace) -> int:
    """Write the example batch to ``args.out``."""
    from autopilot.strategies.examples import write_example

    check_writable(args.out)
    write_example(args.out)
    print(f"wrote {args.out}")
    return EXIT_OK
