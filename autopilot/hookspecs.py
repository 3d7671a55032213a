"""Hook specifications of strategy-autopilot (pluggy project name ``autopilot``).

A plugin is a module with functions marked ``@autopilot.hookimpl`` whose names match the
specs below. Gate plugins are published under the entry-point group ``autopilot.gates``,
strategy-family plugins under ``autopilot.strategies``; the built-in gates (:mod:`gates`)
and families (:mod:`strategies`) are registered through exactly the same path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from autopilot.sdk.family import StrategyFamily
    from autopilot.sdk.gate import Gate

PROJECT_NAME = "autopilot"
ENTRY_POINT_GROUP = "autopilot.gates"
STRATEGY_ENTRY_POINT_GROUP = "autopilot.strategies"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def autopilot_register_gates() -> list[type[Gate]]:
    """Return the gate classes this plugin offers.

    Each class derives from :class:`autopilot.sdk.gate.Gate` and has a unique ``name``; two
    plugins offering the same name make loading fail with an error naming both.

    Returns
    -------
    list of type[Gate]
        The gate classes, not instances: the gate set instantiates them with the
        parameters of the environment's YAML.
    """


@hookspec
def autopilot_register_strategies() -> list[type[StrategyFamily]]:
    """Return the strategy-family classes this plugin offers.

    Each class derives from :class:`autopilot.sdk.family.StrategyFamily` and has a unique
    ``name``; two plugins offering the same name make loading fail with an error naming both.

    Returns
    -------
    list of type[StrategyFamily]
        The family classes, not instances: one instance per parameter set of the
        environment's grid is a candidate.
    """
