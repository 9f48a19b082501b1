"""Size of every diagnostic test under its null: the rejection rate at level 0.05 over 500 simulated
tables lies inside the binomial band.

Null: HomogeneousBT (6 items, complete graph, every pair in both orientations, order indicator +1,
no position bias, no ties), 800 comparisons, each row answered by one of 6 exchangeable annotators.
Per table: the goodness-of-fit and intransitivity tests share one parametric bootstrap (99 draws),
the position-bias Wald test, the annotator permutation test (99 permutations). The band is the
central 99.5% binomial interval for 500 tables at p = 0.05 (13 to 39 rejections, 2.6% to 7.8%):
with four tests the chance that a correctly sized test set fails is about 2%, and the fixed seed
makes the outcome deterministic.
"""
from __future__ import annotations

import jax
import numpy as np
import pytest
from scipy import stats

import prefstat as ps
from prefstat._x64 import x64_scope
from prefstat.diagnose.annotators import annotator_heterogeneity
from prefstat.diagnose.goodness_of_fit import goodness_of_fit, parametric_draws
from prefstat.diagnose.order import position_bias
from prefstat.diagnose.pairs import fit_pairs, pair_cells
from prefstat.diagnose.transitivity import intransitivity
from prefstat.simulate import HomogeneousBT

R, N, LEVEL, B = 500, 800, 0.05, 99


def null_p_values(reps=R, seed=0):
    proc = HomogeneousBT(n_items=6, seed_abilities=3)
    with x64_scope():
        data = jax.vmap(proc.sample, in_axes=(0, None))(jax.random.split(jax.random.PRNGKey(seed), reps), N)
    data = {k: np.asarray(v) for k, v in data.items()}
    rng = np.random.default_rng(seed)
    out = np.full((reps, 4), np.nan)
    for r in range(reps):
        group = rng.integers(0, 6, N)
        table = ps.ComparisonTable.from_items(data["left"][r], data["right"][r], data["y"][r], group=group,
                                              order=data["order"][r])
        cells = pair_cells(table)
        fit = fit_pairs(cells)
        draws = parametric_draws(cells, fit, B, rng)
        out[r, 0] = goodness_of_fit(cells, fit, draws, LEVEL).p_value
        out[r, 1] = intransitivity(cells, draws, LEVEL, rng=rng).p_value
        out[r, 2] = position_bias(table.__class__.from_items(table.left, table.right, table.outcome,
                                                             order=table.order), LEVEL).p_value
        out[r, 3] = annotator_heterogeneity(table, cells, fit, B, rng, LEVEL, figures=False).p_value
    return out


@pytest.mark.slow
def test_every_test_has_its_nominal_size():
    p = null_p_values()
    assert np.isfinite(p).all()
    lo, hi = stats.binom.interval(0.995, R, LEVEL)
    rejections = (p < LEVEL).sum(axis=0)
    names = ["goodness_of_fit", "intransitivity", "position_bias", "annotators"]
    assert ((rejections >= lo) & (rejections <= hi)).all(), dict(zip(names, rejections))
