r"""Position / order bias and tie-convention sensitivity.

**Position bias.** BT with an order effect,
:math:`\mathrm{logit}\,P(\text{left}) = \theta_a - \theta_b + \gamma o`
(:class:`~prefstat.BradleyTerry` with ``order_effect=True``; ``o`` from the
table's order column, else +1: the left / first-shown option holds the
advantage). Wald test of :math:`\gamma = 0` with its interval; model-based
standard errors (the null is BT without position bias; under annotator
dependence use the cluster SE ratio of the annotator diagnostic). When every
pair is always shown in the same orientation, :math:`\gamma` is confounded with
the abilities and the check says so.

**Tie convention.** :class:`~prefstat.BradleyTerry` counts a tie as half a win
for each side; :class:`~prefstat.DavidsonBradleyTerry` models ties (Davidson
1970). The half-win fit is shrunk towards zero when ties follow Davidson's
model, so the estimates differ in scale by construction; what matters for a
leaderboard is the *order*. The check fits both, lists them side by side with
the ranks (rank 1 = highest ability, from ``argsort``) and counts the items
whose rank changes. It is descriptive (no test): flagged when any rank
changes.
"""
from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd
from scipy import stats

from ..data import ComparisonTable
from ..inference import normal_quantile
from ..models import BradleyTerry, DavidsonBradleyTerry
from .report import Diagnostic

__all__ = ["position_bias", "tie_sensitivity", "ranks"]


def ranks(theta) -> np.ndarray:
    """Rank of each ability (1 = highest; ties broken by position)."""
    order = np.argsort(-np.asarray(theta), kind="stable")
    r = np.empty(order.size, np.int64)
    r[order] = np.arange(1, order.size + 1)
    return r


def _plain(table: ComparisonTable) -> ComparisonTable:
    return dataclasses.replace(table, group=None)


def position_bias(table: ComparisonTable, level: float = 0.05) -> Diagnostic:
    """Order effect with its interval and the Wald test of no position bias."""
    title = "Position / order bias"
    source = "the table's order column" if table.order is not None else "the left position (no order column)"
    try:
        bt = BradleyTerry(order_effect=True).fit(_plain(table))
    except ValueError as err:
        return Diagnostic("position_bias", title, "skipped",
                          f"the order effect cannot be estimated: {' '.join(str(err).split())}")
    gamma, se = bt.order_effect_, bt.order_effect_stderr_
    if not (np.isfinite(se) and se > 0):
        # BradleyTerry can return a singular information (NaN standard errors) when the start point
        # already solves the score equations; the cause is the same confounding.
        return Diagnostic("position_bias", title, "skipped",
                          "the order effect cannot be estimated: it is not identifiable (the order column is "
                          "confounded with the abilities, e.g. every pair always shown in one orientation).")
    z = gamma / se
    p = float(2 * stats.norm.sf(abs(z)))
    q = normal_quantile(1 - level)
    lo, hi = gamma - q * se, gamma + q * se
    frame = pd.DataFrame({"estimate": [gamma], "stderr": [se], "z": [z], "p_value": [p],
                          f"lower {1 - level:.3g}": [lo], f"upper {1 - level:.3g}": [hi],
                          "odds_ratio": [np.exp(gamma)]}, index=pd.Index(["order_effect"], name="parameter"))
    detail = (f"order effect {gamma:.3g} (log-odds, {1 - level:.0%} CI {lo:.3g} to {hi:.3g}; odds x{np.exp(gamma):.3g}) "
              f"for {source}, p = {p:.3g}")
    if p < level:
        return Diagnostic("position_bias", title, "flagged", detail + ".",
                          "fit with order_effect=True (BradleyTerry(order_effect=True)) and randomise or balance "
                          "the presentation order in future collection.", statistic=float(z), p_value=p,
                          tables={"order effect": frame})
    return Diagnostic("position_bias", title, "ok", "no evidence of position bias: " + detail + ".",
                      statistic=float(z), p_value=p, tables={"order effect": frame})


def tie_sensitivity(table: ComparisonTable, n_top: int = 10) -> Diagnostic:
    """Half-win BT against Davidson's tie model: estimates side by side and rank changes."""
    title = "Tie convention (half win vs Davidson)"
    tied = table.outcome == 0.5
    share = float(table.weight[tied].sum() / table.weight.sum())
    if not tied.any():
        return Diagnostic("ties", title, "ok", "no ties: the tie convention does not matter.",
                          details={"tie_share": 0.0})
    soft = (table.outcome > 0) & (table.outcome < 1) & ~tied
    if soft.any():
        return Diagnostic("ties", title, "skipped", "soft labels (outcomes other than 0, 1/2, 1): Davidson's "
                          "model needs hard outcomes.", details={"tie_share": share})
    try:
        plain = _plain(table)
        bt = BradleyTerry().fit(plain)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dav = DavidsonBradleyTerry().fit(plain)
    except ValueError as err:
        return Diagnostic("ties", title, "skipped", f"a fit failed: {' '.join(str(err).split())}",
                          details={"tie_share": share})
    r_bt, r_dav = ranks(bt.coef_), ranks(dav.coef_)
    frame = pd.DataFrame({"item": bt.items_, "half_win": bt.coef_, "davidson": dav.coef_, "rank_half_win": r_bt,
                          "rank_davidson": r_dav, "rank_change": r_dav - r_bt}).sort_values("rank_half_win")
    changed = int(np.sum(r_bt != r_dav))
    top_changed = int(np.sum((r_bt != r_dav) & (np.minimum(r_bt, r_dav) <= n_top)))
    tau = float(stats.kendalltau(bt.coef_, dav.coef_).statistic)
    verdict = (f"{share:.1%} ties; Davidson tie parameter nu = {dav.tie_param_:.3g}; {changed} of {len(r_bt)} "
               f"ranks change between the conventions ({top_changed} in the top {n_top}; Kendall tau {tau:.3g}).")
    details = {"tie_share": share, "rank_changes": changed, "tie_param": float(dav.tie_param_)}
    if changed:
        return Diagnostic("ties", title, "flagged", verdict,
                          "ties carry information here: report DavidsonBradleyTerry (ties modelled) or show both "
                          "orderings.", statistic=float(changed), tables={"estimates": frame}, details=details)
    return Diagnostic("ties", title, "ok", verdict, statistic=0.0, tables={"estimates": frame}, details=details)
