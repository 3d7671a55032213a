"""Cycle dates from the data's own dates: weekly, month-end and every N bars."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from autopilot.errors import InputError
from autopilot.market.calendar import cycle_dates, horizons

# Business days of January 2024 without Friday the 12th (a holiday in this market).
DATES = pd.bdate_range("2024-01-01", "2024-02-09").drop(pd.Timestamp("2024-01-12"))


def test_weekly_is_the_last_bar_of_each_week_holidays_included():
    got = cycle_dates(DATES, "W-FRI", None, None, "prices.csv")
    assert got == [
        date(2024, 1, 5),
        date(2024, 1, 11),  # Friday the 12th had no bar: Thursday ends the week
        date(2024, 1, 19),
        date(2024, 1, 26),
        date(2024, 2, 2),
        date(2024, 2, 9),
    ]
    assert cycle_dates(DATES, "w-wed", date(2024, 1, 8), date(2024, 1, 20), "p")[0] == date(
        2024, 1, 10
    )


def test_month_end_and_every_n_bars():
    # February is not over on the data's last date (the 9th): only January counts.
    assert cycle_dates(DATES, "ME", None, None, "p") == [date(2024, 1, 31)]
    every5 = cycle_dates(DATES, "5D", date(2024, 1, 2), None, "p")
    assert every5[:3] == [date(2024, 1, 2), date(2024, 1, 9), date(2024, 1, 17)]
    assert horizons(DATES, every5)[:2] == [5, 5]


@pytest.mark.parametrize(
    ("every", "start", "end", "message"),
    [
        ("weekly", None, None, "--every 'weekly' is not a schedule; use ND (every N bars)"),
        ("W-FRI", None, date(2024, 3, 1), "prices.csv: the data end on 2024-02-09, before --end"),
        ("W-FRI", date(2023, 12, 1), None, "the data start on 2024-01-01, after --start"),
        ("W-FRI", date(2024, 2, 1), date(2024, 1, 5), "--start 2024-02-01 is after --end"),
        ("0D", None, None, "is not a schedule"),
    ],
)
def test_bad_schedules_and_dates_are_refused(every, start, end, message):
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        cycle_dates(DATES, every, start, end, "prices.csv")


def test_a_period_cut_by_end_is_not_a_cycle():
    # --end on Wednesday the 24th: that week's last bar is Friday the 26th, after --end.
    got = cycle_dates(DATES, "W-FRI", None, date(2024, 1, 24), "p")
    assert got[-1] == date(2024, 1, 19)
    # The data's own last period counts when it is over: the 9th is a Friday.
    assert cycle_dates(DATES, "W-FRI", None, None, "p")[-1] == date(2024, 2, 9)
    assert cycle_dates(DATES[:-1], "W-FRI", None, None, "p")[-1] == date(2024, 2, 2)
