"""Column checks shared by every way of building a ComparisonTable: each failure is a ValueError
naming the column, the first offending rows (0-based) and what to do."""
from __future__ import annotations


import numpy as np
import pandas as pd

__all__ = ["describe_rows", "missing_mask", "nonfinite_rows", "to_float", "check_outcome", "check_weight", "check_weight_range", "check_order",
           "check_shape", "as_labels", "factorize_items", "MAX_TOTAL_WEIGHT", "MAX_WEIGHT_RATIO"]

_MAX_ROWS_SHOWN = 5


def describe_rows(mask: np.ndarray) -> str:
    """'row 3' / 'rows 0, 4, 7 and 12 more': the first offending 0-based rows of a boolean mask, for error messages."""
    idx = np.flatnonzero(mask)
    shown = ", ".join(str(i) for i in idx[:_MAX_ROWS_SHOWN])
    more = f" and {idx.size - _MAX_ROWS_SHOWN} more" if idx.size > _MAX_ROWS_SHOWN else ""
    return f"row{'s' if idx.size > 1 else ''} {shown}{more}"


def missing_mask(values) -> np.ndarray:
    """Boolean mask of the missing entries (NaN, None, pandas NA or NaT) of a one-dimensional column.

    Numeric arrays (the usual input) are read directly: the object Series that the general case
    needs costs ~25 ms per million rows. Infinite values are not missing here (``to_float`` rejects
    them with its own message).
    """
    if isinstance(values, np.ndarray) and values.dtype.kind in "fc":
        return np.isnan(values)
    if isinstance(values, np.ndarray) and values.dtype.kind in "iub":
        return np.zeros(values.shape, dtype=bool)
    return pd.isna(pd.Series(values, dtype=object)).to_numpy(bool)


def nonfinite_rows(Z: np.ndarray) -> np.ndarray:
    """Boolean mask of the rows of a 2-D float array holding a NaN or an infinite entry.

    A row's sum is finite unless the row holds a NaN or an infinity (or its finite entries overflow
    when added): the row sums take one pass (measured 16 ms for 1M x 64 against 43 ms for the
    elementwise test, without its (n, d) boolean temporary), and only the rows whose sum is not
    finite are tested entry by entry. The sums are not a BLAS product: OpenBLAS's threads keep
    spinning after a call and slowed the fit that follows (0.8 s fits took up to 3 s).
    """
    sums = np.einsum("ij->i", Z)
    suspect = ~np.isfinite(sums)
    if suspect.any():
        suspect[suspect] = ~np.isfinite(Z[suspect]).all(axis=1)
    return suspect


def to_float(name: str, values, n: int | None) -> np.ndarray:
    """Convert a 1-D column to finite float64, or explain why not."""
    try:
        arr = np.asarray(values)
    except ValueError:
        raise ValueError(f"column '{name}' is ragged: every entry must be a single number.") from None
    if np.iscomplexobj(arr):
        raise ValueError(f"column '{name}' holds complex numbers; it must be real.")
    check_shape(name, arr, n)
    if arr.dtype.kind == "b":
        arr = arr.astype(np.float64)
    elif arr.dtype.kind in "iuf":
        arr = arr.astype(np.float64)
    else:
        converted = pd.to_numeric(pd.Series(arr, dtype=object), errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan
        )
        bad = np.isnan(converted) & ~missing_mask(arr)
        if bad.any():
            first = arr[np.flatnonzero(bad)[0]]
            raise ValueError(
                f"column '{name}' must be numeric; {describe_rows(bad)} hold non-numeric values "
                f"(e.g. {first!r}). Convert them to numbers first."
            )
        arr = converted
    nonfinite = ~np.isfinite(arr)
    if nonfinite.any():
        raise ValueError(
            f"column '{name}' has NaN or infinite values at {describe_rows(nonfinite)}; "
            "remove those rows or fill them explicitly."
        )
    return arr




def check_outcome(name: str, y: np.ndarray) -> None:
    """Raise naming the column and rows when an outcome lies outside [0, 1]."""
    bad = (y < 0.0) | (y > 1.0)
    if bad.any():
        raise ValueError(
            f"column '{name}' must lie in [0, 1] (1 = left preferred, 0 = right, 0.5 = tie); "
            f"{describe_rows(bad)} are out of range (e.g. {float(y[bad][0])!r}). Recode the outcome."
        )



# Range of frequency weights in which float64 arithmetic stays exact enough (see check_weight).
MAX_TOTAL_WEIGHT = 2.0**53
MAX_WEIGHT_RATIO = 1e9


def check_weight(name: str, w: np.ndarray) -> None:
    """Frequency weights: non-negative, some positive, and inside the range where float64 is exact enough.

    Two rules, both about float64 (53-bit significand) arithmetic; weights are
    frequency weights (rescaling them changes the standard errors), so prefstat
    never rescales them itself.

    * The total weight is at most ``2**53`` (about 9.0e15): every integer up to
      ``2**53`` is a float64, so integer frequency counts add exactly and a
      weight-1 row still changes every sum it enters. Beyond it a comparison
      can vanish from a sum, and the log-likelihood (of the order of the total
      weight) no longer resolves the likelihood differences the fit needs.
    * The largest positive weight is at most ``1e9`` times the smallest one.
      A row of weight ``w`` next to one of weight ``w_max`` is resolved to
      relative precision about ``2**-53 * w_max / w`` (1.1e-7 at the bound) in
      the sums and in the Hessian solve, which keeps the estimates and standard
      errors well beyond the six significant digits prefstat prints (measured:
      one row of weight 1e9 among weights of 1 reproduces the fit of the same
      weights divided by 1e9 to 1.4e-8; at a ratio of 1e10 Newton no longer
      converges and at 1e300 the other parameters look non-identifiable).
      A row that should not count gets weight 0, which is exact.
    """
    neg = w < 0
    if neg.any():
        raise ValueError(f"column '{name}' must be non-negative; {describe_rows(neg)} are negative.")
    with np.errstate(over="ignore"):
        total = w.sum()
    if total <= 0:
        raise ValueError(f"column '{name}' sums to zero: no comparison carries any weight.")
    if not np.isfinite(total):
        raise ValueError(
            f"column '{name}' sums to infinity in float64; rescale the weights "
            "(they are frequency weights, only their ratios and total count matter)."
        )
    check_weight_range(name, w[:, None])


def check_weight_range(name: str | list, w: np.ndarray) -> None:
    """The two float64 rules of :func:`check_weight` on an (n, k) array of weights (k count columns).

    ``name`` is the column name, or one name per column of ``w``; rows in the
    message are positions along the first axis.
    """
    names = [name] * w.shape[1] if isinstance(name, str) else list(name)
    label = f"column '{names[0]}'" if len(set(names)) == 1 else "columns " + ", ".join(f"'{c}'" for c in names)
    advice = "weights are frequency weights, so prefstat does not rescale them (that would change the standard errors)"
    with np.errstate(over="ignore"):
        total = float(w.sum())
    if total > MAX_TOTAL_WEIGHT:
        big = (w > MAX_TOTAL_WEIGHT / w.size).any(axis=1)
        raise ValueError(
            f"{label} sum{'s' if len(set(names)) == 1 else ''} to {total:.6g} (largest weights at {describe_rows(big)}), "
            f"more than 2**53 = {MAX_TOTAL_WEIGHT:.6g}, the largest total at which float64 adds integer "
            f"frequency counts exactly. If they do not count comparisons, divide them by a constant yourself; {advice}."
        )
    positive = w > 0
    w_max = w.max()
    w_min = w[positive].min()
    if w_max > MAX_WEIGHT_RATIO * w_min:
        i_max, j_max = np.unravel_index(np.argmax(w), w.shape)
        small = (positive & (w < w_max / MAX_WEIGHT_RATIO)).any(axis=1)
        where = "" if len(set(names)) == 1 else f" of '{names[j_max]}'"
        raise ValueError(
            f"{label}: the largest weight ({w_max:.6g} at row {i_max}{where}) is more than "
            f"{MAX_WEIGHT_RATIO:.0e} times the weights at {describe_rows(small)} (smallest {w_min:.6g}); beyond that ratio "
            f"float64 sums lose the small rows' contributions (rule: largest / smallest positive weight <= "
            f"{MAX_WEIGHT_RATIO:.0e}). Give rows that should not count weight 0; {advice}."
        )


def check_order(name: str, o: np.ndarray) -> None:
    bad = ~np.isin(o, (-1.0, 0.0, 1.0))
    if bad.any():
        raise ValueError(
            f"column '{name}' must be +1 (left holds the order advantage), -1 (right does) "
            f"or 0 (neither); {describe_rows(bad)} hold other values (e.g. {float(o[bad][0])!r})."
        )


def check_shape(name: str, arr: np.ndarray, n: int | None) -> None:
    if arr.ndim != 1:
        raise ValueError(f"column '{name}' must be one-dimensional; got shape {arr.shape}.")
    if n is not None and arr.shape[0] != n:
        raise ValueError(
            f"column '{name}' has {arr.shape[0]} rows but the table has {n}; "
            "all columns must have the same length."
        )


def as_labels(name: str, values, n: int | None) -> np.ndarray:
    arr = np.asarray(values, dtype=object) if not isinstance(values, np.ndarray) else values
    check_shape(name, arr, n)
    if arr.dtype.kind in "fO":  # integer, bool and fixed-width string columns cannot hold missing values
        missing = pd.isna(arr)
        if missing.any():
            raise ValueError(f"column '{name}' has missing labels at {describe_rows(missing)}; drop or fill those rows.")
    if arr.dtype.kind == "c":
        raise ValueError(f"column '{name}' holds complex numbers; item labels must be integers or strings.")
    if arr.dtype.kind == "f":
        huge = ~np.isfinite(arr) | (np.abs(arr) >= 2.0**62)
        if huge.any():
            raise ValueError(f"column '{name}' holds infinite or huge float labels at {describe_rows(huge)}; "
                             "item labels must be integers or strings.")
        nonint = arr != np.round(arr)
        if nonint.any():
            raise ValueError(
                f"column '{name}' holds non-integer float labels at {describe_rows(nonint)}; item labels "
                "must be integers or strings (for feature differences use the feature-level design)."
            )
        arr = arr.astype(np.int64)
    return arr


def factorize_items(left: np.ndarray, right: np.ndarray, items=None):
    """Integer codes of the left and right labels in a common item list.

    ``items`` defaults to the sorted union of the labels (first-appearance order
    when the labels cannot be sorted, e.g. mixed ints and strings).
    """
    both = np.concatenate([left, right])
    if items is None:
        try:
            codes, items = pd.factorize(both, sort=True)
        except TypeError:  # labels of mixed, unorderable types: keep first-appearance order
            codes, items = pd.factorize(both, sort=False)
    else:
        codes = pd.Index(items).get_indexer(both)
    n = left.shape[0]
    return codes[:n].astype(np.int32), codes[n:].astype(np.int32), np.asarray(items, dtype=object)
