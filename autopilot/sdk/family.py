"""The strategy-family contract: named, parameter-validated, causal target positions.

A family turns a close-price panel into target weights per security and bar. One family
with one parameter set is a *candidate*; it trades the whole universe. Parameters are
declared with :class:`~autopilot.sdk.params.Param`, exactly like a gate's, and validated
when the family is built::

    The 'lookback' parameter of family 'tsmom' must be in [1, inf), was 0.

The contract of :meth:`StrategyFamily.positions`, checked by :func:`checked_positions`:

* input ``close``: a C-ordered ``T x N`` float64 array, NaN before a security's first
  price and after its last;
* output: a ``T x N`` float64 array; row ``t`` is the position decided at the close of bar
  ``t`` and uses only rows ``<= t`` of ``close`` (the backtest holds it over bar ``t+1``);
* NaN means "no position" (the lookback is not filled, or the security has no price); a
  finite weight where the security has no price at ``t`` is refused;
* every row's weights sum to at most 1 in absolute value (``+-1/N_live`` for an equally
  weighted long/short family), no infinities.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from autopilot.errors import GateParameterError, StrategyContractError
from autopilot.sdk.params import Param, validate_params

__all__ = ["GROSS_TOLERANCE", "StrategyFamily", "checked_positions"]

#: Rounding allowed above a gross exposure of 1 (sums of N weights 1/N).
GROSS_TOLERANCE = 1e-9


class StrategyFamily(abc.ABC):
    """Base class of every strategy family.

    Subclasses set ``name`` (unique across plugins; lowercase letters, digits and
    underscores), ``description``, ``parameters`` (a mapping of
    :class:`~autopilot.sdk.params.Param`) and ``default_grid`` (parameter name -> values,
    used when the environment's YAML names the family without a grid), and implement
    :meth:`positions`.

    Parameters
    ----------
    **params
        The family's parameters; unknown keys, missing required ones and bad values raise
        :class:`~autopilot.errors.GateParameterError` naming the key, rule and value.
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    parameters: ClassVar[Mapping[str, Param]] = {}
    default_grid: ClassVar[Mapping[str, tuple[Any, ...]]] = {}

    def __init__(self, **params: Any) -> None:
        self.params = validate_params(self.name, self.parameters, params, owner="family")
        problem = self.check_params()
        if problem is not None:
            raise GateParameterError(f"The parameters of family '{self.name}' {problem}.")

    def check_params(self) -> str | None:
        """A rule across parameters this set breaks (``"need fast < slow, ..."``), or None.

        Override it for constraints no single :class:`Param` can state; the default has none.
        """
        return None

    @property
    def candidate_id(self) -> str:
        """``name(key=value, ...)`` over every declared parameter, in declaration order."""
        shown = ", ".join(f"{key}={_format(value)}" for key, value in self.params.items())
        return f"{self.name}({shown})"

    @abc.abstractmethod
    def positions(self, close: np.ndarray) -> np.ndarray:
        """Target weights decided at the close of every bar.

        Parameters
        ----------
        close : ndarray of float64, shape (T, N)
            Close prices, NaN where a security has no price.

        Returns
        -------
        ndarray of float64, shape (T, N)
            Row ``t`` uses only rows ``<= t`` of ``close``; NaN = no position; each row's
            absolute weights sum to at most 1.
        """

    def __repr__(self) -> str:
        return self.candidate_id


def _format(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def checked_positions(family: StrategyFamily, close: np.ndarray) -> np.ndarray:
    """Call ``family.positions(close)`` and check the result against the contract.

    Parameters
    ----------
    family : StrategyFamily
        The candidate.
    close : ndarray of float64, shape (T, N)
        Close prices.

    Returns
    -------
    ndarray of float64, shape (T, N)
        The positions, as returned.

    Raises
    ------
    StrategyContractError
        Naming the candidate, what it returned and what the contract expects.
    """
    who = f"strategy {family.candidate_id}"
    try:
        weights = family.positions(close)
    except Exception as exc:
        raise StrategyContractError(
            f"{who} raised in positions(): {type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(weights, np.ndarray) or weights.dtype != np.float64:
        kind = getattr(weights, "dtype", type(weights).__name__)
        raise StrategyContractError(f"{who} returned {kind} positions; expected float64 ndarray")
    if weights.shape != close.shape:
        raise StrategyContractError(
            f"{who} returned positions of shape {weights.shape}; expected {close.shape}"
        )
    # numba loads only here: the catalog and `plugins list` start without it.
    from autopilot.sdk._contract import INFINITE, OVER_GROSS, UNPRICED, first_violation

    kind, row, col, value = first_violation(weights, close, GROSS_TOLERANCE)
    if kind == INFINITE:
        raise StrategyContractError(f"{who} returned an infinite weight at bar {row}")
    if kind == UNPRICED:
        raise StrategyContractError(
            f"{who} holds weight {value!r} in security {col} at bar {row}, which has no price "
            f"there; return NaN or 0 where the close is NaN"
        )
    if kind == OVER_GROSS:
        raise StrategyContractError(
            f"{who} has gross exposure {value!r} at bar {row}; the absolute weights of a bar "
            f"must sum to at most 1"
        )
    return weights
