"""Timing helpers shared by the state and paper benchmarks."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from typing import Any


def timed(fn: Callable[[], object]) -> float:
    """Seconds one call of ``fn`` takes, after a garbage collection."""
    gc.collect()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def summary(samples: list[float]) -> dict[str, Any]:
    """Median, 10th and 90th percentile of timing samples (seconds)."""
    ordered = sorted(samples)
    return {
        "median_s": statistics.median(samples),
        "p10_s": ordered[len(ordered) // 10],
        "p90_s": ordered[(len(ordered) * 9) // 10],
        "samples_s": samples,
    }


def ms(seconds: float) -> str:
    """Seconds as a right-aligned millisecond figure."""
    return f"{seconds * 1e3:9.3f} ms"
