"""``autopilot run`` under kill -9 at any instant ends exactly where an uninterrupted run does.

A fork server (``engine_worker.py``) forks children that run the small walk with
``autopilot run --init`` on one state folder; the test kills each child with SIGKILL after
a seeded random delay (from inside the start-up to several cycles in), and forks the next
on the same folder, until a child finishes the walk. Kills land in the registry's commit,
the plan, the paper cycle, the calibrator, a model's save and its pointer, the engine's
record and every gap between them. After every kill a fresh reader (which writes nothing)
sees committed cycles only: the engine's records are the first of the reference run's, in
order. When a child finishes, every state file (registry, portfolio, calibrator, engine
state, model pointer and every log; timestamps aside) equals the reference run's, and the
next round starts in a new folder.

The number of kills is ``AUTOPILOT_ENGINE_KILLS`` (default 100).
"""

from __future__ import annotations

import os
import random
import signal
from pathlib import Path

from autopilot import cli
from autopilot.state.journal import Journal
from tests.fork_server import ForkServerProcess
from tests.walks import state_of, walk_argv, without_times, write_small_env

from . import engine_worker as worker

KILLS = int(os.environ.get("AUTOPILOT_ENGINE_KILLS", "100"))
SEED = 20261129
MAX_SLEEP = 1.5  # start-up about 0.5 s, a cycle 0.2-0.4 s, a training about 1 s


class ForkServer(ForkServerProcess):
    """The worker process; ``run_child_for(seconds)`` forks a child and SIGKILLs it then."""

    def __init__(self, env: Path, folder_file: Path, scratch: Path) -> None:
        super().__init__([str(worker.WORKER_PATH), str(env), str(folder_file)], scratch)

    def finished_within(self, seconds: float) -> bool:
        """Fork a child, kill it after ``seconds``; True if it finished the walk first."""
        status = self.run_child_for(seconds)
        if os.WIFEXITED(status):
            assert os.WEXITSTATUS(status) == 0, (os.WEXITSTATUS(status), self.child_errors())
            return True
        assert os.WTERMSIG(status) == signal.SIGKILL, self.child_errors()
        return False


def committed_records(folder: Path) -> list[dict]:
    path = folder / "engine_cycles.jsonl"
    return without_times(list(Journal(path))) if path.exists() else []


def test_kill_9_anywhere_in_a_walk_ends_where_an_uninterrupted_walk_does(tmp_path):
    env = write_small_env(tmp_path)
    reference = tmp_path / "reference"
    assert cli.main(walk_argv(env, reference, worker.START, worker.END, "--init")) == 0
    expected = state_of(reference)
    expected_records = committed_records(reference)
    folder_file = tmp_path / "folder.txt"
    server = ForkServer(env, folder_file, tmp_path)
    rng = random.Random(SEED)
    kills = rounds = 0
    try:
        while kills < KILLS:
            folder = tmp_path / f"round{rounds}"
            folder_file.write_text(str(folder))
            while not server.finished_within(rng.uniform(0.0, MAX_SLEEP)):
                kills += 1
                seen = committed_records(folder)
                assert seen == expected_records[: len(seen)], (rounds, kills)
            assert state_of(folder) == expected, (rounds, kills)
            rounds += 1
    finally:
        server.close()
    print(f"\n{kills} kills over {rounds} interrupted walks, each ended as the reference")
