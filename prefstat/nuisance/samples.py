"""The two-sample view of one comparison table: human-labelled rows and the AI-labelled pool.

Every estimator that takes ``ai_label`` reads one table in which rows with a
human label ``y`` form the *human sample* and rows with ``y`` missing (NaN)
form the *pool*; the judge's label ``ai_label`` is given on every row. This
module splits and validates that view once, with errors naming the rows:

* :func:`split_samples` - human mask, ``y`` (pool rows filled with 0) and judge labels;
* :func:`known_ratio` - user-supplied density ratios ``dP_pool/dP_human`` on the human rows;
* :func:`group_codes` - cluster ids per sample (human rows must have them; pool rows all or none).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from ..data import check_outcome, describe_rows, missing_mask, to_float

__all__ = ["TwoSample", "split_samples", "known_ratio", "group_codes"]


class TwoSample(NamedTuple):
    """Human/pool split of one table (unpacks as ``human, y, ai``)."""

    human: np.ndarray  # (m,) bool: row has a human label
    y: np.ndarray  # (m,) float human label, 0 on pool rows
    ai: np.ndarray  # (m,) float judge label

    @property
    def pool(self) -> np.ndarray:
        return ~self.human


def split_samples(y, ai_label, n_rows=None) -> TwoSample:
    """Validated human/pool split: human rows have ``y``, pool rows ``y = NaN``; ``ai_label`` on every row.

    Both labels must lie in [0, 1] (1 left preferred, 0 right, 0.5 tie, or a
    probability); both samples must be non-empty; a missing judge label is an
    error naming its rows.
    """
    if y is None:
        raise ValueError("y is required: the human label (1 left preferred, 0 right, 0.5 tie) on human rows, "
                         "NaN on the AI-labelled pool rows.")
    y_arr = np.asarray(y, dtype=object) if not isinstance(y, np.ndarray) else y
    if y_arr.ndim != 1:
        raise ValueError(f"y must be one-dimensional; got shape {y_arr.shape}.")
    pool = missing_mask(y_arr)
    human = ~pool
    filled = to_float("y", np.where(pool, 0.0, y_arr), n_rows)
    check_outcome("y", filled)
    if not human.any():
        raise ValueError("y has no human labels (every row is NaN): the correction needs a human-labelled "
                         "sample that also carries the judge's labels.")
    if not pool.any():
        raise ValueError("y has no missing values, so there is no AI-labelled pool (pool rows are those with "
                         "y = NaN). With human labels on every row, fit BradleyTerry instead.")
    if ai_label is None:
        raise ValueError("ai_label is required: the judge's label (0/1, or its probability that the left option "
                         "is preferred) on every row, human-labelled rows included.")
    a_arr = np.asarray(ai_label, dtype=object) if not isinstance(ai_label, np.ndarray) else ai_label
    if a_arr.ndim != 1 or a_arr.shape[0] != y_arr.shape[0]:
        raise ValueError(f"ai_label must be one-dimensional with one entry per row ({y_arr.shape[0]}); "
                         f"got shape {a_arr.shape}.")
    missing = missing_mask(a_arr)
    if (missing & human).any():
        raise ValueError(f"ai_label is missing on human-labelled {describe_rows(missing & human)}: the residual "
                         "correction needs the judge's label on every human row. Label them with the judge "
                         "(or drop them).")
    if missing.any():
        raise ValueError(f"ai_label is missing on pool {describe_rows(missing)} (y is NaN there too), so these "
                         "rows carry no label at all; drop them.")
    ai = to_float("ai_label", a_arr, None)
    check_outcome("ai_label", ai)
    return TwoSample(human, filled, ai)


def known_ratio(values, human) -> np.ndarray:
    """Known density ratio on the human rows, as one value per row (1 on pool rows).

    ``values``: one entry per human row (in row order), or one per row (pool
    entries ignored). Must be finite, non-negative and positive somewhere.
    """
    arr = np.asarray(values, dtype=np.float64)
    n_h, m = int(human.sum()), human.size
    if arr.ndim != 1 or arr.shape[0] not in (n_h, m):
        raise ValueError(f"density_ratio must have one entry per human row ({n_h}) or per row ({m}); "
                         f"got shape {arr.shape}.")
    full = np.ones(m)
    if arr.shape[0] == m:
        full[human] = arr[human]
    else:
        full[human] = arr
    bad = human & ~np.isfinite(full)
    if bad.any():
        raise ValueError(f"density_ratio is NaN or infinite on human {describe_rows(bad)}; the weights must be "
                         "finite.")
    neg = human & (full < 0)
    if neg.any():
        raise ValueError(f"density_ratio is negative on human {describe_rows(neg)}; a density ratio is >= 0.")
    if not np.any(full[human] > 0):
        raise ValueError("density_ratio is zero on every human row: no human row resembles the pool.")
    return full


def group_codes(groups, human, m) -> np.ndarray:
    """(m,) int cluster codes, numbered within each sample (0, 1, ... among human rows, again among pool rows).

    Human rows must all have ids; pool rows all or none: without ids (code -1)
    pool rows count as independent units.
    """
    g = np.asarray(groups, dtype=object) if not isinstance(groups, np.ndarray) else groups
    if g.ndim != 1 or g.shape[0] != m:
        raise ValueError(f"groups must be one-dimensional with {m} rows; got shape {g.shape}.")
    missing = missing_mask(g)
    if (missing & human).any():
        raise ValueError(f"groups has missing ids on human-labelled {describe_rows(missing & human)}; every human "
                         "row needs its cluster (e.g. annotator) id.")
    pool_missing = missing & ~human
    if pool_missing.any() and not pool_missing.sum() == (~human).sum():
        raise ValueError(f"groups is missing on pool {describe_rows(pool_missing)} but given on other pool rows; "
                         "give ids on every pool row, or on none (then pool rows count as independent).")
    codes = np.full(m, -1, np.int64)
    codes[human] = pd.factorize(g[human])[0]
    if not pool_missing.any():
        codes[~human] = pd.factorize(g[~human])[0]
    return codes
