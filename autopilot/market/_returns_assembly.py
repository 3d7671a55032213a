"""Turning raw columns into a returns matrix, with every check of the file readers.

The readers in :mod:`autopilot.market.returns_io` hand over columns from a DataFrame (a
CSV file, a caller's frame) or straight from a Parquet file; both go through the same
checks here, so a file is refused for the same reason with the same message whatever its
format. The work is vectorised over whole columns or blocks of them: a 10,000-column file
costs a few passes over its matrix, never a Python loop per cell.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from autopilot.errors import InputError
from autopilot.market._tables import (
    Factorized,
    parse_dates,
    parse_distinct_dates,
    parse_numbers,
    refuse_empty,
    saved_index_columns,
)
from autopilot.stats.batch import CandidateBatch
from autopilot.stats.metrics import MISSING_REGIME

__all__ = [
    "LONG_GROUP_ROWS",
    "LongGroup",
    "LongGroups",
    "Progress",
    "WideColumns",
    "assemble_long",
    "assemble_wide",
    "encode_labels",
    "frame_columns",
    "frame_groups",
    "no_progress",
]

# A column is taken for percent or prices when this share of its values exceed 1 in size:
# a simple return beyond +-100 % in one bar is rare; in percent or prices it is the rule.
_LARGE_SHARE = 0.05
# Candidate columns converted per block: a block's scratch copy stays a few MB.
_BLOCK_COLUMNS = 256
# Rows of a long layout handled per group, bounding the scratch memory of a pass.
LONG_GROUP_ROWS = 1 << 20

# Called with (stage, steps done, steps) as a long read advances, e.g. ("reading", 3, 40).
Progress = Callable[[str, int, int], None]


def no_progress(stage: str, done: int, total: int) -> None:
    """The default progress callback: report nothing."""
    return None


# --------------------------------------------------------------------------- returns


def parse_returns(
    path: Path,
    values: pd.Series | np.ndarray,
    where: Callable[[int], str],
    returns_in: str = "decimal",
) -> np.ndarray:
    """One column of returns as float64, refused when it is not simple returns.

    ``values`` is a Series as read (text is parsed, and a cell that is not a number named)
    or a float64 array from a column typed as numbers.
    """
    result = _numbers(path, values, where)
    if returns_in == "percent":
        return result / 100.0
    share = float(_large_share(result))
    if share > _LARGE_SHARE:
        finite = result[np.isfinite(result)]
        first = where(int(np.flatnonzero(np.isfinite(result) & (np.abs(result) > 1.0))[0]))
        _refuse_large(path, first, share, float(np.median(np.abs(finite))), (finite > 0).all())
    return result


def _numbers(path: Path, values: pd.Series | np.ndarray, where: Callable[[int], str]) -> np.ndarray:
    """Cells as float64 (NaN where empty); a cell that is not a number is refused."""
    if isinstance(values, np.ndarray):  # from a column typed as float64: nothing to parse
        return values
    cells = parse_numbers(values)
    if cells.true_false.any():
        raise InputError(
            f"{path}: {where(int(np.flatnonzero(cells.true_false)[0]))}: a true/false value, "
            f"not a return; name the column in --ignore-columns if it is not a candidate"
        )
    if cells.not_number.any():
        row = int(np.flatnonzero(cells.not_number)[0])
        raise InputError(
            f"{path}: {where(row)}: return {values.iloc[row]!r} is not a number; "
            f"write simple returns such as 0.012 (leave the row out where not live)"
        )
    return cells.values


def _large_share(values: np.ndarray, axis: int | None = None) -> np.ndarray:
    """Share of the finite values beyond +-1 (along ``axis``); boolean scratch only."""
    finite = np.isfinite(values)
    large = np.count_nonzero(finite & ((values > 1.0) | (values < -1.0)), axis=axis)
    return np.asarray(large / np.maximum(np.count_nonzero(finite, axis=axis), 1))


def _refuse_large(path: Path, where: str, share: float, median: float, positive: bool) -> None:
    looks = "prices" if positive else "percent"
    raise InputError(
        f"{path}: {where}: {share:.0%} of these returns exceed 100 % in one bar (median "
        f"size {median:.3g}): they look like {looks}, not simple returns. Give "
        f"--returns-in percent if they are percent; name the column in --ignore-columns if "
        f"it is not a candidate"
    )


def _refuse_below(path: Path, where: str, value: float) -> None:
    raise InputError(
        f"{path}: {where}: return {value:.6g} is below -1, which would put equity below "
        f"zero; simple returns are at least -1 (a total loss)"
    )


def _refuse_below_minus_one(
    path: Path, matrix: np.ndarray, where: Callable[[int, int], str]
) -> None:
    below = matrix < -1.0
    if below.any():
        row, column = (int(i[0]) for i in np.nonzero(below))
        _refuse_below(path, where(row, column), float(matrix[row, column]))


def encode_labels(labels: pd.Series) -> tuple[np.ndarray, tuple[str, ...]]:
    """Regime labels as sorted codes and their names."""
    codes, names = pd.factorize(labels, sort=True)
    return np.asarray(codes, dtype=np.int64), tuple(str(n) for n in names)


# --------------------------------------------------------------------------- wide


@dataclass(frozen=True)
class WideColumns:
    """Where the wide assembler reads a file's columns from.

    Attributes
    ----------
    names : list of str
        Every column, in file order (``date``, candidates, optional ``regime``).
    column : callable
        One column by name, as a Series (dates, labels, and a refused column's values).
    numbers : callable
        The float64 values of several columns, in order; None for a column whose type is
        not a plain number (it then goes through :func:`parse_returns`).
    """

    names: list[str]
    column: Callable[[str], pd.Series]
    numbers: Callable[[list[str]], list[np.ndarray | None]]


def assemble_wide(
    path: Path,
    source: WideColumns,
    *,
    date_format: str | None,
    returns_in: str,
    on_progress: Progress = no_progress,
) -> CandidateBatch:
    """A batch from a wide layout: a ``date`` column, one column per candidate."""
    dates = parse_dates(path, source.column("date"), date_format)
    if dates.duplicated().any():
        first = dates[dates.duplicated()][0]
        raise InputError(f"{path}: date {first.date()} appears twice; keep one row per date")
    order = np.argsort(dates.to_numpy(), kind="stable")
    in_order = bool((order == np.arange(len(order))).all())
    dates = dates[order]
    strategies = [c for c in source.names if c not in ("date", "regime")]
    if not strategies:
        raise InputError(f"{path}: no strategy columns besides 'date'")
    index_like = saved_index_columns(strategies)
    if index_like:
        raise InputError(
            f"{path}: column {index_like[0]!r} looks like a saved index (pandas writes one "
            f"unless index=False), not a strategy; remove it or pass --ignore-columns "
            f"{index_like[0]!r}"
        )

    def where(name: str) -> Callable[[int], str]:
        """A cell of a column as the file holds it (rows in file order)."""
        return lambda row: f"column {name!r}, row {row + 2}"

    def where_sorted(name: str) -> Callable[[int], str]:
        """A cell of the matrix, whose rows are in date order."""
        return lambda row: f"column {name!r}, row {order[row] + 2}"

    matrix = np.empty((len(dates), len(strategies)), dtype=np.float64)
    blocks = range(0, len(strategies), _BLOCK_COLUMNS)
    for step, start in enumerate(blocks):
        names = strategies[start : start + _BLOCK_COLUMNS]
        block = np.empty((len(names), len(dates)), dtype=np.float64)
        for k, (name, values) in enumerate(zip(names, source.numbers(names), strict=True)):
            if values is None:  # text or another type: the column-wise path names the cell
                values = parse_returns(path, source.column(name), where(name), returns_in)
            elif returns_in == "percent":
                values = values / 100.0
            block[k] = values if in_order else values[order]
        if returns_in != "percent":
            suspect = np.flatnonzero(_large_share(block, axis=1) > _LARGE_SHARE)
            if suspect.size:  # its exact message, from the column as the file holds it
                name = names[int(suspect[0])]
                parse_returns(path, source.column(name), where(name), returns_in)
        matrix[:, start : start + len(names)] = block.T
        on_progress("reading", step + 1, len(blocks))
    _refuse_below_minus_one(path, matrix, lambda row, j: where_sorted(strategies[j])(row))
    labels = names_of_labels = None
    if "regime" in source.names:
        codes, names_of_labels = encode_labels(source.column("regime"))
        labels = codes[order]
    return CandidateBatch(matrix, strategies, dates, labels, names_of_labels)


# --------------------------------------------------------------------------- long


@dataclass(frozen=True)
class LongGroup:
    """Consecutive rows of a long layout, its ids, dates and regimes factorized.

    Attributes
    ----------
    start : int
        Position of its first row among the file's data rows.
    ids, dates : Factorized
        The ``strategy_id`` and ``date`` cells.
    returns : Series or ndarray, optional
        The ``return`` cells (an array when the file types them as float64); None in the
        first pass, which reads only ids and dates.
    regimes : Factorized, optional
        The ``regime`` cells, when the layout has them.
    """

    start: int
    ids: Factorized
    dates: Factorized
    returns: pd.Series | np.ndarray | None = None
    regimes: Factorized | None = None

    def __len__(self) -> int:
        return len(self.ids.codes)


# Yields a file's rows group by group, in file order, with the returns when asked.
LongGroups = Callable[[bool], Iterable[LongGroup]]


@dataclass
class _LongIndex:
    """What the first pass learns: the candidates, the dates, the regime names."""

    column_of: dict[str, int]
    strategies: list[str]
    distinct_dates: pd.Index
    row_of_date: np.ndarray
    dates: pd.DatetimeIndex
    regime_names: tuple[str, ...] | None
    regime_code_of: pd.Index | None


def assemble_long(
    path: Path,
    groups: LongGroups,
    n_groups: int,
    *,
    date_format: str | None,
    returns_in: str,
    on_progress: Progress = no_progress,
) -> CandidateBatch:
    """A batch from a long layout (one row per candidate and bar), read in two passes.

    The first pass reads ids and dates (the matrix's shape), the second places the
    returns; a group's scratch memory is all either holds beyond the matrix, so a file of
    25 million rows costs about its matrix, not several copies of its columns.

    Parameters
    ----------
    path : Path
        Names the data in messages.
    groups : callable
        ``groups(with_returns)`` yields the rows as :class:`LongGroup` in file order.
    n_groups : int
        How many groups it yields (for progress).
    date_format, returns_in : str
        As in :class:`~autopilot.market.returns_io.ReadOptions`.
    on_progress : callable
        Called with (stage, groups done, groups) in each pass.
    """
    index = _index_long(path, groups, n_groups, date_format, on_progress)
    n_rows, n_columns = len(index.dates), len(index.strategies)
    matrix = np.full((n_rows, n_columns), np.nan)
    flat = matrix.reshape(-1)
    seen = np.zeros(n_rows * n_columns, dtype=bool)
    label_matrix = None
    if index.regime_code_of is not None:
        label_matrix = np.full(matrix.shape, MISSING_REGIME, dtype=np.int64)
    checks = _ValueChecks()
    placed = 0
    for step, group in enumerate(groups(True)):
        cells = _group_cells(group, index, n_columns)
        assert group.returns is not None

        def where(row: int, group: LongGroup = group) -> str:
            name = str(group.ids.values.iloc[group.ids.codes[row]])
            return f"row {group.start + row + 2} (strategy {name!r})"

        values = _numbers(path, group.returns, where)
        if returns_in == "percent":
            values = values / 100.0
        checks.add(values, where)
        flat[cells] = values
        seen[cells] = True
        if label_matrix is not None and group.regimes is not None:
            assert index.regime_code_of is not None
            codes = index.regime_code_of.get_indexer(pd.Index(group.regimes.values))
            # Code -1 (no label in the cell) picks the appended MISSING_REGIME.
            codes = np.append(codes, MISSING_REGIME)
            label_matrix.reshape(-1)[cells] = codes[group.regimes.codes]
        placed += len(group)
        on_progress("arranging", step + 1, n_groups)
    if returns_in != "percent":
        checks.refuse_percent_or_prices(path, matrix)
    checks.refuse_below_minus_one(path)
    if np.count_nonzero(seen) != placed:
        _refuse_duplicate(path, groups, index, n_columns)
    if label_matrix is None:
        return CandidateBatch(matrix, index.strategies, index.dates)
    labels = _shared_if_consistent(label_matrix)
    return CandidateBatch(matrix, index.strategies, index.dates, labels, index.regime_names)


def _index_long(
    path: Path,
    groups: LongGroups,
    n_groups: int,
    date_format: str | None,
    on_progress: Progress,
) -> _LongIndex:
    column_of: dict[str, int] = {}
    strategies: list[str] = []
    raw_dates: list[pd.Series] = []
    raw_regimes: list[pd.Series] = []
    empty_id = empty_date = None
    for step, group in enumerate(groups(False)):
        ids, dates = group.ids, group.dates
        if empty_id is None and (ids.codes < 0).any():
            empty_id = group.start + int(np.flatnonzero(ids.codes < 0)[0])
        if empty_date is None and (dates.codes < 0).any():
            empty_date = group.start + int(np.flatnonzero(dates.codes < 0)[0])
        names = [str(v) for v in ids.values]
        for code in pd.unique(ids.codes[ids.codes >= 0]):  # candidates in order of appearance
            name = names[code]
            if not name.strip() and empty_id is None:
                empty_id = group.start + ids.first_row(int(code))
            if name not in column_of:
                column_of[name] = len(strategies)
                strategies.append(name)
        raw_dates.append(dates.values)
        if group.regimes is not None:
            raw_regimes.append(group.regimes.values)
        on_progress("reading", step + 1, n_groups)
    if empty_id is not None:
        raise InputError(f"{path}: row {empty_id + 2}: strategy_id is empty")
    refuse_empty(path, len(strategies))
    distinct = pd.Series(pd.unique(pd.concat(raw_dates, ignore_index=True)))

    def first_row(code: int) -> int:
        value = distinct.iloc[code]
        for group in groups(False):
            hit = np.flatnonzero(group.dates.values.to_numpy() == value)
            if hit.size:
                return group.start + group.dates.first_row(int(hit[0]))
        raise AssertionError(f"{value!r} was read in the first pass")

    parsed = parse_distinct_dates(path, distinct, first_row, empty_date, date_format)
    all_dates, row_of_date = np.unique(parsed.to_numpy(), return_inverse=True)
    regime_names = regime_code_of = None
    if raw_regimes:
        _, distinct_regimes = pd.factorize(pd.concat(raw_regimes, ignore_index=True), sort=True)
        regime_code_of = pd.Index(distinct_regimes)
        regime_names = tuple(str(n) for n in regime_code_of)
    return _LongIndex(
        column_of,
        strategies,
        pd.Index(distinct),
        np.asarray(row_of_date),
        pd.DatetimeIndex(all_dates),
        regime_names,
        regime_code_of,
    )


def _group_cells(group: LongGroup, index: _LongIndex, n_columns: int) -> np.ndarray:
    """Flat matrix positions of a group's rows."""
    columns = np.array([index.column_of[str(v)] for v in group.ids.values], dtype=np.intp)
    rows = index.row_of_date[index.distinct_dates.get_indexer(pd.Index(group.dates.values))]
    return rows[group.dates.codes] * n_columns + columns[group.ids.codes]


class _ValueChecks:
    """The checks of a long file's returns, gathered group by group and applied at the end."""

    def __init__(self) -> None:
        self.finite = self.large = 0
        self.all_positive = True
        self.first_large: str | None = None
        self.first_below: tuple[str, float] | None = None

    def add(self, values: np.ndarray, where: Callable[[int], str]) -> None:
        finite = np.isfinite(values)
        large = finite & ((values > 1.0) | (values < -1.0))
        self.finite += int(np.count_nonzero(finite))
        self.large += int(np.count_nonzero(large))
        self.all_positive &= bool((values[finite] > 0).all())
        if self.first_large is None and large.any():
            self.first_large = where(int(np.flatnonzero(large)[0]))
        below = values < -1.0
        if self.first_below is None and below.any():
            row = int(np.flatnonzero(below)[0])
            self.first_below = (where(row), float(values[row]))

    def refuse_percent_or_prices(self, path: Path, matrix: np.ndarray) -> None:
        share = self.large / max(self.finite, 1)
        if share <= _LARGE_SHARE or self.first_large is None:
            return
        median = float(np.median(np.abs(matrix[np.isfinite(matrix)])))
        _refuse_large(path, self.first_large, share, median, self.all_positive)

    def refuse_below_minus_one(self, path: Path) -> None:
        if self.first_below is not None:
            where, value = self.first_below
            _refuse_below(path, where, value)


def _refuse_duplicate(path: Path, groups: LongGroups, index: _LongIndex, n_columns: int) -> None:
    """Name the first row that repeats a strategy and date (only once one is known)."""
    seen = np.zeros(len(index.dates) * n_columns, dtype=bool)
    for group in groups(False):
        cells = _group_cells(group, index, n_columns)
        repeated = seen[cells] | pd.Series(cells).duplicated().to_numpy()
        if repeated.any():
            row = int(np.flatnonzero(repeated)[0])
            name = str(group.ids.values.iloc[group.ids.codes[row]])
            day = index.dates[cells[row] // n_columns].date()
            raise InputError(
                f"{path}: strategy {name!r} has two rows for {day}; "
                f"keep one return per strategy and date"
            )
        seen[cells] = True


def _shared_if_consistent(label_matrix: np.ndarray) -> np.ndarray:
    """Collapse per-candidate labels to one per date when every candidate agrees."""
    present = label_matrix >= 0
    high = np.where(present, label_matrix, -1).max(axis=1)
    low = np.where(present, label_matrix, np.iinfo(np.int64).max).min(axis=1)
    agree = (~present.any(axis=1)) | (high == low)
    if agree.all():
        return np.where(present.any(axis=1), high, MISSING_REGIME)
    return label_matrix


def frame_columns(frame: pd.DataFrame) -> WideColumns:
    """A DataFrame's columns for :func:`assemble_wide`."""

    def numbers(names: Iterable[str]) -> list[np.ndarray | None]:
        return [_series_numbers(frame[name]) for name in names]

    return WideColumns(list(frame.columns), lambda name: frame[name], numbers)


def _series_numbers(column: pd.Series) -> np.ndarray | None:
    if pd.api.types.is_bool_dtype(column) or not pd.api.types.is_numeric_dtype(column):
        return None
    return column.to_numpy(dtype=np.float64, na_value=np.nan)


def frame_groups(frame: pd.DataFrame) -> tuple[LongGroups, int]:
    """A long-layout DataFrame's rows as groups for :func:`assemble_long`."""
    starts = range(0, len(frame), LONG_GROUP_ROWS)

    def groups(with_returns: bool) -> Iterator[LongGroup]:
        for start in starts:
            part = frame.iloc[start : start + LONG_GROUP_ROWS]
            yield LongGroup(
                start,
                Factorized.of(part["strategy_id"]),
                Factorized.of(part["date"]),
                part["return"] if with_returns else None,
                Factorized.of(part["regime"]) if "regime" in part.columns else None,
            )

    return groups, len(starts)
