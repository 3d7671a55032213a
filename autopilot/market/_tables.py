"""What every reader of a tabular input file shares (returns, regimes, prices, securities).

Opening a CSV or Parquet file with errors that name it, identifiers read as the text
written, dates exactly as written (real dates, ISO text, or text in a format the user
gives), cells as numbers with the cells that are not named, and the refusals of column
names that cannot be data: a name that repeats, a saved index, an ignored column the file
does not have. The returns reader (:mod:`autopilot.market.returns_io`) and the price reader
(:mod:`autopilot.market.prices_io`) both go through these, so a file is refused for the
same reason with the same words whichever reader opens it.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from autopilot.errors import InputError

__all__ = [
    "Factorized",
    "NumberCells",
    "check_ignored",
    "csv_header",
    "is_csv",
    "is_parquet",
    "parse_dates",
    "parse_distinct_dates",
    "parse_numbers",
    "read_frame",
    "refuse_empty",
    "refuse_repeated_names",
    "saved_index_columns",
]

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?")
# pandas' documented default missing-value markers, kept for every CSV column but the ids.
_MISSING_MARKERS = (
    *("", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND"),
    *("1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"),
)


@dataclass(frozen=True)
class Factorized:
    """A column as codes into its distinct values (``-1`` where a cell is empty).

    Attributes
    ----------
    codes : ndarray of int
        One code per row.
    values : Series
        The distinct raw values, in order of first appearance for ids.
    """

    codes: np.ndarray
    values: pd.Series

    @classmethod
    def of(cls, column: pd.Series) -> Factorized:
        """Factorize a column (hashing; a long file repeats each value many times)."""
        codes, distinct = pd.factorize(column)
        return cls(np.asarray(codes), pd.Series(distinct))

    def first_row(self, code: int) -> int:
        """The first row holding ``code`` (used to name the row of a refused value)."""
        return int(np.flatnonzero(self.codes == code)[0])


# --------------------------------------------------------------------------- files


def is_parquet(path: Path) -> bool:
    """Whether ``path`` names a Parquet file (``.parquet`` or ``.pq``)."""
    return "".join(path.suffixes[-2:]).lower().endswith((".parquet", ".pq"))


def is_csv(path: Path) -> bool:
    """Whether ``path`` names a CSV file (``.csv`` or ``.csv.gz``)."""
    return "".join(path.suffixes[-2:]).lower().endswith((".csv", ".csv.gz"))


def csv_header(path: Path) -> list[str]:
    """The header of a CSV file as written (pandas renames a repeated name to ``name.1``)."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rt", newline="") as handle:
        return next(csv.reader(handle), [])


def read_frame(path: Path, id_columns: Sequence[str]) -> pd.DataFrame:
    """Read a Parquet or CSV file whole, with errors that name the file.

    Parameters
    ----------
    path : Path
        The file.
    id_columns : sequence of str
        Columns of identifiers, read from CSV as the text written: a ticker ``NA`` stays
        ``"NA"`` and a permno ``007`` stays ``"007"`` (pandas would read them as missing
        and as the number 7); only an empty cell is missing.

    Raises
    ------
    InputError
        When the file is missing, of another type, unreadable, has a repeated column name
        or no rows.
    """
    if not path.exists():
        raise InputError(f"{path}: file not found")
    try:
        if is_parquet(path):
            frame = pd.read_parquet(path)
        elif is_csv(path):
            frame = _read_csv(path, id_columns)
        else:
            raise InputError(f"{path}: unsupported file type; use .parquet or .csv")
    except InputError:
        raise
    except Exception as exc:
        raise InputError(f"{path}: cannot read: {type(exc).__name__}: {exc}") from exc
    names = csv_header(path) if is_csv(path) else frame.columns
    refuse_repeated_names(path, [str(c).strip() for c in names])
    frame.columns = [str(c).strip() for c in frame.columns]
    refuse_empty(path, len(frame))
    return frame


def _read_csv(path: Path, id_columns: Sequence[str]) -> pd.DataFrame:
    header = csv_header(path)
    ids = [c for c in header if c.strip() in id_columns]
    frame = pd.read_csv(
        path,
        dtype=dict.fromkeys(ids, str),
        keep_default_na=False,
        na_values={c: list(_MISSING_MARKERS) for c in header if c not in ids},
    )
    for column in ids:  # only an empty id cell is missing
        frame[column] = frame[column].mask(frame[column].str.strip() == "")
    return frame


# --------------------------------------------------------------------------- column names


def refuse_repeated_names(path: Path, names: Iterable[str]) -> None:
    """Refuse a file whose column names (stripped) repeat: which copy is data is unknown."""
    repeated = sorted(n for n, count in Counter(names).items() if count > 1)
    if repeated:
        raise InputError(
            f"{path}: column name(s) {repeated} appear more than once; which one holds the "
            f"data cannot be known: rename or remove the copies"
        )


def refuse_empty(path: Path, n_rows: int) -> None:
    """Refuse a file without data rows."""
    if n_rows == 0:
        raise InputError(f"{path}: the file holds no rows")


def saved_index_columns(names: Iterable[str]) -> list[str]:
    """Columns that look like an index pandas saved (``Unnamed: 0``, ``index``), not data."""
    return [c for c in names if c.startswith(("Unnamed:", "__index_level_")) or c in ("", "index")]


def check_ignored(path: Path, names: Sequence[str], ignore_columns: Sequence[str]) -> None:
    """Refuse ``--ignore-columns`` naming a column the data does not have (a typo)."""
    missing = [c for c in ignore_columns if c not in names]
    if missing:
        raise InputError(f"{path}: --ignore-columns names {missing}, which the data does not have")


# --------------------------------------------------------------------------- dates


def parse_dates(path: Path, values: pd.Series, date_format: str | None) -> pd.DatetimeIndex:
    """Dates exactly as written: real dates, ISO text, or text in the format given."""
    dates = Factorized.of(values)
    empty = np.flatnonzero(dates.codes < 0)
    parsed = parse_distinct_dates(
        path, dates.values, dates.first_row, int(empty[0]) if empty.size else None, date_format
    )
    return pd.DatetimeIndex(parsed.to_numpy()[dates.codes])


def parse_distinct_dates(
    path: Path,
    distinct: pd.Series,
    first_row: Callable[[int], int],
    empty_row: int | None,
    date_format: str | None,
) -> pd.DatetimeIndex:
    """Parse each distinct date once; a refused value is named with its first row.

    ``first_row(k)`` is the first data row holding ``distinct[k]``; ``empty_row`` the first
    row without a date, if any.
    """
    if pd.api.types.is_datetime64_any_dtype(distinct):
        parsed = pd.DatetimeIndex(distinct)
        if parsed.tz is not None:
            parsed = parsed.tz_convert("UTC").tz_localize(None)
    elif len(distinct) and distinct.map(lambda v: isinstance(v, dt.date)).all():
        parsed = pd.DatetimeIndex(pd.to_datetime(distinct, errors="coerce"))  # date32 values
    else:
        text = distinct.astype(str).str.strip()
        if date_format is None:
            iso = text.str.fullmatch(_ISO_DATE.pattern).to_numpy(dtype=bool)
            if not iso.all():
                code = int(np.flatnonzero(~iso)[0])
                raise InputError(
                    f"{path}: column 'date', row {first_row(code) + 2}: "
                    f"{str(distinct.iloc[code])!r} is not an ISO date (YYYY-MM-DD); dates are "
                    f"never guessed: give their format, e.g. --date-format %d/%m/%Y or "
                    f"--date-format %Y%m%d"
                )
            parsed = pd.DatetimeIndex(pd.to_datetime(text, format="ISO8601", errors="coerce"))
        else:
            parsed = pd.DatetimeIndex(pd.to_datetime(text, format=date_format, errors="coerce"))
    if empty_row is not None:
        raise InputError(
            f"{path}: column 'date', row {empty_row + 2}: empty; every row needs a date"
        )
    if parsed.isna().any():
        code = int(np.flatnonzero(parsed.isna())[0])
        expected = f"in the format {date_format!r}" if date_format else "a valid date"
        raise InputError(
            f"{path}: column 'date', row {first_row(code) + 2}: "
            f"{str(distinct.iloc[code])!r} is not {expected}"
        )
    return parsed


# --------------------------------------------------------------------------- numbers


@dataclass(frozen=True)
class NumberCells:
    """A column's cells as float64, with the cells that could not be numbers marked.

    Attributes
    ----------
    values : ndarray of float64
        NaN where a cell is empty or refused.
    true_false : ndarray of bool
        Cells holding a bool (pandas turns them into 1.0 and 0.0 when it parses numbers).
    not_number : ndarray of bool
        Cells holding something else that is not a number (text such as ``'abc'``).
    """

    values: np.ndarray
    true_false: np.ndarray
    not_number: np.ndarray


def parse_numbers(values: pd.Series) -> NumberCells:
    """A column as read (numbers, text, bools) as float64, marking the cells that are not."""
    flags = _true_false_cells(values)
    numbers = pd.to_numeric(values, errors="coerce")
    bad = (numbers.isna() & values.notna()).to_numpy(dtype=bool) & ~flags
    result = numbers.to_numpy(dtype=np.float64, na_value=np.nan)
    if flags.any():
        result = np.where(flags, np.nan, result)
    return NumberCells(result, flags, bad)


def _true_false_cells(values: pd.Series) -> np.ndarray:
    """Cells holding a bool (pandas turns them into 1.0 and 0.0 when it parses numbers)."""
    if pd.api.types.is_bool_dtype(values):
        return values.notna().to_numpy(dtype=bool)
    if values.dtype != object:
        return np.zeros(len(values), dtype=bool)
    return values.map(lambda v: isinstance(v, bool | np.bool_)).to_numpy(dtype=bool)
