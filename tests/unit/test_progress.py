"""Progress bars: one per stage, drawn only once a stage lasts longer than its delay."""

from __future__ import annotations

import io

from autopilot.cli._progress import StageBars


def test_each_stage_gets_its_own_bar_and_quick_stages_draw_nothing():
    shown = io.StringIO()
    with StageBars(delay=0, file=shown, disable=False) as bars:
        bars("reading", 1, 4)
        bars("reading", 4, 4)
        bars("evaluating", 2, 6)
        assert list(bars.iterate(range(3), "writing", 3, "candidate")) == [0, 1, 2]
    text = shown.getvalue()  # tqdm redraws at most every 0.1 s: the totals show, not every step
    assert "reading:" in text and "/4 " in text
    assert "evaluating:" in text and "/6 " in text
    assert "writing:" in text and "/3 " in text

    quiet = io.StringIO()
    with StageBars(delay=60, file=quiet, disable=False) as bars:
        bars("reading", 1, 1)
        list(bars.iterate(range(3), "writing", 3, "candidate"))
    assert quiet.getvalue() == ""
