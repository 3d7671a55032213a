"""Stateful property test of StrategyRegistry (real files) against a plain dict model (T1, T5).

The model is ``strategy id -> consecutive failures``. Rules run cycles (pass, fail,
insufficient data, error, absent, shadow-only failures, promotable and failing newcomers),
retry the last as-of date, reload the registry with a new object, put an older snapshot
back (a kill between a cycle's commit record and its state save), leave the next cycle's
verdict file without its record (a kill before the commit), and corrupt or delete
``registry.json`` and its backup. The model never goes back: whatever happens to the
snapshots, the registry must come back with every committed cycle (the backup plus the
audit records it misses, or the whole audit log), and reading must change no file.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from datetime import date
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from autopilot.config import RegistrySettings
from autopilot.registry import ChangeKind, CycleReport, StrategyRegistry
from autopilot.sdk.verdicts import Decision, Mode, Outcome, Verdict
from autopilot.state.cycles import StateFolder
from autopilot.verdict_archive import VerdictArchive
from tests.dated import DatedRegistry

POOL = tuple(f"s{i:02d}" for i in range(12))
OUTCOMES = ("pass", "shadow_fail", "fail", "insufficient", "error", "absent")
_FAILING = {
    "fail": Outcome.FAIL,
    "insufficient": Outcome.INSUFFICIENT_DATA,
    "error": Outcome.ERROR,
}
SCORES = st.one_of(
    st.none(),
    st.just(math.nan),
    st.sampled_from([0.0, 1.0, 2.0]),  # ties, broken by id
    st.floats(-5.0, 5.0, allow_nan=False),
)


def _decision(sid: str, kind: str, score: float | None) -> Decision:
    if kind in ("pass", "shadow_fail"):
        verdicts = [Verdict("sharpe", Outcome.PASS, score, 0.5, Mode.ENFORCE, "OK")]
        if kind == "shadow_fail":
            verdicts.append(Verdict("dsr", Outcome.FAIL, 0.0, 0.9, Mode.SHADOW, "BELOW_MIN"))
    else:
        verdicts = [Verdict("sharpe", _FAILING[kind], score, 0.5, Mode.ENFORCE, "BELOW_MIN: x=1")]
    return Decision(sid, tuple(verdicts))


def _score(decision: Decision) -> float:
    value = decision.verdicts[0].value
    return math.nan if value is None else value


class RegistryMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="registry-machine-"))
        self.model: dict[str, int] = {}
        self.snapshots: dict[int, dict[str, int]] = {0: {}}
        self.generation = 0
        self.main_generation: int | None = None  # what registry.json holds
        self.backup_generation: int | None = None  # what registry.json.bak holds
        self.registry: StrategyRegistry | None = None
        self.snapshot_bytes: dict[int, bytes] = {}
        self.last_cycle: tuple[list[Decision], CycleReport] | None = None
        self.decided: dict[int, list[dict]] = {}  # each committed cycle's decisions

    def teardown(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    @initialize(grace=st.integers(1, 4), max_active=st.one_of(st.none(), st.integers(1, 5)))
    def open_registry(self, grace: int, max_active: int | None) -> None:
        self.grace = grace
        self.max_active = max_active
        self.settings = RegistrySettings(promotion_grace_cycles=grace, max_active=max_active)
        StateFolder.create(self.folder)
        self.registry = DatedRegistry(self.folder, self.settings)

    # --- cycles -----------------------------------------------------------------------------

    def _run_cycle(self, incumbents: dict[str, str], newcomers: list[tuple[str, str, float]]):
        decisions = [
            _decision(sid, kind, 1.0) for sid, kind in incumbents.items() if kind != "absent"
        ]
        decisions += [_decision(sid, kind, score) for sid, kind, score in newcomers]
        report = self.registry.update(decisions, score=_score)
        self.last_cycle = (decisions, report)

        # The model: incumbents first, then promotable newcomers by score while room.
        expected: dict[str, int] = {}
        removed = set()
        for sid, failures in self.model.items():
            if incumbents[sid] in ("pass", "shadow_fail"):
                expected[sid] = 0
            elif failures + 1 >= self.grace:
                removed.add(sid)
            else:
                expected[sid] = failures + 1
        ranked = sorted(
            (
                (None if s is None or s != s else s, sid)
                for sid, kind, s in newcomers
                if kind in ("pass", "shadow_fail")
            ),
            key=lambda item: (item[0] is None, -(item[0] or 0.0), item[1]),
        )
        promoted, no_room = [], []
        for _, sid in ranked:
            if self.max_active is None or len(expected) < self.max_active:
                expected[sid] = 0
                promoted.append(sid)
            else:
                no_room.append(sid)

        assert report.cycle == self.generation + 1
        assert report.of_kind(ChangeKind.REMOVED) == sorted(removed)
        assert report.of_kind(ChangeKind.PROMOTED) == promoted
        assert report.of_kind(ChangeKind.NO_ROOM) == no_room
        for change in report.changes:
            if change.kind is ChangeKind.REMOVED:
                # Nothing is removed before the grace count.
                assert change.consecutive_failures == self.grace
                assert self.model[change.strategy_id] == self.grace - 1
            if change.kind is ChangeKind.ENTERED_GRACE:
                assert self.model[change.strategy_id] == 0
        assert {sid: r.consecutive_failures for sid, r in report.active.items()} == expected

        # The verdicts read back from the cycle's file are the ones it was given.
        self.decided[report.cycle] = [d.to_dict() for d in decisions]
        assert self.registry.cycle_decisions(report.cycle) == self.decided[report.cycle]
        self.model = expected
        self.generation += 1
        self.snapshots[self.generation] = dict(expected)
        self.snapshot_bytes[self.generation] = (self.folder / "registry.json").read_bytes()
        if self.main_generation is not None:
            self.backup_generation = self.main_generation
        self.main_generation = self.generation

    def _fresh_ids(self, **sizes: int) -> st.SearchStrategy[list[str]]:
        free = [sid for sid in POOL if sid not in self.model]
        return st.lists(st.sampled_from(free), unique=True, **sizes) if free else st.just([])

    @rule(data=st.data())
    def cycle(self, data: st.DataObject) -> None:
        """Every incumbent passes, fails in some way or is absent; some newcomers arrive."""
        incumbents = {
            sid: data.draw(st.sampled_from(OUTCOMES), label=f"incumbent {sid}")
            for sid in sorted(self.model)
        }
        ids = data.draw(self._fresh_ids(max_size=4), label="new")
        newcomers = [
            (sid, data.draw(st.sampled_from(OUTCOMES[:-1]), label=sid), data.draw(SCORES))
            for sid in ids
        ]
        self._run_cycle(incumbents, newcomers)

    @rule(data=st.data())
    def some_pass_rest_absent(self, data: st.DataObject) -> None:
        passing = data.draw(st.sets(st.sampled_from(sorted(self.model) or ["-"])))
        self._run_cycle({s: "pass" if s in passing else "absent" for s in self.model}, [])

    @rule(outcome=st.sampled_from(["fail", "insufficient", "error", "absent"]))
    def all_fail(self, outcome: str) -> None:
        self._run_cycle(dict.fromkeys(self.model, outcome), [])

    @precondition(lambda self: len(self.model) < len(POOL))
    @rule(data=st.data())
    def new_candidates(self, data: st.DataObject) -> None:
        ids = data.draw(self._fresh_ids(min_size=1, max_size=6), label="new")
        self._run_cycle(
            dict.fromkeys(self.model, "pass"), [(sid, "pass", data.draw(SCORES)) for sid in ids]
        )

    # --- reloads and crashes ----------------------------------------------------------------

    def _reload_and_compare(self) -> None:
        self.registry = DatedRegistry(self.folder, self.settings)
        on_disk, last = self.registry.snapshot()
        assert last.cycle == self.generation
        assert {sid: r.consecutive_failures for sid, r in on_disk.items()} == self.model
        assert all(r.strategy_id == sid for sid, r in on_disk.items())

    @rule()
    def reload(self) -> None:
        """A new registry object on the same folder (a restarted process)."""
        self._reload_and_compare()

    @precondition(lambda self: self.last_cycle is not None)
    @rule()
    def retry_last_cycle(self) -> None:
        """A scheduler retries the last as-of date: the committed result, nothing spent."""
        decisions, committed = self.last_cycle
        as_of = date.fromisoformat(committed.as_of)
        report = self.registry.update(decisions, score=_score, as_of=as_of)
        assert report.repeated and report.cycle == committed.cycle == self.generation
        assert report.changes == committed.changes
        self._reload_and_compare()

    @rule()
    def killed_after_its_verdict_file(self) -> None:
        """A kill after the next cycle wrote its verdict file, before its record (the commit).

        The file is written by the code a cycle runs; no committed record names it, so
        nothing reads it, and the next cycle of that number replaces it.
        """
        ghost = _decision("ghost", "pass", 1.0).to_dict()
        VerdictArchive(self.folder, self.registry.audit.path).write(self.generation + 1, [ghost])
        self._reload_and_compare()
        assert self.registry.history("ghost") == []
        if self.generation:
            decided = self.registry.cycle_decisions(self.generation)
            assert decided == self.decided[self.generation]

    @precondition(lambda self: self.generation >= 2)
    @rule()
    def snapshot_behind_the_log(self) -> None:
        """A kill after a cycle's audit record (its commit) and before the state save."""
        path = self.folder / "registry.json"
        path.write_bytes(self.snapshot_bytes[self.generation - 1])
        self._reload_and_compare()  # the committed cycle is replayed, never lost

    @precondition(lambda self: self.main_generation and self.backup_generation is not None)
    @rule(damage=st.sampled_from(["truncate", "garbage", "empty", "delete", "wrong_kind"]))
    def lose_main_file(self, damage: str) -> None:
        """registry.json is damaged or gone: the backup plus the committed records."""
        path = self.folder / "registry.json"
        text = path.read_bytes()
        if damage == "truncate":
            path.write_bytes(text[: len(text) // 2])
        elif damage == "garbage":
            path.write_bytes(b"\x00\xff not json")
        elif damage == "empty":
            path.write_bytes(b"")
        elif damage == "delete":
            path.unlink()
        else:
            payload = json.loads(text)
            payload["kind"] = "portfolio"
            path.write_text(json.dumps(payload))
        damaged = path.read_bytes() if path.exists() else None
        self.main_generation = None
        self._reload_and_compare()  # nothing committed is lost
        # Reading never writes: the damaged file is still there, as it was.
        assert (path.read_bytes() if path.exists() else None) == damaged

    @precondition(lambda self: self.main_generation and self.backup_generation is not None)
    @rule()
    def lose_both_files_then_restore(self) -> None:
        """Both files unusable: rebuilt from the complete audit log, nothing written."""
        path = self.folder / "registry.json"
        backup = self.folder / "registry.json.bak"
        saved = path.read_bytes(), backup.read_bytes()
        path.write_bytes(b"{")
        backup.write_bytes(b"[]")
        rebuilt = DatedRegistry(self.folder, self.settings).active()
        assert {sid: r.consecutive_failures for sid, r in rebuilt.items()} == self.model
        assert (path.read_bytes(), backup.read_bytes()) == (b"{", b"[]")
        path.write_bytes(saved[0])
        backup.write_bytes(saved[1])
        self._reload_and_compare()

    # --- invariants -------------------------------------------------------------------------

    @invariant()
    def counters_in_range(self) -> None:
        assert all(0 <= failures < self.grace for failures in self.model.values())

    @invariant()
    def at_most_max_active(self) -> None:
        if self.max_active is not None:
            assert len(self.model) <= self.max_active

    @invariant()
    def no_temp_files_left(self) -> None:
        assert not list(self.folder.glob(".*.tmp"))


RegistryMachine.TestCase.settings = settings(
    max_examples=50,
    stateful_step_count=20,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_registry_state_machine = RegistryMachine.TestCase
