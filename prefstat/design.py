"""Linear design matrices as JAX pytrees, shared by every linear-index estimator.

An estimator whose linear predictor is ``eta = X beta`` only needs four
operations on the design ``X`` (m rows, p columns):

* ``matvec(beta)``            eta = X beta
* ``rmatvec(r)``              X^T r               (scores)
* ``gram(d)``                 X^T diag(d) X       (information, robust meat)
* ``group_sums(r, g, G)``     S[g] = sum_{i in g} r_i x_i   (cluster scores)

:class:`DenseDesign` stores X. :class:`SparseRowsDesign` stores a fixed
number of non-zeros per row (ELLPACK layout), which is exactly the item-level
Bradley-Terry design (+1 at the left item, -1 at the right item, the order
indicator in the last column) and also serves scipy.sparse feature matrices.
Both are pytrees, so the same jitted core runs on either and ``vmap`` works
over data arrays.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp

__all__ = ["DenseDesign", "SparseRowsDesign", "sparse_rows_from_scipy", "padded_size", "pad_rows", "device_rows",
           "to_device", "feature_design",
           "padded_columns", "pad_columns"]


# Rows per block of a tall Gram product (see _dense_gram); designs with fewer than 16 blocks of rows
# take one product.
GRAM_BLOCK = 4096

# Up to this many rows, padding goes to the next power of two (see padded_size).
PAD_POW2_ROWS = 4096


def _weighted_cross(X, d):
    # Contract over rows directly: writing X.T @ (...) makes XLA materialise the transpose,
    # which costs more than the product itself for tall X.
    return jax.lax.dot_general(X, d[:, None] * X, (((0,), (0,)), ((), ())))


def _dense_gram(X, d):
    """``X^T diag(d) X``. For tall ``X`` it is accumulated over blocks of ``GRAM_BLOCK`` rows: XLA's CPU
    product of a (1M, 64) pair then runs 2-2.5x faster (measured: 0.29 s against 0.71 s, float64, 2
    cores), since each block's operands stay in cache and the weighted copy is never materialised
    whole. Only the order of the floating-point sums differs (relative 1e-15)."""
    m = X.shape[0]
    k = m // GRAM_BLOCK
    if k < 16:
        return _weighted_cross(X, d)
    head = k * GRAM_BLOCK

    def add_block(acc, i):
        # slicing inside the loop: slicing X[:head] outside would copy the whole design first
        start = i * GRAM_BLOCK
        x = jax.lax.dynamic_slice_in_dim(X, start, GRAM_BLOCK)
        return acc + _weighted_cross(x, jax.lax.dynamic_slice_in_dim(d, start, GRAM_BLOCK)), None

    total = jax.lax.scan(add_block, jnp.zeros((X.shape[1], X.shape[1]), jnp.result_type(X, d)), jnp.arange(k))[0]
    return total + _weighted_cross(X[head:], d[head:]) if head < m else total


@partial(jax.tree_util.register_dataclass, data_fields=["X"], meta_fields=[])
@dataclass(frozen=True)
class DenseDesign:
    X: jax.Array

    @property
    def p(self) -> int:
        return self.X.shape[1]

    def matvec(self, beta):
        return self.X @ beta

    def rmatvec(self, r):
        return r @ self.X

    def gram(self, d):
        return _dense_gram(self.X, d)

    def group_sums(self, r, g, n_groups):
        return jax.ops.segment_sum(r[:, None] * self.X, g, num_segments=n_groups)

    def to_scipy(self):
        return sp.csr_matrix(np.asarray(self.X))


@partial(jax.tree_util.register_dataclass, data_fields=["cols", "vals"], meta_fields=["p"])
@dataclass(frozen=True)
class SparseRowsDesign:
    """Row i has non-zeros ``vals[i, j]`` in columns ``cols[i, j]`` (padding: value 0)."""

    cols: jax.Array
    vals: jax.Array
    p: int

    def matvec(self, beta):
        return jnp.sum(self.vals * beta[self.cols], axis=1)

    def rmatvec(self, r):
        return jnp.zeros(self.p, self.vals.dtype).at[self.cols].add(self.vals * r[:, None])

    def gram(self, d):
        # Every row adds d_i x_i x_i^T. The diagonal goes into a length-p vector and only the
        # upper off-diagonal pairs (j < l) into the flattened (p, p) matrix, which is then
        # symmetrised: half the scattered entries, and for item-level cells sorted by (left,
        # right) the scatter walks memory in order. No dense (m, p) matrix is formed.
        p, width = self.p, self.cols.shape[1]
        diag = jnp.zeros(p, self.vals.dtype).at[self.cols].add(d[:, None] * self.vals**2)
        H = jnp.diag(diag)
        if width > 1:
            j, l = np.triu_indices(width, 1)
            off = d[:, None] * self.vals[:, j] * self.vals[:, l]
            flat = self.cols[:, j] * p + self.cols[:, l]
            upper = jax.ops.segment_sum(off.reshape(-1), flat.reshape(-1), p * p).reshape(p, p)
            H = H + upper + upper.T
        return H

    def group_sums(self, r, g, n_groups):
        out = jnp.zeros((n_groups, self.p), self.vals.dtype)
        return out.at[g[:, None], self.cols].add(self.vals * r[:, None])

    def to_scipy(self):
        cols, vals = np.asarray(self.cols), np.asarray(self.vals)
        rows = np.repeat(np.arange(cols.shape[0]), cols.shape[1])
        return sp.csr_matrix((vals.ravel(), (rows, cols.ravel())), shape=(cols.shape[0], self.p))


def sparse_rows_from_scipy(Z) -> tuple[np.ndarray, np.ndarray]:
    """ELLPACK arrays (cols, vals) of a scipy.sparse matrix, padded to the longest row."""
    Z = sp.csr_matrix(Z)
    Z.sum_duplicates()
    counts = np.diff(Z.indptr)
    width = max(int(counts.max(initial=0)), 1)
    cols = np.zeros((Z.shape[0], width), np.int32)
    vals = np.zeros((Z.shape[0], width), np.float64)
    slot = np.arange(Z.nnz) - np.repeat(Z.indptr[:-1], counts)
    rows = np.repeat(np.arange(Z.shape[0]), counts)
    cols[rows, slot] = Z.indices
    vals[rows, slot] = Z.data
    return cols, vals


def padded_size(m: int) -> int:
    """Row count to pad ``m`` rows to, so that tables of similar size share one compiled program.

    Powers of two up to 4096 rows, where a fit costs less than its compilation; from there to 2^16
    quarter-octave steps (5, 6, 7 and 8 times 2^k), so that padding adds at most 25% to the work
    of every iteration (whole octaves nearly doubled it: 36,528 item-level cells ran as 65,536);
    larger problems are not padded, since one compile is cheap next to copying a large design."""
    if m <= PAD_POW2_ROWS:
        return max(64, 1 << (m - 1).bit_length())
    if m <= 1 << 16:
        step = 1 << ((m - 1).bit_length() - 3)
        return -(-m // step) * step
    return m


def padded_columns(p: int) -> int:
    """Parameter count to pad ``p`` columns to: powers of two from 8 up to 256, so that tables with
    different numbers of items share one compiled program; above 256 a dense Newton step (p^3)
    would cost more than a compile, so larger ``p`` is not padded."""
    if p <= 256:
        return max(8, 1 << (p - 1).bit_length())
    return p


def pad_columns(design, penalty, p: int):
    """``(design, penalty)`` with ``p`` columns: zero columns whose parameters carry penalty 1.

    A padded parameter has zero gradient and a unit Hessian block uncoupled from the others, so
    the minimiser, the objective and the leading block of the information are those of the
    unpadded problem (the padded coordinates stay exactly 0). Only a :class:`SparseRowsDesign`
    is padded (its columns are indices, so padding copies nothing); any other design is returned
    unchanged.
    """
    penalty = np.asarray(penalty, np.float64)
    if not isinstance(design, SparseRowsDesign) or p <= design.p:
        return design, penalty
    return SparseRowsDesign(cols=design.cols, vals=design.vals, p=p), np.r_[penalty, np.ones(p - design.p)]


# XLA's CPU client uses a host buffer in place (no copy) when it is aligned to this many bytes.
_XLA_ALIGN = 64


def to_device(arr) -> jax.Array:
    """A host array as a device array (a private copy), without compiling anything.

    ``jnp.asarray`` of a numpy array runs a small compiled program (``jit(stage)``), one per shape
    and dtype; in a fresh process each costs a compilation-cache lookup of several milliseconds,
    which adds up over the handful of inputs of a small fit. ``jax.device_put`` only transfers.
    Call it inside ``prefstat._x64.x64_scope()`` for float64.
    """
    return jax.device_put(np.asarray(arr), may_alias=False)


def device_rows(arr, m: int) -> jax.Array:
    """``pad_rows(arr, m)`` (zero padding) as a device array, copied from the host exactly once.

    ``jnp.asarray`` of a large array copies it through a slow path (measured: 0.8-1.2 s for a
    1M x 64 float64 design on 2 cores). Copying it instead, with its padding, into a host buffer
    aligned to 64 bytes takes 0.1-0.35 s, and XLA's CPU client then adopts that buffer without a
    second copy. The buffer is private (nothing else refers to it), so the device array never
    changes. Call it inside ``prefstat._x64.x64_scope()`` for float64.
    """
    arr = np.asarray(arr)
    shape = (m,) + arr.shape[1:]
    if arr.nbytes < (1 << 20):
        return to_device(pad_rows(arr, m))
    nbytes = int(np.prod(shape)) * arr.itemsize
    raw = np.empty(nbytes + _XLA_ALIGN, np.uint8)
    start = (-raw.ctypes.data) % _XLA_ALIGN
    out = raw[start:start + nbytes].view(arr.dtype).reshape(shape)
    out[:arr.shape[0]] = arr
    out[arr.shape[0]:] = 0
    return jax.device_put(out)


def pad_rows(arr, m: int, value=0) -> np.ndarray:
    """``arr`` padded with ``value`` to ``m`` rows (zero-weight padding leaves every sum unchanged)."""
    if m == arr.shape[0]:
        return arr
    pad = [(0, m - arr.shape[0])] + [(0, 0)] * (arr.ndim - 1)
    return np.pad(arr, pad, constant_values=value)


def feature_design(Z, order=None, n_rows: int | None = None, names=None):
    """The design of a feature-level fit from the validated differences ``Z``: ``(design, names)``.

    ``Z`` is an (n, d) float array or a scipy.sparse matrix (e.g. ``ComparisonTable.features``).
    With ``order`` (an (n,) array in {-1, 0, 1}) the order indicator becomes the last column and
    ``"order_effect"`` the last name. The rows are padded with zero rows to ``n_rows`` (default
    :func:`padded_size` of n; pass ``n_rows=n`` for no padding); zero-weight padding rows change
    no sum. A sparse ``Z`` gives a :class:`SparseRowsDesign`, a dense one a :class:`DenseDesign`.
    ``names`` defaults to ``x0 .. x{d-1}``. Call it inside ``prefstat._x64.x64_scope()`` (the
    design is float64).
    """
    d = Z.shape[1]
    names = [f"x{j}" for j in range(d)] if names is None else list(names)
    if len(names) != d:
        raise ValueError(f"{len(names)} feature names for {d} columns.")
    if order is not None:
        o = np.asarray(order, np.float64)[:, None]
        Z = sp.hstack([Z, o], format="csr") if sp.issparse(Z) else np.column_stack([Z, o])
        names = names + ["order_effect"]
    rows = padded_size(Z.shape[0]) if n_rows is None else int(n_rows)
    if sp.issparse(Z):
        cols, vals = sparse_rows_from_scipy(Z)
        design = SparseRowsDesign(cols=to_device(pad_rows(cols, rows)), vals=to_device(pad_rows(vals, rows)),
                                  p=Z.shape[1])
    else:
        design = DenseDesign(X=device_rows(np.asarray(Z, np.float64), rows))
    return design, names
