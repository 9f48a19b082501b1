r"""Bradley-Terry with biased AI-judge labels: residual correction, PPI++ power tuning, density ratios.

One comparison table holds two samples (docs/methods.md#debiased-bradley-terry): the *pool*
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
each sample (:math:`C_{vv} = C_{AA}/n + V_A/N`, docs/methods.md#debiased-bradley-terry). The
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
estimating equation is not Neyman-orthogonal in :math:`w`; DIPO, docs/methods.md#dipo,
is the doubly robust alternative). Overlap diagnostics:
Kish's effective sample size of the human weights, the largest weight and the
share of the weight held by the top 1% of human units; a warning when the
effective size is below a fifth of the human sample. Weights are never clipped.

**Where the pieces live.** The pure core (root finding, PPI++ tuning,
influence values) is :mod:`prefstat.models.debiased_core`; the two-sample view,
folds, cross-fitted classifiers, density ratios and overlap diagnostics are in
:mod:`prefstat.nuisance`; the covariances come from
:mod:`prefstat.inference.influence`, and results are reported through
:class:`prefstat.inference.EstimationResults` (``results_``).
"""
from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.utils.validation import check_is_fitted

from .._x64 import x64
from ..data import ComparisonTable, factorize_items, table_arrays
from ..distributed import TransferLog, as_partitioned, distinct_debiased_rows, fit_debiased_features, is_partitioned
from ..design import SparseRowsDesign, feature_design, pad_rows, padded_size
from ..existence import check_identifiable
from ..inference import influence_sandwich
from ..validation import (check_bool, check_int, check_option, check_random_state, check_real,
                          is_probabilistic_classifier)
from ..nuisance import (PoorOverlapWarning, assign_folds, check_finite_ratio, crossfit_logistic_ratio,
                        crossfit_predict, density_ratio_from_proba, fold_size_ratio, group_codes, known_ratio,
                        split_samples, warn_poor_overlap, weight_diagnostics)
from .bradley_terry import BradleyTerry, item_design, item_transform
from .debiased_core import DebiasedFit, fit_core, row_weights

# PoorOverlapWarning and crossfit_logistic_ratio live in prefstat.nuisance; re-exported here, where they were first.
__all__ = ["DebiasedBradleyTerry", "DebiasedFit", "PoorOverlapWarning", "fit_core", "crossfit_logistic_ratio",
           "fit_ai_only", "fit_naive_pooled"]


# --------------------------------------------------------------------------- estimator
class DebiasedBradleyTerry(BradleyTerry):
    """Bradley-Terry for human preferences from cheap, biased AI-judge labels plus a small human sample.

    One table: rows with a human label ``y`` form the human sample, rows with
    ``y = NaN`` the AI-labelled pool; ``ai_label`` (0/1 or the judge's
    probability) is given on every row. The estimate targets the BT fit an
    oracle would get with human labels on the whole pool (docs/methods.md#debiased-bradley-terry;
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
    coef_, stderr_, cov_, order_effect_, order_effect_stderr_, items_ or n_features_in_
        As in :class:`~prefstat.BradleyTerry`.
    lam_ : the lambda used
    n_eff_ : effective number of human labels, n x tr V(human-only) / tr V
    density_ratio_ : weights used on the human rows (in row order)
    weight_ess_, weight_max_ : Kish effective size and largest of those weights
    n_human_, n_pool_ : sample sizes (frequency weighted)
    diagnostics_ : dict of the above plus the judge-human disagreement rate, the
        unclipped tuned lambda, the mean weight and the top-1% weight share
    converged_, n_iter_
    results_ : :class:`~prefstat.inference.EstimationResults` of every reported parameter (order
        effect included): ``conf_int``, ``summary``, ``t_test``/``contrast``, ``wald_test``, ``pairwise``.
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
        if self.classifier is not None and not is_probabilistic_classifier(self.classifier):
            raise ValueError("classifier must be a scikit-learn classifier with predict_proba (or None for the "
                             f"built-in logistic regression); got {self.classifier!r}.")
        check_int("n_folds", self.n_folds, 2)
        check_option("cov_type", self.cov_type, ("robust", "cluster"))
        check_bool("order_effect", self.order_effect)
        check_option("design", self.design, ("auto", "items", "features"))
        check_random_state("random_state", self.random_state)
        check_real("tol", self.tol, 0.0, low_open=True)
        check_int("max_iter", self.max_iter, 1)

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
        self.n_features_in_ = Z.shape[1]
        design, names = feature_design(Z, order=o, n_rows=mp, names=table.feature_names)
        if o is not None:
            Z = sp.hstack([Z, o[:, None]], format="csr") if sp.issparse(Z) else np.column_stack([Z, o])
        feats = (Z.toarray() if sp.issparse(Z) else Z) if classifier_features else None
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
        (or per row; pool entries are ignored). ``X`` may instead be a
        :class:`~prefstat.ComparisonTable` with an ``ai_label`` column and NaN
        outcomes on the pool rows (it carries y, ai_label, weights, groups and
        order; pass none of them); the fit is the same as on its arrays.
        """
        self._check_params()
        log = None
        if is_partitioned(X) and as_partitioned(X, ai_label=True).kind == "features":
            return self._fit_partitioned_features(as_partitioned(X, ai_label=True), y, ai_label, sample_weight,
                                                  groups, order, density_ratio)
        if is_partitioned(X):
            log = TransferLog()
            X, y, ai_label, sample_weight, groups, order = self._partitioned_rows(
                X, y, ai_label, sample_weight, groups, order, density_ratio, log)
        if isinstance(X, ComparisonTable):
            X, y, ai_label, sample_weight, groups, order = table_arrays(X, y, ai_label, sample_weight, groups,
                                                                        order, "DebiasedBradleyTerry")
        for attr in ("items_", "n_features_in_"):
            self.__dict__.pop(attr, None)
        self._reset_input_names(X)
        human, y_filled, ai = split_samples(y, ai_label)
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
        w = np.ones(m) if density_ratio is None else known_ratio(density_ratio, human)
        codes = group_codes(groups, human, m) if self.cov_type == "cluster" and groups is not None else None
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
            # stratified by sample (human rows first), seeded: SampleStratifiedKFold
            folds = assign_folds((~human).astype(int), self.n_folds, self.random_state)
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
        info0 = np.asarray(design.gram(0.25 * row_weights(res.lam, *arrays[:5], n, N)[0]))
        self._check_fit(res, T, names, info0)
        w = np.asarray(res.weight)[:m]
        cov_free = np.asarray(res.cov) if codes is None else self._cluster_cov(res, design, human, f, codes, mp)
        cov_all = T @ cov_free @ T.T
        if not np.all(np.isfinite(cov_all)):
            raise ValueError("the covariance is not finite: the weights are too large (or too extreme) for "
                             "float64; rescale sample_weight or density_ratio.")
        est_all = T @ np.asarray(res.theta)
        self._set_estimates(est_all, cov_all, names, n + N)
        self.lam_ = float(res.lam)
        self.n_human_, self.n_pool_ = n, N
        self.density_ratio_ = w[human]
        fh = f[human]
        weights = weight_diagnostics(self.density_ratio_, fh)
        self.weight_ess_, self.weight_max_ = weights.ess, weights.max
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
            "weight_mean": weights.mean,
            "weight_top1_share": weights.top1_share,
        }
        if density_ratio is not None or use_classifier:
            warn_poor_overlap(weights, stacklevel=2)
        self.__dict__.pop("distributed_", None)
        if log is not None:
            self.distributed_ = log.as_dict()
        self.nobs_ = n + N
        self.n_iter_ = int(res.n_iter)
        self.converged_ = True
        self.classes_ = np.array([0, 1])
        return self

    def _partitioned_rows(self, X, y, ai_label, sample_weight, groups, order, density_ratio, log):
        """The distinct rows of a partitioned item-level table with summed weights (exact: frequency weights).

        See :mod:`prefstat.distributed.debiased`. Returns the arguments of the in-memory ``fit``.
        """
        self._check_partitioned_call(y, ai_label, sample_weight, groups, order, density_ratio)
        rows = distinct_debiased_rows(as_partitioned(X, ai_label=True), with_group=self.cov_type == "cluster",
                                      log=log)
        return rows["X"], rows["y"], rows["ai_label"], rows["sample_weight"], rows["groups"], rows["order"]

    def _check_partitioned_call(self, y, ai_label, sample_weight, groups, order, density_ratio):
        """Errors shared by both partitioned paths: columns passed beside a table that carries its own, and
        classifier density ratios (their folds are drawn per row)."""
        passed = [n for n, v in (("y", y), ("ai_label", ai_label), ("sample_weight", sample_weight),
                                 ("groups", groups), ("order", order), ("density_ratio", density_ratio))
                  if v is not None]
        if passed:
            raise ValueError(f"a partitioned table carries its own columns; do not pass {', '.join(passed)} with it "
                             "(name the roles with prefstat.distributed.PartitionedTable(..., ai_label=...)).")
        if self.density_ratio == "classifier":
            raise ValueError("density_ratio='classifier' is not available on partitioned data (the cross-fitting "
                             "folds are drawn per row); use density_ratio=None or fit in memory.")

    def _fit_partitioned_features(self, table, y, ai_label, sample_weight, groups, order, density_ratio):
        """Feature-level fit on partitions: every pass a map-reduce (:mod:`prefstat.distributed.debiased_features`).

        The same estimate, lambda and covariance as the in-memory fit on the rows (to rounding).
        Without density ratios and with ``cov_type="robust"`` only.
        """
        self._check_partitioned_call(y, ai_label, sample_weight, groups, order, density_ratio)
        if self.cov_type == "cluster":
            raise ValueError("cov_type='cluster' is not available for feature-level DebiasedBradleyTerry on "
                             "partitioned data; use cov_type='robust', or fit in memory.")
        for attr in ("items_", "n_features_in_", "feature_names_in_", "distributed_"):
            self.__dict__.pop(attr, None)
        log = TransferLog()
        res = fit_debiased_features(table, lam=self.lam if self.lam == "auto" else float(self.lam),
                                    order_effect=self.order_effect, tol=self.tol, max_iter=self.max_iter, log=log)
        self.kind_ = "features"
        self.n_features_in_ = len(table.features)
        names = res.names
        if not res.converged:
            check_identifiable(res.info0, names)
            raise ValueError(
                f"the debiased estimating equation has no finite root for lam={res.lam:.3g} (Newton did not "
                "converge, or the linear predictor ran off to infinity): along some direction the human "
                "correction term outweighs the pool's curvature, or the labelled rows are separated. Use "
                "lam='auto' or a smaller lam, or add human labels.")
        check_identifiable(res.bread, names)
        if not np.all(np.isfinite(res.cov)):
            raise ValueError("the covariance is not finite: the weights are too large (or too extreme) for "
                             "float64; rescale sample_weight.")
        n, N = res.n_human, res.n_pool
        self._set_estimates(res.theta, res.cov, names, n + N)
        self.lam_ = res.lam
        self.n_human_, self.n_pool_ = n, N
        self.density_ratio_ = np.ones(res.human_weights.shape[0])
        weights = weight_diagnostics(self.density_ratio_, res.human_weights)
        self.weight_ess_, self.weight_max_ = weights.ess, weights.max
        ratio = float(np.trace(res.cov_human) / np.trace(res.cov))
        self.n_eff_ = n * ratio
        self.diagnostics_ = {
            "lam": self.lam_, "lam_unclipped": res.lam_raw, "n_human": n, "n_pool": N,
            "disagreement": res.disagreement / n, "variance_ratio": ratio, "n_eff": self.n_eff_,
            "weight_ess": self.weight_ess_, "weight_max": self.weight_max_, "weight_mean": weights.mean,
            "weight_top1_share": weights.top1_share,
        }
        self.distributed_ = log.as_dict()
        self.nobs_ = n + N
        self.n_iter_ = int(res.n_iter)
        self.converged_ = True
        self.classes_ = np.array([0, 1])
        return self

    def _set_estimates(self, est_all, cov_all, names, n_obs):
        self._report(names, est_all, cov_all, n_obs=n_obs)  # BradleyTerry: results_ and the public attributes

    def _sklearn_ratio(self, feats, human, f, folds) -> np.ndarray:
        """Cross-fitted ratio from a user classifier: w = (n_tr / N_tr) P(pool) / P(human), never clipped."""
        pool = (~human).astype(int)
        p_pool = crossfit_predict(self.classifier, feats, pool, folds, method="predict_proba",
                                  sample_weight=None if np.all(f == 1) else f)[:, 1]
        check_finite_ratio(p_pool, human)
        prior = np.asarray(fold_size_ratio(pool * 1.0, f, folds, self.n_folds))
        return np.where(human, density_ratio_from_proba(p_pool, prior[folds]), 1.0)

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
        samples = [jnp.asarray(pad_rows(mask * 1.0, mp)) for mask in (human, ~human)]
        return np.asarray(influence_sandwich(res.bread, res.influence.on(design), jnp.asarray(pad_rows(f, mp)),
                                             samples, clusters=pad_rows(codes, mp)))

    # ------------------------------------------------------------- inference
    def conf_int(self, level: float = 0.95, method: str = "wald") -> np.ndarray:
        """(k, 2) Wald interval for ``coef_`` (the order effect's is in :meth:`summary`)."""
        check_is_fitted(self, "results_")
        return self.results_.interval(level, method)[: len(self.coef_)]

    def summary(self, level: float = 0.95, method: str = "wald") -> pd.DataFrame:
        """Coefficient table (one row per ability / coefficient, plus the order effect)."""
        check_is_fitted(self, "results_")
        return self.results_.summary(level, method)


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
    human, _, ai = split_samples(y, ai_label)
    pool = ~human
    bt_params.setdefault("cov_type", "robust")
    weight = None if sample_weight is None else np.asarray(sample_weight)[pool]
    return BradleyTerry(**bt_params).fit(_subset_rows(X, pool), ai[pool], sample_weight=weight,
                                         order=None if order is None else np.asarray(order)[pool])


def fit_naive_pooled(X, y, ai_label, sample_weight=None, order=None, **bt_params) -> BradleyTerry:
    """Baseline: Bradley-Terry on every row, the human label where there is one, else the judge's.

    Biased towards the judge in proportion to the pool's share of the rows.
    """
    human, y_filled, ai = split_samples(y, ai_label)
    bt_params.setdefault("cov_type", "robust")
    return BradleyTerry(**bt_params).fit(X, np.where(human, y_filled, ai), sample_weight=sample_weight, order=order)
