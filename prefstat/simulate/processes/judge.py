"""A biased LLM judge with covariate shift between the human sample and the AI-labelled pool:
:class:`BiasedJudge` (truths by tensor trapezoid rules over a low-dimensional span, ~1e-13)."""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Optional

import jax.numpy as jnp
import jax.scipy.special as jsp
import numpy as np
import scipy.special as ssp

from .numerics import (GAUSS_NODES, as_vector, gauss_rule, orthonormal_basis, population_logistic, readonly,
                       require_x64, set_fields, uniforms)

__all__ = ["BiasedJudge"]


@dataclass(frozen=True)
class BiasedJudge:
    r"""Human and LLM-judge labels on two samples with a known density ratio.

    docs/methods.md#debiased-bradley-terry and #dipo; Xia, Xia, Zhang, Cai, *A Statistical Framework for
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
        beta = as_vector("beta_true", self.beta_true)
        d = len(beta)
        means = {}
        for name in ("pool_mean", "human_mean", "disagreement"):
            value = getattr(self, name)
            means[name] = (0.0,) * d if value is None else as_vector(name, value)
            if len(means[name]) != d:
                raise ValueError(f"'{name}' has length {len(means[name])} but beta_true has length {d}.")
        set_fields(self, beta_true=beta, **means)
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
        set_fields(self, tilt_feature=self.tilt_feature % d)

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
        require_x64()
        n = n_human + n_pool
        u_z, u = uniforms(key, (n, self.d), (3, n))  # u: human label, judge label, flip
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
        U = orthonormal_basis(directions)
        k = U.shape[1]
        v, w = gauss_rule(k, int(round(GAUSS_NODES * refine)))
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
        return U @ population_logistic(z @ U, self._g(z, np, ssp), w)

    @functools.cached_property
    def oracle_bt(self) -> np.ndarray:
        if self.link == "logistic" and not any(self.disagreement):
            return readonly(self.beta_true)
        return readonly(self._oracle_bt(refine=1.0))

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
