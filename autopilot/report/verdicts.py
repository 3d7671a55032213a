"""Verdict tables shared by the reports: per-gate counts and one row per decision.

The decision table is sortable (click a header: gates sort by their value, blanks last) and
filterable (words matched anywhere in a row, and a choice of tags such as promotable or
active) by the page's script. Every text from input is escaped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from autopilot.report.page import esc
from autopilot.sdk.verdicts import Decision, Mode, Outcome, Verdict

__all__ = ["filter_bar", "gate_names", "gate_summary", "tag", "verdict_table"]


def gate_names(decisions: Sequence[Decision]) -> list[str]:
    """Gate names in first-seen order (a dict keeps insertion order)."""
    names: dict[str, None] = {}
    for decision in decisions:
        for verdict in decision.verdicts:
            names.setdefault(verdict.gate, None)
    return list(names)


def gate_summary(decisions: Sequence[Decision], gates: Sequence[str]) -> str:
    """A table of each gate's mode and the number of candidates per outcome."""
    counts = {g: dict.fromkeys(Outcome, 0) for g in gates}
    modes: dict[str, set[Mode]] = {g: set() for g in gates}
    for decision in decisions:
        for verdict in decision.verdicts:
            counts[verdict.gate][verdict.outcome] += 1
            modes[verdict.gate].add(verdict.mode)
    head = "".join(f"<th class='num'>{esc(o.name)}</th>" for o in Outcome)
    rows = []
    for gate in gates:
        mode = "/".join(sorted(m.value for m in modes[gate]))
        cells = "".join(
            f"<td class='num {_outcome_class(o) if counts[gate][o] else ''}'>{counts[gate][o]}</td>"
            for o in Outcome
        )
        rows.append(f"<tr><td>{esc(gate)}</td><td>{esc(mode)}</td>{cells}</tr>")
    return (
        "<table id='gates'><thead><tr><th>gate</th><th>mode</th>"
        f"{head}</tr></thead>\n<tbody>{''.join(rows)}</tbody></table>"
    )


def filter_bar(table_id: str, tags: Sequence[str], what: str = "rows") -> str:
    """A text box and a choice of row tags that filter the table ``table_id``.

    A row offers tag ``t`` when its ``data-tags`` holds :func:`tag` of ``t``.
    """
    options = "<option value=''>all</option>" + "".join(
        f"<option value='{esc(tag(t))}'>{esc(t)}</option>" for t in tags
    )
    return (
        f"<div class='filters' data-filter-for='{esc(table_id)}'>"
        f"<input type='search' placeholder='filter {esc(what)}: words anywhere in a row' "
        f"aria-label='filter {esc(what)}'>"
        f"<select aria-label='show'>{options}</select><span class='shown'></span></div>"
    )


def tag(text: str) -> str:
    """``text`` as one word of a row's space-separated ``data-tags``."""
    return "-".join(text.split())


def verdict_table(
    decisions: Sequence[Decision],
    gates: Sequence[str],
    *,
    status: Mapping[str, str] | None = None,
) -> str:
    """One row per decision: strategy, [status,] promotable, one cell per gate.

    Parameters
    ----------
    decisions : sequence of Decision
        In the order to show them.
    gates : sequence of str
        The gate columns.
    status : mapping, optional
        A status per strategy id (``active``, ``in grace``, ...) shown in its own column
        and offered as a filter; ids without one have an empty cell.
    """
    tags = ["promotable", "blocked"]
    if status is not None:
        tags += sorted(set(status.values()))
    head = "<th>strategy</th>" + ("<th>status</th>" if status is not None else "")
    head += "<th>promotable</th>" + "".join(f"<th>{esc(g)}</th>" for g in gates)
    rows = []
    for decision in decisions:
        by_gate = {v.gate: v for v in decision.verdicts}
        row_tags = ["promotable" if decision.promotable else "blocked"]
        cells = f"<td class='sid'>{esc(decision.strategy_id)}</td>"
        if status is not None:
            state = status.get(decision.strategy_id, "")
            row_tags += [state] if state else []
            cells += f"<td>{esc(state)}</td>"
        cells += "<td class='yes'>yes</td>" if decision.promotable else "<td class='no'>no</td>"
        cells += "".join(_verdict_cell(by_gate.get(g)) for g in gates)
        rows.append(f"<tr data-tags='{esc(' '.join(map(tag, row_tags)))}'>{cells}</tr>")
    return (
        filter_bar("verdicts", tags, "strategies")
        + "\n<div class='scroll'><table id='verdicts' class='verdicts sortable'><thead><tr>"
        + head
        + "</tr></thead>\n<tbody>\n"
        + "\n".join(rows)
        + "\n</tbody></table></div>"
    )


def _outcome_class(outcome: Outcome) -> str:
    return f"o-{outcome.name.lower()}"


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"


def _verdict_cell(verdict: Verdict | None) -> str:
    # Terse markup (<b>, <i>, <small>) on purpose: a 10,000-row table repeats it 60,000 times.
    if verdict is None:
        return "<td class='o-none' data-sort=''>—</td>"
    classes = _outcome_class(verdict.outcome)
    shadow = ""
    if verdict.mode is Mode.SHADOW:
        classes += " shadow"
        shadow = "<sup>shadow</sup>"
    why = f"<small>{esc(verdict.reason)}</small>" if verdict.blocks else ""
    value = "" if verdict.value is None else repr(verdict.value)
    return (
        f"<td class='{classes}' data-sort='{value}' title='{esc(verdict.reason)}'>"
        f"<b>{verdict.outcome.name}</b><i>{_number(verdict.value)} / "
        f"{_number(verdict.threshold)}</i>{shadow}{why}</td>"
    )
