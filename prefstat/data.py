"""ComparisonTable: the validated container every prefstat estimator reads.

A row compares a *left* and a *right* option. Options are either item labels
(item-level design: abilities per item) or, for the feature-level design, the
row holds the feature difference ``z = phi(left) - phi(right)``. The outcome is
1 when left was preferred, 0 when right was, 1/2 for a tie (values in between
are accepted as soft labels). Optional columns:

* ``weight``: frequency weights. A row of weight 3 counts as three identical
  comparisons, in the estimate *and* in every covariance (robust, cluster,
  bootstrap). Aggregated count tables are stored this way.
* ``group``: cluster id (annotator, prompt) for cluster-robust standard errors.
* ``order``: which option holds the order advantage (home ground, first
  position shown to a judge): +1 left, -1 right, 0 neither.

Every problem is reported as a ``ValueError`` naming the column, the first
offending rows (0-based positions) and what to do about it.
"""
from __future__ import annotations

import functools
import os
from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .validation import warn_caller

__all__ = ["ComparisonTable", "as_table", "describe_rows", "factorize_items"]

_MAX_ROWS_SHOWN = 5


def describe_rows(mask: np.ndarray) -> str:
    """'row 3' / 'rows 0, 4, 7 and 12 more': the first offending 0-based rows of a boolean mask, for error messages."""
    idx = np.flatnonzero(mask)
    shown = ", ".join(str(i) for i in idx[:_MAX_ROWS_SHOWN])
    more = f" and {idx.size - _MAX_ROWS_SHOWN} more" if idx.size > _MAX_ROWS_SHOWN else ""
    return f"row{'s' if idx.size > 1 else ''} {shown}{more}"


_rows = describe_rows


def to_float(name: str, values, n: int | None) -> np.ndarray:
    """Convert a 1-D column to finite float64, or explain why not."""
    try:
        arr = np.asarray(values)
    except ValueError:
        raise ValueError(f"column '{name}' is ragged: every entry must be a single number.") from None
    if np.iscomplexobj(arr):
        raise ValueError(f"column '{name}' holds complex numbers; it must be real.")
    _check_shape(name, arr, n)
    if arr.dtype.kind == "b":
        arr = arr.astype(np.float64)
    elif arr.dtype.kind in "iuf":
        arr = arr.astype(np.float64)
    else:
        converted = pd.to_numeric(pd.Series(arr, dtype=object), errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan
        )
        bad = np.isnan(converted) & ~pd.isna(pd.Series(arr, dtype=object)).to_numpy()
        if bad.any():
            first = arr[np.flatnonzero(bad)[0]]
            raise ValueError(
                f"column '{name}' must be numeric; {_rows(bad)} hold non-numeric values "
                f"(e.g. {first!r}). Convert them to numbers first."
            )
        arr = converted
    nonfinite = ~np.isfinite(arr)
    if nonfinite.any():
        raise ValueError(
            f"column '{name}' has NaN or infinite values at {_rows(nonfinite)}; "
            "remove those rows or fill them explicitly."
        )
    return arr


_to_float = to_float


def check_outcome(name: str, y: np.ndarray) -> None:
    """Raise naming the column and rows when an outcome lies outside [0, 1]."""
    bad = (y < 0.0) | (y > 1.0)
    if bad.any():
        raise ValueError(
            f"column '{name}' must lie in [0, 1] (1 = left preferred, 0 = right, 0.5 = tie); "
            f"{_rows(bad)} are out of range (e.g. {float(y[bad][0])!r}). Recode the outcome."
        )


_check_outcome = check_outcome

# Range of frequency weights in which float64 arithmetic stays exact enough (see _check_weight).
MAX_TOTAL_WEIGHT = 2.0**53
MAX_WEIGHT_RATIO = 1e9


def _check_weight(name: str, w: np.ndarray) -> None:
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
        raise ValueError(f"column '{name}' must be non-negative; {_rows(neg)} are negative.")
    with np.errstate(over="ignore"):
        total = w.sum()
    if total <= 0:
        raise ValueError(f"column '{name}' sums to zero: no comparison carries any weight.")
    if not np.isfinite(total):
        raise ValueError(
            f"column '{name}' sums to infinity in float64; rescale the weights "
            "(they are frequency weights, only their ratios and total count matter)."
        )
    _check_weight_range(name, w[:, None])


def _check_weight_range(name: str | list, w: np.ndarray) -> None:
    """The two float64 rules of :func:`_check_weight` on an (n, k) array of weights (k count columns).

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
            f"{label} sum{'s' if len(set(names)) == 1 else ''} to {total:.6g} (largest weights at {_rows(big)}), "
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
            f"{MAX_WEIGHT_RATIO:.0e} times the weights at {_rows(small)} (smallest {w_min:.6g}); beyond that ratio "
            f"float64 sums lose the small rows' contributions (rule: largest / smallest positive weight <= "
            f"{MAX_WEIGHT_RATIO:.0e}). Give rows that should not count weight 0; {advice}."
        )


def _check_order(name: str, o: np.ndarray) -> None:
    bad = ~np.isin(o, (-1.0, 0.0, 1.0))
    if bad.any():
        raise ValueError(
            f"column '{name}' must be +1 (left holds the order advantage), -1 (right does) "
            f"or 0 (neither); {_rows(bad)} hold other values (e.g. {float(o[bad][0])!r})."
        )


def _check_shape(name: str, arr: np.ndarray, n: int | None) -> None:
    if arr.ndim != 1:
        raise ValueError(f"column '{name}' must be one-dimensional; got shape {arr.shape}.")
    if n is not None and arr.shape[0] != n:
        raise ValueError(
            f"column '{name}' has {arr.shape[0]} rows but the table has {n}; "
            "all columns must have the same length."
        )


def _labels(name: str, values, n: int | None) -> np.ndarray:
    arr = np.asarray(values, dtype=object) if not isinstance(values, np.ndarray) else values
    _check_shape(name, arr, n)
    if arr.dtype.kind in "fO":  # integer, bool and fixed-width string columns cannot hold missing values
        missing = pd.isna(arr)
        if missing.any():
            raise ValueError(f"column '{name}' has missing labels at {_rows(missing)}; drop or fill those rows.")
    if arr.dtype.kind == "c":
        raise ValueError(f"column '{name}' holds complex numbers; item labels must be integers or strings.")
    if arr.dtype.kind == "f":
        huge = ~np.isfinite(arr) | (np.abs(arr) >= 2.0**62)
        if huge.any():
            raise ValueError(f"column '{name}' holds infinite or huge float labels at {_rows(huge)}; "
                             "item labels must be integers or strings.")
        nonint = arr != np.round(arr)
        if nonint.any():
            raise ValueError(
                f"column '{name}' holds non-integer float labels at {_rows(nonint)}; item labels "
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


@dataclass(frozen=True, eq=False)
class ComparisonTable:
    """Validated comparison rows. Build it with one of the ``from_*`` constructors.

    Attributes
    ----------
    kind : {"items", "features"}
    left, right : ndarray of labels, shape (n,) (item-level only)
    features : ndarray (n, d) or scipy.sparse CSR matrix of feature differences (feature-level only)
    outcome : float64 ndarray (n,) in [0, 1]
    weight : float64 ndarray (n,), frequency weights (ones by default)
    group : ndarray (n,) or None
    order : float64 ndarray (n,) in {-1, 0, 1}, or None
    feature_names : list of str (feature-level) or None
    """

    kind: str
    outcome: np.ndarray
    weight: np.ndarray
    left: np.ndarray | None = None
    right: np.ndarray | None = None
    features: np.ndarray | sp.csr_matrix | None = None
    group: np.ndarray | None = None
    order: np.ndarray | None = None
    feature_names: list | None = None

    # ------------------------------------------------------------------ basics
    @property
    def n_rows(self) -> int:
        return int(self.outcome.shape[0])

    def __len__(self) -> int:
        return self.n_rows

    @functools.cached_property
    def item_codes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(left codes, right codes, item labels): integer codes into the sorted item list."""
        if self.kind != "items":
            raise ValueError("a feature-level table has no item labels.")
        return factorize_items(self.left, self.right)

    @property
    def items(self) -> np.ndarray:
        """Sorted item labels (item-level tables)."""
        return self.item_codes[2]

    def __repr__(self) -> str:
        extra = f"{len(self.items)} items" if self.kind == "items" else f"{self.features.shape[1]} features"
        return f"ComparisonTable({self.kind}, {self.n_rows} rows, {extra}, total weight {self.weight.sum():g})"

    # ------------------------------------------------------------ constructors
    @classmethod
    def from_items(cls, left, right, outcome, weight=None, group=None, order=None, *,
                   names=("left", "right", "outcome", "weight", "group", "order")) -> "ComparisonTable":
        """Item-level table from label columns. ``names`` are used in error messages."""
        n_left, n_right, n_out, n_w, n_g, n_o = names
        left = _labels(n_left, left, None)
        n = left.shape[0]
        if n == 0:
            raise ValueError("the comparison table is empty: there are no rows to fit.")
        right = _labels(n_right, right, n)
        y = _to_float(n_out, outcome, n)
        _check_outcome(n_out, y)
        w, g, o = cls._optional(n, weight, group, order, n_w, n_g, n_o)
        table = cls(kind="items", outcome=y, weight=w, left=left, right=right, group=g, order=o)
        try:
            code_left, code_right, items = table.item_codes
        except TypeError:  # unhashable labels (e.g. lists in an object column)
            for name, col in ((n_left, left), (n_right, right)):
                bad = np.array([not isinstance(v, Hashable) for v in col])
                if bad.any():
                    raise ValueError(f"column '{name}' holds unhashable labels (e.g. lists) at {_rows(bad)}; "
                                     "item labels must be integers or strings.") from None
            raise
        same = code_left == code_right
        if same.any():
            raise ValueError(
                f"self-comparisons: '{n_left}' equals '{n_right}' at {_rows(same)} "
                f"(e.g. item {left[same][0]!r}); an item cannot be compared with itself. Drop those rows."
            )
        if items.size < 2:
            raise ValueError(f"at least two distinct items are needed; the table only has {list(items)}.")
        return table

    @classmethod
    def from_features(cls, features, outcome, weight=None, group=None, order=None, *, feature_names=None,
                      names=("X", "outcome", "weight", "group", "order")) -> "ComparisonTable":
        """Feature-level table from the (n, d) matrix of differences phi(left) - phi(right)."""
        n_x, n_out, n_w, n_g, n_o = names
        if sp.issparse(features):
            if np.iscomplexobj(features):
                raise ValueError(f"'{n_x}' holds complex numbers (Complex data not supported); "
                                 "feature differences must be real.")
            Z = sp.csr_matrix(features, dtype=np.float64)
            if Z.shape[0] == 0:
                raise ValueError("the comparison table is empty: there are no rows to fit.")
            bad_data = ~np.isfinite(Z.data)
            if bad_data.any():
                rows = np.repeat(np.arange(Z.shape[0]), np.diff(Z.indptr))[bad_data]
                mask = np.zeros(Z.shape[0], bool)
                mask[rows] = True
                raise ValueError(f"'{n_x}' has NaN or infinite entries at {_rows(mask)}.")
        else:
            if np.iscomplexobj(features):
                raise ValueError(f"'{n_x}' holds complex numbers (Complex data not supported); "
                                 "feature differences must be real.")
            try:
                Z = np.asarray(features, dtype=np.float64)
            except (ValueError, TypeError) as err:
                raise ValueError(
                    f"'{n_x}' must be a numeric (n, d) array of feature differences; "
                    f"it could not be converted ({err}). Check for ragged rows or text."
                ) from None
            if Z.ndim == 1:
                raise ValueError(f"'{n_x}' must be two-dimensional (n, d); reshape a single feature with X.reshape(-1, 1).")
            if Z.ndim != 2:
                raise ValueError(f"'{n_x}' must be two-dimensional (n, d); got shape {Z.shape}.")
            if Z.shape[0] == 0:
                raise ValueError("the comparison table is empty: there are no rows to fit.")
            bad = ~np.isfinite(Z).all(axis=1)
            if bad.any():
                raise ValueError(f"'{n_x}' has NaN or infinite entries at {_rows(bad)}; remove or fill them.")
        if Z.shape[1] == 0:
            raise ValueError(f"'{n_x}' has no columns: at least one feature is needed.")
        n = Z.shape[0]
        y = _to_float(n_out, outcome, n)
        _check_outcome(n_out, y)
        w, g, o = cls._optional(n, weight, group, order, n_w, n_g, n_o)
        if feature_names is None:
            feature_names = [f"x{j}" for j in range(Z.shape[1])]
        return cls(kind="features", outcome=y, weight=w, features=Z, group=g, order=o,
                   feature_names=list(map(str, feature_names)))

    @staticmethod
    def _optional(n, weight, group, order, n_w, n_g, n_o):
        w = np.ones(n) if weight is None else _to_float(n_w, weight, n)
        _check_weight(n_w, w)
        g = None
        if group is not None:
            g = np.asarray(group, dtype=object) if not isinstance(group, np.ndarray) else group
            if g.ndim != 1 or g.shape[0] != n:
                raise ValueError(
                    f"column '{n_g}' must be one-dimensional with {n} rows; got shape {g.shape}."
                )
            missing = pd.isna(pd.Series(g, dtype=object)).to_numpy()
            if missing.any():
                raise ValueError(f"column '{n_g}' has missing group ids at {_rows(missing)}; fill or drop them.")
        o = None
        if order is not None:
            o = _to_float(n_o, order, n)
            _check_order(n_o, o)
        return w, g, o

    @classmethod
    def from_arrays(cls, X, y, sample_weight=None, groups=None, order=None, design="auto") -> "ComparisonTable":
        """The estimator-facing constructor: ``X`` is (n, 2) labels or (n, d) feature differences.

        ``design="auto"`` treats a two-column array of integer, string, bool or
        object dtype as item labels and any float array (or a sparse matrix)
        as feature differences; pass ``design="items"`` or ``"features"`` to
        override. A two-column float array whose values are all integers is
        read as features with a warning (item codes stored as floats are a
        common mistake; pass ``design`` explicitly to silence it).

        A pandas DataFrame is read column by column: exactly two label columns
        (string, object, categorical, integer or bool) are items; all-numeric
        columns are features, named after the columns when every column name
        is a string (``feature_names``); a label column next to a float
        column is an error naming both.
        """
        if isinstance(X, ComparisonTable):
            raise ValueError("pass a ComparisonTable alone (fit(table)), not together with y.")
        if y is None:
            raise ValueError("y (the outcome column) is required when X is an array.")
        if design not in ("auto", "items", "features"):
            raise ValueError(f"design must be 'auto', 'items' or 'features'; got {design!r}.")
        feature_names = None
        if sp.issparse(X):
            kind = "features"
        else:
            frame_kind = None
            if isinstance(X, pd.DataFrame):
                frame_kind = _frame_kind(X, design)
                if all(isinstance(c, str) for c in X.columns):
                    feature_names = list(X.columns)
                X = X.to_numpy()
            try:
                X = np.asarray(X)
            except ValueError:
                raise ValueError("X is ragged: every row must have the same number of entries.") from None
            if X.ndim != 2:
                raise ValueError(
                    f"X must be two-dimensional: (n, 2) item labels or (n, d) feature differences; got shape {X.shape}."
                )
            kind = design
            if design == "auto":
                kind = frame_kind or ("items" if (X.shape[1] == 2 and X.dtype.kind in "iuUSOb") else "features")
                if kind == "features":
                    _warn_if_item_codes(X)
        if kind == "items":
            if sp.issparse(X):
                raise ValueError("an item-level design needs an (n, 2) array of labels, not a sparse matrix.")
            if X.ndim != 2 or X.shape[1] != 2:
                raise ValueError(f"an item-level X must have exactly two columns (left, right); got shape {X.shape}.")
            return cls.from_items(X[:, 0], X[:, 1], y, sample_weight, groups, order,
                                  names=("X[:, 0] (left)", "X[:, 1] (right)", "y", "sample_weight", "groups", "order"))
        return cls.from_features(X, y, sample_weight, groups, order, feature_names=feature_names,
                                 names=("X", "y", "sample_weight", "groups", "order"))

    @classmethod
    def from_pandas(cls, df: pd.DataFrame, left=None, right=None, outcome=None, *, features=None,
                    weight=None, group=None, order=None, left_wins=None, right_wins=None,
                    ties=None) -> "ComparisonTable":
        """Table from a DataFrame, one comparison per row or aggregated counts.

        One comparison per row: name ``left``, ``right`` and ``outcome`` (or
        ``features``, a list of difference columns, with ``outcome``).
        Aggregated counts: name ``left``, ``right`` and ``left_wins`` plus
        ``right_wins`` and/or ``ties``; each count becomes a weighted row
        (e.g. baseball's ``home_wins``/``away_wins``). ``order`` may be a
        column name or a constant (``order=1``: the left option always holds
        the order advantage).
        """
        if not isinstance(df, pd.DataFrame):
            raise ValueError(f"expected a pandas DataFrame; got {type(df).__name__}.")

        def col(name, what):
            if name is None:
                return None
            if name not in df.columns:
                raise ValueError(f"column '{name}' ({what}) is not in the table; available: {list(df.columns)}.")
            _check_unique_column(df, name)
            return df[name].to_numpy()

        order_values = order
        if isinstance(order, str):
            order_values = col(order, "order")
        elif order is not None and np.ndim(order) == 0:
            order_values = np.full(len(df), float(order))

        if left_wins is not None or right_wins is not None or ties is not None:
            if left is None or right is None or left_wins is None:
                raise ValueError("a count table needs 'left', 'right' and 'left_wins' (plus 'right_wins' and/or 'ties').")
            if outcome is not None or weight is not None:
                raise ValueError("a count table takes its weights from the count columns; do not also pass outcome= or weight=.")
            L, R = col(left, "left"), col(right, "right")
            parts = [(left_wins, 1.0)] + ([(right_wins, 0.0)] if right_wins else []) + ([(ties, 0.5)] if ties else [])
            counts = []
            for name, _ in parts:
                c = _to_float(name, col(name, "count"), len(df))
                neg = c < 0
                if neg.any():
                    raise ValueError(f"count column '{name}' must be non-negative; {_rows(neg)} are negative.")
                counts.append(c)
            stacked = np.column_stack(counts)
            if (stacked > 0).any():  # checked here so that the message names the rows of df, not of the expanded table
                _check_weight_range([name for name, _ in parts], stacked)
            total = np.sum(counts, axis=0)
            keep = total > 0
            k = len(parts)
            rep = lambda a: np.tile(np.asarray(a)[keep], k)  # noqa: E731
            w = np.concatenate([c[keep] for c in counts])
            y = np.repeat([v for _, v in parts], keep.sum())
            nz = w > 0
            g = None if group is None else rep(col(group, "group"))[nz]
            o = None if order_values is None else rep(order_values)[nz]
            table = cls.from_items(rep(L)[nz], rep(R)[nz], y[nz], w[nz], g, o,
                                   names=(left, right, "outcome (from counts)", "counts", group or "group",
                                          order if isinstance(order, str) else "order"))
            return table
        if outcome is None:
            raise ValueError("name the outcome column with outcome= (or give left_wins=/right_wins= for a count table).")
        W = col(weight, "weight")
        G = col(group, "group")
        if features is not None:
            missing = [c for c in features if c not in df.columns]
            if missing:
                raise ValueError(f"feature columns {missing} are not in the table; available: {list(df.columns)}.")
            for c in features:
                _check_unique_column(df, c)
            return cls.from_features(df[list(features)].to_numpy(), col(outcome, "outcome"), W, G, order_values,
                                     feature_names=list(features),
                                     names=("features", outcome, weight or "weight", group or "group",
                                            order if isinstance(order, str) else "order"))
        if left is None or right is None:
            raise ValueError("name the compared options with left= and right= (or give features=).")
        return cls.from_items(col(left, "left"), col(right, "right"), col(outcome, "outcome"), W, G, order_values,
                              names=(left, right, outcome, weight or "weight", group or "group",
                                     order if isinstance(order, str) else "order"))

    @classmethod
    def from_csv(cls, path: str | os.PathLike, **columns) -> "ComparisonTable":
        """Read a CSV file; ``columns`` are passed to :meth:`from_pandas`."""
        return cls.from_pandas(_read(path, _read_csv), **columns)

    @classmethod
    def from_parquet(cls, path: str | os.PathLike, **columns) -> "ComparisonTable":
        """Read a Parquet file; ``columns`` are passed to :meth:`from_pandas`."""
        return cls.from_pandas(_read(path, _read_parquet), **columns)

    @classmethod
    def from_file(cls, path: str | os.PathLike, **columns) -> "ComparisonTable":
        """CSV or Parquet, chosen by the file extension."""
        suffix = os.fspath(path).lower()
        reader = cls.from_parquet if suffix.endswith((".parquet", ".pq")) else cls.from_csv
        return reader(path, **columns)

    def to_frame(self) -> pd.DataFrame:
        """The rows as a DataFrame (feature-level: one column per feature)."""
        if self.kind == "items":
            data = {"left": self.left, "right": self.right}
        else:
            Z = self.features.toarray() if sp.issparse(self.features) else self.features
            data = dict(zip(self.feature_names, Z.T))
        data.update(outcome=self.outcome, weight=self.weight)
        if self.group is not None:
            data["group"] = self.group
        if self.order is not None:
            data["order"] = self.order
        return pd.DataFrame(data)


def _check_unique_column(df: pd.DataFrame, name) -> None:
    count = int(np.sum(df.columns == name))
    if count > 1:
        raise ValueError(f"column '{name}' appears {count} times in the table; rename the duplicates so that "
                         "each column name is unique.")


class _DuplicateColumnError(ValueError):
    """A file's header repeats a column name (already a one-line message; not wrapped by :func:`_read`)."""


def _check_unique_header(path, names: list, consequence: str) -> None:
    """Raise naming the first repeated column name in a file's header.

    Empty names are skipped: they cannot be asked for, and pandas gives each one
    its own ``Unnamed: i`` name.
    """
    seen = set()
    for name in names:
        if name in seen:
            where = ", ".join(str(i) for i, other in enumerate(names) if other == name)
            raise _DuplicateColumnError(
                f"column '{name}' appears more than once in the header of {os.fspath(path)!r} (columns {where}, "
                f"0-based); {consequence.format(name=name)} Rename the duplicates so that each name is unique."
            )
        if name != "":
            seen.add(name)


def _read_csv(path) -> pd.DataFrame:
    # pandas silently renames a repeated header name 'y' to 'y.1', so the raw header is checked first.
    header = pd.read_csv(path, header=None, nrows=1, dtype=str, keep_default_na=False).iloc[0].tolist()
    _check_unique_header(path, header, "pandas would rename the second one to '{name}.1' and prefstat cannot "
                                       "tell which one you mean.")
    return pd.read_csv(path)


def _read_parquet(path) -> pd.DataFrame:
    import pyarrow.parquet as pq  # pandas' Parquet engine; its own error on this dumps the whole schema

    _check_unique_header(path, pq.read_schema(path).names, "a table cannot hold two columns of one name.")
    return pd.read_parquet(path)



def _frame_kind(df: pd.DataFrame, design: str) -> str | None:
    """Items or features for a DataFrame ``X``, decided column by column (``design="auto"``).

    Returns None to defer to the array rule. A DataFrame's ``to_numpy()`` turns a string column
    next to a float column into one object array, which the array rule would read as item
    labels: that case is an error naming the columns instead.
    """
    numeric = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c])]
    floats = [c for c in df.columns if pd.api.types.is_float_dtype(df[c])]
    labels = [c for c in df.columns if c not in floats]
    text = [c for c in df.columns if c not in numeric]
    if design == "items":
        return None
    if design == "auto" and df.shape[1] == 2 and not floats:
        return "items"
    if len(numeric) == df.shape[1]:
        return "features"
    if design == "auto" and df.shape[1] == 2:
        raise ValueError(
            f"X mixes a label column {labels!r} ({', '.join(str(df[c].dtype) for c in labels)}) with a float "
            f"column {floats!r}: it is neither two item-label columns nor numeric feature differences. Convert "
            "the columns (both labels, or both numbers), or pass design='items' or design='features'."
        )
    raise ValueError(
        f"X columns {text!r} are not numeric: feature differences must be numbers (item labels go in a "
        "DataFrame of exactly two label columns). Convert or drop those columns."
    )


def _warn_if_item_codes(X: np.ndarray) -> None:
    """Warn when a two-column float array looks like item codes read as two features."""
    if X.shape[1] != 2 or X.dtype.kind != "f" or X.shape[0] == 0:
        return
    with np.errstate(invalid="ignore"):
        integral = bool(np.all(np.isfinite(X)) and np.all(X == np.round(X)))
    # Item codes never repeat within a row (self-comparisons are errors), feature differences may.
    if integral and not np.any(X[:, 0] == X[:, 1]):
        warn_caller(
            "X is a two-column float array whose values are all integers: it is read as two feature "
            "differences. If the columns are item codes (left, right), pass design='items' (or an integer "
            "array); pass design='features' to silence this warning.")


def as_table(X, y=None, sample_weight=None, groups=None, order=None, *, design: str = "auto",
             kind: str | None = None, who: str = "this estimator") -> ComparisonTable:
    """What an estimator's ``fit`` received, as a validated :class:`ComparisonTable`.

    ``X`` is either a table (which carries its own outcome, weights, groups and order, so
    passing any of them too is an error) or anything :meth:`ComparisonTable.from_arrays`
    accepts: (n, 2) labels, (n, d) dense or sparse feature differences, or a DataFrame, with
    ``design`` choosing between them. ``kind`` ("items" or "features") requires that design;
    ``who`` names the estimator in that error.
    """
    if isinstance(X, ComparisonTable):
        passed = [name for name, value in (("y", y), ("sample_weight", sample_weight), ("groups", groups),
                                           ("order", order)) if value is not None]
        if passed:
            raise ValueError(f"a ComparisonTable carries its own outcome, weights, groups and order; do not pass "
                             f"{', '.join(passed)} with it.")
        table = X
    else:
        table = ComparisonTable.from_arrays(X, y, sample_weight, groups, order, design=design)
    if kind is not None and table.kind != kind:
        if kind == "features":
            raise ValueError(f"{who} needs feature differences (an (n, d) float array); got an item-level table. "
                             "Encode items as features (e.g. one-hot differences) first.")
        raise ValueError(f"{who} needs item labels (an (n, 2) array of labels); got a feature-level table.")
    return table

def _read(path, reader) -> pd.DataFrame:
    if not os.path.exists(path):
        raise ValueError(f"file not found: {os.fspath(path)!r}.")
    try:
        return reader(path)
    except _DuplicateColumnError:
        raise
    except Exception as err:  # noqa: BLE001 - any reader failure becomes one clear message
        raise ValueError(f"could not read {os.fspath(path)!r}: {_first_line(err)}") from None


def _first_line(err: Exception) -> str:
    """The first line of a reader's message (pyarrow appends the whole schema on further lines)."""
    lines = str(err).strip().splitlines()
    return lines[0] if lines else type(err).__name__
