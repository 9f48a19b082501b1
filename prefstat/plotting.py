"""Matplotlib figures for simulation studies. Each function returns a ``Figure``.

They read the tidy results of :class:`prefstat.simulate.Study` (or the
reports of :mod:`prefstat.diagnostics`). Figures are built without pyplot, so
importing this module never changes the user's matplotlib backend; save them
with ``fig.savefig`` or let a notebook display them.

Conventions, so that every figure reads on its own (``tests/test_plotting.py``
checks them on the rendered figures):

* every axis is labelled, and the y label states its unit in parentheses
  (log-odds, degrees, share, count);
* each estimator has its own marker and line style (not only a colour), and its
  points are offset slightly along n, so coinciding lines stay visible;
* reference lines differ in line style and are in the legend, as are shaded bands;
* legends sit outside the axes, so they never cover data.

Replications whose estimate does not exist (``exists == False``) are left out,
as in :mod:`prefstat.diagnostics`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import LogFormatter, NullFormatter

from .diagnostics import coverage_report, metrics

__all__ = ["plot_error_vs_n", "plot_coverage", "plot_ci_width", "plot_forest", "plot_judge_quality_grid", "n_ticks", "plain_log_labels", "estimator_styles",
           "legend_outside", "error_label", "N_LABEL"]

N_LABEL = "n (comparisons)"
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
_LINESTYLES = ("-", "--", "-.", ":")
# reference lines: black, no marker, each in its own (named) line style
_REFERENCE_STYLES = ("--", ":", "-.")
_OFFSET = 0.035  # log-spacing between estimators' points along n (3.5%)


def estimator_styles(names) -> dict:
    """name -> dict(color, marker, linestyle, offset): one distinct (marker, line style) per estimator,
    stable for a given set of names (sorted), so every panel of a figure uses the same style."""
    names = sorted(set(names))
    k = len(names)
    return {name: {"color": f"C{i % 10}", "marker": _MARKERS[i % len(_MARKERS)],
                   "linestyle": _LINESTYLES[i % len(_LINESTYLES)],
                   "offset": float(np.exp(_OFFSET * (i - (k - 1) / 2)))}
            for i, name in enumerate(names)}


def _plot_estimator(ax, x, y, style, label):
    return ax.plot(np.asarray(x, float) * style["offset"], y, color=style["color"], marker=style["marker"],
                   linestyle=style["linestyle"], markersize=5, label=label)[0]


def error_label(df: pd.DataFrame, error: str) -> str:
    """Readable y label with its unit for an error column of the study results."""
    if error == "angle_deg":
        return "RMS angular error (degrees)"
    if error == "disagreement":
        return "RMS disagreement rate (share of pairs)"
    if error == "error":
        truths = df["truth"] if "truth" in df.columns else []
        unit = len(truths) and all(abs(np.linalg.norm(np.asarray(t, float)) - 1.0) < 1e-9 for t in truths)
        return "RMS error (distance of unit vectors)" if unit else "RMS error (log-odds)"
    return f"RMS {error.replace('_', ' ')} (units of {error})"


def _existing(df: pd.DataFrame) -> pd.DataFrame:
    return df[df["exists"].astype(bool)] if "exists" in df.columns else df


def plot_error_vs_n(df: pd.DataFrame, error: str = "error", slopes=(-0.5, -1 / 3), ax=None):
    """Root-mean-square ``error`` against n on log-log axes, one line per estimator, with black
    reference lines of the given slopes (each in its own line style) through the median first point."""
    fig, ax = _axes(ax)
    df = _existing(df)
    styles = estimator_styles(df["estimator"])
    for name, g in df.groupby("estimator"):
        rms = g.groupby("n")[error].apply(lambda s: np.sqrt(np.mean(np.square(s))))
        _plot_estimator(ax, rms.index, rms.values, styles[name], name)
    n = np.sort(df["n"].unique()).astype(float)
    start = df[df["n"] == n[0]].groupby("estimator")[error].apply(lambda s: np.sqrt(np.mean(np.square(s)))).median()
    names = {-0.5: "slope -1/2 (root-n rate)", -1 / 3: "slope -1/3 (cube-root rate)"}
    for i, s in enumerate(slopes):
        ax.plot(n, start * (n / n[0]) ** s, color="k", lw=1.0, alpha=0.7,
                linestyle=_REFERENCE_STYLES[i % len(_REFERENCE_STYLES)],
                label=names.get(s, f"slope {s:.2g}"))
    ax.set(xscale="log", yscale="log", xlabel=N_LABEL, ylabel=error_label(df, error), title="Error vs sample size")
    n_ticks(ax, n)
    plain_log_labels(ax)
    legend_outside(ax)
    return fig


def plot_coverage(df: pd.DataFrame, ax=None):
    """Mean coverage per estimator and n, with the mean Wilson 95% band of the per-parameter coverages
    (shaded) and the nominal level (black)."""
    fig, ax = _axes(ax)
    rep = coverage_report(df).dropna(subset=["coverage"])
    styles = estimator_styles(rep["estimator"])
    for name, g in rep.groupby("estimator"):
        agg = g.groupby("n").agg(coverage=("coverage", "mean"), lo=("wilson_lower", "mean"),
                                 hi=("wilson_upper", "mean"))
        st = styles[name]
        _plot_estimator(ax, agg.index, agg["coverage"], st, name)
        ax.fill_between(np.asarray(agg.index, float) * st["offset"], agg["lo"], agg["hi"], color=st["color"],
                        alpha=0.15, linewidth=0)
    nominal = float(rep["nominal"].iloc[0])
    ax.axhline(nominal, color="k", linestyle="--", lw=1.0, label=f"nominal level {nominal:g}")
    low = min(float(rep["wilson_lower"].min()), nominal) - 0.03
    ax.set(xscale="log", xlabel=N_LABEL, ylabel="coverage (share of intervals)", title="CI coverage",
           ylim=(max(0.0, low), 1.0))
    n_ticks(ax, rep["n"].unique())
    band = Patch(facecolor="0.5", alpha=0.3, label="Wilson 95% band (shaded, per estimator)")
    legend_outside(ax, extra=[band])
    return fig


def plot_ci_width(df: pd.DataFrame, ax=None):
    """Mean confidence-interval width against n (log-log)."""
    fig, ax = _axes(ax)
    m = metrics(df)
    styles = estimator_styles(m["estimator"])
    for name, g in m.groupby("estimator"):
        if "mean_ci_width" in g and g["mean_ci_width"].notna().all():
            _plot_estimator(ax, g["n"], g["mean_ci_width"], styles[name], name)
    ax.set(xscale="log", yscale="log", xlabel=N_LABEL, ylabel="mean CI width (log-odds)", title="Interval width")
    n_ticks(ax, m["n"].unique())
    plain_log_labels(ax)
    legend_outside(ax)
    return fig


def plot_forest(summary: pd.DataFrame, xlabel: str, title: str = "", level: float = 0.95, ax=None):
    """Forest plot of a coefficient table (``estimate`` and the two interval columns last, rows = parameters):
    one horizontal interval per row, largest estimate on top, a dotted line at 0."""
    fig, ax = _axes(ax)
    lower, upper = summary.columns[-2], summary.columns[-1]
    rows = summary.sort_values("estimate")
    y = np.arange(len(rows))
    ax.hlines(y, rows[lower], rows[upper], color="C0", lw=2, label=f"{level:.0%} interval")
    ax.plot(rows["estimate"], y, "o", color="C0", markersize=5, label="estimate")
    ax.axvline(0.0, color="k", linestyle=":", lw=1.0, label="zero")
    ax.set_yticks(y, labels=[str(i) for i in rows.index])
    ax.set(xlabel=xlabel, ylabel="parameter (name)", title=title)
    legend_outside(ax)
    return fig


def plot_judge_quality_grid(df: pd.DataFrame, eff: pd.DataFrame, agreement: dict, unit: str,
                            bias_label: str = "largest |bias|"):
    """AI-judge studies: one column per judge quality (``flip_rate``); rows: ``|bias|``, coverage, CI width and
    effective human labels (``eff``: columns flip_rate, n, estimator, n_eff) against n human labels.

    ``unit`` names the estimate's scale (log-odds, probability). One legend for the whole figure, to the
    right of the panels; each estimator keeps its marker, line style and colour in every panel. AI-only is
    left out of the effective-labels row: it is biased, so its variance ratio is no effective sample size."""
    m = metrics(df)
    flips = sorted(agreement)
    fig = Figure(figsize=(4 * len(flips) + 2.5, 12), layout="constrained")
    axes = fig.subplots(4, len(flips), squeeze=False, sharex=True)
    rows = [("max_abs_bias", f"{bias_label} ({unit})", m, True),
            ("coverage", "coverage (share of intervals)", m, False),
            ("mean_ci_width", f"mean CI width ({unit})", m, True),
            ("n_eff", "effective human labels (count)", eff, True)]
    nominal = float(df["level"].iloc[0])
    styles = estimator_styles(df["estimator"])
    n = np.sort(df["n"].unique()).astype(float)
    for j, f in enumerate(flips):
        for i, (col, label, table, log) in enumerate(rows):
            ax = axes[i, j]
            for name, g in table[table["flip_rate"] == f].groupby("estimator"):
                if col == "n_eff" and name == "AI-only":
                    continue
                g = g.sort_values("n")
                _plot_estimator(ax, g["n"], g[col], styles[name], name)
            if col == "coverage":
                ax.axhline(nominal, color="k", linestyle="--", lw=1.0, label=f"nominal level {nominal:g}")
            if col == "n_eff":
                ax.plot(n, n, color="k", linestyle=":", lw=1.0, label="n (human-only, reference)")
            ax.set(xscale="log", yscale="log" if log else "linear", ylabel=label)
            n_ticks(ax, n)
            if log:
                plain_log_labels(ax)
        axes[0, j].set_title(f"flip rate {f:g}: judge agreement {agreement[f]:.3f}")
    for ax in axes.ravel():
        ax.set_xlabel("n human labels (count)", fontsize=8)
    handles = {}
    for ax in axes.ravel():
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    fig.legend(list(handles.values()), list(handles), loc="outside right upper", fontsize=8)
    return fig


def legend_outside(ax, extra=(), fontsize=8):
    """The axes' legend to the right of the axes (outside, so it covers no data); ``extra`` handles appended."""
    handles, labels = ax.get_legend_handles_labels()
    handles = list(handles) + list(extra)
    labels = list(labels) + [h.get_label() for h in extra]
    return ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0,
                     fontsize=fontsize)


class _PlainLogFormatter(LogFormatter):
    """matplotlib's choice of which log ticks to label, written as plain numbers (0.4, 3, 1000)."""

    def __call__(self, x, pos=None):
        return f"{x:g}" if super().__call__(x, pos) else ""


def plain_log_labels(ax):
    """Plain numbers (0.2, 3, 1000) on a log y axis instead of 2 x 10^-1; minor ticks are labelled
    only as far as they fit (matplotlib's LogFormatter thresholds)."""
    ax.yaxis.set_major_formatter(_PlainLogFormatter(labelOnlyBase=False))
    ax.yaxis.set_minor_formatter(_PlainLogFormatter(labelOnlyBase=False, minor_thresholds=(1, 0.4)))


def n_ticks(ax, n_values):
    """Major ticks at the study's sample sizes (with thousands separators), no minor labels."""
    n_values = np.sort(np.asarray(n_values, float))
    ax.set_xticks(n_values, labels=[f"{int(v):,}" for v in n_values])
    ax.xaxis.set_minor_formatter(NullFormatter())


def _axes(ax):
    if ax is None:
        fig = Figure(figsize=(7.5, 4), layout="constrained")
        return fig, fig.add_subplot()
    return ax.figure, ax
