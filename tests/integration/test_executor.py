"""The backtest on every executor: this process, local processes, a real Dask LocalCluster.

The results must be the same bit for bit, a worker killed in the middle must change
nothing (the scheduler runs its tasks again), and a scheduler that cannot be reached is a
temporary failure naming its address.
"""

from __future__ import annotations

import os
import signal
import socket
import sys

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
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as running:
        yield running


def same(a, b) -> None:
    assert a.candidate_ids == b.candidate_ids
    assert np.array_equal(a.returns, b.returns, equal_nan=True)
    assert a.positions.keys() == b.positions.keys()
    for key in a.positions:
        assert np.array_equal(a.positions[key], b.positions[key], equal_nan=True)


def test_local_processes_give_the_same_matrix_bit_for_bit(problem, reference):
    close, candidates = problem
    done = []
    with Executor(ExecutorSettings(kind="local", workers=2)) as executor:
        got = backtest(
            close,
            candidates,
            chunk=8,
            keep_positions=list(reference.positions),
            executor=executor,
            on_chunk=done.append,
        )
    same(got, reference)
    assert done == list(range(8, 121, 8))  # progress counts finished chunks' candidates


def test_a_dask_cluster_gives_the_same_matrix_bit_for_bit(problem, reference, cluster):
    close, candidates = problem
    settings = ExecutorSettings(kind="dask", address=cluster.scheduler_address)
    with Executor(settings) as executor:
        got = backtest(
            close, candidates, chunk=8, keep_positions=list(reference.positions), executor=executor
        )
    same(got, reference)


def test_a_worker_killed_in_the_middle_changes_nothing(problem, reference, cluster):
    close, candidates = problem
    settings = ExecutorSettings(kind="dask", address=cluster.scheduler_address)
    with Client(cluster) as client:
        pids = sorted(client.run(os.getpid).values())
    killed = []

    def kill_one(n: int) -> None:
        if n == 3 and not killed:  # three chunks in: kill -9 a worker process
            os.kill(pids[0], signal.SIGKILL)
            killed.append(pids[0])

    with Executor(settings) as executor:
        got = backtest(
            close,
            candidates,
            chunk=8,
            keep_positions=list(reference.positions),
            executor=executor,
            on_chunk=lambda done: kill_one(done // 8),
        )
    assert killed
    same(got, reference)


def test_an_unreachable_scheduler_is_a_temporary_failure_naming_it():
    address = f"tcp://127.0.0.1:{free_port()}"
    settings = ExecutorSettings(kind="dask", address=address)
    message = f"the dask scheduler at {address} cannot be"
    with pytest.raises(ExecutorUnavailable, match=message), Executor(settings):
        pass


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
