"""Shared fixtures: configuration helpers and small batches."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from autopilot import Gate, hookimpl
from autopilot.config import config_from_dict, packaged_config_dir
from autopilot.promotion_gate import GateSet
from autopilot.sdk.plugins import InstalledPlugin, load_gate_catalog
from autopilot.stats.batch import CandidateBatch

ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = packaged_config_dir()  # the default environments, shipped inside the package


def make_gate_set(gates: dict, *, extra_gates: Sequence[type[Gate]] = (), **settings) -> GateSet:
    """A gate set from an in-memory configuration (a fresh plugin manager each time).

    ``extra_gates`` are registered by an in-process plugin ``test_gates``, next to the
    built-in gates.
    """
    data = {"environment": "test", "periods_per_year": 252, "gates": gates, **settings}
    catalog = None
    if extra_gates:
        plugin = InstalledPlugin("test_gates", "tests", "tests", "0")
        module = SimpleNamespace(autopilot_register_gates=hookimpl(lambda: list(extra_gates)))
        catalog = load_gate_catalog(extra_plugins=[(plugin, module)])
    return GateSet(config_from_dict(data), catalog=catalog)


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium, installed with apt-get when missing; a failure fails the test."""
    from tests.browser import ensure_chromium

    try:
        return ensure_chromium()
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        pytest.fail(f"no headless browser for the report tests: {exc}")


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
