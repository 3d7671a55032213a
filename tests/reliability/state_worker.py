"""Worker processes for the reliability tests (run as ``python state_worker.py MODE ...``).

Modes
-----
increment PATH CYCLES [START_AT]
    CYCLES read-modify-write cycles under ``StateFile.locked()``, starting at the epoch
    time START_AT (so that several workers really contend); prints each counter value it
    wrote, one per line.
hold-lock PATH
    Acquire the lock, print ``locked``, then sleep until killed.
disk-full WHAT PATH LIMIT SIZE
    Ignore SIGXFSZ, set RLIMIT_FSIZE to LIMIT bytes and write a SIZE-byte payload to PATH
    with WHAT in {atomic, state, journal}; prints a JSON line with the outcome.
"""

from __future__ import annotations

import json
import resource
import signal
import sys
import time

from autopilot._atomic_write import atomic_json_write
from autopilot.state.journal import Journal
from autopilot.state.state_file import StateFile


def counter_state(path: str) -> StateFile:
    """The state file every worker and test uses: ``{"counter": int}``."""

    def validate(data: dict) -> None:
        if not isinstance(data["counter"], int):
            raise TypeError("counter must be an int")

    return StateFile(
        path, kind="counter", schema_version=1, default=lambda: {"counter": 0}, validate=validate
    )


def increment(path: str, cycles: int, start_at: float = 0.0) -> None:
    state = counter_state(path)
    time.sleep(max(0.0, start_at - time.time()))
    for _ in range(cycles):
        with state.locked():
            data = state.load()
            data["counter"] += 1
            data["writer"] = str(sys.argv)
            state.save(data)
        print(data["counter"], flush=True)
        time.sleep(0.010)


def hold_lock(path: str) -> None:
    state = counter_state(path)
    with state.locked():
        print("locked", flush=True)
        while True:
            time.sleep(60)


def disk_full(what: str, path: str, limit: int, size: int) -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
    payload = {"counter": 2, "blob": "z" * size}
    outcome: dict = {"errno": None}
    try:
        if what == "atomic":
            atomic_json_write(path, payload)
        elif what == "state":
            state = counter_state(path)
            with state.locked():
                state.load()
                outcome["loaded_generation"] = state.generation
                state.save(payload)
        elif what == "journal":
            Journal(path).append(payload)
        else:
            raise SystemExit(f"unknown target {what!r}")
    except OSError as exc:
        outcome["errno"] = exc.errno
        outcome["error"] = str(exc)
    print(json.dumps(outcome), flush=True)


def main(argv: list[str]) -> None:
    mode, *args = argv
    if mode == "increment":
        increment(args[0], int(args[1]), float(args[2]) if len(args) > 2 else 0.0)
    elif mode == "hold-lock":
        hold_lock(args[0])
    elif mode == "disk-full":
        disk_full(args[0], args[1], int(args[2]), int(args[3]))
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
