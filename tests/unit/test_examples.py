from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from autopilot.errors import InputError
from autopilot.market.bundled import load_index, load_prices
from autopilot.market.regimes import volatility_regimes
from autopilot.strategies.examples import COLUMNS, RULES, example_returns, write_example


@pytest.fixture(scope="module")
def default_frame() -> pd.DataFrame:
    return example_returns()


def _wide(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.pivot(index="date", columns="strategy_id", values="return")


def test_columns_and_dtypes(default_frame: pd.DataFrame) -> None:
    assert tuple(default_frame.columns) == COLUMNS
    assert pd.api.types.is_string_dtype(default_frame["strategy_id"])
    assert pd.api.types.is_datetime64_dtype(default_frame["date"])
    assert default_frame["return"].dtype == np.float64
    assert default_frame["regime"].dtype == np.int64


def test_one_strategy_per_ticker_and_rule_with_modest_size(default_frame: pd.DataFrame) -> None:
    ids = set(default_frame["strategy_id"])
    expected = {f"{ticker}:{rule}" for ticker in load_prices().columns for rule in RULES}
    assert ids == expected
    assert 250_000 < len(default_frame) < 450_000
    assert not default_frame.duplicated(["strategy_id", "date"]).any()
    assert np.isfinite(default_frame["return"]).all()


def test_track_records_start_on_different_dates(default_frame: pd.DataFrame) -> None:
    starts = default_frame.groupby("strategy_id")["date"].min()
    assert starts.nunique() >= 3
    assert starts["AAPL:buy_and_hold"] < starts["AAPL:ma_cross_50_200"]
    assert starts["AAPL:ma_cross_50_200"] < starts["AAPL:momentum_12_1"]
    assert starts.min() >= pd.Timestamp("2005-01-01")


def test_regime_present_for_every_row(default_frame: pd.DataFrame) -> None:
    assert default_frame["regime"].notna().all()
    # The index history before 2005 warms the labels up: none missing.
    assert set(default_frame["regime"].unique()) == {0, 1}
    labels = volatility_regimes(load_index())
    sample = default_frame.sample(500, random_state=3)
    assert (labels.loc[pd.DatetimeIndex(sample["date"])].to_numpy() == sample["regime"]).all()


def test_buy_and_hold_return_equals_price_change(default_frame: pd.DataFrame) -> None:
    prices = load_prices().loc["2005-01-01":]
    expected = prices.pct_change(fill_method=None).iloc[1:]
    wide = _wide(default_frame)
    for ticker in ("AAPL", "JNJ", "XOM"):
        got = wide[f"{ticker}:buy_and_hold"].dropna()
        np.testing.assert_allclose(got.to_numpy(), expected[ticker].to_numpy(), rtol=0, atol=0)
        assert got.index.equals(expected.index)


@pytest.mark.parametrize("cut", ["2008-09-15", "2013-06-03", "2020-03-02"])
def test_no_look_ahead(cut: str) -> None:
    prices = load_prices()[["AAPL", "KO", "RRC"]]
    index = load_index()
    rng = np.random.default_rng(0)
    altered_prices = prices.copy()
    later = altered_prices.index > pd.Timestamp(cut)
    altered_prices.loc[later] *= np.exp(rng.normal(0.0, 0.2, (int(later.sum()), 3)))
    altered_index = index.copy()
    altered_index.loc[later] *= 3.0 + rng.random(int(later.sum()))

    original = example_returns(prices, index)
    altered = example_returns(altered_prices, altered_index)
    key = ["strategy_id", "date"]
    before = original[original["date"] <= cut].set_index(key)
    after = altered[altered["date"] <= cut].set_index(key)
    pd.testing.assert_frame_equal(before, after)
    # The alteration is real: later returns do change.
    assert (
        not original[original["date"] > cut]
        .reset_index(drop=True)
        .equals(altered[altered["date"] > cut].reset_index(drop=True))
    )


def test_mean_reversion_known_answer_with_costs() -> None:
    dates = pd.bdate_range("2010-01-04", periods=40)
    levels = np.where(np.arange(40) < 20, 100.0, 90.0)
    prices = pd.DataFrame({"X": levels}, index=dates)
    frame = example_returns(prices, load_index(), start="2010-01-01", cost_bps=5.0)
    wide = _wide(frame)
    rule = wide["X:mean_reversion_5d"].dropna()
    # 5-bar losses below -5 % on bars 20..24 -> signal 20..28 -> position held 21..29.
    assert rule.index[0] == dates[10]
    assert rule[dates[20]] == 0.0  # the drop itself happens while still flat
    assert rule[dates[21]] == pytest.approx(-0.0005)  # entry cost, flat price
    assert (rule[dates[22] : dates[29]] == 0.0).all()
    assert rule[dates[30]] == pytest.approx(-0.0005)  # exit cost
    assert (rule[dates[31] :] == 0.0).all()
    buy_and_hold = wide["X:buy_and_hold"].dropna()
    assert buy_and_hold[dates[20]] == pytest.approx(-0.1)


def test_signals_use_only_lagged_prices() -> None:
    # A price that jumps once: no rule may be invested on the jump bar unless it already
    # was the bar before.
    dates = pd.bdate_range("2010-01-04", periods=300)
    levels = np.where(np.arange(300) < 260, 100.0 * 0.999 ** np.arange(300), 500.0)
    prices = pd.DataFrame({"X": levels}, index=dates)
    wide = _wide(example_returns(prices, load_index(), start="2010-01-01", cost_bps=0.0))
    for rule in ("ma_cross_50_200", "momentum_12_1", "mean_reversion_5d"):
        assert wide.loc[dates[260], f"X:{rule}"] == 0.0


@pytest.mark.parametrize("name", ["example.parquet", "example.csv", "sub/example.csv.gz"])
def test_write_example_round_trip(tmp_path: Path, name: str) -> None:
    frame = example_returns(load_prices()[["AAPL", "PG"]], start="2018-01-01")
    written = write_example(tmp_path / name, frame)
    assert written == tmp_path / name
    if name.endswith(".parquet"):
        back = pd.read_parquet(written)
    else:
        back = pd.read_csv(written, parse_dates=["date"])
    back["date"] = back["date"].astype(frame["date"].dtype)
    pd.testing.assert_frame_equal(back, frame, check_dtype=False)
    assert [p.name for p in written.parent.iterdir()] == [written.name]


def test_write_example_refuses_unknown_suffix(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="parquet"):
        write_example(tmp_path / "example.xlsx", pd.DataFrame())


def test_bad_prices_are_refused() -> None:
    prices = load_prices()[["AAPL"]].copy()
    prices.iloc[100, 0] = 0.0
    with pytest.raises(InputError, match="positive"):
        example_returns(prices)
    with pytest.raises(InputError, match="start"):
        example_returns(load_prices()[["AAPL"]], start="2030-01-01")
