"""The walk report (``autopilot report``): one self-contained page about a state folder's walk.

In order: a header (folder, environment, cycles, the last cycle), the tearsheet of the paper
book against the index (:mod:`autopilot.report.walk_tearsheet`), what the autopilot did
each cycle (:mod:`autopilot.report.walk_activity`), the last cycle's verdict table and the
strategies' charts from the last cycle's candidate returns, active and promotable first.
The page is the same for the same state folder: nothing in it depends on the clock.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autopilot.report.candidates import candidate_sections
from autopilot.report.page import Charts, esc, write_page
from autopilot.report.verdicts import gate_names, gate_summary, verdict_table
from autopilot.report.walk_activity import activity_sections
from autopilot.report.walk_history import WalkHistory, read_walk
from autopilot.report.walk_tearsheet import performance_sections
from autopilot.sdk.verdicts import Decision

__all__ = ["WrittenReport", "write_walk_report"]

_TOC = (
    ("summary", "summary"),
    ("equity", "equity"),
    ("rolling", "rolling Sharpe"),
    ("drawdowns", "drawdowns"),
    ("monthly", "monthly returns"),
    ("timeline", "active strategies"),
    ("costs", "costs"),
    ("meta", "meta-labeling"),
    ("allocator", "allocator"),
    ("verdicts-section", "verdicts"),
    ("strategies", "strategies"),
)


@dataclass(frozen=True)
class WrittenReport:
    """What :func:`write_walk_report` wrote."""

    path: Path
    cycles: int
    charts: int
    size: int


def write_walk_report(
    state_dir: str | os.PathLike[str],
    path: str | os.PathLike[str],
    *,
    transition_window: int = 3,
    max_plots: int = 40,
) -> WrittenReport:
    """Write the walk report of a state folder to ``path`` (atomically).

    Parameters
    ----------
    state_dir : str or os.PathLike
        A state folder ``autopilot run`` walked.
    path : str or os.PathLike
        The page to write; its folder is created (once the state folder has been read).
    transition_window : int
        Half-width ``k`` of the windows shaded around regime changes on the strategies'
        charts (the transition-drawdown gate's default is 3).
    max_plots : int
        Most strategies to chart; the others are named.

    Raises
    ------
    StateError
        The folder holds no committed cycle, or a file of it does not match its record.
    """
    walk = read_walk(state_dir)
    status = _status(walk.last)
    ordered = _ordered(walk.decisions, status)
    charts = Charts()
    body = [
        _header(walk),
        *performance_sections(walk.records, charts),
        *activity_sections(walk.records, walk.models, charts),
        _verdicts(walk, ordered, status),
        "<h2 id='strategies'>Strategies</h2>",
        _strategies(walk, ordered, status, charts, transition_window, max_plots),
    ]
    title = f"Autopilot walk · {walk.last.get('environment') or ''} · {walk.last['as_of']}"
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    size = write_page(path, title, "\n".join(body), charts=charts)
    return WrittenReport(Path(path), len(walk.records), charts.count, size)


def _status(last: Mapping[str, Any]) -> dict[str, str]:
    """Each strategy's standing after the last cycle: active, promoted, in grace, removed."""
    status = {sid: "active" for sid in last["active"]}
    status.update(dict.fromkeys(last["promoted"], "promoted"))
    status.update(dict.fromkeys(last["in_grace"], "in grace"))
    status.update(dict.fromkeys(last["removed"], "removed"))
    return status


def _ordered(decisions: Sequence[Decision], status: Mapping[str, str]) -> list[Decision]:
    """Active (promoted and in grace included) first, then promotable, then the rest."""

    def rank(decision: Decision) -> int:
        state = status.get(decision.strategy_id)
        if state is not None and state != "removed":
            return 0
        return 1 if decision.promotable else 2

    return sorted(decisions, key=rank)  # stable: the cycle's order within each group


def _header(walk: WalkHistory) -> str:
    first, last = walk.records[0], walk.last
    confidence = last.get("regime_confidence")
    regime = f"{last['regime']}" + (
        f" (confidence {confidence:.2f})" if confidence is not None else ""
    )
    model = last["model"].get("sha256")
    meta = last["meta_label"]
    rows = [
        ("state folder", str(walk.state_dir)),
        ("environment", last.get("environment") or "—"),
        ("cycles", f"{len(walk.records)}: {first['as_of']} … {last['as_of']}"),
        ("last cycle", f"{last['cycle']} as of {last['as_of']}, regime {regime}"),
        (
            "active",
            f"{len(last['active'])} strategies, {len(last['in_grace'])} in grace, "
            f"{len(last['promoted'])} promoted and {len(last['removed'])} "
            "removed in the last cycle",
        ),
        ("book", f"equity {last['equity']:,.2f}, {len(last.get('weights', {}))} positions"),
        (
            "model",
            f"{model[:12]}, threshold {meta['confidence_threshold']:.4f}"
            if model and meta.get("confidence_threshold") is not None
            else "none: signals pass unfiltered",
        ),
    ]
    items = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in rows)
    toc = " ".join(f"<a href='#{anchor}'>{label}</a>" for anchor, label in _TOC)
    return (
        "<header>\n<h1>Autopilot walk</h1>\n"
        f"<dl class='meta'>{items}</dl>\n<nav class='toc'>{toc}</nav>\n</header>"
    )


def _verdicts(walk: WalkHistory, ordered: Sequence[Decision], status: Mapping[str, str]) -> str:
    head = "<h2 id='verdicts-section'>Last cycle's verdicts</h2>"
    if not ordered:
        return head + "<p class='note'>The registry holds no decisions for the last cycle.</p>"
    gates = gate_names(ordered)
    promotable = sum(d.promotable for d in ordered)
    return (
        head
        + f"<p class='note'>Registry cycle {walk.registry_cycle} (as of {esc(walk.last['as_of'])}"
        f"): {len(ordered)} candidates, {promotable} promotable. Active first, then "
        "promotable; click a column to sort (gates by value), type to filter. Cells show "
        "outcome and value / threshold; hover for the reason.</p>"
        + gate_summary(ordered, gates)
        + verdict_table(ordered, gates, status=status)
    )


def _strategies(
    walk: WalkHistory,
    ordered: Sequence[Decision],
    status: Mapping[str, str],
    charts: Charts,
    window: int,
    max_plots: int,
) -> str:
    if walk.candidates is None:
        return "<p class='note'>No candidates_latest.parquet in the state folder: no charts.</p>"
    return (
        "<p class='note'>The last cycle's backtest window of each strategy (the returns its "
        "gates judged), active and promotable first.</p>"
        + candidate_sections(
            ordered, walk.candidates, charts, window=window, max_plots=max_plots, status=status
        )
    )
