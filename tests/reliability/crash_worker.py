"""Crash-loop worker: ``python crash_worker.py STATE JOURNAL SEED`` (killed with SIGKILL).

Prints ``ready`` once imported, then loops forever: under the state lock it loads the
``counter`` state, writes the next counter with a random-length blob and a sha256 of both,
appends a journal record, and prints the counter it has committed (one per line, flushed),
so the parent knows the last value that was certainly written before the kill.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import sys
from typing import Any

MAX_BLOB = 64 * 1024


def checksum(counter: int, blob: str) -> str:
    """sha256 over the rest of the payload."""
    text = json.dumps({"blob": blob, "counter": counter}, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def validate(data: dict[str, Any]) -> None:
    """StateFile validator: a payload whose checksum does not match is corrupt."""
    counter = data["counter"]
    if not isinstance(counter, int) or isinstance(counter, bool):
        raise TypeError(f"counter is {counter!r}")
    if counter and data["check"] != checksum(counter, data["blob"]):
        raise ValueError(f"checksum mismatch at counter {counter}")


def make_state(path: str | os.PathLike[str]):
    """The counter state file shared by the worker and the test."""
    from autopilot.state.state_file import StateFile

    return StateFile(
        path, kind="counter", schema_version=1, default=lambda: {"counter": 0}, validate=validate
    )


def main(argv: list[str]) -> None:
    from autopilot.state.journal import Journal

    state_path, journal_path, seed = argv
    state = make_state(state_path)
    journal = Journal(journal_path)
    rng = random.Random(int(seed))
    print("ready", flush=True)
    while True:
        with state.locked():
            data = state.load()
            counter = data["counter"] + 1
            blob = rng.choice("abcdef") * rng.randrange(MAX_BLOB)
            generation = state.save(
                {"counter": counter, "blob": blob, "check": checksum(counter, blob)}
            )
            journal.append({"counter": counter, "generation": generation, "pid": os.getpid()})
        print(counter, flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
