"""The engine: one cycle's time by stage, its growth with candidates and history, the walk.

Figures (embedded data, 20 stocks; each cycle gates the last 1,008 bars):

* one weekly cycle of the ``dev`` environment (248 candidates), median of six after a
  first cycle (which promotes and loads the kernels), by stage; retraining off, and a
  retraining cycle measured apart;
* growth: the same with 100 and 1,000 candidates (twenty and two hundred per family);
* flat in history: cycles in 2004 against cycles in 2022, after 14 and 32 years of data;
* the ``make run`` walk (``autopilot run --init --env dev``: two years of weekly cycles) in
  a fresh process: wall time and peak resident memory.

Goals (issue 10): a weekly cycle with a few hundred candidates <= 2 s, growth from 100 to
1,000 candidates at most linear (<= 10x), the walk <= 3 minutes and <= 1 GB, and a cycle's
cost flat in the history walked. Figures, never pass/fail: the run exits 0. Results go to
stdout and ``build/bench_engine_results.json``.
"""

from __future__ import annotations

import logging
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import yaml
from _timing import machine, save_results  # bench/ is the script folder

from autopilot.config import load_config, packaged_config_dir
from autopilot.engine import AutopilotEngine
from autopilot.market.calendar import cycle_dates, horizons
from autopilot.market.prices_io import PricePanel
from autopilot.market.universe import embedded_universe
from autopilot.state.cycles import StateFolder

ROOT = Path(__file__).resolve().parents[1]
RESULTS_PATH = ROOT / "build" / "bench_engine_results.json"
TIMED_CYCLES = 6
THRESHOLDS = [0.0, 0.5, 1.0, 1.5]
# Twenty and two hundred candidates per family; long_only and vol_window fixed so that the
# base file's axes do not multiply them.
GRIDS: dict[int, dict[str, dict[str, Any]]] = {
    100: {
        "tsmom": {"lookback": list(range(22, 272, 25)), "skip": [0, 21], "long_only": False},
        "ma_cross": {"fast": [2, 10, 20, 30, 40], "slow": [60, 120, 180, 240], "long_only": False},
        "mean_reversion": {
            "lookback": [1, 2, 3, 5, 10],
            "threshold": THRESHOLDS,
            "vol_window": 63,
            "long_only": False,
        },
        "vol_breakout": {"window": [10, 20, 50, 100, 200], "k": [0.5, 1.0, 1.5, 2.0]},
        "low_vol": {"window": [21, 63, 126, 189, 252], "fraction": [0.1, 0.2, 0.3, 0.5]},
    },
    1000: {
        "tsmom": {"lookback": list(range(22, 272, 5)), "skip": [0, 5, 10, 21], "long_only": False},
        "ma_cross": {
            "fast": list(range(2, 42, 2)),
            "slow": list(range(60, 260, 20)),
            "long_only": False,
        },
        "mean_reversion": {
            "lookback": list(range(1, 41)),
            "threshold": [*THRESHOLDS, 2.0],
            "vol_window": 63,
            "long_only": False,
        },
        "vol_breakout": {"window": list(range(10, 210, 5)), "k": [0.5, 1.0, 1.5, 2.0, 2.5]},
        "low_vol": {"window": list(range(21, 271, 5)), "fraction": [0.1, 0.2, 0.3, 0.5]},
    },
}
for grid in GRIDS.values():
    grid["vol_breakout"]["long_only"] = False


def environment(
    folder: Path, name: str, families: dict[str, Any] | None, retrain_every: int
) -> Path:
    """The dev environment, with other grids and a retraining schedule."""
    data: dict[str, Any] = {
        "extends": str(packaged_config_dir() / "dev.yaml"),
        "engine": {"retrain_every": retrain_every},
    }
    if families is not None:
        data["strategies"] = {"families": families}
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def timed_cycles(env: Path, start: date, end: date, folder: Path) -> dict[str, Any]:
    """A first cycle, then the median wall time (and by stage) of the next ones."""
    state = folder / f"state-{env.stem}-{start.year}"
    StateFolder.create(state)
    config = load_config(str(env))
    engine = AutopilotEngine(state, config, embedded_universe)
    dates = PricePanel.bundled().dates
    cycles = cycle_dates(dates, "W-FRI", start, end, "embedded")[: TIMED_CYCLES + 1]
    steps = horizons(dates, cycles)
    first_start = time.perf_counter()
    engine.run_cycle(cycles[0], steps[0])
    first = time.perf_counter() - first_start
    first_stages = dict(engine.stage_seconds)
    totals, stages = [], []
    for day, step in zip(cycles[1:], steps[1:], strict=True):
        began = time.perf_counter()
        engine.run_cycle(day, step)
        totals.append(time.perf_counter() - began)
        stages.append(dict(engine.stage_seconds))
    return {
        "candidates": len(engine.candidates),
        "first_cycle_seconds": first,
        "first_cycle_stages": first_stages,
        "cycle_seconds": statistics.median(totals),
        "stages": {k: statistics.median(s.get(k, 0.0) for s in stages) for k in stages[0]},
    }


def walk() -> dict[str, Any]:
    """``make run``'s walk in a fresh process: seconds and the child's peak RSS."""
    with tempfile.TemporaryDirectory() as scratch:
        command = [sys.executable, "-m", "autopilot.cli", "run", "--init", "--env", "dev"]
        command += ["--state-dir", str(Path(scratch) / "state")]
        began = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - began
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {
        "returncode": done.returncode,
        "cycles": sum(1 for line in done.stdout.splitlines() if "  regime " in line),
        "seconds": seconds,
        "peak_rss_bytes": peak_kib * 1024,
    }


def main() -> None:
    """Run every measurement and print the figures."""
    logging.basicConfig(level=logging.ERROR)  # the registry's notes on grace are not figures
    load_start = os.getloadavg()
    late = (date(2022, 6, 1), date(2022, 9, 30))
    early = (date(2004, 6, 1), date(2004, 9, 30))
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        dev = environment(folder, "dev_timed", None, 0)
        results["dev"] = timed_cycles(dev, *late, folder)
        results["dev_2004"] = timed_cycles(dev, *early, folder)
        trained = environment(folder, "dev_trained", None, 13)
        results["retraining"] = timed_cycles(trained, *late, folder)["first_cycle_stages"]
        for n, families in GRIDS.items():
            results[f"grid_{n}"] = timed_cycles(
                environment(folder, f"grid{n}", families, 0), *late, folder
            )
    results["walk"] = walk()
    results["machine"] = machine(load_start, os.getloadavg())
    report(results)
    save_results(RESULTS_PATH, results)


def report(results: dict[str, Any]) -> None:
    """Print the figures."""
    dev = results["dev"]
    print("strategy-autopilot engine benchmark (embedded data, 20 stocks)")
    print(f"  one weekly cycle, dev ({dev['candidates']} candidates): {dev['cycle_seconds']:.2f} s")
    for stage, seconds in dev["stages"].items():
        print(f"    {stage:<34} {seconds:6.3f} s")
    print(f"  first cycle (promotions, kernels loaded): {dev['first_cycle_seconds']:.2f} s")
    print(f"  a retraining cycle's training: {results['retraining'].get('retraining', 0.0):.2f} s")
    small, large = results["grid_100"], results["grid_1000"]
    ratio = large["cycle_seconds"] / small["cycle_seconds"]
    print(
        f"  growth: {small['candidates']} candidates {small['cycle_seconds']:.2f} s, "
        f"{large['candidates']} candidates {large['cycle_seconds']:.2f} s: x{ratio:.2f} "
        f"for x{large['candidates'] / small['candidates']:.0f} candidates"
    )
    early = results["dev_2004"]["cycle_seconds"]
    print(
        f"  history: a cycle in 2004 {early:.2f} s, in 2022 {dev['cycle_seconds']:.2f} s "
        f"(x{dev['cycle_seconds'] / early:.2f} after 18 more years)"
    )
    walked = results["walk"]
    print(
        f"  make run walk: {walked['cycles']} cycles in {walked['seconds']:.0f} s, peak RSS "
        f"{walked['peak_rss_bytes'] / 2**20:.0f} MiB (exit {walked['returncode']})"
    )
    print("  goals: cycle <= 2 s, growth <= x10, walk <= 180 s and <= 1,024 MiB, flat in history")


if __name__ == "__main__":
    main()
