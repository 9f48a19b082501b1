r"""Bradley-Terry with biased AI-judge labels: residual correction, PPI++ power tuning, density ratios.

One comparison table holds two samples (METHODS.md section 3): the *pool*
:math:`P` (rows whose human label is missing; :math:`N` units, judge label
:math:`A \in [0, 1]`) and the *human sample* :math:`H` (:math:`n` units,
human label :math:`Z` and judge label :math:`A`). Their pair distributions
may differ; :math:`w = dP_P / dP_H` is the density ratio. The target is the
Bradley-Terry fit an oracle would get with human labels on the whole pool,
:math:`\theta^*` solving :math:`E_P[(g - \sigma(x^\top\theta)) x] = 0`,
:math:`g` the human preference probability.

Estimating equation, for a fixed :math:`\lambda` (frequency weights :math:`f`,
:math:`N = \sum_P f`, :math:`n = \sum_H f`):

.. math::

   U(\theta) = \frac{\lambda}{N} \sum_P f_i (A_i - \sigma_i) x_i
             + \frac{1}{n} \sum_H f_j w_j [(Z_j - \sigma_j) - \lambda (A_j - \sigma_j)] x_j = 0 .

Its expectation is :math:`E_P[(g - \sigma) x]` for every :math:`\lambda`, so the
root is consistent however biased the judge is. :math:`\lambda = 1` is the
residual correction of Xia, Xia, Zhang & Cai, *A Statistical Framework for
Alignment with Biased AI Feedback* (arXiv 2602.08259; "DDPO"): on :math:`H` the
:math:`\sigma` terms cancel and the correction is :math:`w (Z - A) x`.
:math:`\lambda = 0` is the (weighted) human-only MLE. :math:`\lambda` tuned to
minimise the trace of the asymptotic covariance is PPI++ (Angelopoulos, Duchi &
Zrnic, *PPI++: Efficient Prediction-Powered Inference*, arXiv 2311.01453).

**Convexity.** :math:`U = -\nabla L` with

.. math::

   L(\theta) = \sum_r f_r [a_r \log(1 + e^{\eta_r}) - b_r \eta_r], \quad
   a_r = \tfrac{\lambda}{N} \text{ (pool)}, \ \tfrac{(1-\lambda) w_r}{n} \text{ (human)}, \quad
   b_r = \tfrac{\lambda A_r}{N}, \ \tfrac{w_r (Z_r - \lambda A_r)}{n},

whose Hessian :math:`\sum_r f_r a_r \sigma_r' x_r x_r^\top` is positive
semi-definite exactly when every :math:`a_r \ge 0`, i.e. :math:`0 \le \lambda \le 1`.
On that range the root is the minimiser of a convex objective and the
Bradley-Terry solver (:func:`prefstat.models.bradley_terry.fit_core`, damped
Newton with per-row weights :math:`a` and targets :math:`b`) finds it; outside
it the objective is not convex and the root need not be unique, so ``lam`` is
restricted to :math:`[0, 1]` (PPI++ clips its tuned value to the same range).
A root can still fail to exist in a finite sample (the human correction term
can outweigh the pool's curvature along some direction when ``n`` is small or
the weights are extreme); ``fit`` then raises instead of returning a runaway
estimate.

**Covariance.** Sandwich :math:`J^{-1} \widehat{\mathrm{Var}}(U) J^{-1}` with
:math:`J = -\partial U / \partial\theta = \sum_r f_r a_r \sigma'_r x_r x_r^\top`
and, the two samples being independent,
:math:`\widehat{\mathrm{Var}}(U) = \sum_{s \in \{P, H\}} \frac{n_s}{n_s - 1}
\sum_{r \in s} f_r (\psi_r - \bar\psi_s)(\psi_r - \bar\psi_s)^\top`, the
within-sample covariances of the per-unit terms :math:`\psi_r` of :math:`U`
(centred: neither sample's mean is zero at the root). The variance term is
exactly ppi_py's (both ddof 1); ppi_py's bread is instead the BT Hessian
averaged over both samples, which agrees with :math:`J` to :math:`O(n^{-1/2})`.
Cluster-robust: within-sample cluster sums with statsmodels' small-sample
factor per sample. Effective number of human labels: :math:`n_{\mathrm{eff}} =
n\,\mathrm{tr}\,V_0 / \mathrm{tr}\,V`, with :math:`V_0` the human-only
(:math:`\lambda = 0`) sandwich evaluated at the same estimate.

**Power tuning.** :math:`\psi_r(\lambda) = u_r - \lambda v_r` is affine in
:math:`\lambda`, so the trace of :math:`M^{-1} \mathrm{Var}(U) M^{-1}` is
minimised by :math:`\hat\lambda = \mathrm{tr}(M^{-1}\,\mathrm{sym}\,C_{uv}\,M^{-1})
/ \mathrm{tr}(M^{-1} C_{vv} M^{-1})`, clipped to :math:`[0, 1]`, with :math:`M`
the Hessian of the BT loss averaged over both samples (human rows weighted by
:math:`w`). Without a density ratio this is evaluated exactly as ppi_py's
``_calc_lam_glm(clip=True)`` (the judge-gradient variance pooled over both
samples, which share one distribution; cross-covariance with divisor ``n``) at
the :math:`\lambda = 1` estimate, then the estimate is refitted at
:math:`\hat\lambda`: the same two-step convention as
``ppi_py.ppi_logistic_pointestimate(lam=None)``. With a density ratio the two
samples no longer share a distribution and the covariances are taken within
each sample (:math:`C_{vv} = C_{AA}/n + V_A/N`, METHODS.md section 3). The
first step is done at the :math:`\lambda = 1` root, or at the human-only root
when the former does not exist. Estimating :math:`\lambda` does not change the
first-order asymptotics (:math:`E\,U(\theta^*; \lambda) = 0` for every
:math:`\lambda`), so the interval uses the plug-in covariance at :math:`\hat\lambda`.

**Density ratio.** Known weights, or a probabilistic classifier of pool vs human
with K-fold cross-fitting: :math:`\hat w = (n_{tr}/N_{tr}) \hat P(\text{pool}\mid f)
/ \hat P(\text{human}\mid f)` from the classifier trained on the other folds.
The built-in classifier is an unpenalised logistic regression on the design
features with an intercept (fitted by the same Newton solver); because it is a
parametric M-estimator, its estimation error is carried into the covariance
(two-step M-estimation, Newey & McFadden 1994, section 6): every row adds
:math:`(D_u - \lambda D_v) H_\gamma^{-1} (\ell_r - p_r) \tilde f_r` to
:math:`\psi_r`, with :math:`D = \partial U/\partial\gamma`, :math:`H_\gamma`
the classifier's information, :math:`\ell` the pool indicator and :math:`p_r`
the out-of-fold probability (cross-fitting leaves this first-order term
unchanged). A user-supplied scikit-learn classifier is cross-fitted the same
way but its weights are then treated as known: intervals ignore their
estimation error and, for a flexible classifier converging slower than
root-n, the estimate itself carries first-order error from the weights (the
estimating equation is not Neyman-orthogonal in :math:`w`; DIPO, METHODS.md
section 4, is the doubly robust alternative). Overlap diagnostics:
Kish's effective sample size of the human weights and the largest weight; a
warning when the effective size is below a fifth of the human sample. Weights
are never clipped.
"""
from __future__ import annotations

import warnings
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import clone, is_classifier

from .._x64 import x64
from ..data import ComparisonTable, _check_outcome, _rows, _to_float, factorize_items
from ..design import DenseDesign, SparseRowsDesign, pad_rows, padded_size, sparse_rows_from_scipy
from ..existence import check_identifiable
from ..inference import cluster_cov, sandwich_cov
from ..losses import DIVERGED_ETA, logistic_fit
from .bradley_terry import BradleyTerry, item_design, item_transform

__all__ = ["DebiasedBradleyTerry", "DebiasedFit", "PoorOverlapWarning", "fit_core", "crossfit_logistic_ratio",
           "fit_ai_only", "fit_naive_pooled"]


class PoorOverlapWarning(UserWarning):
    """The density-ratio weights concentrate on few human rows (low effective sample size)."""


# The overlap warning fires when Kish's effective size of the human weights is below this share of n.
_POOR_OVERLAP_SHARE = 0.2


class Influence(NamedTuple):
    """Per-unit terms of U at the solution: psi_r = s_r x_r + E F_r e_r (E, F empty without a classifier)."""

    s: jax.Array  # (m,)
    e: jax.Array  # (m,) pool indicator minus out-of-fold P(pool)
    E: jax.Array  # (p, q)
    F: jax.Array  # (m, q) classifier features (with intercept)


class DebiasedFit(NamedTuple):
    theta: jax.Array  # free parameters
    lam: jax.Array  # lambda used
    lam_raw: jax.Array  # tuned lambda before clipping to [0, 1] (nan when lambda was fixed)
    bread: jax.Array  # J = -dU/dtheta
    meat: jax.Array  # two-sample Var(U)
    cov: jax.Array  # J^-1 meat J^-1
    cov_human: jax.Array  # human-only (lambda = 0) sandwich at theta: the n_eff baseline
    weight: jax.Array  # density ratio used per row (1 on pool rows)
    influence: Influence
    converged: jax.Array  # the root exists and Newton converged
    ratio_converged: jax.Array  # every cross-fitted classifier converged (True without a classifier)
    n_iter: jax.Array


def _cross(design, F, d):
    """sum_r d_r x_r F_r^T, shape (p, q), through the design's rmatvec (no dense copy of X)."""
    return jax.vmap(lambda col: design.rmatvec(d * col), in_axes=1, out_axes=1)(F)


def _sums(design, s, E, e, F, wts):
    """sum_r wts_r psi_r for psi_r = s_r x_r + E F_r e_r."""
    out = design.rmatvec(wts * s)
    if F.shape[1]:
        out = out + E @ (F.T @ (wts * e))
    return out


def _moment(design, sa, Ea, sb, Eb, e, F, wts):
    """sum_r wts_r psi^a_r (psi^b_r)^T, expanded so only grams and cross-grams of the design are formed."""
    out = design.gram(wts * sa * sb)
    if F.shape[1]:
        xa, xb = _cross(design, F, wts * sa * e), _cross(design, F, wts * sb * e)
        Fg = F.T @ ((wts * e * e)[:, None] * F)
        out = out + xa @ Eb.T + Ea @ xb.T + Ea @ Fg @ Eb.T
    return out


def _sample_cov(design, a, b, e, F, mask, f):
    """(n_s / (n_s - 1)) sum_{r in s} f_r (psi^a_r - mean)(psi^b_r - mean)^T: a within-sample covariance
    of unit totals, i.e. the variance contribution of sample s to U (ddof 1, as ppi_py)."""
    wts = f * mask
    n_s = jnp.sum(wts)
    ma, mb = _sums(design, *a, e, F, wts), _sums(design, *b, e, F, wts)
    centred = _moment(design, a[0], a[1], b[0], b[1], e, F, wts) - jnp.outer(ma, mb) / n_s
    return centred * n_s / (n_s - 1.0)


def _two_sample_cov(design, a, b, e, F, human, f):
    return (_sample_cov(design, a, b, e, F, 1.0 - human, f)
            + _sample_cov(design, a, b, e, F, human, f))


def _trace_sandwich(Minv, C):
    return jnp.trace(Minv @ C @ Minv.T)


def _row_weights(lam, y, ai, human, f, w, n, N):
    """Per-row (a, b) of the convex objective L (module docstring)."""
    pool = 1.0 - human
    a = f * (pool * lam / N + human * (1.0 - lam) * w / n)
    b = f * (pool * lam * ai / N + human * w * (y - lam * ai) / n)
    return a, b


def _solve(design, y, ai, human, f, w, n, N, lam, beta0, gtol, max_iter):
    a, b = _row_weights(lam, y, ai, human, f, w, n, N)
    res = logistic_fit(design, a, b, jnp.zeros(design.p), beta0, gtol=gtol, max_iter=max_iter)
    # a root running off to infinity (no finite solution) shows as probabilities within 1e-15 of 0 or 1
    eta = design.matvec(res.x)
    finite = jnp.max(jnp.where(f > 0, jnp.abs(eta), 0.0)) < DIVERGED_ETA
    return res._replace(converged=res.converged & finite)


@partial(jax.jit, static_argnames=("n_folds", "max_iter"))
def crossfit_logistic_ratio(F, human, f, folds, n_folds: int, gtol=1e-12, max_iter=100):
    """Cross-fitted density ratio dP_pool/dP_human from an unpenalised logistic regression.

    ``F`` (m, q) are the classifier features *with* an intercept column; row
    r's ratio comes from the fit on the other folds:
    ``w_r = (n_tr / N_tr) exp(F_r^T gamma_{-k(r)})`` (prior odds of the training
    folds removed). Returns ``(w, p, converged)``: the ratio on every row, the
    out-of-fold P(pool | F_r) (for the first-step correction), and whether all
    K fits converged.
    """
    design = DenseDesign(X=F)
    pool = 1.0 - human

    def one(k):
        train = f * (folds != k)
        res = logistic_fit(design, train, train * pool, jnp.zeros(F.shape[1]), jnp.zeros(F.shape[1]),
                          gtol=gtol, max_iter=max_iter)
        prior = jnp.sum(train * human) / jnp.sum(train * pool)
        return res.x, prior, res.converged

    gammas, prior, ok = jax.vmap(one)(jnp.arange(n_folds))
    eta = jnp.sum(F * gammas[folds], axis=1)
    return prior[folds] * jnp.exp(eta), jax.nn.sigmoid(eta), jnp.all(ok)


def _influence(design, theta, y, ai, human, f, w, n, N, e, F):
    """The two pieces of psi(lambda) = u - lambda v at theta, each as (s, E): psi_r = s_r x_r + E F_r e_r.

    u_r = w (Z - sigma) x / n on human rows; v_r = w (A - sigma) x / n on human rows and
    -(A - sigma) x / N on pool rows. With a fitted classifier (F non-empty), E = D H_gamma^-1, where
    D = dU/dgamma = sum_H f s x F^T (w = ratio * exp(gamma^T F)) and H_gamma^-1 sum_r f_r e_r F_r is
    the first-order error of gamma_hat.
    """
    sig = jax.nn.sigmoid(design.matvec(theta))
    pool = 1.0 - human
    su = human * w * (y - sig) / n
    sv = human * w * (ai - sig) / n - pool * (ai - sig) / N
    Eu = Ev = jnp.zeros((design.p, F.shape[1]))
    if F.shape[1]:
        prob = pool - e  # out-of-fold P(pool | F)
        Hg = F.T @ ((f * prob * (1.0 - prob))[:, None] * F)
        Hinv = jnp.linalg.inv(0.5 * (Hg + Hg.T))
        Eu = _cross(design, F, f * su) @ Hinv
        Ev = _cross(design, F, f * human * sv) @ Hinv  # only the human part of v carries w
    return sig, (su, Eu), (sv, Ev)


def _tuned_lambda(design, theta, y, ai, human, f, w, n, N, e, F, pooled):
    """Unclipped PPI++ lambda at theta (module docstring, "Power tuning")."""
    sig, u, v = _influence(design, theta, y, ai, human, f, w, n, N, e, F)
    pool = 1.0 - human
    d = sig * (1.0 - sig)
    M = design.gram(f * d * (pool + human * w)) / (n + N)
    Minv = jnp.linalg.inv(0.5 * (M + M.T))
    if pooled:
        # ppi_py's _calc_lam_glm: gradients G = w (Z - sigma) x (human) and G_hat = w (A - sigma) x
        # (both samples, w = 1 on the pool); num = tr(Minv sym(S_{G,G_hat}) Minv) / n with S centred over
        # H (divisor n), den = (1 + n/N) tr(Minv Cov(G_hat over H and P pooled, ddof 1) Minv).
        g, g_hat = human * w * (y - sig), (pool + human * w) * (ai - sig)
        fh = f * human
        mg, mh = design.rmatvec(fh * g), design.rmatvec(fh * g_hat)
        S = design.gram(fh * g * g_hat) - jnp.outer(mg, mh) / n
        num = _trace_sandwich(Minv, 0.5 * (S + S.T)) / n
        ma = design.rmatvec(f * g_hat)
        V = (design.gram(f * g_hat**2) - jnp.outer(ma, ma) / (n + N)) / (n + N - 1.0)
        den = (1.0 + n / N) * _trace_sandwich(Minv, V)
    else:
        Cuv = _two_sample_cov(design, u, v, e, F, human, f)
        num = _trace_sandwich(Minv, 0.5 * (Cuv + Cuv.T))
        den = _trace_sandwich(Minv, _two_sample_cov(design, v, v, e, F, human, f))
    return num / den


def _sandwich(bread, meat):
    binv = jnp.linalg.inv(0.5 * (bread + bread.T))
    cov = binv @ meat @ binv.T
    return 0.5 * (cov + cov.T)


@partial(jax.jit, static_argnames=("tune", "pooled_tuning", "n_folds", "max_iter"))
def fit_core(design, y, ai, human, f, w, lam, F, folds, *, tune: bool, pooled_tuning: bool, n_folds: int = 0,
             gtol=1e-12, max_iter: int = 100) -> DebiasedFit:
    """Debiased Bradley-Terry on one stacked table: a pure, jit- and vmap-able function.

    Rows r = 1..m of the :mod:`prefstat.design` ``design`` (padding rows have
    ``f = 0``): ``human`` 1 on human rows, 0 on pool rows; ``y`` the human label
    (any finite value on pool rows); ``ai`` the judge label; ``f`` frequency
    weights; ``w`` the known density ratio on human rows (1 elsewhere; ignored
    when ``n_folds > 0``). ``tune=True`` tunes lambda (PPI++; ``lam`` ignored),
    else ``lam`` in [0, 1] is used. ``pooled_tuning`` selects ppi_py's pooled
    variance in the tuning step (valid without a density ratio). ``n_folds > 0``
    estimates the density ratio by the cross-fitted logistic regression
    :func:`crossfit_logistic_ratio` on ``F`` (m, q; with intercept) with folds
    ``folds`` and carries its estimation error into the covariance; with
    ``n_folds = 0`` pass ``F`` of shape (m, 0). Run under
    ``prefstat._x64.x64_scope()`` for float64.
    """
    dtype = y.dtype
    human = human.astype(dtype)
    n, N = jnp.sum(f * human), jnp.sum(f * (1.0 - human))
    ratio_ok = jnp.asarray(True)
    e = jnp.zeros_like(y)
    if n_folds:
        w_hat, prob, ratio_ok = crossfit_logistic_ratio(F, human, f, folds, n_folds, gtol=gtol, max_iter=max_iter)
        w = jnp.where(human > 0, w_hat, 1.0)
        e = (1.0 - human) - prob
    else:
        F = F[:, :0]
    solve = partial(_solve, design, y, ai, human, f, w, n, N, gtol=gtol, max_iter=max_iter)
    zero = jnp.zeros(design.p, dtype)
    if tune:
        first = solve(jnp.asarray(1.0, dtype), zero)
        # the lambda = 1 root can fail to exist when the human correction outweighs the pool's curvature
        # (small n, extreme weights); the human-only root is the fallback starting point
        theta0 = jax.lax.cond(first.converged, lambda: first.x, lambda: solve(jnp.asarray(0.0, dtype), zero).x)
        lam_raw = _tuned_lambda(design, theta0, y, ai, human, f, w, n, N, e, F, pooled_tuning)
        lam = jnp.clip(lam_raw, 0.0, 1.0)
        res = solve(lam, theta0)
    else:
        lam = jnp.asarray(lam, dtype)
        lam_raw = jnp.asarray(jnp.nan, dtype)
        res = solve(lam, zero)
    theta = res.x
    sig, u, v = _influence(design, theta, y, ai, human, f, w, n, N, e, F)
    psi = (u[0] - lam * v[0], u[1] - lam * v[1])
    meat = _two_sample_cov(design, psi, psi, e, F, human, f)
    d = sig * (1.0 - sig)
    bread = design.gram(_row_weights(lam, y, ai, human, f, w, n, N)[0] * d)
    bread0 = design.gram(_row_weights(0.0, y, ai, human, f, w, n, N)[0] * d)
    cov_human = _sandwich(bread0, _two_sample_cov(design, u, u, e, F, human, f))
    return DebiasedFit(theta=theta, lam=lam, lam_raw=lam_raw, bread=bread, meat=meat,
                       cov=_sandwich(bread, meat), cov_human=cov_human, weight=w,
                       influence=Influence(s=psi[0], e=e, E=psi[1], F=F),
                       converged=res.converged, ratio_converged=ratio_ok, n_iter=res.n_iter)


# --------------------------------------------------------------------------- input validation
def _split_samples(y, ai_label, n_rows=None):
    """(human mask, y with pool rows filled by 0, judge labels), validated; errors name the rows."""
    if y is None:
        raise ValueError("y is required: the human label (1 left preferred, 0 right, 0.5 tie) on human rows, "
                         "NaN on the AI-labelled pool rows.")
    y_arr = np.asarray(y, dtype=object) if not isinstance(y, np.ndarray) else y
    if y_arr.ndim != 1:
        raise ValueError(f"y must be one-dimensional; got shape {y_arr.shape}.")
    pool = pd.isna(pd.Series(y_arr, dtype=object)).to_numpy()
    human = ~pool
    filled = _to_float("y", np.where(pool, 0.0, y_arr), n_rows)
    _check_outcome("y", filled)
    if not human.any():
        raise ValueError("y has no human labels (every row is NaN): the correction needs a human-labelled "
                         "sample that also carries the judge's labels.")
    if not pool.any():
        raise ValueError("y has no missing values, so there is no AI-labelled pool (pool rows are those with "
                         "y = NaN). With human labels on every row, fit BradleyTerry instead.")
    if ai_label is None:
        raise ValueError("ai_label is required: the judge's label (0/1, or its probability that the left option "
                         "is preferred) on every row, human-labelled rows included.")
    a_arr = np.asarray(ai_label, dtype=object) if not isinstance(ai_label, np.ndarray) else ai_label
    if a_arr.ndim != 1 or a_arr.shape[0] != y_arr.shape[0]:
        raise ValueError(f"ai_label must be one-dimensional with one entry per row ({y_arr.shape[0]}); "
                         f"got shape {a_arr.shape}.")
    missing = pd.isna(pd.Series(a_arr, dtype=object)).to_numpy()
    if (missing & human).any():
        raise ValueError(f"ai_label is missing on human-labelled {_rows(missing & human)}: the residual "
                         "correction needs the judge's label on every human row. Label them with the judge "
                         "(or drop them).")
    if missing.any():
        raise ValueError(f"ai_label is missing on pool {_rows(missing)} (y is NaN there too), so these rows "
                         "carry no label at all; drop them.")
    ai = _to_float("ai_label", a_arr, None)
    _check_outcome("ai_label", ai)
    return human, filled, ai


def _known_ratio(values, human) -> np.ndarray:
    """Known density ratio on the human rows: one entry per human row, or one per row (pool entries ignored)."""
    arr = np.asarray(values, dtype=np.float64)
    n_h, m = int(human.sum()), human.size
    if arr.ndim != 1 or arr.shape[0] not in (n_h, m):
        raise ValueError(f"density_ratio must have one entry per human row ({n_h}) or per row ({m}); "
                         f"got shape {arr.shape}.")
    full = np.ones(m)
    if arr.shape[0] == m:
        full[human] = arr[human]
    else:
        full[human] = arr
    bad = human & ~np.isfinite(full)
    if bad.any():
        raise ValueError(f"density_ratio is NaN or infinite on human {_rows(bad)}; the weights must be finite.")
    neg = human & (full < 0)
    if neg.any():
        raise ValueError(f"density_ratio is negative on human {_rows(neg)}; a density ratio is >= 0.")
    if not np.any(full[human] > 0):
        raise ValueError("density_ratio is zero on every human row: no human row resembles the pool.")
    return full


def _group_codes(groups, human, m):
    """Integer cluster codes per sample. Pool rows may all lack ids (independent rows); human rows may not."""
    g = np.asarray(groups, dtype=object) if not isinstance(groups, np.ndarray) else groups
    if g.ndim != 1 or g.shape[0] != m:
        raise ValueError(f"groups must be one-dimensional with {m} rows; got shape {g.shape}.")
    missing = pd.isna(pd.Series(g, dtype=object)).to_numpy()
    if (missing & human).any():
        raise ValueError(f"groups has missing ids on human-labelled {_rows(missing & human)}; every human "
                         "row needs its cluster (e.g. annotator) id.")
    pool_missing = missing & ~human
    if pool_missing.any() and not pool_missing.sum() == (~human).sum():
        raise ValueError(f"groups is missing on pool {_rows(pool_missing)} but given on other pool rows; give "
                         "ids on every pool row, or on none (then pool rows count as independent).")
    codes = np.full(m, -1, np.int64)
    codes[human] = pd.factorize(g[human])[0]
    if not pool_missing.any():
        codes[~human] = pd.factorize(g[~human])[0]
    return codes


def _is_probabilistic_classifier(obj) -> bool:
    try:
        return is_classifier(obj) and hasattr(obj, "predict_proba")
    except AttributeError:  # sklearn's tag lookup fails on objects that are not estimators at all
        return False


def _fold_ids(human, n_folds, rng) -> np.ndarray:
    """Folds stratified by sample: each sample's rows are shuffled and dealt round-robin."""
    folds = np.zeros(human.size, np.int32)
    for mask in (human, ~human):
        idx = np.flatnonzero(mask)
        folds[idx[rng.permutation(idx.size)]] = np.arange(idx.size) % n_folds
    return folds


# --------------------------------------------------------------------------- estimator
class DebiasedBradleyTerry(BradleyTerry):
    """Bradley-Terry for human preferences from cheap, biased AI-judge labels plus a small human sample.

    One table: rows with a human label ``y`` form the human sample, rows with
    ``y = NaN`` the AI-labelled pool; ``ai_label`` (0/1 or the judge's
    probability) is given on every row. The estimate targets the BT fit an
    oracle would get with human labels on the whole pool (METHODS.md section 3;
    formulas and references in the module docstring).

    Parameters
    ----------
    lam : "auto" or float in [0, 1], default "auto"
        Weight of the judge labels. ``"auto"``: PPI++ variance-optimal value
        (reported as ``lam_``); ``1``: the DDPO residual correction; ``0``: the
        human-only (density-weighted) MLE.
    density_ratio : None or "classifier", default None
        ``None``: the human sample and the pool share one pair distribution, or
        known ratios ``dP_pool/dP_human`` are passed to ``fit(density_ratio=...)``.
        ``"classifier"``: estimate the ratio with a pool-vs-human classifier,
        cross-fitted over ``n_folds`` folds.
    classifier : scikit-learn classifier or None, default None
        ``None``: unpenalised logistic regression with intercept on the design
        features (item level: indicators of the left and of the right item),
        fitted by prefstat's Newton solver; its estimation error enters the
        covariance. Any other classifier with ``predict_proba`` is cloned and
        fitted per fold on the same features; its weights are then treated as
        known (see the module docstring for what that costs).
    n_folds : int, default 5
    reference, order_effect, design
        As in :class:`~prefstat.BradleyTerry`.
    cov_type : {"robust", "cluster"}, default "robust"
        Two-sample sandwich; or cluster-robust within each sample by ``groups``
        (human rows need ids, e.g. annotators; pool rows all have ids, or none:
        then they count as independent).
    random_state : int or None
        Seed of the fold assignment.
    tol, max_iter : Newton stopping rule and iteration cap (see :func:`prefstat.optim.newton`).

    Attributes
    ----------
    coef_, stderr_, cov_, order_effect_, order_effect_stderr_, items_ or n_features_in_,
    lam_ : the lambda used; n_eff_ : effective number of human labels, n x tr V(human-only) / tr V;
    density_ratio_ : weights used on the human rows (in row order); weight_ess_, weight_max_ :
    Kish effective size and largest of those weights; n_human_, n_pool_ : sample sizes (frequency
    weighted); diagnostics_ : dict of the above plus the judge-human disagreement rate and the
    unclipped tuned lambda; converged_, n_iter_.
    """

    def __init__(self, lam="auto", density_ratio=None, classifier=None, n_folds=5, reference=None,
                 order_effect=False, cov_type="robust", design="auto", random_state=None, tol=1e-12, max_iter=100):
        self.lam = lam
        self.density_ratio = density_ratio
        self.classifier = classifier
        self.n_folds = n_folds
        self.reference = reference
        self.order_effect = order_effect
        self.cov_type = cov_type
        self.design = design
        self.random_state = random_state
        self.tol = tol
        self.max_iter = max_iter

    def _check_params(self):
        lam = self.lam
        if isinstance(lam, str):
            if lam != "auto":
                raise ValueError(f"lam must be 'auto' or a number in [0, 1]; got {lam!r}.")
        elif isinstance(lam, bool) or not np.isscalar(lam) or not 0.0 <= float(lam) <= 1.0:
            raise ValueError(
                f"lam must be 'auto' or a number in [0, 1]; got {lam!r}. On [0, 1] the estimating equation is "
                "the gradient of a convex objective (unique root); outside it is not.")
        if self.density_ratio not in (None, "classifier"):
            raise ValueError(f"density_ratio must be None or 'classifier'; got {self.density_ratio!r} (pass known "
                             "ratios to fit(..., density_ratio=weights)).")
        if self.classifier is not None and not _is_probabilistic_classifier(self.classifier):
            raise ValueError("classifier must be a scikit-learn classifier with predict_proba (or None for the "
                             f"built-in logistic regression); got {self.classifier!r}.")
        if isinstance(self.n_folds, bool) or not isinstance(self.n_folds, (int, np.integer)) or self.n_folds < 2:
            raise ValueError(f"n_folds must be an integer >= 2; got {self.n_folds!r}.")
        if self.cov_type not in ("robust", "cluster"):
            raise ValueError(f"cov_type must be 'robust' or 'cluster'; got {self.cov_type!r}.")

    # ------------------------------------------------------------------ design
    def _design(self, table, o, mp: int, classifier_features: bool):
        """(design padded to mp rows, T: free -> reported parameters, reported names, classifier features).

        The classifier features (None unless requested) describe which pair a row compares: the
        feature differences (dense), or at item level indicators of the left and of the right item
        (the first item is the baseline), plus the order indicator when it is modelled.
        """
        if table.kind == "items":
            a, b, items = factorize_items(table.left, table.right)
            k = items.size
            ref = self._reference_index(items)
            self.items_ = items
            cols, vals = item_design(a, b, o, k, ref, False, np)
            T = item_transform(k, ref, False, o is not None, centre=self.reference is None)
            names = list(items) + (["order_effect"] if o is not None else [])
            feats = None
            if classifier_features:
                onehot = np.eye(k)[:, 1:]
                feats = np.column_stack([onehot[a], onehot[b]] + ([o] if o is not None else []))
            design = SparseRowsDesign(jnp.asarray(pad_rows(cols, mp)), jnp.asarray(pad_rows(vals, mp)), T.shape[1])
            return design, T, names, feats
        Z = table.features
        names = list(table.feature_names)
        self.n_features_in_ = Z.shape[1]
        if o is not None:
            Z = sp.hstack([Z, o[:, None]], format="csr") if sp.issparse(Z) else np.column_stack([Z, o])
            names = names + ["order_effect"]
        feats = (Z.toarray() if sp.issparse(Z) else Z) if classifier_features else None
        if sp.issparse(Z):
            cols, vals = sparse_rows_from_scipy(Z)
            design = SparseRowsDesign(jnp.asarray(pad_rows(cols, mp)), jnp.asarray(pad_rows(vals, mp)), Z.shape[1])
        else:
            design = DenseDesign(X=jnp.asarray(pad_rows(Z, mp)))
        return design, np.eye(Z.shape[1]), names, feats

    # --------------------------------------------------------------------- fit
    @x64
    def fit(self, X, y=None, ai_label=None, sample_weight=None, groups=None, order=None, density_ratio=None):
        """Fit on one table.

        ``X``: (n, 2) item labels or (n, d) feature differences (dense or
        sparse). ``y``: human label, NaN on pool rows. ``ai_label``: judge label
        on every row. ``sample_weight``: frequency weights. ``groups``: cluster
        ids for ``cov_type="cluster"``. ``order``: +1/-1/0 order indicator.
        ``density_ratio``: known ``dP_pool/dP_human``, one entry per human row
        (or per row; pool entries are ignored).
        """
        self._check_params()
        if isinstance(X, ComparisonTable):
            raise ValueError("DebiasedBradleyTerry reads arrays (X, y with NaN on pool rows, ai_label): a "
                             "ComparisonTable cannot hold missing human labels.")
        for attr in ("items_", "n_features_in_"):
            self.__dict__.pop(attr, None)
        human, y_filled, ai = _split_samples(y, ai_label)
        table = ComparisonTable.from_arrays(X, y_filled, sample_weight, None, order, design=self.design)
        m = table.n_rows
        f = table.weight
        n, N = float(f[human].sum()), float(f[~human].sum())
        if n < 2 or N < 1:
            which = "human-labelled" if n < 2 else "pool"
            raise ValueError(f"the {which} rows carry too little weight (human {n:g}, pool {N:g}); at least two "
                             "human units and one pool unit are needed.")
        use_classifier = self.density_ratio == "classifier"
        if density_ratio is not None and use_classifier:
            raise ValueError("density_ratio weights were passed to fit but the estimator is configured with "
                             "density_ratio='classifier'; use one or the other.")
        w = np.ones(m) if density_ratio is None else _known_ratio(density_ratio, human)
        codes = _group_codes(groups, human, m) if self.cov_type == "cluster" and groups is not None else None
        if self.cov_type == "cluster" and codes is None:
            raise ValueError("cov_type='cluster' needs groups: pass groups= to fit (e.g. annotator ids).")

        o = (np.ones(m) if table.order is None else table.order) if self.order_effect else None
        self.kind_ = table.kind
        mp = padded_size(m)
        design, T, names, feats = self._design(table, o, mp, classifier_features=use_classifier)
        n_folds = 0
        F = np.zeros((m, 0))
        folds = np.zeros(m, np.int32)
        if use_classifier:
            if min(int(human.sum()), int((~human).sum())) < self.n_folds:
                raise ValueError(f"n_folds={self.n_folds} needs at least {self.n_folds} human and pool rows.")
            folds = _fold_ids(human, self.n_folds, np.random.default_rng(self.random_state))
            if self.classifier is None:
                n_folds = self.n_folds
                F = np.column_stack([np.ones(m), feats])
            else:
                w = self._sklearn_ratio(feats, human, f, folds)
        lam = 0.0 if self.lam == "auto" else float(self.lam)
        arrays = [jnp.asarray(pad_rows(v, mp)) for v in (y_filled, ai, human.astype(np.float64), f)]
        arrays.append(jnp.asarray(pad_rows(w, mp, 1.0)))
        res = fit_core(design, *arrays, lam, jnp.asarray(pad_rows(F, mp)), jnp.asarray(pad_rows(folds, mp)),
                       tune=self.lam == "auto", pooled_tuning=density_ratio is None and not use_classifier,
                       n_folds=n_folds, gtol=self.tol, max_iter=self.max_iter)
        # information at the start point (lambda's row weights, sigma' = 1/4): names unidentified parameters
        info0 = np.asarray(design.gram(0.25 * _row_weights(res.lam, *arrays[:5], n, N)[0]))
        self._check_fit(res, T, names, info0)
        w = np.asarray(res.weight)[:m]
        cov_free = np.asarray(res.cov) if codes is None else self._cluster_cov(res, design, human, f, codes, mp)
        cov_all = T @ cov_free @ T.T
        if not np.all(np.isfinite(cov_all)):
            raise ValueError("the covariance is not finite: the weights are too large (or too extreme) for "
                             "float64; rescale sample_weight or density_ratio.")
        est_all = T @ np.asarray(res.theta)
        self._set_estimates(est_all, cov_all, names)
        self.lam_ = float(res.lam)
        self.n_human_, self.n_pool_ = n, N
        self.density_ratio_ = w[human]
        fh = f[human]
        self.weight_ess_ = float(np.sum(fh * self.density_ratio_) ** 2 / np.sum(fh * self.density_ratio_**2))
        self.weight_max_ = float(self.density_ratio_.max())
        # n_eff compares the two-sample sandwiches (robust, whatever cov_type): same footing for both
        ratio = float(np.trace(T @ np.asarray(res.cov_human) @ T.T) / np.trace(T @ np.asarray(res.cov) @ T.T))
        self.n_eff_ = n * ratio
        z = y_filled[human]
        self.diagnostics_ = {
            "lam": self.lam_,
            "lam_unclipped": float(res.lam_raw),
            "n_human": n,
            "n_pool": N,
            "disagreement": float(np.sum(fh * (z * (1 - ai[human]) + (1 - z) * ai[human])) / n),
            "variance_ratio": ratio,
            "n_eff": self.n_eff_,
            "weight_ess": self.weight_ess_,
            "weight_max": self.weight_max_,
            "weight_mean": float(np.sum(fh * self.density_ratio_) / n),
        }
        if (density_ratio is not None or use_classifier) and self.weight_ess_ < _POOR_OVERLAP_SHARE * n:
            warnings.warn(
                f"poor overlap between the human sample and the pool: the density-ratio weights have an "
                f"effective sample size of {self.weight_ess_:.1f} out of {n:g} human units (largest weight "
                f"{self.weight_max_:.3g}). The correction rests on few human rows and its interval may be "
                "unreliable; weights are not clipped. Collect human labels on pairs like the pool's.",
                PoorOverlapWarning, stacklevel=2)
        self.nobs_ = n + N
        self.n_iter_ = int(res.n_iter)
        self.converged_ = True
        self.classes_ = np.array([0, 1])
        return self

    def _set_estimates(self, est_all, cov_all, names):
        self._report(names, est_all, cov_all)  # BradleyTerry: results_ and the public attributes

    def _sklearn_ratio(self, feats, human, f, folds) -> np.ndarray:
        """Cross-fitted ratio from a user classifier: w = (n_tr / N_tr) P(pool) / P(human), never clipped."""
        w = np.ones(human.size)
        label = (~human).astype(int)
        for k in range(self.n_folds):
            train, test = folds != k, (folds == k) & human
            clf = clone(self.classifier)
            kwargs = {} if np.all(f == 1) else {"sample_weight": f[train]}
            clf.fit(feats[train], label[train], **kwargs)
            p_pool = clf.predict_proba(feats[test])[:, list(clf.classes_).index(1)]
            if np.any(p_pool >= 1.0):
                bad = np.zeros(human.size, bool)
                bad[np.flatnonzero(test)[p_pool >= 1.0]] = True
                raise ValueError(f"the classifier gives P(pool) = 1 on human {_rows(bad)}: no overlap, the density "
                                 "ratio is infinite there (weights are never clipped). Use a calibrated classifier "
                                 "or drop the pool pairs that humans never label.")
            prior = f[train & human].sum() / f[train & ~human].sum()
            w[test] = prior * p_pool / (1.0 - p_pool)
        return w

    def _check_fit(self, res, T, names, info0):
        """Raise if the classifier or the root finding failed, naming unidentified parameters first."""
        free_names = [names[int(np.argmax(np.abs(T[:, j])))] for j in range(T.shape[1])]
        if not bool(res.ratio_converged):
            raise ValueError("the pool-vs-human logistic regression did not converge: the two samples are "
                             "(nearly) separable on the design features, so the density ratio is unbounded "
                             "(no overlap). Collect human labels on pairs like the pool's.")
        check_identifiable(np.asarray(res.bread) if bool(res.converged) else info0, free_names)
        if not bool(res.converged):
            raise ValueError(
                f"the debiased estimating equation has no finite root for lam={float(res.lam):.3g} (Newton did "
                "not converge, or the linear predictor ran off to infinity): along some direction the human "
                "correction term outweighs the pool's curvature, or the labelled rows are separated. This happens "
                "with few human labels or extreme density-ratio weights; use lam='auto' or a smaller lam, or add "
                "human labels.")

    def _cluster_cov(self, res, design, human, f, codes, mp) -> np.ndarray:
        """Cluster-robust covariance: within-sample cluster sums, statsmodels' factor per sample."""
        infl = res.influence
        bread = np.asarray(res.bread)
        total = np.zeros_like(bread)
        for mask in (human, ~human):
            wts = jnp.asarray(pad_rows(f * mask, mp))
            if codes[mask][0] < 0:  # pool rows without ids: independent units
                total += np.asarray(sandwich_cov(bread, _sample_cov(design, (infl.s, infl.E), (infl.s, infl.E),
                                                                    infl.e, infl.F, jnp.asarray(pad_rows(mask * 1.0, mp)),
                                                                    jnp.asarray(pad_rows(f, mp)))))
                continue
            G = int(codes[mask].max()) + 1
            g = jnp.asarray(pad_rows(np.where(mask, codes, G), mp, G))  # other rows (and padding) -> dummy cluster G
            n_s = float(np.sum(f[mask]))
            mean = _sums(design, infl.s, infl.E, infl.e, infl.F, wts) / n_s
            S = design.group_sums(wts * infl.s, g, G + 1)
            if infl.F.shape[1]:
                S = S + jax.ops.segment_sum((wts * infl.e)[:, None] * infl.F, g, G + 1) @ infl.E.T
            S = S - jax.ops.segment_sum(wts, g, G + 1)[:, None] * mean
            total += np.asarray(cluster_cov(bread, S[:G], n_s))
        return total


# --------------------------------------------------------------------------- baselines
def _subset_rows(X, rows):
    if sp.issparse(X):
        return sp.csr_matrix(X)[rows]
    return np.asarray(X.to_numpy() if isinstance(X, pd.DataFrame) else X)[rows]


def fit_ai_only(X, y, ai_label, sample_weight=None, order=None, **bt_params) -> BradleyTerry:
    """Baseline: Bradley-Terry on the pool's judge labels alone (``y`` only marks the pool: NaN rows).

    Consistent for the judge's preferences, not the humans': biased whenever the
    judge is. ``bt_params`` go to :class:`~prefstat.BradleyTerry` (default
    ``cov_type="robust"``: soft judge labels are not BT-distributed).
    """
    human, _, ai = _split_samples(y, ai_label)
    pool = ~human
    bt_params.setdefault("cov_type", "robust")
    weight = None if sample_weight is None else np.asarray(sample_weight)[pool]
    return BradleyTerry(**bt_params).fit(_subset_rows(X, pool), ai[pool], sample_weight=weight,
                                         order=None if order is None else np.asarray(order)[pool])


def fit_naive_pooled(X, y, ai_label, sample_weight=None, order=None, **bt_params) -> BradleyTerry:
    """Baseline: Bradley-Terry on every row, the human label where there is one, else the judge's.

    Biased towards the judge in proportion to the pool's share of the rows.
    """
    human, y_filled, ai = _split_samples(y, ai_label)
    bt_params.setdefault("cov_type", "robust")
    return BradleyTerry(**bt_params).fit(X, np.where(human, y_filled, ai), sample_weight=sample_weight, order=order)
