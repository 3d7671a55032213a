"""Benchmark of the regime models on the embedded S&P 500 index (8,313 daily bars, 1990-2022).

Figures, measured side by side in one run (the repeats alternate the two models, so a change
in machine load hits both alike):

* ``volatility``: :func:`~autopilot.market.regime_models.regimes_from_config` with the
  default settings (the volatility rule; confidence 1.0 where labelled);
* ``gaussian_mixture``: the same with ``model: gaussian_mixture`` and its default parameters
  (2 states, lookback 21, a refit every 63 bars on the expanding window, the first after 504
  feature rows), scikit-learn imported beforehand;
* the mixture's last refit alone (the largest training window), to show where the time goes:
  the cost of the expanding window grows with the square of the history.

It also describes the labels (share of each state, label changes per year, confidence, the
agreement of the two models on bars both label, each state's annualised volatility in the
last fit). Results go to stdout and to ``build/bench_regimes_results.json``. These are
figures, never pass/fail tests.

Run ``.venv/bin/python bench/bench_regimes.py [--repeats N]``.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
from _timing import machine, summary, timed  # bench/ is the script folder

from autopilot.market.bundled import load_index
from autopilot.market.regime_models import Regimes, gaussian_mixture_regimes, regimes_from_config
from autopilot.market.regime_settings import RegimeSettings
from autopilot.stats.metrics import MISSING_REGIME

ROOT = Path(__file__).resolve().parents[1]
RESULTS_PATH = ROOT / "build" / "bench_regimes_results.json"
PERIODS_PER_YEAR = 252


def describe(regimes: Regimes) -> dict[str, Any]:
    """Shares, changes per year and confidence of one model's labels."""
    labels = regimes.labels.to_numpy()
    known = labels != MISSING_REGIME
    run = labels[known]
    confidence = regimes.confidence.to_numpy()[known]
    years = run.size / PERIODS_PER_YEAR
    return {
        "labelled_bars": int(run.size),
        "first_labelled": str(regimes.labels.index[int(np.argmax(known))].date()),
        "share": {name: float((run == i).mean()) for i, name in enumerate(regimes.names)},
        "changes": int((run[1:] != run[:-1]).sum()),
        "changes_per_year": float((run[1:] != run[:-1]).sum() / years),
        "confidence_mean": float(confidence.mean()),
        "confidence_below_0.8": float((confidence < 0.8).mean()),
        "refits": len(regimes.fits),
        "em_iterations": sum(f.iterations for f in regimes.fits),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    load_start = os.getloadavg()
    index = load_index()
    volatility = RegimeSettings()
    mixture = RegimeSettings("gaussian_mixture")
    # Untimed warm-up: imports scikit-learn and touches every code path once.
    by_volatility = regimes_from_config(index, volatility)
    by_mixture = regimes_from_config(index, mixture)
    last = by_mixture.fits[-1]
    head = index.iloc[: last.bar + 1]
    one_fit = {**mixture.params, "refit_every": last.bar}
    assert [f.rows for f in gaussian_mixture_regimes(head, **one_fit).fits] == [last.rows]
    samples: dict[str, list[float]] = {"volatility": [], "gaussian_mixture": [], "last_refit": []}
    for _ in range(args.repeats):
        samples["volatility"].append(timed(lambda: regimes_from_config(index, volatility)))
        samples["gaussian_mixture"].append(timed(lambda: regimes_from_config(index, mixture)))
        # The series up to the last refit bar with refit_every = that bar: the refit points
        # are 0 (no rows yet) and the bar itself, so this is that one fit.
        samples["last_refit"].append(timed(lambda: gaussian_mixture_regimes(head, **one_fit)))
    load_end = os.getloadavg()
    both = (by_volatility.labels.to_numpy() >= 0) & (by_mixture.labels.to_numpy() >= 0)
    agreement = float(
        (by_volatility.labels.to_numpy()[both] == by_mixture.labels.to_numpy()[both]).mean()
    )
    results = {
        "bars": len(index),
        "timings": {name: summary(values) for name, values in samples.items()},
        "volatility": describe(by_volatility),
        "gaussian_mixture": describe(by_mixture),
        "agreement_on_bars_both_label": agreement,
        "last_fit": {
            "bar": last.bar,
            "date": str(last.at.date()),
            "rows": last.rows,
            "annualised_volatility": [v * math.sqrt(PERIODS_PER_YEAR) for v in last.volatility],
        },
        "machine": machine(load_start, load_end),
    }
    RESULTS_PATH.parent.mkdir(exist_ok=True)
    RESULTS_PATH.write_text(json.dumps(results, indent=2) + "\n")
    t = results["timings"]
    print(f"regimes on the embedded S&P 500 index ({len(index):,} bars), medians of {args.repeats}")
    print(f"  volatility rule           {t['volatility']['median_s'] * 1e3:9.1f} ms")
    print(
        f"  gaussian mixture          {t['gaussian_mixture']['median_s']:9.2f} s "
        f"({len(by_mixture.fits)} refits, p10 {t['gaussian_mixture']['p10_s']:.2f} s, "
        f"p90 {t['gaussian_mixture']['p90_s']:.2f} s)"
    )
    print(f"  its last refit ({last.rows:,} rows) {t['last_refit']['median_s'] * 1e3:7.1f} ms")
    for name in ("volatility", "gaussian_mixture"):
        d = results[name]
        shares = ", ".join(f"{k} {v:.0%}" for k, v in d["share"].items())
        print(
            f"  {name:17s} labelled from {d['first_labelled']}: {shares}; "
            f"{d['changes_per_year']:.1f} changes a year; confidence mean "
            f"{d['confidence_mean']:.3f}, below 0.8 on {d['confidence_below_0.8']:.1%} of bars"
        )
    vols = ", ".join(f"{v:.1%}" for v in results["last_fit"]["annualised_volatility"])
    print(f"  the two agree on {agreement:.1%} of the bars both label; last fit's states: {vols}")
    print(f"  load average {load_start[0]:.2f} -> {load_end[0]:.2f} on {os.cpu_count()} CPUs")
    print(f"  results: {RESULTS_PATH.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
