"""The promotion registry (seed T5): grace counter, max_active, audit journal, CLI, recovery."""

from __future__ import annotations

import json
import logging
import math
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from autopilot import cli
from autopilot.config import RegistrySettings, load_config
from autopilot.errors import InputError
from autopilot.journal import Journal
from autopilot.registry import (
    ABSENT,
    ChangeKind,
    StrategyRecord,
    StrategyRegistry,
    apply_cycle,
)
from autopilot.verdicts import Decision, Mode, Outcome, Verdict
from tests.conftest import CONFIG_DIR

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
    return StrategyRegistry(path, RegistrySettings(**settings))


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


def _registry_warnings(caplog) -> list[logging.LogRecord]:
    return [
        r for r in caplog.records if r.name == "autopilot.registry" and r.levelno == logging.WARNING
    ]


def test_entering_grace_and_removal_are_logged_at_warning_with_reason_codes(tmp_path, caplog):
    caplog.set_level(logging.DEBUG, logger="autopilot")
    registry = make_registry(tmp_path, promotion_grace_cycles=2)
    run(registry, [passing("alpha"), passing("beta")])
    assert _registry_warnings(caplog) == []

    caplog.clear()
    registry.update([passing("beta"), failing("alpha", Outcome.INSUFFICIENT_DATA)])
    (entered,) = _registry_warnings(caplog)
    assert "alpha" in entered.args
    assert "sharpe:TOO_FEW_BARS" in entered.getMessage()
    assert "beta" not in entered.getMessage()

    caplog.clear()
    registry.update([passing("beta")])
    (removed,) = _registry_warnings(caplog)
    assert "alpha" in removed.args
    assert 2 in removed.args  # the consecutive failures that removed it
    assert ABSENT in removed.getMessage()
    assert removed is not entered


def test_staying_in_grace_is_not_logged_again_at_warning(tmp_path, caplog):
    caplog.set_level(logging.DEBUG, logger="autopilot")
    registry = make_registry(tmp_path, promotion_grace_cycles=5)
    run(registry, [passing("a")], [failing("a", Outcome.ERROR)])
    caplog.clear()
    registry.update([failing("a", Outcome.ERROR)])
    assert _registry_warnings(caplog) == []


# --- the audit journal ----------------------------------------------------------------------

CONTEXT = {
    "environment": "staging",
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
    reports = [
        registry.update(d, context=CONTEXT, now=T0 + timedelta(days=i), score=by_score)
        for i, d in enumerate(cycles)
    ]
    records = list(Journal(tmp_path / "registry_audit.jsonl"))
    assert [r["cycle"] for r in records] == [1, 2, 3]
    for i, (record, decisions, report) in enumerate(zip(records, cycles, reports, strict=True)):
        assert record["time"] == (T0 + timedelta(days=i)).isoformat()
        assert record["environment"] == "staging"
        assert record["config_hash"] == "0123456789abcdef"
        assert record["plugins"] == CONTEXT["plugins"]
        assert record["settings"] == {"promotion_grace_cycles": 2, "max_active": 2}
        assert record["decisions"] == [d.to_dict() for d in decisions]
        assert [Decision.from_dict(d) for d in record["decisions"]] == decisions
        assert record["changes"] == [c.to_dict() for c in report.changes]
    # The verdicts themselves are in the record, shadow ones included.
    gates = records[1]["decisions"][1]["gates"]
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


def test_a_later_record_of_the_same_cycle_supersedes_the_earlier(tmp_path):
    registry = make_registry(tmp_path)
    run(registry, [passing("a")], [failing("a")], now=T0)
    # A crash after the audit append of cycle 3 and before the state save: the record is
    # in the journal, the registry is still at generation 2.
    Journal(registry.audit.path).append(
        {
            "cycle": 3,
            "time": "crashed",
            "decisions": [failing("a").to_dict()],
            "changes": [
                {
                    "strategy_id": "a",
                    "kind": "in_grace",
                    "consecutive_failures": 2,
                    "reasons": ["sharpe:BELOW_MIN"],
                    "score": None,
                }
            ],
        }
    )
    report = registry.update([passing("a")], now=T0 + timedelta(days=1))
    assert report.cycle == 3
    story = registry.history("a")
    assert [e["cycle"] for e in story] == [1, 2, 3]
    assert story[2]["change"]["kind"] == "kept"
    assert story[2]["time"] == (T0 + timedelta(days=1)).isoformat()
    assert story[2]["decision"]["promotable"] is True


def test_a_superseded_record_does_not_leak_into_a_story_the_rerun_does_not_mention(tmp_path):
    """The re-run of a crashed cycle may see other candidates: the whole record is superseded."""
    registry = make_registry(tmp_path)
    run(registry, [passing("a")])
    # Crashed cycle 2 had promoted "ghost"; the state save never happened.
    Journal(registry.audit.path).append(
        {
            "cycle": 2,
            "time": "crashed",
            "decisions": [passing("a").to_dict(), passing("ghost").to_dict()],
            "changes": [
                {"strategy_id": "a", "kind": "kept", "consecutive_failures": 0},
                {"strategy_id": "ghost", "kind": "promoted", "consecutive_failures": 0},
            ],
        }
    )
    report = registry.update([passing("a")])  # the re-run of cycle 2 without "ghost"
    assert report.cycle == 2
    assert "ghost" not in registry.active()
    assert registry.history("ghost") == []


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
    assert set(fresh.active()) == {"a"}
    assert fresh.state.generation == 1
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


def _update(capsys, batch: str, env: str = "dev") -> list[list[str]]:
    argv = ["registry", "--state-dir", "state", "update", batch, "--env", env]
    assert cli.main(argv) == 0
    return [line.split() for line in capsys.readouterr().out.splitlines() if line.strip()]


def _show(capsys) -> dict[str, list[str]]:
    assert cli.main(["registry", "--state-dir", "state", "show"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[0] == "strategy"
    return {line.split()[0]: line.split()[1:] for line in lines[1:]}


def test_cli_update_show_history_end_to_end(workdir, capsys):
    lines = _update(capsys, "all.csv")
    # Ranked by probabilistic_sharpe (the YAML's rank_by): the stronger one first.
    assert lines[:2] == [["promoted", "good_b"], ["promoted", "good_a"]]
    assert lines[-1][:3] == ["cycle", "1:", "2"]

    lines = _update(capsys, "without_a.csv")
    assert ["entered_grace", "good_a", "1/3", f"({ABSENT})"] in lines
    assert ["kept", "good_b"] in lines

    shown = _show(capsys)
    assert set(shown) == {"good_a", "good_b"}
    assert shown["good_a"][1:] == ["(1)", "1", ABSENT]
    assert shown["good_b"][1:] == ["(1)", "0", "-"]

    _update(capsys, "without_a.csv")
    lines = _update(capsys, "without_a.csv")
    assert ["removed", "good_a", "3/3", f"({ABSENT})"] in lines
    assert lines[-1][:8] == ["cycle", "4:", "1", "active,", "0", "promoted,", "1", "removed"]
    assert set(_show(capsys)) == {"good_b"}

    assert cli.main(["registry", "--state-dir", "state", "history", "good_a"]) == 0
    story = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert [row[1] for row in story] == ["1", "2", "3", "4"]
    assert [row[3] for row in story] == ["promoted", "entered_grace", "in_grace", "removed"]
    assert [row[4] for row in story] == ["promotable", "absent", "absent", "absent"]

    assert cli.main(["registry", "--state-dir", "state", "history", "bad"]) == 0
    story = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert [row[3:6] for row in story] == [["-", "not", "promotable:"]] * 4

    records = list(Journal(workdir / "state" / "registry_audit.jsonl"))
    assert [r["cycle"] for r in records] == [1, 2, 3, 4]
    assert {r["environment"] for r in records} == {"dev"}
    assert all(len(r["config_hash"]) == 16 and r["plugins"] for r in records)


def test_cli_history_of_an_unknown_strategy_exits_2(workdir, capsys):
    _update(capsys, "all.csv")
    assert cli.main(["registry", "--state-dir", "state", "history", "nobody"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "nobody" in captured.err


def test_cli_show_of_an_empty_state_folder(workdir, capsys):
    assert cli.main(["registry", "--state-dir", "state", "show"]) == 0
    assert "no active strategies" in capsys.readouterr().out


def test_cli_recovers_a_corrupt_registry_from_its_backup(workdir, capsys):
    _update(capsys, "all.csv")
    _update(capsys, "without_a.csv")  # generation 2; the .bak holds generation 1
    state = workdir / "state"
    (state / "registry.json").write_text('{"kind": "registry", "generation": 2, "da')

    shown = _show(capsys)
    assert shown["good_a"][2] == "0"  # generation 1: good_a not yet in grace
    assert len(list(state.glob("registry.json.corrupt-*"))) == 1

    lines = _update(capsys, "without_a.csv")
    assert lines[-1][:2] == ["cycle", "2:"]  # cycle 2 is redone on top of generation 1
    payload = json.loads((state / "registry.json").read_text())
    assert payload["generation"] == 2
    assert payload["data"]["strategies"]["good_a"]["consecutive_failures"] == 1
    assert make_registry(state).history("good_a")[-1]["change"]["kind"] == "entered_grace"


def test_cli_with_both_state_files_corrupt_exits_2_naming_both(workdir, capsys):
    _update(capsys, "all.csv")
    _update(capsys, "all.csv")
    state = workdir / "state"
    (state / "registry.json").write_text("garbage")
    (state / "registry.json.bak").write_bytes(b"")
    audit_before = (state / "registry_audit.jsonl").read_bytes()

    for argv in (
        ["registry", "--state-dir", "state", "show"],
        ["registry", "--state-dir", "state", "update", "all.csv", "--env", "dev"],
    ):
        assert cli.main(argv) == 2
        captured = capsys.readouterr()
        assert captured.out == ""
        assert str(Path("state") / "registry.json") in captured.err
        assert str(Path("state") / "registry.json.bak") in captured.err
    # Nothing was started from an empty registry.
    assert not (state / "registry.json").exists()
    assert (state / "registry_audit.jsonl").read_bytes() == audit_before


def test_nan_scores_are_not_written_as_nan(tmp_path):
    registry = make_registry(tmp_path, max_active=1)
    registry.update([passing("a", None), passing("b", None)], score=lambda d: math.nan)
    text = (tmp_path / "registry_audit.jsonl").read_text()
    assert "NaN" not in text
