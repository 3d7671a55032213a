"""The ``autopilot model`` commands: train a meta-labeler, show a saved one, make one current."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from autopilot.cli._common import (
    EXIT_OK,
    check_writable,
    format_parent,
    parse_date,
    print_json,
    state_parent,
    verbose_parent,
)
from autopilot.cli._prices import prices_parent, universe_from_args
from autopilot.errors import InputError

__all__ = ["add_commands", "models_folder"]

MODELS_FOLDER = "models"


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Add ``model train``, ``model show`` and ``model use``."""
    verbose = verbose_parent(top_level=False)
    state = state_parent(group=False)
    model = commands.add_parser(
        "model", parents=[verbose, state_parent(group=True)], help="the meta-labeling model"
    )
    model_commands = model.add_subparsers(dest="model_command", required=True)
    train = model_commands.add_parser(
        "train",
        parents=[verbose, state, prices_parent()],
        help="fit the meta-labeler on the active strategies' signals as of a date; save it "
        "without making it current",
    )
    train.add_argument("--env", required=True, help="environment (its strategy grids)")
    train.add_argument("--as-of", required=True, help="training date, YYYY-MM-DD")
    train.add_argument(
        "--strategy",
        action="append",
        default=[],
        metavar="ID",
        help="a candidate id to learn from (repeatable; default: the registry's active "
        "strategies in --state-dir)",
    )
    train.add_argument(
        "--out",
        type=Path,
        help="where to save it (default: STATE_DIR/models/meta_labeler_<as-of>.joblib)",
    )
    train.set_defaults(handler=model_train)
    show = model_commands.add_parser(
        "show",
        parents=[verbose, state, format_parent()],
        help="a saved model's manifest: threshold, features, training window, validation",
    )
    show.add_argument(
        "path",
        nargs="?",
        type=Path,
        help="a saved model (default: the current one, STATE_DIR/models/"
        "meta_labeler_current.joblib)",
    )
    show.set_defaults(handler=model_show)
    use = model_commands.add_parser(
        "use",
        parents=[verbose, state],
        help="check a saved model, then make it the current one",
    )
    use.add_argument("path", type=Path, help="a model written by MetaLabelingModel.save")
    use.set_defaults(handler=model_use)


def models_folder(state_dir: Path) -> Path:
    """Where a state folder keeps its current model."""
    return state_dir / MODELS_FOLDER


def model_train(args: argparse.Namespace) -> int:
    """Fit, validate and save a meta-labeler; print what it learnt and how to use it."""
    from autopilot.cli._executor import opened_executor
    from autopilot.config import load_config
    from autopilot.meta_labeler import read_manifest
    from autopilot.strategies.meta_training import (
        from_settings,
        select_strategies,
        train_meta_labeler,
    )

    as_of = parse_date(args.as_of, "--as-of")
    check_writable(args.out, args.prices)
    config = load_config(args.env, args.config_dir)
    ids = list(args.strategy) or _active_strategies(args.state_dir)
    model, barriers = from_settings(config.meta_labeling)
    strategies = select_strategies(config, ids)
    universe = universe_from_args(args, config, as_of)
    # The validation folds run on the environment's executor.
    with opened_executor(config.executor, args.verbose) as executor:
        trained = train_meta_labeler(
            strategies,
            universe,
            model=model,
            barriers=barriers,
            regimes=config.regimes,
            executor=executor,
        )
    out = args.out or models_folder(args.state_dir) / f"meta_labeler_{as_of.isoformat()}.joblib"
    out.parent.mkdir(parents=True, exist_ok=True)
    trained.model.save(out)
    print("\n".join(_manifest_lines(out, read_manifest(out))))
    print(f"\nsaved, not current: `autopilot model use {out}` makes it current")
    return EXIT_OK


def _active_strategies(state_dir: Path) -> list[str]:
    from autopilot.registry import StrategyRegistry
    from autopilot.state.cycles import StateFolder

    StateFolder(state_dir).require()
    active = sorted(StrategyRegistry(state_dir).active())
    if not active:
        raise InputError(
            f"{state_dir}: the registry has no active strategy to learn from; run "
            f"`autopilot registry update` first, or name strategies with --strategy ID"
        )
    return active


def model_show(args: argparse.Namespace) -> int:
    """Print a saved model's manifest (after checking it describes the file's bytes)."""
    from autopilot.meta_labeler import CURRENT_MODEL_NAME, read_manifest

    path = args.path or models_folder(args.state_dir) / CURRENT_MODEL_NAME
    manifest = read_manifest(path)
    if args.format == "json":
        print_json("meta_labeler", {"path": str(path), "manifest": manifest})
        return EXIT_OK
    print("\n".join(_manifest_lines(path, manifest)))
    return EXIT_OK


def model_use(args: argparse.Namespace) -> int:
    """Validate a saved model (manifest, hash, scikit-learn version, loads), make it current."""
    from autopilot.meta_labeler import load_model, read_manifest, update_current_pointer
    from autopilot.state.cycles import StateFolder

    sha256 = read_manifest(args.path)["sha256"]
    load_model(args.path, expected_sha256=sha256)  # refuses another scikit-learn, or no model
    folder = StateFolder(args.state_dir)
    folder.require()
    with folder.locked():  # never under a running cycle
        target = models_folder(args.state_dir)
        target.mkdir(exist_ok=True)
        current = update_current_pointer(args.path, expected_sha256=sha256, folder=target)
    print(f"{current} is now {args.path} (sha256 {sha256})")
    return EXIT_OK


def _manifest_lines(path: Path, manifest: dict[str, Any]) -> list[str]:
    validation = manifest.get("validation", {})
    window = manifest.get("training_window", [None, None])

    def figure(key: str) -> str:
        value = validation.get(key)
        return "n/a" if value is None else f"{value:.3f}"

    tuned = "tuned" if manifest.get("threshold_tuned") else "configured"
    return [
        f"model      {path}",
        f"sha256     {manifest['sha256']}",
        f"threshold  {manifest['confidence_threshold']:.4f} ({tuned})",
        f"events     {manifest['events']} (bars {window[0]}..{window[1]})",
        f"features   {len(manifest['features'])}: {', '.join(manifest['features'])}",
        f"validation AUC {figure('auc')}, precision {figure('precision')}, recall "
        f"{figure('recall')} against a base rate of {figure('base_rate')}, kept "
        f"{figure('kept_share')}",
        f"           Sharpe per trade filtered {figure('sharpe_filtered')}, unfiltered "
        f"{figure('sharpe_unfiltered')}",
        "versions   "
        + ", ".join(f"{k} {v}" for k, v in sorted(manifest.get("versions", {}).items())),
    ]
