"""The dates a walk runs its cycles on, taken from the data's own dates.

``every`` is one of:

* ``ND`` (``5D``, ``1D``): every ``N``-th bar of the data, counted from the first cycle;
* ``W-FRI`` (or another weekday, ``W-MON`` ... ``W-SUN``): the last bar of each week,
  weeks ending on that day;
* ``ME``: the last bar of each month.

A week or month counts once it is over: its last bar in the data, within ``--start`` and
``--end``. A period cut by ``--end``, or the data's last one when the next business day
would still fall in it, is left out, so a walk run every day on new data, or in pieces,
has the same cycle dates as one run in one go.

A cycle date is always a bar of the data, so nothing is guessed about holidays (and a
price file with a gap inside a security's history is refused when it is read).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
from pandas.tseries.offsets import BDay

from autopilot.errors import InputError

__all__ = ["EVERY_FORMS", "cycle_dates", "horizons"]

EVERY_FORMS = "ND (every N bars), W-FRI (weekly, or W-MON ... W-SUN), ME (month end)"
_WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")


def cycle_dates(
    dates: pd.DatetimeIndex, every: str, start: date | None, end: date | None, source: str
) -> list[date]:
    """The cycle dates between ``start`` and ``end`` (inclusive) on the data's ``dates``.

    Parameters
    ----------
    dates : pandas.DatetimeIndex
        The data's dates, sorted.
    every : str
        The schedule (see the module docstring).
    start, end : datetime.date or None
        The walk's first and last dates; None: the data's first and last.
    source : str
        The data's name, for messages.

    Returns
    -------
    list of datetime.date

    Raises
    ------
    InputError
        An unknown schedule, an end after the data's last date or a start before its
        first, a start after the end, or no cycle date between them.
    """
    first, last = dates[0].date(), dates[-1].date()
    if end is not None and end > last:
        raise InputError(
            f"{source}: the data end on {last}, before --end {end}; pass an earlier --end "
            f"or data that reach it"
        )
    if start is not None and start < first:
        raise InputError(
            f"{source}: the data start on {first}, after --start {start}; pass a later --start"
        )
    if end is not None and end < first:
        raise InputError(f"{source}: the data start on {first}, after --end {end}")
    lo = pd.Timestamp(start or first)
    hi = pd.Timestamp(end or last)
    if lo > hi:
        raise InputError(f"--start {lo.date()} is after --end {hi.date()}")
    picked = _pick(dates, every.strip(), lo, hi)
    if not len(picked):
        raise InputError(
            f"{source}: no complete {every} period ends between {lo.date()} and {hi.date()}; "
            f"widen --start/--end"
        )
    return [d.date() for d in picked]


def _pick(dates: pd.DatetimeIndex, every: str, lo: pd.Timestamp, hi: pd.Timestamp) -> Any:
    schedule = every.upper()
    bars = re.fullmatch(r"([1-9][0-9]*)D", schedule)
    if bars:
        return dates[(dates >= lo) & (dates <= hi)][:: int(bars.group(1))]
    weekly = re.fullmatch(r"W-([A-Z]{3})", schedule)
    if not ((weekly and weekly.group(1) in _WEEKDAYS) or schedule == "ME"):
        raise InputError(f"--every {every!r} is not a schedule; use {EVERY_FORMS}")
    period = schedule if weekly else "M"
    # The last bar of every period of the data: a period cut by --end is not a cycle.
    ends = pd.Series(dates, index=dates).groupby(dates.to_period(period)).max()
    last = ends.iloc[-1]
    if (last + BDay(1)).to_period(period) == last.to_period(period):
        ends = ends.iloc[:-1]  # the data's last period may not be over yet
    return pd.DatetimeIndex(ends[(ends >= lo) & (ends <= hi)].to_numpy())


def horizons(dates: pd.DatetimeIndex, cycles: list[date]) -> list[int]:
    """Bars from each cycle date to the next (the last one repeats the one before it)."""
    position = dates.get_indexer(pd.DatetimeIndex(cycles))
    steps = np.diff(position).tolist()
    return [int(s) for s in steps] + [int(steps[-1]) if steps else 1]
