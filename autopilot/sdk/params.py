"""Constraints declared as data, and their validation, for gate parameters and settings.

A gate declares ``parameters = {"max": Param(float, default=0.2, interval=Interval(0, 1))}``;
:func:`validate_params` refuses unknown keys, missing required values, wrong types and
out-of-range values with a message in scikit-learn's style::

    The 'max' parameter of gate 'max_drawdown' must be in [0, 1], was 1.5.

Settings objects (the paper trader's, the cost model's, the registry's, the cost
calibrator's) declare their fields the same way, in a ``constraints`` mapping, and check
them when they are built (:class:`ConstrainedSettings`, :func:`validate_fields`)::

    The 'min_trade_notional' setting of 'TraderSettings' must be in [0, inf), was -5.

Both messages end with the rule text of :meth:`Param.violation`, which input readers reuse
for values read from files. Booleans are never numbers here.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar

from autopilot.errors import AutopilotError, ConfigError, GateParameterError

__all__ = ["ConstrainedSettings", "Interval", "Param", "validate_fields", "validate_params"]

_REQUIRED = object()
_CLOSED = ("both", "left", "right", "neither")


def _is_real(value: Any) -> bool:
    """A real number that is not a boolean (NumPy scalars included, ``numpy.bool_`` not)."""
    kind = type(value)
    if kind is float or kind is int:  # the common case, without the ABC machinery
        return True
    return isinstance(value, numbers.Real) and kind is not bool


def _is_integer(value: Any) -> bool:
    kind = type(value)
    if kind is int:
        return True
    return isinstance(value, numbers.Integral) and kind is not bool


def _shown(value: Any) -> str:
    """``repr`` of a value for a message, NumPy scalars shown as the Python number."""
    if isinstance(value, bool) or type(value) in (int, float):
        return repr(value)
    if isinstance(value, numbers.Integral):
        return repr(int(value))
    if isinstance(value, numbers.Real):
        return repr(float(value))
    return repr(value)


@dataclass(frozen=True, slots=True)
class Interval:
    """A real interval; ``None`` bounds are unbounded, ``closed`` says which ends are included.

    Parameters
    ----------
    low, high : float or None
        Finite bounds with ``low <= high``; ``None`` leaves that side unbounded.
    closed : {"both", "left", "right", "neither"}
        Which finite ends belong to the interval.

    Raises
    ------
    TypeError
        A bound is not a real number (booleans included).
    ValueError
        ``closed`` is not one of its four values, a bound is not finite, ``low > high``, or
        the interval is empty (``low == high`` with an open end).
    """

    low: float | None = None
    high: float | None = None
    closed: str = "both"

    def __post_init__(self) -> None:
        if not isinstance(self.closed, str) or self.closed not in _CLOSED:
            raise ValueError(
                f"Interval closed must be one of {', '.join(map(repr, _CLOSED))}, "
                f"was {self.closed!r}."
            )
        for name, bound in (("low", self.low), ("high", self.high)):
            if bound is None:
                continue
            if not _is_real(bound):
                raise TypeError(
                    f"Interval {name} must be a real number or None (unbounded), was "
                    f"{bound!r} ({type(bound).__name__})."
                )
            if not (_is_integer(bound) or math.isfinite(bound)):
                raise ValueError(
                    f"Interval {name} must be finite (None leaves a side unbounded), was {bound!r}."
                )
        if self.low is not None and self.high is not None:
            if self.low > self.high:
                raise ValueError(
                    f"Interval low must be <= high, was low={self.low!r}, high={self.high!r}."
                )
            if self.low == self.high and self.closed != "both":
                raise ValueError(
                    f"Interval({self.low!r}, {self.high!r}, closed={self.closed!r}) is empty; "
                    f"use closed='both' for a single value."
                )

    def __contains__(self, value: float) -> bool:
        if value != value:  # NaN is in no interval
            return False
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
        return f"{left}{_bound(self.low, '-inf')}, {_bound(self.high, 'inf')}{right}"


def _bound(value: float | None, unbounded: str) -> str:
    """An interval bound for a message: integers exactly (2**32 - 1, not 4.29497e+09)."""
    if value is None:
        return unbounded
    return str(int(value)) if _is_integer(value) else f"{value:g}"


@dataclass(frozen=True, slots=True)
class Param:
    """Declaration of one gate parameter or settings field.

    Parameters
    ----------
    kind : type
        ``float``, ``int``, ``bool`` or ``str``. Integers are accepted for floats; booleans
        are never numbers.
    default : object, optional
        Default value; omit for a required parameter. ``None`` means "not set", and makes
        ``None`` an accepted value.
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

    def violation(self, value: Any) -> str | None:
        """The rule ``value`` breaks, e.g. ``"must be in [0, 1], was 1.5"``; None if it fits.

        Every message about a declared value (gate parameter, setting, input cell) is a
        subject followed by this text, so they all read the same.
        """
        if value is None and self.default is None:
            return None
        if self.kind is float:
            if not _is_real(value):
                return f"must be a number, was {_shown(value)} ({type(value).__name__})"
            if not (_is_integer(value) or math.isfinite(value)):
                return f"must be a finite number, was {_shown(value)}"
        elif self.kind is int:
            if not _is_integer(value):
                return f"must be an integer, was {_shown(value)} ({type(value).__name__})"
        elif not isinstance(value, self.kind):
            return (
                f"must be of type {self.kind.__name__}, was {_shown(value)} "
                f"({type(value).__name__})"
            )
        if self.interval is not None and value not in self.interval:
            return f"must be in {self.interval}, was {_shown(value)}"
        if self.choices is not None and value not in self.choices:
            options = ", ".join(repr(c) for c in self.choices)
            return f"must be one of {options}, was {_shown(value)}"
        return None

    def convert(self, value: Any) -> Any:
        """``value`` (already checked) as the declared kind: NumPy scalars become Python's."""
        if value is None:
            return None
        if self.kind is float:
            return float(value)
        if self.kind is int:
            return int(value)
        return value

    def check(self, gate: str, key: str, value: Any, *, owner: str = "gate") -> Any:
        """Return ``value`` converted to the declared kind, or raise GateParameterError.

        ``owner`` names what declares the parameter in the message (``gate``, ``family``).
        """
        problem = self.violation(value)
        if problem is not None:
            raise GateParameterError(
                f"The '{key}' parameter of {owner} '{gate}' {problem}.", key=key
            )
        return self.convert(value)

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
    gate: str, declared: Mapping[str, Param], given: Mapping[str, Any], *, owner: str = "gate"
) -> Mapping[str, Any]:
    """Validate ``given`` against ``declared`` and fill in defaults.

    The same constraints serve gates and strategy families; ``owner`` (``"gate"`` or
    ``"family"``) names which in the messages.

    Returns
    -------
    Mapping[str, Any]
        A read-only mapping with every declared parameter.

    Raises
    ------
    GateParameterError
        On an unknown key, a missing required key, a wrong type or an out-of-range value;
        its ``key`` names the parameter at fault.
    """
    unknown = sorted(set(given) - set(declared))
    if unknown:
        known = ", ".join(sorted(declared)) or "none"
        raise GateParameterError(
            f"{owner.capitalize()} '{gate}' has no parameter "
            f"{', '.join(repr(k) for k in unknown)}; "
            f"its parameters are: {known}.",
            key=unknown[0],
        )
    resolved: dict[str, Any] = {}
    for key, param in declared.items():
        if key in given:
            resolved[key] = param.check(gate, key, given[key], owner=owner)
        elif param.required:
            raise GateParameterError(
                f"The '{key}' parameter of {owner} '{gate}' is required ({param.describe()}).",
                key=key,
            )
        else:
            resolved[key] = param.default
    return MappingProxyType(resolved)


def validate_fields(
    owner: str,
    declared: Mapping[str, Param],
    values: Mapping[str, Any],
    error: type[AutopilotError] = ConfigError,
) -> None:
    """Check the fields of a settings object against their declared constraints.

    Parameters
    ----------
    owner : str
        The settings class, as named in the message (``'TraderSettings'``).
    declared : mapping of str to Param
        The constraint of every checked field.
    values : mapping
        The value of every declared field.
    error : type
        Raised on the first bad field; a :class:`ConfigError` by default (also a
        ``ValueError``), so the command line reports it as a configuration problem.

    Raises
    ------
    ConfigError
        ``The '<field>' setting of '<owner>' must be in [0, inf), was -5.``
    """
    for key, param in declared.items():
        problem = param.violation(values[key])
        if problem is not None:
            raise error(f"The '{key}' setting of '{owner}' {problem}.")


class ConstrainedSettings:
    """Mixin of settings dataclasses whose fields are declared in ``constraints``.

    ``__post_init__`` checks every declared field with :func:`validate_fields`, so a settings
    object with a bad value cannot exist, whether it was built from YAML or in code.
    Dataclasses that need their own ``__post_init__`` call ``super().__post_init__()``.
    """

    constraints: ClassVar[Mapping[str, Param]] = MappingProxyType({})

    def __post_init__(self) -> None:
        validate_fields(
            type(self).__name__,
            self.constraints,
            {key: getattr(self, key) for key in self.constraints},
        )

    def to_dict(self) -> dict[str, Any]:
        """The declared settings as plain data, in declaration order."""
        return {key: getattr(self, key) for key in self.constraints}
