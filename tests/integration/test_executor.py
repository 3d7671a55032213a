"""The backtest on every executor: this process, local processes, a real Dask LocalCluster.

The results must be the same bit for bit, a worker killed in the middle must change
nothing (the scheduler runs its tasks again), and a scheduler that cannot be reached, or
is killed in the middle, is a temporary failure naming its address that commits nothing.
The scheduler killed is a real ``dask scheduler`` process with a ``dask worker`` of its own.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from autopilot.config import ExecutorSettings
from autopilot.errors import ExecutorUnavailable
from autopilot.executor import Executor
from autopilot.strategies.backtest import backtest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bench"))
from bench_backtest import EMBEDDED_GRIDS, candidates_of, synthetic_close
from distributed import Client, LocalCluster


def free_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def dask_process(*args: str, **env: str) -> subprocess.Popen:
    """A quiet ``dask`` command (``scheduler``, ``worker``) in a process group of its own."""
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "dask"), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **env},
        start_new_session=True,
    )


def stop(process: subprocess.Popen) -> None:
    """SIGTERM to the process's group (a worker's own processes too), SIGKILL if it lingers."""
    for sent in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sent)
        try:
            process.wait(timeout=30)
            return
        except subprocess.TimeoutExpired:
            continue


def scheduler_process(port: int, **env: str) -> subprocess.Popen:
    return dask_process(
        "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard", **env
    )


@pytest.fixture
def own_scheduler():
    """A ``dask scheduler`` process and two one-thread ``dask worker`` processes, to kill.

    The scheduler gives up on a task after it killed two workers (Dask's default is four),
    so that no test waits on a nanny restarting a worker.
    """
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    scheduler = scheduler_process(port, DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES="1")
    worker = dask_process("worker", address, "--nworkers", "2", "--nthreads", "1", "--no-dashboard")
    with Client(address, timeout=30) as client:
        client.wait_for_workers(2, timeout=60)  # joblib would run here on one thread
    yield scheduler, address
    for process in (worker, scheduler):
        stop(process)


@pytest.fixture(scope="module")
def problem():
    return synthetic_close(60, 800), candidates_of(EMBEDDED_GRIDS, limit=120)


@pytest.fixture(scope="module")
def reference(problem):
    close, candidates = problem
    return backtest(close, candidates, chunk=8, keep_positions=[candidates[5].candidate_id])


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as running:
        yield running


def rerun(problem, reference, settings: ExecutorSettings, on_chunk=None):
    """The reference backtest again, on the executor of ``settings``."""
    close, candidates = problem
    with Executor(settings) as executor:
        return backtest(
            close,
            candidates,
            chunk=8,
            keep_positions=list(reference.positions),
            executor=executor,
            on_chunk=on_chunk,
        )


def same(a, b) -> None:
    assert a.candidate_ids == b.candidate_ids
    assert np.array_equal(a.returns, b.returns, equal_nan=True)
    assert a.positions.keys() == b.positions.keys()
    for key in a.positions:
        assert np.array_equal(a.positions[key], b.positions[key], equal_nan=True)


def test_local_processes_give_the_same_matrix_bit_for_bit(problem, reference):
    done = []
    got = rerun(problem, reference, ExecutorSettings(kind="local", workers=2), done.append)
    same(got, reference)
    assert done == list(range(8, 121, 8))  # progress counts finished chunks' candidates


def test_a_dask_cluster_gives_the_same_matrix_bit_for_bit(problem, reference, cluster):
    settings = ExecutorSettings(kind="dask", address=cluster.scheduler_address)
    same(rerun(problem, reference, settings), reference)


def test_a_worker_killed_in_the_middle_changes_nothing(problem, reference, cluster):
    settings = ExecutorSettings(kind="dask", address=cluster.scheduler_address)
    with Client(cluster) as client:
        pids = sorted(client.run(os.getpid).values())
    killed = []

    def kill_one(n: int) -> None:
        if n == 3 and not killed:  # three chunks in: kill -9 a worker process
            os.kill(pids[0], signal.SIGKILL)
            killed.append(pids[0])

    got = rerun(problem, reference, settings, lambda done: kill_one(done // 8))
    assert killed
    same(got, reference)


def test_an_unreachable_scheduler_is_a_temporary_failure_naming_it():
    address = f"tcp://127.0.0.1:{free_port()}"
    settings = ExecutorSettings(kind="dask", address=address)
    message = f"the dask scheduler at {address} cannot be"
    with pytest.raises(ExecutorUnavailable, match=message), Executor(settings):
        pass


def test_a_scheduler_without_a_worker_is_refused_naming_it():
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    scheduler = scheduler_process(port)
    try:
        with Client(address, timeout=30):  # the scheduler is up, with no worker
            pass
        settings = ExecutorSettings(kind="dask", address=address)
        message = f"the dask scheduler at {address} has no worker: start one with"
        with pytest.raises(ExecutorUnavailable, match=message), Executor(settings):
            pass
    finally:
        stop(scheduler)


def test_a_walk_on_a_local_cluster_ends_as_the_same_walk_here(cluster, tmp_path, capsys):
    import pandas as pd

    from autopilot import cli
    from tests.walks import state_of, walk_argv, write_small_env

    env = write_small_env(tmp_path)
    here, there = tmp_path / "here", tmp_path / "there"
    assert cli.main(walk_argv(env, here, "2022-06-01", "2022-07-01", "--init")) == 0
    spec = "dask://" + cluster.scheduler_address.removeprefix("tcp://")
    argv = walk_argv(env, there, "2022-06-01", "2022-07-01", "--init", "--executor", spec)
    assert cli.main(argv) == 0
    assert f"on dask scheduler {cluster.scheduler_address}" in capsys.readouterr().out
    assert state_of(there) == state_of(here)
    latest = "candidates_latest.parquet"
    pd.testing.assert_frame_equal(pd.read_parquet(there / latest), pd.read_parquet(here / latest))


def test_model_train_validates_on_the_environments_cluster_with_the_same_figures(cluster, tmp_path):
    import json

    from autopilot import cli
    from autopilot.meta_labeler import manifest_path
    from tests.walks import write_small_env

    env = write_small_env(tmp_path)
    on_cluster = tmp_path / "cluster.yaml"
    on_cluster.write_text(
        f"extends: {env}\nexecutor: {{kind: dask, address: {cluster.scheduler_address}}}\n"
    )
    figures = []
    for environment, out in ((env, "here.joblib"), (on_cluster, "there.joblib")):
        argv = ["model", "train", "--env", str(environment), "--as-of", "2022-06-03"]
        strategy = "tsmom(lookback=63, skip=0, long_only=true)"
        assert cli.main([*argv, "--strategy", strategy, "--out", str(tmp_path / out)]) == 0
        manifest = json.loads(manifest_path(tmp_path / out).read_text())
        figures.append(manifest["validation"])
    assert figures[0] == figures[1]
    assert (tmp_path / "here.joblib").read_bytes() == (tmp_path / "there.joblib").read_bytes()


def test_a_walk_with_an_unreachable_scheduler_exits_75_and_writes_nothing(tmp_path, capsys):
    from autopilot import cli
    from tests.walks import walk_argv, write_small_env

    env = write_small_env(tmp_path)
    port = free_port()
    state = tmp_path / "state"
    cli.main(["init", "--state-dir", str(state)])
    before = sorted(p.name for p in state.iterdir())
    argv = walk_argv(
        env, state, "2022-06-01", "2022-07-01", "--executor", f"dask://127.0.0.1:{port}"
    )
    assert cli.main(argv) == 75
    assert (
        f"the dask scheduler at tcp://127.0.0.1:{port} cannot be reached" in capsys.readouterr().err
    )
    assert sorted(p.name for p in state.iterdir()) == before


def test_a_scheduler_killed_in_the_middle_is_a_temporary_failure_naming_it(own_scheduler):
    scheduler, address = own_scheduler

    def kill_scheduler(done: int) -> None:
        if done == 1:  # six or seven sleeps of 0.3 s to go on two workers
            scheduler.kill()

    with Executor(ExecutorSettings(kind="dask", address=address)) as executor:
        message = f"the dask scheduler at {address} was lost during the tasks"
        with pytest.raises(ExecutorUnavailable, match=message):
            executor.map(time.sleep, [(0.3,)] * 8, on_done=kill_scheduler)
        # Between two maps, the client gives up reconnecting: the same failure.
        with pytest.raises(ExecutorUnavailable, match=message):
            executor.map(time.sleep, [(0.0,)])


def test_the_validation_folds_give_the_same_figures_on_every_executor(cluster):
    from sklearn.linear_model import LogisticRegression

    from autopilot.meta_labeler import MetaLabelingModel
    from tests.unit.test_meta_labeler import events

    features, labels, starts, ends, returns = events()
    everywhere = [
        ExecutorSettings(),
        ExecutorSettings(kind="local", workers=2),
        ExecutorSettings(kind="dask", address=cluster.scheduler_address),
    ]
    figures = []
    for settings in everywhere:
        with Executor(settings) as executor:
            model = MetaLabelingModel(LogisticRegression(), n_splits=4, embargo=5)
            fitted = model.fit(
                features, labels, starts=starts, ends=ends, returns=returns, executor=executor
            )
        figures.append(fitted.validation_)
    assert figures[0]["folds"] == 4
    assert figures[1] == figures[0] and figures[2] == figures[0]


def test_a_scheduler_lost_before_the_validation_folds_is_the_same_failure(own_scheduler):
    from autopilot.meta_labeler import MetaLabelingModel
    from tests.unit.test_meta_labeler import events

    scheduler, address = own_scheduler
    features, labels, starts, ends, _ = events()
    with Executor(ExecutorSettings(kind="dask", address=address)) as executor:
        scheduler.kill()
        scheduler.wait()
        message = f"the dask scheduler at {address} was lost during the tasks"
        with pytest.raises(ExecutorUnavailable, match=message):
            MetaLabelingModel(n_splits=3).fit(
                features, labels, starts=starts, ends=ends, executor=executor
            )


def test_a_tasks_own_error_is_raised_as_it_would_be_here(cluster):
    settings = ExecutorSettings(kind="dask", address=cluster.scheduler_address)
    with Executor(settings) as executor:
        with pytest.raises(ValueError, match="invalid literal"):
            executor.map(int, [("7",), ("seven",)])
        # An OSError of the task's own is not a lost scheduler.
        with pytest.raises(FileNotFoundError, match="no-such-file"):
            executor.map(os.stat, [("/no-such-file",)])
        # An argument that cannot be sent is the caller's error, not the cluster's.
        with pytest.raises(TypeError, match="serialize"):
            executor.map(id, [(threading.Lock(),)])
        assert executor.map(int, [("7",)]) == [7]  # and the cluster is still there


def test_a_one_thread_cluster_runs_the_tasks_on_its_worker():
    # joblib's dask backend would run them here: the map uses the client's futures.
    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as alone:
        settings = ExecutorSettings(kind="dask", address=alone.scheduler_address)
        with Executor(settings) as executor:
            ran_on = executor.map(os.getpid, [()] * 4)
        with Client(alone) as client:
            assert set(ran_on) == set(client.run(os.getpid).values())
    assert os.getpid() not in ran_on


def test_a_task_that_kills_every_worker_it_lands_on_is_named_not_retried_forever(own_scheduler):
    _, address = own_scheduler
    settings = ExecutorSettings(kind="dask", address=address)
    message = f"a task killed the workers of the dask cluster at {address}"
    with Executor(settings) as executor, pytest.raises(ExecutorUnavailable, match=message):
        executor.map(os._exit, [(3,)])


def test_a_walk_whose_scheduler_is_killed_exits_75_and_resumes_to_the_same_state(
    own_scheduler, tmp_path
):
    from autopilot import cli
    from tests.walks import state_of, walk_argv, write_small_env

    scheduler, address = own_scheduler
    env = write_small_env(tmp_path)
    walk = ("2022-06-01", "2022-08-01")
    here, there = tmp_path / "here", tmp_path / "there"
    assert cli.main(walk_argv(env, here, *walk, "--init")) == 0
    spec = "dask://" + address.removeprefix("tcp://")
    argv = walk_argv(env, there, *walk, "--init", "--executor", spec)
    committed = there / "engine_cycles.jsonl"

    def kill_after_the_first_cycle() -> None:
        while not (committed.exists() and committed.read_text().count("\n") >= 1):
            time.sleep(0.01)
        scheduler.kill()

    killer = threading.Thread(target=kill_after_the_first_cycle, daemon=True)
    killer.start()
    failed = subprocess.run(
        [sys.executable, "-m", "autopilot.cli", *argv], capture_output=True, text=True, timeout=300
    )
    killer.join(timeout=60)
    assert failed.returncode == 75, failed.stderr
    # One line naming the scheduler: distributed's reconnect tracebacks stay out of it.
    assert failed.stderr.strip().splitlines() == [
        line for line in failed.stderr.strip().splitlines() if line.startswith("error: ")
    ]
    assert f"the dask scheduler at {address} was lost" in failed.stderr
    cycles = committed.read_text().count("\n")
    assert 1 <= cycles < len(here.joinpath("engine_cycles.jsonl").read_text().splitlines())
    # Resumed here, the walk ends as the walk that never met a cluster.
    assert cli.main(walk_argv(env, there, *walk)) == 0
    assert state_of(there) == state_of(here)


def on_a_terminal(argv: list[str]) -> str:
    """What ``autopilot`` writes to a terminal (a pseudo-terminal: bars are drawn)."""
    import fcntl
    import pty
    import struct
    import termios

    main, child = pty.openpty()
    # 40 rows of 160 columns: a terminal with no size gets bars of no width.
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-m", "autopilot.cli", *argv], stdout=child, stderr=child
    )
    os.close(child)
    shown = bytearray()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        ready, _, _ = select.select([main], [], [], 1.0)
        if not ready:
            continue
        try:
            block = os.read(main, 65536)
        except OSError:  # the child closed the terminal
            break
        if not block:
            break
        shown += block
    os.close(main)
    process.kill()  # a no-op once it has exited; a hung one fails below
    assert process.wait(timeout=30) == 0, shown.decode(errors="replace")
    return shown.decode(errors="replace")


def test_the_walks_bar_counts_each_cycles_chunks_on_a_cluster(cluster, tmp_path):
    from tests.walks import walk_argv

    spec = "dask://" + cluster.scheduler_address.removeprefix("tcp://")
    argv = walk_argv(
        Path("dev"), tmp_path / "state", "2022-06-01", "2022-06-10", "--init", "--executor", spec
    )
    shown = on_a_terminal(argv)
    # The dev environment's 248 candidates in chunks of 64, counted as each one finishes.
    for done in (64, 128, 192, 248):
        assert f"{done}/248" in shown
    assert "2/2" in shown  # the cycles' bar above it


def test_a_walk_with_nothing_left_to_run_needs_no_scheduler(tmp_path, capsys):
    from autopilot import cli
    from tests.walks import walk_argv, write_small_env

    env = write_small_env(tmp_path)
    state = tmp_path / "state"
    walk = ("2022-06-01", "2022-06-10")
    assert cli.main(walk_argv(env, state, *walk, "--init")) == 0
    unreachable = f"dask://127.0.0.1:{free_port()}"
    assert cli.main(walk_argv(env, state, *walk, "--executor", unreachable)) == 0
    assert "nothing to run: the state folder is at 2022-06-10" in capsys.readouterr().out
