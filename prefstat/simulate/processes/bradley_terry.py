"""Bradley-Terry processes with known abilities: item level (:class:`HomogeneousBT`) and feature level
(:class:`FeatureBT`). Truths are exact (closed form, or a Newton solve over the finite pair support)."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Optional

import jax
import jax.numpy as jnp
import jax.scipy.special as jsp
import numpy as np

from .numerics import as_covariance, as_vector, population_logistic, readonly, require_x64, set_fields, uniforms

__all__ = ["HomogeneousBT", "FeatureBT", "davidson_probs"]


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
      on them only through differences, docs/methods.md#conventions); when ``abilities``
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
            ab = as_vector("abilities", self.abilities)
            if self.n_items is not None and self.n_items != len(ab):
                raise ValueError(
                    f"n_items={self.n_items} but {len(ab)} abilities were given; "
                    "pass one ability per item (or omit n_items)."
                )
            set_fields(self, abilities=ab, n_items=len(ab))
        elif self.n_items is None:
            set_fields(self, n_items=10)
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
        return readonly(theta - theta.mean())

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
        return readonly(P / P.sum())

    def outcome_probs(self, left, right):
        """Exact (P(left wins), P(tie), P(right wins)) for item index arrays (numpy)."""
        d = self.truth[np.asarray(left)] - self.truth[np.asarray(right)] + self.order_effect
        return davidson_probs(d, self.davidson_nu, np)

    @functools.cached_property
    def half_win_truth(self) -> tuple[np.ndarray, float]:
        k = self.n_items
        a, b = np.nonzero(self.pair_probs)
        X = np.zeros((a.size, k))
        X[np.arange(a.size), a] += 1.0
        X[np.arange(a.size), b] -= 1.0
        X = np.column_stack([X[:, 1:], np.ones(a.size)])  # item 0 is the reference; last column: order
        p_win, p_tie, _ = self.outcome_probs(a, b)
        c = population_logistic(X, p_win + p_tie / 2, self.pair_probs[a, b])
        theta = np.concatenate([[0.0], c[:-1]])
        return readonly(theta - theta.mean()), float(c[-1])

    def sample(self, key, n: int) -> dict:
        require_x64()
        k = self.n_items
        (u,) = uniforms(key, (2, n))  # pair, outcome
        cdf = jnp.asarray(np.cumsum(self.pair_probs.ravel()))
        # inverse CDF with r in (0, 1]: an ordered pair of probability zero is never drawn
        idx = jnp.minimum(jnp.searchsorted(cdf, cdf[-1] * (1.0 - u[0])), k * k - 1)
        left = (idx // k).astype(jnp.int32)
        right = (idx % k).astype(jnp.int32)
        theta = jnp.asarray(self.truth)
        p_win, p_tie, _ = davidson_probs(theta[left] - theta[right] + self.order_effect, self.davidson_nu, jnp)
        y = jnp.where(u[1] < p_win, 1.0, jnp.where(u[1] < p_win + p_tie, 0.5, 0.0)).astype(jnp.float64)
        return {"left": left, "right": right, "y": y, "order": jnp.ones(n, dtype=jnp.float64)}


def davidson_probs(d, nu, xp):
    """(P(left wins), P(tie), P(right wins)) under Davidson ties for index differences d (numpy or jax)."""
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
        beta = as_vector("beta", self.beta)
        cov = np.eye(len(beta)) if self.z_cov is None else self.z_cov
        set_fields(self, beta=beta, z_cov=as_covariance("z_cov", cov, len(beta)))

    @functools.cached_property
    def truth(self) -> np.ndarray:
        return readonly(self.beta)

    def sample(self, key, n: int) -> dict:
        require_x64()
        u_z, u_y = uniforms(key, (n, len(self.beta)), (n,))
        L = jnp.asarray(np.linalg.cholesky(np.asarray(self.z_cov)))
        Z = jsp.ndtri(u_z) @ L.T
        p = jax.nn.sigmoid(Z @ jnp.asarray(self.beta))
        y = (u_y < p).astype(jnp.float64)
        return {"Z": Z, "y": y, "p": p}