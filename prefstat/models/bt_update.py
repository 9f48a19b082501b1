r"""What :meth:`prefstat.BradleyTerry.update` keeps and merges: cells (items) or the rows (features).

Item level: the log-likelihood, the meat and the cluster scores depend on the rows only through
the additive cell sums (:mod:`prefstat.distributed.cells`), a table of at most pairs x orders
[x clusters] rows, so a fitted model keeps them (``cell_stats_``) and an update adds the new
rows' cells.

Feature level: :math:`\ell(\beta) = \sum_i w_i[y_i x_i^\top\beta - \log(1 + e^{x_i^\top\beta})]`
has no sufficient statistic of fixed dimension (the Hessian at a new :math:`\beta` needs every
:math:`x_i`), so an exact update needs the rows themselves. A model fitted in memory keeps its
validated rows (``rows_``, a :class:`~prefstat.ComparisonTable` as large as the data, copied when it
could share memory with the caller's array; delete the attribute to free it, after which
``update`` raises); a model fitted on partitioned data keeps
the :class:`~prefstat.distributed.PartitionedTable` (file names or the Dask DataFrame, not the
rows). ``update`` appends the new rows (:func:`merge_feature_rows`, or
:meth:`~prefstat.distributed.PartitionedTable.append`) and refits on all of them from the previous
solution: the same estimate and covariance as the fit on all rows (Newton converges to the same
root; the warm start only saves iterations).
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..data import ComparisonTable

__all__ = ["UPDATE_PARAMS", "check_update_params", "merge_feature_rows", "kept_rows"]

# hyperparameters that define the fitted problem; update refuses to run if any changed since fit
UPDATE_PARAMS = ("reference", "order_effect", "cov_type", "alpha", "design", "solver", "tol", "max_iter")


def _same(a, b) -> bool:
    if a is b:
        return True
    try:
        return type(a) is type(b) and bool(a == b)
    except (TypeError, ValueError):
        return False


def check_update_params(fitted: dict | None, current: dict) -> None:
    """Raise naming the hyperparameters that changed between ``fit`` and ``update``."""
    if fitted is None:  # a model pickled before the hyperparameters were recorded
        return
    changed = [f"{k}={fitted[k]!r} -> {current[k]!r}" for k in UPDATE_PARAMS
               if k in fitted and k in current and not _same(fitted[k], current[k])]
    if changed:
        raise ValueError(f"update with the hyperparameters of the fit: {', '.join(changed)} since fit. "
                         "Refit on all rows to change them.")


def merge_feature_rows(old: ComparisonTable, new: ComparisonTable, *, order_effect: bool,
                       cluster: bool) -> ComparisonTable:
    """The fitted feature-level rows followed by the new ones, as one table (what the fit on all rows sees).

    ``order_effect``: a table without an order column means +1 on every row (as in ``fit``);
    ``cluster``: both tables need group ids (cov_type="cluster"); otherwise groups are dropped.
    """
    if new.kind != "features":
        raise ValueError("update of a feature-level model needs feature-level rows (an (n, d) array of feature "
                         "differences), not item labels.")
    d_old, d_new = old.features.shape[1], new.features.shape[1]
    if d_new != d_old:
        raise ValueError(f"the new rows have {d_new} features but the model was fitted on {d_old}; update with "
                         "the same feature columns in the same order.")
    default = [f"x{j}" for j in range(d_new)]  # the names of an unnamed array
    if new.feature_names not in (old.feature_names, default):
        raise ValueError(f"the new rows' feature names {new.feature_names} differ from the fitted ones "
                         f"{old.feature_names}; update with the same feature columns in the same order.")
    if cluster and new.group is None:
        raise ValueError("cov_type='cluster' needs groups: pass groups= to update.")
    if sp.issparse(old.features) or sp.issparse(new.features):
        features = sp.vstack([sp.csr_matrix(old.features), sp.csr_matrix(new.features)], format="csr")
    else:
        features = np.concatenate([old.features, new.features])

    def order_of(t):
        return np.ones(t.n_rows) if t.order is None else t.order

    order = np.concatenate([order_of(old), order_of(new)]) if order_effect else None
    group = None
    if cluster:
        group = np.concatenate([np.asarray(old.group, dtype=object), np.asarray(new.group, dtype=object)])
    return ComparisonTable(kind="features", outcome=np.concatenate([old.outcome, new.outcome]),
                           weight=np.concatenate([old.weight, new.weight]), features=features, group=group,
                           order=order, feature_names=list(old.feature_names))


def kept_rows(table: ComparisonTable, source, *, order_effect: bool, cluster: bool) -> ComparisonTable:
    """What a fitted feature-level model keeps of ``table`` (built from ``source``, the ``X`` given to ``fit``).

    Only what a refit uses: the order column with ``order_effect``, groups with ``cluster``. The
    feature matrix is copied when it may share memory with the caller's array (a float64 ndarray
    or sparse matrix is validated without a copy), so that changing that array after ``fit`` does
    not change what ``update`` refits on; a DataFrame's values are not shared (pandas copies on write).
    """
    Z = table.features
    src = source.features if isinstance(source, ComparisonTable) else source
    if sp.issparse(Z):
        data = getattr(src, "data", None) if sp.issparse(src) else None  # dok/lil matrices have no data array
        shared = isinstance(data, np.ndarray) and np.may_share_memory(Z.data, data)
    else:
        shared = isinstance(src, np.ndarray) and np.may_share_memory(Z, src)
    return ComparisonTable(kind="features", outcome=table.outcome.copy(), weight=table.weight.copy(),
                           features=Z.copy() if shared else Z,
                           group=np.array(table.group, dtype=object) if cluster else None,
                           order=(None if table.order is None else table.order.copy()) if order_effect else None,
                           feature_names=list(table.feature_names))
