r"""Non-Bradley-Terry preferences over finite candidate sets, with the exact RDRO, DDRO and DPO targets
(:class:`IntransitivePreferences`; every truth is a finite sum or a strictly convex finite-sum minimiser)."""
from __future__ import annotations

import functools
from dataclasses import dataclass

import jax.numpy as jnp
import numpy as np
import scipy.special as ssp

from ..._x64 import x64_scope
from ...design import DenseDesign
from ...losses import logistic_fit
from .candidates import CandidatePopulation
from .numerics import readonly, require_x64, uniforms

__all__ = ["IntransitivePreferences"]


@dataclass(frozen=True)
class IntransitivePreferences(CandidatePopulation):
    r"""Preference records (prompt, chosen, rejected) from intransitive human preferences.

    docs/methods.md#relative-density-ratio (policy fitting).

    **Population** (fixed by ``seed``, numpy): ``n_prompts`` prompts with
    ``n_candidates`` answers each; answers :math:`0, \dots, C - 2` have qualities
    :math:`q \sim N(0, \text{quality\_scale}^2)`, the last answer of every prompt the
    quality ``separation`` (an outstanding answer: as it grows, it is almost never
    rejected, so the preferred and non-preferred laws separate there while every
    other answer keeps winning some comparisons); the reference :math:`\log \pi_{\mathrm{ref}} \propto`
    ``ref_scale`` :math:`\cdot N(0, 1)`. Policy features: the one-hot code of
    (prompt, answer) without answer 0 of each prompt (the baseline), so the
    log-linear family :math:`\pi_\theta \propto \pi_{\mathrm{ref}} e^{\theta^\top\phi}`
    contains every policy and :math:`\theta_{x,y} = \log \pi(y|x)/\pi_{\mathrm{ref}}(y|x)
    - \log \pi(0|x)/\pi_{\mathrm{ref}}(0|x)`.

    **Preferences.** For the pair (left :math:`y`, right :math:`y'`),
    :math:`\mathrm{logit}\, g = q_y - q_{y'} + \gamma \sin(2\pi (y - y') / C)`
    (:math:`\gamma` = ``cycle``): the cyclic term is
    antisymmetric but not a difference of scores, so for :math:`\gamma \ne 0` and
    :math:`C \ge 3` the preferences are not Bradley-Terry (rock-paper-scissors).

    **Sampling** (``sample(key, n)``, JAX, vmappable over ``key``): prompt uniform;
    an ordered pair of distinct answers with probability
    :math:`J_x(y, y') = \pi_{\mathrm{ref}}(y)\pi_{\mathrm{ref}}(y') / (1 - \sum \pi_{\mathrm{ref}}^2)`;
    the left one is chosen with probability :math:`g`. Returns ``prompt``, ``chosen``,
    ``rejected`` (n,) int32.

    **Truth.** The chosen answers follow :math:`p_+(y|x) = 2\sum_{y'} J_x(y, y') g(y, y')`,
    the rejected ones :math:`p_-(y|x) = 2\sum_{y'} J_x(y, y')(1 - g(y, y'))`;
    :meth:`r_alpha` is exact, the RDRO target policy :math:`\pi^*_\alpha \propto
    \pi_{\mathrm{ref}} r_\alpha` has parameter :meth:`theta_rdro` (``alpha = 0``: the DDRO target,
    unbounded as ``separation`` grows, since the best answer is then almost never
    rejected). :meth:`theta_dpo`: the minimiser of the population Bradley-Terry (DPO,
    beta = 1) loss, by Newton on the exact finite sum (to 1e-12 in the Newton decrement).
    ``truth`` is ``theta_rdro(alpha)``.
    """

    n_prompts: int = 3
    n_candidates: int = 5
    separation: float = 1.0
    quality_scale: float = 0.5
    cycle: float = 1.0
    ref_scale: float = 0.5
    alpha: float = 0.5
    seed: int = 0

    def __post_init__(self):
        if self.n_prompts < 1 or self.n_candidates < 3:
            raise ValueError("n_prompts must be >= 1 and n_candidates >= 3 (intransitivity needs 3 answers).")
        if not 0.0 <= self.alpha < 1.0:
            raise ValueError(f"alpha must be in [0, 1); got {self.alpha}.")

    @property
    def d(self) -> int:
        return self.n_prompts * (self.n_candidates - 1)

    @functools.cached_property
    def _population(self) -> dict:
        rng = np.random.default_rng(self.seed)
        P, C = self.n_prompts, self.n_candidates
        q = self.quality_scale * rng.normal(size=(P, C))
        q[:, -1] = self.separation
        log_ref = self.ref_scale * rng.normal(size=(P, C))
        log_ref = log_ref - ssp.logsumexp(log_ref, axis=1, keepdims=True)
        k = np.arange(C)
        cyc = np.sin(2 * np.pi * (k[:, None] - k[None, :]) / C)
        g = ssp.expit((q[:, :, None] - q[:, None, :]) + self.cycle * cyc[None])
        ref = np.exp(log_ref)
        J = ref[:, :, None] * ref[:, None, :]
        J[:, k, k] = 0.0
        J = J / J.sum(axis=(1, 2), keepdims=True)
        phi = np.zeros((P, C, self.d))
        for x in range(P):
            for y in range(1, C):
                phi[x, y, x * (C - 1) + y - 1] = 1.0
        p_plus = 2 * np.sum(J * g, axis=2)
        p_minus = 2 * np.sum(J * (1 - g), axis=2)
        return {name: readonly(v) for name, v in dict(quality=q, log_ref=log_ref, g=g, pair_probs=J, phi=phi,
                                                      p_plus=p_plus, p_minus=p_minus).items()}

    @property
    def p_plus(self) -> np.ndarray:
        """(n_prompts, C) law of the chosen answer given the prompt."""
        return self._population["p_plus"]

    @property
    def p_minus(self) -> np.ndarray:
        """(n_prompts, C) law of the rejected answer given the prompt."""
        return self._population["p_minus"]

    def r_alpha(self, alpha: float) -> np.ndarray:
        """(n_prompts, C) exact r_alpha = p+ / (alpha p+ + (1 - alpha) p-)."""
        return self.p_plus / (alpha * self.p_plus + (1 - alpha) * self.p_minus)

    def _theta_of_log_ratio(self, s) -> np.ndarray:
        return readonly((s[:, 1:] - s[:, :1]).reshape(-1))

    def theta_rdro(self, alpha: float) -> np.ndarray:
        """(d,) parameter of pi_ref r_alpha (normalised): log r_alpha relative to each prompt's answer 0."""
        return self._theta_of_log_ratio(np.log(self.r_alpha(alpha)))

    def policy_probs(self, theta) -> np.ndarray:
        """(n_prompts, C) pi_theta (numpy)."""
        eta = self.log_ref + self.phi @ np.asarray(theta, np.float64)
        return ssp.softmax(eta, axis=1)

    @functools.cached_property
    def theta_dpo(self) -> np.ndarray:
        """(d,) minimiser of the population DPO loss E[softplus(-theta . (phi_chosen - phi_rejected))]."""
        P = self.n_prompts
        D = (self.phi[:, :, None, :] - self.phi[:, None, :, :]).reshape(-1, self.d)
        J = self._population["pair_probs"].reshape(-1) / P
        G = self.human_preference.reshape(-1)
        with x64_scope():
            res = logistic_fit(DenseDesign(X=jnp.asarray(D)), jnp.asarray(J), jnp.asarray(J * G),
                               jnp.zeros(self.d), jnp.zeros(self.d), gtol=1e-12, max_iter=200)
            if not bool(res.converged):
                raise ValueError("the population DPO loss has no minimiser for these parameters.")
            return readonly(np.asarray(res.x))

    @property
    def truth(self) -> np.ndarray:
        return self.theta_rdro(self.alpha)

    def sample(self, key, n: int) -> dict:
        require_x64()
        P, C = self.n_prompts, self.n_candidates
        u_p, u_pair, u_z = uniforms(key, (n,), (n,), (n,))
        prompt = jnp.minimum((u_p * P).astype(jnp.int32), P - 1)
        cdf = jnp.cumsum(jnp.asarray(self._population["pair_probs"]).reshape(P, C * C), axis=1)
        cell = jnp.minimum(jnp.sum(u_pair[:, None] > cdf[prompt], axis=1), C * C - 1).astype(jnp.int32)
        left, right = cell // C, cell % C
        left_wins = u_z < jnp.asarray(self.human_preference)[prompt, left, right]
        return {"prompt": prompt, "chosen": jnp.where(left_wins, left, right),
                "rejected": jnp.where(left_wins, right, left)}
