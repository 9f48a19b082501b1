"""Item-level :class:`~prefstat.DebiasedBradleyTerry` on partitions: distinct rows with summed weights.

The debiased estimating equation, its bread, its two-sample (or cluster) variance and the PPI++
tuning of lambda are sums over rows of terms that depend on a row only through (pair, order,
sample, human label, judge label[, cluster]) and are linear in its frequency weight. Rows equal
in all of these are therefore one row whose weight is the sum of theirs, in every one of those
sums (frequency weights, :mod:`prefstat.data.table`), and the in-memory fit on the distinct rows
is exactly the fit on all rows. The distinct rows are a map-reduce over the partitions; their
number is bounded by pairs x 3 orders x (label combinations) [x clusters], independent of the
number of rows when labels are discrete (0/1 human labels, 0/1 or few-valued judge labels).
"""
from __future__ import annotations

import numpy as np

from .cells import check_weight_stats
from .compute import TransferLog, map_reduce

__all__ = ["distinct_debiased_rows"]


def distinct_debiased_rows(table, *, with_group: bool, log: TransferLog | None = None) -> dict:
    """``dict(X, y, ai_label, sample_weight, groups, order)`` of the distinct rows of an item-level table.

    ``y`` is NaN on pool rows. ``groups`` is None unless ``with_group``; ``order`` is None when the
    table has no order column.
    """
    from .partition import combine_distinct_rows, distinct_rows

    if table.kind != "items":
        raise ValueError("DebiasedBradleyTerry on a partitioned table supports the item-level design only "
                         "(left=/right= columns): feature-level rows have no finite set of distinct values to "
                         "aggregate. Fit feature-level tables in memory.")
    if table.roles["ai_label"] is None:
        raise ValueError("DebiasedBradleyTerry needs the judge label column: PartitionedTable(..., ai_label=...).")
    if with_group and table.roles["group"] is None:
        raise ValueError("cov_type='cluster' needs groups: give the table a group column (group=...).")
    reduced = map_reduce(table, distinct_rows, combine_distinct_rows, with_group, desc="rows", log=log)
    if reduced is None:
        raise ValueError("the comparison table is empty: there are no rows to fit.")
    frame, (_, w_min, w_max, total) = reduced
    check_weight_stats(total, w_min, w_max, table.roles["weight"] or "weight")
    return dict(X=np.column_stack([frame["left"].to_numpy(object), frame["right"].to_numpy(object)]),
                y=frame["y"].to_numpy(np.float64), ai_label=frame["ai"].to_numpy(np.float64),
                sample_weight=frame["w"].to_numpy(np.float64),
                groups=frame["group"].to_numpy() if with_group else None,
                order=frame["order"].to_numpy(np.float64) if table.roles["order"] is not None else None)
