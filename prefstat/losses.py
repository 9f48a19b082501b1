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
    by L-BFGS and computes the information once at the solution.
    Run it in float64 (inside ``prefstat._x64.x64_scope()``).
    """
    value, vgh = logistic_objective(design, W, WY, penalty)
    if solver == "newton":
        return newton(value, vgh, beta0, gscale=jnp.sum(W), gtol=gtol, max_iter=max_iter)
    res = lbfgs(value, beta0, gscale=jnp.sum(W), gtol=gtol, max_iter=max_iter)
    # One Newton step with the information that the standard errors need anyway: from
    # L-BFGS's ~1e-8 accuracy it lands at Newton accuracy (quadratic convergence).
    f, g, H = vgh(res.x)
    step = jax.scipy.linalg.cho_solve(jax.scipy.linalg.cho_factor(H, lower=True), g)
    converged = res.converged & (jnp.dot(g, step) <= 1e-12 * jnp.sum(W))
    return res._replace(x=res.x - step, grad=g, hess=H, converged=converged)


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
