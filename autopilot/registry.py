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

A cycle is identified by its as-of date and committed by one audit record (changes,
settings, context, and a reference to the cycle's verdict file) appended to
``registry_audit.jsonl``; every candidate's verdicts go to that Parquet file, written before
the record (:mod:`autopilot.verdict_archive`), and ``registry.json`` is the snapshot written
after it. Loading replays the committed records' changes that the snapshot does not reflect
yet, so a kill between the steps, or a damaged snapshot, never loses a committed cycle;
re-running the last as-of date with the same decisions writes nothing (see
:mod:`autopilot.state.cycles`). Records written before verdict files existed hold the
decisions inline; :meth:`StrategyRegistry.history` reads both.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autopilot.config import DEFAULT_PROMOTION_GRACE_CYCLES, RegistrySettings
from autopilot.errors import InputError, StateError
from autopilot.sdk.verdicts import Decision
from autopilot.state.cycles import CycleId, Ledger, StateFolder, inputs_digest
from autopilot.state.journal import Journal
from autopilot.state.state_file import StateFile

if TYPE_CHECKING:
    from autopilot.verdict_archive import VerdictArchive

__all__ = [
    "ABSENT",
    "Change",
    "ChangeKind",
    "CycleReport",
    "StrategyRecord",
    "StrategyRegistry",
    "apply_changes",
    "apply_cycle",
    "decide_changes",
    "reason_codes",
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
        """JSON-serialisable form (built by hand: ``asdict`` deep-copies, 5x slower)."""
        return {
            "strategy_id": self.strategy_id,
            "promoted_at": self.promoted_at,
            "promoted_cycle": self.promoted_cycle,
            "consecutive_failures": self.consecutive_failures,
            "last_cycle": self.last_cycle,
            "last_promotable": self.last_promotable,
            "last_reasons": list(self.last_reasons),
            "status": self.status,
        }

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

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Change:
        """Rebuild from :meth:`to_dict` output."""
        return cls(
            str(data["strategy_id"]),
            ChangeKind(data["kind"]),
            int(data["consecutive_failures"]),
            tuple(str(r) for r in data["reasons"]),
            None if data.get("score") is None else float(data["score"]),
        )


@dataclass(frozen=True)
class CycleReport:
    """What one registry update did.

    Attributes
    ----------
    cycle : int
        The cycle's number.
    changes : tuple of Change
        What it did to each strategy.
    active : dict of str to StrategyRecord
        The active strategies after it.
    as_of : str or None
        Its as-of date (ISO).
    repeated : bool
        It was a retry of the last committed cycle: nothing was written.
    """

    cycle: int
    changes: tuple[Change, ...]
    active: dict[str, StrategyRecord] = field(default_factory=dict)
    as_of: str | None = None
    repeated: bool = False

    def of_kind(self, kind: ChangeKind) -> list[str]:
        """Strategy ids with a change of ``kind``."""
        return [c.strategy_id for c in self.changes if c.kind is kind]


def reason_codes(decision: Decision) -> tuple[str, ...]:
    """``gate:CODE`` for every verdict that blocks promotion.

    Parameters
    ----------
    decision : Decision
        One candidate's verdicts.

    Returns
    -------
    tuple of str
        E.g. ``("sharpe:BELOW_MIN", "max_drawdown:ABOVE_MAX")``; the outcome's name where a
        reason has no code.
    """
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

    Parameters
    ----------
    records : mapping of str to StrategyRecord
        The active strategies before the cycle.
    decisions : sequence of Decision
        This cycle's combined verdicts, one per candidate.
    cycle : int
        The cycle's number.
    now : str
        The cycle's time (ISO), the promotion time of newcomers.
    grace_cycles : int
        Failing or absent cycles an incumbent survives.
    max_active : int, optional
        Most active strategies; None is unlimited.
    score : callable, optional
        Ranks newcomers when room is short (higher first; NaN last).

    Returns
    -------
    (dict, list)
        The new active records and the changes, incumbents first (sorted by id), then new
        candidates in rank order.
    """
    changes = decide_changes(
        records, decisions, grace_cycles=grace_cycles, max_active=max_active, score=score
    )
    return apply_changes(records, changes, cycle=cycle, now=now), changes


def decide_changes(
    records: Mapping[str, StrategyRecord],
    decisions: Sequence[Decision],
    *,
    grace_cycles: int = DEFAULT_PROMOTION_GRACE_CYCLES,
    max_active: int | None = None,
    score: Callable[[Decision], float] | None = None,
) -> list[Change]:
    """What one cycle's decisions do to each strategy (the rules of the module docstring).

    Parameters are those of :func:`apply_cycle`; the result is its list of changes.
    """
    if grace_cycles < 1:
        raise ValueError(f"grace_cycles must be >= 1, was {grace_cycles}")
    by_id: dict[str, Decision] = {}
    for decision in decisions:
        if decision.strategy_id in by_id:
            raise InputError(f"strategy {decision.strategy_id!r} appears twice in one cycle")
        by_id[decision.strategy_id] = decision
    changes: list[Change] = []
    for sid in sorted(records):
        record = records[sid]
        found = by_id.get(sid)
        if found is not None and found.promotable:
            changes.append(Change(sid, ChangeKind.KEPT, 0))
            continue
        reasons = reason_codes(found) if found is not None else (ABSENT,)
        failures = record.consecutive_failures + 1
        if failures >= grace_cycles:
            logger.warning(
                "strategy %s removed after %d consecutive failing cycles: %s",
                sid,
                failures,
                ", ".join(reasons),
                extra=_event(ChangeKind.REMOVED, sid, failures, reasons),
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
                extra=_event(kind, sid, failures, reasons),
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
    staying = sum(1 for c in changes if c.kind is not ChangeKind.REMOVED)
    room = None if max_active is None else max(0, max_active - staying)
    for decision in newcomers:
        sid = decision.strategy_id
        if room is not None and room == 0:
            changes.append(Change(sid, ChangeKind.NO_ROOM, 0, (), scores[sid]))
            continue
        changes.append(Change(sid, ChangeKind.PROMOTED, 0, (), scores[sid]))
        if room is not None:
            room -= 1
    return changes


def _event(
    kind: ChangeKind, strategy_id: str, failures: int, reasons: tuple[str, ...]
) -> dict[str, Any]:
    """Structured fields of a registry log record (for handlers and tests, not for parsing)."""
    return {
        "event": kind.value,
        "strategy_id": strategy_id,
        "consecutive_failures": failures,
        "reasons": list(reasons),
    }


def apply_changes(
    records: Mapping[str, StrategyRecord], changes: Sequence[Change], *, cycle: int, now: str
) -> dict[str, StrategyRecord]:
    """The active records after ``changes``: the one path of a live cycle and of a replay.

    Parameters
    ----------
    records : mapping of str to StrategyRecord
        The active strategies before the cycle.
    changes : sequence of Change
        The cycle's changes (:func:`decide_changes`, or a committed audit record's).
    cycle : int
        The cycle's number.
    now : str
        The cycle's time (ISO), the promotion time of newcomers.

    Returns
    -------
    dict of str to StrategyRecord
        The active strategies after the cycle, sorted by id.
    """
    touched = {c.strategy_id for c in changes}
    active = {sid: r for sid, r in records.items() if sid not in touched}
    for change in changes:
        sid = change.strategy_id
        if change.kind is ChangeKind.PROMOTED:
            active[sid] = StrategyRecord(
                sid, promoted_at=now, promoted_cycle=cycle, last_cycle=cycle
            )
        elif change.kind is ChangeKind.KEPT:
            active[sid] = replace(
                records[sid],
                consecutive_failures=0,
                last_cycle=cycle,
                last_promotable=True,
                last_reasons=(),
            )
        elif change.kind in (ChangeKind.ENTERED_GRACE, ChangeKind.IN_GRACE):
            active[sid] = replace(
                records[sid],
                consecutive_failures=change.consecutive_failures,
                last_cycle=cycle,
                last_promotable=False,
                last_reasons=change.reasons,
            )
    return dict(sorted(active.items()))


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


def _records(data: Mapping[str, Any]) -> dict[str, StrategyRecord]:
    return {sid: StrategyRecord.from_dict(r) for sid, r in data["strategies"].items()}


def _state(records: Mapping[str, StrategyRecord]) -> dict[str, Any]:
    return {"strategies": {sid: r.to_dict() for sid, r in records.items()}}


def _replay(data: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    """The registry after a committed audit record (see :func:`apply_changes`)."""
    changes = [Change.from_dict(c) for c in record["changes"]]
    active = apply_changes(_records(data), changes, cycle=record["cycle"], now=record["time"])
    return _state(active)


class StrategyRegistry:
    """The persisted set of active strategies of one state folder.

    Parameters
    ----------
    state_dir : path-like
        The state folder: ``registry.json`` (the snapshot, with ``.bak``),
        ``registry_audit.jsonl`` (one committed record per cycle) and the folder's lock.
    settings : RegistrySettings
        Grace cycles and ``max_active`` from the environment's YAML.
    lock_timeout : float
        Seconds to wait for another cycle to finish.
    create : bool
        Create the state folder if it holds no state yet; otherwise such a folder is
        refused (a typo in a path never starts a second, empty registry).
    """

    def __init__(
        self,
        state_dir: str | os.PathLike[str],
        settings: RegistrySettings | None = None,
        *,
        lock_timeout: float = 30.0,
        create: bool = False,
    ) -> None:
        self.state_dir = Path(state_dir)
        self.settings = settings or RegistrySettings()
        self.create = create
        self.folder = StateFolder(self.state_dir, lock_timeout=lock_timeout)
        self.state = StateFile(
            self.state_dir / "registry.json",
            kind="registry",
            schema_version=SCHEMA_VERSION,
            default=lambda: _state({}),
            validate=_validate,
            lock=self.folder.lock,
            lock_timeout=lock_timeout,
        )
        self.audit = Journal(self.state_dir / "registry_audit.jsonl")
        self.ledger = Ledger(self.state, self.audit, _replay, f"registry {self.state_dir}")

    def active(self) -> dict[str, StrategyRecord]:
        """The active strategies of the last committed cycle (reads only, takes no lock)."""
        return self.snapshot()[0]

    def snapshot(self) -> tuple[dict[str, StrategyRecord], CycleId]:
        """The active strategies and the identity of the last committed cycle."""
        self.folder.require()
        data, last = self.ledger.load(writer=False)
        return _records(data), last

    def update(
        self,
        decisions: Sequence[Decision],
        *,
        as_of: date,
        score: Callable[[Decision], float] | None = None,
        context: Mapping[str, Any] | None = None,
        environment: str | None = None,
        switch_environment: bool = False,
        now: datetime | None = None,
    ) -> CycleReport:
        """Apply one cycle's decisions: load, decide, commit, all under the folder's lock.

        Parameters
        ----------
        decisions : sequence of Decision
            This cycle's combined gate verdicts.
        as_of : datetime.date
            The cycle's identity: the date of the data it decided on. The last committed
            date again with the same decisions and settings returns the committed report
            and changes nothing; an earlier date, or other decisions for the same date,
            are refused.
        score : callable, optional
            Ranks new candidates when ``max_active`` leaves too little room (higher first).
        context : mapping, optional
            Extra audit fields (config hash, plugin versions), kept under ``context``.
        environment : str, optional
            The environment; a folder keeps the environment of its first cycle.
        switch_environment : bool
            Accept an environment other than the folder's.
        now : datetime, optional
            The cycle's wall-clock time (UTC now by default).

        Raises
        ------
        StateError
            No state in the folder (and ``create`` not set), an earlier as-of date, other
            decisions for a committed date, or another environment.
        """
        timestamp = (now or datetime.now(UTC)).isoformat()
        decided = [d.to_dict() for d in decisions]
        settings = asdict(self.settings)
        inputs = inputs_digest({"decisions": decided, "settings": settings, "env": environment})
        if self.create:
            StateFolder.create(self.state_dir, lock_timeout=self.folder.lock_timeout)
        else:
            self.folder.require()
        with self.folder.locked():
            data, last, repeated = self.ledger.open_cycle(
                as_of, inputs, environment=environment, switch_environment=switch_environment
            )
            records = _records(data)
            if repeated is not None:
                done = tuple(Change.from_dict(c) for c in repeated["changes"])
                return CycleReport(last.cycle, done, records, last.as_of, repeated=True)
            cycle = last.cycle + 1
            active, changes = apply_cycle(
                records,
                decisions,
                cycle=cycle,
                now=timestamp,
                grace_cycles=self.settings.promotion_grace_cycles,
                max_active=self.settings.max_active,
                score=score,
            )
            # The verdict file first, durably: the record that names it is the commit.
            verdicts = self._archive().write(cycle, decided)
            record = {
                "cycle": cycle,
                "time": timestamp,
                "as_of": as_of.isoformat(),
                "inputs": inputs,
                "environment": environment,
                "context": dict(context or {}),
                "settings": {
                    "promotion_grace_cycles": self.settings.promotion_grace_cycles,
                    "max_active": self.settings.max_active,
                },
                "verdicts": verdicts,
                "changes": [c.to_dict() for c in changes],
            }
            self.ledger.commit(record, _state(active))
        return CycleReport(cycle, tuple(changes), active, as_of.isoformat())

    def history(self, strategy_id: str) -> list[dict[str, Any]]:
        """One strategy's story: per committed cycle, its decision and its change (if any).

        Reads the log one record at a time and, per cycle, only the row groups of the
        cycle's verdict file that may hold the strategy, so time and memory do not grow
        with the number of candidates. Records from before verdict files hold the
        decisions inline; they are read as they are.

        Parameters
        ----------
        strategy_id : str
            The strategy.

        Returns
        -------
        list of dict
            Per cycle that mentions it: ``cycle``, ``as_of``, ``time``, ``environment``,
            ``decision`` (its gates' verdicts, or None when absent) and ``change`` (or None).

        Raises
        ------
        StateError
            A verdict file a committed record names is missing or does not match it.
        """
        self.folder.require()

        def mention(record: dict[str, Any]) -> tuple[dict[str, Any], bool, Any]:
            """What history needs of a record (the entry, whether its decisions are in a
            file, that file's reference); the record itself is then dropped."""
            entry = {
                "cycle": record["cycle"],
                "as_of": record.get("as_of"),
                "time": record.get("time"),
                "environment": record.get("environment"),
                "decision": _find(record.get("decisions", []), strategy_id),
                "change": _find(record.get("changes", []), strategy_id),
            }
            if "decisions" in record:
                return entry, False, None
            if "verdicts" not in record:
                raise _without_verdicts(self.audit.path, record["cycle"])
            return entry, True, record["verdicts"]

        story = []
        archive = None
        for entry, in_file, reference in self.audit.each_committed(mention):
            if in_file:
                archive = archive or self._archive()
                entry["decision"] = archive.find(entry["cycle"], reference, strategy_id)
            if entry["decision"] is not None or entry["change"] is not None:
                story.append(entry)
        return story

    def cycle_decisions(self, cycle: int) -> list[dict[str, Any]]:
        """Every candidate's decision in a committed cycle, in the order the cycle got them.

        Parameters
        ----------
        cycle : int
            A committed cycle's number.

        Returns
        -------
        list of dict
            ``Decision.to_dict()`` of each candidate, as committed.

        Raises
        ------
        StateError
            The cycle is not committed, or its verdict file is missing or does not match
            its record.
        """
        self.folder.require()
        found = [r for r in self.audit.each_committed(_keep_if(cycle)) if r is not None]
        if not found:
            raise StateError(f"{self.audit.path}: cycle {cycle} is not committed")
        record = found[0]
        if "decisions" in record:
            return list(record["decisions"])
        if "verdicts" not in record:
            raise _without_verdicts(self.audit.path, cycle)
        return self._archive().read(cycle, record["verdicts"])

    def _archive(self) -> VerdictArchive:
        # Imported here: pyarrow is for writing and reading verdicts, not `registry show`.
        from autopilot.verdict_archive import VerdictArchive

        return VerdictArchive(self.state_dir, self.audit.path)


def _keep_if(cycle: int) -> Callable[[dict[str, Any]], dict[str, Any] | None]:
    return lambda record: record if record["cycle"] == cycle else None


def _without_verdicts(log: Path, cycle: int) -> StateError:
    return StateError(
        f"{log}: the record of cycle {cycle} holds neither decisions nor a verdict file; "
        f"restore the log from a copy"
    )


def _find(items: list[dict[str, Any]], strategy_id: str) -> dict[str, Any] | None:
    return next((item for item in items if item.get("strategy_id") == strategy_id), None)
