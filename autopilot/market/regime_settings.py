"""The ``regimes:`` section of an environment: which regime model, with which parameters.

Declared as data, like gate parameters (:class:`~autopilot.sdk.params.Param`), and checked
the same way, so a bad value is refused in scikit-learn's style::

    The 'states' parameter of regime model 'gaussian_mixture' must be in [2, 8], was 1.

This module is the configuration side only: it imports neither pandas nor scikit-learn, so
loading a configuration stays cheap. The models themselves live in
:mod:`autopilot.market.regimes` (the volatility rule) and
:mod:`autopilot.market.regime_models` (the Gaussian mixture, and
:func:`~autopilot.market.regime_models.regimes_from_config`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from autopilot.errors import ConfigError
from autopilot.sdk.params import Interval, Param

__all__ = [
    "GAUSSIAN_MIXTURE",
    "MODELS",
    "VOLATILITY",
    "RegimeSettings",
    "model_problem",
    "parameter_problem",
]

logger = logging.getLogger(__name__)

VOLATILITY = "volatility"
GAUSSIAN_MIXTURE = "gaussian_mixture"

_POSITIVE = Interval(0, None, closed="neither")
# Calm and turbulent: autopilot.market.regimes.REGIME_NAMES (a test holds them equal).
_VOLATILITY_STATES = 2

# The volatility rule's defaults are those of autopilot.market.regimes.volatility_regimes
# (a test holds them equal), so a configuration without `regimes:` labels as before.
_VOLATILITY_PARAMS: Mapping[str, Param] = MappingProxyType(
    {
        "lookback": Param(
            int, default=21, interval=Interval(2, None), doc="returns in the volatility window"
        ),
        "threshold_window": Param(
            int,
            default=252,
            interval=Interval(1, None),
            doc="volatilities in the trailing median that is the reference level",
        ),
        "enter_ratio": Param(
            float,
            default=1.25,
            interval=_POSITIVE,
            doc="calm turns turbulent above this multiple of the reference",
        ),
        "exit_ratio": Param(
            float,
            default=1.0,
            interval=_POSITIVE,
            doc="turbulent turns calm below this multiple of the reference (<= enter_ratio)",
        ),
    }
)

_MIXTURE_PARAMS: Mapping[str, Param] = MappingProxyType(
    {
        "states": Param(int, default=2, interval=Interval(2, 8), doc="mixture components"),
        "lookback": Param(
            int,
            default=21,
            interval=Interval(2, None),
            doc="bars of the trailing return and of the realised-volatility window",
        ),
        "refit_every": Param(
            int,
            default=63,
            interval=Interval(1, None),
            doc="bars between refits, counted from the first bar of the series",
        ),
        "min_train": Param(
            int,
            default=504,
            interval=Interval(100, None),
            doc="feature rows needed before the first fit",
        ),
        "covariance_type": Param(
            str,
            default="full",
            choices=("full", "tied", "diag", "spherical"),
            doc="scikit-learn's GaussianMixture covariance_type",
        ),
        "n_init": Param(
            int, default=1, interval=Interval(1, 100), doc="EM restarts per fit, best kept"
        ),
        "max_iter": Param(
            int,
            default=500,
            interval=Interval(1, None),
            doc="EM iterations per fit; a fit that does not converge is refused",
        ),
        "tol": Param(float, default=1e-3, interval=_POSITIVE, doc="EM convergence tolerance"),
        "random_state": Param(
            int, default=0, interval=Interval(0, 2**32 - 1), doc="seed of every fit"
        ),
    }
)

MODELS: Mapping[str, Mapping[str, Param]] = MappingProxyType(
    {VOLATILITY: _VOLATILITY_PARAMS, GAUSSIAN_MIXTURE: _MIXTURE_PARAMS}
)
_MODEL = Param(str, choices=tuple(MODELS))


def model_problem(model: Any) -> str | None:
    """The rule ``model`` breaks (``"must be one of ..., was 'hmm'"``); None for a known model."""
    return _MODEL.violation(model)


def parameter_problem(model: str, given: Mapping[str, Any]) -> tuple[str, str] | None:
    """The first parameter of ``given`` that ``model`` refuses, and the sentence saying why.

    Parameters
    ----------
    model : str
        A key of :data:`MODELS`.
    given : mapping
        The configured parameters; missing ones take their defaults.

    Returns
    -------
    tuple of (str, str) or None
        ``(key, message)``, e.g. ``("states", "The 'states' parameter of regime model
        'gaussian_mixture' must be in [2, 8], was 1.")``; None when every value fits.
    """
    declared = MODELS[model]
    unknown = sorted(str(k) for k in set(given) - set(declared))
    if unknown:
        return unknown[0], (
            f"Regime model '{model}' has no parameter {', '.join(repr(k) for k in unknown)}; "
            f"its parameters are: {', '.join(sorted(declared))}."
        )
    for key, param in declared.items():
        if key in given:
            problem = param.violation(given[key])
            if problem is not None:
                return key, f"The '{key}' parameter of regime model '{model}' {problem}."
    if model == VOLATILITY:
        resolved = _resolve(declared, given)
        if resolved["exit_ratio"] > resolved["enter_ratio"]:
            return "exit_ratio", (
                f"The 'exit_ratio' parameter of regime model '{model}' must not exceed "
                f"enter_ratio ({resolved['enter_ratio']!r}), was {resolved['exit_ratio']!r}."
            )
    return None


def _resolve(declared: Mapping[str, Param], given: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: param.convert(given[key]) if key in given else param.default
        for key, param in declared.items()
    }


@dataclass(frozen=True)
class RegimeSettings:
    """The configured regime model and its parameters, every default filled in.

    Parameters
    ----------
    model : {"volatility", "gaussian_mixture"}
        The causal volatility rule (:func:`autopilot.market.regimes.volatility_regimes`), or
        the Gaussian mixture refitted on an expanding window
        (:func:`autopilot.market.regime_models.gaussian_mixture_regimes`).
    params : mapping
        Parameters of that model (:data:`MODELS` declares them); omitted ones take their
        defaults, and :attr:`params` holds them all once built.

    Raises
    ------
    ConfigError
        An unknown model or parameter, or a value outside its rule, e.g.
        ``The 'states' parameter of regime model 'gaussian_mixture' must be in [2, 8], was 1.``
    """

    model: str = VOLATILITY
    params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        problem = model_problem(self.model)
        if problem is not None:
            raise ConfigError(f"The 'model' setting of 'RegimeSettings' {problem}.")
        if not isinstance(self.params, Mapping):
            raise ConfigError(
                f"The 'params' setting of 'RegimeSettings' must be a mapping, was "
                f"{self.params!r} ({type(self.params).__name__})."
            )
        found = parameter_problem(self.model, self.params)
        if found is not None:
            raise ConfigError(found[1])
        resolved = _resolve(MODELS[self.model], self.params)
        object.__setattr__(self, "params", MappingProxyType(resolved))

    @property
    def states(self) -> int:
        """The number of labels the model gives: ``0 .. states - 1``, the calmest first."""
        if self.model == VOLATILITY:
            return _VOLATILITY_STATES
        return int(self.params["states"])

    def to_dict(self) -> dict[str, Any]:
        """``{"model": ..., "params": {...}}`` with every parameter, as the YAML section."""
        return {"model": self.model, "params": dict(self.params)}
