"""Concurrent cycles are serialised by the state lock (seed T1).

Four real processes run 50 read-modify-write cycles each on one StateFile: no update may
be lost. A held lock makes another writer time out with StateLockTimeout before it writes
anything.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autopilot.errors import StateLockTimeout
from autopilot.state.state_file import StateFile

WORKER = Path(__file__).with_name("state_worker.py")
PROCESSES = 4
CYCLES = 50


def _counter_state(path: Path, **kwargs) -> StateFile:
    return StateFile(
        path, kind="counter", schema_version=1, default=lambda: {"counter": 0}, **kwargs
    )


def test_four_processes_increment_without_lost_updates(tmp_path):
    path = tmp_path / "state.json"
    start_at = time.time() + 1.0  # all four are imported and waiting by then
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), "increment", str(path), str(CYCLES), str(start_at)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(PROCESSES)
    ]
    written: list[int] = []
    interleaved = 0
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        values = [int(line) for line in out.split()]
        assert len(values) == CYCLES
        assert values == sorted(values)  # each process sees the counter only grow
        written.extend(values)
        interleaved += values != list(range(values[0], values[0] + CYCLES))

    # Every increment is a distinct value: no two cycles read the same generation.
    assert sorted(written) == list(range(1, PROCESSES * CYCLES + 1))
    assert interleaved >= 2  # the processes really alternated on the lock

    payload = json.loads(path.read_bytes())
    assert payload["generation"] == PROCESSES * CYCLES
    assert payload["data"]["counter"] == PROCESSES * CYCLES
    backup = json.loads((tmp_path / "state.json.bak").read_bytes())
    assert backup["generation"] == PROCESSES * CYCLES - 1
    assert backup["data"]["counter"] == PROCESSES * CYCLES - 1

    state = _counter_state(path)
    assert state.load()["counter"] == PROCESSES * CYCLES
    assert state.generation == PROCESSES * CYCLES
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "state.json",
        "state.json.bak",
        "state.json.lock",
    ]


def test_lock_timeout_writes_nothing(tmp_path):
    path = tmp_path / "state.json"
    writer = _counter_state(path)
    with writer.locked():
        writer.load()
        writer.save({"counter": 1})
        writer.save({"counter": 2})
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in tmp_path.iterdir()}
    before.pop("state.json.lock")  # the writer's; locking touches it, which writes nothing

    holder = subprocess.Popen(
        [sys.executable, str(WORKER), "hold-lock", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline() == "locked\n", holder.stderr.read()
        contender = _counter_state(path, lock_timeout=0.2)
        started = time.monotonic()
        with pytest.raises(StateLockTimeout) as raised, contender.locked():
            contender.load()
            contender.save({"counter": 99})
        waited = time.monotonic() - started
        assert 0.2 <= waited < 5.0
        assert str(path) in str(raised.value)
        assert "nothing was written" in str(raised.value)
        after = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in tmp_path.iterdir()}
        assert after.pop("state.json.lock")[0] == b""  # the holder's (empty) lock file
        assert after == before  # same files, same bytes, same modification times
        assert contender.generation == 0  # never loaded, never saved
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        holder.stdout.close()
        holder.stderr.close()

    # The kernel drops the dead holder's lock: the next cycle gets it at once.
    contender = _counter_state(path, lock_timeout=5.0)
    with contender.locked():
        assert contender.load() == {"counter": 2}
        assert contender.save({"counter": 3}) == 3
    assert json.loads(path.read_bytes())["data"] == {"counter": 3}
    assert os.path.exists(str(path) + ".bak")
