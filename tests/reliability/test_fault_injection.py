"""I/O fault injection into the atomic write protocol (seed T1), SQLite-style.

Every operating-system call the write path makes is wrapped: ``tempfile.mkstemp``,
``os.open``, ``open``/``io.open``, the raw ``write`` of the temp file (``os.fdopen``
returns a real ``BufferedWriter`` over an instrumented ``FileIO``), ``os.fsync``,
``os.chmod``, ``os.link``, ``os.replace`` and ``os.close``. A clean save is traced first
to count the calls of each kind; then, for every kind and every N up to that count, the
Nth call raises ``OSError(EIO)`` and the outcome is checked against the clean trace:

* the error propagates;
* the target holds exactly the old or the new JSON document: the old one when the fault
  came before the ``os.replace`` of the temp onto the target, the new one after it;
* the folder holds nothing but the target and its ``.bak`` (no ``.<name>.*.tmp``);
* no ``os.replace`` follows a failed ``fsync`` (a failed fsync is never followed by a rename);
* no file descriptor leaks.

The raw writer also performs short writes (at most 4 KiB per call, which POSIX allows), so
the payload needs several ``write`` calls and faults land in the middle of the data.
"""

from __future__ import annotations

import builtins
import errno
import io
import json
import os
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from autopilot._atomic_write import atomic_json_write, backup_path
from autopilot.state.state_file import StateFile

CHUNK = 4096  # the instrumented raw writer accepts at most this many bytes per call

OLDER = {"version": "older", "blob": "a" * 100}
OLD = {"version": "old", "blob": "o" * 3000}
NEW = {"version": "new", "blob": "n" * 20000}  # > 8 KiB: several raw writes, buffer bypassed

KINDS = (
    "mkstemp",
    "os.open",
    "open",
    "write",
    "fsync",
    "chmod",
    "link",
    "replace",
    "close",
)


@dataclass
class Event:
    kind: str
    detail: Any
    failed: bool


def _fd_path(fd: int) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return f"fd:{fd}"


@dataclass
class Injector:
    """Counts the calls of each kind while armed; makes the Nth call of one kind fail."""

    fail_kind: str | None = None
    fail_at: int = 0
    fail_errno: int = errno.EIO
    always_fail: dict[str, int] = field(default_factory=dict)  # kind -> errno, every call
    counts: Counter = field(default_factory=Counter)
    events: list[Event] = field(default_factory=list)
    armed: bool = False

    def hit(self, kind: str, detail: Any) -> None:
        """Record one call; raise the injected error when it is the one to fail."""
        if not self.armed:
            return
        self.counts[kind] += 1
        code = None
        if kind in self.always_fail:
            code = self.always_fail[kind]
        elif kind == self.fail_kind and self.counts[kind] == self.fail_at:
            code = self.fail_errno
        self.events.append(Event(kind, detail, code is not None))
        if code is not None:
            raise OSError(
                code, f"injected {errno.errorcode[code]} into {kind} #{self.counts[kind]}"
            )

    def kinds(self) -> list[str]:
        return [event.kind for event in self.events]

    @contextmanager
    def installed(self) -> Iterator[Injector]:
        """Wrap the os/tempfile/io functions for the duration of the block (armed)."""
        real = {
            "mkstemp": tempfile.mkstemp,
            "os.open": os.open,
            "builtins.open": builtins.open,
            "io.open": io.open,
            "fdopen": os.fdopen,
            "fsync": os.fsync,
            "chmod": os.chmod,
            "link": os.link,
            "replace": os.replace,
            "close": os.close,
        }
        injector = self

        class InstrumentedFileIO(io.FileIO):
            def write(self, b):  # type: ignore[override]
                injector.hit("write", (_fd_path(self.fileno()), len(b)))
                return super().write(memoryview(b)[:CHUNK])

        def mkstemp(*args, **kwargs):
            injector.hit("mkstemp", kwargs.get("dir"))
            return real["mkstemp"](*args, **kwargs)

        def os_open(path, flags, *args, **kwargs):
            injector.hit("os.open", os.fspath(path))
            return real["os.open"](path, flags, *args, **kwargs)

        def make_open(name):
            def opener(file, *args, **kwargs):
                injector.hit("open", file if isinstance(file, int) else os.fspath(file))
                return real[name](file, *args, **kwargs)

            return opener

        def fdopen(fd, mode="r", buffering=-1, *args, **kwargs):
            if not injector.armed or mode != "wb" or buffering != -1 or args or kwargs:
                return real["fdopen"](fd, mode, buffering, *args, **kwargs)
            return io.BufferedWriter(InstrumentedFileIO(fd, "wb"))

        def fsync(fd):
            fd = fd if isinstance(fd, int) else fd.fileno()
            injector.hit("fsync", _fd_path(fd))
            return real["fsync"](fd)

        def chmod(path, mode, *args, **kwargs):
            injector.hit("chmod", os.fspath(path))
            return real["chmod"](path, mode, *args, **kwargs)

        def link(src, dst, *args, **kwargs):
            injector.hit("link", (os.fspath(src), os.fspath(dst)))
            return real["link"](src, dst, *args, **kwargs)

        def replace(src, dst, *args, **kwargs):
            injector.hit("replace", (os.fspath(src), os.fspath(dst)))
            return real["replace"](src, dst, *args, **kwargs)

        def close(fd):
            try:
                injector.hit("close", _fd_path(fd))
            except OSError:
                real["close"](fd)  # like Linux: the descriptor is released even on EIO
                raise
            return real["close"](fd)

        tempfile.mkstemp = mkstemp
        os.open = os_open
        builtins.open = make_open("builtins.open")
        io.open = make_open("io.open")
        os.fdopen = fdopen
        os.fsync = fsync
        os.chmod = chmod
        os.link = link
        os.replace = replace
        os.close = close
        self.armed = True
        try:
            yield self
        finally:
            self.armed = False
            tempfile.mkstemp = real["mkstemp"]
            os.open = real["os.open"]
            builtins.open = real["builtins.open"]
            io.open = real["io.open"]
            os.fdopen = real["fdopen"]
            os.fsync = real["fsync"]
            os.chmod = real["chmod"]
            os.link = real["link"]
            os.replace = real["replace"]
            os.close = real["close"]


# --------------------------------------------------------------------------- helpers


def _prepare(folder: Path) -> Path:
    """A target holding OLD whose .bak holds OLDER (a save replaces both)."""
    target = folder / "state.json"
    atomic_json_write(target, OLDER)
    atomic_json_write(target, OLD)
    assert json.loads(backup_path(target).read_text()) == OLDER
    return target


def _open_fds() -> set[int]:
    return {int(name) for name in os.listdir("/proc/self/fd")}


def _final_replace_index(events: list[Event], target: Path) -> int:
    """Index of the os.replace of the temp onto a file named like ``target``."""
    hits = [
        i
        for i, event in enumerate(events)
        if event.kind == "replace" and Path(event.detail[1]).name == target.name
    ]
    assert len(hits) == 1, hits
    return hits[0]


def _nth_index(events: list[Event], kind: str, n: int) -> int:
    return [i for i, event in enumerate(events) if event.kind == kind][n - 1]


def _trace_clean_save(always_fail: dict[str, int] | None = None) -> list[Event]:
    with tempfile.TemporaryDirectory() as folder:
        target = _prepare(Path(folder))
        injector = Injector(always_fail=always_fail or {})
        with injector.installed():
            atomic_json_write(target, NEW)
        assert json.loads(target.read_text()) == NEW
        return injector.events


def _cases(events: list[Event]) -> list[tuple[str, int]]:
    counts = Counter(event.kind for event in events if not event.failed)
    return [(kind, n) for kind in KINDS for n in range(1, counts[kind] + 1)]


CLEAN = _trace_clean_save()
CASES = _cases(CLEAN)
NO_LINK = {"link": errno.EPERM}  # a filesystem without hard links: the copy fallback
CLEAN_NO_LINK = _trace_clean_save(NO_LINK)
CASES_NO_LINK = _cases(CLEAN_NO_LINK)


def _check_faulty_save(
    tmp_path: Path, kind: str, n: int, clean: list[Event], always_fail: dict[str, int]
) -> None:
    target = _prepare(tmp_path)
    fds_before = _open_fds()
    injector = Injector(fail_kind=kind, fail_at=n, always_fail=always_fail)
    with injector.installed(), pytest.raises(OSError) as raised:
        atomic_json_write(target, NEW)
    assert raised.value.errno == errno.EIO
    assert f"#{n}" in str(raised.value)  # it is our injected error that propagated

    # The faulty run followed the clean run's path up to the fault (same call sequence).
    fault_index = _nth_index(clean, kind, n)
    assert injector.kinds()[: fault_index + 1] == [e.kind for e in clean[: fault_index + 1]]
    assert injector.events[fault_index].failed

    # Old or new content, decided by where the fault came relative to the final replace.
    expected = NEW if fault_index > _final_replace_index(clean, target) else OLD
    assert json.loads(target.read_text()) == expected
    backup = json.loads(backup_path(target).read_text())
    if expected is NEW:
        assert backup == OLD
    else:
        assert backup in (OLDER, OLD)

    # No temporary file: the folder holds exactly the target and its backup.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json", "state.json.bak"]
    assert not list(tmp_path.glob(".state.json.*.tmp"))

    # A failed fsync is never followed by a rename.
    for i, event in enumerate(injector.events):
        if event.kind == "fsync" and event.failed:
            later = [e for e in injector.events[i + 1 :] if e.kind == "replace"]
            assert not [e for e in later if e.detail[0] == event.detail], later
            assert not [e for e in later if e.detail[1] == str(target)], later

    assert _open_fds() - fds_before == set()


# --------------------------------------------------------------------------- tests


def test_clean_save_call_counts_and_order(tmp_path):
    """The protocol of T1, as seen from the system calls of one save over an existing file."""
    counts = Counter(e.kind for e in CLEAN)
    assert counts["write"] >= len(json.dumps(NEW)) // CHUNK  # short writes, several calls
    assert {k: counts[k] for k in KINDS if k != "write"} == {
        "mkstemp": 1,
        "os.open": 2,  # the temp (inside mkstemp) and the folder
        "open": 0,
        "fsync": 2,  # the temp's data, then the folder
        "chmod": 1,
        "link": 1,
        "replace": 2,  # the .bak, then the target
        "close": 1,  # the folder descriptor
    }
    kinds = [e.kind for e in CLEAN]
    last_write = max(i for i, k in enumerate(kinds) if k == "write")
    first_fsync = kinds.index("fsync")
    replaces = [i for i, k in enumerate(kinds) if k == "replace"]
    dir_fsync = max(i for i, k in enumerate(kinds) if k == "fsync")
    assert last_write < first_fsync < kinds.index("chmod") < kinds.index("link")
    assert kinds.index("link") < replaces[0] < replaces[1] < dir_fsync
    assert CLEAN[replaces[0]].detail[1].endswith("state.json.bak")
    assert CLEAN[replaces[1]].detail[1].endswith("state.json")
    # The data fsync is of the very temp that is later renamed onto the target.
    assert CLEAN[first_fsync].detail == CLEAN[replaces[1]].detail[0]
    assert CLEAN[dir_fsync].detail == str(Path(CLEAN[replaces[1]].detail[1]).parent)


@pytest.mark.parametrize(("kind", "n"), CASES, ids=[f"{k}-{n}" for k, n in CASES])
def test_fault_in_atomic_json_write(tmp_path, kind, n):
    _check_faulty_save(tmp_path, kind, n, CLEAN, {})


@pytest.mark.parametrize(
    ("kind", "n"),
    CASES_NO_LINK,
    ids=[f"{k}-{n}" for k, n in CASES_NO_LINK],
)
def test_fault_without_hard_links(tmp_path, kind, n):
    """The same checks on a filesystem where os.link always fails (the copy fallback)."""
    _check_faulty_save(tmp_path, kind, n, CLEAN_NO_LINK, NO_LINK)


def test_folder_fsync_failure_after_replace_keeps_new_content(tmp_path):
    """Expected behaviour: the rename has happened, so the new content is in place (and
    the .bak holds the old); the error still propagates because durability of the rename
    could not be confirmed, and the caller must not report the save as durable."""
    target = _prepare(tmp_path)
    fsyncs = [i for i, e in enumerate(CLEAN) if e.kind == "fsync"]
    injector = Injector(fail_kind="fsync", fail_at=len(fsyncs))
    with injector.installed(), pytest.raises(OSError) as raised:
        atomic_json_write(target, NEW)
    assert raised.value.errno == errno.EIO
    failed = [e for e in injector.events if e.failed]
    assert [e.detail for e in failed] == [str(tmp_path)]  # it was the folder's fsync
    assert json.loads(target.read_text()) == NEW
    assert json.loads(backup_path(target).read_text()) == OLD
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json", "state.json.bak"]


def test_write_faults_with_enospc_keep_old_content(tmp_path):
    """ENOSPC in the middle of the data (after some bytes reached the temp file)."""
    writes = sum(e.kind == "write" for e in CLEAN)
    for n in range(2, writes + 1):
        folder = tmp_path / f"case{n}"
        folder.mkdir()
        target = _prepare(folder)
        injector = Injector(fail_kind="write", fail_at=n, fail_errno=errno.ENOSPC)
        with injector.installed(), pytest.raises(OSError) as raised:
            atomic_json_write(target, NEW)
        assert raised.value.errno == errno.ENOSPC
        assert json.loads(target.read_text()) == OLD
        assert sorted(p.name for p in folder.iterdir()) == ["state.json", "state.json.bak"]


# --------------------------------------------------------------------------- StateFile


def _state(path: Path) -> StateFile:
    return StateFile(path, kind="counter", schema_version=1, default=lambda: {"n": 0})


def _trace_clean_state_save() -> list[Event]:
    with tempfile.TemporaryDirectory() as folder:
        state = _state(Path(folder) / "state.json")
        with state.locked():
            state.load()
            state.save(OLDER)
            state.save(OLD)
            injector = Injector()
            with injector.installed():
                state.save(NEW)
        return injector.events


CLEAN_STATE = _trace_clean_state_save()
CASES_STATE = _cases(CLEAN_STATE)


@pytest.mark.parametrize(("kind", "n"), CASES_STATE, ids=[f"{k}-{n}" for k, n in CASES_STATE])
def test_statefile_save_fault_leaves_previous_generation_loadable(tmp_path, kind, n):
    path = tmp_path / "state.json"
    writer = _state(path)
    injector = Injector(fail_kind=kind, fail_at=n)
    with writer.locked():
        writer.load()
        assert writer.save(OLDER) == 1
        assert writer.save(OLD) == 2
        with injector.installed(), pytest.raises(OSError) as raised:
            writer.save(NEW)
    assert raised.value.errno == errno.EIO
    assert writer.generation == 2  # a failed save does not advance the generation

    replaced = _nth_index(CLEAN_STATE, kind, n) > _final_replace_index(CLEAN_STATE, path)
    reader = _state(path)
    with reader.locked():
        data = reader.load()
    if replaced:
        assert (data, reader.generation) == (NEW, 3)
    else:
        assert (data, reader.generation) == (OLD, 2)
    assert not list(tmp_path.glob("state.json.corrupt-*"))  # no recovery was needed
    assert not list(tmp_path.glob(".state.json*.tmp"))

    # The writer can simply retry once the fault is gone.
    with writer.locked():
        writer.load()
        generation = writer.save(NEW)
    assert generation == (4 if replaced else 3)
    check = _state(path)
    assert check.load() == NEW
    assert check.generation == generation
