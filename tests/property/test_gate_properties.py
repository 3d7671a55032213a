"""Properties of the gate set: monotone thresholds, invariances, independence, fail-closed data.

Every test builds its own gate set (a fresh plugin manager) from an in-memory configuration.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from autopilot.cli import main
from autopilot.config import config_from_dict, load_config
from autopilot.errors import ConfigError
from autopilot.market.returns_io import read_candidates
from autopilot.promotion_gate import GateSet
from autopilot.sdk.verdicts import Decision, Mode, Outcome, Verdict
from autopilot.stats import metrics
from autopilot.stats.batch import CandidateBatch
from tests.strategies import (
    ReturnsCase,
    decisions,
    gate_configs,
    live_bounds,
    returns_cases,
    returns_matrices,
    tightened,
    well_conditioned,
)

SETTINGS = settings(derandomize=True, deadline=None, max_examples=40)
SHARPE_GATES = ("sharpe", "probabilistic_sharpe", "deflated_sharpe")


def _gate_set(config: dict) -> GateSet:
    return GateSet(config_from_dict(config))


def _batch(case) -> CandidateBatch:
    return CandidateBatch(case.returns, case.ids, regimes=case.regimes)


def _promoted(config: dict, case) -> set[str]:
    return {d.strategy_id for d in _gate_set(config).evaluate(_batch(case)) if d.promotable}


def _same_verdict(a, b) -> bool:
    if (a.gate, a.outcome, a.threshold, a.mode, a.reason) != (
        b.gate,
        b.outcome,
        b.threshold,
        b.mode,
        b.reason,
    ):
        return False
    if a.value is None or b.value is None:
        return a.value is b.value
    return math.isclose(a.value, b.value, rel_tol=1e-12, abs_tol=1e-12)


# --- 1. tightening a threshold never promotes more candidates --------------------------------


@SETTINGS
@given(data=st.data(), case=returns_cases(), config=gate_configs(deflated=False))
def test_tightening_thresholds_never_promotes_more(data, case, config) -> None:
    tight = data.draw(tightened(config), label="tight")
    loose_set, tight_set = _promoted(config, case), _promoted(tight, case)
    event(f"loose config promotes {min(len(loose_set), 2)}+, tight {min(len(tight_set), 2)}+")
    assert tight_set <= loose_set


@SETTINGS
@given(data=st.data(), case=returns_cases(), config=gate_configs(deflated=True))
def test_tightening_thresholds_with_dsr_never_promotes_more(data, case, config) -> None:
    """Also with the batch-level DSR gate, ``min_history`` included (every candidate is a
    trial, so a stricter history minimum cannot shrink the deflation)."""
    tight = data.draw(tightened(config), label="tight")
    assert _promoted(tight, case) <= _promoted(config, case)


def test_raising_min_history_with_dsr_never_promotes_more() -> None:
    """Regression: the DSR once took its trials and Sharpe variance from the candidates with
    enough history only. Here bars=40 dropped the short, very good candidate from the trials,
    the benchmark fell and candidate 's1' became promotable under the stricter setting."""
    rng = np.random.default_rng(7)
    t = 60
    returns = rng.normal(0.002, 0.01, size=(t, 3))
    returns[:, 1] = rng.normal(0.003, 0.01, size=t)
    returns[:30, 2] = np.nan
    returns[30:, 2] = rng.normal(0.03, 0.01, size=30)
    batch_case = ReturnsCase(returns, None)
    loose = {
        "periods_per_year": 252,
        "gates": {
            "min_history": {"params": {"bars": 20}},
            "deflated_sharpe": {"params": {"min_probability": 0.5}},
        },
    }
    tight = {**loose, "gates": {**loose["gates"], "min_history": {"params": {"bars": 40}}}}
    assert _promoted(tight, batch_case) <= _promoted(loose, batch_case)


# --- 2. Sharpe is invariant to scaling returns by c > 0 --------------------------------------


@SETTINGS
@given(
    matrix=returns_matrices(),
    scale=st.floats(0.05, 4.0, allow_nan=False),
    periods=st.sampled_from([12, 52, 252]),
)
def test_sharpe_is_invariant_to_positive_scaling(matrix, scale: float, periods: int) -> None:
    config = {
        "periods_per_year": periods,
        "risk_free_rate": 0.0,
        "gates": {
            "sharpe": {"params": {"min": 0.5}},
            "probabilistic_sharpe": {"params": {"min_probability": 0.5}},
        },
    }
    ids = [f"s{j}" for j in range(matrix.shape[1])]
    gate_set = _gate_set(config)
    base = gate_set.evaluate_arrays(CandidateBatch(matrix, ids))
    scaled = gate_set.evaluate_arrays(CandidateBatch(matrix * scale, ids))
    for j in range(matrix.shape[1]):
        first, last = live_bounds(matrix, j)
        segment = matrix[first : last + 1, j]
        if not well_conditioned(segment):
            continue
        for column_a, column_b in zip(base.columns, scaled.columns, strict=True):
            assert math.isclose(column_a.values[j], column_b.values[j], rel_tol=1e-9), column_a.gate
        want = metrics.sharpe_ratio(segment, periods)
        got = metrics.sharpe_ratio(segment * scale, periods)
        floor = 1e-12 * math.sqrt(periods) * np.max(np.abs(segment)) / segment.std()
        assert math.isclose(got, want, rel_tol=1e-9, abs_tol=floor)


# --- 3. transition drawdown <= max drawdown --------------------------------------------------


@SETTINGS
@given(case=returns_cases(), k=st.integers(1, 4))
def test_transition_drawdown_never_exceeds_max_drawdown(case, k: int) -> None:
    batch = _batch(case)
    stats = batch.statistics()
    transition = batch.transition(k)
    for j in range(batch.n_candidates):
        if not math.isnan(transition.drawdown[j]):
            assert transition.drawdown[j] <= stats.max_drawdown[j] + 1e-12
        first, last = live_bounds(case.returns, j)
        segment = case.returns[first : last + 1, j]
        tdd = metrics.transition_drawdown(segment, case.labels_of(j)[first : last + 1], k)
        if not math.isnan(tdd):
            assert tdd <= metrics.max_drawdown(segment) + 1e-12


# --- 4. appending a zero return changes no drawdown ------------------------------------------


@SETTINGS
@given(case=returns_cases(trailing_nan=False, near_changes=False), k=st.integers(1, 4))
def test_appending_a_zero_return_changes_no_drawdown(case, k: int) -> None:
    returns = np.vstack([case.returns, np.zeros((1, case.returns.shape[1]))])
    regimes = np.concatenate([case.regimes, case.regimes[-1:]])
    before = _batch(case)
    after = CandidateBatch(returns, case.ids, regimes=regimes)
    np.testing.assert_allclose(
        after.statistics().max_drawdown, before.statistics().max_drawdown, rtol=0, atol=1e-15
    )
    np.testing.assert_allclose(
        after.transition(k).drawdown, before.transition(k).drawdown, rtol=0, atol=1e-15
    )
    for j in range(returns.shape[1]):
        first, _ = live_bounds(case.returns, j)
        segment = case.returns[first:, j]
        labels = case.labels_of(j)[first:]
        longer = np.append(segment, 0.0)
        longer_labels = np.append(labels, labels[-1])
        assert metrics.max_drawdown(longer) == metrics.max_drawdown(segment)
        want = metrics.transition_drawdown(segment, labels, k)
        got = metrics.transition_drawdown(longer, longer_labels, k)
        assert (math.isnan(want) and math.isnan(got)) or got == want


# --- 5. a candidate's verdicts do not depend on the other candidates -------------------------


def _subset_columns(data, n: int) -> list[int]:
    columns = data.draw(
        st.lists(st.integers(0, n - 1), min_size=1, max_size=n, unique=True), label="columns"
    )
    return columns


@SETTINGS
@given(data=st.data(), case=returns_cases(), config=gate_configs(deflated=False))
def test_verdicts_do_not_depend_on_other_candidates(data, case, config) -> None:
    full_batch = _batch(case)
    columns = _subset_columns(data, full_batch.n_candidates)
    gate_set = _gate_set(config)
    full = gate_set.evaluate(full_batch)
    part = gate_set.evaluate(full_batch.subset(columns))
    for decision, j in zip(part, columns, strict=True):
        original = full[j]
        assert decision.strategy_id == original.strategy_id
        assert len(decision.verdicts) == len(original.verdicts)
        for a, b in zip(decision.verdicts, original.verdicts, strict=True):
            assert _same_verdict(a, b), (a, b)
        assert decision.promotable == original.promotable


@SETTINGS
@given(data=st.data(), case=returns_cases(), config=gate_configs(deflated=True))
def test_only_batch_level_verdicts_depend_on_other_candidates(data, case, config) -> None:
    full_batch = _batch(case)
    columns = _subset_columns(data, full_batch.n_candidates)
    gate_set = _gate_set(config)
    batch_level = {g.name for g in gate_set.gates if g.gate.batch_level}
    assert batch_level == {"deflated_sharpe"}
    full = gate_set.evaluate(full_batch)
    part = gate_set.evaluate(full_batch.subset(columns))
    for decision, j in zip(part, columns, strict=True):
        for a, b in zip(decision.verdicts, full[j].verdicts, strict=True):
            if a.gate not in batch_level:
                assert _same_verdict(a, b), (a, b)


def test_deflated_sharpe_is_the_verdict_that_depends_on_the_batch() -> None:
    """Why the exemption above exists: removing candidates changes the DSR, nothing else."""
    rng = np.random.default_rng(3)
    returns = rng.normal(0.001, 0.01, size=(250, 6))
    returns[:, 0] += 0.002
    returns[:, 5] = rng.normal(0.004, 0.01, size=250)
    config = {
        "periods_per_year": 252,
        "gates": {
            "sharpe": {"params": {"min": 0.5}},
            "deflated_sharpe": {"params": {"min_probability": 0.5}},
        },
    }
    batch = CandidateBatch(returns, [f"s{j}" for j in range(6)])
    gate_set = _gate_set(config)
    full = gate_set.evaluate(batch)[0]
    alone = gate_set.evaluate(batch.subset([0, 1]))[0]
    by_gate_full = {v.gate: v for v in full.verdicts}
    by_gate_alone = {v.gate: v for v in alone.verdicts}
    assert _same_verdict(by_gate_full["sharpe"], by_gate_alone["sharpe"])
    assert by_gate_full["deflated_sharpe"].value != pytest.approx(
        by_gate_alone["deflated_sharpe"].value, rel=1e-6
    )


# --- 6. JSON output round-trips --------------------------------------------------------------


@settings(derandomize=True, deadline=None, max_examples=200)
@given(decision=decisions())
def test_decision_json_round_trip(decision: Decision) -> None:
    text = json.dumps(decision.to_dict(), allow_nan=False)
    rebuilt = Decision.from_dict(json.loads(text))
    assert rebuilt == decision
    assert rebuilt.promotable == decision.promotable
    assert json.loads(text)["promotable"] == decision.promotable


@SETTINGS
@given(case=returns_cases(), config=gate_configs(deflated=None))
def test_evaluated_decisions_json_round_trip(case, config) -> None:
    for decision in _gate_set(config).evaluate(_batch(case)):
        text = json.dumps(decision.to_dict(), allow_nan=False)
        assert Decision.from_dict(json.loads(text)) == decision


@settings(
    derandomize=True,
    deadline=None,
    max_examples=20,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    case=returns_cases(per_candidate=False, near_changes=False),
    config=gate_configs(deflated=None, min_gates=2),
    corrupt=st.sampled_from([None, "gap", "inf"]),
)
def test_cli_json_output_rebuilds_every_decision(
    tmp_path_factory, capsys, case, config, corrupt
) -> None:
    folder = tmp_path_factory.mktemp("cli")
    returns = case.returns.copy()
    if corrupt == "gap":
        first, last = live_bounds(returns, 0)
        returns[(first + last) // 2, 0] = np.nan
    elif corrupt == "inf":
        returns[-1, 0] = np.inf
    frame = pd.DataFrame(returns, columns=case.ids)
    frame.insert(0, "date", pd.bdate_range("2020-01-01", periods=len(frame)).strftime("%Y-%m-%d"))
    frame["regime"] = [f"r{code}" for code in case.regimes]
    csv = folder / "returns.csv"
    frame.to_csv(csv, index=False)
    env = folder / "property.yaml"
    # Business-day dates whatever periods_per_year was drawn: the spacing check is not
    # what this test is about (test_returns_io covers it).
    env.write_text(yaml.safe_dump({**config, "irregular_bars": True}), encoding="utf-8")

    capsys.readouterr()
    code = main(["gates", "check", str(csv), "--env", str(env), "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    payload = json.loads(out)
    assert payload["environment"] == config["environment"]
    rebuilt = [Decision.from_dict(d) for d in payload["decisions"]]
    assert [d.promotable for d in rebuilt] == [d["promotable"] for d in payload["decisions"]]

    expected = GateSet(load_config(env)).evaluate(read_candidates(csv))
    assert rebuilt == expected
    assert [d.strategy_id for d in rebuilt] == case.ids


# --- 8. gaps and non-finite returns fail closed ----------------------------------------------


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@SETTINGS
@given(
    data=st.data(),
    case=returns_cases(min_live=3),
    config=gate_configs(deflated=None),
    kind=st.sampled_from(["gap", "inf", "-inf"]),
)
def test_gaps_and_non_finite_returns_are_errors_everywhere(data, case, config, kind) -> None:
    # "Promotable only if every enforced gate passes" is vacuous without an enforced gate;
    # see test_data_errors_are_not_promotable_with_only_shadow_gates.
    first_gate = next(iter(config["gates"]))
    config["gates"][first_gate]["mode"] = "enforce"
    returns = case.returns.copy()
    n_bars, n_cols = returns.shape
    j = data.draw(st.integers(0, n_cols - 1), label="candidate")
    first, last = live_bounds(returns, j)
    if kind == "gap":
        row = data.draw(st.integers(first + 1, last - 1), label="row")
        returns[row, j] = np.nan
        code = "GAP_IN_RETURNS"
    else:
        row = data.draw(st.integers(0, n_bars - 1), label="row")
        returns[row, j] = np.inf if kind == "inf" else -np.inf
        code = "NON_FINITE_RETURN"
    gate_set = _gate_set(config)
    table = gate_set.evaluate_arrays(CandidateBatch(returns, case.ids, regimes=case.regimes))
    decision = table.decisions()[j]
    assert not decision.promotable
    assert not table.promotable[j]
    for verdict in decision.verdicts:
        assert verdict.outcome is Outcome.ERROR, verdict
        assert verdict.reason.startswith(code), verdict
        assert verdict.value is None

    # The corrupted candidate does not change anyone else's non-batch-level verdicts.
    clean = gate_set.evaluate(_batch(case))
    batch_level = {g.name for g in gate_set.gates if g.gate.batch_level}
    for i, (a_decision, b_decision) in enumerate(zip(table.decisions(), clean, strict=True)):
        if i == j:
            continue
        for a, b in zip(a_decision.verdicts, b_decision.verdicts, strict=True):
            if a.gate not in batch_level:
                assert _same_verdict(a, b), (a, b)


def test_a_gate_set_with_nothing_enforced_is_refused() -> None:
    # With every gate in shadow mode nothing would be checked and every candidate, even
    # one whose returns have gaps, would be promoted: refuse it (fail closed).
    config = {"periods_per_year": 252, "gates": {"sharpe": {"mode": "shadow"}}}
    with pytest.raises(ConfigError, match="no gate is enforced"):
        _gate_set(config)


def test_only_shadow_verdicts_are_never_promotable() -> None:
    shadow = Verdict("sharpe", Outcome.ERROR, None, 0.5, Mode.SHADOW, "GAP_IN_RETURNS: at=1")
    assert not Decision("gappy", (shadow,)).promotable


@SETTINGS
@given(
    data=st.data(),
    case=returns_cases(),
    config=gate_configs(deflated=None),
    level=st.sampled_from([0.0, 0.001, -0.004, 0.05]),
)
def test_zero_variance_candidates_are_never_promotable(data, case, config, level) -> None:
    names = list(config["gates"])
    sharpe_like = [n for n in names if n in SHARPE_GATES]
    if not sharpe_like:
        config["gates"]["sharpe"] = {"mode": "enforce", "params": {"min": -5.0}}
    elif all(config["gates"][n]["mode"] == "shadow" for n in sharpe_like):
        config["gates"][sharpe_like[0]]["mode"] = "enforce"
    returns = case.returns.copy()
    j = data.draw(st.integers(0, returns.shape[1] - 1), label="candidate")
    first, last = live_bounds(returns, j)
    returns[first : last + 1, j] = level
    table = _gate_set(config).evaluate_arrays(
        CandidateBatch(returns, case.ids, regimes=case.regimes)
    )
    assert not table.promotable[j]
    decision = table.decisions()[j]
    assert not decision.promotable
    for verdict in decision.verdicts:
        if verdict.gate in SHARPE_GATES:
            assert verdict.outcome is not Outcome.PASS, verdict
            if verdict.outcome is Outcome.ERROR:
                assert verdict.reason == "ZERO_VARIANCE"


@SETTINGS
@given(case=returns_cases(), config=gate_configs(deflated=None))
def test_promotable_means_every_enforced_gate_passed(case, config) -> None:
    table = _gate_set(config).evaluate_arrays(_batch(case))
    for j, decision in enumerate(table.decisions()):
        enforced = [v for v in decision.verdicts if v.mode.value == "enforce"]
        expected = all(v.outcome is Outcome.PASS for v in enforced)
        assert decision.promotable == expected == bool(table.promotable[j])
