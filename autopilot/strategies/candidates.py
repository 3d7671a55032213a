"""``candidates build``: the environment's candidates backtested into a wide returns batch.

The batch is the wide layout :func:`autopilot.market.returns_io.read_candidates` reads: a
``date`` column, one float64 column of net simple returns per candidate (named by its
``candidate_id``, NaN before it can trade) and a ``regime`` column: the environment's
``regimes:`` model (:func:`~autopilot.market.regime_models.regimes_from_config`) on the
universe's market series (the embedded S&P 500 index, or the user's market; see
:mod:`autopilot.market.universe`). Rows before the first candidate trades are left out.

Trades pay the cost model's spread and fees and, where the prices carry volume, its
square-root impact for a candidate trading ``strategies.capital``
(:func:`~autopilot.strategies.backtest.impact_coefficients`).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from autopilot._atomic_write import atomic_write_bytes
from autopilot.config import EnvironmentConfig
from autopilot.errors import InputError
from autopilot.executor import Executor
from autopilot.market.regime_models import regimes_from_config
from autopilot.market.universe import Universe
from autopilot.stats.metrics import MISSING_REGIME
from autopilot.strategies.backtest import backtest, impact_coefficients, impact_coverage
from autopilot.strategies.grid import build_candidates, environment_catalog

__all__ = ["candidate_batch", "candidate_frame", "write_candidates"]

logger = logging.getLogger(__name__)


def candidate_frame(config: EnvironmentConfig, universe: Universe) -> pd.DataFrame:
    """The batch of :func:`candidate_batch`, without its impact coverage."""
    return candidate_batch(config, universe)[0]


def candidate_batch(
    config: EnvironmentConfig,
    universe: Universe,
    *,
    executor: Executor | None = None,
    on_chunk: Callable[[int], None] | None = None,
) -> tuple[pd.DataFrame, float | None]:
    """Backtest the environment's candidates on a universe's prices.

    Parameters
    ----------
    config : EnvironmentConfig
        Gives the plugin allow-list, the families' grids and the regime model.
    universe : Universe
        The traded prices and the market series, cut at the as-of date
        (:func:`~autopilot.market.universe.embedded_universe` or
        :func:`~autopilot.market.universe.panel_universe`).
    executor : Executor, optional
        Runs the backtest's chunks (this process by default).
    on_chunk : callable, optional
        Called with the number of candidates done as chunks finish.

    Returns
    -------
    pandas.DataFrame
        ``date``, one column per candidate, ``regime``.
    float or None
        The share of priced security-bars whose trades pay an impact (None: no volume).

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
    close = np.array(panel.close)
    impact = coverage = None
    if panel.volume is not None:
        impact = impact_coefficients(close, panel.volume, config.strategy_capital)
        coverage = impact_coverage(impact, close)
    result = backtest(close, candidates, impact=impact, executor=executor, on_chunk=on_chunk)
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
    return frame, coverage


def write_candidates(
    path: Path,
    config: EnvironmentConfig,
    universe: Universe,
    *,
    executor: Executor | None = None,
    on_chunk: Callable[[int], None] | None = None,
) -> tuple[int, float | None]:
    """Write :func:`candidate_batch` to the Parquet file ``path``.

    Returns the number of candidates and the impact coverage.
    """
    if not path.name.lower().endswith((".parquet", ".pq")):
        raise InputError(f"{path}: write the batch to a .parquet file")
    frame, coverage = candidate_batch(config, universe, executor=executor, on_chunk=on_chunk)
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    atomic_write_bytes(path, buffer.getvalue(), keep_backup=False)
    return frame.shape[1] - 2, coverage
