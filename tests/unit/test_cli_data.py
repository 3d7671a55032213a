"""``autopilot data check``: the summary of a price file and every problem, through the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

from autopilot import cli

GOOD = """\
date,AAA,BBB,CCC
2024-01-02,10,,50
2024-01-03,11,20,55
2024-01-04,9.9,21,
2024-01-05,,22,
2024-01-08,,23,
"""

# Row 4: NA's close is negative; row 5: 007's date comes after its 2024-01-04 (row 3);
# 007 has no row for 2024-01-05 between its prices; ZZZ has a single price; row 9's volume
# is negative.
BAD = """\
date,ticker,close,volume
2024-01-02,NA,10,100
2024-01-04,007,20,100
2024-01-03,NA,-1,100
2024-01-03,007,22,10
2024-01-04,NA,12,100
2024-01-05,NA,12,100
2024-01-08,007,23,100
2024-01-08,ZZZ,12,-3
2024-01-08,NA,13,100
"""


def test_a_good_file_is_summarised_and_exits_0(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("p.csv").write_text(GOOD)
    assert cli.main(["data", "check", "p.csv"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert captured.out.splitlines() == [
        "file         p.csv",
        "layout       wide (date, one column of closes per security)",
        "securities   3: AAA, BBB, CCC",
        "dates        2024-01-02 to 2024-01-08, 5 bars",
        "spacing      median 1 day, largest 3 days (2024-01-05 to 2024-01-08)",
        "late starts  1: BBB (2024-01-03)",
        "early ends   2: AAA (2024-01-04), CCC (2024-01-03)",
        "volume       no",
        "accepted: read_prices returns this panel",
    ]


def test_a_bad_file_lists_every_problem_and_exits_2(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("p.csv").write_text(BAD)
    assert cli.main(["data", "check", "p.csv"]) == 2
    captured = capsys.readouterr()
    assert captured.err == "error: p.csv: would be refused, 5 problems (listed on stdout)\n"
    lines = captured.out.splitlines()
    assert lines[:3] == [
        "file         p.csv",
        "layout       long (date, ticker, close, volume)",
        "securities   3: NA, 007, ZZZ",
    ]
    assert "volume       yes" in lines
    start = lines.index("refused: 5 problems")
    assert lines[start + 1 :] == [
        "  p.csv: column 'date', row 5 (security '007'): 2024-01-03 comes after 2024-01-04 (row "
        "3); each security's dates must increase down the file and are not sorted for you (a "
        "sort would hide how the file came to be out of order): sort the file by security and "
        "date, or by date",
        "  p.csv: column 'close', row 4 (security 'NA'): price -1 is not positive; a close is "
        "above zero (a 0 or -99 standing for 'no price' must be an empty cell, and a return is "
        "not a price)",
        "  p.csv: column 'close', after row 3 (security '007'): no row for 2024-01-05, inside "
        "the security's history (2024-01-03 to 2024-01-08), between its rows 3 and 8; a fill "
        "would be a guess: write the close, or leave its rows out",
        "  p.csv: column 'ticker', row 9: security 'ZZZ' has 1 price (2024-01-08); at least 2 "
        "are needed (--min-history): give it more history, or leave its rows out",
        "  p.csv: column 'volume', row 9 (security 'ZZZ'): volume -3 is negative; a volume is "
        "the shares traded, at least 0",
    ]


def test_json_holds_the_summary_and_the_problems(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("p.csv").write_text(BAD)
    argv = ["data", "check", "p.csv", "--format", "json", "--min-history", "1"]
    assert cli.main(argv) == 2
    document = json.loads(capsys.readouterr().out)
    assert (document["schema_version"], document["kind"]) == (1, "price_check")
    assert document["accepted"] is False
    assert (document["layout"], document["id_column"], document["volume"]) == (
        "long",
        "ticker",
        True,
    )
    assert document["securities"] == ["NA", "007", "ZZZ"]
    assert (document["first_date"], document["last_date"], document["bars"]) == (
        "2024-01-02",
        "2024-01-08",
        5,
    )
    assert [(p["code"], p["column"], p["row"], p["security"]) for p in document["problems"]] == [
        ("UNSORTED_DATES", "date", 5, "007"),
        ("NON_POSITIVE_PRICE", "close", 4, "NA"),
        ("INTERIOR_GAP", "close", 3, "007"),
        ("NEGATIVE_VOLUME", "volume", 9, "ZZZ"),
    ]  # --min-history 1: ZZZ's single price is enough


def test_reading_options_reach_the_reader(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    frame = pd.DataFrame({"date": ["02/01/2024", "03/01/2024"], "A": [1.0, 2.0]})
    frame.to_csv("p.csv")  # with its index, as an unnamed first column
    assert cli.main(["data", "check", "p.csv"]) == 2
    assert "'02/01/2024' is not an ISO date (YYYY-MM-DD)" in capsys.readouterr().err
    argv = ["data", "check", "p.csv", "--date-format", "%d/%m/%Y"]
    assert cli.main([*argv, "--ignore-columns", "Unnamed: 0", "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert (document["accepted"], document["securities"]) == (True, ["A"])


def test_a_file_that_cannot_be_read_exits_2_with_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["data", "check", "none.csv"]) == 2
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", "error: none.csv: file not found\n")


def test_the_installed_command_runs_it(tmp_path):
    (tmp_path / "good.csv").write_text(GOOD)
    (tmp_path / "bad.csv").write_text(BAD)
    script = Path(sys.executable).parent / "autopilot"
    good = subprocess.run(
        [str(script), "data", "check", "good.csv", "--format", "json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert good.returncode == 0 and json.loads(good.stdout)["accepted"] is True
    bad = subprocess.run(
        [str(script), "data", "check", "bad.csv"], cwd=tmp_path, capture_output=True, text=True
    )
    assert bad.returncode == 2 and "refused: 5 problems" in bad.stdout
