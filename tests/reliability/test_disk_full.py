"""A full disk for real: writes that the kernel refuses (seed T1).

A subprocess lowers ``RLIMIT_FSIZE`` (with ``SIGXFSZ`` ignored), so the kernel refuses to
grow any file past the limit: the first ``write`` crossing it is cut short, the next fails
with ``EFBIG`` (the per-process form of ``ENOSPC``). The payload is larger than the limit,
the existing state is smaller, so the new temp file cannot be completed.
"""

from __future__ import annotations

import errno
import json
import subprocess
import sys
from pathlib import Path

from autopilot._atomic_write import atomic_json_write, backup_path
from autopilot.state.journal import Journal
from autopilot.state.state_file import StateFile

WORKER = Path(__file__).with_name("state_worker.py")
LIMIT = 8192
SIZE = 64 * 1024
DISK_FULL = {errno.EFBIG, errno.ENOSPC}


def _run_disk_full(what: str, path: Path) -> dict:
    proc = subprocess.run(
        [sys.executable, str(WORKER), "disk-full", what, str(path), str(LIMIT), str(SIZE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr  # not killed by SIGXFSZ, no traceback
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _counter_state(path: Path) -> StateFile:
    return StateFile(path, kind="counter", schema_version=1, default=lambda: {"counter": 0})


def test_atomic_write_over_small_file_when_disk_full(tmp_path):
    target = tmp_path / "state.json"
    atomic_json_write(target, {"counter": 0})
    atomic_json_write(target, {"counter": 1})
    old = target.read_bytes()
    old_backup = backup_path(target).read_bytes()

    outcome = _run_disk_full("atomic", target)

    assert outcome["errno"] in DISK_FULL, outcome
    assert target.read_bytes() == old
    assert json.loads(old) == {"counter": 1}
    assert backup_path(target).read_bytes() == old_backup  # failed before the .bak step
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json", "state.json.bak"]


def test_statefile_save_when_disk_full_keeps_generation(tmp_path):
    path = tmp_path / "state.json"
    state = _counter_state(path)
    with state.locked():
        state.load()
        state.save({"counter": 0})
        state.save({"counter": 1})
    old = path.read_bytes()

    outcome = _run_disk_full("state", path)

    assert outcome["errno"] in DISK_FULL, outcome
    assert outcome["loaded_generation"] == 2
    assert path.read_bytes() == old
    reader = _counter_state(path)
    with reader.locked():
        assert reader.load() == {"counter": 1}
    assert reader.generation == 2
    assert not list(tmp_path.glob(".state.json*.tmp"))
    assert not list(tmp_path.glob("state.json.corrupt-*"))


def test_journal_append_when_disk_full_tears_only_the_last_line(tmp_path):
    """The kernel accepts the bytes up to the limit, so the record is torn on disk: the
    reader skips the fragment and the next append starts on a fresh line."""
    journal = Journal(tmp_path / "log.jsonl")
    journal.append({"seq": 1})

    outcome = _run_disk_full("journal", journal.path)

    assert outcome["errno"] in DISK_FULL, outcome
    raw = journal.path.read_bytes()
    assert len(raw) == LIMIT  # a partial record really reached the file
    assert not raw.endswith(b"\n")
    assert list(journal) == [{"seq": 1}]

    journal.append({"seq": 2})
    assert list(journal) == [{"seq": 1}, {"seq": 2}]
    lines = journal.path.read_bytes().split(b"\n")
    assert lines[-1] == b""
    assert json.loads(lines[-2]) == {"seq": 2}


def test_journal_append_to_dev_full_raises_enospc():
    """/dev/full answers every write with ENOSPC. atomic_write_bytes cannot target it (its
    temp files would be created in /dev, and a device cannot be replaced by a rename), so
    the Journal is the writer that can: the kernel's ENOSPC must reach the caller, never
    be swallowed. (The journal is not read back: reading /dev/full yields endless zeros.)"""
    dev_full = Path("/dev/full")
    assert dev_full.is_char_device()
    try:
        Journal(dev_full).append({"seq": 1})
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    else:
        raise AssertionError("appending to /dev/full did not raise")
