"""Arena-format outcomes: a ``winner`` column of labels mapped to outcomes by an explicit table.

Arena battle tables (LMArena / FastChat, arena-rank, MTEB arena) store the
result of a battle as a label: ``"model_a"`` (the left model won), ``"model_b"``
(the right one won), ``"tie"`` or ``"tie (bothbad)"``. :data:`ARENA_WINNER_MAP`
is prefstat's documented default mapping to outcomes (1 left preferred, 0 right,
1/2 tie). A label outside the mapping (a typo, a new category such as
``"skip"``) is an error naming the label and the first rows, never a silent
tie: arena-rank maps any unknown label to a tie, which quietly shrinks every
rating towards the others.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from .checks import describe_rows

__all__ = ["ARENA_WINNER_MAP", "winner_outcomes"]

ARENA_WINNER_MAP = {"model_a": 1.0, "model_b": 0.0, "tie": 0.5, "tie (bothbad)": 0.5}


def winner_outcomes(labels, mapping: Mapping | None = None, name: str = "winner") -> np.ndarray:
    """Outcomes (float64: 1 left preferred, 0 right, 0.5 tie) of the winner ``labels``.

    ``mapping`` (default :data:`ARENA_WINNER_MAP`) maps each label to an outcome in [0, 1];
    labels are compared exactly (no case folding or stripping, so ``"Tie"`` is unknown
    unless mapped). Raises a ValueError naming the unknown labels, their first rows
    (0-based) and the mapping to extend; missing values are errors too.
    """
    mapping = dict(ARENA_WINNER_MAP if mapping is None else mapping)
    if not mapping:
        raise ValueError("winner_map is empty: map every winner label to an outcome (1 left, 0 right, 0.5 tie).")
    for label, value in mapping.items():
        try:
            v = float(value)
        except (TypeError, ValueError):
            v = np.nan
        if not 0.0 <= v <= 1.0:
            raise ValueError(f"winner_map[{label!r}] = {value!r}: outcomes must be numbers in [0, 1] "
                             "(1 left preferred, 0 right, 0.5 tie).")
    # Factorise first and map the few distinct labels: mapping two million strings one by one
    # (Series.map) costs a second; arrow-backed string columns are factorised without conversion.
    series = labels if isinstance(labels, pd.Series) else pd.Series(np.asarray(labels, dtype=object))
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    missing = codes < 0
    if missing.any():
        raise ValueError(f"column '{name}' has missing values at {describe_rows(missing)}; every battle needs a "
                         f"winner label (one of {list(mapping)}). Drop those rows or fill them explicitly.")
    outcome_of = {k: float(v) for k, v in mapping.items()}
    values = np.array([outcome_of.get(u, np.nan) for u in uniques], dtype=np.float64)
    unknown = np.isnan(values)[codes]
    if unknown.any():
        labels_seen = [uniques[i] for i in np.flatnonzero(np.isnan(values))]
        shown = ", ".join(repr(x) for x in labels_seen[:5]) + (" ..." if len(labels_seen) > 5 else "")
        raise ValueError(f"column '{name}' has labels outside the winner mapping: {shown} at "
                         f"{describe_rows(unknown)}; known labels are {list(mapping)}. Map them explicitly "
                         "(winner_map={..., label: outcome}) or drop those rows; prefstat never treats an "
                         "unknown label as a tie.")
    return values[codes]
