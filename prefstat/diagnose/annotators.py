r"""Annotator heterogeneity, annotator influence and vote clustering (the table's ``group`` column).

**Do annotators share one BT model?** Against annotator-specific abilities
:math:`\theta^{(g)}`, the Rao score statistic at the pooled fit is

.. math::  S = \sum_g U_g^\top (I_g + \alpha I)^{-1} U_g, \qquad
           U_g = \sum_{c} (w_{gc} - n_{gc}\hat p_c)\, x_c, \quad
           I_g = \sum_c n_{gc}\hat p_c (1 - \hat p_c)\, x_c x_c^\top,

summed over annotator g's pair cells c (:math:`x_c = e_i - e_j`). It is the
one-step (score) form of the likelihood-ratio statistic against the
annotator-specific models (asymptotically equivalent, Rao 1948) and needs no
per-annotator fit, which for annotators who saw few items often does not exist.
The ridge :math:`\alpha` (default 1, the information of four even comparisons)
keeps :math:`I_g` invertible for such annotators. The statistic is calibrated
by **permutation**: under the null the annotators are exchangeable given the
pair, so the outcomes are permuted among the rows of each pair (the pooled fit,
every :math:`n_{gc}` and :math:`I_g` stay fixed; only :math:`U_g` is recomputed).
This is an exact conditional test for independent rows, valid whether or not
BT fits; rows are the permutation units (a row of frequency weight k moves as
one). Per-annotator statistics :math:`S_g` get their own permutation p-values
(not adjusted for multiplicity) and name the deviating annotators. With more
annotators than fit in memory (G k^2 > 4e7), the smallest are pooled into one
group "(other)", which keeps the test valid.

**Influence.** Leave-one-annotator-out refits (vmapped, warm-started) for the
``max_annotators`` annotators with the most comparisons: the largest ability
shift in standard errors and the number of rank changes. Flagged when one
annotator moves an ability by more than 2 standard errors (a change of the top item is
reported, not flagged: between two close leaders it is expected).

**Clustering.** Model-based against cluster-robust (by annotator) standard
errors of the abilities (:class:`~prefstat.BradleyTerry`, ``cov_type="cluster"``).
A median ratio above 1.2 means votes within an annotator are dependent and the
model-based intervals are too narrow.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from ..data import ComparisonTable
from ..data.keys import unique_keys
from ..models import BradleyTerry
from .goodness_of_fit import bootstrap_p_value
from .order import ranks
from .pairs import PairCells, PairFit, refit_many
from .report import Diagnostic

__all__ = ["AnnotatorCells", "annotator_cells", "information_roots", "score_statistics", "stable_group_order",
           "permuted_wins", "annotator_heterogeneity",
           "annotator_influence", "cluster_se_ratio", "SE_RATIO_THRESHOLD", "INFLUENCE_SE"]

SE_RATIO_THRESHOLD = 1.2
INFLUENCE_SE = 2.0
_MAX_ENTRIES = 4e7
_MAX_SCORE_ENTRIES = 4e6  # replicate x annotator x item score entries held at once
_MAX_PERMUTED_ROWS = 2e7  # permutation x row outcomes held at once


@dataclasses.dataclass(frozen=True)
class AnnotatorCells:
    """(annotator, pair) cells: ``g``/``c`` codes, ``n``/``wins`` sums, ``row_cell`` per row, names."""

    names: np.ndarray
    g: np.ndarray
    c: np.ndarray
    n: np.ndarray
    wins: np.ndarray
    row_cell: np.ndarray

    @property
    def G(self) -> int:
        return int(self.names.size)


def annotator_cells(table: ComparisonTable, cells: PairCells) -> AnnotatorCells:
    """Aggregate rows by (annotator, pair); the smallest annotators are pooled if G k^2 is too large."""
    codes, names = pd.factorize(pd.Series(table.group, dtype=object))
    names = np.asarray(names, dtype=object)
    weight = np.bincount(codes, table.weight, names.size)
    max_g = max(2, int(_MAX_ENTRIES // max(cells.k**2, 1)))
    if names.size > max_g:
        keep = np.argsort(-weight, kind="stable")[: max_g - 1]
        new = np.full(names.size, max_g - 1)
        new[keep] = np.arange(max_g - 1)
        codes = new[codes]
        names = np.r_[names[keep], np.array(["(other)"], dtype=object)]
    m = cells.m
    key = codes.astype(np.int64) * m + cells.row_pair
    ukey, row_cell = unique_keys(key)
    n = np.bincount(row_cell, cells.row_weight, ukey.size)
    wins = np.bincount(row_cell, cells.row_weight * cells.row_share, ukey.size)
    return AnnotatorCells(names=names, g=ukey // m, c=ukey % m, n=n, wins=wins, row_cell=row_cell)


def information_roots(ac: AnnotatorCells, cells: PairCells, p, ridge):
    """(G, k, k) transposed inverse Cholesky factors R_g = L_g^-T of the ridged informations
    I_g + ridge I = L_g L_g^T, so that U^T (I_g + ridge I)^-1 U = |U^T R_g|^2 (a Cholesky and a
    triangular inverse cost about a fifth of a general inverse)."""
    from scipy.linalg import lapack

    k, G = cells.k, ac.G
    v = ac.n * p[ac.c] * (1 - p[ac.c])
    i, j = cells.i[ac.c], cells.j[ac.c]
    base = ac.g * k * k
    flat = np.concatenate([base + i * k + i, base + j * k + j, base + i * k + j, base + j * k + i])
    info = np.bincount(flat, np.concatenate([v, v, -v, -v]), G * k * k).reshape(G, k, k)
    info += ridge * np.eye(k)
    chol = np.linalg.cholesky(info)
    for g in range(G):
        chol[g], status = lapack.dtrtri(chol[g], lower=1)
        if status != 0:
            raise np.linalg.LinAlgError(f"triangular inverse failed for annotator {g} (info {status}).")
    return np.ascontiguousarray(chol.transpose(0, 2, 1))


def score_statistics(ac: AnnotatorCells, cells: PairCells, p, root, wins) -> np.ndarray:
    """(B, G) per-annotator score statistics for win counts ``wins`` (B, cells of ``ac``);
    ``root`` (G, k, k) from :func:`information_roots`."""
    wins = np.atleast_2d(wins)
    k, G = cells.k, ac.G
    i, j = cells.i[ac.c], cells.j[ac.c]
    B = wins.shape[0]
    out = np.empty((B, G))
    chunk = max(1, int(_MAX_SCORE_ENTRIES // max(G * k, 1)))
    for s in range(0, B, chunk):
        r = wins[s:s + chunk] - ac.n * p[ac.c]
        b = r.shape[0]
        # every replicate's scores in one bincount, laid out (G, b, k) so that each annotator's block
        # is contiguous: U[g, b] = sum over g's cells of r (e_i - e_j)
        base = (ac.g * (b * k))[None, :] + (np.arange(b) * k)[:, None]
        U = (np.bincount((base + i).ravel(), r.ravel(), G * b * k)
             - np.bincount((base + j).ravel(), r.ravel(), G * b * k)).reshape(G, b, k)
        V = np.matmul(U, root)  # rows U_gb^T R_g: one BLAS product per annotator
        out[s:s + chunk] = np.einsum("gbi,gbi->bg", V, V)
    return out


def stable_group_order(keys: np.ndarray, n_keys: int) -> np.ndarray:
    """Stable argsort of integer ``keys`` in [0, n_keys): LSD radix passes over 16-bit digits (numpy's
    stable sort is a radix sort for 16-bit integers), O(n) instead of a comparison sort's O(n log n)."""
    idx = np.arange(keys.size)
    shift = 0
    while True:
        digit = ((keys[idx] >> shift) & 0xFFFF).astype(np.uint16)
        idx = idx[np.argsort(digit, kind="stable")]
        shift += 16
        if n_keys <= (1 << shift):
            return idx


def permuted_wins(ac: AnnotatorCells, cells: PairCells, rng: np.random.Generator, n_permutations: int):
    """(B, cells) annotator-pair win counts after permuting the outcomes among each pair's rows.

    Rows are grouped by pair once; the pairs with the same number of rows s form a (pairs, s) block
    whose rows ``Generator.permuted`` shuffles independently, for many permutations at once: O(rows)
    per permutation, no sort.
    """
    order = stable_group_order(cells.row_pair, cells.m)  # rows grouped by pair
    cell_o, weight_o, share_o = ac.row_cell[order], cells.row_weight[order], cells.row_share[order]
    size = np.bincount(cells.row_pair, minlength=cells.m)
    start = np.cumsum(size) - size
    blocks = []
    for s in np.unique(size[size > 1]):
        pairs = np.flatnonzero(size == s)
        blocks.append(start[pairs][:, None] + np.arange(s))  # positions in `order`, one row per pair
    N, nc = order.size, ac.n.size
    out = np.empty((n_permutations, nc))
    chunk = max(1, int(_MAX_PERMUTED_ROWS // max(N, 1)))
    for c0 in range(0, n_permutations, chunk):
        b = min(chunk, n_permutations - c0)
        share = np.broadcast_to(share_o, (b, N)).copy()
        for pos in blocks:
            share[:, pos] = rng.permuted(np.broadcast_to(share_o[pos], (b,) + pos.shape), axis=2)
        index = (cell_o[None, :] + (np.arange(b) * nc)[:, None]).ravel()
        out[c0:c0 + b] = np.bincount(index, (share * weight_o).ravel(), b * nc).reshape(b, nc)
    return out


def annotator_heterogeneity(table: ComparisonTable, cells: PairCells, fit: PairFit, n_permutations: int,
                            rng: np.random.Generator, level: float = 0.05, ridge: float = 1.0,
                            n_worst: int = 10, figures: bool = True) -> Diagnostic:
    """Permutation-calibrated score test that all annotators share one BT model."""
    title = "Annotator heterogeneity (one shared BT model?)"
    ac = annotator_cells(table, cells)
    if ac.G < 2:
        return Diagnostic("annotators", title, "skipped", "only one annotator (group): nothing to compare.")
    inv = information_roots(ac, cells, fit.p, ridge)
    obs = score_statistics(ac, cells, fit.p, inv, ac.wins)[0]
    total = float(obs.sum())
    weight = np.bincount(ac.g, ac.n, ac.G)
    frame = pd.DataFrame({"annotator": ac.names, "comparisons": weight, "score_statistic": obs})
    details = {"annotators": ac.G, "ridge": ridge}
    p = float("nan")
    if n_permutations > 0:
        null = score_statistics(ac, cells, fit.p, inv, permuted_wins(ac, cells, rng, n_permutations))
        p = bootstrap_p_value(total, null.sum(axis=1))
        frame["p_permutation"] = [bootstrap_p_value(obs[g], null[:, g]) for g in range(ac.G)]
        details["n_permutations"] = n_permutations
    frame = frame.sort_values("score_statistic", ascending=False).reset_index(drop=True)
    figs = {"annotator score statistics": _annotator_figure(frame.head(30))} if figures else {}
    tables = {"annotators": frame}
    if not np.isfinite(p):
        return Diagnostic("annotators", title, "info", f"score statistic {total:.4g} over {ac.G} annotators "
                          "(not calibrated: n_permutations=0).", statistic=total, tables=tables, figures=figs,
                          details=details)
    if p < level:
        top = ", ".join(map(str, frame.annotator.head(3)))
        verdict = (f"annotators do not share one BT model (score statistic {total:.4g}, permutation p = {p:.3g}); "
                   f"most deviant: {top}.")
        action = ("inspect the deviant annotators; if their preferences genuinely differ, estimate the average "
                  "preference with the sign estimator (feature level) or LatentClassBT, and use cov_type='cluster'.")
        return Diagnostic("annotators", title, "flagged", verdict, action, statistic=total, p_value=p,
                          tables=tables, figures=figs, details=details)
    return Diagnostic("annotators", title, "ok", f"no evidence that annotators differ (score statistic {total:.4g}, "
                      f"permutation p = {p:.3g}).", statistic=total, p_value=p, tables=tables, figures=figs,
                      details=details)


def annotator_influence(table: ComparisonTable, cells: PairCells, fit: PairFit, max_annotators: int = 50,
                        n_top: int = 10) -> Diagnostic:
    """Leave-one-annotator-out change in abilities (in standard errors) and ranks."""
    title = "Annotator influence (leave one annotator out)"
    ac = annotator_cells(table, cells)
    if ac.G < 2:
        return Diagnostic("annotator_influence", title, "skipped", "only one annotator (group).")
    weight = np.bincount(ac.g, ac.n, ac.G)
    chosen = np.argsort(-weight, kind="stable")[:max_annotators]
    n_minus = np.tile(cells.n, (chosen.size, 1))
    w_minus = np.tile(cells.wins, (chosen.size, 1))
    for r, g in enumerate(chosen):
        sel = ac.g == g
        np.subtract.at(n_minus[r], ac.c[sel], ac.n[sel])
        np.subtract.at(w_minus[r], ac.c[sel], ac.wins[sel])
    beta, ok = refit_many(cells, n_minus, w_minus, fit.beta)
    theta = np.column_stack([np.zeros(chosen.size), beta])
    theta -= theta.mean(axis=1, keepdims=True)
    se = np.sqrt(np.clip(np.diag(fit.cov), 1e-300, None))
    shift = np.abs(theta - fit.theta) / se
    base_rank = ranks(fit.theta)
    rows = []
    for r, g in enumerate(chosen):
        if not ok[r]:
            rows.append({"annotator": ac.names[g], "comparisons": weight[g], "max_shift_se": np.inf,
                         "most_moved_item": "", "rank_changes": -1, "top_item_without": "(no MLE without them)"})
            continue
        rk = ranks(theta[r])
        rows.append({"annotator": ac.names[g], "comparisons": weight[g], "max_shift_se": float(shift[r].max()),
                     "most_moved_item": cells.items[int(np.argmax(shift[r]))],
                     "rank_changes": int(np.sum(rk != base_rank)),
                     "top_item_without": cells.items[int(np.argmin(rk))]})
    frame = pd.DataFrame(rows).sort_values("max_shift_se", ascending=False).reset_index(drop=True)
    top_item = cells.items[int(np.argmin(base_rank))]
    shift_max = float(frame.max_shift_se.iloc[0])
    changes_top = frame[(frame.top_item_without != top_item)]
    details = {"annotators_checked": int(chosen.size), "annotators": ac.G, "top_item_changes": len(changes_top)}
    verdict = (f"largest leave-one-out shift {shift_max:.3g} SE (annotator {frame.annotator.iloc[0]}, item "
               f"{frame.most_moved_item.iloc[0]}) over the {chosen.size} largest annotators")
    if len(changes_top):
        verdict += f"; removing {changes_top.annotator.iloc[0]} changes the top item"
    if shift_max > INFLUENCE_SE:
        return Diagnostic("annotator_influence", title, "flagged", verdict + ".",
                          "check the influential annotators' votes; report the leaderboard with and without them.",
                          statistic=shift_max, tables={"influence": frame.head(max(n_top, 1))},
                          details=details)
    return Diagnostic("annotator_influence", title, "ok", verdict + f"; no ability moves by more than {INFLUENCE_SE:g} SE.",
                      statistic=shift_max, tables={"influence": frame.head(max(n_top, 1))},
                      details=details)


def cluster_se_ratio(table: ComparisonTable, fit: PairFit) -> Diagnostic:
    """Cluster-robust (by annotator) over model-based standard errors of the abilities."""
    title = "Vote clustering (cluster-robust / model SE)"
    try:
        bt = BradleyTerry(cov_type="cluster").fit(dataclasses.replace(table, order=None))
    except ValueError as err:
        return Diagnostic("clustering", title, "skipped", f"cluster-robust fit failed: {' '.join(str(err).split())}")
    model_se = np.sqrt(np.clip(np.diag(fit.cov), 0, None))
    ratio = bt.stderr_ / model_se
    frame = pd.DataFrame({"item": bt.items_, "model_se": model_se, "cluster_se": bt.stderr_, "ratio": ratio})
    med = float(np.median(ratio))
    frame = frame.sort_values("ratio", ascending=False).reset_index(drop=True)
    verdict = f"median SE ratio {med:.3g} (max {float(ratio.max()):.3g}) over {len(ratio)} items"
    if med > SE_RATIO_THRESHOLD:
        return Diagnostic("clustering", title, "flagged", verdict + ": votes within an annotator are dependent.",
                          "use cov_type='cluster' with groups=annotator (model-based intervals are too narrow).",
                          statistic=med, tables={"standard errors": frame})
    return Diagnostic("clustering", title, "ok", verdict + ".", statistic=med, tables={"standard errors": frame})


def _annotator_figure(frame: pd.DataFrame):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 3.5), layout="constrained")
    ax = fig.add_subplot()
    ax.bar(np.arange(len(frame)), frame.score_statistic, color="C1", label="score statistic")
    ax.set_xticks(np.arange(len(frame)), labels=[str(a) for a in frame.annotator], rotation=90, fontsize=7)
    ax.set(xlabel="annotator (largest statistics)", ylabel="score statistic (chi-square units)",
           title="Per-annotator deviation from the pooled BT model")
    ax.legend(loc="upper right", fontsize=8)
    return fig
