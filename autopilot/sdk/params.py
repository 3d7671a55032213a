"""Gate parameter constraints declared as data, and their validation.

A gate declares ``parameters = {"max": Param(float, default=0.2, interval=Interval(0, 1))}``;
:func:`validate_params` refuses unknown keys, missing required values, wrong types and
out-of-range values with a message in scikit-learn's style::

    The 'max' parameter of gate 'max_drawdown' must be in [0, 1], was 1.5.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from autopilot.errors import GateParameterError

__all__ = ["Interval", "Param", "validate_params"]

_REQUIRED = object()


@dataclass(frozen=True, slots=True)
class Interval:
    """A real interval; ``None`` bounds are unbounded, ``closed`` says which ends are included."""

    low: float | None = None
    high: float | None = None
    closed: str = "both"  # "both", "left", "right" or "neither"

    def __contains__(self, value: float) -> bool:
        left_closed = self.closed in ("both", "left")
        right_closed = self.closed in ("both", "right")
        if self.low is not None and (value < self.low or (value == self.low and not left_closed)):
            return False
        return not (
            self.high is not None
            and (value > self.high or (value == self.high and not right_closed))
        )

    def __str__(self) -> str:
        left = "[" if self.closed in ("both", "left") and self.low is not None else "("
        right = "]" if self.closed in ("both", "right") and self.high is not None else ")"
        low = "-inf" if self.low is None else f"{self.low:g}"
        high = "inf" if self.high is None else f"{self.high:g}"
        return f"{left}{low}, {high}{right}"


@dataclass(frozen=True, slots=True)
class Param:
    """Declaration of one gate parameter.

    Parameters
    ----------
    kind : type
        ``float``, ``int``, ``bool`` or ``str``. Integers are accepted for floats.
    default : object, optional
        Default value; omit for a required parameter. ``None`` means "not set".
    interval : Interval, optional
        Allowed range for numbers.
    choices : tuple, optional
        Allowed values for strings.
    doc : str
        One line shown by ``autopilot gates list``.
    """

    kind: type
    default: Any = _REQUIRED
    interval: Interval | None = None
    choices: tuple[Any, ...] | None = None
    doc: str = ""

    @property
    def required(self) -> bool:
        """True when the parameter has no default."""
        return self.default is _REQUIRED

    def check(self, gate: str, key: str, value: Any) -> Any:
        """Return ``value`` converted to the declared kind, or raise GateParameterError."""
        if value is None and self.default is None:
            return None
        prefix = f"The '{key}' parameter of gate '{gate}'"
        if self.kind is float:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise GateParameterError(
                    f"{prefix} must be a number, was {value!r} ({type(value).__name__})."
                )
            value = float(value)
            if not math.isfinite(value):
                raise GateParameterError(f"{prefix} must be a finite number, was {value!r}.")
        elif self.kind is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise GateParameterError(
                    f"{prefix} must be an integer, was {value!r} ({type(value).__name__})."
                )
        elif not isinstance(value, self.kind):
            raise GateParameterError(
                f"{prefix} must be of type {self.kind.__name__}, was {value!r} "
                f"({type(value).__name__})."
            )
        if self.interval is not None and value not in self.interval:
            raise GateParameterError(f"{prefix} must be in {self.interval}, was {value!r}.")
        if self.choices is not None and value not in self.choices:
            options = ", ".join(repr(c) for c in self.choices)
            raise GateParameterError(f"{prefix} must be one of {options}, was {value!r}.")
        return value

    def describe(self) -> str:
        """Describe type, default and constraint for listings."""
        text = self.kind.__name__
        if self.interval is not None:
            text += f" in {self.interval}"
        if self.choices is not None:
            text += " one of " + "|".join(str(c) for c in self.choices)
        text += ", required" if self.required else f", default {self.default!r}"
        return text


def validate_params(
    gate: str, declared: Mapping[str, Param], given: Mapping[str, Any]
) -> Mapping[str, Any]:
    """Validate ``given`` against ``declared`` and fill in defaults.

    Returns
    -------
    Mapping[str, Any]
        A read-only mapping with every declared parameter.

    Raises
    ------
    GateParameterError
        On an unknown key, a missing required key, a wrong type or an out-of-range value.
    """
    unknown = sorted(set(given) - set(declared))
    if unknown:
        known = ", ".join(sorted(declared)) or "none"
        raise GateParameterError(
            f"Gate '{gate}' has no parameter {', '.join(repr(k) for k in unknown)}; "
            f"its parameters are: {known}."
        )
    resolved: dict[str, Any] = {}
    for key, param in declared.items():
        if key in given:
            resolved[key] = param.check(gate, key, given[key])
        elif param.required:
            raise GateParameterError(
                f"The '{key}' parameter of gate '{gate}' is required ({param.describe()})."
            )
        else:
            resolved[key] = param.default
    return MappingProxyType(resolved)
