"""Embedded daily market data: 20 S&P 500 stocks and the S&P 500 index, 1990-01-02..2022-12-28.

Source: the ``sp500_dataset`` and ``sp500_index`` files of ``skfolio.datasets``
(BSD-3-Clause licence), shipped unchanged in ``autopilot/market/data/``. Stock prices are daily
closes adjusted for splits and dividends; the index is the daily close of the S&P 500.
Both files share the same 8,313 trading dates.

The data are for examples, tests and benchmarks only: they are small, fixed and need no
network access.
"""

from __future__ import annotations

import logging
from functools import cache
from importlib import resources

import pandas as pd

from autopilot.errors import InputError

__all__ = ["load_index", "load_prices"]

logger = logging.getLogger(__name__)

_PRICES_FILE = "sp500_dataset.csv.gz"
_INDEX_FILE = "sp500_index.csv.gz"


@cache
def _read(name: str) -> pd.DataFrame:
    """Read one packaged CSV once; callers receive copies so the cache stays pristine."""
    resource = resources.files("autopilot.market").joinpath("data", name)
    with resources.as_file(resource) as path:
        frame = pd.read_csv(path, compression="gzip", parse_dates=["Date"], index_col="Date")
    frame.index.name = "date"
    frame = frame.astype("float64")
    # A damaged package should fail loudly here rather than as odd backtest numbers later.
    if not (frame.index.is_monotonic_increasing and frame.index.is_unique):
        raise InputError(f"packaged file {name}: dates are not sorted and unique")
    if frame.isna().any().any() or (frame <= 0.0).any().any():
        raise InputError(f"packaged file {name}: prices must be positive and complete")
    logger.debug("read %s: %d rows x %d columns", name, frame.shape[0], frame.shape[1])
    return frame


def load_prices() -> pd.DataFrame:
    """Adjusted daily closes of 20 S&P 500 stocks.

    Returns
    -------
    pandas.DataFrame
        8,313 rows indexed by a ``DatetimeIndex`` named ``"date"`` (sorted, unique) and one
        ``float64`` column per ticker (AAPL, AMD, ..., XOM). A fresh copy on every call.
    """
    return _read(_PRICES_FILE).copy()


def load_index() -> pd.Series:
    """Daily closes of the S&P 500 index on the same dates as :func:`load_prices`.

    Returns
    -------
    pandas.Series
        ``float64`` values named ``"SP500"``, indexed by a ``DatetimeIndex`` named ``"date"``.
        A fresh copy on every call.
    """
    return _read(_INDEX_FILE)["SP500"].copy()
