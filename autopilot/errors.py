"""Exceptions raised by strategy-autopilot.

Every error the user can cause derives from :class:`AutopilotError` and carries a
message that names the file, key or candidate at fault and says how to fix it::

    AutopilotError
    ├── ConfigError                YAML gate sets and their values
    │   └── GateParameterError     a gate's or strategy family's parameter fails its constraint
    ├── InputError                 returns, regime and price files
    ├── PluginError                discovering, importing and registering plugins
    │   ├── PluginLoadError        a plugin is missing, fails to import or its hook raises
    │   ├── DuplicateGateError     two plugins offer a gate of the same name
    │   ├── DuplicateStrategyError two plugins offer a strategy family of the same name
    │   └── StrategyContractError  a family's positions break the contract
    ├── StateError                 state files that cannot be loaded or written safely
    │   └── StateLockTimeout       another process holds the state lock too long
    └── ExecutorUnavailable        the Dask scheduler cannot be reached, or was lost

The command line maps them to exit code 2 ("bad input or config"), except the two
temporary failures, ``StateLockTimeout`` and ``ExecutorUnavailable``: exit code 75, "try
again". Any other exception is an internal error (exit code 1). :class:`ConfigError` and
:class:`InputError` are also :class:`ValueError` subclasses: a settings object built with a
bad value raises a ``ConfigError`` that code written against ``ValueError`` still catches.
"""

from __future__ import annotations

__all__ = [
    "AutopilotError",
    "ConfigError",
    "DuplicateGateError",
    "DuplicateStrategyError",
    "GateParameterError",
    "InputError",
    "PluginError",
    "PluginLoadError",
    "StateError",
    "StateLockTimeout",
    "StrategyContractError",
]


class AutopilotError(Exception):
    """Base class of every error caused by input, configuration or plugins."""


class ConfigError(AutopilotError, ValueError):
    """A configuration file or value (YAML, or a settings object built in code) is invalid."""


class GateParameterError(ConfigError):
    """A gate parameter is unknown, missing or violates its constraint.

    Attributes
    ----------
    key : str or None
        The parameter at fault, when known, so the caller can name the file that set it.
    """

    def __init__(self, message: str, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


class InputError(AutopilotError, ValueError):
    """A data file (returns, regimes, prices) is missing, malformed or inconsistent."""


class PluginError(AutopilotError):
    """A gate or strategy plugin could not be discovered, loaded or registered."""


class PluginLoadError(PluginError):
    """An allowed plugin is not installed, fails to import, or its hook raised."""


class DuplicateGateError(PluginError):
    """Two plugins register gates with the same name."""


class DuplicateStrategyError(PluginError):
    """Two plugins register strategy families with the same name."""


class StrategyContractError(PluginError):
    """A strategy family returned positions that break the contract (shape, type, weights)."""


class StateError(AutopilotError):
    """A state file cannot be loaded or written safely."""


class StateLockTimeout(StateError):
    """Another process held the state lock for longer than the timeout."""


class ExecutorUnavailable(AutopilotError):
    """The Dask scheduler cannot be reached or was lost: a temporary failure (exit code 75)."""
