"""End-to-end benchmark of ``autopilot gates check`` on large files, beside its raw floors.

Figures (medians over repeats; the compared runs alternate so machine load hits all alike):

* floor, read: ``pyarrow.parquet.read_table`` of the same wide file, in a warm process;
* floor, write: ``json.dumps`` of the same decision records (read back from the command's
  own output), compact, as the C encoder writes them;
* ``gates check FILE --env dev --format json > out.json`` as a user runs it: a fresh
  process, so interpreter start, imports and numba's cache load are included; wall time
  and peak resident memory (``getrusage`` of a small parent process);
* the same on the long layout of the same returns (``strategy_id, date, return``);
* start-up: the same command on a one-candidate file, the fixed cost of any run
  (interpreter, pandas, numba and pyarrow imports, plugin loading, numba's cache load),
  which no file size changes; the wide run less this is what the file itself costs;
* floor, start-up: a fresh process that only imports pandas, pyarrow and numba and calls
  one cached numba function: what the dependencies cost any command built on them (numba
  imports scipy, when installed, to look for BLAS);
* the input matrix's size, against which peak memory is compared.

The data are seeded synthetic returns (1 % daily volatility) on business days from 2012;
10,000 candidates x 2,520 bars by default. The scratch files go under ``build/`` and are
removed afterwards. Results go to stdout and ``build/bench_files_results.json``; these are
figures, never pass/fail tests.

Run ``.venv/bin/python bench/bench_files.py [--candidates N] [--bars T] [--repeats R]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from _timing import machine  # bench/ is the script folder

ROOT = Path(__file__).resolve().parents[1]
RESULTS_PATH = ROOT / "build" / "bench_files_results.json"
AUTOPILOT = Path(sys.executable).with_name("autopilot")
SEED = 20261129
TARGET_OVER_FLOORS = 3.0
TARGET_MEMORY_OVER_MATRIX = 3.0
TARGET_LONG_OVER_WIDE = 2.0


def write_tiny(folder: Path) -> Path:
    """One candidate over a year of bars: a run of it costs the command's start-up."""
    rng = np.random.default_rng(SEED)
    dates = pd.bdate_range("2012-01-02", periods=252).to_numpy()
    tiny = folder / "tiny.parquet"
    pq.write_table(pa.table({"date": dates, "s0": rng.normal(0.0003, 0.01, 252)}), tiny)
    return tiny


def write_files(folder: Path, n_candidates: int, n_bars: int) -> tuple[Path, Path]:
    """The same seeded returns as a wide and as a long Parquet file."""
    rng = np.random.default_rng(SEED)
    returns = rng.normal(0.0003, 0.01, size=(n_bars, n_candidates))
    dates = pd.bdate_range("2012-01-02", periods=n_bars).to_numpy()
    ids = [f"s{j:05d}" for j in range(n_candidates)]
    wide = folder / "wide.parquet"
    columns = {"date": pa.array(dates)} | {ids[j]: pa.array(returns[:, j]) for j in range(len(ids))}
    pq.write_table(pa.table(columns), wide)
    long = folder / "long.parquet"
    table = pa.table(
        {
            "strategy_id": pa.DictionaryArray.from_arrays(
                np.repeat(np.arange(n_candidates, dtype=np.int32), n_bars), pa.array(ids)
            ),
            "date": pa.array(np.tile(dates, n_candidates)),
            "return": pa.array(returns.T.ravel()),
        }
    )
    pq.write_table(table, long)
    return wide, long


# Runs the command and reports its wall time and peak RSS. A small process of its own: a
# child forked from this benchmark, which holds the records, would count its parent's
# pages in its peak.
_MEASURE = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run(sys.argv[2:], stdout=open(sys.argv[1], "wb"), stderr=subprocess.PIPE)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
print(json.dumps([done.returncode, seconds, peak, done.stderr.decode()[-2000:]]))
"""


# The dependencies' own start-up: their imports and numba's load of a cached function.
_IMPORTS_ONLY = """
import numba, numpy, pandas, pyarrow.parquet

@numba.njit(cache=True)
def total(x):
    return x.sum()

total(numpy.zeros(3))
"""


def floor_imports(script: Path) -> float:
    """Wall seconds of a fresh process running ``script`` (:data:`_IMPORTS_ONLY`)."""
    start = time.perf_counter()
    subprocess.run([sys.executable, str(script)], check=True)
    return time.perf_counter() - start


def run_check(path: Path, out: Path) -> tuple[float, int]:
    """Wall seconds and peak RSS bytes of one ``gates check --format json`` process."""
    command = [str(AUTOPILOT), "gates", "check", str(path), "--env", "dev", "--format", "json"]
    measured = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(out), *command],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    code, seconds, peak, stderr = json.loads(measured.stdout)
    if code != 0:
        raise SystemExit(f"gates check {path} exited {code}: {stderr}")
    return seconds, peak


def floor_read(path: Path) -> float:
    """Seconds of pyarrow's read of the whole file."""
    start = time.perf_counter()
    pq.read_table(path)
    return time.perf_counter() - start


def floor_write(records: list[dict[str, Any]]) -> float:
    """Seconds of ``json.dumps`` of the records."""
    start = time.perf_counter()
    json.dumps(records, allow_nan=False)
    return time.perf_counter() - start


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=10_000)
    parser.add_argument("--bars", type=int, default=2_520)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    (ROOT / "build").mkdir(exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="bench-files-", dir=ROOT / "build"))
    try:
        results = measure(folder, args.candidates, args.bars, args.repeats)
    finally:
        shutil.rmtree(folder)
    RESULTS_PATH.write_text(json.dumps(results, indent=1))
    print(f"\nresults: {RESULTS_PATH}")


def measure(folder: Path, n_candidates: int, n_bars: int, repeats: int) -> dict[str, Any]:
    """Every figure of the benchmark."""
    load_start = os.getloadavg()
    print(f"writing {n_candidates:,} x {n_bars:,} wide and long Parquet files ...", flush=True)
    wide, long = write_files(folder, n_candidates, n_bars)
    tiny = write_tiny(folder)
    out = folder / "verdicts.json"
    imports_only = folder / "imports_only.py"
    imports_only.write_text(_IMPORTS_ONLY)
    floor_imports(imports_only)  # untimed: compiles and caches its function
    run_check(wide, out)  # untimed: numba's cache and the page cache warm
    records = json.loads(out.read_text())["decisions"]
    floor_read(wide)
    kinds = ("read", "write", "imports", "start-up", "wide", "long")
    samples: dict[str, list[float]] = {k: [] for k in kinds}
    peaks: dict[str, list[int]] = {"wide": [], "long": []}
    for _ in range(repeats):
        samples["read"].append(floor_read(wide))
        samples["write"].append(floor_write(records))
        samples["imports"].append(floor_imports(imports_only))
        samples["start-up"].append(run_check(tiny, folder / "tiny.json")[0])
        for name, path in (("wide", wide), ("long", long)):
            seconds, peak = run_check(path, out)
            samples[name].append(seconds)
            peaks[name].append(peak)
    median = {k: statistics.median(v) for k, v in samples.items()}
    matrix = n_candidates * n_bars * 8
    floors = median["read"] + median["write"]
    figures = {
        "machine": machine(load_start, os.getloadavg()),
        "size": {
            "candidates": n_candidates,
            "bars": n_bars,
            "matrix_bytes": matrix,
            "wide_file_bytes": wide.stat().st_size,
            "long_file_bytes": long.stat().st_size,
            "json_bytes": out.stat().st_size,
        },
        "median_s": median,
        "samples_s": samples,
        "peak_rss_bytes": {k: max(v) for k, v in peaks.items()},
        "ratios": {
            "wide_over_floors": median["wide"] / floors,
            "wide_less_start_up_over_floors": (median["wide"] - median["start-up"]) / floors,
            "imports_share_of_budget": median["imports"] / (TARGET_OVER_FLOORS * floors),
            "long_over_wide": median["long"] / median["wide"],
            "wide_peak_over_matrix": max(peaks["wide"]) / matrix,
            "long_peak_over_matrix": max(peaks["long"]) / matrix,
        },
    }
    report(figures)
    return figures


def report(figures: dict[str, Any]) -> None:
    """Print the figures as a table."""
    size, median, ratios = figures["size"], figures["median_s"], figures["ratios"]
    mib = 1 << 20
    print(
        f"\n{size['candidates']:,} candidates x {size['bars']:,} bars: matrix "
        f"{size['matrix_bytes'] / mib:.0f} MiB, wide file {size['wide_file_bytes'] / mib:.0f} "
        f"MiB, long file {size['long_file_bytes'] / mib:.0f} MiB, JSON out "
        f"{size['json_bytes'] / mib:.0f} MiB (load average "
        f"{figures['machine']['load_average_start'][0]:.1f})"
    )
    peak = figures["peak_rss_bytes"]
    rows = [
        ("floor: pyarrow read_table of the wide file", median["read"], None),
        ("floor: json.dumps of the same records", median["write"], None),
        ("floor: start-up of pandas + pyarrow + numba", median["imports"], None),
        ("start-up: gates check of a 1-candidate file", median["start-up"], None),
        ("gates check wide --format json > file", median["wide"], peak["wide"]),
        ("gates check long --format json > file", median["long"], peak["long"]),
    ]
    for label, seconds, rss in rows:
        memory = "" if rss is None else f"   peak RSS {rss / mib:6.0f} MiB"
        print(f"  {label:<46} {seconds:7.2f} s{memory}")
    checks = [
        ("wide / (read + dumps floors)", ratios["wide_over_floors"], TARGET_OVER_FLOORS),
        (
            "(wide - start-up) / (read + dumps floors)",
            ratios["wide_less_start_up_over_floors"],
            None,
        ),
        (
            "dependency start-up / (3 x the floors)",
            ratios["imports_share_of_budget"],
            None,
        ),
        ("wide peak RSS / matrix", ratios["wide_peak_over_matrix"], TARGET_MEMORY_OVER_MATRIX),
        ("long / wide time", ratios["long_over_wide"], TARGET_LONG_OVER_WIDE),
        ("long peak RSS / matrix", ratios["long_peak_over_matrix"], None),
    ]
    for label, value, target in checks:
        goal = "" if target is None else f"   (target <= {target:g})"
        print(f"  {label:<46} {value:7.2f}{goal}")


if __name__ == "__main__":
    main()
