r"""DIPO at the policy level: the data of a policy-evaluation task, the debiased win rate of a policy, and the
KL-regularised objective that :meth:`prefstat.DIPO.optimize_policy` maximises.

**Setting** (:mod:`prefstat.policy` for the policy class). Prompts :math:`x`
come with a finite candidate set; a policy :math:`\pi` answers :math:`y \sim
\pi(\cdot \mid x)`, the reference :math:`y' \sim \pi_{\mathrm{ref}}(\cdot \mid x)`.
The estimand is the human win rate of the policy against the reference,

.. math::  \psi(\pi) = E_x \sum_{y, y'} \pi(y \mid x)\, \pi_{\mathrm{ref}}(y' \mid x)\, g(x, y, y'),

:math:`g(x, y, y')` = P(a human prefers the left answer :math:`y` over the right
:math:`y'`), the policy's answer shown on the left.

**Data** (:func:`policy_data`; one :class:`PolicyData`):

* ``cands`` - a :class:`~prefstat.policy.CandidateSet` over ``P`` prompt rows. ``target``
  (P,) marks the rows whose prompts define the target prompt distribution (the
  "pool"; default all); other rows may exist only to carry the prompts of human pairs.
* ``judge`` - (P, C, C) judge label or probability that the left candidate wins, for
  every ordered candidate pair of every target prompt (ignored elsewhere; NaN allowed there).
* human pairs - ``prompt``, ``left``, ``right`` (n,) row/candidate indices, ``y`` the
  human label (1 left preferred, 0 right, 0.5 tie), ``ai_label`` the judge's label of
  that pair (default ``judge[prompt, left, right]``).
* ``generator`` - the known law of the human pairs: :math:`\mu_H(\cdot \mid x)` for
  the left answer (a theta of the candidate set's log-linear family, or a (P, C)
  probability table) and ``generator_right`` for the right one (default the same).
* ``F`` - optional (P, C, C, q) pair features for the outcome model (e.g.
  :math:`\phi(x, y) - \phi(x, y')`).

**Assumptions.** The human prompts are drawn from the target prompt distribution
(independently of the target prompts); given the prompt, the human pair is drawn
from :math:`\mu_H \times \mu_H^{\text{right}}`, known and positive wherever
:math:`\pi \times \pi_{\mathrm{ref}}` is; the human label depends on the pair only
through what the outcome model sees (:math:`F` and the judge label), as in
:mod:`prefstat.models.dipo`.

**Estimator.** With :math:`\hat m` cross-fitted on the human pairs and predicted on
every candidate pair of the target prompts (:math:`\hat M_x`, a C x C matrix),

.. math::

   \hat\psi(\pi) = \frac{1}{N} \sum_{x \in T} \pi_x^\top \hat M_x \pi_{\mathrm{ref}, x}
     + \frac{\sum_{H} w_j (Y_j - \hat m_j)}{\sum_H w_j}, \qquad
   w_j = \frac{\pi(y_j \mid x_j)\, \pi_{\mathrm{ref}}(y'_j \mid x_j)}{\mu_H(y_j \mid x_j)\, \mu_H^{\text{right}}(y'_j \mid x_j)}.

The first term is an exact sum over the candidates (no sampling of pool pairs),
the second the self-normalised weighted mean of the human residuals. Influence
values as in :func:`~prefstat.models.dipo_core.two_sample_mean` with the
prompts as the target "rows" (:math:`\pi_x^\top \hat M_x \pi_{\mathrm{ref},x} -` mean)
and the human pairs as the human rows; variance
:math:`\widehat{\mathrm{Var}}_T/N + \widehat{\mathrm{Var}}_H/n`, Wald intervals. When
the human prompts are a subsample of the target prompts the two terms are not
independent, but their covariance vanishes to first order when :math:`\hat m` is
right (:math:`E[Y - m \mid \text{pair}] = 0`). Baselines (the estimator's
``method``): ``"human"`` (:math:`\hat m = 0`: importance-weighted human labels),
``"ppi"`` (:math:`\hat m` = judge), ``"ai"`` (the judge's win rate, no correction;
IPO-style). The oracle (human labels on every candidate pair) is ``method="ai"``
with those labels passed as ``judge``.

**Optimisation.** :math:`\hat J(\theta) = \hat\psi(\pi_\theta) - \beta\,
\overline{\mathrm{KL}}_T(\pi_\theta \| \pi_{\mathrm{ref}})` (mean KL over the target
prompts, exact) is smooth in :math:`\theta` and maximised by L-BFGS
(:func:`prefstat.optim.lbfgs`) with JAX gradients, from the reference
(:math:`\theta = 0`) or a warm start; it need not be concave, so the solver finds a
local maximum. The interval reported at :math:`\hat\theta` treats
:math:`\hat\theta` as fixed: evaluated on the data it was chosen on it is
optimistic (winner's curse); for an honest interval evaluate the policy on
held-out data (:meth:`~prefstat.DIPO.evaluate_policy` with another ``data``).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from .._x64 import x64
from ..inference import EstimationResults
from ..optim import lbfgs
from ..policy import CandidateSet, as_probs, check_probs, expected_pair_value, kl_to_reference, probs
from ..validation import check_indices

__all__ = ["PolicyData", "policy_data", "PolicyValue", "PolicyFit", "reference_probs", "target_cands", "optimize_theta"]


class PolicyData(NamedTuple):
    """A validated policy-evaluation task (build with :func:`policy_data`; module docstring)."""

    cands: CandidateSet
    judge: np.ndarray  # (P, C, C), 0 outside the target prompts' real pairs
    prompt: np.ndarray  # (n,) int
    left: np.ndarray
    right: np.ndarray
    y: np.ndarray  # (n,)
    ai_label: np.ndarray  # (n,)
    mu_pair: np.ndarray  # (n,) mu_H(left | x) mu_H_right(right | x)
    target: np.ndarray  # (P,) bool
    F: np.ndarray  # (P, C, C, q), q may be 0

    @property
    def n_human(self) -> int:
        return self.y.size

    @property
    def n_target(self) -> int:
        return int(self.target.sum())


def reference_probs(cands: CandidateSet) -> np.ndarray:
    """(P, C) pi_ref table of a candidate set (0 on padding)."""
    return np.where(np.asarray(cands.mask), np.exp(np.asarray(cands.log_ref)), 0.0)


def _unit_interval(name, values, where=""):
    v = np.asarray(values, dtype=np.float64)
    bad = ~np.isfinite(v) | (v < 0) | (v > 1)
    if bad.any():
        i = np.argwhere(bad)[0]
        raise ValueError(f"{name} must be in [0, 1] (1 left preferred, 0 right, 0.5 tie, or a probability); it is "
                         f"{v[tuple(i)]!r} at {where or 'index'} {tuple(int(j) for j in i)}.")
    return v


@x64
def policy_data(cands: CandidateSet, judge, prompt, left, right, y, generator, ai_label=None, target=None, F=None,
                generator_right=None) -> PolicyData:
    """Validate a policy-evaluation task (module docstring for every argument); clear ValueErrors name the input."""
    if not isinstance(cands, CandidateSet):
        raise ValueError("cands must be a prefstat.policy.CandidateSet (build it with prefstat.policy.candidate_set).")
    mask = np.asarray(cands.mask)
    P, C = mask.shape
    tgt = np.ones(P, bool) if target is None else np.asarray(target)
    if tgt.shape != (P,) or tgt.dtype != bool:
        raise ValueError(f"target must be a boolean array with one entry per prompt row ({P}); got {tgt.dtype} of "
                         f"shape {tgt.shape}.")
    if not tgt.any():
        raise ValueError("target marks no prompt: at least one prompt must define the target distribution.")
    J = np.asarray(judge, dtype=np.float64)
    if J.shape != (P, C, C):
        raise ValueError(f"judge must be a ({P}, {C}, {C}) array (judge label of every ordered candidate pair of "
                         f"every prompt); got shape {J.shape}.")
    real = tgt[:, None, None] & mask[:, :, None] & mask[:, None, :]
    _unit_interval("judge", np.where(real, J, 0.5), "prompt, left, right")
    J = np.where(real, J, 0.0)
    yv = np.asarray(y, dtype=np.float64)
    if yv.ndim != 1 or yv.size == 0:
        raise ValueError(f"y must be a non-empty 1-d array of human labels (one per human pair); got shape {yv.shape}. "
                         "DIPO needs human labels.")
    n = yv.size
    _unit_interval("y", yv, "human pair")
    pr = check_indices("prompt", prompt, P, n, unit="human pair")
    le, ri = (check_indices("left", left, C, n, unit="human pair"),
              check_indices("right", right, C, n, unit="human pair"))
    pad = ~(mask[pr, le] & mask[pr, ri])
    if pad.any():
        raise ValueError(f"human pair {int(np.flatnonzero(pad)[0])} uses a padded (mask=False) candidate.")
    ai = J[pr, le, ri] if ai_label is None else np.asarray(ai_label, dtype=np.float64)
    if ai_label is None and not tgt[pr].all():
        ai = np.where(tgt[pr], ai, np.asarray(judge, dtype=np.float64)[pr, le, ri])
    if ai.shape != (n,):
        raise ValueError(f"ai_label must have one entry per human pair ({n}); got shape {ai.shape}.")
    _unit_interval("ai_label", ai, "human pair")

    def table(name, gen):
        try:
            g = np.asarray(gen, dtype=np.float64)
            t = g if g.ndim == 2 and g.shape == mask.shape else np.asarray(as_probs(jnp.asarray(g), cands))
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None
        return check_probs(t, cands, name)

    mu_l = table("generator", generator)
    mu_r = mu_l if generator_right is None else table("generator_right", generator_right)
    mu_pair = mu_l[pr, le] * mu_r[pr, ri]
    zero = mu_pair <= 0
    if zero.any():
        raise ValueError(f"the generator gives probability 0 to human pair {int(np.flatnonzero(zero)[0])}, which "
                         "was observed: the generator must be the law the human pairs were drawn from.")
    if (np.asarray(mu_l)[mask] <= 0).any() or (np.asarray(mu_r)[mask] <= 0).any():
        raise ValueError("the generator gives probability 0 to some real candidate, so the importance weights of "
                         "policies that choose it are infinite (no overlap); use a generator with full support.")
    if F is None:
        Fv = np.zeros((P, C, C, 0))
    else:
        Fv = np.asarray(F, dtype=np.float64)
        if Fv.ndim == 3:
            Fv = Fv[..., None]
        if Fv.shape[:3] != (P, C, C):
            raise ValueError(f"F must be a ({P}, {C}, {C}, q) array of pair features; got shape {Fv.shape}.")
        used = real.copy()
        used[pr, le, ri] = True
        bad = used & ~np.isfinite(Fv).all(axis=3)
        if bad.any():
            raise ValueError(f"F is not finite at (prompt, left, right) {tuple(int(v) for v in np.argwhere(bad)[0])}.")
        Fv = np.where(used[..., None], Fv, 0.0)
    return PolicyData(cands=cands, judge=J, prompt=pr, left=le, right=ri, y=yv, ai_label=ai, mu_pair=mu_pair,
                      target=tgt, F=Fv)


def target_cands(data: PolicyData) -> CandidateSet:
    """The candidate set restricted to the target prompts."""
    t = data.target
    c = data.cands
    return CandidateSet(phi=c.phi[t], log_ref=c.log_ref[t], mask=c.mask[t])


@dataclass(frozen=True)
class PolicyValue:
    """Debiased win rate of one policy against the reference (:meth:`prefstat.DIPO.evaluate_policy`).

    ``estimate``, ``stderr``; ``results`` (:class:`~prefstat.inference.EstimationResults`, parameter
    ``"win_rate"``); ``kl`` the exact mean KL(pi || pi_ref) over the target prompts;
    ``weight_ess`` / ``weight_max`` the Kish effective size and largest normalised weight of the
    human pairs (weights w_j / mean w); ``influence_target`` (N,), ``influence_human`` (n,).
    """

    estimate: float
    stderr: float
    results: EstimationResults
    kl: float
    weight_ess: float
    weight_max: float
    method: str
    influence_target: np.ndarray = field(repr=False)
    influence_human: np.ndarray = field(repr=False)

    def conf_int(self, level: float = 0.95) -> np.ndarray:
        """(2,) Wald interval."""
        return self.results.interval(level)[0]

    def summary(self, level: float = 0.95) -> pd.DataFrame:
        return self.results.summary(level)


@dataclass(frozen=True)
class PolicyFit:
    """Result of :meth:`prefstat.DIPO.optimize_policy`.

    ``theta`` (d,) the maximiser for the last ``beta``; ``probs`` (P, C) its policy table;
    ``value`` its :class:`PolicyValue` (estimated win rate with interval, on the same data:
    optimistic, see :mod:`prefstat.models.dipo_policy`); ``beta``; ``objective`` the maximised
    ``psi_hat - beta KL``; ``converged`` / ``n_iter`` of the solver; ``path`` a DataFrame with one
    row per beta (``beta, estimate, stderr, lower, upper, kl, objective, converged, n_iter`` and
    ``theta_0 ...``).
    """

    theta: np.ndarray
    probs: np.ndarray = field(repr=False)
    value: PolicyValue
    beta: float
    objective: float
    converged: bool
    n_iter: int
    path: pd.DataFrame = field(repr=False)


@functools.partial(jax.jit, static_argnames=("correct", "max_iter"))
def optimize_theta(cands, cands_t, M, prompt, left, right, resid, mu_pair, beta, theta0, gtol, correct: bool,
                   max_iter: int):
    """L-BFGS maximiser of ``psi_hat(pi_theta) - beta * KL_T`` (module docstring); returns an OptimResult of the
    negated objective. ``resid`` = y - m_hat on the human pairs; ``correct=False`` drops the human term."""
    ref = jnp.exp(cands.log_ref) * cands.mask
    r_h = ref[prompt, right]

    def objective(theta):
        value = expected_pair_value(theta, cands_t, M) - beta * kl_to_reference(theta, cands_t)
        if correct:
            w = probs(theta, cands)[prompt, left] * r_h / mu_pair
            value = value + jnp.sum(w * resid) / jnp.sum(w)
        return -value

    return lbfgs(objective, theta0, gtol=gtol, max_iter=max_iter)
