"""``candidates build``: the environment's candidates backtested into a wide returns batch.

The batch is the wide layout :func:`autopilot.market.returns_io.read_candidates` reads: a
``date`` column, one float64 column of net simple returns per candidate (named by its
``candidate_id``, NaN before it can trade) and a ``regime`` column: the environment's
``regimes:`` model (:func:`~autopilot.market.regime_models.regimes_from_config`) on the
universe's market series (the embedded S&P 500 index, or the user's market; see
:mod:`autopilot.market.universe`). Rows before the first candidate trades are left out.
"""

from __future__ import annotations

import io
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from autopilot._atomic_write import atomic_write_bytes
from autopilot.config import EnvironmentConfig
from autopilot.errors import InputError
from autopilot.market.regime_models import regimes_from_config
from autopilot.market.universe import Universe
from autopilot.stats.metrics import MISSING_REGIME
from autopilot.strategies.backtest import backtest
from autopilot.strategies.grid import build_candidates, environment_catalog

__all__ = ["candidate_frame", "write_candidates"]

logger = logging.getLogger(__name__)


def candidate_frame(config: EnvironmentConfig, universe: Universe) -> pd.DataFrame:
    """Backtest the environment's candidates on a universe's prices.

    Parameters
    ----------
    config : EnvironmentConfig
        Gives the plugin allow-list, the families' grids and the regime model.
    universe : Universe
        The traded prices and the market series, cut at the as-of date
        (:func:`~autopilot.market.universe.embedded_universe` or
        :func:`~autopilot.market.universe.panel_universe`).

    Returns
    -------
    pandas.DataFrame
        ``date``, one column per candidate, ``regime``.

    Raises
    ------
    InputError
        No candidate can trade by the as-of date.
    ConfigError, PluginError
        From the grid and the plugins.
    """
    panel = universe.panel
    catalog = environment_catalog(config)
    candidates = build_candidates(config, catalog)
    # A writable copy, as the backtest has always been given (the panel's own is read-only).
    result = backtest(np.array(panel.close), candidates)
    frame = pd.DataFrame(result.returns, columns=result.candidate_ids)
    frame.insert(0, "date", panel.dates.to_numpy())
    # Causal labels: computed up to as_of, they equal those of a longer history.
    regimes = regimes_from_config(universe.market, config.regimes)
    labels = regimes.labels.reindex(panel.dates, fill_value=MISSING_REGIME)
    frame["regime"] = labels.to_numpy(dtype=np.int64)
    traded = ~np.isnan(result.returns).all(axis=1)
    if not traded.any():
        raise InputError(
            f"{panel.source}: no candidate can trade by {universe.as_of.isoformat()}; choose a "
            f"later date"
        )
    frame = frame.iloc[int(np.argmax(traded)) :].reset_index(drop=True)
    logger.info("%d candidates, %d bars up to %s", len(candidates), len(frame), universe.as_of)
    return frame


def write_candidates(path: Path, config: EnvironmentConfig, universe: Universe) -> int:
    """Write :func:`candidate_frame` to the Parquet file ``path``; returns the candidates."""
    if not path.name.lower().endswith((".parquet", ".pq")):
        raise InputError(f"{path}: write the batch to a .parquet file")
    frame = candidate_frame(config, universe)
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    atomic_write_bytes(path, buffer.getvalue(), keep_backup=False)
    return frame.shape[1] - 2
