"""A registry folder in the audit format before verdict files: decisions inline in the log.

``tests/data/registry_inline_audit/`` was written by this module with the code of commit
4989093 (the last one whose audit records hold every decision inline), together with what
that code's ``registry history ID`` printed for each strategy, as JSON and as a table
(``registry_inline_audit.expected.json``). The tests read the folder with today's code, and build
the same cycles with today's code to compare. Regenerate (only ever with that old code)::

    git archive 4989093 autopilot | tar -x -C /tmp/oldcode
    PYTHONPATH=/tmp/oldcode .venv/bin/python tests/data/inline_audit.py tests/data/registry_inline_audit
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from autopilot.config import RegistrySettings
from autopilot.registry import StrategyRegistry
from autopilot.sdk.verdicts import Decision, Mode, Outcome, Verdict
from autopilot.state.cycles import StateFolder

CLI = (sys.executable, "-m", "autopilot.cli")
SETTINGS = RegistrySettings(promotion_grace_cycles=2, max_active=2)
CONTEXT = {"tool": "strategy-autopilot 0.1.0", "config_hash": "0123456789abcdef"}
ENVIRONMENT = "dev"
FIRST_AS_OF = date(2024, 3, 1)
FIRST_TIME = datetime(2024, 3, 1, 21, 30, tzinfo=UTC)
# Ids of several shapes: a ticker prefix, a non-ASCII one (byte order is not code point
# order for every encoding), some never active, one without any gate.
IDS = ("AAPL:momentum_20", "MSFT:ma_cross_50_200", "ÉTF:carry", "c", "e", "no_gates")


def _pass(sid: str, score: float | None, *, shadow_fail: bool = False) -> Decision:
    verdicts = [
        Verdict("min_history", Outcome.PASS, 600.0, 252.0, Mode.ENFORCE, "OK"),
        Verdict("sharpe", Outcome.PASS, score, 0.5, Mode.ENFORCE, "OK"),
    ]
    if shadow_fail:
        verdicts.append(
            Verdict("deflated_sharpe", Outcome.FAIL, 0.42, 0.9, Mode.SHADOW, "BELOW_MIN: x=0.42")
        )
    return Decision(sid, tuple(verdicts))


def _fail(sid: str, outcome: Outcome, value: float | None, reason: str) -> Decision:
    return Decision(
        sid,
        (
            Verdict("min_history", Outcome.PASS, 600.0, 252.0, Mode.ENFORCE, "OK"),
            Verdict("sharpe", outcome, value, 0.5, Mode.ENFORCE, reason),
        ),
    )


def cycles() -> list[list[Decision]]:
    """The decisions of the folder's three cycles."""
    aapl, msft, etf = IDS[:3]
    return [
        [
            _pass(aapl, 1.25),
            _pass(msft, 0.75),
            _fail("c", Outcome.FAIL, 0.1, "BELOW_MIN: value=0.1, min=0.5"),
            _pass(etf, 2.0, shadow_fail=True),
            _fail("e", Outcome.ERROR, math.nan, "GATE_ERROR: ValueError"),
            Decision("no_gates", ()),
        ],
        [
            _fail(aapl, Outcome.FAIL, 0.2, "BELOW_MIN: value=0.2, min=0.5"),
            _pass(etf, 1.5),
            _pass(msft, 0.8),
            _fail("c", Outcome.INSUFFICIENT_DATA, None, "TOO_FEW_BARS: bars=20, min=252"),
        ],
        [_pass(etf, 1.75), _pass(msft, 0.9), _pass("c", 0.6)],
    ]


def score(decision: Decision) -> float:
    """Newcomers rank by their sharpe value."""
    value = next((v.value for v in decision.verdicts if v.gate == "sharpe"), None)
    return math.nan if value is None else value


def build(folder: Path) -> StrategyRegistry:
    """Create ``folder`` and commit the three cycles with the code that is imported."""
    StateFolder.create(folder)
    registry = StrategyRegistry(folder, SETTINGS)
    for k, decisions in enumerate(cycles()):
        registry.update(
            decisions,
            as_of=FIRST_AS_OF + timedelta(weeks=k),
            now=FIRST_TIME + timedelta(weeks=k),
            score=score,
            context=CONTEXT,
            environment=ENVIRONMENT,
        )
    return registry


def cli_history(folder: Path, strategy_id: str) -> dict[str, object]:
    """What ``autopilot registry history`` prints for ``strategy_id``, as JSON and text."""
    outputs: dict[str, object] = {}
    for fmt in ("json", "table"):
        done = subprocess.run(
            [*CLI, "registry", "--state-dir", str(folder), "history", strategy_id, "--format", fmt],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONIOENCODING": "utf-8"},
        )
        outputs[fmt] = json.loads(done.stdout) if fmt == "json" else done.stdout
    return outputs


def main(folder: str) -> None:
    path = Path(folder)
    build(path)
    (path / "state.lock").unlink(missing_ok=True)  # a reader needs none; a copy makes its own
    expected = {sid: cli_history(path, sid) for sid in IDS}
    (path.parent / f"{path.name}.expected.json").write_text(
        json.dumps(expected, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )


if __name__ == "__main__":
    main(sys.argv[1])
