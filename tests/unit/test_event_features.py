"""Event features: hand-computed values, and nothing read after the entry bar."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from autopilot.errors import InputError
from autopilot.market.bundled import load_index, load_prices
from autopilot.strategies.event_features import event_features

FAMILIES = ("momentum", "reversion")


@pytest.fixture(scope="module")
def market():
    prices = load_prices().iloc[:1500]
    return prices.to_numpy(), load_index().iloc[:1500].to_numpy()


def features_at(close, index, bars, securities):
    n = len(bars)
    regimes = np.arange(close.shape[0]) % 2
    confidence = np.linspace(0.5, 1.0, close.shape[0])
    return event_features(
        close,
        index,
        regimes,
        confidence,
        bars=np.asarray(bars),
        securities=np.asarray(securities),
        sides=np.array([1, -1] * n)[:n],
        families=(["momentum", "reversion"] * n)[:n],
        strengths=np.linspace(0.1, 1.0, n),
        family_names=FAMILIES,
    )


def test_each_feature_is_its_definition_at_the_entry_bar(market):
    close, index = market
    out = features_at(close, index, [300, 1000], [2, 7])
    assert out.columns.tolist()[:2] == ["family=momentum", "family=reversion"]
    assert out["family=momentum"].tolist() == [1.0, 0.0]
    assert out["side"].tolist() == [1.0, -1.0]
    assert out["return_21"].iloc[0] == pytest.approx(close[300, 2] / close[279, 2] - 1.0)
    assert out["return_63"].iloc[1] == pytest.approx(close[1000, 7] / close[937, 7] - 1.0)
    assert out["trend"].iloc[0] == pytest.approx(close[300, 2] / close[238:301, 2].mean() - 1)
    assert out["market_return"].iloc[1] == pytest.approx(index[1000] / index[979] - 1.0)
    returns = pd.Series(close[:301, 2]).pct_change()
    assert out["volatility"].iloc[0] == pytest.approx(returns.ewm(span=21).std().iloc[-1])
    assert out["regime"].tolist() == [0.0, 0.0]


def test_no_feature_reads_a_price_after_the_entry(market):
    close, index = market
    bars, securities = [100, 400, 800, 801], [0, 5, 10, 19]
    before = features_at(close, index, bars, securities)
    changed_close, changed_index = close.copy(), index.copy()
    changed_close[802:] *= 1.5
    changed_index[802:] *= 0.5
    after = features_at(changed_close, changed_index, bars, securities)
    pd.testing.assert_frame_equal(before, after)


def test_a_feature_without_enough_history_is_missing(market):
    close, index = market
    out = features_at(close, index, [10], [0])
    assert np.isnan(out["return_21"].iloc[0]) and np.isnan(out["trend"].iloc[0])
    assert out["return_5"].iloc[0] == pytest.approx(close[10, 0] / close[5, 0] - 1.0)


def test_an_unknown_family_is_refused(market):
    close, index = market
    with pytest.raises(InputError, match=r"families \['breakout'\] not among"):
        event_features(
            close,
            index,
            np.zeros(len(index)),
            np.ones(len(index)),
            bars=np.array([50]),
            securities=np.array([0]),
            sides=np.array([1]),
            families=["breakout"],
            strengths=np.array([1.0]),
            family_names=FAMILIES,
        )
