"""The flow every gate-applying command shares: load the environment, read, evaluate."""

from __future__ import annotations

import argparse
import hashlib
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autopilot.cli._progress import StageBars

if TYPE_CHECKING:
    from autopilot.config import EnvironmentConfig
    from autopilot.promotion_gate import GateSet, VerdictTable
    from autopilot.stats.batch import CandidateBatch

__all__ = ["Evaluated", "evaluate_file", "input_record", "load_gate_set"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Evaluated:
    """A returns file evaluated with an environment's gate set."""

    config: EnvironmentConfig
    gate_set: GateSet
    batch: CandidateBatch
    table: VerdictTable


def load_gate_set(args: argparse.Namespace) -> tuple[EnvironmentConfig, GateSet]:
    """The environment of ``--env`` (see ``--config-dir``) and its gate set, plugins loaded."""
    from autopilot.config import load_config
    from autopilot.promotion_gate import GateSet

    config = load_config(args.env, args.config_dir)
    return config, GateSet(config)


def evaluate_file(args: argparse.Namespace, bars: StageBars | None = None) -> Evaluated:
    """Evaluate ``args.file`` (with ``args.regimes``), reading and evaluating on ``bars``."""
    if bars is None:
        with StageBars() as own:
            return evaluate_file(args, own)
    # numba's start-up overlaps the imports and the reading (LLVM, pyarrow and numpy release
    # the GIL). A daemon, joined only after a good read: a refused file is reported at once,
    # not after a first-run compile of the kernels.
    loading = threading.Thread(target=_load_kernels, name="autopilot-load-kernels", daemon=True)
    loading.start()
    from autopilot.market.returns_io import ReadOptions, check_bar_spacing, read_candidates

    config, gate_set = load_gate_set(args)
    options = ReadOptions(args.date_format, args.returns_in, tuple(args.ignore_columns))
    batch = read_candidates(args.file, args.regimes, options, on_progress=bars)
    loading.join()
    if not config.irregular_bars:
        check_bar_spacing(batch.dates, config.periods_per_year, args.file)
    steps = len(gate_set.gates) + 1
    done = iter(range(1, steps + 1))
    table = gate_set.evaluate_arrays(
        batch, on_progress=lambda step: bars("evaluating", next(done), steps)
    )
    bars.close()
    return Evaluated(config, gate_set, batch, table)


def _load_kernels() -> None:
    from autopilot.stats._kernels import load_kernels

    try:
        load_kernels()
    except Exception:  # only a head start: the evaluation's own call reports any failure
        logger.debug("loading the kernels ahead failed", exc_info=True)


def input_record(done: Evaluated, path: Path) -> dict[str, Any]:
    """What an audit record says of its input: file, content digest, dates, candidates."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    dates = done.batch.dates
    return {
        "path": str(path.resolve()),
        "sha256": digest.hexdigest(),
        "first_date": None if dates is None else str(dates[0].date()),
        "last_date": None if dates is None else str(dates[-1].date()),
        "candidates": done.batch.n_candidates,
    }
