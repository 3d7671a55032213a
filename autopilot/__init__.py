"""strategy-autopilot: promotion gates, registry and paper trading for systematic research."""

from __future__ import annotations

from autopilot.batch import BatchStatistics, CandidateBatch
from autopilot.errors import (
    AutopilotError,
    ConfigError,
    DuplicateGateError,
    GateParameterError,
    InputError,
    PluginError,
    PluginLoadError,
)
from autopilot.gate import EvaluationContext, Gate, GateResult, threshold_result
from autopilot.hookspecs import hookimpl
from autopilot.params import Interval, Param
from autopilot.verdicts import Decision, Mode, Outcome, Verdict, format_reason

__version__ = "0.1.0"

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
    "Verdict",
    "format_reason",
    "hookimpl",
    "threshold_result",
]
