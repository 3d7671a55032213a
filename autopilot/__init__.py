"""strategy-autopilot: promotion gates, registry and paper trading for systematic research.

The public names are imported lazily (PEP 562), so that tools using only the state layer
or the registry do not pay for the numerical stack (pandas, numba) at start-up.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "AutopilotError": "autopilot.errors",
    "BatchStatistics": "autopilot.stats.batch",
    "CandidateBatch": "autopilot.stats.batch",
    "ConfigError": "autopilot.errors",
    "Decision": "autopilot.sdk.verdicts",
    "DuplicateGateError": "autopilot.errors",
    "EvaluationContext": "autopilot.sdk.gate",
    "Gate": "autopilot.sdk.gate",
    "GateParameterError": "autopilot.errors",
    "GateResult": "autopilot.sdk.gate",
    "InputError": "autopilot.errors",
    "Interval": "autopilot.sdk.params",
    "Mode": "autopilot.sdk.verdicts",
    "Outcome": "autopilot.sdk.verdicts",
    "Param": "autopilot.sdk.params",
    "PluginError": "autopilot.errors",
    "PluginLoadError": "autopilot.errors",
    "StateError": "autopilot.errors",
    "StateLockTimeout": "autopilot.errors",
    "Verdict": "autopilot.sdk.verdicts",
    "format_reason": "autopilot.sdk.verdicts",
    "hookimpl": "autopilot.hookspecs",
    "threshold_result": "autopilot.sdk.gate",
}

__all__ = [
    "AutopilotError",
    "BatchStatistics",
    "CandidateBatch",
    "ConfigError",
    "Decision",
    "DuplicateGateError",
    "EvaluationContext",
    "Gate",
    "GateParameterError",
    "GateResult",
    "InputError",
    "Interval",
    "Mode",
    "Outcome",
    "Param",
    "PluginError",
    "PluginLoadError",
    "StateError",
    "StateLockTimeout",
    "Verdict",
    "format_reason",
    "hookimpl",
    "threshold_result",
]

if TYPE_CHECKING:
    from autopilot.errors import (
        AutopilotError,
        ConfigError,
        DuplicateGateError,
        GateParameterError,
        InputError,
        PluginError,
        PluginLoadError,
        StateError,
        StateLockTimeout,
    )
    from autopilot.hookspecs import hookimpl
    from autopilot.sdk.gate import EvaluationContext, Gate, GateResult, threshold_result
    from autopilot.sdk.params import Interval, Param
    from autopilot.sdk.verdicts import Decision, Mode, Outcome, Verdict, format_reason
    from autopilot.stats.batch import BatchStatistics, CandidateBatch


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'autopilot' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
