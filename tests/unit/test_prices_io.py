"""Price panels: both layouts, both formats, every refusal, and the panel's own methods.

Files are written for real in ``tmp_path``; CSV files are written as literal text, so the
rows a message names are the rows of the text below it. Expected numbers are computed by
hand (or from the literal closes), never from the reader's own output.
"""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from autopilot.errors import InputError
from autopilot.market.bundled import load_prices
from autopilot.market.prices_io import PricePanel, check_prices, read_prices

WIDE = """\
date,AAA,BBB,CCC
2024-01-02,10,,50
2024-01-03,11,20,55
2024-01-04,9.9,21,
2024-01-05,,22,
"""

# Sorted by date, then by ticker; the ticker NA and the id 007 stay as written.
LONG = """\
date,ticker,close,volume
2024-01-02,007,100,1000
2024-01-02,NA,10,500
2024-01-03,007,101,
2024-01-03,NA,11,600
2024-01-04,007,99.99,1200
2024-01-04,NA,12.1,0
2024-01-05,NA,12.1,700
"""


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text)
    return path


def refusal(path, **options) -> str:
    with pytest.raises(InputError) as info:
        read_prices(path, **options)
    return str(info.value)


def codes(path, **options) -> list[str]:
    return [p.code for p in check_prices(path, **options).problems]


# --------------------------------------------------------------------------- reading


def test_wide_csv_reads_every_cell_as_written(tmp_path):
    panel = read_prices(write(tmp_path, "p.csv", WIDE))
    assert panel.securities == ("AAA", "BBB", "CCC")
    assert list(panel.dates) == [pd.Timestamp(f"2024-01-0{d}") for d in (2, 3, 4, 5)]
    nan = np.nan
    expected = [[10, nan, 50], [11, 20, 55], [9.9, 21, nan], [nan, 22, nan]]
    np.testing.assert_array_equal(panel.close, np.array(expected))
    assert panel.volume is None
    assert (panel.n_bars, panel.n_securities) == (4, 3)


def test_wide_parquet_matches_the_csv_and_reads_a_saved_date_index(tmp_path):
    frame = pd.read_csv(write(tmp_path, "p.csv", WIDE), parse_dates=["date"])
    frame.set_index("date").to_parquet(tmp_path / "indexed.parquet")  # date saved as the index
    frame.to_parquet(tmp_path / "plain.parquet", index=False)
    csv = read_prices(tmp_path / "p.csv")
    for name in ("indexed.parquet", "plain.parquet"):
        panel = read_prices(tmp_path / name)
        assert panel.securities == csv.securities
        assert panel.dates.equals(csv.dates)
        np.testing.assert_array_equal(panel.close, csv.close)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_long_layout_with_tickers_and_volume(tmp_path, suffix):
    path = write(tmp_path, "p.csv", LONG)
    if suffix == ".parquet":  # the same table, ids stored as text
        frame = pd.read_csv(
            path, dtype={"ticker": str}, keep_default_na=False, na_values={"volume": [""]}
        )
        path = tmp_path / "p.parquet"
        frame.to_parquet(path, index=False)
    panel = read_prices(path)
    assert panel.securities == ("007", "NA")  # order of first appearance, text as written
    np.testing.assert_array_equal(
        panel.close, [[100, 10], [101, 11], [99.99, 12.1], [np.nan, 12.1]]
    )
    np.testing.assert_array_equal(
        panel.volume, [[1000, 500], [np.nan, 600], [1200, 0], [np.nan, 700]]
    )


def test_long_layout_with_permnos_in_any_row_order_across_securities(tmp_path):
    # Grouped by security rather than by date: each security's dates still increase.
    text = "permno,date,close\n10107,2024-01-03,2\n10107,2024-01-04,3\n007,2024-01-02,5\n007,2024-01-03,6\n"
    panel = read_prices(write(tmp_path, "p.csv", text))
    assert panel.securities == ("10107", "007")
    np.testing.assert_array_equal(panel.close, [[np.nan, 5], [2, 6], [3, np.nan]])


def test_long_parquet_with_integer_permnos_reads_them_in_decimal(tmp_path):
    table = pa.table(
        {
            "date": pa.array([dt.date(2024, 1, 2), dt.date(2024, 1, 3)] * 2),
            "permno": pa.array([10107, 10107, 14593, 14593], pa.int64()),
            "close": [1.0, 2.0, 3.0, 4.0],
        }
    )
    pq.write_table(table, tmp_path / "p.parquet")
    panel = read_prices(tmp_path / "p.parquet")
    assert panel.securities == ("10107", "14593")
    np.testing.assert_array_equal(panel.close, [[1, 3], [2, 4]])


def test_floating_point_permnos_are_refused(tmp_path):
    frame = pd.DataFrame(
        {"date": ["2024-01-02", "2024-01-03"], "permno": [10107.0, 10107.0], "close": [1.0, 2.0]}
    )
    frame.to_parquet(tmp_path / "p.parquet", index=False)
    assert refusal(tmp_path / "p.parquet") == (
        f"{tmp_path / 'p.parquet'}: column 'permno' holds double values; ids are text or whole "
        f"numbers, read exactly as written: store them as text (or integers)"
    )


def test_dates_in_another_format_need_it_said(tmp_path):
    path = write(tmp_path, "p.csv", "date,A\n02/01/2024,1\n03/01/2024,2\n")
    assert refusal(path) == (
        f"{path}: column 'date', row 2: '02/01/2024' is not an ISO date (YYYY-MM-DD); dates "
        f"are never guessed: give their format, e.g. --date-format %d/%m/%Y or --date-format %Y%m%d"
    )
    panel = read_prices(path, date_format="%d/%m/%Y")
    assert list(panel.dates) == [pd.Timestamp("2024-01-02"), pd.Timestamp("2024-01-03")]


def test_ignored_columns_are_left_out_and_a_misspelt_one_is_refused(tmp_path):
    path = write(tmp_path, "p.csv", "date,A,Unnamed: 3\n2024-01-02,1,x\n2024-01-03,2,y\n")
    assert read_prices(path, ignore_columns=["Unnamed: 3"]).securities == ("A",)
    assert refusal(path, ignore_columns=["Unamed: 3"]) == (
        f"{path}: --ignore-columns names ['Unamed: 3'], which the data does not have"
    )


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("value", "shown"), [("-3.5", "-3.5"), ("0", "0")], ids=["negative", "zero"]
)
def test_non_positive_price_wide(tmp_path, value, shown):
    path = write(tmp_path, "p.csv", f"date,A,B\n2024-01-02,1,2\n2024-01-03,{value},3\n")
    assert refusal(path) == (
        f"{path}: column 'A', row 3: price {shown} is not positive; a close is above zero (a 0 "
        f"or -99 standing for 'no price' must be an empty cell, and a return is not a price)"
    )


def test_non_positive_price_long_names_the_security_and_counts_the_others(tmp_path):
    text = "date,security,close\n2024-01-02,X,1\n2024-01-03,X,-1\n2024-01-04,X,-2\n"
    path = write(tmp_path, "p.csv", text)
    assert refusal(path) == (
        f"{path}: column 'close', row 3 (security 'X'): price -1 is not positive; a close is "
        f"above zero (a 0 or -99 standing for 'no price' must be an empty cell, and a return "
        f"is not a price) (and 1 more for this security)"
    )
    (problem,) = check_prices(path).problems
    assert (problem.column, problem.row, problem.security, problem.count) == ("close", 3, "X", 2)


def test_infinite_price(tmp_path):
    path = write(tmp_path, "p.csv", "date,A\n2024-01-02,1\n2024-01-03,inf\n")
    assert refusal(path) == (
        f"{path}: column 'A', row 3: price inf is not finite; write the close, or leave the "
        f"cell empty where the security has no price"
    )


def test_text_and_true_false_cells(tmp_path):
    path = write(tmp_path, "p.csv", "date,A,B\n2024-01-02,1,True\n2024-01-03,n/a?,False\n")
    report = check_prices(path)
    assert [p.message for p in report.problems] == [
        f"{path}: column 'A', row 3: 'n/a?' is not a number",
        f"{path}: column 'B', row 2: a true/false value, not a number (and 1 more such cells)",
    ]


def test_interior_gap_in_a_wide_file(tmp_path):
    path = write(tmp_path, "p.csv", "date,A,B\n2024-01-02,1,1\n2024-01-03,,1\n2024-01-04,2,1\n")
    assert refusal(path) == (
        f"{path}: column 'A', row 3: no price on 2024-01-03, inside the security's history "
        f"(2024-01-02 to 2024-01-04); a fill would be a guess: write the close, or leave it "
        f"out with --ignore-columns A"
    )


def test_interior_gap_in_a_long_file_without_the_row(tmp_path):
    text = (
        "date,ticker,close\n2024-01-02,A,1\n2024-01-02,B,1\n2024-01-03,B,1\n"
        "2024-01-04,A,2\n2024-01-04,B,1\n"
    )
    path = write(tmp_path, "p.csv", text)
    assert refusal(path) == (
        f"{path}: column 'close', after row 2 (security 'A'): no row for 2024-01-03, inside "
        f"the security's history (2024-01-02 to 2024-01-04), between its rows 2 and 5; a fill "
        f"would be a guess: write the close, or leave its rows out"
    )


def test_interior_gap_in_a_long_file_with_an_empty_close(tmp_path):
    text = "date,ticker,close\n2024-01-02,A,1\n2024-01-03,A,\n2024-01-04,A,2\n"
    path = write(tmp_path, "p.csv", text)
    assert refusal(path) == (
        f"{path}: column 'close', row 3 (security 'A'): empty on 2024-01-03, inside the "
        f"security's history (2024-01-02 to 2024-01-04); a fill would be a guess: write the "
        f"close, or leave its rows out"
    )


def test_duplicate_date_wide(tmp_path):
    path = write(tmp_path, "p.csv", "date,A\n2024-01-02,1\n2024-01-03,2\n2024-01-03,2\n")
    assert refusal(path) == (
        f"{path}: column 'date', row 4: 2024-01-03 repeats row 3; keep one row per date"
    )


def test_duplicate_date_long(tmp_path):
    text = "date,ticker,close\n2024-01-02,A,1\n2024-01-03,A,2\n2024-01-02,B,5\n2024-01-03,A,2\n"
    path = write(tmp_path, "p.csv", text)
    assert codes(path) == ["DUPLICATE_DATE", "SHORT_HISTORY"]
    assert refusal(path).startswith(
        f"{path}: column 'date', row 5 (security 'A'): 2024-01-03 repeats row 3; keep one "
        f"close per security and date"
    )


def test_unsorted_dates_wide_are_refused_not_sorted(tmp_path):
    path = write(tmp_path, "p.csv", "date,A\n2024-01-03,1\n2024-01-02,2\n2024-01-04,3\n")
    assert refusal(path) == (
        f"{path}: column 'date', row 3: 2024-01-02 comes after 2024-01-03 (row 2); dates must "
        f"increase down the file and are not sorted for you (a sort would hide how the file "
        f"came to be out of order): sort the file by date"
    )


def test_unsorted_dates_long(tmp_path):
    text = "date,ticker,close\n2024-01-02,A,1\n2024-01-04,A,2\n2024-01-03,A,3\n"
    path = write(tmp_path, "p.csv", text)
    assert refusal(path) == (
        f"{path}: column 'date', row 4 (security 'A'): 2024-01-03 comes after 2024-01-04 (row "
        f"3); each security's dates must increase down the file and are not sorted for you (a "
        f"sort would hide how the file came to be out of order): sort the file by security and "
        f"date, or by date"
    )


def test_short_history_names_the_security_and_follows_min_history(tmp_path):
    path = write(tmp_path, "p.csv", "date,A,B\n2024-01-02,1,\n2024-01-03,2,\n2024-01-04,3,7\n")
    assert refusal(path) == (
        f"{path}: column 'B', row 4: security 'B' has 1 price (2024-01-04); at least 2 are "
        f"needed (--min-history): give it more history, or leave it out with --ignore-columns B"
    )
    assert read_prices(path, min_history=1).securities == ("A", "B")
    assert refusal(path, min_history=3).startswith(f"{path}: column 'B', row 4: security 'B'")
    assert read_prices(path, ignore_columns=["B"]).securities == ("A",)


def test_short_history_long_names_the_id_column(tmp_path):
    text = "date,permno,close\n2024-01-02,1,5\n2024-01-03,1,6\n2024-01-03,2,7\n"
    path = write(tmp_path, "p.csv", text)
    assert refusal(path) == (
        f"{path}: column 'permno', row 4: security '2' has 1 price (2024-01-03); at least 2 are "
        f"needed (--min-history): give it more history, or leave its rows out"
    )


@pytest.mark.parametrize("bad", ["a", 0, -1, 1.5, True])
def test_min_history_must_be_a_whole_number_of_at_least_one(tmp_path, bad):
    with pytest.raises(InputError, match="min_history must be"):
        read_prices(write(tmp_path, "p.csv", WIDE), min_history=bad)


def test_negative_volume(tmp_path):
    text = "date,ticker,close,volume\n2024-01-02,A,1,10\n2024-01-03,A,2,-5\n"
    path = write(tmp_path, "p.csv", text)
    assert refusal(path) == (
        f"{path}: column 'volume', row 3 (security 'A'): volume -5 is negative; a volume is the "
        f"shares traded, at least 0"
    )


def test_infinite_volume(tmp_path):
    text = "date,ticker,close,volume\n2024-01-02,A,1,inf\n2024-01-03,A,2,5\n"
    path = write(tmp_path, "p.csv", text)
    assert refusal(path) == (
        f"{path}: column 'volume', row 2 (security 'A'): volume inf is not finite; leave the "
        f"cell empty where it is unknown"
    )


def test_volume_in_a_wide_file(tmp_path):
    path = write(tmp_path, "p.csv", "date,A,volume\n2024-01-02,1,100\n2024-01-03,2,100\n")
    assert refusal(path) == (
        f"{path}: column 'volume': a wide file holds closes only, one column per security; "
        f"volumes need the long layout (date, one id column (security, ticker or permno), "
        f"close and optionally volume), or pass --ignore-columns volume"
    )


def test_saved_index_in_a_wide_file(tmp_path):
    frame = pd.read_csv(write(tmp_path, "w.csv", WIDE))
    frame.to_csv(tmp_path / "p.csv")  # index=True: pandas writes an unnamed first column
    path = tmp_path / "p.csv"
    assert refusal(path).startswith(
        f"{path}: column 'Unnamed: 0' looks like a saved index (pandas writes one unless "
        f"index=False), not a security; remove it or pass --ignore-columns 'Unnamed: 0'"
    )
    assert read_prices(path, ignore_columns=["Unnamed: 0"]).securities == ("AAA", "BBB", "CCC")


def test_date_with_no_price_at_all(tmp_path):
    path = write(tmp_path, "p.csv", "date,A,B\n2024-01-02,,\n2024-01-03,1,2\n2024-01-04,2,3\n")
    assert refusal(path) == (
        f"{path}: column 'date', row 2: 2024-01-02 has no price for any security; leave the "
        f"date out"
    )


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (
            "date,ticker,permno,close",
            "columns ['ticker', 'permno'] are all id columns; a long price file has exactly one "
            "(security, ticker or permno): keep one, or name the others in --ignore-columns",
        ),
        (
            "date,close",
            "a 'close' column but no id column; a long price file has date, one id column "
            "(security, ticker or permno), close and optionally volume",
        ),
        (
            "date,ticker,price",
            "an id column 'ticker' but no 'close' column; a long price file has date, one id "
            "column (security, ticker or permno), close and optionally volume",
        ),
        (
            "Date,A",
            "no 'date' column; a price file is wide (a 'date' column and one column of closes "
            "per security) or long (date, one id column (security, ticker or permno), close and "
            "optionally volume); found columns ['Date', 'A']",
        ),
    ],
)
def test_files_that_are_no_layout(tmp_path, header, message):
    n = header.count(",")
    path = write(tmp_path, "p.csv", f"{header}\n" + ",".join(["2024-01-02"] + ["1"] * n) + "\n")
    assert refusal(path) == f"{path}: {message}"


def test_unexpected_column_in_a_long_file(tmp_path):
    text = "date,ticker,close,open\n2024-01-02,A,1,1\n2024-01-03,A,2,1\n"
    path = write(tmp_path, "p.csv", text)
    assert refusal(path) == (
        f"{path}: column 'open' is not part of the long layout (date, one id column (security, "
        f"ticker or permno), close and optionally volume); remove it or pass --ignore-columns "
        f"'open'"
    )
    assert read_prices(path, ignore_columns=["open"]).securities == ("A",)


def test_empty_id(tmp_path):
    text = "date,ticker,close\n2024-01-02,A,1\n2024-01-03,A,2\n2024-01-03, ,2\n"
    path = write(tmp_path, "p.csv", text)
    assert refusal(path) == f"{path}: column 'ticker', row 4: empty; every row needs its security"


def test_repeated_names_empty_and_missing_files(tmp_path):
    path = write(tmp_path, "p.csv", "date,A,A\n2024-01-02,1,2\n")
    assert refusal(path) == (
        f"{path}: column name(s) ['A'] appear more than once; which one holds the data cannot "
        f"be known: rename or remove the copies"
    )
    path = write(tmp_path, "e.csv", "date,A\n")
    assert refusal(path) == f"{path}: the file holds no rows"
    assert refusal(tmp_path / "none.csv") == f"{tmp_path / 'none.csv'}: file not found"


def test_check_collects_every_problem_and_read_names_the_first_and_the_count(tmp_path):
    text = (
        "date,A,B,C,volume\n"
        "2024-01-02,1,-1,5,1\n"
        "2024-01-04,2,,x,1\n"
        "2024-01-03,3,4,,1\n"
        "2024-01-03,3,4,,1\n"
    )
    path = write(tmp_path, "p.csv", text)
    report = check_prices(path)
    assert [(p.code, p.column, p.row) for p in report.problems] == [
        ("VOLUME_IN_WIDE", "volume", None),
        ("NOT_A_NUMBER", "C", 3),
        ("DUPLICATE_DATE", "date", 5),
        ("UNSORTED_DATES", "date", 4),
        ("NON_POSITIVE_PRICE", "B", 2),
        # In date order C reads 5, empty (row 4), 'x': a gap; B's empty cell is its last date.
        ("INTERIOR_GAP", "C", 4),
    ]
    assert not report.accepted and report.panel is None
    assert refusal(path).endswith(f"(5 more problems: `autopilot data check {path}` lists them)")


def test_report_summarises_the_file(tmp_path):
    report = check_prices(write(tmp_path, "p.csv", WIDE))
    assert report.accepted and report.panel is not None
    summary = report.to_dict()
    assert summary["layout"] == "wide" and summary["id_column"] is None
    assert (summary["first_date"], summary["last_date"], summary["bars"]) == (
        "2024-01-02",
        "2024-01-05",
        4,
    )
    assert summary["median_spacing_days"] == 1.0
    assert summary["late_starts"] == [{"security": "BBB", "first_date": "2024-01-03"}]
    assert summary["early_ends"] == [
        {"security": "AAA", "last_date": "2024-01-04"},
        {"security": "CCC", "last_date": "2024-01-03"},
    ]
    weekly = write(
        tmp_path, "w.csv", "date,A\n2024-01-05,1\n2024-01-12,2\n2024-01-19,3\n2024-02-09,4\n"
    )
    spacing = check_prices(weekly).to_dict()
    assert spacing["median_spacing_days"] == 7.0
    assert spacing["largest_spacing"] == {"days": 21.0, "from": "2024-01-19", "to": "2024-02-09"}


# --------------------------------------------------------------------------- the panel


def test_returns_against_a_hand_computation(tmp_path):
    panel = read_prices(write(tmp_path, "p.csv", WIDE))
    nan = np.nan
    expected = [
        [nan, nan, nan],
        [11 / 10 - 1, nan, 55 / 50 - 1],  # 0.1, BBB has no earlier close, 0.1
        [9.9 / 11 - 1, 21 / 20 - 1, nan],  # -0.1, 0.05, CCC stopped
        [nan, 22 / 21 - 1, nan],
    ]
    np.testing.assert_allclose(panel.returns(), expected, rtol=0, atol=1e-15)
    assert panel.returns()[1, 0] == pytest.approx(0.1) and panel.returns()[2, 0] == pytest.approx(
        -0.1
    )


def test_panel_is_immutable_and_c_ordered():
    close = np.asfortranarray([[1.0, 2.0], [3.0, 4.0]])
    panel = PricePanel(pd.DatetimeIndex(["2024-01-02", "2024-01-03"]), ("A", "B"), close)
    assert panel.close.flags.c_contiguous and panel.close.dtype == np.float64
    close[0, 0] = 99.0  # the caller's array is not the panel's
    assert panel.close[0, 0] == 1.0
    with pytest.raises(ValueError, match="read-only"):
        panel.close[0, 0] = 5.0
    with pytest.raises(AttributeError):
        panel.close = close  # type: ignore[misc]


@pytest.mark.parametrize(
    ("close", "message"),
    [
        ([[1.0, 2.0], [np.nan, 2.0], [1.0, 2.0]], "'A' has no price on 2024-01-03, between"),
        ([[1.0, 2.0], [0.0, 2.0], [1.0, 2.0]], "close 0.0 of 'A' on 2024-01-03 must be finite"),
        ([[1.0, np.nan], [1.0, np.nan], [1.0, np.nan]], "security 'B' has no price"),
        ([[np.nan, np.nan], [1.0, 2.0], [1.0, 2.0]], "2024-01-02 has no price for any security"),
    ],
)
def test_panel_refuses_arrays_that_break_its_rules(close, message):
    dates = pd.DatetimeIndex(["2024-01-02", "2024-01-03", "2024-01-04"])
    with pytest.raises(InputError, match=re.escape(message)):
        PricePanel(dates, ("A", "B"), np.array(close), source="mine")
    with pytest.raises(InputError, match="sorted and unique"):
        PricePanel(dates[::-1], ("A", "B"), np.ones((3, 2)))
    with pytest.raises(InputError, match=re.escape("volume -1.0 of 'B' on 2024-01-04")):
        PricePanel(dates, ("A", "B"), np.ones((3, 2)), np.array([[1, 1], [1, 1], [1, -1.0]]))


def _listing_panel() -> PricePanel:
    """A starts on the 2nd, B lists on the 4th, C stops after the 3rd."""
    nan = np.nan
    return PricePanel(
        pd.DatetimeIndex(["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"]),
        ("A", "B", "C"),
        np.array([[1.0, nan, 5.0], [2.0, nan, 6.0], [3.0, 7.0, nan], [4.0, 8.0, nan]]),
        np.array([[10.0, nan, 1.0], [20.0, nan, 2.0], [30.0, 3.0, nan], [40.0, 4.0, nan]]),
        "mine",
    )


def test_up_to_keeps_what_is_known_and_leaves_out_securities_not_yet_listed():
    panel = _listing_panel()
    early = panel.up_to("2024-01-03")
    assert early.securities == ("A", "C") and early.n_bars == 2
    np.testing.assert_array_equal(early.close, [[1.0, 5.0], [2.0, 6.0]])
    np.testing.assert_array_equal(early.volume, [[10.0, 1.0], [20.0, 2.0]])
    later = panel.up_to(dt.date(2024, 1, 4))
    assert later.securities == ("A", "B", "C") and later.n_bars == 3
    assert panel.up_to(pd.Timestamp("2024-01-05")).n_bars == 4  # the last date is inside
    assert panel.up_to("2024-01-02").n_bars == 1


def test_up_to_a_day_keeps_that_days_bars_and_a_time_stops_at_it():
    dates = pd.DatetimeIndex(["2024-01-02 10:00", "2024-01-02 16:00", "2024-01-03 10:00"])
    panel = PricePanel(dates, ("A",), np.array([[1.0], [2.0], [3.0]]))
    assert panel.up_to("2024-01-02").n_bars == 2
    assert panel.up_to("2024-01-02T12:00").n_bars == 1
    assert panel.up_to(dt.datetime(2024, 1, 2, 16, 0)).n_bars == 2


def test_up_to_outside_the_data_is_refused_naming_both_dates():
    panel = _listing_panel()
    with pytest.raises(InputError) as info:
        panel.up_to("2023-12-29")
    assert str(info.value) == (
        "mine: as-of date 2023-12-29 is before the first date of the prices (2024-01-02); the "
        "prices run from 2024-01-02 to 2024-01-05"
    )
    with pytest.raises(InputError) as info:
        panel.up_to("2024-01-08")
    assert str(info.value) == (
        "mine: as-of date 2024-01-08 is after the last date of the prices (2024-01-05), which "
        "are not known there yet; the prices run from 2024-01-02 to 2024-01-05"
    )
    with pytest.raises(InputError, match="is not a date like 2024-01-31"):
        panel.up_to("05/01/2024")


def test_bundled_panel_is_the_embedded_stocks_without_the_index():
    panel = PricePanel.bundled()
    prices = load_prices()
    assert panel.securities == tuple(prices.columns) and "SP500" not in panel.securities
    assert (panel.n_bars, panel.n_securities) == (8313, 20)
    assert panel.dates.equals(pd.DatetimeIndex(prices.index))
    assert panel.volume is None
    aapl = prices["AAPL"].to_numpy()
    k = panel.securities.index("AAPL")
    np.testing.assert_allclose(panel.returns()[1:, k], aapl[1:] / aapl[:-1] - 1.0, rtol=1e-15)
    assert PricePanel.bundled() is panel  # read once


def test_date_with_no_price_between_two_histories(tmp_path):
    # A ends on the 3rd, B starts on the 5th: the 4th is nobody's gap, and no bar either.
    text = "date,A,B\n2024-01-02,1,\n2024-01-03,2,\n2024-01-04,,\n2024-01-05,,3\n2024-01-08,,4\n"
    path = write(tmp_path, "p.csv", text)
    assert refusal(path) == (
        f"{path}: column 'date', row 4: 2024-01-04 has no price for any security; leave the "
        f"date out"
    )


def test_up_to_shares_the_panels_memory_when_it_keeps_every_security():
    panel = PricePanel.bundled()
    early = panel.up_to("2000-12-29")
    assert np.shares_memory(early.close, panel.close) and not early.close.flags.writeable
    np.testing.assert_array_equal(early.close, panel.close[: early.n_bars])


def test_a_date_beyond_what_a_panel_holds_is_refused_with_its_row(tmp_path):
    path = write(tmp_path, "p.csv", "date,A\n2024-01-02,1\n9999-12-31,2\n")
    assert refusal(path) == (
        f"{path}: column 'date', row 3: 9999-12-31 is outside the dates a panel holds "
        f"(1677-09-21 to 2262-04-11)"
    )


def test_wide_headers_are_ids_as_written(tmp_path):
    path = write(tmp_path, "p.csv", "date,NA,007,nan\n2024-01-02,1,2,3\n2024-01-03,2,3,4\n")
    assert read_prices(path).securities == ("NA", "007", "nan")
