"""What a walk left in its state folder, read for the walk report (reads only, takes no lock).

* the engine's committed cycle records (``engine_cycles.jsonl``);
* the models the engine trained (``models/meta_labeler_<as-of>.joblib``), each described by
  its manifest, checked against the model's bytes;
* the registry's decisions of the last cycle (its verdict archive), found by the cycle's
  as-of date;
* the last cycle's candidate returns (``candidates_latest.parquet``), if present.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from autopilot.engine_status import ENGINE_LOG, LATEST_CANDIDATES, MODELS_FOLDER
from autopilot.errors import StateError
from autopilot.market.returns_io import read_candidates
from autopilot.meta_labeler import read_manifest
from autopilot.registry import StrategyRegistry
from autopilot.sdk.verdicts import Decision
from autopilot.state.journal import Journal
from autopilot.stats.batch import CandidateBatch

__all__ = ["ModelValidation", "WalkHistory", "read_walk"]

# The versioned files the engine saves; the current pointer is a copy of one of them.
_TRAINED = re.compile(r"meta_labeler_(\d{4}-\d{2}-\d{2})\.joblib")
# What the report reads of every record; a record without one of these is refused.
_FIELDS = (
    "cycle",
    "as_of",
    "regime",
    "active",
    "promoted",
    "in_grace",
    "removed",
    "meta_label",
    "allocator",
    "cost_surprise_bps",
    "cost_multiplier",
    "cost",
    "equity",
    "market_close",
    "model",
)


@dataclass(frozen=True)
class ModelValidation:
    """One trained model's out-of-sample validation, from its manifest.

    Attributes
    ----------
    trained_on : datetime.date
        The cycle date it was trained on (from its file name).
    file : str
        Its file in the models folder.
    sha256 : str
        Its bytes' hash.
    confidence_threshold : float
        The threshold it filters at.
    validation : dict
        The manifest's ``validation`` (``precision``, ``recall``, ``auc``, ``base_rate``, ...).
    adopted : bool
        Whether a committed cycle used it (a model that did not validate never is).
    """

    trained_on: date
    file: str
    sha256: str
    confidence_threshold: float
    validation: dict[str, Any]
    adopted: bool


@dataclass(frozen=True)
class WalkHistory:
    """A state folder's walk, as the report shows it."""

    state_dir: Path
    records: list[dict[str, Any]]
    models: list[ModelValidation]
    registry_cycle: int | None
    decisions: list[Decision]
    candidates: CandidateBatch | None

    @property
    def last(self) -> dict[str, Any]:
        """The last committed cycle record."""
        return self.records[-1]


def read_walk(state_dir: str | os.PathLike[str]) -> WalkHistory:
    """Read a state folder's walk.

    Raises
    ------
    StateError
        The folder has no committed cycle, a record lacks a field the report reads, a
        model's manifest does not match its file, or a verdict file does not match its
        record.
    InputError
        ``candidates_latest.parquet`` cannot be read as a returns batch.
    """
    folder = Path(state_dir)
    if not folder.is_dir():
        raise StateError(f"{folder}: no such state folder; `autopilot run --init` creates one")
    log = Journal(folder / ENGINE_LOG)
    records = log.committed() if log.path.exists() else []
    if not records:
        raise StateError(
            f"{log.path}: no committed cycle to report on; `autopilot run --state-dir "
            f"{folder}` walks the first"
        )
    for record in records:
        missing = [f for f in _FIELDS if f not in record]
        if missing:
            raise StateError(
                f"{log.path}: the record of cycle {record.get('cycle')} has no "
                f"{', '.join(missing)}; it was written by an older engine: walk again into a "
                f"new state folder"
            )
    registry = StrategyRegistry(folder)
    registry_cycle = _registry_cycle(registry, records[-1]["as_of"])
    decisions = []
    if registry_cycle is not None:
        decisions = [Decision.from_dict(d) for d in registry.cycle_decisions(registry_cycle)]
    latest = folder / LATEST_CANDIDATES
    return WalkHistory(
        state_dir=folder,
        records=records,
        models=_models(folder / MODELS_FOLDER, records),
        registry_cycle=registry_cycle,
        decisions=decisions,
        candidates=read_candidates(latest) if latest.exists() else None,
    )


def _registry_cycle(registry: StrategyRegistry, as_of: str) -> int | None:
    """The registry's committed cycle of the engine's date ``as_of`` (None if it has none)."""
    dated = registry.audit.each_committed(lambda r: (r["cycle"], r.get("as_of")))
    return next((cycle for cycle, day in reversed(dated) if day == as_of), None)


def _models(folder: Path, records: list[dict[str, Any]]) -> list[ModelValidation]:
    used = {r["model"].get("sha256") for r in records}
    found = []
    for path in sorted(folder.glob("meta_labeler_*.joblib")):
        match = _TRAINED.fullmatch(path.name)
        if match is None:
            continue
        manifest = read_manifest(path)
        found.append(
            ModelValidation(
                trained_on=date.fromisoformat(match.group(1)),
                file=path.name,
                sha256=manifest["sha256"],
                confidence_threshold=float(manifest["confidence_threshold"]),
                validation=dict(manifest.get("validation") or {}),
                adopted=manifest["sha256"] in used,
            )
        )
    return found
