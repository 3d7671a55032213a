"""Versioned JSON state files: locked, atomically written, recovered from their backup.

A state file holds ``{"kind", "schema_version", "generation", "data"}``. Loading:

* no file and no backup: the caller's default (first run);
* a file that does not parse or fails its schema: logged as an error, moved aside as
  ``<name>.corrupt-<UTC timestamp>``, and the ``.bak`` is loaded instead;
* both unusable: :class:`StateError` naming both files and how to recover. It never
  silently starts from an empty state, which would drop every active strategy;
* a newer ``schema_version`` than this code knows: :class:`StateError` (upgrade first);
  the file is left untouched.

A whole read-modify-write runs under :meth:`StateFile.locked`, an inter-process lock (its
own ``<name>.lock``, or the lock of the state folder shared by every file of a cycle); a
timeout raises :class:`StateLockTimeout` before anything is written. :meth:`StateFile.save`
is refused unless :meth:`StateFile.load` ran under the same hold of the lock, so no write
can be based on a version another process has since replaced.

:meth:`StateFile.read` is for readers: no lock, no sweeping of temp files, nothing moved
aside. A corrupt file is reported and its backup read in memory; the files stay as they
are (a read-only folder works).
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import filelock

from autopilot._atomic_write import (
    atomic_json_write,
    backup_path,
    fsync_directory,
    sweep_temp_files,
)
from autopilot.errors import StateError, StateLockTimeout

__all__ = ["BothUnusableError", "StateFile", "current_hold", "hold"]

logger = logging.getLogger(__name__)

Validator = Callable[[dict[str, Any]], object]  # the return value is ignored


class _Unusable(Exception):
    """A state file that exists but cannot be used (reason in the message)."""


class BothUnusableError(StateError):
    """The file and its backup are both unusable (a caller with a full log can rebuild)."""


class StateFile:
    """One JSON state file with its backup, lock and schema.

    Parameters
    ----------
    path : path-like
        The state file; its folder is created when missing.
    kind : str
        What the file holds (``"registry"``, ``"portfolio"``); a file of another kind is
        refused as corrupt.
    schema_version : int
        The version this code writes and the newest it reads.
    default : callable
        Returns the data of a first run.
    validate : callable, optional
        Raises ``ValueError`` (or ``KeyError``/``TypeError``) when ``data`` has the wrong
        shape; such a file is treated as corrupt.
    lock_timeout : float
        Seconds to wait for the lock.
    lock : filelock.BaseFileLock, optional
        A lock shared with the other files of a cycle (the state folder's); by default the
        file has its own ``<name>.lock``.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        kind: str,
        schema_version: int,
        default: Callable[[], dict[str, Any]],
        validate: Validator | None = None,
        lock_timeout: float = 30.0,
        lock: filelock.BaseFileLock | None = None,
    ) -> None:
        self.path = Path(path)
        self.kind = kind
        self.schema_version = schema_version
        self.default = default
        self.validate = validate
        self.lock_timeout = lock_timeout
        self.generation = 0
        self._lock = lock or filelock.FileLock(str(self.path) + ".lock", is_singleton=True)
        self._loaded_in_hold: int | None = None  # the hold of the lock load() ran in

    @property
    def backup(self) -> Path:
        """The ``.bak`` file holding the previous version."""
        return backup_path(self.path)

    @contextmanager
    def locked(self) -> Iterator[StateFile]:
        """Hold the inter-process lock of this file for a whole read-modify-write."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with hold(self._lock, self.path, self.lock_timeout):
            yield self

    def load(self) -> dict[str, Any]:
        """Return the data, recovering from the backup when the file is corrupt.

        The writer's load: temp files of an interrupted write are swept and a corrupt file
        is moved aside. Readers use :meth:`read`.
        """
        data = self._load(repair=True)
        self._loaded_in_hold = current_hold(self._lock)
        return data

    def start_over(self) -> dict[str, Any]:
        """The default data at generation 0, for a caller that rebuilds the state itself.

        Used when the file and its backup are both unusable but a complete log of every
        cycle exists; a following :meth:`save` is allowed as after :meth:`load`.
        """
        self.generation = 0
        self._loaded_in_hold = current_hold(self._lock)
        return self.default()

    def read(self) -> dict[str, Any]:
        """Return the data like :meth:`load`, without writing anything or taking the lock."""
        return self._load(repair=False)

    def _load(self, *, repair: bool) -> dict[str, Any]:
        if repair:
            swept = sweep_temp_files(self.path)
            if swept:
                logger.warning(
                    "removed %d temporary file(s) left by an interrupted write of %s",
                    len(swept),
                    self.path,
                )
        if not self.path.exists() and not self.backup.exists():
            self.generation = 0
            return self.default()
        problem = None
        if self.path.exists():
            try:
                return self._accept(self.path, self._read(self.path))
            except _Unusable as exc:
                problem = str(exc)
                if repair:
                    moved = f"moved to {self._move_aside().name}"
                else:
                    moved = "left in place (reading only)"
                logger.error(
                    "%s is unusable (%s); %s, loading %s",
                    self.path,
                    problem,
                    moved,
                    self.backup.name,
                )
        else:
            logger.warning(
                "%s is missing but its backup exists; loading %s", self.path, self.backup.name
            )
        try:
            data = self._accept(self.backup, self._read(self.backup))
        except _Unusable as exc:
            main = f"{self.path} ({problem})" if problem else f"{self.path} (missing)"
            raise BothUnusableError(
                f"cannot load {self.kind} state: {main} and its backup {self.backup} ({exc}) "
                f"are both unusable. Restore a copy of {self.path.name} from elsewhere, or "
                f"repair one of the files (corrupt versions are kept as "
                f"{self.path.name}.corrupt-*); deleting both starts from an empty "
                f"{self.kind}, which drops everything it held."
            ) from None
        logger.warning(
            "recovered %s from %s (generation %d)", self.path, self.backup.name, self.generation
        )
        return data

    def save(self, data: dict[str, Any], generation: int | None = None) -> int:
        """Write ``data`` as the next (or the given) generation.

        Parameters
        ----------
        data : dict
            The new data (JSON-serialisable).
        generation : int, optional
            The generation to write (a ledger writes its cycle's number); by default one
            more than the generation loaded.

        Returns
        -------
        int
            The generation written.

        Raises
        ------
        StateError
            :meth:`load` did not run under the lock held now: the write could overwrite a
            version this process never saw.
        """
        if self._loaded_in_hold is None or self._loaded_in_hold != current_hold(self._lock):
            raise StateError(
                f"{self.path}: save() without load() under the same hold of the lock is "
                f"refused; run the whole read-modify-write under one hold of the lock "
                f"(`with state.locked():`, or the state folder's)"
            )
        generation = self.generation + 1 if generation is None else generation
        payload = {
            "kind": self.kind,
            "schema_version": self.schema_version,
            "generation": generation,
            "data": data,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Compact JSON keeps the C encoder (indent= falls back to pure Python, 4x slower).
        atomic_json_write(self.path, payload, separators=(",", ":"), sort_keys=True)
        self.generation = generation
        return generation

    def _read(self, path: Path) -> dict[str, Any]:
        try:
            text = path.read_bytes()
        except FileNotFoundError:
            raise _Unusable("missing") from None
        if not text.strip():
            raise _Unusable("empty file")
        try:
            payload = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise _Unusable(f"not valid JSON: {exc}") from None
        if not isinstance(payload, dict):
            raise _Unusable(f"top level is {type(payload).__name__}, not an object")
        missing = {"kind", "schema_version", "generation", "data"} - set(payload)
        if missing:
            raise _Unusable(f"missing field(s) {sorted(missing)}")
        return payload

    def _accept(self, path: Path, payload: dict[str, Any]) -> dict[str, Any]:
        version = payload["schema_version"]
        if not isinstance(version, int) or isinstance(version, bool):
            raise _Unusable(f"schema_version is {version!r}")
        if version > self.schema_version:
            raise StateError(
                f"{path}: written with {self.kind} schema version {version}, newer than "
                f"the {self.schema_version} this strategy-autopilot understands; upgrade "
                f"strategy-autopilot. The file was left untouched."
            )
        if payload["kind"] != self.kind:
            raise _Unusable(f"holds {payload['kind']!r} state, expected {self.kind!r}")
        generation = payload["generation"]
        if not isinstance(generation, int) or isinstance(generation, bool) or generation < 0:
            raise _Unusable(f"generation is {generation!r}")
        data = payload["data"]
        if not isinstance(data, dict):
            raise _Unusable(f"data is {type(data).__name__}, not an object")
        if self.validate is not None:
            try:
                self.validate(data)
            except (ValueError, KeyError, TypeError) as exc:
                raise _Unusable(f"wrong shape: {exc}") from None
        self.generation = generation
        return data

    def _move_aside(self) -> Path:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        os.replace(self.path, target)
        fsync_directory(self.path.parent)
        return target


# Each outermost acquisition of a lock object gets a new number, so a load and a save can
# be proven to run under the same hold (a release in between could let another writer in).
_holds: weakref.WeakKeyDictionary[filelock.BaseFileLock, int] = weakref.WeakKeyDictionary()
_hold_numbers = itertools.count(1)


def current_hold(lock: filelock.BaseFileLock) -> int | None:
    """The number of the hold of ``lock`` this process is in, or None when not held."""
    return _holds.get(lock) if lock.is_locked else None


@contextmanager
def hold(lock: filelock.BaseFileLock, what: Path, timeout: float) -> Iterator[None]:
    """Hold ``lock`` (re-entrant); a timeout becomes :class:`StateLockTimeout`.

    Parameters
    ----------
    lock : filelock.BaseFileLock
        The lock.
    what : Path
        The file or folder it protects, named in the error.
    timeout : float
        Seconds to wait.
    """
    try:
        lock.acquire(timeout=timeout)
    except filelock.Timeout:
        raise StateLockTimeout(
            f"{what}: another process holds {lock.lock_file} for more than {timeout:g} s; "
            f"nothing was written. Try again when it has finished, or check that no cycle "
            f"is stuck."
        ) from None
    if lock.lock_counter == 1:
        _holds[lock] = next(_hold_numbers)
    try:
        yield
    finally:
        lock.release()
