"""Shared fixtures: configuration helpers and small batches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from autopilot.config import config_from_dict
from autopilot.promotion_gate import GateSet
from autopilot.stats.batch import CandidateBatch

ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = ROOT / "configs"


def make_gate_set(gates: dict, **settings) -> GateSet:
    """A gate set from an in-memory configuration (a fresh plugin manager each time)."""
    data = {"environment": "test", "periods_per_year": 252, "gates": gates, **settings}
    return GateSet(config_from_dict(data))


@pytest.fixture
def config_dir() -> Path:
    return CONFIG_DIR


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


def batch_of(columns: dict[str, list[float] | np.ndarray], regimes=None) -> CandidateBatch:
    """A batch from equally long columns keyed by strategy id."""
    ids = list(columns)
    matrix = np.column_stack([np.asarray(columns[k], dtype=float) for k in ids])
    return CandidateBatch(matrix, ids, regimes=regimes)
