"""``autopilot registry``: one promotion cycle, the active set, one strategy's story."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from autopilot import __version__
from autopilot.cli._common import (
    EXIT_OK,
    environment_parent,
    format_parent,
    parse_date,
    print_json,
    returns_parent,
    seconds,
    state_parent,
    verbose_parent,
)
from autopilot.cli._evaluate import evaluate_file, input_record
from autopilot.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["add_commands"]


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Add ``registry update``, ``registry show`` and ``registry history``."""
    verbose = verbose_parent(top_level=False)
    state = state_parent(group=False)
    registry = commands.add_parser(
        "registry",
        parents=[verbose, state_parent(group=True)],
        help="the active strategies and their story",
    )
    registry_commands = registry.add_subparsers(dest="registry_command", required=True)
    output = format_parent()
    update = registry_commands.add_parser(
        "update",
        parents=[verbose, state, returns_parent(), environment_parent(), output],
        help="run one cycle: evaluate a batch and update the active set",
    )
    update.add_argument(
        "--as-of",
        help="the cycle's date (default: the batch's last date); a cycle is identified by it",
    )
    update.add_argument(
        "--init", action="store_true", help="create the state folder if it holds no state yet"
    )
    update.add_argument(
        "--switch-environment",
        action="store_true",
        help="accept an environment other than the one this state folder was run with",
    )
    update.add_argument("--lock-timeout", type=seconds, default=30.0, help="seconds (default 30)")
    update.set_defaults(handler=registry_update)
    show = registry_commands.add_parser(
        "show", parents=[verbose, state, output], help="the active set"
    )
    show.set_defaults(handler=registry_show)
    history = registry_commands.add_parser(
        "history", parents=[verbose, state, output], help="one strategy's story, cycle by cycle"
    )
    history.add_argument("strategy_id")
    history.set_defaults(handler=registry_history)


def registry_update(args: argparse.Namespace) -> int:
    """Evaluate a batch with the environment's gate set and apply it to the registry."""
    from autopilot.registry import ChangeKind, StrategyRegistry
    from autopilot.state.cycles import StateFolder

    if not args.init:
        StateFolder(args.state_dir).require()  # before any work: a typo fails fast
    as_of = None if args.as_of is None else parse_date(args.as_of, "--as-of")
    done = evaluate_file(args)
    config, gate_set = done.config, done.gate_set
    registry = StrategyRegistry(
        args.state_dir, config.registry, lock_timeout=args.lock_timeout, create=args.init
    )
    report = registry.update(
        done.table.decisions(),
        as_of=_cycle_date(as_of, done.batch.dates, args.file),
        score=gate_set.score_function(),
        environment=config.environment,
        switch_environment=args.switch_environment,
        context={
            "tool": f"strategy-autopilot {__version__}",
            "config_hash": gate_set.config_hash,
            # Resolved: the record must say which copy was read (./configs or the defaults).
            "config_files": [str(Path(source).resolve()) for source in config.sources],
            "plugins": gate_set.catalog.plugin_versions(),
            "input": input_record(done, args.file),
        },
    )
    if args.format == "json":
        payload = {
            "state_dir": str(args.state_dir),
            "environment": config.environment,
            "cycle": report.cycle,
            "as_of": report.as_of,
            "repeated": report.repeated,
            "active": sorted(report.active),
            "changes": [change.to_dict() for change in report.changes],
        }
        print_json("registry_cycle", payload)
        return EXIT_OK
    if report.repeated:
        print(
            f"cycle {report.cycle} as of {report.as_of} was already committed with these "
            f"decisions; nothing changed ({len(report.active)} active, state {args.state_dir})"
        )
        return EXIT_OK
    for change in report.changes:
        reasons = f"  ({', '.join(change.reasons)})" if change.reasons else ""
        failures = f" {change.consecutive_failures}/{config.registry.promotion_grace_cycles}"
        shown = failures if change.consecutive_failures else ""
        print(f"{change.kind.value:<22}{change.strategy_id}{shown}{reasons}")
    print(
        f"\ncycle {report.cycle} as of {report.as_of}: {len(report.active)} active, "
        f"{len(report.of_kind(ChangeKind.PROMOTED))} promoted, "
        f"{len(report.of_kind(ChangeKind.REMOVED))} removed (state {args.state_dir})"
    )
    return EXIT_OK


def _cycle_date(given: date | None, dates: pd.DatetimeIndex | None, path: Path) -> date:
    """The cycle's as-of date: ``--as-of``, or the batch's last date; never before it."""
    last = dates[-1].date() if dates is not None and len(dates) else None
    if given is None:
        if last is None:
            raise InputError(f"{path}: the batch has no dates; give the cycle's date with --as-of")
        return last
    if last is not None and given < last:
        raise InputError(
            f"{path}: --as-of {given} is before the batch's last date {last}: the batch holds "
            f"data from after the cycle's date (a look-ahead). Give {last} or later, or "
            f"leave --as-of out to use {last}."
        )
    return given


def registry_show(args: argparse.Namespace) -> int:
    """Print the active set."""
    from autopilot.registry import StrategyRegistry

    active, last = StrategyRegistry(args.state_dir).snapshot()
    if args.format == "json":
        payload = {
            "state_dir": str(args.state_dir),
            "cycle": last.cycle,
            "as_of": last.as_of,
            "active": [record.to_dict() for record in active.values()],
        }
        print_json("registry", payload)
        return EXIT_OK
    print(f"cycle {last.cycle} as of {last.as_of or '-'} ({args.state_dir})")
    if not active:
        print("no active strategies")
        return EXIT_OK
    width = max(len(sid) for sid in active)
    print(f"{'strategy'.ljust(width)}  promoted (cycle)                  failures  last reasons")
    for sid, record in active.items():
        promoted = f"{record.promoted_at[:19]} ({record.promoted_cycle})"
        print(
            f"{sid.ljust(width)}  {promoted:<32}  {record.consecutive_failures:>8}  "
            f"{', '.join(record.last_reasons) or '-'}"
        )
    return EXIT_OK


def registry_history(args: argparse.Namespace) -> int:
    """Print one strategy's story, cycle by cycle."""
    from autopilot.registry import StrategyRegistry

    story = StrategyRegistry(args.state_dir).history(args.strategy_id)
    if not story:
        raise InputError(
            f"no cycle in {args.state_dir / 'registry_audit.jsonl'} mentions "
            f"{args.strategy_id!r}; `autopilot registry show` lists the active strategies"
        )
    if args.format == "json":
        print_json("strategy_history", {"strategy_id": args.strategy_id, "cycles": story})
        return EXIT_OK
    for entry in story:
        decision = entry["decision"]
        change = entry["change"]
        verdict = "absent"
        if decision is not None:
            verdict = (
                "promotable"
                if decision["promotable"]
                else "not promotable: "
                + ", ".join(
                    f"{g['gate']} {g['reason']}"
                    for g in decision["gates"]
                    if g["mode"] == "enforce" and g["outcome"] != "PASS"
                )
            )
        what = change["kind"] if change else "-"
        as_of = entry["as_of"] or "-"
        print(
            f"cycle {entry['cycle']:>4}  as of {as_of:<10}  {entry['time'][:19]}  "
            f"{what:<22} {verdict}"
        )
    return EXIT_OK
