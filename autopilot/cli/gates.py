"""``autopilot gates list`` and ``autopilot gates check``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autopilot.cli._catalog import CatalogEntry, add_listing, print_catalog
from autopilot.cli._common import (
    EXIT_OK,
    check_writable,
    environment_parent,
    print_json,
    returns_parent,
    verbose_parent,
)
from autopilot.cli._evaluate import evaluate_file, load_gate_set
from autopilot.cli._progress import StageBars

if TYPE_CHECKING:
    from autopilot.promotion_gate import GateSet, VerdictTable

__all__ = ["add_commands"]

_SHORT_OUTCOME = {"PASS": "pass", "FAIL": "FAIL", "INSUFFICIENT_DATA": "n/a", "ERROR": "ERROR"}


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Add ``gates list`` and ``gates check``."""
    verbose = verbose_parent(top_level=False)
    gates = commands.add_parser(
        "gates", parents=[verbose], help="list gates or check a batch of candidates"
    )
    gate_commands = gates.add_subparsers(dest="gates_command", required=True)
    add_listing(gate_commands, "list", "every gate", gates_list)
    check = gate_commands.add_parser(
        "check",
        parents=[verbose, returns_parent(), environment_parent()],
        help="evaluate a returns file against a gate set",
    )
    check.add_argument("--format", choices=("table", "json"), default="table")
    check.add_argument("--report", type=Path, help="write a self-contained HTML report here")
    check.set_defaults(handler=gates_check)


def gates_list(args: argparse.Namespace) -> int:
    """Print every registered gate with its plugin, parameters and status."""
    from autopilot.sdk.plugins import load_gate_catalog

    enabled: dict[str, str] = {}
    values: dict[str, dict[str, Any]] = {}  # the environment's own parameter values
    if args.env:
        gate_set = load_gate_set(args)[1]
        catalog = gate_set.catalog
        enabled = {g.name: g.mode.value for g in gate_set.gates}
        values = {g.name: dict(g.gate.params) for g in gate_set.gates}
    else:
        catalog = load_gate_catalog(())
    entries = []
    for name, info in catalog.gates.items():
        here = values.get(name, {})
        status = (
            "available" if args.env is None else "enabled" if name in enabled else "not enabled"
        )
        entries.append(
            CatalogEntry(
                info,
                status,
                fields={"mode": enabled.get(name)},
                detail=f", {enabled[name]}" if name in enabled else "",
                per_parameter={key: {"value": value} for key, value in here.items()},
                shown={key: f"{value!r} here; " for key, value in here.items()},
            )
        )
    print_catalog(args.format, "gate_catalog", "gates", args.env, entries, catalog.not_enabled)
    return EXIT_OK


def gates_check(args: argparse.Namespace) -> int:
    """Evaluate a returns file and print (or write) the verdicts."""
    check_writable(args.report, args.file, args.regimes)
    with StageBars() as bars:
        done = evaluate_file(args, bars)
        config, gate_set, batch, table = done.config, done.gate_set, done.batch, done.table
        # Every output reads every reason first, which settles the outcomes (a verdict whose
        # reason fails becomes ERROR when read; see autopilot.promotion_gate).
        n = batch.n_candidates
        if args.report:
            from autopilot.report.html import write_html_report

            decisions = list(bars.iterate(table.iter_decisions(), "deciding", n, "candidate"))
            write_html_report(
                args.report,
                decisions,
                batch,
                environment=config.environment,
                config_hash=gate_set.config_hash,
                transition_window=_transition_window(gate_set),
            )
        if args.format == "json":
            payload = {
                "environment": config.environment,
                "config_hash": gate_set.config_hash,
                "decisions": bars.iterate(table.records(), "writing", n, "candidate"),
            }
            print_json("verdicts", payload)
            return EXIT_OK
        table.settle()
    print(_format_table(table))
    promotable = int(table.promotable.sum())
    print(
        f"\n{n} candidates, {promotable} promotable "
        f"(environment {config.environment}, config {gate_set.config_hash})"
    )
    if args.report:
        print(f"report: {args.report}")
    return EXIT_OK


def _transition_window(gate_set: GateSet) -> int:
    windows = [w for g in gate_set.gates for w in g.windows]
    return windows[0] if windows else 3


def _format_table(table: VerdictTable) -> str:
    from autopilot.sdk.verdicts import Outcome

    headers = ["strategy", "promote", *(c.gate for c in table.columns)]
    rows = []
    for i, sid in enumerate(table.strategy_ids):
        cells = [sid, "yes" if table.promotable[i] else "no"]
        for column in table.columns:
            code = Outcome(int(column.outcomes[i]))
            outcome = _SHORT_OUTCOME[code.name]
            if code in (Outcome.ERROR, Outcome.INSUFFICIENT_DATA):
                outcome += " " + column.reason(i).split(":", 1)[0]  # why, e.g. NO_LIVE_BARS
            value = column.values[i]
            text = outcome if value != value else f"{outcome} {value:.4g}"
            cells.append(text + ("*" if column.mode.value == "shadow" else ""))
        rows.append(cells)
    widths = [max(len(r[k]) for r in [headers, *rows]) for k in range(len(headers))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    if any(c.mode.value == "shadow" for c in table.columns):
        lines.append("* shadow mode: reported, never blocks promotion")
    return "\n".join(lines)
