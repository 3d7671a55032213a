"""The ``autopilot`` command line.

Exit codes: 0 when the command did its job (a batch was evaluated, promotable or not),
2 for bad input or configuration (message on stderr, nothing written), 1 for an internal
error.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from autopilot import __version__
from autopilot.config import dump_config, load_config
from autopilot.errors import AutopilotError, InputError
from autopilot.gateset import GateSet, VerdictTable
from autopilot.paper_cli import add_paper_commands, paper_rebalance, paper_status
from autopilot.plugins import GateCatalog, load_gate_catalog
from autopilot.registry import ChangeKind, StrategyRegistry
from autopilot.returns_io import read_candidates
from autopilot.verdicts import Outcome

logger = logging.getLogger("autopilot")

EXIT_OK, EXIT_INTERNAL, EXIT_USAGE = 0, 1, 2
_PROGRESS_MIN_CANDIDATES = 2000
_SHORT_OUTCOME = {
    Outcome.PASS: "pass",
    Outcome.FAIL: "FAIL",
    Outcome.INSUFFICIENT_DATA: "n/a",
    Outcome.ERROR: "ERROR",
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``autopilot``."""
    parser = argparse.ArgumentParser(
        prog="autopilot", description="Promotion gates for systematic strategy research."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--config-dir",
        default="configs",
        help="folder of environment YAML files (default: configs)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    commands = parser.add_subparsers(dest="command", required=True)

    gates = commands.add_parser("gates", help="list gates or check a batch of candidates")
    gate_commands = gates.add_subparsers(dest="gates_command", required=True)
    listing = gate_commands.add_parser("list", help="every gate, its plugin, parameters, status")
    listing.add_argument("--env", help="environment whose gate set and plugin allow-list to use")
    check = gate_commands.add_parser("check", help="evaluate a returns file against a gate set")
    check.add_argument("file", type=Path, help="Parquet or CSV returns, long or wide layout")
    check.add_argument("--env", required=True, help="environment name or YAML path")
    check.add_argument("--format", choices=("table", "json"), default="table")
    check.add_argument("--report", type=Path, help="write a self-contained HTML report here")
    check.add_argument("--regimes", type=Path, help="Parquet or CSV with date, regime columns")

    registry = commands.add_parser("registry", help="the active strategies and their story")
    registry.add_argument(
        "--state-dir", type=Path, default=Path("state"), help="state folder (default: state)"
    )
    registry_commands = registry.add_subparsers(dest="registry_command", required=True)
    update = registry_commands.add_parser(
        "update", help="run one cycle: evaluate a batch and update the active set"
    )
    update.add_argument("file", type=Path, help="Parquet or CSV returns, long or wide layout")
    update.add_argument("--env", required=True, help="environment name or YAML path")
    update.add_argument("--regimes", type=Path, help="Parquet or CSV with date, regime columns")
    update.add_argument("--lock-timeout", type=float, default=30.0, help="seconds (default 30)")
    registry_commands.add_parser("show", help="the active set")
    history = registry_commands.add_parser("history", help="one strategy's story, cycle by cycle")
    history.add_argument("strategy_id")

    add_paper_commands(commands)

    config = commands.add_parser("config", help="show the resolved configuration")
    config_commands = config.add_subparsers(dest="config_command", required=True)
    show = config_commands.add_parser("show", help="print an environment's resolved YAML")
    show.add_argument("--env", required=True)

    example = commands.add_parser(
        "example", help="write the example batch built from the embedded market data"
    )
    example.add_argument("out", type=Path, help="output file (.parquet or .csv)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    handlers = {
        ("gates", "list"): _gates_list,
        ("gates", "check"): _gates_check,
        ("config", "show"): _config_show,
        ("registry", "update"): _registry_update,
        ("registry", "show"): _registry_show,
        ("registry", "history"): _registry_history,
        ("paper", "status"): paper_status,
        ("paper", "rebalance"): paper_rebalance,
        ("example", None): _example,
    }
    sub = next(
        (
            getattr(args, name)
            for name in ("gates_command", "config_command", "registry_command", "paper_command")
            if getattr(args, name, None)
        ),
        None,
    )
    try:
        return handlers[(args.command, sub)](args)
    except AutopilotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:
        logger.debug("internal error", exc_info=True)
        print(
            f"internal error: {type(exc).__name__}: {exc} (run with -v for the traceback; "
            f"please report it)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


def _gates_list(args: argparse.Namespace) -> int:
    enabled: dict[str, str] = {}
    if args.env:
        gate_set = GateSet(load_config(args.env, args.config_dir))
        catalog = gate_set.catalog
        enabled = {g.name: g.mode.value for g in gate_set.gates}
    else:
        catalog = load_gate_catalog(())
    print(_format_catalog(catalog, enabled, args.env))
    return EXIT_OK


def _format_catalog(catalog: GateCatalog, enabled: dict[str, str], env: str | None) -> str:
    lines = []
    for name, info in catalog.gates.items():
        plugin = f"{info.plugin.name} ({info.plugin.distribution} {info.plugin.version})"
        status = f"enabled, {enabled[name]}" if name in enabled else "not enabled"
        if env is None:
            status = "available"
        lines.append(f"{name}  [{status}]  plugin {plugin}")
        if info.cls.description:
            lines.append(f"    {info.cls.description}")
        for key, param in info.cls.parameters.items():
            doc = f"  - {param.doc}" if param.doc else ""
            lines.append(f"    {key}: {param.describe()}{doc}")
    for plugin in catalog.not_enabled:
        lines.append(
            f"{plugin.name}  [installed, not enabled]  plugin {plugin.name} "
            f"({plugin.distribution} {plugin.version}); add `{plugin.name}` to `plugins:` "
            f"to load it"
        )
    return "\n".join(lines)


def _check_writable(path: Path | None) -> None:
    """Refuse an output path whose folder is missing before any work is done."""
    if path is not None and not path.parent.is_dir():
        raise InputError(f"{path}: the folder {path.parent} does not exist; create it first")


def _gates_check(args: argparse.Namespace) -> int:
    _check_writable(args.report)
    config = load_config(args.env, args.config_dir)
    gate_set = GateSet(config)
    batch = read_candidates(args.file, args.regimes)
    with tqdm(
        total=len(gate_set.gates) + 1,
        desc="evaluating",
        unit="step",
        file=sys.stderr,
        disable=batch.n_candidates < _PROGRESS_MIN_CANDIDATES or None,
        leave=False,
    ) as bar:
        table = gate_set.evaluate_arrays(batch, on_progress=lambda step: bar.update(1))
    # Before the table is printed: reading every reason settles the outcomes (a verdict
    # whose reason fails becomes ERROR when read; see autopilot.gateset).
    decisions = table.decisions()
    if args.report:
        from autopilot.report import write_html_report

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
            "decisions": [d.to_dict() for d in decisions],
        }
        json.dump(payload, sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        print(_format_table(table))
        promotable = int(table.promotable.sum())
        print(
            f"\n{len(decisions)} candidates, {promotable} promotable "
            f"(environment {config.environment}, config {gate_set.config_hash})"
        )
        if args.report:
            print(f"report: {args.report}")
    return EXIT_OK


def _transition_window(gate_set: GateSet) -> int:
    windows = [w for g in gate_set.gates for w in g.gate.transition_windows()]
    return windows[0] if windows else 3


def _format_table(table: VerdictTable) -> str:
    headers = ["strategy", "promote", *(c.gate for c in table.columns)]
    rows = []
    for i, sid in enumerate(table.strategy_ids):
        cells = [sid, "yes" if table.promotable[i] else "no"]
        for column in table.columns:
            outcome = _SHORT_OUTCOME[Outcome(int(column.outcomes[i]))]
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


def _config_show(args: argparse.Namespace) -> int:
    config = load_config(args.env, args.config_dir)
    gate_set = GateSet(config)
    resolved = gate_set.describe()
    print(f"# environment {config.environment}, config hash {gate_set.config_hash}")
    print(f"# from {' <- '.join(config.sources)}")
    print(dump_config(resolved), end="")
    return EXIT_OK


def _registry_update(args: argparse.Namespace) -> int:
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


def _registry_show(args: argparse.Namespace) -> int:
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


def _registry_history(args: argparse.Namespace) -> int:
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
                    if g["mode"] == "enforce" and g["outcome"] != Outcome.PASS.name
                )
            )
        what = change["kind"] if change else "-"
        print(f"cycle {entry['cycle']:>4}  {entry['time'][:19]}  {what:<22} {verdict}")
    return EXIT_OK


def _example(args: argparse.Namespace) -> int:
    from autopilot.examples import write_example

    _check_writable(args.out)
    write_example(args.out)
    print(f"wrote {args.out}")
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
