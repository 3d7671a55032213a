"""Benchmark of durable state writes and of a registry cycle against the audit history size.

Figures (medians over several repeats, measured side by side in one run):

* registry save: ``StateFile.save`` of a registry with 1,000 strategies under the state lock
  (temp file, fsync, ``.bak`` link, ``os.replace``, folder fsync);
* portfolio save: the same for a 1,000-position portfolio-shaped state
  (``StateFile(kind="portfolio")``; positions with security_id, shares, entry_price,
  entry_date, last_price, last_price_date);
* floor: a plain ``os.write`` + ``fsync`` of the same number of bytes into one file, the
  least any durable write of that size costs on this disk;
* JSON encoding alone (in memory), as the state file does it (compact, sorted keys), to
  show where a save's time goes;
* registry cycle: ``StrategyRegistry.update`` with 100 decisions in a state folder whose
  audit journal already holds 10 records, and in one holding 10,000 records (appended
  through :class:`~autopilot.state.journal.Journal` beforehand, each the size of a real cycle's
  record in the format with inline decisions). The cycle writes its verdict file, appends one
  line to the journal and never reads it, so the ratio of the two medians should stay
  about 1.

The timed repeats of the figures that are compared alternate (registry, portfolio, floors;
small history, large history), so a change in machine load hits both sides alike. Results go
to stdout and to ``build/bench_state_results.json``. These are figures, never pass/fail
tests. The scratch folder is created under ``build/`` (the project's own disk: ``/tmp`` may be
a RAM disk where fsync costs nothing) and removed afterwards.

Run ``.venv/bin/python bench/bench_state.py [--quick]``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from _timing import machine, ms, summary, timed  # bench/ is the script folder

from autopilot.config import RegistrySettings
from autopilot.registry import StrategyRecord, StrategyRegistry
from autopilot.sdk.verdicts import Decision, Mode, Outcome, Verdict
from autopilot.state.cycles import StateFolder
from autopilot.state.journal import Journal
from autopilot.state.state_file import StateFile

ROOT = Path(__file__).resolve().parents[1]
RESULTS_PATH = ROOT / "build" / "bench_state_results.json"
N_STRATEGIES = 1_000
N_POSITIONS = 1_000
CYCLE_DECISIONS = 100
HISTORY_SMALL = 10
HISTORY_LARGE = 10_000
GATES = ("min_history", "sharpe", "max_drawdown", "transition_drawdown", "probabilistic_sharpe")
START = datetime(1990, 1, 2, 21, 0, tzinfo=UTC)  # 10,000+ daily cycles stay in the past


# --------------------------------------------------------------------------- data


def registry_data(n: int) -> dict[str, Any]:
    """A registry state with ``n`` active strategies, some of them in grace."""
    strategies = {}
    for i in range(n):
        sid = f"momentum_{i // 50:03d}_lookback{20 + i % 50:03d}"
        in_grace = i % 7 == 0
        strategies[sid] = StrategyRecord(
            strategy_id=sid,
            promoted_at=(START + timedelta(days=i % 300)).isoformat(),
            promoted_cycle=1 + i % 300,
            consecutive_failures=1 if in_grace else 0,
            last_cycle=400,
            last_promotable=not in_grace,
            last_reasons=("sharpe:BELOW_MIN", "max_drawdown:ABOVE_MAX") if in_grace else (),
        ).to_dict()
    return {"strategies": strategies}


def portfolio_data(n: int) -> dict[str, Any]:
    """A portfolio-shaped state with ``n`` positions."""
    day = date(2025, 6, 30)
    positions = [
        {
            "security_id": f"US{i:09d}",
            "shares": 100.0 + (i * 37) % 5_000,
            "entry_price": round(10.0 + (i * 7.31) % 400, 4),
            "entry_date": (day - timedelta(days=1 + i % 500)).isoformat(),
            "last_price": round(10.0 + (i * 7.77) % 410, 4),
            "last_price_date": day.isoformat(),
        }
        for i in range(n)
    ]
    return {"cash": 1_234_567.89, "positions": positions}


def decision(sid: str, promotable: bool, k: int) -> Decision:
    """A decision with one verdict per default gate (as the default gate set gives)."""
    verdicts = []
    for g, gate in enumerate(GATES):
        failing = not promotable and g == 1
        verdicts.append(
            Verdict(
                gate,
                Outcome.FAIL if failing else Outcome.PASS,
                0.1 + ((k + g) % 17) / 10,
                0.5,
                Mode.ENFORCE,
                "BELOW_MIN: value=0.123457, min=0.5" if failing else "OK",
            )
        )
    verdicts.append(
        Verdict("deflated_sharpe", Outcome.FAIL, 0.42, 0.9, Mode.SHADOW, "BELOW_MIN: value=0.42")
    )
    return Decision(sid, tuple(verdicts))


def cycle_decisions(n: int) -> list[Decision]:
    """``n`` decisions: the same ids every cycle, about 80 % promotable."""
    return [decision(f"cand_{i:04d}", i % 5 != 0, i) for i in range(n)]


def audit_record(cycle: int, decisions: list[Decision]) -> dict[str, Any]:
    """A record shaped like the one ``StrategyRegistry.update`` appends."""
    return {
        "cycle": cycle,
        "time": (START + timedelta(days=cycle)).isoformat(),
        "environment": "prod",
        "config_hash": "0123456789abcdef",
        "plugins": {"builtin": "strategy-autopilot 0.1.0", "pbo": "autopilot-pbo 0.2.0"},
        "settings": {"promotion_grace_cycles": 3, "max_active": 200},
        "decisions": [d.to_dict() for d in decisions],
        "changes": [
            {
                "strategy_id": d.strategy_id,
                "kind": "kept" if d.promotable else "in_grace",
                "consecutive_failures": 0 if d.promotable else 1,
                "reasons": [] if d.promotable else ["sharpe:BELOW_MIN"],
                "score": None,
            }
            for d in decisions
        ],
    }


# --------------------------------------------------------------------------- timing


def fsync_floor(path: Path, size: int) -> Callable[[], None]:
    payload = os.urandom(size)

    def write() -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, payload)
            os.fsync(fd)
        finally:
            os.close(fd)

    return write


def state_saver(state: StateFile, data: dict[str, Any]) -> Callable[[], None]:
    """One save; the caller holds the lock and has loaded (a save needs both)."""

    def save() -> None:
        state.save(data)

    return save


def _payload(state: StateFile, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": state.kind,
        "schema_version": state.schema_version,
        "generation": state.generation + 1,
        "data": data,
    }


def payload_size(state: StateFile, data: dict[str, Any]) -> int:
    """Bytes ``StateFile.save`` writes for ``data`` (same serialisation)."""
    return len(serialiser(state, data)())


def serialiser(state: StateFile, data: dict[str, Any]) -> Callable[[], bytes]:
    """The JSON encoding alone, as ``StateFile.save`` does it."""
    payload = _payload(state, data)
    return lambda: json.dumps(
        payload, separators=(",", ":"), sort_keys=True, allow_nan=False
    ).encode()


# --------------------------------------------------------------------------- benchmarks


def bench_saves(scratch: Path, repeats: int) -> dict[str, Any]:
    registry_state = StateFile(
        scratch / "saves" / "registry.json",
        kind="registry",
        schema_version=1,
        default=lambda: {"strategies": {}},
    )
    portfolio_state = StateFile(
        scratch / "saves" / "portfolio.json",
        kind="portfolio",
        schema_version=1,
        default=lambda: {"positions": []},
    )
    registry = registry_data(N_STRATEGIES)
    portfolio = portfolio_data(N_POSITIONS)
    sizes = {
        "registry": payload_size(registry_state, registry),
        "portfolio": payload_size(portfolio_state, portfolio),
    }
    operations = {
        "registry_save": state_saver(registry_state, registry),
        "portfolio_save": state_saver(portfolio_state, portfolio),
        "floor_registry_size": fsync_floor(scratch / "saves" / "floor_r.bin", sizes["registry"]),
        "floor_portfolio_size": fsync_floor(scratch / "saves" / "floor_p.bin", sizes["portfolio"]),
        "json_registry": serialiser(registry_state, registry),
        "json_portfolio": serialiser(portfolio_state, portfolio),
    }
    samples: dict[str, list[float]] = {name: [] for name in operations}
    # One hold of each lock for the whole run (acquiring it is a single flock call).
    with registry_state.locked(), portfolio_state.locked():
        registry_state.load()
        portfolio_state.load()
        for operation in operations.values():  # warm-up; also creates each state's .bak
            operation()
            operation()
        for _ in range(repeats):
            for name, operation in operations.items():
                samples[name].append(timed(operation))
    results = {name: summary(values) for name, values in samples.items()}
    return {"bytes": sizes, "timings": results}


def _seed_history(folder: Path, records: int, history_decisions: list[Decision]) -> int:
    """Append ``records`` audit records through Journal; returns the journal's size."""
    journal = Journal(folder / "registry_audit.jsonl")
    record = audit_record(1, history_decisions)
    for cycle in range(1, records + 1):
        record["cycle"] = cycle
        record["time"] = (START + timedelta(days=cycle)).isoformat()
        journal.append(record)
    # The registry is at the generation that matches its history.
    StateFolder.create(folder)
    state = StrategyRegistry(folder).state
    with state.locked():
        state.load()
        state.generation = records - 1
        state.save(registry_data(150))
    return journal.path.stat().st_size


def bench_cycles(scratch: Path, repeats: int, large: int, history_decisions: int) -> dict[str, Any]:
    history = cycle_decisions(history_decisions)
    decisions = cycle_decisions(CYCLE_DECISIONS)
    settings = RegistrySettings(promotion_grace_cycles=3, max_active=200)
    context = {"environment": "prod", "config_hash": "0123456789abcdef", "plugins": {}}
    folders = {"small": scratch / "history_small", "large": scratch / "history_large"}
    counts = {"small": HISTORY_SMALL, "large": large}
    seeded = {}
    for name, folder in folders.items():
        start = time.perf_counter()
        size = _seed_history(folder, counts[name], history)
        seeded[name] = {
            "records": counts[name],
            "journal_bytes": size,
            "seed_seconds": time.perf_counter() - start,
        }
    record_bytes = len(json.dumps(audit_record(1, history), separators=(",", ":"))) + 1
    registries = {name: StrategyRegistry(folder, settings) for name, folder in folders.items()}

    days = {name: itertools.count(counts[name] + 1) for name in registries}

    def run(name: str) -> Callable[[], None]:
        def cycle() -> None:
            as_of = START.date() + timedelta(days=next(days[name]))  # each cycle a new date
            registries[name].update(decisions, as_of=as_of, context=context)

        return cycle

    for name in registries:  # warm-up: the active set reaches its steady size
        for _ in range(3):
            run(name)()
    samples: dict[str, list[float]] = {name: [] for name in registries}
    for _ in range(repeats):
        for name in registries:
            samples[name].append(timed(run(name)))
    timings = {name: summary(values) for name, values in samples.items()}
    return {
        "history": seeded,
        "history_record_bytes": record_bytes,
        "cycle_decisions": CYCLE_DECISIONS,
        "timings": timings,
        "ratio_large_over_small": timings["large"]["median_s"] / timings["small"]["median_s"],
    }


# --------------------------------------------------------------------------- report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, 2,000 records")
    parser.add_argument("--repeats", type=int, help="timed repeats per figure")
    parser.add_argument(
        "--history-decisions",
        type=int,
        default=20,
        help="decisions per seeded audit record (default 20)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    repeats = args.repeats or (15 if args.quick else 41)
    large = 2_000 if args.quick else HISTORY_LARGE
    (ROOT / "build").mkdir(exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="bench_state_", dir=ROOT / "build"))
    load_start = os.getloadavg()
    try:
        saves = bench_saves(scratch, repeats)
        cycles = bench_cycles(scratch, repeats, large, args.history_decisions)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    load_end = os.getloadavg()

    results = {
        "machine": machine(load_start, load_end, scratch_folder=str(scratch.parent)),
        "repeats": repeats,
        "quick": args.quick,
        "saves": saves,
        "cycles": cycles,
    }
    t = saves["timings"]
    ratios = {
        "registry_save_over_floor": t["registry_save"]["median_s"]
        / t["floor_registry_size"]["median_s"],
        "portfolio_save_over_floor": t["portfolio_save"]["median_s"]
        / t["floor_portfolio_size"]["median_s"],
    }
    results["saves"]["ratios"] = ratios
    RESULTS_PATH.write_text(json.dumps(results, indent=1))

    b = saves["bytes"]
    c = cycles["timings"]
    h = cycles["history"]
    print(f"strategy-autopilot state benchmark  ({repeats} timed repeats per figure, medians)")
    print(
        f"python {results['machine']['python']}, {results['machine']['cpus']} CPUs, load "
        f"{load_start[0]:.2f} at start, {load_end[0]:.2f} at end; disk of {scratch.parent}"
    )
    print()
    print("Durable saves (StateFile.save under the lock: temp, fsync, .bak, replace, dir fsync)")
    print(
        f"  registry,  {N_STRATEGIES:,} strategies  {b['registry']:>9,} B  "
        f"{ms(t['registry_save']['median_s'])}   (p10 {ms(t['registry_save']['p10_s'])}, "
        f"p90 {ms(t['registry_save']['p90_s'])})"
    )
    print(
        f"  portfolio, {N_POSITIONS:,} positions   {b['portfolio']:>9,} B  "
        f"{ms(t['portfolio_save']['median_s'])}   (p10 {ms(t['portfolio_save']['p10_s'])}, "
        f"p90 {ms(t['portfolio_save']['p90_s'])})"
    )
    print(
        f"  floor: os.write + fsync  {b['registry']:>9,} B  "
        f"{ms(t['floor_registry_size']['median_s'])}"
    )
    print(
        f"  floor: os.write + fsync  {b['portfolio']:>9,} B  "
        f"{ms(t['floor_portfolio_size']['median_s'])}"
    )
    print(
        f"  save / floor: registry {ratios['registry_save_over_floor']:.2f}x, "
        f"portfolio {ratios['portfolio_save_over_floor']:.2f}x"
    )
    print("  of which JSON encoding (json.dumps, sort_keys) alone, in memory:")
    for kind in ("registry", "portfolio"):
        print(f"    {kind:<9}  {ms(t['json_' + kind]['median_s'])}")
    print()
    print(
        f"Registry cycle (StrategyRegistry.update, {CYCLE_DECISIONS} decisions, verdict file, "
        f"audit append, state save)"
    )
    print(
        f"  audit records of {cycles['history_record_bytes']:,} B each "
        f"({args.history_decisions} decisions), seeded through Journal.append"
    )
    for name in ("small", "large"):
        print(
            f"  with {h[name]['records']:>6,} earlier records "
            f"({h[name]['journal_bytes'] / 1e6:8.2f} MB journal)  {ms(c[name]['median_s'])}   "
            f"(p10 {ms(c[name]['p10_s'])}, p90 {ms(c[name]['p90_s'])})"
        )
    print(
        f"  ratio {h['large']['records']:,} / {h['small']['records']:,} records: "
        f"{cycles['ratio_large_over_small']:.2f}  (a cycle's cost must not grow with history: ~1)"
    )
    print()
    print(f"results: {RESULTS_PATH.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
