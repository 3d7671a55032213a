"""Example candidate returns built from the embedded S&P 500 data (:mod:`autopilot.market.bundled`).

Four simple long/flat rules per ticker, each strategy id ``"<TICKER>:<rule>"``:

``buy_and_hold``
    Always fully invested.
``ma_cross_50_200``
    Long while the 50-bar simple moving average of the price is above the 200-bar one.
``momentum_12_1``
    Long while the return from bar ``t-252`` to bar ``t-21`` is positive (twelve months,
    skipping the most recent one).
``mean_reversion_5d``
    Long for 5 bars after the 5-bar return falls below -5 %.

No look-ahead: a signal computed from prices up to the close of bar ``t-1`` sets the
position held over bar ``t``, so ``return_t = position_t * (P_t / P_{t-1} - 1) - cost_t``.
Costs: ``cost_bps`` (5 bps by default) per unit of position change, charged on the bar the
new position is first held; the position a candidate starts its track record with is not
charged, so buy-and-hold returns equal the price changes exactly.

Every rule sees only prices from ``start`` on, so a candidate goes live once its own
lookback is filled (buy-and-hold after one bar, the 200-bar crossover after 200, momentum
after 253): track records start at different dates, as in real research. Bars before that
are simply absent from the long-format frame. Regime labels come from
:func:`autopilot.market.regimes.volatility_regimes` on the full index history (causal, so earlier
index data only warm it up).
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import cast

import numpy as np
import pandas as pd

from autopilot._atomic_write import atomic_write_bytes
from autopilot.errors import InputError
from autopilot.market.bundled import load_index, load_prices
from autopilot.market.regimes import volatility_regimes
from autopilot.stats.metrics import MISSING_REGIME

__all__ = ["COLUMNS", "RULES", "example_returns", "write_example"]

logger = logging.getLogger(__name__)

COLUMNS: tuple[str, ...] = ("strategy_id", "date", "return", "regime")


def _buy_and_hold(prices: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(1.0, index=prices.index, columns=prices.columns)


def _ma_cross(prices: pd.DataFrame, fast: int = 50, slow: int = 200) -> pd.DataFrame:
    fast_ma = prices.rolling(fast, min_periods=fast).mean()
    slow_ma = prices.rolling(slow, min_periods=slow).mean()
    return (fast_ma > slow_ma).astype(np.float64).where(slow_ma.notna())


def _momentum(prices: pd.DataFrame, lookback: int = 252, skip: int = 21) -> pd.DataFrame:
    momentum = prices.shift(skip) / prices.shift(lookback) - 1.0
    return (momentum > 0.0).astype(np.float64).where(momentum.notna())


def _mean_reversion(
    prices: pd.DataFrame, horizon: int = 5, drop: float = 0.05, hold: int = 5
) -> pd.DataFrame:
    loss = prices / prices.shift(horizon) - 1.0
    trigger = (loss < -drop).astype(np.float64).where(loss.notna())
    # Long on any bar within `hold` bars of a trigger.
    return trigger.rolling(hold, min_periods=hold).max()


# Rule name -> signal at the close of bar t (1 long, 0 flat, NaN while the lookback fills).
RULES: dict[str, Callable[[pd.DataFrame], pd.DataFrame]] = {
    "buy_and_hold": _buy_and_hold,
    "ma_cross_50_200": _ma_cross,
    "momentum_12_1": _momentum,
    "mean_reversion_5d": _mean_reversion,
}


def _rule_returns(
    prices: pd.DataFrame, asset_returns: pd.DataFrame, rule: str, cost: float
) -> pd.DataFrame:
    signal = RULES[rule](prices)
    # The signal from bar t-1 is the position over bar t: the lag that rules out look-ahead.
    position = signal if rule == "buy_and_hold" else signal.shift(1)
    position = position.where(asset_returns.notna())
    turnover = position.diff().abs().where(position.notna()).fillna(0.0)
    return position * asset_returns - cost * turnover


def example_returns(
    prices: pd.DataFrame | None = None,
    index: pd.Series | None = None,
    start: str | pd.Timestamp = "2005-01-01",
    *,
    cost_bps: float = 5.0,
) -> pd.DataFrame:
    """Long-format returns of every rule in :data:`RULES` applied to every ticker.

    Parameters
    ----------
    prices : pandas.DataFrame, optional
        Positive prices, one column per ticker, on a sorted ``DatetimeIndex``; defaults to
        :func:`autopilot.market.bundled.load_prices`.
    index : pandas.Series, optional
        Market index levels used for the regime labels; defaults to
        :func:`autopilot.market.bundled.load_index`. Its full history is used (warm-up only).
    start : str or pandas.Timestamp
        First price date the rules may use; earlier prices are ignored by the rules.
    cost_bps : float
        Cost per unit of position change, in basis points.

    Returns
    -------
    pandas.DataFrame
        Columns ``strategy_id`` (str, ``"<TICKER>:<rule>"``), ``date`` (datetime64),
        ``return`` (float64, simple per-bar) and ``regime`` (int64, -1 where the index has
        no label for that date), sorted by ``strategy_id`` then ``date``; only live bars.

    Raises
    ------
    InputError
        If the prices are not a frame on a sorted unique ``DatetimeIndex``, contain
        non-positive values, or nothing remains after ``start``.
    """
    prices = load_prices() if prices is None else prices
    index = load_index() if index is None else index
    _check_prices(prices)
    window = prices.loc[pd.Timestamp(start) :].astype(np.float64)
    if len(window) < 2:
        raise InputError(f"fewer than two price rows on or after start={start}")
    asset_returns = window.pct_change(fill_method=None)
    cost = cost_bps / 10_000.0

    wide = pd.concat(
        {rule: _rule_returns(window, asset_returns, rule, cost) for rule in RULES}, axis=1
    )
    pairs = cast("list[tuple[str, str]]", wide.columns.to_list())  # (rule, ticker) levels
    wide.columns = pd.Index([f"{ticker}:{rule}" for rule, ticker in pairs])
    wide.index.name = "date"
    long = wide.melt(ignore_index=False, var_name="strategy_id", value_name="return")
    long = long.dropna(subset=["return"]).reset_index()

    labels = volatility_regimes(index).reindex(pd.DatetimeIndex(long["date"]))
    long["regime"] = labels.fillna(MISSING_REGIME).to_numpy(dtype=np.int64)
    long["strategy_id"] = long["strategy_id"].astype(str)
    long = long.sort_values(["strategy_id", "date"], kind="stable", ignore_index=True)
    logger.info(
        "example returns: %d strategies, %d rows from %s",
        long["strategy_id"].nunique(),
        len(long),
        window.index[0].date(),
    )
    return long.loc[:, list(COLUMNS)]


def _check_prices(prices: pd.DataFrame) -> None:
    if not isinstance(prices, pd.DataFrame) or not isinstance(prices.index, pd.DatetimeIndex):
        raise InputError("prices must be a DataFrame on a DatetimeIndex")
    if not (prices.index.is_monotonic_increasing and prices.index.is_unique):
        raise InputError("price dates must be sorted and unique")
    if (prices <= 0.0).any().any():
        raise InputError("prices must be positive")


def write_example(path: str | os.PathLike[str], frame: pd.DataFrame | None = None) -> Path:
    """Write example returns to Parquet, or CSV when the name ends in ``.csv``/``.csv.gz``.

    The file is written to a temporary name in the same folder and moved into place, so a
    reader never sees half a file.

    Parameters
    ----------
    path : str or os.PathLike
        Destination; ``.parquet``/``.pq`` for Parquet, ``.csv``/``.csv.gz`` for CSV.
    frame : pandas.DataFrame, optional
        The long-format frame to write; defaults to :func:`example_returns` with its
        defaults.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    InputError
        If the suffix names neither format.
    """
    target = Path(path)
    name = target.name.lower()
    if name.endswith((".csv", ".csv.gz")):
        fmt = "csv"
    elif name.endswith((".parquet", ".pq")):
        fmt = "parquet"
    else:
        raise InputError(f"{target}: use a .parquet, .pq, .csv or .csv.gz file name")
    frame = example_returns() if frame is None else frame
    buffer = io.BytesIO()
    if fmt == "csv":
        frame.to_csv(buffer, index=False, compression="gzip" if name.endswith(".gz") else None)
    else:
        frame.to_parquet(buffer, index=False)
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(target, buffer.getvalue(), keep_backup=False)
    logger.info("wrote %d example rows to %s", len(frame), target)
    return target
