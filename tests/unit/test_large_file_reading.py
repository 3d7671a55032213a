"""The column-wise Parquet readers: the same batch as the DataFrame path, group by group.

Wide Parquet files are read a block of columns at a time, long ones in two passes over
their row groups (see ``autopilot.market._returns_assembly``). Each test writes real files
with several row groups and compares the result with an independent construction (a
pandas pivot) or with the CSV path, which goes through pandas.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autopilot.errors import InputError
from autopilot.market.returns_io import ReadOptions, batch_from_frame, read_candidates


def _long(n_candidates: int, n_bars: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2020-01-01", periods=n_bars)
    frame = pd.DataFrame(
        {
            "strategy_id": np.repeat([f"c{j}" for j in range(n_candidates)], n_bars),
            "date": np.tile(dates, n_candidates),
            "return": rng.normal(0, 0.01, n_candidates * n_bars),
        }
    )
    return frame.sample(frac=1, random_state=seed).reset_index(drop=True)


def _pivot(frame: pd.DataFrame) -> pd.DataFrame:
    """The expected matrix, by pandas' own pivot (ids in order of first appearance)."""
    order = pd.unique(frame["strategy_id"])
    return frame.pivot(index="date", columns="strategy_id", values="return")[order]


@settings(max_examples=25, deadline=None)
@given(
    n_candidates=st.integers(1, 6),
    n_bars=st.integers(3, 20),
    rows_per_group=st.integers(1, 17),
    seed=st.integers(0, 1000),
)
def test_long_parquet_in_row_groups_equals_a_pandas_pivot(
    tmp_path_factory, n_candidates, n_bars, rows_per_group, seed
):
    frame = _long(n_candidates, n_bars, seed).iloc[: max(1, n_candidates * n_bars - seed % 5)]
    path = tmp_path_factory.mktemp("long") / "r.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, rows_per_group)
    batch = read_candidates(path)
    expected = _pivot(frame)
    assert batch.strategy_ids == tuple(expected.columns)
    assert list(batch.dates) == list(expected.index)
    np.testing.assert_array_equal(batch.returns, expected.to_numpy())


def test_wide_parquet_csv_and_frame_give_the_same_batch(tmp_path):
    wide = _pivot(_long(300, 40, seed=3)).reset_index()  # 300 columns: two blocks
    wide = wide.sample(frac=1, random_state=2)  # rows out of date order
    parquet, csv = tmp_path / "w.parquet", tmp_path / "w.csv"
    wide.to_parquet(parquet, index=False)
    wide.to_csv(csv, index=False)
    batches = [read_candidates(parquet), read_candidates(csv), batch_from_frame(wide)]
    for batch in batches[1:]:
        assert batch.strategy_ids == batches[0].strategy_ids
        assert list(batch.dates) == list(batches[0].dates)
        np.testing.assert_allclose(batch.returns, batches[0].returns, rtol=0, atol=1e-15)
    assert list(batches[0].dates) == sorted(batches[0].dates)


def test_a_duplicate_in_a_later_row_group_is_named_with_its_row(tmp_path):
    frame = _long(3, 10, seed=1)
    frame = pd.concat([frame, frame.iloc[[4]]], ignore_index=True)  # row 31 repeats row 5
    path = tmp_path / "r.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, 7)
    sid, day = frame.iloc[4]["strategy_id"], frame.iloc[4]["date"].date()
    with pytest.raises(InputError, match=f"strategy '{sid}' has two rows for {day}"):
        read_candidates(path)


def test_refusals_in_later_row_groups_name_the_file_row(tmp_path):
    frame = _long(2, 10, seed=2)
    frame.loc[13, "return"] = -1.5
    path = tmp_path / "r.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, 4)
    sid = frame.loc[13, "strategy_id"]
    with pytest.raises(InputError, match=rf"row 15 \(strategy '{sid}'\): return -1.5 is below -1"):
        read_candidates(path)
    frame.loc[13, "return"] = 0.0
    frame.loc[17, "date"] = pd.NaT
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, 4)
    with pytest.raises(InputError, match="column 'date', row 19: empty"):
        read_candidates(path)


def test_text_dates_and_integer_ids_in_a_long_parquet_file(tmp_path):
    frame = _long(2, 5)
    frame["date"] = frame["date"].dt.strftime("%d/%m/%Y")
    frame["strategy_id"] = frame["strategy_id"].str[1:].astype(int) + 10001  # permno-like
    path = tmp_path / "r.parquet"
    frame.to_parquet(path, index=False)
    with pytest.raises(InputError, match="is not an ISO date"):
        read_candidates(path)
    batch = read_candidates(path, options=ReadOptions(date_format="%d/%m/%Y"))
    assert set(batch.strategy_ids) == {"10001", "10002"}
    assert batch.dates[0] == pd.Timestamp("2020-01-01")


def test_percent_in_a_long_parquet_file_is_refused_then_divided(tmp_path):
    frame = _long(2, 30)
    frame["return"] *= 100
    path = tmp_path / "r.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, 11)
    with pytest.raises(InputError, match="they look like percent"):
        read_candidates(path)
    batch = read_candidates(path, options=ReadOptions(returns_in="percent"))
    np.testing.assert_allclose(batch.returns, _pivot(frame).to_numpy() / 100)


def test_tickers_that_look_missing_or_numeric_stay_as_written_in_csv(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text(
        "strategy_id,date,return\n"
        "NA,2024-01-02,0.01\n007,2024-01-02,0.02\nnan,2024-01-02,0.03\n"
        "NA,2024-01-03,0.01\n007,2024-01-03,NA\nnan,2024-01-03,0.03\n"
    )
    batch = read_candidates(path)
    assert batch.strategy_ids == ("NA", "007", "nan")
    assert np.isnan(batch.returns[1, 1])  # NA in a return cell is still missing
    path.write_text("strategy_id,date,return\n,2024-01-02,0.01\n")
    with pytest.raises(InputError, match="row 2: strategy_id is empty"):
        read_candidates(path)


def test_a_true_false_column_is_refused_as_not_returns(tmp_path):
    frame = pd.DataFrame(
        {"date": pd.bdate_range("2024-01-01", periods=4), "a": 0.01, "holiday": False}
    )
    path = tmp_path / "w.parquet"
    frame.to_parquet(path, index=False)
    with pytest.raises(InputError, match=r"'holiday'.*true/false value"):
        read_candidates(path)
    assert read_candidates(path, options=ReadOptions(ignore_columns=("holiday",))).strategy_ids


def test_an_index_pandas_saved_is_not_a_candidate_and_a_date_index_is_the_date(tmp_path):
    frame = pd.DataFrame({"a": [0.01, 0.02, -0.01]}, index=pd.Index([10, 11, 12], name=None))
    frame.insert(0, "date", pd.bdate_range("2024-01-01", periods=3))
    path = tmp_path / "w.parquet"
    frame.to_parquet(path)  # a non-default index is stored as __index_level_0__
    assert read_candidates(path).strategy_ids == ("a",)
    frame.set_index("date").to_parquet(path)
    batch = read_candidates(path)
    assert batch.strategy_ids == ("a",) and len(batch.dates) == 3


def test_a_large_file_reports_its_stages(tmp_path):
    frame = _long(3, 10)
    path = tmp_path / "r.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, 8)
    seen: list[tuple[str, int, int]] = []
    read_candidates(path, on_progress=lambda *step: seen.append(step))
    assert [s for s in seen if s[0] == "reading"][-1] == ("reading", 4, 4)
    assert [s for s in seen if s[0] == "arranging"][-1] == ("arranging", 4, 4)
    wide = tmp_path / "w.parquet"
    _pivot(frame).reset_index().to_parquet(wide, index=False)
    seen.clear()
    read_candidates(wide, on_progress=lambda *step: seen.append(step))
    assert seen == [("reading", 1, 1)]


def test_a_refused_cell_of_an_unsorted_wide_file_is_named_by_its_file_row(tmp_path):
    path = tmp_path / "w.csv"
    path.write_text("date,a\n2024-01-04,0.01\n2024-01-02,0.02\n2024-01-03,x\n")
    with pytest.raises(InputError, match="column 'a', row 4: return 'x' is not a number"):
        read_candidates(path)
    days = pd.bdate_range("2024-01-01", periods=30)[::-1]  # newest first
    returns = [0.01] * 30
    returns[7] = -2.0  # file row 9
    pd.DataFrame({"date": days, "a": returns}).to_csv(path, index=False)
    with pytest.raises(InputError, match="column 'a', row 9: return -2 is below -1"):
        read_candidates(path)


def test_a_row_group_without_any_regime_label_reads_as_missing_labels(tmp_path):
    frame = _long(2, 4).sort_values("date", kind="stable").reset_index(drop=True)
    frame["regime"] = ["calm"] * 4 + [None] * 4
    path = tmp_path / "r.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, 4)
    batch = read_candidates(path)
    assert batch.regime_names == ("calm",)
    assert list(batch.regimes) == [0, 0, -1, -1]


def test_unused_categories_of_a_parquet_file_are_not_data(tmp_path):
    frame = _long(2, 3)
    frame["strategy_id"] = pd.Categorical(frame["strategy_id"], categories=["c0", "c1", "zzz"])
    frame["date"] = pd.Categorical(
        frame["date"].dt.strftime("%Y-%m-%d"),
        categories=[*sorted(frame["date"].dt.strftime("%Y-%m-%d").unique()), "junk"],
    )
    path = tmp_path / "r.parquet"
    frame.to_parquet(path, index=False)
    batch = read_candidates(path)
    assert set(batch.strategy_ids) == {"c0", "c1"} and len(batch.dates) == 3
    assert not np.isnan(batch.returns).any()


def test_true_false_cells_with_empty_ones_are_refused_not_read_as_one_and_zero(tmp_path):
    path = tmp_path / "w.csv"
    path.write_text("date,a,flag\n2024-01-02,0.01,True\n2024-01-03,0.02,\n2024-01-04,0.0,False\n")
    with pytest.raises(InputError, match="column 'flag', row 2: a true/false value"):
        read_candidates(path)
    frame = pd.DataFrame(
        {"date": pd.bdate_range("2024-01-01", periods=3), "flag": pd.array([True, None, False])}
    )
    parquet = tmp_path / "w.parquet"
    frame.assign(a=0.01).to_parquet(parquet, index=False)
    with pytest.raises(InputError, match=r"'flag'.*true/false value"):
        read_candidates(parquet)


def test_a_long_frame_saved_with_its_id_and_date_as_the_index_is_still_long(tmp_path):
    frame = _long(2, 4)
    path = tmp_path / "r.parquet"
    frame.set_index(["strategy_id", "date"]).to_parquet(path)
    batch = read_candidates(path)
    np.testing.assert_array_equal(batch.returns, _pivot(frame).to_numpy())


def test_mixed_type_regime_labels_in_a_frame_are_read_as_text(tmp_path):
    frame = _long(1, 4).sort_values("date").reset_index(drop=True)
    frame["regime"] = pd.Series([1, "bull", 1, "bull"], dtype=object)
    batch = batch_from_frame(frame)
    assert batch.regime_names == ("1", "bull")
    assert list(batch.regimes) == [0, 1, 0, 1]


def test_frame_columns_that_repeat_once_stripped_are_refused():
    frame = pd.DataFrame([["2024-01-02", 0.01, 0.02]], columns=["date", "a", " a"])
    with pytest.raises(InputError, match=r"column name\(s\) \['a'\] appear more than once"):
        batch_from_frame(frame)
