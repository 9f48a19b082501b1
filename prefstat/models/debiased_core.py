r"""The pure core of :class:`prefstat.DebiasedBradleyTerry`: root, PPI++ lambda, influence values.

:func:`fit_core` solves the debiased estimating equation on one stacked
two-sample table and returns its estimate, bread and two-sample covariance;
it is ``jit``- and ``vmap``-able, so the simulation engine
(:class:`prefstat.simulate.estimators.DebiasedSim`) runs the same numbers as
the class. The estimating equation, its convex objective, the covariance and
the lambda tuning are stated in :mod:`prefstat.models.debiased`; the
covariance comes from the shared influence layer
(:func:`prefstat.inference.influence_cov` on :class:`~prefstat.inference.DesignInfluence`
values, :func:`prefstat.inference.sandwich_cov`), the cross-fitted density
ratio from :func:`prefstat.nuisance.crossfit_logistic_ratio`.
"""
from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp

from ..inference import DesignInfluence, influence_cov, sandwich_cov
from ..losses import DIVERGED_ETA, logistic_fit
from ..nuisance import crossfit_logistic_ratio
from ..optim import run_after

__all__ = ["DebiasedFit", "Influence", "fit_core", "row_weights", "influence_values"]


class Influence(NamedTuple):
    """Per-unit terms of U at the solution: psi_r = s_r x_r + E F_r e_r (E, F empty without a classifier)."""

    s: jax.Array  # (m,)
    e: jax.Array  # (m,) pool indicator minus out-of-fold P(pool)
    E: jax.Array  # (p, q)
    F: jax.Array  # (m, q) classifier features (with intercept)

    def on(self, design) -> DesignInfluence:
        """The same values as a :class:`~prefstat.inference.DesignInfluence` over ``design``."""
        return DesignInfluence(design, self.s, self.E, self.e, self.F)


class DebiasedFit(NamedTuple):
    theta: jax.Array  # free parameters
    lam: jax.Array  # lambda used
    lam_raw: jax.Array  # tuned lambda before clipping to [0, 1] (nan when lambda was fixed)
    bread: jax.Array  # J = -dU/dtheta
    meat: jax.Array  # two-sample Var(U)
    cov: jax.Array  # J^-1 meat J^-1
    cov_human: jax.Array  # human-only (lambda = 0) sandwich at theta: the n_eff baseline
    weight: jax.Array  # density ratio used per row (1 on pool rows)
    influence: Influence
    converged: jax.Array  # the root exists and Newton converged
    ratio_converged: jax.Array  # every cross-fitted classifier converged (True without a classifier)
    n_iter: jax.Array


def _samples(human):
    # the two independent samples, pool first (the order of the sums fixes the rounding)
    return (1.0 - human, human)


def row_weights(lam, y, ai, human, f, w, n, N):
    """Per-row (a, b) of the convex objective L (module docstring of :mod:`prefstat.models.debiased`)."""
    pool = 1.0 - human
    a = f * (pool * lam / N + human * (1.0 - lam) * w / n)
    b = f * (pool * lam * ai / N + human * w * (y - lam * ai) / n)
    return a, b


def _solve(design, y, ai, human, f, w, n, N, lam, beta0, gtol, max_iter):
    a, b = row_weights(lam, y, ai, human, f, w, n, N)
    res = logistic_fit(design, a, b, jnp.zeros(design.p), beta0, gtol=gtol, max_iter=max_iter)
    # a root running off to infinity (no finite solution) shows as probabilities within 1e-15 of 0 or 1
    eta = design.matvec(res.x)
    finite = jnp.max(jnp.where(f > 0, jnp.abs(eta), 0.0)) < DIVERGED_ETA
    return res._replace(converged=res.converged & finite)


def influence_values(design, theta, y, ai, human, f, w, n, N, e, F):
    """``(sigma, u, v)``: the two pieces of psi(lambda) = u - lambda v at theta, as :class:`DesignInfluence`.

    u_r = w (Z - sigma) x / n on human rows; v_r = w (A - sigma) x / n on human rows and
    -(A - sigma) x / N on pool rows. With a fitted classifier (F non-empty), E = D H_gamma^-1, where
    D = dU/dgamma = sum_H f s x F^T (w = ratio * exp(gamma^T F)) and H_gamma^-1 sum_r f_r e_r F_r is
    the first-order error of gamma_hat (two-step M-estimation).
    """
    sig = jax.nn.sigmoid(design.matvec(theta))
    pool = 1.0 - human
    su = human * w * (y - sig) / n
    sv = human * w * (ai - sig) / n - pool * (ai - sig) / N
    Eu = Ev = jnp.zeros((design.p, F.shape[1]))
    if F.shape[1]:
        prob = pool - e  # out-of-fold P(pool | F)
        # H_gamma does not depend on theta; chained after it so that its inverse never runs beside
        # the Newton fits' factorisations (see prefstat.optim.run_after)
        Hg = run_after(F.T @ ((f * prob * (1.0 - prob))[:, None] * F), theta)
        Hinv = jnp.linalg.inv(0.5 * (Hg + Hg.T))
        rows = DesignInfluence(design, su, Eu, e, F)
        Eu = rows.cross_features(f * su) @ Hinv
        Ev = rows.cross_features(f * human * sv) @ Hinv  # only the human part of v carries w
    return sig, DesignInfluence(design, su, Eu, e, F), DesignInfluence(design, sv, Ev, e, F)


def _trace_sandwich(Minv, C):
    return jnp.trace(Minv @ C @ Minv.T)


def _tuned_lambda(design, theta, y, ai, human, f, w, n, N, e, F, pooled):
    """Unclipped PPI++ lambda at theta (module docstring of :mod:`prefstat.models.debiased`, "Power tuning")."""
    sig, u, v = influence_values(design, theta, y, ai, human, f, w, n, N, e, F)
    pool = 1.0 - human
    d = sig * (1.0 - sig)
    # after the classifier part of the influence values, whose inverse would otherwise run beside this one
    M = run_after(design.gram(f * d * (pool + human * w)) / (n + N), u.E)
    Minv = jnp.linalg.inv(0.5 * (M + M.T))
    if pooled:
        # ppi_py's _calc_lam_glm: gradients G = w (Z - sigma) x (human) and G_hat = w (A - sigma) x
        # (both samples, w = 1 on the pool); num = tr(Minv sym(S_{G,G_hat}) Minv) / n with S centred over
        # H (divisor n), den = (1 + n/N) tr(Minv Cov(G_hat over H and P pooled, ddof 1) Minv).
        none = (e, F[:, :0])
        g = DesignInfluence(design, human * w * (y - sig), jnp.zeros((design.p, 0)), *none)
        g_hat = DesignInfluence(design, (pool + human * w) * (ai - sig), jnp.zeros((design.p, 0)), *none)
        S = influence_cov(g, f, (human,), other=g_hat, ddof=0)
        num = _trace_sandwich(Minv, 0.5 * (S + S.T)) / n
        V = influence_cov(g_hat, f, ddof=0) / (n + N - 1.0)
        den = (1.0 + n / N) * _trace_sandwich(Minv, V)
    else:
        Cuv = influence_cov(u, f, _samples(human), other=v)
        num = _trace_sandwich(Minv, 0.5 * (Cuv + Cuv.T))
        den = _trace_sandwich(Minv, influence_cov(v, f, _samples(human)))
    return num / den


@partial(jax.jit, static_argnames=("tune", "pooled_tuning", "n_folds", "max_iter"))
def fit_core(design, y, ai, human, f, w, lam, F, folds, *, tune: bool, pooled_tuning: bool, n_folds: int = 0,
             gtol=1e-12, max_iter: int = 100) -> DebiasedFit:
    """Debiased Bradley-Terry on one stacked table: a pure, jit- and vmap-able function.

    Rows r = 1..m of the :mod:`prefstat.design` ``design`` (padding rows have
    ``f = 0``): ``human`` 1 on human rows, 0 on pool rows; ``y`` the human label
    (any finite value on pool rows); ``ai`` the judge label; ``f`` frequency
    weights; ``w`` the known density ratio on human rows (1 elsewhere; ignored
    when ``n_folds > 0``). ``tune=True`` tunes lambda (PPI++; ``lam`` ignored),
    else ``lam`` in [0, 1] is used. ``pooled_tuning`` selects ppi_py's pooled
    variance in the tuning step (valid without a density ratio). ``n_folds > 0``
    estimates the density ratio by the cross-fitted logistic regression
    :func:`prefstat.nuisance.crossfit_logistic_ratio` on ``F`` (m, q; with
    intercept) with folds ``folds`` and carries its estimation error into the
    covariance; with ``n_folds = 0`` pass ``F`` of shape (m, 0). Run under
    ``prefstat._x64.x64_scope()`` for float64.
    """
    dtype = y.dtype
    human = human.astype(dtype)
    n, N = jnp.sum(f * human), jnp.sum(f * (1.0 - human))
    ratio_ok = jnp.asarray(True)
    e = jnp.zeros_like(y)
    if n_folds:
        w_hat, prob, ratio_ok = crossfit_logistic_ratio(F, human, f, folds, n_folds, gtol=gtol, max_iter=max_iter)
        w = jnp.where(human > 0, w_hat, 1.0)
        e = (1.0 - human) - prob
    else:
        F = F[:, :0]
    solve = partial(_solve, design, y, ai, human, f, w, n, N, gtol=gtol, max_iter=max_iter)
    zero = jnp.zeros(design.p, dtype)
    if tune:
        first = solve(jnp.asarray(1.0, dtype), zero)
        # the lambda = 1 root can fail to exist when the human correction outweighs the pool's curvature
        # (small n, extreme weights); the human-only root is the fallback starting point
        # (under vmap both branches run: the fallback waits for the first fit, see run_after)
        theta0 = jax.lax.cond(first.converged, lambda: first.x,
                              lambda: solve(jnp.asarray(0.0, dtype), run_after(zero, first.x)).x)
        lam_raw = _tuned_lambda(design, theta0, y, ai, human, f, w, n, N, e, F, pooled_tuning)
        lam = jnp.clip(lam_raw, 0.0, 1.0)
        res = solve(lam, theta0)
    else:
        lam = jnp.asarray(lam, dtype)
        lam_raw = jnp.asarray(jnp.nan, dtype)
        res = solve(lam, zero)
    theta = res.x
    sig, u, v = influence_values(design, theta, y, ai, human, f, w, n, N, e, F)
    psi = u._replace(s=u.s - lam * v.s, E=u.E - lam * v.E)
    meat = influence_cov(psi, f, _samples(human))
    d = sig * (1.0 - sig)
    bread = design.gram(row_weights(lam, y, ai, human, f, w, n, N)[0] * d)
    bread0 = design.gram(row_weights(0.0, y, ai, human, f, w, n, N)[0] * d)
    cov = sandwich_cov(run_after(bread, meat), meat)
    cov_human = sandwich_cov(run_after(bread0, cov), influence_cov(u, f, _samples(human)))
    return DebiasedFit(theta=theta, lam=lam, lam_raw=lam_raw, bread=bread, meat=meat,
                       cov=cov, cov_human=cov_human, weight=w,
                       influence=Influence(s=psi.s, e=e, E=psi.E, F=F),
                       converged=res.converged, ratio_converged=ratio_ok, n_iter=res.n_iter)
