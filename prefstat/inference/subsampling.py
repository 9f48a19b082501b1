"""Subsampling for non-regular estimators (the sign estimator's cube-root and n^(2/5) rates).

Non-regular estimators get their intervals from subsampling (Politis & Romano 1994; Politis,
Romano & Wolf 1999): refit on B subsamples of size m drawn WITHOUT replacement; the law of
tau_m (theta_m - theta_n) estimates that of tau_n (theta_n - theta) whenever
tau_n (theta_n - theta) has a continuous limit law, m -> infinity and m / n -> 0. With
tau_n = n^rate, the quantiles of the subsample deviations are rescaled by (m / n)^rate. (The
naive bootstrap, m = n with replacement, is inconsistent at the cube-root rate: Abrevaya &
Huang 2005.) See docs/methods.md#sign-estimator.
"""
from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from .intervals import normal_quantile

__all__ = ["subsample_size", "subsample_indices", "subsampling_radius"]


def subsample_size(n: int, exponent: float = 2.0 / 3.0) -> int:
    """Subsample size rule ``m = ceil(n^exponent)``, kept in ``[2, n - 1]``.

    The default 2/3 is the rule for cube-root estimators (docs/methods.md#sign-estimator):
    m grows and m/n = n^(-1/3) vanishes, as subsampling requires.
    """
    if n < 3:
        raise ValueError(f"subsampling needs at least 3 observations; got {n}.")
    return int(min(max(np.ceil(n**exponent), 2), n - 1))


def subsample_indices(rng: np.random.Generator, n: int, m: int, n_subsamples: int) -> np.ndarray:
    """(n_subsamples, m) indices into ``range(n)``: each row a subsample drawn without replacement."""
    return np.stack([rng.choice(n, size=m, replace=False) for _ in range(n_subsamples)])


def subsampling_radius(distances, n: float, m: float, level: float = 0.95, rate: float = 1.0 / 3.0):
    """Radius ``(m/n)^rate * q_level(d_j)`` of a symmetric confidence region around the estimate.

    ``distances`` are d(theta_m^(j), theta_n) >= 0 for the B subsample estimates:
    a (B,) array (e.g. angles: the radius of a ball or cone) or a (B, k) array of
    absolute deviations per coordinate (one radius per column: symmetric
    intervals ``theta_n -+ radius``). Symmetric rather than equal-tailed: the
    equal-tailed interval reflects the subsample deviations, so a finite-sample
    bias that shrinks faster than the n^-rate spread (as the maximum score
    estimator's does) is over-corrected. jax.numpy: traceable, so simulation
    cores call it inside ``vmap``.
    """
    normal_quantile(level)
    return (m / n) ** rate * jnp.quantile(jnp.asarray(distances), level, axis=0)
