"""``autopilot config show``: the resolved configuration of an environment."""

from __future__ import annotations

import argparse

from autopilot.cli._common import EXIT_OK, environment_parent, verbose_parent
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
        "show", parents=[verbose, environment_parent()], help="print an environment's YAML"
    )
    show.set_defaults(handler=config_show)


def config_show(args: argparse.Namespace) -> int:
    """Print the resolved YAML with every default; loading it back gives the same hash."""
    from autopilot.config import dump_config

    config, gate_set = load_gate_set(args)
    resolved = gate_set.describe()
    print(f"# environment {config.environment}, config hash {gate_set.config_hash}")
    print(f"# from {' <- '.join(config.sources)}")
    print(dump_config(resolved), end="")
    return EXIT_OK
