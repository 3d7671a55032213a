"""Training the meta-labeler on the signals of chosen strategies, as of a date.

The strategies are candidates of the environment's grids, named by their candidate ids
(the registry's active set, usually). Prices, the market level and the regime labels come
from a :class:`~autopilot.market.universe.Universe` cut at the training date (the embedded
S&P 500 data, or the user's prices and market), so nothing after it is read; the regime
label and confidence come from the environment's ``regimes:`` model on the market.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from autopilot.config import EnvironmentConfig, MetaLabelingSettings
from autopilot.errors import InputError
from autopilot.executor import Executor
from autopilot.market.regime_models import regimes_from_config
from autopilot.market.regime_settings import RegimeSettings
from autopilot.market.universe import Universe
from autopilot.meta_labeler import MetaLabelingModel
from autopilot.sdk.family import StrategyFamily
from autopilot.strategies.grid import build_candidates, environment_catalog
from autopilot.strategies.meta_events import (
    DEFAULT_BARRIERS,
    Barriers,
    TrainingSet,
    training_set,
)

__all__ = ["Trained", "from_settings", "select_strategies", "train_meta_labeler"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Trained:
    """A fitted model and what it was fitted on."""

    model: MetaLabelingModel
    data: TrainingSet


def from_settings(settings: MetaLabelingSettings) -> tuple[MetaLabelingModel, Barriers]:
    """The unfitted model and the barriers an environment's ``meta_labeling:`` describes."""
    model = MetaLabelingModel(
        tune_threshold=settings.tune_threshold,
        confidence_threshold=settings.confidence_threshold,
        scoring=settings.scoring,
        n_splits=settings.n_splits,
        embargo=settings.embargo,
    )
    barriers = Barriers(
        profit_take=settings.profit_take,
        stop_loss=settings.stop_loss,
        max_bars=settings.max_bars,
        volatility_span=settings.volatility_span,
    )
    return model, barriers


def select_strategies(config: EnvironmentConfig, ids: Sequence[str]) -> list[StrategyFamily]:
    """The environment's candidates with the given ids, in the order given.

    Raises
    ------
    InputError
        An id is not a candidate of the environment's grids (named, with how to fix it).
    """
    catalog = environment_catalog(config)
    candidates = {c.candidate_id: c for c in build_candidates(config, catalog)}
    unknown = [i for i in ids if i not in candidates]
    if unknown:
        raise InputError(
            f"{unknown[0]!r} is not a candidate of environment {config.environment!r}"
            f"{f' (and {len(unknown) - 1} more)' if len(unknown) > 1 else ''}; name candidates "
            f"as `candidates build` writes them, from the same environment"
        )
    return [candidates[i] for i in ids]


def train_meta_labeler(
    strategies: Sequence[StrategyFamily],
    universe: Universe,
    *,
    model: MetaLabelingModel | None = None,
    barriers: Barriers = DEFAULT_BARRIERS,
    regimes: RegimeSettings | None = None,
    event_bars: int | None = None,
    executor: Executor | None = None,
) -> Trained:
    """Fit ``model`` on the entries of ``strategies`` labelled by the universe's as-of date.

    Parameters
    ----------
    strategies : sequence of StrategyFamily
        The primary strategies whose signals are filtered.
    universe : Universe
        The traded prices and the market series, cut at the training date
        (:func:`~autopilot.market.universe.embedded_universe` or
        :func:`~autopilot.market.universe.panel_universe`): prices after it are never read.
    model : MetaLabelingModel, optional
        The unfitted model (its defaults when omitted).
    barriers : Barriers
        The labelling settings.
    regimes : RegimeSettings, optional
        The regime model of the features ``regime`` and ``regime_confidence``, on the
        universe's market (``EnvironmentConfig.regimes``); the volatility rule with its
        defaults when omitted.
    event_bars : int, optional
        Learn from the entries of the last ``event_bars`` bars only (the whole history
        still gives their features and regimes); all of them by default.
    executor : Executor, optional
        Where the outer validation folds run (this process by default).

    Returns
    -------
    Trained
    """
    if not strategies:
        raise InputError("no strategies to learn from; name at least one")
    close = np.array(universe.panel.close)  # writable, as the families have always had it
    regime = regimes_from_config(universe.market, regimes or RegimeSettings())
    labels = regime.labels.to_numpy()
    confidence = regime.confidence.to_numpy()
    positions = {s.candidate_id: s.positions(close) for s in strategies}
    data = training_set(
        close,
        universe.market.to_numpy(),
        labels,
        confidence,
        positions,
        as_of=len(close) - 1,
        barriers=barriers,
        families={s.candidate_id: s.name for s in strategies},
        first_bar=0 if event_bars is None else max(len(close) - event_bars, 0),
    )
    if len(data.labels) == 0:
        raise InputError(
            f"{universe.panel.source}: the strategies entered no trade labelled by "
            f"{universe.as_of.isoformat()}"
        )
    fitted = (model or MetaLabelingModel()).fit(
        data.features,
        data.labels,
        starts=data.starts,
        ends=data.ends,
        returns=data.returns,
        executor=executor,
    )
    logger.info(
        "meta-labeler trained on %d events of %d strategies", len(data.labels), len(positions)
    )
    return Trained(fitted, data)
