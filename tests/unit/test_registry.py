"""The promotion registry (seed T5): grace counter, max_active, audit journal, CLI, recovery."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from autopilot import cli
from autopilot.config import RegistrySettings, load_config
from autopilot.errors import ConfigError, InputError, StateError
from autopilot.registry import (
    ABSENT,
    ChangeKind,
    StrategyRecord,
    StrategyRegistry,
    apply_cycle,
)
from autopilot.sdk.verdicts import Decision, Mode, Outcome, Verdict
from autopilot.state.journal import Journal
from tests.conftest import CONFIG_DIR
from tests.dated import DatedRegistry

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)

_REASONS = {
    Outcome.PASS: "OK",
    Outcome.FAIL: "BELOW_MIN: value=0.1, min=0.5",
    Outcome.INSUFFICIENT_DATA: "TOO_FEW_BARS: bars=20, min=252",
    Outcome.ERROR: "GATE_ERROR: ZeroDivisionError",
}
_CODES = {
    Outcome.FAIL: "BELOW_MIN",
    Outcome.INSUFFICIENT_DATA: "TOO_FEW_BARS",
    Outcome.ERROR: "GATE_ERROR",
}
NOT_PASSING = (Outcome.FAIL, Outcome.INSUFFICIENT_DATA, Outcome.ERROR)


def verdict(gate: str, outcome: Outcome, value: float | None = None, mode=Mode.ENFORCE) -> Verdict:
    return Verdict(gate, outcome, value, 0.5, mode, _REASONS[outcome])


def passing(sid: str, score: float | None = 1.0) -> Decision:
    """Promotable: the enforced gates pass (a shadow gate fails, which must not matter)."""
    return Decision(
        sid,
        (
            verdict("sharpe", Outcome.PASS, score),
            verdict("max_drawdown", Outcome.PASS, 0.1),
            verdict("deflated_sharpe", Outcome.FAIL, 0.01, Mode.SHADOW),
        ),
    )


def failing(sid: str, outcome: Outcome = Outcome.FAIL) -> Decision:
    return Decision(
        sid,
        (verdict("sharpe", outcome, 0.1), verdict("max_drawdown", Outcome.PASS, 0.1)),
    )


def by_score(decision: Decision) -> float:
    value = next(v.value for v in decision.verdicts if v.gate == "sharpe")
    return float("nan") if value is None else value


def make_registry(path: Path, **settings) -> StrategyRegistry:
    return DatedRegistry(path, RegistrySettings(**settings))


def run(registry: StrategyRegistry, *cycles: list[Decision], **kwargs):
    """Run several cycles; returns the last report."""
    report = None
    for decisions in cycles:
        report = registry.update(decisions, **kwargs)
    return report


def change(report, sid):
    return next(c for c in report.changes if c.strategy_id == sid)


# --- T5: the grace counter ------------------------------------------------------------------


def test_absent_from_one_candidate_set_survives(tmp_path):
    registry = make_registry(tmp_path)
    run(registry, [passing("a"), passing("b")])
    report = registry.update([passing("b")])
    assert set(report.active) == {"a", "b"}
    assert change(report, "a").kind is ChangeKind.ENTERED_GRACE
    assert change(report, "a").reasons == (ABSENT,)
    assert report.active["a"].consecutive_failures == 1
    assert registry.active()["a"].last_reasons == (ABSENT,)


@pytest.mark.parametrize(
    "outcome", [*NOT_PASSING, None], ids=lambda o: "absent" if o is None else o.name
)
def test_three_consecutive_failing_or_absent_cycles_remove(tmp_path, outcome):
    registry = make_registry(tmp_path)
    run(registry, [passing("a"), passing("keep")])
    cycle = [passing("keep")] if outcome is None else [passing("keep"), failing("a", outcome)]
    kinds = []
    for _ in range(3):
        report = registry.update(cycle)
        kinds.append(change(report, "a").kind)
    assert kinds == [ChangeKind.ENTERED_GRACE, ChangeKind.IN_GRACE, ChangeKind.REMOVED]
    assert change(report, "a").consecutive_failures == 3
    expected = (ABSENT,) if outcome is None else (f"sharpe:{_CODES[outcome]}",)
    assert change(report, "a").reasons == expected
    assert set(report.active) == {"keep"} == set(registry.active())


def test_a_mix_of_fail_insufficient_error_and_absent_counts_as_consecutive(tmp_path):
    registry = make_registry(tmp_path)
    run(registry, [passing("a")])
    report = run(
        registry,
        [failing("a", Outcome.INSUFFICIENT_DATA)],
        [],
        [failing("a", Outcome.ERROR)],
    )
    assert change(report, "a").kind is ChangeKind.REMOVED
    assert registry.active() == {}


def test_one_pass_in_between_resets_the_counter(tmp_path):
    registry = make_registry(tmp_path)
    run(registry, [passing("a")], [failing("a")], [])
    assert registry.active()["a"].consecutive_failures == 2
    report = registry.update([passing("a")])
    assert change(report, "a").kind is ChangeKind.KEPT
    assert report.active["a"].consecutive_failures == 0
    assert report.active["a"].last_reasons == ()
    # Two more failures are not enough again: the count started over.
    report = run(registry, [failing("a")], [])
    assert change(report, "a").kind is ChangeKind.IN_GRACE
    assert report.active["a"].consecutive_failures == 2
    assert change(registry.update([]), "a").kind is ChangeKind.REMOVED


def test_shadow_verdicts_never_cause_failure(tmp_path):
    registry = make_registry(tmp_path, promotion_grace_cycles=1)
    shadow_fails = Decision(
        "a",
        (
            verdict("sharpe", Outcome.PASS, 1.0),
            verdict("dsr", Outcome.FAIL, 0.0, Mode.SHADOW),
            verdict("pbo", Outcome.ERROR, None, Mode.SHADOW),
            verdict("psr", Outcome.INSUFFICIENT_DATA, None, Mode.SHADOW),
        ),
    )
    for _ in range(4):
        report = registry.update([shadow_fails])
    assert change(report, "a").kind is ChangeKind.KEPT
    assert report.active["a"].consecutive_failures == 0
    assert report.active["a"].promoted_cycle == 1


def test_promoted_record_fields(tmp_path):
    registry = make_registry(tmp_path)
    report = registry.update([passing("a"), failing("x")], now=T0)
    assert report.cycle == 1
    assert report.of_kind(ChangeKind.PROMOTED) == ["a"]
    # A failing newcomer is neither promoted nor mentioned as a change.
    assert [c.strategy_id for c in report.changes] == ["a"]
    assert registry.active() == {
        "a": StrategyRecord("a", promoted_at=T0.isoformat(), promoted_cycle=1, last_cycle=1)
    }


@pytest.mark.parametrize("grace", [1, 2, 5])
def test_grace_value_comes_from_registry_settings(tmp_path, grace):
    registry = make_registry(tmp_path, promotion_grace_cycles=grace)
    run(registry, [passing("a")])
    kinds = [change(registry.update([failing("a")]), "a").kind for _ in range(grace)]
    assert kinds[-1] is ChangeKind.REMOVED
    assert all(k is not ChangeKind.REMOVED for k in kinds[:-1])
    assert registry.active() == {}


def test_grace_from_the_shipped_yaml_is_three(config_dir):
    assert load_config("prod", config_dir).registry.promotion_grace_cycles == 3
    assert RegistrySettings().promotion_grace_cycles == 3


def test_grace_below_one_is_refused():
    with pytest.raises(ValueError, match="grace_cycles"):
        apply_cycle({}, [], cycle=1, now="t", grace_cycles=0)


def test_apply_cycle_is_pure():
    records = {"a": StrategyRecord("a", "t0", 1, consecutive_failures=1)}
    before = dict(records)
    active, _ = apply_cycle(records, [failing("a")], cycle=2, now="t1")
    assert records == before
    assert active["a"].consecutive_failures == 2


# --- max_active and ranking -----------------------------------------------------------------


def test_max_active_promotes_while_there_is_room(tmp_path):
    registry = make_registry(tmp_path, max_active=3)
    report = registry.update([passing("a"), passing("b")])
    assert report.of_kind(ChangeKind.PROMOTED) == ["a", "b"]
    report = registry.update([passing("a"), passing("b"), passing("c"), passing("d", 9.0)])
    assert report.of_kind(ChangeKind.PROMOTED) == ["c"]  # no score function: id order
    assert report.of_kind(ChangeKind.NO_ROOM) == ["d"]
    assert set(registry.active()) == {"a", "b", "c"}


def test_newcomers_ranked_by_score_nan_and_none_last_ties_by_id(tmp_path):
    registry = make_registry(tmp_path, max_active=10)
    decisions = [
        passing("n_none", None),
        passing("n_nan", float("nan")),  # Verdict turns NaN into None
        passing("z_low", 0.5),
        passing("b_tie", 2.0),
        passing("a_tie", 2.0),
        passing("top", 3.0),
        passing("neg", -1.0),
    ]
    report = registry.update(decisions, score=by_score)
    assert report.of_kind(ChangeKind.PROMOTED) == [
        "top",
        "a_tie",
        "b_tie",
        "z_low",
        "neg",
        "n_nan",
        "n_none",
    ]
    assert change(report, "top").score == 3.0
    assert change(report, "n_none").score is None


def test_score_function_returning_nan_ranks_last():
    decisions = [passing("a", 1.0), passing("b", 2.0), passing("c", 3.0)]
    weird = {"a": 1.0, "b": float("nan"), "c": None}
    _, changes = apply_cycle(
        {}, decisions, cycle=1, now="t", max_active=2, score=lambda d: weird[d.strategy_id]
    )
    assert [(c.strategy_id, c.kind) for c in changes] == [
        ("a", ChangeKind.PROMOTED),
        ("b", ChangeKind.PROMOTED),
        ("c", ChangeKind.NO_ROOM),
    ]
    assert changes[1].score is None


def test_no_room_ranks_newcomers_and_incumbents_keep_their_places(tmp_path):
    registry = make_registry(tmp_path, max_active=3)
    run(registry, [passing("inc1", 0.1), passing("inc2", 0.1)], score=by_score)
    # inc2 fails (enters grace) but stays: only one seat is free for three strong newcomers.
    report = registry.update(
        [
            passing("inc1", 0.1),
            failing("inc2"),
            passing("new_mid", 2.0),
            passing("new_top", 5.0),
            passing("new_nan", None),
        ],
        score=by_score,
    )
    assert change(report, "inc2").kind is ChangeKind.ENTERED_GRACE
    assert report.of_kind(ChangeKind.PROMOTED) == ["new_top"]
    assert report.of_kind(ChangeKind.NO_ROOM) == ["new_mid", "new_nan"]
    no_room = change(report, "new_mid")
    assert (no_room.consecutive_failures, no_room.score) == (0, 2.0)
    assert set(registry.active()) == {"inc1", "inc2", "new_top"}
    # Changes: incumbents first (by id), then newcomers in rank order.
    assert [c.strategy_id for c in report.changes] == [
        "inc1",
        "inc2",
        "new_top",
        "new_mid",
        "new_nan",
    ]


def test_seat_of_a_removed_incumbent_is_free_in_the_same_cycle(tmp_path):
    registry = make_registry(tmp_path, max_active=2, promotion_grace_cycles=2)
    run(registry, [passing("a"), passing("b")], [passing("a")])
    report = registry.update([passing("a"), passing("c", 1.0), passing("d", 2.0)], score=by_score)
    assert change(report, "b").kind is ChangeKind.REMOVED
    assert report.of_kind(ChangeKind.PROMOTED) == ["d"]
    assert report.of_kind(ChangeKind.NO_ROOM) == ["c"]
    assert set(registry.active()) == {"a", "d"}


def test_lowering_max_active_removes_no_incumbent(tmp_path):
    run(make_registry(tmp_path), [passing("a"), passing("b"), passing("c")])
    report = make_registry(tmp_path, max_active=1).update(
        [passing("a"), passing("b"), passing("c"), passing("d")]
    )
    assert report.of_kind(ChangeKind.KEPT) == ["a", "b", "c"]
    assert report.of_kind(ChangeKind.NO_ROOM) == ["d"]


# --- input errors ---------------------------------------------------------------------------


def test_duplicate_strategy_ids_in_one_cycle_are_refused_and_nothing_is_written(tmp_path):
    registry = make_registry(tmp_path)
    run(registry, [passing("a")])
    with pytest.raises(InputError, match="'a' appears twice"):
        registry.update([passing("b"), passing("a"), failing("a")])
    assert len(list(registry.audit)) == 1
    fresh = make_registry(tmp_path)
    assert set(fresh.active()) == {"a"}
    assert fresh.state.generation == 1


# --- logging --------------------------------------------------------------------------------


def _registry_warnings(caplog) -> list[dict]:
    """The structured fields of the registry's warnings."""
    return [
        {k: getattr(r, k) for k in ("event", "strategy_id", "consecutive_failures", "reasons")}
        for r in caplog.records
        if r.name == "autopilot.registry" and r.levelno == logging.WARNING
    ]


def test_entering_grace_and_removal_are_logged_at_warning_with_reason_codes(tmp_path, caplog):
    caplog.set_level(logging.DEBUG, logger="autopilot")
    registry = make_registry(tmp_path, promotion_grace_cycles=2)
    run(registry, [passing("alpha"), passing("beta")])
    assert _registry_warnings(caplog) == []

    caplog.clear()
    registry.update([passing("beta"), failing("alpha", Outcome.INSUFFICIENT_DATA)])
    assert _registry_warnings(caplog) == [
        {
            "event": "entered_grace",
            "strategy_id": "alpha",
            "consecutive_failures": 1,
            "reasons": ["sharpe:TOO_FEW_BARS"],
        }
    ]

    caplog.clear()
    registry.update([passing("beta")])
    assert _registry_warnings(caplog) == [
        {"event": "removed", "strategy_id": "alpha", "consecutive_failures": 2, "reasons": [ABSENT]}
    ]


def test_staying_in_grace_is_not_logged_again_at_warning(tmp_path, caplog):
    caplog.set_level(logging.DEBUG, logger="autopilot")
    registry = make_registry(tmp_path, promotion_grace_cycles=5)
    run(registry, [passing("a")], [failing("a", Outcome.ERROR)])
    caplog.clear()
    registry.update([failing("a", Outcome.ERROR)])
    assert _registry_warnings(caplog) == []


# --- the audit journal ----------------------------------------------------------------------

CONTEXT = {
    "config_hash": "0123456789abcdef",
    "plugins": {"builtin": "strategy-autopilot 0.1.0", "pbo": "autopilot-pbo 0.2.0"},
}


def test_audit_journal_gets_exactly_one_complete_record_per_cycle(tmp_path):
    registry = make_registry(tmp_path, promotion_grace_cycles=2, max_active=2)
    cycles = [
        [passing("a"), passing("b"), failing("x")],
        [passing("a"), failing("b", Outcome.ERROR), passing("c")],
        [passing("a")],
    ]
    # The caller's context cannot overwrite the record's own fields.
    context = {**CONTEXT, "cycle": 99, "time": "forged", "as_of": "1999-01-01"}
    reports = [
        registry.update(
            d,
            context=context,
            environment="staging",
            now=T0 + timedelta(days=i),
            score=by_score,
            as_of=date(2024, 3, 1 + i),
        )
        for i, d in enumerate(cycles)
    ]
    records = list(Journal(tmp_path / "registry_audit.jsonl"))
    assert [r["cycle"] for r in records] == [1, 2, 3]
    for i, (record, decisions, report) in enumerate(zip(records, cycles, reports, strict=True)):
        assert record["time"] == (T0 + timedelta(days=i)).isoformat()
        assert record["as_of"] == report.as_of == f"2024-03-0{1 + i}"
        assert record["environment"] == "staging"
        assert record["context"] == context
        assert record["settings"] == {"promotion_grace_cycles": 2, "max_active": 2}
        # The verdicts go to the cycle's Parquet file, which the record names and seals.
        assert "decisions" not in record
        file = tmp_path / "registry_verdicts" / f"cycle-{i + 1:06d}.parquet"
        assert record["verdicts"] == {
            "file": f"registry_verdicts/cycle-{i + 1:06d}.parquet",
            "sha256": hashlib.sha256(file.read_bytes()).hexdigest(),
            "rows": len(decisions),
        }
        committed = registry.cycle_decisions(i + 1)
        assert committed == [d.to_dict() for d in decisions]
        assert [Decision.from_dict(d) for d in committed] == decisions
        assert record["changes"] == [c.to_dict() for c in report.changes]
    # The verdicts themselves are kept, shadow ones included.
    gates = registry.cycle_decisions(2)[1]["gates"]
    assert gates[0] == {
        "gate": "sharpe",
        "outcome": "ERROR",
        "value": 0.1,
        "threshold": 0.5,
        "mode": "enforce",
        "reason": _REASONS[Outcome.ERROR],
    }
    assert records[1]["changes"] == [
        {
            "strategy_id": "a",
            "kind": "kept",
            "consecutive_failures": 0,
            "reasons": [],
            "score": None,
        },
        {
            "strategy_id": "b",
            "kind": "entered_grace",
            "consecutive_failures": 1,
            "reasons": ["sharpe:GATE_ERROR"],
            "score": None,
        },
        {
            "strategy_id": "c",
            "kind": "not_promoted_no_room",
            "consecutive_failures": 0,
            "reasons": [],
            "score": 1.0,
        },
    ]
    assert [c["kind"] for c in records[2]["changes"]] == ["kept", "removed"]


def test_history_returns_one_strategys_story(tmp_path):
    registry = make_registry(tmp_path)
    run(
        registry,
        [passing("a"), passing("b")],
        [passing("b"), failing("a")],
        [passing("b")],
        [passing("b")],
        [passing("b"), failing("a")],
        context=CONTEXT,
        environment="staging",
    )
    story = registry.history("a")
    assert [e["cycle"] for e in story] == [1, 2, 3, 4, 5]
    assert [e["change"]["kind"] if e["change"] else None for e in story] == [
        "promoted",
        "entered_grace",
        "in_grace",
        "removed",
        None,  # failing newcomer after removal: a decision, no change
    ]
    assert [e["decision"] is None for e in story] == [False, False, True, True, False]
    assert story[1]["decision"]["promotable"] is False
    assert {e["environment"] for e in story} == {"staging"}
    assert registry.history("nobody") == []


def test_a_committed_record_the_snapshot_missed_is_replayed_once(tmp_path):
    registry = make_registry(tmp_path)
    run(registry, [passing("a"), passing("b")], [failing("a"), passing("b")], now=T0)
    snapshot_2 = (tmp_path / "registry.json").read_bytes()
    registry.update([failing("a")], now=T0)
    uninterrupted = registry.active()
    # A kill after the audit record of cycle 3 (the commit) and before the state save.
    (tmp_path / "registry.json").write_bytes(snapshot_2)

    fresh = make_registry(tmp_path)
    assert fresh.active() == uninterrupted
    assert fresh.snapshot()[1].cycle == 3
    report = fresh.update([passing("a"), passing("b")])
    assert report.cycle == 4
    assert [r["cycle"] for r in Journal(tmp_path / "registry_audit.jsonl")] == [1, 2, 3, 4]
    assert [e["cycle"] for e in fresh.history("a")] == [1, 2, 3, 4]
    assert fresh.active()["a"].consecutive_failures == 0


def test_history_of_a_log_from_before_commit_records_keeps_the_rerun(tmp_path):
    """Logs written before records were commit points may hold a crashed cycle twice."""
    registry = make_registry(tmp_path)
    run(registry, [passing("a")])
    audit = Journal(registry.audit.path)
    first = next(iter(audit))
    for time, ids in (("crashed", ["a", "ghost"]), ("rerun", ["a"])):
        audit.append(
            {
                **first,
                "cycle": 2,
                "time": time,
                "decisions": [passing(i).to_dict() for i in ids],
                "changes": [],
            }
        )
    assert [r["time"] for r in audit.committed()][1:] == ["rerun"]
    assert registry.history("ghost") == []
    assert [e["time"] for e in registry.history("a")] == [first["time"], "rerun"]


def test_a_retry_of_the_last_as_of_date_spends_no_grace(tmp_path):
    registry = make_registry(tmp_path, promotion_grace_cycles=3)
    registry.update([passing("a")], as_of=date(2024, 1, 2))
    first = registry.update([failing("a")], as_of=date(2024, 1, 3))
    for _ in range(3):  # a scheduler retrying the same cycle
        retry = registry.update([failing("a")], as_of=date(2024, 1, 3))
        assert retry.repeated and retry.cycle == 2 and retry.changes == first.changes
    assert registry.active()["a"].consecutive_failures == 1
    assert len(list(Journal(tmp_path / "registry_audit.jsonl"))) == 2


def test_an_earlier_date_or_other_decisions_for_a_committed_date_are_refused(tmp_path):
    registry = make_registry(tmp_path)
    registry.update([passing("a")], as_of=date(2024, 1, 3))
    before = (tmp_path / "registry_audit.jsonl").read_bytes()
    with pytest.raises(StateError, match=r"as-of 2024-01-02 is earlier than .*as of 2024-01-03"):
        registry.update([passing("a")], as_of=date(2024, 1, 2))
    with pytest.raises(StateError, match=r"2024-01-03 is already committed with other inputs"):
        registry.update([failing("a")], as_of=date(2024, 1, 3))
    assert (tmp_path / "registry_audit.jsonl").read_bytes() == before


def test_another_environment_is_refused_unless_switched(tmp_path):
    registry = make_registry(tmp_path)
    registry.update([passing("a")], environment="dev")
    with pytest.raises(StateError, match=r"environment 'dev', not 'prod'"):
        registry.update([passing("a")], environment="prod")
    report = registry.update([passing("a")], environment="prod", switch_environment=True)
    assert report.cycle == 2
    assert registry.update([passing("a")], environment="prod").cycle == 3


def test_a_folder_without_state_is_refused_and_nothing_is_created(tmp_path):
    typo = tmp_path / "stat"
    for call in (
        lambda: StrategyRegistry(typo).active(),
        lambda: StrategyRegistry(typo).history("a"),
        lambda: StrategyRegistry(typo).update([passing("a")], as_of=date(2024, 1, 2)),
    ):
        with pytest.raises(StateError, match=r"does not exist.*autopilot init"):
            call()
    assert not typo.exists()


# --- the state file -------------------------------------------------------------------------


def test_registry_state_file_has_schema_version_and_generation(tmp_path):
    registry = make_registry(tmp_path)
    for generation in (1, 2, 3):
        registry.update([passing("a")], now=T0)
        payload = json.loads((tmp_path / "registry.json").read_text())
        assert set(payload) == {"kind", "schema_version", "generation", "data"}
        assert payload["kind"] == "registry"
        assert payload["schema_version"] == 1
        assert payload["generation"] == generation
        assert payload["data"]["strategies"]["a"]["promoted_cycle"] == 1
        assert payload["data"]["strategies"]["a"]["last_cycle"] == generation
    backup = json.loads((tmp_path / "registry.json.bak").read_text())
    assert backup["generation"] == 2
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")) == []


def test_a_record_under_another_id_is_a_corrupt_file_recovered_from_backup(tmp_path):
    registry = make_registry(tmp_path)
    run(registry, [passing("a")], [passing("a"), passing("b")])
    path = tmp_path / "registry.json"
    payload = json.loads(path.read_text())
    payload["data"]["strategies"]["b"]["strategy_id"] = "a"
    path.write_text(json.dumps(payload))
    fresh = make_registry(tmp_path)
    assert set(fresh.active()) == {"a", "b"}  # the .bak plus the committed cycle 2
    assert not list(tmp_path.glob("registry.json.corrupt-*"))  # reading moved nothing
    assert fresh.update([passing("a"), passing("b")]).cycle == 3
    assert len(list(tmp_path.glob("registry.json.corrupt-*"))) == 1


# --- the command line -----------------------------------------------------------------------


def _write_batch(path: Path, drifts: dict[str, float], seed: int = 7) -> None:
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2020-01-01", periods=300).strftime("%Y-%m-%d")
    frames = [
        pd.DataFrame(
            {
                "strategy_id": sid,
                "date": dates,
                "return": rng.normal(mu, 0.01, len(dates)).round(6),
                "regime": (np.arange(len(dates)) // 100) % 2,
            }
        )
        for sid, mu in drifts.items()
    ]
    pd.concat(frames).to_csv(path, index=False)


@pytest.fixture
def workdir(tmp_path, monkeypatch) -> Path:
    """The shipped configs and two small CSV batches, as a user would have them."""
    shutil.copytree(CONFIG_DIR, tmp_path / "configs")
    _write_batch(tmp_path / "all.csv", {"good_a": 0.003, "good_b": 0.004, "bad": -0.001})
    _write_batch(tmp_path / "without_a.csv", {"good_b": 0.004, "bad": -0.001})
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _update(capsys, batch: str, as_of: str, env: str = "dev") -> dict:
    argv = ["registry", "--state-dir", "state", "update", batch, "--env", env]
    assert cli.main([*argv, "--as-of", as_of, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def _show(capsys) -> dict[str, dict]:
    assert cli.main(["registry", "--state-dir", "state", "show", "--format", "json"]) == 0
    return {r["strategy_id"]: r for r in json.loads(capsys.readouterr().out)["active"]}


def _history(capsys, strategy_id: str) -> list[dict]:
    argv = ["registry", "--state-dir", "state", "history", strategy_id, "--format", "json"]
    assert cli.main(argv) == 0
    return json.loads(capsys.readouterr().out)["cycles"]


def _init(capsys) -> None:
    assert cli.main(["init", "--state-dir", "state"]) == 0
    capsys.readouterr()


def _kinds(payload: dict) -> dict[str, tuple[str, int, list[str]]]:
    return {
        c["strategy_id"]: (c["kind"], c["consecutive_failures"], c["reasons"])
        for c in payload["changes"]
    }


def test_cli_update_show_history_end_to_end(workdir, capsys):
    _init(capsys)
    first = _update(capsys, "all.csv", "2021-03-01")
    # Ranked by probabilistic_sharpe (the YAML's rank_by): the stronger one first.
    assert [c["strategy_id"] for c in first["changes"]] == ["good_b", "good_a"]
    assert {c["kind"] for c in first["changes"]} == {"promoted"}
    assert (first["cycle"], first["as_of"], first["active"]) == (
        1,
        "2021-03-01",
        ["good_a", "good_b"],
    )

    second = _update(capsys, "without_a.csv", "2021-03-02")
    assert _kinds(second)["good_a"] == ("entered_grace", 1, [ABSENT])
    assert _kinds(second)["good_b"] == ("kept", 0, [])

    shown = _show(capsys)
    assert set(shown) == {"good_a", "good_b"}
    assert (shown["good_a"]["promoted_cycle"], shown["good_a"]["consecutive_failures"]) == (1, 1)
    assert shown["good_a"]["last_reasons"] == [ABSENT]
    assert (shown["good_b"]["promoted_cycle"], shown["good_b"]["consecutive_failures"]) == (1, 0)

    _update(capsys, "without_a.csv", "2021-03-03")
    last = _update(capsys, "without_a.csv", "2021-03-04")
    assert _kinds(last)["good_a"] == ("removed", 3, [ABSENT])
    assert (last["cycle"], last["active"]) == (4, ["good_b"])
    assert set(_show(capsys)) == {"good_b"}

    story = _history(capsys, "good_a")
    assert [e["cycle"] for e in story] == [1, 2, 3, 4]
    assert [e["as_of"] for e in story] == ["2021-03-01", "2021-03-02", "2021-03-03", "2021-03-04"]
    assert [e["change"]["kind"] for e in story] == [
        "promoted",
        "entered_grace",
        "in_grace",
        "removed",
    ]
    assert [e["decision"] is not None and e["decision"]["promotable"] for e in story] == [
        True,
        False,
        False,
        False,
    ]
    story = _history(capsys, "bad")
    assert [(e["change"], e["decision"]["promotable"]) for e in story] == [(None, False)] * 4

    records = list(Journal(workdir / "state" / "registry_audit.jsonl"))
    assert [r["cycle"] for r in records] == [1, 2, 3, 4]
    assert {r["environment"] for r in records} == {"dev"}
    assert all(len(r["context"]["config_hash"]) == 16 and r["context"]["plugins"] for r in records)
    # Each record names its input exactly: the file, its content's digest, its dates.
    first = records[0]["context"]["input"]
    assert first["path"] == str((workdir / "all.csv").resolve())
    assert first["sha256"] == hashlib.sha256((workdir / "all.csv").read_bytes()).hexdigest()
    dates = pd.read_csv(workdir / "all.csv")["date"]
    assert (first["first_date"], first["last_date"]) == (dates.min(), dates.max())
    assert first["candidates"] == 3
    assert records[0]["context"]["tool"].startswith("strategy-autopilot ")
    # The files actually read: the copy in ./configs, not the defaults shipped in the package.
    assert records[0]["context"]["config_files"] == [
        str((workdir / "configs" / name).resolve()) for name in ("dev.yaml", "base.yaml")
    ]


def test_the_audit_record_names_the_shipped_defaults_when_they_are_read(workdir, capsys):
    shutil.rmtree(workdir / "configs")
    _init(capsys)
    _update(capsys, "all.csv", "2021-03-01", env="prod")
    (record,) = Journal(workdir / "state" / "registry_audit.jsonl")
    assert record["context"]["config_files"] == [
        str(CONFIG_DIR / "prod.yaml"),
        str(CONFIG_DIR / "base.yaml"),
    ]


def test_cli_as_of_defaults_to_the_batch_last_date_and_a_retry_changes_nothing(workdir, capsys):
    argv = ["registry", "--state-dir", "state", "update", "without_a.csv", "--env", "dev"]
    assert cli.main([*argv, "--init", "--format", "json"]) == 0
    first = json.loads(capsys.readouterr().out)
    last_date = pd.read_csv("without_a.csv")["date"].max()
    assert (first["cycle"], first["as_of"], first["repeated"]) == (1, last_date, False)
    audit = (workdir / "state" / "registry_audit.jsonl").read_bytes()
    for _ in range(3):
        assert cli.main([*argv, "--format", "json"]) == 0
        retry = json.loads(capsys.readouterr().out)
        assert (retry["cycle"], retry["repeated"], retry["changes"]) == (1, True, first["changes"])
    assert (workdir / "state" / "registry_audit.jsonl").read_bytes() == audit
    # Another batch for the same date is refused; so is another environment.
    assert cli.main(["registry", "--state-dir", "state", "update", "all.csv", "--env", "dev"]) == 2
    assert "already committed with other inputs" in capsys.readouterr().err
    assert cli.main([*argv[:-1], "staging", "--as-of", "2021-06-01"]) == 2
    assert "--switch-environment" in capsys.readouterr().err
    # A cycle dated before the batch's last bar would decide on data from its future.
    assert cli.main([*argv, "--as-of", "2020-06-01"]) == 2
    assert f"before the batch's last date {last_date}" in capsys.readouterr().err
    assert (workdir / "state" / "registry_audit.jsonl").read_bytes() == audit


def test_cli_history_of_an_unknown_strategy_exits_2(workdir, capsys):
    _init(capsys)
    _update(capsys, "all.csv", "2021-03-01")
    assert cli.main(["registry", "--state-dir", "state", "history", "nobody"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "nobody" in captured.err


@pytest.mark.parametrize(
    "argv",
    [
        ["registry", "--state-dir", "typo", "show"],
        ["registry", "show", "--state-dir", "typo"],
        ["registry", "--state-dir", "typo", "history", "good_a"],
        ["registry", "--state-dir", "typo", "update", "all.csv", "--env", "dev"],
        ["paper", "--state-dir", "typo", "status"],
    ],
)
def test_cli_a_state_folder_that_does_not_exist_exits_2_and_creates_nothing(workdir, capsys, argv):
    before = sorted(p.name for p in workdir.iterdir())
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: typo: the state folder does not exist")
    assert "autopilot init --state-dir typo" in captured.err
    assert sorted(p.name for p in workdir.iterdir()) == before


def test_cli_show_of_an_initialised_empty_state_folder(workdir, capsys):
    _init(capsys)
    assert cli.main(["registry", "--state-dir", "state", "show", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "schema_version": 1,
        "kind": "registry",
        "state_dir": "state",
        "cycle": 0,
        "as_of": None,
        "active": [],
    }


def test_cli_reading_commands_work_on_a_read_only_folder_and_write_nothing(workdir, capsys):
    _init(capsys)
    _update(capsys, "all.csv", "2021-03-01")
    _update(capsys, "without_a.csv", "2021-03-02")
    state = workdir / "state"
    (state / "registry.json").write_text("damaged")
    listing = _files(state)
    folders = (state, state / "registry_verdicts")
    for folder in folders:
        folder.chmod(0o555)
    try:
        shown = _show(capsys)
        story = _history(capsys, "good_a")
    finally:
        for folder in folders:
            folder.chmod(0o755)
    assert shown["good_a"]["consecutive_failures"] == 1  # .bak plus the committed cycle 2
    assert [e["cycle"] for e in story] == [1, 2]
    assert story[0]["decision"]["strategy_id"] == "good_a"  # read from the verdict file
    assert _files(state) == listing


def _files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (verdict files included) and its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_cli_recovers_a_corrupt_registry_without_losing_the_last_cycle(workdir, capsys):
    _init(capsys)
    _update(capsys, "all.csv", "2021-03-01")
    _update(capsys, "without_a.csv", "2021-03-02")  # generation 2; the .bak holds generation 1
    state = workdir / "state"
    (state / "registry.json").write_text('{"kind": "registry", "generation": 2, "da')

    assert _show(capsys)["good_a"]["consecutive_failures"] == 1  # cycle 2 is not lost
    retry = _update(capsys, "without_a.csv", "2021-03-02")
    assert (retry["cycle"], retry["repeated"]) == (2, True)  # nothing redone, nothing spent
    third = _update(capsys, "without_a.csv", "2021-03-03")
    assert third["cycle"] == 3
    assert _kinds(third)["good_a"] == ("in_grace", 2, [ABSENT])
    assert len(list(state.glob("registry.json.corrupt-*"))) == 1
    assert [r["cycle"] for r in Journal(state / "registry_audit.jsonl")] == [1, 2, 3]


def test_cli_with_both_state_files_corrupt_is_rebuilt_from_a_complete_audit_log(workdir, capsys):
    _init(capsys)
    _update(capsys, "all.csv", "2021-03-01")
    _update(capsys, "without_a.csv", "2021-03-02")
    expected = _show(capsys)
    state = workdir / "state"
    (state / "registry.json").write_text("garbage")
    (state / "registry.json.bak").write_bytes(b"")
    assert _show(capsys) == expected


def test_cli_with_both_state_files_corrupt_and_a_partial_log_exits_2_naming_both(workdir, capsys):
    _init(capsys)
    _update(capsys, "all.csv", "2021-03-01")
    _update(capsys, "all.csv", "2021-03-02")
    state = workdir / "state"
    (state / "registry.json").write_text("garbage")
    (state / "registry.json.bak").write_bytes(b"")
    audit = state / "registry_audit.jsonl"
    audit.write_bytes(audit.read_bytes().split(b"\n", 1)[1])  # cycle 1's record is gone
    audit_before = audit.read_bytes()

    for argv in (
        ["registry", "--state-dir", "state", "show"],
        [
            "registry",
            "--state-dir",
            "state",
            "update",
            "all.csv",
            "--env",
            "dev",
            "--as-of",
            "2021-03-03",
        ],
    ):
        assert cli.main(argv) == 2
        captured = capsys.readouterr()
        assert captured.out == ""
        assert str(Path("state") / "registry.json") in captured.err
        assert str(Path("state") / "registry.json.bak") in captured.err
    # Nothing was started from an empty registry.
    assert not (state / "registry.json").exists()
    assert audit.read_bytes() == audit_before


def test_nan_scores_are_not_written_as_nan(tmp_path):
    registry = make_registry(tmp_path, max_active=1)
    registry.update([passing("a", None), passing("b", None)], score=lambda d: math.nan)
    text = (tmp_path / "registry_audit.jsonl").read_text()
    assert "NaN" not in text


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"promotion_grace_cycles": 0},
            "The 'promotion_grace_cycles' setting of 'RegistrySettings' must be in [1, inf), "
            "was 0.",
        ),
        (
            {"promotion_grace_cycles": True},
            "The 'promotion_grace_cycles' setting of 'RegistrySettings' must be an integer, "
            "was True (bool).",
        ),
        (
            {"max_active": 0},
            "The 'max_active' setting of 'RegistrySettings' must be in [1, inf), was 0.",
        ),
        (
            {"rank_by": 3},
            "The 'rank_by' setting of 'RegistrySettings' must be of type str, was 3 (int).",
        ),
    ],
)
def test_registry_settings_validate_their_fields(settings, message):
    with pytest.raises(ConfigError) as info:
        RegistrySettings(**settings)
    assert str(info.value) == message
    assert RegistrySettings(max_active=None, rank_by=None).max_active is None


def test_a_strategy_record_serialises_every_field_and_round_trips():
    record = StrategyRecord("a", T0.isoformat(), 2, 1, 3, False, ("sharpe:BELOW_MIN",), "active")
    expected = {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}
    assert record.to_dict() == {**expected, "last_reasons": ["sharpe:BELOW_MIN"]}
    assert StrategyRecord.from_dict(json.loads(json.dumps(record.to_dict()))) == record
