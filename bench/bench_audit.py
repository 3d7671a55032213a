"""Benchmark of the registry's audit trail: verdict files against decisions inline in the log.

A year of weekly cycles (52 by default) of 2,000 candidates with 6 gate verdicts each is
committed through ``StrategyRegistry.update`` into one state folder (the format of today:
small records plus one Parquet verdict file per cycle). Alongside, the same records are
written to a second folder in the format before verdict files, every decision inline in its
record, as that code wrote them (same keys, same order; same snapshot). Both folders are
also copied after a quarter of the cycles, to show how reading grows with history.

Figures, measured side by side in one run (timed repeats alternate between the folders, so
a change in machine load hits all alike):

* audit bytes per cycle: the record's line in ``registry_audit.jsonl``, plus the verdict
  file for today's format;
* the commit step of one cycle: appending the inline record (old), against writing the
  verdict file and appending the small record (new), each durable;
* ``autopilot registry history ID --format json`` through the installed command in a
  subprocess: wall time and the child's peak resident memory (``wait4``), for a strategy
  that is a candidate in every cycle; ``registry show`` is the floor (start-up, no
  verdicts read), and ``python -c "import pyarrow.parquet"`` what the Parquet reader's
  import alone costs. Both folders' outputs are checked to be identical.

The inline folder is read by today's code, which holds one record at a time; the code
before verdict files held every record (see the README for that figure).

Results go to stdout and ``build/bench_audit_results.json``. These are figures, never
pass/fail tests. The scratch folder is created under ``build/`` (the project's disk) and
removed afterwards.

Run ``.venv/bin/python bench/bench_audit.py [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from _timing import machine, summary, timed  # bench/ is the script folder

from autopilot.config import RegistrySettings
from autopilot.registry import StrategyRegistry
from autopilot.sdk.verdicts import Decision, Mode, Outcome, Verdict
from autopilot.state.cycles import StateFolder
from autopilot.state.journal import Journal
from autopilot.verdict_archive import VerdictArchive

ROOT = Path(__file__).resolve().parents[1]
RESULTS_PATH = ROOT / "build" / "bench_audit_results.json"
COMMAND = Path(sys.executable).with_name("autopilot")
SETTINGS = RegistrySettings(promotion_grace_cycles=3, max_active=200)
GATES = (
    ("min_history", Mode.ENFORCE, 252.0, "TOO_FEW_BARS: bars={v:.0f}, min=252"),
    ("sharpe", Mode.ENFORCE, 0.5, "BELOW_MIN: value={v:.6g}, min=0.5"),
    ("max_drawdown", Mode.ENFORCE, 0.25, "ABOVE_MAX: value={v:.6g}, max=0.25"),
    ("transition_drawdown", Mode.ENFORCE, 0.2, "ABOVE_MAX: value={v:.6g}, max=0.2"),
    ("probabilistic_sharpe", Mode.ENFORCE, 0.95, "BELOW_MIN: value={v:.6g}, min=0.95"),
    ("deflated_sharpe", Mode.SHADOW, 0.95, "BELOW_MIN: value={v:.6g}, min=0.95"),
)
FIRST_AS_OF = date(1990, 1, 5)  # weekly cycles for many years stay in the past
FIRST_TIME = datetime(1990, 1, 5, 21, 0, tzinfo=UTC)
TICKERS = ("AAPL", "MSFT", "NVDA", "JPM", "XOM", "CVX", "KO", "PG", "ÉTF")
ASKED = "MSFT:momentum_0123"  # a candidate in every cycle, active for a while


def strategy_ids(n: int) -> list[str]:
    """``n`` ids shaped like the CLI's (``TICKER:family_k``)."""
    return [f"{TICKERS[i % len(TICKERS)]}:momentum_{i // len(TICKERS):04d}" for i in range(n)]


def cycle_decisions(k: int, ids: list[str]) -> list[Decision]:
    """Cycle ``k``'s decisions: every candidate, six verdicts each, seeded per cycle."""
    rng = random.Random(k)
    decisions = []
    for sid in ids:
        verdicts = []
        for gate, mode, threshold, reason in GATES:
            value = rng.uniform(0.0, 2.0) * threshold
            passes = value <= threshold if "ABOVE_MAX" in reason else value >= threshold
            if gate == "min_history":
                passes = rng.random() > 0.03
            outcome = Outcome.PASS if passes else Outcome.FAIL
            text = "OK" if passes else reason.format(v=value)
            verdicts.append(Verdict(gate, outcome, value, threshold, mode, text))
        decisions.append(Decision(sid, tuple(verdicts)))
    return decisions


def score(decision: Decision) -> float:
    """Rank newcomers by their Sharpe verdict's value, as the default gate set does."""
    return next(v.value for v in decision.verdicts if v.gate == "sharpe") or 0.0


def _old_record(record: dict[str, Any], decisions: list[Decision]) -> dict[str, Any]:
    """The record the code before verdict files wrote: decisions inline, same key order."""
    old = {key: value for key, value in record.items() if key not in ("verdicts", "changes")}
    old["decisions"] = [d.to_dict() for d in decisions]
    old["changes"] = record["changes"]
    return old


def build(scratch: Path, cycles: int, candidates: int, checkpoint: int) -> dict[str, Any]:
    """Commit the cycles into ``new`` and mirror them into ``old``; copy both at checkpoint."""
    new, old = scratch / "new", scratch / "old"
    StateFolder.create(new)
    StateFolder.create(old)
    registry = StrategyRegistry(new, SETTINGS)
    old_log = Journal(old / "registry_audit.jsonl")
    ids = strategy_ids(candidates)
    context = {"tool": "strategy-autopilot 0.1.0", "config_hash": "0123456789abcdef"}
    sizes: dict[str, list[int]] = {"new_record": [], "new_file": [], "old_record": []}
    updates = []
    logs = {"new": registry.audit.path, "old": old_log.path}
    for k in range(1, cycles + 1):
        decisions = cycle_decisions(k, ids)
        start = time.perf_counter()
        registry.update(
            decisions,
            as_of=FIRST_AS_OF + timedelta(weeks=k - 1),
            now=FIRST_TIME + timedelta(weeks=k - 1),
            score=score,
            context=context,
            environment="prod",
        )
        updates.append(time.perf_counter() - start)
        (record,) = registry.audit.committed_after(k - 1)
        before = logs["old"].stat().st_size if logs["old"].exists() else 0
        old_log.append(_old_record(record, decisions))
        sizes["old_record"].append(logs["old"].stat().st_size - before)
        sizes["new_record"].append(len(json.dumps(record, separators=(",", ":"))) + 1)
        sizes["new_file"].append((new / record["verdicts"]["file"]).stat().st_size)
        if k == checkpoint:
            _copy_snapshot(new, old)
            for name in ("new", "old"):
                shutil.copytree(scratch / name, scratch / f"{name}_{k}")
    _copy_snapshot(new, old)  # the same snapshot: only the log's format differs
    return {
        "sizes": sizes,
        "update_s": summary(updates[1:]),  # the first cycle pays the imports
        "bytes": {name: _folder_bytes(scratch / name) for name in ("new", "old")},
    }


def _copy_snapshot(source: Path, target: Path) -> None:
    """Give ``target`` the registry snapshot of ``source`` (the logs stay their own)."""
    for name in ("registry.json", "registry.json.bak"):
        if (source / name).exists():
            shutil.copyfile(source / name, target / name)


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def commit_step(scratch: Path, candidates: int, repeats: int) -> dict[str, Any]:
    """The durable commit of one cycle in each format, timed alternately."""
    ids = strategy_ids(candidates)
    decided = [d.to_dict() for d in cycle_decisions(1, ids)]
    small = {"cycle": 1, "time": FIRST_TIME.isoformat(), "changes": []}
    folder = scratch / "commit"
    folder.mkdir()
    old_log, new_log = Journal(folder / "old.jsonl"), Journal(folder / "new.jsonl")
    archive = VerdictArchive(folder, new_log.path)

    def old() -> None:
        old_log.append({**small, "decisions": decided})

    def new() -> None:
        new_log.append({**small, "verdicts": archive.write(1, decided)})

    samples: dict[str, list[float]] = {"old": [], "new": []}
    old(), new()  # warm-up
    for _ in range(repeats):
        samples["old"].append(timed(old))
        samples["new"].append(timed(new))
    return {name: summary(values) for name, values in samples.items()}


# Runs each command for the benchmark and reports its wall time and peak RSS. Linux counts
# in a child's peak the memory of the process it was forked from (up to its exec), so the
# commands are started by this small process, not by the benchmark, which holds 100+ MiB.
_LAUNCHER = """
import json, os, subprocess, sys, time
for line in sys.stdin:
    argv, out = json.loads(line)
    with open(out, "wb") as handle:
        start = time.perf_counter()
        child = subprocess.Popen(argv, stdout=handle, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    print(json.dumps([elapsed, usage.ru_maxrss, child.returncode]), flush=True)
"""


class Launcher:
    """A small process that runs commands and reports their wall time and peak RSS."""

    def __init__(self, scratch: Path) -> None:
        self.out = scratch / "launcher.out"
        self.process = subprocess.Popen(
            [sys.executable, "-S", "-c", _LAUNCHER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def run(self, argv: list[str]) -> tuple[float, int, bytes]:
        """Wall seconds, peak RSS (bytes) and stdout of one command."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps([argv, str(self.out)]) + "\n")
        self.process.stdin.flush()
        elapsed, peak_kib, code = json.loads(self.process.stdout.readline())
        if code != 0:
            raise RuntimeError(f"{' '.join(argv)} exited {code}")
        return elapsed, peak_kib * 1024, self.out.read_bytes()

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait()


def bench_history(scratch: Path, names: list[str], repeats: int) -> dict[str, Any]:
    launcher = Launcher(scratch)
    try:
        return _bench_history(launcher, scratch, names, repeats)
    finally:
        launcher.close()


def _bench_history(
    launcher: Launcher, scratch: Path, names: list[str], repeats: int
) -> dict[str, Any]:
    def registry(folder: str, *args: str) -> list[str]:
        return [str(COMMAND), "registry", "--state-dir", str(scratch / folder), *args]

    commands = {
        **{name: registry(name, "history", ASKED, "--format", "json") for name in names},
        "show": registry("new", "show", "--format", "json"),
        # What loading the Parquet reader alone costs, in time and memory.
        "import_pyarrow": [sys.executable, "-c", "import pyarrow.parquet"],
    }
    outputs = {name: launcher.run(commands[name])[2] for name in commands}
    times: dict[str, list[float]] = {name: [] for name in commands}
    rss: dict[str, list[int]] = {name: [] for name in commands}
    for _ in range(repeats):
        for name in commands:
            elapsed, peak, _ = launcher.run(commands[name])
            times[name].append(elapsed)
            rss[name].append(peak)
    identical = {
        name: outputs[name] == outputs[name.replace("old", "new")]
        for name in names
        if name.startswith("old")
    }
    cycles = {name: len(json.loads(outputs[name])["cycles"]) for name in names}
    return {
        "timings": {name: summary(values) for name, values in times.items()},
        "peak_rss_bytes": {name: statistics.median(values) for name, values in rss.items()},
        "outputs_identical": identical,
        "cycles_in_story": cycles,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="12 cycles, fewer repeats")
    parser.add_argument("--cycles", type=int, help="weekly cycles (default 52)")
    parser.add_argument("--candidates", type=int, default=2_000)
    parser.add_argument("--repeats", type=int, help="timed repeats per figure")
    parser.add_argument("--keep", action="store_true", help="keep the folders, print where")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    cycles = args.cycles or (12 if args.quick else 52)
    checkpoint = max(1, cycles // 4)
    repeats = args.repeats or (3 if args.quick else 7)
    (ROOT / "build").mkdir(exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="bench_audit_", dir=ROOT / "build"))
    load_start = os.getloadavg()
    try:
        built = build(scratch, cycles, args.candidates, checkpoint)
        commit = commit_step(scratch, args.candidates, max(repeats, 5))
        names = [f"old_{checkpoint}", f"new_{checkpoint}", "old", "new"]
        history = bench_history(scratch, names, repeats)
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    load_end = os.getloadavg()

    sizes = built["sizes"]
    per_cycle = {
        "old": statistics.mean(sizes["old_record"]),
        "new_record": statistics.mean(sizes["new_record"]),
        "new_file": statistics.mean(sizes["new_file"]),
    }
    per_cycle["new"] = per_cycle["new_record"] + per_cycle["new_file"]
    t = history["timings"]
    m = history["peak_rss_bytes"]
    results = {
        "machine": machine(load_start, load_end),
        "cycles": cycles,
        "checkpoint": checkpoint,
        "candidates": args.candidates,
        "gates": len(GATES),
        "repeats": repeats,
        "bytes_per_cycle": per_cycle,
        "folder_bytes": built["bytes"],
        "update_s": built["update_s"],
        "commit_step": commit,
        "history": history,
        "ratios": {
            "bytes_per_cycle_old_over_new": per_cycle["old"] / per_cycle["new"],
            "history_time_old_over_new": t["old"]["median_s"] / t["new"]["median_s"],
            "history_rss_old_over_new": m["old"] / m["new"],
            "history_time_growth_old": t["old"]["median_s"] / t[f"old_{checkpoint}"]["median_s"],
            "history_time_growth_new": t["new"]["median_s"] / t[f"new_{checkpoint}"]["median_s"],
            "history_rss_growth_old": m["old"] / m[f"old_{checkpoint}"],
            "history_rss_growth_new": m["new"] / m[f"new_{checkpoint}"],
        },
    }
    RESULTS_PATH.write_text(json.dumps(results, indent=1))

    mb = 1e6
    print(
        f"strategy-autopilot audit benchmark: {cycles} weekly cycles x {args.candidates:,} "
        f"candidates x {len(GATES)} gates ({repeats} timed repeats, medians)"
    )
    print(
        f"python {results['machine']['python']}, {os.cpu_count()} CPUs, load "
        f"{load_start[0]:.2f} at start, {load_end[0]:.2f} at end"
    )
    print()
    print("Audit bytes per cycle")
    print(f"  inline decisions (before): record {per_cycle['old'] / 1e3:10,.1f} kB")
    print(
        f"  verdict files:             record {per_cycle['new_record'] / 1e3:10,.1f} kB "
        f"+ Parquet {per_cycle['new_file'] / 1e3:,.1f} kB = {per_cycle['new'] / 1e3:,.1f} kB"
    )
    print(
        f"  ratio {results['ratios']['bytes_per_cycle_old_over_new']:.1f}x; folders after "
        f"{cycles} cycles: {built['bytes']['old'] / mb:,.1f} MB against "
        f"{built['bytes']['new'] / mb:,.1f} MB"
    )
    print()
    print("Commit step of one cycle (durable)")
    print(f"  append the inline record              {commit['old']['median_s'] * 1e3:8.1f} ms")
    print(f"  write the verdict file + small record {commit['new']['median_s'] * 1e3:8.1f} ms")
    print(f"  whole StrategyRegistry.update (today)  {built['update_s']['median_s'] * 1e3:8.1f} ms")
    print()
    print(f"`autopilot registry history {ASKED} --format json` (subprocess, wall, peak RSS)")
    for name in [f"old_{checkpoint}", f"new_{checkpoint}", "old", "new", "show", "import_pyarrow"]:
        label = {
            "show": "`registry show` (start-up floor)",
            "import_pyarrow": "python -c 'import pyarrow.parquet'",
            "old": f"inline decisions, {cycles} cycles",
            "new": f"verdict files,    {cycles} cycles",
            f"old_{checkpoint}": f"inline decisions, {checkpoint} cycles",
            f"new_{checkpoint}": f"verdict files,    {checkpoint} cycles",
        }[name]
        print(
            f"  {label:<34} {t[name]['median_s']:7.3f} s  (p10 {t[name]['p10_s']:.3f}, "
            f"p90 {t[name]['p90_s']:.3f})  {m[name] / 2**20:7.1f} MiB"
        )
    r = results["ratios"]
    print(
        f"  inline / verdict files at {cycles} cycles: time {r['history_time_old_over_new']:.1f}x,"
        f" peak RSS {r['history_rss_old_over_new']:.2f}x; growth {checkpoint} -> {cycles} "
        f"cycles: time inline {r['history_time_growth_old']:.2f}x, verdict files "
        f"{r['history_time_growth_new']:.2f}x; peak RSS inline {r['history_rss_growth_old']:.2f}x,"
        f" verdict files {r['history_rss_growth_new']:.2f}x"
    )
    same = all(history["outputs_identical"].values())
    print(f"  outputs of both formats identical: {same} {history['outputs_identical']}")
    print()
    print(f"results: {RESULTS_PATH.relative_to(ROOT)}")
    if args.keep:
        print(f"folders kept in {scratch}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
