"""Environment configurations: YAML gate sets over a shared base, strictly validated.

Each environment is one YAML file (``dev.yaml``) that may ``extends:`` another
(``base.yaml``), which is read from the same folder. Mappings merge key by key, the extending
file winning; lists and scalars are replaced. Files are read with ``yaml.safe_load``
semantics plus a duplicate-key check; every unknown key, wrong type or bad value raises
:class:`~autopilot.errors.ConfigError` naming the file, the key path and the fix.

An environment name is looked up in one folder (:func:`resolve_config_path`): the folder
given, or else ``./configs`` when it holds ``<name>.yaml``, or else the defaults shipped with
the package (the repository's ``configs/``, see :func:`packaged_config_dir`;
:func:`copy_default_configs` copies them for editing). :attr:`EnvironmentConfig.sources`
names the files actually read.

A configuration cannot weaken silently:

* an empty (null) entry where a mapping or a list is expected (``sharpe:`` with nothing
  under it, ``params:``, ``gates:``, ``registry:``, ``plugins:``) is an error, since in an
  extending file it would replace the base's settings by the defaults. An empty mapping
  (``sharpe: {}``) is allowed and adds nothing: it keeps what the base sets, and where
  nothing is set the gate's defaults apply. Only scalars whose null has a stated meaning
  (``max_active: null``, ``rank_by: null``) may be null;
* ``registry.rank_by`` must name an enabled gate of the resolved configuration;
* an extending file that names another ``regimes.model`` than the base replaces the whole
  ``regimes`` section: the base's parameters belong to the base's model. Naming the same model
  (or none) merges ``regimes.params`` key by key like everything else;
* with the allocator on (``shadow`` or ``full``), ``allocator.profiles`` must hold exactly
  one profile per state of the regime model;
* the file that set each key is kept (:attr:`EnvironmentConfig.origins`), so a bad gate
  parameter is reported in the file that holds it, not in the last file naming the gate.

Schema::

    extends: base.yaml          # optional, relative to this file
    environment: prod           # optional, defaults to the file name
    periods_per_year: 252       # required, bars per year
    risk_free_rate: 0.0         # annual, converted once to per-bar
    irregular_bars: false       # true: skip the check of bar spacing against periods_per_year
    plugins: [pbo]              # third-party entry points allowed to load
    gates:
      sharpe:                   # gate name, as registered by a plugin
        mode: enforce           # enforce | shadow
        enabled: true           # false drops a gate inherited from the base
        params: {min: 0.5}
    registry:
      promotion_grace_cycles: 3
      max_active: 20            # null = unlimited
      rank_by: deflated_sharpe  # gate whose value ranks new candidates when room is short
    regimes:                    # optional; the volatility rule with its defaults when absent
      model: gaussian_mixture   # volatility | gaussian_mixture
      params: {states: 2, refit_every: 63, min_train: 504}
    meta_labeling:              # optional; the meta-labeler's training (all keys optional)
      tune_threshold: true      # false: filter at confidence_threshold instead
      confidence_threshold: 0.5
      scoring: balanced_accuracy
      n_splits: 5               # purged folds
      embargo: 10               # bars
      profit_take: 1.0          # barriers, in the horizon's volatility
      stop_loss: 1.0
      max_bars: 10              # the vertical barrier
      volatility_span: 21
    engine:                     # optional; how `autopilot run` walks (all keys optional)
      history_bars: 1008        # bars each cycle backtests and gates
      covariance_bars: 252      # the optimiser's risk window
      retrain_every: 13         # cycles between meta-labeler trainings; 0 = never
      training_bars: 1260       # bars the meta-labeler's training events come from
      holding_bars: 63          # a trade's cost is spread over this expected holding
    allocator:                  # optional; off when absent (README "Regime allocator")
      mode: shadow              # off | shadow | full
      confidence_floor: 0.5     # at or below: the neutral profile; at 1: the regime's own
      neutral: {gross_exposure: 1.0, max_positions: 20, position_cap: 0.1,
                turnover_limit: 0.5, risk_aversion: 1.0}
      profiles:                 # one per state of the regime model, 0 the calmest; a
        0: {risk_aversion: 0.75}   # field left out takes the neutral profile's value
        1: {gross_exposure: 0.5, max_positions: 10, risk_aversion: 3.0}
    strategies:
      families:                 # family name, as registered by a plugin -> its grid
        tsmom: {lookback: [21, 63], skip: 0}   # a list is a grid axis, a scalar fixed
        low_vol: {enabled: false}              # drops a family inherited from the base

Parameter values are checked against the family's declared constraints when the grid is
expanded (:mod:`autopilot.strategies.grid`), naming the file that set them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from importlib.metadata import distributions
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar
from urllib.parse import urlparse
from urllib.request import url2pathname

import yaml

from autopilot.errors import ConfigError
from autopilot.market.regime_settings import (
    MODELS,
    VOLATILITY,
    RegimeSettings,
    model_problem,
    parameter_problem,
)
from autopilot.sdk.params import ConstrainedSettings, Interval, Param
from autopilot.sdk.verdicts import Mode
from autopilot.strategy_allocator import (
    AllocatorMode,
    AllocatorSettings,
    RegimeProfile,
    state_label,
)

__all__ = [
    "DEFAULT_PROMOTION_GRACE_CYCLES",
    "LOCAL_CONFIG_DIR",
    "EnvironmentConfig",
    "GateSpec",
    "RegistrySettings",
    "check_config_target",
    "config_from_dict",
    "copy_default_configs",
    "dump_config",
    "is_packaged",
    "load_config",
    "packaged_config_dir",
    "resolve_config_path",
    "rules_hash",
]

logger = logging.getLogger(__name__)

DEFAULT_PROMOTION_GRACE_CYCLES = 3
# Searched, relative to the working folder, before the defaults shipped in the package.
LOCAL_CONFIG_DIR = Path("configs")
_TOP_LEVEL = {
    "extends",
    "environment",
    "periods_per_year",
    "risk_free_rate",
    "irregular_bars",
    "plugins",
    "gates",
    "registry",
    "regimes",
    "strategies",
    "meta_labeling",
    "allocator",
    "engine",
    "executor",
}
_STRATEGIES_KEYS = {"families", "capital"}
#: The notional the candidates are backtested with, for their trades' impact on volume.
DEFAULT_STRATEGY_CAPITAL = 1_000_000.0
_GATE_KEYS = {"mode", "enabled", "params"}
_REGIMES_KEYS = {"model", "params"}
_REGISTRY_KEYS = {"promotion_grace_cycles", "max_active", "rank_by"}
_ALLOCATOR_NESTED = frozenset({"neutral", "profiles"})


@dataclass(frozen=True)
class GateSpec:
    """One configured gate: its name, mode and raw parameters (validated by the gate class).

    ``source`` is the last file that mentions the gate; the file of each parameter is in
    :attr:`EnvironmentConfig.origins`.
    """

    name: str
    mode: Mode
    params: Mapping[str, Any]
    source: str = ""


@dataclass(frozen=True)
class RegistrySettings(ConstrainedSettings):
    """Settings of the promotion registry, checked against ``constraints`` when built.

    Raises
    ------
    ConfigError
        E.g. ``The 'max_active' setting of 'RegistrySettings' must be in [1, inf), was 0.``
    """

    constraints: ClassVar[Mapping[str, Param]] = MappingProxyType(
        {
            "promotion_grace_cycles": Param(int, interval=Interval(1, None)),
            "max_active": Param(int, default=None, interval=Interval(1, None)),
            "rank_by": Param(str, default=None),
        }
    )

    promotion_grace_cycles: int = DEFAULT_PROMOTION_GRACE_CYCLES
    max_active: int | None = None
    rank_by: str | None = None


@dataclass(frozen=True)
class MetaLabelingSettings(ConstrainedSettings):
    """How the meta-labeler is trained: threshold, folds and triple barriers.

    ``confidence_threshold`` is used only when ``tune_threshold`` is false; a tuned model
    filters at the threshold it stores (T6).
    """

    constraints: ClassVar[Mapping[str, Param]] = MappingProxyType(
        {
            "tune_threshold": Param(bool),
            "confidence_threshold": Param(float, interval=Interval(0, 1, closed="neither")),
            "scoring": Param(str, choices=("balanced_accuracy", "f1", "precision", "recall")),
            "n_splits": Param(int, interval=Interval(2, 50)),
            "embargo": Param(int, interval=Interval(0, None)),
            "profit_take": Param(float, interval=Interval(0, None, closed="neither")),
            "stop_loss": Param(float, interval=Interval(0, None, closed="neither")),
            "max_bars": Param(int, interval=Interval(1, None)),
            "volatility_span": Param(int, interval=Interval(2, None)),
        }
    )

    tune_threshold: bool = True
    confidence_threshold: float = 0.5
    scoring: str = "balanced_accuracy"
    n_splits: int = 5
    embargo: int = 10
    profit_take: float = 1.0
    stop_loss: float = 1.0
    max_bars: int = 10
    volatility_span: int = 21


@dataclass(frozen=True)
class EngineSettings(ConstrainedSettings):
    """How ``autopilot run`` walks: its windows and the meta-labeler's schedule.

    ``history_bars`` is the window each cycle backtests and gates (so a cycle costs the
    same however long the walk), ``covariance_bars`` the optimiser's risk window,
    ``retrain_every`` the cycles between two trainings of the meta-labeler (0: never),
    ``training_bars`` the bars its events are taken from, and ``holding_bars`` the bars a
    position is expected to be held, over which the optimiser spreads a trade's cost.
    """

    constraints: ClassVar[Mapping[str, Param]] = MappingProxyType(
        {
            "history_bars": Param(int, interval=Interval(2, None)),
            "covariance_bars": Param(int, interval=Interval(2, None)),
            "retrain_every": Param(int, interval=Interval(0, None)),
            "training_bars": Param(int, interval=Interval(2, None)),
            "holding_bars": Param(int, interval=Interval(1, None)),
        }
    )

    history_bars: int = 1008
    covariance_bars: int = 252
    retrain_every: int = 13
    training_bars: int = 1260
    holding_bars: int = 63


@dataclass(frozen=True)
class ExecutorSettings(ConstrainedSettings):
    """Where the backtest's chunks and the meta-labeler's validation fits run.

    ``kind: local`` runs them in ``workers`` local processes (1: in this process);
    ``kind: dask`` on the ``dask.distributed`` scheduler at ``address`` (``tcp://HOST:PORT``).
    The results are the same, bit for bit, whatever runs them.
    """

    constraints: ClassVar[Mapping[str, Param]] = MappingProxyType(
        {
            "kind": Param(str, choices=("local", "dask")),
            "workers": Param(int, interval=Interval(1, None)),
            "address": Param(str),
        }
    )

    kind: str = "local"
    workers: int = 1
    address: str = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.kind == "dask" and not self.address.startswith(("tcp://", "tls://", "inproc://")):
            raise ConfigError(
                f"executor.address: a dask executor needs the scheduler's address, like "
                f"tcp://scheduler:8786, was {self.address!r}"
            )
        if self.kind == "local" and self.address:
            raise ConfigError(
                f"executor.address: a local executor has no address (was {self.address!r}); "
                f"use kind: dask to run on a scheduler"
            )


@dataclass(frozen=True)
class EnvironmentConfig:
    """The resolved configuration of one environment.

    Attributes
    ----------
    sources : tuple of str
        The files read, the environment's own file first.
    origins : mapping of key path to file
        The file that set each key path (``("gates", "sharpe", "params", "min")``), after
        the merge; empty for a configuration built in code.

    Raises
    ------
    ConfigError
        ``registry.rank_by`` names no enabled gate of ``gates``; the allocator is on and
        ``allocator.profiles`` misses a state of the regime model or names one it lacks.
    """

    environment: str
    periods_per_year: int
    risk_free_rate: float = 0.0
    irregular_bars: bool = False
    plugins: tuple[str, ...] = ()
    gates: tuple[GateSpec, ...] = ()
    registry: RegistrySettings = field(default_factory=RegistrySettings)
    regimes: RegimeSettings = field(default_factory=RegimeSettings)
    strategies: Mapping[str, Mapping[str, Any]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    meta_labeling: MetaLabelingSettings = field(default_factory=MetaLabelingSettings)
    strategy_capital: float = DEFAULT_STRATEGY_CAPITAL
    allocator: AllocatorSettings = field(default_factory=AllocatorSettings)
    engine: EngineSettings = field(default_factory=EngineSettings)
    executor: ExecutorSettings = field(default_factory=ExecutorSettings)
    sources: tuple[str, ...] = ()
    origins: Mapping[tuple[str, ...], str] = field(
        default_factory=lambda: MappingProxyType({}), compare=False, repr=False
    )

    def __post_init__(self) -> None:
        # Checked here, once, so every command and every library user sees them at load time.
        self._check_rank_by()
        self._check_allocator_states()

    def _check_rank_by(self) -> None:
        rank_by = self.registry.rank_by
        names = [g.name for g in self.gates]
        if rank_by is None or rank_by in names:
            return
        where = self.origin(("registry", "rank_by"))
        disabled_in = self.origins.get(("gates", rank_by, "enabled"))
        why = (
            f"is disabled (gates.{rank_by}.enabled: false in {disabled_in})"
            if disabled_in is not None
            else "is not a configured gate"
        )
        raise ConfigError(
            f"{where}: registry.rank_by: {rank_by!r} {why}. Rank new candidates by an enabled "
            f"gate ({', '.join(names) or 'none configured'}), or write `rank_by: null`."
        )

    def _check_allocator_states(self) -> None:
        """With the allocator on, one profile per state of the regime model, no other."""
        if self.allocator.mode is AllocatorMode.OFF:
            return
        model, states = self.regimes.model, self.regimes.states
        set_in = self.origins.get(("regimes", "params", "states")) or self.origins.get(
            ("regimes", "model")
        )
        described = (
            f"regime model '{model}' ({states} states, 0 the calmest"
            f"{f', set in {set_in}' if set_in else ''})"
        )
        labels = self.allocator.profiles
        missing = [state for state in range(states) if state not in labels]
        if missing:
            raise ConfigError(
                f"{self.origin(('allocator', 'profiles'))}: allocator.profiles: no profile "
                f"for state {', '.join(map(str, missing))} of the {described}. Add "
                f"allocator.profiles.{missing[0]} (`{missing[0]}: {{}}` is the neutral "
                f"profile), or write `allocator: {{mode: off}}`."
            )
        extra = [label for label in labels if label >= states]
        if extra:
            raise ConfigError(
                f"{self.origin(('allocator', 'profiles', str(extra[0])))}: "
                f"allocator.profiles.{extra[0]}: is not a state of the {described}. Remove "
                f"that profile, or configure the regime model with more states."
            )

    def origin(self, path: tuple[str, ...]) -> str:
        """The file that set ``path``; the environment's own file when it is not known."""
        found = self.origins.get(path)
        if found is not None:
            return found
        return self.sources[0] if self.sources else self.environment

    def to_dict(self) -> dict[str, Any]:
        """The resolved configuration as plain data (loadable again, without ``extends``)."""
        return {
            "environment": self.environment,
            "periods_per_year": self.periods_per_year,
            "risk_free_rate": self.risk_free_rate,
            "irregular_bars": self.irregular_bars,
            "plugins": list(self.plugins),
            "gates": {g.name: {"mode": g.mode.value, "params": dict(g.params)} for g in self.gates},
            "registry": {
                "promotion_grace_cycles": self.registry.promotion_grace_cycles,
                "max_active": self.registry.max_active,
                "rank_by": self.registry.rank_by,
            },
            "regimes": self.regimes.to_dict(),
            "meta_labeling": self.meta_labeling.to_dict(),
            "engine": self.engine.to_dict(),
            "executor": self.executor.to_dict(),
            "allocator": self.allocator.to_dict(),
            **(
                {
                    "strategies": {
                        "capital": self.strategy_capital,
                        "families": {k: dict(v) for k, v in self.strategies.items()},
                    }
                }
                if self.strategies
                else {}
            ),
        }


class _StrictLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses duplicate keys instead of keeping the last one."""


def _construct_mapping(
    loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False
) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key {key!r} (first defined on line {seen[key] + 1})",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: configuration file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read configuration: {exc}") from exc
    try:
        data = yaml.load(text, Loader=_StrictLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        context = f" ({exc.context})" if exc.context else ""
        raise ConfigError(
            f"{path}: invalid YAML: {where}{exc.problem}{context}. Fix the file at that line."
        ) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: the top level must be a mapping of settings, found {type(data).__name__}"
        )
    _check_structure(path, data)
    return _normalise_allocator(data)


def _normalise_allocator(data: dict[str, Any]) -> dict[str, Any]:
    """Checked ``data`` with the allocator's mode a string and its profiles keyed by int.

    Keyed by int, ``1:`` in one file and ``"1":`` in another merge as one profile.
    """
    if "allocator" not in data:
        return data
    allocator = _off_read_as_false(data["allocator"])
    if "profiles" in allocator:
        profiles = allocator["profiles"].items()
        allocator["profiles"] = {state_label(label): profile for label, profile in profiles}
    return {**data, "allocator": allocator}


def _off_read_as_false(section: Any) -> Any:
    """A copy of ``section`` with ``mode: false`` as ``mode: off``.

    YAML 1.1 reads an unquoted ``off`` (and ``no``) as false, so that is what users write.
    """
    if not isinstance(section, dict):
        return section
    if section.get("mode") is False:
        return {**section, "mode": AllocatorMode.OFF.value}
    return dict(section)


def _fail(path: Path, key: str, problem: str, fix: str) -> ConfigError:
    return ConfigError(f"{path}: {key}: {problem}. {fix}")


def _null(path: Path, key: str, expected: str, fix: str) -> ConfigError:
    # In an extending file a null would replace the base's settings by the defaults.
    return _fail(path, key, f"is empty (null) where {expected} is expected", fix)


def _check_unknown(path: Path, prefix: str, data: Mapping[str, Any], allowed: set[str]) -> None:
    for key in data:
        if key not in allowed:
            where = f"{prefix}.{key}" if prefix else str(key)
            raise _fail(
                path, where, "unknown key", f"Allowed keys here: {', '.join(sorted(allowed))}."
            )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_structure(path: Path, data: dict[str, Any]) -> None:
    """Validate one file's keys and types (values that need the merged view come later)."""
    _check_unknown(path, "", data, _TOP_LEVEL)
    if "extends" in data and not isinstance(data["extends"], str):
        raise _fail(path, "extends", "must be a file name", "Write e.g. `extends: base.yaml`.")
    if "environment" in data and not isinstance(data["environment"], str):
        raise _fail(path, "environment", "must be a string", "Write e.g. `environment: prod`.")
    if "periods_per_year" in data:
        value = data["periods_per_year"]
        if not _is_int(value) or value <= 0:
            raise _fail(
                path,
                "periods_per_year",
                f"must be a positive integer, was {value!r}",
                "Use the number of bars per year, e.g. 252 for daily equity data.",
            )
    if "risk_free_rate" in data:
        value = data["risk_free_rate"]
        if not _is_number(value) or not -1.0 < value < 1.0:
            raise _fail(
                path,
                "risk_free_rate",
                f"must be an annual rate in (-1, 1), was {value!r}",
                "Write e.g. 0.02 for 2 % a year.",
            )
    if "irregular_bars" in data and not isinstance(data["irregular_bars"], bool):
        raise _fail(
            path,
            "irregular_bars",
            f"must be true or false, was {data['irregular_bars']!r}",
            "Write `irregular_bars: true` only for bars without a fixed spacing.",
        )
    if "plugins" in data:
        plugins = data["plugins"]
        if plugins is None:
            raise _null(
                path,
                "plugins",
                "a list",
                "Write `plugins: []` for no third-party plugins, or remove the key to keep "
                "the base file's list.",
            )
        if not isinstance(plugins, list) or not all(isinstance(p, str) for p in plugins):
            raise _fail(
                path,
                "plugins",
                f"must be a list of entry-point names, was {plugins!r}",
                "Write e.g. `plugins: [pbo]`; `autopilot gates list` and `autopilot candidates "
                "families` show installed plugins.",
            )
    if "gates" in data:
        _check_gates(path, data["gates"])
    if "registry" in data:
        _check_registry(path, data["registry"])
    if "regimes" in data:
        _check_regimes(path, data["regimes"])
    if "strategies" in data:
        _check_strategies(path, data["strategies"])
    if "meta_labeling" in data:
        _check_settings(
            path,
            "meta_labeling",
            data["meta_labeling"],
            MetaLabelingSettings.constraints,
            "meta_labeling: {tune_threshold: false, confidence_threshold: 0.6}",
        )
    if "allocator" in data:
        _check_allocator(path, data["allocator"])
    if "engine" in data:
        _check_settings(
            path,
            "engine",
            data["engine"],
            EngineSettings.constraints,
            "engine: {history_bars: 1008, retrain_every: 13, training_bars: 1260}",
        )
    if "executor" in data:
        _check_settings(
            path,
            "executor",
            data["executor"],
            ExecutorSettings.constraints,
            "executor: {kind: dask, address: tcp://scheduler:8786}",
        )


def _check_settings(
    path: Path,
    key: str,
    section: Any,
    declared: Mapping[str, Param],
    example: str,
    nested: frozenset[str] = frozenset(),
) -> None:
    """One file's mapping of settings, each key against its declared constraint.

    ``nested`` names the keys allowed besides the declared ones, which the caller checks.
    """
    if section is None:
        raise _null(
            path,
            key,
            "a mapping of settings",
            "Write the settings under it, or remove the key to keep the base file's.",
        )
    if not isinstance(section, dict):
        raise _fail(path, key, f"must be a mapping, was {section!r}", f"Write e.g. `{example}`.")
    _check_unknown(path, key, section, set(declared) | nested)
    for name, value in section.items():
        if name in nested:
            continue
        problem = declared[name].violation(value)
        if problem is not None:
            raise _fail(path, f"{key}.{name}", problem, f"Declared: {declared[name].describe()}.")


def _check_allocator(path: Path, section: Any) -> None:
    """One file's ``allocator:`` section: mode, floor, the neutral and per-state profiles."""
    profile = RegimeProfile.constraints
    _check_settings(
        path,
        "allocator",
        _off_read_as_false(section),
        AllocatorSettings.constraints,
        "allocator: {mode: shadow, profiles: {0: {}, 1: {gross_exposure: 0.5}}}",
        nested=_ALLOCATOR_NESTED,
    )
    if "neutral" in section:
        _check_settings(
            path,
            "allocator.neutral",
            section["neutral"],
            profile,
            "neutral: {gross_exposure: 1.0, max_positions: 20}",
        )
    if "profiles" not in section:
        return
    profiles = section["profiles"]
    if profiles is None:
        raise _null(
            path,
            "allocator.profiles",
            "a mapping of regime state to profile",
            "Write the profiles under it, or remove the key to keep the base file's.",
        )
    if not isinstance(profiles, dict):
        raise _fail(
            path,
            "allocator.profiles",
            f"must be a mapping of regime state to profile, was {profiles!r}",
            "Write e.g. `profiles: {0: {}, 1: {gross_exposure: 0.5}}`.",
        )
    seen: dict[int, Any] = {}
    for label, settings in profiles.items():
        key = f"allocator.profiles.{label}"
        state = state_label(label)
        if state is None:
            raise _fail(
                path,
                key,
                f"is not a regime state, was {label!r}",
                "Key each profile by its state, an integer >= 0 (0 the calmest); a bar "
                "without a label always gets the neutral profile.",
            )
        if state in seen:
            raise _fail(
                path,
                key,
                f"names state {state} again (first as {seen[state]!r})",
                "Keep one profile per state.",
            )
        seen[state] = label
        _check_settings(path, key, settings, profile, f"{label}: {{gross_exposure: 0.5}}")


def _check_strategies(path: Path, strategies: Any) -> None:
    if not isinstance(strategies, dict):
        raise _fail(
            path,
            "strategies",
            f"must be a mapping, was {strategies!r}",
            "Write e.g. `strategies: {families: {tsmom: {lookback: [21, 63]}}}`.",
        )
    _check_unknown(path, "strategies", strategies, _STRATEGIES_KEYS)
    capital = strategies.get("capital", DEFAULT_STRATEGY_CAPITAL)
    if (
        isinstance(capital, bool)
        or not isinstance(capital, int | float)
        or not (0 < capital < math.inf)
    ):
        raise _fail(
            path,
            "strategies.capital",
            f"must be a positive number, was {capital!r}",
            "Write e.g. `capital: 1000000`: the notional the candidates trade, which sets "
            "their trades' share of volume when the prices carry volume.",
        )
    families = strategies.get("families", {})
    if not isinstance(families, dict):
        raise _fail(
            path,
            "strategies.families",
            f"must be a mapping of family name to grid, was {families!r}",
            "Write e.g. `families: {tsmom: {lookback: [21, 63]}}`.",
        )
    for name, grid in families.items():
        key = f"strategies.families.{name}"
        if not isinstance(grid, dict):
            raise _fail(
                path,
                key,
                f"must be a mapping of parameter to values, was {grid!r}",
                f"Write e.g. `{name}: {{lookback: [21, 63]}}`; `{name}: {{}}` uses the "
                f"family's default grid; `{name}: {{enabled: false}}` drops it.",
            )
        if "enabled" in grid and not isinstance(grid["enabled"], bool):
            raise _fail(
                path,
                f"{key}.enabled",
                f"must be true or false, was {grid['enabled']!r}",
                "Use `enabled: false` to drop a family inherited from the base file.",
            )
        for param, values in grid.items():
            if param == "enabled":
                continue
            if isinstance(values, list) and not values:
                raise _fail(
                    path,
                    f"{key}.{param}",
                    "is an empty list",
                    "List at least one value, or remove the key for the family's default.",
                )
            items = values if isinstance(values, list) else [values]
            bad = [v for v in items if not isinstance(v, bool | int | float | str)]
            if bad:
                raise _fail(
                    path,
                    f"{key}.{param}",
                    f"must be a value or a list of values, was {values!r}",
                    f"Write e.g. `{param}: [21, 63]` or `{param}: 21`.",
                )


def _check_gates(path: Path, gates: Any) -> None:
    if gates is None:
        raise _null(
            path,
            "gates",
            "a mapping of gate name to settings",
            "Write the gates under it, or remove the key to keep the base file's gates.",
        )
    if not isinstance(gates, dict):
        raise _fail(
            path,
            "gates",
            f"must be a mapping of gate name to settings, was {type(gates).__name__}",
            "Write e.g. `gates: {sharpe: {params: {min: 0.5}}}`.",
        )
    for name, spec in gates.items():
        key = f"gates.{name}"
        if spec is None:
            raise _null(
                path,
                key,
                "a mapping with mode/enabled/params",
                f"Write its settings under it; `{name}: {{}}` keeps what the base file sets "
                f"(the gate's defaults where nothing is set); `{name}: {{enabled: false}}` "
                f"drops it.",
            )
        if not isinstance(spec, dict):
            raise _fail(
                path,
                key,
                f"must be a mapping with mode/enabled/params, was {spec!r}",
                "Write e.g. `sharpe: {mode: enforce, params: {min: 0.5}}`.",
            )
        _check_unknown(path, key, spec, _GATE_KEYS)
        if "mode" in spec and spec["mode"] not in {m.value for m in Mode}:
            raise _fail(
                path,
                f"{key}.mode",
                f"must be 'enforce' or 'shadow', was {spec['mode']!r}",
                "Use `shadow` to report a gate without letting it block promotion.",
            )
        if "enabled" in spec and not isinstance(spec["enabled"], bool):
            raise _fail(
                path,
                f"{key}.enabled",
                f"must be true or false, was {spec['enabled']!r}",
                "Use `enabled: false` to drop a gate inherited from the base file.",
            )
        if "params" in spec and spec["params"] is None:
            raise _null(
                path,
                f"{key}.params",
                "a mapping of parameter to value",
                "Write the parameters under it; `params: {}` keeps what the base file sets "
                "(the gate's defaults where nothing is set).",
            )
        if "params" in spec and not isinstance(spec["params"], dict):
            raise _fail(
                path,
                f"{key}.params",
                f"must be a mapping, was {spec['params']!r}",
                "Write e.g. `params: {min: 0.5}`.",
            )


def _check_registry(path: Path, registry: Any) -> None:
    if registry is None:
        raise _null(
            path,
            "registry",
            "a mapping of settings",
            "Write the settings under it, or remove the key to keep the base file's.",
        )
    if not isinstance(registry, dict):
        raise _fail(
            path, "registry", "must be a mapping", "Write e.g. `registry: {max_active: 20}`."
        )
    _check_unknown(path, "registry", registry, _REGISTRY_KEYS)
    grace = registry.get("promotion_grace_cycles", DEFAULT_PROMOTION_GRACE_CYCLES)
    if not _is_int(grace) or grace < 1:
        raise _fail(
            path,
            "registry.promotion_grace_cycles",
            f"must be an integer >= 1, was {grace!r}",
            "It is the number of consecutive failing or absent cycles before removal.",
        )
    rank_by = registry.get("rank_by")
    if rank_by is not None and not isinstance(rank_by, str):
        raise _fail(
            path,
            "registry.rank_by",
            f"must be a gate name or null, was {rank_by!r}",
            "Name a configured gate whose value ranks new candidates, e.g. deflated_sharpe.",
        )
    max_active = registry.get("max_active")
    if max_active is not None and (not _is_int(max_active) or max_active < 1):
        raise _fail(
            path,
            "registry.max_active",
            f"must be an integer >= 1 or null, was {max_active!r}",
            "Use null for no limit.",
        )


def _check_regimes(path: Path, regimes: Any) -> None:
    """One file's ``regimes:`` section; its parameters are checked once merged (:func:`_build`)."""
    if regimes is None:
        raise _null(
            path,
            "regimes",
            "a mapping with model/params",
            "Write the model and its parameters under it, or remove the key to keep the base "
            "file's regimes.",
        )
    if not isinstance(regimes, dict):
        raise _fail(
            path,
            "regimes",
            f"must be a mapping with model/params, was {regimes!r}",
            "Write e.g. `regimes: {model: gaussian_mixture, params: {states: 2}}`.",
        )
    _check_unknown(path, "regimes", regimes, _REGIMES_KEYS)
    if "model" in regimes:
        problem = model_problem(regimes["model"])
        if problem is not None:
            raise _fail(
                path,
                "regimes.model",
                problem,
                f"Name one of the regime models: {', '.join(MODELS)}.",
            )
    if "params" in regimes and regimes["params"] is None:
        raise _null(
            path,
            "regimes.params",
            "a mapping of parameter to value",
            "Write the parameters under it; `params: {}` keeps what the base file sets (the "
            "model's defaults where nothing is set).",
        )
    if "params" in regimes and not isinstance(regimes["params"], dict):
        raise _fail(
            path,
            "regimes.params",
            f"must be a mapping, was {regimes['params']!r}",
            "Write e.g. `params: {states: 2, refit_every: 63}`.",
        )


def _switch_regime_model(
    merged: dict[str, Any], origins: dict[tuple[str, ...], str], own: Mapping[str, Any]
) -> None:
    """Drop the merged ``regimes`` section when ``own`` names another model than it holds."""
    model = own.get("regimes", {}).get("model")
    if model is None or "regimes" not in merged:
        return
    if model == merged["regimes"].get("model", VOLATILITY):  # no model named: the default
        return
    del merged["regimes"]
    for stale in [p for p in origins if p[0] == "regimes"]:
        del origins[stale]


def _regime_settings(
    data: Mapping[str, Any], path: Path, origins: Mapping[tuple[str, ...], str]
) -> RegimeSettings:
    """The merged ``regimes`` section, a bad parameter named in the file that set it."""
    regimes = data.get("regimes", {})
    model = regimes.get("model", VOLATILITY)
    params = regimes.get("params", {})
    found = parameter_problem(model, params)
    if found is not None:
        key, message = found
        where = (
            origins.get(("regimes", "params", key))
            or origins.get(("regimes", "model"))
            or origins.get(("regimes",))
            or str(path)
        )
        raise ConfigError(f"{where}: regimes.params: {message}")
    return RegimeSettings(model=model, params=params)


def _allocator_settings(section: Mapping[str, Any]) -> AllocatorSettings:
    """The merged ``allocator`` section; a profile's omitted fields are the neutral ones."""
    neutral = RegimeProfile(**section.get("neutral", {}))
    return AllocatorSettings(
        **{key: section[key] for key in AllocatorSettings.constraints if key in section},
        neutral=neutral,
        profiles={
            label: replace(neutral, **fields)
            for label, fields in section.get("profiles", {}).items()
        },
    )


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _record_origins(
    origins: dict[tuple[str, ...], str],
    data: Mapping[str, Any],
    file: str,
    prefix: tuple[str, ...] = (),
) -> None:
    """Note ``file`` as the origin of every key path of ``data``, following :func:`_merge`."""
    for key, value in data.items():
        path = (*prefix, str(key))
        origins[path] = file
        if isinstance(value, dict):
            _record_origins(origins, value, file, path)
        else:
            # A replaced value takes nothing from the base: forget where its parts came from.
            for stale in [p for p in origins if len(p) > len(path) and p[: len(path)] == path]:
                del origins[stale]


def packaged_config_dir() -> Path:
    """The folder of the default environment files shipped with the package.

    A built distribution carries the repository's ``configs/`` as ``autopilot/configs``.
    An editable install imports the package from a checkout instead, whose ``configs/``
    are the defaults themselves; the install's PEP 610 record (``direct_url.json``) names
    that checkout.

    Raises
    ------
    ConfigError
        When neither holds them (a damaged installation).
    """
    shipped = Path(__file__).resolve().parent / "configs"
    if shipped.is_dir():
        return shipped
    checkout = _editable_checkout()
    if checkout is not None and (checkout / "configs").is_dir():
        return checkout / "configs"
    raise ConfigError(
        f"the default configurations are missing: neither {shipped} nor an editable "
        f"checkout's configs/ exists; reinstall strategy-autopilot, or pass --config-dir"
    )


def _editable_checkout() -> Path | None:
    """The checkout this module runs from, when an editable install names it."""
    here = Path(__file__).resolve()
    for installed in distributions(name="strategy-autopilot"):
        record = installed.read_text("direct_url.json")
        if not record:
            continue  # e.g. the build's egg-info in the checkout itself
        data = json.loads(record)
        url = urlparse(data.get("url", ""))
        if url.scheme != "file" or not data.get("dir_info", {}).get("editable"):
            continue
        checkout = Path(url2pathname(url.path)).resolve()
        if here.is_relative_to(checkout):
            return checkout
    return None


def is_packaged(path: str | Path) -> bool:
    """Whether ``path`` is one of the default files shipped inside the package."""
    try:
        return Path(path).resolve().parent == packaged_config_dir()
    except ConfigError:  # an installation without them: nothing read can be one of them
        return False


def _environments(folder: Path) -> str:
    """What ``folder`` offers, for an error message."""
    if not folder.is_dir():
        return "no such folder"
    names = sorted(p.stem for p in folder.glob("*.yaml") if p.is_file())
    return f"environments: {', '.join(names)}" if names else "no .yaml files"


def resolve_config_path(env: str, config_dir: str | Path | None = None) -> Path:
    """Map an environment name or a YAML path to the file to read.

    Parameters
    ----------
    env : str
        A path to a YAML file (it ends in ``.yaml`` or ``.yml``, or holds a ``/``), or an
        environment name.
    config_dir : str or Path, optional
        The folder of the environment files. When given, a name is looked up there only;
        otherwise in ``./configs`` when it holds ``<env>.yaml``, else in the defaults
        shipped in the package.

    Raises
    ------
    ConfigError
        No file for the name: the message lists the environments of every folder searched.
    """
    if env.endswith((".yaml", ".yml")) or "/" in env or os.sep in env:
        return Path(env)
    file = f"{env}.yaml"
    if config_dir is not None:
        folder = Path(config_dir)
        if (folder / file).is_file():
            return folder / file
        raise ConfigError(
            f"{folder / file}: no configuration for environment {env!r} in the folder "
            f"{folder} ({_environments(folder)}). Name one of those environments, a YAML "
            f"file, or another folder of environment files."
        )
    if (LOCAL_CONFIG_DIR / file).is_file():
        logger.debug("environment %r: reading %s", env, LOCAL_CONFIG_DIR / file)
        return LOCAL_CONFIG_DIR / file
    packaged = packaged_config_dir()
    if (packaged / file).is_file():
        logger.debug("environment %r: reading %s", env, packaged / file)
        return packaged / file
    raise ConfigError(
        f"no configuration for environment {env!r}: searched ./{LOCAL_CONFIG_DIR} "
        f"({_environments(LOCAL_CONFIG_DIR)}) and the defaults shipped with autopilot in "
        f"{packaged} ({_environments(packaged)}). Name one of those environments, a YAML "
        f"file, or a folder of environment files (--config-dir)."
    )


def copy_default_configs(folder: str | Path) -> list[Path]:
    """Copy the default environment files shipped in the package into ``folder``, for editing.

    Parameters
    ----------
    folder : str or Path
        Where to copy them; created (with its parents) when missing.

    Returns
    -------
    list of Path
        The files written, in name order.

    Raises
    ------
    ConfigError
        ``folder`` already holds a file of the same name (nothing is written), or is a file.
    """
    folder = Path(folder)
    defaults = sorted(packaged_config_dir().glob("*.yaml"))
    check_config_target(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for source in defaults:
        target = folder / source.name
        # "x": a file that appeared since the check is never overwritten.
        with open(target, "xb") as handle:
            handle.write(source.read_bytes())
        written.append(target)
    return written


def check_config_target(folder: str | Path) -> None:
    """Refuse a folder that :func:`copy_default_configs` could not fill without overwriting.

    Raises
    ------
    ConfigError
        ``folder`` is a file, or already holds files named like the defaults.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{folder}: is a file; name a folder to copy the configurations into")
    taken = [
        p.name for p in sorted(packaged_config_dir().glob("*.yaml")) if (folder / p.name).exists()
    ]
    if taken:
        raise ConfigError(
            f"{folder}: already holds {', '.join(taken)}; nothing was copied, nothing is "
            f"overwritten. Move those files away first, or copy into another folder."
        )


def load_config(env: str | Path, config_dir: str | Path | None = None) -> EnvironmentConfig:
    """Load, merge and validate the configuration of one environment.

    Parameters
    ----------
    env : str or Path
        An environment name (``prod`` reads ``prod.yaml``) or a YAML path.
    config_dir : str or Path, optional
        Folder of the environment files; by default ``./configs`` when it holds the
        environment, else the defaults shipped in the package (see
        :func:`resolve_config_path`). ``extends`` is read from the folder of the file that
        names it.

    Raises
    ------
    ConfigError
        With the file, the key path and the fix.
    """
    path = resolve_config_path(str(env), config_dir)
    chain: list[tuple[Path, dict[str, Any]]] = []
    current: Path | None = path
    while current is not None:
        resolved = current.resolve()
        if any(resolved == seen.resolve() for seen, _ in chain):
            names = " -> ".join(str(p) for p, _ in chain)
            raise ConfigError(f"{current}: `extends` forms a cycle ({names} -> {current})")
        data = _read_yaml(current)
        chain.append((current, data))
        parent = data.get("extends")
        current = (current.parent / parent) if parent else None
    merged: dict[str, Any] = {}
    origins: dict[tuple[str, ...], str] = {}
    for file, data in reversed(chain):
        own = {k: v for k, v in data.items() if k != "extends"}
        _switch_regime_model(merged, origins, own)
        merged = _merge(merged, own)
        _record_origins(origins, own, str(file))
    merged.setdefault("environment", path.stem)
    return _build(merged, path, origins, tuple(str(p) for p, _ in chain))


def config_from_dict(data: Mapping[str, Any], source: str = "<dict>") -> EnvironmentConfig:
    """Validate and build a configuration from plain data, e.g. ``EnvironmentConfig.to_dict()``."""
    path = Path(source)
    data = dict(data)
    if "extends" in data:
        raise ConfigError(f"{source}: extends: not supported for in-memory configurations")
    _check_structure(path, data)
    data = _normalise_allocator(data)
    data.setdefault("environment", path.stem)
    origins: dict[tuple[str, ...], str] = {}
    _record_origins(origins, data, source)
    return _build(data, path, origins, (source,))


def _build(
    data: dict[str, Any],
    path: Path,
    origins: dict[tuple[str, ...], str],
    sources: tuple[str, ...],
) -> EnvironmentConfig:
    if "periods_per_year" not in data:
        raise _fail(
            path,
            "periods_per_year",
            "is required (here or in the file it extends)",
            "Add e.g. `periods_per_year: 252` for daily bars; it is never guessed.",
        )
    gates = []
    for name, spec in data.get("gates", {}).items():
        if not spec.get("enabled", True):
            continue
        gates.append(
            GateSpec(
                name=str(name),
                mode=Mode(spec.get("mode", Mode.ENFORCE.value)),
                params=MappingProxyType(dict(spec.get("params", {}))),
                source=origins.get(("gates", str(name)), str(path)),
            )
        )
    registry = data.get("registry", {})
    families = data.get("strategies", {}).get("families", {})
    strategies = MappingProxyType(
        {
            str(name): MappingProxyType({k: v for k, v in grid.items() if k != "enabled"})
            for name, grid in families.items()
            if grid.get("enabled", True)
        }
    )
    return EnvironmentConfig(
        environment=data["environment"],
        periods_per_year=data["periods_per_year"],
        risk_free_rate=float(data.get("risk_free_rate", 0.0)),
        irregular_bars=bool(data.get("irregular_bars", False)),
        plugins=tuple(data.get("plugins", ())),
        gates=tuple(gates),
        registry=RegistrySettings(
            promotion_grace_cycles=registry.get(
                "promotion_grace_cycles", DEFAULT_PROMOTION_GRACE_CYCLES
            ),
            max_active=registry.get("max_active"),
            rank_by=registry.get("rank_by"),
        ),
        regimes=_regime_settings(data, path, origins),
        strategies=strategies,
        meta_labeling=MetaLabelingSettings(**data.get("meta_labeling", {})),
        strategy_capital=float(data.get("strategies", {}).get("capital", DEFAULT_STRATEGY_CAPITAL)),
        allocator=_allocator_settings(data.get("allocator", {})),
        engine=EngineSettings(**data.get("engine", {})),
        executor=_executor_settings(
            origins.get(("executor", "address")) or origins.get(("executor", "kind")) or str(path),
            data.get("executor", {}),
        ),
        sources=sources,
        origins=MappingProxyType(origins),
    )


def _executor_settings(source: str, section: Mapping[str, Any]) -> ExecutorSettings:
    """The ``executor:`` section, a bad kind/address pair refused naming its file."""
    try:
        return ExecutorSettings(**section)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def dump_config(config: EnvironmentConfig | Mapping[str, Any]) -> str:
    """Render a resolved configuration (or its ``to_dict()``) as YAML that loads back."""
    data = config.to_dict() if isinstance(config, EnvironmentConfig) else dict(config)
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False)


def rules_hash(resolved: Mapping[str, Any]) -> str:
    """SHA-256 (first 16 hex digits) of a resolved configuration, without its name.

    Two environments with the same rules share a hash, whatever their file layout.
    """
    rules = {k: v for k, v in resolved.items() if k != "environment"}
    canonical = json.dumps(rules, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
