"""Comparison tables: validation (:mod:`.checks`), file readers (:mod:`.readers`) and the
:class:`ComparisonTable` container every estimator reads (:mod:`.table`)."""
from .arena import ARENA_WINNER_MAP, winner_outcomes
from .checks import (MAX_TOTAL_WEIGHT, MAX_WEIGHT_RATIO, check_outcome, describe_rows, factorize_items,
                     missing_mask, nonfinite_rows, to_float)
from .table import ComparisonTable, as_table, table_arrays

__all__ = ["ComparisonTable", "as_table", "table_arrays", "ARENA_WINNER_MAP", "winner_outcomes", "describe_rows", "factorize_items", "check_outcome", "missing_mask", "nonfinite_rows", "to_float",
           "MAX_TOTAL_WEIGHT", "MAX_WEIGHT_RATIO"]
