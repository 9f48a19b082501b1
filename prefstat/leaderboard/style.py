r"""Style control: model abilities plus per-battle style covariates in one Bradley-Terry design.

Model (the "style control" of LMArena, Li et al. 2024; a Bradley-Terry model
with covariates, e.g. Agresti 2002 sec. 10.6): battle i between models a_i
(left) and b_i (right) with style features z_i (one number per feature, built
from the two answers) has

.. math:: \operatorname{logit} P(\text{left preferred}) = \theta_{a_i} - \theta_{b_i} + \beta^\top z_i .

The abilities :math:`\theta` are then *adjusted for style*: the preference a
model would get if its answers had the same style as its opponent's. The design
is one sparse matrix: ``+1``/``-1`` in the columns of the two models (the
reference model's column dropped, fixed at 0) followed by the style columns; it
is fitted by the feature-level :class:`~prefstat.BradleyTerry` (ties as half
wins) or :class:`~prefstat.DavidsonBradleyTerry` (ties as a third outcome), so
every covariance (model, robust, cluster by judge/user, bootstrap) comes from
the shared inference layer. The abilities are reported sum-to-zero (or with a
named reference at 0) through the linear map of :func:`item_transform`; the
style coefficients are unchanged.

Style features (:func:`style_features`) from per-answer columns ``x_a``,
``x_b``: ``"difference"`` ``x_a - x_b`` or ``"relative"``
``(x_a - x_b)/(x_a + x_b)`` (for non-negative features such as lengths and
markdown counts; 0 when both are 0: neither answer has any). A column that
already holds a per-battle feature is used as is. ``standardize=True`` divides
each feature by its standard deviation (not centred: a centred difference adds
the constant :math:`-\beta\bar z` to every battle's log-odds, a first-position
effect the model does not have; the scale only changes the units of beta).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..data import ComparisonTable, describe_rows, to_float
from ..existence import check_beat_graph
from ..inference import EstimationResults, reparametrize
from ..models import BradleyTerry, DavidsonBradleyTerry
from ..models.bt_items import item_transform

__all__ = ["STYLE_NORMALIZATIONS", "style_features", "resolve_style", "style_design", "StyleFit",
           "fit_with_style"]

STYLE_NORMALIZATIONS = ("difference", "relative")


def resolve_style(columns, style) -> list[tuple[str, tuple]]:
    """``[(feature name, source columns)]`` for a style specification.

    Each entry of ``style`` is a column pair ``(col_a, col_b)`` (per-answer values of the left
    and right model; named ``"col_a:col_b"``), the string ``"col_a:col_b"``, or a base name
    ``X``: the pair ``(X_a, X_b)`` when both columns exist, else the column ``X`` itself as a
    ready per-battle feature (named ``X``, not normalised).
    """
    if isinstance(style, (str, tuple)):
        style = [style]
    columns = list(columns)
    out = []
    for entry in style:
        if isinstance(entry, str) and ":" in entry:
            entry = tuple(entry.split(":", 1))
        if isinstance(entry, tuple):
            if len(entry) != 2:
                raise ValueError(f"a style pair must name two columns (col_a, col_b); got {entry!r}.")
            missing = [c for c in entry if c not in columns]
            if missing:
                raise ValueError(f"style columns {missing} are not in the table; available: {columns}.")
            out.append((f"{entry[0]}:{entry[1]}", tuple(entry)))
        elif isinstance(entry, str):
            pair = (f"{entry}_a", f"{entry}_b")
            if pair[0] in columns and pair[1] in columns:
                out.append((entry, pair))
            elif entry in columns:
                out.append((entry, (entry,)))
            else:
                raise ValueError(f"style feature {entry!r}: neither a column {entry!r} nor the pair {pair} is in "
                                 f"the table; available: {columns}.")
        else:
            raise ValueError(f"a style entry must be a column name or a (col_a, col_b) pair; got {entry!r}.")
    names = [n for n, _ in out]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"style features {dup} are given more than once; list each once.")
    return out


def style_features(df: pd.DataFrame, style, normalize: str = "relative",
                   standardize: bool = True) -> tuple[np.ndarray, list]:
    """Per-battle style features ``Z`` (n, s) and their names from a battle DataFrame.

    ``style`` as in :func:`resolve_style`; ``normalize`` ("difference" or "relative") applies to
    column pairs. Raises naming the column and rows for NaN / infinite / non-numeric values,
    negative values or ``x_a + x_b = 0`` with unequal values under "relative", and a feature
    with zero variance (it cannot be told apart from nothing; with standardize it cannot be
    scaled).
    """
    if normalize not in STYLE_NORMALIZATIONS:
        raise ValueError(f"normalize must be one of {STYLE_NORMALIZATIONS}; got {normalize!r}.")
    spec = resolve_style(df.columns, style)
    n = len(df)
    cols, names = [], []
    for name, source in spec:
        values = [to_float(c, df[c].to_numpy(), n) for c in source]
        if len(values) == 1:
            z = values[0]
        elif normalize == "difference":
            z = values[0] - values[1]
        else:
            a, b = values
            neg = (a < 0) | (b < 0)
            if neg.any():
                bad = source[0] if (a < 0).any() else source[1]
                raise ValueError(f"style column '{bad}' has negative values at {describe_rows(neg)}; "
                                 "normalize='relative' ((a - b)/(a + b)) needs non-negative features such as "
                                 "lengths or counts. Use normalize='difference'.")
            total = a + b
            z = np.divide(a - b, total, out=np.zeros(n), where=total > 0)
        sd = float(np.std(z))
        if not sd > 0 or sd < 1e-12 * max(1.0, float(np.max(np.abs(z)))):
            raise ValueError(f"style feature '{name}' has zero variance (every battle has the value {z[0]:.6g}); "
                             "it carries no information. Drop it from the style features.")
        cols.append(z / sd if standardize else z)
        names.append(name)
    return np.column_stack(cols), names


def style_design(table: ComparisonTable, Z: np.ndarray, reference_index: int = 0) -> tuple[sp.csr_matrix, list]:
    """Sparse design ``[model differences without the reference | Z]`` and its column names.

    Row i has +1 in the column of its left model, -1 in that of its right model (the model at
    ``reference_index`` has no column), then the style features. The same matrix, given to
    statsmodels' GLM (Binomial, no intercept), reproduces the style-controlled fit.
    """
    a, b, items = table.item_codes
    k, n = items.size, table.n_rows
    Z = np.asarray(Z, np.float64)
    if Z.shape[0] != n:
        raise ValueError(f"the style features have {Z.shape[0]} rows but the table has {n}.")
    col = lambda c: np.where(c > reference_index, c - 1, c)  # noqa: E731
    keep_a, keep_b = a != reference_index, b != reference_index
    rows = np.r_[np.flatnonzero(keep_a), np.flatnonzero(keep_b)]
    cols = np.r_[col(a[keep_a]), col(b[keep_b])]
    vals = np.r_[np.ones(keep_a.sum()), -np.ones(keep_b.sum())]
    D = sp.csr_matrix((vals, (rows, cols)), shape=(n, k - 1))
    names = [str(items[i]) for i in range(k) if i != reference_index]
    return sp.hstack([D, sp.csr_matrix(Z)], format="csr"), names


@dataclass
class StyleFit:
    """A style-controlled fit: ``results`` over the abilities (``items``), then the style coefficients
    (``style_names``), then ``log_tie`` (Davidson); ``model`` is the underlying feature-level fit."""

    results: EstimationResults
    items: np.ndarray
    style_names: list
    model: object


def fit_with_style(table: ComparisonTable, Z: np.ndarray, style_names, *, ties: str = "half",
                   cov_type: str = "model", reference=None, n_bootstrap: int = 200,
                   random_state=None) -> StyleFit:
    """Fit abilities plus style coefficients (see the module docstring).

    ``table``: item-level battles (its group column gives the clusters of ``cov_type="cluster"``);
    ``Z``: (n, s) style features (:func:`style_features`); ``ties``: "half" (Bradley-Terry, ties
    as half wins) or "davidson"; ``reference``: None (sum-to-zero abilities) or a model label
    fixed at 0.
    """
    if table.kind != "items":
        raise ValueError("style control needs an item-level battle table (left and right models).")
    if ties not in ("half", "davidson"):
        raise ValueError(f"ties must be 'half' or 'davidson'; got {ties!r}.")
    a, b, items = table.item_codes
    k = items.size
    live = table.weight > 0
    # The abilities are only comparable within a connected set of models (weak connectivity;
    # with covariates, existence beyond that is checked by the fit's separation test).
    ones = np.ones(int(live.sum()))
    check_beat_graph(a[live], b[live], ones, ones, items)
    ref = 0
    if reference is not None:
        hits = [i for i, item in enumerate(items) if item == reference]
        if not hits:
            raise ValueError(f"reference model {reference!r} does not occur in the table.")
        ref = hits[0]
    X, item_names = style_design(table, Z, ref)
    style_names = [str(s) for s in style_names]
    clash = sorted(set(item_names) & set(style_names))
    if clash:
        raise ValueError(f"style features {clash} have the same names as models; rename them.")
    ftable = ComparisonTable.from_features(X, table.outcome, table.weight, table.group,
                                           feature_names=item_names + style_names)
    if ties == "half":
        extra = dict(n_bootstrap=n_bootstrap, random_state=random_state) if cov_type == "bootstrap" else {}
        model = BradleyTerry(design="features", cov_type=cov_type, **extra)
    else:
        model = DavidsonBradleyTerry(design="features", cov_type=cov_type)
    model.fit(ftable)
    res = model.results_
    s, n_aux = len(style_names), len(res.names) - (k - 1) - len(style_names)
    T = np.zeros((k + s + n_aux, k - 1 + s + n_aux))
    T[:k, : k - 1] = item_transform(k, ref, False, False, centre=reference is None)
    T[k:, k - 1:] = np.eye(s + n_aux)
    draws = None if res.draws is None else res.draws @ T.T
    names = [str(i) for i in items] + list(res.names[k - 1:])
    results = EstimationResults(names=names, estimate=T @ res.estimate, cov=reparametrize(T, res.cov),
                                cov_type=cov_type, draws=draws, n_obs=res.n_obs)
    return StyleFit(results=results, items=items, style_names=style_names, model=model)
