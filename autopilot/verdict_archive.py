"""The registry's verdict tables: one Parquet file per committed cycle.

Every cycle's decisions (every candidate's gate verdicts, the bulk of the audit trail) go to
``registry_verdicts/cycle-<cycle>.parquet`` in the state folder, one row per candidate,
sorted by strategy id in small row groups, so that one strategy's row is found from the
row groups' min/max statistics without decoding the rest. The cycle's record in
``registry_audit.jsonl`` keeps the small parts and a reference to the file: its name, its
SHA-256 and its row count (see :meth:`VerdictArchive.write`).

Crash consistency, with the record as the commit point (:mod:`autopilot.state.cycles`):

* the file is written atomically and ``fsync``-ed, folder included, *before* the record is
  appended; so every committed record names a complete, durable file;
* a kill between the file and the record leaves the file of a cycle that never committed:
  only files named by a committed record are ever read, and the next run of that cycle
  number replaces it;
* a file a record names that is missing, or whose bytes do not match the recorded SHA-256,
  is refused with a :class:`~autopilot.errors.StateError` naming it, never skipped.

This module is the only part of the state handling that imports pyarrow; the registry
imports it only when it writes a cycle or reads verdicts, so ``registry show`` (snapshot
plus replay of the records' changes) starts without it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from autopilot._atomic_write import atomic_write_bytes, fsync_directory
from autopilot.errors import StateError

__all__ = ["FOLDER", "VerdictArchive"]

logger = logging.getLogger(__name__)

FOLDER = "registry_verdicts"
KIND = "registry_verdicts"
SCHEMA_VERSION = 1
# Small row groups keep a one-strategy lookup to one group of this many candidates; the
# file grows by about 10 % against one group per file (measured at 2,000 candidates).
ROW_GROUP_ROWS = 128
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_GATE = pa.struct(
    [
        pa.field("gate", pa.string(), nullable=False),
        pa.field("outcome", pa.string(), nullable=False),
        pa.field("value", pa.float64()),
        pa.field("threshold", pa.float64()),
        pa.field("mode", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
    ]
)
SCHEMA = pa.schema(
    [
        pa.field("strategy_id", pa.string(), nullable=False),
        # The candidate's place in the cycle's decisions, so the table reads back in order.
        pa.field("position", pa.int32(), nullable=False),
        pa.field("promotable", pa.bool_(), nullable=False),
        pa.field("gates", pa.list_(pa.field("item", _GATE, nullable=False)), nullable=False),
    ]
)


class VerdictArchive:
    """The verdict files of one state folder.

    Parameters
    ----------
    state_dir : path-like
        The state folder; the files live in its ``registry_verdicts`` folder.
    log : path-like
        The log whose records name the files, for messages.
    """

    def __init__(self, state_dir: str | os.PathLike[str], log: str | os.PathLike[str]) -> None:
        self.state_dir = Path(state_dir)
        self.folder = self.state_dir / FOLDER
        self.log = Path(log)

    def write(self, cycle: int, decisions: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """Write cycle ``cycle``'s verdict table durably (call under the folder's lock).

        A file left for this cycle number by a run killed before its commit is replaced.

        Parameters
        ----------
        cycle : int
            The cycle's number.
        decisions : sequence of dict
            Every candidate's ``Decision.to_dict()``, in the order the cycle received them.

        Returns
        -------
        dict
            The reference the cycle's record keeps: ``file`` (relative to the state
            folder), ``sha256`` and ``rows``.
        """
        data = _encode(cycle, decisions)
        self.folder.mkdir(exist_ok=True)
        if not any(self.folder.glob("cycle-*.parquet")):
            # The folder's own entry must be durable before a record names a file in it.
            # Its first file follows this fsync, so a folder with a file needs no other.
            fsync_directory(self.state_dir)
        for leftover in self.folder.glob(".*.tmp"):  # a killed write's temp; we hold the lock
            leftover.unlink(missing_ok=True)
        name = f"cycle-{cycle:06d}.parquet"
        atomic_write_bytes(self.folder / name, data, keep_backup=False)
        return {
            "file": f"{FOLDER}/{name}",
            "sha256": hashlib.sha256(data).hexdigest(),
            "rows": len(decisions),
        }

    def find(self, cycle: int, reference: Any, strategy_id: str) -> dict[str, Any] | None:
        """One candidate's decision in a committed cycle's file (None when not a candidate).

        Only the row groups whose statistics may hold ``strategy_id`` are decoded.

        Parameters
        ----------
        cycle : int
            The committed cycle.
        reference : dict
            The ``verdicts`` reference of its record.
        strategy_id : str
            The candidate.

        Returns
        -------
        dict or None
            Its ``Decision.to_dict()`` as committed.

        Raises
        ------
        StateError
            The file is missing, does not match its record, or is not a verdict table.
        """
        parquet, path = self._open(cycle, reference)
        groups = [
            i
            for i in range(parquet.metadata.num_row_groups)
            if _may_hold(parquet.metadata.row_group(i), strategy_id)
        ]
        if not groups:
            return None
        # Matched in Python: pyarrow.compute (and a Python scalar, which makes pyarrow import
        # pandas) would cost more at start-up than a row group of ids costs to compare.
        try:
            table = parquet.read_row_groups(groups, use_threads=False)  # too small to share
            ids = table.column("strategy_id").to_pylist()
            rows = [table.slice(i, 1).to_pylist()[0] for i, x in enumerate(ids) if x == strategy_id]
        except (pa.ArrowException, OSError) as exc:
            raise _unreadable(path, cycle, self.log, exc) from exc
        if len(rows) > 1:
            raise StateError(
                f"{path}: strategy {strategy_id!r} appears {len(rows)} times in the verdict "
                f"file of cycle {cycle}; restore the file from a copy of the state folder"
            )
        return _decision(rows[0]) if rows else None

    def read(self, cycle: int, reference: Any) -> list[dict[str, Any]]:
        """Every candidate's decision in a committed cycle, in the order the cycle got them.

        Parameters and errors are those of :meth:`find`.
        """
        parquet, path = self._open(cycle, reference)
        try:
            table = parquet.read()
        except (pa.ArrowException, OSError) as exc:
            raise _unreadable(path, cycle, self.log, exc) from exc
        rows = sorted(table.to_pylist(), key=lambda row: row["position"])
        return [_decision(row) for row in rows]

    def _open(self, cycle: int, reference: Any) -> tuple[pq.ParquetFile, Path]:
        """The file a committed record names, checked against the record."""
        name, sha256, rows = _reference_fields(reference, cycle, self.log)
        path = self.state_dir / name
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise StateError(
                f"{path}: the verdict file of committed cycle {cycle} (named by {self.log}) "
                f"is missing; restore it from a copy of the state folder"
            ) from None
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha256:
            raise StateError(
                f"{path}: the verdict file of committed cycle {cycle} does not match its "
                f"record in {self.log} (sha256 {actual[:12]}..., recorded {sha256[:12]}...): "
                f"it was changed or replaced; restore it from a copy of the state folder"
            )
        # The bytes checked are the bytes parsed: one file in memory at a time.
        try:
            parquet = pq.ParquetFile(pa.BufferReader(data))
        except (pa.ArrowException, OSError) as exc:
            raise _unreadable(path, cycle, self.log, exc) from exc
        metadata = parquet.schema_arrow.metadata or {}
        version = metadata.get(b"autopilot.schema_version", b"")
        if metadata.get(b"autopilot.kind") != KIND.encode() or not version.isdigit():
            raise StateError(f"{path}: not a verdict file of strategy-autopilot")
        if metadata.get(b"autopilot.cycle") != str(cycle).encode():
            raise StateError(
                f"{path}: the verdict file holds cycle "
                f"{metadata.get(b'autopilot.cycle', b'?').decode(errors='replace')}, not cycle "
                f"{cycle} whose record in {self.log} names it; restore the log from a copy"
            )
        if int(version) > SCHEMA_VERSION:
            raise StateError(
                f"{path}: verdict file schema {int(version)} is newer than this version of "
                f"strategy-autopilot reads ({SCHEMA_VERSION}); upgrade strategy-autopilot"
            )
        if parquet.metadata.num_rows != rows or not parquet.schema_arrow.equals(SCHEMA):
            raise StateError(
                f"{path}: the verdict file of cycle {cycle} has {parquet.metadata.num_rows} "
                f"rows where {self.log} records {rows}, or columns other than expected; "
                f"restore it from a copy of the state folder"
            )
        return parquet, path


def _encode(cycle: int, decisions: Sequence[Mapping[str, Any]]) -> bytes:
    """The Parquet bytes of a cycle's decisions, sorted by strategy id."""
    order = sorted(range(len(decisions)), key=lambda k: decisions[k]["strategy_id"])
    columns = {
        "strategy_id": [decisions[k]["strategy_id"] for k in order],
        "position": order,
        "promotable": [decisions[k]["promotable"] for k in order],
        "gates": [decisions[k]["gates"] for k in order],
    }
    metadata = {
        "autopilot.kind": KIND,
        "autopilot.schema_version": str(SCHEMA_VERSION),
        "autopilot.cycle": str(cycle),
    }
    # Converting Python lists makes pyarrow import pandas once per process (about 0.5 s); a
    # cycle that writes has it loaded already (the batch was read with it), and the
    # conversion is 7x faster than handing pyarrow.json the same rows as JSON.
    table = pa.Table.from_pydict(columns, schema=SCHEMA.with_metadata(metadata))
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, row_group_size=ROW_GROUP_ROWS, compression="zstd")
    return bytes(sink.getvalue().to_pybytes())


def _may_hold(group: pq.RowGroupMetaData, strategy_id: str) -> bool:
    """Whether a row group may hold ``strategy_id``: True unless its statistics exclude it.

    Parquet orders UTF-8 statistics by bytes, which is Python's code point order.
    """
    statistics = group.column(0).statistics
    if statistics is None or not statistics.has_min_max:
        return True
    return bool(statistics.min <= strategy_id <= statistics.max)


def _decision(row: Mapping[str, Any]) -> dict[str, Any]:
    """A row as ``Decision.to_dict()`` gives it (same keys, same order)."""
    return {
        "strategy_id": row["strategy_id"],
        "promotable": row["promotable"],
        "gates": [dict(gate) for gate in row["gates"]],
    }


def _reference_fields(reference: Any, cycle: int, log: Path) -> tuple[str, str, int]:
    """``file``, ``sha256`` and ``rows`` of a record's reference; refuse anything else."""
    name = reference.get("file") if isinstance(reference, Mapping) else None
    sha256 = reference.get("sha256") if isinstance(reference, Mapping) else None
    rows = reference.get("rows") if isinstance(reference, Mapping) else None
    inside = isinstance(name, str) and re.fullmatch(rf"{FOLDER}/cycle-\d+\.parquet", name)
    if (
        not inside
        or not isinstance(sha256, str)
        or not _SHA256.fullmatch(sha256)
        or not isinstance(rows, int)
        or isinstance(rows, bool)
        or rows < 0
    ):
        raise StateError(
            f"{log}: the record of cycle {cycle} names its verdict file as {reference!r}, "
            f"not as file, sha256 and rows; restore the log from a copy"
        )
    return str(name), sha256, rows


def _unreadable(path: Path, cycle: int, log: Path, exc: Exception) -> StateError:
    return StateError(
        f"{path}: the verdict file of cycle {cycle} (named by {log}) cannot be read "
        f"({type(exc).__name__}: {exc}); restore it from a copy of the state folder"
    )
