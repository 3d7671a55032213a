"""Reading the reports' pages in tests: their own markup, their charts' figures as data."""

from __future__ import annotations

import base64
import json
import re

import numpy as np

_SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script>", re.DOTALL | re.IGNORECASE)
_CHART = re.compile(r"data-chart='([^']+)'")


def scripts(page: str) -> list[tuple[str, str]]:
    """Every ``<script>`` element: its attributes and its text."""
    return _SCRIPT.findall(page)


def without_scripts(page: str) -> str:
    """The page's markup with every script's text left out (plotly's bundle among them)."""
    return _SCRIPT.sub(lambda m: f"<script{m.group(1)}></script>", page)


def figures(page: str) -> dict[str, dict]:
    """Each chart's figure by chart id, parsed as the page's script parses it."""
    found = {}
    for attributes, text in scripts(page):
        chart = _CHART.search(attributes)
        if chart:
            found[chart.group(1)] = json.loads(text)
    return found


def values(array) -> np.ndarray:
    """A figure's array: a list, or plotly's typed array (``{"dtype", "bdata"}``)."""
    if isinstance(array, dict):
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=np.dtype(array["dtype"]))
    return np.asarray(array)
