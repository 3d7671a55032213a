"""The ``autopilot paper`` commands: one paper cycle from files, and the book's status."""

from __future__ import annotations

import argparse
import math
from dataclasses import asdict
from datetime import date
from pathlib import Path

from autopilot.cli._common import (
    EXIT_OK,
    format_parent,
    parse_date,
    print_json,
    seconds,
    state_parent,
    verbose_parent,
)
from autopilot.errors import InputError

__all__ = ["add_commands"]


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Add ``paper status`` and ``paper rebalance``."""
    verbose = verbose_parent(top_level=False)
    state = state_parent(group=False)
    paper = commands.add_parser(
        "paper", parents=[verbose, state_parent(group=True)], help="the paper-trading book"
    )
    paper_commands = paper.add_subparsers(dest="paper_command", required=True)
    status = paper_commands.add_parser(
        "status",
        parents=[verbose, state, format_parent()],
        help="positions, marks, cash, equity and costs",
    )
    status.set_defaults(handler=paper_status)
    rebalance = paper_commands.add_parser(
        "rebalance",
        parents=[verbose, state, format_parent()],
        help="one paper cycle: mark, trade toward target weights, book the fills",
    )
    rebalance.add_argument(
        "--prices",
        type=Path,
        required=True,
        help="CSV/Parquet: security_id, price[, volume, volatility]",
    )
    rebalance.add_argument(
        "--targets", type=Path, required=True, help="CSV/Parquet: security_id, weight"
    )
    rebalance.add_argument("--date", required=True, help="the cycle's date, YYYY-MM-DD")
    rebalance.add_argument(
        "--init", action="store_true", help="create the state folder if it holds no state yet"
    )
    rebalance.add_argument(
        "--initial-cash",
        type=float,
        help="cash of a new book, with --init (default 1,000,000); an existing book keeps its own",
    )
    rebalance.add_argument(
        "--lock-timeout", type=seconds, default=30.0, help="seconds (default 30)"
    )
    rebalance.set_defaults(handler=paper_rebalance)


def paper_rebalance(args: argparse.Namespace) -> int:
    """Run one paper cycle from a prices file and a targets file."""
    from autopilot.market.returns_io import read_security_table
    from autopilot.paper_trader import INPUT_CONSTRAINTS, PaperTrader
    from autopilot.state.cycles import StateFolder

    day = parse_date(args.date, "--date")
    if args.initial_cash is not None and not (
        math.isfinite(args.initial_cash) and args.initial_cash > 0
    ):
        raise InputError(f"--initial-cash must be a positive number, was {args.initial_cash!r}")
    if not args.init:
        StateFolder(args.state_dir).require()  # before any work: a typo fails fast
    prices = read_security_table(
        args.prices, ("price",), ("volume", "volatility"), INPUT_CONSTRAINTS
    )
    targets = read_security_table(args.targets, ("weight",), (), INPUT_CONSTRAINTS)["weight"]
    total = sum(targets.values())
    if total > 1 + 1e-9:
        raise InputError(
            f"{args.targets}: the weights sum to {total:.6g} > 1; `autopilot paper rebalance` "
            f"neither levers nor shorts: scale them to sum to at most 1"
        )
    trader = PaperTrader(
        args.state_dir,
        initial_cash=args.initial_cash,
        lock_timeout=args.lock_timeout,
        create=args.init,
    )
    summary = trader.run_cycle(
        day,
        prices["price"],
        targets,
        volumes=prices.get("volume"),
        volatilities=prices.get("volatility"),
    )
    if args.format == "json":
        payload = {
            "state_dir": str(args.state_dir),
            "cycle": summary.cycle,
            "date": day.isoformat(),
            "repeated": summary.repeated,
            "fills": list(summary.fills),
            "stale": [asdict(s) for s in summary.stale],
            "equity": summary.equity,
            "cash": summary.cash,
            "weights": summary.weights,
        }
        print_json("paper_cycle", payload)
        return EXIT_OK
    if summary.repeated:
        print(
            f"cycle {summary.cycle} of {day} was already committed with these inputs; "
            f"nothing traded ({len(summary.fills)} fills then, equity {summary.equity:,.2f})"
        )
        return EXIT_OK
    for fill in summary.fills:
        side = "buy " if fill["side"] == 1 else "sell"
        print(
            f"{side} {fill['shares']:>12,.10g} {fill['security_id']:<12} "
            f"at {fill['fill_price']:.4f} "
            f"(arrival {fill['arrival_price']:.4f}, cost {fill['actual_cost_bps']:+.2f} bps, "
            f"predicted {fill['predicted_cost_bps']:.2f})"
        )
    print(
        f"\ncycle {summary.cycle} of {day}: {len(summary.fills)} fills, "
        f"equity {summary.equity:,.2f}, cash {summary.cash:,.2f}, {len(summary.stale)} stale marks"
    )
    return EXIT_OK


def paper_status(args: argparse.Namespace) -> int:
    """Print positions, marks, cash, equity and the cost summary."""
    from autopilot.paper_trader import PaperTrader

    book, as_of, calibrator = PaperTrader(args.state_dir).snapshot()
    weights = book.current_weights()
    surprise = calibrator.compute_cost_surprise()
    if args.format == "json":
        payload = {
            "state_dir": str(args.state_dir),
            "as_of": as_of,
            "cash": book.cash,
            "equity": book.equity(),
            "positions": [
                {**asdict(p), "weight": weights.get(sid)}
                for sid, p in sorted(book.positions.items())
            ],
            "costs": {
                "fills": surprise.count,
                "mean_bps": _number(calibrator.mean_cost_bps()),
                "surprise_weighted_mean_bps": _number(surprise.weighted_mean_bps),
                "surprise_median_bps": _number(surprise.median_bps),
                "price_improvements": surprise.price_improvements,
                "multiplier": calibrator.multiplier,
            },
        }
        print_json("paper_book", payload)
        return EXIT_OK
    print(f"book as of {as_of or 'never traded'} ({args.state_dir})")
    if book.positions:
        print(
            f"{'security':<12} {'shares':>12} {'entry':>10} {'last price':>11} {'marked':<10} "
            f"{'value':>14} {'weight':>7} {'unrealised':>13}  stale"
        )
    for sid, position in sorted(book.positions.items()):
        value = position.market_value
        pnl = position.unrealised_pnl
        stale = ""
        if position.last_price_date is None:
            stale = "never marked"
        elif as_of and position.last_price_date < as_of:
            age = (date.fromisoformat(as_of) - date.fromisoformat(position.last_price_date)).days
            stale = f"{age} days"
        print(
            f"{sid:<12} {position.shares:>12,.10g} {position.entry_price:>10.4f} "
            f"{position.last_price if position.last_price is not None else float('nan'):>11.4f} "
            f"{position.last_price_date or '-':<10} "
            f"{value if value is not None else float('nan'):>14,.2f} "
            f"{weights.get(sid, float('nan')):>7.2%} "
            f"{pnl if pnl is not None else float('nan'):>13,.2f}  {stale}"
        )
    print(f"cash {book.cash:,.2f}   equity {book.equity():,.2f}")
    print(
        f"costs over {surprise.count} fills: mean {calibrator.mean_cost_bps():+.2f} bps, "
        f"surprise (actual - predicted) {surprise.weighted_mean_bps:+.2f} bps weighted, "
        f"{surprise.median_bps:+.2f} median, {surprise.price_improvements} price improvements, "
        f"model multiplier {calibrator.multiplier:.3f}"
    )
    return EXIT_OK


def _number(value: float) -> float | None:
    """JSON has no NaN: a figure that does not exist yet (no fills) is null."""
    return value if math.isfinite(value) else None
