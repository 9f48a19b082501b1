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
* ``ai_label``: an AI judge's label (0/1, 0.5 a tie, or its probability that the
  left option is preferred) on every row. Declaring it allows *missing outcomes*
  (NaN): those rows are the AI-labelled pool of :class:`~prefstat.DIPO` and
  :class:`~prefstat.DebiasedBradleyTerry`. Estimators that need an outcome on
  every row (Bradley-Terry and the others) reject such a table with a message
  pointing to those two; without ``ai_label`` a missing outcome is an error.

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

from ..validation import warn_caller
from .arena import winner_outcomes
from .checks import (as_labels, missing_mask, check_order, check_outcome, check_shape, check_weight, check_weight_range,
                     describe_rows, factorize_items, nonfinite_rows, to_float)
from .readers import check_unique_column, read_csv, read_file, read_parquet

__all__ = ["ComparisonTable", "as_table", "table_arrays"]


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
    ai_label : float64 ndarray (n,) in [0, 1], or None (then ``outcome`` has no NaN)
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
    ai_label: np.ndarray | None = None

    # ------------------------------------------------------------------ basics
    @property
    def human(self) -> np.ndarray:
        """(n,) bool: rows with an outcome (all True unless ``ai_label`` is declared and some are NaN)."""
        return ~np.isnan(self.outcome)

    @property
    def has_missing_outcomes(self) -> bool:
        return bool(np.isnan(self.outcome).any())

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
                   names=("left", "right", "outcome", "weight", "group", "order"), ai_label=None,
                   ai_name="ai_label") -> "ComparisonTable":
        """Item-level table from label columns. ``names`` (and ``ai_name``) are used in error messages."""
        n_left, n_right, n_out, n_w, n_g, n_o = names
        left = as_labels(n_left, left, None)
        n = left.shape[0]
        if n == 0:
            raise ValueError("the comparison table is empty: there are no rows to fit.")
        right = as_labels(n_right, right, n)
        y, ai = _outcome_and_judge(n_out, outcome, n, ai_label, ai_name)
        w, g, o = cls._optional(n, weight, group, order, n_w, n_g, n_o)
        table = cls(kind="items", outcome=y, weight=w, left=left, right=right, group=g, order=o, ai_label=ai)
        try:
            code_left, code_right, items = table.item_codes
        except TypeError:  # unhashable labels (e.g. lists in an object column)
            for name, col in ((n_left, left), (n_right, right)):
                bad = np.array([not isinstance(v, Hashable) for v in col])
                if bad.any():
                    raise ValueError(f"column '{name}' holds unhashable labels (e.g. lists) at {describe_rows(bad)}; "
                                     "item labels must be integers or strings.") from None
            raise
        same = code_left == code_right
        if same.any():
            raise ValueError(
                f"self-comparisons: '{n_left}' equals '{n_right}' at {describe_rows(same)} "
                f"(e.g. item {left[same][0]!r}); an item cannot be compared with itself. Drop those rows."
            )
        if items.size < 2:
            raise ValueError(f"at least two distinct items are needed; the table only has {list(items)}.")
        return table

    @classmethod
    def from_features(cls, features, outcome, weight=None, group=None, order=None, *, feature_names=None,
                      names=("X", "outcome", "weight", "group", "order"), ai_label=None,
                      ai_name="ai_label") -> "ComparisonTable":
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
                raise ValueError(f"'{n_x}' has NaN or infinite entries at {describe_rows(mask)}.")
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
            bad = nonfinite_rows(Z)
            if bad.any():
                raise ValueError(f"'{n_x}' has NaN or infinite entries at {describe_rows(bad)}; remove or fill them.")
        if Z.shape[1] == 0:
            raise ValueError(f"'{n_x}' has no columns: at least one feature is needed.")
        n = Z.shape[0]
        y, ai = _outcome_and_judge(n_out, outcome, n, ai_label, ai_name)
        w, g, o = cls._optional(n, weight, group, order, n_w, n_g, n_o)
        if feature_names is None:
            feature_names = [f"x{j}" for j in range(Z.shape[1])]
        return cls(kind="features", outcome=y, weight=w, features=Z, group=g, order=o,
                   feature_names=list(map(str, feature_names)), ai_label=ai)

    @staticmethod
    def _optional(n, weight, group, order, n_w, n_g, n_o):
        w = np.ones(n) if weight is None else to_float(n_w, weight, n)
        check_weight(n_w, w)
        g = None
        if group is not None:
            g = np.asarray(group, dtype=object) if not isinstance(group, np.ndarray) else group
            if g.ndim != 1 or g.shape[0] != n:
                raise ValueError(
                    f"column '{n_g}' must be one-dimensional with {n} rows; got shape {g.shape}."
                )
            missing = missing_mask(g)
            if missing.any():
                raise ValueError(f"column '{n_g}' has missing group ids at {describe_rows(missing)}; fill or drop them.")
        o = None
        if order is not None:
            o = to_float(n_o, order, n)
            check_order(n_o, o)
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
                    ties=None, winner=None, winner_map=None, ai_label=None) -> "ComparisonTable":
        """Table from a DataFrame, one comparison per row or aggregated counts.

        One comparison per row: name ``left``, ``right`` and ``outcome`` (or
        ``features``, a list of difference columns, with ``outcome``).
        Aggregated counts: name ``left``, ``right`` and ``left_wins`` plus
        ``right_wins`` and/or ``ties``; each count becomes a weighted row
        (e.g. baseball's ``home_wins``/``away_wins``). ``order`` may be a
        column name or a constant (``order=1``: the left option always holds
        the order advantage).

        Arena battles: name ``winner`` (a column of labels) instead of
        ``outcome``; ``winner_map`` maps each label to an outcome, by default
        :data:`~prefstat.data.arena.ARENA_WINNER_MAP` (``"model_a"`` 1,
        ``"model_b"`` 0, ``"tie"`` and ``"tie (bothbad)"`` 0.5). A label outside
        the mapping is a ValueError naming it and its first rows. Ties stay 0.5
        outcomes: :class:`~prefstat.BradleyTerry` counts them as half wins,
        :class:`~prefstat.DavidsonBradleyTerry` as a third outcome. ``ai_label``: the column of an AI judge's labels;
        declaring it allows missing outcomes (the AI-labelled pool rows of
        DIPO and DebiasedBradleyTerry; module docstring).
        """
        if not isinstance(df, pd.DataFrame):
            raise ValueError(f"expected a pandas DataFrame; got {type(df).__name__}.")

        def column(name, what) -> pd.Series:
            if name not in df.columns:
                raise ValueError(f"column '{name}' ({what}) is not in the table; available: {list(df.columns)}.")
            check_unique_column(df, name)
            return df[name]

        def col(name, what):
            return None if name is None else column(name, what).to_numpy()

        order_values = order
        if isinstance(order, str):
            order_values = col(order, "order")
        elif order is not None and np.ndim(order) == 0:
            order_values = np.full(len(df), float(order))

        if winner_map is not None and winner is None:
            raise ValueError("winner_map= maps the labels of a winner= column; name that column with winner=.")
        if winner is not None:
            if outcome is not None or left_wins is not None or right_wins is not None or ties is not None:
                raise ValueError("winner= gives the outcome of each battle; do not also pass outcome= or count "
                                 "columns (left_wins=, right_wins=, ties=).")
            if features is not None:
                raise ValueError("winner= is for item-level battle tables (left=, right=); with features= name "
                                 "a numeric outcome= column.")
            y = winner_outcomes(column(winner, "winner"), winner_map, winner)
            if left is None or right is None:
                raise ValueError("name the compared models with left= and right= (e.g. 'model_a', 'model_b').")
            return cls.from_items(col(left, "left"), col(right, "right"), y, col(weight, "weight"),
                                  col(group, "group"), order_values,
                                  names=(left, right, winner, weight or "weight", group or "group",
                                         order if isinstance(order, str) else "order"),
                                  ai_label=col(ai_label, "AI judge label"), ai_name=ai_label or "ai_label")
        if left_wins is not None or right_wins is not None or ties is not None:
            if left is None or right is None or left_wins is None:
                raise ValueError("a count table needs 'left', 'right' and 'left_wins' (plus 'right_wins' and/or 'ties').")
            if outcome is not None or weight is not None or ai_label is not None:
                raise ValueError("a count table takes its weights from the count columns; do not also pass outcome=, "
                                 "weight= or ai_label=.")
            L, R = col(left, "left"), col(right, "right")
            parts = [(left_wins, 1.0)] + ([(right_wins, 0.0)] if right_wins else []) + ([(ties, 0.5)] if ties else [])
            counts = []
            for name, _ in parts:
                c = to_float(name, col(name, "count"), len(df))
                neg = c < 0
                if neg.any():
                    raise ValueError(f"count column '{name}' must be non-negative; {describe_rows(neg)} are negative.")
                counts.append(c)
            stacked = np.column_stack(counts)
            if (stacked > 0).any():  # checked here so that the message names the rows of df, not of the expanded table
                check_weight_range([name for name, _ in parts], stacked)
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
        judge = dict(ai_label=col(ai_label, "AI judge label"), ai_name=ai_label or "ai_label")
        if features is not None:
            missing = [c for c in features if c not in df.columns]
            if missing:
                raise ValueError(f"feature columns {missing} are not in the table; available: {list(df.columns)}.")
            for c in features:
                check_unique_column(df, c)
            return cls.from_features(df[list(features)].to_numpy(), col(outcome, "outcome"), W, G, order_values,
                                     feature_names=list(features),
                                     names=("features", outcome, weight or "weight", group or "group",
                                            order if isinstance(order, str) else "order"), **judge)
        if left is None or right is None:
            raise ValueError("name the compared options with left= and right= (or give features=).")
        return cls.from_items(col(left, "left"), col(right, "right"), col(outcome, "outcome"), W, G, order_values,
                              names=(left, right, outcome, weight or "weight", group or "group",
                                     order if isinstance(order, str) else "order"), **judge)

    @classmethod
    def from_csv(cls, path: str | os.PathLike, **columns) -> "ComparisonTable":
        """Read a CSV file; ``columns`` are passed to :meth:`from_pandas`."""
        return cls.from_pandas(read_file(path, read_csv), **columns)

    @classmethod
    def from_parquet(cls, path: str | os.PathLike, **columns) -> "ComparisonTable":
        """Read a Parquet file; ``columns`` are passed to :meth:`from_pandas`."""
        return cls.from_pandas(read_file(path, read_parquet), **columns)

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
        if self.ai_label is not None:
            data["ai_label"] = self.ai_label
        return pd.DataFrame(data)


def _outcome_and_judge(name: str, outcome, n: int, ai_label, ai_name: str):
    """(outcome, ai_label): without a judge column every outcome must be finite; with one, NaN outcomes mark
    the AI-labelled pool rows and the judge label must be in [0, 1] on every row."""
    if ai_label is None:
        try:
            arr = np.asarray(outcome) if not isinstance(outcome, np.ndarray) else outcome
        except ValueError:  # ragged: to_float names the column
            arr = np.empty(0)
        if arr.ndim == 1 and arr.shape[0] == n:
            missing = missing_mask(arr)
            if missing.any():
                raise ValueError(
                    f"column '{name}' has NaN or infinite values at {describe_rows(missing)} (missing outcomes). If "
                    "these are AI-labelled pool rows, declare the judge's labels with ai_label= and fit DIPO or "
                    "DebiasedBradleyTerry; otherwise remove those rows or fill them explicitly.")
        y = to_float(name, outcome, n)
        check_outcome(name, y)
        return y, None
    ai = to_float(ai_name, ai_label, n)
    check_outcome(ai_name, ai)
    arr = np.asarray(outcome, dtype=object) if not isinstance(outcome, np.ndarray) else outcome
    check_shape(name, arr, n)
    missing = missing_mask(arr)
    y = to_float(name, np.where(missing, 0.0, arr), n)
    check_outcome(name, y)
    y[missing] = np.nan
    return y, ai


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
             kind: str | None = None, who: str = "this estimator", allow_missing: bool = False) -> ComparisonTable:
    """What an estimator's ``fit`` received, as a validated :class:`ComparisonTable`.

    ``X`` is either a table (which carries its own outcome, weights, groups and order, so
    passing any of them too is an error) or anything :meth:`ComparisonTable.from_arrays`
    accepts: (n, 2) labels, (n, d) dense or sparse feature differences, or a DataFrame, with
    ``design`` choosing between them. ``kind`` ("items" or "features") requires that design;
    ``who`` names the estimator in that error. A table with missing outcomes (AI-labelled pool
    rows) is an error unless ``allow_missing``.
    """
    if isinstance(X, ComparisonTable):
        passed = [name for name, value in (("y", y), ("sample_weight", sample_weight), ("groups", groups),
                                           ("order", order)) if value is not None]
        if passed:
            raise ValueError(f"a ComparisonTable carries its own outcome, weights, groups and order; do not pass "
                             f"{', '.join(passed)} with it.")
        table = X
        if table.has_missing_outcomes and not allow_missing:
            raise ValueError(f"the table has missing outcomes on {describe_rows(~table.human)} (AI-labelled pool rows, "
                             f"declared with ai_label); {who} needs an outcome on every row. Fit DIPO or "
                             "DebiasedBradleyTerry on this table, or keep only the human-labelled rows.")
    else:
        table = ComparisonTable.from_arrays(X, y, sample_weight, groups, order, design=design)
    if kind is not None and table.kind != kind:
        if kind == "features":
            raise ValueError(f"{who} needs feature differences (an (n, d) float array); got an item-level table. "
                             "Encode items as features (e.g. one-hot differences) first.")
        raise ValueError(f"{who} needs item labels (an (n, 2) array of labels); got a feature-level table.")
    return table


def table_arrays(table: ComparisonTable, y=None, ai_label=None, sample_weight=None, groups=None, order=None,
                 who: str = "this estimator"):
    """``(X, y, ai_label, weight, group, order)`` of a table with an ``ai_label`` column, for the two-sample
    estimators (DIPO, DebiasedBradleyTerry) that read arrays.

    ``X``: (n, 2) object array of item labels, or the feature differences (a DataFrame named by
    ``feature_names`` when dense, the sparse matrix otherwise); ``y`` has NaN on the pool rows.
    The table carries every column, so passing any of the other arguments too is an error.
    """
    passed = [name for name, value in (("y", y), ("ai_label", ai_label), ("sample_weight", sample_weight),
                                       ("groups", groups), ("order", order)) if value is not None]
    if passed:
        raise ValueError(f"a ComparisonTable carries its own outcome, judge labels, weights, groups and order; do not "
                         f"pass {', '.join(passed)} with it.")
    if table.ai_label is None:
        raise ValueError(f"{who} needs the AI judge's labels: a ComparisonTable without an ai_label column cannot "
                         "hold missing human labels (the AI-labelled pool rows). Build it with ai_label= (the judge "
                         "column) and NaN outcomes on the pool rows.")
    if table.kind == "items":
        X = np.empty((table.n_rows, 2), dtype=object)
        X[:, 0], X[:, 1] = table.left, table.right
    elif sp.issparse(table.features):
        X = table.features
    else:
        X = pd.DataFrame(table.features, columns=table.feature_names)
    return X, table.outcome, table.ai_label, table.weight, table.group, table.order
