r"""Likelihood-ratio test of Bradley-Terry against the mixed logit (random coefficients) on a feature-level table.

**Alternative.** Each comparison is answered by a user with weights
:math:`\beta_u \sim N(\beta, \mathrm{diag}(\tau))`, :math:`\tau_j \ge 0` the
variance of users' weight on feature :math:`j` (McFadden & Train 2000). The
preference probability of a row with feature difference :math:`z` is then

.. math::  p(z) = E\,\Lambda(\beta^\top z + s(z)\,\xi), \quad s(z)^2 = \textstyle\sum_j \tau_j z_j^2,\ \xi \sim N(0, 1),

a one-dimensional integral whatever the number of features (a sum of
independent normals is normal). It is evaluated exactly (to ~1e-15) through the
logistic's normal scale mixture :math:`\Lambda(x) = \sum_k w_k \Phi(x / s_k)`
(the one :class:`~prefstat.simulate.HeterogeneousUsers` uses), which gives
:math:`p(z) = \sum_k w_k \Phi(\beta^\top z / \sqrt{s_k^2 + s(z)^2})`: smooth in
:math:`\tau` down to :math:`\tau = 0`, unlike Gauss-Hermite or simulated
likelihoods, whose nodes need :math:`\sqrt\tau`. The null :math:`\tau = 0` is
BT (:class:`~prefstat.BradleyTerry` on the features). Rows are treated as
answered by independent users (the likelihood is each row's marginal); under
the null rows are independent whoever answered them, so the size holds for
panels too, and the mixing is identified by how :math:`p(z)` flattens where
:math:`|z|` is large along the contested features.

**Statistic.** :math:`LR = 2(\hat\ell_{\text{mixed}} - \hat\ell_{\text{BT}})`;
the mixed logit is fitted by L-BFGS-B under :math:`\tau \ge 0` (bounds: the
shared Newton / L-BFGS solvers are unconstrained) started from the BT fit and
:math:`\tau = 0`, so :math:`LR \ge 0`.

**Calibration.** :math:`\tau = 0` is on the boundary, so LR is not
:math:`\chi^2_d`: it is asymptotically chi-bar-squared,
:math:`P(LR \ge c) = \sum_{i=0}^{d} w_i\, P(\chi^2_i \ge c)` (Self & Liang 1987;
Shapiro 1985), with :math:`w_i` the probability that the projection of
:math:`W \sim N(0, I_{\text{eff}}^{-1})` onto the orthant has :math:`i` positive
coordinates and :math:`I_{\text{eff}}` the information for :math:`\tau` at the
BT fit with :math:`\beta` profiled out. With one feature the weights are
1/2 : 1/2, with two they are exact (Kudo 1963); otherwise they are computed
from 20,000 seeded normal draws (standard error of a weight at most 0.0035). Because :math:`p(z)` is analytic in
:math:`\tau` (odd moments of :math:`\xi` vanish) the information has a closed
form at :math:`\tau = 0`: with :math:`p = \Lambda(\beta^\top z)`,
:math:`\partial p/\partial\beta = p(1-p) z` and
:math:`\partial p/\partial\tau_j = \tfrac12 z_j^2 p(1-p)(1-2p)`. The score for
:math:`\tau_j` is :math:`U_j = \tfrac12 \sum (y - p)(1 - 2p) z_j^2`, Chesher's
(1984) information-matrix test for neglected heterogeneity; its one-sided
standardised value per feature is reported and points at the contested
features.

Outcomes must be hard 0/1 and weights integer frequencies (the chi-bar law is
that of a binomial likelihood); otherwise the check is skipped with the reason.
"""
from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from scipy import optimize, stats

from .._x64 import x64_scope
from ..data import ComparisonTable
from ..design import DenseDesign
from ..losses import logistic_fit
from .report import Diagnostic

__all__ = ["MixedLogitFit", "mixed_logit_loglik", "fit_mixed_logit", "efficient_information", "chibar_weights",
           "chibar_p_value", "mixed_logit_test", "MAX_FEATURES"]

MAX_FEATURES = 50  # dense (n, d) design and a d x d information; wider (sparse) tables are skipped
_CHIBAR_DRAWS = 20_000


def _mixture():
    from ..simulate.processes.numerics import logistic_scale_mixture  # imported here: diagnose loads without it

    s, w = logistic_scale_mixture()
    keep = w > 0
    return np.asarray(s[keep]), np.log(np.asarray(w[keep]))


@jax.jit
def _negloglik(x, Z, y, w, scales, logw):
    d = Z.shape[1]
    beta, tau = x[:d], x[d:]
    m = Z @ beta
    v = (Z**2) @ tau
    r = jnp.sqrt(scales[None, :] ** 2 + v[:, None])
    t = m[:, None] / r
    # P(win) and P(loss) summed separately (no 1 - p cancellation); outcomes are 0/1, so one sum per row
    sign = 2.0 * y - 1.0
    p = jnp.sum(jnp.exp(logw)[None, :] * jax.scipy.special.ndtr(sign[:, None] * t), axis=1)
    return -jnp.sum(w * jnp.log(p))


_value_and_grad = jax.jit(jax.value_and_grad(_negloglik))


def mixed_logit_loglik(Z, y, w, beta, tau) -> float:
    """Log-likelihood of the (cross-sectional) mixed logit with weights ``beta`` and variances ``tau``."""
    s, lw = _mixture()
    with x64_scope():
        x = jnp.asarray(np.r_[beta, tau], jnp.float64)
        return -float(_negloglik(x, jnp.asarray(Z, jnp.float64), jnp.asarray(y, jnp.float64),
                                 jnp.asarray(w, jnp.float64), jnp.asarray(s), jnp.asarray(lw)))


class MixedLogitFit:
    """BT fit (``beta0``, ``loglik0``) and mixed-logit fit (``beta``, ``tau``, ``loglik``, ``converged``)."""

    def __init__(self, beta0, loglik0, beta, tau, loglik, converged, message=""):
        self.beta0, self.loglik0 = beta0, loglik0
        self.beta, self.tau, self.loglik = beta, tau, loglik
        self.converged, self.message = converged, message

    @property
    def lr(self) -> float:
        return max(0.0, 2.0 * (self.loglik - self.loglik0))


@partial(jax.jit, static_argnames=())
def _bt_fit(Z, w, wy):
    d = Z.shape[1]
    return logistic_fit(DenseDesign(X=Z), w, wy, jnp.zeros(d), jnp.zeros(d), gtol=1e-12, max_iter=100)


def fit_mixed_logit(Z, y, w, max_iter: int = 500) -> MixedLogitFit:
    """BT (shared damped Newton) and the mixed logit (L-BFGS-B, tau >= 0, started at the BT fit)."""
    Z, y, w = (np.asarray(a, np.float64) for a in (Z, y, w))
    d = Z.shape[1]
    s, lw = _mixture()
    with x64_scope():
        Zj, yj, wj = jnp.asarray(Z), jnp.asarray(y), jnp.asarray(w)
        res = _bt_fit(Zj, wj, wj * yj)
        beta0 = np.asarray(res.x)
        if not bool(res.converged):
            raise ValueError("the BT fit on the features did not converge (separated data?); the mixed-logit "
                             "test needs a BT fit.")
        sj, lwj = jnp.asarray(s), jnp.asarray(lw)
        scale = float(w.sum())

        def fun(x):
            f, g = _value_and_grad(jnp.asarray(x), Zj, yj, wj, sj, lwj)
            return float(f) / scale, np.asarray(g) / scale

        x0 = np.r_[beta0, np.zeros(d)]
        f0 = fun(x0)[0]
        out = optimize.minimize(fun, x0, jac=True, method="L-BFGS-B", bounds=[(None, None)] * d + [(0.0, None)] * d,
                                options={"maxiter": max_iter, "ftol": 1e-13, "gtol": 1e-8})
    x = out.x if out.fun <= f0 else x0
    return MixedLogitFit(beta0, -f0 * scale, x[:d], x[d:], -min(out.fun, f0) * scale, bool(out.success),
                         str(out.message))


def efficient_information(Z, w, beta):
    """(score weights, I_eff): the tau-information at tau = 0 with beta profiled out (closed form; see the
    module docstring), and the per-row factor ``(1 - 2p) z_j^2 / 2`` of the tau-score."""
    Z, w = np.asarray(Z, np.float64), np.asarray(w, np.float64)
    p = 1.0 / (1.0 + np.exp(-(Z @ beta)))
    v = p * (1 - p)
    dtau = 0.5 * Z**2 * (1 - 2 * p)[:, None]  # (dp/dtau) / (p (1 - p))
    I_bb = (Z * (w * v)[:, None]).T @ Z
    I_bt = (Z * (w * v)[:, None]).T @ dtau
    I_tt = (dtau * (w * v)[:, None]).T @ dtau
    I_eff = I_tt - I_bt.T @ np.linalg.solve(I_bb, I_bt)
    return dtau, 0.5 * (I_eff + I_eff.T)


def chibar_weights(info, n_draws: int = _CHIBAR_DRAWS, seed: int = 0) -> np.ndarray:
    """Weights w_0..w_d of the chi-bar-squared law of the LR for H0: tau = 0 against tau >= 0 (orthant),
    where ``info`` is the efficient information of tau (exact 1/2, 1/2 for d = 1; else seeded Monte Carlo)."""
    info = np.atleast_2d(np.asarray(info, np.float64))
    d = info.shape[0]
    if d == 1:
        return np.array([0.5, 0.5])
    if d == 2:  # exact (Kudo 1963): w_0 = arccos(rho) / (2 pi), rho the correlation of info^-1
        V = np.linalg.inv(info)
        w0 = float(np.arccos(np.clip(V[0, 1] / np.sqrt(V[0, 0] * V[1, 1]), -1, 1))) / (2 * np.pi)
        return np.array([w0, 0.5, 0.5 - w0])
    rng = np.random.default_rng(seed)
    W = rng.multivariate_normal(np.zeros(d), np.linalg.inv(info), size=n_draws)
    if d > 10:  # 2^d faces too many to enumerate: non-negative least squares per draw
        A = np.linalg.cholesky(info).T  # info = A^T A
        counts = np.bincount([int(np.sum(optimize.nnls(A, A @ x)[0] > 0)) for x in W], minlength=d + 1)
        return counts / n_draws
    # The projection t* = argmin_{t >= 0} (W - t)' info (W - t) has exactly one positive set S (a.s.):
    # t_S = W_S + info_SS^-1 info_SC W_C > 0 with t_C = 0, and the gradient on C, info_C (t - W), >= 0.
    counts = np.zeros(d + 1)
    for mask in range(1 << d):
        S = np.array([(mask >> j) & 1 for j in range(d)], bool)
        C = ~S
        t = np.zeros_like(W)
        if S.any():
            t[:, S] = W[:, S] + np.linalg.solve(info[np.ix_(S, S)], info[np.ix_(S, C)] @ W[:, C].T).T
        grad = (t - W) @ info
        ok = np.all(t[:, S] > 0, axis=1) & np.all(grad[:, C] >= 0, axis=1)
        counts[S.sum()] += ok.sum()
    return counts / counts.sum()


def chibar_p_value(lr: float, weights) -> float:
    """P(chi-bar-squared >= lr) = sum_i w_i P(chi2_i >= lr) (chi2_0 a point mass at 0)."""
    weights = np.asarray(weights, np.float64)
    tail = [1.0 if lr <= 0 else 0.0] + [float(stats.chi2.sf(lr, i)) for i in range(1, weights.size)]
    return float(np.dot(weights, tail))


def _skip(reason: str) -> Diagnostic:
    return Diagnostic("mixed_logit", TITLE, "skipped", reason)


TITLE = "User heterogeneity (BT vs mixed logit, likelihood ratio)"


def mixed_logit_test(table: ComparisonTable, level: float = 0.05) -> Diagnostic:
    """Likelihood-ratio test of BT against normal random coefficients, chi-bar-squared calibrated."""
    if table.kind != "features":
        return _skip("the mixed-logit test needs a feature-level table.")
    d = table.features.shape[1]
    if d > MAX_FEATURES:
        return _skip(f"{d} features: the mixed-logit test handles at most {MAX_FEATURES}; select features first.")
    y, w = table.outcome, table.weight
    if not np.all((y == 0) | (y == 1)):
        return _skip("ties or soft labels: the likelihood-ratio test needs hard 0/1 outcomes (drop the ties, "
                     "or use the BT vs sign-estimator check).")
    if not np.allclose(w, np.round(w)):
        return _skip("non-integer weights: the likelihood-ratio calibration needs integer frequency weights.")
    Z = table.features.toarray() if hasattr(table.features, "toarray") else np.asarray(table.features)
    try:
        fit = fit_mixed_logit(Z, y, w)
    except ValueError as err:
        return _skip(" ".join(str(err).split()))
    dtau, info = efficient_information(Z, w, fit.beta0)
    eig = np.linalg.eigvalsh(info)
    if not (eig[0] > 1e-10 * max(eig[-1], 1e-300)):
        return _skip("the heterogeneity variances are not identified on these features (singular information "
                     "at tau = 0, e.g. a feature whose square is constant or collinear); use the sign-estimator "
                     "check.")
    weights = chibar_weights(info)
    lr = fit.lr
    p = chibar_p_value(lr, weights)
    p0 = 1.0 / (1.0 + np.exp(-(Z @ fit.beta0)))
    score = (w * (y - p0)) @ dtau
    z_score = score / np.sqrt(np.diag(info))  # one-sided: positive = more spread than BT allows
    names = list(table.feature_names)
    frame = pd.DataFrame({"bt_coef": fit.beta0, "mixed_mean": fit.beta, "mixed_sd": np.sqrt(fit.tau),
                          "score_z": z_score, "p_one_sided": stats.norm.sf(z_score)},
                         index=pd.Index(names, name="feature"))
    test = pd.DataFrame({"value": [lr, p, fit.loglik0, fit.loglik] + list(weights)},
                        index=pd.Index(["lr", "p_chibar", "loglik_bt", "loglik_mixed"]
                                       + [f"chibar_weight_{i}" for i in range(weights.size)], name="quantity"))
    details = {"converged": fit.converged, "features": d}
    tables = {"coefficients": frame, "test": test}
    if p < level:
        top = frame.mixed_sd.idxmax()
        verdict = (f"users weigh the features differently: LR = {lr:.4g} against normal random coefficients, "
                   f"p = {p:.3g} (chi-bar-squared); largest user spread on {top} (sd {frame.mixed_sd.max():.3g}).")
        action = ("BT's coefficients are a KL projection, not the average user's weights: estimate the average "
                  "preference direction with SignEstimator, and check the BT vs sign-estimator angle.")
        return Diagnostic("mixed_logit", TITLE, "flagged", verdict, action, statistic=lr, p_value=p, tables=tables,
                          details=details)
    return Diagnostic("mixed_logit", TITLE, "ok", f"no evidence of user heterogeneity (LR = {lr:.4g} against normal "
                      f"random coefficients, p = {p:.3g}, chi-bar-squared).", statistic=lr, p_value=p,
                      tables=tables, details=details)
