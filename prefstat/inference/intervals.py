"""Normal-theory and bootstrap-percentile intervals and the statsmodels-style coefficient table."""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["wald_interval", "percentile_interval", "coef_table", "normal_quantile"]


def normal_quantile(level: float) -> float:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be strictly between 0 and 1; got {level!r}.")
    return float(stats.norm.ppf(0.5 + level / 2.0))


def wald_interval(estimate: np.ndarray, stderr: np.ndarray, level: float = 0.95) -> np.ndarray:
    """Normal-theory interval ``estimate -+ z_{(1+level)/2} stderr`` as a (k, 2) array."""
    z = normal_quantile(level)
    est, se = np.asarray(estimate, np.float64), np.asarray(stderr, np.float64)
    return np.column_stack([est - z * se, est + z * se])


def percentile_interval(draws: np.ndarray, level: float = 0.95) -> np.ndarray:
    """Bootstrap percentile interval from draws (B, k), as a (k, 2) array."""
    normal_quantile(level)
    lo, hi = np.quantile(np.asarray(draws, np.float64), [0.5 - level / 2.0, 0.5 + level / 2.0], axis=0)
    return np.column_stack([lo, hi])


def coef_table(names, estimate, stderr, level: float = 0.95, interval: np.ndarray | None = None) -> pd.DataFrame:
    """statsmodels-style coefficient table: estimate, stderr, z, p-value, interval."""
    est, se = np.asarray(estimate, np.float64), np.asarray(stderr, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = est / se
    ci = wald_interval(est, se, level) if interval is None else interval
    lo_name, hi_name = f"lower {level:.3g}", f"upper {level:.3g}"
    return pd.DataFrame(
        {"estimate": est, "stderr": se, "z": z, "p_value": 2.0 * stats.norm.sf(np.abs(z)),
         lo_name: ci[:, 0], hi_name: ci[:, 1]},
        index=pd.Index(names, name="parameter"),
    )
