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
from typing import Any

from autopilot.config import EnvironmentConfig
from autopilot.errors import ConfigError, GateParameterError
from autopilot.sdk.family import StrategyFamily
from autopilot.sdk.plugins import StrategyCatalog

__all__ = ["build_candidates"]


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
        where = config.origin(("strategies", "families", name))
        info = catalog.get(name)
        if info is None:
            available = ", ".join(catalog.families) or "none"
            hint = ""
            if catalog.not_enabled:
                names = ", ".join(p.name for p in catalog.not_enabled)
                hint = f"; installed but not allowed under `plugins`: {names}"
            raise ConfigError(
                f"{where}: strategies.families.{name}: no such strategy family "
                f"(registered: {available}{hint}). Name a registered family, or allow the "
                f"plugin that offers it under `plugins`."
            )
        grid: dict[str, list[Any]] = {k: list(v) for k, v in info.cls.default_grid.items()}
        for key, values in overrides.items():
            grid[key] = list(values) if isinstance(values, list | tuple) else [values]
        keys = [k for k in info.cls.parameters if k in grid] + [
            k for k in grid if k not in info.cls.parameters
        ]
        for point in itertools.product(*(grid[k] for k in keys)):
            params = dict(zip(keys, point, strict=True))
            try:
                candidates.append(info.cls(**params))
            except GateParameterError as exc:
                source = config.origin(("strategies", "families", name, exc.key or ""))
                raise ConfigError(f"{source}: strategies.families.{name}: {exc}") from exc
    return candidates
