"""A small environment for walks of the engine: a few candidates, short windows, fast fits.

Shared by the end-to-end walk tests and the engine's crash loop (whose worker imports it
as a script), so both walk exactly the same thing.
"""

from __future__ import annotations

import json
from pathlib import Path

SMALL_ENV = """\
extends: {base}
strategies:
  families:
    tsmom: {{lookback: [63, 126], skip: 0, long_only: true}}
    ma_cross: {{fast: 10, slow: 100, long_only: true}}
    mean_reversion: {{enabled: false}}
    vol_breakout: {{window: 50, k: 1.0, long_only: true}}
    low_vol: {{window: 63, fraction: 0.3}}
gates:
  sharpe: {{params: {{min: 0.0}}}}
  probabilistic_sharpe: {{params: {{min_probability: 0.5}}}}
  max_drawdown: {{params: {{max: 0.6}}}}
  transition_drawdown: {{params: {{max: 0.6, window: 3}}}}
meta_labeling: {{tune_threshold: false, confidence_threshold: 0.45, n_splits: 2, max_bars: 5}}
engine:
  history_bars: 504
  covariance_bars: 126
  retrain_every: 3
  training_bars: 400
allocator:
  mode: full
"""


def write_small_env(folder: Path, name: str = "small") -> Path:
    """Write the small environment (extending the shipped base) into ``folder``."""
    from autopilot.config import packaged_config_dir

    path = folder / f"{name}.yaml"
    path.write_text(SMALL_ENV.format(base=packaged_config_dir() / "base.yaml"))
    return path


#: The files a walk's state is made of (timestamps aside, equal for equal walks).
STATE_FILES = (
    "registry.json",
    "portfolio.json",
    "cost_calibrator.json",
    "engine.json",
    "registry_audit.jsonl",
    "trades.jsonl",
    "engine_cycles.jsonl",
    "engine_plans.jsonl",
    "models/meta_labeler_current.joblib",
)
_WALL_CLOCK = {"time", "saved_at", "promoted_at", "written_at"}


def without_times(value):
    """A state file's content with its wall-clock fields dropped (they differ by run)."""
    if isinstance(value, dict):
        return {k: without_times(v) for k, v in value.items() if k not in _WALL_CLOCK}
    if isinstance(value, list):
        return [without_times(v) for v in value]
    return value


def state_of(folder: Path) -> dict[str, object]:
    """Every state file of a folder, as data (JSON and JSON Lines) or bytes.

    The bytes of every model and manifest, of the registry's verdict files and of the last
    candidate batch are part of it.
    """
    from autopilot.state.journal import Journal

    state: dict[str, object] = {}
    for name in STATE_FILES:
        path = folder / name
        if name.endswith(".jsonl"):
            state[name] = without_times(list(Journal(path)))
        elif name.endswith(".json"):
            state[name] = without_times(json.loads(path.read_text()))
        else:
            state[name] = path.read_bytes()
    for path in sorted([*folder.glob("models/*"), *folder.glob("registry_verdicts/*")]):
        state[str(path.relative_to(folder))] = path.read_bytes()
    state["candidates_latest.parquet"] = (folder / "candidates_latest.parquet").read_bytes()
    return state


def walk_argv(env: Path, state: Path, start: str, end: str, *extra: str) -> list[str]:
    """``autopilot run`` of the small environment between two dates."""
    return [
        "run",
        "--env",
        str(env),
        "--state-dir",
        str(state),
        "--start",
        start,
        "--end",
        end,
        *extra,
    ]
