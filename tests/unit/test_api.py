"""The public surface: verdict records, parameter constraints, exports."""

from __future__ import annotations

import enum
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

import autopilot
from autopilot.errors import AutopilotError, ConfigError, GateParameterError, InputError
from autopilot.sdk.params import Interval, Param, validate_fields, validate_params
from autopilot.sdk.verdicts import Decision, Mode, Outcome, Verdict, format_reason


def test_all_is_sorted_and_every_name_resolves():
    assert autopilot.__all__ == sorted(autopilot.__all__) == sorted(autopilot._EXPORTS)
    for name in autopilot.__all__:
        assert getattr(autopilot, name) is not None, name
    with pytest.raises(AttributeError):
        autopilot.NoSuchName  # noqa: B018


def test_state_layer_does_not_import_the_numerical_stack():
    code = (
        "import sys, autopilot.registry, autopilot.state.state_file, autopilot.state.journal; "
        "print(sorted(m for m in ('numba', 'pandas') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_package_is_typed():
    assert (Path(autopilot.__file__).parent / "py.typed").exists()


def test_reason_format():
    assert (
        format_reason("BELOW_MIN", value=0.41234567, min=0.5)
        == "BELOW_MIN: value=0.412346, min=0.5"
    )
    assert format_reason("NO_REGIME_CHANGE") == "NO_REGIME_CHANGE"


def test_verdict_is_frozen_and_json_safe():
    v = Verdict("sharpe", Outcome.ERROR, math.inf, 0.5, Mode.ENFORCE, "ZERO_VARIANCE")
    assert v.value is None
    with pytest.raises(AttributeError):
        v.value = 1.0  # type: ignore[misc]
    assert Verdict.from_dict(json.loads(json.dumps(v.to_dict()))) == v


def test_outcome_is_a_public_int_enum_serialised_by_name():
    assert autopilot.Outcome is Outcome and issubclass(Outcome, enum.IntEnum)
    assert [(o.name, int(o)) for o in Outcome] == [
        ("PASS", 0),
        ("FAIL", 1),
        ("INSUFFICIENT_DATA", 2),
        ("ERROR", 3),
    ]
    v = Verdict("g", Outcome.INSUFFICIENT_DATA, None, None, Mode.ENFORCE, "NO_DATA")
    assert v.to_dict()["outcome"] == "INSUFFICIENT_DATA"
    assert Verdict.from_dict(json.loads(json.dumps(v.to_dict()))) == v
    assert Verdict("g", 3, None, None, Mode.ENFORCE, "X").outcome is Outcome.ERROR
    assert Verdict("g", "FAIL", None, None, Mode.ENFORCE, "X").outcome is Outcome.FAIL


@pytest.mark.parametrize("outcome", [True, False, 0.0, "pass", "0", 4, None])
def test_a_verdict_refuses_what_is_not_an_outcome(outcome):
    with pytest.raises(ValueError):
        Verdict("g", outcome, None, None, Mode.ENFORCE, "X")


@pytest.mark.parametrize("outcome", [0, 3, "pass", None])
def test_json_records_are_read_by_outcome_name_only(outcome):
    data = Verdict("g", Outcome.PASS, None, None, Mode.ENFORCE, "OK").to_dict()
    with pytest.raises(ValueError, match="unknown outcome"):
        Verdict.from_dict({**data, "outcome": outcome})


def test_promotable_needs_every_enforced_pass_and_ignores_shadow():
    ok = Verdict("a", Outcome.PASS, 1.0, 0.5, Mode.ENFORCE, "OK")
    shadow_fail = Verdict("b", Outcome.FAIL, 1.0, 0.5, Mode.SHADOW, "ABOVE_MAX")
    insufficient = Verdict("c", Outcome.INSUFFICIENT_DATA, None, 0.5, Mode.ENFORCE, "X")
    assert Decision("s", (ok, shadow_fail)).promotable
    assert not Decision("s", (ok, insufficient)).promotable
    assert not Decision("s", ()).promotable
    assert Decision("s", (ok, insufficient)).blocking_reasons == ("c: X",)


def test_interval_text_and_membership():
    assert str(Interval(0, 1)) == "[0, 1]"
    assert str(Interval(0, None, closed="neither")) == "(0, inf)"
    # Integer bounds exactly, however large; others in %g.
    assert str(Interval(0, 2**32 - 1)) == "[0, 4294967295]"
    assert str(Interval(0.5, 1e-3 * 2**32)) == "[0.5, 4.29497e+06]"
    assert 0 not in Interval(0, 1, closed="right") and 1 in Interval(0, 1, closed="right")


def test_param_validation_messages():
    declared = {"max": Param(float, default=0.2, interval=Interval(0, 1)), "k": Param(int)}
    assert dict(validate_params("g", declared, {"k": 3})) == {"max": 0.2, "k": 3}
    with pytest.raises(
        GateParameterError, match=r"The 'k' parameter of gate 'g' is required \(int, required\)"
    ):
        validate_params("g", declared, {})
    with pytest.raises(GateParameterError, match=r"must be in \[0, 1\], was 1\.5"):
        validate_params("g", declared, {"k": 1, "max": 1.5})
    choice = {"how": Param(str, default="a", choices=("a", "b"))}
    with pytest.raises(GateParameterError, match="must be one of 'a', 'b', was 'c'"):
        validate_params("g", choice, {"how": "c"})


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (
            {"closed": "open"},
            ValueError,
            "closed must be one of 'both', 'left', 'right', 'neither'",
        ),
        ({"closed": None}, ValueError, "was None"),
        ({"low": 1, "high": 0}, ValueError, "low must be <= high, was low=1, high=0"),
        ({"low": 0, "high": math.nan}, ValueError, "high must be finite"),
        ({"low": -math.inf}, ValueError, "low must be finite (None leaves a side unbounded)"),
        ({"low": 0, "high": 0, "closed": "left"}, ValueError, "is empty"),
        ({"low": True}, TypeError, "low must be a real number or None"),
        ({"high": "1"}, TypeError, "was '1' (str)"),
    ],
)
def test_a_bad_interval_is_refused_when_built(kwargs, error, message):
    with pytest.raises(error) as info:
        Interval(**kwargs)
    assert message in str(info.value)


def test_valid_intervals_still_build():
    assert str(Interval(0, 0)) == "[0, 0]"
    assert str(Interval(None, 1, closed="left")) == "(-inf, 1)"
    assert math.nan not in Interval()


def test_settings_and_parameters_share_one_message_style():
    declared = {"min_trade_notional": Param(float, interval=Interval(0, None))}
    with pytest.raises(ConfigError) as info:
        validate_fields("TraderSettings", declared, {"min_trade_notional": -5})
    assert str(info.value) == (
        "The 'min_trade_notional' setting of 'TraderSettings' must be in [0, inf), was -5."
    )
    with pytest.raises(GateParameterError) as info:
        validate_params("g", declared, {"min_trade_notional": -5})
    assert str(info.value) == (
        "The 'min_trade_notional' parameter of gate 'g' must be in [0, inf), was -5."
    )
    assert info.value.key == "min_trade_notional"


@pytest.mark.parametrize("kind", [float, int])
def test_booleans_are_not_numbers(kind):
    with pytest.raises(ConfigError, match=r"was True \(bool\)"):
        validate_fields("S", {"x": Param(kind)}, {"x": True})


def test_config_and_input_errors_are_value_errors_the_cli_maps_to_exit_2():
    assert issubclass(ConfigError, ValueError) and issubclass(ConfigError, AutopilotError)
    assert issubclass(InputError, ValueError) and issubclass(InputError, AutopilotError)


def test_the_promotion_rule_reads_modes_given_as_text():
    from autopilot.sdk.verdicts import is_promotable

    assert not is_promotable(["enforce", Mode.ENFORCE], [Outcome.FAIL, Outcome.PASS])
    assert is_promotable(["shadow", "enforce"], [Outcome.FAIL, Outcome.PASS])
    assert not is_promotable(["shadow"], [Outcome.PASS])  # nothing enforced
    with pytest.raises(ValueError):
        is_promotable(["enforced"], [Outcome.PASS])
