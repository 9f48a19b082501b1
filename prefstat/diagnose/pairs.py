r"""Pair-level view of an item-level table and vectorised Bradley-Terry refits, shared by the diagnostics.

Every item-level diagnostic works on *pair cells*: the unordered pairs
:math:`\{i, j\}` (codes :math:`i < j`) that were compared at least once, with
the total weight :math:`n_{ij}` and the weight of :math:`i`'s wins
:math:`w_{ij}` (a tie counts half a win for each side, as in
:class:`~prefstat.BradleyTerry`). These are the sufficient statistics of the
Bradley-Terry model without an order effect, so the MLE on the cells is the
MLE on the rows.

Calibration by parametric bootstrap needs many refits: :func:`refit_many`
runs the shared damped Newton (:func:`prefstat.losses.logistic_fit`) under
``vmap`` over replicate win counts, warm-started at the observed estimate, so
B refits cost about one batched Newton solve. The reference item (code 0) is
fixed at 0; abilities are reported sum-to-zero by the callers.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from .._x64 import x64_scope
from ..data import ComparisonTable
from ..data.keys import unique_keys
from ..design import SparseRowsDesign, pad_rows, padded_size
from ..losses import DIVERGED_ETA, logistic_fit
from ..models.bt_items import item_design

__all__ = ["PairCells", "pair_cells", "PairFit", "fit_pairs", "refit_many", "simulate_wins", "check_frequency_weights"]


@dataclass(frozen=True)
class PairCells:
    """Aggregated unordered pairs of an item-level table (see the module docstring).

    ``row_pair`` maps each row to its cell and ``row_share`` is the row's win share of the
    lower-coded item (1 it won, 0 it lost, 1/2 a tie), so row-level resampling and permutation
    can be re-aggregated with ``np.bincount``.
    """

    items: np.ndarray
    i: np.ndarray
    j: np.ndarray
    n: np.ndarray
    wins: np.ndarray
    ties: np.ndarray
    row_pair: np.ndarray
    row_share: np.ndarray
    row_weight: np.ndarray

    @property
    def k(self) -> int:
        return int(self.items.size)

    @property
    def m(self) -> int:
        return int(self.i.size)

    def design(self) -> SparseRowsDesign:
        """Padded cell design in the free parametrisation (item 0 the reference, fixed at 0)."""
        cols, vals = item_design(self.i, self.j, None, self.k, 0, False, np)
        mp = padded_size(self.m)
        with x64_scope():
            return SparseRowsDesign(cols=jnp.asarray(pad_rows(cols, mp)), vals=jnp.asarray(pad_rows(vals, mp)),
                                    p=self.k - 1)

    def padded(self, values) -> np.ndarray:
        """``values`` (..., m) padded with zeros to the design's row count."""
        values = np.asarray(values, np.float64)
        mp = padded_size(self.m)
        if values.ndim == 1:
            return pad_rows(values, mp)
        return np.pad(values, [(0, 0)] * (values.ndim - 1) + [(0, mp - values.shape[-1])])


def pair_cells(table: ComparisonTable) -> PairCells:
    """:class:`PairCells` of an item-level table (rows of zero weight are kept; they add nothing)."""
    if table.kind != "items":
        raise ValueError("pair-level diagnostics need an item-level table (left/right item labels); "
                         "got a feature-level table.")
    a, b, items = table.item_codes
    k = items.size
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    share = np.where(a == lo, table.outcome, 1.0 - table.outcome)
    key = lo.astype(np.int64) * k + hi
    cell_key, row_pair = unique_keys(key)
    m = cell_key.size
    w = table.weight
    n = np.bincount(row_pair, w, m)
    wins = np.bincount(row_pair, w * share, m)
    ties = np.bincount(row_pair, w * (share == 0.5), m)
    return PairCells(items=items, i=(cell_key // k).astype(np.int64), j=(cell_key % k).astype(np.int64), n=n,
                     wins=wins, ties=ties, row_pair=row_pair, row_share=share, row_weight=w)


@dataclass(frozen=True)
class PairFit:
    """BT fit on pair cells: sum-to-zero abilities, fitted P(i beats j) per cell, covariance, leverages."""

    theta: np.ndarray  # (k,) sum-to-zero
    beta: np.ndarray  # (k-1,) free parameters (item 0 at 0)
    p: np.ndarray  # (m,) fitted P(lower-coded item wins)
    cov: np.ndarray  # (k, k) model-based covariance of theta
    leverage: np.ndarray  # (m,) diagonal of the hat matrix of the cell-level logistic fit
    loglik: float
    exists: bool


def _full_inverse(hess, k):
    """Inverse information padded to (k, k) with the reference item's row/column zero."""
    inv = np.zeros((k, k))
    inv[1:, 1:] = np.linalg.inv(0.5 * (hess + hess.T))
    return inv


def fit_pairs(cells: PairCells, n=None, wins=None) -> PairFit:
    """BT MLE on the cells (optionally on other counts ``n``/``wins`` over the same cells)."""
    n = cells.n if n is None else n
    wins = cells.wins if wins is None else wins
    k = cells.k
    with x64_scope():
        design = cells.design()
        W, WY = jnp.asarray(cells.padded(n)), jnp.asarray(cells.padded(wins))
        res = logistic_fit(design, W, WY, jnp.zeros(k - 1), jnp.zeros(k - 1), gtol=1e-10)
        beta = np.asarray(res.x)
        hess = np.asarray(res.hess)
    theta = np.r_[0.0, beta]
    eta = theta[cells.i] - theta[cells.j]
    live = n > 0
    exists = bool(res.converged) and float(np.max(np.abs(eta[live]), initial=0.0)) < DIVERGED_ETA
    p = 1.0 / (1.0 + np.exp(-eta))
    centre = np.eye(k) - 1.0 / k
    try:
        inv = _full_inverse(hess, k)
    except np.linalg.LinAlgError:
        inv = np.full((k, k), np.nan)
    cov = centre @ inv @ centre
    v = n * p * (1 - p)
    lev = v * (inv[cells.i, cells.i] + inv[cells.j, cells.j] - 2 * inv[cells.i, cells.j])
    ll = float(np.sum(wins * eta - n * np.logaddexp(0.0, eta)))
    return PairFit(theta=theta - theta.mean(), beta=beta, p=p, cov=cov, leverage=lev, loglik=ll, exists=exists)


@partial(jax.jit, static_argnames=("max_iter",))
def _refits(design, W, WY, beta0, max_iter):
    penalty = jnp.zeros(design.p)

    def one(w, wy):
        res = logistic_fit(design, w, wy, penalty, beta0, gtol=1e-8, max_iter=max_iter)
        eta = design.matvec(res.x)
        ok = res.converged & (jnp.max(jnp.where(w > 0, jnp.abs(eta), 0.0)) < DIVERGED_ETA)
        return res.x, ok

    return jax.vmap(one)(W, WY)


def refit_many(cells: PairCells, n, wins, beta0, max_iter: int = 50, chunk: int | None = None):
    """Free-parameter estimates (B, k-1) and existence flags (B,) of BT refits on replicate counts.

    ``n`` is (m,) (shared) or (B, m); ``wins`` is (B, m). Replicates run in chunks of at most 16 and
    at most about 2e7 values (each replicate holds its cell weights and its (k-1, k-1) information):
    on 200 items, batches of 10 to 25 replicates cost least per replicate (half of batches of 3 or
    4; batches of 50 to 100 cost 1.5 times more).
    """
    wins = np.atleast_2d(np.asarray(wins, np.float64))
    B = wins.shape[0]
    n = np.broadcast_to(np.asarray(n, np.float64), wins.shape)
    mp = padded_size(cells.m)
    chunk = chunk or max(1, min(B, 16, int(2e7 // (4 * mp + 2 * max(cells.k, 8) ** 2))))
    xs, oks = [], []
    with x64_scope():
        design = cells.design()
        b0 = jnp.asarray(beta0, jnp.float64)
        for s in range(0, B, chunk):
            x, ok = _refits(design, jnp.asarray(cells.padded(n[s:s + chunk])),
                            jnp.asarray(cells.padded(wins[s:s + chunk])), b0, max_iter)
            xs.append(np.asarray(x))
            oks.append(np.asarray(ok))
    return np.concatenate(xs), np.concatenate(oks)


def check_frequency_weights(cells: PairCells, what: str) -> None:
    """A parametric bootstrap draws comparisons: every pair's total weight must be an integer."""
    if not np.allclose(cells.n, np.round(cells.n)):
        raise ValueError(f"{what} draws comparisons by parametric bootstrap, so the weights must be integer "
                         "frequency weights; rescale them to counts or pass n_bootstrap=0.")


def simulate_wins(rng: np.random.Generator, n, p, size: int) -> np.ndarray:
    """(size, m) binomial win counts of the lower-coded item in each cell under ``p``."""
    return rng.binomial(np.round(n).astype(np.int64), p, size=(size, np.size(p))).astype(np.float64)
