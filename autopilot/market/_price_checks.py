"""The checks of a price panel's cells, each finding every problem of its kind at once.

A check runs over the whole ``T x N`` matrix (vectorised over securities) and reports one
:class:`PriceProblem` per security and kind of problem: the first cell at fault, named by
file, column and row, and how many more cells of that security share it. ``autopilot data
check`` lists them all; :func:`autopilot.market.prices_io.read_prices` refuses with the
first.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["PriceCells", "PriceProblem", "check_cells", "day", "more"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PriceProblem:
    """One reason a price file is refused.

    Attributes
    ----------
    code : str
        A stable name of the kind of problem, e.g. ``NON_POSITIVE_PRICE``.
    message : str
        One line naming the file, column and row, what is wrong and the fix.
    column : str, optional
        The column at fault, as the file names it.
    row : int, optional
        The row at fault, counted as a spreadsheet does: the header is row 1, the first
        data row is row 2. None when no row holds the problem (a column that is not data).
    security : str, optional
        The security at fault, when the problem is one security's.
    count : int
        How many cells (or rows) of that column or security have this problem; the
        message names the first.
    """

    code: str
    message: str
    column: str | None = None
    row: int | None = None
    security: str | None = None
    count: int = 1

    def to_dict(self) -> dict[str, Any]:
        """The problem as a JSON-serialisable mapping."""
        return {
            "code": self.code,
            "column": self.column,
            "row": self.row,
            "security": self.security,
            "count": self.count,
            "message": self.message,
        }


@dataclass
class PriceCells:
    """A price file's cells arranged as a panel, before they are judged.

    Attributes
    ----------
    path : Path
        The file, named in every message.
    layout : {"wide", "long"}
        How the file is laid out.
    id_column : str, optional
        The long layout's id column (``security``, ``ticker`` or ``permno``).
    securities : list of str
        One per matrix column: the wide layout's column names or the long layout's ids,
        in order of first appearance.
    dates : DatetimeIndex
        The distinct dates of the file, sorted (the file itself may not be).
    close : ndarray
        ``T x N`` float64 closes, NaN where no number is written.
    written : ndarray of bool
        ``T x N``: a cell holds a value, a number or not (a cell that is not a number is
        refused once, not again as a missing price).
    rows : ndarray of int
        ``T x N`` data rows (0 is the first row after the header) holding each cell, -1
        where the file has no row for it (a long layout's missing row).
    volume : ndarray, optional
        ``T x N`` float64 volumes of a long layout with a ``volume`` column.
    problems : list of PriceProblem
        What reading found already (columns, ids, order of the dates, cells that are not
        numbers).
    """

    path: Path
    layout: str
    id_column: str | None
    securities: list[str]
    dates: pd.DatetimeIndex
    close: np.ndarray
    written: np.ndarray
    rows: np.ndarray
    volume: np.ndarray | None
    problems: list[PriceProblem]

    def where(self, t: int, j: int, column: str = "close") -> str:
        """A cell as the file holds it: its column and row, and its security if long."""
        row = int(self.rows[t, j]) + 2
        if self.layout == "wide":
            return f"column {self.securities[j]!r}, row {row}"
        return f"column {column!r}, row {row} (security {self.securities[j]!r})"

    def column_of(self, j: int, column: str = "close") -> str:
        """The column holding security ``j``'s values of ``column``."""
        return self.securities[j] if self.layout == "wide" else column

    def leave_out(self, j: int) -> str:
        """How to leave security ``j`` out of the file."""
        if self.layout == "wide":
            return f"leave it out with --ignore-columns {self.securities[j]}"
        return "leave its rows out"


def day(stamp: pd.Timestamp) -> str:
    """A date as messages write it: ``2024-01-05``, with the time only when it has one."""
    return str(stamp.date()) if stamp == stamp.normalize() else stamp.isoformat()


def more(count: int, of: str) -> str:
    """`` (and 3 more in this column)``, or nothing for a single cell."""
    return f" (and {count - 1} more {of})" if count > 1 else ""


def check_cells(cells: PriceCells, min_history: int) -> list[PriceProblem]:
    """Every problem of the cells' values: prices, gaps, history, empty dates, volumes."""
    problems = [
        *_non_finite(cells),
        *_non_positive(cells),
        *_gaps(cells),
        *_short_history(cells, min_history),
        *_empty_dates(cells),
        *_volumes(cells),
    ]
    logger.debug("%s: %d problems in the values", cells.path, len(problems))
    return problems


def _first_per_column(mask: np.ndarray) -> Iterator[tuple[int, int, int]]:
    """``(first row, column, count)`` of each column with a True cell."""
    counts = np.count_nonzero(mask, axis=0)
    columns = np.flatnonzero(counts)
    firsts = mask[:, columns].argmax(axis=0)
    for j, t in zip(columns, firsts, strict=True):
        yield int(t), int(j), int(counts[j])


def _of_this(cells: PriceCells) -> str:
    return "in this column" if cells.layout == "wide" else "for this security"


def _cell_problem(
    cells: PriceCells, code: str, t: int, j: int, count: int, text: str, column: str = "close"
) -> PriceProblem:
    return PriceProblem(
        code,
        f"{cells.path}: {cells.where(t, j, column)}: {text}{more(count, _of_this(cells))}",
        cells.column_of(j, column),
        int(cells.rows[t, j]) + 2,
        cells.securities[j],
        count,
    )


def _non_finite(cells: PriceCells) -> Iterator[PriceProblem]:
    for t, j, count in _first_per_column(np.isinf(cells.close)):
        text = (
            f"price {cells.close[t, j]} is not finite; write the close, or leave the cell "
            f"empty where the security has no price"
        )
        yield _cell_problem(cells, "NON_FINITE_PRICE", t, j, count, text)


def _non_positive(cells: PriceCells) -> Iterator[PriceProblem]:
    for t, j, count in _first_per_column((cells.close <= 0.0) & np.isfinite(cells.close)):
        text = (
            f"price {cells.close[t, j]:.10g} is not positive; a close is above zero (a 0 or "
            f"-99 standing for 'no price' must be an empty cell, and a return is not a price)"
        )
        yield _cell_problem(cells, "NON_POSITIVE_PRICE", t, j, count, text)


def _gaps(cells: PriceCells) -> Iterator[PriceProblem]:
    written = cells.written
    after_first = np.logical_or.accumulate(written, axis=0)
    before_last = np.logical_or.accumulate(written[::-1], axis=0)[::-1]
    for t, j, count in _first_per_column(~written & after_first & before_last):
        yield _gap(cells, t, j, count)


def _gap(cells: PriceCells, t: int, j: int, count: int) -> PriceProblem:
    present = np.flatnonzero(cells.written[:, j])
    first, last = cells.dates[present[0]], cells.dates[present[-1]]
    span = f"inside the security's history ({day(first)} to {day(last)})"
    fix = f"a fill would be a guess: write the close, or {cells.leave_out(j)}"
    tail = more(count, "missing prices " + _of_this(cells))
    row = int(cells.rows[t, j])
    if row >= 0:
        what = "no price" if cells.layout == "wide" else "empty"
        message = f"{cells.path}: {cells.where(t, j)}: {what} on {day(cells.dates[t])}, "
        message += f"{span}; {fix}{tail}"
        return PriceProblem(
            "INTERIOR_GAP", message, cells.column_of(j), row + 2, cells.securities[j], count
        )
    # A long layout without a row for the date: name the rows of the prices around it.
    before = int(cells.rows[present[present < t][-1], j]) + 2
    after = int(cells.rows[present[present > t][0], j]) + 2
    message = (
        f"{cells.path}: column 'close', after row {before} (security {cells.securities[j]!r}): "
        f"no row for {day(cells.dates[t])}, {span}, between its rows {before} and {after}; "
        f"{fix}{tail}"
    )
    return PriceProblem("INTERIOR_GAP", message, "close", before, cells.securities[j], count)


def _short_history(cells: PriceCells, min_history: int) -> Iterator[PriceProblem]:
    counts = np.count_nonzero(cells.written, axis=0)
    for column_index in np.flatnonzero(counts < min_history):
        j = int(column_index)
        n = int(counts[j])
        security = cells.securities[j]
        need = f"at least {min_history} are needed (--min-history)"
        fix = f"give it more history, or {cells.leave_out(j)}"
        column = cells.id_column if cells.layout == "long" else security
        if n:
            present = np.flatnonzero(cells.written[:, j])
            t = int(present[0])
            span = day(cells.dates[t])
            if n > 1:
                span = f"{span} to {day(cells.dates[present[-1]])}"
            has = f"{n} price{'s' if n > 1 else ''} ({span})"
        else:  # a wide column without a number, or a long security whose closes are empty
            present = np.flatnonzero(cells.rows[:, j] >= 0)
            t = int(present[0])
            has = "no price"
        row = int(cells.rows[t, j]) + 2
        where = f"column {column!r}, row {row}"
        message = f"{cells.path}: {where}: security {security!r} has {has}; {need}: {fix}"
        yield PriceProblem("SHORT_HISTORY", message, column, row, security, n)


def _empty_dates(cells: PriceCells) -> Iterator[PriceProblem]:
    """Dates inside no security's history (inside one, a date is that security's gap)."""
    written = cells.written
    after_first = np.logical_or.accumulate(written, axis=0)
    before_last = np.logical_or.accumulate(written[::-1], axis=0)[::-1]
    spanned = np.asarray((after_first & before_last).any(axis=1))
    empty = np.flatnonzero(~spanned)
    if not empty.size:
        return
    t = int(empty[0])
    row = int(cells.rows[t][cells.rows[t] >= 0].min()) + 2
    message = (
        f"{cells.path}: column 'date', row {row}: {day(cells.dates[t])} has no price for any "
        f"security; leave the date out{more(empty.size, 'such dates')}"
    )
    yield PriceProblem("EMPTY_DATE", message, "date", row, None, int(empty.size))


def _volumes(cells: PriceCells) -> Iterator[PriceProblem]:
    if cells.volume is None:
        return
    volume = cells.volume
    for t, j, count in _first_per_column(np.isinf(volume)):
        text = f"volume {volume[t, j]} is not finite; leave the cell empty where it is unknown"
        yield _cell_problem(cells, "NON_FINITE_VOLUME", t, j, count, text, "volume")
    for t, j, count in _first_per_column((volume < 0.0) & np.isfinite(volume)):
        text = f"volume {volume[t, j]:.10g} is negative; a volume is the shares traded, at least 0"
        yield _cell_problem(cells, "NEGATIVE_VOLUME", t, j, count, text, "volume")
