"""The walk report's charts of what the autopilot did each cycle.

Which strategies were active and in grace, the execution-cost surprise and the calibrator's
multiplier, the meta-labeler's threshold and its models' validation, and the allocator's
profile. One point per committed cycle record; strategy ids are escaped for plotly.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go

from autopilot.report.figures import MARGIN, figure, panes
from autopilot.report.page import Charts, chart_text, esc
from autopilot.report.walk_history import ModelValidation

__all__ = ["activity_sections"]

_ACTIVE, _GRACE, _IDLE = "#1a73e8", "#fbbc04", "#f1f3f4"
_PROFILE_FIELDS = (
    ("gross_exposure", "gross exposure"),
    ("position_cap", "position cap"),
    ("turnover_limit", "turnover limit"),
    ("risk_aversion", "risk aversion"),
)


def activity_sections(
    records: Sequence[dict[str, Any]], models: Sequence[ModelValidation], charts: Charts
) -> list[str]:
    """The sections: active strategies, costs, meta-labeling, allocator."""
    x = [r["as_of"] for r in records]
    return [
        "<h2 id='timeline'>Active strategies</h2>" + _timeline(records, x, charts),
        "<h2 id='costs'>Execution costs</h2><p class='note'>Cost surprise: the cycle's actual "
        "minus predicted cost of its fills, notional-weighted, in basis points (none without "
        "fills); the calibrator's multiplier scales the cost model's predictions.</p>"
        + charts.embed(_costs(records, x)),
        "<h2 id='meta'>Meta-labeling</h2><p class='note'>The threshold each cycle filtered "
        "its signals at (the model's own; none before the first model) and the share of "
        "signals kept; each trained model's out-of-sample precision, AUC and base rate "
        "(the share of winning events, the precision of keeping every signal) on the day "
        "it was trained, filled when a cycle adopted it.</p>"
        + charts.embed(_meta_label(records, models, x)),
        "<h2 id='allocator'>Allocator</h2>" + _allocator(records, x, charts),
    ]


def _timeline(records: Sequence[dict[str, Any]], x: list[str], charts: Charts) -> str:
    first_seen: dict[str, int] = {}
    for i, record in enumerate(records):
        for sid in record["active"]:
            first_seen.setdefault(sid, i)
    ids = sorted(first_seen, key=lambda s: (first_seen[s], s))
    if not ids:
        return "<p class='note'>No strategy was active in any cycle.</p>"
    z = [[0] * len(records) for _ in ids]
    for i, record in enumerate(records):
        grace = set(record["in_grace"])
        for row, sid in enumerate(ids):
            if sid in grace:
                z[row][i] = 2
            elif sid in record["active"]:
                z[row][i] = 1
    words = ("not active", "active", "in grace")
    shown = [chart_text(sid) for sid in ids]
    chart = figure(
        [
            go.Heatmap(
                z=z,
                x=x,
                y=shown,
                zmin=0,
                zmax=2,
                colorscale=[
                    [0.0, _IDLE],
                    [1 / 3, _IDLE],
                    [1 / 3, _ACTIVE],
                    [2 / 3, _ACTIVE],
                    [2 / 3, _GRACE],
                    [1.0, _GRACE],
                ],
                showscale=False,
                customdata=[[words[v] for v in row] for row in z],
                hovertemplate="%{y}<br>%{x}: %{customdata}<extra></extra>",
                ygap=1,
            ),
            *(
                go.Scatter(x=[None], y=[None], mode="markers", name=name, marker={"color": c})
                for name, c in (("active", _ACTIVE), ("in grace", _GRACE))
            ),
        ],
        height=90 + 18 * len(ids),
        hovermode="closest",
        margin={**MARGIN, "l": 10},
        xaxis={"type": "date"},
        yaxis={"autorange": "reversed", "automargin": True, "type": "category"},
    )
    counts = [len(r["active"]) for r in records]
    return (
        f"<p class='note'>{len(ids)} strategies were active at some point (first promoted "
        f"first); {min(counts)} to {max(counts)} at a time. In grace: active, but failing its "
        "gates for fewer cycles than the grace allows.</p>" + charts.embed(chart)
    )


def _costs(records: Sequence[dict[str, Any]], x: list[str]) -> go.Figure:
    surprise = [_number(r["cost_surprise_bps"]) for r in records]
    return figure(
        [
            go.Bar(
                x=x,
                y=surprise,
                name="cost surprise (bps)",
                marker={
                    "color": ["#c5221f" if s is not None and s > 0 else "#188038" for s in surprise]
                },
                hovertemplate="%{y:+.1f} bps",
            ),
            go.Scatter(
                x=x,
                y=[r["cost_multiplier"] for r in records],
                name="calibrator multiplier",
                yaxis="y2",
                line={"color": "#5f6368", "width": 1.4, "shape": "hv"},
                hovertemplate="%{y:.3f}",
            ),
        ],
        height=280,
        margin={**MARGIN, "r": 60},
        xaxis={"type": "date"},
        yaxis={"title": {"text": "bps"}, "zeroline": True},
        yaxis2={
            "overlaying": "y",
            "side": "right",
            "title": {"text": "multiplier"},
            "tickmode": "auto",
            "showgrid": False,
        },
    )


def _meta_label(
    records: Sequence[dict[str, Any]], models: Sequence[ModelValidation], x: list[str]
) -> go.Figure:
    meta = [r["meta_label"] for r in records]
    traces: list[Any] = [
        go.Scatter(
            x=x,
            y=[_number(m.get("confidence_threshold")) for m in meta],
            name="threshold used",
            line={"color": "#1a73e8", "width": 1.6, "shape": "hv"},
            hovertemplate="%{y:.3f}",
        ),
        go.Scatter(
            x=x,
            y=[m["kept"] / m["signals"] if m.get("signals") else None for m in meta],
            name="share of signals kept",
            line={"color": "#5f6368", "width": 1, "dash": "dot"},
            hovertemplate="%{y:.0%}",
        ),
    ]
    for key, label, symbol, colour in (
        ("precision", "model precision", "circle", "#188038"),
        ("auc", "model AUC", "diamond", "#a142f4"),
        ("base_rate", "base rate", "x", "#c5221f"),
    ):
        traces.append(
            go.Scatter(
                x=[m.trained_on.isoformat() for m in models],
                y=[_number(m.validation.get(key)) for m in models],
                name=label,
                mode="markers",
                marker={
                    "symbol": [symbol if m.adopted else f"{symbol}-open" for m in models],
                    "size": 9,
                    "color": colour,
                    "line": {"color": colour, "width": 1.5},
                },
                customdata=[
                    [chart_text(m.file), "adopted" if m.adopted else "not adopted"] for m in models
                ],
                hovertemplate="%{y:.3f} (%{customdata[0]}, %{customdata[1]})",
            )
        )
    return figure(
        traces,
        height=300,
        xaxis={"type": "date", "range": [x[0], x[-1]] if len(x) > 1 else None},
        yaxis={"range": [0, 1], "title": {"text": "probability"}},
    )


def _allocator(records: Sequence[dict[str, Any]], x: list[str], charts: Charts) -> str:
    decisions = [r["allocator"] for r in records]
    modes = list(dict.fromkeys(d["mode"] for d in decisions))  # in the order they appear
    traces: list[Any] = []
    layout: dict[str, Any] = {}
    rows = len(_PROFILE_FIELDS)
    domains = panes(rows, 0.04)
    for k, (field, label) in enumerate(_PROFILE_FIELDS):
        axis = "" if k == 0 else str(k + 1)
        for part, name, style in (
            ("profile", "regime profile", {"color": "#a142f4", "width": 1.4}),
            ("effective", "applied", {"color": "#1a73e8", "width": 2}),
            ("baseline", "baseline", {"color": "#5f6368", "width": 1, "dash": "dash"}),
        ):
            traces.append(
                go.Scatter(
                    x=x,
                    y=[d[part][field] for d in decisions],
                    name=name,
                    legendgroup=part,
                    showlegend=k == 0,
                    yaxis=f"y{axis}",
                    line={**style, "shape": "hv"},
                    hovertemplate=f"{label} %{{y:.3g}}",
                )
            )
        layout[f"yaxis{axis}"] = {
            "domain": domains[k],
            "title": {"text": label, "font": {"size": 11}},
            "anchor": "x",
        }
    chart = figure(
        traces,
        height=520,
        xaxis={"type": "date", "anchor": f"y{rows}"},
        **layout,
    )
    return (
        f"<p class='note'>Mode {esc(' then '.join(modes))}. The regime profile is what the "
        "cycle's regime and its confidence ask for (blended toward neutral as confidence "
        "falls); applied is what the optimiser used: the profile in full mode, the baseline in "
        "shadow mode (recorded, not applied) and with the allocator off.</p>" + charts.embed(chart)
    )


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None
