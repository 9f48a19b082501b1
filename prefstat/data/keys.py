"""Aggregation keys: the sorted distinct values of a non-negative integer key and each row's position
among them, the step that turns rows into cells (pairs, pair x order x group, annotator x pair)."""
from __future__ import annotations

import numpy as np

__all__ = ["unique_keys"]

# A presence table of up to this many entries per row is cheaper than sorting the rows (counting is
# O(n + K), a sort O(n log n) with a large constant for int64 keys).
_DENSE_KEYS_PER_ROW = 4


def unique_keys(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(distinct, inverse)`` as ``np.unique(key, return_inverse=True)`` for a 1-d array of
    non-negative integers: ``distinct`` sorted (int64), ``distinct[inverse] == key``.

    When the key range is at most a few times the number of rows (e.g. pair keys ``a * k + b`` of a
    table with many rows per item), the cells are found by counting instead of sorting: same result,
    about ten times faster on a million rows."""
    key = np.asarray(key)
    n = key.shape[0]
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    top = int(key.max()) + 1
    if key.dtype.kind not in "iu" or int(key.min()) < 0 or top > _DENSE_KEYS_PER_ROW * n + 1024:
        distinct, inverse = np.unique(key, return_inverse=True)
        return distinct.astype(np.int64, copy=False), inverse.reshape(-1)
    present = np.zeros(top, bool)
    present[key] = True
    distinct = np.flatnonzero(present)
    position = np.cumsum(present) - 1
    return distinct.astype(np.int64, copy=False), position[key]
