"""The reports' page: escaping in HTML and in embedded chart data, plotly embedded once."""

from __future__ import annotations

import json
from pathlib import Path

import plotly.graph_objects as go

from autopilot.report.page import Charts, esc, script_json, write_page
from tests.report_pages import figures, scripts, without_scripts

HOSTILE = "</script><img src=x onerror=\"document.title='pwned'\"> & \u2028\u2029 '"


def test_script_json_escapes_what_could_end_a_script_and_parses_back():
    text = script_json({"name": HOSTILE, "n": [1, 2]})
    assert not set(text) & {"<", ">", "&", "\u2028", "\u2029"}
    assert json.loads(text) == {"name": HOSTILE, "n": [1, 2]}
    assert json.loads(script_json(HOSTILE)) == HOSTILE


def test_esc_leaves_no_markup():
    assert esc(HOSTILE) == (
        "&lt;/script&gt;&lt;img src=x onerror=&quot;document.title=&#x27;pwned&#x27;&quot;&gt;"
        " &amp; \u2028\u2029 &#x27;"
    )


def test_charts_embed_figures_as_data_and_the_page_carries_plotly_once(tmp_path: Path):
    charts = Charts()
    body = "".join(
        charts.embed(
            go.Figure(go.Scatter(x=[1, 2], y=[3, 4], name=HOSTILE), layout={"template": "none"})
        )
        for _ in range(3)
    )
    path = tmp_path / "page.html"
    size = write_page(path, HOSTILE, body, charts=charts)
    page = path.read_text(encoding="utf-8")
    assert size == path.stat().st_size
    assert list(figures(page)) == ["chart-1", "chart-2", "chart-3"]
    assert figures(page)["chart-2"]["data"][0]["name"] == HOSTILE  # the data, intact
    # The hostile text never appears raw (plotly's bundle aside); the title is escaped.
    markup = without_scripts(page)
    assert "<img" not in markup
    assert page.lower().count("</script") == page.lower().count("<script") == len(scripts(page))
    assert f"<title>{esc(HOSTILE)}</title>" in page
    bundles = [body for _, body in scripts(page) if len(body) > 1_000_000]
    assert len(bundles) == 1
    assert "default-src 'none'" in markup


def test_a_page_without_charts_carries_no_plotly(tmp_path: Path):
    path = tmp_path / "page.html"
    write_page(path, "plain", "<p>nothing to draw</p>", charts=Charts())
    page = path.read_text(encoding="utf-8")
    assert all(len(body) < 10_000 for _, body in scripts(page))
    assert "id='chart-template'" not in page
