"""``autopilot registry``: one promotion cycle, the active set, one strategy's story."""

from __future__ import annotations

import argparse

from autopilot.cli._common import (
    EXIT_OK,
    environment_parent,
    returns_parent,
    state_parent,
    verbose_parent,
)
from autopilot.errors import InputError

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
    update = registry_commands.add_parser(
        "update",
        parents=[verbose, state, returns_parent(), environment_parent()],
        help="run one cycle: evaluate a batch and update the active set",
    )
    update.add_argument("--lock-timeout", type=float, default=30.0, help="seconds (default 30)")
    update.set_defaults(handler=registry_update)
    show = registry_commands.add_parser("show", parents=[verbose, state], help="the active set")
    show.set_defaults(handler=registry_show)
    history = registry_commands.add_parser(
        "history", parents=[verbose, state], help="one strategy's story, cycle by cycle"
    )
    history.add_argument("strategy_id")
    history.set_defaults(handler=registry_history)


def registry_update(args: argparse.Namespace) -> int:
    """Evaluate a batch with the environment's gate set and apply it to the registry."""
    from autopilot.config import load_config
    from autopilot.market.returns_io import read_candidates
    from autopilot.promotion_gate import GateSet
    from autopilot.registry import ChangeKind, StrategyRegistry

    config = load_config(args.env, args.config_dir)
    gate_set = GateSet(config)
    score = gate_set.score_function()
    batch = read_candidates(args.file, args.regimes)
    decisions = gate_set.evaluate(batch)
    registry = StrategyRegistry(args.state_dir, config.registry, lock_timeout=args.lock_timeout)
    report = registry.update(
        decisions,
        score=score,
        context={
            "environment": config.environment,
            "config_hash": gate_set.config_hash,
            "plugins": gate_set.catalog.plugin_versions(),
        },
    )
    for change in report.changes:
        reasons = f"  ({', '.join(change.reasons)})" if change.reasons else ""
        failures = f" {change.consecutive_failures}/{config.registry.promotion_grace_cycles}"
        shown = failures if change.consecutive_failures else ""
        print(f"{change.kind.value:<22}{change.strategy_id}{shown}{reasons}")
    print(
        f"\ncycle {report.cycle}: {len(report.active)} active, "
        f"{len(report.of_kind(ChangeKind.PROMOTED))} promoted, "
        f"{len(report.of_kind(ChangeKind.REMOVED))} removed (state {args.state_dir})"
    )
    return EXIT_OK


def registry_show(args: argparse.Namespace) -> int:
    """Print the active set."""
    from autopilot.registry import StrategyRegistry

    active = StrategyRegistry(args.state_dir).active()
    if not active:
        print(f"no active strategies in {args.state_dir}")
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
        print(f"cycle {entry['cycle']:>4}  {entry['time'][:19]}  {what:<22} {verdict}")
    return EXIT_OK
