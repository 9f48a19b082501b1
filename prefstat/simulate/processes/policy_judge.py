r"""A biased judge at the policy level: finite candidate sets, a hidden quality factor, a known human-pair
generator, and exact per-policy win rates (:class:`PolicyJudge`; truths are finite sums, exact to rounding)."""
from __future__ import annotations

import functools
from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np
import scipy.special as ssp

from ...optim import lbfgs
from ...policy import expected_pair_value, kl_to_reference
from ..._x64 import x64_scope
from .candidates import CandidatePopulation
from .numerics import as_vector, readonly, require_x64, set_fields, uniforms

__all__ = ["PolicyJudge"]


@dataclass(frozen=True)
class PolicyJudge(CandidatePopulation):
    r"""Human and judge preferences between candidate answers, with exact truth for every log-linear policy.

    docs/methods.md#dipo (policy level); Xia, Xia, Zhang, Cai, arXiv 2602.08259.

    **Population** (fixed by ``seed``, numpy): ``n_population`` prompts with
    ``n_candidates`` answers each. Answer :math:`y` of prompt :math:`x` has a
    hidden quality :math:`q \sim N(0, 1)` (the shared factor that makes the
    judge informative about humans), a standardised length
    :math:`\ell = \rho q + \sqrt{1 - \rho^2}\, e` (:math:`\rho` =
    ``length_corr``) and an observed quality proxy :math:`r = q +` ``proxy_noise``
    :math:`\cdot e'`. Policy features :math:`\phi(x, y) = (\ell, r)`; reference
    :math:`\log \pi_{\mathrm{ref}} \propto` ``ref_scale`` :math:`\cdot N(0, 1)`
    noise. Prompts are drawn uniformly from the population.

    **Labels** for the ordered pair (left :math:`y`, right :math:`y'`):

    * human: :math:`Z \sim \mathrm{Bernoulli}(g)`, :math:`\mathrm{logit}\, g = \kappa (q_y - q_{y'}) +
      \text{human\_length}\,(\ell_y - \ell_{y'})` (:math:`\kappa` = ``human_scale``: Bradley-Terry in
      the hidden quality, with the humans' own taste for length, negative by default: verbosity
      beyond quality is disliked; no position bias, :math:`g(y', y) = 1 - g(y, y')`);
    * judge: probability :math:`a = \sigma((\mathrm{logit}\, g + \text{tilt}\,(\ell_y - \ell_{y'})
      + \text{position\_bias}) / \text{temperature})`: tilted towards length,
      biased towards the left position, over-confident for temperature < 1.
      ``judge_output="probability"``: :math:`A = a`; ``"label"``: :math:`A \sim
      \mathrm{Bernoulli}(a)`, independent of :math:`Z` given the pair.

    Nuisance-model features of a pair: :math:`F = \phi(x, y) - \phi(x, y')`.
    With probability output, :math:`E[Z \mid F, A] = \sigma(\text{temperature}
    \cdot \mathrm{logit} A + (\text{human\_length} - \text{tilt})\, F_1 - \text{position\_bias})`: DIPO's
    default outcome model (logistic on an intercept, logit A and F) is well specified.

    **Samples** (``sample(key, n_human, n_pool)``, JAX, vmappable over ``key``):
    ``pool_prompt`` (n_pool,) population indices of the target prompts, ``judge``
    (n_pool, C, C) judge labels on every ordered candidate pair of each pool prompt,
    ``oracle`` (n_pool, C, C) human labels on every such pair (the oracle
    baseline); ``human_prompt``, ``left``, ``right`` (n_human,) pairs drawn
    from the known generator :math:`\mu_H` (the log-linear policy with
    ``human_theta``, both sides independently), ``y`` their human labels and
    ``ai_label`` their judge labels. The density ratio of a policy pair
    :math:`(\pi \times \pi_{\mathrm{ref}})` to the human pairs is
    :math:`\pi(y|x)\pi_{\mathrm{ref}}(y'|x) / (\mu_H(y|x)\mu_H(y'|x))`, known.

    **Truth** (numpy float64, exact finite sums over the population):
    :meth:`win_rate` (policy) = :math:`\frac1M \sum_x \sum_{y, y'} \pi(y|x)
    \pi_{\mathrm{ref}}(y'|x) g(x, y, y')`, the human win rate of the policy's answer
    (shown left) against the reference's; ``psi`` = the reference's win rate
    against itself (1/2 by antisymmetry of g); :meth:`judge_win_rate` the
    judge's version (what the AI-only objective targets).
    """

    n_population: int = 400
    n_candidates: int = 6
    human_scale: float = 2.0
    length_corr: float = 0.0
    human_length: float = -0.5
    proxy_noise: float = 1.0
    ref_scale: float = 0.5
    tilt: float = 2.0
    position_bias: float = 0.5
    temperature: float = 0.8
    human_theta: tuple = (-0.5, 0.0)
    judge_output: str = "probability"
    seed: int = 0

    def __post_init__(self):
        set_fields(self, human_theta=as_vector("human_theta", self.human_theta))
        if len(self.human_theta) != 2:
            raise ValueError(f"human_theta must have length 2 (length, proxy); got {len(self.human_theta)}.")
        if self.n_population < 1 or self.n_candidates < 2:
            raise ValueError("n_population must be >= 1 and n_candidates >= 2.")
        if not -1.0 < self.length_corr < 1.0:
            raise ValueError(f"length_corr must be in (-1, 1); got {self.length_corr}.")
        if self.temperature <= 0 or self.proxy_noise < 0:
            raise ValueError("temperature must be positive and proxy_noise non-negative.")
        if self.judge_output not in ("label", "probability"):
            raise ValueError(f"judge_output must be 'label' or 'probability'; got {self.judge_output!r}.")

    @property
    def d(self) -> int:
        return 2

    # -- the fixed population ------------------------------------------------------
    @functools.cached_property
    def _population(self) -> dict:
        rng = np.random.default_rng(self.seed)
        M, C = self.n_population, self.n_candidates
        q = rng.normal(size=(M, C))
        e = rng.normal(size=(3, M, C))
        length = self.length_corr * q + np.sqrt(1 - self.length_corr**2) * e[0]
        proxy = q + self.proxy_noise * e[1]
        log_ref = self.ref_scale * e[2]
        log_ref = log_ref - ssp.logsumexp(log_ref, axis=1, keepdims=True)
        phi = np.stack([length, proxy], axis=-1)
        dq = q[:, :, None] - q[:, None, :]
        dl = length[:, :, None] - length[:, None, :]
        logit_g = self.human_scale * dq + self.human_length * dl
        g = ssp.expit(logit_g)
        a = ssp.expit((logit_g + self.tilt * dl + self.position_bias) / self.temperature)
        return {k: readonly(v) for k, v in dict(quality=q, phi=phi, log_ref=log_ref, g=g, judge_prob=a).items()}

    @property
    def judge_prob(self) -> np.ndarray:
        """(n_population, C, C) judge probability a(x, y, y') that the left answer wins."""
        return self._population["judge_prob"]

    def pair_features(self, prompt, left, right) -> np.ndarray:
        """(..., 2) F = phi(x, left) - phi(x, right) (numpy)."""
        return self.phi[prompt, left] - self.phi[prompt, right]

    def generator_probs(self, prompts=None) -> np.ndarray:
        """(n, C) mu_H(y | x), the known generator of the human pairs (both sides)."""
        idx = np.arange(self.n_population) if prompts is None else np.asarray(prompts)
        eta = self.log_ref[idx] + self.phi[idx] @ np.asarray(self.human_theta)
        return ssp.softmax(eta, axis=1)

    # -- sampling ---------------------------------------------------------------------
    def sample(self, key, n_human: int, n_pool: int) -> dict:
        require_x64()
        M, C = self.n_population, self.n_candidates
        u_pp, u_hp, u_l, u_r, u_z, u_a, u_o, u_j = uniforms(
            key, (n_pool,), (n_human,), (n_human,), (n_human,), (n_human,), (n_human,), (n_pool, C, C),
            (n_pool, C, C))
        g, a = jnp.asarray(self.human_preference), jnp.asarray(self.judge_prob)
        cdf = jnp.cumsum(jnp.asarray(self.generator_probs()), axis=1)
        pool = jnp.minimum((u_pp * M).astype(jnp.int32), M - 1)
        hp = jnp.minimum((u_hp * M).astype(jnp.int32), M - 1)

        def draw(u):  # inverse CDF of mu_H(. | x) on the human prompts
            return jnp.minimum(jnp.sum(u[:, None] > cdf[hp], axis=1), C - 1).astype(jnp.int32)

        left, right = draw(u_l), draw(u_r)
        a_h = a[hp, left, right]
        a_p = a[pool]
        label = self.judge_output == "label"
        return {
            "pool_prompt": pool,
            "judge": (u_j < a_p).astype(jnp.float64) if label else a_p,
            "oracle": (u_o < g[pool]).astype(jnp.float64),
            "human_prompt": hp,
            "left": left,
            "right": right,
            "y": (u_z < g[hp, left, right]).astype(jnp.float64),
            "ai_label": (u_a < a_h).astype(jnp.float64) if label else a_h,
        }

    # -- truths ------------------------------------------------------------------------
    def _win(self, policy, values) -> float:
        c = self.candidates()
        with x64_scope():
            return float(expected_pair_value(jnp.asarray(policy, jnp.float64), c, jnp.asarray(values)))

    def win_rate(self, policy) -> float:
        """Exact human win rate of ``policy`` (theta (2,) or (n_population, C) table) against the reference."""
        return self._win(policy, self.human_preference)

    def judge_win_rate(self, policy) -> float:
        """Exact judge win rate (E[A]) of ``policy``'s answer, shown left, against the reference's."""
        return self._win(policy, self.judge_prob)

    @functools.cached_property
    def psi(self) -> float:
        """The reference's human win rate against itself (1/2 up to rounding)."""
        return self.win_rate(np.zeros(2))

    def best_win_rate(self, beta: float) -> tuple[np.ndarray, float]:
        """theta maximising the exact win rate minus beta * KL over the population, and its win rate."""
        c = self.candidates()
        with x64_scope():
            G = jnp.asarray(self.human_preference)
            def neg(t):
                return -(expected_pair_value(t, c, G) - beta * kl_to_reference(t, c))

            res = lbfgs(neg, jnp.zeros(2), gtol=1e-12, max_iter=500)
            theta = np.asarray(res.x)
        return readonly(theta), self.win_rate(theta)
