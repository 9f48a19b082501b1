"""Fold assignment for cross-fitting, on top of scikit-learn's splitters.

Cross-fitting (Chernozhukov et al. 2018, *Double/debiased machine learning*)
predicts each row's nuisance value (a class probability, a density ratio, a
regression function) from a model fitted on the other folds, so the
prediction error is independent of the row. Folds are

* stratified by sample (the label ``y``, e.g. human row vs pool row), so
  every training fold holds both samples in their overall proportion;
* grouped when ``groups`` are given (all rows of a cluster in one fold: the
  cluster, not the row, is the independent unit), via scikit-learn's
  ``StratifiedGroupKFold`` / ``GroupKFold``;
* seeded by ``random_state``.

The default splitter, :class:`SampleStratifiedKFold`, shuffles each class's
rows and deals them round-robin into the folds, so fold sizes within a class
differ by at most one row. It follows scikit-learn's splitter API (``split``,
``get_n_splits``) and can be passed wherever scikit-learn takes ``cv=``; any
scikit-learn splitter can be passed to :func:`assign_folds` as ``cv``
instead. See ``docs/methods.md`` (cross-fitting).
"""
from __future__ import annotations

import numbers

import numpy as np
from sklearn.model_selection import (BaseCrossValidator, GroupKFold, KFold, PredefinedSplit, StratifiedGroupKFold)

__all__ = ["SampleStratifiedKFold", "assign_folds", "fold_ids", "folds_splitter"]


def _check_n_splits(n_splits) -> int:
    if isinstance(n_splits, bool) or not isinstance(n_splits, numbers.Integral) or n_splits < 2:
        raise ValueError(f"n_splits must be an integer >= 2; got {n_splits!r}.")
    return int(n_splits)


class SampleStratifiedKFold(BaseCrossValidator):
    """K folds stratified by class: each class's rows are shuffled and dealt round-robin.

    Within every class (in sorted order of the class labels) the rows are put
    in a random order drawn from ``numpy.random.default_rng(random_state)``
    and row ``j`` of that order goes to fold ``j mod n_splits``. Every fold
    therefore holds ``floor`` or ``ceil`` of ``n_c / n_splits`` rows of each
    class ``c``. Unlike scikit-learn's ``StratifiedKFold(shuffle=True)`` the
    assignment is a plain function of the seed and the class sizes, which the
    JAX cross-fitting code can reproduce row for row.

    Parameters
    ----------
    n_splits : int >= 2
    random_state : int, numpy Generator or None
        Seed of the shuffle (``None``: fresh entropy on every ``split``).
    """

    def __init__(self, n_splits: int = 5, random_state=None):
        self.n_splits = n_splits
        self.random_state = random_state

    def get_n_splits(self, X=None, y=None, groups=None) -> int:
        return _check_n_splits(self.n_splits)

    def fold_ids(self, y) -> np.ndarray:
        """(n,) int32 fold of every row, stratified by the labels ``y``."""
        k = self.get_n_splits()
        y = np.asarray(y)
        if y.ndim != 1:
            raise ValueError(f"y (the stratification labels) must be one-dimensional; got shape {y.shape}.")
        classes, counts = np.unique(y, return_counts=True)
        if counts.size and counts.min() < k:
            small = classes[np.argmin(counts)]
            small = small.item() if isinstance(small, np.generic) else small
            raise ValueError(f"n_splits={k} needs at least {k} rows of every class; class {small!r} has "
                             f"{counts.min()}.")
        rng = np.random.default_rng(self.random_state)
        folds = np.zeros(y.size, np.int32)
        for c in classes:
            idx = np.flatnonzero(y == c)
            folds[idx[rng.permutation(idx.size)]] = np.arange(idx.size) % k
        return folds

    def split(self, X, y, groups=None):
        """Yield ``(train, test)`` index arrays, fold 0 first (scikit-learn's splitter API)."""
        if groups is not None:
            raise ValueError("SampleStratifiedKFold does not group rows; use assign_folds(..., groups=...) "
                             "(StratifiedGroupKFold) to keep clusters in one fold.")
        folds = self.fold_ids(y)
        rows = np.arange(folds.size)
        for k in range(self.get_n_splits()):
            yield rows[folds != k], rows[folds == k]


def fold_ids(cv, X, y=None, groups=None) -> np.ndarray:
    """(n,) int32 fold number of every row from any splitter: row ``r`` is in fold ``k`` when it is in
    the ``k``-th test set. Raises unless the test sets partition the rows (as K-fold splitters do)."""
    n = len(y) if X is None else (X.shape[0] if hasattr(X, "shape") else len(X))
    folds = np.full(n, -1, np.int32)
    for k, (_, test) in enumerate(cv.split(X if X is not None else np.zeros((n, 1)), y, groups)):
        if np.any(folds[test] >= 0):
            raise ValueError(f"the splitter {cv!r} puts a row in two test sets; cross-fitting needs a "
                             "partition of the rows (a K-fold splitter).")
        folds[test] = k
    if np.any(folds < 0):
        raise ValueError(f"the splitter {cv!r} leaves {int(np.sum(folds < 0))} rows out of every test set; "
                         "cross-fitting needs a partition of the rows (a K-fold splitter).")
    return folds


def folds_splitter(folds) -> PredefinedSplit:
    """scikit-learn splitter (``PredefinedSplit``) whose ``k``-th split tests the rows of fold ``k``."""
    return PredefinedSplit(np.asarray(folds))


def assign_folds(y, n_folds: int = 5, random_state=None, groups=None, cv=None, stratify: bool = True) -> np.ndarray:
    """(n,) int32 fold of every row for cross-fitting.

    ``y``: the sample (class) of each row, e.g. 1 on pool rows and 0 on human
    rows. Without ``groups`` and ``cv`` the folds come from
    :class:`SampleStratifiedKFold` (stratified by ``y``, seeded); with
    ``groups``, from ``StratifiedGroupKFold(shuffle=True)`` (``GroupKFold``
    with ``stratify=False``), so a cluster never spans two folds; without
    stratification and groups, ``KFold(shuffle=True)``. ``cv``: any
    scikit-learn K-fold splitter to use instead (``n_folds``,
    ``random_state`` and ``stratify`` are then ignored; ``groups`` is passed on).
    """
    y = np.asarray(y)
    if cv is not None:
        if not (hasattr(cv, "split") and hasattr(cv, "get_n_splits")):
            raise ValueError(f"cv must be a scikit-learn splitter (with split and get_n_splits); got {cv!r}.")
        return fold_ids(cv, None, y, groups)
    n_folds = _check_n_splits(n_folds)
    seed = random_state
    if isinstance(seed, np.random.Generator):
        # scikit-learn's splitters take an int or a RandomState: derive one from the generator
        seed = int(seed.integers(2**31 - 1))
    if groups is None:
        if stratify:
            return SampleStratifiedKFold(n_folds, random_state).fold_ids(y)
        return fold_ids(KFold(n_folds, shuffle=True, random_state=seed), None, y)
    groups = np.asarray(groups)
    if groups.shape != y.shape:
        raise ValueError(f"groups must have one entry per row ({y.size}); got shape {groups.shape}.")
    n_groups = np.unique(groups).size
    if n_groups < n_folds:
        raise ValueError(f"n_folds={n_folds} needs at least {n_folds} groups; groups has {n_groups}.")
    splitter = StratifiedGroupKFold(n_folds, shuffle=True, random_state=seed) if stratify else \
        GroupKFold(n_folds, shuffle=True, random_state=seed)
    return fold_ids(splitter, None, y, groups)
