"""``autopilot init``: create a state folder (the only way one comes into being), and copy
the default environment files for editing when asked.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from autopilot.cli._common import EXIT_OK, folder_path, state_parent, verbose_parent
from autopilot.errors import InputError

__all__ = ["add_commands"]

# `--configs` without a folder: the --config-dir given, else ./configs. Not a string, which
# argparse would pass through the type.
_DEFAULT_FOLDER = True


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Add ``init``."""
    init = commands.add_parser(
        "init",
        parents=[verbose_parent(top_level=False), state_parent(group=True)],
        help="create a state folder; with --configs, also copy the default environments",
        description="Create the state folder of the registry and the paper book (an existing "
        "one is checked and left unchanged). With --configs, also copy the environment files "
        "shipped with autopilot (base, dev, staging, prod) into a folder for editing; "
        "existing files are never overwritten.",
    )
    init.add_argument(
        "--initial-cash",
        type=float,
        help="cash of the paper book (default 1,000,000); fixed once the folder exists",
    )
    init.add_argument(
        "--configs",
        nargs="?",
        type=folder_path,
        const=_DEFAULT_FOLDER,
        metavar="DIR",
        help="also copy the default environment files into DIR (default: --config-dir if "
        "given, else ./configs, which --env NAME reads before the shipped defaults)",
    )
    init.set_defaults(handler=init_state)


def init_state(args: argparse.Namespace) -> int:
    """Create ``--state-dir`` with its manifest, then copy the configurations if asked."""
    from autopilot.config import LOCAL_CONFIG_DIR, check_config_target, copy_default_configs
    from autopilot.state.cycles import StateFolder

    cash = args.initial_cash
    if cash is not None and not (math.isfinite(cash) and cash > 0):
        raise InputError(f"--initial-cash must be a positive number, was {cash!r}")
    configs: Path | None = args.configs
    if args.configs is _DEFAULT_FOLDER:
        configs = args.config_dir or LOCAL_CONFIG_DIR
    if configs is not None:
        check_config_target(configs)  # refused before anything is created
    folder, created = StateFolder.create(args.state_dir, initial_cash=cash)
    settings = folder.settings()
    what = "created" if created else "already holds state, unchanged:"
    print(f"{folder.path} {what} initial cash {settings['initial_cash']:,.2f}")
    if configs is None:
        return EXIT_OK
    written = copy_default_configs(configs)
    print(f"copied the default environments into {configs}: {', '.join(p.name for p in written)}")
    if configs.resolve() == LOCAL_CONFIG_DIR.resolve():
        print(
            f"edit them: run from here, --env NAME reads {LOCAL_CONFIG_DIR}/NAME.yaml before "
            f"the defaults shipped with autopilot"
        )
    else:
        print(f"edit them, and pass --config-dir {configs} to use them")
    return EXIT_OK
