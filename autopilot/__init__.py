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
    "DuplicateStrategyError": "autopilot.errors",
    "EvaluationContext": "autopilot.sdk.gate",
    "Gate": "autopilot.sdk.gate",
    "GateParameterError": "autopilot.errors",
    "GateResult": "autopilot.sdk.gate",
    "GateSet": "autopilot.promotion_gate",
    "InputError": "autopilot.errors",
    "Interval": "autopilot.sdk.params",
    "Mode": "autopilot.sdk.verdicts",
    "Outcome": "autopilot.sdk.verdicts",
    "Param": "autopilot.sdk.params",
    "PluginError": "autopilot.errors",
    "PluginLoadError": "autopilot.errors",
    "PricePanel": "autopilot.market.prices_io",
    "ReadOptions": "autopilot.market.returns_io",
    "StateError": "autopilot.errors",
    "StateLockTimeout": "autopilot.errors",
    "StrategyContractError": "autopilot.errors",
    "StrategyFamily": "autopilot.sdk.family",
    "Verdict": "autopilot.sdk.verdicts",
    "batch_from_frame": "autopilot.market.returns_io",
    "check_prices": "autopilot.market.prices_io",
    "format_reason": "autopilot.sdk.verdicts",
    "hookimpl": "autopilot.hookspecs",
    "load_config": "autopilot.config",
    "read_candidates": "autopilot.market.returns_io",
    "read_prices": "autopilot.market.prices_io",
    "threshold_result": "autopilot.sdk.gate",
}

__all__ = [
    "AutopilotError",
    "BatchStatistics",
    "CandidateBatch",
    "ConfigError",
    "Decision",
    "DuplicateGateError",
    "DuplicateStrategyError",
    "EvaluationContext",
    "Gate",
    "GateParameterError",
    "GateResult",
    "GateSet",
    "InputError",
    "Interval",
    "Mode",
    "Outcome",
    "Param",
    "PluginError",
    "PluginLoadError",
    "PricePanel",
    "ReadOptions",
    "StateError",
    "StateLockTimeout",
    "StrategyContractError",
    "StrategyFamily",
    "Verdict",
    "batch_from_frame",
    "check_prices",
    "format_reason",
    "hookimpl",
    "load_config",
    "read_candidates",
    "read_prices",
    "threshold_result",
]

if TYPE_CHECKING:
    from autopilot.config import load_config
    from autopilot.errors import (
        AutopilotError,
        ConfigError,
        DuplicateGateError,
        DuplicateStrategyError,
        GateParameterError,
        InputError,
        PluginError,
        PluginLoadError,
        StateError,
        StateLockTimeout,
        StrategyContractError,
    )
    from autopilot.hookspecs import hookimpl
    from autopilot.market.prices_io import PricePanel, check_prices, read_prices
    from autopilot.market.returns_io import ReadOptions, batch_from_frame, read_candidates
    from autopilot.promotion_gate import GateSet
    from autopilot.sdk.family import StrategyFamily
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
