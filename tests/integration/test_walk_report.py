"""``autopilot report`` on a real walk, and both reports opened in a real headless browser.

The walk runs the real engine through the command line on the small environment of
:mod:`tests.walks`, plus a strategy family registered in-process (the plugin path a
third-party family takes) whose parameter is hostile text: its candidate ids carry
``</script>``, an ``<img onerror>`` that would set the document's title or a flag, ``&``
and U+2028 through the registry's verdict files, the engine's records, the candidate
returns and every chart and table. The browser must load each page without a script
error, draw every chart, and run none of that text.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml

from autopilot import cli, hookimpl
from autopilot.registry import StrategyRegistry
from autopilot.sdk.family import StrategyFamily
from autopilot.sdk.params import Param
from autopilot.sdk.plugins import InstalledPlugin, load_strategy_catalog
from autopilot.state.journal import Journal
from autopilot.stats import tearsheet
from tests.browser import open_page
from tests.report_pages import figures, scripts, without_scripts
from tests.walks import walk_argv, write_small_env

START, END = "2022-03-01", "2022-04-29"  # 9 weekly cycles
TITLE_CANARY = "</script><img src=x onerror=\"document.title='pwned'\"> & \u2028 end"
FLAG_CANARY = "<img src=x onerror=window.__pwned=true>"
HOSTILE_IDS = tuple(f"canary(tag={tag})" for tag in (TITLE_CANARY, FLAG_CANARY))


class Canary(StrategyFamily):
    """Equal weights on every priced security; its ``tag`` only names it."""

    name = "canary"
    parameters = {"tag": Param(str, default="plain", doc="text carried into the candidate id")}

    def positions(self, close: np.ndarray) -> np.ndarray:
        return np.where(np.isnan(close), np.nan, 0.9 / close.shape[1])


def _catalog_with_canary(config):
    plugin = InstalledPlugin("canary_family", "tests", "tests", "0")
    module = SimpleNamespace(autopilot_register_strategies=hookimpl(lambda: [Canary]))
    return load_strategy_catalog(
        config.plugins, source=config.origin(("plugins",)), extra_plugins=[(plugin, module)]
    )


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("env")
    path = write_small_env(folder)
    data = yaml.safe_load(path.read_text())
    data["strategies"]["families"]["canary"] = {"tag": [TITLE_CANARY, FLAG_CANARY]}
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


@pytest.fixture(scope="module")
def walked(env, tmp_path_factory) -> Path:
    """A walk whose candidates include the hostile ids (the canary family, in-process)."""
    state = tmp_path_factory.mktemp("walked") / "state"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("autopilot.engine.environment_catalog", _catalog_with_canary)
        assert cli.main(walk_argv(env, state, START, END, "--init")) == 0
    return state


@pytest.fixture(scope="module")
def report(walked) -> Path:
    assert cli.main(["report", "--state-dir", str(walked)]) == 0
    return walked / "report" / "index.html"


def records(state: Path) -> list[dict]:
    return list(Journal(state / "engine_cycles.jsonl"))


def test_the_hostile_ids_went_through_the_walk(walked):
    last = records(walked)[-1]
    assert set(HOSTILE_IDS) <= set(last["active"])  # the report must show them everywhere
    columns = pd.read_parquet(walked / "candidates_latest.parquet").columns
    assert set(HOSTILE_IDS) <= set(columns)


def test_the_report_is_written_where_the_command_says(walked, report, capsys, tmp_path):
    assert report.exists()
    out = tmp_path / "elsewhere" / "deeper"
    assert cli.main(["report", "--state-dir", str(walked), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"report: {out / 'index.html'} (9 cycles" in printed
    # The same state folder gives the same page, byte for byte.
    assert (out / "index.html").read_bytes() == report.read_bytes()


def test_the_summary_figures_are_the_tearsheet_of_the_records(walked, report):
    done = records(walked)
    start = done[0]["equity"] + done[0]["cost"]
    paper = np.array([start] + [r["equity"] for r in done[1:]])
    close = np.array([r["market_close"] for r in done])
    index = start * close / close[0]
    dates = pd.DatetimeIndex([r["as_of"] for r in done])
    per_year = tearsheet.periods_per_year(dates)
    assert per_year == pytest.approx(8 * 365.25 / (dates[-1] - dates[0]).days)
    page = report.read_text(encoding="utf-8")
    assert f"{per_year:.2f} cycles a year" in page
    for column, equity in ((0, paper), (1, index)):
        figures_ = tearsheet.summary(equity, per_year)
        for key, shown in (("sharpe", "{:.2f}"), ("max_drawdown", "{:.2%}"), ("cagr", "{:.2%}")):
            cells = _cells(page, key)
            value = figures_[key]
            assert cells[column] == ("—" if math.isnan(value) else shown.format(value))


def _cells(page: str, key: str) -> list[str]:
    marker = f"data-key='{key}'>"
    found, at = [], 0
    while (at := page.find(marker, at)) >= 0:
        at += len(marker)
        found.append(page[at : page.index("<", at)])
    return found


def test_the_verdict_table_is_the_registrys_last_cycle_active_first(walked, report):
    registry = StrategyRegistry(walked)
    last = records(walked)[-1]
    decisions = registry.cycle_decisions(len(records(walked)))
    page = report.read_text(encoding="utf-8")
    table = page[
        page.index("<table id='verdicts'") : page.index(
            "</table>", page.index("<table id='verdicts'")
        )
    ]
    rows = table.split("<tr data-tags=")[1:]
    assert len(rows) == len(decisions)
    shown = [html.unescape(row.split("<td class='sid'>")[1].split("</td>")[0]) for row in rows]
    assert sorted(shown) == sorted(d["strategy_id"] for d in decisions)
    active = set(last["active"])
    ranks = [0 if sid in active else 1 for sid in shown]
    assert ranks == sorted(ranks)  # active first
    # Strategy charts follow the same order, the hostile ones among them.
    sections = [
        html.unescape(s.split("'")[0])
        for s in page.split("<section class='cand' data-strategy='")[1:]
    ]
    assert sections == shown[: len(sections)]
    assert set(HOSTILE_IDS) <= set(sections)


def test_input_text_is_escaped_in_markup_and_chart_data(report):
    page = report.read_text(encoding="utf-8")
    markup = without_scripts(page)
    for hostile in HOSTILE_IDS:
        assert hostile not in page
        assert html.escape(hostile, quote=True) in markup
    assert "<img" not in markup
    for attributes, body in scripts(page):
        if "application/json" in attributes:
            assert not set(body) & {"<", ">", "&", "\u2028", "\u2029"}
    # The timeline names the hostile strategies (escaped for plotly, which decodes entities).
    names = {
        html.unescape(y)
        for f in figures(page).values()
        for t in f["data"]
        if t.get("type") == "heatmap" and isinstance(t.get("y"), list)
        for y in t["y"]
    }
    assert set(HOSTILE_IDS) <= names


def test_a_folder_without_a_walk_is_refused_and_nothing_is_written(tmp_path, capsys):
    assert cli.main(["init", "--state-dir", str(tmp_path / "state")]) == 0
    assert cli.main(["report", "--state-dir", str(tmp_path / "state")]) == 2
    assert "no committed cycle to report on" in capsys.readouterr().err
    assert not (tmp_path / "state" / "report").exists()
    assert cli.main(["report", "--state-dir", str(tmp_path / "nowhere")]) == 2
    assert not (tmp_path / "nowhere").exists()


def _assert_loaded_cleanly(seen: dict, title: str) -> None:
    assert seen["errors"] == []
    assert seen["charts"] and seen["drawn"] == seen["charts"]
    assert seen["title"] == title
    assert seen["images"] == 0
    assert seen["pwned"] is False


def test_the_walk_report_loads_in_a_browser_draws_every_chart_and_runs_no_input(
    chromium, report, walked, tmp_path
):
    actions = {"sort": "sharpe", "words": "canary(", "tag": "active"}
    seen = open_page(chromium, report, tmp_path, table=actions)
    last = records(walked)[-1]
    _assert_loaded_cleanly(seen, f"Autopilot walk · small · {last['as_of']}")
    assert len(seen["charts"]) == len(figures(report.read_text(encoding="utf-8")))
    # The timeline's labels show the hostile ids exactly as written.
    assert set(HOSTILE_IDS) <= set(seen["ticks"])
    # The verdict table sorts by a gate's value both ways (blanks last) and filters.
    table = seen["table"]
    for keys, direction in ((table["ascending"], 1), (table["descending"], -1)):
        numbers = [float(k) for k in keys if k]
        assert numbers == sorted(numbers, reverse=direction < 0)
        assert keys[len(numbers) :] == [""] * (len(keys) - len(numbers))
    assert sorted(table["by_words"]) == sorted(HOSTILE_IDS)
    assert table["shown"] == f"2 of {len(table['ascending'])} shown"
    plain = set(last["active"]) - set(last["promoted"]) - set(last["in_grace"])
    assert sorted(table["by_tag"]) == sorted(plain)


def test_the_gate_report_of_the_same_candidates_loads_cleanly_too(chromium, env, walked, tmp_path):
    page = tmp_path / "gates.html"
    argv = ["gates", "check", str(walked / "candidates_latest.parquet"), "--env", str(env)]
    assert cli.main([*argv, "--report", str(page)]) == 0
    text = page.read_text(encoding="utf-8")
    assert all(html.escape(h, quote=True) in text for h in HOSTILE_IDS)
    seen = open_page(chromium, page, tmp_path)
    _assert_loaded_cleanly(seen, "Promotion report · small")
    assert len(seen["charts"]) == len(figures(text))
