"""Probability of Backtest Overfitting by combinatorially symmetric cross-validation (CSCV).

Reference: D. H. Bailey, J. M. Borwein, M. López de Prado and Q. J. Zhu, "The probability
of backtest overfitting", Journal of Computational Finance 20(4), 2017.

The T x N matrix of candidate returns is cut into S contiguous blocks of equal length. Each
of the C(S, S/2) ways of choosing S/2 blocks is one split: the chosen blocks (concatenated)
are in-sample (IS), the other S/2 blocks out-of-sample (OOS). For each split the candidate
with the best IS Sharpe ratio is located in the OOS ranking; PBO is the share of splits in
which it lands in the lower half.

Implementation notes
--------------------
Only per-block sums and sums of squares (S x N) are needed: the sums over any union of
blocks are an indicator-matrix product with them. The complement of a split is itself a
split, so only the C(S, S/2) / 2 splits containing block 0 are multiplied out; each gives
the figures of its complement for free. Splits are processed in chunks sized so that the
working arrays stay under ``memory_limit`` bytes.
"""

from __future__ import annotations

import itertools
import logging
import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "DEFAULT_MEMORY_LIMIT",
    "PboResult",
    "probability_of_backtest_overfitting",
    "split_count",
]

logger = logging.getLogger(__name__)

DEFAULT_MEMORY_LIMIT = 100_000_000
"""Default bound, in bytes, of the per-chunk working arrays."""

# K x N float64 arrays alive at once while a chunk of K splits is processed (four sums,
# one temporary, one comparison mask counted generously); sizes the chunks.
_WORK_ARRAYS = 7


@dataclass(frozen=True, eq=False)
class PboResult:
    """The outcome of a CSCV run.

    Attributes
    ----------
    probability : float
        PBO, the share of splits whose logit is ``<= 0``.
    logits : ndarray of float64, shape (n_splits,)
        ``ln(omega / (1 - omega))`` per split, with ``omega = rank / (N + 1)``.
    best_in_sample : ndarray of int64, shape (n_splits,)
        Column of the candidate with the best IS Sharpe ratio in each split.
    oos_rank : ndarray of int64, shape (n_splits,)
        Its OOS rank, 1 (worst) to N (best).
    n_splits : int
        Number of splits, ``C(S, S/2)``.
    n_candidates : int
        N.
    n_bars : int
        Rows used, a multiple of S.
    n_dropped : int
        Oldest rows left out so that the rows divide into S equal blocks (``T mod S``).
    blocks : int
        S.

    Notes
    -----
    Split ``k`` is the ``k``-th tuple of ``itertools.combinations(range(S), S // 2)``: those
    blocks are in-sample, the rest out-of-sample. Block 0 holds the oldest rows.
    """

    probability: float
    logits: np.ndarray
    best_in_sample: np.ndarray
    oos_rank: np.ndarray
    n_splits: int
    n_candidates: int
    n_bars: int
    n_dropped: int
    blocks: int


def probability_of_backtest_overfitting(
    matrix: np.ndarray,
    blocks: int,
    *,
    memory_limit: int = DEFAULT_MEMORY_LIMIT,
) -> PboResult:
    """Compute the Probability of Backtest Overfitting of N candidates by CSCV.

    Parameters
    ----------
    matrix : array-like, shape (T, N)
        Per-bar returns of N >= 2 candidates over the same T bars, oldest row first; all
        values finite.
    blocks : int
        S, the number of contiguous blocks: even and >= 2. The oldest ``T mod S`` rows are
        dropped so the blocks have equal length ``T // S``.
    memory_limit : int, optional
        Approximate bound, in bytes, of the working arrays of one chunk of splits.

    Returns
    -------
    PboResult
        PBO, the logit of every split and the figures behind them.

    Raises
    ------
    ValueError
        If ``matrix`` is not 2-D, has fewer than 2 columns or a non-finite value, if
        ``blocks`` is odd or < 2, if a half (``S/2`` blocks) would hold fewer than 2 rows, or
        if the values are too large to square without overflow.

    Notes
    -----
    Performance of a candidate on a set of rows is the per-period Sharpe ratio
    ``mean / std`` with ``ddof=1``, no risk-free rate subtracted.

    * **Zero variance.** A candidate that is constant over a split's rows, or whose variance
      comes out non-positive, has Sharpe ratio ``-inf`` there: it is never preferred in
      sample (unless every candidate is, then column 0 is taken) and ranks lowest out of
      sample.
    * **In-sample best** is the first column of maximal IS Sharpe ratio (``argmax``).
    * **Out-of-sample rank** is ``1 + (number of candidates with a strictly lower OOS
      Sharpe ratio)``, so candidates tied with the IS best count above it. Ties thus lower
      the rank and push the split towards "overfit": the cautious side for a promotion gate.
    * **Logit** ``lambda = ln(omega / (1 - omega))``, ``omega = rank / (N + 1)``; a split with
      ``lambda <= 0`` (rank in the lower half, the median included) counts as overfit.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> result = probability_of_backtest_overfitting(rng.normal(0, 0.01, (240, 8)), 6)
    >>> result.n_splits
    20
    """
    x = np.asarray(matrix, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"matrix must be 2-D (bars x candidates), got {x.ndim}-D")
    n_rows, n = x.shape
    if n < 2:
        raise ValueError(f"PBO needs at least 2 candidates, got {n}")
    if isinstance(blocks, bool) or not isinstance(blocks, int | np.integer):
        raise ValueError(f"blocks must be an integer, was {blocks!r}")
    blocks = int(blocks)
    if blocks < 2 or blocks % 2:
        raise ValueError(f"blocks must be an even integer >= 2, was {blocks}")
    block_len = n_rows // blocks
    half = blocks // 2
    rows_per_half = block_len * half
    if rows_per_half < 2:
        raise ValueError(
            f"{n_rows} rows in {blocks} blocks leave {rows_per_half} rows per half; need >= 2"
        )
    dropped = n_rows - block_len * blocks
    if not np.isfinite(x[:dropped]).all():
        raise ValueError("matrix has non-finite values; PBO needs finite returns")
    x = x[dropped:]
    shaped = x.reshape(blocks, block_len, n)

    # Centring on the column mean keeps the power-sum variance from losing digits to a
    # large mean; the mean is added back when the Sharpe ratio is formed. One block at a
    # time, so no second copy of the whole matrix is made.
    shift = x.mean(axis=0)
    sums = np.empty((blocks, n))
    squares = np.empty((blocks, n))
    for s in range(blocks):
        centred = shaped[s] - shift
        # Checked block by block to avoid a mask the size of the matrix.
        if not np.isfinite(centred).all():
            raise ValueError("matrix has non-finite values; PBO needs finite returns")
        sums[s] = centred.sum(axis=0)
        squares[s] = np.einsum("bn,bn->n", centred, centred)
    total_sums = sums.sum(axis=0)
    total_squares = squares.sum(axis=0)
    # Bounds every intermediate of _sharpe (sums**2 <= rows * squares), so no inf/inf NaN.
    if not np.isfinite(total_squares * rows_per_half).all():
        raise ValueError("matrix values are too large to square without overflow")

    # Constancy over a union of blocks is decided exactly from block minima and maxima. Only
    # columns constant on at least S/2 blocks can be constant over a half, usually none.
    block_min = shaped.min(axis=1)
    block_max = shaped.max(axis=1)
    watch = np.flatnonzero((block_min == block_max).sum(axis=0) >= half)
    watch_min = block_min[:, watch]
    watch_max = block_max[:, watch]

    combos = np.array(list(itertools.combinations(range(blocks), half)), dtype=np.intp)
    n_splits = len(combos)
    # Combinations containing block 0 come first in lexicographic order: exactly half.
    n_first = n_splits // 2
    bit_masks = (np.int64(1) << combos.astype(np.int64)).sum(axis=1)
    position = {int(mask): i for i, mask in enumerate(bit_masks)}
    full = (1 << blocks) - 1
    complement = np.array([position[full ^ int(mask)] for mask in bit_masks[:n_first]])
    indicator = np.zeros((n_first, blocks))
    indicator[np.arange(n_first)[:, None], combos[:n_first]] = 1.0

    best = np.empty(n_splits, dtype=np.int64)
    rank = np.empty(n_splits, dtype=np.int64)
    chunk = max(1, int(memory_limit) // (_WORK_ARRAYS * 8 * n))
    for lo in range(0, n_first, chunk):
        hi = min(lo + chunk, n_first)
        set_sums = indicator[lo:hi] @ sums
        set_squares = indicator[lo:hi] @ squares
        other_sums = total_sums - set_sums
        other_squares = total_squares - set_squares
        sharpe_set = _sharpe(set_sums, set_squares, shift, rows_per_half)
        sharpe_other = _sharpe(other_sums, other_squares, shift, rows_per_half)
        del set_squares, other_squares
        if watch.size:
            _mark_constant(sharpe_set, watch, watch_min, watch_max, combos[lo:hi])
            _mark_constant(sharpe_other, watch, watch_min, watch_max, combos[complement[lo:hi]])
        # Split k: the block set is IS; its complement split: the same sets swapped.
        best[lo:hi], rank[lo:hi] = _locate(sharpe_set, sharpe_other)
        mirror = complement[lo:hi]
        best[mirror], rank[mirror] = _locate(sharpe_other, sharpe_set)

    logits = np.log(rank / (n + 1.0 - rank))
    # lambda <= 0  <=>  rank <= (N + 1) / 2, decided in integers so the median is exact.
    overfit = 2 * rank <= n + 1
    probability = float(np.count_nonzero(overfit)) / n_splits
    logger.debug(
        "CSCV: pbo=%.4f over %d splits, %d candidates, %d bars (%d dropped)",
        probability,
        n_splits,
        n,
        x.shape[0],
        dropped,
    )
    return PboResult(
        probability=probability,
        logits=logits,
        best_in_sample=best,
        oos_rank=rank,
        n_splits=n_splits,
        n_candidates=n,
        n_bars=x.shape[0],
        n_dropped=dropped,
        blocks=blocks,
    )


def split_count(blocks: int) -> int:
    """Return the number of CSCV splits for ``blocks`` blocks, ``C(S, S/2)``.

    Parameters
    ----------
    blocks : int
        S, even and >= 2.

    Returns
    -------
    int
        The number of splits.
    """
    return math.comb(blocks, blocks // 2)


def _sharpe(sums: np.ndarray, squares: np.ndarray, shift: np.ndarray, rows: int) -> np.ndarray:
    """Per-period Sharpe ratios of ``rows`` rows from centred sums; overwrites both inputs.

    The result is the Sharpe ratio (ddof=1) times ``sqrt(rows / (rows - 1))``: a constant
    positive factor, shared by every value, that does not change any comparison.
    """
    # rows * var_ddof0 * rows = rows * squares - sums**2, and rows * mean = sums + rows * shift.
    spread = np.multiply(squares, rows, out=squares)
    spread -= np.square(sums)
    # Zero (or, from rounding, negative) variance: no spread, no Sharpe ratio.
    undefined = spread <= 0.0
    np.sqrt(spread, out=spread)
    ratio = np.add(sums, rows * shift, out=sums)
    np.divide(ratio, spread, out=ratio, where=~undefined)
    ratio[undefined] = -np.inf
    return ratio


def _mark_constant(
    sharpe: np.ndarray,
    watch: np.ndarray,
    block_min: np.ndarray,
    block_max: np.ndarray,
    sets: np.ndarray,
) -> None:
    """Set ``-inf`` where a watched column is exactly constant over a split's block set."""
    low = block_min[sets[:, 0]]
    high = block_max[sets[:, 0]]
    for j in range(1, sets.shape[1]):
        np.minimum(low, block_min[sets[:, j]], out=low)
        np.maximum(high, block_max[sets[:, j]], out=high)
    constant = low == high
    if constant.any():
        view = sharpe[:, watch]
        view[constant] = -np.inf
        sharpe[:, watch] = view


def _locate(in_sample: np.ndarray, out_of_sample: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """IS-best column per split and its OOS rank (1 + count of strictly lower OOS values)."""
    best = np.argmax(in_sample, axis=1)
    chosen = out_of_sample[np.arange(best.size), best]
    rank = 1 + np.count_nonzero(out_of_sample < chosen[:, None], axis=1)
    return best, rank
