r"""Item-level sufficient statistics: cells of identical (left, right, order[, group]) and their sums.

The item-level Bradley-Terry log-likelihood (ties as half wins, frequency weights :math:`w`)
depends on the rows only through, per cell :math:`c` of identical (left, right, order[, group]),

.. math::  W_c = \sum_{i \in c} w_i, \quad WY_c = \sum_{i \in c} w_i y_i, \quad
           WY2_c = \sum_{i \in c} w_i y_i^2

(:math:`WY2` enters the robust meat; the group key the cluster scores), plus the scalar
:math:`\sum_i w_i [y_i \log y_i + (1-y_i)\log(1-y_i)]` of the deviance. These sums are
additive over any split of the rows, so the cells of a partitioned table are the sum of the
cells of its partitions (:func:`item_cells`: a map-reduce), and new rows are merged into a
fitted model's cells by adding theirs (:meth:`ItemCells.merge`): the fit on the merged cells is
the fit on all rows, to rounding. :class:`ItemCells` is what a fitted item-level
:class:`~prefstat.BradleyTerry` keeps as ``cell_stats_`` (pickled with the model).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..data import MAX_TOTAL_WEIGHT, MAX_WEIGHT_RATIO

__all__ = ["ItemCells", "item_cells", "cells_from_rows", "check_weight_stats"]

SUMS = ("W", "WY", "WY2")


@dataclass(frozen=True)
class ItemCells:
    """Cell sums of an item-level table.

    ``frame`` has the key columns ``left``, ``right`` (labels), ``order`` (when the order effect is
    modelled), ``group`` (cluster labels, when the fit is cluster-robust) and the sums ``W``,
    ``WY``, ``WY2``. ``entropy`` is the saturated log-likelihood of the rows, ``n_rows`` their
    number, ``w_min``/``w_max`` the smallest positive and the largest row weight (for the float64
    weight-range rules of :func:`prefstat.data.checks.check_weight`).
    """

    frame: pd.DataFrame
    entropy: float
    n_rows: int
    w_min: float
    w_max: float

    @property
    def keys(self) -> list:
        return [c for c in self.frame.columns if c not in SUMS]

    @property
    def total_weight(self) -> float:
        return float(self.frame["W"].sum())

    def merge(self, other: "ItemCells") -> "ItemCells":
        """The cells of both tables' rows (sums added cell by cell)."""
        if self.keys != other.keys:
            raise ValueError(f"cannot merge cells keyed by {other.keys} into cells keyed by {self.keys}: the new "
                             "rows must be read with the same order/group roles as the fitted ones.")
        both = pd.concat([self.frame, other.frame], ignore_index=True)
        frame = both.groupby(self.keys, sort=False, dropna=False, observed=True)[list(SUMS)].sum().reset_index()
        return ItemCells(frame, self.entropy + other.entropy, self.n_rows + other.n_rows,
                         min(self.w_min, other.w_min), max(self.w_max, other.w_max))

    def check_weights(self, name: str = "weight") -> None:
        """The table-wide rules of :func:`prefstat.data.checks.check_weight` on the reduced sums."""
        check_weight_stats(self.total_weight, self.w_min, self.w_max, name)


def check_weight_stats(total: float, w_min: float, w_max: float, name: str) -> None:
    """Total weight positive and <= 2**53, largest / smallest positive row weight <= 1e9 (as in memory)."""
    if not total > 0:
        raise ValueError(f"column '{name}' sums to zero: no comparison carries any weight.")
    if not np.isfinite(total) or total > MAX_TOTAL_WEIGHT:
        raise ValueError(f"column '{name}' sums to {total:.6g}, more than 2**53 = {MAX_TOTAL_WEIGHT:.6g}, the "
                         "largest total at which float64 adds integer frequency counts exactly; weights are "
                         "frequency weights, so prefstat does not rescale them.")
    if w_max > MAX_WEIGHT_RATIO * w_min:
        raise ValueError(f"column '{name}': the largest weight ({w_max:.6g}) is more than "
                         f"{MAX_WEIGHT_RATIO:.0e} times the smallest positive one ({w_min:.6g}); beyond that "
                         "ratio float64 sums lose the small rows' contributions. Give rows that should not "
                         "count weight 0.")


def _from_reduced(reduced) -> ItemCells:
    frame, (n_rows, w_min, w_max, _), entropy = reduced
    return ItemCells(frame, float(entropy), int(n_rows), float(w_min), float(w_max))


def cells_from_rows(left, right, y, w, order=None, group=None) -> ItemCells:
    """The cells of in-memory rows (validated arrays); ``order``/``group`` add those keys."""
    from .partition import item_cell_sums

    frame = pd.DataFrame({"left": left, "right": right, "outcome": y, "weight": w})
    spec = dict(kind="items", left="left", right="right", outcome="outcome", weight="weight", group=None,
                order=None, ai_label=None, features=None, columns=["left", "right", "outcome", "weight"])
    keys = []
    if order is not None:
        frame["order"], spec["order"], keys = order, "order", keys + ["order"]
    if group is not None:
        frame["group"], spec["group"], keys = group, "group", keys + ["group"]
    return _from_reduced(item_cell_sums(frame, spec, "the new rows", keys))


def item_cells(table, *, order: bool, group: bool, log=None) -> ItemCells:
    """Map-reduce the cells of a :class:`~prefstat.distributed.PartitionedTable` (item level).

    ``order``: key by the order indicator (+1 on every row when the table has no order column);
    ``group``: key by the group column (needed for cluster-robust covariances).
    """
    from .compute import map_reduce
    from .partition import combine_item_cells, item_cell_sums

    if table.kind != "items":
        raise ValueError("item cells need an item-level table (left= and right= columns).")
    keys = (["order"] if order else []) + (["group"] if group else [])
    if group and table.roles["group"] is None:
        raise ValueError("cov_type='cluster' needs groups: give the table a group column (group=...).")
    reduced = map_reduce(table, item_cell_sums, combine_item_cells, keys, desc="cells", log=log)
    if reduced is None:
        raise ValueError("the comparison table is empty: there are no rows to fit.")
    cells = _from_reduced(reduced)
    cells.check_weights(table.roles["weight"] or "weight")
    return cells
