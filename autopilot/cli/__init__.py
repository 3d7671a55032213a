"""The ``autopilot`` command line, one module per command group.

``autopilot.cli:console`` is the console script (``python -m autopilot.cli`` runs it too);
:func:`main` runs a command in-process and returns its exit code.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    import argparse

__all__ = ["build_parser", "console", "main"]

_EXIT_INTERRUPTED = 130


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (see :mod:`autopilot.cli.runner`)."""
    try:  # Ctrl-C while the command modules load is an interruption too, not a traceback
        from autopilot.cli.runner import main as run
    except KeyboardInterrupt:
        print(
            "interrupted: nothing was committed; every state file is as it was before this command",
            file=sys.stderr,
        )
        return _EXIT_INTERRUPTED
    return run(argv)


def console() -> NoReturn:
    """The ``autopilot`` executable: run the command, then exit with its code.

    Once the command has returned, its work is done or refused: a Ctrl-C during the
    interpreter's shutdown would only kill the process with no message, so it is ignored.
    """
    code = main()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    sys.exit(code)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``autopilot``."""
    from autopilot.cli.runner import build_parser as build

    return build()
