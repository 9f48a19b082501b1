"""Item-level Bradley-Terry design: the ELLPACK rows of theta_a - theta_b (+ gamma o) and the maps
from the free parameters (reference item dropped, or all items under a penalty) to the reported ones.

Shared by :class:`~prefstat.BradleyTerry`, :class:`~prefstat.DebiasedBradleyTerry` and the
simulation adapters; re-exported by :mod:`prefstat.models.bradley_terry`.
"""
from __future__ import annotations

import jax.numpy as jnp
import numpy as np

__all__ = ["item_design", "item_transform", "item_reparametrize"]


def item_design(a, b, o, k: int, ref: int, penalised: bool, xp=jnp):
    """ELLPACK columns/values of the item-level design in the free parametrisation.

    Row i has +1 in the column of item ``a_i``, -1 in that of ``b_i`` and the
    order indicator ``o_i`` in the last column (when ``o`` is given). Without a
    penalty the reference item ``ref`` has no column (fixed at 0); with one,
    every item has a column. ``xp`` is numpy or jax.numpy (traceable).
    """
    shift = 0 if penalised else 1

    def column(item):
        keep = xp.ones_like(item, dtype=bool) if penalised else item != ref
        col = xp.where(item > ref, item - shift, item)
        return xp.where(keep, col, 0).astype(xp.int32), keep.astype(xp.float64)

    ca, ka = column(a)
    cb, kb = column(b)
    cols, vals = [ca, cb], [ka, -kb]
    if o is not None:
        cols.append(xp.full_like(ca, k - shift))
        vals.append(o)
    return xp.stack(cols, axis=1), xp.stack(vals, axis=1)


def item_transform(k: int, ref: int, penalised: bool, has_order: bool, centre: bool) -> np.ndarray:
    """Matrix mapping the free parameters to the reported ones.

    Pads the reference item back in (unpenalised fits), then centres
    (``centre=True``: sum-to-zero, C = I - 11^T/k) or shifts so the reference
    is 0. The order effect, if any, is carried through unchanged.
    """
    keep = np.ones(k, bool) if penalised else (np.arange(k) != ref)
    A = np.eye(k)
    if centre:
        A -= 1.0 / k
    else:
        A[:, ref] -= 1.0
    free = int(keep.sum())
    T = np.zeros((k + has_order, free + has_order))
    T[:k, :free] = A[:, keep]  # A @ P, with P the identity without the reference column
    if has_order:
        T[k, free] = 1.0
    return T


def item_reparametrize(cov: np.ndarray, k: int, ref: int, penalised: bool, has_order: bool,
                       centre: bool) -> np.ndarray:
    """``T V T^T`` for ``T = item_transform(...)`` in O(k^2) instead of dense products."""
    keep = np.ones(k, bool) if penalised else (np.arange(k) != ref)
    idx = np.r_[np.flatnonzero(keep), [k] if has_order else []].astype(int)
    full = np.zeros((k + has_order, k + has_order))
    full[np.ix_(idx, idx)] = cov
    ab, cross = full[:k, :k], full[:k, k:]
    if centre:
        ab = ab - ab.mean(axis=0) - ab.mean(axis=1)[:, None] + ab.mean()
        cross = cross - cross.mean(axis=0)
    else:
        ab = ab - ab[ref] - ab[:, [ref]] + ab[ref, ref]
        cross = cross - cross[ref]
    full[:k, :k], full[:k, k:], full[k:, :k] = ab, cross, cross.T
    return full
