"""Reading a price file's cells into a panel, with what reading alone can find wrong.

Both layouts come out as the same :class:`~autopilot.market._price_checks.PriceCells`: a
``T x N`` matrix on the file's distinct dates with, for every cell, the data row that holds
it, so every later check names its row. The file is opened through the machinery the
returns reader uses (:mod:`autopilot.market._tables`, :mod:`autopilot.market._parquet_columns`).

What cannot be read at all (a missing file, repeated column names, no ``date`` column, a
date that is not a date) raises :class:`~autopilot.errors.InputError` at once; everything
else is collected as a :class:`~autopilot.market._price_checks.PriceProblem`, so one pass
reports all of it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from autopilot.errors import InputError
from autopilot.market._price_checks import PriceCells, PriceProblem, day, more
from autopilot.market._returns_assembly import frame_columns
from autopilot.market._tables import (
    check_ignored,
    is_parquet,
    parse_dates,
    parse_numbers,
    read_frame,
    saved_index_columns,
)

__all__ = ["ID_COLUMNS", "PRICE_LAYOUT", "read_cells"]

logger = logging.getLogger(__name__)

# A long layout names its securities in exactly one of these columns.
ID_COLUMNS = ("security", "ticker", "permno")
# Every column a price layout defines (a saved index of one of these names is data).
PRICE_LAYOUT = ("date", *ID_COLUMNS, "close", "volume")
_LONG_FORM = "date, one id column (security, ticker or permno), close and optionally volume"
# Security columns converted per block in the wide layout: a block's scratch stays small.
_BLOCK_COLUMNS = 256


@dataclass(frozen=True)
class _Source:
    """Where a file's columns are read from, whatever its format."""

    names: list[str]
    column: Callable[[str], pd.Series]
    numbers: Callable[[list[str]], list[np.ndarray | None]]
    ids: Callable[[str], pd.Series]
    saved_index: list[str]


def read_cells(path: Path, *, date_format: str | None, ignore_columns: Sequence[str]) -> PriceCells:
    """A price file's cells as a panel, with the problems reading found.

    Parameters
    ----------
    path : Path
        Parquet or CSV, wide or long layout.
    date_format : str, optional
        ``strftime`` format of dates that are not ISO.
    ignore_columns : sequence of str
        Columns to leave out.

    Raises
    ------
    InputError
        When the file cannot be read as a price file at all.
    """
    source = _open(path)
    check_ignored(path, source.names, ignore_columns)
    names = [n for n in source.names if n not in ignore_columns]
    ids = [c for c in ID_COLUMNS if c in names]
    if "close" in names or ids:
        cells = _read_long(path, source, names, ids, date_format)
    else:
        cells = _read_wide(path, source, names, date_format)
    logger.debug(
        "%s: %s layout, %d dates x %d securities, %d problems while reading",
        path,
        cells.layout,
        len(cells.dates),
        len(cells.securities),
        len(cells.problems),
    )
    return cells


def _open(path: Path) -> _Source:
    if is_parquet(path) and path.exists():
        # Imported here: pyarrow is needed only by this path.
        from autopilot.market._parquet_columns import ParquetColumns

        table = ParquetColumns(path, PRICE_LAYOUT)
        return _Source(table.names, table.column, table.numbers, table.text, table.saved_index)
    frame = read_frame(path, ID_COLUMNS)
    columns = frame_columns(frame)
    return _Source(columns.names, columns.column, columns.numbers, columns.column, [])


def _ns_dates(path: Path, dates: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """Dates in nanoseconds, as panels hold them; a date beyond their range is refused."""
    try:
        return dates.as_unit("ns")
    except (OverflowError, pd.errors.OutOfBoundsDatetime):
        low, high = pd.Timestamp.min, pd.Timestamp.max
        row = int(np.flatnonzero((dates < low) | (dates > high))[0])
        raise InputError(
            f"{path}: column 'date', row {row + 2}: {day(dates[row])} is outside the dates a "
            f"panel holds ({low.date()} to {high.date()})"
        ) from None


# --------------------------------------------------------------------------- wide


def _read_wide(
    path: Path, source: _Source, names: list[str], date_format: str | None
) -> PriceCells:
    if "date" not in names:
        raise InputError(f"{path}: {_no_date(names, source.saved_index)}")
    problems: list[PriceProblem] = []
    securities = []
    for name in names:
        if name == "date":
            continue
        if name in saved_index_columns([name]):
            message = (
                f"{path}: column {name!r} looks like a saved index (pandas writes one unless "
                f"index=False), not a security; remove it or pass --ignore-columns {name!r}"
            )
            problems.append(PriceProblem("SAVED_INDEX", message, name))
        elif name == "volume":
            message = (
                f"{path}: column 'volume': a wide file holds closes only, one column per "
                f"security; volumes need the long layout ({_LONG_FORM}), or pass "
                f"--ignore-columns volume"
            )
            problems.append(PriceProblem("VOLUME_IN_WIDE", message, name))
        else:
            securities.append(name)
    if not securities:
        raise InputError(f"{path}: no security columns besides 'date'")
    file_dates = _ns_dates(path, parse_dates(path, source.column("date"), date_format))
    values, written = _wide_values(path, source, securities, len(file_dates), problems)
    problems += _wide_order(path, file_dates)
    dates, first = _distinct(file_dates)
    if len(first) != len(file_dates) or not (np.diff(first) > 0).all():
        values, written = values[first], written[first]  # the first row of each date
    rows = np.broadcast_to(first[:, None], values.shape)
    return PriceCells(path, "wide", None, securities, dates, values, written, rows, None, problems)


def _no_date(names: list[str], saved_index: list[str]) -> str:
    text = (
        f"no 'date' column; a price file is wide (a 'date' column and one column of closes "
        f"per security) or long ({_LONG_FORM}); found columns {names[:10]}"
    )
    index_like = saved_index_columns(names) or saved_index
    if index_like:
        text += (
            f". If the saved index {index_like[0]!r} holds the dates, name it 'date' "
            f"(df.rename_axis('date') before saving, or rename the column)"
        )
    return text


def _wide_order(path: Path, dates: pd.DatetimeIndex) -> Iterator[PriceProblem]:
    """Repeated dates and dates out of order, in the order of the file's rows."""
    repeated = np.flatnonzero(dates.duplicated(keep="first"))
    if repeated.size:
        row = int(repeated[0])
        first = int(np.flatnonzero(dates == dates[row])[0])
        message = (
            f"{path}: column 'date', row {row + 2}: {day(dates[row])} repeats row "
            f"{first + 2}; keep one row per date{more(repeated.size, 'repeated dates')}"
        )
        yield PriceProblem("DUPLICATE_DATE", message, "date", row + 2, None, int(repeated.size))
    stamps = dates.asi8
    back = np.flatnonzero(stamps[1:] < stamps[:-1]) + 1
    if back.size:
        row = int(back[0])
        message = (
            f"{path}: column 'date', row {row + 2}: {day(dates[row])} comes after "
            f"{day(dates[row - 1])} (row {row + 1}); dates must increase down the file and "
            f"are not sorted for you (a sort would hide how the file came to be out of "
            f"order): sort the file by date{more(back.size, 'rows out of order')}"
        )
        yield PriceProblem("UNSORTED_DATES", message, "date", row + 2, None, int(back.size))


def _wide_values(
    path: Path,
    source: _Source,
    securities: list[str],
    n_rows: int,
    problems: list[PriceProblem],
) -> tuple[np.ndarray, np.ndarray]:
    """The closes in file order, and which cells hold a value (a number or not)."""
    values = np.empty((n_rows, len(securities)), dtype=np.float64)
    written = np.empty(values.shape, dtype=bool)
    for start in range(0, len(securities), _BLOCK_COLUMNS):
        names = securities[start : start + _BLOCK_COLUMNS]
        for k, (name, numbers) in enumerate(zip(names, source.numbers(names), strict=True)):
            if numbers is None:  # text or another type: cell by cell, naming the bad ones
                numbers, refused = _numbers_of(path, source.column(name), name, problems)
                written[:, start + k] = ~np.isnan(numbers) | refused
            else:
                written[:, start + k] = ~np.isnan(numbers)
            values[:, start + k] = numbers
    return values, written


def _numbers_of(
    path: Path,
    column: pd.Series,
    name: str,
    problems: list[PriceProblem],
    where: Callable[[int], str] | None = None,
    groups: Callable[[np.ndarray], Iterator[tuple[int, int]]] | None = None,
    security_of: Callable[[int], str] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """A column's cells as float64 (NaN where refused) and which cells were refused.

    A cell that is not a number is a problem. ``where(row)`` names a cell (default: the
    column and row), ``groups(mask)`` yields ``(first row, count)`` per group of refused
    cells (default: one group), ``security_of(row)`` names a row's security.
    """
    cells = parse_numbers(column)
    where = where or (lambda row: f"column {name!r}, row {row + 2}")
    groups = groups or _first_of_all
    for mask, code in ((cells.true_false, "TRUE_FALSE"), (cells.not_number, "NOT_A_NUMBER")):
        for row, count in groups(mask):
            if code == "TRUE_FALSE":
                text = "a true/false value, not a number"
            else:
                text = f"{column.iloc[row]!r} is not a number"
            message = f"{path}: {where(row)}: {text}{more(count, 'such cells')}"
            security = security_of(row) if security_of else None
            problems.append(PriceProblem(code, message, name, row + 2, security, count))
    return cells.values, cells.true_false | cells.not_number


def _first_of_all(mask: np.ndarray) -> Iterator[tuple[int, int]]:
    hits = np.flatnonzero(mask)
    if hits.size:
        yield int(hits[0]), int(hits.size)


def _distinct(dates: pd.DatetimeIndex) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """The sorted distinct dates, and the first file row holding each."""
    stamps, first = np.unique(dates.asi8, return_index=True)
    return pd.DatetimeIndex(stamps.astype("datetime64[ns]"), name="date"), first


# --------------------------------------------------------------------------- long


def _read_long(
    path: Path, source: _Source, names: list[str], ids: list[str], date_format: str | None
) -> PriceCells:
    if len(ids) > 1:
        raise InputError(
            f"{path}: columns {ids} are all id columns; a long price file has exactly one "
            f"(security, ticker or permno): keep one, or name the others in --ignore-columns"
        )
    if not ids:
        raise InputError(
            f"{path}: a 'close' column but no id column; a long price file has {_LONG_FORM}"
        )
    id_column = ids[0]
    for needed in ("date", "close"):
        if needed not in names:
            raise InputError(
                f"{path}: an id column {id_column!r} but no {needed!r} column; a long price "
                f"file has {_LONG_FORM}"
            )
    problems: list[PriceProblem] = []
    expected = {"date", id_column, "close", "volume"}
    for name in (n for n in names if n not in expected):
        why = "looks like a saved index, " if saved_index_columns([name]) else ""
        message = (
            f"{path}: column {name!r} {why}is not part of the long layout ({_LONG_FORM}); "
            f"remove it or pass --ignore-columns {name!r}"
        )
        problems.append(PriceProblem("UNEXPECTED_COLUMN", message, name))
    raw_ids = source.ids(id_column)
    empty = (raw_ids.isna() | (raw_ids.astype(str).str.strip() == "")).to_numpy(dtype=bool)
    if empty.any():
        row = int(np.flatnonzero(empty)[0])
        message = (
            f"{path}: column {id_column!r}, row {row + 2}: empty; every row needs its "
            f"security{more(int(empty.sum()), 'rows without one')}"
        )
        problems.append(
            PriceProblem("EMPTY_ID", message, id_column, row + 2, None, int(empty.sum()))
        )
    file_dates = _ns_dates(path, parse_dates(path, source.column("date"), date_format))
    keep = np.flatnonzero(~empty)  # data rows that name a security
    codes_of_kept, distinct_ids = pd.factorize(raw_ids.iloc[keep])
    securities = [str(v) for v in distinct_ids]
    codes = np.full(len(raw_ids), -1, dtype=np.int64)
    codes[keep] = codes_of_kept
    values = {
        name: _long_values(path, source, name, codes, securities, problems)
        for name in ("close", "volume")
        if name in names
    }
    dates, date_of_row = _sorted_codes(file_dates.asi8)
    shape = (len(dates), len(securities))
    cell_of_row = date_of_row[keep] * shape[1] + codes[keep]
    if np.bincount(cell_of_row, minlength=shape[0] * shape[1]).max(initial=0) > 1:
        placed, first = np.unique(cell_of_row, return_index=True)
        rows_placed = keep[first]  # the first row of each security and date
    else:  # each row its own cell, the common case: no sort needed
        placed, rows_placed = cell_of_row, keep
    problems += _long_order(path, file_dates, codes, securities, keep, rows_placed)
    rows = np.full(shape, -1, dtype=np.int64)
    rows.reshape(-1)[placed] = rows_placed
    close = np.full(shape, np.nan)
    close.reshape(-1)[placed] = values["close"][0][rows_placed]
    written = np.zeros(shape, dtype=bool)
    written.reshape(-1)[placed] = values["close"][1][rows_placed]
    volume = None
    if "volume" in values:
        volume = np.full(shape, np.nan)
        volume.reshape(-1)[placed] = values["volume"][0][rows_placed]
    return PriceCells(
        path,
        "long",
        id_column,
        securities,
        pd.DatetimeIndex(dates.astype("datetime64[ns]"), name="date"),
        close,
        written,
        rows,
        volume,
        problems,
    )


def _sorted_codes(stamps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The sorted distinct values of ``stamps`` and each one's position among them.

    As ``np.unique(stamps, return_inverse=True)``, but hashing the rows and sorting only
    the distinct values (a long file repeats each date once per security).
    """
    codes, distinct = pd.factorize(stamps)
    order = np.argsort(distinct)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return np.asarray(distinct)[order], rank[codes]


def _long_values(
    path: Path,
    source: _Source,
    name: str,
    codes: np.ndarray,
    securities: list[str],
    problems: list[PriceProblem],
) -> tuple[np.ndarray, np.ndarray]:
    """A long column's values per row, and which rows hold a value (a number or not)."""
    numbers = source.numbers([name])[0]
    if numbers is not None:
        return numbers, ~np.isnan(numbers)

    def where(row: int) -> str:
        return f"column {name!r}, row {row + 2} (security {securities[codes[row]]!r})"

    numbers, refused = _numbers_of(
        path,
        source.column(name),
        name,
        problems,
        where,
        lambda mask: _first_per_security(mask, codes),
        lambda row: securities[codes[row]],
    )
    return numbers, ~np.isnan(numbers) | refused


def _first_per_security(mask: np.ndarray, codes: np.ndarray) -> Iterator[tuple[int, int]]:
    """``(first row, count)`` of the True rows of each security (rows without one left out)."""
    hits = np.flatnonzero(mask & (codes >= 0))
    if hits.size:
        groups = pd.Series(hits).groupby(codes[hits], sort=False)
        for first, count in zip(groups.first(), groups.size(), strict=True):
            yield int(first), int(count)


def _long_order(
    path: Path,
    dates: pd.DatetimeIndex,
    codes: np.ndarray,
    securities: list[str],
    keep: np.ndarray,
    first_rows: np.ndarray,
) -> Iterator[PriceProblem]:
    """Per security: a date given twice, and a date before the one of its previous row.

    ``first_rows`` are the first rows of each security and date: every other row of
    ``keep`` repeats one of them.
    """
    if len(first_rows) < len(keep):
        repeated = np.zeros(len(codes), dtype=bool)
        repeated[keep] = True
        repeated[first_rows] = False
        date_codes = _sorted_codes(dates.asi8)[1]
        cell = date_codes * len(securities) + codes
        first_of_cell = pd.Series(first_rows, index=cell[first_rows])
        for row, count in _first_per_security(repeated, codes):
            security = securities[codes[row]]
            message = (
                f"{path}: column 'date', row {row + 2} (security {security!r}): "
                f"{day(dates[row])} repeats row {int(first_of_cell[cell[row]]) + 2}; keep one "
                f"close per security and date{more(count, 'for this security')}"
            )
            yield PriceProblem("DUPLICATE_DATE", message, "date", row + 2, security, count)
    stamps = dates.asi8[keep]
    if (stamps[1:] >= stamps[:-1]).all():  # the file is in date order: so is each security
        return
    kept_codes = codes[keep]
    order = keep  # each security's rows, in file order
    if not (kept_codes[1:] >= kept_codes[:-1]).all():
        order = keep[np.argsort(kept_codes, kind="stable")]
    stamps = dates.asi8[order]
    back = np.zeros(len(codes), dtype=bool)
    back[order[1:]] = (codes[order][1:] == codes[order][:-1]) & (stamps[1:] < stamps[:-1])
    previous = np.full(len(codes), -1, dtype=np.int64)
    previous[order[1:]] = order[:-1]
    for row, count in _first_per_security(back, codes):
        security, before = securities[codes[row]], int(previous[row])
        message = (
            f"{path}: column 'date', row {row + 2} (security {security!r}): "
            f"{day(dates[row])} comes after {day(dates[before])} (row {before + 2}); each "
            f"security's dates must increase down the file and are not sorted for you (a sort "
            f"would hide how the file came to be out of order): sort the file by security and "
            f"date, or by date{more(count, 'for this security')}"
        )
        yield PriceProblem("UNSORTED_DATES", message, "date", row + 2, security, count)
