"""Reading returns files: both layouts, both formats, and every refusal."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from autopilot.errors import InputError
from autopilot.market.returns_io import read_candidates

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
            "column 'date', row 2: cannot parse 'yesterday'",
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
