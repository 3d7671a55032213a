"""The gate report: one self-contained HTML page describing a cycle's promotion decisions.

It holds a header (environment, configuration hash, counts), a per-gate summary, the
verdict table (sortable and filterable; reasons on hover, blocking reasons spelled out) and,
per candidate, an equity and underwater chart with the transition windows shaded. The
page, its escaping and its charts (plotly, embedded once) are :mod:`autopilot.report.page`'s.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from autopilot.report.candidates import candidate_sections
from autopilot.report.page import Charts, esc, write_page
from autopilot.report.verdicts import gate_names, gate_summary, verdict_table
from autopilot.sdk.verdicts import Decision
from autopilot.stats.batch import CandidateBatch

__all__ = ["write_html_report"]


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
    gates = gate_names(ordered)
    charts = Charts()
    body = [
        _header(ordered, batch, environment, config_hash, transition_window),
        "<h2>Gates</h2>",
        gate_summary(ordered, gates),
        "<h2>Verdicts</h2>\n<p class='note'>Cells show outcome and value / threshold; hover "
        "for the reason. Not promotable first; click a column to sort (gates by value).</p>",
        verdict_table(ordered, gates),
        "<h2>Equity and drawdown</h2>",
        candidate_sections(ordered, batch, charts, window=transition_window, max_plots=max_plots),
    ]
    write_page(path, f"Promotion report · {environment}", "\n".join(body), charts=charts)


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
    meta = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in rows)
    return (
        f"<header>\n<h1>Promotion report</h1>\n<dl class='meta'>{meta}</dl>\n"
        "<p class='counts'>"
        f"<span class='yes' id='n-promotable'>{n_promotable} promotable</span>"
        f"<span class='no' id='n-blocked'>{len(decisions) - n_promotable} not promotable</span>"
        f"<span>{len(decisions)} decisions</span></p>\n</header>"
    )
