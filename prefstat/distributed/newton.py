r"""Feature-level Bradley-Terry on partitions: damped Newton whose every pass is a map-reduce.

The loss :math:`L(\beta) = -\sum_i w_i[y_i\eta_i - \log(1+e^{\eta_i})] + \tfrac12\sum_j
\text{penalty}_j\beta_j^2` (:mod:`prefstat.losses`), its gradient
:math:`-\sum_i w_i(y_i - p_i)x_i` and Hessian :math:`\sum_i w_i p_i(1-p_i)x_ix_i^\top` are sums
over rows, so each is the sum of its per-partition sums: one pass over the partitions returns
the value, the p-vector and the p x p matrix (:func:`prefstat.distributed.partition.feature_vgh`).
The client runs the same damped Newton iteration and stopping rule as
:func:`prefstat.optim.newton` (Armijo halving outside the quadratic region, stop when the
Newton decrement :math:`g^\top H^{-1} g \le \text{tol}^2 \sum w`), so it converges to the same
MLE as the in-memory fit. At the solution one more pass each gives the robust meat
:math:`\sum_i w_i(y_i-p_i)^2x_ix_i^\top` or the cluster sums of the score. Nothing of size
:math:`n` ever reaches the client.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .cells import check_weight_stats
from .compute import TransferLog, map_reduce

__all__ = ["FeatureFit", "fit_features", "damped_newton"]


class FeatureFit(NamedTuple):
    x: np.ndarray  # solution (coefficients, then the order effect)
    value: float  # penalised loss at x
    grad: np.ndarray
    hess: np.ndarray  # penalised information at x
    n_iter: int
    converged: bool
    max_abs_eta: float  # over rows with weight, at x
    meat: np.ndarray | None
    group_scores: np.ndarray | None  # (G, p) over clusters with positive weight
    total_weight: float
    entropy: float
    names: list


def damped_newton(vgh, x, stop: float, scale: float, max_iter: int):
    """Minimise with ``vgh(x) -> (value, gradient, Hessian, largest |eta|)``, each call one pass over the data.

    The iteration and stopping rule of :func:`prefstat.optim.newton`: Armijo halving outside the
    quadratic region (decrement ``>= 1e-6 * scale``), stop when the Newton decrement
    ``g^T H^-1 g <= stop``. Returns ``(x, value, grad, hess, largest |eta|, iterations, converged)``.
    """
    def step(g, H):
        try:
            L = np.linalg.cholesky(H)
        except np.linalg.LinAlgError:
            return None, np.inf
        d_ = np.linalg.solve(L.T, np.linalg.solve(L, g))
        return d_, float(g @ d_)

    f, g, H, eta_max = vgh(x)
    d_, dec = step(g, H)
    it = 0
    while np.isfinite(dec) and dec > stop and it < max_iter:
        t = 1.0
        while True:
            x_new = x - t * d_
            f_new, g_new, H_new, eta_new = vgh(x_new)
            # inside the quadratic region the full step is taken (f changes by less than its rounding)
            if dec < 1e-6 * scale or f_new <= f - 1e-4 * t * dec or t <= 2.0**-40:
                break
            t *= 0.5
        x, f, g, H, eta_max = x_new, f_new, g_new, H_new, eta_new
        d_, dec = step(g, H)
        it += 1
    return x, f, g, H, eta_max, it, bool(np.isfinite(dec) and dec <= stop)


def fit_features(table, *, order_effect: bool, alpha: float, cov_type: str, tol: float | None = None,
                 max_iter: int | None = None, log: TransferLog | None = None, beta0=None) -> FeatureFit:
    """Feature-level MLE on a :class:`~prefstat.distributed.PartitionedTable` (see the module docstring).

    ``cov_type`` decides the final passes: "robust" adds the meat, "cluster" the cluster scores.
    ``tol`` (default 1e-12) and ``max_iter`` (default 100) as in :func:`prefstat.optim.newton`.
    ``beta0``: start point (coefficients, then the order effect), e.g. the solution before an update;
    the default is 0.
    """
    from .partition import (combine_feature_summary, combine_group_scores, combine_sum, feature_group_scores,
                            feature_meat, feature_summary, feature_vgh)

    if table.kind != "features":
        raise ValueError("the feature-level fit needs a feature-level table (features= columns).")
    if cov_type == "cluster" and table.roles["group"] is None:
        raise ValueError("cov_type='cluster' needs groups: give the table a group column (group=...).")
    tol = 1e-12 if tol is None else float(tol)
    max_iter = 100 if max_iter is None else int(max_iter)
    summary = map_reduce(table, feature_summary, combine_feature_summary, desc="validate", log=log)
    if summary is None:
        raise ValueError("the comparison table is empty: there are no rows to fit.")
    (n_rows, w_min, w_max, total), entropy = summary
    check_weight_stats(total, w_min, w_max, table.roles["weight"] or "weight")
    d = len(table.features)
    names = list(table.features) + (["order_effect"] if order_effect else [])
    p = len(names)
    penalty = np.r_[np.full(d, float(alpha)), np.zeros(p - d)]

    def vgh(beta):
        f, g, H, eta_max = map_reduce(table, feature_vgh, combine_sum, beta, order_effect, desc="newton", log=log)
        return (f + 0.5 * np.sum(penalty * beta**2), g + penalty * beta, H + np.diag(penalty), eta_max)

    x = np.zeros(p) if beta0 is None else np.array(beta0, dtype=np.float64)
    if x.shape != (p,):
        raise ValueError(f"beta0 must have {p} entries ({names}); got shape {x.shape}.")
    x, f, g, H, eta_max, it, converged = damped_newton(vgh, x, tol**2 * total, total, max_iter)
    meat = group_scores = None
    if cov_type == "robust":
        meat = map_reduce(table, feature_meat, combine_sum, x, order_effect, desc="meat", log=log)
    if cov_type == "cluster":
        S = map_reduce(table, feature_group_scores, combine_group_scores, x, order_effect, desc="clusters", log=log)
        # clusters are counted over rows that carry weight (as in memory)
        S = S[S["__weight__"] > 0]
        group_scores = S.drop(columns="__weight__").to_numpy(np.float64)
    return FeatureFit(x=x, value=float(f), grad=g, hess=H, n_iter=it, converged=converged, max_abs_eta=eta_max,
                      meat=meat, group_scores=group_scores, total_weight=float(total), entropy=float(entropy),
                      names=names)

