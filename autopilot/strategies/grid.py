"""The environment's ``strategies:`` section expanded into candidates.

Each named family's grid is its ``default_grid`` overridden key by key by the YAML (a list
is an axis, a scalar a fixed value); the candidates are the Cartesian product, in the
family's parameter order. Every value is checked by the family's declared parameters, and
a refusal names the file that set it::

    configs/dev.yaml: strategies.families.tsmom: The 'lookback' parameter of family
    'tsmom' must be in [1, inf), was 0.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

from autopilot.config import EnvironmentConfig
from autopilot.errors import ConfigError, GateParameterError
from autopilot.sdk.family import StrategyFamily
from autopilot.sdk.plugins import StrategyCatalog, load_strategy_catalog

__all__ = ["build_candidates", "environment_catalog", "family_grid"]


def environment_catalog(config: EnvironmentConfig) -> StrategyCatalog:
    """The families an environment may use: the built-in ones and its allowed plugins'.

    Raises
    ------
    PluginError
        An allowed plugin is missing or broken (naming the file that allows it).
    """
    return load_strategy_catalog(config.plugins, source=config.origin(("plugins",)))


def build_candidates(config: EnvironmentConfig, catalog: StrategyCatalog) -> list[StrategyFamily]:
    """Every candidate (family x parameter set) the environment's grids describe.

    Parameters
    ----------
    config : EnvironmentConfig
        The environment; its ``strategies`` maps family names to grids.
    catalog : StrategyCatalog
        The families registered by the built-in and allowed plugins.

    Returns
    -------
    list of StrategyFamily
        Family order as configured, grid points in product order.

    Raises
    ------
    ConfigError
        No family is configured, a family is not registered, or a value (or a combination
        of values) is refused by the family; the message names the file and key.
    """
    if not config.strategies:
        raise ConfigError(
            f"{config.origin(('strategies',))}: strategies.families: no strategy family is "
            f"configured. Add e.g. `strategies: {{families: {{tsmom: {{}}}}}}`."
        )
    candidates: list[StrategyFamily] = []
    for name, overrides in config.strategies.items():
        info = catalog.get(name)
        if info is None:
            raise ConfigError(_unregistered(config, catalog, name))
        grid = family_grid(info.cls, overrides)
        for point in itertools.product(*grid.values()):
            params = dict(zip(grid, point, strict=True))
            try:
                candidates.append(info.cls(**params))
            except GateParameterError as exc:
                source = config.origin(("strategies", "families", name, exc.key or ""))
                raise ConfigError(f"{source}: strategies.families.{name}: {exc}") from exc
    return candidates


def family_grid(
    family: type[StrategyFamily], overrides: Mapping[str, Any] | None = None
) -> dict[str, list[Any]]:
    """A family's grid: its ``default_grid`` overridden key by key by the YAML's values.

    Parameters
    ----------
    family : type[StrategyFamily]
        The family class.
    overrides : mapping, optional
        Parameter -> a list of values (an axis) or a scalar (a fixed value).

    Returns
    -------
    dict of str to list
        Parameter -> values, declared parameters first in declaration order, then any
        other key (which the family refuses when it is built, naming it).
    """
    grid: dict[str, list[Any]] = {k: list(v) for k, v in family.default_grid.items()}
    for key, values in (overrides or {}).items():
        grid[key] = list(values) if isinstance(values, list | tuple) else [values]
    keys = [k for k in family.parameters if k in grid] + [
        k for k in grid if k not in family.parameters
    ]
    return {k: grid[k] for k in keys}


def _unregistered(config: EnvironmentConfig, catalog: StrategyCatalog, name: str) -> str:
    """Why ``name`` is not a family here, and the fix: the plugin to allow, when known.

    A plugin that is not allowed is never imported, so which families it offers is not
    known; an installed plugin whose entry point bears the family's name is named as the
    one to allow.
    """
    where = f"{config.origin(('strategies', 'families', name))}: strategies.families.{name}"
    plugin = next((p for p in catalog.not_enabled if p.name == name), None)
    if plugin is not None:  # config.origin(()) is the environment's own file
        allowed = ", ".join([*config.plugins, plugin.name])
        return (
            f"{where}: strategy family {name!r} is not registered: plugin {plugin.name!r} "
            f"({plugin.distribution} {plugin.version}) is installed but not allowed; allow it "
            f"in {config.origin(())}: `plugins: [{allowed}]`."
        )
    available = ", ".join(catalog.families) or "none"
    hint = ""
    if catalog.not_enabled:
        names = ", ".join(p.name for p in catalog.not_enabled)
        hint = f"; installed but not allowed under `plugins`: {names}"
    return (
        f"{where}: no such strategy family (registered: {available}{hint}). Name a "
        f"registered family, or allow the plugin that offers it under `plugins`."
    )
