"""The ``autopilot`` command line, one module per command group.

``autopilot.cli:main`` is the console script; ``python -m autopilot.cli`` runs it too.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

__all__ = ["build_parser", "main"]

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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``autopilot``."""
    from autopilot.cli.runner import build_parser as build

    return build()
