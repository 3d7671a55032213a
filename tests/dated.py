"""A registry for tests whose cycles are consecutive days unless a date is given."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from autopilot.registry import CycleReport, StrategyRegistry
from autopilot.sdk.verdicts import Decision

FIRST_AS_OF = date(2024, 1, 1)


def next_as_of(registry: StrategyRegistry) -> date:
    """The day after the registry's last committed cycle (``FIRST_AS_OF`` for a new one)."""
    if not registry.folder.holds_state():
        return FIRST_AS_OF
    last = registry.snapshot()[1]
    return FIRST_AS_OF if last.as_of is None else date.fromisoformat(last.as_of) + timedelta(1)


class DatedRegistry(StrategyRegistry):
    """Creates its folder; each update without ``as_of`` is the next day's cycle."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("create", True)
        super().__init__(*args, **kwargs)

    def update(self, decisions: Sequence[Decision], **kwargs: Any) -> CycleReport:
        if "as_of" not in kwargs:
            kwargs["as_of"] = next_as_of(self)
        return super().update(decisions, **kwargs)
