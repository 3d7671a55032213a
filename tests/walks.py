"""A small environment for walks of the engine: a few candidates, short windows, fast fits.

Shared by the end-to-end walk tests and the engine's crash loop (whose worker imports it
as a script), so both walk exactly the same thing.
"""

from __future__ import annotations

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
