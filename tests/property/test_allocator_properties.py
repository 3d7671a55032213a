"""Regime profiles: every blend a valid profile between its ends, every profile valid book limits."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from autopilot.portfolio_construction import BookLimits
from autopilot.strategy_allocator import RegimeProfile, blend_profiles, confidence_weight
from tests.strategies import regime_profiles

SETTINGS = settings(derandomize=True, deadline=None, max_examples=300)
WEIGHTS = st.floats(0.0, 1.0, allow_nan=False)


@SETTINGS
@given(neutral=regime_profiles(), regime=regime_profiles(), weight=WEIGHTS)
def test_a_blend_lies_between_its_ends_and_is_a_valid_profile(neutral, regime, weight):
    start, end = RegimeProfile(**neutral), RegimeProfile(**regime)
    blended = blend_profiles(start, end, weight)  # building it checks every declared range
    for key in RegimeProfile.constraints:
        low, high = sorted((getattr(start, key), getattr(end, key)))
        assert low <= getattr(blended, key) <= high
    exact = weight * (end.max_positions - start.max_positions)
    assert abs((blended.max_positions - start.max_positions) - exact) <= 0.5


@SETTINGS
@given(neutral=regime_profiles(), regime=regime_profiles())
def test_the_ends_are_given_exactly(neutral, regime):
    start, end = RegimeProfile(**neutral), RegimeProfile(**regime)
    assert blend_profiles(start, end, 0.0) == start
    assert blend_profiles(start, end, 1.0) == end


@SETTINGS
@given(
    floor=st.floats(0.0, 1.0, exclude_max=True),
    low=st.floats(0.0, 1.0),
    high=st.floats(0.0, 1.0),
)
def test_the_confidence_weight_is_a_clipped_nondecreasing_ramp(floor, low, high):
    low, high = sorted((low, high))
    assert 0.0 <= confidence_weight(low, floor) <= confidence_weight(high, floor) <= 1.0
    assert confidence_weight(1.0, floor) == 1.0
    assert confidence_weight(floor, floor) == 0.0


@SETTINGS
@given(fields=regime_profiles())
def test_every_profile_is_a_set_of_limits_the_book_optimiser_takes(fields):
    profile = RegimeProfile(**fields)
    limits = BookLimits(**profile.to_dict())  # the engine's one line from profile to limits
    assert {key: getattr(limits, key) for key in fields} == profile.to_dict()
