"""The promotion registry: combined gate verdicts in, a stable set of active strategies out.

Seed T5, applied once per cycle by :func:`apply_cycle` (a pure function) and persisted by
:class:`StrategyRegistry` under the state lock:

* an active strategy that is promotable this cycle stays active; its counter resets to 0;
* an active strategy that is not promotable (FAIL, INSUFFICIENT_DATA or ERROR), or is
  absent from this cycle's candidates, increments its consecutive-failure counter;
* it is removed only when the counter reaches ``promotion_grace_cycles``; entering grace
  and removal are logged at WARNING with the reason codes;
* a new promotable candidate is promoted while there is room under ``max_active``; when
  there is not, new candidates are ranked by the configured score and incumbents keep
  their places (an incumbent in grace is still active: T5 lets it recover).

Every cycle appends one audit record (decisions, verdicts, changes) to an append-only
journal before the new state is written; a record whose ``generation`` was never saved
(a crash in between) is superseded by the next record of the same cycle.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from autopilot.config import DEFAULT_PROMOTION_GRACE_CYCLES, RegistrySettings
from autopilot.errors import InputError
from autopilot.journal import Journal
from autopilot.state import StateFile
from autopilot.verdicts import Decision

__all__ = [
    "ABSENT",
    "Change",
    "ChangeKind",
    "CycleReport",
    "StrategyRecord",
    "StrategyRegistry",
    "apply_cycle",
]

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
ABSENT = "ABSENT_FROM_CANDIDATES"
_CODE = re.compile(r"^([A-Z][A-Z0-9_]*)")


class ChangeKind(StrEnum):
    """What a cycle did to one strategy."""

    PROMOTED = "promoted"
    KEPT = "kept"
    ENTERED_GRACE = "entered_grace"
    IN_GRACE = "in_grace"
    REMOVED = "removed"
    NO_ROOM = "not_promoted_no_room"


@dataclass(frozen=True)
class StrategyRecord:
    """An active strategy as the registry keeps it."""

    strategy_id: str
    promoted_at: str
    promoted_cycle: int
    consecutive_failures: int = 0
    last_cycle: int = 0
    last_promotable: bool = True
    last_reasons: tuple[str, ...] = ()
    status: str = "active"

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        data = asdict(self)
        data["last_reasons"] = list(self.last_reasons)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StrategyRecord:
        """Rebuild from :meth:`to_dict` output (raises KeyError/TypeError/ValueError)."""
        record = cls(
            strategy_id=str(data["strategy_id"]),
            promoted_at=str(data["promoted_at"]),
            promoted_cycle=int(data["promoted_cycle"]),
            consecutive_failures=int(data["consecutive_failures"]),
            last_cycle=int(data["last_cycle"]),
            last_promotable=bool(data["last_promotable"]),
            last_reasons=tuple(str(r) for r in data["last_reasons"]),
            status=str(data["status"]),
        )
        if record.consecutive_failures < 0:
            raise ValueError(f"{record.strategy_id}: negative consecutive_failures")
        return record


@dataclass(frozen=True)
class Change:
    """One strategy's change in one cycle."""

    strategy_id: str
    kind: ChangeKind
    consecutive_failures: int
    reasons: tuple[str, ...] = ()
    score: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return {
            "strategy_id": self.strategy_id,
            "kind": self.kind.value,
            "consecutive_failures": self.consecutive_failures,
            "reasons": list(self.reasons),
            "score": self.score,
        }


@dataclass(frozen=True)
class CycleReport:
    """What one registry update did."""

    cycle: int
    changes: tuple[Change, ...]
    active: dict[str, StrategyRecord] = field(default_factory=dict)

    def of_kind(self, kind: ChangeKind) -> list[str]:
        """Strategy ids with a change of ``kind``."""
        return [c.strategy_id for c in self.changes if c.kind is kind]


def reason_codes(decision: Decision) -> tuple[str, ...]:
    """``gate:CODE`` for every verdict that blocks promotion."""
    codes = []
    for verdict in decision.verdicts:
        if verdict.blocks:
            match = _CODE.match(verdict.reason)
            codes.append(f"{verdict.gate}:{match.group(1) if match else verdict.outcome.name}")
    return tuple(codes)


def apply_cycle(
    records: Mapping[str, StrategyRecord],
    decisions: Sequence[Decision],
    *,
    cycle: int,
    now: str,
    grace_cycles: int = DEFAULT_PROMOTION_GRACE_CYCLES,
    max_active: int | None = None,
    score: Callable[[Decision], float] | None = None,
) -> tuple[dict[str, StrategyRecord], list[Change]]:
    """Apply one cycle's decisions to the active records (pure; see the module docstring).

    Returns
    -------
    (dict, list)
        The new active records and the changes, incumbents first (sorted by id), then new
        candidates in rank order.
    """
    if grace_cycles < 1:
        raise ValueError(f"grace_cycles must be >= 1, was {grace_cycles}")
    by_id: dict[str, Decision] = {}
    for decision in decisions:
        if decision.strategy_id in by_id:
            raise InputError(f"strategy {decision.strategy_id!r} appears twice in one cycle")
        by_id[decision.strategy_id] = decision
    active: dict[str, StrategyRecord] = {}
    changes: list[Change] = []
    for sid in sorted(records):
        record = records[sid]
        decision = by_id.get(sid)
        if decision is not None and decision.promotable:
            active[sid] = replace(
                record,
                consecutive_failures=0,
                last_cycle=cycle,
                last_promotable=True,
                last_reasons=(),
            )
            changes.append(Change(sid, ChangeKind.KEPT, 0))
            continue
        reasons = reason_codes(decision) if decision is not None else (ABSENT,)
        failures = record.consecutive_failures + 1
        if failures >= grace_cycles:
            logger.warning(
                "strategy %s removed after %d consecutive failing cycles: %s",
                sid,
                failures,
                ", ".join(reasons),
            )
            changes.append(Change(sid, ChangeKind.REMOVED, failures, reasons))
            continue
        kind = ChangeKind.ENTERED_GRACE if record.consecutive_failures == 0 else ChangeKind.IN_GRACE
        if kind is ChangeKind.ENTERED_GRACE:
            logger.warning(
                "strategy %s entered grace (1 of %d cycles): %s",
                sid,
                grace_cycles,
                ", ".join(reasons),
            )
        active[sid] = replace(
            record,
            consecutive_failures=failures,
            last_cycle=cycle,
            last_promotable=False,
            last_reasons=reasons,
        )
        changes.append(Change(sid, kind, failures, reasons))

    newcomers = [d for d in decisions if d.promotable and d.strategy_id not in records]
    scores = {d.strategy_id: _score_or_none(score, d) for d in newcomers}
    # Best score first (missing scores last), then id for a deterministic order.
    newcomers.sort(
        key=lambda d: (
            scores[d.strategy_id] is None,
            -(scores[d.strategy_id] or 0.0),
            d.strategy_id,
        )
    )
    room = None if max_active is None else max(0, max_active - len(active))
    for decision in newcomers:
        sid = decision.strategy_id
        if room is not None and room == 0:
            changes.append(Change(sid, ChangeKind.NO_ROOM, 0, (), scores[sid]))
            continue
        active[sid] = StrategyRecord(sid, promoted_at=now, promoted_cycle=cycle, last_cycle=cycle)
        changes.append(Change(sid, ChangeKind.PROMOTED, 0, (), scores[sid]))
        if room is not None:
            room -= 1
    return dict(sorted(active.items())), changes


def _score_or_none(score: Callable[[Decision], float] | None, decision: Decision) -> float | None:
    if score is None:
        return None
    value = score(decision)
    return None if value is None or value != value else float(value)


def _validate(data: dict[str, Any]) -> None:
    strategies = data["strategies"]
    if not isinstance(strategies, dict):
        raise TypeError("strategies is not an object")
    for sid, record in strategies.items():
        if StrategyRecord.from_dict(record).strategy_id != sid:
            raise ValueError(f"record under {sid!r} names another strategy")


class StrategyRegistry:
    """The persisted set of active strategies of one state folder.

    Parameters
    ----------
    state_dir : path-like
        Folder of ``registry.json`` (with ``.bak`` and ``.lock``) and
        ``registry_audit.jsonl``.
    settings : RegistrySettings
        Grace cycles and ``max_active`` from the environment's YAML.
    lock_timeout : float
        Seconds to wait for another cycle to finish.
    """

    def __init__(
        self,
        state_dir: str | os.PathLike[str],
        settings: RegistrySettings | None = None,
        *,
        lock_timeout: float = 30.0,
    ) -> None:
        self.state_dir = Path(state_dir)
        self.settings = settings or RegistrySettings()
        self.state = StateFile(
            self.state_dir / "registry.json",
            kind="registry",
            schema_version=SCHEMA_VERSION,
            default=lambda: {"strategies": {}},
            validate=_validate,
            lock_timeout=lock_timeout,
        )
        self.audit = Journal(self.state_dir / "registry_audit.jsonl")

    def active(self) -> dict[str, StrategyRecord]:
        """The active strategies, read under the lock."""
        with self.state.locked():
            return self._records(self.state.load())

    @staticmethod
    def _records(data: dict[str, Any]) -> dict[str, StrategyRecord]:
        return {sid: StrategyRecord.from_dict(r) for sid, r in data["strategies"].items()}

    def update(
        self,
        decisions: Sequence[Decision],
        *,
        score: Callable[[Decision], float] | None = None,
        context: Mapping[str, Any] | None = None,
        now: datetime | None = None,
    ) -> CycleReport:
        """Apply one cycle's decisions: load, decide, audit, save, all under the lock.

        Parameters
        ----------
        decisions : sequence of Decision
            This cycle's combined gate verdicts.
        score : callable, optional
            Ranks new candidates when ``max_active`` leaves too little room (higher first).
        context : mapping, optional
            Extra audit fields: environment, config hash, plugin names and versions.
        now : datetime, optional
            The cycle's time (UTC now by default).
        """
        timestamp = (now or datetime.now(UTC)).isoformat()
        with self.state.locked():
            records = self._records(self.state.load())
            cycle = self.state.generation + 1
            active, changes = apply_cycle(
                records,
                decisions,
                cycle=cycle,
                now=timestamp,
                grace_cycles=self.settings.promotion_grace_cycles,
                max_active=self.settings.max_active,
                score=score,
            )
            self.audit.append(
                {
                    "cycle": cycle,
                    "time": timestamp,
                    **dict(context or {}),
                    "settings": {
                        "promotion_grace_cycles": self.settings.promotion_grace_cycles,
                        "max_active": self.settings.max_active,
                    },
                    "decisions": [d.to_dict() for d in decisions],
                    "changes": [c.to_dict() for c in changes],
                }
            )
            self.state.save({"strategies": {sid: r.to_dict() for sid, r in active.items()}})
        return CycleReport(cycle, tuple(changes), active)

    def history(self, strategy_id: str) -> list[dict[str, Any]]:
        """One strategy's story: per cycle, its decision (if any) and its change (if any)."""
        # A later record of the same cycle supersedes one whose save never happened.
        latest: dict[int, dict[str, Any]] = {}
        for record in self.audit:
            latest[int(record["cycle"])] = record
        story = []
        for cycle in sorted(latest):
            record = latest[cycle]
            decision = _find(record.get("decisions", []), strategy_id)
            change = _find(record.get("changes", []), strategy_id)
            if decision is None and change is None:
                continue
            story.append(
                {
                    "cycle": cycle,
                    "time": record.get("time"),
                    "environment": record.get("environment"),
                    "decision": decision,
                    "change": change,
                }
            )
        return story


def _find(items: list[dict[str, Any]], strategy_id: str) -> dict[str, Any] | None:
    return next((item for item in items if item.get("strategy_id") == strategy_id), None)
