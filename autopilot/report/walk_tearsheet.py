"""The walk report's performance part: the paper book against the index, as a tearsheet.

Two equity series at the cycles' dates: the paper book, starting from its equity before the
first cycle's trades (so the first cycle's costs count), and the index, the market's close
at each cycle rebased to that same start. Every figure comes from
:mod:`autopilot.stats.tearsheet`, annualised with the cycles a year the dates imply.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from autopilot.report.figures import figure, panes
from autopilot.report.page import Charts, esc
from autopilot.stats import tearsheet

__all__ = ["Book", "books", "performance_sections", "regime_shapes"]

_PAPER, _INDEX = "#1a73e8", "#5f6368"
_REGIME_FILLS = (
    "rgba(52,168,83,0.10)",
    "rgba(234,67,53,0.12)",
    "rgba(66,133,244,0.10)",
    "rgba(251,188,4,0.16)",
    "rgba(161,66,244,0.10)",
)
_UNLABELLED_FILL = "rgba(128,134,139,0.12)"
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_WORST = 5


@dataclass(frozen=True)
class Book:
    """One equity series at the cycles' dates."""

    name: str
    dates: pd.DatetimeIndex
    equity: np.ndarray


def books(records: Sequence[dict[str, Any]]) -> tuple[Book, Book]:
    """The paper book and the index rebased to its start, one point per cycle."""
    dates = pd.DatetimeIndex([r["as_of"] for r in records])
    start = records[0]["equity"] + records[0]["cost"]  # before the first cycle's trades
    paper = np.array([start, *(r["equity"] for r in records[1:])], dtype=np.float64)
    close = np.array([r["market_close"] for r in records], dtype=np.float64)
    return Book("paper", dates, paper), Book("index", dates, start * close / close[0])


def performance_sections(records: Sequence[dict[str, Any]], charts: Charts) -> list[str]:
    """The sections: summary figures, equity and drawdown, rolling Sharpe, worst drawdowns,
    monthly returns."""
    paper, index = books(records)
    if len(records) < 2:
        return [
            "<h2 id='summary'>Summary</h2><p class='note'>One cycle so far: no return yet, "
            "so no figure; the next cycle gives the first.</p>"
        ]
    per_year = tearsheet.periods_per_year(paper.dates)
    window = max(2, round(per_year / 2))
    regimes = [r["regime"] for r in records]
    return [
        "<h2 id='summary'>Summary</h2>"
        + _spacing_note(paper, per_year)
        + _summary_table(paper, index, per_year),
        "<h2 id='equity'>Paper equity against the index</h2>"
        + "<p class='note'>Shaded: the regime of each cycle, from its date to the next "
        "cycle's (the regime the book was sized under). Drag to zoom, double-click to "
        "reset.</p>" + charts.embed(_equity_figure(paper, index, regimes)),
        f"<h2 id='rolling'>Rolling Sharpe ratio ({window} cycles)</h2>"
        + _rolling(paper, index, window, per_year, charts),
        "<h2 id='drawdowns'>Worst drawdowns</h2>"
        + "<div class='pair'>"
        + "".join(_drawdown_table(book) for book in (paper, index))
        + "</div>",
        "<h2 id='monthly'>Monthly returns</h2>"
        + "<p class='note'>A month's return runs from the last cycle of the month before (or "
        "the start) to its own last cycle; Year likewise.</p>"
        + charts.embed(_monthly_figure(paper, index)),
    ]


def _spacing_note(book: Book, per_year: float) -> str:
    days = (book.dates[-1] - book.dates[0]).days
    spacing = float(np.median((book.dates[1:] - book.dates[:-1]).days))
    n = book.dates.size
    return (
        f"<p class='note'>{n} cycles from {book.dates[0]:%Y-%m-%d} to {book.dates[-1]:%Y-%m-%d} "
        f"({days} days, a cycle every {spacing:g} days at the median): {n - 1} returns, so "
        f"{per_year:.2f} cycles a year = ({n - 1} × 365.25 / {days}), the factor every "
        "annualised figure uses (volatility and ratios × √P, CAGR over (n − 1) / P years). "
        f"The paper book starts at its equity before the first cycle's trades "
        f"({book.equity[0]:,.2f}); the index is the market's close at each cycle, rebased "
        "to that start. Returns are cycle to cycle; the risk-free rate is 0.</p>"
    )


_FIGURES: tuple[tuple[str, str, Callable[[float], str]], ...] = (
    ("total_return", "total return", lambda v: f"{v:.2%}"),
    ("cagr", "CAGR", lambda v: f"{v:.2%}"),
    ("volatility", "volatility (annualised)", lambda v: f"{v:.2%}"),
    ("sharpe", "Sharpe ratio", lambda v: f"{v:.2f}"),
    ("sortino", "Sortino ratio", lambda v: f"{v:.2f}"),
    ("max_drawdown", "maximum drawdown", lambda v: f"{v:.2%}"),
    ("calmar", "Calmar ratio", lambda v: f"{v:.2f}"),
    ("best", "best cycle", lambda v: f"{v:.2%}"),
    ("worst", "worst cycle", lambda v: f"{v:.2%}"),
    ("positive", "cycles with a gain", lambda v: f"{v:.0%}"),
)


def _summary_table(paper: Book, index: Book, per_year: float) -> str:
    figures = [tearsheet.summary(book.equity, per_year) for book in (paper, index)]
    rows = []
    for key, label, shown in _FIGURES:
        cells = "".join(
            f"<td class='num' data-key='{key}'>{'—' if math.isnan(f[key]) else shown(f[key])}</td>"
            for f in figures
        )
        rows.append(f"<tr><td>{label}</td>{cells}</tr>")
    ends = "".join(f"<td class='num'>{book.equity[-1]:,.2f}</td>" for book in (paper, index))
    rows.append(f"<tr><td>final equity</td>{ends}</tr>")
    return (
        "<table id='summary-table'><thead><tr><th>figure</th><th class='num'>paper</th>"
        "<th class='num'>index</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )


def regime_shapes(dates: Sequence[str], regimes: Sequence[int]) -> list[dict[str, Any]]:
    """A shaded rectangle per run of cycles in one regime, from its first date to the next
    run's (the last run ends at the last date); one legend entry per regime."""
    shapes: list[dict[str, Any]] = []
    seen: set[int] = set()
    start = 0
    for i in range(1, len(regimes) + 1):
        if i < len(regimes) and regimes[i] == regimes[start]:
            continue
        label = int(regimes[start])
        name = f"regime {label}" if label >= 0 else "no regime label"
        shapes.append(
            {
                "type": "rect",
                "xref": "x",
                "yref": "paper",
                "x0": dates[start],
                "x1": dates[min(i, len(dates) - 1)],
                "y0": 0,
                "y1": 1,
                "fillcolor": (
                    _REGIME_FILLS[label % len(_REGIME_FILLS)] if label >= 0 else _UNLABELLED_FILL
                ),
                "line": {"width": 0},
                "layer": "below",
                "name": name,
                "legendgroup": name,
                "showlegend": label not in seen,
            }
        )
        seen.add(label)
        start = i
    return shapes


def _x(book: Book) -> list[str]:
    return list(book.dates.strftime("%Y-%m-%d"))


def _equity_figure(paper: Book, index: Book, regimes: Sequence[int]) -> go.Figure:
    x = _x(paper)
    traces = []
    for book, colour in ((paper, _PAPER), (index, _INDEX)):
        traces.append(
            go.Scatter(
                x=x,
                y=book.equity,
                name=book.name,
                legendgroup=book.name,
                line={"color": colour, "width": 1.6},
                hovertemplate="%{y:,.0f}",
            )
        )
        traces.append(
            go.Scatter(
                x=x,
                y=-tearsheet.drawdown_series(book.equity),
                name=f"{book.name} drawdown",
                legendgroup=book.name,
                showlegend=False,
                yaxis="y2",
                line={"color": colour, "width": 1},
                fill="tozeroy" if book is paper else None,
                hovertemplate="%{y:.1%}",
            )
        )
    return figure(
        traces,
        height=480,
        shapes=regime_shapes(x, regimes),
        xaxis={"anchor": "y2", "type": "date"},
        yaxis={"domain": [0.34, 1.0], "title": {"text": "equity"}},
        yaxis2={
            "domain": [0.0, 0.28],
            "anchor": "x",
            "tickformat": ".0%",
            "title": {"text": "drawdown"},
        },
    )


def _rolling(paper: Book, index: Book, window: int, per_year: float, charts: Charts) -> str:
    note = (
        f"<p class='note'>The Sharpe ratio of the last {window} cycle returns at each cycle "
        f"(half a year of cycles), annualised with {per_year:.2f} cycles a year.</p>"
    )
    if paper.equity.size - 1 < window:
        return note + f"<p class='note'>Fewer than {window} returns so far: nothing to show.</p>"
    x = _x(paper)[1:]
    traces = [
        go.Scatter(
            x=x,
            y=tearsheet.rolling_sharpe(tearsheet.simple_returns(book.equity), window, per_year),
            name=book.name,
            line={"color": colour, "width": 1.4},
            hovertemplate="%{y:.2f}",
        )
        for book, colour in ((paper, _PAPER), (index, _INDEX))
    ]
    chart = figure(
        traces,
        height=260,
        xaxis={"type": "date"},
        yaxis={"title": {"text": "Sharpe"}, "zeroline": True},
    )
    return note + charts.embed(chart)


def _drawdown_table(book: Book) -> str:
    dates = book.dates.strftime("%Y-%m-%d")
    rows = []
    for rank, dd in enumerate(tearsheet.worst_drawdowns(book.equity, _WORST), start=1):
        recovered = dates[dd.recovery] if dd.recovery is not None else "not yet"
        back = f"{dd.recovery - dd.trough}" if dd.recovery is not None else "—"
        rows.append(
            f"<tr><td class='num'>{rank}</td><td class='num'>{dd.depth:.2%}</td>"
            f"<td>{dates[dd.peak]}</td><td>{dates[dd.trough]}</td><td>{recovered}</td>"
            f"<td class='num'>{dd.trough - dd.peak}</td><td class='num'>{back}</td></tr>"
        )
    body = "".join(rows) or "<tr><td colspan='7'>never below a high</td></tr>"
    return (
        f"<div><h3>{esc(book.name)}</h3><table class='drawdowns' data-book='{esc(book.name)}'>"
        "<thead><tr><th class='num'>#</th><th class='num'>depth</th><th>peak</th>"
        "<th>trough</th><th>recovered</th><th class='num'>cycles down</th>"
        f"<th class='num'>cycles back</th></tr></thead><tbody>{body}</tbody></table></div>"
    )


def _monthly_figure(paper: Book, index: Book) -> go.Figure:
    tables = [
        tearsheet.monthly_returns(pd.Series(book.equity, index=book.dates))
        for book in (paper, index)
    ]
    years = len(tables[0])
    columns = [*_MONTHS, "Year"]
    limit = max(float(np.nanmax(np.abs(t.to_numpy()))) for t in tables) or 0.01
    traces, layout = [], {}
    for k, (book, table, domain) in enumerate(
        zip((paper, index), tables, panes(2, 0.08), strict=True)
    ):
        axis = "" if k == 0 else "2"
        traces.append(
            go.Heatmap(
                z=table.to_numpy(),
                x=columns,
                y=[f"{book.name} {year}" for year in table.index],
                xaxis=f"x{axis}",
                yaxis=f"y{axis}",
                zmin=-limit,
                zmax=limit,
                zmid=0.0,
                colorscale="RdYlGn",
                showscale=k == 0,
                colorbar={"tickformat": ".0%", "len": 0.9},
                texttemplate="%{z:.1%}",
                hovertemplate="%{y} %{x}: %{z:.2%}<extra></extra>",
                xgap=1,
                ygap=1,
            )
        )
        layout[f"yaxis{axis}"] = {"domain": domain, "autorange": "reversed"}
        layout[f"xaxis{axis}"] = {"anchor": f"y{axis}", "side": "top", "type": "category"}
    return figure(
        traces,
        height=120 + 56 * years,
        legend=False,
        hovermode="closest",
        margin={"l": 100, "r": 12, "t": 30, "b": 10},
        **layout,
    )
