"""A warm parent that forks one crash-loop child per request (used by the kill -9 tests).

Importing the project once and forking children avoids paying interpreter start-up for
every kill. Protocol on stdin/stdout: the parent prints ``ready``; each ``fork`` line makes
it fork a child running ``child()`` until it is killed, print the child's pid, wait for it
and print ``exit <status>``; ``quit`` ends it.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable


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
