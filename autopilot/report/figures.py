"""The layout the reports' plotly figures share: no template of their own, one margin, panes.

Every figure is built with ``template="none"``: the page applies one shared template to all
(:mod:`autopilot.report.page`), so it is not repeated in each figure's data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go

__all__ = ["MARGIN", "figure", "panes"]

MARGIN = {"l": 70, "r": 12, "t": 10, "b": 36}


def figure(traces: Sequence[Any], *, height: int, legend: bool = True, **layout: Any) -> go.Figure:
    """A figure of ``traces`` over a shared x-axis, values of every trace on hover.

    Parameters
    ----------
    traces : sequence of plotly traces
        The data.
    height : int
        Pixels.
    legend : bool
        Show a legend, in a row above the plot.
    **layout
        Further layout properties (axes, shapes, a margin of its own).
    """
    base: dict[str, Any] = {
        "template": "none",
        "height": height,
        "margin": MARGIN,
        "hovermode": "x unified",
        "showlegend": legend,
        "legend": {"orientation": "h", "x": 0, "y": 1.0, "yanchor": "bottom"},
    }
    return go.Figure(data=list(traces), layout={**base, **layout})


def panes(count: int, gap: float) -> list[list[float]]:
    """Vertical domains of ``count`` equal panes, top first, ``gap`` apart (fractions)."""
    height = (1.0 - gap * (count - 1)) / count
    return [
        [max(round(1.0 - k * (height + gap) - height, 9), 0.0), round(1.0 - k * (height + gap), 9)]
        for k in range(count)
    ]
