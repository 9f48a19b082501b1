"""Per-partition kernels of the exact map-reduce: validate one partition, reduce it to small sums.

Everything here runs on the Dask workers and imports only numpy, pandas, pyarrow and the column
checks of :mod:`prefstat.data.checks`. :func:`prefstat.distributed.compute.map_reduce` ships this
module and :mod:`prefstat.data.checks` to the workers *by value* (cloudpickle), so a worker never
imports the ``prefstat`` package itself (its JAX import costs about 300 MB and seconds per worker
process, more than the memory limit a worker may be given). Hence: no JAX here, no imports of
other prefstat modules, and kernels return plain tuples / numpy arrays / DataFrames (a class
defined here would arrive on the client as a copy of the class, not the class).

Every kernel takes ``(frame, spec, where, ...)``: the raw partition, the column roles
(:meth:`prefstat.distributed.PartitionedTable.spec`) and a label ("partition 3 (file
'/data/part.3.parquet')") that prefixes every validation error, whose row numbers are 0-based
within that partition. An empty partition reduces to ``None``; the combiners skip ``None``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..data.checks import as_labels, check_order, check_outcome, describe_rows, missing_mask, to_float

__all__ = ["read_parquet_file", "standardize", "item_cell_sums", "combine_item_cells", "feature_summary",
           "combine_feature_summary", "feature_vgh", "feature_meat", "feature_group_scores", "combine_sum",
           "combine_group_scores", "distinct_rows", "combine_distinct_rows", "row_entropy", "debiased_summary",
           "combine_debiased_summary", "debiased_vgh", "debiased_tuning_sums", "debiased_final_sums"]


def read_parquet_file(path: str, columns: list) -> pd.DataFrame:
    """One Parquet file as a DataFrame of the role columns; errors name the file."""
    import pyarrow.parquet as pq

    try:
        names = pq.read_schema(path).names
    except Exception as err:  # noqa: BLE001 - any reader failure becomes one line naming the file
        lines = str(err).strip().splitlines()
        raise ValueError(f"could not read {path!r}: {lines[0] if lines else type(err).__name__}") from None
    missing = [c for c in columns if c not in names]
    if missing:
        raise ValueError(f"file {path!r} has no column(s) {missing}; its columns are {names}. Every file of a "
                         "partitioned table needs the same column roles.")
    for c in columns:
        if names.count(c) > 1:
            raise ValueError(f"column '{c}' appears {names.count(c)} times in {path!r}; rename the duplicates.")
    return pq.read_table(path, columns=list(columns)).to_pandas()


def row_entropy(y, w) -> float:
    """sum_i w_i [y log y + (1-y) log(1-y)] over soft outcomes: the saturated log-likelihood."""
    soft = (y > 0) & (y < 1)
    ys = y[soft]
    return float(np.sum(w[soft] * (ys * np.log(ys) + (1 - ys) * np.log1p(-ys))))


def standardize(frame: pd.DataFrame, spec: dict, where: str):
    """The validated columns of one partition as a dict of arrays, or None for an empty partition.

    Keys: ``left``/``right`` (labels) or ``X`` (n, d float64), ``y`` (float64; NaN marks a pool row
    when ``spec["ai_label"]`` is set), ``w``, ``g`` (labels or None), ``o`` (float64 or None),
    ``ai`` (float64 or None). The checks are those of :class:`prefstat.ComparisonTable`; the
    table-wide ones (total weight, weight range, connectedness) are made after the reduction.
    """
    try:
        return _standardize(frame, spec)
    except ValueError as err:
        raise ValueError(f"{where}: {err} (rows are 0-based within that partition)") from None


def _standardize(frame, spec):
    missing = [c for c in spec["columns"] if c not in frame.columns]
    if missing:
        raise ValueError(f"no column(s) {missing}; the partition's columns are {list(frame.columns)}.")
    n = len(frame)
    if n == 0:
        return None
    col = lambda name: frame[name].to_numpy()  # noqa: E731
    out = {"g": None, "o": None, "ai": None}
    if spec["kind"] == "items":
        left = as_labels(spec["left"], col(spec["left"]), None)
        right = as_labels(spec["right"], col(spec["right"]), n)
        if left.dtype.kind in "iub" and right.dtype.kind in "iub":
            same = left == right  # numeric labels: compared without boxing every row into a Python object
        else:
            same = (pd.Series(left, dtype=object) == pd.Series(right, dtype=object)).to_numpy(bool)
        if same.any():
            raise ValueError(f"self-comparisons: '{spec['left']}' equals '{spec['right']}' at {describe_rows(same)} "
                             f"(e.g. item {left[same][0]!r}); an item cannot be compared with itself. Drop those rows.")
        out.update(left=left, right=right)
    else:
        out["X"] = np.column_stack([to_float(c, col(c), n) for c in spec["features"]])
    if spec["ai_label"] is not None:
        raw = col(spec["outcome"])
        human = ~missing_mask(raw)
        y = np.full(n, np.nan)
        y[human] = to_float(spec["outcome"], raw[human], None)
        check_outcome(spec["outcome"], y[human])
        out["ai"] = to_float(spec["ai_label"], col(spec["ai_label"]), n)
        check_outcome(spec["ai_label"], out["ai"])
    else:
        y = to_float(spec["outcome"], col(spec["outcome"]), n)
        check_outcome(spec["outcome"], y)
    out["y"] = y
    w = np.ones(n) if spec["weight"] is None else to_float(spec["weight"], col(spec["weight"]), n)
    neg = w < 0
    if neg.any():
        raise ValueError(f"column '{spec['weight']}' must be non-negative; {describe_rows(neg)} are negative.")
    out["w"] = w
    if spec["group"] is not None:
        g = col(spec["group"])
        bad = missing_mask(g)
        if bad.any():
            raise ValueError(f"column '{spec['group']}' has missing group ids at {describe_rows(bad)}; fill or drop them.")
        out["g"] = g
    if spec["order"] is not None:
        o = to_float(spec["order"], col(spec["order"]), n)
        check_order(spec["order"], o)
        out["o"] = o
    return out


def _weight_stats(w) -> tuple:
    pos = w[w > 0]
    return (int(w.shape[0]), float(pos.min()) if pos.size else np.inf, float(w.max()), float(w.sum()))


def _merge_weight_stats(stats) -> tuple:
    return (sum(s[0] for s in stats), min(s[1] for s in stats), max(s[2] for s in stats), sum(s[3] for s in stats))


# ----------------------------------------------------------------------------- item level
def item_cell_sums(frame, spec, where, keys):
    """Cells of identical (left, right[, order][, group]) with W, WY, WY2 sums, plus weight statistics.

    ``keys`` lists the optional key columns ("order", "group"); an absent order column with
    "order" in ``keys`` means +1 on every row (the left option holds the advantage).
    Returns ``(cells DataFrame, (n_rows, smallest positive weight, largest weight, total), entropy)``.
    """
    r = standardize(frame, spec, where)
    if r is None:
        return None
    y, w = r["y"], r["w"]
    data = {"left": r["left"], "right": r["right"]}
    if "order" in keys:
        data["order"] = r["o"] if r["o"] is not None else np.ones(y.shape[0])
    if "group" in keys:
        data["group"] = r["g"]
    key_cols = list(data)
    wy = w * y
    data.update(W=w, WY=wy, WY2=wy * y)
    cells = pd.DataFrame(data).groupby(key_cols, sort=False, dropna=False, observed=True).sum().reset_index()
    return cells, _weight_stats(w), row_entropy(y, w)


def combine_item_cells(parts):
    parts = [p for p in parts if p is not None]
    if not parts:
        return None
    frames = [p[0] for p in parts]
    keys = [c for c in frames[0].columns if c not in ("W", "WY", "WY2")]
    cells = pd.concat(frames, ignore_index=True).groupby(keys, sort=False, dropna=False, observed=True).sum()
    return cells.reset_index(), _merge_weight_stats([p[1] for p in parts]), sum(p[2] for p in parts)


# -------------------------------------------------------------------------- feature level
def _design(r, with_order):
    X = r["X"]
    if with_order:
        X = np.column_stack([X, r["o"] if r["o"] is not None else np.ones(X.shape[0])])
    return X


def feature_summary(frame, spec, where):
    """(weight statistics, entropy) of one partition: the first pass, which also validates every row."""
    r = standardize(frame, spec, where)
    if r is None:
        return None
    return _weight_stats(r["w"]), row_entropy(r["y"], r["w"])


def combine_feature_summary(parts):
    parts = [p for p in parts if p is not None]
    if not parts:
        return None
    return _merge_weight_stats([p[0] for p in parts]), sum(p[1] for p in parts)


def _sigmoid(eta):
    return 0.5 * (1.0 + np.tanh(0.5 * eta))


def feature_vgh(frame, spec, where, beta, with_order):
    """(value, gradient, Hessian, largest |eta| over rows with weight) of the unpenalised loss."""
    r = standardize(frame, spec, where)
    if r is None:
        return None
    X, y, w = _design(r, with_order), r["y"], r["w"]
    eta = X @ beta
    p = _sigmoid(eta)
    wy = w * y
    value = -np.sum(wy * eta - w * np.logaddexp(0.0, eta))
    grad = -(X.T @ (wy - w * p))
    hess = X.T @ ((w * p * (1.0 - p))[:, None] * X)
    live = w > 0
    return value, grad, hess, float(np.max(np.abs(eta[live]), initial=0.0))


def feature_meat(frame, spec, where, beta, with_order):
    """Robust meat sum_i w_i (y_i - p_i)^2 x_i x_i^T of one partition."""
    r = standardize(frame, spec, where)
    if r is None:
        return None
    X, y, w = _design(r, with_order), r["y"], r["w"]
    p = _sigmoid(X @ beta)
    wy = w * y
    return X.T @ ((wy * y - 2.0 * p * wy + p**2 * w)[:, None] * X)


def feature_group_scores(frame, spec, where, beta, with_order):
    """Cluster sums of the score (w y - w p) x, and the weight of each cluster, as a DataFrame by group label."""
    r = standardize(frame, spec, where)
    if r is None:
        return None
    X, y, w = _design(r, with_order), r["y"], r["w"]
    p = _sigmoid(X @ beta)
    S = pd.DataFrame(X * (w * y - w * p)[:, None])
    S["__weight__"] = w
    S["__group__"] = r["g"]
    return S.groupby("__group__", sort=False, dropna=False).sum()


def combine_sum(parts):
    """Elementwise sum of tuples / arrays; the largest |eta| (last entry of a vgh tuple) is a max."""
    parts = [p for p in parts if p is not None]
    if not parts:
        return None
    if isinstance(parts[0], tuple):
        out = [sum(p[j] for p in parts) for j in range(len(parts[0]) - 1)]
        return tuple(out) + (max(p[-1] for p in parts),)
    return sum(parts)


def combine_group_scores(parts):
    parts = [p for p in parts if p is not None]
    if not parts:
        return None
    return pd.concat(parts).groupby(level=0, sort=False, dropna=False).sum()


# -------------------------------------------------------------------- debiased (item level)
def distinct_rows(frame, spec, where, with_group):
    """Distinct (left, right, order, [group], human label, judge label) rows with summed frequency weights."""
    r = standardize(frame, spec, where)
    if r is None:
        return None
    data = {"left": r["left"], "right": r["right"], "order": r["o"] if r["o"] is not None else np.ones(r["y"].size)}
    if with_group:
        data["group"] = r["g"]
    data.update(y=r["y"], ai=r["ai"])
    keys = list(data)
    data["w"] = r["w"]
    out = pd.DataFrame(data).groupby(keys, sort=False, dropna=False, observed=True).sum().reset_index()
    return out, _weight_stats(r["w"])


def combine_distinct_rows(parts):
    parts = [p for p in parts if p is not None]
    if not parts:
        return None
    keys = [c for c in parts[0][0].columns if c != "w"]
    out = pd.concat([p[0] for p in parts], ignore_index=True)
    out = out.groupby(keys, sort=False, dropna=False, observed=True).sum().reset_index()
    return out, _merge_weight_stats([p[1] for p in parts])


# ------------------------------------------------------------------- debiased (feature level)
# Rows of a DebiasedBradleyTerry table: human rows (finite outcome) and pool rows (NaN outcome), judge
# label ai on every row, frequency weight f; no density ratio (w = 1). The formulas are those of
# prefstat.models.debiased_core with that w, written as sums over rows (see
# prefstat.distributed.debiased_features).
def debiased_summary(frame, spec, where, with_order):
    """(weight statistics, n, N, human rows, judge-human disagreement sum, human row weights, p)."""
    r = standardize(frame, spec, where)
    if r is None:
        return None
    y, ai, f = r["y"], r["ai"], r["w"]
    human = ~np.isnan(y)
    z, a, fh = y[human], ai[human], f[human]
    p = _design(r, with_order).shape[1]
    return (_weight_stats(f), float(fh.sum()), float(f[~human].sum()), int(human.sum()),
            float(np.sum(fh * (z * (1 - a) + (1 - z) * a))), fh, p)


def combine_debiased_summary(parts):
    parts = [p for p in parts if p is not None]
    if not parts:
        return None
    return (_merge_weight_stats([p[0] for p in parts]), sum(p[1] for p in parts), sum(p[2] for p in parts),
            sum(p[3] for p in parts), sum(p[4] for p in parts), np.concatenate([p[5] for p in parts]), parts[0][6])


def _debiased_rows(frame, spec, where, theta, with_order):
    r = standardize(frame, spec, where)
    if r is None:
        return None
    X = _design(r, with_order)
    y, ai, f = r["y"], r["ai"], r["w"]
    human = (~np.isnan(y)).astype(np.float64)
    y = np.where(human > 0, y, 0.0)
    eta = X @ theta
    return X, y, ai, f, human, eta, _sigmoid(eta)


def _objective_weights(lam, y, ai, f, human, n, N):
    pool = 1.0 - human
    a = f * (pool * lam / N + human * (1.0 - lam) / n)
    b = f * (pool * lam * ai / N + human * (y - lam * ai) / n)
    return a, b


def debiased_vgh(frame, spec, where, theta, lam, n, N, with_order):
    """(value, gradient, Hessian, largest |eta| over rows with weight) of the convex objective at lambda."""
    rows = _debiased_rows(frame, spec, where, theta, with_order)
    if rows is None:
        return None
    X, y, ai, f, human, eta, sig = rows
    a, b = _objective_weights(lam, y, ai, f, human, n, N)
    value = np.sum(a * np.logaddexp(0.0, eta) - b * eta)
    grad = X.T @ (a * sig - b)
    hess = X.T @ ((a * sig * (1.0 - sig))[:, None] * X)
    return value, grad, hess, float(np.max(np.abs(eta[f > 0]), initial=0.0))


def debiased_tuning_sums(frame, spec, where, theta, n, N, with_order):
    """Sums of ppi_py's pooled lambda tuning at theta (g = human (Z - sigma), g_hat = A - sigma)."""
    rows = _debiased_rows(frame, spec, where, theta, with_order)
    if rows is None:
        return None
    X, y, ai, f, human, eta, sig = rows
    g = human * (y - sig)
    gh = ai - sig
    gram = lambda v: X.T @ (v[:, None] * X)  # noqa: E731
    return (gram(f * sig * (1.0 - sig)), gram(f * human * g * gh), X.T @ (f * human * g), X.T @ (f * human * gh),
            gram(f * gh * gh), X.T @ (f * gh), 0.0)


def debiased_final_sums(frame, spec, where, theta, lam, n, N, with_order):
    """Per sample (pool, human): sums f psi x, f psi^2 x x^T for psi = u - lam v and for u; the breads."""
    rows = _debiased_rows(frame, spec, where, theta, with_order)
    if rows is None:
        return None
    X, y, ai, f, human, eta, sig = rows
    pool = 1.0 - human
    su = human * (y - sig) / n
    sv = human * (ai - sig) / n - pool * (ai - sig) / N
    psi = su - lam * sv
    d = sig * (1.0 - sig)
    gram = lambda v: X.T @ (v[:, None] * X)  # noqa: E731
    out = []
    for s in (psi, su):
        for mask in (pool, human):
            out += [X.T @ (f * mask * s), gram(f * mask * s * s)]
    a, _ = _objective_weights(lam, y, ai, f, human, n, N)
    a0, _ = _objective_weights(0.0, y, ai, f, human, n, N)
    return tuple(out) + (gram(a * d), gram(a0 * d), 0.0)
