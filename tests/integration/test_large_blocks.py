"""glibc's reuse of large freed blocks, restored on a real Dask worker, nowhere else.

Dask's nanny starts its workers with ``MALLOC_TRIM_THRESHOLD_`` set, which switches off
glibc's reuse of large freed blocks. Each measurement allocates, fills and frees a 16 MiB
array 30 times and counts the calling thread's page faults: a block from a fresh memory
map faults at least once per 2 MiB (per page, or per huge page where numpy asks for them);
a reused block not at all.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys

import numpy as np
from distributed import Client, LocalCluster

from autopilot.strategies._large_blocks import reuse_freed_blocks

ROUNDS = 30
FRESH = ROUNDS * 16 // 2  # the fewest faults of 30 fresh 16 MiB maps


def faults_of_large_blocks(restore: bool) -> int:
    """Page faults of this thread over 30 large blocks (after ``reuse_freed_blocks``)."""
    if restore:
        reuse_freed_blocks()
    for _ in range(2):  # warm: the first blocks come from fresh pages in any case
        np.ones(2 * 2**20)
    before = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt
    for _ in range(ROUNDS):
        np.ones(2 * 2**20)  # 16 MiB, written, then freed
    return resource.getrusage(resource.RUSAGE_THREAD).ru_minflt - before


def on_a_worker(**env: str) -> list[int]:
    """The faults in a task on a one-worker LocalCluster: before the restore, then after."""
    with (
        LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=":0", env=env) as one,
        Client(one) as client,
    ):
        return [
            client.submit(faults_of_large_blocks, restore, pure=False).result()
            for restore in (False, True)
        ]


def test_a_dask_worker_maps_every_large_block_afresh_until_reuse_is_restored():
    before, after = on_a_worker()
    assert before >= FRESH  # what every chunk met on a worker
    assert after < ROUNDS  # fewer than one a round


def test_a_map_threshold_someone_chose_for_the_workers_is_left_alone():
    before, after = on_a_worker(MALLOC_MMAP_THRESHOLD_="131072")
    assert before >= FRESH and after >= FRESH


def test_a_process_of_ones_own_is_left_as_its_environment_says():
    script = (
        "from tests.integration.test_large_blocks import faults_of_large_blocks\n"
        "print(faults_of_large_blocks(True))"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    for extra, fresh in (({"MALLOC_TRIM_THRESHOLD_": "65536"}, True), ({}, False)):
        out = subprocess.run(
            [sys.executable, "-c", script], env={**env, **extra}, capture_output=True, text=True
        )
        assert out.returncode == 0, out.stderr
        assert (int(out.stdout) >= FRESH) if fresh else (int(out.stdout) < ROUNDS)
