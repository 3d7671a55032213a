"""Timing helpers shared by the state and paper benchmarks."""

from __future__ import annotations

import gc
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
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


def save_results(path: Path, results: dict[str, Any]) -> None:
    """Write a run's figures to ``path`` (JSON, under build/) and say where."""
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(results, indent=1))
    print(f"\nresults: {path}")


def machine(
    load_start: tuple[float, float, float], load_end: tuple[float, float, float], **extra: Any
) -> dict[str, Any]:
    """What a results file says of the machine: Python, platform, CPUs, load at start and end."""
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_average_start": load_start,
        "load_average_end": load_end,
        **extra,
    }
