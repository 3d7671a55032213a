"""The Gaussian-mixture regime model and the one interface over both regime models."""

from __future__ import annotations

import inspect
from datetime import date

import numpy as np
import pandas as pd
import pytest
from numpy.lib.stride_tricks import sliding_window_view
from scipy.special import digamma
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.mixture import GaussianMixture

from autopilot.config import config_from_dict, load_config
from autopilot.errors import ConfigError, InputError
from autopilot.market.bundled import load_index
from autopilot.market.regime_models import (
    Regimes,
    gaussian_mixture_regimes,
    regime_names,
    regimes_from_config,
)
from autopilot.market.regime_settings import MODELS, RegimeSettings
from autopilot.market.regimes import volatility_regimes
from autopilot.market.universe import embedded_universe
from autopilot.meta_labeler import MetaLabelingModel
from autopilot.stats.metrics import MISSING_REGIME
from autopilot.strategies.candidates import candidate_frame
from autopilot.strategies.meta_training import select_strategies, train_meta_labeler


def _prices(sigmas: list[tuple[float, int]], seed: int = 3) -> pd.Series:
    """Gaussian daily returns in stretches of (volatility, bars); the first price is 100."""
    rng = np.random.default_rng(seed)
    sigma = np.concatenate([np.full(bars, level) for level, bars in sigmas])
    returns = rng.standard_normal(sigma.size) * sigma
    levels = 100.0 * np.cumprod(np.concatenate(([1.0], 1.0 + returns)))
    return pd.Series(levels, index=pd.bdate_range("2000-01-03", periods=levels.size))


def _expected_log_vol_bias(lookback: int) -> float:
    """E[ln s] - ln sigma for the sample std s of ``lookback`` Gaussian draws (chi-square)."""
    dof = lookback - 1
    return 0.5 * (digamma(dof / 2.0) + np.log(2.0 / dof))


# --------------------------------------------------------------------------------------------
# Ordering by volatility, with a confidence


def test_a_turbulent_stretch_gets_the_higher_label_with_high_confidence():
    lookback = 10
    calm, wild = 0.004, 0.025
    prices = _prices([(calm, 700), (wild, 250), (calm, 350)])
    regimes = gaussian_mixture_regimes(
        prices, lookback=lookback, refit_every=50, min_train=300, random_state=1
    )
    labels, confidence = regimes.labels.to_numpy(), regimes.confidence.to_numpy()
    # Price bar b carries return b - 1: a window is wholly turbulent from bar 701 + lookback.
    turbulent = slice(701 + lookback, 951)
    calm_after = slice(951 + lookback, None)
    assert regimes.fits[0].bar == 350
    assert (labels[turbulent] == 1).mean() > 0.97
    assert np.median(confidence[turbulent]) > 0.99
    # Labels keep their meaning across the refits during and after the turbulence. (Before
    # it, the fits see calm bars only and split them into a calmer and a less calm half.)
    assert (labels[calm_after] == 0).mean() > 0.9
    assert np.median(confidence[calm_after]) > 0.9
    # Once both stretches are in the training window, each state's volatility is the
    # stretch's: sigma times exp(E[ln s / sigma]) for the sample std of `lookback` draws.
    last = regimes.fits[-1]
    expected = np.array([calm, wild]) * np.exp(_expected_log_vol_bias(lookback))
    np.testing.assert_allclose(last.volatility, expected, rtol=0.12)
    assert regimes.names == ("calm", "turbulent")


def test_three_states_are_ordered_calm_to_turbulent():
    lookback = 21
    low, mid, high = 0.003, 0.01, 0.03
    stretches = [(mid, 400), (low, 400), (high, 300), (low, 300), (mid, 300)]
    prices = _prices(stretches, seed=5)
    regimes = gaussian_mixture_regimes(
        prices, states=3, lookback=lookback, refit_every=100, min_train=1000
    )
    assert regimes.names == ("state_0", "state_1", "state_2")
    assert regimes.fits[0].bar == 1100  # 1080 rows at bar 1100, the first multiple of 100
    labels = regimes.labels.to_numpy()
    # Stretch interiors (from one lookback after a switch) after the first fit.
    starts = np.cumsum([0] + [bars for _, bars in stretches])
    expected_state = {low: 0, mid: 1, high: 2}
    for (level, _), start, end in zip(stretches, starts[:-1], starts[1:], strict=True):
        first = max(start + 1 + lookback, 1100)
        if first < end:
            assert (labels[first : end + 1] == expected_state[level]).mean() > 0.9, level
    vols = regimes.fits[-1].volatility
    assert vols[0] < vols[1] < vols[2]


# --------------------------------------------------------------------------------------------
# The refit schedule and unlabelled bars


@pytest.mark.parametrize(("min_train", "first_fit"), [(131, 150), (132, 200)])
def test_bars_before_the_first_fit_are_unlabelled(min_train, first_fit):
    lookback, every = 20, 50
    prices = _prices([(0.01, 300), (0.03, 200)])  # 501 bars
    regimes = gaussian_mixture_regimes(
        prices, lookback=lookback, refit_every=every, min_train=min_train
    )
    labels, confidence = regimes.labels.to_numpy(), regimes.confidence.to_numpy()
    # Bar t has a feature row from t = lookback on: t - lookback + 1 rows at bar t.
    assert (labels[:first_fit] == MISSING_REGIME).all()
    assert np.isnan(confidence[:first_fit]).all()
    assert (labels[first_fit:] >= 0).all()
    assert ((confidence[first_fit:] >= 0.5) & (confidence[first_fit:] <= 1.0)).all()
    assert [f.bar for f in regimes.fits] == list(range(first_fit, len(prices), every))
    assert [f.rows for f in regimes.fits] == [f.bar - lookback + 1 for f in regimes.fits]
    assert [f.at for f in regimes.fits] == [prices.index[f.bar] for f in regimes.fits]
    assert labels.dtype == np.int64 and regimes.labels.name == "regime"
    assert regimes.confidence.name == "regime_confidence"
    assert regimes.labels.index.equals(prices.index)


def test_a_missing_price_unlabels_exactly_the_bars_whose_windows_touch_it():
    lookback = 10
    prices = _prices([(0.01, 400), (0.03, 200)])
    prices.iloc[450] = np.nan
    regimes = gaussian_mixture_regimes(prices, lookback=lookback, refit_every=25, min_train=200)
    labels = regimes.labels.to_numpy()
    # Returns 450 and 451 are missing: volatility windows ending at 450 .. 450 + lookback,
    # and the trailing return at 450 + lookback (which starts at bar 450).
    assert (labels[450 : 451 + lookback] == MISSING_REGIME).all()
    assert labels[449] >= 0 and (labels[451 + lookback :] >= 0).all()
    assert np.isnan(regimes.confidence.to_numpy()[450 : 451 + lookback]).all()
    # The refit at 475 trains on the rows at or before it, without the missing ones.
    fit = next(f for f in regimes.fits if f.bar == 475)
    assert fit.rows == (475 - lookback + 1) - (lookback + 1)


def test_constant_prices_leave_every_bar_unlabelled():
    prices = pd.Series(100.0, index=pd.bdate_range("2000-01-03", periods=400))
    regimes = gaussian_mixture_regimes(prices, refit_every=50, min_train=100)
    assert (regimes.labels == MISSING_REGIME).all()
    assert regimes.confidence.isna().all()
    assert regimes.fits == ()


def test_two_runs_are_bit_identical():
    prices = _prices([(0.01, 500), (0.03, 300), (0.008, 400)], seed=9)
    params = {"refit_every": 60, "min_train": 250, "n_init": 2, "random_state": 7}
    first = gaussian_mixture_regimes(prices, **params)
    second = gaussian_mixture_regimes(prices.copy(), **params)
    pd.testing.assert_series_equal(first.labels, second.labels)
    assert np.array_equal(first.confidence, second.confidence, equal_nan=True)
    assert first.fits == second.fits


# --------------------------------------------------------------------------------------------
# The posterior against scikit-learn's own predict_proba


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_labels_and_confidence_match_scikit_learn_predict_proba(covariance_type):
    lookback, point, n = 15, 400, 800
    prices = _prices([(0.006, 300), (0.02, 200), (0.006, 300)], seed=11).iloc[:n]
    regimes = gaussian_mixture_regimes(
        prices,
        lookback=lookback,
        refit_every=point,
        min_train=point - lookback + 1,
        covariance_type=covariance_type,
    )
    assert [f.bar for f in regimes.fits] == [point]
    # The features and the fit, computed here independently of the module.
    log_price = np.log(prices.to_numpy())
    windows = sliding_window_view(np.diff(log_price), lookback)  # returns 1..n-1
    features = np.column_stack(
        (log_price[lookback:] - log_price[:-lookback], np.log(windows.std(axis=1, ddof=1)))
    )  # rows for bars lookback .. n-1
    train = features[: point - lookback + 1]
    center, scale = train.mean(axis=0), train.std(axis=0)
    model = GaussianMixture(2, covariance_type=covariance_type, max_iter=500, random_state=0)
    model.fit((train - center) / scale)
    order = np.argsort(model.means_[:, 1])
    proba = model.predict_proba((features[point - lookback :] - center) / scale)[:, order]
    expected_label = np.argmax(proba, axis=1)
    labels = regimes.labels.to_numpy()[point:]
    confidence = regimes.confidence.to_numpy()[point:]
    clear = np.abs(proba[:, 0] - 0.5) > 1e-6
    np.testing.assert_array_equal(labels[clear], expected_label[clear])
    np.testing.assert_allclose(confidence, proba.max(axis=1), rtol=1e-7, atol=1e-9)
    state_log_vol = model.means_[order, 1] * scale[1] + center[1]
    np.testing.assert_allclose(regimes.fits[0].volatility, np.exp(state_log_vol), rtol=1e-7)


# --------------------------------------------------------------------------------------------
# Refusals


def test_a_fit_that_does_not_converge_is_refused_naming_the_bar_and_the_fix():
    prices = _prices([(0.01, 300), (0.03, 200)])
    with pytest.raises(InputError) as info:
        gaussian_mixture_regimes(prices, refit_every=50, min_train=200, max_iter=1, tol=1e-12)
    message = str(info.value)
    assert "the fit at bar 2000-12-18 (position 250, 230 feature rows)" in message
    assert "did not converge in 1 EM iterations" in message
    assert "raise regimes.params.max_iter or tol" in message


def test_prices_without_a_moving_feature_are_refused():
    # Alternating prices: the trailing return over an even lookback is exactly 0 every bar.
    prices = pd.Series(
        np.where(np.arange(400) % 2 == 0, 100.0, 110.0),
        index=pd.bdate_range("2000-01-03", periods=400),
    )
    with pytest.raises(InputError, match="a feature is constant over the training rows"):
        gaussian_mixture_regimes(prices, lookback=20, refit_every=50, min_train=100)


def _dated(values) -> pd.Series:
    return pd.Series(values, index=pd.bdate_range("2000-01-03", periods=len(values)))


@pytest.mark.parametrize(
    ("prices", "message"),
    [
        (_dated([100.0, 101.0]).to_frame(), "prices must be a pandas Series, got DataFrame"),
        (_dated(["100", "101"]), "prices must be numbers, got dtype"),
        (_dated([True, False]), "prices must be numbers, got dtype bool"),
        (
            pd.Series([1.0, 2.0], index=pd.to_datetime(["2001-01-02", "2001-01-01"])),
            "the index must be sorted and unique",
        ),
        (
            pd.Series([1.0, 2.0], index=pd.to_datetime(["2001-01-02", "2001-01-02"])),
            "the index must be sorted and unique",
        ),
        (
            _dated([100.0, 0.0, 101.0]),
            "prices: the value at 2000-01-04 is 0.0; prices must be positive",
        ),
        (_dated([100.0, 99.0, -1.0]), "the value at 2000-01-05 is -1.0"),
        (_dated([100.0, np.inf]), "is inf; prices must be positive and finite"),
    ],
)
@pytest.mark.parametrize("model", ["volatility", "gaussian_mixture"])
def test_bad_prices_are_refused_naming_the_bar(prices, message, model):
    with pytest.raises(InputError) as info:
        regimes_from_config(prices, RegimeSettings(model))
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"states": 1},
            "The 'states' parameter of regime model 'gaussian_mixture' must be in [2, 8], was 1.",
        ),
        (
            {"min_train": 50},
            "The 'min_train' parameter of regime model 'gaussian_mixture' must be in [100, inf), was 50.",
        ),
        (
            {"covariance_type": "ful"},
            "The 'covariance_type' parameter of regime model 'gaussian_mixture' must be one of 'full', 'tied', 'diag', 'spherical', was 'ful'.",
        ),
        (
            {"refit_every": 2.5},
            "The 'refit_every' parameter of regime model 'gaussian_mixture' must be an integer, was 2.5 (float).",
        ),
        (
            {"window": 5},
            "Regime model 'gaussian_mixture' has no parameter 'window'; its parameters are: covariance_type, lookback, max_iter, min_train, n_init, random_state, refit_every, states, tol.",
        ),
    ],
)
def test_bad_parameters_are_refused_in_scikit_learns_words(params, message):
    with pytest.raises(ConfigError) as info:
        gaussian_mixture_regimes(_prices([(0.01, 50)]), **params)
    assert str(info.value) == message


# --------------------------------------------------------------------------------------------
# One interface over both models


def test_the_volatility_defaults_are_the_rules_own():
    signature = inspect.signature(volatility_regimes).parameters
    declared = MODELS["volatility"]
    assert {key: param.default for key, param in declared.items()} == {
        key: signature[key].default for key in declared
    }
    assert RegimeSettings().model == "volatility"


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_the_default_configuration_gives_exactly_todays_volatility_labels(config_dir, env):
    index = load_index()
    regimes = regimes_from_config(index, load_config(env, config_dir).regimes)
    pd.testing.assert_series_equal(regimes.labels, volatility_regimes(index))
    labelled = regimes.labels.to_numpy() != MISSING_REGIME
    assert (regimes.confidence.to_numpy()[labelled] == 1.0).all()
    assert regimes.confidence[~labelled].isna().all()
    assert regimes.names == ("calm", "turbulent")
    assert regimes.model == "volatility" and regimes.fits == ()


def test_configured_volatility_parameters_reach_the_rule():
    prices = _prices([(0.01, 400), (0.03, 200), (0.01, 200)])
    params = {"lookback": 10, "threshold_window": 60, "enter_ratio": 1.5, "exit_ratio": 1.1}
    regimes = regimes_from_config(prices, RegimeSettings("volatility", params))
    pd.testing.assert_series_equal(regimes.labels, volatility_regimes(prices, **params))


def test_the_configured_mixture_is_gaussian_mixture_regimes():
    prices = _prices([(0.01, 400), (0.03, 200)])
    params = {"states": 2, "refit_every": 100, "min_train": 150, "random_state": 3}
    from_config = regimes_from_config(prices, RegimeSettings("gaussian_mixture", params))
    direct = gaussian_mixture_regimes(prices, **params)
    assert isinstance(from_config, Regimes)
    pd.testing.assert_frame_equal(from_config.to_frame(), direct.to_frame())
    assert list(direct.to_frame().columns) == ["regime", "regime_confidence"]
    assert from_config.fits == direct.fits and from_config.model == "gaussian_mixture"


def test_regime_names():
    assert regime_names(2) == ("calm", "turbulent")
    assert regime_names(4) == ("state_0", "state_1", "state_2", "state_3")


def test_the_embedded_index_with_the_default_mixture():
    """2008 and 2020 are turbulent with high confidence; the calmest state is the common one."""
    index = load_index()
    regimes = gaussian_mixture_regimes(index)
    labels, confidence = regimes.labels, regimes.confidence
    # 21 bars of lookback, then the first multiple of 63 with 504 rows: bar 567.
    assert regimes.fits[0].bar == 567
    assert (labels.iloc[:567] == MISSING_REGIME).all() and (labels.iloc[567:] >= 0).all()
    assert (labels["2008-10-01":"2008-11-28"] == 1).all()
    assert (labels["2020-03-09":"2020-04-09"] == 1).all()
    assert confidence["2008-10-01":"2008-11-28"].min() > 0.99
    assert (labels.iloc[567:] == 0).mean() > 0.5


def test_candidates_build_labels_the_batch_with_the_configured_model():
    as_of = date(2000, 12, 29)
    params = {"refit_every": 252, "min_train": 252, "lookback": 10}
    data = {"periods_per_year": 252, "strategies": {"families": {"low_vol": {"window": 21}}}}
    mixture = candidate_frame(
        config_from_dict({**data, "regimes": {"model": "gaussian_mixture", "params": params}}),
        embedded_universe(as_of),
    )
    default = candidate_frame(config_from_dict(data), embedded_universe(as_of))
    index = load_index()
    # Causal labels: those of the full history, on the batch's dates.
    expected = gaussian_mixture_regimes(index, **params).labels.loc[mixture["date"]]
    np.testing.assert_array_equal(mixture["regime"].to_numpy(), expected.to_numpy())
    assert (mixture["regime"] == MISSING_REGIME).any() and (mixture["regime"] == 1).any()
    expected = volatility_regimes(index).loc[default["date"]]
    np.testing.assert_array_equal(default["regime"].to_numpy(), expected.to_numpy())


def test_the_meta_labeler_features_carry_the_configured_regimes():
    as_of = date(1999, 12, 31)
    params = {"refit_every": 126, "min_train": 252}
    config = config_from_dict(
        {
            "periods_per_year": 252,
            "strategies": {"families": {"tsmom": {"lookback": 63, "skip": 0}}},
            "regimes": {"model": "gaussian_mixture", "params": params},
        }
    )
    strategies = select_strategies(config, ["tsmom(lookback=63, skip=0, long_only=false)"])
    # A small, untuned model: the features are what this test reads.
    cheap = MetaLabelingModel(
        HistGradientBoostingClassifier(max_iter=5), tune_threshold=False, n_splits=2
    )
    trained = train_meta_labeler(
        strategies, embedded_universe(as_of), model=cheap, regimes=config.regimes
    )
    expected = gaussian_mixture_regimes(load_index(), **params)  # causal: the full history
    starts = trained.data.starts
    features = trained.data.features
    np.testing.assert_array_equal(features["regime"], expected.labels.to_numpy()[starts])
    np.testing.assert_array_equal(
        features["regime_confidence"], expected.confidence.to_numpy()[starts]
    )
    assert features["regime_confidence"].between(0.5, 1.0).mean() > 0.9
