r"""DIPO: doubly robust estimate of a human preference probability from judge labels and a few human labels.

**Estimand.** One table holds an AI-labelled pool (human label ``y`` missing,
judge label ``ai_label`` = :math:`A \in [0, 1]`) and a human sample (both
labels). Rows carry pair features :math:`F` (what the nuisance models see).
The target :math:`T` is the pool, or the pool rows that ``target`` marks; the
estimand is the human probability that the left option is preferred, averaged
over the target,

.. math::  \psi = E_T[g], \qquad g = P(\text{human prefers left} \mid \text{pair}),

or one such probability per ``by`` group (e.g. per model pair of an arena
battle), :math:`\psi_g = E_T[g \mid \text{group } g]`, reported as a vector
with its joint covariance. Ties count as half a preference (:math:`Y = 0.5`).

**Assumptions.** (i) The rows of each sample are i.i.d. (or clusters are, with
``cov_type="cluster"``), the two samples independent. (ii) The human label
depends on the sample only through :math:`(F, A)`:
:math:`E_T[Y \mid F, A] = E_H[Y \mid F, A] = m(F, A)` ("missing at random"
given what the nuisance models see). (iii) Overlap: the density ratio
:math:`w = dT/dH` of :math:`(F, A)` (within each ``by`` group) is finite.

**Estimator** (Xia, Xia, Zhang & Cai, *A Statistical Framework for Alignment
with Biased AI Feedback*, arXiv 2602.08259; the same doubly robust / AIPW
form as Robins, Rotnitzky & Zhao 1994 and cross-PPI, Zrnic & Candès 2024):

.. math::

   \hat\psi_g = \frac{1}{N_g} \sum_{T, g} \hat m(F_i, A_i)
              + \frac{\sum_{H, g} \hat w_j (Y_j - \hat m(F_j, A_j))}{\sum_{H, g} \hat w_j}.

The correction is the self-normalised (Hajek) weighted mean of the human
residuals; without ``by`` and with weights normalised to mean 1 it agrees with
the form :math:`\frac1n \sum_H w_j (Y_j - m_j)` to first order (exactly when
:math:`w \equiv 1`), and it needs the weights only up to a constant per group
(so known weights may be unnormalised, and a ratio estimated on all rows serves
every group).

* :math:`\hat m` is cross-fitted over ``n_folds`` folds of the human rows: a
  human row gets the prediction of the model fitted on the other folds; a
  target row gets the average of the K fold models' predictions, weighted by
  the folds' shares of human rows, so the first-order error of :math:`\hat m`
  cancels between the two terms (cross-PPI). Default outcome model: an
  unpenalised logistic regression (prefstat's Newton solver, vmapped over the
  folds) of :math:`Y` on an intercept, judge features and :math:`F`. Judge
  features (``judge_feature``): the judge logit :math:`\mathrm{logit}\,A` when
  every :math:`A` is a probability strictly inside (0, 1) (calibration by
  Platt scaling, tilted by :math:`F`); indicators of :math:`A = 1` and
  :math:`A = 0.5` when the judge gives 0/0.5/1 labels. Nothing is clipped: a
  judge probability of exactly 0 or 1 has an infinite logit and is an error
  unless ``judge_feature="label"`` (then :math:`A` enters linearly). Any
  scikit-learn classifier with ``predict_proba`` can be passed as
  ``outcome_model`` (cloned per fold; fitted on the distinct values of
  :math:`Y` as classes; :math:`\hat m = \sum_c c\, \hat P(Y = c)`).
* :math:`\hat w`: 1 (``density_ratio=None``: the human sample and the target
  share one pair distribution); known weights (``fit(density_ratio=...)``,
  one per human row); or estimated (``density_ratio="classifier"``: an
  unpenalised logistic regression of target-vs-human on an intercept, the judge
  features, :math:`F` and the ``by`` indicators, cross-fitted through
  :func:`prefstat.nuisance.crossfit_logistic_ratio`; or a scikit-learn
  classifier, cross-fitted through :func:`prefstat.nuisance.crossfit_predict`).
  Weights are never clipped; poor overlap (Kish effective size below a fifth of
  the human sample) raises :class:`~prefstat.nuisance.PoorOverlapWarning`.

**Double robustness.** :math:`E\hat\psi_g - \psi_g` is, to first order,
:math:`E_H[(w - \hat w)(m - \hat m)]`-type products: the estimate is
consistent when either :math:`m` or :math:`w` is right, and the estimated
nuisances' errors do not enter the first-order asymptotics when both converge
(product of rates :math:`o(n^{-1/2})`), so no correction for estimating them is
needed in the variance. With one nuisance wrong the estimate stays consistent
but the interval is not guaranteed: the estimating equation is then no longer
orthogonal in the other nuisance, whose estimation error becomes first order
and is not in the variance (the tests show under-coverage with :math:`w = 1`
under a shift).

**Variance.** Influence values :math:`\phi` (:mod:`prefstat.models.dipo_core`):
:math:`(\hat m - \bar m_g)/p_g` on target rows of group :math:`g`,
:math:`\hat w (Y - \hat m - c_g)/q_g` on human rows; the two samples are
independent, so
:math:`\hat V = \widehat{\mathrm{Var}}_T(\phi)/N + \widehat{\mathrm{Var}}_H(\phi)/n`
(divisor ``- 1`` in each sample; :func:`prefstat.inference.influence_cov`),
treating the ``by`` group of a row as part of the random pair (group sizes
random; the cross-group covariances follow), or cluster-robust with the
clusters nested in the samples
(:func:`prefstat.inference.cluster_influence_cov`, statsmodels' small-sample
factor). Wald intervals. With well-specified :math:`m` and :math:`w` this
attains the semiparametric efficiency bound
:math:`\mathrm{Var}_T(m)/N + E_H[w^2 \mathrm{Var}(Y \mid F, A)]/n`; for 0/1
human labels the diagnostics report its plug-in estimate (with
:math:`\mathrm{Var}(Y \mid F, A) = \hat m (1 - \hat m)`) and the ratio of the
estimated variance to it.

**Symmetrisation** (``symmetrize=True``). For unordered pairs, swapping left
and right turns :math:`(F, A, Y)` into :math:`(-F, 1 - A, 1 - Y)`; then
:math:`m(f, a) = 1 - m(-f, 1 - a)` and the fitted :math:`\hat m` is replaced by
:math:`\frac12[\hat m(f, a) + 1 - \hat m(-f, 1 - a)]` (same fold models),
which removes the part of the estimation noise that breaks this symmetry.
Valid only when (a) :math:`F` is antisymmetric (differences of the two
options' features) and (b) the presentation order carries no information: the
pair's order is random and neither the humans nor the judge have a position
bias, so :math:`(F, A, Y)` and :math:`(-F, 1 - A, 1 - Y)` have the same law.
Judges do have position biases, and the estimand itself ("left preferred") is
order-dependent, so the default is ``False``; when (b) fails, the symmetrised
:math:`\hat m` is misspecified and the estimate rests on :math:`w` alone
(still consistent by double robustness, less efficient).

**Baselines** (``method=``): ``"human"`` (weighted human-only mean,
:math:`m = 0`), ``"ppi"`` (:math:`m = A`, the raw judge score; Angelopoulos
et al. 2023), ``"ppi++"`` (:math:`m = \hat\lambda_g A` with the power
:math:`\hat\lambda_g \in [0, 1]` minimising the estimated variance; without a
density ratio exactly ppi_py's rule, see :func:`~prefstat.models.dipo_core.ppi_power`;
the interval treats :math:`\hat\lambda` as fixed, as ppi_py does) and ``"ai"``
(the target mean of :math:`A`; consistent for the judge's preference, not the
humans').
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted

from .._x64 import x64
from ..data import ComparisonTable, describe_rows, missing_mask, table_arrays
from ..inference import EstimationResults, cluster_influence_cov, influence_cov
from ..losses import DIVERGED_ETA
from ..nuisance import (assign_folds, check_finite_ratio, crossfit_logistic, crossfit_logistic_ratio,
                        crossfit_predict, density_ratio_from_proba, fold_size_ratio, group_codes, known_ratio,
                        split_samples, warn_poor_overlap, weight_diagnostics)
from ..policy import as_probs, check_probs
from ..validation import (check_bool, check_int, check_option, check_random_state, check_real,
                          is_probabilistic_classifier)
from .dipo_core import (JUDGE_FEATURES, calibration_error, judge_features, ppi_power, two_sample_mean)
from .dipo_policy import PolicyData, PolicyFit, PolicyValue, optimize_theta, reference_probs, target_cands

__all__ = ["DIPO", "METHODS", "POLICY_METHODS"]

METHODS = ("dipo", "ppi", "ppi++", "human", "ai")
POLICY_METHODS = ("dipo", "ppi", "human", "ai")  # methods available at the policy level


# Robust (row-level, two-sample) covariance from influence values, jitted: fits inside a Monte-Carlo
# loop then cost one dispatch instead of dozens of eager jnp operations.
_robust_cov = jax.jit(influence_cov)


def _sigmoid(eta):
    return 0.5 * (1.0 + np.tanh(0.5 * eta))


class DIPO(BaseEstimator):
    """Doubly robust human preference probability from an AI-labelled pool and a small human sample.

    Estimand, assumptions, estimator, variance and references: see the module
    docstring (:mod:`prefstat.models.dipo`).

    Parameters
    ----------
    outcome_model : scikit-learn classifier with ``predict_proba``, or None
        Model of ``m(f, a) = E[y | F, judge]`` fitted on the human rows (cross-fitted). ``None``:
        unpenalised logistic regression on an intercept, the judge features and F.
    density_ratio : None, "classifier" or scikit-learn classifier
        ``None``: weights 1, or known weights passed to ``fit(density_ratio=...)``. ``"classifier"``:
        cross-fitted unpenalised logistic regression of target vs human on the judge features, F and
        the ``by`` indicators. A classifier: the same, cross-fitted with that model.
    n_folds : int >= 2, default 5
        Folds of the cross-fitting (of the human rows for ``m``; of the human and target rows for ``w``).
    symmetrize : bool, default False
        Average ``m(f, a)`` and ``1 - m(-f, 1 - a)`` (unordered pairs with antisymmetric F and no
        position bias; see the module docstring for why the default is False).
    method : {"dipo", "ppi", "ppi++", "human", "ai"}, default "dipo"
        The estimator, or one of the baselines (module docstring).
    judge_feature : {"auto", "logit", "label"}, default "auto"
        How the judge label enters the default outcome model and the ratio classifier
        (:func:`~prefstat.models.dipo_core.judge_features`).
    cov_type : {"robust", "cluster"}, default "robust"
        Influence-function variance with independent rows, or cluster-robust by ``fit(groups=...)``
        (clusters are also kept within one fold).
    random_state : int or None
        Seed of the fold assignments.
    tol, max_iter : Newton stopping rule and iteration cap of the built-in logistic regressions.

    Attributes
    ----------
    estimate_ : float, or (k,) array with ``by``
    stderr_ : float, or (k,) array
    cov_ : (k, k) array (k = 1 without ``by``)
    results_ : :class:`~prefstat.inference.EstimationResults` (``conf_int``, ``summary``, ``t_test``,
        ``wald_test``, ``pairwise`` across groups)
    influence_ : (n_rows, k) influence values, centred within each sample, 0 on rows outside the
        target and the human sample: ``cov_ = Var_T(influence_)/N + Var_H(influence_)/n`` (robust)
    param_names_ : list of str ("psi", or the ``by`` groups)
    m_ : (n_rows,) outcome function used (cross-fitted ``m``, the judge score, ``lam A`` or 0), NaN
        outside the target and human rows
    density_ratio_ : (n_human,) weights used on the human rows, in row order
    lam_ : (k,) PPI++ power (``method="ppi++"``; before clipping to [0, 1]: ``lam_unclipped_``), else None
    n_human_, n_target_ : sample sizes
    diagnostics_ : dict: ``n_eff`` (n times the human-only variance over this estimator's),
        ``variance``, ``variance_human_only``, ``variance_bound`` and ``efficiency_ratio``
        (``method="dipo"`` with 0/1 human labels, else NaN), ``weight_ess``, ``weight_max``,
        ``weight_top1_share``, ``weight_mean``, and on the human rows the judge's and ``m``'s
        calibration error (binned ECE), mean bias (mean of prediction minus label) and Brier score.
        Per-group quantities are floats without ``by``, else Series indexed by group.
    """

    def __init__(self, outcome_model=None, density_ratio=None, n_folds=5, symmetrize=False, method="dipo",
                 judge_feature="auto", cov_type="robust", random_state=None, tol=1e-12, max_iter=100):
        self.outcome_model = outcome_model
        self.density_ratio = density_ratio
        self.n_folds = n_folds
        self.symmetrize = symmetrize
        self.method = method
        self.judge_feature = judge_feature
        self.cov_type = cov_type
        self.random_state = random_state
        self.tol = tol
        self.max_iter = max_iter

    # ---------------------------------------------------------------- checks
    def _check_params(self):
        check_option("method", self.method, METHODS)
        if self.outcome_model is not None and not is_probabilistic_classifier(self.outcome_model):
            raise ValueError("outcome_model must be a scikit-learn classifier with predict_proba (or None for the "
                             f"built-in logistic regression); got {self.outcome_model!r}.")
        dr = self.density_ratio
        if not (dr is None or (isinstance(dr, str) and dr == "classifier") or is_probabilistic_classifier(dr)):
            raise ValueError("density_ratio must be None, 'classifier' or a scikit-learn classifier with "
                             f"predict_proba; got {dr!r} (pass known ratios to fit(..., density_ratio=weights)).")
        check_int("n_folds", self.n_folds, 2)
        check_bool("symmetrize", self.symmetrize)
        check_option("judge_feature", self.judge_feature, JUDGE_FEATURES)
        check_option("cov_type", self.cov_type, ("robust", "cluster"))
        check_random_state("random_state", self.random_state)
        check_real("tol", self.tol, 0.0, low_open=True)
        check_int("max_iter", self.max_iter, 1)
        if self.method != "dipo" and (self.outcome_model is not None or self.symmetrize):
            raise ValueError(f"outcome_model and symmetrize belong to method='dipo'; method={self.method!r} uses a "
                             "fixed outcome function (the judge score, lam * score, 0). Leave them at their defaults.")

    @staticmethod
    def _features(F, m: int) -> np.ndarray:
        if F is None:
            return np.zeros((m, 0))
        names = [str(c) for c in F.columns] if isinstance(F, pd.DataFrame) else None
        try:
            arr = np.asarray(F.to_numpy() if isinstance(F, pd.DataFrame) else F, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError("F must be a numeric (n, d) array of pair features (or None).") from None
        if arr.ndim != 2:
            raise ValueError(f"F must be two-dimensional (n, d); got shape {arr.shape}. Use F.reshape(-1, 1) "
                             "for a single feature.")
        if arr.shape[0] != m:
            raise ValueError(f"F has {arr.shape[0]} rows but y has {m}.")
        bad = ~np.isfinite(arr)
        if bad.any():
            j = int(np.flatnonzero(bad.any(axis=0))[0])
            col = names[j] if names else f"column {j}"
            raise ValueError(f"F {col} has NaN or infinite values at {describe_rows(bad[:, j])}; remove those rows "
                             "or fill them explicitly.")
        return arr

    @staticmethod
    def _target(target, human) -> np.ndarray:
        if target is None:
            return ~human
        t = np.asarray(target)
        if t.shape != human.shape:
            raise ValueError(f"target must be a boolean mask with one entry per row ({human.size}); got shape "
                             f"{t.shape}.")
        if t.dtype.kind != "b":
            if not np.all(np.isin(t, (0, 1))):
                raise ValueError("target must be a boolean mask (True on the rows that define the target "
                                 "distribution).")
            t = t.astype(bool)
        if (t & human).any():
            raise ValueError(f"target marks human-labelled {describe_rows(t & human)}; the target rows must be pool "
                             "rows (y = NaN), an independent sample of the target distribution.")
        if not t.any():
            raise ValueError("target marks no rows: at least one pool row must define the target distribution.")
        return t

    @staticmethod
    def _by(by, human, target):
        """(group names, codes on target rows, codes on human rows; -1: group absent from the target)."""
        if by is None:
            return ["psi"], np.zeros(int(target.sum()), np.int64), np.zeros(int(human.sum()), np.int64)
        b = np.asarray(by, dtype=object)
        if b.shape != human.shape:
            raise ValueError(f"by must have one group label per row ({human.size}); got shape {b.shape}.")
        missing = missing_mask(b) & (human | target)
        if missing.any():
            raise ValueError(f"by has missing group labels on {describe_rows(missing)}; every target and human row "
                             "needs its group.")
        labels = pd.unique(pd.Series(b[target], dtype=object))
        try:
            labels = sorted(labels)
        except TypeError:
            labels = list(labels)
        index = pd.Index(labels)
        codes_t = index.get_indexer(pd.Series(b[target], dtype=object))
        codes_h = index.get_indexer(pd.Series(b[human], dtype=object))
        empty = np.bincount(codes_h[codes_h >= 0], minlength=len(labels)) == 0
        if empty.any():
            raise ValueError(f"by-group {labels[int(np.flatnonzero(empty)[0])]!r} has no human-labelled rows: its "
                             "human preference cannot be corrected. Collect human labels in that group or drop it "
                             "from the target.")
        return [str(v) for v in labels], codes_t.astype(np.int64), codes_h.astype(np.int64)

    # ------------------------------------------------------------------- fit
    @x64
    def fit(self, F, y=None, ai_label=None, density_ratio=None, groups=None, by=None, target=None):
        """Fit on one table.

        ``F``: (n, d) pair features seen by the nuisance models (or None). ``y``: human label
        (1 left preferred, 0 right, 0.5 tie), NaN on pool rows. ``ai_label``: judge label or
        probability on every row. ``density_ratio``: known ``dTarget/dHuman``, one entry per human
        row (or per row; others ignored), up to a constant factor. ``groups``: cluster ids for
        ``cov_type="cluster"``. ``by``: group label per row (one estimate per group present among
        the target rows). ``target``: boolean mask of the pool rows that define the target
        distribution (default: every pool row); other pool rows are not used.

        ``F`` may instead be a :class:`~prefstat.ComparisonTable` with an ``ai_label`` column and NaN
        outcomes on the pool rows: it supplies ``y``, ``ai_label`` and (with ``cov_type="cluster"``)
        ``groups``; F is its feature differences (none for an item-level table) followed by its
        ``order`` column when it has one. Its weights must all be 1 (DIPO takes no frequency weights).
        """
        self._check_params()
        if isinstance(F, ComparisonTable):
            F, y, ai_label, groups = self._table_inputs(F, y, ai_label, groups)
        human, y_all, ai = split_samples(y, ai_label)
        rows = human.size
        X = self._features(F, rows)
        tgt = self._target(target, human)
        names, g_t, g_h = self._by(by, human, tgt)
        k = len(names)
        if groups is not None and self.cov_type != "cluster":
            raise ValueError("groups were passed to fit but cov_type='robust'; set cov_type='cluster' to use them.")
        if self.cov_type == "cluster" and groups is None:
            raise ValueError("cov_type='cluster' needs groups: pass groups= to fit (e.g. annotator or prompt ids).")
        codes = group_codes(groups, human, rows) if groups is not None else None
        n, N = int(human.sum()), int(tgt.sum())
        if n < self.n_folds and self.method == "dipo":
            raise ValueError(f"n_folds={self.n_folds} needs at least {self.n_folds} human-labelled rows; y has {n}.")
        judge = judge_features(ai, self.judge_feature) if self._needs_judge_features() else None
        if self.symmetrize and judge is not None and judge.kind == "indicator" and \
                set(np.unique(ai)) != set(1.0 - np.unique(ai)):
            raise ValueError("symmetrize=True needs judge labels whose swap 1 - a is again a label that occurs "
                             f"(0 and 1, and 0.5 for ties); ai_label takes the values {np.unique(ai).tolist()}.")
        w = self._weights(density_ratio, X, ai, human, tgt, judge, by, codes)
        unweighted = density_ratio is None and self.density_ratio is None  # w = 1: one pair distribution
        y_h, a_h, a_t = y_all[human], ai[human], ai[tgt]
        sw = np.bincount(g_h[g_h >= 0], weights=w[g_h >= 0], minlength=k)
        if np.any(sw <= 0):
            raise ValueError(f"density_ratio is zero on every human row of by-group {names[int(np.argmin(sw))]!r}; "
                             "no human row there resembles the target.")

        self.lam_ = None
        if self.method == "dipo":
            m_h, m_t = self._outcome(X, ai, human, tgt, y_h, judge, codes)
        elif self.method in ("ppi", "ai"):
            m_h, m_t = a_h, a_t
        elif self.method == "human":
            m_h, m_t = np.zeros(n), np.zeros(N)
        else:
            lam, lam_raw = ppi_power(a_t, g_t, a_h, y_h, w, g_h, k, pooled=unweighted)
            self.lam_, self.lam_unclipped_ = lam, lam_raw
            m_t = lam[g_t] * a_t
            m_h = np.where(g_h >= 0, lam[np.maximum(g_h, 0)], 0.0) * a_h
        res = two_sample_mean(m_t, g_t, m_h, y_h, w, g_h, k, correct=self.method != "ai")

        # the human-only mean on the same rows: the reference of n_eff
        human_only = two_sample_mean(np.zeros(N), g_t, np.zeros(n), y_h, w, g_h, k)
        masks = (np.r_[np.ones(N), np.zeros(n)], np.r_[np.zeros(N), np.ones(n)])
        psi = self._stacked(res, N, n)
        # robust covariance of [this estimator, human-only] in one call: diagonal blocks
        both = np.asarray(_robust_cov(jnp.asarray(np.hstack([psi, self._stacked(human_only, N, n)])), None,
                                      tuple(jnp.asarray(v) for v in masks)))
        robust, robust0 = both[:k, :k], both[k:, k:]
        cov = robust if codes is None else self._cluster_cov(psi, masks, codes, human, tgt)
        if not np.all(np.isfinite(cov)):
            raise ValueError("the covariance is not finite: the density-ratio weights are too extreme for float64.")
        self.results_ = EstimationResults(names=names, estimate=res.estimate, cov=cov, cov_type=self.cov_type,
                                          n_obs=float(n + N))
        self.param_names_ = names
        scalar = k == 1 and by is None
        self.estimate_ = float(res.estimate[0]) if scalar else res.estimate.copy()
        self.cov_ = cov
        se = np.sqrt(np.diag(cov))
        self.stderr_ = float(se[0]) if scalar else se
        infl = np.zeros((rows, k))
        infl[tgt], infl[human] = res.phi_target, res.phi_human
        self.influence_ = infl
        self.m_ = np.full(rows, np.nan)
        self.m_[tgt], self.m_[human] = m_t, m_h
        self.density_ratio_ = w
        self.n_human_, self.n_target_ = n, N
        self._diagnose(res, np.diag(robust), np.diag(robust0), w, y_h, a_h, m_h, g_h, k, scalar, names, unweighted)
        return self

    def _table_inputs(self, table, y, ai_label, groups):
        X, y_t, ai, w, g, order = table_arrays(table, y, ai_label, None, groups, None, "DIPO")
        if not np.all(w == 1.0):
            raise ValueError("the table has frequency weights other than 1; DIPO takes no weights: expand the rows "
                             "(one row per comparison) instead.")
        cols = [] if table.kind == "items" else [np.asarray(X.toarray() if hasattr(X, "toarray") else X, np.float64)]
        if order is not None:
            cols.append(order[:, None])
        F = np.column_stack(cols) if cols else None
        return F, y_t, ai, (g if self.cov_type == "cluster" else None)

    def _needs_judge_features(self) -> bool:
        return self.method == "dipo" or self.density_ratio is not None

    # ------------------------------------------------------------- nuisances
    def _weights(self, known, X, ai, human, tgt, judge, by, codes) -> np.ndarray:
        """(n_human,) density-ratio weights on the human rows (row order); never clipped."""
        estimated = self.density_ratio is not None
        if known is not None and estimated:
            raise ValueError("density_ratio weights were passed to fit but the estimator is configured with "
                             f"density_ratio={self.density_ratio!r}; use one or the other.")
        if known is not None:
            return known_ratio(known, human)[human]
        if not estimated:
            return np.ones(int(human.sum()))
        used = human | tgt
        cols = [judge(ai[used]), X[used]]
        if by is not None:
            b = pd.Series(np.asarray(by, dtype=object)[used], dtype=object)
            cols.append(pd.get_dummies(b, drop_first=True).to_numpy(np.float64))
        feats = np.column_stack(cols)
        h = human[used]
        fold_groups = None
        if codes is not None:
            # clusters of the two samples are distinct; pool rows without ids are their own cluster
            c = codes[used].copy()
            c[~h] = np.where(c[~h] >= 0, c[~h], np.arange((~h).sum()) + c.max() + 1)
            fold_groups = np.where(h, 2 * c, 2 * c + 1)
        folds = assign_folds((~h).astype(int), self.n_folds, self.random_state, groups=fold_groups)
        if self.density_ratio == "classifier":
            design = jnp.asarray(np.column_stack([np.ones(h.size), feats]))
            ratio, p_target, ok = crossfit_logistic_ratio(design, jnp.asarray(h, jnp.float64), jnp.ones(h.size),
                                                          jnp.asarray(folds), self.n_folds, gtol=self.tol,
                                                          max_iter=self.max_iter)
            if not bool(ok):
                raise ValueError("the target-vs-human logistic regression did not converge: the two samples are "
                                 "(nearly) separable on the features, so the density ratio is unbounded (no overlap). "
                                 "Collect human labels on pairs like the target's.")
            check_finite_ratio(np.asarray(p_target), h, label="target")
            return np.asarray(ratio)[h]
        pool = (~h).astype(int)
        p = crossfit_predict(self.density_ratio, feats, pool, folds, method="predict_proba")[:, 1]
        check_finite_ratio(p, h, label="target")
        prior = np.asarray(fold_size_ratio(jnp.asarray(pool, jnp.float64), jnp.ones(h.size), jnp.asarray(folds),
                                           self.n_folds))
        return density_ratio_from_proba(p, prior[folds])[h]

    def _outcome(self, X, ai, human, tgt, y_h, judge, codes):
        """Cross-fitted ``m`` on the human rows (out of fold) and on the target rows (fold-share average)."""
        n = int(human.sum())
        classes, y_codes = np.unique(y_h, return_inverse=True)
        counts = np.bincount(y_codes)
        strata = y_codes if counts.min() >= self.n_folds else np.zeros(n, np.int64)
        folds = assign_folds(strata, self.n_folds, self.random_state,
                             groups=None if codes is None else codes[human])
        share = np.bincount(folds, minlength=self.n_folds) / n

        def design(a, F):
            return np.column_stack([judge(a), F])

        sets_h = [design(ai[human], X[human])]
        sets_t = [design(ai[tgt], X[tgt])]
        if self.symmetrize:
            sets_h.append(design(1.0 - ai[human], -X[human]))
            sets_t.append(design(1.0 - ai[tgt], -X[tgt]))
        if self.outcome_model is None:
            preds_h, preds_t = self._logistic_outcome(sets_h, sets_t, y_h, folds, share)
        else:
            preds_h, preds_t = self._sklearn_outcome(sets_h, sets_t, y_codes, classes, folds, share)
        if self.symmetrize:
            return 0.5 * (preds_h[0] + 1.0 - preds_h[1]), 0.5 * (preds_t[0] + 1.0 - preds_t[1])
        return preds_h[0], preds_t[0]

    def _logistic_outcome(self, sets_h, sets_t, y_h, folds, share):
        add1 = [np.column_stack([np.ones(s.shape[0]), s]) for s in sets_h + sets_t]
        D_h = add1[0]
        fit = crossfit_logistic(jnp.asarray(D_h), jnp.asarray(y_h), jnp.ones(y_h.size), jnp.asarray(folds),
                                self.n_folds, gtol=self.tol, max_iter=self.max_iter)
        coef = np.asarray(fit.coef)
        if not bool(fit.converged) or np.max(np.abs(D_h @ coef.T)) > DIVERGED_ETA:
            raise ValueError("the logistic outcome model m did not converge on the human rows: in some fold the human "
                             "labels are (nearly) separated by the judge features and F, or those features are "
                             "collinear (e.g. F contains what determines the judge's logit). Drop redundant columns "
                             "of F, or pass a penalised classifier as outcome_model (e.g. sklearn's "
                             "LogisticRegression()), or add human labels.")
        preds_h = [_sigmoid(np.sum(D * coef[folds], axis=1)) for D in add1[:len(sets_h)]]
        preds_t = [_sigmoid(D @ coef.T) @ share for D in add1[len(sets_h):]]
        return preds_h, preds_t

    def _sklearn_outcome(self, sets_h, sets_t, y_codes, classes, folds, share):
        preds_h = [np.zeros(s.shape[0]) for s in sets_h]
        preds_t = [np.zeros(s.shape[0]) for s in sets_t]
        for fold in range(self.n_folds):
            train, test = folds != fold, folds == fold
            model = clone(self.outcome_model).fit(sets_h[0][train], y_codes[train])
            values = classes[np.asarray(model.classes_, dtype=np.int64)]
            for s, out in zip(sets_h, preds_h):
                out[test] = model.predict_proba(s[test]) @ values
            for s, out in zip(sets_t, preds_t):
                out += share[fold] * (model.predict_proba(s) @ values)
        return preds_h, preds_t

    # ------------------------------------------------------------- inference
    @staticmethod
    def _stacked(res, N: int, n: int) -> np.ndarray:
        """Rows target-then-human of ``phi / n_s``, so that the sample covariance sum is Var_T/N + Var_H/n."""
        return np.vstack([res.phi_target / N, res.phi_human / n])

    def _cluster_cov(self, psi, masks, codes, human, tgt) -> np.ndarray:
        # renumber the clusters of the rows in use within each sample (no empty clusters)
        c_t = pd.factorize(codes[tgt])[0] if np.all(codes[tgt] >= 0) else np.full(int(tgt.sum()), -1)
        c_h = pd.factorize(codes[human])[0]
        return np.asarray(cluster_influence_cov(psi, np.r_[c_t, c_h], samples=masks))

    def _diagnose(self, res, variance, var0, w, y_h, a_h, m_h, g_h, k, scalar, names, unweighted):
        def per_group(values):
            values = np.asarray(values, np.float64)
            return float(values[0]) if scalar else pd.Series(values, index=pd.Index(names, name="group"))

        n, N = y_h.size, res.phi_target.shape[0]
        n_g = np.bincount(g_h[g_h >= 0], minlength=k)
        bound = np.full(k, np.nan)
        if self.method == "dipo" and np.all(np.isin(y_h, (0.0, 1.0))):
            q = np.bincount(g_h[g_h >= 0], weights=w[g_h >= 0], minlength=k) / n
            rows = g_h >= 0
            h_part = np.bincount(g_h[rows], weights=(w[rows] / q[g_h[rows]]) ** 2 * m_h[rows] * (1 - m_h[rows]),
                                 minlength=k) / n / n
            bound = np.var(res.phi_target, axis=0, ddof=1) / N + h_part
        weights = weight_diagnostics(w)
        self.diagnostics_ = {
            "method": self.method,
            "n_human": n,
            "n_target": N,
            "n_eff": per_group(n_g * var0 / variance),
            "variance": per_group(variance),
            "variance_human_only": per_group(var0),
            "variance_bound": per_group(bound),
            "efficiency_ratio": per_group(variance / bound),
            "weight_ess": weights.ess,
            "weight_max": weights.max,
            "weight_top1_share": weights.top1_share,
            "weight_mean": weights.mean,
            "judge_ece": calibration_error(a_h, y_h),
            "m_ece": calibration_error(m_h, y_h),
            "judge_mean_bias": float(np.mean(a_h - y_h)),
            "m_mean_bias": float(np.mean(m_h - y_h)),
            "judge_brier": float(np.mean((a_h - y_h) ** 2)),
            "m_brier": float(np.mean((m_h - y_h) ** 2)),
        }
        if self.lam_ is not None:
            self.diagnostics_["lam"] = per_group(self.lam_)
        self.n_eff_ = self.diagnostics_["n_eff"]
        if not unweighted:
            warn_poor_overlap(weights, stacklevel=3)

    def conf_int(self, level: float = 0.95) -> np.ndarray:
        """Wald interval: (2,) ``[lower, upper]`` without ``by``, else (k, 2)."""
        check_is_fitted(self, "results_")
        ci = self.results_.interval(level)
        return ci[0] if np.ndim(self.estimate_) == 0 else ci

    def summary(self, level: float = 0.95) -> pd.DataFrame:
        """Table of the estimate(s): estimate, stderr, z and p-value against 0, Wald interval."""
        check_is_fitted(self, "results_")
        return self.results_.summary(level)

    # ---------------------------------------------------------- policy level
    @x64
    def fit_policy(self, data: PolicyData):
        """Fit the outcome model on the human pairs of a policy task (:mod:`prefstat.models.dipo_policy`).

        ``data``: a :class:`~prefstat.models.dipo_policy.PolicyData` from
        :func:`~prefstat.models.dipo_policy.policy_data`. With ``method="dipo"``, ``m`` is cross-fitted
        on the human pairs (as in :meth:`fit`) and predicted on every ordered candidate pair of the
        target prompts (average of the fold models); ``"ppi"``/``"ai"`` use the judge, ``"human"`` 0.
        Sets ``policy_data_``, ``policy_m_`` ((P, C, C), 0 off the target pairs) and
        ``policy_m_human_`` ((n,)). :meth:`evaluate_policy` and :meth:`optimize_policy` then reuse
        the fit for any number of policies.
        """
        self._check_params()
        if not isinstance(data, PolicyData):
            raise ValueError("data must be a PolicyData: build it with prefstat.models.dipo_policy.policy_data(...).")
        check_option("method (policy level)", self.method, POLICY_METHODS)
        if self.density_ratio is not None:
            raise ValueError(f"density_ratio={self.density_ratio!r}: at the policy level the density ratio is known "
                             "from the generator of the human pairs; use density_ratio=None.")
        if self.cov_type != "robust":
            raise ValueError("the policy level supports cov_type='robust' only.")
        n = data.n_human
        mask = np.asarray(data.cands.mask)
        t_p, t_l, t_r = np.nonzero(data.target[:, None, None] & mask[:, :, None] & mask[:, None, :])
        if self.method == "dipo":
            if n < self.n_folds:
                raise ValueError(f"n_folds={self.n_folds} needs at least {self.n_folds} human pairs; data has {n}.")
            ai = np.r_[data.ai_label, data.judge[t_p, t_l, t_r]]
            X = np.r_[data.F[data.prompt, data.left, data.right], data.F[t_p, t_l, t_r]]
            human = np.r_[np.ones(n, bool), np.zeros(t_p.size, bool)]
            m_h, m_t = self._outcome(X, ai, human, ~human, data.y, judge_features(ai, self.judge_feature), None)
            M = np.zeros(data.judge.shape)
            M[t_p, t_l, t_r] = m_t
        elif self.method in ("ppi", "ai"):
            M, m_h = data.judge, data.ai_label
        else:
            M, m_h = np.zeros(data.judge.shape), np.zeros(n)
        self.policy_data_, self.policy_m_, self.policy_m_human_ = data, M, np.asarray(m_h, np.float64)
        return self

    @x64
    def evaluate_policy(self, policy, data: PolicyData | None = None, level: float = 0.95) -> PolicyValue:
        """Debiased human win rate of ``policy`` against the reference, with an influence-function interval.

        ``policy``: theta (d,) of the candidate set's log-linear family or a (P, C) probability
        table. ``data``: a policy task to fit first (:meth:`fit_policy`); None reuses the last fit.
        Estimator, variance and assumptions: :mod:`prefstat.models.dipo_policy`. Returns a
        :class:`~prefstat.models.dipo_policy.PolicyValue`.
        """
        if data is not None:
            self.fit_policy(data)
        check_is_fitted(self, "policy_data_")
        d = self.policy_data_
        p = check_probs(np.asarray(as_probs(jnp.asarray(policy, jnp.float64), d.cands)), d.cands, "policy")
        ref = reference_probs(d.cands)
        t = d.target
        N, n = d.n_target, d.n_human
        v = np.einsum("pi,pij,pj->p", p[t], self.policy_m_[t], ref[t])
        w = p[d.prompt, d.left] * ref[d.prompt, d.right] / d.mu_pair
        correct = self.method != "ai"
        if correct and not np.sum(w) > 0:
            raise ValueError("the policy gives probability 0 to every human pair: no human label informs its win "
                             "rate (no overlap with the generator of the human pairs).")
        res = two_sample_mean(v, np.zeros(N, np.int64), self.policy_m_human_, d.y, w, np.zeros(n, np.int64), 1,
                              correct=correct)
        masks = tuple(jnp.asarray(m) for m in (np.r_[np.ones(N), np.zeros(n)], np.r_[np.zeros(N), np.ones(n)]))
        cov = np.asarray(_robust_cov(jnp.asarray(self._stacked(res, N, n)), None, masks))
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(p[t] > 0, p[t] * (np.log(p[t]) - np.log(ref[t])), 0.0)
        wd = weight_diagnostics(w / np.mean(w)) if np.sum(w) > 0 else None
        results = EstimationResults(names=["win_rate"], estimate=res.estimate, cov=cov, cov_type="robust",
                                    n_obs=float(N + n))
        return PolicyValue(estimate=float(res.estimate[0]), stderr=float(np.sqrt(cov[0, 0])), results=results,
                           kl=float(np.sum(terms) / N), weight_ess=np.nan if wd is None else wd.ess,
                           weight_max=np.nan if wd is None else wd.max, method=self.method,
                           influence_target=res.phi_target[:, 0], influence_human=res.phi_human[:, 0])

    @x64
    def optimize_policy(self, beta, data: PolicyData | None = None, theta0=None, level: float = 0.95,
                        gtol: float = 1e-9, max_iter: int = 1000) -> PolicyFit:
        """Maximise the debiased win rate minus ``beta`` * KL(pi_theta || pi_ref) over the log-linear policy.

        ``beta``: a positive number, or a sequence (a regularisation path, solved in the given order
        with warm starts: pass it from large to small). ``data``: fit first (:meth:`fit_policy`);
        None reuses the last fit. ``theta0``: start (default 0, the reference). The objective uses
        this estimator's ``method``: ``"dipo"`` (debiased), ``"human"`` (importance-weighted human
        labels only), ``"ai"`` (judge only, IPO-style), ``"ppi"`` (raw judge plus correction); the
        oracle is ``method="ai"`` with human labels on every pair as ``judge``. Solver: L-BFGS with
        JAX gradients (stops at ``max|grad| <= gtol``). Returns a
        :class:`~prefstat.models.dipo_policy.PolicyFit`; its interval is optimistic (same data).
        """
        if data is not None:
            self.fit_policy(data)
        check_is_fitted(self, "policy_data_")
        betas = np.atleast_1d(np.asarray(beta, dtype=np.float64))
        if betas.ndim != 1 or betas.size == 0:
            raise ValueError(f"beta must be a positive number or a 1-d sequence of them; got shape {betas.shape}.")
        for b in betas:
            check_real("beta", float(b), 0.0, low_open=True,
                       extra=" Without the KL penalty the optimum is a deterministic policy at theta = infinity.")
        check_real("gtol", gtol, 0.0, low_open=True)
        check_int("max_iter", max_iter, 1)
        d = self.policy_data_
        dim = d.cands.dim
        theta = np.zeros(dim) if theta0 is None else np.asarray(theta0, np.float64)
        if theta.shape != (dim,):
            raise ValueError(f"theta0 must have shape ({dim},); got {theta.shape}.")
        ct = target_cands(d)
        M_t = jnp.asarray(self.policy_m_[d.target])
        resid = jnp.asarray(d.y - self.policy_m_human_)
        rows, fit = [], None
        for b in betas:
            fit = optimize_theta(d.cands, ct, M_t, jnp.asarray(d.prompt), jnp.asarray(d.left), jnp.asarray(d.right),
                                 resid, jnp.asarray(d.mu_pair), float(b), jnp.asarray(theta), float(gtol),
                                 correct=self.method != "ai", max_iter=int(max_iter))
            theta = np.asarray(fit.x)
            val = self.evaluate_policy(theta, level=level)
            lo, hi = val.conf_int(level)
            rows.append(dict(beta=float(b), estimate=val.estimate, stderr=val.stderr, lower=lo, upper=hi, kl=val.kl,
                             objective=-float(fit.value), converged=bool(fit.converged), n_iter=int(fit.n_iter),
                             **{f"theta_{i}": theta[i] for i in range(dim)}))
        last = rows[-1]
        return PolicyFit(theta=theta, probs=np.asarray(as_probs(jnp.asarray(theta), d.cands)), value=val,
                         beta=last["beta"], objective=last["objective"], converged=last["converged"],
                         n_iter=last["n_iter"], path=pd.DataFrame(rows))
