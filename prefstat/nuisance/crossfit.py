r"""Cross-fitted nuisance predictions: any scikit-learn model, or prefstat's JAX logistic regression.

Row ``r`` in fold ``k`` gets the prediction of a model fitted on the rows of
the other folds (Chernozhukov et al. 2018), so its prediction error is
independent of its own noise. Two engines:

* :func:`crossfit_predict` - any scikit-learn classifier or regressor, through
  ``sklearn.model_selection.cross_val_predict`` on the given folds (frequency
  weights passed to ``fit`` as ``sample_weight``);
* :func:`crossfit_logistic` - an unpenalised weighted logistic regression
  fitted by prefstat's damped Newton solver (:func:`prefstat.losses.logistic_fit`),
  the K fits ``vmap``-ed over folds: a pure JAX function (``jit``- and
  ``vmap``-able) that also returns each fold's coefficients, which a two-step
  M-estimator needs to carry the classifier's estimation error into its
  covariance.

:func:`crossfit_logistic_ratio` turns the latter into cross-fitted density
ratios (:mod:`prefstat.nuisance.density_ratio`). See ``docs/methods.md``
(cross-fitting, density ratios).
"""
from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from sklearn.model_selection import cross_val_predict

from ..design import DenseDesign
from ..losses import logistic_fit
from .density_ratio import density_ratio_from_logodds
from .folds import folds_splitter

__all__ = ["CrossfitLogistic", "crossfit_predict", "crossfit_logistic", "crossfit_logistic_ratio",
           "fold_size_ratio"]


def crossfit_predict(estimator, X, y, folds, sample_weight=None, method: str = "auto") -> np.ndarray:
    """Out-of-fold predictions of a scikit-learn estimator on the folds ``folds`` (one int per row).

    ``method``: ``"predict_proba"`` (columns in sorted class order),
    ``"decision_function"`` or ``"predict"``; ``"auto"`` is ``predict_proba``
    for classifiers that have it, else ``predict``. The estimator is cloned for
    every fold and never fitted on the rows it predicts. ``sample_weight``
    (frequency weights) goes to each fold's ``fit``; ``None`` fits unweighted.
    """
    if method == "auto":
        method = "predict_proba" if hasattr(estimator, "predict_proba") else "predict"
    params = None if sample_weight is None else {"sample_weight": np.asarray(sample_weight, np.float64)}
    return cross_val_predict(estimator, X, y, cv=folds_splitter(folds), method=method, params=params)


def fold_size_ratio(label, weight, folds, n_folds: int):
    """(n_folds,) ratio ``sum_{train, label 0} w / sum_{train, label 1} w`` of every fold's training rows:
    the inverse prior odds that turn a classifier's posterior odds into a density ratio."""
    def one(k):
        train = weight * (folds != k)
        return jnp.sum(train * (1.0 - label)) / jnp.sum(train * label)

    return jax.vmap(one)(jnp.arange(n_folds))


class CrossfitLogistic(NamedTuple):
    eta: jax.Array  # (m,) out-of-fold linear predictor F_r^T gamma_{-k(r)}
    coef: jax.Array  # (n_folds, q) coefficients fitted without each fold
    converged: jax.Array  # every fold's Newton fit converged


@partial(jax.jit, static_argnames=("n_folds", "max_iter"))
def crossfit_logistic(F, label, weight, folds, n_folds: int, gtol=1e-12, max_iter=100) -> CrossfitLogistic:
    """Cross-fitted unpenalised logistic regression of ``label`` (in [0, 1]) on ``F`` (m, q).

    ``F`` includes the intercept column if one is wanted; ``weight`` are
    frequency weights (0 on padding rows); ``folds`` an int per row in
    ``[0, n_folds)``. Fold ``k``'s coefficients minimise the weighted logistic
    loss over the rows of the other folds; row ``r`` gets the linear predictor
    of the fit without its own fold. Run in float64 (``prefstat._x64.x64_scope()``).
    """
    design = DenseDesign(X=F)

    def one(k):
        train = weight * (folds != k)
        res = logistic_fit(design, train, train * label, jnp.zeros(F.shape[1]), jnp.zeros(F.shape[1]),
                           gtol=gtol, max_iter=max_iter)
        return res.x, res.converged

    gammas, ok = jax.vmap(one)(jnp.arange(n_folds))
    eta = jnp.sum(F * gammas[folds], axis=1)
    return CrossfitLogistic(eta=eta, coef=gammas, converged=jnp.all(ok))


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
    pool = 1.0 - human
    fit = crossfit_logistic(F, pool, f, folds, n_folds, gtol=gtol, max_iter=max_iter)
    prior = fold_size_ratio(pool, f, folds, n_folds)
    return density_ratio_from_logodds(fit.eta, prior[folds]), jax.nn.sigmoid(fit.eta), fit.converged
