"""Reading candidate returns and regime labels from Parquet or CSV files.

Two layouts are accepted:

* long: columns ``strategy_id, date, return`` and optionally ``regime``, one row per
  candidate and bar;
* wide: a ``date`` column, one numeric column per candidate, optionally ``regime``.

A candidate missing a row in the middle of its track record gets an interior NaN, which
the gate set reports as ``GAP_IN_RETURNS``; nothing is filled in silently.

Nothing is guessed either (:class:`ReadOptions` states the intent when a file needs it):

* dates are real date or datetime columns, or ISO text (``2024-01-31``); any other text
  or a number like ``20240131`` needs an explicit ``date_format``, and a value that does
  not match it is refused with its row;
* in the wide layout every column but ``date`` and ``regime`` is a candidate: a saved
  index (``Unnamed: 0``), a repeated name or a column that is not returns is refused,
  unless it is named in ``ignore_columns``;
* returns are simple returns: one below -1 (equity below zero) is refused, and a column
  that looks like percent or prices is refused unless ``returns_in="percent"`` says it is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from autopilot.errors import InputError
from autopilot.market._returns_assembly import (
    LongGroups,
    Progress,
    WideColumns,
    assemble_long,
    assemble_wide,
    encode_labels,
    frame_columns,
    frame_groups,
    no_progress,
)
from autopilot.market._tables import (
    check_ignored,
    is_parquet,
    parse_dates,
    read_frame,
    refuse_repeated_names,
)
from autopilot.sdk.params import Param
from autopilot.stats.batch import CandidateBatch
from autopilot.stats.metrics import MISSING_REGIME

__all__ = [
    "ReadOptions",
    "batch_from_frame",
    "check_bar_spacing",
    "read_candidates",
    "read_regimes",
    "read_security_table",
    "read_table",
]

_LONG_COLUMNS = ("strategy_id", "date", "return")
# Columns of identifiers, read from CSV as the text written: a ticker NA stays "NA" and a
# permno 007 stays "007" (pandas would read them as missing and as the number 7).
_ID_COLUMNS = ("strategy_id", "security_id")


@dataclass(frozen=True)
class ReadOptions:
    """What a returns file's reader must be told rather than guess.

    Attributes
    ----------
    date_format : str, optional
        ``strftime`` format of text (or integer) dates that are not ISO, e.g. ``%d/%m/%Y``
        or ``%Y%m%d``.
    returns_in : {"decimal", "percent"}
        ``percent``: the file's returns are in percent (1.2 means 1.2 %); they are divided
        by 100.
    ignore_columns : tuple of str
        Wide-layout columns that are not candidates (a saved index, a volume column).
    """

    date_format: str | None = None
    returns_in: str = "decimal"
    ignore_columns: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.returns_in not in ("decimal", "percent"):
            raise InputError(f"returns_in must be 'decimal' or 'percent', was {self.returns_in!r}")


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a Parquet or CSV file, with errors that name the file."""
    return read_frame(Path(path), _ID_COLUMNS)


def read_candidates(
    path: str | Path,
    regimes: str | Path | None = None,
    options: ReadOptions | None = None,
    *,
    on_progress: Progress = no_progress,
) -> CandidateBatch:
    """Read a returns file (long or wide layout) into a :class:`CandidateBatch`.

    Parameters
    ----------
    path : str or Path
        Parquet or CSV file.
    regimes : str or Path, optional
        A file with ``date, regime`` columns; it replaces any ``regime`` column of ``path``.
    options : ReadOptions, optional
        The date format, the unit of the returns and the columns that are not candidates,
        when the file needs them said.
    on_progress : callable, optional
        Called with ``(stage, steps done, steps)`` as a large file is read.

    Raises
    ------
    InputError
        Naming the file, column, row or candidate at fault.
    """
    path = Path(path)
    options = options or ReadOptions()
    if is_parquet(path) and path.exists():
        batch = _read_parquet(path, options, on_progress)
    else:
        batch = batch_from_frame(read_table(path), options, source=path)
    if regimes is not None:
        labels, names = read_regimes(regimes, batch.dates, options.date_format)
        batch = CandidateBatch(batch.returns, batch.strategy_ids, batch.dates, labels, names)
    return batch


def _read_parquet(path: Path, options: ReadOptions, on_progress: Progress) -> CandidateBatch:
    # Imported here: pyarrow is needed only by this path.
    from autopilot.market._parquet_columns import ParquetColumns

    source = ParquetColumns(path)
    _check_ignored(path, source.names, options)
    names = [n for n in source.names if n not in options.ignore_columns]
    return _assemble(path, names, source.long, lambda: source.wide(names), options, on_progress)


def _assemble(
    path: Path,
    names: list[str],
    long: Callable[[], tuple[LongGroups, int]],
    wide: Callable[[], WideColumns],
    options: ReadOptions,
    on_progress: Progress = no_progress,
) -> CandidateBatch:
    """The batch of either layout, from a file's or a frame's columns (``names``)."""
    if _is_long(names):
        _check_long_columns(path, names)
        groups, n_groups = long()
        return assemble_long(
            path,
            groups,
            n_groups,
            date_format=options.date_format,
            returns_in=options.returns_in,
            on_progress=on_progress,
        )
    _check_wide_columns(path, names)
    return assemble_wide(
        path,
        wide(),
        date_format=options.date_format,
        returns_in=options.returns_in,
        on_progress=on_progress,
    )


def batch_from_frame(
    frame: pd.DataFrame, options: ReadOptions | None = None, *, source: str | Path = "<frame>"
) -> CandidateBatch:
    """A :class:`CandidateBatch` from a DataFrame, with exactly the checks of a file.

    Parameters
    ----------
    frame : DataFrame
        Long (``strategy_id, date, return[, regime]``) or wide (``date``, one column per
        candidate, optional ``regime``) layout, as in a returns file.
    options : ReadOptions, optional
        Date format, unit of the returns, columns that are not candidates.
    source : str or Path
        How messages name the data.

    Raises
    ------
    InputError
        Naming the column, row or candidate at fault.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"date": ["2024-01-02", "2024-01-03"], "a": [0.01, -0.02]})
    >>> batch_from_frame(frame).strategy_ids
    ('a',)
    """
    path = Path(source)
    options = options or ReadOptions()
    frame = frame.rename(columns=lambda c: str(c).strip())
    refuse_repeated_names(path, list(frame.columns))
    _check_ignored(path, list(frame.columns), options)
    frame = frame.drop(columns=list(options.ignore_columns))
    return _assemble(
        path,
        list(frame.columns),
        lambda: frame_groups(frame),
        lambda: frame_columns(frame),
        options,
    )


def _check_ignored(path: Path, names: list[str], options: ReadOptions) -> None:
    check_ignored(path, names, options.ignore_columns)


def _is_long(names: list[str]) -> bool:
    return all(c in names for c in _LONG_COLUMNS)


def _check_long_columns(path: Path, names: list[str]) -> None:
    unknown = set(names) - {*_LONG_COLUMNS, "regime"}
    if unknown:
        raise InputError(
            f"{path}: unexpected columns {sorted(unknown)}; the long layout has "
            f"strategy_id, date, return and optionally regime"
        )


def _check_wide_columns(path: Path, names: list[str]) -> None:
    if "date" not in names:
        raise InputError(
            f"{path}: expected a long layout with columns strategy_id, date, return[, regime] "
            f"or a wide layout with a 'date' column and one column per strategy; "
            f"found columns {names[:10]}"
        )


def check_bar_spacing(
    dates: pd.DatetimeIndex | None, periods_per_year: int, source: str | Path
) -> None:
    """Refuse bars whose spacing contradicts ``periods_per_year`` (weekly bars read as daily).

    The file's own rate is its bars per calendar year, ``(n - 1) / span``; it must be within
    a factor 1.5 of ``periods_per_year`` (a daily equity file has about 252, a weekly one
    52, a monthly one 12). An environment with ``irregular_bars: true`` skips the check.

    Raises
    ------
    InputError
        Naming both rates and the setting that matches the file.
    """
    if dates is None or len(dates) < 3:
        return
    span_years = (dates[-1] - dates[0]).days / 365.25
    if span_years <= 0:
        return
    measured = (len(dates) - 1) / span_years
    if 1 / 1.5 <= measured / periods_per_year <= 1.5:
        return
    nearest = min((252, 52, 12, 4, 1), key=lambda p: abs(np.log(measured / p)))
    raise InputError(
        f"{source}: its bars come about {measured:.0f} times a year ({len(dates)} dates "
        f"from {dates[0].date()} to {dates[-1].date()}), but the environment's "
        f"periods_per_year is {periods_per_year}: every annualised figure would be wrong. "
        f"Use an environment with periods_per_year: {nearest} for this file, or set "
        f"irregular_bars: true if its bars have no fixed spacing."
    )


def read_regimes(
    path: str | Path, dates: pd.DatetimeIndex | None, date_format: str | None = None
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Read ``date, regime`` labels and align them to ``dates`` (-1 where a date has none)."""
    path = Path(path)
    frame = read_table(path)
    missing = {"date", "regime"} - set(frame.columns)
    if missing:
        raise InputError(
            f"{path}: missing column(s) {sorted(missing)}; a regime file has columns date, regime"
        )
    if dates is None:
        raise InputError(f"{path}: the returns have no dates to align regime labels to")
    label_dates = parse_dates(path, frame["date"], date_format)
    if label_dates.duplicated().any():
        first = label_dates[label_dates.duplicated()][0]
        raise InputError(f"{path}: date {first.date()} has two regime labels")
    codes, names = encode_labels(frame["regime"])
    aligned = np.full(len(dates), MISSING_REGIME, dtype=np.int64)
    position = label_dates.get_indexer(dates)
    found = position >= 0
    aligned[found] = codes[position[found]]
    return aligned, names


def read_security_table(
    path: str | Path,
    columns: tuple[str, ...],
    optional: tuple[str, ...] = (),
    constraints: Mapping[str, Param] | None = None,
) -> dict[str, dict[str, float]]:
    """Numeric columns of a file keyed by ``security_id``, as ``{column: {security: value}}``.

    Parameters
    ----------
    path : str or Path
        Parquet or CSV file with a ``security_id`` column.
    columns : tuple of str
        Required numeric columns.
    optional : tuple of str
        Numeric columns read when present.
    constraints : mapping of column to Param, optional
        Declared constraint of a column's values.

    An empty cell is refused in a required column; in an optional one it is left out (the
    reader of the mapping applies its documented default).

    Raises
    ------
    InputError
        On a missing column, a repeated security, a value that is not a number or one that
        breaks its constraint, naming the file, row and column.
    """
    path = Path(path)
    frame = read_table(path)
    missing = [c for c in ("security_id", *columns) if c not in frame.columns]
    if missing:
        raise InputError(
            f"{path}: missing column(s) {missing}; expected security_id, {', '.join(columns)}"
        )
    missing_ids = frame["security_id"].isna().to_numpy()
    if missing_ids.any():
        row = int(np.flatnonzero(missing_ids)[0])
        raise InputError(
            f"{path}: row {row + 2}, column 'security_id': empty (or a missing-value marker "
            f"such as NA); every row needs its security"
        )
    if frame["security_id"].duplicated().any():
        first = frame["security_id"][frame["security_id"].duplicated()].iloc[0]
        raise InputError(f"{path}: security {first!r} appears twice")
    ids = frame["security_id"].astype(str)
    result = {}
    for column in (*columns, *(c for c in optional if c in frame.columns)):
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = values.isna() & frame[column].notna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(
                f"{path}: row {row + 2}, column {column!r}: "
                f"{frame[column].iloc[row]!r} is not a number"
            )
        empty = values.isna().to_numpy()
        if column in columns and empty.any():
            row = int(np.flatnonzero(empty)[0])
            raise InputError(
                f"{path}: row {row + 2}, column {column!r}: empty; every row needs a "
                f"{column} (nothing is assumed for a missing one)"
            )
        result[column] = {sid: float(v) for sid, v in zip(ids, values, strict=True) if v == v}
        param = (constraints or {}).get(column)
        if param is not None:
            _check_column(path, column, param, ids, result[column])
    return result


def _check_column(
    path: Path, column: str, param: Param, ids: pd.Series, values: Mapping[str, float]
) -> None:
    for row, sid in enumerate(ids):
        if sid not in values:
            continue
        problem = param.violation(values[sid])
        if problem is not None:
            raise InputError(
                f"{path}: row {row + 2}, column {column!r}: the {column} of security {sid!r} "
                f"{problem}."
            )
