"""The paper trader: marked positions, signed execution costs, crash-consistent books.

Every cycle marks **every** position to the cycle's prices (``last_price`` and its date,
traded or not); a position without a price this cycle keeps its last mark and is reported
stale with its age. Weights are valued at ``last_price`` only (seed T3): a position that
was never marked is left out with a warning naming it; there is no ``entry_price``
fallback anywhere.

Orders move the book toward target weights; fills are simulated by the
:class:`~autopilot.costs.CostModel` and reach the :class:`~autopilot.cost_calibrator.
CostCalibrator` with their signed cost (seed T4).

Every input of a cycle (prices, target weights, volumes, volatilities) is checked against
:data:`INPUT_CONSTRAINTS` before anything is traded; the ``autopilot paper`` command checks
the cells of its files with the same declarations, naming file, row and column.

A cycle is identified by its date and committed, under the state folder's lock, by one
trade-log record holding its marks and every fill (see :mod:`autopilot.state.cycles`);
then the portfolio snapshot (``generation`` = the cycle) and the calibrator are saved.
Loading replays the committed records the snapshot does not reflect (marks, then fills,
exactly as the cycle booked them), so a kill at any instant, or a damaged portfolio file,
never loses a committed trade; a calibrator behind the book is caught up from the same
records. Re-running the last date with the same inputs books nothing twice.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import date as Date
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np

from autopilot.cost_calibrator import CostCalibrator
from autopilot.costs import ORDER_INPUTS, CostModel, Fill
from autopilot.errors import InputError
from autopilot.sdk.params import ConstrainedSettings, Interval, Param
from autopilot.state.cycles import CycleId, Ledger, StateFolder, inputs_digest
from autopilot.state.journal import Journal
from autopilot.state.state_file import BothUnusableError, StateFile

__all__ = [
    "INPUT_CONSTRAINTS",
    "CycleSummary",
    "PaperTrader",
    "Portfolio",
    "Position",
    "StaleMark",
    "TraderSettings",
]

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1

#: The constraint of each per-security input of a cycle, by its column name in the files
#: of ``autopilot paper rebalance``.
INPUT_CONSTRAINTS: Mapping[str, Param] = MappingProxyType(
    {
        "price": Param(float, interval=Interval(0, None, closed="neither"), doc="arrival price"),
        "weight": Param(float, interval=Interval(0, None), doc="target weight of equity"),
        # Zero would make participation infinite; a missing volume uses the default.
        "volume": Param(
            float, interval=Interval(0, None, closed="neither"), doc="average daily volume"
        ),
        "volatility": ORDER_INPUTS["volatility"],
    }
)


@dataclass(frozen=True)
class Position:
    """A holding: shares, where it was bought, and its latest mark."""

    security_id: str
    shares: float
    entry_price: float
    entry_date: str
    last_price: float | None = None
    last_price_date: str | None = None

    @property
    def market_value(self) -> float | None:
        """Shares times ``last_price``; None when never marked."""
        return None if self.last_price is None else self.shares * self.last_price

    @property
    def unrealised_pnl(self) -> float | None:
        """``shares * (last_price - entry_price)``; None when never marked."""
        return (
            None if self.last_price is None else self.shares * (self.last_price - self.entry_price)
        )


@dataclass(frozen=True)
class StaleMark:
    """A position that got no price this cycle and kept an older mark."""

    security_id: str
    last_price_date: str | None
    age_days: int | None


@dataclass
class Portfolio:
    """Cash and positions keyed by security id (a ticker or a CRSP ``permno``)."""

    cash: float
    positions: dict[str, Position] = field(default_factory=dict)

    def mark(self, prices: Mapping[str, float], day: Date, *, warn: bool = True) -> list[StaleMark]:
        """Mark every position with a price; return the ones left with an older mark.

        Parameters
        ----------
        prices : mapping
            Prices by security id; a position without one keeps its mark.
        day : datetime.date
            The date the marks carry.
        warn : bool
            Log the stale marks (once per cycle: a replay of a committed cycle does not).

        Returns
        -------
        list of StaleMark
            The positions left with an older mark, with its age in days.
        """
        stale = []
        for sid, position in self.positions.items():
            price = prices.get(sid)
            if price is not None:
                self.positions[sid] = replace(
                    position, last_price=float(price), last_price_date=day.isoformat()
                )
                continue
            age = None
            if position.last_price_date is not None:
                age = (day - Date.fromisoformat(position.last_price_date)).days
            stale.append(StaleMark(sid, position.last_price_date, age))
        if stale and warn:
            logger.warning(
                "no price on %s for %d position(s), keeping older marks: %s",
                day.isoformat(),
                len(stale),
                ", ".join(f"{s.security_id} (marked {s.last_price_date})" for s in stale),
                extra={"event": "stale_marks", "security_ids": [s.security_id for s in stale]},
            )
        return stale

    def marked_value(self) -> float:
        """Value of the positions that have a ``last_price`` (exact sum: order-independent)."""
        return math.fsum(
            p.market_value for p in self.positions.values() if p.market_value is not None
        )

    def equity(self) -> float:
        """Cash plus the marked value of the positions."""
        return self.cash + self.marked_value()

    def current_weights(self) -> dict[str, float]:
        """Weights at ``last_price``; positions never marked are left out with a warning."""
        unmarked = [sid for sid, p in self.positions.items() if p.last_price is None]
        if unmarked:
            logger.warning(
                "left out of the current weights (no last_price): %s",
                ", ".join(unmarked),
                extra={"event": "unmarked_left_out", "security_ids": unmarked},
            )
        equity = self.equity()
        if not equity > 0:
            return {}
        return {
            sid: p.market_value / equity
            for sid, p in self.positions.items()
            if p.market_value is not None
        }

    def apply(self, security_id: str, fill: Fill, day: Date) -> None:
        """Book a fill: cash moves by ``side * shares * fill_price``."""
        signed_shares = fill.side * fill.shares
        self.cash -= signed_shares * fill.fill_price
        position = self.positions.get(security_id)
        if position is None:
            self.positions[security_id] = Position(
                security_id,
                signed_shares,
                fill.fill_price,
                day.isoformat(),
                fill.arrival_price,
                day.isoformat(),
            )
            return
        shares = position.shares + signed_shares
        if abs(shares) < 1e-9:
            del self.positions[security_id]
            return
        if shares * position.shares < 0:  # flipped through zero: a new position
            self.positions[security_id] = replace(
                position, shares=shares, entry_price=fill.fill_price, entry_date=day.isoformat()
            )
            return
        entry = position.entry_price
        if fill.side * position.shares > 0:  # adding: average the entry price
            entry = (position.shares * entry + signed_shares * fill.fill_price) / shares
        self.positions[security_id] = replace(position, shares=shares, entry_price=entry)

    def to_state(self) -> dict[str, Any]:
        """Data for the portfolio state file, positions sorted by security id.

        A book rebuilt from its state, live or replayed, then iterates its positions in
        the same order, so every later figure is the same to the last bit.
        """
        positions = {sid: asdict(self.positions[sid]) for sid in sorted(self.positions)}
        return {"cash": self.cash, "positions": positions}

    @classmethod
    def from_state(cls, data: Mapping[str, Any]) -> Portfolio:
        """Rebuild from :meth:`to_state` output (raises KeyError/TypeError/ValueError)."""
        cash = float(data["cash"])
        if not math.isfinite(cash):
            raise ValueError(f"cash is {cash!r}")
        positions = {sid: Position(**p) for sid, p in data["positions"].items()}
        for sid, position in positions.items():
            if position.security_id != sid:
                raise ValueError(f"position under {sid!r} names {position.security_id!r}")
        return cls(cash, positions)


@dataclass(frozen=True)
class TraderSettings(ConstrainedSettings):
    """How orders are sized and filled, checked against ``constraints`` when built.

    Attributes
    ----------
    fractional : bool
        Trade fractional shares (otherwise whole shares, rounded toward zero).
    min_trade_notional : float
        Orders smaller than this (in currency) are not sent.
    allow_negative_cash : bool
        Let buys borrow; otherwise buys are cut to the cash available.
    default_participation : float
        Participation assumed when no volume is given.
    default_volatility : float
        Daily volatility assumed when none is given.
    seed : int
        Seed of the simulated execution noise (combined with the cycle number).
    calibration_window : int
        Trades the cost calibrator keeps and fits on.

    Raises
    ------
    ConfigError
        E.g. ``The 'min_trade_notional' setting of 'TraderSettings' must be in [0, inf),
        was -5.``
    """

    constraints: ClassVar[Mapping[str, Param]] = MappingProxyType(
        {
            "fractional": Param(bool),
            "min_trade_notional": Param(float, interval=Interval(0, None)),
            "allow_negative_cash": Param(bool),
            "default_participation": Param(float, interval=Interval(0, 1)),
            "default_volatility": ORDER_INPUTS["volatility"],
            # NumPy seeds must be >= 0.
            "seed": Param(int, interval=Interval(0, None)),
            "calibration_window": CostCalibrator.constraints["window"],
        }
    )

    fractional: bool = False
    min_trade_notional: float = 100.0
    allow_negative_cash: bool = False
    default_participation: float = 0.01
    default_volatility: float = 0.02
    seed: int = 0
    calibration_window: int = 5000


@dataclass(frozen=True)
class CycleSummary:
    """What one paper cycle did.

    Attributes
    ----------
    cycle : int
        The cycle's number.
    fills : tuple of dict
        Its fills, as the trade log holds them.
    stale : tuple of StaleMark
        The positions that kept an older mark.
    equity, cash : float
        After the cycle.
    weights : dict of str to float
        The book's weights at ``last_price`` after the cycle.
    repeated : bool
        It was a retry of the last committed cycle: nothing was traded or written.
    """

    cycle: int
    fills: tuple[dict[str, Any], ...]
    stale: tuple[StaleMark, ...]
    equity: float
    cash: float
    weights: dict[str, float]
    repeated: bool = False


def _check_inputs(column: str, values: Mapping[str, float] | None) -> dict[str, float]:
    """``values`` by security id as floats, or InputError naming the security."""
    param = INPUT_CONSTRAINTS[column]
    checked = {}
    for sid, value in (values or {}).items():
        problem = param.violation(value)
        if problem is not None:
            raise InputError(f"The {column} of security {sid!r} {problem}.")
        checked[str(sid)] = param.convert(value)
    return checked


def _check_targets(targets: Mapping[str, float], allow_leverage: bool) -> dict[str, float]:
    checked = _check_inputs("weight", targets)
    total = sum(checked.values())
    if total > 1 + 1e-9 and not allow_leverage:
        raise InputError(
            f"target weights sum to {total:.6g} > 1: leverage needs "
            f"TraderSettings(allow_negative_cash=True); `autopilot paper rebalance` does not "
            f"lever, so scale the weights to sum to at most 1"
        )
    return checked


class PaperTrader:
    """Paper-trades target weights in a state folder.

    Parameters
    ----------
    state_dir : path-like
        The state folder: ``portfolio.json``, ``cost_calibrator.json``, ``trades.jsonl``
        (one committed record per cycle) and the folder's lock.
    settings : TraderSettings, optional
    cost_model : CostModel, optional
        Its ``multiplier`` is replaced by the calibrator's fitted one each cycle.
    initial_cash : float, optional
        Cash of a new book (with ``create``); for an existing book it must match the
        folder's, or the cycle is refused.
    lock_timeout : float
        Seconds to wait for another cycle.
    create : bool
        Create the state folder if it holds no state yet; otherwise such a folder is
        refused.
    """

    def __init__(
        self,
        state_dir: str | os.PathLike[str],
        settings: TraderSettings | None = None,
        cost_model: CostModel | None = None,
        *,
        initial_cash: float | None = None,
        lock_timeout: float = 30.0,
        create: bool = False,
    ) -> None:
        self.state_dir = Path(state_dir)
        self.settings = settings or TraderSettings()
        self.cost_model = cost_model or CostModel()
        self.initial_cash = initial_cash
        self.create = create
        self.folder = StateFolder(self.state_dir, lock_timeout=lock_timeout)
        self.portfolio_state = StateFile(
            self.state_dir / "portfolio.json",
            kind="portfolio",
            schema_version=SCHEMA_VERSION,
            default=lambda: Portfolio(self.folder.settings()["initial_cash"]).to_state(),
            validate=Portfolio.from_state,
            lock=self.folder.lock,
            lock_timeout=lock_timeout,
        )
        self.calibrator_state = StateFile(
            self.state_dir / "cost_calibrator.json",
            kind="cost_calibrator",
            schema_version=SCHEMA_VERSION,
            default=lambda: {
                **CostCalibrator(self.settings.calibration_window).to_state(),
                "last_cycle": 0,
            },
            validate=CostCalibrator.from_state,
            lock=self.folder.lock,
            lock_timeout=lock_timeout,
        )
        self.trade_log = Journal(self.state_dir / "trades.jsonl")
        self.ledger = Ledger(
            self.portfolio_state, self.trade_log, _replay, f"paper book {self.state_dir}"
        )

    def portfolio(self) -> Portfolio:
        """The book after the last committed cycle (reads only, takes no lock)."""
        return self.snapshot()[0]

    def snapshot(self) -> tuple[Portfolio, str | None, CostCalibrator]:
        """The book, the date of its last cycle, and the caught-up calibrator, in one read."""
        self.folder.require()
        # The calibrator first: a cycle committed meanwhile leaves it behind the book,
        # which the catch-up handles, never ahead of it.
        calibrator_data = self._calibrator_data(writer=False)
        data, last = self.ledger.load(writer=False)
        calibrator = self._caught_up(calibrator_data, last)
        return Portfolio.from_state(data), last.as_of, calibrator

    def last_cycle(self) -> CycleId:
        """The identity (number, date, inputs) of the last committed cycle."""
        self.folder.require()
        return self.ledger.load(writer=False)[1]

    def calibrator(self) -> CostCalibrator:
        """The cost calibrator, caught up with the committed trades."""
        return self.snapshot()[2]

    def committed_fills(self) -> list[dict[str, Any]]:
        """Every fill of the committed cycles, in order (reads the whole trade log)."""
        return [fill for record in self.trade_log.committed() for fill in record["fills"]]

    def _calibrator_data(self, *, writer: bool) -> dict[str, Any]:
        """The calibrator's state; both files unusable is an empty one the log refills."""
        try:
            return self.calibrator_state.load() if writer else self.calibrator_state.read()
        except BothUnusableError as exc:
            logger.error("%s; rebuilding it from %s", exc, self.trade_log.path)
            if writer:
                self.calibrator_state.start_over()
            return self.calibrator_state.default()

    def _caught_up(self, data: dict[str, Any], last: CycleId) -> CostCalibrator:
        """The calibrator of ``data``, with the committed fills it misses recorded."""
        calibrator = CostCalibrator.from_state(data)
        seen = int(data.get("last_cycle", 0))
        if seen == last.cycle:
            return calibrator
        if seen > last.cycle:
            # Only a trade log restored from an older copy can be behind the calibrator.
            logger.warning(
                "cost calibrator is at cycle %d, the committed trades at %d: rebuilding "
                "it from the trade log",
                seen,
                last.cycle,
            )
            calibrator = CostCalibrator(calibrator.window)
            seen = 0
        # The book was committed but the calibrator was not saved: replay those cycles.
        for record in self.trade_log.committed_after(seen):
            if record["cycle"] > last.cycle:
                break
            for fill in record["fills"]:
                self._record(calibrator, fill)
        calibrator.fit()
        return calibrator

    @staticmethod
    def _record(calibrator: CostCalibrator, fill: Mapping[str, Any]) -> None:
        calibrator.record_trade(
            predicted_bps=fill["predicted_cost_bps"],
            actual_bps=fill["actual_cost_bps"],
            notional=fill["notional"],
            side=fill["side"],
            participation=fill["participation"],
            volatility=fill["volatility"],
            time=fill["date"],
            base_predicted_bps=fill["base_cost_bps"],
        )

    def _open_folder(self) -> None:
        """Create the folder when asked; refuse one without state or with other cash."""
        if self.create:  # creates the folder, or checks an existing one's cash
            StateFolder.create(
                self.state_dir,
                initial_cash=self.initial_cash,
                lock_timeout=self.folder.lock_timeout,
            )
        else:
            self.folder.require()
            self.folder.check_initial_cash(self.initial_cash)

    def run_cycle(
        self,
        day: Date,
        prices: Mapping[str, float],
        target_weights: Mapping[str, float],
        *,
        volumes: Mapping[str, float] | None = None,
        volatilities: Mapping[str, float] | None = None,
    ) -> CycleSummary:
        """Mark, rebalance toward ``target_weights``, simulate fills, book and commit.

        Parameters
        ----------
        day : datetime.date
            The cycle's date and identity (marks carry it). The date of the last
            committed cycle again, with the same inputs, returns that cycle's summary and
            books nothing; an earlier date, or other inputs for the same date, are refused.
        prices : mapping
            Arrival prices by security id; securities without a price are neither marked
            nor traded this cycle.
        target_weights : mapping
            Wanted weights of equity by security id (>= 0); held securities missing here
            are sold.
        volumes : mapping, optional
            Average daily volume in shares (> 0), for the participation of each order;
            ``default_participation`` where missing.
        volatilities : mapping, optional
            Daily return volatility (>= 0), for the impact term; ``default_volatility``
            where missing.

        Raises
        ------
        InputError
            A price, weight, volume or volatility breaks :data:`INPUT_CONSTRAINTS` (named
            with its security), or the weights sum above 1 without leverage. Nothing is
            traded or written.
        StateError
            No state in the folder (and ``create`` not set), an earlier date, other inputs
            for a committed date, or another initial cash.
        """
        prices = _check_inputs("price", prices)
        targets = _check_targets(target_weights, self.settings.allow_negative_cash)
        volumes = _check_inputs("volume", volumes)
        volatilities = _check_inputs("volatility", volatilities)
        inputs = inputs_digest(
            {
                "prices": prices,
                "targets": targets,
                "volumes": volumes,
                "volatilities": volatilities,
                "settings": asdict(self.settings),
                "cost_model": asdict(self.cost_model),
            }
        )
        self._open_folder()
        with self.folder.locked():
            data, last, repeated = self.ledger.open_cycle(day, inputs)
            book = Portfolio.from_state(data)
            if repeated is not None:
                self._mend_calibrator(last)
                return CycleSummary(
                    last.cycle,
                    tuple(repeated["fills"]),
                    tuple(StaleMark(**s) for s in repeated.get("stale", ())),
                    book.equity(),
                    book.cash,
                    book.current_weights(),
                    repeated=True,
                )
            cycle = last.cycle + 1
            calibrator = self._caught_up(self._calibrator_data(writer=True), last)
            model = replace(self.cost_model, multiplier=calibrator.multiplier)
            stale = book.mark(prices, day)
            rng = np.random.default_rng([self.settings.seed, cycle])
            fills = []
            for sid, side, shares, closing in self._orders(book, prices, targets):
                price = prices[sid]
                volume = volumes.get(sid)
                participation = (
                    shares / volume if volume is not None else self.settings.default_participation
                )
                volatility = volatilities.get(sid, self.settings.default_volatility)
                try:
                    fill = model.simulate_fill(side, shares, price, participation, volatility, rng)
                except InputError as exc:
                    raise InputError(f"security {sid!r}: {exc}") from None
                if side == 1 and not self.settings.allow_negative_cash:
                    fill = replace(fill, shares=self._affordable(fill, book.cash))
                too_small = fill.notional < self.settings.min_trade_notional and not closing
                if fill.shares <= 0 or too_small:
                    continue
                book.apply(sid, fill, day)
                fill_record = {
                    "cycle": cycle,
                    "date": day.isoformat(),
                    "security_id": sid,
                    **asdict(fill),
                    "notional": fill.notional,
                    "base_cost_bps": model.base_cost_bps(participation, volatility),
                    "actual_cost_bps": fill.actual_cost_bps,
                }
                fills.append(fill_record)
                self._record(calibrator, fill_record)
            self.ledger.commit(
                {
                    "cycle": cycle,
                    "as_of": day.isoformat(),
                    "inputs": inputs,
                    "marks": prices,
                    "stale": [asdict(s) for s in stale],
                    "fills": fills,
                },
                book.to_state(),
            )
            calibrator.fit()
            self.calibrator_state.save({**calibrator.to_state(), "last_cycle": cycle})
        return CycleSummary(
            cycle, tuple(fills), tuple(stale), book.equity(), book.cash, book.current_weights()
        )

    def _mend_calibrator(self, last: CycleId) -> None:
        """Save the calibrator caught up when a kill left it behind the committed trades."""
        data = self._calibrator_data(writer=True)
        if int(data.get("last_cycle", 0)) != last.cycle:
            calibrator = self._caught_up(data, last)
            self.calibrator_state.save({**calibrator.to_state(), "last_cycle": last.cycle})

    def _affordable(self, fill: Fill, cash: float) -> float:
        """Shares of a buy that the cash pays for (never leaving cash below zero)."""
        if fill.shares * fill.fill_price <= cash:
            return fill.shares
        shares = max(cash, 0.0) / fill.fill_price
        if not self.settings.fractional:
            return float(math.floor(shares))
        while shares > 0 and shares * fill.fill_price > cash:  # float rounding
            shares = math.nextafter(shares, 0.0)
        return shares

    def _orders(
        self, book: Portfolio, prices: Mapping[str, float], targets: Mapping[str, float]
    ) -> list[tuple[str, int, float, bool]]:
        """(security, side, shares, closes position) toward the targets; sells first."""
        equity = book.equity()
        orders = []
        for sid in sorted(set(book.positions) | set(targets)):
            price = prices.get(sid)
            if price is None:
                if targets.get(sid) and sid not in book.positions:  # held ones: warned as stale
                    logger.warning(
                        "no price for %s: not bought this cycle",
                        sid,
                        extra={"event": "unpriced_not_bought", "security_ids": [sid]},
                    )
                continue
            held = book.positions[sid].shares if sid in book.positions else 0.0
            wanted = targets.get(sid, 0.0) * equity / price
            delta = wanted - held
            shares = abs(delta) if self.settings.fractional else math.floor(abs(delta))
            closing = wanted == 0.0 and held != 0.0
            if closing:
                shares = abs(held)  # close the whole position, fractions and dust included
            elif shares <= 0 or shares * price < self.settings.min_trade_notional:
                continue
            orders.append((sid, 1 if delta > 0 else -1, float(shares), closing))
        orders.sort(key=lambda order: order[1])  # sells (-1) before buys (+1)
        return orders


def _replay(data: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    """The book after a committed trade-log record: its marks, then its fills, in order."""
    book = Portfolio.from_state(data)
    day = Date.fromisoformat(record.get("as_of") or record["date"])
    book.mark(record.get("marks", {}), day, warn=False)
    simulated = {field.name for field in fields(Fill)}
    for fill in record["fills"]:
        book.apply(
            fill["security_id"], Fill(**{k: v for k, v in fill.items() if k in simulated}), day
        )
    return book.to_state()
