"""Worker processes for ``test_registry_processes.py`` (run as ``python registry_worker.py``).

Two modes:

``concurrent STATE_DIR WORKER CYCLES GO_FILE``
    Prints ``ready``, waits until ``GO_FILE`` exists (so that every worker starts at the same
    time), then runs ``CYCLES`` registry cycles, each with a new
    :class:`~autopilot.registry.StrategyRegistry` on ``STATE_DIR``.

``crashloop STATE_DIR ERROR_FILE``
    A fork server: imports once, then for every ``fork`` line on stdin forks a child that
    runs registry cycles in a tight loop until it is killed, prints the child's pid, waits
    for it and prints ``exit <wait status>``. The test kills the child with SIGKILL at a
    random instant. Forking avoids paying the interpreter start-up for each of the hundreds
    of kills; the child is a real process, killed for real. The cycle ``k`` applies
    :func:`decision_set` ``(k)`` at :func:`cycle_time` ``(k)``, so the state of every
    generation can be replayed by the test with :func:`replay_cycle`.

The importable helpers (decision sets, settings, score, replay) are shared with the test.
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from autopilot.config import RegistrySettings
from autopilot.errors import StateError
from autopilot.registry import (
    Change,
    StrategyRecord,
    StrategyRegistry,
    apply_cycle,
)
from autopilot.sdk.verdicts import Decision, Mode, Outcome, Verdict

# Run as a script: make the repository root importable for the shared test helper.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.fork_server import serve_forks

WORKER_PATH = Path(__file__).resolve()
SETTINGS = RegistrySettings(promotion_grace_cycles=3, max_active=4)
IDS = tuple(f"s{i}" for i in range(8))
PERIOD = 11  # decision sets repeat with this period
BASE_TIME = datetime(1990, 1, 1, tzinfo=UTC)  # thousands of daily cycles stay in the past
_CHOICES = ("pass", "shadow", "fail", "insufficient", "error", "absent")
_WEIGHTS = (4, 1, 2, 1, 1, 2)
_FAILING = {
    "fail": (Outcome.FAIL, "BELOW_MIN: value=0.1, min=0.5"),
    "insufficient": (Outcome.INSUFFICIENT_DATA, "TOO_FEW_BARS: bars=20, min=252"),
    "error": (Outcome.ERROR, "GATE_ERROR: ValueError"),
}


def decision_set(k: int) -> list[Decision]:
    """The decisions of cycle ``k`` (one of ``PERIOD`` fixed sets)."""
    rng = random.Random(1000 + k % PERIOD)
    decisions = []
    for sid in IDS:
        choice = rng.choices(_CHOICES, _WEIGHTS)[0]
        score = rng.choice([None, round(rng.uniform(-1.0, 3.0), 3), 1.0])
        if choice == "absent":
            continue
        shadow = Verdict("dsr", Outcome.FAIL, 0.1, 0.9, Mode.SHADOW, "BELOW_MIN: value=0.1")
        if choice in ("pass", "shadow"):
            verdicts = [Verdict("sharpe", Outcome.PASS, score, 0.5, Mode.ENFORCE, "OK")]
            if choice == "shadow":
                verdicts.append(shadow)
        else:
            outcome, reason = _FAILING[choice]
            verdicts = [
                Verdict("sharpe", outcome, score, 0.5, Mode.ENFORCE, reason),
                Verdict("max_drawdown", Outcome.PASS, 0.1, 0.3, Mode.ENFORCE, "OK"),
            ]
        decisions.append(Decision(sid, tuple(verdicts)))
    return decisions


def cycle_time(k: int) -> datetime:
    """The (fixed) time of cycle ``k``."""
    return BASE_TIME + timedelta(minutes=k)


def as_of(k: int) -> date:
    """The as-of date of cycle ``k``."""
    return BASE_TIME.date() + timedelta(days=k)


def score(decision: Decision) -> float:
    """Rank newcomers by the sharpe verdict's value (NaN when missing: ranked last)."""
    value = next((v.value for v in decision.verdicts if v.gate == "sharpe"), None)
    return float("nan") if value is None else value


def replay_cycle(
    records: dict[str, StrategyRecord], k: int
) -> tuple[dict[str, StrategyRecord], list[Change]]:
    """What cycle ``k`` of the crash loop does to ``records`` (the pure function)."""
    return apply_cycle(
        records,
        decision_set(k),
        cycle=k,
        now=cycle_time(k).isoformat(),
        grace_cycles=SETTINGS.promotion_grace_cycles,
        max_active=SETTINGS.max_active,
        score=score,
    )


def _concurrent(state_dir: str, worker: int, cycles: int, go_file: str) -> int:
    print("ready", flush=True)
    deadline = time.monotonic() + 120.0
    while not os.path.exists(go_file):
        if time.monotonic() > deadline:
            print("no go signal", file=sys.stderr)
            return 3
        time.sleep(0.002)
    i = 0
    while i < cycles:
        # Like a scheduler: take the day after the last committed cycle; when another
        # worker committed that day first, the cycle is refused and retried on the next.
        registry = StrategyRegistry(state_dir, SETTINGS, lock_timeout=120.0)
        day = as_of(registry.snapshot()[1].cycle + 1)
        try:
            registry.update(
                decision_set(worker * 1000 + i),
                as_of=day,
                score=score,
                context={"worker": worker, "i": i},
            )
        except StateError:
            continue
        i += 1
    return 0


def _loop_forever(state_dir: str) -> None:
    """A forked child: registry cycles in a tight loop, until SIGKILL."""
    registry = StrategyRegistry(state_dir, SETTINGS)
    k = registry.snapshot()[1].cycle + 1
    while True:
        report = registry.update(decision_set(k), as_of=as_of(k), score=score, now=cycle_time(k))
        if report.cycle != k:
            raise AssertionError(f"cycle {report.cycle} written where {k} was expected")
        k += 1


def _crashloop(state_dir: str, error_file: str) -> int:
    # A registry's first cycle imports its Parquet writer, pyarrow and (through pyarrow's
    # list conversion) pandas, and initialises them: half a second. One cycle in a scratch
    # folder does it here, once, so every forked child starts like a long-running process.
    with tempfile.TemporaryDirectory() as scratch:
        StrategyRegistry(scratch, SETTINGS, create=True).update(decision_set(1), as_of=as_of(1))
    return serve_forks(lambda: _loop_forever(state_dir), error_file)


def main(argv: list[str]) -> int:
    mode, *rest = argv
    if mode == "concurrent":
        state_dir, worker, cycles, go_file = rest
        return _concurrent(state_dir, int(worker), int(cycles), go_file)
    if mode == "crashloop":
        state_dir, error_file = rest
        return _crashloop(state_dir, error_file)
    print(f"unknown mode {mode!r}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
