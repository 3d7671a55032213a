"""One state folder, one lock, one cycle identity: how every part of a cycle commits.

* **Created only when asked.** A state folder holds a manifest, ``autopilot_state.json``,
  written by ``autopilot init`` (:meth:`StateFolder.create`). A folder without state is an
  error for every command, reading or writing, and nothing is created in it; so a typo in
  ``--state-dir`` can never start a second, empty registry or book.
* **One lock per cycle.** ``state.lock`` in the folder is held for the whole cycle, across
  every state file the cycle changes (registry, portfolio, calibrator; next the model
  pointer and the engine state). It is one lock object per folder and process, re-entrant,
  so a caller that holds it can run every part of a cycle inside.
* **A cycle is identified by its as-of date.** Each part keeps a snapshot (a
  :class:`~autopilot.state.state_file.StateFile` whose ``generation`` numbers the part's
  last committed cycle) and an append-only log of cycle records (a
  :class:`~autopilot.state.journal.Journal`). **The record is the commit point**: a part's
  cycle is committed once its line is complete in the log; the snapshot written after it is
  a cache. Loading is the last good snapshot (or its ``.bak``; or, with both unusable, a
  log that holds every cycle from the first) plus the committed records after it, replayed
  (:class:`Ledger`), so neither a kill between the record and the snapshot nor a damaged
  snapshot rolls a committed cycle back.
* **A retry spends nothing twice.** The as-of date of a part's last committed cycle again,
  with the same inputs, returns the committed result and writes nothing; other inputs for
  that date, or an earlier date, are refused with the dates named. So a cycle that spans
  several parts (registry, then paper book) and was killed between two of them is
  completed by running its date again: the parts already committed repeat, the others run.
* **One environment per folder.** A part records the environment of each cycle; another
  one is refused unless the switch is explicit.
* **Reading never writes.** Readers take no lock, sweep nothing and move nothing aside
  (:meth:`~autopilot.state.state_file.StateFile.read`); a read-only folder works.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
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
    "committed_in_this_process",
    "inputs_digest",
    "is_repeat",
]

logger = logging.getLogger(__name__)

MANIFEST_NAME = "autopilot_state.json"
DEFAULT_INITIAL_CASH = 1_000_000.0
# Files of folders written before the manifest existed; such a folder holds state too.
_LEGACY_FILES = ("registry.json", "portfolio.json")


def inputs_digest(payload: Any) -> str:
    """A short digest of a cycle's inputs, to recognise a retry.

    Parameters
    ----------
    payload : JSON-serialisable
        Everything the cycle's result depends on (inputs and settings).

    Returns
    -------
    str
        16 hex digits of the SHA-256 of its canonical JSON.
    """
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


# What a snapshot keeps of the last cycle it reflects, copied from that cycle's record.
_IDENTITY = ("as_of", "inputs", "environment")
# Every cycle this process committed, so an interrupted command can say what it wrote.
_COMMITTED: list[str] = []


def committed_in_this_process() -> tuple[str, ...]:
    """The cycles this process committed, oldest first (``"<subject>: cycle N as of D"``)."""
    return tuple(_COMMITTED)


@dataclass(frozen=True)
class CycleId:
    """The identity of a part's last committed cycle.

    Attributes
    ----------
    cycle : int
        Its number in the part's log (0: none yet).
    as_of : str or None
        Its as-of date (ISO); None before the first cycle or in logs from before as-of dates.
    inputs : str or None
        The digest of its inputs (:func:`inputs_digest`), to recognise a retry.
    environment : str or None
        The environment it ran in.
    """

    cycle: int
    as_of: str | None
    inputs: str | None
    environment: str | None = None


def _validate_manifest(data: dict[str, Any]) -> None:
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
        # One re-entrant lock object per file and process: every part of a cycle shares it.
        self.lock = filelock.FileLock(str(self.path / "state.lock"), is_singleton=True)
        self.manifest = StateFile(
            self.path / MANIFEST_NAME,
            kind="state_folder",
            schema_version=1,
            default=lambda: {"initial_cash": DEFAULT_INITIAL_CASH},
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
        """Create the folder and its manifest, or check an existing one.

        Creating a folder that already holds state changes nothing (so a scheduler may call
        it every time), except that a damaged manifest is written back from its backup.

        Parameters
        ----------
        path : path-like
            The folder; its parents are created.
        initial_cash : float, optional
            Cash of the paper book (default 1,000,000). For an existing folder it must
            match the folder's.
        lock_timeout : float
            Seconds to wait for a cycle in progress.

        Returns
        -------
        (StateFolder, bool)
            The folder, and whether it was created now.

        Raises
        ------
        StateError
            ``initial_cash`` is not a positive number, or differs from the folder's.
        """
        if initial_cash is not None and (
            isinstance(initial_cash, bool) or not math.isfinite(initial_cash) or initial_cash <= 0
        ):
            raise StateError(f"initial cash must be a positive number, was {initial_cash!r}")
        folder = cls(path, lock_timeout=lock_timeout)
        folder.path.mkdir(parents=True, exist_ok=True)
        with folder.locked():
            existed = folder.holds_state()
            manifest = folder.manifest.load()
            if folder.manifest.generation:  # the folder's own cash is known
                folder.check_initial_cash(initial_cash, manifest)
            elif initial_cash is not None:  # new, or written before manifests existed
                manifest["initial_cash"] = float(initial_cash)
            if not folder.manifest.path.exists():
                folder.manifest.save({**manifest, "created": manifest.get("created", _now())})
        return folder, not existed

    def check_initial_cash(
        self, initial_cash: float | None, manifest: dict[str, Any] | None = None
    ) -> None:
        """Refuse an initial cash other than the folder's (None checks nothing)."""
        if initial_cash is None:
            return
        kept = float((manifest or self.settings())["initial_cash"])
        if float(initial_cash) != kept:
            raise StateError(
                f"{self.path}: the book was created with initial cash {kept:,.2f}; it cannot "
                f"be given again as {initial_cash!r}. Leave the initial cash out, or use "
                f"another --state-dir for a new book."
            )

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


Replay = Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]


class Ledger:
    """A snapshot and its log of cycle records: committed cycles only, never rolled back.

    Parameters
    ----------
    snapshot : StateFile
        The state after the last cycle it reflects (``generation`` = that cycle's number).
    log : Journal
        One record per committed cycle, with at least ``cycle``, ``as_of`` and ``inputs``.
    replay : callable
        ``replay(data, record) -> data``: the state after a committed record, computed by the
        same code a live cycle runs, so a replayed state equals the uninterrupted one.
    subject : str
        What the ledger holds, for messages (``"registry state"``).
    """

    def __init__(self, snapshot: StateFile, log: Journal, replay: Replay, subject: str) -> None:
        self.snapshot = snapshot
        self.log = log
        self.replay = replay
        self.subject = subject
        self._behind = False  # the last writer load replayed records past the snapshot

    def load(self, *, writer: bool) -> tuple[dict[str, Any], CycleId]:
        """The committed state and the identity of its last cycle.

        Parameters
        ----------
        writer : bool
            A writer (under the lock) loads with repair: temp files swept, a corrupt
            snapshot moved aside. A reader writes nothing.

        Returns
        -------
        (dict, CycleId)
            The state's data and its last committed cycle.

        Raises
        ------
        StateError
            The snapshot and its backup are unusable and the log does not hold every cycle
            from the first; or a record is missing from the log.
        """
        try:
            data = self.snapshot.load() if writer else self.snapshot.read()
            records = self.log.committed_after(self.snapshot.generation)
        except BothUnusableError as exc:
            try:
                records = self.log.committed_after(0)  # every cycle from the first, or raises
            except StateError:
                records = []
            if not records:
                raise  # the log does not hold every cycle: nothing to rebuild from
            logger.error(
                "%s; rebuilding it from the %d cycles of %s", exc, len(records), self.log.path
            )
            data = self.snapshot.start_over()
        if records and "as_of" not in records[-1]:
            # Written before records were commit points: a record past the snapshot was a
            # cycle whose save never happened, and the version that wrote it re-ran it.
            logger.warning(
                "%s: cycle %d was never saved by the version that wrote it; it will be run again",
                self.log.path,
                records[-1]["cycle"],
            )
            records = records[:-1]
        cycle = self.snapshot.generation
        for record in records:
            logger.warning(
                "%s is at cycle %d; replaying committed cycle %d from %s",
                self.snapshot.path.name,
                cycle,
                record["cycle"],
                self.log.path.name,
            )
            try:
                data = self.replay(data, record)
            except (KeyError, TypeError, ValueError) as exc:
                raise StateError(
                    f"{self.log.path}: the record of cycle {record['cycle']} cannot be "
                    f"replayed ({type(exc).__name__}: {exc}); restore the log from a copy"
                ) from exc
            data.update({key: record.get(key) for key in _IDENTITY})
            cycle = int(record["cycle"])
        if cycle and "environment" not in data:
            # A snapshot from before environments were kept there: its cycle's record says.
            data["environment"] = self.log.committed_after(cycle - 1)[0].get("environment")
        self._behind = bool(writer and records)
        return data, CycleId(cycle, *(data.get(key) for key in _IDENTITY))

    def open_cycle(
        self,
        as_of: date,
        inputs: str,
        *,
        environment: str | None = None,
        switch_environment: bool = False,
    ) -> tuple[dict[str, Any], CycleId, dict[str, Any] | None]:
        """Load for a new cycle as of ``as_of`` (call under the lock).

        Parameters
        ----------
        as_of : datetime.date
            The cycle's date.
        inputs : str
            The digest of its inputs (:func:`inputs_digest`).
        environment : str, optional
            The cycle's environment; another than the last cycle's is refused unless
            ``switch_environment``.
        switch_environment : bool
            Accept a change of environment.

        Returns
        -------
        (dict, CycleId, dict or None)
            The committed state, its last cycle, and that cycle's record when this is a
            retry of it (same date, same inputs: nothing to do), else None.

        Raises
        ------
        StateError
            Another environment without ``switch_environment``; ``as_of`` after tomorrow,
            earlier than the last committed cycle's, or equal with other inputs (see
            :func:`is_repeat`).
        """
        data, last = self.load(writer=True)
        known = last.environment
        if environment is not None and known is not None and known != environment:
            if not switch_environment:
                raise StateError(
                    f"{self.subject} holds cycles of environment {known!r}, not "
                    f"{environment!r}; pass --switch-environment to move it to "
                    f"{environment!r}, or use another --state-dir"
                )
            logger.warning(
                "%s switches from environment %s to %s", self.subject, known, environment
            )
        # A date in the future would block every real date after it (cycles only move
        # forward); a day of slack covers the time zones.
        latest = date.today() + timedelta(days=1)
        if as_of > latest:
            raise StateError(
                f"{self.subject}: as-of {as_of} is after today ({date.today()}); a cycle's "
                f"date is the date of the data it decides on. Check the date for a typo."
            )
        repeat = is_repeat(last, as_of, inputs, self.subject)
        if self._behind:
            # Mend the cache, now that the cycle is accepted: the snapshot a kill left
            # behind its log is saved as replayed, as an uninterrupted run leaves it.
            self.snapshot.save(data, generation=last.cycle)
            self._behind = False
        if not repeat:
            return data, last, None
        records = self.log.committed_after(last.cycle - 1)
        if not records:
            raise StateError(f"{self.log.path}: the record of cycle {last.cycle} is missing")
        return data, last, records[0]

    def commit(self, record: dict[str, Any], data: dict[str, Any]) -> None:
        """Append the cycle's record (the commit point), then save the snapshot."""
        self.log.append(record)
        _COMMITTED.append(f"{self.subject}: cycle {record['cycle']} as of {record.get('as_of')}")
        identity = {key: record.get(key) for key in _IDENTITY}
        self.snapshot.save({**data, **identity}, generation=int(record["cycle"]))


def is_repeat(last: CycleId, as_of: date, inputs: str, subject: str) -> bool:
    """Whether a cycle as of ``as_of`` repeats the last committed one; refuse what cannot be.

    Parameters
    ----------
    last : CycleId
        The last committed cycle.
    as_of : datetime.date
        The date of the cycle asked for.
    inputs : str
        The digest of its inputs.
    subject : str
        What is cycled, for messages.

    Returns
    -------
    bool
        True for a retry (same date, same inputs: nothing to do), False for a new cycle.

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
            f"{subject}: as-of {asked} is earlier than the last committed cycle "
            f"{last.cycle} (as of {last.as_of}); cycles only move forward"
        )
    if asked > last.as_of:
        return False
    if inputs == last.inputs:
        return True
    raise StateError(
        f"{subject}: cycle {last.cycle} as of {asked} is already committed with other inputs; "
        f"a committed cycle is never redone. Run it with a later date instead."
    )


def _now() -> str:
    return datetime.now(UTC).isoformat()
