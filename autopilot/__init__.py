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
    "BatchStatistics": "autopilot.batch",
    "CandidateBatch": "autopilot.batch",
    "ConfigError": "autopilot.errors",
    "Decision": "autopilot.verdicts",
    "DuplicateGateError": "autopilot.errors",
    "EvaluationContext": "autopilot.gate",
    "Gate": "autopilot.gate",
    "GateParameterError": "autopilot.errors",
    "GateResult": "autopilot.gate",
    "InputError": "autopilot.errors",
    "Interval": "autopilot.params",
    "Mode": "autopilot.verdicts",
    "Outcome": "autopilot.verdicts",
    "Param": "autopilot.params",
    "PluginError": "autopilot.errors",
    "PluginLoadError": "autopilot.errors",
    "StateError": "autopilot.errors",
    "StateLockTimeout": "autopilot.errors",
    "Verdict": "autopilot.verdicts",
    "format_reason": "autopilot.verdicts",
    "hookimpl": "autopilot.hookspecs",
    "threshold_result": "autopilot.gate",
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
    from autopilot.batch import BatchStatistics, CandidateBatch
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
    from autopilot.gate import EvaluationContext, Gate, GateResult, threshold_result
    from autopilot.hookspecs import hookimpl
    from autopilot.params import Interval, Param
    from autopilot.verdicts import Decision, Mode, Outcome, Verdict, format_reason


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'autopilot' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
