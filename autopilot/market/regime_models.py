"""Regimes with a confidence: the volatility rule and a causal Gaussian mixture, one interface.

:func:`regimes_from_config` builds the regimes an environment's ``regimes:`` section asks for
(:class:`~autopilot.market.regime_settings.RegimeSettings`) and returns :class:`Regimes`: an
``int64`` label and a confidence in ``[0, 1]`` for every bar, and the names of the labels.

Models
------
``volatility``
    :func:`autopilot.market.regimes.volatility_regimes`, a deterministic rule: its confidence
    is 1.0 on every labelled bar (it does not estimate an uncertainty).
``gaussian_mixture``
    :func:`gaussian_mixture_regimes`: scikit-learn's ``GaussianMixture`` on two trailing
    features of the price series, refitted on an expanding window.

Causality
---------
The label and confidence of bar ``t`` depend on prices up to and including bar ``t`` only:
they are *filtered* probabilities, never smoothed ones. For the mixture this rests on three
rules: (1) the features of bar ``t`` use prices ``t - lookback .. t``; (2) the refit points are
the bars ``0, refit_every, 2 * refit_every, ...`` counted from the first bar of the series, the
first one being the first such bar with at least ``min_train`` feature rows at or before it,
and the fit at bar ``p`` reads the feature rows at or before ``p``; (3) bar ``t`` is
classified by the model of the last refit at or before ``t``, row by row in element-wise
arithmetic, so no later row can change how an earlier one rounds. Appending bars to the series
therefore never changes an earlier label or confidence, bit for bit (a property test holds
this). Every fit runs single-threaded with a fixed seed, so two runs are bit-identical too.

Bars before the first fit, and bars whose feature windows touch a missing price, get the label
``-1`` (:data:`~autopilot.stats.metrics.MISSING_REGIME`) and a NaN confidence.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from autopilot.errors import InputError
from autopilot.market.regime_settings import GAUSSIAN_MIXTURE, VOLATILITY, RegimeSettings
from autopilot.market.regimes import REGIME_NAMES, volatility_regimes
from autopilot.stats.metrics import MISSING_REGIME

__all__ = [
    "RegimeFit",
    "Regimes",
    "gaussian_mixture_regimes",
    "regime_names",
    "regimes_from_config",
]

logger = logging.getLogger(__name__)

# Column of the feature matrix that orders the states: log realised volatility.
_RETURN, _VOLATILITY = 0, 1
_LOG_2PI = math.log(2.0 * math.pi)


@dataclass(frozen=True)
class RegimeFit:
    """One refit of the Gaussian mixture.

    Attributes
    ----------
    bar : int
        Position of the refit bar in the series (a multiple of ``refit_every``).
    at : hashable
        The index label of that bar.
    rows : int
        Feature rows in the expanding training window (those at or before ``bar``).
    iterations : int
        EM iterations of the kept initialisation.
    volatility : tuple of float
        Per-bar realised volatility of each state, calmest first: ``exp`` of the state's mean
        log volatility (a geometric mean; multiply by ``sqrt(periods_per_year)`` to annualise).
    """

    bar: int
    at: Hashable
    rows: int
    iterations: int
    volatility: tuple[float, ...]


@dataclass(frozen=True)
class Regimes:
    """Causal regime labels with a confidence, one of each per bar.

    Attributes
    ----------
    labels : pandas.Series
        ``int64`` labels named ``"regime"`` on the index of the prices: ``0 .. len(names) - 1``,
        ordered by volatility (0 is the calmest), or ``-1`` where unknown.
    confidence : pandas.Series
        ``float64`` values named ``"regime_confidence"``: the filtered posterior probability
        of the label (1.0 for the deterministic volatility rule); NaN where the label is -1.
    names : tuple of str
        ``names[label]`` names a label.
    model : str
        The model that produced them (``"volatility"`` or ``"gaussian_mixture"``).
    fits : tuple of RegimeFit
        The refits of the mixture, in time order; empty for the volatility rule.
    """

    labels: pd.Series
    confidence: pd.Series
    names: tuple[str, ...]
    model: str
    fits: tuple[RegimeFit, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        """Labels and confidence as the two columns ``regime`` and ``regime_confidence``."""
        return pd.concat([self.labels, self.confidence], axis=1)


def regime_names(states: int) -> tuple[str, ...]:
    """Names of ``states`` labels ordered by volatility.

    ``("calm", "turbulent")`` for two states, as the volatility rule names them; otherwise
    ``("state_0", ..., "state_{states-1}")``, calmest first.
    """
    if states == len(REGIME_NAMES):
        return REGIME_NAMES
    return tuple(f"state_{i}" for i in range(states))


def regimes_from_config(prices: pd.Series, settings: RegimeSettings) -> Regimes:
    """Regimes of a price series by the configured model.

    Parameters
    ----------
    prices : pandas.Series
        Positive prices of a market or index, one per bar, indexed in time order (sorted and
        unique); NaN marks a missing price.
    settings : RegimeSettings
        The environment's ``regimes:`` section (``EnvironmentConfig.regimes``).

    Returns
    -------
    Regimes
        For ``volatility``, exactly the labels of
        :func:`~autopilot.market.regimes.volatility_regimes` with the configured parameters,
        and confidence 1.0 where labelled; for ``gaussian_mixture``, see
        :func:`gaussian_mixture_regimes`.

    Raises
    ------
    InputError
        Bad prices (named by bar), or a mixture fit that fails (see
        :func:`gaussian_mixture_regimes`).
    """
    if not isinstance(settings, RegimeSettings):
        raise TypeError(f"settings must be a RegimeSettings, got {type(settings).__name__}")
    _checked_values(prices)
    if settings.model == GAUSSIAN_MIXTURE:
        return gaussian_mixture_regimes(prices, **settings.params)
    assert settings.model == VOLATILITY  # RegimeSettings refuses any other model
    labels = volatility_regimes(prices, **settings.params)
    confidence = np.where(labels.to_numpy() == MISSING_REGIME, np.nan, 1.0)
    return Regimes(
        labels=labels,
        confidence=pd.Series(confidence, index=prices.index, name="regime_confidence"),
        names=REGIME_NAMES,
        model=VOLATILITY,
    )


def gaussian_mixture_regimes(prices: pd.Series, **params: Any) -> Regimes:
    """Label every bar by a Gaussian mixture refitted causally on an expanding window.

    Features of bar ``t`` (``w = lookback``): the trailing log return
    ``ln(P_t / P_{t-w})`` and the log of the realised volatility, the sample standard
    deviation (ddof=1) of the last ``w`` daily log returns. A window whose volatility is zero
    (``w + 1`` equal prices) has no log volatility: that bar is unlabelled.

    At each refit point (see the module docstring) the features of the training rows are
    standardised by their own mean and standard deviation, a ``GaussianMixture`` is fitted
    with the configured seed, and its states are ordered by their mean log volatility, so
    label 0 is the calmest and a label keeps its meaning across refits. Each bar from that
    refit to the next gets the most probable state under that model and its posterior
    probability as the confidence (ties go to the calmer state).

    Parameters
    ----------
    prices : pandas.Series
        Positive prices, one per bar, indexed in time order (sorted, unique); NaN marks a
        missing price.
    **params
        The ``gaussian_mixture`` parameters of
        :data:`~autopilot.market.regime_settings.MODELS`: ``states`` (2), ``lookback`` (21),
        ``refit_every`` (63), ``min_train`` (504), ``covariance_type`` ("full"), ``n_init``
        (1), ``max_iter`` (500), ``tol`` (1e-3), ``random_state`` (0).

    Returns
    -------
    Regimes
        Labels, confidence, :func:`regime_names` and one :class:`RegimeFit` per refit.

    Raises
    ------
    ConfigError
        An unknown parameter or a value outside its rule.
    InputError
        Bad prices (named by bar); a fit that does not converge within ``max_iter`` EM
        iterations, or that scikit-learn refuses (both named by refit bar, with the fix).
    """
    settings = RegimeSettings(GAUSSIAN_MIXTURE, params)
    p = settings.params
    values = _checked_values(prices)
    features = _features(values, p["lookback"])
    valid = np.isfinite(features).all(axis=1)
    n = values.size
    labels = np.full(n, MISSING_REGIME, dtype=np.int64)
    confidence = np.full(n, np.nan)
    points = np.arange(0, n, p["refit_every"])
    rows_before = np.cumsum(valid)
    points = points[rows_before[points] >= p["min_train"]]
    fits = []
    if points.size:
        from threadpoolctl import threadpool_limits

        # One thread: k-means' OpenMP reductions would otherwise add in a varying order.
        with threadpool_limits(limits=1):
            for i, point in enumerate(points.tolist()):
                end = int(points[i + 1]) if i + 1 < len(points) else n
                train = features[: point + 1][valid[: point + 1]]
                mixture = _fit(train, p, point, prices.index[point])
                block = np.flatnonzero(valid[point:end]) + point
                labels[block], confidence[block] = mixture.classify(features[block])
                fits.append(
                    RegimeFit(
                        bar=point,
                        at=prices.index[point],
                        rows=int(train.shape[0]),
                        iterations=mixture.iterations,
                        volatility=mixture.volatility,
                    )
                )
    if not fits:
        logger.info(
            "gaussian-mixture regimes: no fit, %d feature rows of the %d needed",
            int(valid.sum()),
            p["min_train"],
        )
    logger.debug(
        "gaussian-mixture regimes: %d bars, %d refits, %d unlabelled",
        n,
        len(fits),
        int((labels == MISSING_REGIME).sum()),
    )
    return Regimes(
        labels=pd.Series(labels, index=prices.index, name="regime", dtype=np.int64),
        confidence=pd.Series(confidence, index=prices.index, name="regime_confidence"),
        names=regime_names(p["states"]),
        model=GAUSSIAN_MIXTURE,
        fits=tuple(fits),
    )


def _checked_values(prices: pd.Series) -> np.ndarray:
    """The prices as float64, NaN for missing ones; anything else wrong is refused by bar."""
    if not isinstance(prices, pd.Series):
        raise InputError(f"prices must be a pandas Series, got {type(prices).__name__}")
    dtype = prices.dtype
    if pd.api.types.is_bool_dtype(dtype) or not pd.api.types.is_numeric_dtype(dtype):
        raise InputError(
            f"prices must be numbers, got dtype {dtype}; convert the column to float first"
        )
    if not (prices.index.is_unique and prices.index.is_monotonic_increasing):
        raise InputError(
            "prices: the index must be sorted and unique (one bar per date, in time order); "
            "sort it and drop duplicated dates first"
        )
    values = prices.to_numpy(dtype=np.float64, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        bad = ~np.isnan(values) & ~((values > 0.0) & (values < np.inf))
    if bad.any():
        first = int(np.argmax(bad))
        raise InputError(
            f"prices: the value at {_bar(prices.index[first])} is {float(values[first])!r}; "
            f"prices must be positive and finite (NaN marks a missing price)"
        )
    return values


def _bar(label: Hashable) -> str:
    """An index label for a message: a date as ISO text, anything else as its repr."""
    if isinstance(label, pd.Timestamp):
        return label.isoformat() if label != label.normalize() else label.date().isoformat()
    return repr(label)


def _features(values: np.ndarray, lookback: int) -> np.ndarray:
    """Trailing log return and log realised volatility per bar; NaN where undefined."""
    n = values.size
    log_price = np.log(values)
    log_returns = np.full(n, np.nan)
    log_returns[1:] = log_price[1:] - log_price[:-1]
    trailing = np.full(n, np.nan)
    trailing[lookback:] = log_price[lookback:] - log_price[:-lookback]
    # pandas' rolling variance runs forward through the series (and gives exactly 0 for a
    # window of equal values), so a value at bar t never depends on a later bar.
    vol = pd.Series(log_returns).rolling(lookback, min_periods=lookback).std(ddof=1).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        log_vol = np.where(vol > 0.0, np.log(vol), np.nan)
    features = np.empty((n, 2))
    features[:, _RETURN] = trailing
    features[:, _VOLATILITY] = log_vol
    return features


@dataclass(frozen=True)
class _Mixture:
    """A fitted mixture in the standardised feature space, states ordered by volatility."""

    center: np.ndarray  # (d,) training mean
    scale: np.ndarray  # (d,) training standard deviation
    log_weights: np.ndarray  # (k,)
    means: np.ndarray  # (k, d)
    precision_cholesky: np.ndarray  # (k, d, d), upper triangular, as scikit-learn's "full"
    iterations: int
    volatility: tuple[float, ...]

    def classify(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Most probable state and its posterior probability, row by row.

        Element-wise NumPy only (no matrix products, whose rounding may depend on the number
        of rows), so a row's result is the same whatever rows come with it.
        """
        k, d = self.means.shape
        z = [(features[:, i] - self.center[i]) / self.scale[i] for i in range(d)]
        log_joint = []
        for s in range(k):
            diff = [z[i] - self.means[s, i] for i in range(d)]
            squared = np.zeros(features.shape[0])
            for j in range(d):
                y = diff[0] * self.precision_cholesky[s, 0, j]
                for i in range(1, d):
                    y = y + diff[i] * self.precision_cholesky[s, i, j]
                squared = squared + y * y
            log_det = float(np.sum(np.log(np.diag(self.precision_cholesky[s]))))
            log_joint.append(self.log_weights[s] + log_det - 0.5 * (d * _LOG_2PI + squared))
        peak = log_joint[0]
        for value in log_joint[1:]:
            peak = np.maximum(peak, value)
        total = np.zeros(features.shape[0])
        for value in log_joint:
            total = total + np.exp(value - peak)
        log_norm = peak + np.log(total)
        posterior = np.stack([np.exp(value - log_norm) for value in log_joint], axis=1)
        label = np.argmax(posterior, axis=1)
        return label.astype(np.int64), posterior[np.arange(label.size), label]


def _fit(train: np.ndarray, params: Any, bar: int, at: Hashable) -> _Mixture:
    """Fit one mixture on the training rows; refuse one that fails or does not converge.

    The caller limits the thread pools to one thread.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture

    where = f"the fit at bar {_bar(at)} (position {bar}, {train.shape[0]} feature rows)"
    center = train.mean(axis=0)
    scale = train.std(axis=0)
    if not (scale > 0.0).all():
        raise InputError(
            f"gaussian-mixture regimes: {where}: a feature is constant over the training rows; "
            f"the prices do not move enough to fit a mixture (raise regimes.params.min_train)"
        )
    model = GaussianMixture(
        n_components=params["states"],
        covariance_type=params["covariance_type"],
        tol=params["tol"],
        max_iter=params["max_iter"],
        n_init=params["n_init"],
        random_state=params["random_state"],
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit((train - center) / scale)
    except ValueError as exc:
        raise InputError(
            f"gaussian-mixture regimes: {where}: scikit-learn refused it: {exc} (use fewer "
            f"regimes.params.states, more min_train, or covariance_type: diag)"
        ) from exc
    if not model.converged_:
        raise InputError(
            f"gaussian-mixture regimes: {where} did not converge in {params['max_iter']} EM "
            f"iterations (tol {params['tol']!r}); raise regimes.params.max_iter or tol"
        )
    order = np.argsort(model.means_[:, _VOLATILITY], kind="stable")
    means = model.means_[order]
    log_vol = means[:, _VOLATILITY] * scale[_VOLATILITY] + center[_VOLATILITY]
    return _Mixture(
        center=center,
        scale=scale,
        log_weights=np.log(model.weights_[order]),
        means=means,
        precision_cholesky=_full_precision_cholesky(model)[order],
        iterations=int(model.n_iter_),
        volatility=tuple(float(v) for v in np.exp(log_vol)),
    )


def _full_precision_cholesky(model: Any) -> np.ndarray:
    """scikit-learn's ``precisions_cholesky_`` of any covariance type as ``(k, d, d)``."""
    k, d = model.means_.shape
    chol = np.asarray(model.precisions_cholesky_, dtype=np.float64)
    kind = model.covariance_type
    if kind == "full":
        return chol
    if kind == "tied":
        return np.broadcast_to(chol, (k, d, d)).copy()
    if kind == "diag":
        return np.stack([np.diag(row) for row in chol])
    return np.stack([np.eye(d) * value for value in chol])  # spherical
