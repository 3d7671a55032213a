"""Where a state folder's walk stands, read without the numerical stack (``autopilot status``).

It reads the registry, the book and the engine's last record and state; the current model
is described from its manifest (the engine checks the model's hash whenever it loads it).
Reading writes nothing and takes no lock.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from autopilot.errors import StateError
from autopilot.paper_trader import PaperTrader
from autopilot.registry import StrategyRegistry
from autopilot.state.journal import Journal

__all__ = [
    "CURRENT_MODEL",
    "ENGINE_LOG",
    "ENGINE_PLANS",
    "ENGINE_STATE",
    "LATEST_CANDIDATES",
    "MODELS_FOLDER",
    "engine_status",
]

ENGINE_STATE = "engine.json"
ENGINE_LOG = "engine_cycles.jsonl"
ENGINE_PLANS = "engine_plans.jsonl"
LATEST_CANDIDATES = "candidates_latest.parquet"
MODELS_FOLDER = "models"
# autopilot.meta_labeler.CURRENT_MODEL_NAME, without scikit-learn.
CURRENT_MODEL = "meta_labeler_current.joblib"


def engine_status(state_dir: Path) -> dict[str, Any]:
    """The active set, the book, the model and the last cycle of a state folder.

    Raises
    ------
    StateError
        The folder holds no state, or a file cannot be read.
    """
    active, last_registry = StrategyRegistry(state_dir).snapshot()
    book, _, calibrator = PaperTrader(state_dir).snapshot()
    log = Journal(state_dir / ENGINE_LOG)
    records = log.committed_after(0) if log.path.exists() else []
    last = records[-1] if records else None
    return {
        "state_dir": str(state_dir),
        "environment": last_registry.environment,
        "last_cycle": last,
        "active": [record.to_dict() for _, record in sorted(active.items())],
        "book": {
            "equity": book.equity(),
            "cash": book.cash,
            "weights": book.current_weights(),
            "cost_multiplier": calibrator.multiplier,
        },
        "model": _model(state_dir, last),
    }


def _model(state_dir: Path, last: dict[str, Any] | None) -> dict[str, Any] | None:
    """The recorded model, described from its own manifest (not the current pointer's)."""
    model = (last or {}).get("model", {})
    recorded = model.get("sha256")
    if recorded is None:
        return None
    path = state_dir / MODELS_FOLDER / (str(model.get("file")) + ".manifest.json")
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise StateError(f"{path}: cannot read the recorded model's manifest: {exc}") from exc
    if manifest.get("sha256") != recorded:
        raise StateError(
            f"{path}: describes model {manifest.get('sha256')}, the engine records {recorded}"
        )
    return {
        "sha256": recorded,
        "file": model.get("file"),
        "confidence_threshold": manifest.get("confidence_threshold"),
        "training_window": manifest.get("training_window"),
        "validation": manifest.get("validation"),
    }
