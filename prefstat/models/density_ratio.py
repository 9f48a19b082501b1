r"""Relative density ratio of two samples: RuLSIF, the RDRO loss and the classifier plug-in.

**Estimand.** For a numerator law :math:`p_+` (e.g. features of preferred
completions) and a denominator law :math:`p_-` (non-preferred), the
alpha-relative density ratio

.. math::  r_\alpha(x) = \frac{p_+(x)}{\alpha p_+(x) + (1 - \alpha) p_-(x)} \le \frac1\alpha

and the alpha-relative Pearson divergence
:math:`PE_\alpha = \tfrac12 E_{q_\alpha}[(r_\alpha - 1)^2] = \tfrac12(E_{p_+}[r_\alpha] - 1)`,
:math:`q_\alpha = \alpha p_+ + (1-\alpha) p_-`. ``alpha = 0`` is the ordinary
ratio, unbounded where :math:`p_-` is small (allowed, but its estimates and
their variances can blow up); ``alpha = "prior"`` sets alpha to the numerator
share :math:`n_+/(n_+ + n_-)`, for which :math:`\alpha r_\alpha(x) = P(\text{numerator} \mid x)`.

**Assumptions.** Two independent i.i.d. samples, of any sizes; the numerator
and denominator enter every loss with weights alpha and 1 - alpha after
averaging within each sample, so unequal sizes change only the precision.

**Methods** (``method=``).

* ``"rulsif"`` (Yamada et al. 2011, 2013): :math:`g(x) = \sum_l \theta_l K(x, c_l)`,
  Gaussian kernel, ``n_centers`` centres drawn without replacement from the
  numerator sample (seeded), :math:`\theta = (H + \lambda I)^{-1} h` with
  :math:`H = \alpha\,\overline{\phi\phi^\top}_+ + (1-\alpha)\,\overline{\phi\phi^\top}_-`,
  :math:`h = \bar\phi_+`. Bandwidth and ridge by K-fold cross-validation on the
  alpha-weighted held-out squared loss, folds stratified by sample (the
  leave-one-out shortcut of ``densratio`` is exact only for alpha = 0 and is not
  used); the whole grid is one JAX computation (one eigendecomposition per
  bandwidth and fold). Default bandwidths: the median distance between the
  rows and the centres times :math:`2^{-3}, 2^{-2.5}, \dots, 2^{1}` (9); default
  ridges :math:`10^{-5}, 10^{-4.5}, \dots, 10` (13). Bandwidths for which every kernel value
  between distinct points underflows to 0 are skipped (an error if all are).
  The fitted :math:`g` is not constrained to be positive (nothing is clipped):
  ``predict_ratio`` returns it as is and ``predict_log_ratio`` raises where it
  is not positive.
* ``"logistic"`` (the RDRO loss, Takahashi et al. 2026): a linear score
  :math:`s = F\beta` in the features (``basis``: an intercept plus ``"linear"``
  or ``"quadratic"`` terms, or a callable feature map) minimising
  :math:`\overline{\mathrm{softplus}(-s)}_+ + \alpha\,\overline{\mathrm{softplus}(s)}_+
  + (1-\alpha)\,\overline{\mathrm{softplus}(s)}_-` (each sample averaged separately),
  whose pointwise minimiser is :math:`s = \log r_\alpha`; it is the shared
  soft-target logistic loss with per-row weights, solved by damped Newton
  (:func:`prefstat.losses.logistic_fit`). Bounded gradients for alpha > 0 and
  a minimiser that exists even when the samples are separated; with alpha = 0
  separation has no minimiser (an error). The score itself is not constrained:
  its population minimiser is bounded by ``log(1/alpha)``, an estimate can
  exceed it by its estimation error.
* ``"classifier"``: :math:`f = \log(p_+/p_-)` from a probabilistic classifier
  of sample membership, mapped to :math:`r_\alpha = 1/(\alpha + (1-\alpha)e^{-f})`
  (bounded by construction). Default: unpenalised logistic regression on the
  ``basis`` features (prefstat's Newton solver); or any scikit-learn classifier
  with ``predict_proba`` (``classifier=``, fitted on the raw features).
  ``class_weight="balanced"`` gives each sample total weight 1/2, so the log
  odds estimate :math:`f` directly; ``None`` fits unweighted and removes the
  prior odds :math:`\log(n_+/n_-)` of the training rows (Bayes' rule). With
  ``class_weight=None`` and ``alpha="prior"``, :math:`\alpha\hat r_\alpha` is
  exactly the classifier's probability.

**Divergence and its interval** (:meth:`RelativeDensityRatio.pearson_divergence`).
The estimate is the variational form
:math:`\widehat{PE} = \overline{g - \alpha g^2/2}_+ - \tfrac{1-\alpha}2\overline{g^2}_- - \tfrac12`
(Yamada's plug-in) evaluated at *cross-fitted* ratio values: row :math:`r` in
fold :math:`k` gets :math:`g` from the fit without fold :math:`k` (same
hyperparameters). The functional is maximised at :math:`g = r_\alpha`, so an
error in :math:`g` changes it only at second order (Neyman orthogonality):
with out-of-fold :math:`g` the estimate is an average of independent terms
given the fold fits, and its standard error is the two-sample
influence-function one,
:math:`\widehat{\mathrm{Var}}_+(g - \alpha g^2/2)/n_+ + \widehat{\mathrm{Var}}_-((1-\alpha)g^2/2)/n_-`,
with a Wald interval. The in-sample plug-in (``pe_in_sample_``) is biased
upwards by overfitting, by about the fit's effective degrees of freedom over
n, which is not small against the standard error for a 100-centre kernel
model; the cross-fitted one is biased downwards by
:math:`\tfrac12 E_{q_\alpha}[(\hat g - r_\alpha)^2]`, second order but, for a
kernel fit in several dimensions, not small against the standard error (about
half of it in d = 5 at n = 2000). For RuLSIF, whose fit is linear in its
coefficients, the part of that bias due to the variance of the fold fits,
:math:`\tfrac12\operatorname{tr}(H\,\widehat{\mathrm{Cov}}\,\hat\theta)`, is estimated by
the sandwich formula on each fold's training rows and added back
(``pe_correction_``, :func:`~prefstat.models.density_ratio_core.rulsif_pe_correction`);
the smoothing bias :math:`\tfrac12 E_{q_\alpha}[(g_\lambda - r_\alpha)^2]` is not
estimable and remains. A bootstrap would refit the model B times and inherit
the in-sample bias. Measured coverage of the 95% interval: see
``docs/methods.md#relative-density-ratio`` and ``tests/test_density_ratio_coverage.py``.

**Two-sample test** (:meth:`RelativeDensityRatio.two_sample_test`). Permutation
test of :math:`p_+ = p_-` with the in-sample divergence as statistic, refitted
on every relabelling of the pooled rows with the fitted hyperparameters
(bandwidth, ridge, centre points, basis) held fixed, as in the least-squares
two-sample test of Sugiyama et al. (2011); p-value ``(1 + #{T* >= T}) / (1 + B)``.

See ``docs/methods.md#relative-density-ratio``.
"""
from __future__ import annotations

from typing import NamedTuple

import jax.numpy as jnp
import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted

from .._x64 import x64
from ..data import describe_rows, nonfinite_rows
from ..inference import EstimationResults
from ..nuisance import assign_folds, crossfit_predict, fold_size_ratio
from ..validation import (check_int, check_option, check_random_state, check_real, is_probabilistic_classifier)
from .density_ratio_core import (gaussian_kernel, log_relative_ratio, logistic_fold_coefs, logistic_perm_pe,
                                 pe_variational, rulsif_fit_core, rulsif_perm_pe, squared_distances)

__all__ = ["RelativeDensityRatio", "TwoSampleTestResult", "winners_losers", "DR_METHODS"]

DR_METHODS = ("rulsif", "logistic", "classifier")
BASES = ("linear", "quadratic")


class TwoSampleTestResult(NamedTuple):
    statistic: float  # in-sample PE_alpha on the observed labels
    p_value: float  # (1 + #{permuted >= observed}) / (1 + n_permutations)
    n_permutations: int
    null_statistics: np.ndarray  # (n_permutations,)


def _as_sample(name: str, X) -> np.ndarray:
    try:
        A = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be a numeric (n, d) array; {err}.") from None
    if A.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (n, d) array; got shape {A.shape} (reshape one feature with "
                         ".reshape(-1, 1)).")
    if A.shape[0] == 0 or A.shape[1] == 0:
        raise ValueError(f"{name} is empty (shape {A.shape}); both samples need rows and at least one feature.")
    bad = nonfinite_rows(A)
    if bad.any():
        raise ValueError(f"{name} has NaN or infinite features on {describe_rows(bad)}; remove or impute them.")
    return A


def winners_losers(X_left, X_right, y):
    """``(X_winner, X_loser)`` of a comparison table: the preferred option's features as numerator.

    ``y``: 1 left preferred, 0 right preferred. Ties (``y = 0.5``) have no
    winner and are an error: decide how to use them (drop, or count the pair in
    both samples) before calling.
    """
    L, R = _as_sample("X_left", X_left), _as_sample("X_right", X_right)
    if L.shape != R.shape:
        raise ValueError(f"X_left and X_right must have the same shape; got {L.shape} and {R.shape}.")
    y = np.asarray(y, np.float64).reshape(-1)
    if y.size != L.shape[0]:
        raise ValueError(f"y has {y.size} entries but X_left has {L.shape[0]} rows.")
    bad = ~np.isin(y, (0.0, 1.0))
    if bad.any():
        raise ValueError(f"y must be 1 (left preferred) or 0 (right preferred); ties or other values on "
                         f"{describe_rows(bad)} have no winner: drop them or assign them explicitly.")
    left = y == 1.0
    return np.where(left[:, None], L, R), np.where(left[:, None], R, L)


def _quadratic(X):
    i, j = np.triu_indices(X.shape[1])
    return np.hstack([X, X[:, i] * X[:, j]])


class RelativeDensityRatio(BaseEstimator):
    """alpha-relative density ratio and Pearson divergence of a numerator and a denominator sample.

    Estimand, methods, inference and references: see the module docstring
    (:mod:`prefstat.models.density_ratio`).

    Parameters
    ----------
    alpha : float in [0, 1) or "prior", default 0.5
        Mixture weight; ``r_alpha <= 1/alpha``. 0 is the ordinary (unbounded) ratio.
    method : {"rulsif", "logistic", "classifier"}, default "rulsif"
    n_centers : int >= 1, default 100
        RuLSIF kernel centres (at most the numerator size).
    sigma_grid, lambda_grid : sequences of positive numbers or None
        RuLSIF bandwidths and ridges searched by cross-validation (None: defaults in the module docstring).
    n_folds : int >= 2, default 5
        Folds of the cross-validation (RuLSIF) and of the cross-fitted divergence (every method).
    basis : {"linear", "quadratic"} or callable, default "linear"
        Features of the ``"logistic"`` score and of the built-in classifier; a callable maps an
        (n, d) array to an (n, q) array (no constant column: an intercept is always added).
    penalty : float >= 0, default 0
        L2 penalty on the non-intercept coefficients of the ``"logistic"`` score and the built-in
        classifier (on the per-sample-averaged loss).
    classifier : scikit-learn classifier with ``predict_proba`` or None
        ``method="classifier"`` model (None: built-in logistic regression on ``basis``).
    class_weight : {"balanced", None}, default "balanced"
        Class weighting of the classifier (module docstring).
    random_state : int, numpy Generator or None
        Seed of the centres, the folds and nothing else (no global numpy state is used).
    tol, max_iter : Newton stopping rule and iteration cap of the logistic fits.

    Attributes
    ----------
    alpha_ : float (the numerator share for ``alpha="prior"``)
    n_numerator_, n_denominator_, n_features_in_ : sizes
    pe_, pe_stderr_ : cross-fitted divergence and its standard error; ``pe_in_sample_`` the in-sample plug-in
    pe_correction_ : the variance correction included in ``pe_`` (RuLSIF; 0 for the other methods)
    oof_ratio_ : (n_numerator + n_denominator,) cross-fitted ratio values (numerator rows first)
    centers_, theta_, sigma_, lambda_, cv_losses_ : RuLSIF fit (``cv_losses_``: (bandwidths, ridges) held-out loss)
    coef_ : coefficients of the logistic score / built-in classifier (intercept first)
    classifier_ : the fitted scikit-learn classifier (``classifier=``)
    """

    def __init__(self, alpha=0.5, method: str = "rulsif", *, n_centers: int = 100, sigma_grid=None,
                 lambda_grid=None, n_folds: int = 5, basis="linear", penalty: float = 0.0, classifier=None,
                 class_weight="balanced", random_state=None, tol: float = 1e-12, max_iter: int = 100):
        self.alpha = alpha
        self.method = method
        self.n_centers = n_centers
        self.sigma_grid = sigma_grid
        self.lambda_grid = lambda_grid
        self.n_folds = n_folds
        self.basis = basis
        self.penalty = penalty
        self.classifier = classifier
        self.class_weight = class_weight
        self.random_state = random_state
        self.tol = tol
        self.max_iter = max_iter

    # ------------------------------------------------------------------ fitting
    def _check_params(self):
        self._method = check_option("method", self.method, DR_METHODS)
        if not (isinstance(self.alpha, str) and self.alpha == "prior"):
            check_real("alpha", self.alpha, 0.0, 1.0, high_open=True,
                       extra=" Use 'prior' for the numerator share; alpha = 0 (the ordinary ratio) is allowed "
                             "but unbounded.")
        check_int("n_centers", self.n_centers, 1)
        check_int("n_folds", self.n_folds, 2)
        check_int("max_iter", self.max_iter, 1)
        check_real("tol", self.tol, 0.0, low_open=True)
        check_real("penalty", self.penalty, 0.0)
        check_random_state("random_state", self.random_state)
        if not callable(self.basis):
            check_option("basis", self.basis, BASES)
        if self.class_weight is not None:
            check_option("class_weight", self.class_weight, ("balanced",))
        if self.classifier is not None:
            if self._method != "classifier":
                raise ValueError(f"classifier is used only with method='classifier'; got method={self.method!r}.")
            if not is_probabilistic_classifier(self.classifier):
                raise ValueError(f"classifier must be a scikit-learn classifier with predict_proba; got "
                                 f"{self.classifier!r}.")
        self._sigma_grid = self._grid("sigma_grid", self.sigma_grid)
        self._lambda_grid = self._grid("lambda_grid", self.lambda_grid)

    @staticmethod
    def _grid(name, grid):
        if grid is None:
            return None
        g = np.atleast_1d(np.asarray(grid, np.float64)) if not isinstance(grid, str) else np.array([np.nan])
        if g.ndim != 1 or g.size == 0 or not np.all(np.isfinite(g)) or np.any(g <= 0):
            raise ValueError(f"{name} must be a non-empty sequence of positive finite numbers; got {grid!r}.")
        return g

    def fit(self, X, y):
        """Fit from ``fit(X_numerator, X_denominator)`` (two 2-D arrays), or ``fit(X, y)`` with ``y`` (1-D)
        1 on numerator rows and 0 on denominator rows."""
        self._check_params()
        X = _as_sample("X" if np.ndim(y) == 1 else "X_numerator", X)
        if np.ndim(y) == 1:
            lab = np.asarray(y)
            if lab.shape[0] != X.shape[0]:
                raise ValueError(f"y has {lab.shape[0]} entries but X has {X.shape[0]} rows.")
            bad = ~np.isin(lab, (0, 1))
            if bad.any():
                raise ValueError(f"y must be 1 (numerator row) or 0 (denominator row); other values on "
                                 f"{describe_rows(bad)}. To pass a one-feature denominator sample, give it as a "
                                 "2-D (m, 1) array.")
            lab = lab.astype(bool)
            Xp, Xm = X[lab], X[~lab]
            if Xp.shape[0] == 0 or Xm.shape[0] == 0:
                raise ValueError(f"y marks {Xp.shape[0]} numerator and {Xm.shape[0]} denominator rows; both "
                                 "samples need rows.")
        else:
            Xp, Xm = X, _as_sample("X_denominator", y)
            if Xm.shape[1] != Xp.shape[1]:
                raise ValueError(f"X_numerator has {Xp.shape[1]} features but X_denominator has {Xm.shape[1]}.")
        return self._fit(Xp, Xm)

    def fit_comparisons(self, X_left, X_right, y):
        """Fit with the preferred option's features as numerator and the other's as denominator
        (:func:`winners_losers`)."""
        return self.fit(*winners_losers(X_left, X_right, y))

    @x64
    def _fit(self, Xp, Xm):
        n_p, n_m = Xp.shape[0], Xm.shape[0]
        K = self.n_folds
        if min(n_p, n_m) < K:
            raise ValueError(f"n_folds={K} needs at least {K} rows in each sample; got {n_p} numerator and "
                             f"{n_m} denominator rows.")
        self.alpha_ = n_p / (n_p + n_m) if isinstance(self.alpha, str) else float(self.alpha)
        self.n_numerator_, self.n_denominator_, self.n_features_in_ = n_p, n_m, Xp.shape[1]
        Z = np.vstack([Xp, Xm])
        lab = np.r_[np.ones(n_p), np.zeros(n_m)]
        rng = np.random.default_rng(self.random_state)
        folds = assign_folds(lab, K, random_state=rng)
        self._Z, self._label, self._folds = Z, lab, folds
        self.pe_correction_ = 0.0  # only RuLSIF's linear fit has an estimable variance correction
        fit = {"rulsif": self._fit_rulsif, "logistic": self._fit_logistic, "classifier": self._fit_classifier}
        g_oof, g_in = fit[self._method](Z, lab, folds, rng)
        if not (np.all(np.isfinite(g_oof)) and np.all(np.isfinite(g_in))):
            raise ValueError("the fitted ratio is infinite at some rows (alpha = 0 and a classifier probability of "
                             "1: no overlap). Use alpha > 0, whose ratio is bounded by 1/alpha.")
        self.oof_ratio_ = g_oof
        jl = jnp.asarray(lab)
        pe, se = pe_variational(jnp.asarray(g_oof), jl, 1.0 - jl, self.alpha_)
        self.pe_, self.pe_stderr_ = float(pe) + self.pe_correction_, float(se)
        self.pe_in_sample_ = float(pe_variational(jnp.asarray(g_in), jl, 1.0 - jl, self.alpha_)[0])
        return self

    def _fold_rows(self, lab, folds):
        """``((rows_p, rows_m), fp, fm)``: per fold, the indices of its numerator and of its denominator
        rows, each padded to a common length, and their weights (1, or 0 on padding)."""
        K = self.n_folds
        out = []
        for sample in (lab == 1, lab == 0):
            members = [np.flatnonzero(sample & (folds == k)) for k in range(K)]
            m = max(len(i) for i in members)
            rows, valid = np.zeros((K, m), np.int64), np.zeros((K, m))
            for k, idx in enumerate(members):
                rows[k, :idx.size], valid[k, :idx.size] = idx, 1.0
            out.append((rows, valid))
        (rows_p, fp), (rows_m, fm) = out
        return (rows_p, rows_m), fp, fm

    def _fit_rulsif(self, Z, lab, folds, rng):
        n_p = self.n_numerator_
        b = min(self.n_centers, n_p)
        C = Z[rng.choice(n_p, size=b, replace=False)]
        d2 = np.asarray(squared_distances(jnp.asarray(Z), jnp.asarray(C)))
        positive = d2[d2 > 0]
        sigmas = self._sigma_grid
        if sigmas is None:
            scale = np.sqrt(np.median(positive)) if positive.size else 1.0
            sigmas = scale * 2.0 ** np.linspace(-3, 1, 9)
        lams = self._lambda_grid if self._lambda_grid is not None else 10.0 ** np.linspace(-5, 1, 13)
        # a bandwidth whose kernel is 0 between every pair of distinct points fits only the centres themselves
        usable = np.ones(sigmas.size, bool) if not positive.size else np.exp(-0.5 * positive.min() / sigmas**2) > 0
        if not usable.any():
            raise ValueError(f"every kernel value between distinct points underflows to 0 for every bandwidth in "
                             f"sigma_grid (largest {sigmas.max():.6g}; smallest distance between a row and a "
                             f"centre {np.sqrt(positive.min()):.6g}); use larger bandwidths.")
        rows, fp, fm = self._fold_rows(lab, folds)
        out = rulsif_fit_core(jnp.asarray(Z), jnp.asarray(C), jnp.asarray(lab), jnp.asarray(folds),
                              jnp.asarray(sigmas), jnp.asarray(lams), self.alpha_, tuple(map(jnp.asarray, rows)),
                              jnp.asarray(fp), jnp.asarray(fm), jnp.asarray(usable))
        self.sigma_, self.lambda_ = float(out["sigma"]), float(out["lam"])
        self.sigma_grid_, self.lambda_grid_, self.cv_losses_ = sigmas, lams, np.asarray(out["losses"])
        self.centers_, self.theta_ = C, np.asarray(out["theta"])
        self.pe_correction_ = float(out["pe_correction"])
        return np.asarray(out["g_oof"]), np.asarray(out["g_in"])

    def _features(self, X):
        if callable(self.basis):
            F = np.asarray(self.basis(X), np.float64)
            if F.ndim != 2 or F.shape[0] != X.shape[0] or not np.all(np.isfinite(F)):
                raise ValueError(f"basis must map an (n, d) array to a finite (n, q) array; got shape {F.shape} "
                                 f"for {X.shape[0]} rows.")
        else:
            F = X if self.basis == "linear" else _quadratic(X)
        return np.hstack([np.ones((X.shape[0], 1)), F])

    def _logistic_kind(self):
        if self._method == "logistic":
            return "rdro"
        return "balanced" if self.class_weight == "balanced" else "unweighted"

    def _fit_logistic(self, Z, lab, folds, rng):
        F = self._features(Z)
        pen = np.r_[0.0, np.full(F.shape[1] - 1, float(self.penalty))]
        kind = "rdro" if self._method == "logistic" else self._logistic_kind()
        bk, offk, beta, off, conv = logistic_fold_coefs(
            jnp.asarray(F), jnp.asarray(lab), jnp.asarray(1.0 - lab), jnp.asarray(folds), self.alpha_,
            jnp.asarray(pen), kind, self.n_folds, gtol=self.tol, max_iter=self.max_iter)
        if not bool(conv):
            why = (" With alpha = 0 the RDRO loss has no minimiser when the samples are (nearly) separated: use "
                   "alpha > 0." if kind == "rdro" and self.alpha_ == 0 else
                   " The samples may be separated in these features: add a penalty or use method='rulsif'.")
            raise ValueError(f"the {'RDRO' if kind == 'rdro' else 'logistic'} fit did not converge in max_iter="
                             f"{self.max_iter} Newton steps.{why}")
        self.coef_, self._offset = np.asarray(beta), float(off)
        s_oof = jnp.sum(jnp.asarray(F) * bk[jnp.asarray(folds)], axis=1) - offk[jnp.asarray(folds)]
        s_in = jnp.asarray(F) @ beta - off
        if kind != "rdro":
            s_oof, s_in = log_relative_ratio(s_oof, self.alpha_), log_relative_ratio(s_in, self.alpha_)
        return np.exp(np.asarray(s_oof)), np.exp(np.asarray(s_in))

    def _fit_classifier(self, Z, lab, folds, rng):
        if self.classifier is None:
            return self._fit_logistic(Z, lab, folds, rng)
        balanced = self.class_weight == "balanced"
        n_p, n_m = self.n_numerator_, self.n_denominator_
        sw = np.where(lab == 1, 0.5 / n_p, 0.5 / n_m) * (n_p + n_m) if balanced else None
        self.classifier_ = clone(self.classifier)
        self.classifier_.fit(Z, lab.astype(int), **({} if sw is None else {"sample_weight": sw}))
        p_oof = crossfit_predict(clone(self.classifier), Z, lab.astype(int), folds, sample_weight=sw,
                                 method="predict_proba")[:, 1]
        # prior odds of the training rows (0 when balanced): f = logit P - log(n+/n-)
        self._offset = 0.0 if balanced else float(np.log(n_p / n_m))
        off_k = 0.0 if balanced else -np.log(np.asarray(fold_size_ratio(jnp.asarray(lab), jnp.ones(lab.size),
                                                                         jnp.asarray(folds), self.n_folds)))[folds]
        g_oof = np.exp(np.asarray(log_relative_ratio(jnp.asarray(_logit(p_oof) - off_k), self.alpha_)))
        return g_oof, self._predict_ratio_values(Z)

    # ------------------------------------------------------------------ prediction
    def _check_X(self, X, name="X"):
        check_is_fitted(self, "pe_")
        A = _as_sample(name, X)
        if A.shape[1] != self.n_features_in_:
            raise ValueError(f"{name} has {A.shape[1]} features but the model was fitted on {self.n_features_in_}.")
        return A

    @x64
    def _log_f(self, X):
        """log p+/p- (classifier) or the log ratio itself (logistic), on validated rows."""
        if self._method == "classifier" and self.classifier is not None:
            col = list(self.classifier_.classes_).index(1)
            return _logit(self.classifier_.predict_proba(X)[:, col]) - self._offset
        return self._features(X) @ self.coef_ - self._offset

    @x64
    def _predict_ratio_values(self, X):
        if self._method == "rulsif":
            return np.asarray(gaussian_kernel(jnp.asarray(X), jnp.asarray(self.centers_), self.sigma_)
                              @ jnp.asarray(self.theta_))
        return np.exp(self._predict_log_values(X))

    @x64
    def _predict_log_values(self, X):
        if self._method == "rulsif":
            g = self._predict_ratio_values(X)
            bad = g <= 0
            if bad.any():
                raise ValueError(f"the RuLSIF ratio is not positive on {describe_rows(bad)} of X (a kernel "
                                 "expansion, never clipped): its log is undefined there. Use method='logistic' or "
                                 "'classifier' for log ratios far from the data.")
            return np.log(g)
        f = self._log_f(X)
        if self._method == "logistic":
            return np.asarray(f)
        return np.asarray(log_relative_ratio(jnp.asarray(f), self.alpha_))

    def predict_ratio(self, X) -> np.ndarray:
        """(n,) estimated ``r_alpha`` at the rows of ``X``."""
        return self._predict_ratio_values(self._check_X(X))

    def predict_log_ratio(self, X) -> np.ndarray:
        """(n,) estimated ``log r_alpha`` at the rows of ``X`` (RuLSIF: an error where the fit is not positive)."""
        return self._predict_log_values(self._check_X(X))

    def score_pairs(self, X_a, X_b) -> np.ndarray:
        """(n,) preference score ``log r_alpha(x_a) - log r_alpha(x_b)`` of option a over option b."""
        A, B = self._check_X(X_a, "X_a"), self._check_X(X_b, "X_b")
        if A.shape[0] != B.shape[0]:
            raise ValueError(f"X_a has {A.shape[0]} rows but X_b has {B.shape[0]}.")
        return self._predict_log_values(A) - self._predict_log_values(B)

    # ------------------------------------------------------------------ inference
    def pearson_divergence(self) -> EstimationResults:
        """Cross-fitted ``PE_alpha`` with its influence-function standard error (module docstring), as an
        :class:`~prefstat.inference.EstimationResults` (``params``, ``bse``, ``conf_int(level)``, ``summary()``)."""
        check_is_fitted(self, "pe_")
        return EstimationResults(names=("PE_alpha",), estimate=np.array([self.pe_]),
                                 cov=np.array([[self.pe_stderr_**2]]), cov_type="influence (cross-fitted)",
                                 n_obs=float(self.n_numerator_ + self.n_denominator_))

    @x64
    def two_sample_test(self, n_permutations: int = 1000, random_state=None) -> TwoSampleTestResult:
        """Permutation test of ``p_+ = p_-`` (module docstring): statistic, p-value and null draws."""
        check_is_fitted(self, "pe_")
        B = check_int("n_permutations", n_permutations, 1)
        rng = np.random.default_rng(check_random_state("random_state", random_state))
        lab = self._label
        labels = np.vstack([lab] + [rng.permutation(lab) for _ in range(B)])
        stats = np.asarray(self._perm_statistics(labels))
        obs, null = float(stats[0]), stats[1:]
        return TwoSampleTestResult(statistic=obs, p_value=float((1 + np.sum(null >= obs)) / (1 + B)),
                                   n_permutations=B, null_statistics=null)

    def _perm_statistics(self, labels):
        Z = self._Z
        if self._method == "rulsif":
            Phi = gaussian_kernel(jnp.asarray(Z), jnp.asarray(self.centers_), self.sigma_)
            return rulsif_perm_pe(Phi, jnp.asarray(labels), self.alpha_, self.lambda_)
        if self.classifier is None:
            F = self._features(Z)
            pen = np.r_[0.0, np.full(F.shape[1] - 1, float(self.penalty))]
            return logistic_perm_pe(jnp.asarray(F), jnp.asarray(labels), self.alpha_, jnp.asarray(pen),
                                    self._logistic_kind(), gtol=self.tol, max_iter=self.max_iter)
        balanced = self.class_weight == "balanced"
        n_p, n_m = self.n_numerator_, self.n_denominator_
        out = []
        for lab in labels:  # a scikit-learn classifier: one refit per relabelling (sizes are unchanged)
            sw = np.where(lab == 1, 0.5 / n_p, 0.5 / n_m) * (n_p + n_m) if balanced else None
            clf = clone(self.classifier).fit(Z, lab.astype(int), **({} if sw is None else {"sample_weight": sw}))
            p = clf.predict_proba(Z)[:, list(clf.classes_).index(1)]
            g = jnp.exp(log_relative_ratio(jnp.asarray(_logit(p) - self._offset), self.alpha_))
            jl = jnp.asarray(lab)
            out.append(float(pe_variational(g, jl, 1.0 - jl, self.alpha_)[0]))
        return np.asarray(out)


def _logit(p):
    p = np.asarray(p, np.float64)
    with np.errstate(divide="ignore"):
        return np.log(p) - np.log1p(-p)
