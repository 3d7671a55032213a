"""The registry across real processes (seed T1 + T5): concurrent cycles and kill -9 at random.

* Concurrency: four processes commit 50 cycles each on one state folder, each taking the
  day after the last committed cycle and retrying when another process committed that day
  first. The folder's lock must serialise them: cycles exactly 1..200 with increasing
  as-of dates, and replaying the decisions of the cycles' verdict files through
  :func:`~autopilot.registry.apply_cycle` gives the saved state (no lost update).
* Crash loop: a worker runs registry cycles in a tight loop and is killed with SIGKILL at
  seeded random instants (``AUTOPILOT_REGISTRY_KILLS`` times, default 100). After each kill
  the registry reads (without writing) as the deterministic replay of every committed
  cycle: every complete audit record, exactly once each, even when the kill came between
  a record and the snapshot save (the snapshot is then behind); the last committed cycle's
  verdict file holds its decisions, and at the end one strategy's whole history is the
  replay's.

The worker is ``registry_worker.py`` next to this file.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from autopilot.registry import StrategyRecord, StrategyRegistry, apply_cycle
from autopilot.sdk.verdicts import Decision
from autopilot.state.cycles import StateFolder
from autopilot.state.journal import Journal


def _load_worker():
    path = Path(__file__).with_name("registry_worker.py")
    spec = importlib.util.spec_from_file_location("registry_worker", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


worker = _load_worker()
SETTINGS = worker.SETTINGS
GRACE = SETTINGS.promotion_grace_cycles
MAX_ACTIVE = SETTINGS.max_active


def _temp_files(state: Path) -> list[Path]:
    """Temp files of interrupted writes, the verdict files' folder included."""
    return [p for p in state.rglob(".*.tmp") if p.is_file()]


def _listing(state: Path) -> dict[str, bytes]:
    return {str(p.relative_to(state)): p.read_bytes() for p in state.rglob("*") if p.is_file()}


def _check_invariants(active: dict[str, StrategyRecord]) -> None:
    assert len(active) <= MAX_ACTIVE
    for record in active.values():
        assert 0 <= record.consecutive_failures < GRACE, record


def _read_state_file(path: Path) -> dict:
    payload = json.loads(path.read_bytes())
    assert payload["kind"] == "registry" and payload["schema_version"] == 1
    for sid, record in payload["data"]["strategies"].items():
        assert StrategyRecord.from_dict(record).strategy_id == sid
    return payload


def test_four_processes_fifty_cycles_each_are_serialised(tmp_path):
    state = tmp_path / "state"
    StateFolder.create(state)
    go = tmp_path / "go"
    command = [sys.executable, str(worker.WORKER_PATH), "concurrent", str(state)]
    processes = []
    for w in range(4):
        with open(tmp_path / f"worker{w}.log", "w") as log:
            processes.append(
                subprocess.Popen(
                    [*command, str(w), "50", str(go)],
                    stdout=subprocess.PIPE,
                    stderr=log,
                    text=True,
                )
            )
    try:
        for process in processes:
            assert process.stdout.readline().strip() == "ready"
        go.touch()  # all four start their cycles together
        codes = [process.wait(timeout=120) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
            process.stdout.close()
    logs = {w: (tmp_path / f"worker{w}.log").read_text() for w in range(4)}
    assert codes == [0, 0, 0, 0], logs

    registry = StrategyRegistry(state, SETTINGS)
    active, last = registry.snapshot()
    assert last.cycle == 200
    _check_invariants(active)

    records = list(Journal(state / "registry_audit.jsonl"))
    assert [r["cycle"] for r in records] == list(range(1, 201))
    assert [r["as_of"] for r in records] == [worker.as_of(k).isoformat() for k in range(1, 201)]
    for record in records:
        record.update(record.pop("context"))
    # Each worker's cycles are in its own order, and they interleaved (a real contention).
    by_worker = {w: [r for r in records if r["worker"] == w] for w in range(4)}
    for w, own in by_worker.items():
        assert [r["i"] for r in own] == list(range(50)), w
        assert [r["cycle"] for r in own] == sorted(r["cycle"] for r in own)

    # Replaying the journal in cycle order reproduces every change and the saved state.
    replayed: dict[str, StrategyRecord] = {}
    states = {0: replayed}
    for record in sorted(records, key=lambda r: r["cycle"]):
        decisions = [Decision.from_dict(d) for d in registry.cycle_decisions(record["cycle"])]
        assert decisions == worker.decision_set(record["worker"] * 1000 + record["i"])
        replayed, changes = apply_cycle(
            replayed,
            decisions,
            cycle=record["cycle"],
            now=record["time"],
            grace_cycles=GRACE,
            max_active=MAX_ACTIVE,
            score=worker.score,
        )
        assert record["changes"] == [c.to_dict() for c in changes], record["cycle"]
        states[record["cycle"]] = replayed
    assert active == replayed

    main = _read_state_file(state / "registry.json")
    backup = _read_state_file(state / "registry.json.bak")
    assert (main["generation"], backup["generation"]) == (200, 199)
    assert {
        sid: StrategyRecord.from_dict(r) for sid, r in backup["data"]["strategies"].items()
    } == states[199]
    assert _temp_files(state) == []


class _CrashLoopChecker:
    """Checks the state folder after each kill against the deterministic replay."""

    def __init__(self, state: Path) -> None:
        self.state = state
        self.states: list[dict[str, StrategyRecord]] = [{}]
        self.changes: list[list[dict]] = [[]]
        self.generation = 0
        self.stats: Counter[str] = Counter()

    def _replay_to(self, generation: int) -> None:
        while len(self.states) <= generation:
            k = len(self.states)
            active, changes = worker.replay_cycle(self.states[-1], k)
            self.states.append(active)
            self.changes.append([c.to_dict() for c in changes])

    def check(self) -> None:
        state = self.state
        if _temp_files(state):
            self.stats["temp files left by an interrupted write"] += 1
        audit = state / "registry_audit.jsonl"
        if audit.exists() and audit.stat().st_size and not audit.read_bytes().endswith(b"\n"):
            self.stats["torn audit line"] += 1
        main_generation = None
        if (state / "registry.json").exists():
            # os.replace is atomic: the main file is always a complete version.
            main_generation = _read_state_file(state / "registry.json")["generation"]

        before = _listing(state)
        registry = StrategyRegistry(state, SETTINGS)
        active, last = registry.snapshot()
        generation = last.cycle
        if generation:
            # The last committed cycle's verdicts, read back from its file, are its decisions.
            expected = [d.to_dict() for d in worker.decision_set(generation)]
            assert registry.cycle_decisions(generation) == expected, generation
        assert _listing(state) == before, "reading wrote to the state folder"
        # A kill between a cycle's verdict file and its record leaves a file no committed
        # record names: never read, and replaced when that cycle number runs again.
        if (state / "registry_verdicts" / f"cycle-{generation + 1:06d}.parquet").exists():
            self.stats["verdict file of an uncommitted cycle (not read)"] += 1
        records = list(Journal(audit))
        # Every complete record is a committed cycle, each exactly once, none lost.
        assert [r["cycle"] for r in records] == list(range(1, generation + 1))
        # Each kill between a commit record and its snapshot save leaves the snapshot behind
        # (kills in a row can leave it several cycles behind); the records are replayed.
        assert (main_generation or 0) <= generation
        if (main_generation or 0) < generation:
            self.stats["snapshot behind its commit records (replayed)"] += 1
        assert generation >= self.generation, "a committed cycle was lost"
        if generation == self.generation:
            self.stats["kills with no new cycle"] += 1
        self.generation = generation
        self._replay_to(generation)
        assert active == self.states[generation], generation
        _check_invariants(active)
        for record in records[-30:]:
            k = record["cycle"]
            assert record["time"] == worker.cycle_time(k).isoformat()
            assert record["as_of"] == worker.as_of(k).isoformat()
            assert record["changes"] == self.changes[k], k

    def check_history(self, strategy_id: str) -> None:
        """The strategy's whole story equals the one the replay of every cycle tells."""
        expected = []
        for k in range(1, self.generation + 1):
            decision = next(
                (d.to_dict() for d in worker.decision_set(k) if d.strategy_id == strategy_id),
                None,
            )
            change = next((c for c in self.changes[k] if c["strategy_id"] == strategy_id), None)
            if decision is not None or change is not None:
                expected.append(
                    {
                        "cycle": k,
                        "as_of": worker.as_of(k).isoformat(),
                        "time": worker.cycle_time(k).isoformat(),
                        "environment": None,
                        "decision": decision,
                        "change": change,
                    }
                )
        assert StrategyRegistry(self.state, SETTINGS).history(strategy_id) == expected


def test_registry_survives_kill_9_at_random_instants(tmp_path):
    kills = int(os.environ.get("AUTOPILOT_REGISTRY_KILLS", "100"))
    rng = random.Random(20250301)
    state = tmp_path / "state"
    StateFolder.create(state)
    errors = tmp_path / "child_errors.txt"
    checker = _CrashLoopChecker(state)
    with open(tmp_path / "server.log", "w") as log:
        server = subprocess.Popen(
            [sys.executable, str(worker.WORKER_PATH), "crashloop", str(state), str(errors)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
    started = time.monotonic()
    try:
        assert server.stdout.readline().strip() == "ready"
        for _ in range(kills):
            server.stdin.write("fork\n")
            server.stdin.flush()
            pid = int(server.stdout.readline())
            time.sleep(rng.uniform(0.0, 0.04))
            # If the child died by itself, the status below says why.
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            status = int(server.stdout.readline().split()[1])
            child_errors = errors.read_text() if errors.exists() else ""
            assert os.WIFSIGNALED(status), child_errors
            assert os.WTERMSIG(status) == signal.SIGKILL, child_errors
            checker.check()
        server.stdin.write("quit\n")
        server.stdin.flush()
        assert server.wait(timeout=30) == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        server.stdin.close()
        server.stdout.close()
    elapsed = time.monotonic() - started
    assert checker.generation > 0
    checker.check_history("s0")
    print(
        f"\n{kills} kills in {elapsed:.1f} s, final generation {checker.generation}, "
        + ", ".join(f"{name}: {count}" for name, count in sorted(checker.stats.items()))
    )
