"""``autopilot run`` end to end on the embedded data: records, resuming, T3/T6/T8, refusals.

Every walk runs the real engine through the command line in this process, on the small
environment of :mod:`tests.walks` (five candidates, short windows, fast fits).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from autopilot import cli
from autopilot.market.bundled import load_index, load_prices
from autopilot.state.journal import Journal
from tests.walks import state_of, walk_argv, without_times, write_small_env

START, END = "2022-06-01", "2022-09-02"  # 14 weekly cycles, both regimes of the rule


def walk(env: Path, state: Path, *extra: str, start: str = START, end: str = END) -> int:
    return cli.main(walk_argv(env, state, start, end, *extra))


def files_of(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> Path:
    return write_small_env(tmp_path_factory.mktemp("env"))


@pytest.fixture(scope="module")
def walked(env, tmp_path_factory) -> Path:
    """One uninterrupted walk, shared by the tests that only read it."""
    state = tmp_path_factory.mktemp("walked") / "state"
    assert walk(env, state, "--init") == 0
    return state


def records(state: Path) -> list[dict]:
    return list(Journal(state / "engine_cycles.jsonl"))


def test_a_walk_commits_one_record_per_cycle_with_what_a_researcher_reads(walked, env):
    done = records(walked)
    days = pd.bdate_range(START, END)
    fridays = [d.date().isoformat() for d in days if d.weekday() == 4]
    assert [r["as_of"] for r in done] == fridays  # the last bar of each week
    for record in done:
        assert {"regime", "regime_confidence", "candidates", "promoted", "in_grace", "removed"}
        assert record["candidates"] == 5
        assert record["optimiser"]["status"] == "optimal"
        assert record["allocator"]["mode"] == "full"
        assert record["equity"] > 0
        meta = record["meta_label"]
        assert meta["kept"] <= meta["signals"]
    assert done[0]["promoted"] and done[0]["meta_label"]["filtered"] is False  # no model yet
    assert all(r["meta_label"]["filtered"] for r in done[1:])
    assert {r["regime"] for r in done} == {0, 1}
    # Both ledgers the engine drives reached the walk's last date.
    registry = json.loads((walked / "registry.json").read_text())["data"]
    book = json.loads((walked / "portfolio.json").read_text())["data"]
    assert registry["as_of"] == book["as_of"] == END


def test_a_second_run_resumes_and_a_later_end_runs_only_the_new_cycles(walked, env, capsys):
    before = files_of(walked)
    assert walk(env, walked) == 0
    assert "nothing to run: the state folder is at 2022-09-02" in capsys.readouterr().out
    assert files_of(walked) == before  # reading the state wrote nothing
    copy = walked.parent / "longer"
    copy.mkdir()
    for name, data in before.items():
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        (copy / name).write_bytes(data)
    assert walk(env, copy, end="2022-09-16") == 0
    out = capsys.readouterr().out
    assert "walk 2022-06-03 to 2022-09-16, 16 cycles (W-FRI)" in out
    assert "14 already committed" in out
    assert [r["as_of"] for r in records(copy)][-3:] == [END, "2022-09-09", "2022-09-16"]


def test_status_shows_the_active_set_book_model_and_last_cycle(walked, capsys):
    assert cli.main(["status", "--state-dir", str(walked), "--format", "json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["last_cycle"]["as_of"] == END
    assert status["model"]["sha256"] == records(walked)[-1]["model"]["sha256"]
    assert len(status["active"]) == len(records(walked)[-1]["active"])
    assert status["book"]["equity"] == pytest.approx(records(walked)[-1]["equity"])
    assert cli.main(["status", "--state-dir", str(walked)]) == 0
    text = capsys.readouterr().out
    assert "last cycle  14 as of 2022-09-02" in text and "threshold 0.4500" in text


def test_the_same_data_and_configuration_give_the_same_state(walked, env, tmp_path):
    again = tmp_path / "again"
    assert walk(env, again, "--init") == 0
    assert state_of(again) == state_of(walked)


def test_a_walk_on_data_cut_at_d_ends_where_the_full_data_stopped_at_d(env, tmp_path):
    prices = load_prices().loc["2016-01-01":]
    frame = prices.assign(SPX=load_index().loc["2016-01-01":])
    full, cut = tmp_path / "full.csv", tmp_path / "cut.csv"
    frame.rename_axis("date").reset_index().to_csv(full, index=False)
    frame.loc[:"2022-07-29"].rename_axis("date").reset_index().to_csv(cut, index=False)
    ends = {}
    for name, path in (("full", full), ("cut", cut)):
        state = tmp_path / name
        extra = ("--init", "--data", str(path), "--market", "SPX")
        assert walk(env, state, *extra, end="2022-07-29") == 0
        ends[name] = state_of(state)
    assert ends["full"] == ends["cut"]


def test_t6_the_model_filters_at_its_own_threshold_whatever_the_yaml_says(env, tmp_path):
    # One environment (the file's name), edited between the two runs.
    trained_at = env.read_text().replace("confidence_threshold: 0.45", "confidence_threshold: 0.65")
    six = tmp_path / "trained" / env.name
    six.parent.mkdir()
    six.write_text(trained_at)
    state = tmp_path / "state"
    assert walk(six, state, "--init", end="2022-06-10") == 0  # trains at 0.65 on cycle 1
    five = tmp_path / "edited" / env.name  # the YAML default changes, and no more training
    five.parent.mkdir()
    five.write_text(
        env.read_text()
        .replace("confidence_threshold: 0.45", "confidence_threshold: 0.5")
        .replace("retrain_every: 3", "retrain_every: 0")
    )
    assert walk(five, state, start="2022-06-01", end="2022-07-01") == 0
    later = records(state)[2:]
    assert later and all(r["meta_label"]["confidence_threshold"] == 0.65 for r in later)
    assert all(r["meta_label"]["kept"] < r["meta_label"]["signals"] for r in later[:1])


def test_t8_shadow_records_every_cycle_and_trades_as_without_an_allocator(env, tmp_path):
    fills = {}
    for mode in ("off", "shadow"):
        path = tmp_path / f"{mode}.yaml"
        path.write_text(env.read_text().replace("mode: full", f"mode: {mode}"))
        state = tmp_path / mode
        assert walk(path, state, "--init", end="2022-07-29") == 0
        done = records(state)
        assert all(r["allocator"]["mode"] == mode for r in done)
        assert all(r["allocator"]["applied"] is False for r in done)
        fills[mode] = without_times(list(Journal(state / "trades.jsonl")))
    shadow = records(tmp_path / "shadow")
    assert any(r["allocator"]["changes"] for r in shadow)  # it had something to say
    assert fills["shadow"] == fills["off"]


def test_t8_full_mode_changes_the_limits_with_the_regime(walked):
    effective = {r["regime"]: r["allocator"]["effective"] for r in records(walked)}
    assert effective[0] != effective[1]
    assert effective[1]["gross_exposure"] == 0.5 and effective[0]["gross_exposure"] == 1.0


def test_t3_no_weight_is_computed_from_entry_prices():
    sources = ["engine.py", "portfolio_construction.py", "strategies/signals.py"]
    root = Path(cli.__file__).parents[1]
    for name in sources:
        assert "entry_price" not in (root / name).read_text(), name


def refused(capsys, code: int, *needles: str) -> None:
    captured = capsys.readouterr()
    assert code == 2, captured
    line = captured.err.strip().splitlines()[-1]
    for needle in needles:
        assert needle in line, (needle, line)


def test_bad_inputs_are_refused_and_write_nothing(walked, env, tmp_path, capsys):
    before = files_of(walked)
    code = walk(env, walked, end="2023-03-31")
    refused(capsys, code, "the data end on 2022-12-28, before --end 2023-03-31")
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        env.read_text().replace(
            "  training_bars: 400\n", "  training_bars: 400\n  rebalance: daily\n"
        )
    )
    refused(capsys, walk(bad, walked, end="2022-09-09"), "engine.rebalance: unknown key")
    other = tmp_path / "other.yaml"
    other.write_text(env.read_text())
    code = walk(other, walked, end="2022-09-09")
    refused(capsys, code, "holds cycles of environment 'small', not 'other'")
    assert files_of(walked) == before


def test_a_gap_in_the_prices_is_refused_before_anything_runs(env, tmp_path, capsys):
    frame = load_prices().loc["2019-01-01":].copy()
    frame.loc["2022-07-15", "AAPL"] = np.nan
    path = tmp_path / "gap.csv"
    frame.rename_axis("date").reset_index().to_csv(path, index=False)
    state = tmp_path / "state"
    code = walk(env, state, "--init", "--data", str(path))
    refused(capsys, code, "gap.csv: column 'AAPL'", "no price on 2022-07-15")
    assert not state.exists()


def test_a_model_whose_hash_is_not_the_recorded_one_is_refused(walked, env, tmp_path, capsys):
    copy = tmp_path / "copy"
    for name, data in files_of(walked).items():
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        (copy / name).write_bytes(data)
    recorded = json.loads((copy / "engine.json").read_text())["data"]["model_file"]
    model = copy / "models" / recorded
    model.write_bytes(model.read_bytes() + b"\0")
    before = files_of(copy)
    code = walk(env, copy, end="2022-09-09")
    refused(capsys, code, f"{recorded}: sha256 is", "expected")
    assert files_of(copy) == before


def test_the_current_model_pointer_is_restored_from_the_engines_record(walked, env, tmp_path):
    copy = tmp_path / "copy"
    for name, data in files_of(walked).items():
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        (copy / name).write_bytes(data)
    current = copy / "models" / "meta_labeler_current.joblib"
    current.unlink()  # as a kill between the engine's record and the pointer leaves it
    assert walk(env, copy) == 0  # nothing to run, but the pointer is mended
    assert current.read_bytes() == (walked / "models" / "meta_labeler_current.joblib").read_bytes()


def test_ctrl_c_stops_after_the_running_cycle_and_the_next_run_goes_on(env, tmp_path):
    import signal
    import subprocess
    import sys

    state = tmp_path / "state"
    argv = [sys.executable, "-m", "autopilot.cli", *walk_argv(env, state, START, END, "--init")]
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    header = process.stdout.readline()
    first = process.stdout.readline()  # the first cycle committed
    assert header.startswith("walk ") and "  regime " in first, (header, first)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    lines = [first, *out.splitlines()]
    printed = [line for line in lines if "  regime " in line]
    assert "stopped after the cycle as of" in out and "interrupted after committing" in err
    done = records(state)
    assert 1 <= len(done) < 14 and [r["as_of"] for r in done] == [p.split()[0] for p in printed]
    assert walk(env, state) == 0
    assert len(records(state)) == 14


def half_commit(env: Path, state: Path, day: str) -> None:
    """Run a cycle's parts (registry, plan, paper, training) but not the engine's record."""
    from datetime import date

    from autopilot.config import load_config
    from autopilot.engine import AutopilotEngine
    from autopilot.market.universe import embedded_universe

    engine = AutopilotEngine(state, load_config(str(env)), embedded_universe)
    as_of = date.fromisoformat(day)
    universe = embedded_universe(as_of)
    horizon = 4  # bars to the next Friday: Monday 2022-06-20 was a holiday
    inputs = engine.inputs_of(universe, horizon)
    with engine.folder.locked():
        data, last, _ = engine.ledger.open_cycle(as_of, inputs, environment=env.stem)
        engine._cycle(universe, as_of, horizon, last.cycle + 1, data, inputs)


def test_a_half_committed_cycle_is_completed_before_any_later_date(env, tmp_path, capsys):
    state = tmp_path / "state"
    assert walk(env, state, "--init", end="2022-06-10") == 0
    half_commit(env, state, "2022-06-17")  # as a kill before the engine's record leaves it
    from datetime import date

    from autopilot.config import load_config
    from autopilot.engine import AutopilotEngine
    from autopilot.errors import StateError
    from autopilot.market.universe import embedded_universe

    engine = AutopilotEngine(state, load_config(str(env)), embedded_universe)
    assert engine.pending() == date(2022, 6, 17)
    with pytest.raises(StateError, match="the cycle as of 2022-06-17 is partly committed"):
        engine.run_cycle(date(2022, 6, 24), 5)
    capsys.readouterr()
    # Another --every would skip the date: the walk still completes it first.
    code = walk(env, state, end="2022-06-30", start="2022-06-01")
    assert code == 0, capsys.readouterr().err
    assert [r["as_of"] for r in records(state)][-2:] == ["2022-06-17", "2022-06-24"]
    registry = list(Journal(state / "registry_audit.jsonl"))
    assert [r["as_of"] for r in registry] == [r["as_of"] for r in records(state)]


def test_a_half_committed_cycle_is_not_completed_with_other_inputs(env, tmp_path, capsys):
    state = tmp_path / "state"
    assert walk(env, state, "--init", end="2022-06-10") == 0
    half_commit(env, state, "2022-06-17")
    other = tmp_path / "other" / env.name
    other.parent.mkdir()
    other.write_text(env.read_text().replace("mode: full", "mode: shadow"))
    before = files_of(state)
    code = walk(other, state, end="2022-06-24")
    refused(capsys, code, "the paper book traded the cycle as of 2022-06-17 from a plan made")
    assert files_of(state) == before
