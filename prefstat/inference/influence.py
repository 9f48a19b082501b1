r"""Covariances from per-row influence values, for one or several independent samples.

A Z-estimator solving :math:`U(\theta) = \sum_r f_r \psi_r(\theta) = 0` (frequency
weights :math:`f`) has :math:`\hat\theta - \theta \approx A^{-1} U(\theta)` with
bread :math:`A = -\partial U / \partial\theta`, so its covariance is
:math:`A^{-1} \mathrm{Var}(U) A^{-1}`. This module estimates :math:`\mathrm{Var}(U)`
from the per-row terms :math:`\psi_r` ("influence values" up to the bread):

* **row level**, the rows of each sample :math:`s` i.i.d., the samples
  independent (:func:`influence_cov`):

  .. math::  \widehat{\mathrm{Var}}(U) = \sum_s \frac{n_s}{n_s - \mathrm{ddof}}
             \sum_{r \in s} f_r (\psi_r - \bar\psi_s)(\psi_r - \bar\psi_s)^\top,
             \qquad n_s = \sum_{r \in s} f_r, \ \bar\psi_s = \frac{1}{n_s}\sum_{r \in s} f_r \psi_r .

  Centring matters when the samples' terms do not average to zero separately
  (two-sample estimating equations: only their sum is zero at the root);
  ``ddof = 1`` makes each term the unbiased sample covariance times
  :math:`n_s` (the convention of ppi_py). With one sample, ``center=False``
  and ``ddof=0`` it is the Huber-White meat :math:`\sum_r f_r \psi_r\psi_r^\top`.
* **cluster level** (:func:`cluster_influence_cov`): the clusters of each
  sample i.i.d.; within-sample cluster sums of the centred terms
  :math:`S_g = \sum_{r \in g} f_r (\psi_r - \bar\psi_s)`, and
  :math:`\sum_s c_s \sum_g S_g S_g^\top` with statsmodels' small-sample factor
  :math:`c_s = \frac{G_s}{G_s - 1}\frac{n_s - 1}{n_s - p}` (or :math:`c_s = 1`).

:func:`influence_sandwich` wraps either in the sandwich :math:`A^{-1}\,\cdot\,A^{-1}`
(:func:`~prefstat.inference.covariance.sandwich_cov`).

Influence values are passed as an (m, p) array, or as any object with the
three methods of :class:`DenseInfluence` (``weighted_sum``, ``weighted_cross``,
``cluster_sums``); :class:`DesignInfluence` is the structured form
:math:`\psi_r = s_r x_r + E F_r e_r` of a GLM-type estimating equation over a
:mod:`prefstat.design` (a per-row residual times the design row, plus a
first-step correction for an estimated nuisance, Newey & McFadden 1994,
section 6), whose moments come from the design's gram and group sums without
forming the m x p matrix. Everything is ``jax.numpy``: :func:`influence_cov` is
traceable (``jit``/``vmap``); :func:`cluster_influence_cov` counts clusters on
the host. See ``docs/methods.md`` (inference).
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .covariance import sandwich_cov

__all__ = ["DenseInfluence", "DesignInfluence", "as_influence", "influence_cov", "cluster_influence_cov",
           "influence_sandwich"]


class DenseInfluence(NamedTuple):
    """Influence values as an (m, p) array."""

    values: jax.Array

    @property
    def n_rows(self) -> int:
        return self.values.shape[0]

    def weighted_sum(self, w):
        """``sum_r w_r psi_r``, shape (p,)."""
        return self.values.T @ w

    def weighted_cross(self, other, w):
        """``sum_r w_r psi_r phi_r^T``, shape (p, p'), with ``phi`` the rows of ``other``."""
        return self.values.T @ (w[:, None] * other.values)

    def cluster_sums(self, w, codes, n_groups):
        """(n_groups, p) sums ``sum_{r in g} w_r psi_r``."""
        return jax.ops.segment_sum(w[:, None] * self.values, codes, n_groups)


class DesignInfluence(NamedTuple):
    """Structured influence values ``psi_r = s_r x_r + E F_r e_r`` over a :mod:`prefstat.design`.

    ``s`` (m,) multiplies the design row ``x_r``; the optional first-step term
    has ``E`` (p, q), ``F`` (m, q) and ``e`` (m,) (pass ``F`` of shape (m, 0)
    for none). Cross moments with another :class:`DesignInfluence` assume the
    same design, ``F`` and ``e``.
    """

    design: object
    s: jax.Array
    E: jax.Array
    e: jax.Array
    F: jax.Array

    @property
    def n_rows(self) -> int:
        return self.s.shape[0]

    def cross_features(self, d):
        """``sum_r d_r x_r F_r^T``, shape (p, q), through the design's rmatvec (no dense copy of X)."""
        return jax.vmap(lambda col: self.design.rmatvec(d * col), in_axes=1, out_axes=1)(self.F)

    def weighted_sum(self, w):
        out = self.design.rmatvec(w * self.s)
        if self.F.shape[1]:
            out = out + self.E @ (self.F.T @ (w * self.e))
        return out

    def weighted_cross(self, other, w):
        # expanded so that only grams and cross-grams of the design are formed
        out = self.design.gram(w * self.s * other.s)
        if self.F.shape[1]:
            xa, xb = self.cross_features(w * self.s * self.e), self.cross_features(w * other.s * self.e)
            Fg = self.F.T @ ((w * self.e * self.e)[:, None] * self.F)
            out = out + xa @ other.E.T + self.E @ xb.T + self.E @ Fg @ other.E.T
        return out

    def cluster_sums(self, w, codes, n_groups):
        S = self.design.group_sums(w * self.s, codes, n_groups)
        if self.F.shape[1]:
            S = S + jax.ops.segment_sum((w * self.e)[:, None] * self.F, codes, n_groups) @ self.E.T
        return S


def as_influence(psi):
    """``psi`` as an influence object: arrays are wrapped in :class:`DenseInfluence`."""
    if hasattr(psi, "weighted_cross"):
        return psi
    values = jnp.asarray(psi)
    if values.ndim != 2:
        raise ValueError(f"influence values must be an (m, p) array; got shape {values.shape}.")
    return DenseInfluence(values)


def _setup(psi, weight, samples):
    a = as_influence(psi)
    m = a.n_rows
    weight = jnp.ones(m) if weight is None else jnp.asarray(weight)
    masks = (jnp.ones(m, weight.dtype),) if samples is None else tuple(jnp.asarray(s) for s in samples)
    return a, weight, masks


def influence_cov(psi, weight=None, samples=None, other=None, *, center: bool = True, ddof=1.0):
    """Estimated ``Var(U)`` (or ``Cov(U_psi, U_phi)`` with ``other``) from per-row influence values.

    ``psi``: (m, p) array or influence object; ``weight``: (m,) frequency
    weights (default 1; 0 drops a row, e.g. padding); ``samples``: sequence of
    (m,) 0/1 masks of the independent samples (default: one sample of all
    rows); ``other``: influence values of a second estimating function on the
    same rows, for a cross-covariance ``sum_s (n_s/(n_s - ddof)) sum_{r in s}
    f_r (psi_r - mean)(phi_r - mean)^T``. ``center=False`` drops the
    per-sample means; ``ddof=0`` the factor.
    """
    a, weight, masks = _setup(psi, weight, samples)
    b = a if other is None else as_influence(other)
    total = None
    for mask in masks:
        wts = weight * mask
        out = a.weighted_cross(b, wts)
        n_s = jnp.sum(wts)
        if center:
            out = out - jnp.outer(a.weighted_sum(wts), b.weighted_sum(wts)) / n_s
        if not (isinstance(ddof, (int, float)) and ddof == 0):
            out = out * n_s / (n_s - ddof)
        total = out if total is None else total + out
    return total


def cluster_influence_cov(psi, clusters, weight=None, samples=None, *, center: bool = True,
                          correction: bool = True):
    """Cluster-robust ``Var(U)`` from per-row influence values: clusters nested in samples (host-side).

    ``clusters``: (m,) integer cluster codes, read within each sample (code
    ``g`` of one sample and ``g`` of another are different clusters). A sample
    whose rows all have code -1 has no cluster ids: its rows count as
    independent units (:func:`influence_cov` with ``ddof=1``, no
    small-sample factor). ``correction``: statsmodels' factor
    ``G_s/(G_s - 1) * (n_s - 1)/(n_s - p)`` per sample, ``G_s`` the number of
    clusters among the sample's rows and ``n_s`` its total weight. Other
    arguments as in :func:`influence_cov`.
    """
    a, weight, masks = _setup(psi, weight, samples)
    codes = np.asarray(clusters)
    if codes.shape != (a.n_rows,):
        raise ValueError(f"clusters must have one code per row ({a.n_rows}); got shape {codes.shape}.")
    total = None
    for mask in masks:
        in_s = np.asarray(mask) > 0
        if not in_s.any():
            continue
        sample_codes = codes[in_s]
        if np.all(sample_codes < 0):
            out = influence_cov(a, weight, (mask,), center=center)
        elif np.any(sample_codes < 0):
            raise ValueError("clusters has missing codes (-1) on some rows of a sample but not all; give every "
                             "row of a sample its cluster, or none (independent rows).")
        else:
            n_groups = int(sample_codes.max()) + 1
            # rows outside the sample go to a dummy cluster that is dropped
            g = jnp.asarray(np.where(in_s, codes, n_groups))
            wts = weight * mask
            n_s = jnp.sum(wts)
            S = a.cluster_sums(wts, g, n_groups + 1)
            if center:
                S = S - jax.ops.segment_sum(wts, g, n_groups + 1)[:, None] * (a.weighted_sum(wts) / n_s)
            S = S[:n_groups]
            out = S.T @ S
            if correction:
                if n_groups < 2:
                    raise ValueError("cluster-robust standard errors need at least two groups per sample; a "
                                     "sample has only one.")
                p = out.shape[0]
                out = out * (n_groups / (n_groups - 1.0)) * ((n_s - 1.0) / (n_s - p))
        total = out if total is None else total + out
    return total


def influence_sandwich(bread, psi, weight=None, samples=None, clusters=None, **kwargs):
    """``A^-1 Var(U) A^-1`` with ``Var(U)`` from :func:`influence_cov` (or :func:`cluster_influence_cov`
    when ``clusters`` is given); ``kwargs`` go to that function."""
    if clusters is None:
        meat = influence_cov(psi, weight, samples, **kwargs)
    else:
        meat = cluster_influence_cov(psi, clusters, weight, samples, **kwargs)
    return sandwich_cov(bread, meat)
