"""The self-contained HTML page every report is: escaping, embedded charts, one plotly.

A page is one file that works offline: its style sheet, plotly's JavaScript bundle (once,
however many charts), the page's own small script (:file:`report.js`: draws the charts,
sorts and filters tables) and every chart's figure are inline. A Content-Security-Policy
lets the page load nothing from anywhere.

Escaping, for every text that comes from input (strategy ids, gate names, reasons,
environment names, paths):

* in HTML, :func:`esc` (:func:`html.escape` with quotes);
* in a chart, :func:`chart_text`: plotly draws trace names, axis labels and hover texts
  from a subset of HTML (tags first, then the entities of each text), so with ``&``, ``<``
  and ``>`` as entities an id is shown as written and never read as a tag;
* a figure travels as JSON in a ``<script type="application/json">`` element that the
  page's script parses (never runs): :func:`script_json` writes ``<``, ``>``, ``&`` and
  U+2028/U+2029 as ``\\u`` escapes, so no text can close the element.
"""

from __future__ import annotations

import functools
import html
import json
import logging
import os
import re
from importlib import resources
from typing import Any

from autopilot._atomic_write import atomic_write_bytes

__all__ = ["Charts", "chart_text", "esc", "script_json", "write_page"]

logger = logging.getLogger(__name__)

# Characters that could end a <script> element or a JavaScript string early, escaped as
# JSON allows inside strings (the only place JSON text can hold them).
_SCRIPT_ESCAPES = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)
# Inline scripts and styles only; no request leaves the page (images: plotly's own data URLs).
_POLICY = (
    "default-src 'none'; script-src 'unsafe-inline'; "
    "style-src 'unsafe-inline'; img-src data: blob:; font-src data:"
)
# Plotly's bright defaults on white, applied by the page's script to every chart.
_TEMPLATE = "plotly_white"


def esc(value: object) -> str:
    """``str(value)`` escaped for HTML text and attributes."""
    return html.escape(str(value), quote=True)


def chart_text(value: object) -> str:
    """``str(value)`` for plotly's text: ``&``, ``<``, ``>`` as entities, which it decodes.

    Quotes stay as they are: without ``<`` no tag can hold them, and plotly would show
    ``&quot;`` as written.
    """
    return html.escape(str(value), quote=False)


def script_json(value: Any) -> str:
    """JSON of ``value`` safe to place inside a ``<script>`` element."""
    return _inside_script(json.dumps(value, allow_nan=False))


def _inside_script(json_text: str) -> str:
    """JSON text with ``<``, ``>``, ``&``, U+2028 and U+2029 written as ``\\u`` escapes."""
    return json_text.translate(_SCRIPT_ESCAPES)


class Charts:
    """Numbers a page's charts and embeds each figure as parsed-not-run JSON."""

    def __init__(self) -> None:
        self.count = 0

    def embed(self, figure: Any, *, css_class: str = "chart") -> str:
        """The ``<div>`` a figure is drawn into, followed by its figure as JSON.

        Parameters
        ----------
        figure : plotly.graph_objects.Figure
            Built with ``template="none"``: the page applies one shared template.
        css_class : str
            Class of the chart's ``<div>`` (its height comes from the figure's layout).
        """
        self.count += 1
        chart_id = f"chart-{self.count}"
        spec = figure.to_json(validate=False, engine="json")
        return (
            f"<div class='{css_class}' id='{chart_id}'></div>"
            f"<script type='application/json' data-chart='{chart_id}'>"
            f"{_inside_script(spec)}</script>"
        )


def write_page(
    path: str | os.PathLike[str], title: str, body: str, *, charts: Charts | None = None
) -> int:
    """Write a whole page (head, style, ``body``, scripts) atomically; returns its size.

    Parameters
    ----------
    path : str or os.PathLike
        Destination file: written to a temporary file in its folder, then moved into place.
    title : str
        The page's title (escaped here).
    body : str
        HTML of the page's content, every input text in it already escaped.
    charts : Charts, optional
        The charts embedded in ``body``; plotly's bundle is included only when there are any.
    """
    scripts = ""
    if charts is not None and charts.count:
        scripts = (
            f"<script type='application/json' id='chart-template'>{_template_json()}</script>\n"
            f"<script>{_plotly_bundle()}</script>\n"
        )
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_POLICY}">\n'
        '<meta name="viewport" content="width=device-width,initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n<style>{_asset('report.css')}</style>\n</head>\n"
        f"<body>\n{body}\n{scripts}<script>{_asset('report.js')}</script>\n</body>\n</html>\n"
    ).encode()
    atomic_write_bytes(path, page, keep_backup=False)
    logger.info(
        "wrote report %s: %d charts, %d bytes", path, charts.count if charts else 0, len(page)
    )
    return len(page)


@functools.cache
def _asset(name: str) -> str:
    return resources.files("autopilot.report").joinpath(name).read_text(encoding="utf-8")


@functools.cache
def _plotly_bundle() -> str:
    from plotly.offline import get_plotlyjs

    bundle = get_plotlyjs()
    # A bundle that held "</script" would end its element early; plotly's does not, and
    # this keeps it so whatever version is installed ("<\/" means "</" in any JS string).
    return re.sub(r"</(script)", r"<\\/\1", bundle, flags=re.IGNORECASE)


@functools.cache
def _template_json() -> str:
    import plotly.io

    return script_json(plotly.io.templates[_TEMPLATE].to_plotly_json())
