"""MetaLabelingModel: its own threshold (T6), save is not publish (T7), pinned loading."""

from __future__ import annotations

import hashlib
import json
import logging

import numpy as np
import pandas as pd
import pytest
import sklearn
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression

from autopilot.errors import InputError, StateError
from autopilot.meta_labeler import (
    CURRENT_MODEL_NAME,
    MetaLabelingModel,
    load_model,
    manifest_path,
    update_current_pointer,
)

N_EVENTS = 600


def events(seed: int = 7):
    """Events whose label depends on one feature (a known signal) plus noise features."""
    rng = np.random.default_rng(seed)
    strength = rng.normal(0.0, 1.0, N_EVENTS)
    noise = rng.normal(0.0, 1.0, (N_EVENTS, 2))
    pays = rng.random(N_EVENTS) < 1.0 / (1.0 + np.exp(-2.0 * strength))
    starts = np.sort(rng.integers(0, 3000, N_EVENTS))
    ends = starts + rng.integers(1, 10, N_EVENTS)
    returns = np.where(pays, 0.02, -0.02) + rng.normal(0.0, 0.005, N_EVENTS)
    features = pd.DataFrame({"strength": strength, "noise_a": noise[:, 0], "noise_b": noise[:, 1]})
    return features, pays.astype(int), starts, ends, returns


def fitted(**params) -> MetaLabelingModel:
    features, labels, starts, ends, returns = events()
    model = MetaLabelingModel(LogisticRegression(), n_splits=4, embargo=5, **params)
    return model.fit(features, labels, starts=starts, ends=ends, returns=returns)


@pytest.fixture(scope="module")
def tuned() -> MetaLabelingModel:
    return fitted()


def test_it_learns_the_signal_and_reports_out_of_sample_figures(tuned):
    v = tuned.validation_
    assert v["auc"] > 0.75  # the label is a logistic function of `strength`
    assert v["events"] == N_EVENTS and v["folds"] == 4
    assert 0.0 < v["base_rate"] < 1.0
    # Filtering keeps the trades that pay more often than taking them all does.
    assert v["precision"] > v["base_rate"]
    assert v["sharpe_filtered"] > v["sharpe_unfiltered"]
    assert len(v["thresholds"]) == 4
    assert tuned.classes_.tolist() == [0, 1]
    assert list(tuned.feature_names_in_) == ["strength", "noise_a", "noise_b"]


def test_the_tuned_threshold_is_the_one_scikit_learn_chooses_on_the_purged_folds(tuned):
    from sklearn.model_selection import TunedThresholdClassifierCV

    from autopilot.stats.purged_cv import PurgedKFold

    features, labels, starts, ends, _ = events()
    folds = list(PurgedKFold(4, 5).split(starts, ends))
    reference = TunedThresholdClassifierCV(
        LogisticRegression(), scoring="balanced_accuracy", cv=folds
    )
    reference.fit(features, labels)
    assert tuned.confidence_threshold_ == pytest.approx(reference.best_threshold_)


@pytest.mark.parametrize("threshold", [0.65, 0.4])
def test_filtering_uses_the_models_own_threshold(threshold, caplog):
    """T6: the configuration's default (0.5) plays no part once a model holds 0.65 or 0.4."""
    model = fitted(tune_threshold=False, confidence_threshold=threshold)
    features = events(seed=8)[0]
    with caplog.at_level(logging.INFO, logger="autopilot.meta_labeler"):
        result = model.filter(features)
    assert result.threshold == threshold
    probability = model.predict_proba(features)[:, 1]
    assert np.array_equal(result.keep, probability >= threshold)
    assert 0 < result.keep.sum() < len(features)
    assert [r.confidence_threshold for r in caplog.records if hasattr(r, "confidence_threshold")][
        -1
    ] == threshold


def test_save_writes_the_model_and_its_manifest_and_nothing_else(tuned, tmp_path):
    """T7: saving an experimental model leaves the current model byte-identical."""
    current = tmp_path / CURRENT_MODEL_NAME
    current.write_bytes(b"the model in production")
    before = sorted(p.name for p in tmp_path.iterdir())
    manifest = tuned.save(tmp_path / "experimental_model.joblib")
    assert current.read_bytes() == b"the model in production"
    after = sorted(p.name for p in tmp_path.iterdir())
    assert sorted(set(after) - set(before)) == [
        "experimental_model.joblib",
        "experimental_model.joblib.manifest.json",
    ]
    data = (tmp_path / "experimental_model.joblib").read_bytes()
    record = json.loads(manifest.read_text())
    assert record["sha256"] == hashlib.sha256(data).hexdigest()
    assert record["confidence_threshold"] == tuned.confidence_threshold_
    assert record["features"] == ["strength", "noise_a", "noise_b"]
    assert record["events"] == N_EVENTS
    assert record["versions"]["scikit-learn"] == sklearn.__version__
    assert record["validation"]["auc"] == tuned.validation_["auc"]


def test_update_current_pointer_is_the_step_that_makes_a_model_current(tuned, tmp_path):
    saved = tmp_path / "model_v2.joblib"
    tuned.save(saved)
    sha = hashlib.sha256(saved.read_bytes()).hexdigest()
    current = update_current_pointer(saved, expected_sha256=sha)
    assert current == tmp_path / CURRENT_MODEL_NAME
    assert current.read_bytes() == saved.read_bytes()
    loaded = load_model(current, expected_sha256=sha)
    features = events(seed=9)[0]
    assert np.array_equal(loaded.predict_proba(features), tuned.predict_proba(features))
    assert loaded.confidence_threshold_ == tuned.confidence_threshold_


def test_loading_checks_the_pinned_hash_before_unpickling(tuned, tmp_path):
    saved = tmp_path / "model.joblib"
    tuned.save(saved)
    sha = hashlib.sha256(saved.read_bytes()).hexdigest()
    with pytest.raises(StateError, match=f"sha256 is {sha}, expected 0+; the file is not"):
        load_model(saved, expected_sha256="0" * 64)
    saved.write_bytes(saved.read_bytes() + b"\0")  # a changed file
    with pytest.raises(StateError, match=f"expected {sha}"):
        load_model(saved, expected_sha256=sha)
    with pytest.raises(StateError, match="expected"):
        update_current_pointer(saved, expected_sha256=sha)
    assert not (tmp_path / CURRENT_MODEL_NAME).exists()


def test_a_model_saved_by_another_scikit_learn_is_refused(tuned, tmp_path):
    saved = tmp_path / "model.joblib"
    tuned.save(saved)
    sha = hashlib.sha256(saved.read_bytes()).hexdigest()
    manifest = json.loads(manifest_path(saved).read_text())
    manifest["versions"]["scikit-learn"] = "0.24.2"
    manifest_path(saved).write_text(json.dumps(manifest))
    with pytest.raises(StateError, match=r"saved with scikit-learn 0\.24\.2, this is"):
        load_model(saved, expected_sha256=sha)


def test_a_missing_manifest_is_refused(tuned, tmp_path):
    saved = tmp_path / "model.joblib"
    tuned.save(saved)
    manifest_path(saved).unlink()
    with pytest.raises(StateError, match="manifest cannot be read"):
        load_model(saved, expected_sha256=hashlib.sha256(saved.read_bytes()).hexdigest())


def test_features_other_than_the_fitted_ones_are_refused(tuned):
    features = events()[0][["noise_a", "strength", "noise_b"]]
    with pytest.raises(InputError, match="fitted on the features"):
        tuned.filter(features)


def test_it_follows_the_estimator_api(tuned):
    params = tuned.get_params()
    assert params["n_splits"] == 4 and params["tune_threshold"] is True
    assert not hasattr(clone(tuned), "estimator_")


def test_folds_with_a_single_class_are_refused():
    features, labels, starts, ends, _ = events()
    labels[N_EVENTS // 4 :] = 1  # every event after the first fold pays
    with pytest.raises(InputError, match="hold only label 1"):
        MetaLabelingModel(LogisticRegression(), n_splits=4).fit(
            features, labels, starts=starts, ends=ends
        )


def test_folds_without_any_value_of_a_feature_are_refused():
    """A regime not labelled yet in the early history: nothing to learn from it there."""
    features, labels, starts, ends, _ = events()
    features.loc[features.index[: N_EVENTS // 2 + 10], "strength"] = np.nan
    with pytest.raises(InputError, match="have no value of feature 'strength'; train on a long"):
        MetaLabelingModel(n_splits=2).fit(features, labels, starts=starts, ends=ends)


def test_the_default_estimator_is_seeded_and_reproducible():
    features, labels, starts, ends, _ = events()
    settings = {"n_splits": 2, "tune_threshold": False}
    first = MetaLabelingModel(**settings).fit(features, labels, starts=starts, ends=ends)
    second = MetaLabelingModel(**settings).fit(features, labels, starts=starts, ends=ends)
    assert np.array_equal(first.predict_proba(features), second.predict_proba(features))
    assert first.confidence_threshold_ == second.confidence_threshold_


@pytest.mark.parametrize("name", ["balanced_accuracy", "f1", "precision", "recall"])
def test_the_tuning_scores_equal_scikit_learns(name):
    import warnings

    from sklearn import metrics

    from autopilot.meta_labeler import _SCORES

    reference = {
        "balanced_accuracy": metrics.balanced_accuracy_score,
        "f1": lambda t, p: metrics.f1_score(t, p, zero_division=0.0),
        "precision": lambda t, p: metrics.precision_score(t, p, zero_division=0.0),
        "recall": lambda t, p: metrics.recall_score(t, p, zero_division=0.0),
    }[name]
    rng = np.random.default_rng(4)
    cases = [(rng.integers(0, 2, 300), rng.integers(0, 2, 300)) for _ in range(20)]
    cases += [  # the degenerate ones: nothing predicted, all predicted, one class only
        (np.array([0, 1, 1, 0]), np.zeros(4, dtype=int)),
        (np.array([0, 1, 1, 0]), np.ones(4, dtype=int)),
        (np.ones(5, dtype=int), np.array([1, 0, 1, 1, 0])),
        (np.zeros(5, dtype=int), np.array([1, 0, 1, 1, 0])),
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn warns on the degenerate cases
        for truth, said in cases:
            assert _SCORES[name](truth, said) == pytest.approx(reference(truth, said), abs=1e-15)
