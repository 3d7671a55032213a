"""Ctrl-C at any moment of a real ``autopilot registry update``: one line, exit 130, no loss.

A SIGINT is sent to the command at a spread of instants: while Python imports the
command modules, while numba loads its kernels, while the batch is read and evaluated,
and around the commit. Every interrupted run must end with exit 130 and one line that
says what was committed (never a traceback), and running the command again must reach
exactly the registry an uninterrupted run reaches.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

AUTOPILOT = Path(sys.executable).with_name("autopilot")
# Seconds after the program's own start-up (a run of this size takes one to two seconds
# more here). The start-up itself, the interpreter's and the package's imports up to the
# handler, is measured first: a signal before the program's first line can only get
# Python's own traceback, and on a loaded machine that window grows several times.
OFFSETS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.55, 0.7, 0.85, 1.05, 1.35)


def _start_up() -> float:
    """Wall seconds of ``autopilot --version``: interpreter, imports, parser (best of 3)."""
    times = []
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run([str(AUTOPILOT), "--version"], check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return min(times)


def _batch(path: Path) -> None:
    rng = np.random.default_rng(7)
    dates = pd.bdate_range("2015-01-01", periods=800)
    frame = pd.DataFrame(rng.normal(0.0006, 0.01, (800, 400)), index=dates)
    frame.columns = [f"s{j:03d}" for j in range(400)]
    frame["regime"] = np.where((np.arange(800) // 100) % 2, "storm", "calm")
    frame.rename_axis("date").reset_index().to_parquet(path, index=False)


def _command(batch: Path, state: Path) -> list[str]:
    update = [str(AUTOPILOT), "registry", "update", str(batch), "--env", "dev"]
    return [*update, "--state-dir", str(state), "--init"]


def _active(state: Path) -> list[str]:
    shown = subprocess.run(
        [str(AUTOPILOT), "registry", "show", "--state-dir", str(state), "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    return sorted(record["strategy_id"] for record in json.loads(shown.stdout)["active"])


def test_ctrl_c_anywhere_says_what_was_committed_and_a_rerun_completes(tmp_path):
    batch = tmp_path / "batch.parquet"
    _batch(batch)
    reference = tmp_path / "reference"
    subprocess.run(_command(batch, reference), check=True, capture_output=True)
    expected = _active(reference)
    assert expected  # the batch promotes some candidates, so the comparison says something

    interrupted = 0
    start_up = _start_up()
    for n, offset in enumerate(OFFSETS):
        delay = start_up + offset
        state = tmp_path / f"state{n}"
        process = subprocess.Popen(
            _command(batch, state), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        time.sleep(delay)
        if process.poll() is None:
            os.kill(process.pid, signal.SIGINT)
        _, stderr = process.communicate(timeout=120)
        assert "Traceback" not in stderr, stderr
        if process.returncode == 130:
            interrupted += 1
            assert stderr.strip().splitlines()[-1].startswith("interrupted"), stderr
            if "after committing" in stderr:
                assert "cycle 1 as of" in stderr
        else:
            assert process.returncode == 0, stderr  # it finished before the signal came
        subprocess.run(_command(batch, state), check=True, capture_output=True)
        assert _active(state) == expected
    assert interrupted >= len(OFFSETS) // 2  # most signals came while the command ran


def test_a_command_started_with_ctrl_c_ignored_keeps_ignoring_it(tmp_path):
    batch = tmp_path / "batch.parquet"
    _batch(batch)
    process = subprocess.Popen(
        [str(AUTOPILOT), "gates", "check", str(batch), "--env", "dev", "--format", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),  # like `cmd &`
    )
    time.sleep(0.6)
    if process.poll() is None:
        os.kill(process.pid, signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    assert json.loads(stdout)["kind"] == "verdicts"
