r"""Policy fitting by relative density-ratio matching (RDRO), with DDRO and DPO as baselines.

**Setting** (:mod:`prefstat.policy` for the policy class). Prompts :math:`x`
have finite candidate sets with features :math:`\phi(x, y)` and a reference
policy :math:`\pi_{\mathrm{ref}}`. The data are ``n`` preference records
(prompt, chosen answer, rejected answer). The chosen answers are a sample of
the *preferred* law :math:`p_+(y \mid x)`, the rejected ones of the
*non-preferred* law :math:`p_-(y \mid x)` (the two are dependent within a
record; nothing else is assumed about how the human chose: no Bradley-Terry
or other preference model).

**Estimand (RDRO, Takahashi et al. 2026, arXiv 2604.04410).** The
alpha-relative ratio of the two laws,
:math:`r_\alpha = p_+ / (\alpha p_+ + (1 - \alpha) p_-) \le 1/\alpha`, and the
target policy :math:`\pi^*_\alpha(y \mid x) \propto \pi_{\mathrm{ref}}(y \mid x)\,
r_\alpha(x, y)`. The log-linear policy :math:`\pi_\theta \propto
\pi_{\mathrm{ref}} e^{\theta^\top \phi}` models it through the score

.. math::  s_\theta(x, y) = \theta^\top \phi(x, y) + c(x) \approx \log r_\alpha(x, y),

where :math:`c` is the ``intercept``: ``"global"`` (one constant),
``"prompt"`` (one constant per prompt row: then :math:`\pi_\theta / \pi_{\mathrm{ref}}`
models :math:`r_\alpha` up to the prompt's normalising constant, which the
policy does not depend on) or ``None``. :math:`\theta` minimises the RDRO loss
:math:`\overline{\mathrm{softplus}(-s)}_{\text{chosen}} + \alpha\,
\overline{\mathrm{softplus}(s)}_{\text{chosen}} + (1 - \alpha)\,
\overline{\mathrm{softplus}(s)}_{\text{rejected}}` (the loss of
:func:`prefstat.models.density_ratio_core.rdro_weights`, solved by damped
Newton, :func:`prefstat.losses.logistic_fit`), whose pointwise minimiser is
:math:`s = \log r_\alpha`. When :math:`\log r_\alpha` lies in the model the
fit is consistent for :math:`\pi^*_\alpha` whatever the preference mechanism;
otherwise for the loss's population minimiser.

**Baselines** (``method=``): ``"ddro"`` is the same loss at alpha = 0 (the
ordinary ratio :math:`p_+/p_-`, Higuchi and Suzuki 2025): unbounded where
:math:`p_-` is small, and its minimiser does not exist once some answer is
never rejected (the fit then reports non-convergence). ``"dpo"`` (Rafailov et
al. 2023, with beta = 1) fits a Bradley-Terry model on the score differences,
minimising :math:`\overline{\mathrm{softplus}(-\theta^\top(\phi_{\text{chosen}}
- \phi_{\text{rejected}}))}`, and returns :math:`\pi_\theta \propto
\pi_{\mathrm{ref}} e^{\theta^\top\phi}`: consistent for that policy only when
the preferences are Bradley-Terry in :math:`\theta^\top\phi`; otherwise it
converges to the Bradley-Terry projection, not to :math:`\pi^*_\alpha`.

**Inference.** Z-estimation: covariance :math:`H^{-1} B H^{-1}` with
:math:`H` the Hessian of the averaged loss and :math:`B` the covariance of its
gradient, estimated from the per-record gradient sums (the chosen and the
rejected answer of a record are dependent, so the record is the unit:
:func:`prefstat.inference.cluster_cov`, records as clusters). Reported for
:math:`\theta` (the intercepts are nuisance parameters) as an
:class:`~prefstat.inference.EstimationResults`. Stability diagnostics:
``grad_max_`` (largest per-record gradient norm of the loss) and
``influence_max_`` (largest per-record influence norm :math:`\|H^{-1} g_j\|`,
the change of the estimate that one record causes, times n). With the logistic
form the raw gradient is bounded for every alpha; at alpha = 0 the curvature
vanishes where :math:`p_-` does, so the influence (and the variance) blows up,
while for alpha > 0 the score stays below :math:`\log(1/\alpha)` and the
curvature stays bounded away from 0.

See ``docs/methods.md#relative-density-ratio``.
"""
from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from .._x64 import x64
from ..design import DenseDesign
from ..inference import EstimationResults, cluster_cov
from ..losses import logistic_fit
from ..policy import CandidateSet, kl_to_reference, probs
from ..validation import check_indices, check_int, check_option, check_real
from .density_ratio_core import rdro_weights

__all__ = ["RDROPolicy", "RDRO_METHODS", "INTERCEPTS", "policy_rows", "rdro_policy_fit", "dpo_policy_fit"]

RDRO_METHODS = ("rdro", "ddro", "dpo")
INTERCEPTS = ("global", "prompt", None)


def policy_rows(cands: CandidateSet, prompt, cand, intercept, n_prompts: int):
    """(n, q) score features of answers ``cand`` to prompts ``prompt``: phi, then the intercept columns."""
    F = cands.phi[prompt, cand]
    if intercept == "global":
        return jnp.concatenate([F, jnp.ones((F.shape[0], 1), F.dtype)], axis=1)
    if intercept == "prompt":
        return jnp.concatenate([F, jax.nn.one_hot(prompt, n_prompts, dtype=F.dtype)], axis=1)
    return F


@partial(jax.jit, static_argnames=("max_iter",))
def rdro_policy_fit(Fc, Fr, alpha, penalty, gtol=1e-12, max_iter=200):
    """RDRO (DDRO at alpha = 0) fit on chosen rows ``Fc`` (n, q) and rejected rows ``Fr`` (m, q).

    Returns ``(beta, hess, scores, converged)``: the coefficients, the Hessian of the averaged loss,
    the per-row gradients (n + m, q) of the averaged loss (chosen rows first; they sum to the
    penalty gradient at the minimum) and the Newton convergence flag. Pure: vmap it over replications.
    """
    F = jnp.concatenate([Fc, Fr])
    wp = jnp.concatenate([jnp.ones(Fc.shape[0]), jnp.zeros(Fr.shape[0])]).astype(F.dtype)
    W, WY = rdro_weights(wp, 1.0 - wp, alpha)
    res = logistic_fit(DenseDesign(X=F), W, WY, penalty, jnp.zeros(F.shape[1], F.dtype), gtol=gtol,
                       max_iter=max_iter)
    p = jax.nn.sigmoid(F @ res.x)
    return res.x, res.hess, (W * p - WY)[:, None] * F, res.converged


@partial(jax.jit, static_argnames=("max_iter",))
def dpo_policy_fit(D, penalty, gtol=1e-12, max_iter=200):
    """DPO (Bradley-Terry, beta = 1) on score-feature differences ``D`` (n, q) = phi_chosen - phi_rejected.

    Returns ``(beta, hess, scores, converged)`` as :func:`rdro_policy_fit` (per-record gradients (n, q)).
    """
    n = D.shape[0]
    W = jnp.full(n, 1.0 / n, D.dtype)
    res = logistic_fit(DenseDesign(X=D), W, W, penalty, jnp.zeros(D.shape[1], D.dtype), gtol=gtol,
                       max_iter=max_iter)
    p = jax.nn.sigmoid(D @ res.x)
    return res.x, res.hess, (W * (p - 1.0))[:, None] * D, res.converged


class RDROPolicy(BaseEstimator):
    """Log-linear policy fitted to preference records by RDRO, DDRO or DPO (module docstring).

    Parameters
    ----------
    alpha : float in (0, 1), default 0.5
        RDRO mixture weight (the target ratio is bounded by 1/alpha). Ignored by ``"ddro"`` (alpha = 0)
        and ``"dpo"``.
    method : {"rdro", "ddro", "dpo"}, default "rdro"
    intercept : {"global", "prompt", None}, default "global"
        Intercept of the RDRO/DDRO score (``"prompt"``: one per prompt row of the candidate set). DPO
        uses differences within a record, where intercepts cancel: it has none.
    penalty : float >= 0, default 0
        L2 penalty on theta (not on intercepts), on the averaged loss.
    tol, max_iter : Newton stopping rule and iteration cap.

    Attributes
    ----------
    theta_ : (d,) policy parameter (pi_theta proportional to pi_ref exp(theta . phi))
    intercept_ : (0,), (1,) or (n_prompts,) fitted intercepts (RDRO/DDRO)
    alpha_ : the alpha used (0 for DDRO, nan for DPO)
    cov_ : (d, d) record-clustered sandwich covariance of ``theta_``
    grad_max_, influence_max_ : stability diagnostics (module docstring)
    converged_, n_records_
    """

    def __init__(self, alpha: float = 0.5, method: str = "rdro", *, intercept="global", penalty: float = 0.0,
                 tol: float = 1e-12, max_iter: int = 200):
        self.alpha = alpha
        self.method = method
        self.intercept = intercept
        self.penalty = penalty
        self.tol = tol
        self.max_iter = max_iter

    def _check_params(self):
        self._method = check_option("method", self.method, RDRO_METHODS)
        if self.intercept not in INTERCEPTS:
            raise ValueError(f"intercept must be one of 'global', 'prompt' or None; got {self.intercept!r}.")
        if self._method == "rdro":
            check_real("alpha", self.alpha, 0.0, 1.0, low_open=True, high_open=True,
                       extra=" alpha = 0 is the ordinary ratio: use method='ddro' for it.")
        check_real("penalty", self.penalty, 0.0)
        check_real("tol", self.tol, 0.0, low_open=True)
        check_int("max_iter", self.max_iter, 1)

    @x64
    def fit(self, cands: CandidateSet, prompt, chosen, rejected):
        """Fit on records ``(prompt[i], chosen[i], rejected[i])``: row indices into ``cands`` and the
        candidate indices of the preferred and the non-preferred answer."""
        self._check_params()
        if not isinstance(cands, CandidateSet):
            raise ValueError("cands must be a prefstat.policy.CandidateSet (build it with "
                             "prefstat.policy.candidate_set).")
        P, C = cands.mask.shape
        pr = check_indices("prompt", prompt, P, unit="record")
        n = pr.size
        ch = check_indices("chosen", chosen, C, n, unit="record")
        rj = check_indices("rejected", rejected, C, n, unit="record")
        mask = np.asarray(cands.mask)
        for name, c in (("chosen", ch), ("rejected", rj)):
            pad = ~mask[pr, c]
            if pad.any():
                raise ValueError(f"{name} answer of record {int(np.flatnonzero(pad)[0])} is a padded "
                                 "(mask=False) candidate.")
        if n < 2:
            raise ValueError("at least 2 records are needed (the covariance is estimated across records).")
        d = cands.dim
        self.cands_, self.n_records_, self.n_prompts_ = cands, n, P
        jp, jc, jr = jnp.asarray(pr), jnp.asarray(ch), jnp.asarray(rj)
        if self._method == "dpo":
            self.alpha_ = float("nan")
            D = cands.phi[jp, jc] - cands.phi[jp, jr]
            pen = jnp.full(d, float(self.penalty))
            beta, H, S, conv = dpo_policy_fit(D, pen, gtol=self.tol, max_iter=self.max_iter)
            group_scores = np.asarray(S)
        else:
            self.alpha_ = 0.0 if self._method == "ddro" else float(self.alpha)
            Fc = policy_rows(cands, jp, jc, self.intercept, P)
            Fr = policy_rows(cands, jp, jr, self.intercept, P)
            q = Fc.shape[1]
            pen = jnp.concatenate([jnp.full(d, float(self.penalty)), jnp.zeros(q - d)])
            beta, H, S, conv = rdro_policy_fit(Fc, Fr, self.alpha_, pen, gtol=self.tol, max_iter=self.max_iter)
            S = np.asarray(S)
            group_scores = S[:n] + S[n:]  # a record's chosen and rejected rows together
        self.converged_ = bool(conv)
        if not self.converged_:
            why = (" With alpha = 0 (DDRO) the minimiser does not exist when some answer is chosen but never "
                   "rejected (the ratio is infinite there): use method='rdro' (alpha > 0)."
                   if self._method == "ddro" else
                   " The records may be separated in these features (e.g. an answer that is rejected but "
                   "never chosen has ratio 0 and log-ratio -inf with one-hot features): add a penalty or "
                   "coarser features.")
            raise ValueError(f"the {self._method.upper()} fit did not converge in max_iter={self.max_iter} Newton "
                             f"steps.{why}")
        beta, H = np.asarray(beta), np.asarray(H)
        self.theta_, self.intercept_ = beta[:d], beta[d:]
        full_cov = np.asarray(cluster_cov(H, group_scores, float(n)))
        self.cov_ = full_cov[:d, :d]
        self.grad_max_ = float(np.max(np.linalg.norm(group_scores * n, axis=1)))
        infl = np.linalg.solve(H, group_scores.T).T * n
        self.influence_max_ = float(np.max(np.linalg.norm(infl[:, :d], axis=1)))
        return self

    # ------------------------------------------------------------------ results
    def results(self) -> EstimationResults:
        """``theta`` with its record-clustered sandwich covariance (names ``theta_0 ...``)."""
        check_is_fitted(self, "theta_")
        return EstimationResults(names=tuple(f"theta_{j}" for j in range(self.theta_.size)), estimate=self.theta_,
                                 cov=self.cov_, cov_type="cluster (record)", n_obs=float(self.n_records_))

    def _cands(self, cands):
        check_is_fitted(self, "theta_")
        c = self.cands_ if cands is None else cands
        if not isinstance(c, CandidateSet) or c.dim != self.theta_.size:
            raise ValueError(f"cands must be a CandidateSet with d={self.theta_.size} features.")
        return c

    @x64
    def policy_probs(self, cands: CandidateSet | None = None) -> np.ndarray:
        """(P, C) fitted policy table ``pi_theta`` on ``cands`` (default: the fitting candidate set)."""
        return np.asarray(probs(jnp.asarray(self.theta_), self._cands(cands)))

    @x64
    def log_ratio(self, cands: CandidateSet | None = None) -> np.ndarray:
        """(P, C) fitted score ``theta . phi + c`` (RDRO/DDRO: the estimate of log r_alpha, intercept
        included; ``intercept="prompt"`` needs the fitting candidate set). nan on padding."""
        c = self._cands(cands)
        s = np.asarray(c.phi @ jnp.asarray(self.theta_))
        if self.intercept_.size == 1:
            s = s + self.intercept_[0]
        elif self.intercept_.size > 1:
            if c.n_prompts != self.intercept_.size:
                raise ValueError("intercept='prompt' scores exist only on the fitting candidate set's prompts.")
            s = s + self.intercept_[:, None]
        return np.where(np.asarray(c.mask), s, np.nan)

    @x64
    def kl(self, cands: CandidateSet | None = None) -> float:
        """Exact mean KL(pi_theta || pi_ref) over the prompts of ``cands``."""
        return float(kl_to_reference(jnp.asarray(self.theta_), self._cands(cands)))
