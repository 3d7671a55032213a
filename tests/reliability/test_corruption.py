"""Corrupt, missing and foreign state files, and torn journals (seed T1).

The documented recovery (autopilot/state/state_file.py): an unusable file is moved aside as
``<name>.corrupt-<UTC timestamp>`` with its bytes intact and the ``.bak`` is loaded
(data and generation); both unusable is a StateError naming both files; a newer schema
is a StateError that leaves the file where it is.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from autopilot.errors import StateError
from autopilot.state.journal import Journal
from autopilot.state.state_file import StateFile

CORRUPT_NAME = re.compile(r"^state\.json\.corrupt-\d{8}T\d{6}\.\d{6}Z$")


def _validate(data: dict) -> None:
    if not isinstance(data["items"], list):
        raise ValueError("items must be a list")


def _state(path: Path) -> StateFile:
    return StateFile(
        path,
        kind="registry",
        schema_version=2,
        default=lambda: {"items": []},
        validate=_validate,
    )


@pytest.fixture
def saved(tmp_path) -> StateFile:
    """Generation 1 in the .bak, generation 2 in the file."""
    state = _state(tmp_path / "state.json")
    with state.locked():
        state.load()
        state.save({"items": ["one"]})
        state.save({"items": ["one", "two"]})
    return state


def _payload(**overrides) -> bytes:
    payload = {"kind": "registry", "schema_version": 2, "generation": 7, "data": {"items": []}}
    payload.update(overrides)
    return json.dumps(payload).encode()


CORRUPTIONS = {
    "truncated": lambda good: good[: len(good) // 2],
    "garbage": lambda good: b"\x00\xff\xfe garbage \x80\x81" * 10,
    "empty": lambda good: b"",
    "whitespace": lambda good: b"  \n\t ",
    "not-utf8": lambda good: good.replace(b'"one"', b'"\xff\xfe"'),
    "list": lambda good: b"[1, 2, 3]",
    "missing-fields": lambda good: json.dumps({"kind": "registry", "data": {}}).encode(),
    "wrong-kind": lambda good: _payload(kind="portfolio"),
    "schema-not-int": lambda good: _payload(schema_version="2"),
    "generation-negative": lambda good: _payload(generation=-1),
    "generation-bool": lambda good: _payload(generation=True),
    "data-not-object": lambda good: _payload(data=["items"]),
    "validate-fails": lambda good: _payload(data={"items": "not a list"}),
    "validate-keyerror": lambda good: _payload(data={"other": 1}),
}


@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
def test_corrupt_file_is_moved_aside_and_backup_loaded(saved, name):
    folder = saved.path.parent
    bad = CORRUPTIONS[name](saved.path.read_bytes())
    saved.path.write_bytes(bad)
    backup_before = saved.backup.read_bytes()

    state = _state(saved.path)
    with state.locked():
        data = state.load()

    assert data == {"items": ["one"]}  # the .bak's data
    assert state.generation == 1  # and the .bak's generation
    moved = sorted(folder.glob("state.json.corrupt-*"))
    assert len(moved) == 1
    assert CORRUPT_NAME.match(moved[0].name), moved[0].name
    assert moved[0].read_bytes() == bad  # original bytes preserved for inspection
    assert not saved.path.exists()
    assert saved.backup.read_bytes() == backup_before

    # The next save writes generation 2 again, from the recovered data.
    with state.locked():
        assert state.load() == {"items": ["one"]}
        assert state.save({"items": ["one", "three"]}) == 2
    again = _state(saved.path)
    assert again.load() == {"items": ["one", "three"]}
    assert again.generation == 2


def test_newer_schema_is_refused_and_left_untouched(saved):
    newer = _payload(schema_version=3)
    saved.path.write_bytes(newer)
    listing = sorted(p.name for p in saved.path.parent.iterdir())

    with pytest.raises(StateError) as raised:
        _state(saved.path).load()

    message = str(raised.value)
    assert str(saved.path) in message
    assert "schema version 3" in message
    assert "upgrade" in message
    assert saved.path.read_bytes() == newer
    assert sorted(p.name for p in saved.path.parent.iterdir()) == listing  # nothing moved


def test_corrupt_file_and_corrupt_backup_raise_naming_both(saved):
    saved.path.write_bytes(b"{not json")
    saved.backup.write_bytes(b"")

    with pytest.raises(StateError) as raised:
        _state(saved.path).load()

    message = str(raised.value)
    assert str(saved.path) in message
    assert str(saved.backup) in message
    assert "not valid JSON" in message
    assert "empty file" in message
    moved = sorted(saved.path.parent.glob("state.json.corrupt-*"))
    assert [m.read_bytes() for m in moved] == [b"{not json"]
    assert saved.backup.read_bytes() == b""  # the backup is left for repair

    # It does not silently start from the default on the next attempt either.
    with pytest.raises(StateError) as again:
        _state(saved.path).load()
    assert "(missing)" in str(again.value)
    assert str(saved.backup) in str(again.value)


def test_main_missing_backup_present_is_recovered(saved):
    saved.path.unlink()
    state = _state(saved.path)
    assert state.load() == {"items": ["one"]}
    assert state.generation == 1
    assert not list(saved.path.parent.glob("state.json.corrupt-*"))


def test_main_missing_and_backup_corrupt_raises(saved):
    saved.path.unlink()
    saved.backup.write_bytes(b"[]")
    with pytest.raises(StateError) as raised:
        _state(saved.path).load()
    assert str(saved.path) in str(raised.value)
    assert str(saved.backup) in str(raised.value)


def test_neither_file_present_gives_default(tmp_path):
    state = _state(tmp_path / "state.json")
    assert state.load() == {"items": []}
    assert state.generation == 0
    assert list(tmp_path.iterdir()) == []  # loading writes nothing


def test_load_sweeps_leftover_temp_files(saved):
    folder = saved.path.parent
    leftovers = [
        folder / ".state.json.abc123.tmp",
        folder / ".state.json.bak.0123456789abcdef.tmp",
    ]
    for leftover in leftovers:
        leftover.write_bytes(b'{"half": ')
    unrelated = folder / ".other.json.abc123.tmp"
    unrelated.write_bytes(b"keep")

    state = _state(saved.path)
    with state.locked():
        assert state.load() == {"items": ["one", "two"]}
    assert state.generation == 2
    assert not any(leftover.exists() for leftover in leftovers)
    assert unrelated.read_bytes() == b"keep"  # only this file's temps are swept


# --------------------------------------------------------------------------- Journal


def test_journal_torn_last_line_is_ignored_and_next_append_starts_fresh(tmp_path):
    journal = Journal(tmp_path / "log.jsonl")
    journal.append({"seq": 1})
    journal.append({"seq": 2})
    with open(journal.path, "ab") as handle:
        handle.write(b'{"seq": 3, "torn')  # a crash in the middle of a record

    assert list(journal) == [{"seq": 1}, {"seq": 2}]

    journal.append({"seq": 4})
    assert list(journal) == [{"seq": 1}, {"seq": 2}, {"seq": 4}]
    lines = journal.path.read_bytes().split(b"\n")
    assert lines == [b'{"seq":1}', b'{"seq":2}', b'{"seq": 3, "torn', b'{"seq":4}', b""]


def test_journal_record_missing_only_its_newline(tmp_path):
    """A strict prefix of a JSON object never parses, so the only torn tail that does is a
    whole record that lost its newline. Until the next append it is ignored (unterminated);
    the next append terminates it, so from then on it is read, and the new record stays
    intact on its own line (nothing is glued)."""
    journal = Journal(tmp_path / "log.jsonl")
    journal.append({"seq": 1})
    with open(journal.path, "ab") as handle:
        handle.write(b'{"seq": 2}')
    assert list(journal) == [{"seq": 1}]
    journal.append({"seq": 3})
    assert list(journal) == [{"seq": 1}, {"seq": 2}, {"seq": 3}]


def test_journal_garbled_interior_lines_are_skipped(tmp_path):
    journal = Journal(tmp_path / "log.jsonl")
    journal.append({"seq": 1})
    with open(journal.path, "ab") as handle:
        handle.write(b"\x00\x00garbage\xff\n")
        handle.write(b"[1, 2]\n")  # JSON, but not a record
        handle.write(b"\n")
    journal.append({"seq": 2})
    assert list(journal) == [{"seq": 1}, {"seq": 2}]


def test_journal_missing_file_is_empty(tmp_path):
    assert list(Journal(tmp_path / "none.jsonl")) == []


def test_save_without_load_under_the_same_hold_is_refused(saved):
    state = _state(saved.path)
    with pytest.raises(StateError, match=r"save\(\) without load\(\) under the same hold"):
        state.save({"items": []})  # no lock at all
    state.load()
    with state.locked(), pytest.raises(StateError, match=r"without load\(\)"):
        state.save({"items": []})  # loaded, but before this hold: another writer may have won
    with state.locked():
        state.load()
        assert state.save({"items": ["ok"]}) == 3
    assert _state(saved.path).read() == {"items": ["ok"]}


def test_reading_a_corrupt_file_moves_nothing_and_writes_nothing(saved):
    saved.path.write_bytes(b"{garbage")
    leftover = saved.path.with_name(".state.json.crashed.tmp")
    leftover.write_bytes(b"partial")
    listing = {p.name: p.read_bytes() for p in saved.path.parent.iterdir()}
    reader = _state(saved.path)
    assert reader.read() == {"items": ["one"]}  # the backup, in memory
    assert reader.generation == 1
    assert {p.name: p.read_bytes() for p in saved.path.parent.iterdir()} == listing


def test_a_save_when_the_backup_is_a_link_of_the_main_file_leaves_no_temp(tmp_path):
    """A kill between the .bak step and the replace leaves both names on one file."""
    state = _state(tmp_path / "state.json")
    with state.locked():
        state.load()
        state.save({"items": ["one"]})
        state.save({"items": ["one", "two"]})
    state.backup.unlink()
    os.link(state.path, state.backup)  # what the kill left: .bak and main are one file
    with state.locked():
        state.load()
        state.save({"items": ["three"]})
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")) == []
    assert _state(state.path).read() == {"items": ["three"]}
    assert json.loads(state.backup.read_bytes())["data"] == {"items": ["one", "two"]}
