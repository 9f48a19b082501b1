r"""Connectivity and coverage of the comparison graph: can BT rank these items at all, and how evenly?

* Components of the comparison graph (items linked when they met): abilities in
  different components are not comparable.
* Strong connectivity of the directed win graph (Zermelo 1929; Ford 1957):
  the BT MLE exists iff every item both beat and lost to some chain of items
  (:func:`prefstat.existence.check_beat_graph`).
* Items with fewer than ``min_comparisons`` comparisons, the share of pairs
  ever compared, and the Gini coefficient of the comparisons per item (0: every
  item compared equally often; near 1: the budget went to a few items).
* The items whose confidence intervals are widest (model-based BT standard
  errors), i.e. where more comparisons would help most.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from ..existence import check_beat_graph
from ..inference import normal_quantile
from .pairs import PairCells, PairFit
from .report import Diagnostic

__all__ = ["gini", "graph_components", "connectivity"]


def gini(x) -> float:
    """Gini coefficient of non-negative amounts (0 equal, -> 1 concentrated)."""
    x = np.sort(np.asarray(x, np.float64))
    if x.size == 0 or x.sum() <= 0:
        return 0.0
    ranks = np.arange(1, x.size + 1)
    return float(np.sum((2 * ranks - x.size - 1) * x) / (x.size * x.sum()))


def graph_components(cells: PairCells) -> tuple[int, np.ndarray]:
    """(number of components, component label per item) of the undirected comparison graph."""
    live = cells.n > 0
    g = sp.csr_matrix((np.ones(int(live.sum())), (cells.i[live], cells.j[live])), shape=(cells.k, cells.k))
    return connected_components(g, directed=False)


def mle_problem(cells: PairCells) -> str | None:
    """Why the BT MLE does not exist (the existence check's message), or None when it exists."""
    try:
        check_beat_graph(cells.i, cells.j, cells.wins, cells.n - cells.wins, cells.items)
    except ValueError as err:
        return str(err)
    return None


def connectivity(cells: PairCells, fit: PairFit | None, min_comparisons: float = 10, n_widest: int = 10,
                 level: float = 0.95, figures: bool = True) -> Diagnostic:
    """Components, MLE existence, thin items, budget imbalance (Gini) and the widest intervals."""
    k = cells.k
    per_item = np.bincount(cells.i, cells.n, k) + np.bincount(cells.j, cells.n, k)
    opponents = np.bincount(cells.i[cells.n > 0], minlength=k) + np.bincount(cells.j[cells.n > 0], minlength=k)
    n_comp, label = graph_components(cells)
    items = pd.DataFrame({"item": cells.items, "comparisons": per_item, "opponents": opponents,
                          "component": label})
    if fit is not None and fit.exists:
        z = normal_quantile(level)
        se = np.sqrt(np.clip(np.diag(fit.cov), 0, None))
        items["ability"] = fit.theta
        items["stderr"] = se
        items["ci_width"] = 2 * z * se
    g = gini(per_item)
    thin = items[items.comparisons < min_comparisons]
    coverage = cells.m / (k * (k - 1) / 2)
    summary = pd.DataFrame({"value": [k, n_comp, coverage, g, len(thin), float(np.median(per_item))]},
                           index=pd.Index(["items", "components", "pair_coverage", "gini_comparisons",
                                           f"items_below_{min_comparisons:g}", "median_comparisons"],
                                          name="quantity"))
    tables = {"summary": summary}
    problem = mle_problem(cells)
    if "ci_width" in items:
        tables["widest intervals"] = items.sort_values("ci_width", ascending=False).head(n_widest).reset_index(drop=True)
    tables["items"] = items
    if thin.shape[0]:
        tables["thin items"] = thin.reset_index(drop=True)
    figs = {"comparisons per item": _budget_figure(items, min_comparisons)} if figures else {}
    details = {"components": n_comp, "gini": g, "mle_exists": problem is None}
    title = "Connectivity and coverage"
    if n_comp > 1:
        sizes = np.bincount(label)
        verdict = (f"the comparison graph has {n_comp} components (sizes {sorted(sizes.tolist(), reverse=True)[:5]}): "
                   "abilities in different components are not comparable.")
        action = "add comparisons between the components, or rank each component separately."
        return Diagnostic("connectivity", title, "flagged", verdict, action, statistic=float(n_comp),
                          tables=tables, figures=figs, details=details)
    if problem is not None:
        action = "add comparisons for those items, drop them, or fit with an L2 penalty (alpha > 0)."
        return Diagnostic("connectivity", title, "flagged", problem, action, tables=tables, figures=figs,
                          details=details)
    parts = [f"connected, {cells.m} of {k * (k - 1) // 2} pairs compared ({coverage:.1%}), Gini of comparisons "
             f"per item {g:.2f}"]
    if thin.shape[0]:
        parts.append(f"{len(thin)} items with fewer than {min_comparisons:g} comparisons "
                     f"(e.g. {', '.join(map(str, thin.item.head(3)))})")
        action = ("direct new comparisons to the thin items and those with the widest intervals; their ranks are "
                  "the least certain.")
        status = "flagged"
    else:
        action, status = "", "ok"
    return Diagnostic("connectivity", title, status, "; ".join(parts) + ".", action, statistic=g,
                      tables=tables, figures=figs, details=details)


def _budget_figure(items: pd.DataFrame, min_comparisons: float):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 3.5), layout="constrained")
    ax = fig.add_subplot()
    counts = np.sort(items.comparisons.to_numpy())[::-1]
    ax.bar(np.arange(counts.size), counts, color="C0", label="comparisons of an item")
    ax.axhline(min_comparisons, color="k", linestyle="--", lw=1, label=f"threshold {min_comparisons:g}")
    ax.set(xlabel="item (sorted by comparisons)", ylabel="comparisons (count)", title="Comparison budget per item")
    ax.legend(loc="upper right", fontsize=8)
    return fig
