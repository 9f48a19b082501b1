r"""The weighted soft-target logistic loss: the objective every linear-index estimator shares.

On m rows (or aggregated cells) with linear predictor :math:`\eta = X\beta`,
summed weights :math:`W` and summed weighted targets :math:`WY`
(targets in [0, 1]: 1 left preferred, 0 right, 1/2 a tie or any soft label),

.. math::  L(\beta) = -\sum_i \big[WY_i\,\eta_i - W_i \log(1 + e^{\eta_i})\big]
                     + \tfrac12 \sum_j \text{penalty}_j \beta_j^2 .

Its gradient is :math:`-X^\top (WY - W p)` and its Hessian
:math:`X^\top \mathrm{diag}(W p (1-p)) X + \mathrm{diag}(\text{penalty})` with
:math:`p = \sigma(\eta)`. The same loss is the Bradley-Terry negative
log-likelihood (ties as half wins), the logistic regression of a density-ratio
classifier (target = sample membership), the DDPO/PPI++ corrected objective
(targets mixed from human and judge labels) and the M step of a latent-class
EM (targets weighted by responsibilities), so it lives here once, with

* :func:`logistic_objective` - value and (value, grad, Hessian) closures for the solvers;
* :func:`logistic_fit` - its minimiser by damped Newton (or L-BFGS + one Newton step);
* :func:`logistic_meat` - :math:`\sum_i w_i (y_i - p_i)^2 x_i x_i^\top` from cell sums;
* :func:`logistic_group_scores` - cluster sums of the score :math:`\sum_{i\in g} w_i (y_i - p_i) x_i`.

All are pure JAX functions (jit- and vmap-able) over a :mod:`prefstat.design` pytree.
See ``docs/methods.md#conventions`` and ``#bradley-terry`` for the estimating equation.
"""
from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from .optim import OptimResult, lbfgs, newton

__all__ = ["logistic_objective", "logistic_fit", "logistic_meat", "logistic_group_scores",
           "SUSPICIOUS_ETA", "DIVERGED_ETA"]

# A fitted linear predictor beyond this (probability within 3e-7 of 0 or 1) triggers the exact
# separation check: under separation Newton can stall at |eta| ~ 25-60 with a tiny gradient.
SUSPICIOUS_ETA = 15.0
# Fits that are not checked by linear programming (bootstrap replicates, simulation replications,
# EM steps): a linear predictor beyond this (probability within 1e-13 of 0 or 1) has run off to
# infinity, i.e. the MLE of that resample does not exist.
DIVERGED_ETA = 30.0


def logistic_objective(design, W, WY, penalty):
    """``(value, value_grad_hess)`` closures of the penalised weighted soft-target logistic loss."""

    def value(beta):
        eta = design.matvec(beta)
        return -jnp.sum(WY * eta - W * jax.nn.softplus(eta)) + 0.5 * jnp.sum(penalty * beta**2)

    def value_grad_hess(beta):
        eta = design.matvec(beta)
        p = jax.nn.sigmoid(eta)
        f = -jnp.sum(WY * eta - W * jax.nn.softplus(eta)) + 0.5 * jnp.sum(penalty * beta**2)
        g = -design.rmatvec(WY - W * p) + penalty * beta
        H = design.gram(W * p * (1.0 - p)) + jnp.diag(penalty)
        return f, g, H

    return value, value_grad_hess


@partial(jax.jit, static_argnames=("max_iter", "solver"))
def logistic_fit(design, W, WY, penalty, beta0, gtol=1e-12, max_iter=100, solver="newton") -> OptimResult:
    """Minimiser of the loss: a pure function of the data (jit- and vmap-able).

    ``design`` is a :mod:`prefstat.design` pytree (m rows, p columns), ``W``
    and ``WY`` the per-row sums of weights and weighted targets, ``penalty``
    the per-column L2 strength. Returns an :class:`~prefstat.optim.OptimResult`
    whose ``hess`` is the (penalised) observed information at the solution.
    ``solver="lbfgs"`` replaces the Newton iterations (one p x p Cholesky each)
    by L-BFGS and computes the information once at the solution;
    ``solver="subsampled"`` (for tall designs, where one information costs as much
    as many gradients) by Newton steps whose information comes from a subsample
    of rows (:func:`_subsampled_newton`), and again computes the full information
    once at the solution.
    Run it in float64 (inside ``prefstat._x64.x64_scope()``).
    """
    value, vgh = logistic_objective(design, W, WY, penalty)
    if solver == "newton":
        return newton(value, vgh, beta0, gscale=jnp.sum(W), gtol=gtol, max_iter=max_iter)
    if solver == "subsampled":
        res = _subsampled_newton(design, W, WY, penalty, beta0, gtol, max_iter)
    else:
        res = lbfgs(value, beta0, gscale=jnp.sum(W), gtol=gtol, max_iter=max_iter)
    # One Newton step with the information that the standard errors need anyway: from
    # L-BFGS's ~1e-8 accuracy (or the subsampled iterations') it lands at Newton accuracy
    # (quadratic convergence).
    f, g, H = vgh(res.x)
    step = jax.scipy.linalg.cho_solve(jax.scipy.linalg.cho_factor(H, lower=True), g)
    # before the final step: L-BFGS must have reached a decrement of 1e-12 * total weight; the
    # subsampled iterations the tolerance itself (they stop 100x below it, in their own metric)
    limit = gtol if solver == "subsampled" else 1e-12
    converged = res.converged & (jnp.dot(g, step) <= limit * jnp.sum(W))
    x = res.x - step
    if solver == "subsampled":
        # the information at the returned estimate, as full Newton reports it (the one before the
        # step differs by ~1e-8 relative); one more Gram pass, cheaper than the iterations it replaces
        f, g, H = vgh(x)
    return res._replace(x=x, value=f, grad=g, hess=H, converged=converged)


# Rows of the subsample whose information preconditions the full-data iterations. The iterations
# contract the error by about sqrt(p / rows) each (the relative error of a subsampled information),
# so 30,000 rows give a factor of ~20 per full-data gradient at p = 64 while the subsample's own
# Newton fit costs a few per cent of one full pass.
SUBSAMPLE_ROWS = 30_000


def _subsampled_newton(design, W, WY, penalty, beta0, gtol, max_iter) -> OptimResult:
    """Newton iterations on the full data with the information of a row subsample (Pilanci & Wainwright
    2017, "Newton sketch"; Roosta-Khorasani & Mahoney 2019, "Sub-sampled Newton methods").

    Every ``stride``-th row forms the subsample (deterministic: no random state). Its penalised fit,
    with the penalty scaled by its share of the weight, gives the start, and its information at that
    start, scaled to the full weight, is the fixed ``H`` of damped Newton iterations on the full
    objective: each costs one pass for the gradient instead of the ``n p^2`` of a full information.
    The iterations converge linearly (to the exact minimiser: only the step uses the subsample) until
    the Newton decrement is below ``gtol / 100`` (not ``gtol^2``) times the total weight; the caller's
    final full Newton step then squares the error, as after L-BFGS.
    """
    m = W.shape[0]
    stride = max(1, m // SUBSAMPLE_ROWS)
    sub = jax.tree_util.tree_map(lambda a: a[::stride], design)
    Ws, WYs = W[::stride], WY[::stride]
    share = jnp.sum(Ws) / jnp.sum(W)
    value_s, vgh_s = logistic_objective(sub, Ws, WYs, penalty * share)
    start = newton(value_s, vgh_s, beta0, gscale=jnp.sum(Ws), gtol=1e-6, max_iter=max_iter)
    value, vgh = logistic_objective(design, W, WY, penalty)
    # If the subsample's fit fails (e.g. the subsample alone is separated), fall back to the full
    # information at the caller's start: any fixed positive definite matrix still gives descent steps.
    ok = start.converged & jnp.all(jnp.isfinite(start.hess))
    H_fixed = jax.lax.cond(ok, lambda: start.hess / share, lambda: vgh(beta0)[2])
    x0 = jnp.where(ok, start.x, beta0)

    def value_grad_fixed(beta):
        f, g = jax.value_and_grad(value)(beta)
        return f, g, H_fixed

    # to a decrement 100x below gtol (not gtol^2): the caller's full Newton step squares the error.
    # The margin keeps the caller's check, in the exact metric, from failing on the difference
    # between the subsampled and the full information.
    res = newton(value, value_grad_fixed, x0, gscale=jnp.sum(W), gtol=0.1 * jnp.sqrt(gtol), max_iter=max_iter)
    return res._replace(n_iter=res.n_iter + start.n_iter)


@jax.jit
def logistic_meat(design, W, WY, WY2, beta):
    """Robust meat ``sum_i w_i (y_i - p_i)^2 x_i x_i^T`` from cell sums ``W, WY, WY2 = sum w y^2``."""
    p = jax.nn.sigmoid(design.matvec(beta))
    # sum over the rows of a cell of w (y - p)^2 = WY2 - 2 p WY + p^2 W
    return design.gram(WY2 - 2.0 * p * WY + p**2 * W)


@partial(jax.jit, static_argnames=("n_groups",))
def logistic_group_scores(design, W, WY, beta, group, n_groups):
    """(n_groups, p) cluster sums of the score ``(WY - W p) x`` (``group``: cluster code per row)."""
    p = jax.nn.sigmoid(design.matvec(beta))
    return design.group_sums(WY - W * p, group, n_groups)
