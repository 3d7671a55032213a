"""Meta-labeler training and its out-of-sample validation on the embedded data.

One strategy per built-in family (a middle point of its default grid) trades the 20
embedded S&P 500 stocks, 1990-2022. Every entry of their signals is an event, labelled by
the triple barrier (1 x and 1 x the horizon's volatility, 10 bars) and featured from
prices up to its entry (regimes: the volatility rule on the S&P 500 index). A
:class:`~autopilot.meta_labeler.MetaLabelingModel` with its defaults (seeded gradient
boosting, threshold tuned for balanced accuracy over 5 purged folds) and a 10-bar embargo
is fitted on every event known at the last bar, and reports its nested out-of-sample
validation.

These are figures, whatever they turn out to be: the run exits 0. Results go to stdout
and ``build/bench_meta_results.json``.

Run ``.venv/bin/python bench/bench_meta.py``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
from _timing import machine, save_results  # bench/ is the script folder

from autopilot.market.bundled import load_index, load_prices
from autopilot.market.regimes import volatility_regimes
from autopilot.meta_labeler import MetaLabelingModel
from autopilot.sdk.plugins import load_strategy_catalog
from autopilot.stats.metrics import MISSING_REGIME
from autopilot.strategies.meta_events import Barriers, training_set

RESULTS_PATH = Path(__file__).resolve().parents[1] / "build" / "bench_meta_results.json"
STRATEGIES: dict[str, dict[str, Any]] = {
    "tsmom": {"lookback": 126, "skip": 21},
    "ma_cross": {"fast": 20, "slow": 200},
    "mean_reversion": {"lookback": 5, "threshold": 1.0},
    "vol_breakout": {"window": 50, "k": 1.0},
    "low_vol": {"window": 63, "fraction": 0.3},
}
BARRIERS = Barriers(profit_take=1.0, stop_loss=1.0, max_bars=10, volatility_span=21)
EMBARGO = 10


def main() -> None:
    """Build the events, fit the model, print the figures."""
    load_start = os.getloadavg()
    prices = load_prices()
    close = prices.to_numpy()
    index = load_index().to_numpy()
    labels = volatility_regimes(load_index()).to_numpy()
    confidence = np.where(labels == MISSING_REGIME, np.nan, 1.0)  # a rule is sure of itself
    catalog = load_strategy_catalog()
    start = time.perf_counter()
    positions = {}
    families = {}
    for name, params in STRATEGIES.items():
        family = catalog.families[name].cls(**params)
        positions[family.candidate_id] = family.positions(close)
        families[family.candidate_id] = name
    signals_s = time.perf_counter() - start
    start = time.perf_counter()
    data = training_set(
        close,
        index,
        labels,
        confidence,
        positions,
        as_of=len(close) - 1,
        barriers=BARRIERS,
        families=families,
    )
    events_s = time.perf_counter() - start
    model = MetaLabelingModel(embargo=EMBARGO)
    start = time.perf_counter()
    model.fit(data.features, data.labels, starts=data.starts, ends=data.ends, returns=data.returns)
    fit_s = time.perf_counter() - start
    results = {
        "machine": machine(load_start, os.getloadavg()),
        "strategies": list(positions),
        "events": len(data.labels),
        "features": list(data.features.columns),
        "seconds": {"signals": signals_s, "events": events_s, "fit_and_validation": fit_s},
        "confidence_threshold": model.confidence_threshold_,
        "validation": model.validation_,
    }
    report(results)
    save_results(RESULTS_PATH, results)


def report(results: dict[str, Any]) -> None:
    """Print the figures."""
    v, s = results["validation"], results["seconds"]
    print("strategy-autopilot meta-labeler: embedded S&P 500 stocks, 1990-2022")
    print(f"  strategies: {', '.join(results['strategies'])}")
    print(f"  events: {results['events']:,} labelled entries, {len(results['features'])} features")
    print(
        f"  time: signals {s['signals']:.2f} s, events {s['events']:.2f} s, fit with nested "
        f"validation {s['fit_and_validation']:.2f} s"
    )
    print(f"  stored threshold (tuned on all events): {results['confidence_threshold']:.3f}")
    print(f"  out-of-sample over {v['folds']} purged folds ({v['events']:,} events):")
    print(f"    AUC                      {v['auc']:.3f}")
    print(f"    base rate (label 1)      {v['base_rate']:.3f}")
    print(f"    precision at threshold   {v['precision']:.3f}")
    print(f"    recall at threshold      {v['recall']:.3f}")
    print(f"    share of signals kept    {v['kept_share']:.3f}")
    print(
        f"    Sharpe per trade: filtered {v['sharpe_filtered']:.4f}, unfiltered "
        f"{v['sharpe_unfiltered']:.4f}"
    )
    print(f"    fold thresholds          {', '.join(f'{t:.3f}' for t in v['thresholds'])}")


if __name__ == "__main__":
    main()
