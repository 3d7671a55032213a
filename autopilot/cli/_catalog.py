"""What ``gates list`` and ``candidates families`` share: a listing of plugin classes.

Each entry is a gate or a strategy family with its status, the plugin that offers it and its
declared parameters; the plugins installed but not allowed follow, each with how to allow
it. Both commands print the same shapes, as a table or as JSON.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from autopilot.cli._common import format_parent, print_json, verbose_parent

if TYPE_CHECKING:
    from autopilot.sdk.plugins import FamilyInfo, GateInfo, InstalledPlugin

__all__ = ["CatalogEntry", "add_listing", "print_catalog"]


def add_listing(
    commands: argparse._SubParsersAction,
    name: str,
    what: str,
    handler: Callable[[argparse.Namespace], int],
) -> None:
    """Add a listing subcommand ``name`` with ``--env`` and ``--format``.

    Parameters
    ----------
    commands : argparse subparsers
        The command group's subcommands.
    name : str
        The subcommand (``list``).
    what : str
        What it lists, for the help (``"every gate"``).
    handler : callable
        The function that prints it.
    """
    listing = commands.add_parser(
        name,
        parents=[verbose_parent(top_level=False), format_parent()],
        help=f"{what}, its plugin and version, parameters, status",
    )
    listing.add_argument(
        "--env", help="environment whose configuration and plugin allow-list to use"
    )
    listing.set_defaults(handler=handler)


@dataclass(frozen=True)
class CatalogEntry:
    """One gate or family of a listing.

    Attributes
    ----------
    info : GateInfo or FamilyInfo
        The registered class (its name, description and parameters) and its plugin.
    status : str
        Its status in the environment (``available`` without one).
    fields : mapping
        Further keys of its JSON record, after ``status`` (a gate's ``mode``).
    detail : str
        Text after the status in the table (``", enforce"``).
    per_parameter : mapping
        Parameter -> further keys of that parameter's JSON record (its value here).
    shown : mapping of str to str
        Parameter -> the table text before its rule (``"0.8 here; "``).
    """

    info: GateInfo | FamilyInfo
    status: str
    fields: Mapping[str, Any] = field(default_factory=dict)
    detail: str = ""
    per_parameter: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    shown: Mapping[str, str] = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        """The JSON record."""
        plugin = self.info.plugin
        return {
            "name": self.info.name,
            "status": self.status,
            **self.fields,
            "plugin": plugin.name,
            "distribution": plugin.distribution,
            "version": plugin.version,
            "description": self.info.cls.description,
            "parameters": {
                key: {"rule": param.describe(), "doc": param.doc, **self.per_parameter.get(key, {})}
                for key, param in self.info.cls.parameters.items()
            },
        }

    def lines(self) -> list[str]:
        """The table lines: a header, the description, one line per parameter."""
        plugin, cls = self.info.plugin, self.info.cls
        origin = f"{plugin.name} ({plugin.distribution} {plugin.version})"
        lines = [f"{self.info.name}  [{self.status}{self.detail}]  plugin {origin}"]
        if cls.description:
            lines.append(f"    {cls.description}")
        for key, param in cls.parameters.items():
            doc = f"  - {param.doc}" if param.doc else ""
            lines.append(f"    {key}: {self.shown.get(key, '')}{param.describe()}{doc}")
        return lines


def print_catalog(
    output: str,
    kind: str,
    entries_key: str,
    env: str | None,
    entries: Sequence[CatalogEntry],
    not_enabled: Sequence[InstalledPlugin],
) -> None:
    """Print a listing as a table or (``output == "json"``) as a JSON document.

    Parameters
    ----------
    output : {"table", "json"}
        The ``--format``.
    kind : str
        The JSON document's kind (``gate_catalog``).
    entries_key : str
        The key of the entries' list (``gates``).
    env : str, optional
        The environment named with ``--env``.
    entries : sequence of CatalogEntry
        What the listing holds.
    not_enabled : sequence of InstalledPlugin
        Plugins installed but not allowed.
    """
    if output == "json":
        skipped = [
            {"name": p.name, "distribution": p.distribution, "version": p.version}
            for p in not_enabled
        ]
        document = {
            "environment": env,
            entries_key: [entry.record() for entry in entries],
            "installed_not_enabled": skipped,
        }
        print_json(kind, document)
        return
    lines = [line for entry in entries for line in entry.lines()]
    lines += [
        f"{p.name}  [installed, not enabled]  plugin {p.name} ({p.distribution} {p.version}); "
        f"add `{p.name}` to `plugins:` to load it"
        for p in not_enabled
    ]
    print("\n".join(lines))
