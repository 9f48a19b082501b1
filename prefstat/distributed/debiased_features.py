r"""Feature-level :class:`~prefstat.DebiasedBradleyTerry` on partitions: every quantity is a sum over rows.

Without a density ratio (:math:`w = 1`) and without a fitted classifier, the debiased fit of
:mod:`prefstat.models.debiased_core` needs, at a given :math:`\theta` and :math:`\lambda`:

* the convex objective's value, gradient :math:`\sum_r (a_r\sigma_r - b_r)x_r` and Hessian
  :math:`\sum_r a_r\sigma_r(1-\sigma_r)x_rx_r^\top` (per-row weights :math:`a, b` of
  ``row_weights``): each damped Newton iteration is one map-reduce, with the iteration and
  stopping rule of :func:`prefstat.optim.newton` (:func:`.newton.damped_newton`);
* for PPI++'s tuned :math:`\lambda` (ppi_py's pooled form, as in memory), the grams
  :math:`\sum f\sigma'xx^\top`, :math:`\sum_H f g\hat g xx^\top`, :math:`\sum f\hat g^2xx^\top` and
  the sums :math:`\sum_H f g x`, :math:`\sum_H f\hat g x`, :math:`\sum f\hat g x`;
* for the two-sample covariance, per sample :math:`s`: :math:`\sum_s f\psi x` and
  :math:`\sum_s f\psi^2xx^\top` (:math:`\psi = u - \lambda v`, and :math:`u` for the human-only
  baseline of ``n_eff_``), since :math:`\sum_s f(\psi-\bar\psi_s)(\psi-\bar\psi_s)^\top =
  \sum_s f\psi\psi^\top - (\sum_s f\psi)(\sum_s f\psi)^\top/n_s`.

All are additive over partitions, so the fit equals the in-memory one to rounding. One more
vector comes back: the human rows' frequency weights (for the overlap diagnostics); the human
sample is the small, expensive one. Not supported here: ``cov_type="cluster"``, density ratios.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .cells import check_weight_stats
from .compute import TransferLog, map_reduce
from .newton import damped_newton

__all__ = ["DebiasedFeatureFit", "fit_debiased_features"]

DIVERGED_ETA = 30.0  # prefstat.losses.DIVERGED_ETA (not imported: this package must not import JAX)


class DebiasedFeatureFit(NamedTuple):
    theta: np.ndarray
    lam: float
    lam_raw: float  # nan when lambda was fixed
    bread: np.ndarray
    cov: np.ndarray
    cov_human: np.ndarray
    converged: bool
    info0: np.ndarray  # information at the start point (names unidentified parameters)
    n_iter: int
    n_human: float
    n_pool: float
    human_weights: np.ndarray  # frequency weights of the human rows
    disagreement: float  # sum over human rows of f |Z - A| (soft labels: Z(1-A) + (1-Z)A)
    names: list


def _inv(A):
    return np.linalg.inv(0.5 * (A + A.T))


def _sandwich(bread, meat):
    a_inv = _inv(bread)
    cov = a_inv @ meat @ a_inv.T
    return 0.5 * (cov + cov.T)


def _sample_cov(pairs, counts):
    """sum_s n_s/(n_s - 1) [sum f psi^2 x x^T - (sum f psi x)(...)^T / n_s] over the samples."""
    total = 0.0
    for (v, G), n_s in zip(pairs, counts):
        total = total + (G - np.outer(v, v) / n_s) * n_s / (n_s - 1.0)
    return total


def fit_debiased_features(table, *, lam, order_effect: bool, tol: float, max_iter: int,
                          log: TransferLog | None = None) -> DebiasedFeatureFit:
    """Debiased BT on a feature-level :class:`~prefstat.distributed.PartitionedTable` with an ``ai_label`` role.

    ``lam``: "auto" (PPI++, pooled tuning at the lambda = 1 root, or at the human-only root when that
    does not exist) or a number in [0, 1].
    """
    from .partition import (combine_debiased_summary, combine_sum, debiased_final_sums, debiased_summary,
                            debiased_tuning_sums, debiased_vgh)

    if table.roles["ai_label"] is None:
        raise ValueError("DebiasedBradleyTerry needs the judge label column: PartitionedTable(..., ai_label=...).")
    summary = map_reduce(table, debiased_summary, combine_debiased_summary, order_effect, desc="validate", log=log)
    if summary is None:
        raise ValueError("the comparison table is empty: there are no rows to fit.")
    (_, w_min, w_max, total), n, N, _, disagreement, fh, p = summary
    check_weight_stats(total, w_min, w_max, table.roles["weight"] or "weight")
    if n < 2 or N < 1:
        which = "human-labelled" if n < 2 else "pool"
        raise ValueError(f"the {which} rows carry too little weight (human {n:g}, pool {N:g}); at least two "
                         "human units and one pool unit are needed.")
    names = list(table.features) + (["order_effect"] if order_effect else [])

    def solve(lam_, x0):
        def vgh(theta):
            return map_reduce(table, debiased_vgh, combine_sum, theta, lam_, n, N, order_effect, desc="newton",
                              log=log)

        # sum_r a_r = lam + (1 - lam) = 1: the objective's scale
        x, _, _, H, eta_max, it, ok = damped_newton(vgh, np.array(x0, np.float64), tol**2, 1.0, max_iter)
        return x, H, it, ok and eta_max < DIVERGED_ETA

    zero = np.zeros(p)
    lam_raw = np.nan
    if lam == "auto":
        theta0, _, _, ok = solve(1.0, zero)
        if not ok:
            theta0 = solve(0.0, zero)[0]
        D, S_gh, s_g, s_gh_h, V_gh, s_gh = map_reduce(table, debiased_tuning_sums, combine_sum, theta0, n, N,
                                                       order_effect, desc="tune", log=log)[:-1]
        Minv = _inv(D / (n + N))
        S = S_gh - np.outer(s_g, s_gh_h) / n  # centred over the human sample, ddof 0
        num = np.trace(Minv @ (0.5 * (S + S.T)) @ Minv.T) / n
        V = (V_gh - np.outer(s_gh, s_gh) / (n + N)) / (n + N - 1.0)
        den = (1.0 + n / N) * np.trace(Minv @ V @ Minv.T)
        lam_raw = float(num / den)
        lam_used = float(np.clip(lam_raw, 0.0, 1.0))
        theta, _, n_iter, converged = solve(lam_used, theta0)
    else:
        lam_used = float(lam)
        theta, _, n_iter, converged = solve(lam_used, zero)
    out = map_reduce(table, debiased_final_sums, combine_sum, theta, lam_used, n, N, order_effect, desc="covariance",
                     log=log)
    psi_pool, psi_human, u_pool, u_human = (out[0:2], out[2:4], out[4:6], out[6:8])
    bread, bread0 = out[8], out[9]
    meat = _sample_cov([psi_pool, psi_human], [N, n])
    meat_u = _sample_cov([u_pool, u_human], [N, n])
    info0 = None
    if not converged:
        # information at the start point (sigma' = 1/4) with lambda's row weights
        info0 = map_reduce(table, debiased_vgh, combine_sum, zero, lam_used, n, N, order_effect, desc="check",
                           log=log)[2]
    return DebiasedFeatureFit(theta=theta, lam=lam_used, lam_raw=lam_raw, bread=bread, cov=_sandwich(bread, meat),
                              cov_human=_sandwich(bread0, meat_u), converged=converged, info0=info0, n_iter=n_iter,
                              n_human=n, n_pool=N, human_weights=fh, disagreement=disagreement, names=names)
