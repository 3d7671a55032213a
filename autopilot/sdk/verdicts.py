"""Outcomes, verdicts and decisions: the frozen records the gate engine produces.

:class:`Outcome` is an :class:`~enum.IntEnum`: its members are the integer codes gates put in
their vectorised result arrays (``np.full(n, Outcome.PASS, dtype=np.int8)``), and records
serialise them by name (``"PASS"``), so JSON output never shows the codes.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Any

__all__ = ["Decision", "Mode", "Outcome", "Verdict", "format_reason", "is_promotable"]


class Outcome(IntEnum):
    """What one gate concluded about one candidate, and its code in result arrays.

    A gate returns one code per candidate as an integer array (any integer dtype; int8 is
    enough). Anything else (booleans, floats, NaN, codes outside 0..3) is a contract
    violation and gives ERROR for every candidate of that gate. Text output uses the
    member's ``name``; ``str(Outcome.PASS)`` is ``"0"``, as for every IntEnum.
    """

    PASS = 0
    FAIL = 1
    INSUFFICIENT_DATA = 2
    ERROR = 3

    @classmethod
    def from_name(cls, name: object) -> Outcome:
        """Return the outcome called ``name`` (``"PASS"``, ...), as JSON output spells it.

        Raises
        ------
        ValueError
            ``name`` is not the name of an outcome.
        """
        if not isinstance(name, str) or name not in cls.__members__:
            names = ", ".join(cls.__members__)
            raise ValueError(f"unknown outcome {name!r}; expected one of {names}")
        return cls[name]

    @classmethod
    def parse(cls, value: object) -> Outcome:
        """Return the outcome for a member, an integer code or a name.

        Raises
        ------
        ValueError
            ``value`` is a bool, an unknown name or code, or of another type.
        """
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            return cls.from_name(value)
        # bool is an int subclass: True must not read as FAIL (numpy's bool_ is no Integral).
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise ValueError(f"an outcome is a name or an integer code, not {value!r}")
        return cls(int(value))


class Mode(StrEnum):
    """Whether a gate's verdict can block promotion (enforce) or is only reported (shadow)."""

    ENFORCE = "enforce"
    SHADOW = "shadow"


def format_reason(code: str, **details: Any) -> str:
    """Format a reason as ``CODE: key=value, ...``.

    Floats are shown with up to 6 significant digits so that the text is stable and short.

    Examples
    --------
    >>> format_reason("BELOW_MIN", value=0.41234567, min=0.5)
    'BELOW_MIN: value=0.412346, min=0.5'
    """
    if not details:
        return code
    parts = [f"{key}={_format_detail(value)}" for key, value in details.items()]
    return f"{code}: {', '.join(parts)}"


def _format_detail(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _finite_or_none(value: float | None) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


@dataclass(frozen=True, slots=True)
class Verdict:
    """One gate's verdict on one candidate.

    Parameters
    ----------
    gate : str
        Name of the gate.
    outcome : Outcome
        PASS, FAIL, INSUFFICIENT_DATA or ERROR.
    value : float or None
        The measured value (None when it could not be computed).
    threshold : float or None
        The threshold the value was compared with (None for gates without one).
    mode : Mode
        ``enforce`` verdicts can block promotion, ``shadow`` verdicts are reported only.
    reason : str
        ``CODE: key=value, ...``.
    """

    gate: str
    outcome: Outcome
    value: float | None
    threshold: float | None
    mode: Mode
    reason: str

    def __post_init__(self) -> None:
        # Non-finite numbers are not JSON; they become None so records always serialise.
        if type(self.outcome) is not Outcome:  # the host passes members: skip the parse
            object.__setattr__(self, "outcome", Outcome.parse(self.outcome))
        if type(self.mode) is not Mode:
            object.__setattr__(self, "mode", Mode(self.mode))
        object.__setattr__(self, "value", _finite_or_none(self.value))
        object.__setattr__(self, "threshold", _finite_or_none(self.threshold))

    @property
    def blocks(self) -> bool:
        """True when this verdict prevents promotion (enforced and not PASS)."""
        return self.mode is Mode.ENFORCE and self.outcome is not Outcome.PASS

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict."""
        return {
            "gate": self.gate,
            "outcome": self.outcome.name,
            "value": self.value,
            "threshold": self.threshold,
            "mode": self.mode.value,
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Verdict:
        """Rebuild a verdict from :meth:`to_dict` output."""
        return cls(
            gate=data["gate"],
            outcome=Outcome.from_name(data["outcome"]),
            value=data["value"],
            threshold=data["threshold"],
            mode=Mode(data["mode"]),
            reason=data["reason"],
        )


def is_promotable(modes: Sequence[Mode], outcomes: Sequence[Any]) -> Any:
    """The promotion rule: at least one gate is enforced and every enforced gate said PASS.

    ``outcomes[k]`` is gate ``k``'s outcome for one candidate, or an array of outcome codes
    for a whole batch (the result is then a boolean array): one rule for both.
    """
    enforced = [o for m, o in zip(modes, outcomes, strict=True) if Mode(m) is Mode.ENFORCE]
    result: Any = bool(enforced)
    for outcome in enforced:
        result = result & (outcome == Outcome.PASS)
    return result


@dataclass(frozen=True, slots=True)
class Decision:
    """Every gate's verdict on one candidate; promotable only if no enforced gate objects."""

    strategy_id: str
    verdicts: tuple[Verdict, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "verdicts", tuple(self.verdicts))

    @property
    def promotable(self) -> bool:
        """True when at least one gate is enforced and every enforced gate said PASS."""
        return bool(
            is_promotable([v.mode for v in self.verdicts], [v.outcome for v in self.verdicts])
        )

    @property
    def blocking_reasons(self) -> tuple[str, ...]:
        """The reasons of the verdicts that block promotion, prefixed by gate name."""
        return tuple(f"{v.gate}: {v.reason}" for v in self.verdicts if v.blocks)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict."""
        return {
            "strategy_id": self.strategy_id,
            "promotable": self.promotable,
            "gates": [v.to_dict() for v in self.verdicts],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Decision:
        """Rebuild a decision from :meth:`to_dict` output."""
        return cls(data["strategy_id"], tuple(Verdict.from_dict(v) for v in data["gates"]))
