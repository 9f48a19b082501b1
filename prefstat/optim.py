"""JAX solvers shared by prefstat's estimators.

Pure functions written with ``jax.lax`` control flow: they can be called
inside ``jit`` and ``vmap`` (one solve per simulation replication or per
bootstrap draw). Every solver returns an :class:`OptimResult`.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import optax
import optax.tree_utils as otu

__all__ = ["OptimResult", "newton", "lbfgs"]


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


def lbfgs(
    value: Callable,
    x0: jax.Array,
    *,
    gscale: jax.Array | float = 1.0,
    gtol: float = 1e-10,
    max_iter: int = 1000,
    memory_size: int = 20,
) -> OptimResult:
    """L-BFGS (optax, zoom line search) for objectives too large for a dense Newton step.

    Same stopping rule as :func:`newton` (``max|g| <= gtol * gscale``); the
    default ``gtol`` is looser because a quasi-Newton method reaches the
    rounding floor of ``f`` sooner. Only ``value`` is needed (gradients by
    autodiff). ``hess`` in the result is left empty (shape (0, 0)): callers
    that need the information compute it once at the solution.
    """
    gscale = jnp.asarray(gscale, x0.dtype)
    opt = optax.lbfgs(memory_size=memory_size)
    value_and_grad = optax.value_and_grad_from_state(value)

    def body(carry):
        x, state = carry
        f, g = value_and_grad(x, state=state)
        updates, state = opt.update(g, state, x, value=f, grad=g, value_fn=value)
        return optax.apply_updates(x, updates), state

    def cond(carry):
        _, state = carry
        it = otu.tree_get(state, "count")
        g = otu.tree_get(state, "grad")
        return (it == 0) | ((it < max_iter) & (jnp.max(jnp.abs(g)) > gtol * gscale))

    x, state = jax.lax.while_loop(cond, body, (x0, opt.init(x0)))
    f, g = jax.value_and_grad(value)(x)
    return OptimResult(x=x, value=f, grad=g, hess=jnp.zeros((0, 0), x0.dtype),
                       n_iter=otu.tree_get(state, "count"), converged=jnp.max(jnp.abs(g)) <= gtol * gscale)
