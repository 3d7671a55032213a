"""The gate set of one environment: configured gates evaluated over a candidate batch.

Evaluation order for every candidate:

1. data quality: a non-finite return or an interior gap is an ERROR for every gate;
   a candidate that is never live is INSUFFICIENT_DATA;
2. history: fewer live bars than the ``min_history`` gate requires is INSUFFICIENT_DATA
   for every gate that needs history;
3. the gate's own verdict, checked against the contract (fail closed):

   - a gate that raises is an ERROR for every candidate of the batch
     (``GATE_EXCEPTION: type=..., message=...``);
   - a result that is not exactly the contract (not a GateResult; outcomes that are not
     integer codes 0..3 of shape (N,), such as a boolean mask, floats or NaN; values that
     are not real numbers of shape (N,); reasons that are neither a callable nor a sequence
     of N; a threshold that is not a number) is an ERROR for every candidate of the batch
     (``CONTRACT_VIOLATION: returned=..., expected=...``);
   - a PASS or FAIL whose value is not finite is an ERROR for that candidate
     (``CONTRACT_VIOLATION``), unless the gate declares ``has_value = False``;
   - a reason that raises, or is not a str, is an ERROR for that candidate
     (``REASON_EXCEPTION: type=..., message=...``).

A candidate is promotable only if every enforced gate says PASS.

Reasons are formatted lazily, and still fail closed
---------------------------------------------------
A reason costs about a microsecond to format, a verdict's share of the arrays nanoseconds:
formatting all 50,000 reasons of ``make bench``'s 10,000 x 5 batch would add about half to
the time of :meth:`GateSet.evaluate_arrays`. So a gate may return its reasons as a
callable, called only for the verdicts someone reads. A reason is only known not to
raise once it has been called, so :class:`VerdictTable` splits the verdicts in two:

- *the verdicts that can make a candidate promotable* (every enforced gate's verdict on a
  candidate whose enforced verdicts are all PASS) have their reasons formatted when the
  table is built, before ``promotable`` exists; a reason that raises turns that PASS into
  ERROR and the candidate is not promotable. The texts are kept, so :meth:`decisions`
  does not format them twice. ``promotable`` therefore never changes after construction
  and never rests on a reason that raises. The cost is one reason per enforced gate (with
  a callable other than threshold_result's) and promotable candidate; in the benchmark,
  4,330 of ``min_history``'s reasons, a few milliseconds.
- *every other verdict* belongs to a candidate that is not promotable anyway, or to a
  shadow gate. Its reason is formatted when first read (:meth:`GateColumn.reason`, the
  only way to read one, used by :meth:`VerdictTable.decisions` and thus by the CLI, the
  HTML report and the registry); if it raises, the reason reads ``REASON_EXCEPTION`` and
  the outcome becomes ERROR from that moment, in the record and in the column's outcome
  array alike. Such a change can only go *to* ERROR and never touches ``promotable``.

A reason sequence is checked element by element when the table is built (cheap), and the
reasons :func:`~autopilot.sdk.gate.threshold_result` builds are formatted by autopilot from
lists it made and cannot fail: neither needs confirming. Only other callables do.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from autopilot.config import EnvironmentConfig, GateSpec, load_config, rules_hash
from autopilot.errors import ConfigError, GateParameterError, PluginLoadError
from autopilot.sdk.gate import (
    EvaluationContext,
    Gate,
    GateResult,
    _checked_result,
    _ContractViolation,
    _ThresholdReasons,
)
from autopilot.sdk.plugins import GateCatalog, GateInfo, load_gate_catalog
from autopilot.sdk.verdicts import (
    Decision,
    Mode,
    Outcome,
    Verdict,
    _finite_or_none,
    format_reason,
    is_promotable,
)
from autopilot.stats.batch import CandidateBatch
from autopilot.stats.metrics import per_period_rate

__all__ = ["ConfiguredGate", "GateColumn", "GateSet", "VerdictTable"]

logger = logging.getLogger(__name__)

# Candidate-level problems found before any gate runs, in order of precedence.
_OK, _NON_FINITE, _GAP, _NOT_LIVE, _SHORT = range(5)
# Outcome by code, for turning array entries into members quickly.
_BY_CODE: tuple[Outcome, ...] = tuple(Outcome)


@dataclass(frozen=True)
class ConfiguredGate:
    """A gate instance with its mode, the plugin that provided it, and its declarations.

    The declarations (``transition_windows()``, ``required_history()``, ``needs_history``,
    ``has_value``) are read once, checked against the contract, when the gate set is
    built; nothing reads plugin code again outside the fail-closed evaluation.
    """

    gate: Gate
    mode: Mode
    info: GateInfo
    windows: tuple[int, ...] = ()
    required_history: int | None = None
    needs_history: bool = True
    has_value: bool = True

    @property
    def name(self) -> str:
        """The gate's registered name."""
        return self.info.name


class GateColumn:
    """One gate's verdicts over the batch, as arrays, with reasons formatted on demand.

    Parameters
    ----------
    gate : str
        The gate's name.
    mode : Mode
        Enforce or shadow.
    threshold : float or None
        The threshold shown in verdicts.
    outcomes : ndarray of int8, shape (N,)
        :class:`~autopilot.sdk.verdicts.Outcome` codes. Owned by the column: an entry becomes
        ERROR when its reason fails (see the module docstring).
    values : ndarray of float64, shape (N,)
        The values shown in verdicts.
    reasons : callable
        ``reasons(i)`` formats the reason of candidate ``i``; it may raise.
    plugin : str
        The plugin that offered the gate, named in log records.
    reasons_checked : bool
        The reasons are known not to fail (a sequence checked whole, or the reasons of
        :func:`~autopilot.sdk.gate.threshold_result`), so :meth:`confirm` has nothing to do.
    """

    def __init__(
        self,
        gate: str,
        mode: Mode,
        threshold: float | None,
        outcomes: np.ndarray,
        values: np.ndarray,
        reasons: Callable[[int], str],
        plugin: str = "unknown",
        reasons_checked: bool = False,
    ) -> None:
        self.gate = gate
        self.mode = mode
        self.threshold = threshold
        self.outcomes = outcomes
        self.values = values
        self.plugin = plugin
        self._source = reasons
        self._checked = reasons_checked
        self._formatted: dict[int, str] = {}
        self._failures = 0

    def reason(self, i: int) -> str:
        """The reason of candidate ``i``; read it before the outcome.

        A reason that raises or is not a str reads ``REASON_EXCEPTION: type=...,
        message=...`` and turns outcome ``i`` into ERROR.
        """
        text = self._formatted.get(i)
        return text if text is not None else self._format(i)

    def reasons(self) -> list[str]:
        """Every candidate's reason, in batch order, read as :meth:`reason` reads one."""
        formatted, format_one = self._formatted, self._format
        return [
            text if (text := formatted.get(i)) is not None else format_one(i)
            for i in range(len(self.outcomes))
        ]

    def confirm(self, candidates: np.ndarray) -> None:
        """Format and keep the reasons of ``candidates`` now, so a failure shows in the outcomes."""
        if self._checked:
            return
        formatted = self._formatted
        for i in candidates.tolist():
            if i not in formatted:
                formatted[i] = self._format(i)

    def fail_reason(self, i: int, exc: BaseException) -> str:
        """Make verdict ``i`` an ERROR whose reason names ``exc``, and return that reason."""
        self.outcomes[i] = Outcome.ERROR
        text = format_reason(
            "REASON_EXCEPTION", type=type(exc).__name__, message=str(exc).replace("\n", " ")
        )
        self._formatted[i] = text
        self._failures += 1
        if self._failures == 1:
            # Once per gate: a broken reason usually breaks for thousands of candidates.
            logger.error(
                "gate %s (plugin %s): the reason of candidate %d raised %s: %s; that verdict "
                "and any other whose reason fails is ERROR",
                self.gate,
                self.plugin,
                i,
                type(exc).__name__,
                exc,
            )
        return text

    def _format(self, i: int) -> str:
        try:
            text = self._source(i)
            if not isinstance(text, str):
                raise TypeError(f"the reason is {type(text).__name__}, not str")
        except Exception as exc:
            return self.fail_reason(i, exc)
        return text


# One gate's verdicts as records show them: name, outcome names, values, threshold, mode,
# reasons (see VerdictTable._settled).
_SettledColumn = tuple[str, list[str], list[float | None], float | None, str, list[str]]


class VerdictTable:
    """Every gate's verdict on every candidate of a batch, kept as arrays.

    :meth:`decisions` turns it into :class:`~autopilot.sdk.verdicts.Decision` records. The
    reasons of the verdicts that make a candidate promotable are formatted here, the others
    when first read (see the module docstring), so ``promotable`` never rests on a reason
    that raises.
    """

    def __init__(self, strategy_ids: Sequence[str], columns: Sequence[GateColumn]) -> None:
        self.strategy_ids = tuple(strategy_ids)
        self.columns = tuple(columns)
        self.promotable = self._promotable()
        # A PASS counts only once its reason is known not to fail.
        for column in self.columns:
            if column.mode is Mode.ENFORCE:
                column.confirm(np.flatnonzero(self.promotable))
        self.promotable = self._promotable()

    def _promotable(self) -> np.ndarray:
        rule = is_promotable([c.mode for c in self.columns], [c.outcomes for c in self.columns])
        return np.broadcast_to(rule, (len(self.strategy_ids),)).copy()

    def verdicts(self, i: int) -> tuple[Verdict, ...]:
        """The verdicts on candidate ``i``."""
        verdicts = []
        for c in self.columns:
            reason = c.reason(i)  # first: a failing reason turns the outcome into ERROR
            verdicts.append(
                Verdict(
                    gate=c.gate,
                    outcome=_BY_CODE[c.outcomes[i]],
                    value=float(c.values[i]),
                    threshold=c.threshold,
                    mode=c.mode,
                    reason=reason,
                )
            )
        return tuple(verdicts)

    def decisions(self) -> list[Decision]:
        """One decision per candidate, in batch order."""
        return list(self.iter_decisions())

    def iter_decisions(self) -> Iterator[Decision]:
        """One decision per candidate, in batch order, made as they are asked for."""
        for i, sid in enumerate(self.strategy_ids):
            yield Decision(sid, self.verdicts(i))

    def settle(self) -> None:
        """Read every reason once, so that every outcome is final (see the module docstring)."""
        for column in self.columns:
            column.reasons()

    def records(self) -> Iterator[dict[str, Any]]:
        """Each decision as a JSON-ready dict, equal to ``Decision.to_dict()``, in batch order.

        Made column by column from the arrays, with no Verdict objects: two to four times
        faster than ``d.to_dict() for d in decisions()`` on 10,000 candidates. Every reason
        is read first, so the outcomes are settled before any record is made.
        """
        columns = self._settled()
        promotable = self.promotable.tolist()
        for i, sid in enumerate(self.strategy_ids):
            yield {
                "strategy_id": sid,
                "promotable": promotable[i],
                "gates": [
                    {
                        "gate": gate,
                        "outcome": outcomes[i],
                        "value": values[i],
                        "threshold": threshold,
                        "mode": mode,
                        "reason": reasons[i],
                    }
                    for gate, outcomes, values, threshold, mode, reasons in columns
                ],
            }

    def to_frame(self) -> pd.DataFrame:
        """Every verdict as a DataFrame, one row per candidate.

        Returns
        -------
        DataFrame
            Indexed by ``strategy_id``; a ``promotable`` column, then per gate the columns
            ``(gate, "outcome")`` (the outcome's name), ``(gate, "value")`` and
            ``(gate, "reason")``. Shadow gates' columns are there too; they never block.
        """
        columns: dict[tuple[str, str], list[Any]] = {}
        for gate, outcomes, values, _, _, reasons in self._settled():
            columns[(gate, "outcome")] = outcomes
            columns[(gate, "value")] = [float("nan") if v is None else v for v in values]
            columns[(gate, "reason")] = reasons
        columns = {("promotable", ""): self.promotable.tolist(), **columns}
        frame = pd.DataFrame(columns, index=pd.Index(self.strategy_ids, name="strategy_id"))
        frame.columns = pd.MultiIndex.from_tuples(list(columns), names=["gate", "field"])
        return frame

    def _settled(self) -> list[_SettledColumn]:
        """Per gate: name, outcome names, values, threshold, mode, reasons, as Verdict has them.

        Reads every reason first (which settles every outcome; see the module docstring).
        """
        settled = []
        for c in self.columns:
            reasons = c.reasons()
            values = c.values.astype(np.float64).tolist()
            for i in np.flatnonzero(~np.isfinite(c.values)).tolist():
                values[i] = None  # as in Verdict: non-finite numbers are not JSON
            outcomes = [_BY_CODE[code].name for code in c.outcomes.tolist()]
            threshold = _finite_or_none(c.threshold)
            settled.append((c.gate, outcomes, values, threshold, c.mode.value, reasons))
        return settled


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
    def from_environment(cls, env: str | Path, config_dir: str | Path | None = None) -> GateSet:
        """Load the environment's configuration (see :func:`~autopilot.config.load_config`)."""
        return cls(load_config(env, config_dir))

    def _instantiate(self, spec: GateSpec) -> ConfiguredGate:
        info = self.catalog.get(spec.name)
        if info is None:
            raise ConfigError(self._unknown_gate_message(spec))
        try:
            gate = info.cls(**spec.params)
        except GateParameterError as exc:
            where = self._parameter_source(spec, exc.key)
            raise GateParameterError(
                f"{where}: gates.{spec.name}.params: {exc}", key=exc.key
            ) from exc
        except Exception as exc:
            raise PluginLoadError(
                f"gate {spec.name!r} of plugin {info.plugin.name!r} failed to initialise: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        return _declared(gate, spec.mode, info)

    def _parameter_source(self, spec: GateSpec, key: str | None) -> str:
        """The file that holds the parameter at fault, not merely the last naming the gate."""
        origins = self.config.origins
        prefix = ("gates", spec.name, "params")
        if key is not None and (*prefix, key) in origins:
            return origins[(*prefix, key)]
        # The gate did not say which key (a check of its own): if one file set every
        # parameter, that file holds the bad one.
        files = {origins.get((*prefix, str(k))) for k in spec.params}
        if len(files) == 1:
            only = files.pop()
            if only is not None:
                return only
        return spec.source or self.config.origin(("gates", spec.name)) or ""

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
        bars = [g.required_history for g in self.gates]
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
        # EnvironmentConfig refused a rank_by that is not one of its enabled gates.
        gate = next(g for g in self.gates if g.name == name)
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
        windows = {w for g in self.gates for w in g.windows}
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
        except Exception as exc:
            reason = format_reason(
                "GATE_EXCEPTION", type=type(exc).__name__, message=str(exc).replace("\n", " ")
            )
            return self._all_errors(configured, n, reason)
        try:
            return _checked_result(result, n)
        except _ContractViolation as exc:
            return self._all_errors(configured, n, exc.args[0])
        except Exception as exc:  # an object so odd that checking it raised
            reason = format_reason(
                "CONTRACT_VIOLATION",
                returned=f"{type(result).__name__} ({type(exc).__name__} when checked)",
                expected="GateResult",
            )
            return self._all_errors(configured, n, reason)

    @staticmethod
    def _all_errors(configured: ConfiguredGate, n: int, reason: str) -> GateResult:
        logger.error(
            "gate %s (plugin %s): %s; its verdicts are ERROR for all %d candidates",
            configured.name,
            configured.info.plugin.name,
            reason,
            n,
        )
        return GateResult(
            np.full(n, Outcome.ERROR, dtype=np.int8),
            np.full(n, np.nan),
            [reason] * n,
            _safe_threshold(configured.gate),
        )


def _safe_threshold(gate: Gate) -> float | None:
    """The gate's threshold for ERROR verdicts, or None if even that is broken."""
    try:
        threshold = gate.threshold
        return None if threshold is None else float(threshold)
    except Exception:
        return None


def _declared(gate: Gate, mode: Mode, info: GateInfo) -> ConfiguredGate:
    """Read and check a gate's declarations once; a broken one stops the load, naming it."""
    try:
        windows = tuple(gate.transition_windows())
        history = gate.required_history()
        needs_history, has_value = gate.needs_history, gate.has_value
    except Exception as exc:
        raise PluginLoadError(
            f"gate {info.name!r} of plugin {info.plugin.name!r} raised while declaring what "
            f"it needs: {type(exc).__name__}: {exc}"
        ) from exc
    problems = []
    if not all(isinstance(w, int) and not isinstance(w, bool) and w > 0 for w in windows):
        problems.append(f"transition_windows() returned {windows!r}, expected positive ints")
    if history is not None and (isinstance(history, bool) or not isinstance(history, int)):
        problems.append(f"required_history() returned {history!r}, expected an int or None")
    for attribute, value in (("needs_history", needs_history), ("has_value", has_value)):
        if not isinstance(value, bool):
            problems.append(f"{attribute} is {value!r}, expected True or False")
    if problems:
        raise PluginLoadError(
            f"gate {info.name!r} of plugin {info.plugin.name!r} breaks the gate contract: "
            + "; ".join(problems)
        )
    return ConfiguredGate(gate, mode, info, windows, history, needs_history, has_value)


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
    if not configured.needs_history:
        override[override == _SHORT] = _OK
    outcomes[(override == _NON_FINITE) | (override == _GAP)] = Outcome.ERROR
    outcomes[(override == _NOT_LIVE) | (override == _SHORT)] = Outcome.INSUFFICIENT_DATA
    overridden = override != _OK
    if overridden.any():
        values = np.where(overridden, np.nan, values)
        if configured.required_history is not None:
            # min_history itself reports the live-bar count it compared.
            values = np.where(override == _SHORT, result.values, values)

    # A PASS or FAIL is a comparison of a value: without a finite one it is not a verdict.
    valueless = np.zeros(outcomes.shape, dtype=bool)
    if configured.has_value:
        valueless = (result.outcomes <= Outcome.FAIL) & ~np.isfinite(result.values) & ~overridden
    if valueless.any():
        outcomes[valueless] = Outcome.ERROR
        logger.error(
            "gate %s (plugin %s) gave %d PASS or FAIL verdicts without a finite value; "
            "they are ERROR",
            configured.name,
            configured.info.plugin.name,
            int(valueless.sum()),
        )

    gate_reason = result.reasons if callable(result.reasons) else result.reasons.__getitem__
    # Usually few: a set lookup keeps the common path (the gate's own reason) cheap.
    special_set = frozenset(np.flatnonzero(overridden | valueless).tolist())

    def reason(i: int) -> str:
        if i in special_set:
            if overridden[i]:
                return explain(int(override[i]), i)
            outcome = _BY_CODE[result.outcomes[i]].name
            return format_reason(
                "CONTRACT_VIOLATION",
                returned=f"{outcome} without a finite value ({result.values[i]})",
                expected="finite value",
            )
        return gate_reason(i)

    column = GateColumn(
        configured.name,
        configured.mode,
        result.threshold,
        outcomes,
        values,
        reason,
        configured.info.plugin.name,
        # autopilot's own threshold reasons cannot fail; a sequence is checked just below.
        reasons_checked=type(result.reasons) is _ThresholdReasons or not callable(result.reasons),
    )
    if not callable(result.reasons):
        # A sequence is checked now, whole: cheap, and its failures show in the outcomes.
        for i, text in enumerate(result.reasons):
            if not isinstance(text, str) and i not in special_set:
                column.fail_reason(i, TypeError(f"the reason is {type(text).__name__}, not str"))
    return column
