"""``autopilot candidates build``: backtest the environment's strategy families."""

from __future__ import annotations

import argparse
from pathlib import Path

from autopilot.cli._common import EXIT_OK, check_writable, parse_date, verbose_parent

__all__ = ["add_commands"]


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Add ``candidates build``."""
    verbose = verbose_parent(top_level=False)
    candidates = commands.add_parser(
        "candidates", parents=[verbose], help="build candidate strategies from price data"
    )
    sub = candidates.add_subparsers(dest="candidates_command", required=True)
    build = sub.add_parser(
        "build",
        parents=[verbose],
        help="backtest every family x parameter set of the environment into a returns batch",
    )
    build.add_argument("--env", required=True, help="environment name or YAML file")
    build.add_argument("--as-of", required=True, help="last bar used, YYYY-MM-DD")
    build.add_argument("out", type=Path, help="output Parquet file (wide returns batch)")
    build.set_defaults(handler=build_candidates)


def build_candidates(args: argparse.Namespace) -> int:
    """Write the environment's candidate batch to ``args.out``."""
    from autopilot.config import load_config
    from autopilot.strategies.candidates import write_candidates

    as_of = parse_date(args.as_of, "--as-of")
    check_writable(args.out)
    config = load_config(args.env, args.config_dir)
    n = write_candidates(args.out, config, as_of)
    print(f"wrote {n} candidates to {args.out}")
    return EXIT_OK
