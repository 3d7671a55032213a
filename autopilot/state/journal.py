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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from autopilot._atomic_write import fsync_directory

__all__ = ["Journal"]

logger = logging.getLogger(__name__)


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
        """Append one record durably (the line is fsync'd before returning)."""
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

    def __iter__(self) -> Iterator[dict[str, Any]]:
        """Yield every complete record, skipping (with a warning) torn or garbled lines."""
        if not self.path.exists():
            return
        with open(self.path, "rb") as handle:
            for number, raw in enumerate(handle, start=1):
                if not raw.endswith(b"\n"):
                    logger.warning(
                        "%s: line %d is incomplete (a write was interrupted); ignored",
                        self.path,
                        number,
                    )
                    continue
                if not raw.strip():
                    continue
                try:
                    record = json.loads(raw)
                except (json.JSONDecodeError, UnicodeDecodeError):
                    logger.warning("%s: line %d is not valid JSON; ignored", self.path, number)
                    continue
                if isinstance(record, dict):
                    yield record
                else:
                    logger.warning("%s: line %d is not a JSON object; ignored", self.path, number)
