"""Multinomial bootstrap of a Bradley-Terry fit: vmapped refits on resampled frequency weights.

The units are comparisons: the total weight ``n`` (rounded) is redrawn from the distinct
(cell, outcome) atoms with probabilities proportional to their weights, so a row of frequency
weight k counts as k comparisons. Each replicate is a warm-started refit by the shared solver
(:func:`prefstat.losses.logistic_fit`); replicates that did not converge or whose linear
predictor ran off (``|eta| >= DIVERGED_ETA``: no finite MLE in the resample) are flagged.
"""
from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from ..losses import DIVERGED_ETA, logistic_fit

__all__ = ["multinomial_bootstrap"]


@partial(jax.jit, static_argnames=("n_cells", "max_iter", "solver"))
def _bootstrap_fits(design, cell, y, counts, penalty, beta0, n_cells, gtol, max_iter, solver):
    """Refits on multinomial resamples: ``counts`` (B, atoms) are new frequency weights of the atoms."""

    def one(c):
        Wb = jax.ops.segment_sum(c, cell, n_cells)
        WYb = jax.ops.segment_sum(c * y, cell, n_cells)
        return logistic_fit(design, Wb, WYb, penalty, beta0, gtol=gtol, max_iter=max_iter, solver=solver)

    return jax.vmap(one)(counts)


def multinomial_bootstrap(design, atoms, penalty, beta_hat, n_cells: int, n_bootstrap: int,
                          rng: np.random.Generator, opts: dict) -> tuple[np.ndarray, np.ndarray]:
    """(draws (B, p) of the free parameters, ok (B,) finite-MLE flags) of ``n_bootstrap`` refits.

    ``atoms`` = (cell index, outcome, weight) of the distinct rows, ``design`` the padded cell
    design with ``n_cells`` rows, ``opts`` the solver options (solver, gtol, max_iter). Replicates
    run in chunks of at most ~2e7 resampled counts (memory).
    """
    cell, y, w = atoms
    total = float(np.sum(w))
    n_draw = max(int(round(total)), 1)
    cell, y = jnp.asarray(cell), jnp.asarray(y)
    chunk = max(1, min(n_bootstrap, int(2e7 // max(len(w), 1))))
    draws, ok = [], []
    for start in range(0, n_bootstrap, chunk):
        size = min(chunk, n_bootstrap - start)
        counts = rng.multinomial(n_draw, w / total, size=size).astype(np.float64)
        out = _bootstrap_fits(design, cell, y, jnp.asarray(counts), jnp.asarray(penalty), beta_hat, n_cells, **opts)
        eta_max = jnp.max(jnp.abs(jax.vmap(design.matvec)(out.x)), axis=1)
        draws.append(np.asarray(out.x))
        ok.append(np.asarray(out.converged & (eta_max < DIVERGED_ETA)))
    return np.concatenate(draws), np.concatenate(ok)
