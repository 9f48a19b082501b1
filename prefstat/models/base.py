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
* :class:`DirectionMixin`: what estimators of a preference direction
  (``direction_``: :class:`~prefstat.SignEstimator`, :class:`~prefstat.LatentClassBT`)
  share: angular error, disagreement rate, predict-time feature checks.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import make_scorer
from sklearn.utils.validation import check_is_fitted, validate_data

from ..data import ComparisonTable
from ..geometry import angle_degrees

__all__ = ["PreferenceClassifier", "DirectionMixin", "disagreement_rate", "preference_accuracy",
           "preference_accuracy_scorer"]


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


def disagreement_rate(b, beta, Z_eval) -> float:
    """Share of the rows of ``Z_eval`` on which sign(b^T z) != sign(beta^T z).

    For z ~ N(0, s^2 I) this equals angle(b, beta) / 180 degrees: the two signs
    differ exactly when z falls in the double wedge between the hyperplanes
    b^T z = 0 and beta^T z = 0, and the projection of an isotropic Gaussian on
    span(b, beta) has a uniform angle.
    """
    Z_eval = np.asarray(Z_eval.toarray() if sp.issparse(Z_eval) else Z_eval, np.float64)
    if Z_eval.ndim != 2 or Z_eval.shape[1] != np.size(beta) or np.size(b) != np.size(beta):
        raise ValueError(f"Z_eval must be (m, {np.size(b)}) and beta of length {np.size(b)}; got Z_eval "
                         f"{Z_eval.shape} and beta of length {np.size(beta)}.")
    return float(np.mean(np.sign(Z_eval @ np.ravel(b)) != np.sign(Z_eval @ np.ravel(beta))))


class DirectionMixin:
    """Helpers shared by estimators of a preference direction (``direction_``); mix into a
    :class:`~prefstat.models.base.PreferenceClassifier`."""

    def angular_error(self, beta) -> float:
        """Angle in degrees between ``direction_`` and ``beta`` (any non-zero length)."""
        check_is_fitted(self, "direction_")
        beta = np.ravel(np.asarray(beta, np.float64))
        if beta.shape != self.direction_.shape or not np.any(beta):
            raise ValueError(f"beta must be a non-zero vector of length {self.direction_.size}; got {beta!r}.")
        return angle_degrees(self.direction_, beta)

    def disagreement_rate(self, beta, Z_eval) -> float:
        """Share of the comparisons ``Z_eval`` that ``direction_`` and ``beta`` order differently.

        Equals ``angular_error(beta) / 180`` for isotropic Gaussian ``Z_eval``.
        """
        check_is_fitted(self, "direction_")
        return disagreement_rate(self.direction_, beta, Z_eval)

    def _check_width(self, Z):
        if Z.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {Z.shape[1]} features but the model was fitted on {self.n_features_in_}.")

    def _features(self, X):
        """Validated feature differences of ``X`` at predict time (dense or scipy.sparse)."""
        check_is_fitted(self, "direction_")
        self._check_input_names(X)
        table = ComparisonTable.from_features(X, np.zeros(X.shape[0] if hasattr(X, "shape") else len(X)))
        self._check_width(table.features)
        return table.features


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
