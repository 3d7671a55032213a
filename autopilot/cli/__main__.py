"""``python -m autopilot.cli``."""

from __future__ import annotations

from autopilot.cli import console

console()
