"""StrategyAllocator (T8): the allocator: section, blending toward neutral, shadow and full."""

from __future__ import annotations

import json
import logging
import math
import re
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pytest

from autopilot.config import config_from_dict, dump_config, load_config
from autopilot.errors import ConfigError
from autopilot.stats.metrics import MISSING_REGIME
from autopilot.strategy_allocator import (
    AllocationDecision,
    AllocatorMode,
    AllocatorSettings,
    RegimeProfile,
    StrategyAllocator,
    blend_profiles,
    confidence_weight,
)

GATES = "periods_per_year: 252\ngates: {sharpe: {}}\n"
NEUTRAL = RegimeProfile(
    gross_exposure=1.0, max_positions=20, position_cap=0.10, turnover_limit=0.30, risk_aversion=2.0
)
ALLOCATOR = """\
allocator:
  mode: {mode}
  confidence_floor: 0.5
  neutral: {{gross_exposure: 1.0, max_positions: 20, position_cap: 0.10,
            turnover_limit: 0.30, risk_aversion: 2.0}}
  profiles:
    0: {{position_cap: 0.12, turnover_limit: 0.40, risk_aversion: 1.0}}
    1: {{gross_exposure: 0.5, max_positions: 11, position_cap: 0.08, turnover_limit: 0.15,
        risk_aversion: 5.0}}
"""
CALM = RegimeProfile(1.0, 20, 0.12, 0.40, 1.0)
TURBULENT = RegimeProfile(0.5, 11, 0.08, 0.15, 5.0)


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def allocator(tmp_path: Path, mode: str = "full") -> StrategyAllocator:
    path = write(tmp_path, "env.yaml", GATES + ALLOCATOR.format(mode=mode))
    return StrategyAllocator(load_config(path).allocator)


# --- the allocator: section ---------------------------------------------------------------


def test_the_section_is_read_profiles_taking_omitted_fields_from_neutral(tmp_path):
    settings = allocator(tmp_path).settings
    assert settings.mode is AllocatorMode.FULL
    assert settings.confidence_floor == 0.5
    assert settings.neutral == NEUTRAL
    assert dict(settings.profiles) == {0: CALM, 1: TURBULENT}


def test_without_a_section_the_allocator_is_off_and_needs_no_profiles(tmp_path):
    config = load_config(write(tmp_path, "env.yaml", GATES))
    assert config.allocator == AllocatorSettings()
    assert config.allocator.mode is AllocatorMode.OFF
    assert dict(config.allocator.profiles) == {}


@pytest.mark.parametrize("spelling", ["off", "'off'", "false", "no"])
def test_mode_off_unquoted_is_off_though_yaml_reads_it_as_false(tmp_path, spelling):
    path = write(tmp_path, "env.yaml", GATES + f"allocator: {{mode: {spelling}}}\n")
    assert load_config(path).allocator.mode is AllocatorMode.OFF


def test_an_extending_file_merges_profiles_field_by_field(tmp_path):
    write(tmp_path, "base.yaml", GATES + ALLOCATOR.format(mode="shadow"))
    env = write(
        tmp_path,
        "prod.yaml",
        "extends: base.yaml\n"
        "allocator: {mode: full, neutral: {turnover_limit: 0.2}, profiles: {1: {gross_exposure: 0.4}}}\n",
    )
    settings = load_config(env).allocator
    assert settings.mode is AllocatorMode.FULL
    assert settings.neutral.turnover_limit == 0.2
    # Profile 0 states its own turnover limit; profile 1 keeps the base's other fields.
    assert settings.profiles[0] == CALM
    assert settings.profiles[1] == RegimeProfile(0.4, 11, 0.08, 0.15, 5.0)


def test_a_field_no_file_states_for_a_profile_is_the_merged_neutral_one(tmp_path):
    write(tmp_path, "base.yaml", GATES + "allocator: {mode: full, profiles: {0: {}, 1: {}}}\n")
    env = write(
        tmp_path, "prod.yaml", "extends: base.yaml\nallocator: {neutral: {max_positions: 8}}\n"
    )
    settings = load_config(env).allocator
    assert settings.profiles[0] == settings.profiles[1] == RegimeProfile(max_positions=8)


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_the_shipped_environments_run_the_allocator_in_shadow(config_dir, env):
    config = load_config(env, config_dir)
    settings = config.allocator
    assert settings.mode is AllocatorMode.SHADOW
    assert set(settings.profiles) == set(range(config.regimes.states)) == {0, 1}
    calm, turbulent = settings.profiles[0], settings.profiles[1]
    assert turbulent.gross_exposure < calm.gross_exposure
    assert turbulent.max_positions < calm.max_positions
    assert turbulent.position_cap < calm.position_cap
    assert turbulent.turnover_limit < calm.turnover_limit
    assert turbulent.risk_aversion > calm.risk_aversion


def test_dump_and_reload_keep_the_section_in_yaml_and_json(tmp_path, config_dir):
    config = load_config("prod", config_dir)
    reloaded = load_config(write(tmp_path, "prod.yaml", dump_config(config)))
    assert reloaded.allocator == config.allocator
    as_json = json.loads(json.dumps(config.to_dict()))
    assert as_json["allocator"] == config.to_dict()["allocator"]
    assert config_from_dict(as_json).allocator == config.allocator


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("allocator:\n", "allocator: is empty (null) where a mapping of settings is expected"),
        ("allocator: [shadow]\n", "allocator: must be a mapping, was ['shadow']"),
        (
            "allocator: {mode: shadow, floor: 0.5}\n",
            "allocator.floor: unknown key. Allowed keys here: confidence_floor, mode, neutral, profiles.",
        ),
        (
            "allocator: {mode: partial}\n",
            "allocator.mode: must be one of 'off', 'shadow', 'full', was 'partial'.",
        ),
        ("allocator: {mode: on}\n", "allocator.mode: must be of type str, was True (bool)."),
        (
            "allocator: {confidence_floor: 1}\n",
            "allocator.confidence_floor: must be in [0, 1), was 1.",
        ),
        (
            "allocator: {confidence_floor: .nan}\n",
            "allocator.confidence_floor: must be a finite number, was nan.",
        ),
        ("allocator: {neutral: }\n", "allocator.neutral: is empty (null)"),
        (
            "allocator: {neutral: {cap: 0.1}}\n",
            "allocator.neutral.cap: unknown key. Allowed keys here: gross_exposure, max_positions, position_cap, risk_aversion, turnover_limit.",
        ),
        (
            "allocator: {neutral: {position_cap: 2}}\n",
            "allocator.neutral.position_cap: must be in (0, 1], was 2. Declared: float in (0, 1], default 0.1.",
        ),
        ("allocator: {profiles: }\n", "allocator.profiles: is empty (null)"),
        (
            "allocator: {profiles: [{}, {}]}\n",
            "allocator.profiles: must be a mapping of regime state to profile, was [{}, {}]",
        ),
        ("allocator: {profiles: {1: }}\n", "allocator.profiles.1: is empty (null)"),
        (
            "allocator: {profiles: {1: {position_cap: 2}}}\n",
            "allocator.profiles.1.position_cap: must be in (0, 1], was 2.",
        ),
        (
            "allocator: {profiles: {1: {position_cap: 0}}}\n",
            "allocator.profiles.1.position_cap: must be in (0, 1], was 0.",
        ),
        (
            "allocator: {profiles: {1: {gross_exposure: 1.5}}}\n",
            "allocator.profiles.1.gross_exposure: must be in [0, 1], was 1.5.",
        ),
        (
            "allocator: {profiles: {1: {gross_exposure: true}}}\n",
            "allocator.profiles.1.gross_exposure: must be a number, was True (bool).",
        ),
        (
            "allocator: {profiles: {1: {max_positions: 2.5}}}\n",
            "allocator.profiles.1.max_positions: must be an integer, was 2.5 (float).",
        ),
        (
            "allocator: {profiles: {1: {max_positions: 0}}}\n",
            "allocator.profiles.1.max_positions: must be in [1, inf), was 0.",
        ),
        (
            "allocator: {profiles: {1: {turnover_limit: 2.5}}}\n",
            "allocator.profiles.1.turnover_limit: must be in [0, 2], was 2.5.",
        ),
        (
            "allocator: {profiles: {1: {risk_aversion: -1}}}\n",
            "allocator.profiles.1.risk_aversion: must be in (0, inf), was -1.",
        ),
        (
            "allocator: {profiles: {1: {risk_aversion: .inf}}}\n",
            "allocator.profiles.1.risk_aversion: must be a finite number, was inf.",
        ),
        (
            "allocator: {profiles: {1: {leverage: 2}}}\n",
            "allocator.profiles.1.leverage: unknown key.",
        ),
        (
            "allocator: {profiles: {-1: {}}}\n",
            "allocator.profiles.-1: is not a regime state, was -1.",
        ),
        (
            "allocator: {profiles: {calm: {}}}\n",
            "allocator.profiles.calm: is not a regime state, was 'calm'.",
        ),
        ("allocator: {profiles: {'01': {}}}\n", "allocator.profiles.01: is not a regime state"),
        ("allocator: {profiles: {true: {}}}\n", "allocator.profiles.True: is not a regime state"),
        (
            "allocator: {profiles: {1: {}, '1': {}}}\n",
            "allocator.profiles.1: names state 1 again (first as 1). Keep one profile per state.",
        ),
        # Checked against the regime model once the files are merged.
        (
            "allocator: {mode: full}\n",
            "allocator.profiles: no profile for state 0, 1 of the regime model 'volatility' (2 states, 0 the calmest). Add allocator.profiles.0",
        ),
        (
            "allocator: {mode: shadow, profiles: {0: {}}}\n",
            "allocator.profiles: no profile for state 1 of the regime model 'volatility'",
        ),
        (
            "allocator: {mode: shadow, profiles: {0: {}, 1: {}, 2: {}}}\n",
            "allocator.profiles.2: is not a state of the regime model 'volatility' (2 states, 0 the calmest). Remove that profile",
        ),
    ],
)
def test_bad_sections_are_refused_naming_file_and_key(tmp_path, section, message):
    path = write(tmp_path, "env.yaml", GATES + section)
    with pytest.raises(ConfigError, match=re.escape(f"{path}: {message}")):
        load_config(path)


def test_the_error_names_the_file_that_holds_the_bad_key(tmp_path):
    write(tmp_path, "base.yaml", GATES + ALLOCATOR.format(mode="shadow"))
    env = write(
        tmp_path, "prod.yaml", "extends: base.yaml\nallocator: {profiles: {1: {position_cap: 2}}}\n"
    )
    with pytest.raises(ConfigError, match=re.escape(f"{env}: allocator.profiles.1.position_cap")):
        load_config(env)


def test_more_states_than_profiles_names_both_files(tmp_path):
    base = write(tmp_path, "base.yaml", GATES + ALLOCATOR.format(mode="shadow"))
    env = write(
        tmp_path,
        "prod.yaml",
        "extends: base.yaml\nregimes: {model: gaussian_mixture, params: {states: 3}}\n",
    )
    expected = (
        f"{base}: allocator.profiles: no profile for state 2 of the regime model "
        f"'gaussian_mixture' (3 states, 0 the calmest, set in {env}). Add allocator.profiles.2"
    )
    with pytest.raises(ConfigError, match=re.escape(expected)):
        load_config(env)
    # Off, the allocator needs no profile for any state.
    off = write(tmp_path, "off.yaml", f"extends: {env.name}\nallocator: {{mode: off}}\n")
    assert load_config(off).regimes.states == 3


def test_settings_built_in_code_are_checked():
    with pytest.raises(
        ConfigError,
        match=re.escape("The 'position_cap' setting of 'RegimeProfile' must be in (0, 1], was 2."),
    ):
        RegimeProfile(position_cap=2)
    with pytest.raises(
        ConfigError,
        match=re.escape(
            "The 'mode' setting of 'AllocatorSettings' must be one of 'off', 'shadow', 'full', was 'on'."
        ),
    ):
        AllocatorSettings(mode="on")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="is not a regime state: key -1"):
        AllocatorSettings(profiles={-1: NEUTRAL})
    with pytest.raises(ConfigError, match="names a state twice: key '1'"):
        AllocatorSettings(profiles={1: NEUTRAL, "1": NEUTRAL})  # type: ignore[dict-item]
    with pytest.raises(
        ConfigError, match="The profile of regime 0 in 'AllocatorSettings' must be a RegimeProfile"
    ):
        AllocatorSettings(profiles={0: {"gross_exposure": 1.0}})  # type: ignore[dict-item]
    # One type per field: 1 and 1.0, NumPy and Python scalars make equal profiles.
    assert RegimeProfile(gross_exposure=1, max_positions=np.int64(20)) == RegimeProfile()
    assert type(RegimeProfile(gross_exposure=1).gross_exposure) is float


# --- blending ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("confidence", "floor", "weight"),
    [
        (1.0, 0.5, 1.0),
        (0.9, 0.5, 0.8),
        (0.75, 0.5, 0.5),
        (0.5, 0.5, 0.0),
        (0.2, 0.5, 0.0),
        (0.3, 0.0, 0.3),
        (0.0, 0.0, 0.0),
        (1.0, 0.0, 1.0),
        (0.99, 0.9, 0.9),
    ],
)
def test_confidence_weight(confidence, floor, weight):
    assert confidence_weight(confidence, floor) == pytest.approx(weight, abs=1e-12)


def test_blending_matches_hand_computed_values(tmp_path):
    full = allocator(tmp_path)
    # lambda = (0.8 - 0.5) / (1 - 0.5) = 0.6; max_positions 20 + round(0.6 * (11 - 20)) =
    # 20 + round(-5.4) = 15.
    profile = full.get_regime_profile(regime=1, regime_confidence=0.8)
    assert profile.to_dict() == pytest.approx(
        {
            "gross_exposure": 0.4 * 1.0 + 0.6 * 0.5,  # 0.7
            "max_positions": 15,
            "position_cap": 0.4 * 0.10 + 0.6 * 0.08,  # 0.088
            "turnover_limit": 0.4 * 0.30 + 0.6 * 0.15,  # 0.21
            "risk_aversion": 0.4 * 2.0 + 0.6 * 5.0,  # 3.8
        },
        abs=1e-12,
    )
    assert profile.max_positions == 15
    # lambda = 0.5: 20 + 0.5 * (11 - 20) = 15.5, a half, rounds toward the neutral 20.
    half = full.get_regime_profile(regime=1, regime_confidence=0.75)
    assert half.max_positions == 16
    assert half.gross_exposure == pytest.approx(0.75, abs=1e-12)
    assert half.risk_aversion == pytest.approx(3.5, abs=1e-12)


def test_integer_fields_round_to_nearest_a_half_toward_neutral():
    low, high = RegimeProfile(max_positions=10), RegimeProfile(max_positions=15)
    # 10 + w * 5 for w = 0.5 (2.5 -> 2), 0.51 (2.55 -> 3), 0.1 (0.5 -> 0), 0.11 (0.55 -> 1).
    assert [blend_profiles(low, high, w).max_positions for w in (0.5, 0.51, 0.1, 0.11)] == [
        12,
        13,
        10,
        11,
    ]
    # Downward: 15 - w * 5.
    assert [blend_profiles(high, low, w).max_positions for w in (0.5, 0.51, 0.1, 0.11)] == [
        13,
        12,
        15,
        14,
    ]


def test_blending_stays_between_the_two_values_against_rounding():
    ends = RegimeProfile(position_cap=1.0, turnover_limit=2.0, gross_exposure=1.0)
    for weight in np.linspace(0.0, 1.0, 1001):
        assert blend_profiles(ends, ends, float(weight)) == ends
    with pytest.raises(ValueError, match=r"must be in \[0, 1\], was 1.5"):
        blend_profiles(NEUTRAL, TURBULENT, 1.5)


def test_confidence_one_gives_the_regimes_own_profile_exactly(tmp_path):
    full = allocator(tmp_path)
    assert full.get_regime_profile(regime=0, regime_confidence=1.0) == CALM
    assert full.get_regime_profile(regime=1, regime_confidence=1.0) == TURBULENT


@pytest.mark.parametrize("confidence", [0.5, 0.3, 0.0])
def test_confidence_at_or_below_the_floor_gives_the_neutral_profile(tmp_path, confidence):
    full = allocator(tmp_path)
    assert full.get_regime_profile(regime=1, regime_confidence=confidence) == NEUTRAL
    decision = full.decide(regime=1, regime_confidence=confidence)
    assert decision.effective == NEUTRAL
    assert decision.weight == 0.0
    assert decision.changes == {}
    assert decision.reason == f"LOW_CONFIDENCE: regime=1, confidence={confidence:g}, floor=0.5"


def test_a_missing_regime_gives_the_neutral_profile_and_says_why(tmp_path):
    full = allocator(tmp_path)
    assert full.get_regime_profile(regime=MISSING_REGIME, regime_confidence=math.nan) == NEUTRAL
    decision = full.decide(regime=MISSING_REGIME, regime_confidence=math.nan)
    assert (decision.regime, decision.regime_confidence) == (-1, None)
    assert decision.effective == decision.profile == NEUTRAL
    assert decision.changes == {}
    assert decision.reason == "MISSING_REGIME: regime=-1, profile=neutral"


def test_inputs_from_numpy_are_taken_as_python_numbers(tmp_path):
    decision = allocator(tmp_path).decide(regime=np.int64(1), regime_confidence=np.float64(1.0))
    assert (type(decision.regime), type(decision.regime_confidence)) == (int, float)
    assert decision.effective == TURBULENT


@pytest.mark.parametrize(
    ("regime", "confidence", "error", "message"),
    [
        (1, -0.1, ValueError, "must be a finite number in [0, 1], was -0.1 (regime 1)"),
        (1, 1.0001, ValueError, "must be a finite number in [0, 1], was 1.0001"),
        (1, math.nan, ValueError, "must be a finite number in [0, 1], was nan"),
        (1, math.inf, ValueError, "was inf"),
        (MISSING_REGIME, math.inf, ValueError, "was inf (regime -1)"),
        (MISSING_REGIME, 1.5, ValueError, "was 1.5 (regime -1)"),
        (1, True, TypeError, "The regime confidence must be a number, was True (bool)."),
        (1, "0.9", TypeError, "The regime confidence must be a number, was '0.9' (str)."),
        (1, None, TypeError, "was None (NoneType)"),
        (
            -2,
            0.9,
            ValueError,
            "must be a state (>= 0, 0 the calmest) or MISSING_REGIME (-1), was -2",
        ),
        (1.0, 0.9, TypeError, "The regime label must be an integer, was 1.0 (float)."),
        (True, 0.9, TypeError, "The regime label must be an integer, was True (bool)."),
        ("1", 0.9, TypeError, "was '1' (str)"),
    ],
)
def test_bad_labels_and_confidences_are_refused(tmp_path, regime, confidence, error, message):
    full = allocator(tmp_path)
    for call in (full.get_regime_profile, full.decide):
        with pytest.raises(error, match=re.escape(message)):
            call(regime=regime, regime_confidence=confidence)


def test_a_label_without_a_profile_is_refused_never_defaulted():
    # Built in code, nothing checked it against a regime model: the call refuses.
    partial = StrategyAllocator(AllocatorSettings(mode="full", profiles={0: NEUTRAL}))
    with pytest.raises(
        ConfigError,
        match=re.escape("allocator.profiles: no profile for regime 2 (profiles configured for: 0)"),
    ):
        partial.decide(regime=2, regime_confidence=0.9)
    with pytest.raises(ConfigError, match=re.escape("add allocator.profiles.2")):
        partial.get_regime_profile(regime=2, regime_confidence=0.1)


# --- modes and the decision record -----------------------------------------------------------


def test_shadow_records_the_changes_but_runs_on_the_baseline(tmp_path):
    shadow = allocator(tmp_path, mode="shadow")
    decision = shadow.decide(regime=1, regime_confidence=1.0, as_of="2020-03-16")
    assert decision.mode is AllocatorMode.SHADOW
    assert decision.applied is False
    assert decision.effective == decision.baseline == NEUTRAL
    assert decision.profile == TURBULENT
    assert decision.changes == {
        "gross_exposure": (1.0, 0.5),
        "max_positions": (20, 11),
        "position_cap": (0.10, 0.08),
        "turnover_limit": (0.30, 0.15),
        "risk_aversion": (2.0, 5.0),
    }
    record = decision.to_dict()
    assert record["applied"] is False
    assert record["effective"] == NEUTRAL.to_dict()
    assert record["changes"]["gross_exposure"] == [1.0, 0.5]


def test_full_mode_runs_on_the_profile_of_the_regime(tmp_path):
    full = allocator(tmp_path, mode="full")
    calm = full.decide(regime=0, regime_confidence=1.0)
    turbulent = full.decide(regime=1, regime_confidence=1.0)
    assert calm.applied and turbulent.applied
    assert (calm.effective, turbulent.effective) == (CALM, TURBULENT)
    assert turbulent.effective.gross_exposure < calm.effective.gross_exposure
    assert turbulent.effective.risk_aversion > calm.effective.risk_aversion
    # The same regime in shadow mode leaves the cycle on the baseline.
    assert (
        allocator(tmp_path, mode="shadow").decide(regime=1, regime_confidence=1.0).effective
        == NEUTRAL
    )


def test_off_computes_nothing(tmp_path):
    off = StrategyAllocator(load_config(write(tmp_path, "env.yaml", GATES)).allocator)
    decision = off.decide(regime=3, regime_confidence=0.9)
    assert (decision.applied, decision.weight, decision.reason) == (False, 0.0, "ALLOCATOR_OFF")
    assert decision.effective == decision.profile == decision.baseline == RegimeProfile()
    assert decision.changes == {}


@pytest.mark.parametrize("mode", ["off", "shadow", "full"])
@pytest.mark.parametrize(("regime", "confidence"), [(0, 0.9), (1, 0.8), (1, 0.2), (-1, math.nan)])
def test_the_record_is_plain_json_and_round_trips(tmp_path, mode, regime, confidence):
    decision = allocator(tmp_path, mode=mode).decide(
        regime=regime, regime_confidence=confidence, as_of=date(2020, 3, 16)
    )
    record = decision.to_dict()
    text = json.dumps(record, allow_nan=False)
    assert json.loads(text) == record
    assert AllocationDecision.from_dict(json.loads(text)) == decision
    required = {"mode", "applied", "regime", "regime_confidence", "profile", "baseline"}
    assert required | {"effective", "changes", "reason", "as_of"} <= set(record)
    assert record["as_of"] == "2020-03-16" and record["mode"] == mode


def test_a_record_that_contradicts_itself_is_refused(tmp_path):
    record = allocator(tmp_path, mode="shadow").decide(regime=1, regime_confidence=1.0).to_dict()
    with pytest.raises(ValueError, match="do not follow from its mode, baseline and profile"):
        AllocationDecision.from_dict({**record, "applied": True})
    with pytest.raises(ValueError, match=re.escape("this one has unknown entries ['extra']")):
        AllocationDecision.from_dict({**record, "extra": 1})
    with pytest.raises(ValueError, match="lacks the entry 'reason'"):
        AllocationDecision.from_dict({k: v for k, v in record.items() if k != "reason"})


def test_as_of_takes_dates_timestamps_and_iso_text(tmp_path):
    full = allocator(tmp_path)
    for as_of in (date(2020, 3, 16), datetime(2020, 3, 16, 0, 0), "2020-03-16"):
        assert full.decide(regime=0, regime_confidence=1.0, as_of=as_of).as_of == "2020-03-16"
    with pytest.raises(ValueError, match="must be a date or an ISO date"):
        full.decide(regime=0, regime_confidence=1.0, as_of="16/03/2020")


def test_each_decision_logs_one_structured_record(tmp_path, caplog):
    shadow = allocator(tmp_path, mode="shadow")
    with caplog.at_level(logging.INFO, logger="autopilot.strategy_allocator"):
        decision = shadow.decide(regime=1, regime_confidence=0.9, as_of="2020-03-16")
    [logged] = [r for r in caplog.records if getattr(r, "event", None) == "allocator_decision"]
    assert logged.levelno == logging.INFO
    assert {key: getattr(logged, key) for key in decision.to_dict()} == decision.to_dict()
