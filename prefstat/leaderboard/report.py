"""The leaderboard's self-contained HTML page: the table plus a forest plot of ratings (marginal and
simultaneous intervals) and of rank confidence sets, embedded as base64 PNG (no external files)."""
from __future__ import annotations

import html

import numpy as np
from matplotlib.figure import Figure

from ..report.html import figure_to_data_uri

__all__ = ["plot_leaderboard", "leaderboard_html"]


def plot_leaderboard(board, max_models: int = 80) -> Figure:
    """Two panels, one row per model (best on top): rating with marginal (thick) and simultaneous (thin)
    intervals; rank with the marginal (thick) and simultaneous (thin) rank confidence sets."""
    t = board.table_.iloc[:max_models]
    k = len(t)
    y = np.arange(k)[::-1]
    fig = Figure(figsize=(10, 1.2 + 0.22 * k), layout="constrained")
    ax, ax2 = fig.subplots(1, 2, sharey=True, gridspec_kw={"width_ratios": [3, 2]})
    level = f"{100 * board.level:g}%"
    ax.hlines(y, t["sim_lower"], t["sim_upper"], color="C0", lw=1, label=f"simultaneous {level}")
    ax.hlines(y, t["lower"], t["upper"], color="C1", lw=3.5, label=f"marginal {level}")
    ax.plot(t["rating"], y, "k|", ms=9, label="rating")
    ax.set_yticks(y, [str(m) for m in t.index], fontsize=7)
    ax.set_xlabel(f"rating (Elo points; scale {board.scale:g}, base {board.base:g})")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.06 - 1.5 / (k + 6)), ncol=3, fontsize=7)
    ax.grid(axis="x", alpha=0.3)
    ax2.hlines(y, t["sim_rank_lower"] - 0.3, t["sim_rank_upper"] + 0.3, color="C0", lw=1,
               label=f"simultaneous {level} rank set")
    ax2.hlines(y, t["rank_lower"] - 0.15, t["rank_upper"] + 0.15, color="C1", lw=3.5,
               label=f"marginal {level} rank set")
    ax2.plot(t["rank"], y, "k|", ms=9, label="rank")
    ax2.set_xlabel("rank (1 = best)")
    ax2.invert_xaxis()
    ax2.legend(loc="upper center", bbox_to_anchor=(0.5, -0.06 - 1.5 / (k + 6)), ncol=2, fontsize=7)
    ax2.grid(axis="x", alpha=0.3)
    if len(board.table_) > max_models:
        fig.suptitle(f"top {max_models} of {len(board.table_)} models", fontsize=9)
    return fig


def leaderboard_html(board, title: str = "prefstat leaderboard") -> str:
    """The page as a string (see the module docstring)."""
    fmt = lambda v: f"{v:.6g}" if isinstance(v, (float, np.floating)) else str(v)  # noqa: E731
    table = board.table_.to_html(float_format=lambda v: f"{v:.6g}", border=0, classes="board")
    style = board.style_summary()
    style_html = "" if style is None else (
        "<h2>Style coefficients (log-odds per unit of the feature)</h2>"
        + style.to_html(float_format=lambda v: f"{v:.6g}", border=0, classes="board"))
    settings = (f"{len(board.table_)} models, {fmt(float(board.results_.n_obs))} battles; ties: {board.ties}; "
                f"covariance: {board.cov_type}; level {board.level:g}; simultaneous critical value "
                f"{board.critical_value_:.4g}; anchor {board.anchor:g}"
                + (f" at {board.anchor_model}" if board.anchor_model is not None else " (mean rating)")
                + (f"; style control: {', '.join(board.style_names_)}" if board.style_names_ else ""))
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em}} table.board{{border-collapse:collapse;font-size:12px}}
table.board td,table.board th{{padding:2px 8px;text-align:right}} table.board tr:nth-child(even){{background:#f3f3f3}}</style>
</head><body>
<h1>{html.escape(title)}</h1>
<p>{html.escape(settings)}</p>
<img alt="ratings and rank confidence sets" src="{figure_to_data_uri(plot_leaderboard(board), dpi=110)}">
<h2>Leaderboard</h2>
{table}
{style_html}
<p>rank_lower/rank_upper: confidence set for each model's rank (marginal); sim_rank_*: for all ranks jointly
(Mogstad, Romano, Shaikh &amp; Wilhelm 2023). sim_lower/sim_upper: simultaneous intervals (max-|t|).</p>
</body></html>
"""
