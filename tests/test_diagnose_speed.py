"""The vectorised pieces behind diagnose's calibrations agree with their direct definitions.

* score statistics (batched bincount + per-annotator BLAS products on inverse Cholesky factors) equal
  U_g^T (I_g + ridge I)^-1 U_g computed per annotator with a dense solve;
* the permutation (size-grouped ``Generator.permuted``) permutes outcomes within pairs only and
  uniformly: the mean permuted win count of an (annotator, pair) cell is the hypergeometric mean
  n_gc W_c / n_c (400 permutations; tolerance 5 Monte-Carlo standard errors);
* the stable radix grouping equals numpy's stable argsort, also for keys above 2^16;
* refit_many gives the same estimates whatever the chunking.
"""
import numpy as np

import prefstat as ps
from prefstat.diagnose.annotators import (annotator_cells, information_roots, permuted_wins, score_statistics,
                                         stable_group_order)
from prefstat.diagnose.pairs import fit_pairs, pair_cells, refit_many, simulate_wins


def _table(seed=0, n=1500, k=6, groups=5):
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=k)
    a = rng.integers(0, k, n)
    b = (a + rng.integers(1, k, n)) % k
    y = (rng.random(n) < 1 / (1 + np.exp(-(theta[a] - theta[b])))).astype(float)
    y[rng.random(n) < 0.1] = 0.5
    return ps.ComparisonTable.from_items(a, b, y, group=rng.integers(0, groups, n))


def test_score_statistics_match_the_direct_formula():
    table = _table()
    cells = pair_cells(table)
    fit = fit_pairs(cells)
    ac = annotator_cells(table, cells)
    root = information_roots(ac, cells, fit.p, 1.0)
    wins = np.vstack([ac.wins, permuted_wins(ac, cells, np.random.default_rng(1), 3)])
    got = score_statistics(ac, cells, fit.p, root, wins)
    k = cells.k
    for b in range(wins.shape[0]):
        for g in range(ac.G):
            sel = ac.g == g
            i, j, c = cells.i[ac.c[sel]], cells.j[ac.c[sel]], ac.c[sel]
            v = ac.n[sel] * fit.p[c] * (1 - fit.p[c])
            r = wins[b, sel] - ac.n[sel] * fit.p[c]
            X = np.zeros((sel.sum(), k))
            X[np.arange(sel.sum()), i] = 1
            X[np.arange(sel.sum()), j] = -1
            U = X.T @ r
            info = X.T @ (v[:, None] * X) + np.eye(k)
            assert np.isclose(got[b, g], U @ np.linalg.solve(info, U), rtol=1e-10)


def test_permutation_is_within_pairs_and_uniform():
    table = _table(seed=2, n=600, k=4, groups=3)
    cells = pair_cells(table)
    ac = annotator_cells(table, cells)
    perm = permuted_wins(ac, cells, np.random.default_rng(3), 400)
    assert np.allclose(np.bincount(ac.c, perm[0], cells.m), cells.wins)
    # E[permuted wins of cell (g, c)] = n_gc W_c / n_c; sd of the mean over 400 permutations <= 0.5 sqrt(n_gc) / 20
    expect = ac.n * cells.wins[ac.c] / cells.n[ac.c]
    se = np.maximum(perm.std(axis=0), 0.05) / np.sqrt(400)
    assert np.all(np.abs(perm.mean(axis=0) - expect) < 5 * se + 1e-9)


def test_radix_grouping_is_a_stable_argsort():
    rng = np.random.default_rng(4)
    for n_keys in (7, 70_000, 5_000_000):
        keys = rng.integers(0, n_keys, 50_000)
        assert np.array_equal(stable_group_order(keys, n_keys), np.argsort(keys, kind="stable"))


def test_refits_do_not_depend_on_chunking():
    cells = pair_cells(_table(seed=5))
    fit = fit_pairs(cells)
    wins = simulate_wins(np.random.default_rng(6), cells.n, fit.p, 4)
    b1, ok1 = refit_many(cells, cells.n, wins, fit.beta)
    b2, ok2 = refit_many(cells, cells.n, wins, fit.beta, chunk=2)
    assert np.array_equal(ok1, ok2) and np.allclose(b1, b2, atol=1e-10)
