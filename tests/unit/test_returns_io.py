"""Reading returns files: both layouts, both formats, and every refusal."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from autopilot.errors import InputError
from autopilot.market.returns_io import ReadOptions, read_candidates

DATES = pd.bdate_range("2024-01-01", periods=6)


def long_frame() -> pd.DataFrame:
    rows = []
    for i, date in enumerate(DATES):
        rows.append(("a", date, 0.01 * (i + 1), "calm" if i < 3 else "storm"))
        if i >= 2:  # b goes live on the third bar
            rows.append(("b", date, -0.01, "calm" if i < 3 else "storm"))
    return pd.DataFrame(rows, columns=["strategy_id", "date", "return", "regime"])


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_long_layout(tmp_path, suffix):
    path = tmp_path / f"returns{suffix}"
    frame = long_frame().sample(frac=1, random_state=1)  # row order must not matter
    frame.to_csv(path, index=False) if suffix == ".csv" else frame.to_parquet(path)
    batch = read_candidates(path)
    assert batch.strategy_ids in (("a", "b"), ("b", "a"))
    a = batch.strategy_ids.index("a")
    b = batch.strategy_ids.index("b")
    np.testing.assert_allclose(batch.returns[:, a], [0.01, 0.02, 0.03, 0.04, 0.05, 0.06])
    assert np.isnan(batch.returns[:2, b]).all() and (batch.returns[2:, b] == -0.01).all()
    assert batch.regimes.ndim == 1  # every candidate agrees: shared labels
    assert [batch.regime_names[c] for c in batch.regimes] == ["calm"] * 3 + ["storm"] * 3
    assert list(batch.dates) == list(DATES)


def test_missing_row_becomes_a_gap_not_a_fill(tmp_path):
    frame = long_frame()
    frame = frame[~((frame.strategy_id == "a") & (frame.date == DATES[3]))]
    path = tmp_path / "r.csv"
    frame.to_csv(path, index=False)
    batch = read_candidates(path)
    assert batch.statistics().has_gap[batch.strategy_ids.index("a")]


def test_disagreeing_labels_stay_per_candidate(tmp_path):
    frame = long_frame()
    frame.loc[frame.strategy_id == "b", "regime"] = "other"
    path = tmp_path / "r.parquet"
    frame.to_parquet(path)
    assert read_candidates(path).regimes.ndim == 2


def test_wide_layout_and_regime_file(tmp_path):
    wide = pd.DataFrame({"date": DATES[::-1], "x": np.arange(6) / 100, "y": np.nan})
    wide.loc[wide.index[:3], "y"] = 0.02
    path = tmp_path / "wide.csv"
    wide.to_csv(path, index=False)
    regimes = tmp_path / "regimes.csv"
    pd.DataFrame({"date": DATES[1:], "regime": [0, 0, 1, 1, 1]}).to_csv(regimes, index=False)
    batch = read_candidates(path, regimes=regimes)
    assert batch.strategy_ids == ("x", "y")
    np.testing.assert_allclose(batch.returns[:, 0], np.arange(6)[::-1] / 100)  # sorted by date
    assert batch.regimes.tolist() == [-1, 0, 0, 1, 1, 1]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "strategy_id,date,return\na,2024-01-01,abc\n",
            "row 2 (strategy 'a'): return 'abc' is not a number",
        ),
        (
            "strategy_id,date,return\na,yesterday,0.1\n",
            "column 'date', row 2: 'yesterday' is not an ISO date (YYYY-MM-DD)",
        ),
        (
            "strategy_id,date,return\na,2024-01-01,0.1\na,2024-01-01,0.2\n",
            "strategy 'a' has two rows for 2024-01-01",
        ),
        ("strategy_id,date,return\n,2024-01-01,0.1\n", "row 2: strategy_id is empty"),
        ("strategy_id,date,return,weight\na,2024-01-01,0.1,1\n", "unexpected columns ['weight']"),
        ("id,when,value\na,2024-01-01,0.1\n", "expected a long layout"),
        ("date,x\n2024-01-01,0.1\n2024-01-01,0.2\n", "date 2024-01-01 appears twice"),
        ("date,x\n2024-01-01,zero\n", "column 'x', row 2: return 'zero' is not a number"),
        ("date\n2024-01-01\n", "no strategy columns"),
        ("strategy_id,date,return\n", "holds no rows"),
    ],
)
def test_bad_files_name_the_place(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(InputError) as info:
        read_candidates(path)
    assert message in str(info.value) and "bad.csv" in str(info.value)


def test_missing_unknown_and_corrupt_files(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        read_candidates(tmp_path / "nope.csv")
    (tmp_path / "r.xlsx").write_text("x")
    with pytest.raises(InputError, match="unsupported file type"):
        read_candidates(tmp_path / "r.xlsx")
    (tmp_path / "r.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(InputError, match=r"r\.parquet: cannot read"):
        read_candidates(tmp_path / "r.parquet")


def test_regime_file_errors(tmp_path):
    path = tmp_path / "r.csv"
    long_frame().to_csv(path, index=False)
    bad = tmp_path / "labels.csv"
    bad.write_text("date,label\n2024-01-01,1\n")
    with pytest.raises(InputError, match=r"labels\.csv: missing column\(s\) \['regime'\]"):
        read_candidates(path, regimes=bad)


# --- nothing is guessed ------------------------------------------------------------------------


def _wide(tmp_path, text: str, name: str = "w.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


WIDE_ISO = "date,a\n2024-01-02,0.01\n2024-01-03,-0.02\n2024-01-04,0.03\n"


def test_integer_dates_need_their_format_and_then_read_exactly(tmp_path):
    path = _wide(tmp_path, WIDE_ISO.replace("2024-01-0", "2024010"))
    with pytest.raises(InputError, match=r"row 2: '20240102' is not an ISO date.*--date-format"):
        read_candidates(path)
    batch = read_candidates(path, options=ReadOptions(date_format="%Y%m%d"))
    expected = read_candidates(_wide(tmp_path, WIDE_ISO, "iso.csv"))
    assert list(batch.dates) == list(expected.dates)
    np.testing.assert_array_equal(batch.returns, expected.returns)


def test_day_first_dates_are_refused_then_read_day_first_never_month_first(tmp_path):
    # 02/01/2024 is the 2nd of January here; read month-first it would be the 1st of February.
    text = "date,a\n02/01/2024,0.01\n03/01/2024,-0.3\n04/01/2024,0.2\n01/02/2024,-0.25\n"
    path = _wide(tmp_path, text)
    with pytest.raises(InputError, match=r"row 2: '02/01/2024' is not an ISO date"):
        read_candidates(path)
    batch = read_candidates(path, options=ReadOptions(date_format="%d/%m/%Y"))
    assert [d.date().isoformat() for d in batch.dates] == [
        "2024-01-02",
        "2024-01-03",
        "2024-01-04",
        "2024-02-01",
    ]
    np.testing.assert_array_equal(batch.returns[:, 0], [0.01, -0.3, 0.2, -0.25])
    with pytest.raises(InputError, match=r"row 2: '02/01/2024' is not in the format '%m/%Y'"):
        read_candidates(path, options=ReadOptions(date_format="%m/%Y"))


def test_a_saved_index_column_is_refused_unless_ignored(tmp_path):
    frame = pd.DataFrame({"date": ["2024-01-02", "2024-01-03"], "a": [0.01, 0.02]})
    path = tmp_path / "indexed.csv"
    frame.to_csv(path)  # index=True: pandas writes an unnamed first column
    with pytest.raises(InputError, match=r"column 'Unnamed: 0' looks like a saved index"):
        read_candidates(path)
    batch = read_candidates(path, options=ReadOptions(ignore_columns=("Unnamed: 0",)))
    assert batch.strategy_ids == ("a",)


def test_a_repeated_column_name_is_refused(tmp_path):
    path = _wide(tmp_path, "date,a,a\n2024-01-02,0.01,0.5\n2024-01-03,0.02,0.6\n")
    with pytest.raises(InputError, match=r"column name\(s\) \['a'\] appear more than once"):
        read_candidates(path)


def test_a_volume_column_is_refused_as_not_returns_unless_ignored(tmp_path):
    text = "date,a,volume\n2024-01-02,0.01,1200000\n2024-01-03,0.02,980000\n"
    path = _wide(tmp_path, text)
    with pytest.raises(InputError, match=r"column 'volume'.*look like prices.*--ignore-columns"):
        read_candidates(path)
    assert read_candidates(path, options=ReadOptions(ignore_columns=("volume",))).strategy_ids == (
        "a",
    )


def test_percent_returns_are_refused_unless_declared_and_then_divided(tmp_path):
    text = "date,a\n2024-01-02,1.5\n2024-01-03,-2.0\n2024-01-04,0.7\n"
    path = _wide(tmp_path, text)
    with pytest.raises(InputError, match=r"look like percent.*--returns-in percent"):
        read_candidates(path)
    batch = read_candidates(path, options=ReadOptions(returns_in="percent"))
    np.testing.assert_allclose(batch.returns[:, 0], [0.015, -0.02, 0.007])


def test_a_return_below_minus_one_is_refused(tmp_path):
    days = pd.bdate_range("2024-01-02", periods=40).strftime("%Y-%m-%d")
    returns = ["0.01"] * 40
    returns[1] = "-1.76"  # one typo among ordinary returns
    rows = "".join(f"{d},{r}\n" for d, r in zip(days, returns, strict=True))
    path = _wide(tmp_path, "date,a\n" + rows)
    with pytest.raises(InputError, match=r"column 'a', row 3: return -1.76 is below -1"):
        read_candidates(path)
    long = tmp_path / "long.csv"
    returns[1] = "-1.5"
    long.write_text(
        "strategy_id,date,return\n"
        + "".join(f"s,{d},{r}\n" for d, r in zip(days, returns, strict=True))
    )
    with pytest.raises(InputError, match=r"row 3 \(strategy 's'\): return -1.5 is below -1"):
        read_candidates(long)
    with pytest.raises(InputError, match="returns_in must be 'decimal' or 'percent'"):
        ReadOptions(returns_in="bps")


def test_weekly_bars_under_a_daily_environment_are_refused_naming_both_rates():
    from autopilot.market.returns_io import check_bar_spacing

    weekly = pd.date_range("2020-01-03", periods=104, freq="W-FRI")
    with pytest.raises(
        InputError,
        match=r"about 52 times a year .* periods_per_year is 252.*"
        r"periods_per_year: 52",
    ):
        check_bar_spacing(weekly, 252, "w.csv")
    check_bar_spacing(weekly, 52, "w.csv")  # as configured: nothing to say
    check_bar_spacing(pd.bdate_range("2020-01-01", periods=600), 252, "d.csv")
    monthly = pd.date_range("2015-01-31", periods=60, freq="ME")
    with pytest.raises(InputError, match=r"about 12 times a year"):
        check_bar_spacing(monthly, 252, "m.csv")


def test_the_cli_checks_the_spacing_unless_the_environment_says_bars_are_irregular(
    tmp_path, monkeypatch, capsys
):
    from autopilot import cli

    weekly = pd.date_range("2020-01-03", periods=104, freq="W-FRI").strftime("%Y-%m-%d")
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"date": weekly, "a": rng.normal(0.002, 0.02, len(weekly))})
    frame.to_csv(tmp_path / "weekly.csv", index=False)
    base = {"periods_per_year": 252, "gates": {"sharpe": {}}}
    (tmp_path / "daily.yaml").write_text(yaml.safe_dump(base))
    (tmp_path / "irregular.yaml").write_text(yaml.safe_dump({**base, "irregular_bars": True}))
    monkeypatch.chdir(tmp_path)
    assert cli.main(["gates", "check", "weekly.csv", "--env", "daily.yaml"]) == 2
    assert "periods_per_year is 252" in capsys.readouterr().err
    assert cli.main(["gates", "check", "weekly.csv", "--env", "irregular.yaml"]) == 0


def test_a_dataframe_gets_exactly_the_checks_of_a_file(tmp_path):
    from autopilot.market.returns_io import batch_from_frame

    frame = pd.DataFrame({"date": ["02/01/2024", "03/01/2024"], "a": [0.01, -0.02]})
    with pytest.raises(InputError, match=r"<frame>: column 'date', row 2: '02/01/2024'"):
        batch_from_frame(frame)
    batch = batch_from_frame(frame, ReadOptions(date_format="%d/%m/%Y"))
    frame.to_csv(tmp_path / "f.csv", index=False)
    from_file = read_candidates(tmp_path / "f.csv", options=ReadOptions(date_format="%d/%m/%Y"))
    np.testing.assert_array_equal(batch.returns, from_file.returns)
    assert list(batch.dates) == list(from_file.dates)
