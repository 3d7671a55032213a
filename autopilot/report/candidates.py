"""One section per candidate: its equity and underwater chart, transition windows shaded.

Shared by the gate report and the walk report. A candidate's chart covers its live span
(leading and trailing NaN are not live); equity starts at 1.0 before the first return and
each point is the equity after that bar. The ``±k``-bar windows around regime changes
(merged, on the candidate's own track record, as the transition-drawdown gate measures
them) are shaded across both panes, from the point before the window's first bar.

Series are downsampled to at most ``MAX_POINTS`` points by keeping the minimum and the
maximum of each bucket, so the deepest drawdown and the highest peak survive and a
10,000-candidate, 2,520-bar batch still gives a page of a few megabytes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from autopilot.report.figures import figure
from autopilot.report.page import Charts, esc
from autopilot.sdk.verdicts import Decision
from autopilot.stats import metrics
from autopilot.stats.batch import CandidateBatch
from autopilot.stats.metrics import MISSING_REGIME

__all__ = ["MAX_POINTS", "WINDOW_SHAPE", "candidate_sections", "downsample_indices"]

MAX_POINTS = 800
#: The ``name`` of the shapes that shade transition windows.
WINDOW_SHAPE = "transition window"
_OMITTED_LISTED = 25
_HEIGHT = 330
_WINDOW_FILL = "rgba(251,188,4,0.28)"


@dataclass(frozen=True)
class _Track:
    """One candidate's live segment: bars ``first..first + len(returns) - 1`` of the batch."""

    first: int
    returns: np.ndarray
    labels: np.ndarray | None


def candidate_sections(
    decisions: Sequence[Decision],
    batch: CandidateBatch,
    charts: Charts,
    *,
    window: int,
    max_plots: int,
    status: Mapping[str, str] | None = None,
) -> str:
    """A section per decision (in the given order) for the first ``max_plots``; the rest named.

    Parameters
    ----------
    decisions : sequence of Decision
        The candidates to chart, in order.
    batch : CandidateBatch
        Their returns, dates and regime labels.
    charts : Charts
        The page's charts.
    window : int
        Half-width ``k`` of the shaded windows, in bars.
    max_plots : int
        Most candidates to chart.
    status : mapping, optional
        A status per strategy id shown next to its badge (``active``, ``in grace``).
    """
    columns = {sid: j for j, sid in enumerate(batch.strategy_ids)}
    shown, omitted = decisions[: max(max_plots, 0)], decisions[max(max_plots, 0) :]
    parts = [
        f"<p class='note'>Shaded: ±{window} bars around regime changes (merged), on each "
        "candidate's own track record. Equity starts at 1.0 before the first return; "
        "drag to zoom, double-click to reset.</p>"
    ]
    for decision in shown:
        state = (status or {}).get(decision.strategy_id, "")
        column = columns.get(decision.strategy_id)
        parts.append(_section(decision, state, batch, column, window, charts))
    if omitted:
        listed = ", ".join(esc(d.strategy_id) for d in omitted[:_OMITTED_LISTED])
        more = len(omitted) - _OMITTED_LISTED
        tail = f" and {more} more" if more > 0 else ""
        parts.append(
            f"<p class='note' id='omitted'>Charts omitted for {len(omitted)} candidates "
            f"(limit {max_plots}; all are in the table): {listed}{tail}.</p>"
        )
    return "\n".join(parts)


def _section(
    decision: Decision,
    state: str,
    batch: CandidateBatch,
    column: int | None,
    window: int,
    charts: Charts,
) -> str:
    sid = esc(decision.strategy_id)
    if decision.promotable:
        badge = "<span class='yes'>promotable</span>"
    else:
        badge = "<span class='no'>not promotable</span>"
    if state:
        badge += f" <span class='sub'>{esc(state)}</span>"
    head = f"<section class='cand' data-strategy='{sid}'>\n<h3>{sid} {badge}</h3>"
    reasons = "".join(f"<li>{esc(r)}</li>" for r in decision.blocking_reasons)
    reasons_html = f"<ul class='reasons'>{reasons}</ul>" if reasons else ""
    if column is None:
        return f"{head}{reasons_html}<p class='note'>Not in the batch: no returns.</p></section>"
    track = _track(batch, column)
    if track is None:
        return f"{head}{reasons_html}<p class='note'>No live bars.</p></section>"

    finite = np.isfinite(track.returns)
    returns = np.where(finite, track.returns, 0.0)
    equity, losses = metrics.drawdowns(returns)
    windows = [] if track.labels is None else metrics.transition_windows(track.labels, window)
    n = returns.size
    notes = [f"{n} live bars", f"max drawdown {losses.max():.1%}"]
    if batch.dates is not None:
        last = track.first + n - 1
        notes.insert(0, f"{batch.dates[track.first]:%Y-%m-%d} … {batch.dates[last]:%Y-%m-%d}")
    notes.append(f"{len(windows)} transition window{'s' if len(windows) != 1 else ''}")
    if track.labels is not None and (track.labels == MISSING_REGIME).any():
        notes.append(f"{int((track.labels == MISSING_REGIME).sum())} bars without a regime label")
    if not finite.all():
        notes.append(f"{int((~finite).sum())} missing or non-finite returns drawn as 0")
    sub = f"<p class='sub'>{esc(' · '.join(notes))}</p>"
    chart = _figure(batch, track.first, equity[1:], losses[1:], windows)
    return f"{head}\n{sub}{reasons_html}\n{charts.embed(chart)}\n</section>"


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


def _figure(
    batch: CandidateBatch,
    first: int,
    equity: np.ndarray,
    losses: np.ndarray,
    windows: Sequence[tuple[int, int]],
) -> go.Figure:
    """Equity (top) and drawdown (bottom) after each live bar, one x-axis for both."""
    bars = np.arange(first, first + equity.size)
    if batch.dates is not None:
        x = np.asarray(batch.dates[bars].strftime("%Y-%m-%d"), dtype=object)
    else:
        x = bars
    keep_equity, keep_losses = downsample_indices(equity), downsample_indices(-losses)
    shapes = [
        {
            "type": "rect",
            "name": WINDOW_SHAPE,
            "xref": "x",
            "yref": "paper",
            "x0": x[max(start - 1, 0)],  # the window's drawdown starts from the point before
            "x1": x[end],
            "y0": 0,
            "y1": 1,
            "fillcolor": _WINDOW_FILL,
            "line": {"width": 0},
            "layer": "below",
        }
        for start, end in windows
    ]
    log = _use_log(equity)
    return figure(
        [
            go.Scatter(
                x=x[keep_equity],
                y=equity[keep_equity],
                mode="lines",
                line={"color": "#1a73e8", "width": 1.2},
                hovertemplate="equity %{y:.4g}<extra></extra>",
            ),
            go.Scatter(
                x=x[keep_losses],
                y=-losses[keep_losses],
                yaxis="y2",
                mode="lines",
                fill="tozeroy",
                line={"color": "#c5221f", "width": 0.8},
                fillcolor="#f28b82",
                hovertemplate="drawdown %{y:.1%}<extra></extra>",
            ),
        ],
        height=_HEIGHT,
        legend=False,
        shapes=shapes,
        xaxis={
            "anchor": "y2",
            "type": "date" if batch.dates is not None else "linear",
            "title": {"text": "" if batch.dates is not None else "bar"},
        },
        yaxis={
            "domain": [0.36, 1.0],
            "type": "log" if log else "linear",
            "title": {"text": "equity (log)" if log else "equity"},
        },
        yaxis2={
            "domain": [0.0, 0.3],
            "anchor": "x",
            "tickformat": ".0%",
            "title": {"text": "drawdown"},
            "rangemode": "tozero",
        },
    )


def _use_log(equity: np.ndarray) -> bool:
    low, high = float(equity.min()), float(equity.max())
    return low > 0.0 and high / low > 10.0


def downsample_indices(values: np.ndarray, max_points: int = MAX_POINTS) -> np.ndarray:
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
