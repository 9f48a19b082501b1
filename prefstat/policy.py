r"""Log-linear (softmax) policies over a finite candidate set per prompt: a shared layer.

**Object.** A prompt :math:`x` has a finite set of candidate answers
:math:`y \in \{1, \dots, C_x\}` with features :math:`\phi(x, y) \in \mathbb{R}^d`
and a reference policy :math:`\pi_{\mathrm{ref}}(y \mid x)`. The log-linear
policy with parameter :math:`\theta \in \mathbb{R}^d` is

.. math::  \pi_\theta(y \mid x) = \frac{\pi_{\mathrm{ref}}(y \mid x)\, e^{\theta^\top \phi(x, y)}}
           {\sum_{y'} \pi_{\mathrm{ref}}(y' \mid x)\, e^{\theta^\top \phi(x, y')}},

so :math:`\theta = 0` is the reference policy. It is the exact solution of
KL-regularised reward maximisation when the reward is linear in
:math:`\phi` (Rafailov et al. 2023; Azar et al. 2024, IPO), which makes it the
natural policy class for preference-based policy optimisation on a finite
candidate set (DIPO, arXiv 2602.08259; relative density-ratio methods).

**Data.** A :class:`CandidateSet` holds the candidates of ``n_prompts`` prompts
padded to ``n_candidates``: ``phi`` (n_prompts, n_candidates, d),
``log_ref`` (n_prompts, n_candidates) the reference log-probabilities
(normalised per prompt by :func:`candidate_set`; a reference known only up to a
constant per prompt is fine), and ``mask`` (n_prompts, n_candidates), True on
real candidates (ragged sets). Build it with :func:`candidate_set`, which
validates. Prompts are weighted equally: every expectation over prompts below
is the mean over the ``n_prompts`` rows (a sample from, or the whole of, the
prompt distribution).

**Functions** (pure JAX, differentiable in ``theta`` with ``jax.grad``, usable
under ``jit`` and ``vmap``; call them inside :func:`prefstat._x64.x64_scope` or
with x64 enabled for float64):

* :func:`log_probs`, :func:`probs`: :math:`\log \pi_\theta` and :math:`\pi_\theta`
  ((n_prompts, n_candidates); :math:`-\infty` and 0 on padding);
* :func:`kl_to_reference`: exact :math:`\frac1P \sum_x \mathrm{KL}(\pi_\theta(\cdot\mid x)
  \,\|\, \pi_{\mathrm{ref}}(\cdot \mid x))` (finite sums, no sampling);
* :func:`expected_value`: :math:`\frac1P \sum_x \sum_y \pi_\theta(y\mid x) f(x, y)`;
* :func:`expected_pair_value`: :math:`\frac1P \sum_x \sum_{y, y'} \pi_\theta(y\mid x)
  \pi_{\mathrm{other}}(y'\mid x) G(x, y, y')` (e.g. a win rate against the reference);
* :func:`sample_pairs`: i.i.d. (prompt, left, right) triples, prompt uniform, left
  from one policy and right from another (the reference by default),
  independently given the prompt; :func:`pair_probs`: the probability of given
  (left, right) under two policies (the density of a pair generator, for
  importance weights).

Wherever a policy is expected, ``policy`` may be a parameter vector
``theta`` (d,) or a probability table (n_prompts, n_candidates) (see
:func:`as_probs`), so fixed policies that are not log-linear can be evaluated too.
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["CandidateSet", "candidate_set", "log_probs", "probs", "as_probs", "kl_to_reference", "expected_value",
           "expected_pair_value", "PolicyPairs", "sample_pairs", "pair_probs", "check_probs"]


class CandidateSet(NamedTuple):
    """Candidates of each prompt (build with :func:`candidate_set`, which validates and normalises).

    ``phi``: (n_prompts, n_candidates, d) policy features (0 on padding); ``log_ref``:
    (n_prompts, n_candidates) reference log-probabilities, normalised per prompt (0 on padding:
    always read through ``mask``); ``mask``: (n_prompts, n_candidates) bool, True on real candidates.
    """

    phi: jax.Array
    log_ref: jax.Array
    mask: jax.Array

    @property
    def n_prompts(self) -> int:
        return self.phi.shape[0]

    @property
    def n_candidates(self) -> int:
        return self.phi.shape[1]

    @property
    def dim(self) -> int:
        return self.phi.shape[2]


def candidate_set(phi, log_ref=None, mask=None) -> CandidateSet:
    """Validated :class:`CandidateSet` (float64 arrays; call inside an x64 scope to keep float64 in JAX).

    ``phi``: (n_prompts, n_candidates, d) finite features (entries on padding are ignored and
    set to 0). ``log_ref``: (n_prompts, n_candidates) log pi_ref, finite on real candidates, up to an
    additive constant per prompt (normalised here); None: the uniform reference over each prompt's
    candidates. ``mask``: (n_prompts, n_candidates) bool, True on real candidates (None: all real);
    every prompt needs at least one real candidate.
    """
    phi = np.asarray(phi, dtype=np.float64)
    if phi.ndim != 3 or phi.shape[0] == 0 or phi.shape[1] == 0:
        raise ValueError(f"phi must be a (n_prompts, n_candidates, d) array with at least one prompt and one "
                         f"candidate; got shape {phi.shape}.")
    P, C, _ = phi.shape
    if mask is None:
        mask = np.ones((P, C), dtype=bool)
    else:
        mask = np.asarray(mask)
        if mask.shape != (P, C) or mask.dtype != bool:
            raise ValueError(f"mask must be a boolean ({P}, {C}) array (True on real candidates); got "
                             f"{mask.dtype} of shape {mask.shape}.")
    empty = ~mask.any(axis=1)
    if empty.any():
        raise ValueError(f"prompt {int(np.flatnonzero(empty)[0])} has no candidate (mask all False); every prompt "
                         "needs at least one real candidate. Drop such prompts.")
    bad = mask & ~np.isfinite(phi).all(axis=2)
    if bad.any():
        p, c = np.argwhere(bad)[0]
        raise ValueError(f"phi is not finite at prompt {p}, candidate {c}; policy features must be finite.")
    if log_ref is None:
        log_ref = np.where(mask, 0.0, 0.0)
    else:
        log_ref = np.asarray(log_ref, dtype=np.float64)
        if log_ref.shape != (P, C):
            raise ValueError(f"log_ref must have shape ({P}, {C}) (one log pi_ref per candidate); got {log_ref.shape}.")
        bad = mask & ~np.isfinite(log_ref)
        if bad.any():
            p, c = np.argwhere(bad)[0]
            raise ValueError(f"log_ref is not finite at prompt {p}, candidate {c}: the reference must give every "
                             "real candidate positive probability (mark absent candidates with mask=False).")
    log_ref = np.where(mask, log_ref, -np.inf)
    top = log_ref.max(axis=1, keepdims=True)
    log_ref = log_ref - (top + np.log(np.exp(log_ref - top).sum(axis=1, keepdims=True)))
    return CandidateSet(phi=jnp.asarray(np.where(mask[..., None], phi, 0.0)),
                        log_ref=jnp.asarray(np.where(mask, log_ref, 0.0)), mask=jnp.asarray(mask))


def _safe_log_probs(theta, cands: CandidateSet):
    """log pi_theta with 0 (not -inf) on padding, so products with probabilities stay finite under autodiff."""
    eta = jnp.where(cands.mask, cands.log_ref + cands.phi @ theta, -jnp.inf)
    lse = jax.scipy.special.logsumexp(eta, axis=1, keepdims=True)
    return jnp.where(cands.mask, eta - lse, 0.0)


def log_probs(theta, cands: CandidateSet) -> jax.Array:
    """(n_prompts, n_candidates) log pi_theta(y | x); -inf on padding."""
    return jnp.where(cands.mask, _safe_log_probs(theta, cands), -jnp.inf)


def probs(theta, cands: CandidateSet) -> jax.Array:
    """(n_prompts, n_candidates) pi_theta(y | x); 0 on padding."""
    return jnp.where(cands.mask, jnp.exp(_safe_log_probs(theta, cands)), 0.0)


def as_probs(policy, cands: CandidateSet) -> jax.Array:
    """Probability table of ``policy``: a parameter ``theta`` (d,), or a table (n_prompts, n_candidates) returned as is.

    A table is not validated inside JAX transformations; :func:`check_probs` validates one on the host.
    """
    policy = jnp.asarray(policy)
    if policy.ndim == 1:
        if policy.shape[0] != cands.dim:
            raise ValueError(f"theta has length {policy.shape[0]} but the candidate features have d={cands.dim}.")
        return probs(policy, cands)
    if policy.shape != cands.mask.shape:
        raise ValueError(f"a policy must be theta of shape ({cands.dim},) or a probability table of shape "
                         f"{tuple(cands.mask.shape)}; got shape {policy.shape}.")
    return policy


def check_probs(table, cands: CandidateSet, name: str = "policy") -> np.ndarray:
    """Host-side check of a probability table: finite, >= 0, 0 on padding, rows summing to 1 (to 1e-9)."""
    t = np.asarray(table, dtype=np.float64)
    mask = np.asarray(cands.mask)
    if t.shape != mask.shape:
        raise ValueError(f"{name} must have shape {mask.shape}; got {t.shape}.")
    if not np.isfinite(t).all() or (t < 0).any():
        raise ValueError(f"{name} has negative or non-finite probabilities; probabilities must be in [0, 1].")
    if (t[~mask] != 0).any():
        raise ValueError(f"{name} puts probability on padded (mask=False) candidates.")
    err = np.abs(t.sum(axis=1) - 1.0)
    if (err > 1e-9).any():
        raise ValueError(f"{name}'s probabilities of prompt {int(np.argmax(err))} sum to "
                         f"{t.sum(axis=1)[int(np.argmax(err))]:.6g}, not 1.")
    return t


def kl_to_reference(theta, cands: CandidateSet) -> jax.Array:
    """Exact mean over prompts of KL(pi_theta(.|x) || pi_ref(.|x)) (a scalar; 0 at theta = 0)."""
    lp = _safe_log_probs(theta, cands)
    p = jnp.where(cands.mask, jnp.exp(lp), 0.0)
    return jnp.mean(jnp.sum(p * (lp - cands.log_ref), axis=1))


def expected_value(policy, cands: CandidateSet, values) -> jax.Array:
    """Mean over prompts of E_{y ~ pi(.|x)} f(x, y); ``values``: (n_prompts, n_candidates) f (ignored on padding)."""
    p = as_probs(policy, cands)
    return jnp.mean(jnp.sum(p * jnp.where(cands.mask, values, 0.0), axis=1))


def expected_pair_value(policy, cands: CandidateSet, values, other=None) -> jax.Array:
    """Mean over prompts of sum_{y, y'} pi(y|x) pi_other(y'|x) G(x, y, y').

    ``values``: (n_prompts, n_candidates, n_candidates) G, with the candidate of ``policy`` on the
    second axis and that of ``other`` (default: the reference) on the third; ignored on padding.
    With G(x, y, y') = P(y preferred over y') it is the win rate of ``policy`` against ``other``.
    """
    p = as_probs(policy, cands)
    q = jnp.exp(cands.log_ref) * cands.mask if other is None else as_probs(other, cands)
    pair_mask = cands.mask[:, :, None] & cands.mask[:, None, :]
    G = jnp.where(pair_mask, values, 0.0)
    return jnp.mean(jnp.einsum("pi,pij,pj->p", p, G, q))


class PolicyPairs(NamedTuple):
    """Sampled pairs: ``prompt``, ``left``, ``right`` (each (n,) int) index the candidate set."""

    prompt: jax.Array
    left: jax.Array
    right: jax.Array


def sample_pairs(policy, cands: CandidateSet, n: int, key, other=None) -> PolicyPairs:
    """n i.i.d. pairs: prompt uniform over the prompts, left ~ ``policy``, right ~ ``other`` (default the reference).

    Left and right are drawn independently given the prompt (so left = right can occur). Their
    joint probability given the prompt is :func:`pair_probs`.
    """
    p = as_probs(policy, cands)
    q = jnp.exp(cands.log_ref) * cands.mask if other is None else as_probs(other, cands)
    k_prompt, k_left, k_right = jax.random.split(key, 3)
    prompt = jax.random.randint(k_prompt, (n,), 0, cands.n_prompts)
    # log(0) = -inf on padding: categorical never draws a padded candidate
    left = jax.random.categorical(k_left, jnp.log(p[prompt]), axis=-1)
    right = jax.random.categorical(k_right, jnp.log(q[prompt]), axis=-1)
    return PolicyPairs(prompt=prompt, left=left, right=right)


def pair_probs(pairs: PolicyPairs, cands: CandidateSet, left_policy, right_policy=None) -> jax.Array:
    """(n,) pi_left(left | prompt) * pi_right(right | prompt) (right policy default: the reference)."""
    p = as_probs(left_policy, cands)
    q = jnp.exp(cands.log_ref) * cands.mask if right_policy is None else as_probs(right_policy, cands)
    return p[pairs.prompt, pairs.left] * q[pairs.prompt, pairs.right]
