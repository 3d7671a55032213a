"""What every command group shares: exit codes, parent parsers and output-path checks."""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Iterator, Mapping
from datetime import date
from pathlib import Path
from typing import Any

from autopilot.errors import InputError

__all__ = [
    "EXIT_INTERNAL",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_TEMPFAIL",
    "EXIT_USAGE",
    "add_date_format",
    "check_writable",
    "environment_parent",
    "folder_path",
    "format_parent",
    "parse_date",
    "print_json",
    "returns_parent",
    "seconds",
    "state_parent",
    "verbose_parent",
]

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# 75 is sysexits' EX_TEMPFAIL: a scheduler retries later; 130 is the shell's code for SIGINT.
EXIT_OK, EXIT_INTERNAL, EXIT_USAGE, EXIT_TEMPFAIL, EXIT_INTERRUPTED = 0, 1, 2, 75, 130


def verbose_parent(*, top_level: bool) -> argparse.ArgumentParser:
    """``-v`` accepted before and after the subcommand (only the top level sets a default)."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=False if top_level else argparse.SUPPRESS,
        help="log debug details (tracebacks of internal errors included)",
    )
    return parent


def state_parent(*, group: bool) -> argparse.ArgumentParser:
    """``--state-dir`` on the command group and again on each of its subcommands."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--state-dir",
        type=folder_path,
        default=Path("state") if group else argparse.SUPPRESS,
        help="state folder (default: state)",
    )
    return parent


def parse_date(text: str, option: str) -> date:
    """A YYYY-MM-DD date given on the command line, or an InputError naming the option."""
    try:
        if not _ISO_DATE.fullmatch(text):  # fromisoformat also takes 20240131, 2024W011
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{option}: {text!r} is not a date like 2024-01-31") from None


def folder_path(text: str) -> Path:
    """An argparse type: a folder path, never empty (an unset variable is not ``.``)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path; name the folder")
    return Path(text)


JSON_SCHEMA_VERSION = 1
# One encoder for every record: json.dumps with an option builds a new one per call.
_ENCODE = json.JSONEncoder(allow_nan=False).encode


def print_json(kind: str, payload: Mapping[str, Any]) -> None:
    """Print one JSON document: ``schema_version`` and ``kind`` first, never NaN.

    The layout is one top-level key per line and one record per line in its lists, so
    the document stays readable and greppable, and the C encoder writes it (an indented
    dump runs the pure-Python one, several times slower on 10,000 records).

    Parameters
    ----------
    kind : str
        What the document holds (``"verdicts"``, ``"registry"``, ...), so a script can
        check it reads what it expects.
    payload : mapping
        The content. A list value may be given as an iterator: its records are encoded
        and written one at a time, so a large list is never held as one string.
    """
    document = {"schema_version": JSON_SCHEMA_VERSION, "kind": kind, **payload}
    write = sys.stdout.write
    write("{")
    for n, (key, value) in enumerate(document.items()):
        write(f"{',' if n else ''}\n {json.dumps(key)}: ")
        if isinstance(value, list | Iterator):
            separator = "["
            for item in value:
                write(f"{separator}\n  {_ENCODE(item)}")
                separator = ","
            write("[]" if separator == "[" else "\n ]")
        else:
            write(_ENCODE(value))
    write("\n}\n")


def seconds(text: str) -> float:
    """An argparse type: a finite number of seconds >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds >= 0")
    return value


def format_parent(human: str = "table") -> argparse.ArgumentParser:
    """``--format table|json``: a person reads the table, a script the JSON.

    Parameters
    ----------
    human : str
        The name of the format for a person, the default (``yaml`` for ``config show``).
    """
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--format",
        choices=(human, "json"),
        default=human,
        help=f"{human} for a person (default), json for a script",
    )
    return parent


def environment_parent() -> argparse.ArgumentParser:
    """``--env``, required by every command that applies a gate set."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--env",
        required=True,
        help="environment name (read from ./configs/NAME.yaml, else from the defaults shipped "
        "with autopilot; see --config-dir) or a YAML file",
    )
    return parent


def add_date_format(group: argparse._ArgumentGroup) -> None:
    """``--date-format``, for every file whose dates are read (never guessed)."""
    group.add_argument(
        "--date-format",
        help="strftime format of dates that are not ISO, e.g. %%d/%%m/%%Y or %%Y%%m%%d",
    )


def returns_parent() -> argparse.ArgumentParser:
    """The candidate returns file and its optional regime labels."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("file", type=Path, help="Parquet or CSV returns, long or wide layout")
    parent.add_argument("--regimes", type=Path, help="Parquet or CSV with date, regime columns")
    reading = parent.add_argument_group("reading the file (nothing is guessed)")
    add_date_format(reading)
    reading.add_argument(
        "--returns-in",
        choices=("decimal", "percent"),
        default="decimal",
        help="unit of the returns (default decimal: 0.012 is 1.2 %%)",
    )
    reading.add_argument(
        "--ignore-columns",
        nargs="+",
        default=[],
        metavar="NAME",
        help="wide-layout columns that are not candidates (a saved index, a volume)",
    )
    return parent


def check_writable(path: Path | None, *inputs: Path | None) -> None:
    """Refuse an output path that cannot or must not be written, before any work is done.

    Parameters
    ----------
    path : Path, optional
        The output file.
    *inputs : Path, optional
        Files the command reads: writing over one of them is refused.
    """
    if path is None:
        return
    if path.is_dir():
        raise InputError(f"{path}: is a folder; give a file name such as {path / 'report.html'}")
    if not path.parent.is_dir():
        raise InputError(f"{path}: the folder {path.parent} does not exist; create it first")
    for source in inputs:
        if source is not None and source.exists() and path.resolve() == source.resolve():
            raise InputError(f"{path}: is the input file; writing there would destroy it")
