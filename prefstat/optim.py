"""JAX solvers shared by prefstat's estimators.

Pure functions written with ``jax.lax`` control flow: they can be called
inside ``jit`` and ``vmap`` (one solve per simulation replication or per
bootstrap draw). Every solver returns an :class:`OptimResult`.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

__all__ = ["OptimResult", "newton"]


class OptimResult(NamedTuple):
    x: jax.Array
    value: jax.Array
    grad: jax.Array
    hess: jax.Array
    n_iter: jax.Array
    converged: jax.Array


def newton(
    value: Callable,
    value_grad_hess: Callable,
    x0: jax.Array,
    *,
    gscale: jax.Array | float = 1.0,
    gtol: float = 1e-12,
    max_iter: int = 100,
    max_halvings: int = 40,
) -> OptimResult:
    """Damped Newton's method for a smooth, convex objective.

    Iterates ``x <- x - t H^{-1} g``, with ``t`` halved from 1 until the
    Armijo condition ``f(x - t d) <= f(x) - 1e-4 t g^T d`` holds. Inside the
    quadratic region (Newton decrement ``g^T H^{-1} g < 1e-6`` in units of
    ``gscale``) the full step is taken without a line search, because there
    ``f`` changes by less than its rounding error and the Armijo test would
    only measure noise. Stops when ``max|g| <= gtol * gscale``; ``gscale`` is
    the size of the objective (e.g. the total weight of the comparisons), so
    the tolerance is relative and scale-free.

    ``value(x) -> f`` and ``value_grad_hess(x) -> (f, g, H)`` close over the
    data. ``H`` must be symmetric positive definite along the path (a
    strictly convex objective); a Cholesky failure stops the iteration with
    ``converged=False``.
    """
    gscale = jnp.asarray(gscale, x0.dtype)

    def decrement_and_step(g, H):
        chol = jax.scipy.linalg.cho_factor(H, lower=True)
        d = jax.scipy.linalg.cho_solve(chol, g)
        return jnp.dot(g, d), d

    def cond(state):
        x, f, g, H, it, done, failed = state
        return (~done) & (~failed) & (it < max_iter)

    def body(state):
        x, f, g, H, it, _, _ = state
        dec, d = decrement_and_step(g, H)
        failed = ~jnp.all(jnp.isfinite(d))

        def armijo_cond(ls):
            t, f_new = ls
            return (f_new > f - 1e-4 * t * dec) & (t > 2.0 ** (-max_halvings))

        def armijo_body(ls):
            t, _ = ls
            t = 0.5 * t
            return t, value(x - t * d)

        quadratic = dec < 1e-6 * gscale
        t0 = jnp.asarray(1.0, x.dtype)
        t, _ = jax.lax.cond(
            quadratic,
            lambda: (t0, f),
            lambda: jax.lax.while_loop(armijo_cond, armijo_body, (t0, value(x - d))),
        )
        x_new = jnp.where(failed, x, x - t * d)
        f_new, g_new, H_new = value_grad_hess(x_new)
        done = jnp.max(jnp.abs(g_new)) <= gtol * gscale
        return x_new, f_new, g_new, H_new, it + 1, done, failed

    f0, g0, H0 = value_grad_hess(x0)
    done0 = jnp.max(jnp.abs(g0)) <= gtol * gscale
    init = (x0, f0, g0, H0, jnp.asarray(0, jnp.int32), done0, jnp.asarray(False))
    x, f, g, H, it, done, _ = jax.lax.while_loop(cond, body, init)
    return OptimResult(x=x, value=f, grad=g, hess=H, n_iter=it, converged=done)
