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
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import Any

from autopilot import __version__
from autopilot.cli import (
    candidates,
    config,
    data,
    example,
    gates,
    init,
    model,
    paper,
    registry,
    report,
    run,
)
from autopilot.cli._common import (
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_TEMPFAIL,
    EXIT_USAGE,
    folder_path,
    verbose_parent,
)
from autopilot.errors import AutopilotError, ExecutorUnavailable, StateLockTimeout
from autopilot.state.cycles import committed_in_this_process

__all__ = ["EXIT_BROKEN_PIPE", "build_parser", "interrupted_message", "main"]

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
    for group in (
        init,
        run,
        report,
        gates,
        registry,
        paper,
        candidates,
        model,
        config,
        data,
        example,
    ):
        group.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    earlier = len(committed_in_this_process())  # an in-process caller may run several
    with _CountedInterrupts() as interrupts:
        try:
            code = _run(argv)
        except KeyboardInterrupt:
            code = EXIT_INTERRUPTED
        if interrupts.count and code != EXIT_INTERRUPTED:
            # Ctrl-C was caught and dropped inside a library (numba's compiler does, now
            # and then), and the command carried on: the user still asked it to stop.
            code = EXIT_INTERRUPTED
    if code == EXIT_INTERRUPTED:
        print(interrupted_message(committed_in_this_process()[earlier:]), file=sys.stderr)
    return code


def interrupted_message(done: Sequence[str] = ()) -> str:
    """What an interrupted command wrote: the cycles it committed (``done``), or nothing."""
    if not done:
        return (
            "interrupted: nothing was committed; every state file is as it was before this "
            "command (files are only ever replaced whole)"
        )
    return (
        f"interrupted after committing {'; '.join(done)}; a snapshot not yet saved is "
        f"rebuilt from its log on the next load, and running the command again repeats "
        f"nothing that was committed"
    )


class _CountedInterrupts:
    """SIGINT raises KeyboardInterrupt, counted so none goes unnoticed, never inside an import.

    A KeyboardInterrupt raised while a C extension is being imported becomes an ImportError
    whose traceback the extension prints (numpy's ``import_array`` does), so an interrupt
    that lands in an import is delivered again 20 ms later, once the import is done.
    """

    _RETRY_SECONDS = 0.02

    def __init__(self) -> None:
        self.count = 0
        self._previous: dict[int, Any] = {}

    def _on_interrupt(self, signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGINT:
            self.count += 1
        if _importing(frame):
            signal.setitimer(signal.ITIMER_REAL, self._RETRY_SECONDS)  # comes back as SIGALRM
            return
        raise KeyboardInterrupt

    def __enter__(self) -> _CountedInterrupts:
        # A command started with SIGINT ignored (`cmd &` in a script) keeps ignoring it.
        if (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is not signal.SIG_IGN
        ):
            for signum in (signal.SIGINT, signal.SIGALRM):
                self._previous[signum] = signal.signal(signum, self._on_interrupt)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._previous:
            signal.setitimer(signal.ITIMER_REAL, 0)
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)


def _importing(frame: FrameType | None) -> bool:
    """Whether ``frame`` runs inside an import (importlib's frozen bootstrap is on the stack)."""
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


def _run(argv: Sequence[str] | None) -> int:
    """Parse and run one command inside the error boundary."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(args.handler(args))
    except (StateLockTimeout, ExecutorUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_TEMPFAIL
    except AutopilotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
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
