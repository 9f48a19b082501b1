"""Exact fits on partitioned data (Parquet directories, Dask DataFrames) with ``dask.distributed``.

Same numbers as in memory, because every estimate and covariance is a function of sums over rows
and sums can be computed partition by partition and added (docs/methods.md#exact-map-reduce-on-dask):

* item level (:mod:`.cells`): one map-reduce of the cell sums (distinct left x right x order
  [x group]), then the in-memory fit on the cells; the cells are kept on the model
  (``BradleyTerry.cell_stats_``), so ``update(new_rows)`` adds the new rows' cells and refits;
* feature level (:mod:`.newton`): each Newton iteration is one map-reduce of value, gradient
  and Hessian, and the meat or cluster scores one more at the solution;
* :class:`~prefstat.DebiasedBradleyTerry`: item level (:mod:`.debiased`), distinct rows with
  summed frequency weights; feature level (:mod:`.debiased_features`), Newton passes and the
  covariance sums as map-reduces.

No partition is ever sent to the client (:class:`.compute.TransferLog`). Estimators use the active
``dask.distributed`` client (``Client(LocalCluster(...))`` or ``Client("tcp://scheduler:8786")``),
or Dask's local scheduler when there is none. This package imports dask only when it computes.
"""
from .cells import ItemCells, cells_from_rows, check_weight_stats, item_cells
from .compute import TransferLog, active_client, map_reduce
from .debiased import distinct_debiased_rows
from .debiased_features import DebiasedFeatureFit, fit_debiased_features
from .io import PartitionedTable, as_partitioned, is_partitioned, parquet_files
from .newton import FeatureFit, fit_features

__all__ = ["PartitionedTable", "as_partitioned", "is_partitioned", "parquet_files", "ItemCells", "item_cells",
           "cells_from_rows", "check_weight_stats", "FeatureFit", "fit_features", "distinct_debiased_rows",
           "DebiasedFeatureFit", "fit_debiased_features",
           "TransferLog", "map_reduce", "active_client"]
