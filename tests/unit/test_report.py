from __future__ import annotations

import html
import json
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from autopilot.report.candidates import MAX_POINTS, WINDOW_SHAPE, downsample_indices
from autopilot.report.html import write_html_report
from autopilot.sdk.verdicts import Decision, Mode, Outcome, Verdict
from autopilot.stats import metrics
from autopilot.stats.batch import CandidateBatch
from tests.report_pages import scripts, values, without_scripts

T = 60
SCRIPT_ID = "<script>alert('x')</script>"
IDS = ("alpha", SCRIPT_ID, "gamma & co")


class _ReportParser(HTMLParser):
    """Collects the verdict table and each candidate section's chart (its figure as data)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.headers: list[str] = []
        self.rows: list[list[dict[str, str]]] = []
        self.figures: dict[str, dict] = {}
        self.sections: list[str] = []
        self._table: str | None = None
        self._cell: dict[str, str] | None = None
        self._in_th = False
        self._in_b = False
        self._section: str | None = None
        self._chart: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "table":
            self._table = a.get("id")
        elif self._table == "verdicts" and tag == "th":
            self._in_th = True
            self.headers.append("")
        elif self._table == "verdicts" and tag == "tr":
            self.rows.append([])
        elif self._table == "verdicts" and tag == "td":
            self._cell = {"class": a.get("class", ""), "title": a.get("title", ""), "text": ""}
            self._cell["b"] = ""
            self.rows[-1].append(self._cell)
        elif tag == "b" and self._cell is not None:
            self._in_b = True
        elif tag == "section":
            self._section = a["data-strategy"]
            self.sections.append(self._section)
        elif tag == "script" and "data-chart" in a and self._section is not None:
            self._chart = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._table = None
        elif tag == "th":
            self._in_th = False
        elif tag == "td":
            self._cell = None
        elif tag == "b":
            self._in_b = False
        elif tag == "script" and self._chart is not None:
            assert self._section is not None
            self.figures[self._section] = json.loads("".join(self._chart))
            self._chart = None
        elif tag == "section":
            self._section = None

    def handle_data(self, data: str) -> None:
        if self._chart is not None:
            self._chart.append(data)
        if self._in_th:
            self.headers[-1] += data
        if self._cell is not None:
            self._cell["text"] += data
            if self._in_b:
                self._cell["b"] += data

    def windows(self, section: str) -> int:
        """The transition windows shaded on a section's chart."""
        shapes = self.figures[section]["layout"].get("shapes", [])
        return sum(shape.get("name") == WINDOW_SHAPE for shape in shapes)


def _parse(path: Path) -> _ReportParser:
    parser = _ReportParser()
    parser.feed(path.read_text(encoding="utf-8"))
    parser.close()
    return parser


def _verdict(gate: str, outcome: Outcome, mode: Mode = Mode.ENFORCE) -> Verdict:
    return Verdict(gate, outcome, 0.25, 0.5, mode, f"{outcome.name}_CODE: gate={gate}, x=<1>")


DECISIONS = (
    Decision("alpha", (_verdict("sharpe", Outcome.PASS), _verdict("max_dd", Outcome.FAIL))),
    Decision(
        SCRIPT_ID,
        (
            _verdict("sharpe", Outcome.INSUFFICIENT_DATA),
            _verdict("max_dd", Outcome.PASS),
            _verdict("dsr", Outcome.ERROR),
        ),
    ),
    Decision(
        "gamma & co",
        (
            _verdict("sharpe", Outcome.PASS),
            _verdict("max_dd", Outcome.PASS),
            _verdict("dsr", Outcome.FAIL, Mode.SHADOW),
        ),
    ),
)


def _returns() -> np.ndarray:
    rng = np.random.default_rng(5)
    returns = rng.normal(0.0, 0.02, (T, len(IDS)))
    returns[:20, 2] = np.nan  # "gamma & co" goes live at bar 20
    return returns


def _shared_labels() -> np.ndarray:
    labels = np.zeros(T, dtype=np.int64)
    labels[10:13] = 1  # changes at 10 and 13: windows 7..13 and 10..16 merge into 7..16
    labels[40:] = 1  # change at 40: window 37..43
    return labels


def _batch(regimes: np.ndarray | None = None, dates: bool = True) -> CandidateBatch:
    index = pd.bdate_range("2021-01-04", periods=T) if dates else None
    return CandidateBatch(_returns(), IDS, index, regimes)


def _write(
    tmp_path: Path,
    batch: CandidateBatch,
    *,
    decisions: tuple[Decision, ...] = DECISIONS,
    transition_window: int = 3,
    max_plots: int = 40,
) -> Path:
    path = tmp_path / "report.html"
    write_html_report(
        path,
        decisions,
        batch,
        environment="staging",
        config_hash="c0ffee",
        transition_window=transition_window,
        max_plots=max_plots,
    )
    return path


def test_single_self_contained_html_file(tmp_path: Path) -> None:
    path = _write(tmp_path, _batch(_shared_labels()))
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert text.rstrip().endswith("</html>")
    markup = without_scripts(text)
    assert re.search(r"https?://", markup) is None
    assert "<link" not in markup.lower()
    assert " src=" not in markup
    # Every script is inline; plotly's bundle is there once, the page loads nothing.
    assert all("src=" not in attributes for attributes, _ in scripts(text))
    assert sum("Plotly" in body and len(body) > 1_000_000 for _, body in scripts(text)) == 1
    assert "default-src 'none'" in markup
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_header_shows_environment_hash_and_counts(tmp_path: Path) -> None:
    text = _write(tmp_path, _batch(_shared_labels())).read_text(encoding="utf-8")
    assert "staging" in text
    assert "c0ffee" in text
    assert "1 promotable</span>" in text
    assert "2 not promotable</span>" in text


def test_every_strategy_id_is_present_and_escaped(tmp_path: Path) -> None:
    text = _write(tmp_path, _batch(_shared_labels())).read_text(encoding="utf-8")
    for sid in IDS:
        assert html.escape(sid, quote=True) in text
    assert SCRIPT_ID not in text
    assert "gamma & co" not in text  # only the escaped form
    parsed = _parse(tmp_path / "report.html")
    assert {row[0]["text"] for row in parsed.rows[1:]} == set(IDS)
    # Chart data can never end its element: no <, >, & left in the JSON text.
    for attributes, body in scripts(text):
        if "application/json" in attributes:
            assert not set(body) & {"<", ">", "&", "\u2028", "\u2029"}


def test_verdict_table_holds_the_given_outcomes(tmp_path: Path) -> None:
    parsed = _parse(_write(tmp_path, _batch(_shared_labels())))
    assert parsed.headers == ["strategy", "promotable", "sharpe", "max_dd", "dsr"]
    body = parsed.rows[1:]
    # Not promotable first, stable within each group.
    assert [row[0]["text"] for row in body] == ["alpha", SCRIPT_ID, "gamma & co"]
    expected = {d.strategy_id: d for d in DECISIONS}
    for row in body:
        decision = expected[row[0]["text"]]
        assert row[1]["text"] == ("yes" if decision.promotable else "no")
        by_gate = {v.gate: v for v in decision.verdicts}
        for gate, cell in zip(parsed.headers[2:], row[2:], strict=True):
            verdict = by_gate.get(gate)
            if verdict is None:
                assert cell["text"] == "—"
                continue
            assert cell["b"] == verdict.outcome.name
            assert f"o-{verdict.outcome.name.lower()}" in cell["class"].split()
            assert cell["title"] == verdict.reason  # the parser unescapes attributes
            # Blocking verdicts also show the reason as text.
            assert (verdict.reason in cell["text"]) == verdict.blocks
            assert ("shadow" in cell["class"].split()) == (verdict.mode is Mode.SHADOW)


def test_shaded_windows_match_merged_transition_windows(tmp_path: Path) -> None:
    labels = _shared_labels()
    parsed = _parse(_write(tmp_path, _batch(labels), transition_window=3))
    # Full track record: windows 7..16 and 37..43.
    assert metrics.transition_windows(labels, 3) == [(7, 16), (37, 43)]
    assert parsed.windows("alpha") == 2
    assert parsed.windows(SCRIPT_ID) == 2
    # Live from bar 20: only the change at 40 is inside the track record.
    assert parsed.windows("gamma & co") == 1
    assert len(metrics.transition_windows(labels[20:], 3)) == 1
    # Each window spans both panes, from the point before its first bar to its last bar.
    dates = pd.bdate_range("2021-01-04", periods=T).strftime("%Y-%m-%d")
    shapes = [s for s in parsed.figures["alpha"]["layout"]["shapes"] if s["name"] == WINDOW_SHAPE]
    assert [(s["x0"], s["x1"], s["yref"]) for s in shapes] == [
        (dates[6], dates[16], "paper"),
        (dates[36], dates[43], "paper"),
    ]


def test_window_width_changes_merging(tmp_path: Path) -> None:
    labels = np.zeros(T, dtype=np.int64)
    labels[10:] = 1
    labels[20:] = 0  # changes at 10 and 20: separate for k=3, merged for k=5
    parsed_k3 = _parse(_write(tmp_path, _batch(labels), transition_window=3))
    parsed_k5 = _parse(_write(tmp_path, _batch(labels), transition_window=5))
    assert parsed_k3.windows("alpha") == 2
    assert parsed_k5.windows("alpha") == 1


def test_per_candidate_labels_and_missing_labels(tmp_path: Path) -> None:
    labels = np.zeros((T, len(IDS)), dtype=np.int64)
    labels[30:, 0] = 1  # alpha: one change
    labels[:, 1] = -1  # script: no labels at all
    labels[25:35, 2] = 1  # gamma: two changes far apart
    labels[50, 2] = -1  # a missing label next to known ones is not a change
    parsed = _parse(_write(tmp_path, _batch(labels)))
    assert parsed.windows("alpha") == 1
    assert parsed.windows(SCRIPT_ID) == 0
    assert parsed.windows("gamma & co") == 2


def test_no_regimes_means_no_shading(tmp_path: Path) -> None:
    parsed = _parse(_write(tmp_path, _batch(None)))
    assert sum(parsed.windows(sid) for sid in IDS) == 0
    assert set(parsed.sections) == set(IDS)


def test_works_without_dates(tmp_path: Path) -> None:
    path = _write(tmp_path, _batch(_shared_labels(), dates=False))
    parsed = _parse(path)
    figure = parsed.figures["alpha"]
    assert figure["layout"]["xaxis"]["type"] == "linear"
    assert figure["layout"]["xaxis"]["title"]["text"] == "bar"
    assert values(figure["data"][0]["x"])[-1] == 59
    assert "2021-" not in without_scripts(path.read_text(encoding="utf-8"))
    assert "2021-" not in json.dumps(parsed.figures)


def test_max_plots_orders_blocked_first_and_names_the_omitted(tmp_path: Path) -> None:
    path = _write(tmp_path, _batch(_shared_labels()), max_plots=1)
    parsed = _parse(path)
    assert parsed.sections == ["alpha"]
    text = path.read_text(encoding="utf-8")
    omitted = text[text.index("id='omitted'") :]
    assert "Charts omitted for 2 candidates" in omitted
    assert html.escape(SCRIPT_ID) in omitted and "gamma &amp; co" in omitted


def test_decision_without_returns_is_reported_not_plotted(tmp_path: Path) -> None:
    decisions = (*DECISIONS, Decision("ghost", (_verdict("sharpe", Outcome.ERROR),)))
    returns = _returns()
    returns[:, 0] = np.nan  # alpha never live
    batch = CandidateBatch(returns, IDS, pd.bdate_range("2021-01-04", periods=T))
    text = _write(tmp_path, batch, decisions=decisions).read_text(encoding="utf-8")
    assert "Not in the batch" in text
    assert "No live bars" in text


def test_long_series_are_downsampled(tmp_path: Path) -> None:
    n_bars = 10_000
    rng = np.random.default_rng(1)
    returns = rng.normal(0.0002, 0.01, (n_bars, 2))
    returns[7_777, 0] = -0.6  # a crash the chart must not lose
    batch = CandidateBatch(returns, ["long_a", "long_b"])
    decisions = [Decision(s, (_verdict("sharpe", Outcome.FAIL),)) for s in batch.strategy_ids]
    path = tmp_path / "long.html"
    write_html_report(path, decisions, batch, environment="dev", config_hash="h")
    parsed = _parse(path)
    equity_trace, drawdown_trace = parsed.figures["long_a"]["data"]
    assert 0 < len(values(equity_trace["y"])) <= MAX_POINTS
    assert 0 < len(values(drawdown_trace["y"])) <= MAX_POINTS
    # The crash survives the downsampling: the drawn drawdown reaches it.
    assert values(drawdown_trace["y"]).min() <= -0.6
    charts = sum(
        len(body) for attributes, body in scripts(path.read_text()) if "data-chart" in attributes
    )
    assert charts < 200_000

    equity = np.concatenate(([1.0], np.cumprod(1.0 + returns[:, 0])))
    keep = downsample_indices(equity, 800)
    assert keep.size <= 800
    assert np.all(np.diff(keep) > 0)
    assert keep[0] == 0 and keep[-1] == equity.size - 1
    drawdown = equity / np.maximum.accumulate(equity) - 1.0
    keep_dd = downsample_indices(drawdown, 800)
    assert drawdown[keep_dd].min() == drawdown.min()
    assert equity[keep].max() == equity.max()


def test_short_series_are_not_downsampled() -> None:
    series = np.linspace(0.0, 1.0, 50)
    np.testing.assert_array_equal(downsample_indices(series, 800), np.arange(50))


def test_rewrite_replaces_atomically_and_failure_keeps_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path, _batch(_shared_labels()))
    old = path.read_bytes()

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        _write(tmp_path, _batch(None), decisions=DECISIONS[:1])
    assert path.read_bytes() == old
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]
