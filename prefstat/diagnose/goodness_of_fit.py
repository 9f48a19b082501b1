r"""Goodness of fit of Bradley-Terry on aggregated pairs, calibrated by parametric bootstrap.

Estimand and null: each unordered pair :math:`\{i, j\}` has a win probability
:math:`\pi_{ij}`; BT says :math:`\pi_{ij} = \sigma(\theta_i - \theta_j)`. On the
pair cells (:mod:`~prefstat.diagnose.pairs`) with :math:`n` comparisons,
:math:`w` wins of :math:`i` and fitted :math:`\hat p`, the deviance

.. math::  D = 2 \sum_{\text{pairs}} \big[w \log\tfrac{w}{n\hat p} + (n - w) \log\tfrac{n - w}{n(1 - \hat p)}\big]

and Pearson's :math:`X^2 = \sum (w - n\hat p)^2 / (n \hat p (1 - \hat p))` compare
BT with the saturated model (one probability per pair); both are
:math:`\chi^2` with (pairs - items + 1) degrees of freedom when every cell is
large, which on real boards (many pairs met a handful of times) they are not.
The p-value therefore comes from a parametric bootstrap: B tables are drawn
from the fitted BT (binomial wins with the observed :math:`n` per pair), BT is
refitted on each (vmapped warm-started Newton, :func:`~prefstat.diagnose.pairs.refit_many`)
and :math:`p = (1 + \#\{D^* \ge D\}) / (1 + B)` (Davison & Hinkley 1997, ch. 4).
Replicates whose MLE does not exist are dropped and counted.

Per-pair standardised residuals :math:`(w - n\hat p) / \sqrt{n\hat p(1-\hat p)(1 - h)}`
with the leverage :math:`h` of the cell-level logistic fit (BradleyTerry2's
``residuals(type = "pearson")`` scaled by the leverage) point at the pairs that
break the model. Ties count as half wins; a table with ties has less variance
than the binomial draws, which makes the test conservative (use the tie
diagnostic and Davidson's model for ties).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import xlogy

from .pairs import PairCells, PairFit, check_frequency_weights, refit_many, simulate_wins
from .report import Diagnostic

__all__ = ["gof_statistics", "parametric_draws", "NullDraws", "goodness_of_fit", "bootstrap_p_value"]


def gof_statistics(n, wins, p):
    """(deviance, Pearson X^2) of win counts against probabilities; leading axes broadcast (numpy)."""
    n, wins, p = (np.asarray(v, np.float64) for v in (n, wins, p))
    mu = n * p
    with np.errstate(divide="ignore", invalid="ignore"):
        dev = 2.0 * (xlogy(wins, wins / mu) + xlogy(n - wins, (n - wins) / (n - mu)))
        pear = (wins - mu) ** 2 / (mu * (1.0 - p))
    live = n > 0
    dev = np.where(live, dev, 0.0)
    pear = np.where(live, pear, 0.0)
    return dev.sum(axis=-1), pear.sum(axis=-1)


def bootstrap_p_value(observed: float, draws) -> float:
    """``(1 + #{draw >= observed}) / (1 + B)`` over the finite draws (nan without draws)."""
    draws = np.asarray(draws, np.float64)
    draws = draws[np.isfinite(draws)]
    if draws.size == 0:
        return float("nan")
    return float((1 + np.sum(draws >= observed - 1e-12 * max(1.0, abs(observed)))) / (1 + draws.size))


class NullDraws:
    """Tables drawn from the fitted BT: ``wins`` (B, m), refitted probabilities ``p`` (B, m), ``ok`` (B,)."""

    def __init__(self, wins, p, ok):
        self.wins, self.p, self.ok = wins, p, ok

    @property
    def size(self) -> int:
        return int(self.wins.shape[0])


def parametric_draws(cells: PairCells, fit: PairFit, n_bootstrap: int, rng: np.random.Generator,
                     refit: bool = True) -> NullDraws:
    """``n_bootstrap`` tables from the fitted BT with the observed pair counts, refitted when ``refit``."""
    check_frequency_weights(cells, "the goodness-of-fit test")
    wins = simulate_wins(rng, cells.n, fit.p, n_bootstrap)
    if not refit:
        return NullDraws(wins, None, np.ones(n_bootstrap, bool))
    beta, ok = refit_many(cells, cells.n, wins, fit.beta)
    theta = np.column_stack([np.zeros(n_bootstrap), beta])
    p = 1.0 / (1.0 + np.exp(-(theta[:, cells.i] - theta[:, cells.j])))
    return NullDraws(wins, p, ok)


def goodness_of_fit(cells: PairCells, fit: PairFit, draws: NullDraws | None, level: float = 0.05,
                    n_worst: int = 10) -> Diagnostic:
    """Deviance / Pearson test of BT against one probability per pair, and the worst pairs."""
    dev, pear = gof_statistics(cells.n, cells.wins, fit.p)
    df = int(np.sum(cells.n > 0)) - (cells.k - 1)  # pairs with weight, minus the free abilities
    v = cells.n * fit.p * (1 - fit.p)
    with np.errstate(divide="ignore", invalid="ignore"):
        resid = (cells.wins - cells.n * fit.p) / np.sqrt(v * np.clip(1.0 - fit.leverage, 1e-12, None))
    resid = np.where(np.clip(1.0 - fit.leverage, 0, None) > 1e-8, resid, 0.0)  # a pair fitted exactly (h = 1)
    frame = pd.DataFrame({"item_i": cells.items[cells.i], "item_j": cells.items[cells.j], "n": cells.n,
                          "wins_i": cells.wins, "expected_wins_i": cells.n * fit.p, "p_fitted": fit.p,
                          "leverage": fit.leverage, "std_residual": resid})
    worst = frame.reindex(frame["std_residual"].abs().sort_values(ascending=False).index).head(n_worst)
    chi2_dev = float(stats.chi2.sf(dev, df)) if df > 0 else float("nan")
    chi2_pear = float(stats.chi2.sf(pear, df)) if df > 0 else float("nan")
    details = {"df": df, "sparse_cells": int(np.sum(cells.n < 5))}
    if df <= 0:
        return Diagnostic("goodness_of_fit", "Goodness of fit (aggregated pairs)", "skipped",
                          f"{cells.m} pairs for {cells.k} items: BT is saturated (no degrees of freedom left); "
                          "goodness of fit cannot be tested.", tables={"pairs": frame}, details=details)
    p_boot = p_boot_pear = float("nan")
    if draws is not None:
        bdev, bpear = gof_statistics(cells.n, draws.wins, draws.p)
        bdev, bpear = bdev[draws.ok], bpear[draws.ok]
        p_boot, p_boot_pear = bootstrap_p_value(dev, bdev), bootstrap_p_value(pear, bpear)
        details.update(n_bootstrap=draws.size, n_bootstrap_failed=int((~draws.ok).sum()))
    stat_tab = pd.DataFrame({"statistic": [dev, pear], "df": [df, df], "p_chi2": [chi2_dev, chi2_pear],
                             "p_bootstrap": [p_boot, p_boot_pear]}, index=pd.Index(["deviance", "pearson"],
                                                                                   name="test"))
    p = p_boot if np.isfinite(p_boot) else chi2_dev
    how = "parametric bootstrap" if np.isfinite(p_boot) else "chi-square approximation"
    top = worst.iloc[0]
    if p < level:
        verdict = (f"BT does not fit the pair win rates (deviance {dev:.4g} on {df} df, p = {p:.3g}, {how}); "
                   f"worst pair {top.item_i} vs {top.item_j} (standardised residual {top.std_residual:.3g}).")
        action = ("check the intransitivity, position-bias and annotator diagnostics for the cause; until then "
                  "use cov_type='robust' or 'cluster' standard errors, or a model-free pair probability (DIPO).")
        status = "flagged"
    else:
        verdict = f"no evidence against BT (deviance {dev:.4g} on {df} df, p = {p:.3g}, {how})."
        action, status = "", "ok"
    return Diagnostic("goodness_of_fit", "Goodness of fit (aggregated pairs)", status, verdict, action,
                      statistic=float(dev), p_value=float(p),
                      tables={"tests": stat_tab, "worst pairs": worst.reset_index(drop=True), "pairs": frame},
                      details=details)
