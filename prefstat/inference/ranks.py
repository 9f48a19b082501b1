r"""Confidence sets for ranks, the top-tau set, pairwise separation and the battles a pair still needs.

Estimand: the ranks $r_j = 1 + \#\{k : \theta_k > \theta_j\}$ of $p$ parameters (rank 1 = best =
largest ability; tied parameters share the better rank), estimated by $\hat\theta$ with
$\hat\theta - \theta \approx N(0, \Sigma)$ and $\Sigma$ estimated by ``cov`` (singular allowed: a
sum-to-zero or reference parametrisation; only differences are used).

Method (Mogstad, Romano, Shaikh & Wilhelm 2023, "Inference for ranks with applications to mobility
across neighborhoods and academic achievements across countries", Review of Economic Studies 91(1),
476-518; their R package ``csranks``): test the one-sided hypotheses
$H_{ab}: \theta_a \le \theta_b$ with $t_{ab} = (\hat\theta_a - \hat\theta_b)/\mathrm{sd}_{ab}$ and the
max-t critical value $c$ of the family, the ``level`` quantile of
$\max_{(a,b)} (Z_a - Z_b)/\mathrm{sd}_{ab}$ for $Z \sim N(0, \Sigma)$. A rejection of $H_{ab}$ says
$a$ is better than $b$. With $N^-_j$ the models found better than $j$ and $N^+_j$ those found
worse, the rank set of $j$ is $\{1 + |N^-_j|, \dots, p - |N^+_j|\}$.

* marginal (one model's rank, ``simultaneous=False``): for each $j$ the family is every ordered
  pair involving $j$ (both directions), i.e. simultaneous intervals for $\theta_j - \theta_k$, $k \ne j$.
* simultaneous (all ranks at once): the family is every ordered pair.
* step-down (``stepdown=True``, Romano & Wolf 2005; Algorithm 3.1 of the paper): rejected hypotheses
  leave the family, $c$ is recomputed on what remains, repeated until nothing new is rejected. The
  sets can only shrink and keep their coverage.
* top-tau (:func:`top_set`): the models whose simultaneous lower rank bound is at most tau; it
  contains all true top-tau models with probability ``level`` (the paper's projection set; csranks'
  ``cstaubest``).

The critical values come from ``n_draws`` seeded Gaussian draws shared by every family and step (common
random numbers, so the step-down is monotone). Only the draws whose previous maximum lies in the upper
tail are re-evaluated after a step (the maximum over a smaller family can only fall, and the quantile
needs the exact values only above a bound; a count check falls back to all draws when the bound is not
safe), which keeps 200 models fast.

Assumptions and what is conservative: asymptotic normality and a consistent ``cov``; coverage is then at
least ``level`` asymptotically, and above it whenever some differences are far from zero (the
procedure guards against all configurations of the unknown ordering). Ties in the true abilities
are covered as shared ranks. See ``docs/methods.md#simultaneous-inference-and-confidence-sets-for-ranks``.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from scipy import stats

from .._x64 import x64_scope
from ..validation import check_bool, check_int, check_option, check_real
from .intervals import normal_quantile
from .simultaneous import (CHUNK_ELEMENTS, check_estimate_cov, covariance_factor, difference_sd,
                           normal_draw_chunks, pair_row_maxima, pair_weights, seed_sequence)

__all__ = ["RankSets", "estimated_ranks", "rank_confidence_sets", "marginal_and_simultaneous_rank_sets", "top_set",
           "separated_pairs",
           "comparisons_needed", "DEFAULT_RANK_DRAWS"]

#: Default number of Gaussian draws for the rank sets and max-t separation (csranks uses 1,000).
DEFAULT_RANK_DRAWS = 10_000


class RankSets(NamedTuple):
    """Confidence sets ``{lower, ..., upper}`` for the ranks (int arrays; rank 1 = best = largest)."""

    lower: np.ndarray
    upper: np.ndarray


def estimated_ranks(estimate) -> np.ndarray:
    """``1 + #{k : estimate_k > estimate_j}`` (rank 1 = largest; ties share the better rank)."""
    est = np.asarray(estimate, np.float64)
    return 1 + np.sum(est[None, :] > est[:, None], axis=1)


# ----------------------------------------------------------------------------- max-t machinery
class _Draws:
    """Gaussian draws and the standardising weights for all pairwise differences of one problem."""

    def __init__(self, est, cov, n_draws, random_state):
        self.p, self.n = est.size, n_draws
        self.W, sd = pair_weights(cov)
        self.T = (est[:, None] - est[None, :]) / sd  # observed t_ab; zero on the diagonal
        self.Z = np.concatenate(list(normal_draw_chunks(covariance_factor(cov), n_draws,
                                                        seed_sequence(random_state))))

    def rows(self, OP, OM, draws) -> np.ndarray:
        """(len(draws), p) row maxima for the given draws (the fused JAX kernel)."""
        return pair_row_maxima(self.Z[draws], self.W, OP, OM)

    def columns(self, OP, OM, need, cols) -> np.ndarray:
        """(n, g) array: for each model ``cols[g]``, its row maxima at the draws where ``need[:, g]``
        (other entries -inf). Each model's draws are gathered and padded to a common length, and a
        group of models goes through one fused kernel (no per-model Python loop over blocks)."""
        n, g = need.shape
        out = np.full((n, g), -np.inf)
        counts = need.sum(axis=0)
        if not counts.any():
            return out
        m = int(256 * np.ceil(counts.max() / 256))  # padded draws per model (few distinct shapes)
        # models per kernel call: bounded memory, and a power of two so that few shapes get compiled
        group = min(max(1, CHUNK_ELEMENTS // (m * self.p)), 1 << int(np.ceil(np.log2(g))))
        with x64_scope():
            for s0 in range(0, g, group):
                gs = np.arange(s0, min(g, s0 + group))
                idx = np.zeros((group, m), np.int64)
                for r, c in enumerate(gs):
                    d = np.flatnonzero(need[:, c])
                    idx[r, :d.size] = d
                j = np.zeros(group, np.int64)
                j[:gs.size] = cols[gs]
                Zg = self.Z[idx]                                   # (group, m, p)
                zj = np.take_along_axis(Zg, j[:, None, None], axis=2)[:, :, 0]
                vals = np.asarray(_columns_block(Zg, zj, self.W[j], OP[j], OM[j]))
                for r, c in enumerate(gs):
                    d = np.flatnonzero(need[:, c])
                    out[d, c] = vals[r, :d.size]
        return out


@jax.jit
def _columns_block(Zg, zj, Wg, OPg, OMg):
    """Row maxima for a group of models, each with its own draws: ``Zg`` (g, m, p), ``zj`` (g, m) the
    model's own coordinate, ``Wg``/``OPg``/``OMg`` (g, p) its row of weights and family offsets."""
    D = (zj[:, :, None] - Zg) * Wg[:, None, :]
    return jnp.max(jnp.maximum(D + OPg[:, None, :], OMg[:, None, :] - D), axis=2)


def _refresh(M: np.ndarray, level: float, evaluate) -> np.ndarray:
    """Maxima after the families shrank, exact wherever the ``level`` quantile can depend on them.

    ``M`` (n, g) holds upper bounds of the new maxima (the old maxima: a smaller family has a smaller
    maximum). Only draws above a lower quantile ``L`` of ``M`` are re-evaluated (``evaluate(need)``
    returns an (n, g) array valid where ``need``); the others keep the bound ``L``, which stays an upper
    bound for the next step. By symmetry the removed one-sided terms have mirror images still in the
    family, so P(old max > new critical value) <= 2 (1 - level): ``L`` at quantile 1 - 2.5 (1 - level)
    is usually below the new critical value. The count check makes this exact: if more than the
    quantile's order-statistic index lies at or below ``L``, the column is re-evaluated in full."""
    n, g = M.shape
    lo = int(np.floor((n - 1) * level))
    q_low = 1.0 - 2.5 * (1.0 - level)
    out = M.copy()
    bad = np.ones(g, bool)
    if q_low > 0.0:
        L = np.quantile(M, q_low, axis=0)
        need = M > L[None, :]
        out = np.where(need, evaluate(need), L[None, :])
        bad = np.sum(out <= L[None, :], axis=0) > lo
    if bad.any():
        need = np.zeros((n, g), bool)
        need[:, bad] = True
        out = np.where(need, evaluate(need), out)
    return out


def _quantile(M: np.ndarray, level: float) -> np.ndarray:
    return np.quantile(M, level, axis=0)


def _marginal_rejections(dr: _Draws, level: float, stepdown: bool, M: np.ndarray | None = None):
    """Step-down for each model's own family; returns (better_than_j, worse_than_j) boolean (p, p).
    ``M``: the (n, p) first-step row maxima (:func:`_first_step_maxima`) when already computed."""
    p = dr.p
    OP = np.where(np.eye(p, dtype=bool), -np.inf, 0.0)
    OM = OP.copy()
    worse = np.zeros((p, p), bool)   # worse[j, b]: b found worse than j in j's family
    better = np.zeros((p, p), bool)  # better[j, a]: a found better than j
    M = _first_step_maxima(dr) if M is None else M.copy()
    rows = np.arange(p)
    while rows.size:
        c = _quantile(M[:, rows], level)
        T = dr.T[rows]
        new_w = (OP[rows] == 0.0) & (T > c[:, None])
        new_b = (OM[rows] == 0.0) & (-T > c[:, None])
        worse[rows] |= new_w
        better[rows] |= new_b
        OP[rows] = np.where(new_w, -np.inf, OP[rows])
        OM[rows] = np.where(new_b, -np.inf, OM[rows])
        changed = rows[new_w.any(axis=1) | new_b.any(axis=1)]
        # a family with nothing left to reject cannot change again
        changed = changed[((OP[changed] == 0.0) | (OM[changed] == 0.0)).any(axis=1)]
        if not stepdown or changed.size == 0:
            break

        def evaluate(need, cols=changed):
            return dr.columns(OP, OM, need, cols)

        M[:, changed] = _refresh(M[:, changed], level, evaluate)
        rows = changed
    return better, worse


def _first_step_maxima(dr: _Draws) -> np.ndarray:
    """(n, p): per draw and model j, ``max_b |D_jb|``, the first-step statistic of j's own family."""
    OP = np.where(np.eye(dr.p, dtype=bool), -np.inf, 0.0)
    return dr.rows(OP, OP, np.arange(dr.n))


def _simultaneous_rejections(dr: _Draws, level: float, stepdown: bool, first: np.ndarray | None = None) -> np.ndarray:
    """Step-down over the family of all ordered pairs; returns ``rej[a, b]``: a found better than b.

    ``first``: the marginal first-step maxima (:func:`_first_step_maxima`) if already computed. Their
    maximum over models is this family's first-step statistic (``D`` is antisymmetric and ``W``
    symmetric, so the largest ``D_ab`` over ordered pairs is the largest ``|D_jb|``)."""
    p, n = dr.p, dr.n
    OP = np.where(np.eye(p, dtype=bool), -np.inf, 0.0)
    OM = np.full((p, p), -np.inf)
    rej = np.zeros((p, p), bool)

    def evaluate(need):
        out = np.full(need.shape, -np.inf)
        d = np.flatnonzero(need[:, 0])
        if d.size:
            out[d, 0] = dr.rows(OP, OM, d).max(axis=1)
        return out

    M = evaluate(np.ones((n, 1), bool)) if first is None else first.max(axis=1, keepdims=True)
    while True:
        c = float(_quantile(M, level)[0])
        new = (OP == 0.0) & (dr.T > c)
        rej |= new
        OP[new] = -np.inf
        if not stepdown or not new.any() or not (OP == 0.0).any():
            break
        M = _refresh(M, level, evaluate)
    return rej


def _check_common(estimate, cov, level, n_draws, stepdown):
    est, cov = check_estimate_cov(estimate, cov)
    level = check_real("level", level, 0.0, 1.0, low_open=True, high_open=True)
    n_draws = check_int("n_draws", n_draws, 100, extra=" Use a few thousand for stable rank sets.")
    stepdown = check_bool("stepdown", stepdown)
    if est.size < 2:
        raise ValueError(f"ranks need at least 2 parameters; got {est.size}.")
    return est, cov, level, n_draws, stepdown


def rank_confidence_sets(estimate, cov, level: float = 0.95, simultaneous: bool = False,
                         n_draws: int = DEFAULT_RANK_DRAWS, random_state=None, stepdown: bool = True) -> RankSets:
    """Confidence sets for the ranks of all parameters (Mogstad, Romano, Shaikh & Wilhelm 2023).

    Parameters
    ----------
    estimate : (p,) array
        Estimated abilities (any parametrisation; only differences matter).
    cov : (p, p) array
        Their covariance (may be singular, e.g. sum-to-zero).
    level : float
        Coverage: each set covers its model's true rank (``simultaneous=False``) or all sets cover all
        true ranks at once (``simultaneous=True``) with probability ``level`` (asymptotically, at least).
    n_draws, random_state
        Gaussian draws for the max-t critical values (seeded; the same seed gives the same sets). The
        draws are held in memory for the step-down: ``n_draws * p`` float64 values (16 MB for 10,000
        draws of 200 models).
    stepdown : bool
        Romano-Wolf step-down refinement (never wider than the single-step sets).

    Returns
    -------
    RankSets
        ``lower``, ``upper`` int arrays: the set for model j is ``{lower[j], ..., upper[j]}``.
    """
    est, cov, level, n_draws, stepdown = _check_common(estimate, cov, level, n_draws, stepdown)
    simultaneous = check_bool("simultaneous", simultaneous)
    dr = _Draws(est, cov, n_draws, random_state)
    if simultaneous:
        return _joint_sets(_simultaneous_rejections(dr, level, stepdown))
    return _marginal_sets(*_marginal_rejections(dr, level, stepdown))


def _sets(n_better, n_worse) -> RankSets:
    """Rank sets from how many models were found better / worse than each model."""
    return RankSets(lower=(1 + n_better).astype(np.int64), upper=(n_better.size - n_worse).astype(np.int64))


def _marginal_sets(better, worse) -> RankSets:
    return _sets(better.sum(axis=1), worse.sum(axis=1))


def _joint_sets(rej) -> RankSets:
    return _sets(rej.sum(axis=0), rej.sum(axis=1))


def marginal_and_simultaneous_rank_sets(estimate, cov, level: float = 0.95, n_draws: int = DEFAULT_RANK_DRAWS,
                                        random_state=None, stepdown: bool = True) -> tuple[RankSets, RankSets]:
    """``(marginal, simultaneous)`` rank confidence sets from one set of draws.

    The same sets as two calls of :func:`rank_confidence_sets` (``simultaneous=False`` and ``True``)
    with the same integer ``random_state``, at about 40% less cost: the draws and the first step of
    the max-t computation are shared (the simultaneous family's first-step statistic is the largest
    of the marginal ones). With a Generator, both sets use the same draws (the separate calls would
    advance it twice).
    """
    est, cov, level, n_draws, stepdown = _check_common(estimate, cov, level, n_draws, stepdown)
    dr = _Draws(est, cov, n_draws, random_state)
    first = _first_step_maxima(dr)
    marginal = _marginal_sets(*_marginal_rejections(dr, level, stepdown, first))
    return marginal, _joint_sets(_simultaneous_rejections(dr, level, stepdown, first))


def top_set(estimate, cov, tau: int, level: float = 0.95, n_draws: int = DEFAULT_RANK_DRAWS, random_state=None,
            stepdown: bool = True) -> np.ndarray:
    """Confidence set for the top-tau models: a boolean mask that contains every model whose true rank is
    at most ``tau`` with probability ``level`` (csranks' ``cstaubest``).

    A model is left out only when at least ``tau`` others are significantly better than it in the
    simultaneous family, i.e. when its simultaneous lower rank bound exceeds ``tau``."""
    est, cov, level, n_draws, stepdown = _check_common(estimate, cov, level, n_draws, stepdown)
    tau = check_int("tau", tau, 1, est.size, extra=" (tau is the number of top positions.)")
    sets = rank_confidence_sets(est, cov, level, True, n_draws, random_state, stepdown)
    return sets.lower <= tau


# ----------------------------------------------------------------------------- pairwise separation
def _holm(p_values: np.ndarray) -> np.ndarray:
    q = p_values.size
    order = np.argsort(p_values, kind="stable")
    adj = np.minimum(1.0, np.maximum.accumulate((q - np.arange(q)) * p_values[order]))
    out = np.empty(q)
    out[order] = adj
    return out


def _maxt_stepdown(abs_z: np.ndarray, cov: np.ndarray, P: np.ndarray, sd: np.ndarray, n_draws: int,
                   random_state) -> np.ndarray:
    """Step-down max-|t| adjusted p-values (Westfall-Young / Romano-Wolf) for the differences of ``P``.

    Hypotheses are ordered by decreasing ``|z|``; the adjusted p-value of the l-th is the largest, over
    l' <= l, of P(max over hypotheses l', l'+1, ... of |Z| >= |z_l'|) estimated from the draws."""
    order = np.argsort(-abs_z, kind="stable")
    Po, sdo, zo = P[order], sd[order], abs_z[order]
    counts = np.zeros(zo.size)
    F = covariance_factor(cov)
    chunk = max(1, CHUNK_ELEMENTS // max(zo.size, F.shape[0]))
    for Z in normal_draw_chunks(F, n_draws, seed_sequence(random_state), chunk):
        D = np.abs(Z[:, Po[:, 0]] - Z[:, Po[:, 1]]) / sdo
        suffix_max = np.maximum.accumulate(D[:, ::-1], axis=1)[:, ::-1]
        counts += np.sum(suffix_max >= zo, axis=0)
    adj = np.maximum.accumulate(counts / n_draws)
    out = np.empty(zo.size)
    out[order] = adj
    return out


def separated_pairs(estimate, cov, names, level: float = 0.95, method: str = "holm", pairs: str = "adjacent",
                    n_draws: int = DEFAULT_RANK_DRAWS, random_state=None) -> pd.DataFrame:
    """Which pairs of models are separated (their difference is significant) at family-wise level 1 - level.

    ``pairs="adjacent"``: neighbours in the estimated ranking (first = the better estimate);
    ``pairs="all"``: every pair. ``method="holm"``: Holm's step-down on the two-sided normal p-values
    (valid under any dependence); ``"max-t"``: step-down max-|t| adjusted p-values from the joint normal
    law of the differences (uses the correlation, so at least as powerful; Monte-Carlo with ``n_draws``).
    The family is fixed after looking at the estimated order (adjacent pairs); that is the usual
    leaderboard reading, and with ``"all"`` it does not matter. Cost of ``"max-t"``: ``n_draws`` times
    the number of pairs (about 7 CPU-seconds for all 19,900 pairs of 200 models at 10,000 draws; adjacent
    pairs are cheap).

    Returns a DataFrame with one row per pair: ``first``, ``second``, ``rank_first``, ``difference``
    (first - second), ``stderr``, ``z``, ``p_value`` (unadjusted), ``p_adjusted``, ``separated``
    (``p_adjusted <= 1 - level``).
    """
    est, cov = check_estimate_cov(estimate, cov)
    names = [str(n) for n in names]
    if len(names) != est.size:
        raise ValueError(f"{len(names)} names for {est.size} estimates.")
    level = check_real("level", level, 0.0, 1.0, low_open=True, high_open=True)
    method = check_option("method", method, ("holm", "max-t"))
    pairs = check_option("pairs", pairs, ("adjacent", "all"))
    n_draws = check_int("n_draws", n_draws, 100)
    if est.size < 2:
        raise ValueError(f"separation needs at least 2 models; got {est.size}.")
    order = np.argsort(-est, kind="stable")
    if pairs == "adjacent":
        P = np.column_stack([order[:-1], order[1:]])
    else:
        pos = np.triu_indices(est.size, 1)
        P = np.column_stack([order[pos[0]], order[pos[1]]])
    sd = difference_sd(cov, P, names)
    diff = est[P[:, 0]] - est[P[:, 1]]
    z = diff / sd
    p_raw = 2.0 * stats.norm.sf(np.abs(z))
    p_adj = _holm(p_raw) if method == "holm" else _maxt_stepdown(np.abs(z), cov, P, sd, n_draws, random_state)
    ranks = estimated_ranks(est)
    return pd.DataFrame({"first": [names[a] for a in P[:, 0]], "second": [names[b] for b in P[:, 1]],
                         "rank_first": ranks[P[:, 0]], "difference": diff, "stderr": sd, "z": z,
                         "p_value": p_raw, "p_adjusted": p_adj, "separated": p_adj <= 1.0 - level})


def comparisons_needed(estimate, cov, n_battles, i: int, j: int, power: float = 0.8, level: float = 0.95,
                       critical: float | None = None) -> int:
    r"""Further battles for the pair (i, j) to be separated with probability ``power``.

    Assumption (stated, not tested): future battles arrive in the same proportions as the
    ``n_battles`` behind the current fit, so the variance of $\hat\theta_i - \hat\theta_j$ scales as
    $1/n$: $v(n + m) = v\,n/(n + m)$, and the true difference equals the current estimate $\delta$.
    The pair is separated when $|\delta| / \sqrt{v(n+m)} > c$ with $c$ = ``critical`` (e.g. a max-t
    critical value for family-wise separation) or, by default, the two-sided normal quantile of
    ``level``; power ``1 - beta`` needs $|\delta|/\sqrt{v(n+m)} \ge c + z_{1-\beta}$, so
    $m = \lceil n (v (c + z_{1-\beta})^2/\delta^2 - 1) \rceil$, and 0 if already enough. ``n_battles`` is
    in whatever unit the caller counts (battles of the pair, of the two models, or of the board); the
    answer is in the same unit. Equal estimates have no finite answer and raise a ValueError.
    """
    est, cov = check_estimate_cov(estimate, cov)
    p = est.size
    i = check_int("i", i, 0, p - 1)
    j = check_int("j", j, 0, p - 1)
    if i == j:
        raise ValueError(f"i and j must be different models; got {i} twice.")
    n = check_real("n_battles", n_battles, 0.0, low_open=True)
    power = check_real("power", power, 0.0, 1.0, low_open=True, high_open=True)
    level = check_real("level", level, 0.0, 1.0, low_open=True, high_open=True)
    crit = normal_quantile(level) if critical is None else check_real("critical", critical, 0.0, low_open=True)
    v = float(difference_sd(cov, np.array([[i, j]]))[0] ** 2)
    delta = float(est[i] - est[j])
    if delta == 0.0:
        raise ValueError(f"models {i} and {j} have equal estimates: no number of further battles separates them "
                         "in expectation.")
    need = n * v * (crit + float(stats.norm.ppf(power))) ** 2 / delta ** 2
    return int(max(0, math.ceil(need - n - 1e-9 * need)))
