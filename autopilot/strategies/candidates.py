"""``candidates build``: the environment's candidates backtested into a wide returns batch.

The batch is the wide layout :func:`autopilot.market.returns_io.read_candidates` reads: a
``date`` column, one float64 column of net simple returns per candidate (named by its
``candidate_id``, NaN before it can trade) and a ``regime`` column: the environment's
``regimes:`` model (:func:`~autopilot.market.regime_models.regimes_from_config`) on the
embedded S&P 500 index up to ``as_of``. Rows before the first candidate trades are left out.
"""

from __future__ import annotations

import io
import logging
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from autopilot._atomic_write import atomic_write_bytes
from autopilot.config import EnvironmentConfig
from autopilot.errors import InputError
from autopilot.market.bundled import load_index, prices_up_to
from autopilot.market.regime_models import regimes_from_config
from autopilot.stats.metrics import MISSING_REGIME
from autopilot.strategies.backtest import backtest
from autopilot.strategies.grid import build_candidates, environment_catalog

__all__ = ["candidate_frame", "write_candidates"]

logger = logging.getLogger(__name__)


def candidate_frame(config: EnvironmentConfig, as_of: date) -> pd.DataFrame:
    """Backtest the environment's candidates on the embedded prices up to ``as_of``.

    Parameters
    ----------
    config : EnvironmentConfig
        Gives the plugin allow-list, the families' grids and the regime model.
    as_of : datetime.date
        The last bar used (inclusive); must lie within the data.

    Returns
    -------
    pandas.DataFrame
        ``date``, one column per candidate, ``regime``.

    Raises
    ------
    InputError
        ``as_of`` is outside the embedded data.
    ConfigError, PluginError
        From the grid and the plugins.
    """
    window = prices_up_to(as_of)
    catalog = environment_catalog(config)
    candidates = build_candidates(config, catalog)
    close = np.ascontiguousarray(window.to_numpy(dtype=np.float64))
    result = backtest(close, candidates)
    frame = pd.DataFrame(result.returns, columns=result.candidate_ids)
    frame.insert(0, "date", window.index.to_numpy())
    # Causal labels: computed on the index up to as_of, they equal those of a longer history.
    regimes = regimes_from_config(load_index().loc[: pd.Timestamp(as_of)], config.regimes)
    labels = regimes.labels.reindex(window.index, fill_value=MISSING_REGIME)
    frame["regime"] = labels.to_numpy(dtype=np.int64)
    traded = ~np.isnan(result.returns).all(axis=1)
    if not traded.any():
        raise InputError(f"no candidate can trade by {as_of.isoformat()}; choose a later date")
    frame = frame.iloc[int(np.argmax(traded)) :].reset_index(drop=True)
    logger.info("%d candidates, %d bars up to %s", len(candidates), len(frame), as_of)
    return frame


def write_candidates(path: Path, config: EnvironmentConfig, as_of: date) -> int:
    """Write :func:`candidate_frame` to the Parquet file ``path``; returns the candidates."""
    if not path.name.lower().endswith((".parquet", ".pq")):
        raise InputError(f"{path}: write the batch to a .parquet file")
    frame = candidate_frame(config, as_of)
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    atomic_write_bytes(path, buffer.getvalue(), keep_backup=False)
    return frame.shape[1] - 2
