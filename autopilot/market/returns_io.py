"""Reading candidate returns and regime labels from Parquet or CSV files.

Two layouts are accepted:

* long: columns ``strategy_id, date, return`` and optionally ``regime``, one row per
  candidate and bar;
* wide: a ``date`` column, one numeric column per candidate, optionally ``regime``.

A candidate missing a row in the middle of its track record gets an interior NaN, which
the gate set reports as ``GAP_IN_RETURNS``; nothing is filled in silently.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from autopilot.errors import InputError
from autopilot.sdk.params import Param
from autopilot.stats.batch import CandidateBatch
from autopilot.stats.metrics import MISSING_REGIME

__all__ = ["read_candidates", "read_regimes", "read_security_table", "read_table"]

_LONG_COLUMNS = ("strategy_id", "date", "return")


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a Parquet or CSV file, with errors that name the file."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found")
    suffixes = "".join(path.suffixes[-2:]).lower()
    try:
        if suffixes.endswith((".parquet", ".pq")):
            frame = pd.read_parquet(path)
        elif suffixes.endswith((".csv", ".csv.gz")):
            frame = pd.read_csv(path)
        else:
            raise InputError(f"{path}: unsupported file type; use .parquet or .csv")
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"{path}: cannot read: {type(exc).__name__}: {exc}") from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.empty:
        raise InputError(f"{path}: the file holds no rows")
    return frame


def _parse_dates(path: Path, values: pd.Series) -> pd.DatetimeIndex:
    parsed = pd.to_datetime(values, errors="coerce")
    bad = parsed.isna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(
            f"{path}: column 'date', row {row + 2}: cannot parse {values.iloc[row]!r} as a date; "
            f"use ISO dates such as 2024-01-31"
        )
    return pd.DatetimeIndex(parsed)


def _parse_returns(path: Path, values: pd.Series, where: Callable[[int], str]) -> np.ndarray:
    numbers = pd.to_numeric(values, errors="coerce")
    bad = numbers.isna() & values.notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(
            f"{path}: {where(row)}: return {values.iloc[row]!r} is not a number; "
            f"write simple returns such as 0.012 (leave the row out where not live)"
        )
    return numbers.to_numpy(dtype=np.float64)


def _encode_labels(labels: pd.Series) -> tuple[np.ndarray, tuple[str, ...]]:
    codes, names = pd.factorize(labels, sort=True)
    return codes.astype(np.int64), tuple(str(n) for n in names)


def read_candidates(path: str | Path, regimes: str | Path | None = None) -> CandidateBatch:
    """Read a returns file (long or wide layout) into a :class:`CandidateBatch`.

    Parameters
    ----------
    path : str or Path
        Parquet or CSV file.
    regimes : str or Path, optional
        A file with ``date, regime`` columns; it replaces any ``regime`` column of ``path``.

    Raises
    ------
    InputError
        Naming the file, column, row or candidate at fault.
    """
    path = Path(path)
    frame = read_table(path)
    if all(c in frame.columns for c in _LONG_COLUMNS):
        batch = _from_long(path, frame)
    elif "date" in frame.columns:
        batch = _from_wide(path, frame)
    else:
        raise InputError(
            f"{path}: expected a long layout with columns strategy_id, date, return[, regime] "
            f"or a wide layout with a 'date' column and one column per strategy; "
            f"found columns {list(frame.columns)[:10]}"
        )
    if regimes is not None:
        labels, names = read_regimes(regimes, batch.dates)
        batch = CandidateBatch(batch.returns, batch.strategy_ids, batch.dates, labels, names)
    return batch


def _from_long(path: Path, frame: pd.DataFrame) -> CandidateBatch:
    unknown = set(frame.columns) - {*_LONG_COLUMNS, "regime"}
    if unknown:
        raise InputError(
            f"{path}: unexpected columns {sorted(unknown)}; the long layout has "
            f"strategy_id, date, return and optionally regime"
        )
    ids = frame["strategy_id"]
    if ids.isna().any():
        row = int(np.flatnonzero(ids.isna().to_numpy())[0])
        raise InputError(f"{path}: row {row + 2}: strategy_id is empty")
    ids = ids.astype(str)
    dates = _parse_dates(path, frame["date"])
    returns = _parse_returns(
        path, frame["return"], lambda r: f"row {r + 2} (strategy {ids.iloc[r]!r})"
    )
    keys = pd.DataFrame({"strategy_id": ids.to_numpy(), "date": dates})
    duplicated = keys.duplicated()
    if duplicated.any():
        row = int(np.flatnonzero(duplicated.to_numpy())[0])
        raise InputError(
            f"{path}: strategy {ids.iloc[row]!r} has two rows for {dates[row].date()}; "
            f"keep one return per strategy and date"
        )
    all_dates = pd.DatetimeIndex(np.unique(dates.to_numpy()))
    strategies = pd.Index(pd.unique(ids.to_numpy()))
    rows = all_dates.get_indexer(pd.Index(dates))
    cols = strategies.get_indexer(pd.Index(ids))
    matrix = np.full((len(all_dates), len(strategies)), np.nan)
    matrix[rows, cols] = returns
    labels = names = None
    if "regime" in frame.columns:
        codes, names = _encode_labels(frame["regime"])
        label_matrix = np.full(matrix.shape, MISSING_REGIME, dtype=np.int64)
        label_matrix[rows, cols] = codes
        labels = _shared_if_consistent(label_matrix, matrix)
    return CandidateBatch(matrix, [str(s) for s in strategies], all_dates, labels, names)


def _shared_if_consistent(label_matrix: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Collapse per-candidate labels to one per date when every candidate agrees."""
    present = label_matrix >= 0
    high = np.where(present, label_matrix, -1).max(axis=1)
    low = np.where(present, label_matrix, np.iinfo(np.int64).max).min(axis=1)
    agree = (~present.any(axis=1)) | (high == low)
    if agree.all():
        return np.where(present.any(axis=1), high, MISSING_REGIME)
    return label_matrix


def _from_wide(path: Path, frame: pd.DataFrame) -> CandidateBatch:
    dates = _parse_dates(path, frame["date"])
    if dates.duplicated().any():
        first = dates[dates.duplicated()][0]
        raise InputError(f"{path}: date {first.date()} appears twice; keep one row per date")
    order = np.argsort(dates.to_numpy(), kind="stable")
    frame = frame.iloc[order]
    dates = dates[order]
    strategies = [c for c in frame.columns if c not in ("date", "regime")]
    if not strategies:
        raise InputError(f"{path}: no strategy columns besides 'date'")

    def where(name: object) -> Callable[[int], str]:
        return lambda row: f"column {name!r}, row {order[row] + 2}"

    columns = [_parse_returns(path, frame[s], where(s)) for s in strategies]
    matrix = np.column_stack(columns)
    labels = names = None
    if "regime" in frame.columns:
        codes, names = _encode_labels(frame["regime"])
        labels = codes
    return CandidateBatch(matrix, strategies, dates, labels, names)


def read_regimes(
    path: str | Path, dates: pd.DatetimeIndex | None
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
    label_dates = _parse_dates(path, frame["date"])
    if label_dates.duplicated().any():
        first = label_dates[label_dates.duplicated()][0]
        raise InputError(f"{path}: date {first.date()} has two regime labels")
    codes, names = _encode_labels(frame["regime"])
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
