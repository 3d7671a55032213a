"""Append-only JSON Lines logs for history that only grows (audit records, trades).

Each record is one line, written with a single ``write`` and ``fsync``-ed before
:meth:`Journal.append` returns, so appending costs the same whatever the history's size.
A crash can only tear the last line: on read it is detected, skipped and warned about, and
the next append starts on a fresh line so the torn fragment never glues onto a record.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from autopilot._atomic_write import fsync_directory
from autopilot.errors import StateError

__all__ = ["Journal"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

_TAIL_BLOCK = 1 << 16
# A line without its newline: torn by a crash, or being appended right now. Either way it
# is not a committed record yet.
_INCOMPLETE = "%s: the last line is incomplete (interrupted, or being written); ignored"


class Journal:
    """An append-only JSON Lines file.

    Parameters
    ----------
    path : path-like
        The log file; created (with its folder) on the first append.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def append(self, record: dict[str, Any]) -> None:
        """Append one record durably (the line is fsync'd before returning).

        Parameters
        ----------
        record : dict
            A JSON-serialisable object without NaN or infinity.
        """
        line = json.dumps(record, separators=(",", ":"), allow_nan=False) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        created = not self.path.exists()
        with open(self.path, "ab+") as handle:
            size = handle.seek(0, os.SEEK_END)
            if size:
                handle.seek(size - 1)
                if handle.read(1) != b"\n":
                    line = "\n" + line  # close a line torn by a crash
            handle.write(line.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        if created:
            fsync_directory(self.path.parent)

    def committed(self) -> list[dict[str, Any]]:
        """Every committed cycle record, in cycle order (reads the whole log).

        A record is committed once its line is complete (see :mod:`autopilot.state.cycles`);
        with :meth:`committed_after` this is how a cycle log is read.
        Logs written before that rule could hold a second record of a cycle whose state
        was never saved; the later one, the re-run, is the committed one.
        """
        return self.each_committed(lambda record: record)

    def each_committed(self, extract: Callable[[dict[str, Any]], T]) -> list[T]:
        """``extract(record)`` of every committed record, in cycle order.

        Like :meth:`committed`, but only one record is held at a time: what ``extract``
        keeps of it is all that stays in memory, however large the records are.

        Parameters
        ----------
        extract : callable
            Called on each record as it is read (a record a later one of the same cycle
            replaces is read too).

        Returns
        -------
        list
            What ``extract`` returned for the committed record of each cycle.
        """
        latest: dict[int, T] = {}
        for record in self:
            latest[_cycle_of(record, self.path)] = extract(record)
        return [latest[cycle] for cycle in sorted(latest)]

    def committed_after(self, cycle: int) -> list[dict[str, Any]]:
        """The committed records of the cycles after ``cycle``, in order, read from the end.

        Only the tail of the file is read, so the cost does not grow with the history.

        Parameters
        ----------
        cycle : int
            The last cycle already known (0 reads every record).

        Returns
        -------
        list of dict
            The records of cycles ``cycle + 1, cycle + 2, ...``, the latest record of each.

        Raises
        ------
        StateError
            The log does not hold cycle ``cycle`` itself, or the records after it do not
            follow it one by one: records are missing.
        """
        found: dict[int, dict[str, Any]] = {}
        reached = 0  # the cycle of the record the backward read stopped at
        for record in self._reversed():
            number = _cycle_of(record, self.path)
            if number <= cycle:
                reached = number
                break
            found.setdefault(number, record)  # read backwards: the first seen is the latest
        if reached != cycle:
            where = f"ends at cycle {reached}" if reached else "holds no earlier record"
            raise StateError(
                f"{self.path}: cycle {cycle} is committed, but before cycle {cycle + 1} the "
                f"log {where}: records were lost or the log was replaced. Restore it from "
                f"a copy; the state files are intact."
            )
        numbers = sorted(found)
        if numbers != list(range(cycle + 1, cycle + 1 + len(numbers))):
            raise StateError(
                f"{self.path}: after cycle {cycle} the log holds cycles {numbers}, not one "
                f"after the other; a record is missing. Restore the log from a copy."
            )
        return [found[n] for n in numbers]

    def _reversed(self) -> Iterator[dict[str, Any]]:
        """Complete records from the last to the first, reading blocks from the end."""
        if not self.path.exists():
            return
        with open(self.path, "rb") as handle:
            end = self._end_of_last_line(handle)
            position, rest = end, b""
            while position > 0:
                step = min(_TAIL_BLOCK, position)
                position -= step
                handle.seek(position)
                lines = (handle.read(step) + rest).split(b"\n")
                rest = lines[0]  # the start of this line lies in an earlier block
                for raw in reversed(lines[1:]):
                    record = _parse(raw, self.path)
                    if record is not None:
                        yield record
            record = _parse(rest, self.path)
            if record is not None:
                yield record

    def _end_of_last_line(self, handle: BinaryIO) -> int:
        """Offset just past the last newline; bytes after it are a line torn by a crash."""
        size = handle.seek(0, os.SEEK_END)
        position = size
        while position > 0:
            step = min(_TAIL_BLOCK, position)
            position -= step
            handle.seek(position)
            newline = handle.read(step).rfind(b"\n")
            if newline >= 0:
                end = position + newline + 1
                break
        else:
            end = 0
        if end < size:
            logger.warning(_INCOMPLETE, self.path)
        return end

    def __iter__(self) -> Iterator[dict[str, Any]]:
        """Yield every complete record, skipping (with a warning) torn or garbled lines."""
        if not self.path.exists():
            return
        with open(self.path, "rb") as handle:
            for number, raw in enumerate(handle, start=1):
                if not raw.endswith(b"\n"):
                    logger.warning(_INCOMPLETE, self.path)
                    continue
                record = _parse(raw, self.path, f"line {number}")
                if record is not None:
                    yield record


def _parse(raw: bytes, path: Path, where: str = "a line") -> dict[str, Any] | None:
    """The record on one complete line; None (with a warning) for a garbled one."""
    if not raw.strip():
        return None
    try:
        record = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        logger.warning("%s: %s is not valid JSON; ignored", path, where)
        return None
    if not isinstance(record, dict):
        logger.warning("%s: %s is not a JSON object; ignored", path, where)
        return None
    return record


def _cycle_of(record: dict[str, Any], path: Path) -> int:
    cycle = record.get("cycle")
    if not isinstance(cycle, int) or isinstance(cycle, bool) or cycle < 1:
        raise StateError(f"{path}: a record has cycle {cycle!r}, not a positive integer")
    return cycle
