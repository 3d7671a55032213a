"""``autopilot config show``: the resolved configuration of an environment."""

from __future__ import annotations

import argparse
from pathlib import Path

from autopilot.cli._common import (
    EXIT_OK,
    environment_parent,
    format_parent,
    print_json,
    verbose_parent,
)
from autopilot.cli._evaluate import load_gate_set

__all__ = ["add_commands"]


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Add ``config show``."""
    verbose = verbose_parent(top_level=False)
    config = commands.add_parser(
        "config", parents=[verbose], help="show the resolved configuration"
    )
    config_commands = config.add_subparsers(dest="config_command", required=True)
    show = config_commands.add_parser(
        "show",
        parents=[verbose, environment_parent(), format_parent(human="yaml")],
        help="print an environment's resolved configuration (YAML, or JSON for a script)",
    )
    show.set_defaults(handler=config_show)


def config_show(args: argparse.Namespace) -> int:
    """Print the resolved configuration with every default and the files it came from.

    The YAML loads back to the same gate set and hash; the JSON holds the same content.
    """
    from autopilot.config import dump_config, is_packaged

    config, gate_set = load_gate_set(args)
    resolved = gate_set.describe()
    if args.format == "json":
        payload = {
            "environment": config.environment,
            "config_hash": gate_set.config_hash,
            "sources": [str(Path(source).resolve()) for source in config.sources],
            "config": resolved,
        }
        print_json("config", payload)
        return EXIT_OK
    shipped = " (the defaults shipped with autopilot)" if is_packaged(config.sources[0]) else ""
    print(f"# environment {config.environment}, config hash {gate_set.config_hash}")
    print(f"# from {' <- '.join(config.sources)}{shipped}")
    print(dump_config(resolved), end="")
    return EXIT_OK
