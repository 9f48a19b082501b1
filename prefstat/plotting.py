"""Matplotlib figures for simulation studies. Each function returns a ``Figure``.

They read the tidy results of :class:`prefstat.simulate.Study` (or the
reports of :mod:`prefstat.diagnostics`). Figures are built without pyplot, so
importing this module never changes the user's matplotlib backend; save them
with ``fig.savefig`` or let a notebook display them.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

from .diagnostics import coverage_report, metrics

__all__ = ["plot_error_vs_n", "plot_coverage", "plot_ci_width"]


def plot_error_vs_n(df: pd.DataFrame, error: str = "error", slopes=(-0.5, -1 / 3), ax=None):
    """Root-mean-square ``error`` against n on log-log axes, one line per estimator,
    with dashed reference lines of the given slopes through the first point."""
    fig, ax = _axes(ax)
    for name, g in df.groupby("estimator"):
        rms = g.groupby("n")[error].apply(lambda s: np.sqrt(np.mean(np.square(s))))
        ax.plot(rms.index, rms.values, "o-", label=name)
    n = np.sort(df["n"].unique()).astype(float)
    start = df[df["n"] == n[0]].groupby("estimator")[error].apply(lambda s: np.sqrt(np.mean(np.square(s)))).median()
    for s in slopes:
        ax.plot(n, start * (n / n[0]) ** s, "k--", lw=0.8, alpha=0.6, label=f"slope {s:.2g}")
    ax.set(xscale="log", yscale="log", xlabel="n", ylabel=f"RMS {error}", title="Error vs sample size")
    _n_ticks(ax, n)
    ax.legend(fontsize=8)
    return fig


def plot_coverage(df: pd.DataFrame, ax=None):
    """Mean coverage per estimator and n with the Wilson band of each parameter's coverage."""
    fig, ax = _axes(ax)
    rep = coverage_report(df)
    for name, g in rep.groupby("estimator"):
        agg = g.groupby("n").agg(coverage=("coverage", "mean"), lo=("wilson_lower", "mean"),
                                 hi=("wilson_upper", "mean"))
        ax.plot(agg.index, agg["coverage"], "o-", label=name)
        ax.fill_between(agg.index, agg["lo"], agg["hi"], alpha=0.2)
    nominal = float(rep["nominal"].iloc[0])
    ax.axhline(nominal, color="k", ls="--", lw=0.8, label="nominal")
    low = min(float(rep["wilson_lower"].min()), nominal) - 0.03
    ax.set(xscale="log", xlabel="n", ylabel="coverage (mean over parameters)", title="CI coverage",
           ylim=(max(0.0, low), 1.0))
    _n_ticks(ax, rep["n"].unique())
    ax.legend(fontsize=8)
    return fig


def plot_ci_width(df: pd.DataFrame, ax=None):
    """Mean confidence-interval width against n (log-log)."""
    fig, ax = _axes(ax)
    m = metrics(df)
    for name, g in m.groupby("estimator"):
        if "mean_ci_width" in g and g["mean_ci_width"].notna().all():
            ax.plot(g["n"], g["mean_ci_width"], "o-", label=name)
    ax.set(xscale="log", yscale="log", xlabel="n", ylabel="mean CI width", title="Interval width")
    _n_ticks(ax, m["n"].unique())
    ax.legend(fontsize=8)
    return fig


def _n_ticks(ax, n_values):
    n_values = np.sort(np.asarray(n_values, float))
    ax.set_xticks(n_values, labels=[f"{int(v):,}" for v in n_values])
    ax.xaxis.set_minor_formatter(NullFormatter())


def _axes(ax):
    if ax is None:
        fig = Figure(figsize=(5.5, 4), layout="constrained")
        return fig, fig.add_subplot()
    return ax.figure, ax
