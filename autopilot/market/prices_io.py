"""Price panels: the embedded S&P 500 panel or a user's own, read exactly right or refused.

A :class:`PricePanel` holds daily (or any other bar) closes of ``N`` securities on ``T``
dates, and optionally their volumes. :meth:`PricePanel.bundled` is the embedded panel (20
S&P 500 stocks, 1990-2022; the index stays separate, see
:func:`autopilot.market.bundled.load_index`); :func:`read_prices` reads a user's file.

Two layouts, Parquet or CSV:

* wide: a ``date`` column and one column of closes per security (closes only);
* long: ``date``, exactly one id column (``security``, ``ticker`` or ``permno``), ``close``
  and optionally ``volume``, one row per security and date. Ids are read as the text
  written: a permno ``007`` or a ticker ``NA`` stays as it is.

Dates, repeated column names, a saved index and ``ignore_columns`` are handled exactly as
the returns reader handles them. A price file is refused, naming the file, column and row,
for any of: a price that is not a number, not finite or not positive; a missing price
between a security's first and last price (a fill would be a guess); a date given twice,
or dates that do not increase down the file (they are not sorted for you); a security with
fewer than ``min_history`` prices; a date with no price at all; a negative or infinite
volume; a ``volume`` column in the wide layout, or a column that is not part of the layout.
:func:`check_prices` collects every such problem instead of stopping at the first.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from autopilot.errors import InputError
from autopilot.market._price_checks import PriceCells, PriceProblem, check_cells, day
from autopilot.market._price_reading import read_cells
from autopilot.market.bundled import load_prices

__all__ = ["PricePanel", "PriceProblem", "PriceReport", "check_prices", "read_prices"]

logger = logging.getLogger(__name__)

_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?")
DEFAULT_MIN_HISTORY = 2


@dataclass(frozen=True, eq=False, repr=False)
class PricePanel:
    """Closes (and optionally volumes) of securities on sorted dates; immutable.

    Parameters
    ----------
    dates : DatetimeIndex
        ``T`` dates, sorted and unique, without a time zone.
    securities : tuple of str
        ``N`` distinct, non-empty security ids (tickers or permnos as text).
    close : ndarray
        ``T x N`` closes (float64, stored C-ordered and read-only). Every close is finite
        and positive; NaN only before a security's first price or after its last, never
        between them. Every security has a price and every date has one.
    volume : ndarray, optional
        ``T x N`` volumes (float64, at least 0, NaN where unknown), or None.
    source : str
        What the panel was read from, named in messages.

    Raises
    ------
    InputError
        When the arrays break any of these rules, naming the security and date.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> panel = PricePanel(
    ...     pd.DatetimeIndex(["2024-01-02", "2024-01-03", "2024-01-04"]),
    ...     ("A", "B"),
    ...     np.array([[10.0, np.nan], [11.0, 20.0], [9.9, 21.0]]),
    ... )
    >>> panel.returns().round(4).tolist()
    [[nan, nan], [0.1, nan], [-0.1, 0.05]]
    """

    dates: pd.DatetimeIndex
    securities: tuple[str, ...]
    close: np.ndarray
    volume: np.ndarray | None = None
    source: str = field(default="<prices>")

    def __post_init__(self) -> None:
        dates = self.dates
        if not isinstance(dates, pd.DatetimeIndex):
            raise InputError(f"{self.source}: dates must be a DatetimeIndex, was {type(dates)}")
        if dates.tz is not None:
            raise InputError(f"{self.source}: dates must have no time zone, had {dates.tz}")
        if not dates.is_unique or not dates.is_monotonic_increasing:
            raise InputError(f"{self.source}: dates must be sorted and unique")
        securities = tuple(self.securities)
        if not all(isinstance(s, str) and s.strip() for s in securities):
            raise InputError(f"{self.source}: security ids must be non-empty text")
        if len(set(securities)) != len(securities):
            raise InputError(f"{self.source}: security ids repeat")
        shape = (len(dates), len(securities))
        close = _frozen(self.close, shape, "close", self.source)
        _check_close(close, dates, securities, self.source)
        volume = None
        if self.volume is not None:
            volume = _frozen(self.volume, shape, "volume", self.source)
            bad = np.isinf(volume) | (volume < 0.0)
            if bad.any():
                t, j = (int(i[0]) for i in np.nonzero(bad))
                raise InputError(
                    f"{self.source}: volume {volume[t, j]} of {securities[j]!r} on "
                    f"{day(dates[t])} must be finite and at least 0"
                )
        object.__setattr__(self, "dates", dates.as_unit("ns").rename("date"))
        object.__setattr__(self, "securities", securities)
        object.__setattr__(self, "close", close)
        object.__setattr__(self, "volume", volume)

    @classmethod
    def bundled(cls) -> PricePanel:
        """The embedded panel: adjusted daily closes of 20 S&P 500 stocks, 1990-2022.

        Returns
        -------
        PricePanel
            8,313 dates from 1990-01-02 to 2022-12-28, 20 tickers, no volume (the source
            has none). The S&P 500 index is not a security of the panel.
        """
        return _bundled()

    @property
    def n_bars(self) -> int:
        """The number of dates ``T``."""
        return len(self.dates)

    @property
    def n_securities(self) -> int:
        """The number of securities ``N``."""
        return len(self.securities)

    def __repr__(self) -> str:
        volume = "with volume" if self.volume is not None else "no volume"
        return (
            f"PricePanel({self.source}: {self.n_bars} bars {day(self.dates[0])} to "
            f"{day(self.dates[-1])}, {self.n_securities} "
            f"securit{'y' if self.n_securities == 1 else 'ies'}, {volume})"
        )

    def up_to(self, as_of: str | dt.date | pd.Timestamp | np.datetime64) -> PricePanel:
        """The prices known at ``as_of``: every bar up to and including it.

        Parameters
        ----------
        as_of : str, date, datetime, Timestamp or datetime64
            A date (``"2024-01-31"`` or a :class:`datetime.date`) keeps every bar of that
            day; a time (a datetime, a Timestamp, ``"2024-01-31T16:00"``) keeps the bars up
            to that instant.

        Returns
        -------
        PricePanel
            The first bars of this panel. A security without a price by then is left out
            (that it will be listed later is not known yet); one that stopped trading keeps
            its history.

        Raises
        ------
        InputError
            When ``as_of`` is before the first date or after the last (the prices are not
            known there), naming both, or is not a date.
        """
        cutoff, whole_day = _as_of(as_of, self.source)
        first, last = self.dates[0], self.dates[-1]
        span = f"the prices run from {day(first)} to {day(last)}"
        if cutoff < (first.normalize() if whole_day else first):
            raise InputError(
                f"{self.source}: as-of date {day(cutoff)} is before the first date of the "
                f"prices ({day(first)}); {span}"
            )
        if cutoff > (last.normalize() if whole_day else last):
            raise InputError(
                f"{self.source}: as-of date {day(cutoff)} is after the last date of the "
                f"prices ({day(last)}), which are not known there yet; {span}"
            )
        # A day keeps every bar before the next midnight; a time, every bar up to it.
        bound = cutoff + pd.Timedelta(days=1) if whole_day else cutoff
        n = int(self.dates.searchsorted(bound, side="left" if whole_day else "right"))
        close = self.close[:n]
        listed = np.flatnonzero(~np.isnan(close).all(axis=0))
        keep = slice(None) if listed.size == self.n_securities else listed
        volume = None if self.volume is None else self.volume[:n, keep]
        return PricePanel(
            self.dates[:n],
            tuple(self.securities[j] for j in listed),
            close[:, keep],
            volume,
            self.source,
        )

    def returns(self) -> np.ndarray:
        """Simple returns ``close[t] / close[t-1] - 1``.

        Returns
        -------
        ndarray
            ``T x N`` float64, a new array. NaN on the first date and wherever either close
            is missing (before a security's second price, after its last).
        """
        result = np.full(self.close.shape, np.nan)
        np.divide(self.close[1:], self.close[:-1], out=result[1:])
        result[1:] -= 1.0
        return result

    def to_frame(self) -> pd.DataFrame:
        """The closes as a DataFrame (a copy): a ``date`` index, one column per security."""
        return pd.DataFrame(self.close.copy(), index=self.dates, columns=list(self.securities))


def _frozen(values: Any, shape: tuple[int, int], name: str, source: str) -> np.ndarray:
    """A read-only C-ordered float64 array of ``shape``, copied unless it already is one."""
    array = np.asarray(values)
    if array.shape != shape:
        raise InputError(
            f"{source}: {name} has shape {array.shape}; expected {shape} (dates x securities)"
        )
    reusable = array.dtype == np.float64 and array.flags.c_contiguous and _read_only(array)
    if not reusable:
        array = np.array(array, dtype=np.float64, order="C", copy=True)
        array.flags.writeable = False
    return array


def _read_only(array: np.ndarray) -> bool:
    """Whether no one can write to ``array``: it and every array it views are read-only.

    (A panel's own arrays and views of them, as :meth:`PricePanel.up_to` takes, are shared
    rather than copied.)
    """
    base: object = array
    while isinstance(base, np.ndarray):
        if base.flags.writeable:
            return False
        if base.flags.owndata:
            return True
        base = base.base
    return False


def _check_close(
    close: np.ndarray, dates: pd.DatetimeIndex, securities: tuple[str, ...], source: str
) -> None:
    bad = np.isinf(close) | (close <= 0.0)
    if bad.any():
        t, j = (int(i[0]) for i in np.nonzero(bad))
        raise InputError(
            f"{source}: close {close[t, j]} of {securities[j]!r} on {day(dates[t])} must be "
            f"finite and positive"
        )
    present = ~np.isnan(close)
    missing = ~present.any(axis=0)
    if missing.any():
        raise InputError(
            f"{source}: security {securities[int(np.flatnonzero(missing)[0])]!r} has no price"
        )
    if len(dates) and not present.any(axis=1).all():
        t = int(np.flatnonzero(~present.any(axis=1))[0])
        raise InputError(f"{source}: {day(dates[t])} has no price for any security")
    after_first = np.logical_or.accumulate(present, axis=0)
    before_last = np.logical_or.accumulate(present[::-1], axis=0)[::-1]
    gaps = ~present & after_first & before_last
    if gaps.any():
        t, j = (int(i[0]) for i in np.nonzero(gaps))
        raise InputError(
            f"{source}: {securities[j]!r} has no price on {day(dates[t])}, between its first "
            f"and last prices; a fill would be a guess"
        )


def _as_of(value: object, source: str) -> tuple[pd.Timestamp, bool]:
    """``as_of`` as a Timestamp, and whether it names a whole day."""
    if isinstance(value, str):
        text = value.strip()
        if _ISO_DAY.fullmatch(text):
            return pd.Timestamp(text), True
        if _ISO_TIME.fullmatch(text):
            return pd.Timestamp(text), False
        raise InputError(f"{source}: as-of date {value!r} is not a date like 2024-01-31")
    if isinstance(value, dt.datetime | pd.Timestamp | np.datetime64):
        stamp = pd.Timestamp(value)
        if stamp.tz is not None:
            raise InputError(
                f"{source}: as-of time {stamp} has a time zone; the prices have none: "
                f"give it in their time (tz_convert(...).tz_localize(None))"
            )
        return stamp, False
    if isinstance(value, dt.date):
        return pd.Timestamp(value), True
    raise InputError(f"{source}: as-of date {value!r} is not a date")


@cache
def _bundled() -> PricePanel:
    prices = load_prices()
    return PricePanel(
        pd.DatetimeIndex(prices.index),
        tuple(str(c) for c in prices.columns),
        prices.to_numpy(dtype=np.float64),
        None,
        "the bundled S&P 500 panel",
    )


# --------------------------------------------------------------------------- files


@dataclass(frozen=True, eq=False)
class PriceReport:
    """What :func:`check_prices` found in a price file: a summary and every problem.

    Attributes
    ----------
    source : str
        The file.
    layout : {"wide", "long"}
        How it is laid out.
    id_column : str, optional
        The long layout's id column (``security``, ``ticker`` or ``permno``).
    securities : tuple of str
        Every security, in the file's order.
    dates : DatetimeIndex
        The file's distinct dates, sorted.
    first_dates, last_dates : tuple of Timestamp or None
        Each security's first and last price date (None for one without a price).
    has_volume : bool
        Whether the file has a ``volume`` column (long layout only).
    problems : tuple of PriceProblem
        Everything that would be refused; empty when the file is accepted.
    panel : PricePanel, optional
        The panel, when the file is accepted.
    """

    source: str
    layout: str
    id_column: str | None
    securities: tuple[str, ...]
    dates: pd.DatetimeIndex
    first_dates: tuple[pd.Timestamp | None, ...]
    last_dates: tuple[pd.Timestamp | None, ...]
    has_volume: bool
    problems: tuple[PriceProblem, ...]
    panel: PricePanel | None

    @property
    def accepted(self) -> bool:
        """Whether :func:`read_prices` would return a panel (no problem at all)."""
        return not self.problems

    @property
    def median_spacing_days(self) -> float | None:
        """The median time between consecutive dates, in days (None for a single date)."""
        if len(self.dates) < 2:
            return None
        return float(np.median(np.diff(self.dates.asi8))) / 86_400e9

    @property
    def largest_spacing(self) -> tuple[float, pd.Timestamp, pd.Timestamp] | None:
        """The longest time between consecutive dates: (days, from, to)."""
        if len(self.dates) < 2:
            return None
        steps = np.diff(self.dates.asi8)
        k = int(np.argmax(steps))
        return float(steps[k]) / 86_400e9, self.dates[k], self.dates[k + 1]

    @property
    def late_starts(self) -> list[tuple[str, pd.Timestamp]]:
        """Securities whose first price comes after the file's first date."""
        return [
            (s, first)
            for s, first in zip(self.securities, self.first_dates, strict=True)
            if first is not None and first > self.dates[0]
        ]

    @property
    def early_ends(self) -> list[tuple[str, pd.Timestamp]]:
        """Securities whose last price comes before the file's last date."""
        return [
            (s, last)
            for s, last in zip(self.securities, self.last_dates, strict=True)
            if last is not None and last < self.dates[-1]
        ]

    def to_dict(self) -> dict[str, Any]:
        """The report as a JSON-serialisable mapping (dates as ISO text)."""
        spacing = self.largest_spacing
        return {
            "file": self.source,
            "accepted": self.accepted,
            "layout": self.layout,
            "id_column": self.id_column,
            "n_securities": len(self.securities),
            "securities": list(self.securities),
            "first_date": day(self.dates[0]),
            "last_date": day(self.dates[-1]),
            "bars": len(self.dates),
            "median_spacing_days": self.median_spacing_days,
            "largest_spacing": None
            if spacing is None
            else {"days": spacing[0], "from": day(spacing[1]), "to": day(spacing[2])},
            "late_starts": [{"security": s, "first_date": day(d)} for s, d in self.late_starts],
            "early_ends": [{"security": s, "last_date": day(d)} for s, d in self.early_ends],
            "volume": self.has_volume,
            "problems": [p.to_dict() for p in self.problems],
        }


def check_prices(
    path: str | Path,
    *,
    date_format: str | None = None,
    ignore_columns: Sequence[str] = (),
    min_history: int = DEFAULT_MIN_HISTORY,
) -> PriceReport:
    """Read a price file and report everything about it, every problem included.

    Parameters
    ----------
    path : str or Path
        Parquet or CSV, wide or long layout (see :mod:`autopilot.market.prices_io`).
    date_format : str, optional
        ``strftime`` format of text (or integer) dates that are not ISO, e.g. ``%d/%m/%Y``
        or ``%Y%m%d``.
    ignore_columns : sequence of str
        Columns to leave out (a saved index, a column of another field).
    min_history : int
        The fewest prices a security may have (default 2: one return).

    Returns
    -------
    PriceReport
        The summary, the problems (empty when accepted) and the panel (when accepted).

    Raises
    ------
    InputError
        When the file cannot be read as prices at all: missing, of another type, repeated
        column names, no ``date`` column or no layout, a date that is not a date.
    """
    path = Path(path)
    if isinstance(min_history, bool) or not isinstance(min_history, int | np.integer):
        raise InputError(f"min_history must be a whole number of prices, was {min_history!r}")
    if min_history < 1:
        raise InputError(f"min_history must be at least 1, was {min_history}")
    cells = read_cells(path, date_format=date_format, ignore_columns=tuple(ignore_columns))
    problems = (*cells.problems, *check_cells(cells, int(min_history)))
    panel = None
    if not problems:
        panel = PricePanel(
            cells.dates, tuple(cells.securities), cells.close, cells.volume, str(path)
        )
    logger.debug("%s: %d problems", path, len(problems))
    firsts, lasts = _spans(cells)
    return PriceReport(
        str(path),
        cells.layout,
        cells.id_column,
        tuple(cells.securities),
        cells.dates,
        firsts,
        lasts,
        cells.volume is not None,
        problems,
        panel,
    )


def _spans(
    cells: PriceCells,
) -> tuple[tuple[pd.Timestamp | None, ...], tuple[pd.Timestamp | None, ...]]:
    written = cells.written
    has = np.asarray(written.any(axis=0))
    first = written.argmax(axis=0)
    last = len(cells.dates) - 1 - written[::-1].argmax(axis=0)
    firsts = tuple(cells.dates[int(t)] if h else None for t, h in zip(first, has, strict=True))
    lasts = tuple(cells.dates[int(t)] if h else None for t, h in zip(last, has, strict=True))
    return firsts, lasts


def read_prices(
    path: str | Path,
    *,
    date_format: str | None = None,
    ignore_columns: Sequence[str] = (),
    min_history: int = DEFAULT_MIN_HISTORY,
) -> PricePanel:
    """Read a price file (Parquet or CSV, wide or long) into a :class:`PricePanel`.

    Parameters
    ----------
    path : str or Path
        The file.
    date_format : str, optional
        ``strftime`` format of dates that are not ISO (never guessed).
    ignore_columns : sequence of str
        Columns to leave out.
    min_history : int
        The fewest prices a security may have (default 2).

    Returns
    -------
    PricePanel
        The panel, exactly as the file holds it.

    Raises
    ------
    InputError
        With the first problem (file, column, row and the fix) and how many more there
        are; ``autopilot data check FILE`` lists them all.
    """
    report = check_prices(
        path, date_format=date_format, ignore_columns=ignore_columns, min_history=min_history
    )
    if report.panel is None:
        first, n = report.problems[0], len(report.problems)
        others = (
            f" ({n - 1} more problem{'s' if n > 2 else ''}: `autopilot data check {path}` "
            f"lists {'them' if n > 2 else 'it'})"
        )
        raise InputError(first.message + (others if n > 1 else ""))
    return report.panel
