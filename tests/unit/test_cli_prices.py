"""``candidates build --prices`` and ``model train --prices``: the user's own price files.

Real CSV and Parquet files, wide and long, written here and read through the command line;
the same prices passed in-process give the same candidates.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from autopilot import cli
from autopilot.config import load_config
from autopilot.errors import InputError
from autopilot.market.prices_io import PricePanel, read_prices
from autopilot.market.regimes import volatility_regimes
from autopilot.market.universe import embedded_universe, panel_universe
from autopilot.meta_labeler import manifest_path
from autopilot.strategies.candidates import candidate_frame

AS_OF = date(2021, 6, 30)
IDS = ["tsmom(lookback=10, skip=0, long_only=false)", "tsmom(lookback=21, skip=0, long_only=false)"]
LOW_VOL = "low_vol(window=21, fraction=0.5)"
REGIMES = {"lookback": 10, "threshold_window": 50}  # labels from bar 60, not 272
ENV = """\
periods_per_year: 252
strategies:
  families:
    tsmom: {lookback: [10, 21], skip: 0}
    low_vol: {window: 21, fraction: 0.5}
meta_labeling: {tune_threshold: false, n_splits: 2, max_bars: 5}
regimes:
  model: volatility
  params: {lookback: 10, threshold_window: 50}
"""


@pytest.fixture
def closes() -> pd.DataFrame:
    """Seven securities on 500 business days: one listed late, one delisted, and MKT."""
    rng = np.random.default_rng(21)
    dates = pd.bdate_range("2019-09-02", periods=500, name="date")
    values = 50 * np.exp(np.cumsum(rng.normal(0.0003, 0.015, (500, 7)), axis=0))
    frame = pd.DataFrame(values, index=dates, columns=["A", "B", "C", "007", "NA", "F", "MKT"])
    frame.iloc[:60, 2] = np.nan  # C listed late
    frame.iloc[440:, 4] = np.nan  # NA delisted
    return frame


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "small.yaml"
    path.write_text(ENV)
    return path


def wide_csv(frame: pd.DataFrame, path):
    """Written in the current folder, so that messages name it as given."""
    frame.reset_index().to_csv(path, index=False)
    return path


def long_parquet(frame: pd.DataFrame, path):
    rows = frame.stack().rename("close").reset_index()
    rows.columns = ["date", "ticker", "close"]
    rows = rows.sort_values(["ticker", "date"], kind="stable")
    rows["volume"] = np.arange(len(rows), dtype=float) * 10.0
    rows.to_parquet(path, index=False)
    return path


def panel_of(frame: pd.DataFrame) -> PricePanel:
    """The same prices as an in-process panel, never through a file."""
    return PricePanel(pd.DatetimeIndex(frame.index), tuple(frame.columns), frame.to_numpy())


def build(env, prices, out, *extra) -> int:
    argv = ["candidates", "build", "--env", str(env), "--as-of", AS_OF.isoformat()]
    return cli.main([*argv, "--prices", str(prices), *extra, str(out)])


def test_a_wide_csv_gives_the_candidates_of_the_same_prices_in_process(env, closes, capsys):
    traded = closes.drop(columns="MKT")
    prices = wide_csv(traded, "prices.csv")
    out = "batch.parquet"
    assert build(env, prices, out) == 0
    assert capsys.readouterr().out.splitlines() == [
        "market: the equal-weighted average return of the 6 securities of prices.csv (name one "
        "of them with --market ID instead)",
        f"wrote 3 candidates to {out}",
    ]
    from_file = pd.read_parquet(out)
    assert list(from_file.columns) == ["date", *IDS, LOW_VOL, "regime"]
    assert from_file["date"].iloc[-1] == pd.Timestamp(AS_OF)
    in_process = candidate_frame(load_config(str(env)), panel_universe(panel_of(traded), AS_OF))
    pd.testing.assert_frame_equal(from_file, in_process, check_exact=True)
    # The market: 1.0 compounded by the mean of the returns known on each date.
    known = traded.loc[: pd.Timestamp(AS_OF)]
    mean = known.pct_change(fill_method=None).mean(axis=1).fillna(0.0)
    expected = volatility_regimes((1 + mean).cumprod(), **REGIMES)
    np.testing.assert_array_equal(from_file["regime"], expected.loc[from_file["date"]].to_numpy())


def test_a_long_parquet_with_market_trades_the_rest_and_labels_by_the_market(env, closes, capsys):
    prices = long_parquet(closes, "prices.parquet")
    out = "batch.parquet"
    assert build(env, prices, out, "--market", "MKT") == 0
    assert capsys.readouterr().out.splitlines()[0] == (
        "market: security 'MKT' of prices.parquet, left out of the traded securities"
    )
    from_file = pd.read_parquet(out)
    # The file's long rows are sorted by ticker, and so are the panel's securities.
    order = sorted(closes.columns.drop("MKT"))
    assert read_prices(prices).securities == tuple(sorted(closes.columns))
    traded = closes[order]
    in_process = candidate_frame(load_config(str(env)), panel_universe(panel_of(traded), AS_OF))
    pd.testing.assert_frame_equal(
        from_file.drop(columns="regime"), in_process.drop(columns="regime"), check_exact=True
    )
    expected = volatility_regimes(closes["MKT"].loc[: pd.Timestamp(AS_OF)], **REGIMES)
    np.testing.assert_array_equal(from_file["regime"], expected.loc[from_file["date"]].to_numpy())


def test_the_volume_of_a_long_file_reaches_the_universe_without_the_market(env, closes):
    panel = read_prices(long_parquet(closes, "prices.parquet"))
    universe = panel_universe(panel, AS_OF, "MKT")
    assert universe.panel.volume is not None
    assert universe.panel.volume.shape == universe.panel.close.shape
    kept = [panel.securities.index(s) for s in universe.panel.securities]
    np.testing.assert_array_equal(
        universe.panel.volume, panel.volume[: universe.panel.n_bars, kept]
    )


def test_the_embedded_data_written_to_a_file_give_the_embedded_candidates(env, capsys):
    """With the index as a column and --market, a file reproduces the default exactly."""
    embedded = embedded_universe(date(2003, 12, 31))
    frame = embedded.panel.to_frame().loc["2001-01-01":]
    frame["SP500"] = embedded.market.loc["2001-01-01":]
    prices = wide_csv(frame, "sp500.csv")
    argv = ["candidates", "build", "--env", str(env), "--as-of", "2003-12-31"]
    assert cli.main([*argv, "--prices", str(prices), "--market", "SP500", "file.parquet"]) == 0
    assert cli.main([*argv, "default.parquet"]) == 0
    from_file = pd.read_parquet(env.parent / "file.parquet")
    default = pd.read_parquet(env.parent / "default.parquet")
    columns = ["date", *IDS, LOW_VOL]
    # The file starts in 2001: the default's rows from then on. A candidate's first trade in
    # the file enters from no position (the default held one already); from bar 23 of the
    # file every candidate has traded once, and everything is equal.
    start = from_file["date"].iloc[0]
    tail = default[default["date"] >= start].reset_index(drop=True)[columns]
    pd.testing.assert_frame_equal(from_file[columns][23:], tail[23:], check_exact=True)
    assert len(tail) > 700 and not from_file[columns[1:]][23:].isna().any().any()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            ["--market", "SPY"],
            "error: prices.csv: market 'SPY' is not a security of the file (its 7 securities: "
            "A, B, C, 007, NA, F, MKT); name one of them, as written in the file, with --market",
        ),
        (
            ["--market", "7"],  # ids are text as written: '007' is not 7
            "error: prices.csv: market '7' is not a security of the file (its 7 securities: "
            "A, B, C, 007, NA, F, MKT); name one of them, as written in the file, with --market",
        ),
        (
            ["--date-format", "%d/%m/%Y"],
            "error: prices.csv: column 'date', row 2: '2019-09-02' is not in the format '%d/%m/%Y'",
        ),
    ],
)
def test_bad_options_are_refused_in_one_line_naming_the_file(env, closes, capsys, extra, message):
    prices = wide_csv(closes, "prices.csv")
    out = Path("batch.parquet")
    assert build(env, prices, out, *extra) == 2
    assert capsys.readouterr().err.splitlines() == [message]
    assert not out.exists()


def test_an_as_of_outside_the_file_is_refused_naming_the_file_and_its_range(env, closes, capsys):
    prices = wide_csv(closes, "prices.csv")
    argv = ["candidates", "build", "--env", str(env), "--as-of", "2030-01-02"]
    assert cli.main([*argv, "--prices", str(prices), "b.parquet"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "error: prices.csv: as-of date 2030-01-02 is after the last date of the prices "
        "(2021-07-30), which are not known there yet; the prices run from 2019-09-02 to "
        "2021-07-30"
    ]


def test_a_bad_price_is_refused_naming_file_column_and_row(env, closes, capsys):
    closes.iloc[100, 1] = -3.0
    prices = wide_csv(closes, "prices.csv")
    assert build(env, prices, "b.parquet") == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    assert err.startswith("error: prices.csv: column 'B', row 102: price -3 is not positive")


def test_weekly_prices_under_a_daily_environment_are_refused(env, closes, capsys):
    weekly = closes.iloc[::5]
    prices = wide_csv(weekly, "weekly.csv")
    assert build(env, prices, "b.parquet") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: weekly.csv: its bars come about 52 times a year")
    assert "periods_per_year is 252" in err


@pytest.mark.parametrize("option", [["--market", "MKT"], ["--min-history", "5"]])
def test_price_options_without_prices_are_refused(env, capsys, option):
    argv = ["candidates", "build", "--env", str(env), "--as-of", "2003-12-31", *option, "b.parquet"]
    assert cli.main(argv) == 2
    assert capsys.readouterr().err.startswith(
        f"error: {option[0]} applies to a price file given with --prices FILE"
    )


def test_model_train_reads_the_file_and_its_market(env, closes, capsys):
    prices = long_parquet(closes, "prices.parquet")
    assert cli.main(["init", "--state-dir", "state"]) == 0
    argv = ["model", "train", "--env", str(env), "--as-of", AS_OF.isoformat()]
    strategy = ["--strategy", IDS[0], "--prices", str(prices), "--market", "MKT"]
    capsys.readouterr()
    assert cli.main([*argv, *strategy]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "market: security 'MKT' of prices.parquet, left out of the traded securities"
    saved = env.parent / "state" / "models" / f"meta_labeler_{AS_OF.isoformat()}.joblib"
    manifest = json.loads(manifest_path(saved).read_text())
    assert manifest["events"] > 50
    # Trained on bars up to the as-of date only: 2021-06-30 is bar 478 of the file.
    assert manifest["training_window"][1] <= 478
    # Without --market the panel's equal-weighted market, said on stdout.
    assert cli.main([*argv, *strategy[:4], "--out", "ew.joblib"]) == 0
    assert capsys.readouterr().out.startswith("market: the equal-weighted average return of the 7")


def test_model_train_refuses_a_history_too_short_for_its_features(env, closes, capsys):
    """The default volatility rule labels from bar 272: a first fold without a regime."""
    env.write_text(ENV.split("regimes:")[0])
    prices = wide_csv(closes, "prices.csv")
    assert cli.main(["init", "--state-dir", "state"]) == 0
    argv = ["model", "train", "--env", str(env), "--as-of", AS_OF.isoformat()]
    assert cli.main([*argv, "--strategy", IDS[0], "--prices", str(prices)]) == 2
    err = capsys.readouterr().err
    assert "have no value of feature 'regime_confidence'; train on a longer history" in err


def test_panel_universe_known_answers_and_refusals():
    dates = pd.DatetimeIndex(["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"])
    close = np.array(
        [[10.0, np.nan, 100.0], [11.0, 20.0, 101.0], [9.9, 22.0, 102.0], [9.9, 22.0, 103.0]]
    )
    panel = PricePanel(dates, ("A", "B", "M"), close, source="p.csv")
    ew = panel_universe(panel, date(2024, 1, 4))
    # Bar 1: A +10 %, M +1 %; bar 2: A -10 %, B +10 %, M +0.99 %.
    r1, r2 = (0.1 + 0.01) / 2, (-0.1 + 0.1 + 1 / 101) / 3
    np.testing.assert_allclose(ew.market.to_numpy(), [1.0, 1 + r1, (1 + r1) * (1 + r2)])
    assert ew.panel.n_bars == 3 and ew.as_of == date(2024, 1, 4)
    named = panel_universe(panel, date(2024, 1, 5), "M")
    assert named.panel.securities == ("A", "B")
    np.testing.assert_array_equal(named.market.to_numpy(), close[:, 2])
    with pytest.raises(InputError, match=r"p.csv: on 2024-01-02 only the market 'B' has a price"):
        panel_universe(
            PricePanel(dates, ("A", "B"), close[:, 1::-1], source="p.csv"), date(2024, 1, 4), "B"
        )
    lonely = PricePanel(dates[:2], ("A", "B"), np.array([[1.0, np.nan], [np.nan, 2.0]]))
    with pytest.raises(InputError, match="on 2024-01-03 no security has a return"):
        panel_universe(lonely, date(2024, 1, 3))
    with pytest.raises(InputError, match="market 'B' has no price up to 2024-01-02; its first "):
        panel_universe(PricePanel(dates[:2], ("A", "B"), close[:2, :2]), date(2024, 1, 2), "B")
