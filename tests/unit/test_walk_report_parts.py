"""The walk report's parts: the two books, the regime shading, the order of strategies."""

from __future__ import annotations

import numpy as np
import pytest

from autopilot.report.figures import panes
from autopilot.report.walk import _ordered, _status
from autopilot.report.walk_tearsheet import books, regime_shapes
from autopilot.sdk.verdicts import Decision, Mode, Outcome, Verdict


def test_the_paper_book_starts_before_the_first_cycles_costs_and_the_index_is_rebased():
    records = [
        {"as_of": "2022-01-07", "equity": 995.0, "cost": 5.0, "market_close": 200.0},
        {"as_of": "2022-01-14", "equity": 1010.0, "cost": 1.0, "market_close": 210.0},
        {"as_of": "2022-01-21", "equity": 990.0, "cost": 0.0, "market_close": 190.0},
    ]
    paper, index = books(records)
    np.testing.assert_allclose(paper.equity, [1000.0, 1010.0, 990.0])
    np.testing.assert_allclose(index.equity, [1000.0, 1050.0, 950.0])
    assert list(paper.dates.strftime("%Y-%m-%d")) == ["2022-01-07", "2022-01-14", "2022-01-21"]


def test_regimes_shade_runs_from_their_first_cycle_to_the_next_runs():
    dates = ["d0", "d1", "d2", "d3", "d4"]
    shapes = regime_shapes(dates, [0, 0, 1, -1, 0])
    assert [(s["x0"], s["x1"], s["name"], s["showlegend"]) for s in shapes] == [
        ("d0", "d2", "regime 0", True),
        ("d2", "d3", "regime 1", True),
        ("d3", "d4", "no regime label", True),
        ("d4", "d4", "regime 0", False),  # the last run ends at the last date
    ]
    assert shapes[0]["fillcolor"] == shapes[3]["fillcolor"] != shapes[1]["fillcolor"]
    assert regime_shapes(["d0"], [1])[0]["x0"] == "d0"


def _decision(sid: str, outcome: Outcome) -> Decision:
    return Decision(sid, (Verdict("sharpe", outcome, 1.0, 0.5, Mode.ENFORCE, "X: a=1"),))


@pytest.mark.parametrize("removed_first", [True, False])
def test_active_strategies_come_first_then_promotable_then_the_rest(removed_first):
    last = {
        "active": ["a", "g"],
        "promoted": ["a"],
        "in_grace": ["g"],
        "removed": ["r"],
    }
    status = _status(last)
    assert status == {"a": "promoted", "g": "in grace", "r": "removed"}
    decisions = [
        _decision("r", Outcome.FAIL),
        _decision("p", Outcome.PASS),
        _decision("g", Outcome.FAIL),
        _decision("x", Outcome.FAIL),
        _decision("a", Outcome.PASS),
    ]
    if not removed_first:
        decisions.reverse()
    order = [d.strategy_id for d in _ordered(decisions, status)]
    assert set(order[:2]) == {"a", "g"}
    assert order[2] == "p"
    assert set(order[3:]) == {"r", "x"}


def test_panes_split_the_height_top_first():
    assert panes(2, 0.08) == [[0.54, 1.0], [0.0, 0.46]]
    assert panes(4, 0.04) == [[0.78, 1.0], [0.52, 0.74], [0.26, 0.48], [0.0, 0.22]]
    assert panes(1, 0.1) == [[0.0, 1.0]]
