"""Acceptance Monte-Carlo for simultaneous intervals and confidence sets for ranks (issue 13).

510 simulated boards with a known truth: Bradley-Terry battles with long-tailed (Zipf) battle counts,
half-win ties, 20 / 40 / 60 models, fitted by the same pure core as ``prefstat.BradleyTerry`` (vmapped
over boards) with the sandwich covariance (the half-win fit is misspecified under Davidson ties; its
target is the process's ``half_win_truth``). One configuration has exactly tied true abilities (no tie
outcomes, so the target keeps the ties) to exercise shared ranks.

Per board: joint coverage of the simultaneous intervals for all abilities and for all differences,
coverage of each model's marginal rank set, and joint coverage of the simultaneous rank sets.
Tolerance: a procedure with exact coverage 0.95 stays above 0.95 - 2.58 * sqrt(0.95 * 0.05 / N) with
probability 0.995 (N boards); per-model marginal coverage uses 3.5 standard errors (120 models).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from prefstat._x64 import x64_scope
from prefstat.design import SparseRowsDesign
from prefstat.inference import (pairwise_max_t_critical, rank_confidence_sets, reparametrize, sandwich_cov,
                                simultaneous_intervals)
from prefstat.losses import logistic_meat
from prefstat.models.bradley_terry import fit_core, item_design, item_transform
from prefstat.simulate import HomogeneousBT
from prefstat.simulate.estimators import mle_exists

LEVEL = 0.95
N_DRAWS = 1000  # csranks' default; the critical values' Monte-Carlo error is part of what is tested


def _fits(proc, n, boards, seed):
    """Sum-to-zero BT estimates and sandwich covariances for ``boards`` independent data sets."""
    k = proc.n_items
    T = jnp.asarray(item_transform(k, 0, False, False, centre=True))

    def one(key):
        d = proc.sample(key, n)
        cols, vals = item_design(d["left"], d["right"], None, k, 0, False, jnp)
        design = SparseRowsDesign(cols=cols, vals=vals, p=k - 1)
        y, W = d["y"], jnp.ones_like(d["y"])
        res = fit_core(design, W, y, jnp.zeros(design.p), jnp.zeros(design.p))
        cov = reparametrize(T, sandwich_cov(res.hess, logistic_meat(design, W, y, y * y, res.x)))
        return T @ res.x, cov, res.converged & mle_exists(design, W, res.x)

    with x64_scope():
        est, cov, ok = jax.jit(jax.vmap(one))(jax.random.split(jax.random.PRNGKey(seed), boards))
    return np.asarray(est), np.asarray(cov), np.asarray(ok)


def _band(n, sds=2.58):
    return LEVEL - sds * np.sqrt(LEVEL * (1 - LEVEL) / n)


@pytest.mark.slow
def test_joint_and_rank_coverage_on_simulated_boards():
    tied = np.repeat(np.linspace(-1.5, 1.5, 10), 4)  # 40 models in 10 groups of exactly tied abilities
    configs = [HomogeneousBT(n_items=20, graph="long_tail", tie_rate=0.2, seed_abilities=20),
               HomogeneousBT(abilities=tuple(tied), graph="long_tail", tie_rate=0.0),
               HomogeneousBT(n_items=60, graph="long_tail", tie_rate=0.2, seed_abilities=60)]
    boards = 170
    joint = {"abilities": 0, "differences": 0, "simultaneous ranks": 0}
    marginal, n_ok, widths = [], 0, []
    for c, proc in enumerate(configs):
        p = proc.n_items
        theta = proc.half_win_truth[0]
        if c == 1:
            assert np.allclose(theta[::4], theta[1::4], atol=1e-12)  # the ties survive in the target
        rank = 1 + np.sum(theta[None, :] > theta[:, None], axis=1)
        a, b = np.triu_indices(p, 1)
        est, cov, ok = _fits(proc, 250 * p, boards, seed=100 + c)
        assert ok.mean() > 0.95
        hits = np.zeros(p)
        for r in np.flatnonzero(ok):
            e, V = est[r], cov[r]
            lo, hi, _ = simultaneous_intervals(e, V, LEVEL, N_DRAWS, random_state=r)
            joint["abilities"] += np.all((lo <= theta) & (theta <= hi))
            crit = pairwise_max_t_critical(V, LEVEL, N_DRAWS, random_state=r)
            sd = np.sqrt(V[a, a] + V[b, b] - 2 * V[a, b])
            joint["differences"] += np.all(np.abs((e[a] - e[b]) - (theta[a] - theta[b])) <= crit * sd)
            m = rank_confidence_sets(e, V, LEVEL, False, N_DRAWS, random_state=r)
            s = rank_confidence_sets(e, V, LEVEL, True, N_DRAWS, random_state=r)
            hits += (m.lower <= rank) & (rank <= m.upper)
            joint["simultaneous ranks"] += np.all((s.lower <= rank) & (rank <= s.upper))
            widths.append((np.mean(m.upper - m.lower + 1) / p, np.mean(s.upper - s.lower + 1) / p))
        marginal.append(hits / ok.sum())
        n_ok += ok.sum()
    marginal = np.concatenate(marginal)
    coverage = {k: v / n_ok for k, v in joint.items()}
    print(f"\n{n_ok} boards: joint coverage {coverage}; marginal rank sets: mean {marginal.mean():.4f}, "
          f"min {marginal.min():.4f}; mean set size / p (marginal, simultaneous) {np.mean(widths, axis=0)}")
    for name, cov_ in coverage.items():
        assert cov_ >= _band(n_ok), (name, cov_)
    assert marginal.mean() >= _band(n_ok)
    assert marginal.min() >= LEVEL - 3.5 * np.sqrt(LEVEL * (1 - LEVEL) / boards)
