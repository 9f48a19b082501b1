"""Nuisance models shared by the estimators that need them: folds, cross-fitting, density ratios, overlap.

* :mod:`~prefstat.nuisance.samples` - the two-sample (human vs AI-labelled pool) view of one table;
* :mod:`~prefstat.nuisance.folds` - fold assignment on scikit-learn splitters (stratified, grouped, seeded);
* :mod:`~prefstat.nuisance.crossfit` - cross-fitted predictions of any scikit-learn model, and of
  prefstat's JAX logistic regression (vmapped over folds);
* :mod:`~prefstat.nuisance.density_ratio` - density ratios from class probabilities, the alpha-relative ratio;
* :mod:`~prefstat.nuisance.overlap` - weight diagnostics (Kish ESS, largest weight, top-1% share) and
  :class:`PoorOverlapWarning`.

See ``docs/methods.md`` (cross-fitting, density ratios).
"""
from .crossfit import CrossfitLogistic, crossfit_logistic, crossfit_logistic_ratio, crossfit_predict, fold_size_ratio
from .density_ratio import (check_finite_ratio, density_ratio_from_logodds, density_ratio_from_proba,
                            relative_density_ratio)
from .folds import SampleStratifiedKFold, assign_folds, fold_ids, folds_splitter
from .overlap import (POOR_OVERLAP_SHARE, PoorOverlapWarning, WeightDiagnostics, kish_ess, top_share,
                      warn_poor_overlap, weight_diagnostics)
from .samples import TwoSample, group_codes, known_ratio, split_samples

__all__ = [
    "TwoSample", "split_samples", "known_ratio", "group_codes",
    "SampleStratifiedKFold", "assign_folds", "fold_ids", "folds_splitter",
    "CrossfitLogistic", "crossfit_predict", "crossfit_logistic", "crossfit_logistic_ratio", "fold_size_ratio",
    "density_ratio_from_proba", "density_ratio_from_logodds", "relative_density_ratio", "check_finite_ratio",
    "PoorOverlapWarning", "POOR_OVERLAP_SHARE", "WeightDiagnostics", "kish_ess", "top_share",
    "weight_diagnostics", "warn_poor_overlap",
]
