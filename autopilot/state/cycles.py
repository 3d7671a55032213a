"""One state folder, one lock, one cycle id: how every part of a cycle commits together.

* **Created only when asked.** A state folder holds a manifest, ``autopilot_state.json``,
  written by ``autopilot init`` (:meth:`StateFolder.create`). A folder without state is an
  error for every command, reading or writing, and nothing is created in it; so a typo in
  ``--state-dir`` can never start a second, empty registry or book.
* **One lock per cycle.** ``state.lock`` in the folder is held for the whole cycle, across
  every state file the cycle changes (registry, portfolio, calibrator; next the model
  pointer and the engine state).
* **A cycle has an id and an as-of date.** Each part keeps a snapshot (a
  :class:`~autopilot.state.state_file.StateFile` whose ``generation`` is the id of the last
  cycle it reflects) and an append-only log of cycle records (a
  :class:`~autopilot.state.journal.Journal`). **The record is the commit point**: a cycle
  is committed once its line is complete in the log; the snapshot written after it is a
  cache. Loading is the last good snapshot (or its ``.bak``) plus the committed records
  after its generation, replayed (:class:`Ledger`), so neither a kill between the record and
  the snapshot nor a damaged snapshot rolls a committed cycle back: the next run completes
  it deterministically.
* **A retry spends nothing twice.** Running the as-of date of the last committed cycle
  again with the same inputs returns the committed result and writes nothing; other
  inputs for that date, or an earlier date, are refused with the dates named.
* **One environment per folder.** The environment of the first cycle is remembered;
  another one is refused unless the switch is explicit.
* **Reading never writes.** Readers take no lock, sweep nothing and move nothing aside
  (:meth:`~autopilot.state.state_file.StateFile.read`); a read-only folder works.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import filelock

from autopilot.errors import StateError
from autopilot.state.journal import Journal
from autopilot.state.state_file import BothUnusableError, StateFile, hold

__all__ = [
    "DEFAULT_INITIAL_CASH",
    "MANIFEST_NAME",
    "CycleId",
    "Ledger",
    "StateFolder",
    "inputs_digest",
    "is_repeat",
]

logger = logging.getLogger(__name__)

MANIFEST_NAME = "autopilot_state.json"
DEFAULT_INITIAL_CASH = 1_000_000.0
# Files of folders written before the manifest existed; such a folder holds state too.
_LEGACY_FILES = ("registry.json", "portfolio.json")


def inputs_digest(payload: Any) -> str:
    """A short digest of a cycle's inputs (canonical JSON), to recognise a retry."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class CycleId:
    """The identity of a committed cycle: its number, its as-of date, its inputs' digest."""

    cycle: int
    as_of: str | None
    inputs: str | None


def _validate_manifest(data: dict[str, Any]) -> None:
    environment = data["environment"]
    if environment is not None and not isinstance(environment, str):
        raise TypeError(f"environment is {environment!r}")
    cash = data["initial_cash"]
    if isinstance(cash, bool) or not isinstance(cash, int | float) or not cash > 0:
        raise ValueError(f"initial_cash is {cash!r}")


class StateFolder:
    """A state folder: its manifest and the one lock of its cycles.

    Parameters
    ----------
    path : path-like
        The folder.
    lock_timeout : float
        Seconds a cycle waits for another one to finish.
    """

    def __init__(self, path: str | os.PathLike[str], *, lock_timeout: float = 30.0) -> None:
        self.path = Path(path)
        self.lock_timeout = lock_timeout
        self.lock = filelock.FileLock(str(self.path / "state.lock"), timeout=lock_timeout)
        self.manifest = StateFile(
            self.path / MANIFEST_NAME,
            kind="state_folder",
            schema_version=1,
            default=lambda: {"environment": None, "initial_cash": DEFAULT_INITIAL_CASH},
            validate=_validate_manifest,
            lock=self.lock,
            lock_timeout=lock_timeout,
        )

    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        *,
        initial_cash: float | None = None,
        lock_timeout: float = 30.0,
    ) -> tuple[StateFolder, bool]:
        """Create the folder and its manifest; returns the folder and whether it is new.

        Creating a folder that already holds state changes nothing (so a scheduler may call
        it every time), except that a different ``initial_cash`` is refused.
        """
        if initial_cash is not None and (isinstance(initial_cash, bool) or not initial_cash > 0):
            raise StateError(f"initial cash must be a positive number, was {initial_cash!r}")
        folder = cls(path, lock_timeout=lock_timeout)
        folder.path.mkdir(parents=True, exist_ok=True)
        with folder.locked():
            manifest = folder.manifest.load()
            existed = folder.holds_state()
            if existed:
                kept = manifest["initial_cash"]
                if initial_cash is not None and float(initial_cash) != float(kept):
                    raise StateError(
                        f"{folder.path} already holds state with initial cash {kept:,.2f}; "
                        f"the initial cash of an existing book cannot change (it was given "
                        f"as {initial_cash:,.2f}). Use another --state-dir for a new book."
                    )
            if not folder.manifest.path.exists():
                cash = DEFAULT_INITIAL_CASH if initial_cash is None else float(initial_cash)
                folder.manifest.save({**manifest, "initial_cash": cash, "created": _now()})
        return folder, not existed

    def holds_state(self) -> bool:
        """True when the folder has a manifest (or state written before manifests existed)."""
        names = (MANIFEST_NAME, *_LEGACY_FILES)
        return any(
            (self.path / name).exists() or (self.path / f"{name}.bak").exists() for name in names
        )

    def require(self) -> None:
        """Refuse a folder that holds no state, without creating anything."""
        if self.holds_state():
            return
        what = "does not exist" if not self.path.exists() else "holds no autopilot state"
        raise StateError(
            f"{self.path}: the state folder {what}. Create it with `autopilot init "
            f"--state-dir {self.path}` (or pass --init to the command that writes the "
            f"first cycle); check --state-dir for a typo."
        )

    @contextmanager
    def locked(self) -> Iterator[StateFolder]:
        """Hold the folder's lock for a whole cycle (the folder must exist)."""
        with hold(self.lock, self.path, self.lock_timeout):
            yield self

    def settings(self) -> dict[str, Any]:
        """The manifest, read without writing."""
        return self.manifest.read()

    def check_environment(self, environment: str, *, switch: bool = False) -> bool:
        """Refuse an environment other than the folder's unless switching (under the lock).

        Parameters
        ----------
        environment : str
            The environment of the cycle about to run.
        switch : bool
            Accept an environment other than the remembered one.

        Returns
        -------
        bool
            True when the folder must remember ``environment``
            (:meth:`remember_environment`, just before the cycle commits).
        """
        known = self.manifest.load().get("environment")
        if known == environment:
            return False
        if known is not None and not switch:
            raise StateError(
                f"{self.path} holds the state of environment {known!r}, not "
                f"{environment!r}; pass --switch-environment to move this folder to "
                f"{environment!r}, or use another --state-dir"
            )
        return True

    def remember_environment(self, environment: str) -> None:
        """Save ``environment`` as the folder's (after :meth:`check_environment`)."""
        manifest = self.manifest.load()
        if manifest.get("environment") is not None:
            logger.warning(
                "state folder %s switched from environment %s to %s",
                self.path,
                manifest["environment"],
                environment,
            )
        self.manifest.save({**manifest, "environment": environment})


Replay = Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]


class Ledger:
    """A snapshot and its log of cycle records: committed cycles only, never rolled back.

    Parameters
    ----------
    snapshot : StateFile
        The state after the last cycle it reflects (``generation`` = that cycle's id).
    log : Journal
        One record per committed cycle, with at least ``cycle`` and ``as_of``.
    replay : callable
        ``replay(data, record) -> data``: the state after applying a committed record.
    """

    def __init__(self, snapshot: StateFile, log: Journal, replay: Replay) -> None:
        self.snapshot = snapshot
        self.log = log
        self.replay = replay

    def load(self, *, writer: bool) -> tuple[dict[str, Any], CycleId]:
        """The committed state and the identity of its last cycle.

        A writer (under the lock) loads with repair; a reader writes nothing.
        """
        try:
            data = self.snapshot.load() if writer else self.snapshot.read()
            records = self.log.committed_after(self.snapshot.generation)
        except BothUnusableError as exc:
            records = self.log.committed()
            if not records or records[0]["cycle"] != 1:
                raise  # the log does not go back to the start: nothing to rebuild from
            logger.error("%s; rebuilding it from the %d cycles of %s", exc, len(records), self.log.path)
            data = self.snapshot.start_over()
        cycle = self.snapshot.generation
        for record in records:
            logger.warning(
                "%s is at cycle %d; replaying committed cycle %d from %s",
                self.snapshot.path.name,
                cycle,
                record["cycle"],
                self.log.path.name,
            )
            data = self.replay(data, record)
            data["as_of"] = record.get("as_of")
            data["inputs"] = record.get("inputs")
            cycle = int(record["cycle"])
        return data, CycleId(cycle, data.get("as_of"), data.get("inputs"))

    def last_record(self, last: CycleId) -> dict[str, Any]:
        """The log record of cycle ``last`` (read from the end of the log)."""
        records = self.log.committed_after(last.cycle - 1) if last.cycle else []
        if not records:
            raise StateError(f"{self.log.path}: the record of cycle {last.cycle} is missing")
        return records[0]

    def commit(self, record: dict[str, Any], data: dict[str, Any]) -> None:
        """Append the cycle's record (the commit point), then save the snapshot."""
        self.log.append(record)
        self.snapshot.save(
            {**data, "as_of": record["as_of"], "inputs": record["inputs"]},
            generation=int(record["cycle"]),
        )


def is_repeat(last: CycleId, as_of: date, inputs: str, what: str) -> bool:
    """Whether a cycle as of ``as_of`` repeats the last committed one; refuse what cannot be.

    Returns True for a retry (same date, same inputs: nothing to do), False for a new cycle.

    Raises
    ------
    StateError
        ``as_of`` is earlier than the last committed cycle's, or equal with other inputs.
    """
    if last.as_of is None:
        return False
    asked = as_of.isoformat()
    if asked < last.as_of:
        raise StateError(
            f"{what}: as-of {asked} is earlier than the last committed cycle "
            f"{last.cycle} (as of {last.as_of}); cycles only move forward"
        )
    if asked > last.as_of:
        return False
    if inputs == last.inputs:
        return True
    raise StateError(
        f"{what}: cycle {last.cycle} as of {asked} is already committed with other inputs; "
        f"a committed cycle is never redone. Run the next as-of date instead."
    )


def _now() -> str:
    return datetime.now(UTC).isoformat()
