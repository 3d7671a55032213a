"""``AutopilotEngine.run_cycle(as_of)``: one cycle of the autopilot, end to end.

A cycle, under the state folder's one lock, reads prices up to ``as_of`` only and then:

1. labels the regime of every bar of its window (the environment's ``regimes:`` model);
2. backtests every candidate over the last ``engine.history_bars`` bars (so a cycle costs
   the same however long the walk has been) and runs the gate set on their returns;
3. updates the registry (grace cycles) — **committed**;
4. takes the active strategies' last-bar signals, filtered by the current meta-labeling
   model at its own threshold (T6), sizes them by the allocator's profile (T8) and
   optimises the book from its weights marked at ``last_price`` (T3) — the **plan**,
   written before any trade so that a retry trades exactly the same;
5. paper-trades the plan with signed costs and feeds the calibrator — **committed**;
6. retrains the meta-labeler on its schedule: saved to a versioned path and adopted only
   once it validated (out-of-sample AUC above 0.5); its file and sha256 are kept in the
   engine's state, and every load checks the file against that sha256;
7. appends the cycle's record to ``engine_cycles.jsonl`` — the engine's **commit point** —
   and then makes the adopted model current (``meta_labeler_current.joblib``, a copy for
   people and tools; :meth:`AutopilotEngine.sync_model_pointer` mends it after a kill).

Each part is keyed by the cycle's as-of date and a retry of a committed part changes
nothing (:mod:`autopilot.state.cycles`), so a cycle killed anywhere is completed by running
its date again and ends exactly where an uninterrupted cycle would.
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from autopilot._atomic_write import atomic_write_bytes
from autopilot.config import EnvironmentConfig, rules_hash
from autopilot.costs import CostModel
from autopilot.engine_status import (
    ENGINE_LOG,
    ENGINE_PLANS,
    ENGINE_STATE,
    LATEST_CANDIDATES,
    MODELS_FOLDER,
)
from autopilot.errors import InputError, StateError
from autopilot.executor import Executor
from autopilot.market.regime_models import regimes_from_config
from autopilot.market.universe import Universe
from autopilot.meta_labeler import (
    CURRENT_MODEL_NAME,
    MetaLabelingModel,
    load_model,
    read_manifest,
    update_current_pointer,
)
from autopilot.paper_trader import PaperTrader, Portfolio, TraderSettings
from autopilot.portfolio_construction import BookLimits, optimise_book
from autopilot.promotion_gate import GateSet
from autopilot.registry import ChangeKind, StrategyRegistry
from autopilot.sdk.family import checked_positions
from autopilot.state.cycles import Ledger, StateFolder, inputs_digest
from autopilot.state.journal import Journal
from autopilot.state.state_file import StateFile
from autopilot.stats.batch import CandidateBatch
from autopilot.stats.metrics import MISSING_REGIME
from autopilot.strategies.backtest import (
    IMPACT_WINDOW,
    backtest,
    cost_rate_from_model,
    impact_coefficients,
)
from autopilot.strategies.grid import build_candidates, environment_catalog
from autopilot.strategies.meta_training import from_settings, train_meta_labeler
from autopilot.strategies.signals import cycle_signals
from autopilot.strategy_allocator import StrategyAllocator

__all__ = ["MODELS_FOLDER", "AutopilotEngine", "CycleOutcome"]

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
#: A trained model becomes current only when its out-of-sample AUC is above a coin's.
MIN_VALIDATION_AUC = 0.5


@dataclass(frozen=True)
class CycleOutcome:
    """One cycle's record, and whether it was committed before (a retry changed nothing)."""

    record: dict[str, Any]
    repeated: bool = False


def _engine_state() -> dict[str, Any]:
    return {"model_sha256": None, "model_file": None, "model_trained_cycle": None}


def _validate(data: dict[str, Any]) -> None:
    if not isinstance(data.get("model_sha256"), str | type(None)):
        raise ValueError(f"model_sha256 is {data.get('model_sha256')!r}")


def _replay(data: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    """The engine state after a committed cycle record."""
    model = record["model"]
    return {
        "model_sha256": model["sha256"],
        "model_file": model.get("file"),
        "model_trained_cycle": (
            record["cycle"] if model.get("attempted") else data.get("model_trained_cycle")
        ),
    }


class AutopilotEngine:
    """Runs cycles of one environment on one market in one state folder.

    Parameters
    ----------
    state_dir : path-like
        An initialised state folder (``autopilot init``); registry, book, calibrator,
        models and the engine's state and logs live there.
    config : EnvironmentConfig
        The environment: gates, registry, strategies, regimes, meta-labeling, allocator
        and engine settings.
    universe_at : callable
        ``universe_at(as_of)``: the traded prices and the market cut at ``as_of``
        (:func:`~autopilot.market.universe.embedded_universe` or a user's panel). What it
        returns is a cycle's input: a retry of a committed date with other data is refused.
    executor : Executor, optional
        Runs the backtest's chunks and the meta-labeler's validation folds (this process by
        default); the state it leads to is the same whatever runs them.
    lock_timeout : float
        Seconds to wait for another process's cycle.
    """

    def __init__(
        self,
        state_dir: str | Path,
        config: EnvironmentConfig,
        universe_at: Callable[[date], Universe],
        *,
        executor: Executor | None = None,
        lock_timeout: float = 30.0,
    ) -> None:
        self.state_dir = Path(state_dir)
        self.config = config
        self.universe_at = universe_at
        self.executor = executor or Executor()
        self.folder = StateFolder(self.state_dir, lock_timeout=lock_timeout)
        self.folder.require()
        self.registry = StrategyRegistry(self.state_dir, config.registry, lock_timeout=lock_timeout)
        self.paper = PaperTrader(self.state_dir, TraderSettings(), lock_timeout=lock_timeout)
        self.gate_set = GateSet(config)
        self.candidates = build_candidates(config, environment_catalog(config))
        self.by_id = {c.candidate_id: c for c in self.candidates}
        self.allocator = StrategyAllocator(config.allocator)
        self.models = self.state_dir / MODELS_FOLDER
        self.state = StateFile(
            self.state_dir / ENGINE_STATE,
            kind="engine",
            schema_version=SCHEMA_VERSION,
            default=_engine_state,
            validate=_validate,
            lock=self.folder.lock,
            lock_timeout=lock_timeout,
        )
        self.log = Journal(self.state_dir / ENGINE_LOG)
        self.plans = Journal(self.state_dir / ENGINE_PLANS)
        self.ledger = Ledger(self.state, self.log, _replay, f"engine {self.state_dir}")
        #: Wall-clock seconds of the last cycle's stages, for benchmarks (never state).
        self.stage_seconds: dict[str, float] = {}
        self._latest = b""  # the cycle's candidate batch, written with its commit
        self._lap_start = time.perf_counter()

    # ------------------------------------------------------------------ reading

    def history(self) -> list[dict[str, Any]]:
        """Every committed cycle record, oldest first (reads only)."""
        return self.log.committed_after(0) if self.log.path.exists() else []

    def last_as_of(self) -> date | None:
        """The as-of date of the last committed cycle, or None."""
        _, last = self.ledger.load(writer=False)
        return date.fromisoformat(last.as_of) if last.as_of else None

    def inputs_of(self, universe: Universe, horizon_bars: int) -> str:
        """The digest of a cycle's inputs: the rules, the data it reads, its horizon."""
        # Where the cycle runs (the executor) changes no result: it is not an input.
        rules = {k: v for k, v in self.config.to_dict().items() if k != "executor"}
        return inputs_digest(
            {
                "rules": rules_hash(rules),
                "data": _fingerprint(universe),
                "horizon_bars": horizon_bars,
            }
        )

    def pending(self) -> date | None:
        """The date of a cycle a part committed and the engine's record did not, or None.

        A cycle killed between the registry's or the paper book's commit and the engine's
        record must be completed (its date run again) before any later date: the parts
        would otherwise have moved twice for one engine cycle.
        """
        engine = self.last_as_of()
        ahead = [
            last.as_of
            for last in (self.registry.snapshot()[1], self.paper.last_cycle())
            if last.as_of is not None and (engine is None or last.as_of > engine.isoformat())
        ]
        return date.fromisoformat(max(ahead)) if ahead else None

    # ------------------------------------------------------------------ the cycle

    def run_cycle(
        self,
        as_of: date,
        horizon_bars: int = 5,
        *,
        on_chunk: Callable[[int], None] | None = None,
    ) -> CycleOutcome:
        """Run (or complete, or repeat) the cycle as of ``as_of``.

        Parameters
        ----------
        as_of : datetime.date
            A date of the data: nothing after it is read.
        horizon_bars : int
            Bars until the next cycle; the optimiser spreads a trade's cost over at least
            these (``engine.holding_bars`` otherwise).
        on_chunk : callable, optional
            Called with the number of candidates backtested so far, chunk by chunk,
            whatever the executor (a progress bar).

        Returns
        -------
        CycleOutcome

        Raises
        ------
        InputError
            ``as_of`` is not a bar of the data.
        StateError
            An earlier date than the last committed cycle, or the same date with other
            inputs; another date while a cycle is partly committed; a model whose hash is
            not the recorded one.
        """
        self.stage_seconds = {}
        self._lap_start = time.perf_counter()
        universe = self.universe_at(as_of)
        inputs = self.inputs_of(universe, horizon_bars)
        with self.folder.locked():
            data, last, repeated = self.ledger.open_cycle(
                as_of, inputs, environment=self.config.environment
            )
            if repeated is not None:
                return CycleOutcome(repeated, repeated=True)
            pending = self.pending()
            if pending is not None and pending != as_of:
                raise StateError(
                    f"{self.state_dir}: the cycle as of {pending} is partly committed (its "
                    f"registry or paper cycle is, the engine's record is not); run that date "
                    f"again to complete it before {as_of} (`autopilot run` does it first)"
                )
            record, state = self._cycle(
                universe, as_of, horizon_bars, last.cycle + 1, data, inputs, on_chunk
            )
            record.update({"inputs": inputs, "environment": self.config.environment})
            # The last cycle's candidate returns, for the report: derived from this cycle's
            # inputs alone, written before the commit so a committed cycle always has them.
            atomic_write_bytes(self.state_dir / LATEST_CANDIDATES, self._latest, keep_backup=False)
            self.ledger.commit(record, state)
            self._sync_pointer(state)
            self._lap("commit")
        logger.info(
            "cycle %d as of %s: equity %.2f",
            record["cycle"],
            as_of,
            record["equity"],
            extra={"event": "engine_cycle", "cycle": record["cycle"], "as_of": str(as_of)},
        )
        return CycleOutcome(record)

    def _cycle(
        self,
        universe: Universe,
        as_of: date,
        horizon_bars: int,
        cycle: int,
        data: dict[str, Any],
        inputs: str,
        on_chunk: Callable[[int], None] | None = None,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        panel = universe.panel
        if panel.dates[-1] != pd.Timestamp(as_of):
            raise InputError(
                f"{panel.source}: {as_of} is not a date of the data (its last date up to then "
                f"is {panel.dates[-1].date()}); cycles run on the data's dates"
            )
        settings = self.config.engine
        start = max(panel.n_bars - settings.history_bars, 0)
        close = np.array(panel.close[start:])
        dates = panel.dates[start:]
        regimes = regimes_from_config(universe.market, self.config.regimes)
        self._lap("data and regimes")
        labels = regimes.labels.to_numpy()[start:]
        confidence = regimes.confidence.to_numpy()[start:]
        market = universe.market.to_numpy()[start:]

        # The model first: a file that is not the recorded one stops the cycle before any commit.
        model, model_sha = self._current_model(data)

        # Candidates and gates.
        impact = None
        if panel.volume is not None:  # on the whole history (causal): the window's first
            # bars have their trailing volume and volatility too
            full = impact_coefficients(
                np.array(panel.close), np.array(panel.volume), self.config.strategy_capital
            )
            impact = full[start:]
        tested = backtest(
            close, self.candidates, impact=impact, executor=self.executor, on_chunk=on_chunk
        )
        self._lap("backtest")
        self._latest = _latest_batch(dates, tested.candidate_ids, tested.returns, labels)
        batch = CandidateBatch(tested.returns, tested.candidate_ids, dates, regimes=labels)
        decisions = self.gate_set.evaluate(batch)
        self._lap("gates")
        report = self.registry.update(
            decisions,
            as_of=as_of,
            score=self.gate_set.score_function(),
            context={"config_hash": self.gate_set.config_hash, "engine_cycle": cycle},
            environment=self.config.environment,
        )
        self._lap("registry")
        active = sorted(report.active)
        orphans = [sid for sid in active if sid not in self.by_id]
        if orphans:
            logger.warning(
                "active strategies not in this environment's grid give no signal: %s",
                ", ".join(orphans),
                extra={"event": "orphan_strategies", "strategy_ids": orphans},
            )
        strategies = {sid: self.by_id[sid] for sid in active if sid in self.by_id}

        # Signals, allocator, optimiser: the plan, fixed before any trade.
        plan = self._committed_plan(as_of, cycle, inputs)
        if plan is None:
            positions = {sid: checked_positions(s, close) for sid, s in strategies.items()}
            signals = cycle_signals(
                positions,
                {sid: s.name for sid, s in strategies.items()},
                close,
                panel.securities,
                market,
                labels,
                confidence,
                model,
                model_sha,
            )
            label = int(labels[-1])
            allocation = self.allocator.decide(
                regime=label,
                regime_confidence=float(confidence[-1]) if label != MISSING_REGIME else math.nan,
                as_of=as_of,
            )
            plan = self._plan(as_of, universe, close, signals, allocation, horizon_bars)
            plan = {"cycle": cycle, "inputs": inputs, **plan}
            self.plans.append(plan)

        self._lap("signals, allocator and optimiser")
        # Paper trading, the calibrator with it.
        prices, volumes, volatilities = _order_inputs(universe)
        summary = self.paper.run_cycle(
            as_of, prices, plan["targets"], volumes=volumes, volatilities=volatilities
        )
        calibrator = self.paper.calibrator()

        # Retraining on its schedule.
        self._lap("paper trading")
        trained = self._retrain(as_of, cycle, universe, strategies, data, inputs)
        self._lap("retraining")
        model_state = trained or {
            "sha256": model_sha,
            "file": data.get("model_file"),
            "attempted": False,
            "trained": False,
        }

        record = {
            "cycle": cycle,
            "as_of": as_of.isoformat(),
            "regime": int(labels[-1]),
            "regime_confidence": _finite_or_none(confidence[-1]),
            "candidates": len(self.candidates),
            "promoted": report.of_kind(ChangeKind.PROMOTED),
            "in_grace": sorted(sid for sid, r in report.active.items() if r.consecutive_failures),
            "removed": report.of_kind(ChangeKind.REMOVED),
            "active": active,
            "meta_label": plan["signals"],
            "allocator": plan["allocator"],
            "optimiser": plan["optimiser"],
            "trades": len(summary.fills),
            "traded_notional": math.fsum(f["notional"] for f in summary.fills),
            "cost": math.fsum(f["notional"] * f["actual_cost_bps"] / 1e4 for f in summary.fills),
            "cost_surprise_bps": _cost_surprise_bps(summary.fills),
            "cost_multiplier": calibrator.multiplier,
            "equity": summary.equity,
            "market_close": float(market[-1]),
            "cash": summary.cash,
            "weights": summary.weights,
            "model": model_state,
        }
        return record, _replay(data, record)

    # ------------------------------------------------------------------ parts

    def _lap(self, stage: str) -> None:
        """Add the seconds since the last lap to ``stage`` (``stage_seconds``, not state)."""
        now = time.perf_counter()
        self.stage_seconds[stage] = self.stage_seconds.get(stage, 0.0) + now - self._lap_start
        self._lap_start = now

    def _plan(
        self,
        as_of: date,
        universe: Universe,
        close: np.ndarray,
        signals: Any,
        allocation: Any,
        horizon_bars: int,
    ) -> dict[str, Any]:
        # The profile's gross exposure caps the book and its risk aversion, relative to the
        # neutral one, scales it: applied once, not twice over.
        profile = allocation.effective
        wanted = signals.wanted
        book, _, calibrator = self.paper.snapshot()
        today = _last_prices(universe)
        marked = Portfolio.from_state(book.to_state())
        marked.mark(today, as_of, warn=False)
        left_out = tuple(sid for sid, p in marked.positions.items() if p.last_price is None)
        recent = close[-(self.config.engine.covariance_bars + 1) :]
        returns = pd.DataFrame(recent[1:] / recent[:-1] - 1.0, columns=universe.panel.securities)
        cost = replace(CostModel(), multiplier=calibrator.multiplier)
        decision = optimise_book(
            wanted,
            returns,
            marked.current_weights(),
            BookLimits(**profile.to_dict()),
            cost_per_turnover=cost_rate_from_model(cost),
            horizon_bars=max(horizon_bars, self.config.engine.holding_bars),
            reference_risk_aversion=self.allocator.baseline.risk_aversion,
            left_out=left_out,
        )
        return {
            "as_of": as_of.isoformat(),
            "targets": decision.weights,
            "signals": signals.to_record(),
            "allocator": allocation.to_dict(),
            "optimiser": decision.to_record(),
        }

    def _committed_plan(self, as_of: date, cycle: int, inputs: str) -> dict[str, Any] | None:
        """The plan an interrupted attempt at this cycle wrote from the same inputs, if any.

        A plan from other inputs (the configuration or the data changed since) is made
        again, unless the paper book already traded it: then the cycle cannot be completed
        with these inputs, and that is said.
        """
        if not self.plans.path.exists():
            return None
        # Only the tail is read: the cycle's cost does not grow with the history.
        plans = self.plans.committed_after(cycle - 1) if cycle > 1 else self.plans.committed()
        plan = plans[-1] if plans and plans[-1].get("as_of") == as_of.isoformat() else None
        if plan is None or plan.get("inputs") == inputs:
            return plan
        if self.paper.last_cycle().as_of == as_of.isoformat():
            raise StateError(
                f"{self.state_dir}: the paper book traded the cycle as of {as_of} from a plan "
                f"made with other inputs (the configuration or the data changed since); run it "
                f"with the inputs it started with, or walk on in a new state folder"
            )
        return None

    def _current_model(
        self, data: Mapping[str, Any]
    ) -> tuple[MetaLabelingModel | None, str | None]:
        """The model the engine's state names, loaded pinned to its recorded sha256."""
        sha = data.get("model_sha256")
        if sha is None:
            return None, None
        if not isinstance(data.get("model_file"), str):
            raise StateError(f"{self.state.path}: records model {sha} but no model file")
        return load_model(self.models / data["model_file"], expected_sha256=sha), sha

    def sync_model_pointer(self) -> None:
        """Make ``meta_labeler_current.joblib`` the model of the last committed cycle.

        The engine's record is the commit point of a new model; the pointer, a copy for
        people and tools, is written after it, so a run killed in between is mended here,
        at the start of the next run.
        """
        with self.folder.locked():
            data, _ = self.ledger.load(writer=True)
            self._sync_pointer(data, restoring=True)
            # Temporary files of saves a kill interrupted (the lock is held: no writer is on).
            for left in self.models.glob(".*.tmp"):
                left.unlink()

    def _sync_pointer(self, data: Mapping[str, Any], *, restoring: bool = False) -> None:
        sha = data.get("model_sha256")
        if sha is None:
            return
        current = self.models / CURRENT_MODEL_NAME
        try:
            found: str | None = hashlib.sha256(current.read_bytes()).hexdigest()
        except FileNotFoundError:
            found = None
        if found == sha:
            return
        if found is not None and restoring:
            logger.warning(
                "%s is not the engine's model (sha256 %s, the engine's %s); restoring it",
                current,
                found,
                sha,
                extra={"event": "model_pointer_restored"},
            )
        saved = self.models / data["model_file"]
        update_current_pointer(saved, expected_sha256=sha, folder=self.models)

    def _retrain(
        self,
        as_of: date,
        cycle: int,
        universe: Universe,
        strategies: Mapping[str, Any],
        data: Mapping[str, Any],
        inputs: str,
    ) -> dict[str, Any] | None:
        every = self.config.engine.retrain_every
        last = data.get("model_trained_cycle")
        due = every > 0 and (last is None or cycle - last >= every)
        if not due or not strategies:
            return None
        # Named by the cycle's inputs too: an earlier attempt's model is reused only when it
        # was trained from the same configuration and data.
        path = self.models / f"meta_labeler_{as_of.isoformat()}_{inputs[:12]}.joblib"
        try:
            manifest = read_manifest(path)  # saved by an interrupted attempt: not refitted
        except StateError:
            model, barriers = from_settings(self.config.meta_labeling)
            try:
                fitted = train_meta_labeler(
                    list(strategies.values()),
                    universe,
                    model=model,
                    barriers=barriers,
                    regimes=self.config.regimes,
                    event_bars=self.config.engine.training_bars,
                    executor=self.executor,
                )
            except InputError as exc:
                logger.warning("meta-labeler not retrained as of %s: %s", as_of, exc)
                return {
                    "sha256": data.get("model_sha256"),
                    "file": data.get("model_file"),
                    "attempted": True,
                    "trained": False,
                    "skipped": str(exc),
                }
            self.models.mkdir(parents=True, exist_ok=True)
            fitted.model.save(path)
            manifest = read_manifest(path)
        auc = manifest.get("validation", {}).get("auc")
        if auc is None or not auc > MIN_VALIDATION_AUC:
            logger.warning(
                "the model trained as of %s did not validate (AUC %s); the current one stays",
                as_of,
                auc,
            )
            return {
                "sha256": data.get("model_sha256"),
                "file": data.get("model_file"),
                "attempted": True,
                "trained": True,
                "candidate": manifest["sha256"],
                "validated": False,
                "auc": auc,
            }
        return {
            "sha256": manifest["sha256"],
            "file": path.name,
            "attempted": True,
            "trained": True,
            "validated": True,
            "auc": auc,
        }


def _latest_batch(
    dates: pd.DatetimeIndex, ids: list[str], returns: np.ndarray, regimes: np.ndarray
) -> bytes:
    """The cycle's candidate returns as the wide Parquet batch ``gates check`` reads."""
    frame = pd.DataFrame(returns, columns=ids)
    frame.insert(0, "date", dates.to_numpy())
    frame["regime"] = regimes.astype(np.int64)
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def _cost_surprise_bps(fills: tuple[dict[str, Any], ...]) -> float | None:
    """The cycle's actual minus predicted cost, notional-weighted, in bps (None: no fill)."""
    notional = math.fsum(f["notional"] for f in fills)
    if not notional > 0:
        return None
    surprise = (f["notional"] * (f["actual_cost_bps"] - f["predicted_cost_bps"]) for f in fills)
    return math.fsum(surprise) / notional


def _fingerprint(universe: Universe) -> str:
    """The sha256 of the data a cycle reads: dates, ids, closes, volumes and the market."""
    panel = universe.panel
    digest = hashlib.sha256()
    digest.update(panel.dates.asi8.tobytes())
    digest.update("\0".join(panel.securities).encode())
    digest.update(np.ascontiguousarray(panel.close).tobytes())
    if panel.volume is not None:
        digest.update(np.ascontiguousarray(panel.volume).tobytes())
    digest.update(universe.market.to_numpy(dtype=np.float64).tobytes())
    return digest.hexdigest()


def _finite_or_none(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def _last_prices(universe: Universe) -> dict[str, float]:
    close = universe.panel.close[-1]
    return {
        sid: float(price)
        for sid, price in zip(universe.panel.securities, close, strict=True)
        if np.isfinite(price)
    }


def _order_inputs(
    universe: Universe,
) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
    """Today's prices, average daily volumes and daily volatilities by security."""
    panel = universe.panel
    prices = _last_prices(universe)
    recent = panel.close[-(IMPACT_WINDOW + 1) :]
    returns = recent[1:] / recent[:-1] - 1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        sigma = np.std(returns, axis=0, ddof=1)
    volatilities = {
        sid: float(s) for sid, s in zip(panel.securities, sigma, strict=True) if np.isfinite(s)
    }
    volumes: dict[str, float] = {}
    if panel.volume is not None:
        adv = np.nanmean(panel.volume[-IMPACT_WINDOW:], axis=0)
        volumes = {
            sid: float(v)
            for sid, v in zip(panel.securities, adv, strict=True)
            if np.isfinite(v) and v > 0
        }
    return prices, volumes, volatilities
