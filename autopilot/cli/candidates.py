"""``autopilot candidates``: list the strategy families, backtest the environment's grids."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from autopilot.cli._catalog import CatalogEntry, add_listing, print_catalog
from autopilot.cli._common import (
    EXIT_OK,
    check_writable,
    parse_date,
    verbose_parent,
)
from autopilot.cli._prices import prices_parent, universe_from_args

__all__ = ["add_commands"]


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Add ``candidates families`` and ``candidates build``."""
    verbose = verbose_parent(top_level=False)
    candidates = commands.add_parser(
        "candidates", parents=[verbose], help="build candidate strategies from price data"
    )
    sub = candidates.add_subparsers(dest="candidates_command", required=True)
    add_listing(sub, "families", "every strategy family", list_families)
    build = sub.add_parser(
        "build",
        parents=[verbose, prices_parent()],
        help="backtest every family x parameter set of the environment into a returns batch",
    )
    build.add_argument("--env", required=True, help="environment name or YAML file")
    build.add_argument("--as-of", required=True, help="last bar used, YYYY-MM-DD")
    build.add_argument("out", type=Path, help="output Parquet file (wide returns batch)")
    build.set_defaults(handler=build_candidates)


def list_families(args: argparse.Namespace) -> int:
    """Print every registered family with its plugin, parameters, grid and status.

    With ``--env`` the families come from the built-in and the allowed plugins, and each
    says how many candidates the environment's grid makes of it (the grid is checked as
    ``candidates build`` checks it); without, every plugin but the built-in ones is listed
    as installed, not enabled.
    """
    from autopilot.config import load_config
    from autopilot.sdk.plugins import load_strategy_catalog
    from autopilot.strategies.grid import build_candidates, environment_catalog, family_grid

    counts: dict[str, int] = {}
    overrides: Mapping[str, Mapping[str, Any]] = {}
    if args.env:
        config = load_config(args.env, args.config_dir)
        catalog = environment_catalog(config)
        for candidate in build_candidates(config, catalog):
            counts[candidate.name] = counts.get(candidate.name, 0) + 1
        overrides = config.strategies
    else:
        catalog = load_strategy_catalog(())
    entries = []
    for name, info in catalog.families.items():
        default = {key: list(values) for key, values in info.cls.default_grid.items()}
        here = family_grid(info.cls, overrides[name]) if name in overrides else {}
        shown = {key: f"default grid {_values(values)}; " for key, values in default.items()}
        shown.update({key: f"{_values(values)} here; " for key, values in here.items()})
        status = "in the grid" if name in counts else "not in the grid"
        status = "available" if args.env is None else status
        entries.append(
            CatalogEntry(
                info,
                status,
                fields={"candidates": counts.get(name, 0) if args.env else None},
                detail=f", {counts[name]} candidates" if name in counts else "",
                per_parameter={
                    key: {
                        "default_grid": default.get(key, []),
                        **({"grid": here[key]} if key in here else {}),
                    }
                    for key in info.cls.parameters
                },
                shown=shown,
            )
        )
    print_catalog(args.format, "family_catalog", "families", args.env, entries, catalog.not_enabled)
    return EXIT_OK


def _values(values: list[Any]) -> str:
    return "[" + ", ".join(repr(v) for v in values) + "]"


def build_candidates(args: argparse.Namespace) -> int:
    """Write the environment's candidate batch to ``args.out``."""
    from tqdm import tqdm

    from autopilot.cli._executor import opened_executor
    from autopilot.config import load_config
    from autopilot.strategies.backtest import IMPACT_WINDOW
    from autopilot.strategies.candidates import write_candidates

    as_of = parse_date(args.as_of, "--as-of")
    check_writable(args.out, args.prices)
    config = load_config(args.env, args.config_dir)
    universe = universe_from_args(args, config, as_of)
    # A bar over the candidates backtested, chunk by chunk, whatever runs them (a terminal
    # only: a redirected stderr stays clean).
    with (
        opened_executor(config.executor, args.verbose) as executor,
        tqdm(unit=" candidates", file=sys.stderr, disable=None, leave=False) as bar,
    ):

        def advance(done: int) -> None:
            bar.update(done - bar.n)

        n, coverage = write_candidates(
            args.out, config, universe, executor=executor, on_chunk=advance
        )
    print(f"wrote {n} candidates to {args.out}")
    if coverage is None:
        print("costs: spread and fees (no volume in the prices, so no market impact)")
    else:
        print(
            f"costs: spread, fees and market impact on volume for {config.strategy_capital:,.0f} "
            f"of capital ({coverage:.1%} of priced security-bars have the {IMPACT_WINDOW} bars "
            f"of volume and prices impact needs; elsewhere spread and fees only)"
        )
    return EXIT_OK
