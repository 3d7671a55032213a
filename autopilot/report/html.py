"""A self-contained HTML report of one promotion cycle: verdict table, equity and drawdown plots.

The page has no external assets and no scripts: styles are inline CSS, charts are inline
SVG drawn here, and reasons appear as ``title=`` tooltips. Every text taken from the input
(strategy ids, gate names, reasons, environment) goes through :func:`html.escape`.

Charts are downsampled to at most ``_MAX_POINTS`` points by keeping the minimum and the
maximum of each bucket, so the deepest drawdown and the highest peak survive and a
10,000-candidate, 2,520-bar batch still gives a page of a few megabytes.
"""

from __future__ import annotations

import html
import logging
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from autopilot._atomic_write import atomic_write_bytes
from autopilot.sdk.verdicts import Decision, Mode, Outcome, Verdict
from autopilot.stats import metrics
from autopilot.stats.batch import CandidateBatch
from autopilot.stats.metrics import MISSING_REGIME

__all__ = ["write_html_report"]

logger = logging.getLogger(__name__)

_MAX_POINTS = 800
_OMITTED_LISTED = 25

# Chart geometry in SVG user units.
_WIDTH = 960
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 12, 18, 22
_EQUITY_HEIGHT = 200
_DRAWDOWN_HEIGHT = 120

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#202124;
margin:24px auto;max-width:1200px;padding:0 16px}
h1{font-size:22px;margin:0 0 8px}h2{font-size:18px;margin:28px 0 8px}
dl.meta{display:grid;grid-template-columns:max-content auto;gap:2px 16px;margin:0 0 12px}
dl.meta dt{color:#5f6368}dl.meta dd{margin:0;font-family:ui-monospace,monospace}
.counts span{display:inline-block;margin-right:14px;padding:3px 10px;border-radius:12px}
table{border-collapse:collapse;font-size:13px}
th,td{border:1px solid #dadce0;padding:3px 6px;text-align:left;vertical-align:top}
thead th{position:sticky;top:0;background:#f1f3f4}
td.sid{font-family:ui-monospace,monospace;white-space:nowrap}
#verdicts b{font-weight:600}
#verdicts i{font-style:normal;color:#5f6368;margin-left:4px;font-size:12px}
#verdicts small{display:block;font-size:11px;color:#3c4043;max-width:320px}
#verdicts sup{vertical-align:1px;font-size:10px;border:1px dashed #80868b;border-radius:3px;
padding:0 2px;margin-left:4px}
td.shadow{opacity:.7}
.o-pass{background:#e6f4ea;color:#0d652d}.o-fail{background:#fce8e6;color:#a50e0e}
.o-insufficient_data{background:#fef7e0;color:#7a4f01}.o-error{background:#f3e8fd;color:#681da8}
.o-none{background:#f8f9fa;color:#80868b}
.yes{background:#e6f4ea;color:#0d652d;font-weight:600}
.no{background:#fce8e6;color:#a50e0e;font-weight:600}
section.cand{border-top:1px solid #dadce0;padding:10px 0 4px}
section.cand h3{font-size:15px;margin:0 0 4px;font-family:ui-monospace,monospace}
.sub{color:#5f6368;font-size:12px;margin:0 0 4px}
ul.reasons{margin:2px 0 6px;padding-left:18px;font-size:12px;color:#a50e0e}
svg{display:block;max-width:100%;height:auto}
svg text{font-size:11px;fill:#5f6368}
svg .grid{stroke:#eceff1}svg .base{stroke:#9aa0a6;stroke-dasharray:3 3}
svg .eq{fill:none;stroke:#1a73e8;stroke-width:1.2}
svg .dd{fill:#f28b82;stroke:#c5221f;stroke-width:.8}
svg rect.tw{fill:#fbbc04;fill-opacity:.28}
svg rect.frame{fill:none;stroke:#dadce0}
.note{color:#5f6368;font-size:12px}
"""


def write_html_report(
    path: str | os.PathLike[str],
    decisions: Sequence[Decision],
    batch: CandidateBatch,
    *,
    environment: str,
    config_hash: str,
    transition_window: int = 3,
    max_plots: int = 40,
) -> None:
    """Write one self-contained HTML page describing a cycle's promotion decisions.

    The page holds a header (environment, configuration hash, counts), a per-gate summary,
    a verdict table (one row per decision, one column per gate, coloured by outcome, the
    reason as a tooltip and spelled out for blocking verdicts) and, for up to ``max_plots``
    candidates (not promotable first), an equity curve and an underwater chart with the
    merged ``±transition_window`` windows around regime changes shaded.

    Parameters
    ----------
    path : str or os.PathLike
        Destination file; written to a temporary file in the same folder, then moved into
        place with :func:`os.replace`.
    decisions : sequence of Decision
        The decisions to report, in the order the engine produced them.
    batch : CandidateBatch
        The batch the decisions were made on; supplies returns, dates and regime labels.
    environment : str
        Name of the environment (dev, staging, prod).
    config_hash : str
        Hash of the gate-set configuration that produced the decisions.
    transition_window : int
        Half-width ``k`` of the shaded windows, in bars (the transition-drawdown gate's
        ``k``).
    max_plots : int
        Most candidates to chart; the others are named as omitted.
    """
    ordered = sorted(decisions, key=lambda d: d.promotable)  # stable: blocked first
    gates = _gate_names(ordered)
    body = [
        _header(ordered, batch, environment, config_hash, transition_window),
        _gate_summary(ordered, gates),
        _verdict_table(ordered, gates),
        _plots(ordered, batch, transition_window, max(0, max_plots)),
    ]
    title = f"Promotion report · {environment}"
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width,initial-scale=1">\n'
        f"<title>{_esc(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )
    atomic_write_bytes(path, page.encode("utf-8"), keep_backup=False)
    logger.info("wrote report %s: %d decisions, %d bytes", path, len(ordered), len(page.encode()))


# --- page sections -------------------------------------------------------------------------


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _gate_names(decisions: Sequence[Decision]) -> list[str]:
    """Gate names in first-seen order (a dict keeps insertion order)."""
    names: dict[str, None] = {}
    for decision in decisions:
        for verdict in decision.verdicts:
            names.setdefault(verdict.gate, None)
    return list(names)


def _header(
    decisions: Sequence[Decision],
    batch: CandidateBatch,
    environment: str,
    config_hash: str,
    window: int,
) -> str:
    n_promotable = sum(d.promotable for d in decisions)
    if batch.dates is not None and batch.n_bars:
        span = f"{batch.dates[0]:%Y-%m-%d} … {batch.dates[-1]:%Y-%m-%d}"
    else:
        span = "no dates (bar numbers)"
    if batch.regimes is None:
        regimes = "none (no windows shaded)"
    else:
        regimes = "shared by all candidates" if batch.regimes.ndim == 1 else "per candidate"
        if batch.regime_names:
            regimes += f" ({', '.join(batch.regime_names)})"
    rows = [
        ("environment", environment),
        ("config hash", config_hash),
        ("batch", f"{batch.n_bars} bars × {batch.n_candidates} candidates"),
        ("period", span),
        ("regime labels", regimes),
        ("transition window", f"±{window} bars"),
    ]
    meta = "".join(f"<dt>{_esc(k)}</dt><dd>{_esc(v)}</dd>" for k, v in rows)
    return (
        f"<header>\n<h1>Promotion report</h1>\n<dl class='meta'>{meta}</dl>\n"
        "<p class='counts'>"
        f"<span class='yes' id='n-promotable'>{n_promotable} promotable</span>"
        f"<span class='no' id='n-blocked'>{len(decisions) - n_promotable} not promotable</span>"
        f"<span>{len(decisions)} decisions</span></p>\n</header>"
    )


def _gate_summary(decisions: Sequence[Decision], gates: Sequence[str]) -> str:
    counts = {g: dict.fromkeys(Outcome, 0) for g in gates}
    modes: dict[str, set[Mode]] = {g: set() for g in gates}
    for decision in decisions:
        for verdict in decision.verdicts:
            counts[verdict.gate][verdict.outcome] += 1
            modes[verdict.gate].add(verdict.mode)
    head = "".join(f"<th>{_esc(o.name)}</th>" for o in Outcome)
    rows = []
    for gate in gates:
        mode = "/".join(sorted(m.value for m in modes[gate]))
        cells = "".join(
            f"<td class='{_outcome_class(o) if counts[gate][o] else ''}'>{counts[gate][o]}</td>"
            for o in Outcome
        )
        rows.append(f"<tr><td>{_esc(gate)}</td><td>{_esc(mode)}</td>{cells}</tr>")
    return (
        "<h2>Gates</h2>\n<table id='gates'><thead><tr><th>gate</th><th>mode</th>"
        f"{head}</tr></thead>\n<tbody>{''.join(rows)}</tbody></table>"
    )


def _outcome_class(outcome: Outcome) -> str:
    return f"o-{outcome.name.lower()}"


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"


def _verdict_cell(verdict: Verdict | None) -> str:
    # Terse markup (<b>, <i>, <small>) on purpose: a 10,000-row table repeats it 60,000 times.
    if verdict is None:
        return "<td class='o-none'>—</td>"
    classes = _outcome_class(verdict.outcome)
    shadow = ""
    if verdict.mode is Mode.SHADOW:
        classes += " shadow"
        shadow = "<sup>shadow</sup>"
    why = f"<small>{_esc(verdict.reason)}</small>" if verdict.blocks else ""
    return (
        f"<td class='{classes}' title='{_esc(verdict.reason)}'><b>{verdict.outcome.name}</b>"
        f"<i>{_number(verdict.value)} / {_number(verdict.threshold)}</i>{shadow}{why}</td>"
    )


def _verdict_table(decisions: Sequence[Decision], gates: Sequence[str]) -> str:
    head = "".join(f"<th>{_esc(g)}</th>" for g in gates)
    rows = []
    for decision in decisions:
        by_gate = {v.gate: v for v in decision.verdicts}
        flag = "<td class='yes'>yes</td>" if decision.promotable else "<td class='no'>no</td>"
        cells = "".join(_verdict_cell(by_gate.get(g)) for g in gates)
        rows.append(f"<tr><td class='sid'>{_esc(decision.strategy_id)}</td>{flag}{cells}</tr>")
    return (
        "<h2>Verdicts</h2>\n<p class='note'>Cells show outcome and value / threshold; hover "
        "for the reason. Not promotable first.</p>\n"
        "<table id='verdicts'><thead><tr><th>strategy</th><th>promotable</th>"
        f"{head}</tr></thead>\n<tbody>\n" + "\n".join(rows) + "\n</tbody></table>"
    )


def _plots(
    decisions: Sequence[Decision], batch: CandidateBatch, window: int, max_plots: int
) -> str:
    columns = {sid: j for j, sid in enumerate(batch.strategy_ids)}
    shown, omitted = decisions[:max_plots], decisions[max_plots:]
    parts = ["<h2>Equity and drawdown</h2>"]
    parts.append(
        f"<p class='note'>Shaded: ±{window} bars around regime changes (merged), on each "
        "candidate's own track record. Equity starts at 1.0 before the first return.</p>"
    )
    for decision in shown:
        parts.append(_candidate_section(decision, batch, columns.get(decision.strategy_id), window))
    if omitted:
        listed = ", ".join(_esc(d.strategy_id) for d in omitted[:_OMITTED_LISTED])
        more = len(omitted) - _OMITTED_LISTED
        tail = f" and {more} more" if more > 0 else ""
        parts.append(
            f"<p class='note' id='omitted'>Charts omitted for {len(omitted)} candidates "
            f"(limit {max_plots}; all are in the table): {listed}{tail}.</p>"
        )
    return "\n".join(parts)


# --- one candidate ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Track:
    """One candidate's live segment: bars ``first..last`` of the batch."""

    first: int
    returns: np.ndarray
    labels: np.ndarray | None


def _track(batch: CandidateBatch, column: int) -> _Track | None:
    # Live span read off the column itself (leading/trailing NaN = not live), as the batch
    # defines it; cheaper than the full statistics pass for the few charted candidates.
    live = np.flatnonzero(~np.isnan(batch.returns[:, column]))
    if live.size == 0:
        return None
    first, last = int(live[0]), int(live[-1])
    returns = batch.returns[first : last + 1, column]
    labels = None
    if batch.regimes is not None:
        regimes = batch.regimes if batch.regimes.ndim == 1 else batch.regimes[:, column]
        labels = regimes[first : last + 1]
    return _Track(first, returns, labels)


def _candidate_section(
    decision: Decision, batch: CandidateBatch, column: int | None, window: int
) -> str:
    sid = _esc(decision.strategy_id)
    if decision.promotable:
        badge = "<span class='yes'>promotable</span>"
    else:
        badge = "<span class='no'>not promotable</span>"
    head = f"<section class='cand' data-strategy='{sid}'>\n<h3>{sid} {badge}</h3>"
    reasons = "".join(f"<li>{_esc(r)}</li>" for r in decision.blocking_reasons)
    reasons_html = f"<ul class='reasons'>{reasons}</ul>" if reasons else ""
    if column is None:
        return f"{head}{reasons_html}<p class='note'>Not in the batch: no returns.</p></section>"
    track = _track(batch, column)
    if track is None:
        return f"{head}{reasons_html}<p class='note'>No live bars.</p></section>"

    finite = np.isfinite(track.returns)
    returns = np.where(finite, track.returns, 0.0)
    equity, losses = metrics.drawdowns(returns)
    drawdown = -losses  # drawn below zero
    windows = [] if track.labels is None else metrics.transition_windows(track.labels, window)
    x_label = _x_labeller(batch, track.first)

    n = returns.size
    notes = [f"{n} live bars", f"max drawdown {-drawdown.min():.1%}"]
    if batch.dates is not None:
        last = track.first + n - 1
        notes.insert(0, f"{batch.dates[track.first]:%Y-%m-%d} … {batch.dates[last]:%Y-%m-%d}")
    notes.append(f"{len(windows)} transition window{'s' if len(windows) != 1 else ''}")
    if track.labels is not None and (track.labels == MISSING_REGIME).any():
        notes.append(f"{int((track.labels == MISSING_REGIME).sum())} bars without a regime label")
    if not finite.all():
        notes.append(f"{int((~finite).sum())} missing or non-finite returns drawn as 0")
    sub = f"<p class='sub'>{_esc(' · '.join(notes))}</p>"

    equity_svg = _chart(equity, "equity", _EQUITY_HEIGHT, windows, x_label, log=_use_log(equity))
    drawdown_svg = _chart(drawdown, "drawdown", _DRAWDOWN_HEIGHT, windows, x_label, log=False)
    return f"{head}\n{sub}{reasons_html}\n{equity_svg}\n{drawdown_svg}\n</section>"


def _x_labeller(batch: CandidateBatch, first: int) -> Callable[[int], str]:
    """Label for equity point ``i`` (after the segment's bar ``i - 1``)."""
    dates = batch.dates

    def label(i: int) -> str:
        bar = first + max(i - 1, 0)
        return f"{dates[bar]:%Y-%m-%d}" if dates is not None else f"bar {bar}"

    return label


def _use_log(equity: np.ndarray) -> bool:
    low, high = float(equity.min()), float(equity.max())
    return low > 0.0 and high / low > 10.0


# --- SVG drawing -----------------------------------------------------------------------------


def _downsample_indices(values: np.ndarray, max_points: int = _MAX_POINTS) -> np.ndarray:
    """Indices of at most ``max_points`` points keeping each bucket's minimum and maximum.

    The first and last points are always kept, in increasing order.
    """
    n = values.size
    if n <= max_points:
        return np.arange(n)
    buckets = max(1, (max_points - 2) // 2)
    size = math.ceil(n / buckets)
    padded = np.concatenate((values, np.full(buckets * size - n, values[-1])))
    blocks = padded.reshape(buckets, size)
    offsets = np.arange(buckets) * size
    lows = offsets + np.argmin(blocks, axis=1)
    highs = offsets + np.argmax(blocks, axis=1)
    keep = np.concatenate(([0, n - 1], np.minimum(lows, n - 1), np.minimum(highs, n - 1)))
    return np.unique(keep)


def _nice_step(span: float, count: int) -> float:
    raw = span / max(count, 1)
    magnitude = 10.0 ** math.floor(math.log10(raw))
    for factor in (1.0, 2.0, 2.5, 5.0, 10.0):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10.0 * magnitude


def _linear_ticks(low: float, high: float, count: int = 4) -> list[float]:
    if not high > low:
        return [low]
    step = _nice_step(high - low, count)
    start = math.ceil(low / step - 1e-9) * step
    ticks = []
    value = start
    while value <= high + step * 1e-9:
        ticks.append(0.0 if abs(value) < step * 1e-9 else value)
        value += step
    return ticks


def _log_ticks(low: float, high: float) -> list[float]:
    ticks = []
    for exponent in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1):
        for mantissa in (1.0, 2.0, 5.0):
            value = mantissa * 10.0**exponent
            if low <= value <= high:
                ticks.append(value)
    if len(ticks) > 6:
        ticks = [t for t in ticks if math.isclose(math.log10(t) % 1.0, 0.0, abs_tol=1e-9)]
    return ticks


def _tick_text(value: float, kind: str) -> str:
    if kind == "drawdown":
        return f"{value:.0%}" if abs(value) >= 0.1 or value == 0.0 else f"{value:.1%}"
    return f"{value:.3g}"


def _chart(
    values: np.ndarray,
    kind: str,
    height: int,
    windows: Sequence[tuple[int, int]],
    x_label: Callable[[int], str],
    *,
    log: bool,
) -> str:
    """One chart of ``values`` at x = 0..n (equity points), windows shaded as rectangles."""
    n = values.size - 1
    plot_w = _WIDTH - _LEFT - _RIGHT
    plot_h = height - _TOP - _BOTTOM

    def px(x: float) -> float:
        return _LEFT + plot_w * (x / n if n else 0.5)

    if kind == "drawdown":
        # At least a 1 % range, so a curve without drawdown still gets sensible ticks.
        low, high = min(float(values.min()), -0.01), 0.0
        ticks = _linear_ticks(low, high, 3)
    elif log:
        low, high = float(values.min()), float(values.max())
        ticks = _log_ticks(low, high)
    else:
        low, high = float(values.min()), float(values.max())
        if high - low < 1e-9:
            low, high = low - 0.01, high + 0.01
        ticks = _linear_ticks(low, high, 4)
    transform = np.log10 if log else (lambda v: v)
    t_low, t_high = float(transform(low)), float(transform(high))

    def py(v: np.ndarray | float) -> np.ndarray | float:
        return _TOP + plot_h * (t_high - transform(v)) / (t_high - t_low)

    parts = [
        f"<svg data-kind='{kind}' viewBox='0 0 {_WIDTH} {height}' width='{_WIDTH}' "
        f"height='{height}' role='img' aria-label='{kind}'>"
    ]
    # Windows cover bars s..e, i.e. equity points from just before s to just after e.
    for start, end in windows:
        x0, x1 = px(start), px(end + 1)
        parts.append(
            f"<rect class='tw' x='{x0:.1f}' y='{_TOP}' width='{max(x1 - x0, 1.0):.1f}' "
            f"height='{plot_h}'><title>{_esc(x_label(start + 1))} … "
            f"{_esc(x_label(end + 1))}</title></rect>"
        )
    for tick in ticks:
        y = float(py(tick))
        parts.append(
            f"<line class='grid' x1='{_LEFT}' x2='{_WIDTH - _RIGHT}' y1='{y:.1f}' y2='{y:.1f}'/>"
            f"<text x='{_LEFT - 6}' y='{y + 4:.1f}' text-anchor='end'>"
            f"{_esc(_tick_text(tick, kind))}</text>"
        )
    if kind == "equity" and low < 1.0 < high:
        y = float(py(1.0))
        parts.append(
            f"<line class='base' x1='{_LEFT}' x2='{_WIDTH - _RIGHT}' y1='{y:.1f}' y2='{y:.1f}'/>"
        )
    for i in sorted({round(n * f) for f in (0.0, 0.25, 0.5, 0.75, 1.0)} - {0} or {0}):
        anchor = "end" if i == n else "middle"
        parts.append(
            f"<text x='{px(i):.1f}' y='{height - 6}' text-anchor='{anchor}'>"
            f"{_esc(x_label(i))}</text>"
        )

    keep = _downsample_indices(values)
    xs = _LEFT + plot_w * (keep / n if n else np.full(keep.size, 0.5))
    ys = np.asarray(py(values[keep]))
    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys, strict=True))
    if kind == "drawdown":
        y0 = float(py(0.0))
        parts.append(
            f"<polygon class='dd' points='{xs[0]:.1f},{y0:.1f} {points} {xs[-1]:.1f},{y0:.1f}'/>"
        )
    else:
        parts.append(f"<polyline class='eq' points='{points}'/>")
    parts.append(f"<rect class='frame' x='{_LEFT}' y='{_TOP}' width='{plot_w}' height='{plot_h}'/>")
    label = "equity (log scale)" if log else kind
    parts.append(f"<text x='{_LEFT}' y='{_TOP - 5}'>{_esc(label)}</text></svg>")
    return "".join(parts)


# --- output ----------------------------------------------------------------------------------
