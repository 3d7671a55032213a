"""The state folder and the ledger: creation, one lock, holds, rebuilds, legacy logs."""

from __future__ import annotations

import json
from datetime import date

import pytest

from autopilot.errors import StateError
from autopilot.registry import StrategyRegistry
from autopilot.sdk.verdicts import Decision, Mode, Outcome, Verdict
from autopilot.state.cycles import MANIFEST_NAME, StateFolder
from autopilot.state.journal import Journal
from autopilot.state.state_file import StateFile


def _decision(sid: str, outcome: Outcome = Outcome.PASS) -> Decision:
    reason = "OK" if outcome is Outcome.PASS else "BELOW_MIN: value=0.1, min=0.5"
    return Decision(sid, (Verdict("sharpe", outcome, 1.0, 0.5, Mode.ENFORCE, reason),))


def test_create_is_idempotent_and_keeps_the_initial_cash(tmp_path):
    folder, created = StateFolder.create(tmp_path / "s", initial_cash=50_000.0)
    assert created and folder.settings()["initial_cash"] == 50_000.0
    again, created = StateFolder.create(tmp_path / "s")
    assert not created and again.settings()["initial_cash"] == 50_000.0
    with pytest.raises(StateError, match=r"initial cash 50,000.00; it cannot be given again"):
        StateFolder.create(tmp_path / "s", initial_cash=60_000.0)
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(StateError, match="initial cash must be a positive number"):
            StateFolder.create(tmp_path / "t", initial_cash=bad)


def test_a_damaged_manifest_is_restored_from_its_backup_never_reset(tmp_path):
    StateFolder.create(tmp_path, initial_cash=50_000.0)
    manifest = tmp_path / MANIFEST_NAME
    (tmp_path / f"{MANIFEST_NAME}.bak").write_bytes(manifest.read_bytes())
    manifest.write_text("{garbage")
    StateFolder.create(tmp_path)
    assert json.loads(manifest.read_text())["data"]["initial_cash"] == 50_000.0


def test_a_damaged_manifest_without_backup_is_an_error_not_a_default(tmp_path):
    StateFolder.create(tmp_path, initial_cash=50_000.0)
    (tmp_path / MANIFEST_NAME).write_text("{garbage")
    with pytest.raises(StateError, match=r"autopilot_state.json.*both unusable"):
        StateFolder.create(tmp_path)


def test_a_load_in_an_earlier_hold_of_the_folder_lock_does_not_allow_a_save(tmp_path):
    folder, _ = StateFolder.create(tmp_path)
    state = StateFile(
        tmp_path / "x.json", kind="x", schema_version=1, default=dict, lock=folder.lock
    )
    with folder.locked():
        state.load()
    with folder.locked(), pytest.raises(StateError, match="save\\(\\) without load\\(\\)"):
        state.save({"a": 1})  # another process may have written in between
    with folder.locked():
        with folder.locked():  # re-entrant: the same hold
            state.load()
        assert state.save({"a": 1}) == 1


def test_the_folder_lock_is_one_object_per_folder_and_process(tmp_path):
    assert StateFolder(tmp_path).lock is StateFolder(tmp_path, lock_timeout=0.1).lock


def test_a_registry_rebuilt_from_a_log_with_a_missing_record_is_refused(tmp_path):
    StateFolder.create(tmp_path)
    registry = StrategyRegistry(tmp_path)
    for day, decisions in ((1, [_decision("a")]), (2, [_decision("a", Outcome.FAIL)]), (3, [])):
        registry.update(decisions, as_of=date(2024, 1, day))
    expected = registry.active()
    assert expected["a"].consecutive_failures == 2  # failed, then absent
    (tmp_path / "registry.json").write_text("garbage")
    (tmp_path / "registry.json.bak").write_text("")
    assert StrategyRegistry(tmp_path).active() == expected  # rebuilt from cycles 1..3
    lines = (tmp_path / "registry_audit.jsonl").read_bytes().splitlines(keepends=True)
    (tmp_path / "registry_audit.jsonl").write_bytes(lines[0] + lines[2])  # cycle 2 is gone
    with pytest.raises(StateError, match=r"registry.json.*registry.json.bak.*both unusable"):
        StrategyRegistry(tmp_path).active()


def test_a_complete_record_from_before_commit_records_is_not_replayed(tmp_path):
    """A version before as-of dates appended the audit record first, then saved."""
    StateFolder.create(tmp_path)
    registry = StrategyRegistry(tmp_path)
    registry.update([_decision("a")], as_of=date(2024, 1, 1))
    orphan = {**next(iter(Journal(tmp_path / "registry_audit.jsonl"))), "cycle": 2}
    orphan["changes"] = [{**orphan["changes"][0], "strategy_id": "ghost"}]
    del orphan["as_of"]
    Journal(tmp_path / "registry_audit.jsonl").append(orphan)
    assert set(registry.active()) == {"a"}  # the orphan's save never happened
    report = registry.update([_decision("a")], as_of=date(2024, 1, 2))
    assert report.cycle == 2 and set(report.active) == {"a"}
    assert [e["cycle"] for e in registry.history("a")] == [1, 2]


def test_a_log_that_lost_records_is_refused_by_the_next_cycle(tmp_path):
    StateFolder.create(tmp_path)
    registry = StrategyRegistry(tmp_path)
    registry.update([_decision("a")], as_of=date(2024, 1, 1))
    registry.update([_decision("a")], as_of=date(2024, 1, 2))
    audit = tmp_path / "registry_audit.jsonl"
    audit.unlink()
    with pytest.raises(StateError, match=r"cycle 2 is committed, but .* holds no earlier record"):
        registry.update([_decision("a")], as_of=date(2024, 1, 3))
    assert not audit.exists()


def test_a_snapshot_without_an_environment_takes_it_from_its_cycle_record(tmp_path):
    StateFolder.create(tmp_path)
    registry = StrategyRegistry(tmp_path)
    registry.update([_decision("a")], as_of=date(2024, 1, 1), environment="dev")
    path = tmp_path / "registry.json"
    payload = json.loads(path.read_text())
    del payload["data"]["environment"]  # as written before environments were kept there
    path.write_text(json.dumps(payload))
    assert registry.snapshot()[1].environment == "dev"
    with pytest.raises(StateError, match=r"environment 'dev', not 'prod'"):
        registry.update([_decision("a")], as_of=date(2024, 1, 2), environment="prod")


def test_an_as_of_date_in_the_future_is_refused_before_it_can_block_the_folder(tmp_path):
    StateFolder.create(tmp_path)
    registry = StrategyRegistry(tmp_path)
    with pytest.raises(StateError, match=r"as-of 2203-01-04 is after today"):
        registry.update([_decision("a")], as_of=date(2203, 1, 4))
    assert registry.update([_decision("a")], as_of=date(2024, 1, 2)).cycle == 1
