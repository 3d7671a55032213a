"""Let glibc reuse the large blocks a backtest frees, on a Dask worker.

A backtest allocates and frees a bars x securities array for every candidate. glibc serves
a large block from fresh pages of a new memory map unless its *dynamic* mmap threshold has
grown past the block's size, which it does by itself after the first such block is freed
(up to 32 MiB). Setting a malloc threshold in the environment switches that adaptation
off, and Dask's nanny sets ``MALLOC_TRIM_THRESHOLD_`` on every worker it starts: each
candidate's arrays then cost thousands of page faults, and a chunk ran 1.7 times slower on
a worker than in one process (``bench/bench_dask.py``). :func:`reuse_freed_blocks` sets
the thresholds to where glibc's own adaptation stops: maps from 32 MiB, and up to twice
that kept free at the top of each arena before it is returned to the system.
"""

from __future__ import annotations

import ctypes
import os
import sys

__all__ = ["reuse_freed_blocks"]

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # mallopt's parameters in <malloc.h>
_MMAP_THRESHOLD_MAX = 32 * 2**20  # glibc's DEFAULT_MMAP_THRESHOLD_MAX on 64-bit systems
_done = False


def reuse_freed_blocks() -> None:
    """In a Dask worker whose environment disabled it, restore glibc's reuse of large blocks.

    Once per process, on Linux, inside a Dask task only (a process of the user's own is
    left as its environment says), when ``MALLOC_TRIM_THRESHOLD_`` is set and no map
    threshold was chosen (``MALLOC_MMAP_THRESHOLD_`` or ``glibc.malloc.mmap_threshold``).
    """
    global _done
    if _done or not _in_a_dask_task():
        return
    _done = True
    environ = os.environ
    chosen = "MALLOC_MMAP_THRESHOLD_" in environ or "mmap_threshold" in environ.get(
        "GLIBC_TUNABLES", ""
    )
    if not sys.platform.startswith("linux") or "MALLOC_TRIM_THRESHOLD_" not in environ or chosen:
        return
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # another C library (musl): nothing to restore
        return
    mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX)
    mallopt(_M_TRIM_THRESHOLD, 2 * _MMAP_THRESHOLD_MAX)


def _in_a_dask_task() -> bool:
    distributed = sys.modules.get("distributed")  # never imported here: a worker has it
    if distributed is None:
        return False
    try:
        distributed.get_worker()
    except ValueError:
        return False
    return True
