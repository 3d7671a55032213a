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

import csv
import datetime as dt
import gzip
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from autopilot.errors import InputError
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
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?")
# A column is taken for percent or prices when this share of its values exceed 1 in size:
# a simple return beyond +-100 % in one bar is rare; in percent or prices it is the rule.
_LARGE_SHARE = 0.05


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
    names = _csv_header(path) if suffixes.endswith((".csv", ".csv.gz")) else frame.columns
    names = [str(c).strip() for c in names]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InputError(
            f"{path}: column name(s) {repeated} appear more than once; which one holds the "
            f"data cannot be known: rename or remove the copies"
        )
    frame.columns = [str(c).strip() for c in frame.columns]
    if frame.empty:
        raise InputError(f"{path}: the file holds no rows")
    return frame


def _csv_header(path: Path) -> list[str]:
    """The header of a CSV file as written (pandas renames a repeated name to ``name.1``)."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rt", newline="") as handle:
        return next(csv.reader(handle), [])


def _parse_dates(path: Path, values: pd.Series, date_format: str | None = None) -> pd.DatetimeIndex:
    """Dates exactly as written: real dates, ISO text, or text in the format given."""
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = pd.to_datetime(values)
        if parsed.dt.tz is not None:
            parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
        return _refuse_missing_dates(path, values, pd.DatetimeIndex(parsed))
    # A long file repeats each date once per candidate: parse each distinct value once.
    codes, distinct = pd.factorize(values)
    unique = pd.Series(distinct)
    if len(unique) and unique.map(lambda v: isinstance(v, dt.date)).all():
        parsed_unique = pd.to_datetime(unique, errors="coerce")  # Parquet date32 values
    else:
        text = unique.astype(str).str.strip()
        if date_format is None:
            iso = text.str.fullmatch(_ISO_DATE.pattern).to_numpy(dtype=bool)
            if not iso.all():
                bad_value = unique.iloc[int(np.flatnonzero(~iso)[0])]
                row = int(np.flatnonzero((values == bad_value).to_numpy())[0])
                raise InputError(
                    f"{path}: column 'date', row {row + 2}: {str(values.iloc[row])!r} is not an "
                    f"ISO date (YYYY-MM-DD); dates are never guessed: give their format, "
                    f"e.g. --date-format %d/%m/%Y or --date-format %Y%m%d"
                )
            parsed_unique = pd.to_datetime(text, format="ISO8601", errors="coerce")
        else:
            parsed_unique = pd.to_datetime(text, format=date_format, errors="coerce")
    if (codes < 0).any():  # a missing date cell
        row = int(np.flatnonzero(codes < 0)[0])
        raise InputError(f"{path}: column 'date', row {row + 2}: empty; every row needs a date")
    dates = pd.DatetimeIndex(parsed_unique.to_numpy()[codes])
    return _refuse_missing_dates(path, values, dates, date_format)


def _refuse_missing_dates(
    path: Path, values: pd.Series, parsed: pd.DatetimeIndex, date_format: str | None = None
) -> pd.DatetimeIndex:
    bad = parsed.isna()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        expected = f"in the format {date_format!r}" if date_format else "a valid date"
        raise InputError(
            f"{path}: column 'date', row {row + 2}: {str(values.iloc[row])!r} is not {expected}"
        )
    return parsed


def _parse_returns(
    path: Path, values: pd.Series, where: Callable[[int], str], returns_in: str = "decimal"
) -> np.ndarray:
    numbers = pd.to_numeric(values, errors="coerce")
    bad = numbers.isna() & values.notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(
            f"{path}: {where(row)}: return {values.iloc[row]!r} is not a number; "
            f"write simple returns such as 0.012 (leave the row out where not live)"
        )
    result = numbers.to_numpy(dtype=np.float64)
    if returns_in == "percent":
        return result / 100.0
    finite = result[np.isfinite(result)]
    large = np.abs(finite) > 1.0
    if finite.size and large.mean() > _LARGE_SHARE:
        looks = "prices" if (finite > 0).all() else "percent"
        raise InputError(
            f"{path}: {where(int(np.flatnonzero(np.abs(result) > 1.0)[0]))}: "
            f"{large.mean():.0%} of these returns exceed 100 % in one bar (median size "
            f"{np.median(np.abs(finite)):.3g}): they look like {looks}, not simple returns. "
            f"Give --returns-in percent if they are percent; name the column in "
            f"--ignore-columns if it is not a candidate"
        )
    return result


def _refuse_below_minus_one(
    path: Path, matrix: np.ndarray, where: Callable[[int, int], str]
) -> None:
    below = matrix < -1.0
    if below.any():
        row, column = (int(i[0]) for i in np.nonzero(below))
        raise InputError(
            f"{path}: {where(row, column)}: return {matrix[row, column]:.6g} is below -1, "
            f"which would put equity below zero; simple returns are at least -1 (a total "
            f"loss)"
        )


def _encode_labels(labels: pd.Series) -> tuple[np.ndarray, tuple[str, ...]]:
    codes, names = pd.factorize(labels, sort=True)
    return codes.astype(np.int64), tuple(str(n) for n in names)


def read_candidates(
    path: str | Path,
    regimes: str | Path | None = None,
    options: ReadOptions | None = None,
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

    Raises
    ------
    InputError
        Naming the file, column, row or candidate at fault.
    """
    path = Path(path)
    options = options or ReadOptions()
    batch = batch_from_frame(read_table(path), options, source=path)
    if regimes is not None:
        labels, names = read_regimes(regimes, batch.dates, options.date_format)
        batch = CandidateBatch(batch.returns, batch.strategy_ids, batch.dates, labels, names)
    return batch


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
    missing = [c for c in options.ignore_columns if c not in frame.columns]
    if missing:
        raise InputError(f"{path}: --ignore-columns names {missing}, which the data does not have")
    frame = frame.drop(columns=list(options.ignore_columns))
    if all(c in frame.columns for c in _LONG_COLUMNS):
        return _from_long(path, frame, options)
    if "date" in frame.columns:
        return _from_wide(path, frame, options)
    raise InputError(
        f"{path}: expected a long layout with columns strategy_id, date, return[, regime] "
        f"or a wide layout with a 'date' column and one column per strategy; "
        f"found columns {list(frame.columns)[:10]}"
    )


def _from_long(path: Path, frame: pd.DataFrame, options: ReadOptions) -> CandidateBatch:
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
    dates = _parse_dates(path, frame["date"], options.date_format)

    def where(row: int) -> str:
        return f"row {row + 2} (strategy {ids.iloc[row]!r})"

    returns = _parse_returns(path, frame["return"], where, options.returns_in)
    _refuse_below_minus_one(path, returns.reshape(-1, 1), lambda row, _: where(row))
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


def _from_wide(path: Path, frame: pd.DataFrame, options: ReadOptions) -> CandidateBatch:
    dates = _parse_dates(path, frame["date"], options.date_format)
    if dates.duplicated().any():
        first = dates[dates.duplicated()][0]
        raise InputError(f"{path}: date {first.date()} appears twice; keep one row per date")
    order = np.argsort(dates.to_numpy(), kind="stable")
    frame = frame.iloc[order]
    dates = dates[order]
    strategies = [c for c in frame.columns if c not in ("date", "regime")]
    if not strategies:
        raise InputError(f"{path}: no strategy columns besides 'date'")
    index_like = [c for c in strategies if c.startswith("Unnamed:") or c in ("", "index")]
    if index_like:
        raise InputError(
            f"{path}: column {index_like[0]!r} looks like a saved index (pandas writes one "
            f"unless index=False), not a strategy; remove it or pass --ignore-columns "
            f"{index_like[0]!r}"
        )

    def where(name: object) -> Callable[[int], str]:
        return lambda row: f"column {name!r}, row {order[row] + 2}"

    columns = [_parse_returns(path, frame[s], where(s), options.returns_in) for s in strategies]
    matrix = np.column_stack(columns)
    _refuse_below_minus_one(path, matrix, lambda row, j: where(strategies[j])(row))
    labels = names = None
    if "regime" in frame.columns:
        codes, names = _encode_labels(frame["regime"])
        labels = codes
    return CandidateBatch(matrix, strategies, dates, labels, names)


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
    label_dates = _parse_dates(path, frame["date"], date_format)
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
