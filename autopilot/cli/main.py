"""The ``autopilot`` command line: the parser and the one error boundary.

Exit codes: 0 the command did its job (a batch was evaluated, promotable or not); 2 bad
input or configuration (one line on stderr naming the file, key or candidate and the fix;
nothing written); 75 another process holds the state lock (try again later); 130
interrupted (Ctrl-C); 141 the output pipe was closed (``| head``); 1 an internal error.

Each command group lives in its own module and imports the numerical stack only inside
its handlers, so commands that need none of it start quickly.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from autopilot import __version__
from autopilot.cli import config, example, gates, init, paper, registry
from autopilot.cli._common import (
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_TEMPFAIL,
    EXIT_USAGE,
    folder_path,
    verbose_parent,
)
from autopilot.errors import AutopilotError, StateLockTimeout

__all__ = ["EXIT_BROKEN_PIPE", "build_parser", "main"]

logger = logging.getLogger("autopilot")

EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a writer cut off by `head`


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``autopilot``."""
    parser = argparse.ArgumentParser(
        prog="autopilot",
        description="Promotion gates, registry and paper trading for systematic research.",
        parents=[verbose_parent(top_level=True)],
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--config-dir",
        type=folder_path,
        help="folder of environment YAML files, the only one searched (default: ./configs "
        "when it holds the environment, else the defaults shipped with autopilot)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for group in (init, gates, registry, paper, config, example):
        group.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(args.handler(args))
    except StateLockTimeout as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_TEMPFAIL
    except AutopilotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(
            "interrupted: every state file is written atomically, so each is as it was "
            "before or after this command, never half-written; run the command again to "
            "complete its cycle",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # Python would complain again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except OSError as exc:
        # The file system refused (permissions, a file where a folder belongs, a full
        # disk): the user's to fix, not a bug. Atomic writes left the old files intact.
        print(f"error: {_describe_os_error(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:
        logger.debug("internal error", exc_info=True)
        hint = "the traceback is above" if args.verbose else "run with -v for the traceback"
        print(
            f"internal error: {type(exc).__name__}: {exc} ({hint}; please report it)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


def _describe_os_error(exc: OSError) -> str:
    path = exc.filename if exc.filename is not None else "a file"
    reason = exc.strerror or type(exc).__name__
    fixes = {
        PermissionError: "give this user write access, or use another --state-dir",
        FileExistsError: "a file stands where a folder is needed; choose another path",
        NotADirectoryError: "a file stands where a folder is needed; choose another path",
        IsADirectoryError: "a folder stands where a file is needed; move it away",
    }
    fix = next((text for kind, text in fixes.items() if isinstance(exc, kind)), None)
    written = "nothing was changed" if fix else "files already written are intact"
    return f"{path}: {reason}; {fix or 'free the space or fix the device'} ({written})"
