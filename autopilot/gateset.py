"""The gate set of one environment: configured gates evaluated over a candidate batch.

Evaluation order for every candidate:

1. data quality: a non-finite return or an interior gap is an ERROR for every gate;
   a candidate that is never live is INSUFFICIENT_DATA;
2. history: fewer live bars than the ``min_history`` gate requires is INSUFFICIENT_DATA
   for every gate that needs history;
3. the gate's own verdict. A gate that raises, or returns arrays of the wrong shape, gives
   ERROR for every candidate of the batch (fail closed).

A candidate is promotable only if every enforced gate says PASS.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from autopilot.batch import CandidateBatch
from autopilot.config import EnvironmentConfig, GateSpec, load_config, rules_hash
from autopilot.errors import ConfigError, GateParameterError, PluginLoadError
from autopilot.gate import EvaluationContext, Gate, GateResult
from autopilot.metrics import per_period_rate
from autopilot.plugins import GateCatalog, GateInfo, load_gate_catalog
from autopilot.verdicts import Decision, Mode, Outcome, Verdict, format_reason

__all__ = ["ConfiguredGate", "GateColumn", "GateSet", "VerdictTable"]

logger = logging.getLogger(__name__)

# Candidate-level problems found before any gate runs, in order of precedence.
_OK, _NON_FINITE, _GAP, _NOT_LIVE, _SHORT = range(5)
# Outcome by code, for turning array entries into members quickly.
_BY_CODE: tuple[Outcome, ...] = tuple(Outcome)


@dataclass(frozen=True)
class ConfiguredGate:
    """A gate instance with its mode and the plugin that provided it."""

    gate: Gate
    mode: Mode
    info: GateInfo

    @property
    def name(self) -> str:
        """The gate's registered name."""
        return self.info.name


@dataclass(frozen=True)
class GateColumn:
    """One gate's verdicts over the batch, as arrays."""

    gate: str
    mode: Mode
    threshold: float | None
    outcomes: np.ndarray
    values: np.ndarray
    reason: Callable[[int], str]


class VerdictTable:
    """Every gate's verdict on every candidate of a batch, kept as arrays.

    :meth:`decisions` turns it into :class:`~autopilot.verdicts.Decision` records; reasons
    are formatted only then.
    """

    def __init__(self, strategy_ids: Sequence[str], columns: Sequence[GateColumn]) -> None:
        self.strategy_ids = tuple(strategy_ids)
        self.columns = tuple(columns)
        enforced = [c.outcomes for c in self.columns if c.mode is Mode.ENFORCE]
        # Same rule as Decision.promotable: something enforced, and all of it passed.
        self.promotable = np.full(len(self.strategy_ids), bool(enforced))
        for outcomes in enforced:
            self.promotable &= outcomes == Outcome.PASS

    def verdicts(self, i: int) -> tuple[Verdict, ...]:
        """The verdicts on candidate ``i``."""
        return tuple(
            Verdict(
                gate=c.gate,
                outcome=_BY_CODE[c.outcomes[i]],
                value=float(c.values[i]),
                threshold=c.threshold,
                mode=c.mode,
                reason=c.reason(i),
            )
            for c in self.columns
        )

    def decisions(self) -> list[Decision]:
        """One decision per candidate, in batch order."""
        return [Decision(sid, self.verdicts(i)) for i, sid in enumerate(self.strategy_ids)]


class GateSet:
    """The gates of one environment, ready to evaluate batches.

    Parameters
    ----------
    config : EnvironmentConfig
        The resolved environment configuration.
    catalog : GateCatalog, optional
        Registered gates; by default the built-in gates plus the plugins the configuration
        allows are loaded.

    Raises
    ------
    ConfigError
        A configured gate does not exist or one of its parameters is invalid.
    PluginError
        A plugin is missing, fails to import or registers badly.
    """

    def __init__(self, config: EnvironmentConfig, catalog: GateCatalog | None = None) -> None:
        source = config.sources[0] if config.sources else config.environment
        self.config = config
        self.catalog = (
            catalog if catalog is not None else load_gate_catalog(config.plugins, source=source)
        )
        self.gates = tuple(self._instantiate(spec) for spec in config.gates)
        if not any(g.mode is Mode.ENFORCE for g in self.gates):
            raise ConfigError(
                f"{source}: gates: no gate is enforced, so every candidate would be promoted "
                f"unchecked. Enforce at least one gate (`mode: enforce`)."
            )

    @classmethod
    def from_environment(cls, env: str | Path, config_dir: str | Path = "configs") -> GateSet:
        """Load the environment's configuration and its plugins."""
        return cls(load_config(env, config_dir))

    def _instantiate(self, spec: GateSpec) -> ConfiguredGate:
        info = self.catalog.get(spec.name)
        if info is None:
            raise ConfigError(self._unknown_gate_message(spec))
        try:
            gate = info.cls(**spec.params)
        except GateParameterError as exc:
            raise GateParameterError(f"{spec.source}: gates.{spec.name}.params: {exc}") from exc
        except Exception as exc:
            raise PluginLoadError(
                f"gate {spec.name!r} of plugin {info.plugin.name!r} failed to initialise: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        return ConfiguredGate(gate, spec.mode, info)

    def _unknown_gate_message(self, spec: GateSpec) -> str:
        available = ", ".join(self.catalog.gates) or "none"
        hint = ""
        if self.catalog.not_enabled:
            names = ", ".join(p.name for p in self.catalog.not_enabled)
            hint = (
                f" Installed but not enabled plugins: {names}; add the one offering "
                f"{spec.name!r} to `plugins:`."
            )
        return (
            f"{spec.source}: gates.{spec.name}: unknown gate. Available gates: {available}.{hint}"
        )

    @property
    def min_history_bars(self) -> int:
        """Fewest live bars a candidate needs for gates that need history (0 = no minimum)."""
        bars = [g.gate.required_history() for g in self.gates]
        return max([b for b in bars if b is not None], default=0)

    def describe(self) -> dict[str, Any]:
        """The resolved configuration with every gate parameter, defaults included."""
        data = self.config.to_dict()
        data["gates"] = {
            g.name: {"mode": g.mode.value, "params": dict(g.gate.params)} for g in self.gates
        }
        return data

    def score_function(self) -> Callable[[Decision], float] | None:
        """Ranking score of the registry's ``rank_by`` gate (higher is better), if set."""
        name = self.config.registry.rank_by
        if name is None:
            return None
        gate = next((g for g in self.gates if g.name == name), None)
        if gate is None:
            source = self.config.sources[0] if self.config.sources else self.config.environment
            raise ConfigError(
                f"{source}: registry.rank_by: {name!r} is not a configured gate; use one of "
                f"{', '.join(g.name for g in self.gates)}"
            )
        sign = 1.0 if gate.gate.higher_is_better else -1.0

        def score(decision: Decision) -> float:
            value = next((v.value for v in decision.verdicts if v.gate == name), None)
            return float("nan") if value is None else sign * value

        return score

    @property
    def config_hash(self) -> str:
        """Hash of the resolved rules (every parameter, defaults included)."""
        return rules_hash(self.describe())

    def evaluate(self, batch: CandidateBatch) -> list[Decision]:
        """Evaluate every gate on every candidate and return one decision per candidate."""
        return self.evaluate_arrays(batch).decisions()

    def evaluate_arrays(
        self, batch: CandidateBatch, on_progress: Callable[[str], None] | None = None
    ) -> VerdictTable:
        """Evaluate the batch and keep the verdicts as arrays (no per-candidate objects).

        Parameters
        ----------
        batch : CandidateBatch
            The candidates.
        on_progress : callable, optional
            Called with a step name after the statistics pass and after each gate.
        """
        windows = {w for g in self.gates for w in g.gate.transition_windows()}
        batch.prepare(sorted(windows))
        stats = batch.statistics()
        min_bars = self.min_history_bars
        problem = np.full(batch.n_candidates, _OK, dtype=np.int8)
        problem[stats.live_bars < min_bars] = _SHORT
        problem[stats.live_bars == 0] = _NOT_LIVE
        problem[stats.has_gap] = _GAP
        problem[stats.has_non_finite] = _NON_FINITE
        usable = problem == _OK
        context = EvaluationContext(
            periods_per_year=self.config.periods_per_year,
            risk_free_rate=self.config.risk_free_rate,
            rf_per_period=per_period_rate(self.config.risk_free_rate, self.config.periods_per_year),
            usable=usable,
        )
        if on_progress:
            on_progress("statistics")
        explain = _ProblemExplainer(batch, min_bars)
        columns = []
        for configured in self.gates:
            result = self._run_gate(configured, batch, context)
            columns.append(_apply_problems(configured, result, problem, explain))
            if on_progress:
                on_progress(configured.name)
        return VerdictTable(batch.strategy_ids, columns)

    def _run_gate(
        self, configured: ConfiguredGate, batch: CandidateBatch, context: EvaluationContext
    ) -> GateResult:
        n = batch.n_candidates
        try:
            result = configured.gate.evaluate(batch, context)
            outcomes = np.asarray(result.outcomes)
            values = np.asarray(result.values, dtype=np.float64)
            if outcomes.shape != (n,) or values.shape != (n,):
                raise ValueError(
                    f"returned outcomes of shape {outcomes.shape} and values of shape "
                    f"{values.shape} for {n} candidates"
                )
            if outcomes.size and (outcomes.min() < 0 or outcomes.max() >= len(Outcome)):
                raise ValueError("returned outcome codes outside 0..3")
            if not callable(result.reasons) and len(result.reasons) != n:
                raise ValueError(f"returned {len(result.reasons)} reasons for {n} candidates")
            return GateResult(outcomes.astype(np.int8), values, result.reasons, result.threshold)
        except Exception as exc:
            logger.error(
                "gate %s (plugin %s) raised %s: %s; its verdicts are ERROR for all %d candidates",
                configured.name,
                configured.info.plugin.name,
                type(exc).__name__,
                exc,
                n,
            )
            reason = format_reason(
                "GATE_EXCEPTION", type=type(exc).__name__, message=str(exc).replace("\n", " ")
            )
            return GateResult(
                np.full(n, Outcome.ERROR, dtype=np.int8),
                np.full(n, np.nan),
                [reason] * n,
                configured.gate.threshold,
            )


class _ProblemExplainer:
    """Formats the reason of a candidate-level problem (only for verdicts someone reads)."""

    def __init__(self, batch: CandidateBatch, min_bars: int) -> None:
        self.batch = batch
        self.min_bars = min_bars

    def _where(self, mask: np.ndarray) -> str:
        bar = int(np.flatnonzero(mask)[0])
        if self.batch.dates is not None:
            return str(self.batch.dates[bar].date())
        return str(bar)

    def __call__(self, code: int, j: int) -> str:
        stats = self.batch.statistics()
        column = self.batch.returns[:, j]
        if code == _NON_FINITE:
            return format_reason("NON_FINITE_RETURN", at=self._where(np.isinf(column)))
        if code == _GAP:
            first, last = stats.first_live[j], stats.last_live[j]
            inside = np.zeros(column.shape, dtype=bool)
            inside[first : last + 1] = np.isnan(column[first : last + 1])
            return format_reason(
                "GAP_IN_RETURNS", at=self._where(inside), missing=int(inside.sum())
            )
        if code == _NOT_LIVE:
            return "NO_LIVE_BARS"
        return format_reason(
            "INSUFFICIENT_HISTORY", live_bars=int(stats.live_bars[j]), min_bars=self.min_bars
        )


def _apply_problems(
    configured: ConfiguredGate,
    result: GateResult,
    problem: np.ndarray,
    explain: _ProblemExplainer,
) -> GateColumn:
    outcomes = result.outcomes.copy()
    values = result.values
    override = problem.copy()
    if not configured.gate.needs_history:
        override[override == _SHORT] = _OK
    outcomes[(override == _NON_FINITE) | (override == _GAP)] = Outcome.ERROR
    outcomes[(override == _NOT_LIVE) | (override == _SHORT)] = Outcome.INSUFFICIENT_DATA
    if (override != _OK).any():
        values = np.where(override != _OK, np.nan, values)
        if configured.gate.required_history() is not None:
            # min_history itself reports the live-bar count it compared.
            values = np.where(override == _SHORT, result.values, values)

    def reason(i: int) -> str:
        if override[i] != _OK:
            return explain(int(override[i]), i)
        return result.reason(i)

    return GateColumn(configured.name, configured.mode, result.threshold, outcomes, values, reason)
