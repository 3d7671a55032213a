"""The command line: outputs and exit codes (0 evaluated, 2 bad input or config, 1 internal)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from autopilot import cli
from autopilot.registry import StrategyRegistry
from autopilot.sdk.verdicts import Decision, Mode, Outcome, Verdict
from tests.conftest import CONFIG_DIR


@pytest.fixture
def workdir(tmp_path, monkeypatch) -> Path:
    """A folder with the shipped configs and a small returns file, as a user would have."""
    shutil.copytree(CONFIG_DIR, tmp_path / "configs")
    rng = np.random.default_rng(3)
    dates = pd.bdate_range("2019-01-01", periods=600)
    rows = []
    for i in range(4):
        r = rng.normal(0.0004 * (i + 1), 0.01, len(dates))
        rows.append(pd.DataFrame({"strategy_id": f"s{i}", "date": dates, "return": r}))
    frame = pd.concat(rows)
    frame["regime"] = np.tile((np.arange(len(dates)) // 150) % 2, 4)
    frame.to_parquet(tmp_path / "batch.parquet")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_check_table_shows_every_candidate(workdir, capsys):
    assert cli.main(["gates", "check", "batch.parquet", "--env", "dev"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert [row.split()[0] for row in rows[1:5]] == ["s0", "s1", "s2", "s3"]


def test_check_json_is_complete_and_rebuilds(workdir, capsys):
    assert cli.main(["gates", "check", "batch.parquet", "--env", "prod", "--format", "json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert set(payload) == {"schema_version", "kind", "environment", "config_hash", "decisions"}
    assert (payload["schema_version"], payload["kind"]) == (1, "verdicts")
    assert payload["environment"] == "prod" and len(payload["config_hash"]) == 16
    for item in payload["decisions"]:
        assert set(item) == {"strategy_id", "promotable", "gates"}
        assert set(item["gates"][0]) == {"gate", "outcome", "value", "threshold", "mode", "reason"}
        assert Decision.from_dict(item).to_dict() == item


def test_bad_config_exits_2_and_prints_nothing(workdir, capsys):
    (workdir / "configs" / "broken.yaml").write_text(
        "extends: base.yaml\ngates: {sharpe: {params: {min: x}}}\n"
    )
    assert cli.main(["gates", "check", "batch.parquet", "--env", "broken", "--format", "json"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert (
        "broken.yaml: gates.sharpe.params: The 'min' parameter of gate 'sharpe' must be a number"
        in captured.err
    )


def test_bad_input_exits_2(workdir, capsys):
    (workdir / "bad.csv").write_text("strategy_id,date,return\na,2024-01-01,oops\n")
    assert cli.main(["gates", "check", "bad.csv", "--env", "dev"]) == 2
    assert "bad.csv: row 2 (strategy 'a'): return 'oops' is not a number" in capsys.readouterr().err
    assert cli.main(["gates", "check", "missing.csv", "--env", "dev"]) == 2


def test_unknown_environment_exits_2(workdir, capsys):
    assert cli.main(["gates", "check", "batch.parquet", "--env", "qa"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        "error: no configuration for environment 'qa': searched ./configs (environments: "
        "base, dev, prod, staging) and the defaults shipped with autopilot in "
    )
    argv = ["--config-dir", "configs", "gates", "check", "batch.parquet", "--env", "qa"]
    assert cli.main(argv) == 2
    assert "in the folder configs (environments: base, dev, prod, staging)" in (
        capsys.readouterr().err
    )


def test_usage_error_exits_2(workdir, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["gates", "check", "batch.parquet"])  # --env is required
    assert info.value.code == 2


def test_internal_error_exits_1(workdir, capsys, monkeypatch):
    def broken_reader(*args, **kwargs):
        raise RuntimeError("unexpected state")

    import autopilot.market.returns_io

    monkeypatch.setattr(autopilot.market.returns_io, "read_candidates", broken_reader)
    assert cli.main(["gates", "check", "batch.parquet", "--env", "dev"]) == 1
    assert "internal error: RuntimeError: unexpected state" in capsys.readouterr().err


def test_config_show_prints_loadable_yaml(workdir, capsys):
    assert cli.main(["config", "show", "--env", "staging"]) == 0
    text = capsys.readouterr().out
    data = yaml.safe_load(text)
    assert data["environment"] == "staging"
    assert data["gates"]["deflated_sharpe"]["mode"] == "shadow"
    assert data["gates"]["sharpe"]["params"] == {"min": 0.5}


def test_config_show_json_holds_the_resolved_configuration_and_its_files(workdir, capsys):
    assert cli.main(["config", "show", "--env", "prod"]) == 0
    text = capsys.readouterr().out
    assert cli.main(["config", "show", "--env", "prod", "--format", "json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert list(payload) == [
        "schema_version",
        "kind",
        "environment",
        "config_hash",
        "sources",
        "config",
    ]
    assert (payload["schema_version"], payload["kind"], payload["environment"]) == (
        1,
        "config",
        "prod",
    )
    assert payload["sources"] == [
        str(workdir / "configs" / "prod.yaml"),
        str(workdir / "configs" / "base.yaml"),
    ]
    # The same content as the YAML, whose header carries the same hash.
    assert payload["config"] == yaml.safe_load(text)
    assert f"config hash {payload['config_hash']}" in text.splitlines()[0]
    assert text.splitlines()[1] == "# from configs/prod.yaml <- configs/base.yaml"


def test_config_show_says_when_it_reads_the_shipped_defaults(workdir, capsys):
    shutil.rmtree(workdir / "configs")
    assert cli.main(["config", "show", "--env", "dev"]) == 0
    header = capsys.readouterr().out.splitlines()[1]
    assert header == (
        f"# from {CONFIG_DIR / 'dev.yaml'} <- {CONFIG_DIR / 'base.yaml'} "
        f"(the defaults shipped with autopilot)"
    )


def test_gates_list_shows_parameters_and_status(workdir, capsys):
    assert cli.main(["gates", "list", "--env", "dev", "--format", "json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    gates = {g["name"]: g for g in listing["gates"]}
    drawdown = gates["transition_drawdown"]
    assert (drawdown["status"], drawdown["mode"]) == ("enabled", "enforce")
    assert (drawdown["plugin"], drawdown["distribution"]) == (
        "transition_drawdown",
        "strategy-autopilot",
    )
    assert drawdown["parameters"]["window"]["rule"] == "int in [1, inf), default 3"
    # The environment's own values, not only the defaults: dev sets sharpe's min to 0.5.
    dev = yaml.safe_load((workdir / "configs" / "dev.yaml").read_text())
    for gate, spec in dev.get("gates", {}).items():
        for key, value in (spec or {}).get("params", {}).items():
            assert gates[gate]["parameters"][key]["value"] == value
    assert (gates["deflated_sharpe"]["status"], gates["deflated_sharpe"]["mode"]) == (
        "enabled",
        "shadow",
    )


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "autopilot"
    done = subprocess.run([str(script), "--version"], capture_output=True, text=True, check=True)
    assert done.stdout.startswith("autopilot ")


def test_report_is_written_after_a_successful_check(workdir, capsys):
    assert cli.main(["gates", "check", "batch.parquet", "--env", "dev", "--report", "r.html"]) == 0
    page = (workdir / "r.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "s3" in page


def test_report_into_a_missing_folder_exits_2_before_any_work(workdir, capsys):
    assert (
        cli.main(["gates", "check", "batch.parquet", "--env", "dev", "--report", "no/r.html"]) == 2
    )
    assert "no/r.html: the folder no does not exist" in capsys.readouterr().err


def test_no_report_is_written_for_bad_input(workdir, capsys):
    (workdir / "bad.csv").write_text("strategy_id,date,return\na,2024-01-01,oops\n")
    assert cli.main(["gates", "check", "bad.csv", "--env", "dev", "--report", "r.html"]) == 2
    assert not (workdir / "r.html").exists()


def test_example_then_check(workdir, capsys):
    assert cli.main(["example", "example.parquet"]) == 0
    assert cli.main(["gates", "check", "example.parquet", "--env", "dev", "--format", "json"]) == 0
    payload = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert len(payload["decisions"]) == 80
    assert any(d["promotable"] for d in payload["decisions"])


# --------------------------------------------------------------------------------------------
# autopilot paper rebalance: every bad cell is an input error naming file, row and column


def _rebalance(
    workdir: Path,
    prices: str,
    targets: str = "security_id,weight\nA,0.3\nB,0.3\n",
    *options: str,
    day: str = "2024-01-02",
):
    (workdir / "p.csv").write_text(prices)
    (workdir / "t.csv").write_text(targets)
    argv = ["paper", "--state-dir", "state", "rebalance", "--prices", "p.csv"]
    return cli.main([*argv, "--targets", "t.csv", "--date", day, "--init", *options])


GOOD_PRICES = "security_id,price,volume,volatility\nA,10,100000,0.02\nB,20,50000,0.03\n"


def test_paper_rebalance_trades_good_files(workdir, capsys):
    assert _rebalance(workdir, GOOD_PRICES, TARGETS, "--format", "json") == 0
    done = json.loads(capsys.readouterr().out)
    assert (done["cycle"], done["date"], done["repeated"]) == (1, "2024-01-02", False)
    assert [f["security_id"] for f in done["fills"]] == ["A", "B"]
    assert (workdir / "state" / "portfolio.json").exists()


TARGETS = "security_id,weight\nA,0.3\nB,0.3\n"


def test_paper_rebalance_retry_of_a_date_books_nothing_and_an_earlier_date_is_refused(
    workdir, capsys
):
    assert _rebalance(workdir, GOOD_PRICES, TARGETS, "--format", "json", day="2024-01-03") == 0
    first = json.loads(capsys.readouterr().out)
    log = (workdir / "state" / "trades.jsonl").read_bytes()
    assert _rebalance(workdir, GOOD_PRICES, TARGETS, "--format", "json", day="2024-01-03") == 0
    retry = json.loads(capsys.readouterr().out)
    assert retry["repeated"] and (retry["cycle"], retry["fills"]) == (1, first["fills"])
    assert _rebalance(workdir, GOOD_PRICES, TARGETS, day="2024-01-02") == 2
    err = capsys.readouterr().err
    assert "as-of 2024-01-02 is earlier than the last committed cycle 1 (as of 2024-01-03)" in err
    assert (workdir / "state" / "trades.jsonl").read_bytes() == log


@pytest.mark.parametrize("cash", ["-5", "nan", "0"])
def test_paper_rebalance_refuses_a_bad_initial_cash(workdir, capsys, cash):
    assert _rebalance(workdir, GOOD_PRICES, TARGETS, "--initial-cash", cash) == 2
    assert "--initial-cash must be a positive number" in capsys.readouterr().err
    assert not (workdir / "state").exists()


def test_paper_rebalance_refuses_another_initial_cash_for_an_existing_book(workdir, capsys):
    assert _rebalance(workdir, GOOD_PRICES, TARGETS, "--initial-cash", "50000") == 0
    capsys.readouterr()
    assert (
        _rebalance(workdir, GOOD_PRICES, TARGETS, "--initial-cash", "90000", day="2024-01-03") == 2
    )
    assert "initial cash 50,000.00" in capsys.readouterr().err
    assert cli.main(["paper", "--state-dir", "state", "status", "--format", "json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["as_of"] == "2024-01-02"
    assert status["cash"] + sum(p["shares"] * p["last_price"] for p in status["positions"]) == (
        pytest.approx(status["equity"])
    )


def test_a_lock_held_by_another_cycle_exits_75_and_writes_nothing(workdir, capsys):
    import filelock

    assert cli.main(["init", "--state-dir", "state"]) == 0
    capsys.readouterr()
    (workdir / "p.csv").write_text(GOOD_PRICES)
    (workdir / "t.csv").write_text(TARGETS)
    before = {p.name: p.read_bytes() for p in (workdir / "state").iterdir()}
    holder = filelock.FileLock(str(workdir / "state" / "state.lock"))
    with holder:
        code = cli.main(
            [
                "paper",
                "--state-dir",
                "state",
                "rebalance",
                "--prices",
                "p.csv",
                "--targets",
                "t.csv",
                "--date",
                "2024-01-02",
                "--lock-timeout",
                "0.1",
            ]
        )
    assert code == 75
    assert "state.lock for more than 0.1 s; nothing was written" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in (workdir / "state").iterdir()} == before


@pytest.mark.parametrize(
    ("prices", "targets", "where", "rule"),
    [
        (
            GOOD_PRICES.replace("50000", "-5"),
            None,
            "p.csv: row 3, column 'volume': the volume of security 'B'",
            "must be in (0, inf), was -5.0.",
        ),
        (
            GOOD_PRICES.replace("0.03", "inf"),
            None,
            "p.csv: row 3, column 'volatility': the volatility of security 'B'",
            "must be a finite number, was inf.",
        ),
        (
            GOOD_PRICES.replace("0.02", "-0.02"),
            None,
            "p.csv: row 2, column 'volatility': the volatility of security 'A'",
            "must be in [0, inf), was -0.02.",
        ),
        (
            GOOD_PRICES.replace("A,10,", "A,-10,"),
            None,
            "p.csv: row 2, column 'price': the price of security 'A'",
            "must be in (0, inf), was -10.0.",
        ),
        (
            GOOD_PRICES,
            "security_id,weight\nA,0.3\nB,-inf\n",
            "t.csv: row 3, column 'weight': the weight of security 'B'",
            "must be a finite number, was -inf.",
        ),
    ],
)
def test_paper_rebalance_refuses_a_bad_cell_naming_file_row_and_column(
    workdir, capsys, prices, targets, where, rule
):
    args = (prices,) if targets is None else (prices, targets)
    assert _rebalance(workdir, *args) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"error: {where} {rule}\n"
    assert not (workdir / "state" / "portfolio.json").exists()
    assert not (workdir / "state" / "trades.jsonl").exists()


def test_reading_commands_start_without_the_numerical_stack(tmp_path):
    """`registry show` and `paper status` import neither pandas, numba, scipy nor pyarrow.

    The registry has a committed cycle, so its verdict file exists: `show` never opens it.
    """
    assert cli.main(["init", "--state-dir", str(tmp_path / "state")]) == 0
    verdict = Verdict("sharpe", Outcome.PASS, 1.0, 0.5, Mode.ENFORCE, "OK")
    registry = StrategyRegistry(tmp_path / "state")
    registry.update([Decision("a", (verdict,))], as_of=date(2024, 1, 2))
    assert (tmp_path / "state" / "registry_verdicts" / "cycle-000001.parquet").exists()
    probe = (
        "import json, sys\n"
        "from autopilot.cli import main\n"
        "codes = [main(['registry', '--state-dir', sys.argv[1], 'show']),\n"
        "         main(['paper', '--state-dir', sys.argv[1], 'status'])]\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & "
        "{'pandas', 'numba', 'scipy', 'pyarrow', 'sklearn'})\n"
        "print(json.dumps({'codes': codes, 'heavy': heavy}), file=sys.stderr)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, str(tmp_path / "state")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(done.stderr.strip().splitlines()[-1]) == {"codes": [0, 0], "heavy": []}


def test_a_file_where_the_state_folder_belongs_exits_2_not_internal(workdir, capsys):
    (workdir / "afile").write_text("not a folder")
    assert cli.main(["init", "--state-dir", "afile"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: afile: ") and "a file stands where a folder is needed" in err
    assert cli.main(["init", "--state-dir", "afile/sub"]) == 2
    assert "a file stands where a folder is needed" in capsys.readouterr().err


def test_init_copies_the_default_configurations_for_editing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["init", "--configs"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "state created initial cash 1,000,000.00",
        "copied the default environments into configs: base.yaml, dev.yaml, prod.yaml, "
        "staging.yaml",
        "edit them: run from here, --env NAME reads configs/NAME.yaml before the defaults "
        "shipped with autopilot",
    ]
    for name in ("base.yaml", "dev.yaml", "prod.yaml", "staging.yaml"):
        assert (tmp_path / "configs" / name).read_bytes() == (CONFIG_DIR / name).read_bytes()
    # The copies are what --env reads from here on.
    (tmp_path / "configs" / "dev.yaml").write_text("extends: base.yaml\nrisk_free_rate: 0.01\n")
    assert cli.main(["config", "show", "--env", "dev", "--format", "json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["config"]["risk_free_rate"] == 0.01
    assert payload["sources"][0] == str(tmp_path / "configs" / "dev.yaml")


def test_init_never_overwrites_configurations(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "prod.yaml").write_text("mine\n")
    assert cli.main(["init", "--configs"]) == 2
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == (
        "",
        "error: configs: already holds prod.yaml; nothing was copied, nothing is overwritten. "
        "Move those files away first, or copy into another folder.\n",
    )
    # Refused before anything was created: no state folder either.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["configs"]
    assert (tmp_path / "configs" / "prod.yaml").read_text() == "mine\n"


def test_init_copies_into_the_folder_given(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["init", "--state-dir", "s", "--configs", "envs"]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == [
        "copied the default environments into envs: base.yaml, dev.yaml, prod.yaml, staging.yaml",
        "edit them, and pass --config-dir envs to use them",
    ]
    # Without a folder, --configs takes the --config-dir given.
    assert cli.main(["--config-dir", "other", "init", "--state-dir", "s", "--configs"]) == 0
    assert "copied the default environments into other:" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["envs", "other", "s"]
    # Plain init copies nothing.
    assert cli.main(["init", "--state-dir", "t"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["envs", "other", "s", "t"]


def test_a_folder_where_a_state_file_belongs_exits_2(workdir, capsys):
    assert _rebalance(workdir, GOOD_PRICES, TARGETS) == 0
    capsys.readouterr()
    log = workdir / "state" / "trades.jsonl"
    log.rename(workdir / "trades.jsonl")
    log.mkdir()
    assert _rebalance(workdir, GOOD_PRICES, TARGETS, day="2024-01-03") == 2
    assert "a folder stands where a file is needed" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["nan", "-1", "inf", "soon"])
def test_a_lock_timeout_that_is_not_a_number_of_seconds_is_refused(workdir, capsys, value):
    with pytest.raises(SystemExit) as info:
        _rebalance(workdir, GOOD_PRICES, TARGETS, "--lock-timeout", value)
    assert info.value.code == 2
    assert "is not a number of seconds" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("prices", "targets", "message"),
    [
        (GOOD_PRICES, "security_id,weight\nA,\nB,0.3\n", "t.csv: row 2, column 'weight': empty"),
        (
            "security_id,price,volume,volatility\nA,,100000,0.02\nB,20,50000,0.03\n",
            TARGETS,
            "p.csv: row 2, column 'price': empty",
        ),
        (
            "security_id,price,volume,volatility\n,10,100000,0.02\nB,20,50000,0.03\n",
            TARGETS,
            "p.csv: row 2, column 'security_id': empty",
        ),
    ],
)
def test_an_empty_required_cell_is_refused_never_read_as_sell_or_no_price(
    workdir, capsys, prices, targets, message
):
    assert _rebalance(workdir, prices, targets) == 2
    assert capsys.readouterr().err.startswith(f"error: {message}")
    assert not (workdir / "state" / "trades.jsonl").exists()


def test_an_order_many_times_its_volume_is_refused_not_filled_at_a_negative_price(workdir, capsys):
    prices = "security_id,price,volume,volatility\nA,100,1,0.05\n"
    assert _rebalance(workdir, prices, "security_id,weight\nA,0.4\n") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: security 'A': the simulated cost of this order is")
    assert "check the order size and the volume's unit" in err
    assert not (workdir / "state" / "trades.jsonl").exists()


def test_paper_status_json_of_a_book_without_fills_is_valid_json(workdir, capsys):
    assert cli.main(["init", "--state-dir", "state"]) == 0
    capsys.readouterr()
    assert cli.main(["paper", "--state-dir", "state", "status", "--format", "json"]) == 0
    text = capsys.readouterr().out
    status = json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} in JSON"))
    assert status["costs"]["mean_bps"] is None and status["positions"] == []


@pytest.mark.parametrize("day", ["20240102", "2024W011", "2024-1-2", "2024-13-01"])
def test_a_date_that_is_not_yyyy_mm_dd_is_refused(workdir, capsys, day):
    assert _rebalance(workdir, GOOD_PRICES, TARGETS, day=day) == 2
    assert f"--date: {day!r} is not a date like 2024-01-31" in capsys.readouterr().err


def test_an_empty_state_folder_path_is_refused_not_read_as_here(workdir, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["init", "--state-dir", ""])
    assert info.value.code == 2
    assert "an empty path" in capsys.readouterr().err
    assert not (workdir / "autopilot_state.json").exists()


def test_report_into_a_folder_or_over_the_input_is_refused(workdir, capsys):
    (workdir / "out").mkdir()
    argv = ["gates", "check", "batch.parquet", "--env", "dev", "--report"]
    assert cli.main([*argv, "out"]) == 2
    assert "out: is a folder; give a file name such as" in capsys.readouterr().err
    before = (workdir / "batch.parquet").read_bytes()
    assert cli.main([*argv, "batch.parquet"]) == 2
    assert "is the input file; writing there would destroy it" in capsys.readouterr().err
    assert (workdir / "batch.parquet").read_bytes() == before


def test_the_table_says_why_a_verdict_is_an_error(workdir, capsys):
    frame = pd.read_parquet(workdir / "batch.parquet")
    frame.loc[frame.index[200], "return"] = np.inf  # s0 gets a non-finite return
    frame.to_parquet(workdir / "inf.parquet")
    assert cli.main(["gates", "check", "inf.parquet", "--env", "dev"]) == 0
    row = next(r for r in capsys.readouterr().out.splitlines() if r.startswith("s0 "))
    assert "ERROR NON_FINITE_RETURN" in row


def test_weights_above_one_name_the_targets_file(workdir, capsys):
    assert _rebalance(workdir, GOOD_PRICES, "security_id,weight\nA,0.8\nB,0.7\n") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: t.csv: the weights sum to 1.5 > 1")
