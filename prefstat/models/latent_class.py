r"""Latent-class Bradley-Terry: a K-class mixture of BT models fitted by EM on panel data.

The "panel" baseline of Aouad, El Gadarri, Farias (*The Sign Estimator*,
arXiv 2510.23965; docs/methods.md#latent-class-bradley-terry): when every comparison carries the id of
the user who answered it, model the users as K latent classes (Kamakura &
Russell 1989; the latent-class logit). User u belongs to class k with
probability :math:`\pi_k`, and then all of u's comparisons follow BT with
weights :math:`\beta_k`:

.. math::  L = \prod_u \sum_k \pi_k \prod_{i \in u}
               \sigma(\beta_k^\top z_i)^{w_i y_i}\, (1 - \sigma(\beta_k^\top z_i))^{w_i (1 - y_i)}

(ties enter as y = 1/2, half a win each, as in :class:`~prefstat.BradleyTerry`;
weights are frequency weights). EM (Dempster, Laird & Rubin 1977):

* E-step: posterior class probabilities of each user
  :math:`r_{uk} \propto \pi_k \exp(\ell_{uk})`, :math:`\ell_{uk}` the BT
  log-likelihood of u's rows under :math:`\beta_k` (computed in log space);
* M-step: :math:`\pi_k = \text{mean}_u\, r_{uk}` over users with rows, and
  :math:`\beta_k` = the BT fit with row weights :math:`w_i r_{u(i) k}` (the
  shared damped Newton of :func:`prefstat.models.bradley_terry.fit_core`,
  warm-started; an optional L2 penalty keeps a class that captures a separable
  subset finite).

EM stops when the log-likelihood changes by less than ``tol`` times its size;
``n_init`` random starts (BT fit plus Gaussian perturbations of its size) are
run and the one with the highest likelihood is kept. The population-average
utility is :math:`\bar\beta = \sum_k \pi_k \beta_k` (``coef_``) and its direction
is ``direction_``, the quantity the sign estimator targets without user ids.
When users answer only once (``groups`` all distinct) the model is the
cross-sectional latent-class logit: identified only through the logistic shape,
and with a continuous heterogeneity it is misspecified for any K.
"""
from __future__ import annotations

import functools
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from .._x64 import x64
from ..data import ComparisonTable, as_table
from ..design import feature_design, pad_rows, padded_size
from ..losses import DIVERGED_ETA, logistic_fit
from ..geometry import gaussian_cone_radius
from ..inference import EstimationResults, Inference
from ..validation import check_int, check_level, check_option, check_random_state, check_real, warn_caller
from .base import DirectionMixin, PreferenceClassifier

__all__ = ["LatentClassBT", "LatentClassResult", "LatentClassInference", "fit_core", "inference_core", "mixture_loglik"]


class LatentClassResult(NamedTuple):
    weights: jax.Array  # (K,) class probabilities pi
    coef: jax.Array  # (K, d) class BT weights beta_k
    mean_coef: jax.Array  # (d,) sum_k pi_k beta_k
    direction: jax.Array  # (d,) mean_coef / |mean_coef|
    responsibilities: jax.Array  # (n_users, K) posterior class probabilities
    loglik: jax.Array
    n_iter: jax.Array
    converged: jax.Array


def _user_loglik(design, y, w, user, n_users, coef):
    """(n_users, K) BT log-likelihood of each user's rows under each class."""
    eta = jax.vmap(design.matvec)(coef)  # (K, n)
    rows = w * (y * eta - jax.nn.softplus(eta))
    return jax.ops.segment_sum(rows.T, user, num_segments=n_users), eta


# SQUAREM's extrapolation length |alpha| is kept in [1, MAX_STEP] (alpha = -1 is two plain EM steps).
MAX_STEP = 64.0
# EM maps per start before the best start is chosen and run to convergence (fit_core, accelerate=True).
SCREEN_ITER = 8


def _em(design, y, w, user, present, n_users, coef, weights, penalty, tol, max_iter, newton_iter,
        accelerate=False):
    """EM from (coef, weights); returns a LatentClassResult (responsibilities at the end point).

    ``accelerate``: SQUAREM (Varadhan & Roland 2008, scheme S3) on the EM map F over
    (class coefficients, log class weights): from x0, two EM steps x1 = F(x0), x2 = F(x1),
    r = x1 - x0, v = x2 - 2 x1 + x0, alpha = -|r| / |v| (clamped to [-MAX_STEP, -1]) and the
    extrapolated point x0 - 2 alpha r + alpha^2 v, kept only if its log-likelihood is at least
    that of x2 (so the likelihood never decreases, as in plain EM). ``n_iter`` counts EM maps.
    """
    n_present = jnp.sum(present)
    K, p = coef.shape

    def e_step(coef, weights):
        ll, eta = _user_loglik(design, y, w, user, n_users, coef)
        joint = jnp.log(weights) + ll
        total = jax.scipy.special.logsumexp(joint, axis=1)
        # users without rows have ll = 0, so their total is log(sum pi) = 0: they add nothing
        return jnp.exp(joint - total[:, None]), jnp.sum(total), eta

    def m_step(coef, resp):
        weights = jnp.sum(jnp.where(present[:, None], resp, 0.0), axis=0) / n_present
        W = w[None, :] * resp[user].T  # (K, n)

        def fit(beta, Wk):
            return logistic_fit(design, Wk, Wk * y, penalty, beta, max_iter=newton_iter).x

        return jax.vmap(fit)(coef, W), weights

    def cond(state):
        _, _, _, _, ll_old, ll, it = state
        change = jnp.abs(ll - ll_old) <= tol * jnp.abs(ll)
        return (it < max_iter) & ~change

    def body(state):
        coef, weights, resp, _, _, ll, it = state
        coef, weights = m_step(coef, resp)
        resp, ll_new, eta = e_step(coef, weights)
        return coef, weights, resp, jnp.max(jnp.abs(eta)), ll, ll_new, it + 1

    def pack(coef, weights):
        # a class whose weight underflows to 0 keeps a finite log weight
        return jnp.concatenate([coef.ravel(), jnp.log(jnp.maximum(weights, jnp.finfo(weights.dtype).tiny))])

    def unpack(x):
        return x[:K * p].reshape(K, p), jax.nn.softmax(x[K * p:])

    def squarem_body(state):
        coef0, weights0, resp0, _, _, ll, it = state
        coef1, weights1 = m_step(coef0, resp0)
        resp1, _, _ = e_step(coef1, weights1)
        coef2, weights2 = m_step(coef1, resp1)
        resp2, ll2, eta2 = e_step(coef2, weights2)
        x0, x1, x2 = pack(coef0, weights0), pack(coef1, weights1), pack(coef2, weights2)
        r, v = x1 - x0, x2 - 2.0 * x1 + x0
        vv = v @ v
        alpha = -jnp.clip(jnp.sqrt((r @ r) / jnp.where(vv > 0, vv, 1.0)), 1.0, MAX_STEP)
        coef3, weights3 = unpack(x0 - 2.0 * alpha * r + alpha**2 * v)
        resp3, ll3, eta3 = e_step(coef3, weights3)
        ok = jnp.isfinite(ll3) & (ll3 >= ll2)
        pick = lambda a3, a2: jnp.where(ok, a3, a2)  # noqa: E731
        return (pick(coef3, coef2), pick(weights3, weights2), pick(resp3, resp2),
                pick(jnp.max(jnp.abs(eta3)), jnp.max(jnp.abs(eta2))), ll, pick(ll3, ll2), it + 2)

    resp, ll, eta = e_step(coef, weights)
    init = (coef, weights, resp, jnp.max(jnp.abs(eta)), -jnp.inf, ll, jnp.asarray(0, jnp.int32))
    coef, weights, resp, eta_max, ll_old, ll, it = jax.lax.while_loop(cond, squarem_body if accelerate else body,
                                                                      init)
    mean = weights @ coef
    # without a penalty, a class running off to infinity (separation) is not convergence; with one the
    # estimate is finite and large linear predictors are legitimate
    converged = (jnp.abs(ll - ll_old) <= tol * jnp.abs(ll)) & ((eta_max < DIVERGED_ETA) | jnp.any(penalty > 0))
    return LatentClassResult(weights=weights, coef=coef, mean_coef=mean, direction=mean / jnp.linalg.norm(mean),
                             responsibilities=resp, loglik=ll, n_iter=it, converged=converged)


def mixture_loglik(design, y, w, user, n_users, theta, n_classes: int):
    """(n_users,) log-likelihood of each user at the free parameters ``theta`` (traceable).

    ``theta = (a_1, ..., a_{K-1}, vec(beta))``: class logits relative to class 0
    (pi = softmax(0, a)), then the K class coefficient vectors row by row.
    """
    K, p = n_classes, design.p
    logits = jnp.concatenate([jnp.zeros(1, theta.dtype), theta[:K - 1]])
    coef = theta[K - 1:].reshape(K, p)
    ll, _ = _user_loglik(design, y, w, user, n_users, coef)
    return jax.scipy.special.logsumexp(jax.nn.log_softmax(logits) + ll, axis=1)


def _reported(theta, n_classes: int, p: int):
    """(pi, vec(beta), beta_bar, beta_bar / |beta_bar|) from the free parameters."""
    K = n_classes
    pi = jax.nn.softmax(jnp.concatenate([jnp.zeros(1, theta.dtype), theta[:K - 1]]))
    coef = theta[K - 1:].reshape(K, p)
    mean = pi @ coef
    return jnp.concatenate([pi, coef.ravel(), mean, mean / jnp.linalg.norm(mean)])


class LatentClassInference(NamedTuple):
    bread: jax.Array  # (P, P) observed information of the (penalised) mixture log-likelihood
    user_scores: jax.Array  # (n_users, P) per-user scores: the cluster (user) sums of the estimating function
    T: jax.Array  # (R, P) Jacobian of the reported parameters (pi, beta_k, beta_bar, direction)


@partial(jax.jit, static_argnames=("n_users", "n_classes"))
def inference_core(design, y, w, user, weights, coef, n_users: int, n_classes: int, alpha=0.0) -> LatentClassInference:
    r"""Observed information, per-user scores and the reporting Jacobian at a fitted mixture: pure, vmappable.

    The free parameters are the class logits against class 0 and the class
    coefficients (:func:`mixture_loglik`). Users are independent, so the
    per-user log-likelihoods :math:`L_u(\theta)` are the units: their scores
    (forward-mode Jacobian, one pass per parameter; by Fisher's identity
    :math:`\partial L_u/\partial\beta_k = r_{uk} \sum_{i \in u} w_i (y_i - \sigma_{ik}) z_i`,
    :math:`\partial L_u / \partial a_k = r_{uk} - \pi_k`) feed the cluster
    sandwich, and minus the Hessian of :math:`\sum_u L_u` (the observed
    information that Louis' (1982) formula assembles from complete-data pieces,
    here by automatic differentiation) is the bread. An L2 penalty
    ``alpha / 2 |beta_k|^2`` adds ``alpha`` to the bread's coefficient block
    and ``-alpha beta_k / n_users`` to every user's score (so they still sum to zero).
    """
    K, p = n_classes, design.p
    weights = jnp.asarray(weights)
    logits = jnp.log(weights[1:]) - jnp.log(weights[0])
    theta = jnp.concatenate([logits, jnp.asarray(coef).ravel()])
    pen = jnp.concatenate([jnp.zeros(K - 1, theta.dtype), jnp.full(K * p, alpha, theta.dtype)])

    def per_user(t):
        return mixture_loglik(design, y, w, user, n_users, t, K)

    scores = jax.jacfwd(per_user)(theta) - (pen * theta)[None, :] / n_users
    bread = -jax.hessian(lambda t: jnp.sum(per_user(t)))(theta) + jnp.diag(pen)
    T = jax.jacfwd(lambda t: _reported(t, K, p))(theta)
    return LatentClassInference(bread=bread, user_scores=scores, T=T)


@functools.lru_cache(maxsize=None)
def _sequential_fit(n_users: int, n_classes: int, n_init: int, max_iter: int, newton_iter: int, accelerate: bool):
    # Under vmap (simulation replications) the fits run one after another: EM needs very
    # different iteration counts per data set, and batched while loops run all to the slowest.
    @jax.custom_batching.sequential_vmap
    def fit(design, y, w, user, key, alpha, tol):
        p = design.p
        penalty = jnp.full(p, alpha, y.dtype)
        present = jax.ops.segment_sum(w, user, num_segments=n_users) > 0
        pooled = logistic_fit(design, w, w * y, penalty, jnp.zeros(p, y.dtype), max_iter=100).x
        scale = jnp.linalg.norm(pooled) / jnp.sqrt(p)
        starts = pooled + scale * jax.random.normal(key, (n_init, n_classes, p), dtype=y.dtype)
        even = jnp.full(n_classes, 1.0 / n_classes, y.dtype)
        if accelerate:
            # screen every start with SCREEN_ITER accelerated EM maps, then run only the best one to tol
            # (warm-started where the screening left it): the starts that end in worse local maxima cost
            # a few iterations instead of a full run each
            screen = jax.lax.map(lambda coef: _em(design, y, w, user, present, n_users, coef, even, penalty, tol,
                                                  min(SCREEN_ITER, max_iter), newton_iter, True), starts)
            finite = (jnp.isfinite(screen.loglik) & jnp.all(jnp.isfinite(screen.coef), axis=(1, 2)))
            best = jnp.where(jnp.any(finite), jnp.argmax(jnp.where(finite, screen.loglik, -jnp.inf)), 0)
            res = _em(design, y, w, user, present, n_users, screen.coef[best], screen.weights[best], penalty, tol,
                      max_iter, newton_iter, True)
            return res._replace(n_iter=res.n_iter + jnp.sum(screen.n_iter))
        runs = jax.lax.map(lambda coef: _em(design, y, w, user, present, n_users, coef, even, penalty, tol,
                                            max_iter, newton_iter), starts)
        # the best start by likelihood among those that converged (if none did, among all)
        best = jnp.where(jnp.any(runs.converged), jnp.argmax(jnp.where(runs.converged, runs.loglik, -jnp.inf)),
                         jnp.argmax(runs.loglik))
        return jax.tree_util.tree_map(lambda a: a[best], runs)

    return fit


@partial(jax.jit, static_argnames=("n_users", "n_classes", "n_init", "max_iter", "newton_iter", "accelerate"))
def fit_core(design, y, w, user, key, n_users: int, n_classes: int = 3, n_init: int = 4, alpha: float = 0.0,
             tol: float = 1e-6, max_iter: int = 1000, newton_iter: int = 1, accelerate: bool = True) -> LatentClassResult:
    """Latent-class BT by EM: a pure function (jit; vmap runs the batch sequentially).

    ``design``: :mod:`prefstat.design` pytree of feature differences; ``y``
    outcomes; ``w`` frequency weights (padding rows 0); ``user`` int codes in
    ``[0, n_users)``; ``key`` seeds the ``n_init`` starts; ``alpha`` the L2
    penalty per class; ``newton_iter`` damped-Newton steps per M-step (each
    raises the expected complete-data likelihood, so the iteration is a
    generalised EM and the likelihood never decreases; one step costs a third
    of three and reaches the same fixed point). ``accelerate`` (default):
    SQUAREM-accelerated EM (:func:`_em`) after screening the starts for
    ``SCREEN_ITER`` EM maps each and continuing only the best; ``False`` runs
    plain EM from every start to ``tol`` and keeps the best converged one (the
    algorithm before issue 18, kept as the benchmark reference). Trace under
    ``prefstat._x64.x64_scope()``.
    """
    fit = _sequential_fit(n_users, n_classes, n_init, max_iter, newton_iter, accelerate)
    return fit(design, y, w, user, key, jnp.asarray(alpha, y.dtype), jnp.asarray(tol, y.dtype))


class LatentClassBT(DirectionMixin, PreferenceClassifier):
    """K-class mixture of Bradley-Terry models fitted by EM when user ids are known.

    Parameters
    ----------
    n_classes : int >= 1, default 3
    n_init : int >= 1, default 4
        EM starts; the one with the highest log-likelihood is kept.
    alpha : float, default 0.0
        L2 penalty ``alpha/2 ||beta_k||^2`` per class (needed only when a class
        separates its users' outcomes perfectly).
    tol : positive float, default 1e-6
        Stop when the log-likelihood changes by less than ``tol * |loglik|``. With
        one comparison per user the likelihood is nearly flat along a ridge and
        EM keeps drifting along it slowly: a tighter tol costs many iterations
        and can move the direction by degrees for a negligible likelihood gain.
    max_iter : int >= 1, default 1000
        EM iterations per start.
    random_state : int, numpy Generator or None
        Seed of the starts.
    cov_type : {"cluster", "model"}, default "cluster"
        Covariance of the reported parameters (:func:`inference_core`): the
        sandwich on per-user scores (users are the clusters; valid when the K-class
        model is only an approximation of the users' heterogeneity) or the inverse
        observed information of the mixture likelihood (Louis 1982; needs the model
        to hold). Both treat the users as independent draws from the population, so
        the class weights' uncertainty includes which users happened to be sampled.

    Attributes
    ----------
    weights_ : (K,) class probabilities, largest first
    class_coef_ : (K, d) BT weights of each class (same order)
    coef_ : (d,) population-average utility sum_k pi_k beta_k
    direction_ : (d,) ``coef_ / ||coef_||``
    users_ : user labels, in the row order of ``responsibilities_`` (n_users, K)
    loglik_, n_iter_, converged_, n_features_in_
    results_ : :class:`~prefstat.inference.EstimationResults` over the reported parameters
        ``pi[k]`` (class weights), ``class{k}:{feature}`` (class coefficients, classes in the
        order of ``weights_``), ``mean:{feature}`` (``coef_``) and ``direction:{feature}``
        (``direction_``), delta method from the free parameters; ``stderr_`` its standard errors
    feature_names_in_ : column names of a DataFrame ``X`` (when all strings); predict-time
        DataFrames must match them, order included

    Notes
    -----
    Every hyperparameter is validated by ``fit`` (a ValueError names it and its allowed range).
    :meth:`score` is the mean log-likelihood of the mixture for fresh users (ties as half
    wins), the default ``GridSearchCV`` scorer.
    """

    def __init__(self, n_classes=3, n_init=4, alpha=0.0, tol=1e-6, max_iter=1000, random_state=None,
                 cov_type="cluster"):
        self.n_classes = n_classes
        self.n_init = n_init
        self.alpha = alpha
        self.tol = tol
        self.max_iter = max_iter
        self.random_state = random_state
        self.cov_type = cov_type

    def _check_params(self) -> None:
        """Validate every hyperparameter (called by ``fit``)."""
        check_int("n_classes", self.n_classes, 1)
        check_int("n_init", self.n_init, 1)
        check_real("alpha", self.alpha, 0.0)
        check_real("tol", self.tol, 0.0, low_open=True)
        check_int("max_iter", self.max_iter, 1)
        check_random_state("random_state", self.random_state)
        check_option("cov_type", self.cov_type, ("cluster", "model"))

    @x64
    def fit(self, X, y=None, groups=None, sample_weight=None):
        """Fit on feature differences ``X`` (n, d), outcomes ``y`` and user ids ``groups``.

        ``groups`` (required): the id of the user who answered each row (the
        table's group column when ``X`` is a :class:`~prefstat.ComparisonTable`).
        Pass ``groups=np.arange(n)`` for one comparison per user.
        """
        self._check_params()
        table = as_table(X, y, sample_weight, groups, design="features", kind="features", who="LatentClassBT")
        self._reset_input_names(X)
        if table.group is None:
            raise ValueError("LatentClassBT needs user ids: pass groups= (the user who answered each row; "
                             "np.arange(n) if every comparison comes from a different user).")
        Z, y, w = table.features, table.outcome, table.weight
        n_rows, d = Z.shape
        codes, users = pd.factorize(table.group)
        n_users = len(users)
        rows = padded_size(n_rows)
        design, names = feature_design(Z, n_rows=rows, names=table.feature_names)
        seed = np.random.default_rng(self.random_state).integers(2**63)
        yj, wj, uj = jnp.asarray(pad_rows(y, rows)), jnp.asarray(pad_rows(w, rows)), jnp.asarray(pad_rows(codes, rows))
        res = fit_core(design, yj, wj, uj, jax.random.PRNGKey(seed), n_users=n_users,
                       n_classes=int(self.n_classes), n_init=int(self.n_init), alpha=float(self.alpha),
                       tol=float(self.tol), max_iter=int(self.max_iter))
        coef = np.asarray(res.coef, np.float64)
        if not np.all(np.isfinite(coef)):
            raise ValueError("EM produced non-finite class weights: a class separates its users' outcomes "
                             "perfectly. Use fewer classes or an L2 penalty (alpha > 0).")
        if not bool(res.converged):
            eta = np.abs(np.asarray(Z @ coef.T)).max()
            if eta >= DIVERGED_ETA and self.alpha == 0:
                raise ValueError("a latent class separates its users' outcomes perfectly (its BT weights run off "
                                 "to infinity). Use fewer classes or an L2 penalty (alpha > 0).")
            raise ValueError(f"EM did not converge in max_iter={self.max_iter} iterations from any of the "
                             f"{self.n_init} starts; increase max_iter or loosen tol.")
        order = np.argsort(-np.asarray(res.weights), kind="stable")
        self.weights_ = np.asarray(res.weights, np.float64)[order]
        self.class_coef_ = coef[order]
        self.coef_ = np.asarray(res.mean_coef, np.float64)
        self.direction_ = np.asarray(res.direction, np.float64)
        self.responsibilities_ = np.asarray(res.responsibilities, np.float64)[:, order]
        self.users_ = np.asarray(users)
        self.loglik_ = float(res.loglik)
        self.n_iter_ = int(res.n_iter)
        self.converged_ = True
        self.n_features_in_ = d
        self.classes_ = np.array([0, 1])
        self._set_results(design, yj, wj, uj, n_users, names, float(w.sum()))
        return self

    def _set_results(self, design, yj, wj, uj, n_users, names, n_obs) -> None:
        K = int(self.n_classes)
        if self.cov_type == "cluster" and n_users < 2:
            raise ValueError("cov_type='cluster' needs at least two users in groups; use cov_type='model'.")
        cov = np.full((K + (K + 2) * self.n_features_in_,) * 2, np.nan)
        if np.all(self.weights_ > 0):
            inf = inference_core(design, yj, wj, uj, jnp.asarray(self.weights_), jnp.asarray(self.class_coef_),
                                 n_users=n_users, n_classes=K, alpha=float(self.alpha))
            pieces = Inference(bread=np.asarray(inf.bread), T=np.asarray(inf.T), n_obs=n_obs,
                               group_scores=np.asarray(inf.user_scores))
            cov = pieces.cov(self.cov_type)
        if not np.all(np.isfinite(cov)):
            # the point estimates stand; only their covariance is undefined
            warn_caller("the covariance of the latent-class fit is not finite (a class has weight 0 or the "
                        "information matrix is singular): results_ holds NaN standard errors. Use fewer classes "
                        "(n_classes).")
        labels = ([f"pi[{k}]" for k in range(K)] + [f"class{k}:{f}" for k in range(K) for f in names]
                  + [f"mean:{f}" for f in names] + [f"direction:{f}" for f in names])
        estimate = np.concatenate([self.weights_, self.class_coef_.ravel(), self.coef_, self.direction_])
        self.results_ = EstimationResults(names=labels, estimate=estimate, cov=cov, cov_type=self.cov_type,
                                          n_obs=n_obs)
        self.stderr_ = self.results_.stderr

    # ------------------------------------------------------------- inference
    def conf_int(self, level: float = 0.95) -> pd.DataFrame:
        """Wald intervals of every reported parameter (``results_.names``) as a DataFrame ``lower``/``upper``."""
        check_is_fitted(self, "results_")
        return self.results_.conf_int(level)

    def summary(self, level: float = 0.95) -> pd.DataFrame:
        """Coefficient table of every reported parameter: estimate, stderr, z, p-value, interval."""
        check_is_fitted(self, "results_")
        return self.results_.summary(level)

    def conf_cone(self, level: float = 0.95) -> float:
        """Radius in degrees of the ``level`` confidence cone around ``direction_`` (delta method).

        The angle to the true direction is to first order the length of a normal
        tangent vector with the covariance of the ``direction:`` block; its quantile
        is exact (:func:`prefstat.geometry.gaussian_cone_radius`).
        """
        check_is_fitted(self, "results_")
        d = self.n_features_in_
        return gaussian_cone_radius(self.results_.cov[-d:, -d:], check_level(level))

    def decision_function(self, X) -> np.ndarray:
        """Population-average utility difference ``coef_^T z``."""
        return np.asarray(self._features(X) @ self.coef_).ravel()

    def predict_proba(self, X) -> np.ndarray:
        """(n, 2): P(right preferred), P(left preferred) for a fresh user: sum_k pi_k sigma(beta_k^T z)."""
        eta = np.asarray(self._features(X) @ self.class_coef_.T)
        p = (1.0 / (1.0 + np.exp(-eta))) @ self.weights_
        return np.column_stack([1.0 - p, p])

    def predict(self, X) -> np.ndarray:
        """1 where the population-average utility prefers the left option, else 0."""
        return (self.decision_function(X) > 0).astype(int)

    def score(self, X, y, sample_weight=None) -> float:
        """Mean log-likelihood per comparison of the mixture for a fresh user (weighted; ties as half wins).

        ``y log p + (1 - y) log(1 - p)`` with ``p = sum_k pi_k sigma(beta_k^T z)``
        (:meth:`predict_proba`); the default scorer of ``GridSearchCV``, which unlike
        ``scoring="accuracy"`` takes ties (y = 0.5) and soft labels.
        """
        check_is_fitted(self, "direction_")
        self._check_input_names(X)
        table = ComparisonTable.from_arrays(X, y, sample_weight, design="features")
        self._check_width(table.features)
        eta = np.asarray(table.features @ self.class_coef_.T)
        # log p and log(1 - p) of the mixture, in log space: log sum_k pi_k sigma(+-eta_k)
        with np.errstate(divide="ignore"):  # an empty class has weight 0: log 0 = -inf drops it
            log_w = np.log(self.weights_)
        log_p = np.logaddexp.reduce(log_w - np.logaddexp(0.0, -eta), axis=1)
        log_q = np.logaddexp.reduce(log_w - np.logaddexp(0.0, eta), axis=1)
        y, w = table.outcome, table.weight
        return float(np.sum(w * (y * log_p + (1.0 - y) * log_q)) / np.sum(w))
