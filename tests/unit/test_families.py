"""The strategy-family contract, its plugin path and the five built-in families."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import numpy as np
import pytest

from autopilot import hookimpl
from autopilot.errors import (
    DuplicateStrategyError,
    GateParameterError,
    PluginLoadError,
    StrategyContractError,
)
from autopilot.market.bundled import load_prices
from autopilot.sdk.family import StrategyFamily, checked_positions
from autopilot.sdk.params import Interval, Param
from autopilot.sdk.plugins import InstalledPlugin, load_strategy_catalog

BUILTIN = ("low_vol", "ma_cross", "mean_reversion", "tsmom", "vol_breakout")


def catalog_with(*classes):
    plugin = InstalledPlugin("test_families", "tests", "tests", "0")
    module = SimpleNamespace(autopilot_register_strategies=hookimpl(lambda: list(classes)))
    return load_strategy_catalog(extra_plugins=[(plugin, module)])


def family(name: str, **params) -> StrategyFamily:
    return load_strategy_catalog().families[name].cls(**params)


class Constant(StrategyFamily):
    name = "constant"
    parameters = {"weight": Param(float, interval=Interval(-1, 1))}

    def positions(self, close):
        return np.where(np.isnan(close), np.nan, self.params["weight"] / close.shape[1])


def test_builtin_families_load_through_their_entry_points():
    catalog = load_strategy_catalog()
    assert sorted(catalog.families) == list(BUILTIN)
    assert {info.plugin.distribution for info in catalog.families.values()} == {
        "strategy-autopilot"
    }


def test_parameters_are_validated_like_gate_parameters():
    with pytest.raises(GateParameterError) as err:
        family("tsmom", lookback=0)
    assert (
        str(err.value) == "The 'lookback' parameter of family 'tsmom' must be in [1, inf), was 0."
    )
    with pytest.raises(GateParameterError) as err:
        family("tsmom", lookback=5, window=3)
    assert (
        str(err.value)
        == "Family 'tsmom' has no parameter 'window'; its parameters are: long_only, lookback, skip."
    )
    with pytest.raises(GateParameterError) as err:
        family("ma_cross", fast=50, slow=20)
    assert (
        str(err.value)
        == "The parameters of family 'ma_cross' need fast < slow, were fast=50, slow=20."
    )


def test_candidate_id_names_every_parameter_in_declared_order():
    assert (
        family("tsmom", lookback=63).candidate_id == "tsmom(lookback=63, skip=0, long_only=false)"
    )
    assert (
        family("low_vol", window=21, fraction=0.5).candidate_id
        == "low_vol(window=21, fraction=0.5)"
    )


def test_third_party_family_registers_and_duplicates_are_refused():
    assert "constant" in catalog_with(Constant).families

    class Clash(Constant):
        name = "tsmom"

    with pytest.raises(DuplicateStrategyError, match="'tsmom' is offered by plugin 'tsmom'"):
        catalog_with(Clash)


def test_a_hook_returning_non_families_is_refused():
    with pytest.raises(PluginLoadError, match=r"not a subclass of autopilot\.StrategyFamily"):
        catalog_with(int)


def test_an_allowed_plugin_that_is_not_installed_is_refused():
    with pytest.raises(PluginLoadError, match="plugin 'nosuch' is allowed in the configuration"):
        load_strategy_catalog(["nosuch"])


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        (np.full((3, 2), 0.6), "gross exposure 1.2 at bar 0"),
        (np.full((3, 2), np.inf), "infinite weight at bar 0"),
        (np.zeros((3, 2), dtype=np.float32), "returned float32 positions"),
        (np.zeros((2, 2)), "positions of shape (2, 2); expected (3, 2)"),
    ],
)
def test_positions_that_break_the_contract_are_refused(weights, message):
    class Bad(Constant):
        def positions(self, close):
            return weights

    with pytest.raises(
        StrategyContractError, match=message.replace("(", r"\(").replace(")", r"\)")
    ):
        checked_positions(Bad(weight=0.5), np.ones((3, 2)))


def test_a_weight_where_there_is_no_price_is_refused():
    class Blind(Constant):
        def positions(self, close):
            return np.full(close.shape, 0.25)

    close = np.ones((3, 2))
    close[2, 1] = np.nan
    with pytest.raises(StrategyContractError, match="security 1 at bar 2, which has no price"):
        checked_positions(Blind(weight=0.5), close)


def test_tsmom_known_answer():
    # Three securities, lookback 2: row 2 compares close[2] with close[0].
    close = np.array([[10.0, 10.0, 10.0], [11.0, 9.0, 10.0], [12.0, 8.0, 10.0], [11.0, 9.0, 9.0]])
    w = family("tsmom", lookback=2).positions(close)
    assert np.isnan(w[:2]).all()
    np.testing.assert_array_equal(w[2], [1 / 3, -1 / 3, 0.0])
    np.testing.assert_array_equal(w[3], [0.0, 0.0, -1 / 3])
    w_long = family("tsmom", lookback=2, long_only=True).positions(close)
    np.testing.assert_array_equal(w_long[2], [1 / 3, 0.0, 0.0])


def test_ma_cross_known_answer():
    close = np.array([[1.0], [2.0], [3.0], [1.0]])
    w = family("ma_cross", fast=1, slow=3).positions(close)
    # Row 2: close 3 > mean(1,2,3)=2 -> long; row 3: 1 < mean(2,3,1)=2 -> short.
    np.testing.assert_array_equal(w[:, 0], [np.nan, np.nan, 1.0, -1.0])


def test_mean_reversion_known_answer():
    # Returns +10 %, -10 %, +10 %: sigma (ddof=1, window 2) of the last two returns.
    close = np.array([[100.0], [110.0], [99.0], [108.9]])
    w = family("mean_reversion", lookback=1, vol_window=2, threshold=0.5).positions(close)
    # Row 2: r=-0.1, sigma=std(0.1,-0.1)=0.1414 -> z=-0.707, |z|>0.5 -> long.
    assert np.isnan(w[:2, 0]).all()
    assert w[2, 0] == 1.0 and w[3, 0] == -1.0
    w = family("mean_reversion", lookback=1, vol_window=2, threshold=0.8).positions(close)
    assert w[2, 0] == 0.0 and w[3, 0] == 0.0


def test_vol_breakout_known_answer():
    close = np.array([[10.0], [10.0], [12.0], [10.0]])
    w = family("vol_breakout", window=2, k=0.5).positions(close)
    # Row 1: std 0 -> band is the mean itself, close equal -> 0. Row 2: mean 11, std 1.414,
    # 12 > 11 + 0.707 -> long. Row 3: mean 11, 10 < 11 - 0.707 -> short.
    np.testing.assert_array_equal(w[:, 0], [np.nan, 0.0, 1.0, -1.0])


def test_low_vol_known_answer():
    # Security 0 never moves, 1 moves a little, 2 a lot; fraction 0.5 of 3 -> hold 2.
    close = np.array([[10.0, 10.0, 10.0], [10.0, 10.1, 11.0], [10.0, 10.0, 9.0]])
    w = family("low_vol", window=2, fraction=0.5).positions(close)
    assert np.isnan(w[:2]).all()
    np.testing.assert_array_equal(w[2], [0.5, 0.5, 0.0])
    w = family("low_vol", window=2, fraction=0.1).positions(close)
    np.testing.assert_array_equal(w[2], [1.0, 0.0, 0.0])


@pytest.mark.parametrize("name", BUILTIN)
def test_every_default_grid_point_keeps_the_contract_on_the_embedded_data(name):
    info = load_strategy_catalog().families[name]
    close = np.ascontiguousarray(load_prices().to_numpy()[-1500:])
    close[:300, 3] = np.nan  # a late listing and an early delisting
    close[1200:, 5] = np.nan
    keys = list(info.cls.default_grid)
    first = {k: info.cls.default_grid[k][0] for k in keys}
    last = {k: info.cls.default_grid[k][-1] for k in keys}
    for params in (first, last):
        w = checked_positions(info.cls(**params), close)
        assert np.isfinite(w[-1]).sum() == close.shape[1] - 1  # every live security decided
        assert np.nansum(np.abs(w), axis=1).max() <= 1 + 1e-9


@pytest.mark.parametrize("name", BUILTIN)
def test_every_default_grid_point_is_a_valid_parameter_set(name):
    # `family: {}` in an environment builds the whole default grid: no point may be refused.
    cls = load_strategy_catalog().families[name].cls
    keys = list(cls.default_grid)
    for values in itertools.product(*(cls.default_grid[k] for k in keys)):
        cls(**dict(zip(keys, values, strict=True)))
