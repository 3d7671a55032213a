"""The meta-labeler: which primary signals to trust (seed T6, T7).

:class:`MetaLabelingModel` is a scikit-learn classifier of trade events (features known at
the entry bar; triple-barrier labels from :mod:`autopilot.strategies.triple_barrier`). It
follows the estimator API (``fit``, ``predict_proba``, ``predict``, fitted attributes
ending in ``_``) and adds what the autopilot needs around it:

- **its own threshold** (T6): ``fit`` tunes the probability threshold with
  scikit-learn's ``TunedThresholdClassifierCV`` over purged, embargoed folds
  (:class:`autopilot.stats.purged_cv.PurgedKFold`, never shuffled) and stores it as
  ``confidence_threshold_``; :meth:`MetaLabelingModel.filter` keeps a signal when its
  probability is at least that value, whatever any configuration says, and reports the
  threshold it used. With tuning off, the ``confidence_threshold`` parameter is stored;
- **honest validation**: every fold's model and threshold are fitted on that fold's
  training events only (a nested tuning), so ``validation_`` holds out-of-sample figures;
- **one thread**: fits and predictions run with the OpenMP and BLAS pools limited to one
  thread (threadpoolctl). The figures then do not depend on the machine's thread count,
  and a busy machine does not stall them: gradient boosting on two OpenMP threads of a
  loaded 2-core machine took 15 s for what one thread does in 0.35 s. Folds, not threads,
  are what a parallel executor spreads;
- **saving is not publishing** (T7): :meth:`~MetaLabelingModel.save` writes the model file
  and a manifest beside it, atomically, and nothing else; :func:`update_current_pointer`
  is the separate, explicit step that makes a saved model current;
- **loading is pinned**: a joblib file runs code when loaded, so :func:`load_model` checks
  the file's sha256 against a value the caller keeps, before unpickling, and refuses a
  model saved by another scikit-learn version.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import platform
import sys
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import sklearn
from joblib.numpy_pickle import NumpyPickler
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import make_scorer, precision_score, recall_score, roc_auc_score
from sklearn.model_selection import TunedThresholdClassifierCV
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from autopilot._atomic_write import atomic_write_bytes
from autopilot.errors import InputError, StateError
from autopilot.executor import Executor
from autopilot.stats.purged_cv import PurgedKFold

__all__ = [
    "CURRENT_MODEL_NAME",
    "FilterResult",
    "MetaLabelingModel",
    "load_model",
    "manifest_path",
    "read_manifest",
    "update_current_pointer",
]

logger = logging.getLogger(__name__)

CURRENT_MODEL_NAME = "meta_labeler_current.joblib"
_MANIFEST_SUFFIX = ".manifest.json"
_MANIFEST_SCHEMA = 1


@dataclass(frozen=True)
class FilterResult:
    """What :meth:`MetaLabelingModel.filter` decided, and with which threshold.

    Attributes
    ----------
    keep : ndarray of bool
        True for the signals kept.
    probability : ndarray of float
        Each signal's probability of paying.
    threshold : float
        The model's own ``confidence_threshold_`` the probabilities were compared with.
    """

    keep: np.ndarray
    probability: np.ndarray
    threshold: float


class MetaLabelingModel(ClassifierMixin, BaseEstimator):
    """A classifier of trade events with its own tuned decision threshold.

    Parameters
    ----------
    estimator : scikit-learn classifier, optional
        The probabilistic classifier; by default a ``HistGradientBoostingClassifier``
        (shallow, regularised, seeded with ``random_state``).
    tune_threshold : bool
        Tune the threshold during ``fit`` (the default); when False,
        ``confidence_threshold`` is stored as is.
    confidence_threshold : float
        The threshold used when tuning is off, in (0, 1).
    n_splits : int
        Purged folds for tuning and for validation, at least 2.
    embargo : int
        Bars after each validation fold in which no training event may start.
    scoring : str
        The scikit-learn score the threshold maximises. ``"balanced_accuracy"`` (the
        default) weighs the trades kept that pay and the trades dropped that lose alike;
        ``"f1"`` favours keeping paying trades and, with a weak signal and a base rate
        near one half, keeps nearly every signal.
    random_state : int
        Seed of the default estimator.

    Attributes
    ----------
    estimator_ : classifier
        Fitted on every event given to ``fit``.
    confidence_threshold_ : float
        The threshold :meth:`filter` and :meth:`predict` use.
    classes_ : ndarray
        ``[0, 1]``.
    feature_names_in_ : ndarray of str
        The feature columns, in order; later inputs must have exactly these.
    n_features_in_ : int
    n_events_ : int
        Events the model was fitted on.
    training_window_ : tuple of int
        First entry bar and last label bar of those events.
    validation_ : dict
        Out-of-sample figures of the purged folds: ``auc``, ``precision``, ``recall``,
        ``base_rate``, ``kept_share``, per-fold ``thresholds``, and, when ``returns`` were
        given, ``sharpe_filtered`` and ``sharpe_unfiltered`` (per event, not annualised).
    """

    def __init__(
        self,
        estimator: Any = None,
        *,
        tune_threshold: bool = True,
        confidence_threshold: float = 0.5,
        n_splits: int = 5,
        embargo: int = 5,
        scoring: str = "balanced_accuracy",
        random_state: int = 0,
    ) -> None:
        self.estimator = estimator
        self.tune_threshold = tune_threshold
        self.confidence_threshold = confidence_threshold
        self.n_splits = n_splits
        self.embargo = embargo
        self.scoring = scoring
        self.random_state = random_state

    def fit(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        *,
        starts: np.ndarray,
        ends: np.ndarray,
        returns: np.ndarray | None = None,
        executor: Executor | None = None,
    ) -> MetaLabelingModel:
        """Fit on labelled events, tuning the threshold over purged folds.

        Parameters
        ----------
        X : DataFrame, shape (E, F)
            Features known at each event's entry bar, one named column each.
        y : array-like of {0, 1}, shape (E,)
            Triple-barrier labels.
        starts, ends : array-like of int, shape (E,)
            Each event's entry bar and the bar its label became known (for purging).
        returns : array-like of float, shape (E,), optional
            Each event's realised return, for the validation's Sharpe figures.
        executor : Executor, optional
            Where the outer validation folds run (:mod:`autopilot.executor`): this process
            by default; the figures are the same anywhere.

        Returns
        -------
        MetaLabelingModel
            ``self``, fitted.
        """
        if self.scoring not in _SCORES:
            raise InputError(f"scoring must be one of {sorted(_SCORES)}, was {self.scoring!r}")
        features, labels = self._check_training(X, y, starts, ends)
        with threadpool_limits(limits=1):
            return self._fit(
                features, labels, np.asarray(starts), np.asarray(ends), returns, executor
            )

    def _fit(
        self,
        features: pd.DataFrame,
        labels: np.ndarray,
        starts: np.ndarray,
        ends: np.ndarray,
        returns: np.ndarray | None,
        executor: Executor | None,
    ) -> MetaLabelingModel:
        splitter = PurgedKFold(self.n_splits, self.embargo)
        folds = list(splitter.split(starts, ends))
        known = features.notna().to_numpy()
        for train, _ in folds:
            if np.unique(labels[train]).size < 2:
                raise InputError(
                    f"a purged fold's training events hold only label {labels[train][0]}; "
                    f"label more events or lower n_splits (now {self.n_splits})"
                )
            empty = ~known[train].any(axis=0)
            if empty.any():
                # Nothing can be learnt from it (and gradient boosting fails on it).
                name = features.columns[int(np.argmax(empty))]
                raise InputError(
                    f"a purged fold's training events (entry bars {int(starts[train].min())}"
                    f"..{int(starts[train].max())}) have no value of feature {name!r}; train "
                    f"on a longer history (the regime model and the rolling features need "
                    f"theirs first) or lower n_splits (now {self.n_splits})"
                )
        self.estimator_, self.confidence_threshold_ = self._fit_with_threshold(
            features, labels, folds
        )
        self.classes_ = np.array([0, 1])
        self.feature_names_in_ = np.asarray(features.columns, dtype=object)
        self.n_features_in_ = features.shape[1]
        self.n_events_ = int(labels.size)
        self.training_window_ = (int(np.min(starts)), int(np.max(ends)))
        self.validation_ = self._validate(
            features, labels, starts, ends, folds, returns, executor or Executor()
        )
        logger.info(
            "meta-labeler fitted on %d events, threshold %.4f, out-of-sample AUC %.3f",
            self.n_events_,
            self.confidence_threshold_,
            self.validation_["auc"],
            extra={"confidence_threshold": self.confidence_threshold_},
        )
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Probabilities of ``[0, 1]`` per event, shape (E, 2)."""
        check_is_fitted(self, "estimator_")
        with threadpool_limits(limits=1):
            return np.asarray(self.estimator_.predict_proba(self._features(X)))

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """1 where the probability of paying is at least ``confidence_threshold_``."""
        return (self.predict_proba(X)[:, 1] >= self.confidence_threshold_).astype(np.int64)

    def filter(self, X: pd.DataFrame) -> FilterResult:
        """Keep the signals whose probability is at least the model's own threshold (T6).

        The threshold comes from the fitted model, never from a configuration, and is
        returned with the decision and logged as the ``confidence_threshold`` field.
        """
        probability = self.predict_proba(X)[:, 1]
        threshold = float(self.confidence_threshold_)
        keep = probability >= threshold
        logger.info(
            "meta-label filter kept %d of %d signals at threshold %.4f",
            int(keep.sum()),
            keep.size,
            threshold,
            extra={"confidence_threshold": threshold},
        )
        return FilterResult(keep, probability, threshold)

    def save(self, path: str | Path) -> Path:
        """Write the model to ``path`` and its manifest beside it; nothing else (T7).

        Both files are replaced atomically (temporary file, fsync, rename), and no model
        becomes current: that is :func:`update_current_pointer`'s job.

        Returns
        -------
        Path
            The manifest's path.
        """
        check_is_fitted(self, "estimator_")
        target = Path(path)
        buffer = io.BytesIO()
        _CanonicalPickler(buffer).dump(self)
        data = buffer.getvalue()
        manifest = self._manifest(hashlib.sha256(data).hexdigest())
        atomic_write_bytes(target, data, keep_backup=False)
        written = manifest_path(target)
        atomic_write_bytes(written, _manifest_bytes(manifest), keep_backup=False)
        return written

    # ------------------------------------------------------------------ internals

    def _default_estimator(self) -> Any:
        if self.estimator is not None:
            return clone(self.estimator)
        return HistGradientBoostingClassifier(
            max_depth=3,
            learning_rate=0.1,
            max_iter=100,
            l2_regularization=1.0,
            early_stopping=False,  # its validation split would be a shuffled one
            random_state=self.random_state,
        )

    def _fit_with_threshold(
        self,
        features: pd.DataFrame,
        labels: np.ndarray,
        folds: list[tuple[np.ndarray, np.ndarray]],
    ) -> tuple[Any, float]:
        """A classifier fitted on all of ``features`` and the threshold to use with it."""
        if not self.tune_threshold:
            fitted = self._default_estimator().fit(features, labels)
            return fitted, float(self.confidence_threshold)
        tuned = TunedThresholdClassifierCV(
            self._default_estimator(),
            scoring=make_scorer(_SCORES[self.scoring]),
            response_method="predict_proba",
            cv=folds,
            refit=True,
        ).fit(features, labels)
        return tuned.estimator_, float(tuned.best_threshold_)

    def _validate(
        self,
        features: pd.DataFrame,
        labels: np.ndarray,
        starts: np.ndarray,
        ends: np.ndarray,
        folds: list[tuple[np.ndarray, np.ndarray]],
        returns: np.ndarray | None,
        executor: Executor,
    ) -> dict[str, Any]:
        """Out-of-sample figures: each fold predicted by a model tuned on its training part."""
        probability = np.full(labels.size, np.nan)
        kept = np.zeros(labels.size, dtype=bool)
        thresholds = []
        tested = np.zeros(labels.size, dtype=bool)
        # The outer folds run on the executor (this process, local processes or a Dask
        # cluster, the data sent to each worker once); each gives the same numbers anywhere.
        data = (features, labels, starts, ends)
        outcomes = executor.map(
            _run_outer_fold, [(self, *data, train, test) for train, test in folds], shared=data
        )
        for (_, test), (scores, threshold) in zip(folds, outcomes, strict=True):
            probability[test] = scores
            kept[test] = scores >= threshold
            tested[test] = True
            thresholds.append(threshold)
        truth, score, chosen = labels[tested], probability[tested], kept[tested]
        figures: dict[str, Any] = {
            "folds": len(folds),
            "events": int(tested.sum()),
            "auc": float(roc_auc_score(truth, score)) if np.unique(truth).size == 2 else None,
            "precision": float(precision_score(truth, chosen, zero_division=0.0)),
            "recall": float(recall_score(truth, chosen, zero_division=0.0)),
            "base_rate": float(truth.mean()),
            "kept_share": float(chosen.mean()),
            "thresholds": thresholds,
        }
        if returns is not None:
            realised = np.asarray(returns, dtype=np.float64)[tested]
            figures["sharpe_unfiltered"] = _sharpe(realised)
            figures["sharpe_filtered"] = _sharpe(realised[chosen])
        return figures

    def _outer_fold(
        self,
        features: pd.DataFrame,
        labels: np.ndarray,
        starts: np.ndarray,
        ends: np.ndarray,
        train: np.ndarray,
        test: np.ndarray,
    ) -> tuple[np.ndarray, float]:
        """One outer fold: a model tuned on ``train``, its probabilities on ``test``."""
        with threadpool_limits(limits=1):  # also in a worker process
            inner = list(PurgedKFold(self.n_splits, self.embargo).split(starts[train], ends[train]))
            usable = all(np.unique(labels[train][t]).size == 2 for t, _ in inner)
            if self.tune_threshold and usable:
                model, threshold = self._fit_with_threshold(
                    features.iloc[train], labels[train], inner
                )
            else:
                model = self._default_estimator().fit(features.iloc[train], labels[train])
                threshold = float(self.confidence_threshold)
            return model.predict_proba(features.iloc[test])[:, 1], threshold

    def _check_training(
        self, X: pd.DataFrame, y: np.ndarray, starts: np.ndarray, ends: np.ndarray
    ) -> tuple[pd.DataFrame, np.ndarray]:
        if not isinstance(X, pd.DataFrame):
            raise InputError(
                f"features must be a DataFrame with named columns, got {type(X).__name__}"
            )
        labels = np.asarray(y)
        if labels.shape != (len(X),) or not np.isin(labels, (0, 1)).all():
            raise InputError(f"labels must be 0 or 1, one per event ({len(X)} events)")
        if np.asarray(starts).shape != labels.shape or np.asarray(ends).shape != labels.shape:
            raise InputError("starts and ends must give one bar per event")
        if not 0.0 < float(self.confidence_threshold) < 1.0:
            raise InputError(
                f"The 'confidence_threshold' parameter must be in (0, 1), was "
                f"{self.confidence_threshold!r}."
            )
        return X, labels.astype(np.int64)

    def _features(self, X: pd.DataFrame) -> pd.DataFrame:
        expected = list(self.feature_names_in_)
        if not isinstance(X, pd.DataFrame) or list(X.columns) != expected:
            given = list(X.columns) if isinstance(X, pd.DataFrame) else type(X).__name__
            raise InputError(
                f"the meta-labeler was fitted on the features {expected}, got {given}; build "
                f"the features with the same code and version that trained it, or retrain"
            )
        return X

    def _manifest(self, sha256: str) -> dict[str, Any]:
        return {
            "schema_version": _MANIFEST_SCHEMA,
            "kind": "meta_labeler",
            "sha256": sha256,
            "confidence_threshold": self.confidence_threshold_,
            "threshold_tuned": bool(self.tune_threshold),
            "features": [str(f) for f in self.feature_names_in_],
            "classes": [int(c) for c in self.classes_],
            "training_window": list(self.training_window_),
            "events": self.n_events_,
            "validation": self.validation_,
            "versions": _versions(),
        }


def manifest_path(model: str | Path) -> Path:
    """The manifest written beside a model file: ``<name>.manifest.json``."""
    model = Path(model)
    return model.with_name(model.name + _MANIFEST_SUFFIX)


def update_current_pointer(
    saved: str | Path, *, expected_sha256: str, folder: str | Path | None = None
) -> Path:
    """Make a saved, validated model current: copy it to ``meta_labeler_current.joblib``.

    The copy (and its manifest) land atomically in ``folder`` (by default the saved
    model's own). The file is checked against ``expected_sha256`` first, so what becomes
    current is exactly the model the caller validated.

    Returns
    -------
    Path
        The current model's path.
    """
    source = Path(saved)
    data = _read_pinned(source, expected_sha256)
    manifest = _read_manifest(source, expected_sha256)
    current = Path(folder if folder is not None else source.parent) / CURRENT_MODEL_NAME
    if source.resolve() != current.resolve():
        atomic_write_bytes(manifest_path(current), _manifest_bytes(manifest), keep_backup=False)
        atomic_write_bytes(current, data, keep_backup=False)
    logger.info("meta-labeler %s is current (%s)", source, expected_sha256[:12])
    return current


def read_manifest(path: str | Path) -> dict[str, Any]:
    """The manifest of a saved model, checked against the model file's bytes.

    Raises
    ------
    StateError
        The model or its manifest cannot be read, or the manifest describes other bytes.
    """
    source = Path(path)
    try:
        sha256 = hashlib.sha256(source.read_bytes()).hexdigest()
    except OSError as exc:
        raise StateError(f"{source}: cannot read the model: {exc.strerror or exc}") from exc
    return _read_manifest(source, sha256)


def load_model(path: str | Path, *, expected_sha256: str) -> MetaLabelingModel:
    """Load a saved model, pinned to the sha256 the caller keeps.

    The file's sha256 is compared with ``expected_sha256`` before it is unpickled (a
    joblib file runs code when loaded), then its manifest's scikit-learn version with the
    one installed.

    Raises
    ------
    StateError
        The file is missing, its hash is not the expected one, its manifest is missing or
        disagrees, or it was saved by another scikit-learn version.
    """
    source = Path(path)
    data = _read_pinned(source, expected_sha256)
    manifest = _read_manifest(source, expected_sha256)
    saved_with = manifest.get("versions", {}).get("scikit-learn")
    if saved_with != sklearn.__version__:
        raise StateError(
            f"{source}: saved with scikit-learn {saved_with}, this is {sklearn.__version__}; "
            f"retrain the model here (`autopilot model train`) or install "
            f"scikit-learn=={saved_with}"
        )
    model = joblib.load(io.BytesIO(data))
    if not isinstance(model, MetaLabelingModel):
        raise StateError(f"{source}: holds a {type(model).__name__}, not a MetaLabelingModel")
    return model


def _confusion(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[int, int, int, int]:
    """``(tp, fp, fn, tn)`` of the positive class 1."""
    truth = np.asarray(y_true) == 1
    said = np.asarray(y_pred) == 1
    tp = int(np.count_nonzero(truth & said))
    fp = int(np.count_nonzero(~truth & said))
    fn = int(np.count_nonzero(truth & ~said))
    return tp, fp, fn, truth.size - tp - fp - fn


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else 0.0  # scikit-learn's zero_division


def _balanced_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    tp, fp, fn, tn = _confusion(y_true, y_pred)
    # The mean recall of the classes present in y_true (scikit-learn drops an absent one).
    recalls = [tp / (tp + fn)] if tp + fn else []
    recalls += [tn / (tn + fp)] if tn + fp else []
    return float(np.mean(recalls))


def _precision(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    tp, fp, _, _ = _confusion(y_true, y_pred)
    return _ratio(tp, tp + fp)


def _recall(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    tp, _, fn, _ = _confusion(y_true, y_pred)
    return _ratio(tp, tp + fn)


def _f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    tp, fp, fn, _ = _confusion(y_true, y_pred)
    return _ratio(2 * tp, 2 * tp + fp + fn)


#: The threshold-tuning scores, from confusion counts: scikit-learn's metrics of the same
#: names give the same values but check their inputs on each of the hundred thresholds of
#: every fold, which was a third of a training.
_SCORES = {
    "balanced_accuracy": _balanced_accuracy,
    "f1": _f1,
    "precision": _precision,
    "recall": _recall,
}


class _CanonicalPickler(NumpyPickler):
    """joblib's pickler, writing equal strings the same way in any process.

    A pickle refers back to an object it already wrote by identity: whether two equal
    strings are one object (interned) depends on what the process ran before, and changed
    the bytes, hence the sha256, of equal models. Every string this pickler writes is
    interned first, so equal strings are one object. (joblib writes object arrays with a
    plain pickler, which this does not reach; a model's are its unique feature names.)
    joblib.load reads the result as any joblib file.
    """

    def save(self, obj: Any) -> None:
        """Write ``obj``, a string as its interned copy."""
        super().save(sys.intern(obj) if type(obj) is str else obj)


def _manifest_bytes(manifest: dict[str, Any]) -> bytes:
    return (json.dumps(manifest, indent=1, sort_keys=True, allow_nan=False) + "\n").encode()


def _read_pinned(path: Path, expected_sha256: str) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise StateError(f"{path}: cannot read the model: {exc.strerror or exc}") from exc
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected_sha256:
        raise StateError(
            f"{path}: sha256 is {actual}, expected {expected_sha256}; the file is not the "
            f"model that was validated: restore it, or validate and pin this one"
        )
    return data


def _read_manifest(model: Path, sha256: str) -> dict[str, Any]:
    path = manifest_path(model)
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise StateError(f"{path}: the model's manifest cannot be read: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("sha256") != sha256:
        raise StateError(
            f"{path}: does not describe {model.name} (sha256 {sha256}); save the model again"
        )
    return manifest


def _run_outer_fold(model: MetaLabelingModel, *fold: Any) -> tuple[np.ndarray, float]:
    """``model._outer_fold(*fold)`` (a module function: an executor sends it by reference)."""
    return model._outer_fold(*fold)


def _sharpe(returns: np.ndarray) -> float | None:
    if returns.size < 2 or not np.std(returns, ddof=1) > 0.0:
        return None
    return float(np.mean(returns) / np.std(returns, ddof=1))


def _versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "strategy-autopilot": version("strategy-autopilot"),
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "joblib": joblib.__version__,
    }
