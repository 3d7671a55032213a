"""``autopilot run`` walks the market forward one cycle per date; ``status`` shows the state.

A walk resumes where the state folder stands: the dates it has committed are not run
again, and a cycle killed half-way is completed by the next run. Ctrl-C lets the running
cycle finish and stops before the next (a second Ctrl-C stops at once; what was committed
stays committed either way).
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

from autopilot.cli._common import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    format_parent,
    parse_date,
    print_json,
    seconds,
    state_parent,
    verbose_parent,
)
from autopilot.cli._prices import prices_parent, walk_data

__all__ = ["add_commands"]

DEFAULT_ENV = "dev"
DEFAULT_EVERY = "W-FRI"
DEFAULT_SPAN = timedelta(days=730)  # the default walk: two years up to --end


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Add ``run`` and ``status``."""
    verbose = verbose_parent(top_level=False)
    run = commands.add_parser(
        "run",
        parents=[verbose, state_parent(group=True), prices_parent(("--data", "--prices"))],
        help="walk the market forward, one autopilot cycle per date",
        description="Walk forward one cycle per date: candidates, gates, registry, filtered "
        "signals, allocator, optimiser, paper trades, calibrator and retraining. Resumes from "
        "the state folder; Ctrl-C stops between cycles.",
    )
    run.add_argument(
        "--env", default=DEFAULT_ENV, help=f"environment name or YAML file (default {DEFAULT_ENV})"
    )
    run.add_argument(
        "--start", help="first cycle date, YYYY-MM-DD (default: two years before --end)"
    )
    run.add_argument("--end", help="last cycle date, YYYY-MM-DD (default: the data's last date)")
    run.add_argument(
        "--every",
        default=DEFAULT_EVERY,
        help="the schedule: ND (every N bars), W-FRI (weekly, or W-MON ... W-SUN), ME (month "
        f"end); default {DEFAULT_EVERY}",
    )
    run.add_argument(
        "--init", action="store_true", help="create the state folder if it holds no state yet"
    )
    run.add_argument(
        "--executor",
        metavar="dask://HOST:PORT|local:N",
        help="where the backtest's chunks and the model's validation fits run (default: the "
        "environment's executor: section, else this process)",
    )
    run.add_argument(
        "--lock-timeout",
        type=seconds,
        default=30.0,
        help="seconds to wait for another process's cycle (default 30)",
    )
    run.set_defaults(handler=run_walk)
    status = commands.add_parser(
        "status",
        parents=[verbose, state_parent(group=True), format_parent()],
        help="the active set, grace counters, book, model and last cycle",
    )
    status.set_defaults(handler=show_status)


def run_walk(args: argparse.Namespace) -> int:
    """Run the walk's cycles that the state folder has not committed yet."""
    from autopilot.cli._executor import executor_settings, opened_executor
    from autopilot.config import load_config
    from autopilot.engine import AutopilotEngine
    from autopilot.executor import Executor
    from autopilot.market.calendar import cycle_dates, horizons
    from autopilot.state.cycles import StateFolder

    config = load_config(args.env, args.config_dir)
    data = walk_data(args, config)
    dates = data.panel.dates
    end = parse_date(args.end, "--end") if args.end else dates[-1].date()
    start = parse_date(args.start, "--start") if args.start else None
    if args.init:
        StateFolder.create(args.state_dir, lock_timeout=args.lock_timeout)
    settings = executor_settings(args.executor) if args.executor else config.executor
    engine = AutopilotEngine(
        args.state_dir, config, data.universe_at, lock_timeout=args.lock_timeout
    )
    engine.sync_model_pointer()
    done = engine.last_as_of()
    if start is None:
        # A resumed walk goes on from its last cycle; a new one covers two years.
        start = done or max(dates[0].date(), end - DEFAULT_SPAN)
    cycles = cycle_dates(dates, args.every, start, end, data.source)
    pending = engine.pending()
    todo = [day for day in cycles if (done is None or day > done) and day != pending]
    if pending is not None:  # a cycle a kill left half committed comes first
        todo = [pending, *(day for day in todo if day > pending)]
    print(
        f"walk {cycles[0]} to {cycles[-1]}, {len(cycles)} cycles ({args.every}), "
        f"environment {config.environment}, state {args.state_dir}, on "
        f"{Executor(settings).description}"
        + (f": {len(cycles) - len(todo)} already committed" if done is not None else "")
    )
    if not todo:  # and no cluster needed to say so
        print(f"nothing to run: the state folder is at {done}")
        return EXIT_OK
    # Each cycle's horizon runs to the next date, the last one's repeats the step before
    # it: counted from the last committed cycle, so a walk in pieces equals one in one go.
    before = [done] if done is not None and done < todo[0] else []
    steps = horizons(dates, [*before, *todo])[len(before) :]
    with opened_executor(settings, args.verbose) as executor:
        engine.executor = executor
        return _walk(engine, list(zip(todo, steps, strict=True)))


def _walk(engine: Any, todo: list[tuple[date, int]]) -> int:
    from tqdm import tqdm

    # Ctrl-C is held for the whole walk, so one landing between two cycles stops the walk
    # as cleanly as one landing inside a cycle: after the cycle that is running or next.
    # Under the cycles' bar, the cycle's candidates backtested, chunk by chunk, wherever
    # they run (bars only on a terminal).
    with (
        tqdm(total=len(todo), unit="cycle", file=sys.stderr, disable=None, leave=False) as bar,
        tqdm(
            total=len(engine.candidates),
            unit=" candidates",
            position=1,
            mininterval=0,  # every chunk shown: a cycle has few, and they can take minutes
            miniters=1,
            file=sys.stderr,
            disable=None,
            leave=False,
        ) as chunks,
        _deferred_interrupt() as asked,
    ):

        def backtested(done: int) -> None:
            chunks.update(done - chunks.n)

        for day, horizon in todo:
            chunks.reset()
            outcome = engine.run_cycle(day, horizon, on_chunk=backtested)
            tqdm.write(cycle_line(outcome.record), file=sys.stdout)
            sys.stdout.flush()  # a line per cycle as it commits, also into a pipe
            bar.update()
            if asked():
                tqdm.write(
                    f"stopped after the cycle as of {day} (Ctrl-C); run the same command to go on",
                    file=sys.stdout,
                )
                return EXIT_INTERRUPTED
    return EXIT_OK


@contextmanager
def _deferred_interrupt() -> Iterator[Any]:
    """Record a Ctrl-C for the block to act on (a second one interrupts at once)."""
    asked: list[bool] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        if asked:
            raise KeyboardInterrupt
        asked.append(True)
        print("\nCtrl-C: stopping after this cycle (again to stop now)", file=sys.stderr)

    previous = signal.signal(signal.SIGINT, hold)
    try:
        yield lambda: bool(asked)
    finally:
        signal.signal(signal.SIGINT, previous)


def cycle_line(record: dict[str, Any]) -> str:
    """One line for a person: date, regime, candidates, registry, trades, costs, equity."""
    confidence = record["regime_confidence"]
    regime = f"{record['regime']}" + (f" ({confidence:.2f})" if confidence is not None else "")
    surprise = record["cost_surprise_bps"]
    cost = f"{surprise:+.1f} bps" if surprise is not None else "-"
    return (
        f"{record['as_of']}  regime {regime:<9} candidates {record['candidates']:>4}  "
        f"promoted {len(record['promoted']):>2}  in grace {len(record['in_grace']):>2}  "
        f"removed {len(record['removed']):>2}  trades {record['trades']:>3}  "
        f"cost surprise {cost:>10}  equity {record['equity']:,.2f}"
    )


def show_status(args: argparse.Namespace) -> int:
    """Print where the state folder stands (reads only)."""
    from autopilot.engine_status import engine_status

    status = engine_status(Path(args.state_dir))
    if args.format == "json":
        print_json("status", status)
        return EXIT_OK
    print("\n".join(_status_lines(status)))
    return EXIT_OK


def _status_lines(status: dict[str, Any]) -> list[str]:
    last = status["last_cycle"]
    lines = [f"state       {status['state_dir']} (environment {status['environment'] or '-'})"]
    if last is None:
        lines.append("last cycle  none yet: `autopilot run` walks the first")
    else:
        lines.append(
            f"last cycle  {last['cycle']} as of {last['as_of']}: regime {last['regime']}, "
            f"{last['trades']} trades, equity {last['equity']:,.2f}"
        )
    active = status["active"]
    grace = [a for a in active if a["consecutive_failures"]]
    lines.append(f"active      {len(active)} strategies, {len(grace)} in grace")
    for entry in active:
        note = (
            f" (failing for {entry['consecutive_failures']})"
            if entry["consecutive_failures"]
            else ""
        )
        lines.append(f"  {entry['strategy_id']}{note}")
    book = status["book"]
    lines.append(
        f"book        equity {book['equity']:,.2f}, cash {book['cash']:,.2f}, "
        f"{len(book['weights'])} positions"
    )
    for sid, weight in sorted(book["weights"].items(), key=lambda kv: -kv[1])[:10]:
        lines.append(f"  {sid:<12} {weight:7.2%}")
    model = status["model"]
    if model is None:
        lines.append("model       none: signals pass unfiltered")
    else:
        threshold = model["confidence_threshold"]
        shown = f"{threshold:.4f}" if isinstance(threshold, float) else "unknown"
        lines.append(f"model       {model['file']} ({model['sha256'][:12]}), threshold {shown}")
    return lines
