"""Data-generating processes with exactly known truth.

Every process is a frozen (hashable) dataclass of hyper-parameters, so it can be
passed to ``jax.jit`` as a static argument. ``sample(key, n)`` is a pure JAX
function: jit-compatible with the sizes static, vmappable over ``key``, same key
-> same data. It returns a dict of JAX arrays. Samplers produce float64 data
and therefore must be traced with 64-bit types enabled, e.g.::

    from prefstat._x64 import x64_scope
    with x64_scope():
        data = jax.vmap(proc.sample, in_axes=(0, None))(keys, 1000)

(prefstat never flips the global ``jax_enable_x64`` flag; calling ``sample``
without it raises instead of silently returning float32.)

Each process knows its estimand as numpy float64 (read-only arrays), either in
closed form or by a deterministic quadrature whose precision is stated in the
docstring and checked in ``tests/test_processes.py`` by refining the rule.

Two exact identities do most of the work (they replace Monte Carlo truths):

* Normal scale mixture of the logistic (Andrews & Mallows 1974; Stefanski 1991,
  "A normal scale mixture representation of the logistic distribution"): if K
  has the Kolmogorov-Smirnov distribution, 2 K Z is logistic, so
  Lambda(x) = E_K[Phi(x / 2K)]. A trapezoid rule in log K turns every
  logistic-normal integral into a short sum of closed-form probit integrals,
  accurate to ~1e-15 absolute.
* Stein's lemma for z ~ N(0, s^2 I): E[F(b^T z) z] = s^2 b E[F'(b^T z)], which
  collapses the Bradley-Terry limit under heterogeneous users to a vector
  expectation over users (see :class:`HeterogeneousUsers`).
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Optional

import jax
import jax.numpy as jnp
import jax.scipy.special as jsp
import numpy as np
import scipy.special as ssp
from scipy import integrate, optimize, stats

from ..geometry import angle_degrees

__all__ = [
    "HomogeneousBT",
    "FeatureBT",
    "HeterogeneousUsers",
    "GaussianClasses",
    "BiasedJudge",
]


# ----------------------------------------------------------------------------
# shared helpers
# ----------------------------------------------------------------------------

def _require_x64() -> None:
    if not jax.config.jax_enable_x64:
        raise RuntimeError(
            "prefstat samplers generate float64 data, but 64-bit JAX types are disabled. "
            "Call sample() inside `with jax.enable_x64(True):` (prefstat._x64.x64_scope()), "
            "including when you jit or vmap it."
        )


def _uniforms(key, *shapes):
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


def _readonly(a) -> np.ndarray:
    a = np.array(a, dtype=np.float64)
    a.flags.writeable = False
    return a


def _as_vector(name: str, values) -> tuple:
    arr = np.atleast_1d(np.asarray(values, dtype=np.float64))
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"'{name}' must be a non-empty 1-D sequence of numbers; got shape {arr.shape}.")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"'{name}' must be finite; got {arr.tolist()}.")
    return tuple(float(v) for v in arr)


def _as_covariance(name: str, values, d: int) -> tuple:
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


def _set(obj, **fields) -> None:
    # frozen dataclasses: normalising fields in __post_init__ needs object.__setattr__
    for k, v in fields.items():
        object.__setattr__(obj, k, v)


def _kolmogorov_pdf(x: np.ndarray) -> np.ndarray:
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
def _logistic_scale_mixture(step: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Nodes s_k = 2 K_k and weights w_k with Lambda(x) = sum_k w_k Phi(x / s_k).

    Trapezoid rule in log K on [0.04, 8]: the K-S density is below e^-700 under
    0.04 and below e^-120 above 8, and the integrand is analytic in log K, so the
    rule is spectrally accurate; 54 nodes reproduce Lambda to ~1e-15 absolute.
    """
    t = np.arange(np.log(0.04), np.log(8.0) + step / 2, step)
    kk = np.exp(t)
    return _readonly(2 * kk), _readonly(step * _kolmogorov_pdf(kk) * kk)


def _noise_scales(noise: str) -> tuple[np.ndarray, np.ndarray]:
    """(scales, weights): the response noise as a mixture of N(0, s^2) laws."""
    if noise == "logistic":
        return _logistic_scale_mixture()
    return _readonly([1.0]), _readonly([1.0])


def _kappa(a, noise: str) -> np.ndarray:
    """kappa_F(a) = E[F'(a g)], g ~ N(0, 1); exact given the scale mixture of F."""
    s, w = _noise_scales(noise)
    a = np.asarray(a, dtype=np.float64)[..., None]
    return np.sum(w / np.sqrt(2 * np.pi * (s**2 + a**2)), axis=-1)


def _soft_logistic(X: np.ndarray, target: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Solve sum_i w_i (t_i - sigma(x_i^T c)) x_i = 0 by damped Newton (numpy float64).

    This is the population Bradley-Terry / logistic estimating equation when the
    rows are a finite support (item pairs) or quadrature nodes.
    """
    c = np.zeros(X.shape[1])

    def objective(c):
        eta = X @ c
        return np.sum(weight * (target * eta - np.logaddexp(0.0, eta)))

    obj = objective(c)
    for _ in range(200):
        p = ssp.expit(X @ c)
        grad = X.T @ (weight * (target - p))
        hess = (X.T * (weight * p * (1 - p))) @ X
        step = np.linalg.solve(hess, grad)
        # halve the step while the concave objective drops by more than round-off
        scale = 1.0
        while scale > 1e-8:
            new_obj = objective(c + scale * step)
            if new_obj >= obj - 1e-13 * (1 + abs(obj)):
                break
            scale /= 2
        c = c + scale * step
        obj = new_obj
        if np.max(np.abs(scale * step)) < 1e-13 * max(1.0, np.max(np.abs(c))):
            return c
    raise RuntimeError("population Bradley-Terry solve did not converge in 200 Newton steps.")


def _orthonormal_basis(vectors) -> np.ndarray:
    M = np.column_stack([np.asarray(v, dtype=np.float64) for v in vectors])
    U, s, _ = np.linalg.svd(M, full_matrices=False)
    rank = int(np.sum(s > 1e-12 * max(1.0, s.max(initial=0.0))))
    return U[:, :rank]


@functools.lru_cache(maxsize=None)
def _gauss_rule(k: int, n: int) -> tuple[np.ndarray, np.ndarray]:
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
_GAUSS_NODES = 69


# ----------------------------------------------------------------------------
# 1. Homogeneous Bradley-Terry (item level) and its feature-level twin
# ----------------------------------------------------------------------------

@dataclass(frozen=True)
class HomogeneousBT:
    r"""Item-level Bradley-Terry comparisons with known abilities.

    Model (Bradley & Terry 1952; Zermelo 1929; ties after Davidson 1970 with the
    order effect entering the ability of the advantaged side):

        d = theta_a - theta_b + gamma * o,   o = +1 on every row (left holds the advantage)
        P(left wins)  = e^{d/2} / (e^{d/2} + e^{-d/2} + nu)
        P(tie)        = nu      / (e^{d/2} + e^{-d/2} + nu)
        P(right wins) = e^{-d/2}/ (e^{d/2} + e^{-d/2} + nu)

    With ``tie_rate = 0`` (nu = 0) this is P(left wins) = sigma(d). ``tie_rate``
    is the tie probability between equally matched options, nu = 2 t / (1 - t).

    Pairs (left, right) are drawn i.i.d. from ``pair_probs``:

    * ``"complete"``: uniform over ordered pairs a != b;
    * ``"sparse"``: uniform over the edges of a fixed random connected graph
      (random spanning tree plus random extra edges up to ``avg_degree``), each
      edge shown in either orientation with probability 1/2;
    * ``"long_tail"``: P(a, b) proportional to pop_a pop_b (a != b) with Zipf
      popularity pop_i = (i + 1)^-zipf_exponent, so a few items meet often and the
      tail rarely; every pair has positive probability, so the comparison graph
      is complete in expectation.

    Every pair appears in both orientations, so gamma is identified.

    Truth (numpy float64):

    * ``truth``: abilities in the sum-to-zero parametrisation (the model depends
      on them only through differences, METHODS.md section 1); when ``abilities``
      is None they are N(0, ability_scale^2) draws from ``seed_abilities``, centred.
    * ``truth_order_effect``: gamma.
    * ``half_win_truth``: (abilities, gamma) that the usual half-win
      quasi-likelihood BT fit (ties as y = 1/2, with an order-effect column)
      converges to. Independent ties would not give a BT target at all
      (E[y] = t/2 + (1 - t) sigma(d) is not a logistic function of d), and under
      Davidson ties E[y] = (e^{d/2} + nu/2) / (e^{d/2} + e^{-d/2} + nu) is not
      sigma(d) either, so the half-win limit is the KL projection
      sum_{a,b} P(a,b) (E[y | a,b] - sigma(th_a - th_b + g)) x_ab = 0, solved
      exactly over the finite pair support by Newton (to ~1e-14). It equals
      ``truth`` when ``tie_rate = 0``; with ties it is shrunk towards zero.

    ``sample(key, n)`` returns ``left``, ``right`` (int32), ``y`` (float64 in
    {0, 1/2, 1}) and ``order`` (float64, all +1).
    ``n_items`` defaults to 10, or to the number of ``abilities`` given.
    """

    n_items: Optional[int] = None
    abilities: Optional[tuple] = None
    graph: str = "complete"
    order_effect: float = 0.0
    tie_rate: float = 0.0
    seed_abilities: int = 0
    ability_scale: float = 1.0
    avg_degree: float = 4.0
    zipf_exponent: float = 1.0

    def __post_init__(self):
        if self.abilities is not None:
            ab = _as_vector("abilities", self.abilities)
            if self.n_items is not None and self.n_items != len(ab):
                raise ValueError(
                    f"n_items={self.n_items} but {len(ab)} abilities were given; "
                    "pass one ability per item (or omit n_items)."
                )
            _set(self, abilities=ab, n_items=len(ab))
        elif self.n_items is None:
            _set(self, n_items=10)
        if int(self.n_items) != self.n_items or self.n_items < 2:
            raise ValueError(f"n_items must be an integer >= 2; got {self.n_items}.")
        if self.graph not in ("complete", "sparse", "long_tail"):
            raise ValueError(f"graph must be 'complete', 'sparse' or 'long_tail'; got {self.graph!r}.")
        if not 0.0 <= self.tie_rate < 1.0:
            raise ValueError(f"tie_rate must be in [0, 1); got {self.tie_rate}.")
        max_degree = self.n_items - 1
        if self.graph == "sparse" and not 2 * (self.n_items - 1) / self.n_items <= self.avg_degree <= max_degree:
            raise ValueError(
                f"avg_degree must lie between {2 * (self.n_items - 1) / self.n_items:.3g} "
                f"(a spanning tree) and {max_degree} (complete) for {self.n_items} items; got {self.avg_degree}."
            )

    @functools.cached_property
    def truth(self) -> np.ndarray:
        if self.abilities is not None:
            theta = np.asarray(self.abilities)
        else:
            theta = np.random.default_rng([self.seed_abilities, 0]).normal(0.0, self.ability_scale, self.n_items)
        return _readonly(theta - theta.mean())

    @property
    def truth_order_effect(self) -> float:
        return float(self.order_effect)

    @property
    def davidson_nu(self) -> float:
        return 2 * self.tie_rate / (1 - self.tie_rate)

    @functools.cached_property
    def pair_probs(self) -> np.ndarray:
        """(k, k) matrix: P(left = a, right = b); zero diagonal, symmetric."""
        k = self.n_items
        if self.graph == "complete":
            P = np.ones((k, k))
        elif self.graph == "long_tail":
            pop = np.arange(1, k + 1, dtype=np.float64) ** -self.zipf_exponent
            P = np.outer(pop, pop)
        else:
            rng = np.random.default_rng([self.seed_abilities, 1])
            P = np.zeros((k, k))
            perm = rng.permutation(k)
            for i in range(1, k):  # random spanning tree: the graph is connected by construction
                j = perm[rng.integers(i)]
                P[perm[i], j] = P[j, perm[i]] = 1.0
            n_edges = int(round(k * self.avg_degree / 2))
            free = np.argwhere(np.triu(P == 0, k=1))
            extra = rng.choice(len(free), size=n_edges - (k - 1), replace=False)
            P[free[extra, 0], free[extra, 1]] = 1.0
            P = np.maximum(P, P.T)
        np.fill_diagonal(P, 0.0)
        return _readonly(P / P.sum())

    def outcome_probs(self, left, right):
        """Exact (P(left wins), P(tie), P(right wins)) for item index arrays (numpy)."""
        d = self.truth[np.asarray(left)] - self.truth[np.asarray(right)] + self.order_effect
        return _davidson(d, self.davidson_nu, np)

    @functools.cached_property
    def half_win_truth(self) -> tuple[np.ndarray, float]:
        k = self.n_items
        a, b = np.nonzero(self.pair_probs)
        X = np.zeros((a.size, k))
        X[np.arange(a.size), a] += 1.0
        X[np.arange(a.size), b] -= 1.0
        X = np.column_stack([X[:, 1:], np.ones(a.size)])  # item 0 is the reference; last column: order
        p_win, p_tie, _ = self.outcome_probs(a, b)
        c = _soft_logistic(X, p_win + p_tie / 2, self.pair_probs[a, b])
        theta = np.concatenate([[0.0], c[:-1]])
        return _readonly(theta - theta.mean()), float(c[-1])

    def sample(self, key, n: int) -> dict:
        _require_x64()
        k = self.n_items
        (u,) = _uniforms(key, (2, n))  # pair, outcome
        cdf = jnp.asarray(np.cumsum(self.pair_probs.ravel()))
        # inverse CDF with r in (0, 1]: an ordered pair of probability zero is never drawn
        idx = jnp.minimum(jnp.searchsorted(cdf, cdf[-1] * (1.0 - u[0])), k * k - 1)
        left = (idx // k).astype(jnp.int32)
        right = (idx % k).astype(jnp.int32)
        theta = jnp.asarray(self.truth)
        p_win, p_tie, _ = _davidson(theta[left] - theta[right] + self.order_effect, self.davidson_nu, jnp)
        y = jnp.where(u[1] < p_win, 1.0, jnp.where(u[1] < p_win + p_tie, 0.5, 0.0)).astype(jnp.float64)
        return {"left": left, "right": right, "y": y, "order": jnp.ones(n, dtype=jnp.float64)}


def _davidson(d, nu, xp):
    denom = 2 * xp.cosh(d / 2) + nu
    p_win = xp.exp(d / 2) / denom
    p_loss = xp.exp(-d / 2) / denom
    return p_win, nu / denom, p_loss


@dataclass(frozen=True)
class FeatureBT:
    r"""Feature-level Bradley-Terry (logistic regression without intercept).

    z ~ N(0, Sigma) (Sigma = ``z_cov``, identity when None), y ~ Bernoulli(sigma(beta^T z)).
    Well specified, so the BT MLE is consistent for ``truth = beta`` (exact).

    ``sample(key, n)`` returns ``Z`` (n, d), ``y`` in {0, 1} and ``p`` = sigma(beta^T z).
    """

    beta: tuple
    z_cov: Optional[tuple] = None

    def __post_init__(self):
        beta = _as_vector("beta", self.beta)
        cov = np.eye(len(beta)) if self.z_cov is None else self.z_cov
        _set(self, beta=beta, z_cov=_as_covariance("z_cov", cov, len(beta)))

    @functools.cached_property
    def truth(self) -> np.ndarray:
        return _readonly(self.beta)

    def sample(self, key, n: int) -> dict:
        _require_x64()
        u_z, u_y = _uniforms(key, (n, len(self.beta)), (n,))
        L = jnp.asarray(np.linalg.cholesky(np.asarray(self.z_cov)))
        Z = jsp.ndtri(u_z) @ L.T
        p = jax.nn.sigmoid(Z @ jnp.asarray(self.beta))
        y = (u_y < p).astype(jnp.float64)
        return {"Z": Z, "y": y, "p": p}


# ----------------------------------------------------------------------------
# 2. Heterogeneous users (sign estimator)
# ----------------------------------------------------------------------------

_HETEROGENEITY = ("anisotropic", "isotropic", "two_type", "skewed", "none")


def _user_shift_nodes(kind: str, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Quadrature for the scalar user shift V along the contested axis.

    Trapezoid rules: spectrally accurate for these analytic integrands (tests
    halve ``step`` to confirm ~1e-12).
    """
    if kind == "none":
        return np.zeros(1), np.ones(1)
    if kind == "two_type":
        return np.array([-1.0, 1.0]), np.array([0.5, 0.5])
    if kind == "anisotropic":
        v = np.linspace(-12.0, 12.0, int(round(24.0 / step)) + 1)
        return v, (v[1] - v[0]) * stats.norm.pdf(v)
    # skewed: V = E - 1, E ~ Exp(1); substitute E = e^t to resolve E -> 0
    t = np.arange(-40.0, np.log(45.0) + step / 2, step)
    e = np.exp(t)
    return e - 1.0, step * np.exp(-e) * e


@dataclass(frozen=True)
class HeterogeneousUsers:
    r"""Mixed-logit comparisons from heterogeneous users (METHODS.md section 2).

    Aouad, El Gadarri, Farias, *The Sign Estimator: LLM Alignment in the Face of
    Choice Heterogeneity* (arXiv 2510.23965). Feature differences
    z ~ N(0, z_scale^2 I_d); the answering user has utility weights beta_u and

        P(y = 1 | z, beta_u) = F(beta_u^T z),   F = Lambda (``noise="logistic"``) or Phi ("probit").

    User weights beta_u = beta_bar + scale * (shift), with
    (j = ``contested_axis``, xi ~ N(0, 1), e_j the j-th unit vector):

    * ``"anisotropic"``: shift = xi e_j (users disagree on one attribute);
    * ``"isotropic"``:   shift = xi_vec ~ N(0, I_d);
    * ``"two_type"``:    shift = +-e_j with probability 1/2 each;
    * ``"skewed"``:      shift = (E - 1) e_j, E ~ Exp(1) (mean zero, median
      ln 2 - 1: not centrally symmetric, the negative control);
    * ``"none"``:        shift = 0.

    With ``n_users=None`` every row is answered by a fresh user, so
    P(y = 1 | z) = p(z) = E_F[F(beta_u^T z)]. With ``n_users = M`` a population
    of M users is drawn per sample and each row is answered by a uniformly
    chosen member; the truths below refer to the super-population F (a finite
    population deviates from it by O(M^-1/2)).

    ``sample(key, n)`` returns ``Z`` (n, d), ``y`` in {0, 1}, ``user`` (int32),
    ``beta_u`` (n, d: weights of the answering user) and ``p`` = p(z), the
    population preference probability (also ``preference_prob(Z)`` in numpy),
    exact to ~1e-13 (normal scale mixture of
    the logistic, closed-form probit integrals; for skewed shifts
    E[Phi(a + bE)] = Phi(a) + sign(b) phi(a) M(sign(b) a + 1/|b|), M the Mills ratio).

    Truth (numpy float64, cached):

    * ``truth`` / ``direction``: beta_bar / ||beta_bar||, the social-welfare
      direction (the scale of beta_bar is not identified from signs).
    * ``bt_limit``: the KL projection theta* with E[(p(z) - sigma(theta^T z)) z] = 0,
      the limit of BT / logistic regression on z. By Stein's lemma
      theta* is parallel to b = E_u[beta_u kappa_F(z_scale ||beta_u||)],
      kappa_F(a) = E[F'(a g)], and its length t solves
      t kappa_Lambda(z_scale t) = ||b||. The user expectation is a 1-D trapezoid
      rule (for isotropic users a closed-form Gaussian expectation under a 1-D
      integral representation of kappa) and kappa is exact given the scale
      mixture: absolute error ~1e-13. ``bt_limit_angle`` is angle(theta*, beta_bar) in degrees.
    * ``sign_limit``: the maximiser over the unit sphere of the population
      maximum score Q(b) = E[(2y - 1) sign(b^T z)] (Manski 1975, 1985), the sign
      estimator's limit. Q(b) = E_u sum_k w_k (2/pi) arcsin(rho_u a_u / sqrt(s_k^2 + a_u^2))
      with rho_u = cos angle(b, beta_u), a_u = z_scale ||beta_u||, (s_k, w_k) the
      noise scale mixture; the maximiser lies in span(beta_bar, e_j) and is
      found by a root of dQ/dphi (angle error ~1e-12 rad). It equals
      ``direction`` for every centrally symmetric kind (for isotropic this is
      used directly rather than computed).
    * ``median_direction``: direction of the median user beta_bar + scale med(V) e_j
      (med(V) = ln 2 - 1 for skewed, 0 otherwise). This is the sign estimator's
      limit only in the noiseless limit; with response noise the limit is
      ``sign_limit`` (in the worked example made skewed, it lies between
      ``median_direction`` and ``direction``: 15.6 deg from e_0, against 4.5 and 45).
    """

    beta_bar: tuple
    heterogeneity: str = "anisotropic"
    scale: float = 1.0
    contested_axis: int = 0
    noise: str = "logistic"
    z_scale: float = 1.0
    n_users: Optional[int] = None

    def __post_init__(self):
        beta = _as_vector("beta_bar", self.beta_bar)
        _set(self, beta_bar=beta)
        if not np.any(np.asarray(beta)):
            raise ValueError("beta_bar must be non-zero: its direction is the estimand.")
        if self.heterogeneity not in _HETEROGENEITY:
            raise ValueError(f"heterogeneity must be one of {_HETEROGENEITY}; got {self.heterogeneity!r}.")
        if self.noise not in ("logistic", "probit"):
            raise ValueError(f"noise must be 'logistic' or 'probit'; got {self.noise!r}.")
        if not -len(beta) <= self.contested_axis < len(beta):
            raise ValueError(f"contested_axis={self.contested_axis} is out of range for d={len(beta)}.")
        _set(self, contested_axis=self.contested_axis % len(beta))
        if self.scale < 0 or self.z_scale <= 0:
            raise ValueError("scale must be >= 0 and z_scale > 0.")
        if self.n_users is not None and (int(self.n_users) != self.n_users or self.n_users < 1):
            raise ValueError(f"n_users must be None or a positive integer; got {self.n_users}.")

    @classmethod
    def worked_example(cls, n_users: Optional[int] = None) -> "HeterogeneousUsers":
        """METHODS.md section 2: d = 3, z ~ N(0, 2I), logistic noise, beta_u = (1, 1 + 3 xi, 0)."""
        return cls(beta_bar=(1.0, 1.0, 0.0), heterogeneity="anisotropic", scale=3.0,
                   contested_axis=1, noise="logistic", z_scale=math.sqrt(2.0), n_users=n_users)

    @property
    def d(self) -> int:
        return len(self.beta_bar)

    # -- sampling ----------------------------------------------------------
    def _shifts(self, u):
        """User shifts beta_u - beta_bar, (m, d), from uniforms u of shape (m, d)."""
        kind = self.heterogeneity
        if kind == "isotropic":
            return self.scale * jsp.ndtri(u)
        v = u[:, 0]
        if kind == "anisotropic":
            v = jsp.ndtri(v)
        elif kind == "two_type":
            v = jnp.where(v < 0.5, 1.0, -1.0)
        elif kind == "skewed":
            v = -jnp.log(v) - 1.0
        else:
            v = jnp.zeros_like(v)
        return self.scale * v[:, None] * jnp.eye(self.d, dtype=jnp.float64)[self.contested_axis]

    def sample(self, key, n: int) -> dict:
        _require_x64()
        m = n if self.n_users is None else self.n_users
        u_z, u_users, u = _uniforms(key, (n, self.d), (m, self.d), (2, n))  # u: answering user, response
        Z = self.z_scale * jsp.ndtri(u_z)
        beta_users = jnp.asarray(self.beta_bar) + self._shifts(u_users)
        if self.n_users is None:
            user = jnp.arange(n, dtype=jnp.int32)
            beta_u = beta_users
        else:
            user = jnp.minimum(jnp.floor(u[0] * self.n_users), self.n_users - 1).astype(jnp.int32)
            beta_u = beta_users[user]
        eta = jnp.sum(beta_u * Z, axis=1)
        p_user = jax.nn.sigmoid(eta) if self.noise == "logistic" else jsp.ndtr(eta)
        y = (u[1] < p_user).astype(jnp.float64)
        return {"Z": Z, "y": y, "user": user, "beta_u": beta_u, "p": self._preference_prob(Z, jnp, jsp)}

    def preference_prob(self, Z) -> np.ndarray:
        """p(z) = E_F[F(beta_u^T z)] for the rows of Z (numpy float64, ~1e-13 absolute)."""
        Z = np.atleast_2d(np.asarray(Z, dtype=np.float64))
        return self._preference_prob(Z, np, ssp)

    def _preference_prob(self, Z, xp, sp):
        s, w = (xp.asarray(a) for a in _noise_scales(self.noise))
        m = (Z @ xp.asarray(self.beta_bar))[:, None]
        kind = self.heterogeneity
        if kind == "isotropic":
            c = self.scale * xp.sqrt(xp.sum(Z**2, axis=1))[:, None]
        else:
            c = self.scale * Z[:, self.contested_axis][:, None]
        if kind == "none":
            probs = sp.ndtr(m / s)
        elif kind in ("anisotropic", "isotropic"):
            probs = sp.ndtr(m / xp.sqrt(s**2 + c**2))
        elif kind == "two_type":
            probs = 0.5 * (sp.ndtr((m + c) / s) + sp.ndtr((m - c) / s))
        else:
            probs = _expected_probit_exponential((m - c) / s, c / s, xp, sp)
        return xp.sum(w * probs, axis=1)

    # -- truths --------------------------------------------------------------
    @functools.cached_property
    def direction(self) -> np.ndarray:
        b = np.asarray(self.beta_bar)
        return _readonly(b / np.linalg.norm(b))

    @property
    def truth(self) -> np.ndarray:
        return self.direction

    @functools.cached_property
    def bt_limit(self) -> np.ndarray:
        return _readonly(self._bt_limit(step=0.05))

    @functools.cached_property
    def bt_limit_angle(self) -> float:
        return angle_degrees(self.bt_limit, self.direction)

    def _user_nodes(self, step: float) -> tuple[np.ndarray, np.ndarray]:
        """User weights beta_u (nodes, d) and quadrature weights, for the axis kinds."""
        v, w = _user_shift_nodes(self.heterogeneity, step)
        axis = np.eye(self.d)[self.contested_axis]
        return np.asarray(self.beta_bar) + self.scale * v[:, None] * axis, w

    def _bt_limit(self, step: float) -> np.ndarray:
        zs = self.z_scale
        if self.heterogeneity == "isotropic":
            # beta_u ~ N(beta_bar, scale^2 I): write (s_k^2 + a^2)^-1/2 as
            # pi^-1/2 int_0^inf tau^-1/2 e^{-tau (s_k^2 + a^2)} dtau; the Gaussian
            # expectation of beta_u e^{-lam ||beta_u||^2} is then closed form, leaving a
            # 1-D integral over log tau per noise scale (trapezoid, spectrally accurate).
            s, wk = _noise_scales(self.noise)
            u = np.arange(-75.0, 60.0 + step / 2, step)
            tau = np.exp(u)[:, None]
            lam = tau * zs**2
            shrink = 1 + 2 * lam * self.scale**2
            beta = np.asarray(self.beta_bar)
            integrand = (np.sqrt(tau) * np.exp(-tau * s**2) * shrink ** (-1 - self.d / 2)
                         * np.exp(-lam * (beta @ beta) / shrink))
            b = beta * step * np.sum(wk * integrand) / (np.sqrt(2) * np.pi)
        else:
            B, w = self._user_nodes(step)
            b = np.sum(w[:, None] * B * _kappa(zs * np.linalg.norm(B, axis=1), self.noise)[:, None], axis=0)
        target = np.linalg.norm(b)
        # t kappa_Lambda(zs t) increases from 0 to 1 / (zs sqrt(2 pi)) > ||b||
        hi = 1.0
        while hi * _kappa(zs * hi, "logistic") < target:
            hi *= 2
        t = optimize.brentq(lambda t: t * _kappa(zs * t, "logistic") - target, 0.0, hi,
                            xtol=1e-15, rtol=1e-15)
        return t * b / target

    def max_score(self, b, step: float = 0.05) -> float:
        """Population maximum score Q(b) = E[(2y - 1) sign(b^T z)] (not for isotropic users)."""
        if self.heterogeneity == "isotropic":
            raise NotImplementedError(
                "max_score is implemented for one-axis heterogeneity; for isotropic users "
                "the maximiser is `direction` by symmetry."
            )
        b = np.asarray(b, dtype=np.float64)
        B, w = self._user_nodes(step)
        unit, c = self._score_terms(B)
        weights = w[:, None] * _noise_scales(self.noise)[1][None, :] * (2 / np.pi)
        return float(np.sum(weights * np.arcsin(c * (unit @ (b / np.linalg.norm(b)))[:, None])))

    def _score_terms(self, B):
        """Unit user directions (nodes, d) and c_uk = a_u / sqrt(s_k^2 + a_u^2)."""
        s, _ = _noise_scales(self.noise)
        norm = np.linalg.norm(B, axis=1)
        unit = B / np.where(norm > 0, norm, 1.0)[:, None]  # an indifferent user contributes 0 either way
        a = self.z_scale * norm[:, None]
        return unit, a / np.sqrt(s[None, :] ** 2 + a**2)

    def _sign_limit(self, step: float) -> np.ndarray:
        u1 = self.direction
        if self.heterogeneity in ("none", "isotropic"):
            return u1
        e = np.eye(self.d)[self.contested_axis]
        u2 = e - (e @ u1) * u1
        if np.linalg.norm(u2) < 1e-12:
            # every user lies on the beta_bar line: only the sign is in question
            return u1 if self.max_score(u1, step) >= 0 else -u1
        u2 = u2 / np.linalg.norm(u2)
        B, w = self._user_nodes(step)
        unit, c = self._score_terms(B)
        weights = w[:, None] * _noise_scales(self.noise)[1][None, :] * (2 / np.pi)

        def q(phi):
            rho = unit @ (np.cos(phi) * u1 + np.sin(phi) * u2)
            return np.sum(weights * np.arcsin(c * rho[:, None]))

        def dq(phi):
            rho = unit @ (np.cos(phi) * u1 + np.sin(phi) * u2)
            drho = unit @ (-np.sin(phi) * u1 + np.cos(phi) * u2)
            x = c * rho[:, None]
            return np.sum(weights * c * drho[:, None] / np.sqrt(1 - x**2))

        # Q is smooth on the circle: locate the maximum on a 2-degree grid, then
        # solve dQ/dphi = 0 inside the bracketing cells
        cell = 2 * np.pi / 180
        grid = -np.pi + cell * np.arange(180)
        top = grid[int(np.argmax([q(phi) for phi in grid]))]
        phi = optimize.brentq(dq, top - cell, top + cell, xtol=1e-15, rtol=1e-15)
        return np.cos(phi) * u1 + np.sin(phi) * u2

    @functools.cached_property
    def sign_limit(self) -> np.ndarray:
        return _readonly(self._sign_limit(step=0.05))

    @functools.cached_property
    def median_direction(self) -> np.ndarray:
        med = math.log(2.0) - 1.0 if self.heterogeneity == "skewed" else 0.0
        m = np.asarray(self.beta_bar) + self.scale * med * np.eye(self.d)[self.contested_axis]
        return _readonly(m / np.linalg.norm(m))


def _expected_probit_exponential(a, b, xp, sp):
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


# ----------------------------------------------------------------------------
# 3. Gaussian classes (relative density ratio)
# ----------------------------------------------------------------------------

@dataclass(frozen=True)
class GaussianClasses:
    r"""Preferred (p+) and non-preferred (p-) feature laws with exact density ratios.

    METHODS.md section 5; Takahashi et al., *Relative Density Ratio Optimization
    for Stable and Statistically Consistent Model Alignment* (arXiv 2604.04410);
    Yamada et al. 2011/2013 (RuLSIF). p+ = N(mu_plus, cov_plus),
    p- = N(mu_minus, cov_minus) (scalars accepted for d = 1).

        log_ratio(x) = log p+(x) - log p-(x)
        r_alpha(x)   = p+(x) / (alpha p+(x) + (1 - alpha) p-(x)) = 1 / (alpha + (1 - alpha) e^{-log_ratio})
        PE_alpha     = (1/2) (E_{p+}[r_alpha] - 1)

    ``pe_alpha`` (also ``truth``, at ``self.alpha``) is computed as:

    * alpha = 0: closed form, E_{p+}[p+/p-] = integral of p+^2/p- (a Gaussian
      integral; infinite when 2 cov_plus^-1 - cov_minus^-1 is not positive definite);
    * d = 1, or equal covariances in any d (log_ratio is then affine, so under p+
      it is N(M^2/2, M^2) with M the Mahalanobis distance): one-dimensional
      adaptive quadrature, absolute error ~1e-13;
    * otherwise: randomised quasi-Monte Carlo (16 scrambled Sobol sequences of
      2^16 points, fixed seeds); ``pe_alpha_error`` reports the standard error
      across the 16 replicates (typically 1e-7 - 1e-6).

    ``sample(key, n_plus, n_minus)`` returns ``X_plus`` (n_plus, d) and ``X_minus`` (n_minus, d).
    """

    mu_plus: tuple
    mu_minus: tuple
    cov_plus: tuple = 1.0
    cov_minus: tuple = 1.0
    alpha: float = 0.0

    def __post_init__(self):
        mp, mm = _as_vector("mu_plus", self.mu_plus), _as_vector("mu_minus", self.mu_minus)
        if len(mp) != len(mm):
            raise ValueError(f"mu_plus has length {len(mp)} but mu_minus has length {len(mm)}.")
        _set(self, mu_plus=mp, mu_minus=mm,
             cov_plus=_as_covariance("cov_plus", self.cov_plus, len(mp)),
             cov_minus=_as_covariance("cov_minus", self.cov_minus, len(mp)))
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1]; got {self.alpha}.")

    @property
    def d(self) -> int:
        return len(self.mu_plus)

    @functools.cached_property
    def _laws(self):
        return (stats.multivariate_normal(self.mu_plus, np.asarray(self.cov_plus)),
                stats.multivariate_normal(self.mu_minus, np.asarray(self.cov_minus)))

    def _rows(self, x) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if x.ndim == 1 and self.d == 1:
            x = x[:, None]
        if x.ndim != 2 or x.shape[1] != self.d:
            raise ValueError(f"x must have shape (m, {self.d}); got {x.shape}.")
        return x

    def log_ratio(self, x) -> np.ndarray:
        """log p+(x) - log p-(x) for the rows of x ((m, d), or (m,) when d = 1)."""
        x = self._rows(x)
        plus, minus = self._laws
        return np.atleast_1d(plus.logpdf(x) - minus.logpdf(x))

    def r_alpha(self, x, alpha: Optional[float] = None) -> np.ndarray:
        """Relative density ratio at the rows of x (bounded by 1/alpha)."""
        return _relative_ratio(self.log_ratio(x), self.alpha if alpha is None else alpha)

    def pe_alpha(self, alpha: Optional[float] = None) -> float:
        """alpha-relative Pearson divergence PE_alpha (default alpha: ``self.alpha``)."""
        return self._pe(self.alpha if alpha is None else float(alpha))[0]

    def pe_alpha_error(self, alpha: Optional[float] = None) -> float:
        """Estimated absolute error of :meth:`pe_alpha` (0 for the closed form)."""
        return self._pe(self.alpha if alpha is None else float(alpha))[1]

    @property
    def truth(self) -> float:
        return self.pe_alpha()

    def _pe(self, alpha: float) -> tuple[float, float]:
        return _gaussian_pe(self.mu_plus, self.mu_minus, self.cov_plus, self.cov_minus, alpha)

    def sample(self, key, n_plus: int, n_minus: int) -> dict:
        _require_x64()
        e = jax.random.normal(key, (n_plus + n_minus, self.d), dtype=jnp.float64)
        Lp = jnp.asarray(np.linalg.cholesky(np.asarray(self.cov_plus)))
        Lm = jnp.asarray(np.linalg.cholesky(np.asarray(self.cov_minus)))
        return {"X_plus": jnp.asarray(self.mu_plus) + e[:n_plus] @ Lp.T,
                "X_minus": jnp.asarray(self.mu_minus) + e[n_plus:] @ Lm.T}


@functools.lru_cache(maxsize=None)
def _gaussian_pe(mu_plus, mu_minus, cov_plus, cov_minus, alpha: float) -> tuple[float, float]:
    """(PE_alpha, estimated absolute error) for p+ = N(mu_plus, cov_plus), p- = N(mu_minus, cov_minus)."""
    mp, mm = np.asarray(mu_plus), np.asarray(mu_minus)
    Sp, Sm = np.asarray(cov_plus), np.asarray(cov_minus)
    d = mp.size
    plus, minus = stats.multivariate_normal(mp, Sp), stats.multivariate_normal(mm, Sm)

    def log_ratio(x):
        return np.atleast_1d(plus.logpdf(x) - minus.logpdf(x))

    if alpha == 1.0:
        return 0.0, 0.0
    if alpha == 0.0:
        Pp, Pm = np.linalg.inv(Sp), np.linalg.inv(Sm)
        A = 2 * Pp - Pm
        if np.linalg.eigvalsh(A).min() <= 0:
            return math.inf, 0.0
        bvec = 2 * Pp @ mp - Pm @ mm
        c = 2 * mp @ Pp @ mp - mm @ Pm @ mm
        log_e = (-np.linalg.slogdet(2 * np.pi * Sp)[1] + 0.5 * np.linalg.slogdet(2 * np.pi * Sm)[1]
                 + 0.5 * d * np.log(2 * np.pi) - 0.5 * np.linalg.slogdet(A)[1]
                 + 0.5 * (bvec @ np.linalg.solve(A, bvec) - c))
        return 0.5 * (math.exp(log_e) - 1.0), 0.0
    if d == 1 or np.array_equal(Sp, Sm):
        if d == 1:
            vp, vm = Sp[0, 0], Sm[0, 0]

            def f_of(u):
                x = mp[0] + math.sqrt(vp) * u
                return 0.5 * math.log(vm / vp) - 0.5 * u**2 + (x - mm[0]) ** 2 / (2 * vm)
        else:
            m2 = (mp - mm) @ np.linalg.solve(Sp, mp - mm)

            def f_of(u):
                return 0.5 * m2 + math.sqrt(m2) * u
        val, err = integrate.quad(
            lambda u: stats.norm.pdf(u) * _relative_ratio(np.array([f_of(u)]), alpha)[0],
            -np.inf, np.inf, epsabs=1e-14, epsrel=1e-13, limit=500)
        return 0.5 * (val - 1.0), 0.5 * err
    L = np.linalg.cholesky(Sp)
    reps = []
    for seed in range(16):
        u = stats.qmc.Sobol(d, scramble=True, seed=seed).random_base2(16)
        x = mp + ssp.ndtri(u) @ L.T
        reps.append(np.mean(_relative_ratio(log_ratio(x), alpha)))
    reps = np.asarray(reps)
    return 0.5 * (reps.mean() - 1.0), 0.5 * reps.std(ddof=1) / math.sqrt(reps.size)


def _relative_ratio(f: np.ndarray, alpha: float) -> np.ndarray:
    if alpha == 0.0:
        return np.exp(f)
    if alpha == 1.0:
        return np.ones_like(f)
    # 1 / (alpha + (1 - alpha) e^-f) in logs: no overflow for very negative f
    return np.exp(-np.logaddexp(math.log(alpha), math.log1p(-alpha) - f))


# ----------------------------------------------------------------------------
# 4. Biased AI judge with covariate shift
# ----------------------------------------------------------------------------

@dataclass(frozen=True)
class BiasedJudge:
    r"""Human and LLM-judge labels on two samples with a known density ratio.

    METHODS.md sections 3-4; Xia, Xia, Zhang, Cai, *A Statistical Framework for
    Alignment with Biased AI Feedback* (arXiv 2602.08259).

    Pairs: z ~ N(``pool_mean``, z_scale^2 I) in the AI-labelled pool and
    z ~ N(``human_mean``, z_scale^2 I) in the human sample, so
    w(z) = dP_pool/dP_human(z) = exp((||z - mu_H||^2 - ||z - mu_P||^2) / (2 z_scale^2)).

    Human label Z ~ Bernoulli(g(z)) with

        g(z) = (1/2) [F((beta_true + delta)^T z) + F((beta_true - delta)^T z)],

    F = Lambda (``link="logistic"``) or Phi ("probit"), delta = ``disagreement``
    (zero by default): two equally large human sub-populations that disagree
    along delta. g(-z) = 1 - g(z). BT is well specified only for the logistic
    link with delta = 0; otherwise g is not a logistic function of a linear
    index and the oracle BT fit is a KL projection.

    Judge: logit l(z) = (logit g(z) + tilt z_j + position_bias) / temperature,
    j = ``tilt_feature`` (e.g. a length difference); q(z) = sigma(l(z)).
    ``judge_output="label"``: A ~ Bernoulli(q); ``"probability"``: A = q. In both
    cases A is then replaced by 1 - A with probability ``flip_rate``, so
    ``ai_prob`` = E[A | z] = (1 - f) q + f (1 - q). A is independent of Z given z.

    ``sample(key, n_human, n_pool)`` returns one stacked table, human rows first:
    ``Z`` (n_human + n_pool, d), ``y`` (human label; NaN on pool rows),
    ``ai_label`` (every row), ``is_human`` (bool), ``w_true`` (w(z) on human rows,
    NaN on pool rows), ``g`` (g(z), every row) and ``ai_prob`` (every row).
    The same functions are available in numpy as ``density_ratio(Z)``,
    ``human_preference(Z)`` and ``judge_prob(Z)``.

    Truth (numpy float64, cached), all over the pool law:

    * ``oracle_bt`` (= ``truth``): theta* with E_pool[(g - sigma(theta^T z)) z] = 0;
      ``beta_true`` exactly when BT is well specified, else a tensor trapezoid
      rule over span(beta_true, delta, pool_mean) (the solution lies in that
      span: the orthogonal part of the estimating equation vanishes there) and
      Newton; absolute error ~1e-13 (the integrands are analytic in a strip, so
      the rule converges exponentially; tests refine it).
    * ``psi`` = E_pool[g(z)], the human preference probability over the pool
      (same rule over span(beta_true, delta); ~1e-14).
    * ``judge_agreement`` = P(A = Z) = E_pool[g a + (1 - g)(1 - a)], a = ``ai_prob``
      (for probability output: the expected agreement of the soft label). Same
      rule; ~1e-13 typically, ~1e-9 in the worst tested case (probit link with
      disagreement: logit g has complex singularities that approach the real
      axis far in the tails).
    """

    beta_true: tuple
    link: str = "logistic"
    disagreement: Optional[tuple] = None
    z_scale: float = 1.0
    pool_mean: Optional[tuple] = None
    human_mean: Optional[tuple] = None
    flip_rate: float = 0.0
    tilt: float = 0.0
    tilt_feature: int = -1
    position_bias: float = 0.0
    temperature: float = 1.0
    judge_output: str = "label"

    def __post_init__(self):
        beta = _as_vector("beta_true", self.beta_true)
        d = len(beta)
        means = {}
        for name in ("pool_mean", "human_mean", "disagreement"):
            value = getattr(self, name)
            means[name] = (0.0,) * d if value is None else _as_vector(name, value)
            if len(means[name]) != d:
                raise ValueError(f"'{name}' has length {len(means[name])} but beta_true has length {d}.")
        _set(self, beta_true=beta, **means)
        if self.link not in ("logistic", "probit"):
            raise ValueError(f"link must be 'logistic' or 'probit'; got {self.link!r}.")
        if self.judge_output not in ("label", "probability"):
            raise ValueError(f"judge_output must be 'label' or 'probability'; got {self.judge_output!r}.")
        if not 0.0 <= self.flip_rate <= 1.0:
            raise ValueError(f"flip_rate must be in [0, 1]; got {self.flip_rate}.")
        if self.temperature <= 0 or self.z_scale <= 0:
            raise ValueError("temperature and z_scale must be positive.")
        if not -d <= self.tilt_feature < d:
            raise ValueError(f"tilt_feature={self.tilt_feature} is out of range for d={d}.")
        _set(self, tilt_feature=self.tilt_feature % d)

    @property
    def d(self) -> int:
        return len(self.beta_true)

    # -- closed-form pieces (numpy or jax) ------------------------------------
    def _log_g(self, Z, xp, sp):
        """(log g(z), log(1 - g(z))), both from the link's log-CDF so neither loses
        precision when g is near 0 or 1 (1 - g(z) = g(-z))."""
        beta, delta = xp.asarray(self.beta_true), xp.asarray(self.disagreement)
        e1, e2 = Z @ (beta + delta), Z @ (beta - delta)

        def log_f(x):
            return -xp.logaddexp(0.0, -x) if self.link == "logistic" else sp.log_ndtr(x)

        half = math.log(2.0)
        return (xp.logaddexp(log_f(e1), log_f(e2)) - half,
                xp.logaddexp(log_f(-e1), log_f(-e2)) - half)

    def _g(self, Z, xp, sp):
        return xp.exp(self._log_g(Z, xp, sp)[0])

    def _ai_prob(self, Z, xp, sp):
        log_g, log_1mg = self._log_g(Z, xp, sp)
        logit_g = log_g - log_1mg
        q = sp.expit((logit_g + self.tilt * Z[:, self.tilt_feature] + self.position_bias) / self.temperature)
        return (1 - self.flip_rate) * q + self.flip_rate * (1 - q), q

    def _log_w(self, Z, xp):
        mp, mh = xp.asarray(self.pool_mean), xp.asarray(self.human_mean)
        return (xp.sum((Z - mh) ** 2, axis=1) - xp.sum((Z - mp) ** 2, axis=1)) / (2 * self.z_scale**2)

    def density_ratio(self, Z) -> np.ndarray:
        """w(z) = dP_pool / dP_human at the rows of Z (numpy float64)."""
        return np.exp(self._log_w(np.atleast_2d(np.asarray(Z, dtype=np.float64)), np))

    def human_preference(self, Z) -> np.ndarray:
        """g(z) at the rows of Z (numpy float64)."""
        return self._g(np.atleast_2d(np.asarray(Z, dtype=np.float64)), np, ssp)

    def judge_prob(self, Z) -> np.ndarray:
        """E[A | z] at the rows of Z (numpy float64)."""
        return self._ai_prob(np.atleast_2d(np.asarray(Z, dtype=np.float64)), np, ssp)[0]

    # -- sampling ---------------------------------------------------------------
    def sample(self, key, n_human: int, n_pool: int) -> dict:
        _require_x64()
        n = n_human + n_pool
        u_z, u = _uniforms(key, (n, self.d), (3, n))  # u: human label, judge label, flip
        is_human = jnp.arange(n) < n_human
        mean = jnp.where(is_human[:, None], jnp.asarray(self.human_mean), jnp.asarray(self.pool_mean))
        Z = mean + self.z_scale * jsp.ndtri(u_z)
        g = self._g(Z, jnp, jsp)
        z_label = (u[0] < g).astype(jnp.float64)
        ai_prob, q = self._ai_prob(Z, jnp, jsp)
        raw = (u[1] < q).astype(jnp.float64) if self.judge_output == "label" else q
        flip = u[2] < self.flip_rate
        return {
            "Z": Z,
            "y": jnp.where(is_human, z_label, jnp.nan).astype(jnp.float64),
            "ai_label": jnp.where(flip, 1.0 - raw, raw).astype(jnp.float64),
            "is_human": is_human,
            "w_true": jnp.where(is_human, jnp.exp(self._log_w(Z, jnp)), jnp.nan).astype(jnp.float64),
            "g": g,
            "ai_prob": ai_prob,
        }

    # -- truths ------------------------------------------------------------------
    def _pool_rule(self, directions, refine: float = 1.0):
        """Nodes z (N, d) and weights for E_pool[h(z)], h depending on z only through
        its projection on span(directions): z = pool_mean + z_scale U v, v ~ N(0, I_k).
        The orthogonal part of z is independent of v with mean zero, so E[h(z) z]
        is also exact on these nodes."""
        U = _orthonormal_basis(directions)
        k = U.shape[1]
        v, w = _gauss_rule(k, int(round(_GAUSS_NODES * refine)))
        return np.asarray(self.pool_mean) + self.z_scale * v @ U.T, w, U

    def _directions(self, *extra):
        dirs = [np.asarray(self.beta_true)]
        if any(self.disagreement):
            dirs.append(np.asarray(self.disagreement))
        return dirs + [np.asarray(e) for e in extra]

    def _oracle_bt(self, refine: float) -> np.ndarray:
        # theta* lies in span(beta, delta, pool_mean): there the orthogonal part of the
        # estimating equation vanishes, and the population logistic problem is strictly concave
        z, w, U = self._pool_rule(self._directions(self.pool_mean), refine)
        if U.shape[1] == 0:
            return np.zeros(self.d)
        return U @ _soft_logistic(z @ U, self._g(z, np, ssp), w)

    @functools.cached_property
    def oracle_bt(self) -> np.ndarray:
        if self.link == "logistic" and not any(self.disagreement):
            return _readonly(self.beta_true)
        return _readonly(self._oracle_bt(refine=1.0))

    @property
    def truth(self) -> np.ndarray:
        return self.oracle_bt

    def _psi(self, refine: float) -> float:
        z, w, _ = self._pool_rule(self._directions(), refine)
        return float(np.sum(w * self._g(z, np, ssp)))

    @functools.cached_property
    def psi(self) -> float:
        return self._psi(refine=1.0)

    def _judge_agreement(self, refine: float) -> float:
        z, w, _ = self._pool_rule(self._directions(np.eye(self.d)[self.tilt_feature]), refine)
        g = self._g(z, np, ssp)
        a = self._ai_prob(z, np, ssp)[0]
        return float(np.sum(w * (g * a + (1 - g) * (1 - a))))

    @functools.cached_property
    def judge_agreement(self) -> float:
        return self._judge_agreement(refine=1.0)
