"""A warm parent that forks one crash-loop child per request (used by the kill -9 tests).

Importing the project once and forking children avoids paying interpreter start-up for
every kill. Protocol on stdin/stdout: the parent prints ``ready``; each ``fork`` line makes
it fork a child running ``child()`` until it is killed, print the child's pid, wait for it
and print ``exit <status>``; ``quit`` ends it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path


def serve_forks(child: Callable[[], None], error_file: str) -> int:
    """Run the protocol above; a child that raises writes its traceback to ``error_file``."""
    print("ready", flush=True)
    for line in sys.stdin:
        command = line.strip()
        if command == "quit":
            return 0
        if command != "fork":
            print(f"unknown command {command!r}", file=sys.stderr, flush=True)
            return 2
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            try:
                child()
            except BaseException:
                with open(error_file, "a") as handle:
                    handle.write(traceback.format_exc())
                os._exit(3)
            os._exit(4)  # child() loops until killed
        print(pid, flush=True)
        _, status = os.waitpid(pid, 0)
        print(f"exit {status}", flush=True)
    return 0


class ForkServerProcess:
    """The test's side of the protocol: a fork server started from ``argv``, one kill a call.

    Parameters
    ----------
    argv : list of str
        The worker script and its arguments; the error file is appended as the last one.
    scratch : pathlib.Path
        Where the server's stderr (``server.log``) and the children's errors go.
    """

    def __init__(self, argv: list[str], scratch: Path) -> None:
        self.errors = scratch / "child_errors.txt"
        threads = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        with open(scratch / "server.log", "w") as log:
            self.process = subprocess.Popen(
                [sys.executable, *argv, str(self.errors)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                env={**os.environ, **threads},
            )
        assert self.process.stdout is not None and self.process.stdin is not None
        self.stdin, self.stdout = self.process.stdin, self.process.stdout
        assert self.stdout.readline().strip() == "ready"

    def run_child_for(self, seconds: float) -> int:
        """Fork a child, SIGKILL it after ``seconds``; its wait status (it may end first)."""
        self.stdin.write("fork\n")
        self.stdin.flush()
        pid = int(self.stdout.readline())
        time.sleep(seconds)
        with contextlib.suppress(ProcessLookupError):  # a child that ended says why below
            os.kill(pid, signal.SIGKILL)
        return int(self.stdout.readline().split()[1])

    def child_errors(self) -> str:
        """The tracebacks the children wrote, if any."""
        return self.errors.read_text() if self.errors.exists() else ""

    def close(self) -> None:
        """Ask the server to quit (kill it if it does not), and close its pipes."""
        try:
            if self.process.poll() is None:
                self.stdin.write("quit\n")
                self.stdin.flush()
                assert self.process.wait(timeout=60) == 0
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()
            self.stdin.close()
            self.stdout.close()
