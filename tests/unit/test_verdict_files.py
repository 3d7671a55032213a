"""The registry's verdict files: one Parquet file per committed cycle, sealed by its record.

What is checked, on real files and processes:

* a cycle writes ``registry_verdicts/cycle-NNNNNN.parquet`` before its record; the record
  keeps the file's name, SHA-256 and row count instead of the decisions;
* a process killed (SIGKILL) between the file and the record leaves a file that is never
  read, and the next run of that cycle replaces it;
* a committed cycle's file that is missing, changed or of another cycle is refused with one
  line naming it, by the API and by ``registry history`` (exit 2);
* a retry of a committed date writes nothing, no file either;
* a folder written before verdict files (decisions inline, by the code of commit 4989093)
  reads exactly as that code printed it, and takes new cycles; today's code given the same
  cycles prints the same history, as JSON and as a table;
* one strategy is found through the row groups' statistics in a file of many row groups,
  whatever its id (non-ASCII included), and a whole table reads back in its order.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from autopilot import cli
from autopilot.errors import StateError
from autopilot.registry import StrategyRegistry
from autopilot.sdk.verdicts import Decision, Mode, Outcome, Verdict
from autopilot.state.cycles import StateFolder
from autopilot.state.journal import Journal
from autopilot.verdict_archive import ROW_GROUP_ROWS, VerdictArchive
from tests.data import inline_audit

ROOT = Path(__file__).resolve().parents[2]
OLD_FOLDER = ROOT / "tests" / "data" / "registry_inline_audit"
CLI = (sys.executable, "-m", "autopilot.cli")
OLD_EXPECTED = ROOT / "tests" / "data" / "registry_inline_audit.expected.json"


def _decision(sid: str, outcome: Outcome = Outcome.PASS, value: float | None = 1.0) -> Decision:
    reason = "OK" if outcome is Outcome.PASS else "BELOW_MIN: value=0.1, min=0.5"
    return Decision(
        sid,
        (
            Verdict("sharpe", outcome, value, 0.5, Mode.ENFORCE, reason),
            Verdict("dsr", Outcome.FAIL, None, 0.9, Mode.SHADOW, "BELOW_MIN: x=0"),
        ),
    )


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _registry(folder: Path) -> StrategyRegistry:
    StateFolder.create(folder)
    return StrategyRegistry(folder)


def _history_cli(folder: Path, strategy_id: str, fmt: str, capsys) -> tuple[int, str, str]:
    argv = ["registry", "--state-dir", str(folder), "history", strategy_id, "--format", fmt]
    code = cli.main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# --- writing ---------------------------------------------------------------------------------


def test_a_cycle_writes_its_verdict_file_before_the_record_that_seals_it(tmp_path):
    registry = _registry(tmp_path)
    decisions = [_decision("b"), _decision("a", Outcome.FAIL, 0.1)]
    registry.update(decisions, as_of=date(2024, 1, 2))
    (record,) = Journal(tmp_path / "registry_audit.jsonl")
    path = tmp_path / "registry_verdicts" / "cycle-000001.parquet"
    assert "decisions" not in record
    assert record["verdicts"] == {
        "file": "registry_verdicts/cycle-000001.parquet",
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "rows": 2,
    }
    # Sorted by strategy id in the file, in the cycle's order when read back.
    assert pq.read_table(path).column("strategy_id").to_pylist() == ["a", "b"]
    assert registry.cycle_decisions(1) == [d.to_dict() for d in decisions]
    assert registry.history("a")[0]["decision"] == decisions[1].to_dict()
    assert [p.name for p in (tmp_path / "registry_verdicts").iterdir()] == [path.name]


def test_a_retry_of_a_committed_date_writes_nothing_not_even_a_verdict_file(tmp_path):
    registry = _registry(tmp_path)
    registry.update([_decision("a")], as_of=date(2024, 1, 2))
    registry.update([_decision("a", Outcome.FAIL)], as_of=date(2024, 1, 3))
    before = _files(tmp_path)
    for _ in range(2):
        report = registry.update([_decision("a", Outcome.FAIL)], as_of=date(2024, 1, 3))
        assert report.repeated and report.cycle == 2
    with pytest.raises(StateError, match="already committed with other inputs"):
        registry.update([_decision("a")], as_of=date(2024, 1, 3))
    assert _files(tmp_path) == before


# --- a kill between the verdict file and the record --------------------------------------------

_KILLED_BEFORE_THE_RECORD = """
import os, signal, sys
from datetime import date
from autopilot.registry import StrategyRegistry
from autopilot.sdk.verdicts import Decision, Mode, Outcome, Verdict
from autopilot.state.journal import Journal

def die(self, record):  # the instant the record would be appended: the file is written
    os.kill(os.getpid(), signal.SIGKILL)

Journal.append = die
ghost = Decision("ghost", (Verdict("sharpe", Outcome.PASS, 9.0, 0.5, Mode.ENFORCE, "OK"),))
StrategyRegistry(sys.argv[1]).update([ghost], as_of=date(2024, 1, 3))
"""


def test_a_kill_between_the_verdict_file_and_the_record_leaves_a_file_never_read(tmp_path, capsys):
    registry = _registry(tmp_path)
    registry.update([_decision("a")], as_of=date(2024, 1, 2))
    audit = (tmp_path / "registry_audit.jsonl").read_bytes()
    done = subprocess.run(
        [sys.executable, "-c", _KILLED_BEFORE_THE_RECORD, str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    orphan = tmp_path / "registry_verdicts" / "cycle-000002.parquet"
    assert pq.read_table(orphan).column("strategy_id").to_pylist() == ["ghost"]
    assert (tmp_path / "registry_audit.jsonl").read_bytes() == audit  # nothing committed

    # Only files named by a committed record are read.
    assert registry.snapshot()[1].cycle == 1
    assert registry.history("ghost") == []
    code, out, err = _history_cli(tmp_path, "ghost", "json", capsys)
    assert (code, out) == (2, "")
    assert err.startswith("error: no cycle in ") and "mentions 'ghost'" in err

    # The cycle runs again, with other decisions: its file replaces the orphan.
    report = registry.update([_decision("a", Outcome.FAIL)], as_of=date(2024, 1, 3))
    assert report.cycle == 2 and not report.repeated
    assert registry.cycle_decisions(2) == [_decision("a", Outcome.FAIL).to_dict()]
    assert [e["cycle"] for e in registry.history("a")] == [1, 2]
    assert registry.history("ghost") == []
    assert not list((tmp_path / "registry_verdicts").glob(".*.tmp"))


def test_a_killed_writes_temp_file_is_swept_by_the_next_cycle(tmp_path):
    registry = _registry(tmp_path)
    registry.update([_decision("a")], as_of=date(2024, 1, 2))
    leftover = tmp_path / "registry_verdicts" / ".cycle-000002.parquet.abc123.tmp"
    leftover.write_bytes(b"half a file")
    assert registry.history("a")[0]["cycle"] == 1  # a reader leaves it alone
    assert leftover.exists()
    registry.update([_decision("a")], as_of=date(2024, 1, 3))
    assert not leftover.exists()


# --- a committed file that is missing or changed ---------------------------------------------


def _two_cycles(folder: Path) -> StrategyRegistry:
    registry = _registry(folder)
    registry.update([_decision("a"), _decision("b")], as_of=date(2024, 1, 2))
    registry.update([_decision("a", Outcome.FAIL)], as_of=date(2024, 1, 3))
    return registry


def _flip_one_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("delete", r"verdict file of committed cycle 2 \(named by .*\) is missing; restore it"),
        ("flip", r"does not match its record in .* it was changed or replaced; restore it"),
        ("cycle 1's file", r"does not match its record in .*registry_audit.jsonl"),
    ],
)
def test_a_missing_or_changed_verdict_file_is_refused_naming_it(tmp_path, capsys, damage, message):
    registry = _two_cycles(tmp_path)
    path = tmp_path / "registry_verdicts" / "cycle-000002.parquet"
    if damage == "delete":
        path.unlink()
    elif damage == "flip":
        _flip_one_byte(path)
    else:
        shutil.copyfile(tmp_path / "registry_verdicts" / "cycle-000001.parquet", path)
    with pytest.raises(StateError, match=message) as caught:
        registry.history("a")
    assert str(caught.value).startswith(f"{path}: ")
    with pytest.raises(StateError, match=message):
        registry.cycle_decisions(2)
    code, out, err = _history_cli(tmp_path, "a", "table", capsys)
    assert (code, out) == (2, "")
    assert err == f"error: {caught.value}\n"  # one line, naming the file and the fix
    # The active set does not depend on the verdicts: show and the next cycle still work.
    assert set(registry.active()) == {"a", "b"}
    assert registry.update([_decision("a")], as_of=date(2024, 1, 4)).cycle == 3


def test_a_record_naming_another_cycles_file_is_refused(tmp_path):
    registry = _two_cycles(tmp_path)
    audit = tmp_path / "registry_audit.jsonl"
    lines = audit.read_bytes().splitlines(keepends=True)
    first, second = (json.loads(line) for line in lines)
    forged = {**second, "verdicts": first["verdicts"]}
    audit.write_bytes(lines[0] + (json.dumps(forged) + "\n").encode())
    with pytest.raises(StateError, match=r"cycle-000001.parquet: the verdict file holds cycle 1"):
        registry.history("a")
    for reference in ({"file": "../elsewhere.parquet", "sha256": "0" * 64, "rows": 1}, None):
        audit.write_bytes(
            lines[0] + (json.dumps({**second, "verdicts": reference}) + "\n").encode()
        )
        with pytest.raises(StateError, match=r"the record of cycle 2 names its verdict file"):
            registry.history("a")
    del second["verdicts"]
    audit.write_bytes(lines[0] + (json.dumps(second) + "\n").encode())
    with pytest.raises(StateError, match=r"cycle 2 holds neither decisions nor a verdict file"):
        registry.history("a")


# --- folders written before verdict files ----------------------------------------------------


@pytest.fixture
def old_folder(tmp_path) -> Path:
    """A copy of the folder written by the code of commit 4989093 (decisions inline)."""
    folder = tmp_path / "old"
    shutil.copytree(OLD_FOLDER, folder)
    return folder


def test_a_folder_with_inline_decisions_reads_as_the_code_that_wrote_it_printed(old_folder, capsys):
    expected = json.loads(OLD_EXPECTED.read_text(encoding="utf-8"))
    records = list(Journal(old_folder / "registry_audit.jsonl"))
    assert all("decisions" in r and "verdicts" not in r for r in records)
    before = _files(old_folder)
    for sid in inline_audit.IDS:
        code, out, _ = _history_cli(old_folder, sid, "json", capsys)
        assert code == 0 and json.loads(out) == expected[sid]["json"], sid
        code, out, _ = _history_cli(old_folder, sid, "table", capsys)
        assert code == 0 and out == expected[sid]["table"], sid
    assert not (old_folder / "registry_verdicts").exists()  # reading writes nothing
    assert _files(old_folder) == before


def test_a_folder_with_inline_decisions_takes_new_cycles_and_keeps_its_story(old_folder):
    registry = StrategyRegistry(old_folder, inline_audit.SETTINGS)
    old_story = registry.history("ÉTF:carry")
    decisions = [_decision("ÉTF:carry", Outcome.FAIL, 0.2)]
    report = registry.update(
        decisions,
        as_of=inline_audit.FIRST_AS_OF + timedelta(weeks=3),
        environment=inline_audit.ENVIRONMENT,
    )
    assert report.cycle == 4
    records = list(Journal(old_folder / "registry_audit.jsonl"))
    assert ["decisions" in r for r in records] == [True, True, True, False]
    assert records[3]["verdicts"]["file"] == "registry_verdicts/cycle-000004.parquet"
    story = registry.history("ÉTF:carry")
    assert story[:3] == old_story  # nothing committed is lost
    assert story[3]["decision"] == decisions[0].to_dict()
    assert story[3]["change"]["kind"] == "entered_grace"
    assert registry.cycle_decisions(1) == [d.to_dict() for d in inline_audit.cycles()[0]]


def test_todays_code_prints_the_same_history_as_the_inline_format(tmp_path, old_folder, capsys):
    """The same cycles written today (verdict files) print what the old format printed."""
    expected = json.loads(OLD_EXPECTED.read_text(encoding="utf-8"))
    folder = tmp_path / "new"
    inline_audit.build(folder)
    assert len(list((folder / "registry_verdicts").glob("cycle-*.parquet"))) == 3
    for sid in inline_audit.IDS:
        code, out, _ = _history_cli(folder, sid, "json", capsys)
        assert code == 0 and json.loads(out) == expected[sid]["json"], sid
        code, out, _ = _history_cli(folder, sid, "table", capsys)
        assert code == 0 and out == expected[sid]["table"], sid
    # Through the command itself too: byte for byte what it prints for the inline folder.
    sid = "MSFT:ma_cross_50_200"
    printed = []
    for state in (folder, old_folder):
        done = subprocess.run(
            [*CLI, "registry", "--state-dir", str(state), "history", sid, "--format", "json"],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONIOENCODING": "utf-8"},
        )
        printed.append(done.stdout)
    assert json.loads(printed[0]) == expected[sid]["json"]
    assert printed[0] == printed[1]


# --- the file itself -------------------------------------------------------------------------


def test_one_strategy_is_found_through_the_row_group_statistics(tmp_path):
    ids = [f"cand_{i:04d}" for i in range(5 * ROW_GROUP_ROWS + 7)] + ["ÉTF:z", "Zürich", "a€"]
    decisions = [
        _decision(sid, Outcome.FAIL if i % 3 else Outcome.PASS, i / 7).to_dict()
        for i, sid in enumerate(reversed(ids))
    ]
    archive = VerdictArchive(tmp_path, tmp_path / "registry_audit.jsonl")
    reference = archive.write(7, decisions)
    path = tmp_path / reference["file"]
    metadata = pq.ParquetFile(path).metadata
    assert metadata.num_row_groups == 6 and reference["rows"] == len(ids)
    assert metadata.row_group(0).column(0).statistics.has_min_max
    by_id = {d["strategy_id"]: d for d in decisions}
    for sid in [ids[0], ids[ROW_GROUP_ROWS - 1], ids[ROW_GROUP_ROWS], ids[-4], *ids[-3:]]:
        assert archive.find(7, reference, sid) == by_id[sid], sid
    for absent in ("", "cand_", "cand_0000a", "zzz", "ÉTF"):
        assert archive.find(7, reference, absent) is None
    assert archive.read(7, reference) == decisions
    with pytest.raises(StateError, match=rf"has {len(ids)} rows where .* records {len(ids) - 1}"):
        archive.find(7, {**reference, "rows": len(ids) - 1}, ids[0])
