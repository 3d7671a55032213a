"""``autopilot init``: create a state folder, the only way one comes into being."""

from __future__ import annotations

import argparse
import math

from autopilot.cli._common import EXIT_OK, state_parent, verbose_parent
from autopilot.errors import InputError

__all__ = ["add_commands"]


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Add ``init``."""
    init = commands.add_parser(
        "init",
        parents=[verbose_parent(top_level=False), state_parent(group=True)],
        help="create a state folder for the registry and the paper book",
    )
    init.add_argument(
        "--initial-cash",
        type=float,
        help="cash of the paper book (default 1,000,000); fixed once the folder exists",
    )
    init.set_defaults(handler=init_state)


def init_state(args: argparse.Namespace) -> int:
    """Create ``--state-dir`` with its manifest, or confirm that it already holds state."""
    from autopilot.state.cycles import StateFolder

    cash = args.initial_cash
    if cash is not None and not (math.isfinite(cash) and cash > 0):
        raise InputError(f"--initial-cash must be a positive number, was {cash!r}")
    folder, created = StateFolder.create(args.state_dir, initial_cash=cash)
    settings = folder.settings()
    what = "created" if created else "already holds state, unchanged:"
    print(f"{folder.path} {what} initial cash {settings['initial_cash']:,.2f}")
    return EXIT_OK
