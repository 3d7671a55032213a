"""Discovering, allowing, importing and registering gate and strategy plugins through pluggy.

Built-in gates and strategy families are entry points of this distribution and are always
loaded. A third-party entry point in the group ``autopilot.gates`` (gates) or
``autopilot.strategies`` (strategy families) is imported only when the environment's YAML
lists its name under ``plugins``; otherwise it is reported as "installed, not enabled" and
its code never runs. One allow-list serves both groups. Any failure (missing, import error,
hook raising, bad class, duplicate name) raises a :class:`~autopilot.errors.PluginError`:
nothing is evaluated with a partial gate set or a partial set of families.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import metadata
from typing import TypeVar

import pluggy

from autopilot import hookspecs
from autopilot.errors import DuplicateGateError, DuplicateStrategyError, PluginLoadError
from autopilot.sdk.family import StrategyFamily
from autopilot.sdk.gate import Gate

__all__ = [
    "FamilyInfo",
    "GateCatalog",
    "GateInfo",
    "InstalledPlugin",
    "StrategyCatalog",
    "installed_plugins",
    "load_gate_catalog",
    "load_strategy_catalog",
]

logger = logging.getLogger(__name__)

HOST_DISTRIBUTION = "strategy-autopilot"
_GATE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_T = TypeVar("_T", Gate, StrategyFamily)
_GROUPS = (hookspecs.ENTRY_POINT_GROUP, hookspecs.STRATEGY_ENTRY_POINT_GROUP)


@dataclass(frozen=True)
class InstalledPlugin:
    """An entry point of ``autopilot.gates`` or ``autopilot.strategies`` (not imported)."""

    name: str
    module: str
    distribution: str
    version: str

    @property
    def builtin(self) -> bool:
        """True for the gates shipped with strategy-autopilot itself."""
        return _normalise(self.distribution) == _normalise(HOST_DISTRIBUTION)


@dataclass(frozen=True)
class GateInfo:
    """A registered gate class and the plugin that offered it."""

    name: str
    cls: type[Gate]
    plugin: InstalledPlugin


@dataclass(frozen=True)
class FamilyInfo:
    """A registered strategy-family class and the plugin that offered it."""

    name: str
    cls: type[StrategyFamily]
    plugin: InstalledPlugin


@dataclass(frozen=True)
class StrategyCatalog:
    """The strategy families available to one environment, and the plugins left out."""

    families: dict[str, FamilyInfo]
    not_enabled: tuple[InstalledPlugin, ...]
    plugin_manager: pluggy.PluginManager

    def get(self, name: str) -> FamilyInfo | None:
        """Return the family called ``name``, if registered."""
        return self.families.get(name)


@dataclass(frozen=True)
class GateCatalog:
    """The gates available to one environment, and the plugins left out."""

    gates: dict[str, GateInfo]
    not_enabled: tuple[InstalledPlugin, ...]
    plugin_manager: pluggy.PluginManager

    def get(self, name: str) -> GateInfo | None:
        """Return the gate called ``name``, if registered."""
        return self.gates.get(name)

    def plugin_versions(self) -> dict[str, str]:
        """Loaded plugin name -> "distribution version", for audit records."""
        return {
            info.plugin.name: f"{info.plugin.distribution} {info.plugin.version}"
            for info in self.gates.values()
        }


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_plugins(group: str = hookspecs.ENTRY_POINT_GROUP) -> list[InstalledPlugin]:
    """List every entry point of ``group`` (gates by default) without importing any."""
    found: dict[str, InstalledPlugin] = {}
    for ep in metadata.entry_points(group=group):
        dist = ep.dist
        plugin = InstalledPlugin(
            name=ep.name,
            module=ep.value,
            distribution=dist.name if dist is not None else "unknown",
            version=dist.version if dist is not None else "unknown",
        )
        # The same distribution can be visible twice (editable install plus a build dir).
        found.setdefault(ep.name, plugin)
    return sorted(found.values(), key=lambda p: (not p.builtin, p.name))


def new_plugin_manager() -> pluggy.PluginManager:
    """A fresh plugin manager that knows the autopilot hook specs."""
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    return pm


def load_gate_catalog(
    allowed: Iterable[str] = (),
    *,
    source: str = "the configuration",
    extra_plugins: Iterable[tuple[InstalledPlugin, object]] = (),
) -> GateCatalog:
    """Import the built-in and the allowed plugins and collect their gates.

    Parameters
    ----------
    allowed : iterable of str
        Entry-point names of third-party plugins that may be imported.
    source : str
        What to name in error messages as the origin of ``allowed`` (a config file).
    extra_plugins : iterable of (InstalledPlugin, module or object)
        Plugin objects registered directly, for embedding applications and tests.

    Raises
    ------
    PluginLoadError
        An allowed plugin is not installed, fails to import, or its hook raises or
        returns something that is not a list of Gate subclasses.
    DuplicateGateError
        Two plugins offer the same gate name.
    """
    pm, loaded, not_enabled = _load_plugins(
        hookspecs.ENTRY_POINT_GROUP, allowed, source, extra_plugins, "gate"
    )
    by_name = {plugin.name: plugin for plugin, _ in loaded}
    gates: dict[str, GateInfo] = {}
    for impl in pm.hook.autopilot_register_gates.get_hookimpls():
        plugin = by_name[impl.plugin_name]
        for cls in _call_register_hook(plugin, impl.function):
            if cls.name in gates:
                other = gates[cls.name].plugin
                raise DuplicateGateError(
                    f"gate {cls.name!r} is offered by plugin {other.name!r} ({other.distribution}) "
                    f"and by plugin {plugin.name!r} ({plugin.distribution}); uninstall or disallow "
                    f"one of them."
                )
            gates[cls.name] = GateInfo(cls.name, cls, plugin)
    return GateCatalog(dict(sorted(gates.items())), not_enabled, pm)


def load_strategy_catalog(
    allowed: Iterable[str] = (),
    *,
    source: str = "the configuration",
    extra_plugins: Iterable[tuple[InstalledPlugin, object]] = (),
) -> StrategyCatalog:
    """Import the built-in and the allowed strategy plugins and collect their families.

    The same path as :func:`load_gate_catalog`, over the entry-point group
    ``autopilot.strategies`` and the hook ``autopilot_register_strategies``.

    Parameters
    ----------
    allowed : iterable of str
        Entry-point names of third-party plugins that may be imported.
    source : str
        What to name in error messages as the origin of ``allowed`` (a config file).
    extra_plugins : iterable of (InstalledPlugin, module or object)
        Plugin objects registered directly, for embedding applications and tests.

    Raises
    ------
    PluginLoadError
        An allowed plugin is not installed, fails to import, or its hook raises or
        returns something that is not a list of StrategyFamily subclasses.
    DuplicateStrategyError
        Two plugins offer the same family name.
    """
    pm, loaded, not_enabled = _load_plugins(
        hookspecs.STRATEGY_ENTRY_POINT_GROUP, allowed, source, extra_plugins, "strategy"
    )
    by_name = {plugin.name: plugin for plugin, _ in loaded}
    families: dict[str, FamilyInfo] = {}
    for impl in pm.hook.autopilot_register_strategies.get_hookimpls():
        plugin = by_name[impl.plugin_name]
        hook_name = "autopilot_register_strategies"
        for cls in _registered_classes(plugin, impl.function, hook_name, StrategyFamily, "family"):  # type: ignore[type-abstract]
            if cls.name in families:
                other = families[cls.name].plugin
                raise DuplicateStrategyError(
                    f"strategy family {cls.name!r} is offered by plugin {other.name!r} "
                    f"({other.distribution}) and by plugin {plugin.name!r} "
                    f"({plugin.distribution}); uninstall or disallow one of them."
                )
            families[cls.name] = FamilyInfo(cls.name, cls, plugin)
    return StrategyCatalog(dict(sorted(families.items())), not_enabled, pm)


def _load_plugins(
    group: str,
    allowed: Iterable[str],
    source: str,
    extra_plugins: Iterable[tuple[InstalledPlugin, object]],
    what: str,
) -> tuple[pluggy.PluginManager, list[tuple[InstalledPlugin, object]], tuple[InstalledPlugin, ...]]:
    """Import the built-in and allowed entry points of ``group`` into a fresh plugin manager.

    An allowed name must be installed in one of the autopilot groups (the allow-list is
    shared by gates and strategy families); names of the other group are left to it.
    """
    allowed = list(dict.fromkeys(allowed))
    installed = {p.name: p for p in installed_plugins(group)}
    known = {p.name: p for other in _GROUPS for p in installed_plugins(other)}
    missing = [name for name in allowed if name not in known]
    if missing:
        available = ", ".join(sorted(p for p in known if not known[p].builtin)) or "none"
        groups = " or ".join(repr(g) for g in _GROUPS)
        raise PluginLoadError(
            f"plugin {missing[0]!r} is allowed in {source} but not installed "
            f"(installed third-party plugins: {available}). Install the distribution that "
            f"provides the entry point {missing[0]!r} in group {groups}, "
            f"or remove it from 'plugins'."
        )
    pm = new_plugin_manager()
    to_load = [p for p in installed.values() if p.builtin or p.name in allowed]
    loaded: list[tuple[InstalledPlugin, object]] = []
    for plugin in to_load:
        try:
            module = metadata.EntryPoint(plugin.name, plugin.module, group).load()
        except Exception as exc:
            raise PluginLoadError(
                f"plugin {plugin.name!r} ({plugin.distribution} {plugin.version}) failed to "
                f"import: {type(exc).__name__}: {exc}. Fix or reinstall it, or remove it from "
                f"'plugins' in {source}; no {what} was evaluated."
            ) from exc
        loaded.append((plugin, module))
    loaded.extend(extra_plugins)
    for plugin, module in loaded:
        try:
            pm.register(module, name=plugin.name)
        except Exception as exc:
            raise PluginLoadError(f"plugin {plugin.name!r} could not be registered: {exc}") from exc
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginLoadError(f"a plugin implements an unknown hook: {exc}") from exc
    not_enabled = tuple(p for p in installed.values() if not p.builtin and p.name not in allowed)
    for plugin in not_enabled:
        logger.info("plugin %s (%s) is installed, not enabled", plugin.name, plugin.distribution)
    return pm, loaded, not_enabled


def _call_register_hook(plugin: InstalledPlugin, hook: Callable[[], object]) -> list[type[Gate]]:
    return _registered_classes(plugin, hook, "autopilot_register_gates", Gate, "gate")  # type: ignore[type-abstract]


def _registered_classes(
    plugin: InstalledPlugin, hook: Callable[[], object], hook_name: str, base: type[_T], what: str
) -> list[type[_T]]:
    """What a registration hook returned, checked: a list of named ``base`` subclasses."""
    try:
        classes = hook()
    except Exception as exc:
        raise PluginLoadError(
            f"plugin {plugin.name!r} raised in {hook_name}: {type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(classes, list | tuple):
        raise PluginLoadError(
            f"plugin {plugin.name!r}: {hook_name} must return a list of {base.__name__} "
            f"classes, returned {type(classes).__name__}"
        )
    for cls in classes:
        if not (isinstance(cls, type) and issubclass(cls, base)):
            raise PluginLoadError(
                f"plugin {plugin.name!r} registered {cls!r}, which is not a subclass of "
                f"autopilot.{base.__name__}"
            )
        name = getattr(cls, "name", None)
        if not isinstance(name, str) or not _GATE_NAME.match(name):
            raise PluginLoadError(
                f"plugin {plugin.name!r}: {what} class {cls.__name__} needs a 'name' of "
                f"lowercase letters, digits and underscores, has {name!r}"
            )
    return list(classes)
