"""What every prefstat classifier of pairwise outcomes shares: scikit-learn tags, input names, scoring.

* :class:`PreferenceClassifier` is the base class: binary outcomes (1 left
  preferred, 0 right, 1/2 tie), sparse input accepted, and scikit-learn's
  feature-name contract: fitted on a DataFrame whose column names are all
  strings, an estimator records them in ``feature_names_in_`` and every
  predict-time method raises when a DataFrame arrives with other names or the
  same names in another order (via :func:`sklearn.utils.validation.validate_data`
  with ``skip_check_array=True``, which checks names only).
* Scoring. ``score`` of every estimator handles ties: the mean log-likelihood
  for the Bradley-Terry family and :class:`~prefstat.LatentClassBT`, the
  agreement for :class:`~prefstat.SignEstimator`; it is what
  ``GridSearchCV(est, grid)`` uses by default. scikit-learn's predict-based
  scorers (``"accuracy"``, ``"roc_auc"``, ``"neg_log_loss"``) need ``y`` in
  {0, 1} and fail on a tie (``y = 0.5``); :func:`preference_accuracy` (and
  :data:`preference_accuracy_scorer` for ``scoring=``) is the accuracy that
  skips ties.
"""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import make_scorer
from sklearn.utils.validation import validate_data

__all__ = ["PreferenceClassifier", "preference_accuracy", "preference_accuracy_scorer"]


class PreferenceClassifier(ClassifierMixin, BaseEstimator):
    """Base class: scikit-learn tags and the feature-name checks shared by prefstat's estimators."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        tags.input_tags.sparse = True
        return tags

    def _reset_input_names(self, X) -> None:
        """Record (or forget) ``feature_names_in_`` from the ``X`` passed to ``fit``."""
        validate_data(self, X, y="no_validation", reset=True, skip_check_array=True, ensure_2d=False)

    def _check_input_names(self, X) -> None:
        """Raise if a predict-time DataFrame's column names differ from the fit's (order included)."""
        validate_data(self, X, y="no_validation", reset=False, skip_check_array=True, ensure_2d=False)


def preference_accuracy(y_true, y_pred, sample_weight=None) -> float:
    """Weighted share of the non-tied comparisons whose preferred side ``y_pred`` names.

    A comparison with ``y_true > 1/2`` was won by the left option, ``< 1/2`` by the right one;
    ties (``y_true = 1/2``) carry no side and are skipped. A prediction of 1/2 (a predicted tie,
    e.g. :class:`~prefstat.DavidsonBradleyTerry`) counts one half.
    """
    y_true = np.asarray(y_true, np.float64).ravel()
    y_pred = np.asarray(y_pred, np.float64).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has {y_true.size} entries but y_pred has {y_pred.size}.")
    w = np.ones_like(y_true) if sample_weight is None else np.asarray(sample_weight, np.float64).ravel()
    side = np.sign(y_true - 0.5)
    live = (side != 0) & (w > 0)
    if not live.any():
        raise ValueError("every comparison in y is a tie (0.5) or has zero weight: accuracy is undefined.")
    hit = 0.5 * (1.0 + side * np.sign(y_pred - 0.5))
    return float(np.sum(w[live] * hit[live]) / np.sum(w[live]))


preference_accuracy_scorer = make_scorer(preference_accuracy)
