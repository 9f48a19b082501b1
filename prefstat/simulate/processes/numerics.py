"""Shared numerics of the data-generating processes: quadrature rules, the logistic scale mixture,
uniforms, validation helpers and the population logistic solver.

Two exact identities do most of the work (they replace Monte Carlo truths):

* Normal scale mixture of the logistic (Andrews & Mallows 1974; Stefanski 1991,
  "A normal scale mixture representation of the logistic distribution"): if K
  has the Kolmogorov-Smirnov distribution, 2 K Z is logistic, so
  Lambda(x) = E_K[Phi(x / 2K)]. A trapezoid rule in log K
  (:func:`logistic_scale_mixture`) turns every logistic-normal integral into a
  short sum of closed-form probit integrals, accurate to ~1e-15 absolute.
* Stein's lemma for z ~ N(0, s^2 I): E[F(b^T z) z] = s^2 b E[F'(b^T z)] (:func:`kappa`),
  which collapses the Bradley-Terry limit under heterogeneous users to a vector
  expectation over users.

Every function is public because several process modules share it; none is part
of prefstat's user-facing API.
"""
from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg
from scipy import stats

from ..._x64 import x64_scope
from ...design import DenseDesign
from ...losses import logistic_fit

__all__ = ["require_x64", "uniforms", "readonly", "as_vector", "as_covariance", "set_fields", "kolmogorov_pdf",
           "logistic_scale_mixture", "noise_scales", "kappa", "population_logistic", "orthonormal_basis",
           "gauss_rule", "GAUSS_NODES", "expected_probit_exponential"]


def require_x64() -> None:
    if not jax.config.jax_enable_x64:
        raise RuntimeError(
            "prefstat samplers generate float64 data, but 64-bit JAX types are disabled. "
            "Call sample() inside `with jax.enable_x64(True):` (prefstat._x64.x64_scope()), "
            "including when you jit or vmap it."
        )


def uniforms(key, *shapes):
    """Independent U(0, 1) arrays of the given shapes from a single random call.

    Every random call inlines its own threefry kernel and adds about a second of
    XLA compile time, so samplers draw all their randomness at once and transform
    it (normals via ndtri, as jax.random.normal does via erfinv). Values lie in
    [tiny, 1), so ndtri and log stay finite.
    """
    sizes = [math.prod(shape) for shape in shapes]
    flat = jax.random.uniform(key, (sum(sizes),), dtype=jnp.float64, minval=np.finfo(np.float64).tiny)
    ends = np.cumsum(sizes)
    return [flat[end - size:end].reshape(shape) for shape, size, end in zip(shapes, sizes, ends)]


def readonly(a) -> np.ndarray:
    a = np.array(a, dtype=np.float64)
    a.flags.writeable = False
    return a


def as_vector(name: str, values) -> tuple:
    arr = np.atleast_1d(np.asarray(values, dtype=np.float64))
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"'{name}' must be a non-empty 1-D sequence of numbers; got shape {arr.shape}.")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"'{name}' must be finite; got {arr.tolist()}.")
    return tuple(float(v) for v in arr)


def as_covariance(name: str, values, d: int) -> tuple:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 0:
        arr = arr * np.eye(d)
    if arr.shape != (d, d):
        raise ValueError(f"'{name}' must be a scalar or a ({d}, {d}) matrix; got shape {arr.shape}.")
    if not np.allclose(arr, arr.T, rtol=0, atol=1e-12 * max(1.0, np.abs(arr).max())):
        raise ValueError(f"'{name}' must be symmetric.")
    try:
        np.linalg.cholesky(arr)
    except np.linalg.LinAlgError:
        raise ValueError(f"'{name}' must be positive definite.") from None
    return tuple(tuple(float(v) for v in row) for row in arr)


def set_fields(obj, **fields) -> None:
    # frozen dataclasses: normalising fields in __post_init__ needs object.__setattr__
    for k, v in fields.items():
        object.__setattr__(obj, k, v)


def kolmogorov_pdf(x: np.ndarray) -> np.ndarray:
    """Density of the Kolmogorov-Smirnov limit law (two series, each used where it converges fast)."""
    out = np.empty_like(x)
    k = np.arange(1, 41)[:, None]
    small = x < 1.0
    xs = x[small]
    j2 = ((2 * k - 1) * np.pi) ** 2
    out[small] = np.sqrt(2 * np.pi) * np.sum(
        np.exp(-j2 / (8 * xs**2)) * (j2 / (4 * xs**4) - 1 / xs**2), axis=0
    )
    xl = x[~small]
    out[~small] = 8 * xl * np.sum((-1.0) ** (k - 1) * k**2 * np.exp(-2 * k**2 * xl**2), axis=0)
    return out


@functools.lru_cache(maxsize=None)
def logistic_scale_mixture(step: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Nodes s_k = 2 K_k and weights w_k with Lambda(x) = sum_k w_k Phi(x / s_k).

    Trapezoid rule in log K on [0.04, 8]: the K-S density is below e^-700 under
    0.04 and below e^-120 above 8, and the integrand is analytic in log K, so the
    rule is spectrally accurate; 54 nodes reproduce Lambda to ~1e-15 absolute.
    """
    t = np.arange(np.log(0.04), np.log(8.0) + step / 2, step)
    kk = np.exp(t)
    return readonly(2 * kk), readonly(step * kolmogorov_pdf(kk) * kk)


def noise_scales(noise: str) -> tuple[np.ndarray, np.ndarray]:
    """(scales, weights): the response noise as a mixture of N(0, s^2) laws."""
    if noise == "logistic":
        return logistic_scale_mixture()
    return readonly([1.0]), readonly([1.0])


def kappa(a, noise: str) -> np.ndarray:
    """kappa_F(a) = E[F'(a g)], g ~ N(0, 1); exact given the scale mixture of F."""
    s, w = noise_scales(noise)
    a = np.asarray(a, dtype=np.float64)[..., None]
    return np.sum(w / np.sqrt(2 * np.pi * (s**2 + a**2)), axis=-1)


def population_logistic(X: np.ndarray, target: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Solve sum_i w_i (t_i - sigma(x_i^T c)) x_i = 0 (numpy float64 in, numpy float64 out).

    This is the population Bradley-Terry / logistic estimating equation when the
    rows are a finite support (item pairs) or quadrature nodes: the minimiser of
    the weighted soft-target logistic loss of :mod:`prefstat.losses`, solved by
    its damped Newton (:func:`prefstat.losses.logistic_fit`) with a tight
    tolerance (Newton decrement <= 1e-28 sum(w)) followed by one more Newton
    step, so the root is accurate to rounding (~1e-15 for these problems).
    """
    X, target, weight = (np.asarray(a, dtype=np.float64) for a in (X, target, weight))
    with x64_scope():
        p = X.shape[1]
        zero = jnp.zeros(p, dtype=jnp.float64)
        res = logistic_fit(DenseDesign(X=jnp.asarray(X)), jnp.asarray(weight), jnp.asarray(weight * target), zero,
                           zero, gtol=1e-14, max_iter=200)
        if not bool(res.converged):
            raise RuntimeError("population Bradley-Terry solve did not converge in 200 Newton steps.")
        # the solver returns the iterate whose decrement met the tolerance; one more step costs nothing
        step = np.linalg.solve(np.asarray(res.hess), np.asarray(res.grad))
        return np.asarray(res.x) - step


def orthonormal_basis(vectors) -> np.ndarray:
    """Orthonormal basis (d, rank) of span(vectors): :func:`scipy.linalg.orth` of the stacked columns
    (rank 0, shape (d, 0), when every vector is zero)."""
    return scipy.linalg.orth(np.column_stack([np.asarray(v, dtype=np.float64) for v in vectors]))


@functools.lru_cache(maxsize=None)
def gauss_rule(k: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Tensor trapezoid rule for E[f(v)], v ~ N(0, I_k): nodes (n^k, k), weights.

    n equispaced nodes on [-8.5, 8.5] per axis (the N(0, 1) mass outside is 2e-17).
    For integrands analytic in a strip |Im v| < delta the error is ~exp(-2 pi delta / step);
    the sigmoids here have poles at distance ~pi / ||slope||, where Gauss-Hermite
    converges only like exp(-delta sqrt(2n)) and needs several times more nodes.
    """
    if k == 0:
        return np.zeros((1, 0)), np.ones(1)
    x = np.linspace(-8.5, 8.5, n)
    w = (x[1] - x[0]) * stats.norm.pdf(x)
    grids = np.meshgrid(*([x] * k), indexing="ij")
    wgrids = np.meshgrid(*([w] * k), indexing="ij")
    nodes = np.stack([g.ravel() for g in grids], axis=1)
    weights = np.prod(np.stack([g.ravel() for g in wgrids], axis=1), axis=1)
    return nodes, weights


# nodes per axis (step 0.25); tests check that refining the rule changes the truths by < 1e-9
GAUSS_NODES = 69


def expected_probit_exponential(a, b, xp, sp):
    """E[Phi(a + b E)], E ~ Exp(1), elementwise.

    Integrating by parts, E[Phi(a + bE)] = Phi(a) + sign(b) phi(a) R(x) with
    x = sign(b) a + 1/|b| and R(x) = Phi(-x)/phi(x) the Mills ratio. For x >= 8,
    R comes from its continued fraction (24 terms: 1e-16; no cancellation, and
    it avoids JAX's log_ndtr, which is only ~1e-11 accurate near -20); for x < 8,
    phi(a) R(x) = Phi(-x) exp(a'/|b| + 1/(2 b^2)) (a' = sign(b) a), whose exponent
    is at most 32 there. That exponent loses ~1e-16 / b^2 to rounding, so for
    |b| < 0.01 the expansion Phi(a) + phi(a) sum_k (-1)^(k-1) b^k He_{k-1}(a) (E[E^k] = k!)
    is used instead, truncated after 6 terms (error < 1e-13).
    """
    sgn = xp.where(b >= 0, 1.0, -1.0)
    small = xp.abs(b) < 0.01
    ab = xp.where(small, 1.0, xp.abs(b))
    a1 = sgn * a
    x = a1 + 1.0 / ab
    pdf = xp.exp(-0.5 * a**2) / math.sqrt(2 * math.pi)
    xf = xp.maximum(x, 8.0)
    t = xf
    for k in range(24, 0, -1):  # continued fraction R(x) = 1/(x + 1/(x + 2/(x + ...)))
        t = xf + k / t
    far = pdf / t
    a_near = xp.minimum(a1, 8.0 - 1.0 / ab)  # = a1 where x < 8; keeps the masked rows finite
    near = sp.ndtr(-xp.minimum(x, 8.0)) * xp.exp(a_near / ab + 0.5 / ab**2)
    exact = sp.ndtr(a) + sgn * xp.where(x >= 8.0, far, near)
    he_prev, he = xp.zeros_like(a), xp.ones_like(a)  # He_{-1}, He_0
    series = xp.zeros_like(a)
    for k in range(1, 7):
        series = series + (-1) ** (k - 1) * b**k * he
        he_prev, he = he, a * he - (k - 1) * he_prev
    return xp.where(small, sp.ndtr(a) + pdf * series, exact)
