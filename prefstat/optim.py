"""JAX solvers shared by prefstat's estimators.

Pure functions written with ``jax.lax`` control flow: they can be called
inside ``jit`` and ``vmap`` (one solve per simulation replication or per
bootstrap draw). Every solver returns an :class:`OptimResult`.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

__all__ = ["OptimResult", "newton", "lbfgs", "run_after"]


class OptimResult(NamedTuple):
    x: jax.Array
    value: jax.Array
    grad: jax.Array
    hess: jax.Array
    n_iter: jax.Array
    converged: jax.Array


def run_after(x, dep):
    """``x`` unchanged, but computed only after ``dep`` (a data dependency that XLA keeps).

    jaxlib 0.10's CPU LAPACK kernels (``getrf``, ``potrf``, ``syevd``, ...) split a batched call over
    XLA's intra-op thread pool and block until the pieces are done. When XLA runs two independent
    such calls at the same time, every pool thread can end up blocked and the process hangs (seen
    with gdb on a 2-core machine: both pool threads in ``jax::ParallelBatchMap``). Independent
    factorisations in one vmapped program are therefore chained through this function.
    ``jax.lax.optimization_barrier`` does not do it: XLA's CPU pipeline removes it.
    ``x`` and ``dep`` are arrays or pytrees; the value added to ``x`` is an exact zero (a finite
    number times 0), whatever ``dep`` holds. An empty ``dep`` leaves ``x`` as it is.
    """
    leaves = [leaf for leaf in jax.tree_util.tree_leaves(dep) if jnp.size(leaf)]
    if not leaves:
        return x
    zero = 0.0 * jnp.nan_to_num(jnp.ravel(leaves[0])[0])
    return jax.tree_util.tree_map(lambda a: a + zero.astype(a.dtype), x)


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

    Iterates ``x <- x - t d`` with ``d = H^{-1} g``, ``t`` halved from 1 until
    the Armijo condition ``f(x - t d) <= f(x) - 1e-4 t g^T d`` holds. Inside
    the quadratic region (Newton decrement ``g^T H^{-1} g < 1e-6 * gscale``)
    the full step is taken without a line search, because there ``f`` changes
    by less than its rounding error and the Armijo test would only measure
    noise.

    Stops when the Newton decrement ``g^T H^{-1} g <= gtol^2 * gscale``, where
    ``gscale`` is the size of the objective (e.g. the total weight of the
    comparisons). The decrement is affine invariant, so the rule does not
    depend on how the parameters are scaled: it bounds the remaining error in
    the metric of the per-observation information by about ``gtol``.

    ``value(x) -> f`` and ``value_grad_hess(x) -> (f, g, H)`` close over the
    data. ``H`` must be symmetric positive definite along the path (a
    strictly convex objective); a Cholesky failure stops the iteration with
    ``converged=False``.
    """
    gscale = jnp.asarray(gscale, x0.dtype)
    stop = gtol**2 * gscale

    def step(g, H):
        d = jax.scipy.linalg.cho_solve(jax.scipy.linalg.cho_factor(H, lower=True), g)
        return d, jnp.dot(g, d)

    def cond(state):
        *_, it, done, failed = state
        return (~done) & (~failed) & (it < max_iter)

    def body(state):
        x, f, g, H, d, dec, it, _, _ = state

        def armijo_cond(ls):
            t, f_new = ls
            # The quadratic-region test is repeated here because under vmap lax.cond runs both
            # branches: without it, replications already in the quadratic region would keep halving
            # on rounding noise, up to max_halvings objective evaluations per iteration.
            return (dec >= 1e-6 * gscale) & (f_new > f - 1e-4 * t * dec) & (t > 2.0 ** (-max_halvings))

        def armijo_body(ls):
            t, _ = ls
            t = 0.5 * t
            return t, value(x - t * d)

        t0 = jnp.asarray(1.0, x.dtype)
        t, _ = jax.lax.cond(
            dec < 1e-6 * gscale,
            lambda: (t0, f),
            lambda: jax.lax.while_loop(armijo_cond, armijo_body, (t0, value(x - d))),
        )
        x_new = x - t * d
        f_new, g_new, H_new = value_grad_hess(x_new)
        d_new, dec_new = step(g_new, H_new)
        failed = ~jnp.isfinite(dec_new)
        return x_new, f_new, g_new, H_new, d_new, dec_new, it + 1, dec_new <= stop, failed

    f0, g0, H0 = value_grad_hess(x0)
    d0, dec0 = step(g0, H0)
    init = (x0, f0, g0, H0, d0, dec0, jnp.asarray(0, jnp.int32), dec0 <= stop, ~jnp.isfinite(dec0))
    x, f, g, H, _, dec, it, done, _ = jax.lax.while_loop(cond, body, init)
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

    Stops when the largest gradient component is small relative to the
    problem's scale, ``max|g| <= gtol * gscale`` (``gscale``: e.g. the total
    weight), or after ``max_iter`` iterations. This is not :func:`newton`'s
    rule, which compares the Newton decrement ``g^T H^-1 g`` (affine
    invariant) with ``gtol^2 * gscale``; L-BFGS has no Hessian to form the
    decrement, hence the gradient test and the looser default ``gtol``.
    Callers that need Newton accuracy follow with one Newton step (as
    :func:`prefstat.losses.logistic_fit` does). Only ``value`` is needed
    (gradients by autodiff). ``hess`` in the result is left empty (shape (0, 0)): callers
    that need the information compute it once at the solution.
    """
    import optax  # imported here: only the L-BFGS path needs it (~0.1 s of start-up otherwise)
    import optax.tree_utils as otu

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
