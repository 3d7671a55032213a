"""Hypothesis strategies shared by the property tests.

Everything here builds plain data (NumPy arrays, configuration dicts, verdict records); the
tests turn it into :class:`~autopilot.stats.batch.CandidateBatch` objects and gate sets.

Conventions of the generated returns matrices (T x N, rows are bars):

* finite values in ``[-0.2, 0.2]``, either drawn element by element on a 1e-5 grid (so
  hypothesis can shrink to repeated and boundary values) or drawn from a seeded NumPy
  generator (realistic noise with a drift);
* optional leading and trailing NaN per column ("not live yet / any more"), never an interior
  NaN; every column keeps at least ``min_live`` live bars;
* with ``non_constant=True`` no column is exactly constant over its live bars.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from autopilot.sdk.verdicts import Mode, Outcome

__all__ = [
    "GRID_RETURNS",
    "ReturnsCase",
    "decisions",
    "gate_configs",
    "live_bounds",
    "mixture_params",
    "price_paths",
    "regime_labels",
    "regime_profiles",
    "returns_cases",
    "returns_matrices",
    "tightened",
    "verdicts",
    "well_conditioned",
]

MAX_ABS_RETURN = 0.2
# Returns on a 1e-5 grid in [-0.2, 0.2]: hypothesis still favours 0, the bounds and repeats,
# but never produces 1e-300-sized values whose squares underflow.
GRID_RETURNS = st.integers(-20_000, 20_000).map(lambda i: i / 100_000)


def live_bounds(matrix: np.ndarray, column: int) -> tuple[int, int]:
    """First and last live (non-NaN) row of a column; ``(-1, -1)`` when never live."""
    live = np.flatnonzero(~np.isnan(matrix[:, column]))
    if live.size == 0:
        return -1, -1
    return int(live[0]), int(live[-1])


def well_conditioned(segment: np.ndarray) -> bool:
    """True when a segment has at least two distinct values (moments are defined)."""
    segment = np.asarray(segment, dtype=np.float64)
    return bool(segment.size >= 2 and np.ptp(segment) > 0.0)


@st.composite
def _body(draw: st.DrawFn, n_bars: int, n_cols: int) -> np.ndarray:
    """A finite T x N matrix in [-0.2, 0.2]."""
    if draw(st.booleans()):
        return draw(hnp.arrays(np.float64, (n_bars, n_cols), elements=GRID_RETURNS))
    seed = draw(st.integers(0, 2**32 - 1))
    vol = draw(st.sampled_from([0.002, 0.01, 0.03, 0.06]))
    drift = draw(st.floats(-0.5, 0.5, allow_nan=False)) * vol
    rng = np.random.default_rng(seed)
    noise = rng.standard_t(df=5, size=(n_bars, n_cols)) * vol + drift
    # Per-column drift so that some candidates pass a Sharpe gate and some fail it.
    noise += rng.normal(0.0, 0.3 * vol, size=n_cols)
    return np.clip(noise, -MAX_ABS_RETURN, MAX_ABS_RETURN)


def _make_non_constant(matrix: np.ndarray, column: int, first: int, last: int) -> None:
    segment = matrix[first : last + 1, column]
    if segment.size >= 2 and np.ptp(segment) == 0.0:
        bump = -0.01 if segment[0] > 0 else 0.01
        matrix[first, column] = segment[0] + bump


@st.composite
def returns_matrices(
    draw: st.DrawFn,
    min_bars: int = 8,
    max_bars: int = 60,
    min_candidates: int = 1,
    max_candidates: int = 6,
    leading_nan: bool = True,
    trailing_nan: bool = True,
    non_constant: bool = True,
    min_live: int = 3,
) -> np.ndarray:
    """A T x N returns matrix with optional leading/trailing NaN per column."""
    n_bars = draw(st.integers(min_bars, max_bars))
    n_cols = draw(st.integers(min_candidates, max_candidates))
    matrix = draw(_body(n_bars, n_cols)).copy()
    for j in range(n_cols):
        budget = n_bars - min_live
        lead = draw(st.integers(0, budget // 2)) if leading_nan else 0
        trail = draw(st.integers(0, budget - lead)) if trailing_nan else 0
        matrix[:lead, j] = np.nan
        matrix[n_bars - trail :, j] = np.nan
        if non_constant:
            _make_non_constant(matrix, j, lead, n_bars - trail - 1)
    return matrix


@st.composite
def regime_labels(
    draw: st.DrawFn, n_bars: int, max_changes: int = 4, n_regimes: int = 3
) -> np.ndarray:
    """Integer regime codes (T,) with up to ``max_changes`` changes at distinct bars."""
    changes = draw(
        st.lists(
            st.integers(1, max(1, n_bars - 1)),
            min_size=0,
            max_size=min(max_changes, n_bars - 1),
            unique=True,
        )
    )
    labels = np.empty(n_bars, dtype=np.int64)
    current = draw(st.integers(0, n_regimes - 1))
    start = 0
    for bar in sorted(changes):
        labels[start:bar] = current
        current = (current + draw(st.integers(1, n_regimes - 1))) % n_regimes
        start = bar
    labels[start:] = current
    return labels


class ReturnsCase:
    """A returns matrix with regime labels, shared ``(T,)`` or per candidate ``(T, N)``."""

    def __init__(self, returns: np.ndarray, regimes: np.ndarray | None) -> None:
        self.returns = returns
        self.regimes = regimes

    @property
    def ids(self) -> list[str]:
        """One strategy id per column."""
        return [f"s{j}" for j in range(self.returns.shape[1])]

    def labels_of(self, column: int) -> np.ndarray:
        """The (T,) labels that apply to one column."""
        return self.regimes if self.regimes.ndim == 1 else self.regimes[:, column]

    def __repr__(self) -> str:
        with np.printoptions(threshold=10_000, precision=17):
            return f"ReturnsCase(returns={self.returns!r}, regimes={self.regimes!r})"


@st.composite
def returns_cases(
    draw: st.DrawFn,
    window: int = 3,
    per_candidate: bool | None = None,
    near_changes: bool = True,
    **matrix_kwargs: Any,
) -> ReturnsCase:
    """Returns and regime labels; live ranges are often placed next to a regime change.

    With ``near_changes`` some columns get their first or last live bar within
    ``window + 1`` bars of a change of their labels, the case where a transition window is
    cut by the live range.
    """
    matrix = draw(returns_matrices(**matrix_kwargs))
    n_bars, n_cols = matrix.shape
    shared = draw(st.booleans()) if per_candidate is None else not per_candidate
    if shared:
        regimes = draw(regime_labels(n_bars))
    else:
        regimes = np.column_stack([draw(regime_labels(n_bars)) for _ in range(n_cols)])
    if near_changes:
        min_live = matrix_kwargs.get("min_live", 3)
        for j in range(n_cols):
            labels = regimes if shared else regimes[:, j]
            changes = np.flatnonzero(labels[1:] != labels[:-1]) + 1
            if changes.size == 0 or not draw(st.booleans()):
                continue
            first, last = live_bounds(matrix, j)
            change = int(draw(st.sampled_from(changes.tolist())))
            offset = draw(st.integers(-window - 1, window + 1))
            if draw(st.booleans()):
                first = int(np.clip(change + offset, 0, n_bars - min_live))
                last = max(last, first + min_live - 1)
            else:
                last = int(np.clip(change + offset, min_live - 1, n_bars - 1))
                first = min(first, last - min_live + 1)
            column = draw(_body(n_bars, 1))[:, 0]
            column[:first] = np.nan
            column[last + 1 :] = np.nan
            matrix[:, j] = column
            if matrix_kwargs.get("non_constant", True):
                _make_non_constant(matrix, j, first, last)
    return ReturnsCase(matrix, regimes)


# --- price paths and regime models -----------------------------------------------------------


@st.composite
def price_paths(
    draw: st.DrawFn, min_bars: int = 1, max_bars: int = 400, missing: bool = True
) -> np.ndarray:
    """Positive prices (T,) whose daily volatility switches between levels at random bars.

    Student-t returns (5 degrees of freedom) at 0.3 %, 1 % or 3 % a bar in up to four
    stretches, from a seeded generator; with ``missing`` up to two prices are NaN.
    """
    n_bars = draw(st.integers(min_bars, max_bars))
    levels = draw(st.lists(st.sampled_from([0.003, 0.01, 0.03]), min_size=1, max_size=4))
    cuts = draw(
        st.lists(
            st.integers(1, max(1, n_bars - 1)),
            min_size=min(len(levels), n_bars) - 1,
            max_size=min(len(levels), n_bars) - 1,
            unique=True,
        )
    )
    sigma = np.full(n_bars, levels[0])
    for cut, level in zip(sorted(cuts), levels[1:], strict=False):
        sigma[cut:] = level
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    returns = np.clip(rng.standard_t(df=5, size=n_bars) * sigma, -0.5, 0.5)
    prices = 100.0 * np.exp(np.cumsum(np.log1p(returns)))
    if missing:
        for bar in draw(st.lists(st.integers(0, n_bars - 1), max_size=2)):
            prices[bar] = np.nan
    return prices


@st.composite
def mixture_params(draw: st.DrawFn) -> dict[str, Any]:
    """Parameters of the ``gaussian_mixture`` regime model, small enough for fast fits."""
    return {
        "states": draw(st.integers(2, 3)),
        "lookback": draw(st.integers(2, 30)),
        "refit_every": draw(st.integers(25, 120)),
        "min_train": draw(st.integers(100, 160)),
        "covariance_type": draw(st.sampled_from(["full", "tied", "diag", "spherical"])),
        "random_state": draw(st.integers(0, 3)),
    }


@st.composite
def regime_profiles(draw: st.DrawFn) -> dict[str, Any]:
    """Fields of an allocator ``RegimeProfile``, anywhere in their declared ranges."""

    def real(low: float, high: float, *, open_low: bool = False) -> float:
        return draw(st.floats(low, high, exclude_min=open_low, allow_nan=False))

    return {
        "gross_exposure": real(0.0, 1.0),
        "max_positions": draw(st.integers(1, 500)),
        "position_cap": real(0.0, 1.0, open_low=True),
        "turnover_limit": real(0.0, 2.0),
        "risk_aversion": real(0.0, 1e6, open_low=True),
    }


# --- configurations -------------------------------------------------------------------------

_TIGHTEN = {
    # gate: (parameter, direction): +1 raises the parameter to tighten, -1 lowers it.
    "min_history": ("bars", +1),
    "sharpe": ("min", +1),
    "max_drawdown": ("max", -1),
    "transition_drawdown": ("max", -1),
    "probabilistic_sharpe": ("min_probability", +1),
    "deflated_sharpe": ("min_probability", +1),
}


@st.composite
def gate_configs(
    draw: st.DrawFn,
    deflated: bool | None = False,
    shadow: bool = True,
    min_gates: int = 1,
) -> dict[str, Any]:
    """A configuration dict (for ``config_from_dict``) over the built-in gates.

    ``deflated``: False never includes ``deflated_sharpe``, True always does, None maybe.
    """
    names = ["min_history", "sharpe", "max_drawdown", "transition_drawdown"]
    names.append("probabilistic_sharpe")
    chosen = draw(st.lists(st.sampled_from(names), min_size=min_gates, unique=True))
    if deflated or (deflated is None and draw(st.booleans())):
        chosen.append("deflated_sharpe")
    gates: dict[str, Any] = {}
    for name in chosen:
        if name == "min_history":
            params: dict[str, Any] = {"bars": draw(st.integers(2, 40))}
        elif name == "sharpe":
            params = {"min": draw(st.floats(-2.0, 4.0, allow_nan=False))}
        elif name == "max_drawdown":
            params = {"max": draw(st.floats(0.0, 1.0, allow_nan=False))}
        elif name == "transition_drawdown":
            params = {
                "max": draw(st.floats(0.0, 1.0, allow_nan=False)),
                "window": draw(st.integers(1, 4)),
            }
        elif name == "probabilistic_sharpe":
            params = {
                "min_probability": draw(st.floats(0.0, 1.0, allow_nan=False)),
                "benchmark_sharpe": draw(st.floats(-1.0, 1.0, allow_nan=False)),
            }
        else:
            params = {"min_probability": draw(st.floats(0.0, 1.0, allow_nan=False))}
        mode = draw(st.sampled_from(["enforce", "shadow"])) if shadow else "enforce"
        gates[name] = {"mode": mode, "params": params}
    if all(g["mode"] == "shadow" for g in gates.values()):
        # A gate set must enforce something (an all-shadow set is refused).
        gates[draw(st.sampled_from(sorted(gates)))]["mode"] = "enforce"
    return {
        "environment": "property",
        "periods_per_year": draw(st.sampled_from([12, 52, 252])),
        "risk_free_rate": draw(st.sampled_from([0.0, 0.0, 0.02, -0.01])),
        "gates": gates,
    }


@st.composite
def tightened(draw: st.DrawFn, config: dict[str, Any], gates: tuple[str, ...] = ()) -> dict:
    """A copy of ``config`` whose thresholds are each moved (weakly) in the strict direction.

    Only gates in ``gates`` are tightened when it is given; the others keep their values.
    """
    out = {k: v for k, v in config.items() if k != "gates"}
    out["gates"] = {}
    for name, spec in config["gates"].items():
        params = dict(spec["params"])
        if not gates or name in gates:
            key, direction = _TIGHTEN[name]
            value = params[key]
            if name == "min_history":
                params[key] = value + draw(st.integers(0, 30))
            elif key == "min":
                params[key] = value + draw(st.floats(0.0, 3.0, allow_nan=False))
            elif direction < 0:  # a max in [0, 1]
                params[key] = value * draw(st.floats(0.0, 1.0, allow_nan=False))
            else:  # a probability in [0, 1]
                params[key] = value + (1.0 - value) * draw(st.floats(0.0, 1.0, allow_nan=False))
        out["gates"][name] = {"mode": spec["mode"], "params": params}
    return out


# --- verdict records ------------------------------------------------------------------------

_ANY_FLOAT = st.one_of(
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(-1e6, 1e6, allow_nan=False),
)


def verdicts() -> st.SearchStrategy:
    """Arbitrary :class:`~autopilot.sdk.verdicts.Verdict` records (non-finite numbers included)."""
    from autopilot.sdk.verdicts import Verdict

    return st.builds(
        Verdict,
        gate=st.text(min_size=1, max_size=20),
        outcome=st.sampled_from(list(Outcome)),
        value=_ANY_FLOAT,
        threshold=_ANY_FLOAT,
        mode=st.sampled_from(list(Mode)),
        reason=st.text(max_size=60),
    )


def decisions() -> st.SearchStrategy:
    """Arbitrary :class:`~autopilot.sdk.verdicts.Decision` records."""
    from autopilot.sdk.verdicts import Decision

    return st.builds(
        Decision,
        strategy_id=st.text(max_size=20),
        verdicts=st.lists(verdicts(), max_size=6).map(tuple),
    )
