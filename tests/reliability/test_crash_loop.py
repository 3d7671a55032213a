"""kill -9 at random instants (seed T1: "a kill at any instant leaves the old or the new state").

A worker (``crash_worker.py``) loops load → increment → save → journal append under the
state lock; the test starts it, waits until it is ready, sleeps a seeded random 0–30 ms,
and sends SIGKILL. After every kill it checks, with the worker dead:

* the main state file by itself is complete, valid JSON with a matching checksum (an
  atomic rename never exposes a partial file, so no recovery from ``.bak`` is needed);
* ``StateFile.load()`` succeeds, sweeps the temp files the killed writer left, returns a
  payload whose checksum matches, with ``generation == counter``;
* the counter never goes backwards and equals the last value the worker reported as
  committed, or the next one (killed after the save but before reporting it);
* ``.bak`` holds the previous or the same version;
* the journal iterates without error, its counters strictly increase, and since the
  previous kill it gained every counter the worker saved, except perhaps the last one
  (killed between the save and the append; that value then never reaches the journal).

The number of kills is ``AUTOPILOT_CRASH_KILLS`` (default 200), split over two lanes
(independent folders, one worker each) that run side by side.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from autopilot._atomic_write import backup_path
from autopilot.state.journal import Journal

from .crash_worker import checksum, make_state

WORKER = Path(__file__).with_name("crash_worker.py")
KILLS = int(os.environ.get("AUTOPILOT_CRASH_KILLS", "200"))
LANES = 2
SEED = 20240917
MAX_SLEEP = 0.030


def _counter_of(path: Path) -> int:
    """Counter of a state file read on its own (no recovery); fails if it is unusable."""
    payload = json.loads(path.read_bytes())
    data = payload["data"]
    assert payload["kind"] == "counter"
    assert payload["generation"] == data["counter"]
    if data["counter"]:
        assert data["check"] == checksum(data["counter"], data["blob"])
    return data["counter"]


def _lane(folder: Path, kills: int, seed: int) -> Counter:
    rng = random.Random(seed)
    state_path = folder / "state.json"
    journal_path = folder / "journal.jsonl"
    stats: Counter = Counter()
    last = 0  # counter verified after the previous kill
    journal_seen = 0  # journal records read after the previous kill
    for kill in range(kills):
        stderr_path = folder / "worker.stderr"
        with open(stderr_path, "wb") as stderr:
            proc = subprocess.Popen(
                [sys.executable, str(WORKER), str(state_path), str(journal_path), str(kill)],
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
            )
            try:
                first = proc.stdout.readline()
                assert first == "ready\n", (first, stderr_path.read_text())
                time.sleep(rng.uniform(0.0, MAX_SLEEP))
                proc.send_signal(signal.SIGKILL)
                rest = proc.stdout.read()
            finally:
                proc.kill()
                proc.wait()
                proc.stdout.close()
        assert proc.returncode == -signal.SIGKILL, stderr_path.read_text()
        stats["kills"] += 1

        reported = [int(line) for line in rest.split()]
        assert reported == list(range(last + 1, last + 1 + len(reported))), (last, reported)
        confirmed = reported[-1] if reported else last
        stats["confirmed_saves"] += len(reported)

        # What the kill left on disk, before anything repairs it.
        temps = sorted(folder.glob(".state.json*.tmp"))
        stats["kills_leaving_temp"] += bool(temps)
        assert state_path.exists() or last == 0, f"kill {kill}: state file missing"
        on_disk = _counter_of(state_path) if state_path.exists() else 0
        corrupt_before = set(folder.glob("state.json.corrupt-*"))

        state = make_state(state_path)
        with state.locked():
            data = state.load()
        recovered = set(folder.glob("state.json.corrupt-*")) - corrupt_before
        stats["recoveries_from_bak"] += len(recovered)
        assert not recovered, f"kill {kill}: main file was unusable, recovered from .bak"
        assert not list(folder.glob(".state.json*.tmp")), "load() did not sweep temps"

        counter = data["counter"]
        assert counter == on_disk
        assert state.generation == counter
        if counter:
            assert data["check"] == checksum(counter, data["blob"])
        assert counter >= last, f"kill {kill}: counter went back from {last} to {counter}"
        assert counter in (confirmed, confirmed + 1), (kill, confirmed, counter)
        stats["killed_after_save_before_report"] += counter == confirmed + 1

        if backup_path(state_path).exists():
            backed_up = _counter_of(backup_path(state_path))
            assert backed_up in (counter - 1, counter), (counter, backed_up)
            stats["kills_between_bak_and_replace"] += backed_up == counter

        journal_raw = journal_path.read_bytes() if journal_path.exists() else b""
        stats["torn_journal_tails"] += bool(journal_raw) and not journal_raw.endswith(b"\n")
        counters = [record["counter"] for record in Journal(journal_path)]
        assert all(a < b for a, b in itertools.pairwise(counters)), counters[-5:]
        # This run appended every counter it saved, except perhaps the very last one.
        appended = counters[journal_seen:]
        complete = list(range(last + 1, counter + 1))
        assert appended in (complete, complete[:-1]), (last, counter, appended[-5:])
        stats["kills_between_save_and_journal"] += bool(complete) and appended == complete[:-1]
        journal_seen = len(counters)

        last = counter
    stats["final_counter"] = last
    stats["journal_records"] = len(list(Journal(journal_path)))
    return stats


def test_random_sigkill_never_loses_or_tears_state(tmp_path):
    shares = [KILLS // LANES + (lane < KILLS % LANES) for lane in range(LANES)]
    folders = []
    for lane in range(LANES):
        folder = tmp_path / f"lane{lane}"
        folder.mkdir()
        folders.append(folder)
    started = time.monotonic()
    with ThreadPoolExecutor(LANES) as pool:
        futures = [
            pool.submit(_lane, folder, share, SEED + lane)
            for lane, (folder, share) in enumerate(zip(folders, shares, strict=True))
        ]
        results = [future.result() for future in futures]
    keys = sorted(set().union(*results))
    total = {key: sum(r[key] for r in results) for key in keys}
    print(f"\ncrash loop ({time.monotonic() - started:.1f} s): {total}")

    assert total["kills"] == KILLS
    assert total["recoveries_from_bak"] == 0
    assert total["final_counter"] > 0  # the workers made progress between kills
