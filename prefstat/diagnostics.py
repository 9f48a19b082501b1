"""Reports on simulation results: consistency (error vs n), CI coverage, efficiency.

Every function takes the tidy DataFrame of :class:`prefstat.simulate.Study`
(one row per replication x cell x estimator; array-valued ``estimate``,
``stderr``, ``lower``, ``upper``, ``truth`` columns; scalar metric columns
``error``, ``angle_deg``, ``runtime_s``) and returns a DataFrame.

* :func:`metrics` - bias, RMSE, angular error, disagreement, coverage, width, runtime per cell.
* :func:`consistency_report` - the empirical rate: OLS slope of log(error) on
  log(n) over replications, with its CI. A regular root-n estimator has slope
  -1/2, the cube-root sign estimator -1/3; an inconsistent one has an error
  that stops shrinking (slope near 0).
* :func:`coverage_report` - coverage per parameter with a Wilson interval
  (statsmodels); flagged when the nominal level is outside it.
* :func:`efficiency_report` - variance ratios against a baseline estimator and
  the effective sample size ``n * Var(baseline) / Var(estimator)``.

Replications without an estimate: a row with ``exists == False`` (the study's
existence verdict: the fit ran off to infinity, ``max |eta| >= DIVERGED_ETA``, so the
MLE of that data set does not exist) carries no meaningful estimate. Every report
leaves such rows out of its numbers and counts them per cell in a
``no_estimate`` column; ``reps`` is the number of replications used. Averaging
them in would report RMSEs and interval widths driven by arbitrary stopping points
(``|estimate| ~ 45``, widths ~ 1e10). Note that dropping them conditions on existence,
which at small n is itself informative; the count says how much.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import statsmodels.api as sm
from statsmodels.stats.proportion import proportion_confint

__all__ = ["metrics", "consistency_report", "coverage_report", "efficiency_report", "cell_columns"]

_RESERVED = {"rep", "estimate", "stderr", "lower", "upper", "truth", "error", "angle_deg", "disagreement",
             "runtime_s", "level", "estimator", "n", "seed", "converged", "exists"}


def cell_columns(df: pd.DataFrame) -> list[str]:
    """Grid columns that identify a cell besides ``estimator`` and ``n`` (process parameters).

    The study puts them first, before ``estimator``; columns after it are results (including any
    extra value an adapter returns, e.g. ``cone_radius`` or ``lam``).
    """
    cols = list(df.columns)
    head = cols[: cols.index("estimator")] if "estimator" in cols else cols
    return [c for c in head if c not in _RESERVED]


def _existing(g: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """(rows with an estimate, number left out); frames without an ``exists`` column keep every row."""
    if "exists" not in g.columns:
        return g, 0
    ok = g["exists"].astype(bool).to_numpy()
    return g[ok], int((~ok).sum())


def _stack(series: pd.Series) -> np.ndarray:
    return np.stack([np.asarray(v, np.float64) for v in series])


def _has(df, col) -> bool:
    return col in df.columns and df[col].notna().all()


def metrics(df: pd.DataFrame) -> pd.DataFrame:
    """Per estimator x cell: bias (max over parameters, in absolute value), RMSE, mean angular
    error, mean disagreement, mean coverage over parameters, mean CI width, mean runtime.

    ``reps`` counts the replications used, ``no_estimate`` those left out because their estimate
    does not exist (``exists == False``; see the module docstring); a cell with none left has NaN
    metrics."""
    keys = ["estimator", *cell_columns(df), "n"]
    rows = []
    for key, g_all in df.groupby(keys, sort=True, dropna=False):
        g, dropped = _existing(g_all)
        row = dict(zip(keys, key))
        row["reps"] = len(g)
        row["no_estimate"] = dropped
        if len(g) == 0:
            rows.append(row)
            continue
        est, truth = _stack(g["estimate"]), _stack(g["truth"])
        row["max_abs_bias"] = float(np.max(np.abs(est.mean(axis=0) - truth.mean(axis=0))))
        row["rmse"] = float(np.sqrt(np.mean(np.sum((est - truth) ** 2, axis=1))))
        if _has(g, "angle_deg"):
            row["mean_angle_deg"] = float(g["angle_deg"].mean())
        if _has(g, "disagreement"):
            row["mean_disagreement"] = float(g["disagreement"].mean())
        if _has(g, "lower"):
            lo, hi = _stack(g["lower"]), _stack(g["upper"])
            row["coverage"] = float(np.mean((lo <= truth) & (truth <= hi)))
            row["mean_ci_width"] = float(np.mean(hi - lo))
        row["runtime_s"] = float(g_all["runtime_s"].mean())
        rows.append(row)
    return pd.DataFrame(rows)


def consistency_report(df: pd.DataFrame, error: str = "error", level: float = 0.95,
                       stall_slope: float = -0.1) -> pd.DataFrame:
    """Empirical convergence rate per estimator (and process cell).

    Fits ``log(error_r) = a + b log(n_r)`` by OLS over all replications and
    reports ``b`` with its ``level`` confidence interval. ``inconsistent`` is
    flagged when the upper end of the CI for ``b`` is above ``stall_slope``
    (the error has stopped shrinking). ``error`` may be ``"error"`` (Euclidean
    distance to the truth) or ``"angle_deg"``. Replications without an estimate are
    left out and counted in ``no_estimate`` (over all n); when fewer than two sample
    sizes keep an estimate, the slope is NaN.
    """
    keys = ["estimator", *cell_columns(df)]
    rows = []
    for key, g_all in df.groupby(keys, sort=True, dropna=False):
        g, dropped = _existing(g_all)
        key = key if isinstance(key, tuple) else (key,)
        row = dict(zip(keys, key))
        n = g["n"].to_numpy(np.float64)
        e = g[error].to_numpy(np.float64)
        ok = e > 0
        if g_all["n"].nunique() < 2:
            raise ValueError(f"consistency_report needs at least two sample sizes per estimator; {row} has "
                             f"{g_all['n'].nunique()}.")
        if np.unique(n[ok]).size < 2:
            # too few replications with an estimate left: no slope, and the row says why
            row.update(slope=np.nan, slope_lower=np.nan, slope_upper=np.nan, error_at_min_n=np.nan,
                       error_at_max_n=np.nan, inconsistent=False, no_estimate=dropped)
            rows.append(row)
            continue
        fit = sm.OLS(np.log(e[ok]), sm.add_constant(np.log(n[ok]))).fit()
        lo, hi = fit.conf_int(1 - level)[1]
        by_n = g.groupby("n")[error].apply(lambda s: float(np.sqrt(np.mean(np.square(s)))))
        row.update(slope=float(fit.params[1]), slope_lower=float(lo), slope_upper=float(hi),
                   error_at_min_n=float(by_n.iloc[0]), error_at_max_n=float(by_n.iloc[-1]),
                   inconsistent=bool(hi > stall_slope), no_estimate=dropped)
        rows.append(row)
    return pd.DataFrame(rows)


def coverage_report(df: pd.DataFrame, level: float | None = None, confidence: float = 0.95) -> pd.DataFrame:
    """Coverage per estimator x cell x parameter with a Wilson interval.

    ``flag`` is True when the nominal level lies outside the Wilson interval
    at ``confidence``. ``level`` defaults to the ``level`` column of ``df``.
    Replications without an estimate are left out (``reps`` used, ``no_estimate`` left out).
    """
    if not _has(df, "lower"):
        raise ValueError("coverage_report needs interval columns 'lower'/'upper'; these estimators report none.")
    keys = ["estimator", *cell_columns(df), "n"]
    rows = []
    for key, g_all in df.groupby(keys, sort=True, dropna=False):
        g, dropped = _existing(g_all)
        nominal = float(g_all["level"].iloc[0]) if level is None else level
        if len(g) == 0:
            rows.append({**dict(zip(keys, key)), "reps": 0, "no_estimate": dropped, "nominal": nominal})
            continue
        lo, hi, truth = _stack(g["lower"]), _stack(g["upper"]), _stack(g["truth"])
        hits = ((lo <= truth) & (truth <= hi)).sum(axis=0)
        for j, h in enumerate(hits):
            w_lo, w_hi = proportion_confint(int(h), len(g), alpha=1 - confidence, method="wilson")
            rows.append({**dict(zip(keys, key)), "param": j, "reps": len(g), "no_estimate": dropped,
                         "nominal": nominal,
                         "coverage": h / len(g), "wilson_lower": w_lo, "wilson_upper": w_hi,
                         "mean_width": float(np.mean(hi[:, j] - lo[:, j])),
                         "flag": bool(not (w_lo <= nominal <= w_hi))})
    return pd.DataFrame(rows)


def efficiency_report(df: pd.DataFrame, baseline: str) -> pd.DataFrame:
    """Variance ratio and effective sample size of each estimator relative to ``baseline``.

    ``variance_ratio = tr Var(baseline) / tr Var(estimator)`` over replications
    in the same cell; ``n_eff = n * variance_ratio`` ("this estimator is worth
    n_eff observations of the baseline"). Replications without an estimate are left out
    (``no_estimate`` counts them).
    """
    if baseline not in set(df["estimator"]):
        raise ValueError(f"baseline {baseline!r} is not an estimator in the results: {sorted(set(df['estimator']))}.")
    keys = [*cell_columns(df), "n"]
    rows = []
    for key, g in df.groupby(keys, sort=True, dropna=False) if keys else [((), df)]:
        key = key if isinstance(key, tuple) else (key,)
        var, dropped = {}, {}
        for name, h in g.groupby("estimator"):
            h, dropped[name] = _existing(h)
            var[name] = (float(np.trace(np.atleast_2d(np.cov(_stack(h["estimate"]), rowvar=False))))
                         if len(h) > 1 else np.nan)
        for name, v in var.items():
            ratio = var[baseline] / v
            n = float(g["n"].iloc[0])
            rows.append({**dict(zip(keys, key)), "estimator": name, "baseline": baseline,
                         "total_variance": v, "variance_ratio": ratio, "n_eff": n * ratio,
                         "no_estimate": dropped[name]})
    return pd.DataFrame(rows)
