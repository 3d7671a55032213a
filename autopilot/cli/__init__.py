"""The ``autopilot`` command line, one module per command group.

``autopilot.cli:main`` is the console script; ``python -m autopilot.cli`` runs it too.
"""

from __future__ import annotations

from autopilot.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
