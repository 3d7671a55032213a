from __future__ import annotations

import numpy as np
import pandas as pd

from autopilot.market.bundled import load_index, load_prices

TICKERS = [
    "AAPL",
    "AMD",
    "BAC",
    "BBY",
    "CVX",
    "GE",
    "HD",
    "JNJ",
    "JPM",
    "KO",
    "LLY",
    "MRK",
    "MSFT",
    "PEP",
    "PFE",
    "PG",
    "RRC",
    "UNH",
    "WMT",
    "XOM",
]


def test_prices_shape_and_columns() -> None:
    prices = load_prices()
    assert prices.shape == (8313, 20)
    assert list(prices.columns) == TICKERS
    assert all(dtype == np.float64 for dtype in prices.dtypes)


def test_prices_dates_sorted_unique_and_named() -> None:
    prices = load_prices()
    assert isinstance(prices.index, pd.DatetimeIndex)
    assert prices.index.name == "date"
    assert prices.index.is_monotonic_increasing
    assert prices.index.is_unique
    assert prices.index[0] == pd.Timestamp("1990-01-02")
    assert prices.index[-1] == pd.Timestamp("2022-12-28")


def test_prices_positive_and_complete() -> None:
    prices = load_prices()
    assert prices.notna().all().all()
    assert (prices > 0.0).all().all()


def test_index_matches_price_dates() -> None:
    index = load_index()
    assert isinstance(index, pd.Series)
    assert index.name == "SP500"
    assert index.dtype == np.float64
    assert len(index) == 8313
    assert index.index.equals(load_prices().index)
    assert (index > 0.0).all()


def test_each_call_returns_an_independent_copy() -> None:
    first = load_prices()
    first.iloc[0, 0] = -1.0
    assert load_prices().iloc[0, 0] > 0.0
    index = load_index()
    index.iloc[0] = -1.0
    assert load_index().iloc[0] > 0.0
