"""Columns of a Parquet file read straight from it, without a DataFrame in between.

The returns reader and the price reader open Parquet files through :class:`ParquetColumns`.
A wide file of 10,000 candidates is read a block of columns at a time into the matrix (a
DataFrame of 10,000 columns would cost several times the file); a long file's ids and
text dates are read dictionary-encoded, so each distinct value is converted once.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from autopilot.errors import InputError
from autopilot.market._returns_assembly import (
    LONG_GROUP_ROWS,
    LongGroup,
    LongGroups,
    WideColumns,
)
from autopilot.market._tables import Factorized, refuse_empty, refuse_repeated_names

__all__ = ["RETURNS_LAYOUT", "ParquetColumns"]

# The columns of a returns file's layouts: a saved index of one of these names is data.
RETURNS_LAYOUT = ("date", "strategy_id", "regime")


class ParquetColumns:
    """A Parquet file (returns or prices), opened once; its columns read on demand.

    Parameters
    ----------
    path : Path
        The file.
    layout : tuple of str
        The names of the columns its layouts define: a DataFrame index saved into the file
        under one of these names (a ``date`` index) is that column, any other saved index
        is left out.

    Raises
    ------
    InputError
        When the file cannot be read, has repeated column names or no rows.
    """

    def __init__(self, path: Path, layout: tuple[str, ...] = RETURNS_LAYOUT) -> None:
        self.path = path
        try:
            self._file = pq.ParquetFile(path)
        except Exception as exc:
            raise InputError(f"{path}: cannot read: {type(exc).__name__}: {exc}") from exc
        schema = self._file.schema_arrow
        # A DataFrame saved with its index holds it as a column the file's pandas metadata
        # declares an index (pandas reads it back as the index, not as data); a declared
        # index named like a layout column (date, strategy_id, regime) is that column.
        declared = (schema.pandas_metadata or {}).get("index_columns", [])
        index = {n for n in declared if isinstance(n, str) and n.strip() not in layout}
        self.saved_index = sorted(index)
        self.names = [str(n).strip() for n in schema.names if n not in index]
        refuse_repeated_names(path, self.names)
        self._stored = {str(n).strip(): n for n in schema.names if n not in index}
        refuse_empty(path, self._file.metadata.num_rows)

    def _read(self, names: list[str]) -> pa.Table:
        try:
            return self._file.read(columns=[self._stored[n] for n in names], use_threads=True)
        except Exception as exc:
            raise InputError(f"{self.path}: cannot read: {type(exc).__name__}: {exc}") from exc

    def column(self, name: str) -> pd.Series:
        """One column as a Series (text stays text; dates stay dates)."""
        return self._read([name]).column(0).to_pandas()

    def text(self, name: str) -> pd.Series:
        """A column of ids as text exactly as stored: text as it is, whole numbers in decimal.

        Raises
        ------
        InputError
            When the column holds floating-point numbers (``10107.0`` is not an id as
            written) or values of another type.
        """
        column = self._read([name]).column(0)
        kind = column.type
        if pa.types.is_dictionary(kind):
            column = pc.cast(column, kind.value_type)
            kind = kind.value_type
        if pa.types.is_integer(kind):
            column = pc.cast(column, pa.string())
        elif not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
            raise InputError(
                f"{self.path}: column {name!r} holds {kind} values; ids are text or whole "
                f"numbers, read exactly as written: store them as text (or integers)"
            )
        return column.to_pandas()

    def numbers(self, names: list[str]) -> list[np.ndarray | None]:
        """Float64 values of plain numeric columns (NaN where empty), None for the others."""
        table = self._read(names)
        return [_arrow_numbers(table.column(k)) for k in range(table.num_columns)]

    def wide(self, names: list[str]) -> WideColumns:
        """The columns ``names`` of the file (those not ignored) for the wide assembler."""
        return WideColumns(names, self.column, self.numbers)

    def long(self) -> tuple[LongGroups, int]:
        """The rows of a long layout, a group of rows at a time, for the long assembler."""
        has_regimes = "regime" in self.names
        metadata = self._file.metadata
        n_groups = sum(
            -(-metadata.row_group(g).num_rows // LONG_GROUP_ROWS)
            for g in range(metadata.num_row_groups)
        )

        def groups(with_returns: bool) -> Iterator[LongGroup]:
            names = ["strategy_id", "date"]
            names += ["return"] if with_returns else []
            names += ["regime"] if has_regimes else []
            start = 0
            for batch in self._batches(names):
                column = dict(zip(names, batch.columns, strict=True))
                returns = None
                if with_returns:
                    numbers = _arrow_numbers(column["return"])
                    returns = column["return"].to_pandas() if numbers is None else numbers
                yield LongGroup(
                    start,
                    _factorize(column["strategy_id"]),
                    _factorize(column["date"]),
                    returns,
                    _factorize(column["regime"]) if has_regimes else None,
                )
                start += batch.num_rows

        return groups, n_groups

    def _batches(self, names: list[str]) -> Iterator[pa.RecordBatch]:
        # One iterator per row group: a single iter_batches over the whole file keeps what
        # it read alive until its end (seen with pyarrow 26), which would hold every column
        # of a 25-million-row file; per row group, a batch's memory is all that is held.
        columns = [self._stored[n] for n in names]
        for group in range(self._file.metadata.num_row_groups):
            try:
                yield from self._file.iter_batches(
                    batch_size=LONG_GROUP_ROWS, row_groups=[group], columns=columns
                )
            except Exception as exc:
                raise InputError(f"{self.path}: cannot read: {type(exc).__name__}: {exc}") from exc


def _arrow_numbers(column: pa.Array | pa.ChunkedArray) -> np.ndarray | None:
    kind = column.type
    if not (pa.types.is_floating(kind) or pa.types.is_integer(kind)):
        return None
    return np.asarray(pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False))


def _factorize(column: pa.Array) -> Factorized:
    """Codes and distinct values of a column, by Arrow's dictionary encoding."""
    encoded = column if pa.types.is_dictionary(column.type) else column.dictionary_encode()
    codes = _codes(encoded.indices)
    if pa.types.is_dictionary(column.type):
        # A stored dictionary (a pandas categorical) may hold values no row uses: keep
        # only the used ones, or an unused date would become a bar.
        used = pd.unique(codes[codes >= 0])
        compact = np.full(len(encoded.dictionary) + 1, -1, dtype=np.int64)
        compact[used] = np.arange(len(used))
        return Factorized(compact[codes], encoded.dictionary.take(used).to_pandas())
    return Factorized(codes, encoded.dictionary.to_pandas())


def _codes(indices: pa.Array) -> np.ndarray:
    """Dictionary indices as an array, -1 where empty (copied only when there are nulls)."""
    if indices.null_count:
        indices = pc.fill_null(indices, -1)
    return np.asarray(indices.to_numpy(zero_copy_only=False))
