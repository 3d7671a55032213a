"""Regime-dependent sizing and risk limits: the :class:`StrategyAllocator` (seed T8).

Each cycle the allocator turns the market's regime label and its confidence into a
:class:`RegimeProfile`, the parameters the strategies' sizing and the portfolio optimiser
read: gross exposure, maximum number of positions, per-position weight cap, turnover limit
and risk aversion. The profiles are the ``allocator:`` section of the environment YAML
(:class:`AllocatorSettings`): a *neutral* profile, the book without a view on the regime,
and one profile per state of the regime model (0 the calmest).

Blending
--------
A regime model is not always sure. With confidence ``c`` and the configured
``confidence_floor`` ``f`` (in ``[0, 1)``), the regime profile's weight is::

    lam = clip((c - f) / (1 - f), 0, 1)

and every field of the blended profile moves from the neutral value toward the regime's:

* a real field is ``(1 - lam) * neutral + lam * regime``, kept between the two values
  (floating-point rounding never leaves their range);
* ``max_positions`` is ``neutral + k``, ``k`` the integer nearest to
  ``lam * (regime - neutral)``, a half rounding toward the neutral value (one step short
  rather than one step past).

Confidence 1 gives the regime's own profile, exactly; a confidence at or below the floor the
neutral one. A bar without a label (:data:`~autopilot.stats.regime_labels.MISSING_REGIME`,
whose confidence is NaN) gives the neutral profile, and the decision says so. A confidence
outside ``[0, 1]`` or not finite, and a label with no configured profile, are refused.

Modes
-----
``off``
    Nothing is computed: the record holds the baseline (neutral) profile.
``shadow``
    The blended profile is computed and recorded every cycle with what it would change,
    but the cycle runs on the baseline: the trades equal a run without the allocator.
``full``
    The cycle runs on the blended profile.

The engine's use, one call per cycle::

    allocator = StrategyAllocator(config.allocator)
    decision = allocator.decide(regime=label, regime_confidence=confidence, as_of=day)
    limits = BookLimits(**decision.effective.to_dict())  # the profile this cycle runs on
    book = optimise_book(wanted, returns, current, limits, ...)
    cycle_record["allocator"] = decision.to_dict()  # plain JSON for the audit record
"""

from __future__ import annotations

import logging
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, ClassVar

from autopilot.errors import ConfigError
from autopilot.sdk.params import ConstrainedSettings, Interval, Param
from autopilot.sdk.verdicts import format_reason
from autopilot.stats.regime_labels import MISSING_REGIME

__all__ = [
    "AllocationDecision",
    "AllocatorMode",
    "AllocatorSettings",
    "RegimeProfile",
    "StrategyAllocator",
    "blend_profiles",
    "confidence_weight",
    "state_label",
]

logger = logging.getLogger(__name__)


class AllocatorMode(StrEnum):
    """Whether the allocator's profile is computed (shadow, full) and applied (full)."""

    OFF = "off"
    SHADOW = "shadow"
    FULL = "full"


_PROFILE_FIELDS: Mapping[str, Param] = MappingProxyType(
    {
        "gross_exposure": Param(
            float,
            default=1.0,
            interval=Interval(0, 1),
            doc="largest sum of weights, a fraction of equity (the paper book does not lever)",
        ),
        "max_positions": Param(
            int, default=20, interval=Interval(1, None), doc="securities held at most"
        ),
        "position_cap": Param(
            float,
            default=0.10,
            interval=Interval(0, 1, closed="right"),
            doc="largest weight of one security, a fraction of equity",
        ),
        "turnover_limit": Param(
            float,
            default=0.50,
            interval=Interval(0, 2),
            doc="turnover per cycle, sum |w - w_now|, a fraction of equity",
        ),
        "risk_aversion": Param(
            float,
            default=1.0,
            interval=Interval(0, None, closed="neither"),
            doc="of the optimiser's utility w' mu - risk_aversion * w' Sigma w",
        ),
    }
)


@dataclass(frozen=True)
class RegimeProfile(ConstrainedSettings):
    """The sizing and risk limits one cycle runs on; every field checked when built.

    Parameters
    ----------
    gross_exposure : float
        Largest sum of weights, a fraction of equity, in ``[0, 1]`` (the paper book does not
        lever): the strategies' book is scaled to fit within it.
    max_positions : int
        Securities held at most, ``>= 1``: new positions only in the securities with the
        largest views.
    position_cap : float
        Largest weight of one security, in ``(0, 1]``.
    turnover_limit : float
        Turnover allowed per cycle, ``sum |w - w_now|`` (each unit of weight bought or sold
        counts once), a fraction of equity, in ``[0, 2]``.
    risk_aversion : float
        Of the optimiser's mean-variance utility ``w' mu - risk_aversion * w' Sigma w``,
        ``> 0``: a higher one holds less of the strategies' book.

    The fields are those of :class:`autopilot.portfolio_construction.BookLimits`, whose
    ranges hold every profile: ``BookLimits(**profile.to_dict())``.

    Raises
    ------
    ConfigError
        E.g. ``The 'position_cap' setting of 'RegimeProfile' must be in (0, 1], was 2.``
    """

    constraints: ClassVar[Mapping[str, Param]] = _PROFILE_FIELDS

    gross_exposure: float = _PROFILE_FIELDS["gross_exposure"].default
    max_positions: int = _PROFILE_FIELDS["max_positions"].default
    position_cap: float = _PROFILE_FIELDS["position_cap"].default
    turnover_limit: float = _PROFILE_FIELDS["turnover_limit"].default
    risk_aversion: float = _PROFILE_FIELDS["risk_aversion"].default

    def __post_init__(self) -> None:
        super().__post_init__()
        # One type per field (1 and 1.0 alike, NumPy scalars as Python's), so equal profiles
        # compare and serialise equal.
        for key, param in self.constraints.items():
            object.__setattr__(self, key, param.convert(getattr(self, key)))

    def changes_from(self, baseline: RegimeProfile) -> dict[str, tuple[Any, Any]]:
        """``{field: (baseline value, this value)}`` for every field that differs."""
        return {
            key: (getattr(baseline, key), getattr(self, key))
            for key in self.constraints
            if getattr(baseline, key) != getattr(self, key)
        }


def state_label(key: Any) -> int | None:
    """The regime state a profile's key names, or None when it names none.

    A state is an integer ``>= 0`` (booleans are not), or its decimal string (``"1"``, as
    JSON writes mapping keys; not ``"01"`` or ``" 1"``).
    """
    if isinstance(key, str):
        canonical = key.isascii() and key.isdigit() and (key == "0" or key[0] != "0")
        return int(key) if canonical else None
    if isinstance(key, numbers.Integral) and not isinstance(key, bool) and int(key) >= 0:
        return int(key)
    return None


@dataclass(frozen=True)
class AllocatorSettings(ConstrainedSettings):
    """The ``allocator:`` section: mode, confidence floor, neutral and per-state profiles.

    Parameters
    ----------
    mode : {"off", "shadow", "full"}
        ``off`` (the default when nothing is configured) computes nothing; ``shadow`` records
        the profile every cycle without applying it; ``full`` applies it.
    confidence_floor : float
        In ``[0, 1)``: at or below it the neutral profile applies, at 1 the regime's own.
    neutral : RegimeProfile
        The book without a view on the regime: the baseline every decision is compared with.
    profiles : mapping of int to RegimeProfile
        One profile per state label of the regime model (0 the calmest); a key may also be
        the label's decimal string (:func:`state_label`).

    Raises
    ------
    ConfigError
        A bad mode or floor, a profile that is not a :class:`RegimeProfile`, or a key that
        is not a state label.
    """

    constraints: ClassVar[Mapping[str, Param]] = MappingProxyType(
        {
            "mode": Param(str, default="off", choices=tuple(m.value for m in AllocatorMode)),
            "confidence_floor": Param(float, default=0.5, interval=Interval(0, 1, closed="left")),
        }
    )

    mode: AllocatorMode = AllocatorMode.OFF
    confidence_floor: float = 0.5
    neutral: RegimeProfile = field(default_factory=RegimeProfile)
    profiles: Mapping[int, RegimeProfile] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "mode", AllocatorMode(self.mode))
        object.__setattr__(self, "confidence_floor", float(self.confidence_floor))
        if not isinstance(self.neutral, RegimeProfile):
            raise ConfigError(
                f"The 'neutral' setting of 'AllocatorSettings' must be a RegimeProfile, was "
                f"{self.neutral!r} ({type(self.neutral).__name__})."
            )
        if not isinstance(self.profiles, Mapping):
            raise ConfigError(
                f"The 'profiles' setting of 'AllocatorSettings' must be a mapping of state "
                f"label to RegimeProfile, was {self.profiles!r} ({type(self.profiles).__name__})."
            )
        profiles: dict[int, RegimeProfile] = {}
        for key, profile in self.profiles.items():
            label = state_label(key)
            if label is None or label in profiles:
                why = "is not a regime state" if label is None else "names a state twice"
                raise ConfigError(
                    f"The 'profiles' setting of 'AllocatorSettings' {why}: key {key!r}. Key "
                    f"each profile by its state, an integer >= 0 (0 the calmest), once."
                )
            if not isinstance(profile, RegimeProfile):
                raise ConfigError(
                    f"The profile of regime {label} in 'AllocatorSettings' must be a "
                    f"RegimeProfile, was {profile!r} ({type(profile).__name__})."
                )
            profiles[label] = profile
        object.__setattr__(self, "profiles", MappingProxyType(dict(sorted(profiles.items()))))

    def to_dict(self) -> dict[str, Any]:
        """The section as plain data (loadable again), profiles keyed by the state's string.

        String keys, as JSON would write them, so the YAML and JSON forms are the same data.
        """
        return {
            "mode": self.mode.value,
            "confidence_floor": self.confidence_floor,
            "neutral": self.neutral.to_dict(),
            "profiles": {str(label): p.to_dict() for label, p in self.profiles.items()},
        }


def confidence_weight(confidence: float, floor: float) -> float:
    """The regime profile's weight: ``clip((confidence - floor) / (1 - floor), 0, 1)``.

    Parameters
    ----------
    confidence : float
        The regime model's confidence in its label, in ``[0, 1]``.
    floor : float
        The confidence at or below which the neutral profile applies, in ``[0, 1)``.

    Returns
    -------
    float
        0 at or below the floor, 1 at confidence 1 (exactly), linear in between.
    """
    return min(1.0, max(0.0, (confidence - floor) / (1.0 - floor)))


def blend_profiles(neutral: RegimeProfile, regime: RegimeProfile, weight: float) -> RegimeProfile:
    """The profile ``weight`` of the way from ``neutral`` to ``regime``.

    Parameters
    ----------
    neutral, regime : RegimeProfile
        The two ends: ``weight`` 0 gives ``neutral``, 1 gives ``regime``.
    weight : float
        In ``[0, 1]``, e.g. :func:`confidence_weight`.

    Returns
    -------
    RegimeProfile
        Real fields ``(1 - weight) * neutral + weight * regime``, kept between the two
        values; integer fields ``neutral + k``, ``k`` the integer nearest to
        ``weight * (regime - neutral)``, a half rounding toward ``neutral``.

    Raises
    ------
    ValueError
        ``weight`` is not in ``[0, 1]``.
    """
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"The blending weight must be in [0, 1], was {weight!r}.")
    blended: dict[str, Any] = {}
    for key, param in RegimeProfile.constraints.items():
        start, end = getattr(neutral, key), getattr(regime, key)
        if param.kind is int:
            step = weight * (end - start)
            # Nearest integer, a half toward neutral: ceil(|step| - 0.5) steps.
            blended[key] = start + int(math.copysign(math.ceil(abs(step) - 0.5), step))
        else:
            value = (1.0 - weight) * start + weight * end
            blended[key] = min(max(value, min(start, end)), max(start, end))
    return RegimeProfile(**blended)


@dataclass(frozen=True)
class AllocationDecision:
    """What the allocator decided for one cycle: an immutable record for the audit trail.

    Parameters
    ----------
    mode : AllocatorMode
        The configured mode.
    regime : int
        The regime label (``MISSING_REGIME``, -1, for none).
    regime_confidence : float or None
        The model's confidence in the label; None when it has none (a missing label).
    weight : float
        The regime profile's weight in the blend (0 without a label, below the floor or off).
    profile : RegimeProfile
        The blended profile (the baseline when ``mode`` is off).
    baseline : RegimeProfile
        The neutral profile: what the cycle runs on without the allocator.
    reason : str
        ``CODE: key=value, ...``: ``REGIME_PROFILE``, ``LOW_CONFIDENCE``, ``MISSING_REGIME``
        or ``ALLOCATOR_OFF``.
    as_of : str or None
        The cycle's as-of date (ISO), when given.
    """

    mode: AllocatorMode
    regime: int
    regime_confidence: float | None
    weight: float
    profile: RegimeProfile
    baseline: RegimeProfile
    reason: str
    as_of: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "mode", AllocatorMode(self.mode))

    @property
    def applied(self) -> bool:
        """True when the cycle runs on :attr:`profile` (``full`` mode)."""
        return self.mode is AllocatorMode.FULL

    @property
    def effective(self) -> RegimeProfile:
        """The profile this cycle's sizing and optimiser use: pass this one on.

        The blended :attr:`profile` in ``full`` mode; the :attr:`baseline` otherwise.
        """
        return self.profile if self.applied else self.baseline

    @property
    def changes(self) -> dict[str, tuple[Any, Any]]:
        """``{field: (baseline, profile)}``: what the profile changes, applied or not."""
        return self.profile.changes_from(self.baseline)

    def to_dict(self) -> dict[str, Any]:
        """The record as plain JSON data (lists, not tuples), for the cycle's audit record."""
        return {
            "as_of": self.as_of,
            "mode": self.mode.value,
            "applied": self.applied,
            "regime": self.regime,
            "regime_confidence": self.regime_confidence,
            "weight": self.weight,
            "reason": self.reason,
            "baseline": self.baseline.to_dict(),
            "profile": self.profile.to_dict(),
            "effective": self.effective.to_dict(),
            "changes": {key: list(pair) for key, pair in self.changes.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AllocationDecision:
        """Rebuild a decision from :meth:`to_dict` output.

        Raises
        ------
        ValueError
            An entry is missing or unknown, or the derived ones (``applied``,
            ``effective``, ``changes``) contradict the others.
        """
        try:
            decision = cls(
                mode=AllocatorMode(data["mode"]),
                regime=data["regime"],
                regime_confidence=data["regime_confidence"],
                weight=data["weight"],
                profile=RegimeProfile(**data["profile"]),
                baseline=RegimeProfile(**data["baseline"]),
                reason=data["reason"],
                as_of=data["as_of"],
            )
        except KeyError as missing:
            raise ValueError(f"An allocation record lacks the entry {missing}.") from None
        rebuilt = decision.to_dict()
        if rebuilt != dict(data):
            unknown = sorted(set(data) - set(rebuilt))
            raise ValueError(
                f"An allocation record holds exactly what to_dict writes: this one has "
                f"unknown entries {unknown}, or applied, effective and changes entries that "
                f"do not follow from its mode, baseline and profile."
            )
        return decision


class StrategyAllocator:
    """Regime profiles for the strategies' sizing and the optimiser's limits (seed T8).

    Parameters
    ----------
    settings : AllocatorSettings, optional
        The environment's ``allocator:`` section (``config.allocator``); by default ``off``.

    Examples
    --------
    >>> neutral = RegimeProfile()
    >>> stressed = RegimeProfile(gross_exposure=0.5, max_positions=10, risk_aversion=5.0)
    >>> allocator = StrategyAllocator(
    ...     AllocatorSettings(mode="full", neutral=neutral, profiles={0: neutral, 1: stressed})
    ... )
    >>> allocator.get_regime_profile(regime=1, regime_confidence=0.75).gross_exposure
    0.75
    """

    def __init__(self, settings: AllocatorSettings | None = None) -> None:
        self.settings = settings if settings is not None else AllocatorSettings()

    @property
    def mode(self) -> AllocatorMode:
        """The configured mode."""
        return self.settings.mode

    @property
    def baseline(self) -> RegimeProfile:
        """The neutral profile: what a cycle runs on unless the allocator is in ``full`` mode."""
        return self.settings.neutral

    def get_regime_profile(self, *, regime: int, regime_confidence: float) -> RegimeProfile:
        """The profile for a regime label and the model's confidence in it, whatever the mode.

        Parameters
        ----------
        regime : int
            A state label of the regime model (0 the calmest), or ``MISSING_REGIME`` (-1).
        regime_confidence : float
            In ``[0, 1]``; NaN is accepted with ``MISSING_REGIME`` only (the regime models'
            convention for a bar without a label).

        Returns
        -------
        RegimeProfile
            The regime's profile blended toward the neutral one (see the module docstring);
            the neutral profile for a missing label.

        Raises
        ------
        TypeError
            The label is not an integer, or the confidence not a real number.
        ValueError
            A label below -1, or a confidence outside ``[0, 1]`` or not finite.
        ConfigError
            No profile is configured for the label.
        """
        label, confidence = _checked_inputs(regime, regime_confidence)
        return self._blend(label, confidence)[0]

    def decide(
        self, *, regime: int, regime_confidence: float, as_of: date | str | None = None
    ) -> AllocationDecision:
        """Decide one cycle's profile, log it as one structured line and return the record.

        Parameters
        ----------
        regime, regime_confidence
            As for :meth:`get_regime_profile`.
        as_of : date or str, optional
            The cycle's as-of date (an ISO string or a date), kept in the record.

        Returns
        -------
        AllocationDecision
            Its :attr:`~AllocationDecision.effective` profile is the one the cycle uses;
            :meth:`~AllocationDecision.to_dict` is the audit record.

        Raises
        ------
        TypeError, ValueError, ConfigError
            As for :meth:`get_regime_profile`; a date that is not ISO (``YYYY-MM-DD``).
        """
        label, confidence = _checked_inputs(regime, regime_confidence)
        if self.mode is AllocatorMode.OFF:
            profile, weight, reason = self.baseline, 0.0, format_reason("ALLOCATOR_OFF")
        else:
            profile, weight, reason = self._blend(label, confidence)
        decision = AllocationDecision(
            mode=self.mode,
            regime=label,
            regime_confidence=confidence,
            weight=weight,
            profile=profile,
            baseline=self.baseline,
            reason=reason,
            as_of=_iso_date(as_of),
        )
        _log(decision)
        return decision

    def _blend(self, label: int, confidence: float | None) -> tuple[RegimeProfile, float, str]:
        """The blended profile, the regime's weight and the reason."""
        if label == MISSING_REGIME:
            return (
                self.baseline,
                0.0,
                format_reason("MISSING_REGIME", regime=label, profile="neutral"),
            )
        target = self.settings.profiles.get(label)
        if target is None:
            configured = ", ".join(map(str, self.settings.profiles)) or "none"
            raise ConfigError(
                f"allocator.profiles: no profile for regime {label} (profiles configured for: "
                f"{configured}). The regime model gives more states than the allocator knows: "
                f"add allocator.profiles.{label}, or set allocator.mode: off."
            )
        assert confidence is not None  # _checked_inputs: a labelled bar has a confidence
        floor = self.settings.confidence_floor
        weight = confidence_weight(confidence, floor)
        if weight == 0.0:
            reason = format_reason(
                "LOW_CONFIDENCE", regime=label, confidence=confidence, floor=floor
            )
        else:
            reason = format_reason(
                "REGIME_PROFILE", regime=label, confidence=confidence, weight=weight
            )
        return blend_profiles(self.baseline, target, weight), weight, reason


def _checked_inputs(regime: Any, confidence: Any) -> tuple[int, float | None]:
    """The label as an int and the confidence as a float (None for a missing label's NaN)."""
    if not isinstance(regime, numbers.Integral) or isinstance(regime, bool):
        raise TypeError(
            f"The regime label must be an integer, was {regime!r} ({type(regime).__name__})."
        )
    label = int(regime)
    if label < MISSING_REGIME:
        raise ValueError(
            f"The regime label must be a state (>= 0, 0 the calmest) or MISSING_REGIME "
            f"({MISSING_REGIME}), was {label}."
        )
    if not isinstance(confidence, numbers.Real) or isinstance(confidence, bool):
        raise TypeError(
            f"The regime confidence must be a number, was {confidence!r} "
            f"({type(confidence).__name__})."
        )
    value = float(confidence)
    if label == MISSING_REGIME and math.isnan(value):
        return label, None
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise ValueError(
            f"The regime confidence must be a finite number in [0, 1], was {value!r} "
            f"(regime {label})."
        )
    return label, value


def _iso_date(as_of: date | str | None) -> str | None:
    if as_of is None:
        return None
    if isinstance(as_of, datetime):  # a cycle is a date: a timestamp names its day
        return as_of.date().isoformat()
    if isinstance(as_of, date):
        return as_of.isoformat()
    if isinstance(as_of, str):
        try:
            return date.fromisoformat(as_of).isoformat()
        except ValueError:
            pass
    raise ValueError(f"The as-of date must be a date or an ISO date (YYYY-MM-DD), was {as_of!r}.")


def _log(decision: AllocationDecision) -> None:
    """One line per cycle; its structured fields are the record itself."""
    changes = ", ".join(
        f"{key} {old:.6g} -> {new:.6g}" for key, (old, new) in decision.changes.items()
    )
    logger.log(
        logging.DEBUG if decision.mode is AllocatorMode.OFF else logging.INFO,
        "allocator %s on %s (%s): %s; %s",
        decision.mode.value,
        decision.as_of or "an undated cycle",
        "applied" if decision.applied else "not applied",
        decision.reason,
        changes or "no change from the neutral profile",
        extra={"event": "allocator_decision", **decision.to_dict()},
    )
