"""`autopilot model show` and `model use`: manifests, validation, the current model."""

from __future__ import annotations

import hashlib
import json
import re
import shutil

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from autopilot import cli
from autopilot.config import load_config
from autopilot.errors import ConfigError
from autopilot.meta_labeler import CURRENT_MODEL_NAME, MetaLabelingModel, load_model, manifest_path
from tests.conftest import CONFIG_DIR


@pytest.fixture(scope="module")
def model() -> MetaLabelingModel:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(300, 2))
    labels = (x[:, 0] + rng.normal(0, 0.5, 300) > 0).astype(int)
    starts = np.arange(300) * 3
    return MetaLabelingModel(LogisticRegression(), n_splits=3).fit(
        pd.DataFrame(x, columns=["a", "b"]), labels, starts=starts, ends=starts + 2
    )


@pytest.fixture
def state(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["init", "--state-dir", "state"]) == 0
    return tmp_path / "state"


def test_use_validates_then_makes_the_model_current_and_show_reads_it(model, state, capsys):
    saved = state.parent / "candidate.joblib"
    model.save(saved)
    assert cli.main(["model", "use", str(saved)]) == 0
    current = state / "models" / CURRENT_MODEL_NAME
    assert current.read_bytes() == saved.read_bytes()
    capsys.readouterr()
    assert cli.main(["model", "show", "--format", "json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["kind"] == "meta_labeler" and payload["path"] == str(
        state.joinpath("models", CURRENT_MODEL_NAME).relative_to(state.parent)
    )
    sha = hashlib.sha256(saved.read_bytes()).hexdigest()
    assert payload["manifest"]["sha256"] == sha
    assert payload["manifest"]["confidence_threshold"] == model.confidence_threshold_
    assert load_model(current, expected_sha256=sha).confidence_threshold_ == (
        model.confidence_threshold_
    )
    assert cli.main(["model", "show"]) == 0
    assert f"threshold  {model.confidence_threshold_:.4f} (tuned)" in capsys.readouterr().out


def test_a_model_that_does_not_match_its_manifest_is_not_made_current(model, state, capsys):
    saved = state.parent / "candidate.joblib"
    model.save(saved)
    saved.write_bytes(saved.read_bytes()[:-1])
    assert cli.main(["model", "use", str(saved)]) == 2
    assert "does not describe candidate.joblib" in capsys.readouterr().err
    assert not (state / "models" / CURRENT_MODEL_NAME).exists()


def test_a_model_from_another_scikit_learn_is_not_made_current(model, state, capsys):
    saved = state.parent / "candidate.joblib"
    model.save(saved)
    manifest = json.loads(manifest_path(saved).read_text())
    manifest["versions"]["scikit-learn"] = "1.0"
    manifest_path(saved).write_text(json.dumps(manifest))
    assert cli.main(["model", "use", str(saved)]) == 2
    assert "saved with scikit-learn 1.0" in capsys.readouterr().err
    assert not (state / "models").exists()


def test_show_without_a_current_model_says_so(state, capsys):
    assert cli.main(["model", "show"]) == 2
    assert "cannot read the model" in capsys.readouterr().err


TSMOM = "tsmom(lookback=126, skip=21, long_only=false)"
MA_CROSS = "ma_cross(fast=20, slow=200, long_only=false)"


def test_train_fits_on_named_strategies_and_saves_without_making_it_current(state, capsys):
    argv = ["model", "train", "--env", "dev", "--as-of", "1999-12-31"]
    assert cli.main([*argv, "--strategy", TSMOM, "--strategy", MA_CROSS]) == 0
    saved = state / "models" / "meta_labeler_1999-12-31.joblib"
    manifest = json.loads(manifest_path(saved).read_text())
    assert manifest["events"] > 1000
    assert "family=tsmom" in manifest["features"]  # the family, so any tsmom is filtered
    # Trained on events labelled by the training date only: 1999-12-31 is bar 2,527.
    assert manifest["training_window"][1] <= 2527
    assert not (state / "models" / CURRENT_MODEL_NAME).exists()
    out = capsys.readouterr().out
    assert f"`autopilot model use {saved.relative_to(state.parent)}` makes it current" in out
    assert cli.main(["model", "use", str(saved)]) == 0


def test_train_without_active_strategies_or_names_is_refused(state, capsys):
    assert cli.main(["model", "train", "--env", "dev", "--as-of", "1999-12-31"]) == 2
    assert "the registry has no active strategy to learn from" in capsys.readouterr().err


def test_train_refuses_an_id_that_is_not_a_candidate(state, capsys):
    argv = ["model", "train", "--env", "dev", "--as-of", "1999-12-31", "--strategy", "tsmom(x=1)"]
    assert cli.main(argv) == 2
    assert "'tsmom(x=1)' is not a candidate of environment 'dev'" in capsys.readouterr().err


def test_the_environments_meta_labeling_settings_reach_the_model(state, capsys):
    """With tuning off, the configured threshold is the one the saved model filters at."""
    shutil.copytree(CONFIG_DIR, state.parent / "configs")
    (state.parent / "configs" / "fixed.yaml").write_text(
        "extends: dev.yaml\n"
        "meta_labeling: {tune_threshold: false, confidence_threshold: 0.65, max_bars: 5}\n"
    )
    argv = ["model", "train", "--env", "fixed", "--as-of", "1999-12-31", "--strategy", TSMOM]
    assert cli.main(argv) == 0
    saved = state / "models" / "meta_labeler_1999-12-31.joblib"
    manifest = json.loads(manifest_path(saved).read_text())
    assert (manifest["confidence_threshold"], manifest["threshold_tuned"]) == (0.65, False)
    sha = hashlib.sha256(saved.read_bytes()).hexdigest()
    features = pd.DataFrame(np.zeros((1, len(manifest["features"]))), columns=manifest["features"])
    assert load_model(saved, expected_sha256=sha).filter(features).threshold == 0.65


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("{confidence_threshold: 1.5}", "meta_labeling.confidence_threshold: must be in (0, 1)"),
        ("{scoring: auc}", "meta_labeling.scoring: must be one of 'balanced_accuracy'"),
        ("{n_splits: 1}", "meta_labeling.n_splits: must be in [2, 50], was 1"),
        ("{tune_threshold: 1}", "meta_labeling.tune_threshold: must be of type bool"),
        ("{barrier: 2}", "meta_labeling.barrier"),
        ("", "meta_labeling: is empty (null)"),
    ],
)
def test_bad_meta_labeling_settings_are_refused_naming_file_and_key(tmp_path, section, message):
    shutil.copytree(CONFIG_DIR, tmp_path / "configs")
    bad = tmp_path / "configs" / "bad.yaml"
    bad.write_text(f"extends: base.yaml\nmeta_labeling: {section}\n")
    with pytest.raises(ConfigError, match=re.escape(f"{bad}: {message}")):
        load_config("bad", tmp_path / "configs")
