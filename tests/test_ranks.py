"""Simultaneous intervals, confidence sets for ranks, top-tau sets, pairwise separation (issue 13).

Reference values: csranks (the R package of Mogstad, Romano, Shaikh & Wilhelm) - the documented example
of ``csranks``/``cstaubest`` (x = seq(1, 3, length = 10), sd = 0.2) and the PISA 2018 worked example
(figures examples/mathsimul.jpg, examples/mathmarg.jpg and the vignette's top-5 sets).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import prefstat as ps
from prefstat.inference import (comparisons_needed, estimated_ranks, marginal_and_simultaneous_rank_sets,
                                max_t_critical, pairwise_max_t_critical, rank_confidence_sets, separated_pairs, simultaneous_intervals,
                                simultaneous_pairwise_intervals, top_set)
from prefstat.inference.simultaneous import covariance_factor, normal_draw_chunks, seed_sequence

# PISA 2018 mathematics, the 37 OECD countries: mean score and its standard error (csranks'
# data-raw/pisa.csv, the data of Mogstad, Romano, Shaikh & Wilhelm's worked example).
PISA_MATH = [
    ("Australia", 491.3600252, 1.939833031),
    ("Austria", 498.9423138, 2.970998694),
    ("Belgium", 508.0703063, 2.262662011),
    ("Canada", 512.0169429, 2.357475749),
    ("Chile", 417.4065563, 2.41588757),
    ("Colombia", 390.9322732, 2.989559274),
    ("Czech Republic", 499.4676508, 2.460661531),
    ("Denmark", 509.3983746, 1.735002337),
    ("Estonia", 523.4145802, 1.743602224),
    ("Finland", 507.3013618, 1.967920411),
    ("France", 495.4075794, 2.320214487),
    ("Germany", 500.0437805, 2.647083096),
    ("Greece", 451.3703438, 3.091228197),
    ("Hungary", 481.0826364, 2.319596741),
    ("Iceland", 495.1873762, 1.953082603),
    ("Ireland", 499.632894, 2.198621128),
    ("Israel", 463.0345488, 3.498563228),
    ("Italy", 486.5898573, 2.780045867),
    ("Japan", 526.9732502, 2.471475318),
    ("Korea", 525.933002, 3.121394315),
    ("Latvia", 496.1263306, 1.962766789),
    ("Lithuania", 481.1911884, 1.953282039),
    ("Luxembourg", 483.421485, 1.097632409),
    ("Mexico", 408.8014734, 2.493225544),
    ("Netherlands", 519.2309824, 2.632277885),
    ("New Zealand", 494.489676, 1.705942856),
    ("Norway", 500.9637885, 2.219044878),
    ("Poland", 515.6478747, 2.602085176),
    ("Portugal", 492.4874062, 2.684570081),
    ("Slovak Republic", 486.1648542, 2.555595707),
    ("Slovenia", 508.8975441, 1.363877596),
    ("Spain", 481.3926126, 1.462417763),
    ("Sweden", 502.3877022, 2.654250935),
    ("Switzerland", 515.3147131, 2.908003898),
    ("Turkey", 453.5077774, 2.260406789),
    ("United Kingdom", 501.7698992, 2.564428111),
    ("United States", 478.2447174, 3.235444099),
]

# 95% rank sets of that example as drawn in csranks' examples/mathsimul.jpg and examples/mathmarg.jpg
# (stepdown, independent countries, R = 1000 draws, seed 101).
PISA_SIMULTANEOUS = {
    "Japan": (1, 6), "Korea": (1, 7), "Estonia": (1, 6), "Netherlands": (1, 11), "Poland": (1, 12),
    "Switzerland": (1, 13), "Canada": (3, 17), "Denmark": (4, 18), "Slovenia": (4, 18), "Belgium": (4, 18),
    "Finland": (4, 18), "Sweden": (5, 24), "United Kingdom": (6, 24), "Norway": (7, 24), "Germany": (7, 25),
    "Ireland": (8, 25), "Czech Republic": (7, 25), "Austria": (7, 26), "Latvia": (12, 26), "France": (12, 26),
    "Iceland": (12, 26), "New Zealand": (12, 26), "Portugal": (12, 31), "Australia": (12, 30),
    "Italy": (15, 31), "Slovak Republic": (18, 31), "Luxembourg": (23, 31), "Spain": (24, 31),
    "Lithuania": (23, 31), "Hungary": (23, 31), "United States": (23, 32), "Israel": (31, 34),
    "Turkey": (32, 34), "Greece": (32, 34), "Chile": (35, 36), "Mexico": (35, 36), "Colombia": (37, 37),
}
PISA_MARGINAL = {
    "Japan": (1, 4), "Korea": (1, 6), "Estonia": (1, 6), "Netherlands": (1, 7), "Poland": (2, 11),
    "Switzerland": (2, 11), "Canada": (4, 12), "Denmark": (5, 14), "Slovenia": (5, 14), "Belgium": (5, 18),
    "Finland": (5, 18), "Sweden": (7, 23), "United Kingdom": (8, 23), "Norway": (10, 23), "Germany": (10, 24),
    "Ireland": (10, 24), "Czech Republic": (10, 24), "Austria": (10, 24), "Latvia": (12, 25),
    "France": (12, 26), "Iceland": (12, 26), "New Zealand": (12, 26), "Portugal": (12, 26),
    "Australia": (15, 26), "Italy": (19, 31), "Slovak Republic": (20, 31), "Luxembourg": (25, 31),
    "Spain": (25, 31), "Lithuania": (25, 31), "Hungary": (25, 31), "United States": (25, 31),
    "Israel": (32, 34), "Turkey": (32, 34), "Greece": (32, 34), "Chile": (35, 36), "Mexico": (35, 36),
    "Colombia": (37, 37),
}


def _pisa():
    names = [r[0] for r in PISA_MATH]
    est = np.array([r[1] for r in PISA_MATH])
    cov = np.diag(np.array([r[2] for r in PISA_MATH]) ** 2)
    return names, est, cov


def _quantile_se(level, n, density):
    """Monte-Carlo standard error of an empirical ``level`` quantile from n draws."""
    return np.sqrt(level * (1 - level) / n) / density


# ------------------------------------------------------------------------- max-t critical values
@pytest.mark.parametrize("k", [1, 5, 40])
def test_max_t_independent_equals_sidak(k):
    level, n = 0.95, 100_000
    c = max_t_critical(np.diag(np.linspace(0.5, 3.0, k)), level, n, random_state=1)
    sidak = stats.norm.ppf((1 + level ** (1 / k)) / 2)
    # density of max|Z_i| at the Sidak value: k * 2 phi(c) * (2 Phi(c) - 1)^(k - 1)
    dens = k * 2 * stats.norm.pdf(sidak) * (2 * stats.norm.cdf(sidak) - 1) ** (k - 1)
    assert abs(c - sidak) < 4 * _quantile_se(level, n, dens)


def test_max_t_perfectly_correlated_is_marginal_and_reference_ignored():
    # two copies of one estimate: the maximum is one |Z|, so c = z_{0.975}; a reference with variance 0
    # (a fixed ability) is left out instead of producing 0/0.
    cov = np.array([[1.0, 2.0, 0.0], [2.0, 4.0, 0.0], [0.0, 0.0, 0.0]])
    c = max_t_critical(cov, 0.95, 100_000, random_state=3)
    dens = 2 * stats.norm.pdf(1.959964)
    assert abs(c - 1.959964) < 4 * _quantile_se(0.95, 100_000, dens)
    lo, hi, crit = simultaneous_intervals([1.0, 2.0, 0.0], cov, 0.95, 20_000, random_state=3)
    assert lo[2] == hi[2] == 0.0
    np.testing.assert_allclose(hi[:2] - lo[:2], 2 * crit * np.array([1.0, 2.0]))


def test_max_t_is_seeded_and_chunk_free():
    cov = np.array([[2.0, 0.5], [0.5, 1.0]])
    assert max_t_critical(cov, random_state=7, n_draws=5000) == max_t_critical(cov, random_state=7, n_draws=5000)
    assert max_t_critical(cov, random_state=7, n_draws=5000) != max_t_critical(cov, random_state=8, n_draws=5000)
    F = covariance_factor(cov)
    a = np.concatenate(list(normal_draw_chunks(F, 1000, seed_sequence(5), chunk=64)))
    b = np.concatenate(list(normal_draw_chunks(F, 1000, seed_sequence(5), chunk=1000)))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(np.cov(np.concatenate(list(normal_draw_chunks(F, 200_000, seed_sequence(5)))).T),
                               cov, atol=0.03)


def test_pairwise_max_t():
    # one difference: the marginal normal quantile; a singular sum-to-zero covariance is fine
    C = np.eye(2) - 0.5
    c = pairwise_max_t_critical(C @ np.diag([1.0, 3.0]) @ C, 0.95, 100_000, random_state=0)
    assert abs(c - 1.959964) < 4 * _quantile_se(0.95, 100_000, 2 * stats.norm.pdf(1.96))
    # all differences of 4 independent unit-variance estimates vs the (6, 6) covariance of the differences
    k = 4
    P = np.array([(a, b) for a in range(k) for b in range(a + 1, k)])
    L = np.zeros((len(P), k))
    L[np.arange(len(P)), P[:, 0]], L[np.arange(len(P)), P[:, 1]] = 1.0, -1.0
    direct = max_t_critical(L @ L.T, 0.95, 100_000, random_state=1)
    via_items = pairwise_max_t_critical(np.eye(k), 0.95, 100_000, random_state=2)
    assert abs(direct - via_items) < 0.03  # two independent MC estimates, each with SE about 0.008
    r = simultaneous_pairwise_intervals(np.arange(k, dtype=float), np.eye(k), n_draws=5000, random_state=0)
    np.testing.assert_allclose(r.upper - r.lower, 2 * r.crit * np.sqrt(2))
    assert np.all(r.lower < r.marginal_lower)


# ------------------------------------------------------------------------- rank sets: references
def test_csranks_documented_example():
    # csranks(x, sd) and cstaubest(x, sd, tau = 3) in csranks' reference manual
    x, cov = np.linspace(1, 3, 10), 0.2 ** 2 * np.eye(10)
    sets = rank_confidence_sets(x, cov, simultaneous=True, random_state=0)
    np.testing.assert_array_equal(sets.lower, [7, 6, 5, 4, 3, 2, 1, 1, 1, 1])
    np.testing.assert_array_equal(sets.upper, [10, 10, 10, 10, 9, 8, 7, 6, 5, 4])
    np.testing.assert_array_equal(top_set(x, cov, 3, random_state=0), [False] * 4 + [True] * 6)


def test_pisa_worked_example():
    names, est, cov = _pisa()
    simul = rank_confidence_sets(est, cov, simultaneous=True, n_draws=20_000, random_state=101)
    got = {n: (int(a), int(b)) for n, a, b in zip(names, simul.lower, simul.upper)}
    assert got == PISA_SIMULTANEOUS
    marg = rank_confidence_sets(est, cov, simultaneous=False, n_draws=20_000, random_state=101)
    diff = np.array([[marg.lower[i] - PISA_MARGINAL[n][0], marg.upper[i] - PISA_MARGINAL[n][1]]
                     for i, n in enumerate(names)])
    # the figure used 1000 draws: a bound on the edge of its critical value may move by one
    assert np.abs(diff).max() <= 1 and np.count_nonzero(diff) <= 2
    # vignette: 12 countries in the 95% top-5 set; at 90% Sweden drops out
    top95 = top_set(est, cov, 5, 0.95, n_draws=20_000, random_state=1)
    top90 = top_set(est, cov, 5, 0.90, n_draws=20_000, random_state=1)
    assert top95.sum() == 12 and top95[names.index("Sweden")] and not top90[names.index("Sweden")]
    assert top90.sum() == 11 and np.all(top95 >= top90)


# ------------------------------------------------------------------------- rank sets: analytic cases
@pytest.mark.parametrize("simultaneous", [False, True])
def test_far_apart_and_identical(simultaneous):
    sets = rank_confidence_sets([0.0, 10.0], np.eye(2) * 0.01, simultaneous=simultaneous, n_draws=1000,
                                random_state=0)
    np.testing.assert_array_equal(sets.lower, [2, 1])
    np.testing.assert_array_equal(sets.upper, [2, 1])
    sets = rank_confidence_sets(np.zeros(6), np.eye(6), simultaneous=simultaneous, n_draws=1000, random_state=0)
    np.testing.assert_array_equal(sets.lower, np.ones(6))
    np.testing.assert_array_equal(sets.upper, np.full(6, 6))


def _board(p, seed):
    rng = np.random.default_rng(seed)
    est = np.sort(rng.normal(0, 1, p))
    C = np.eye(p) - 1.0 / p
    cov = C @ np.diag(rng.uniform(0.01, 0.08, p)) @ C  # sum-to-zero, rank p - 1
    return est, cov


@pytest.mark.parametrize("simultaneous", [False, True])
def test_permuting_models_permutes_sets(simultaneous):
    est, cov = _board(15, 2)
    perm = np.random.default_rng(3).permutation(15)
    a = rank_confidence_sets(est, cov, simultaneous=simultaneous, n_draws=4000, random_state=4)
    b = rank_confidence_sets(est[perm], cov[np.ix_(perm, perm)], simultaneous=simultaneous, n_draws=4000,
                             random_state=4)
    # permuted draws are different draws: compare away from the edge by allowing one-rank moves
    assert np.abs(a.lower[perm] - b.lower).max() <= 1 and np.abs(a.upper[perm] - b.upper).max() <= 1
    assert np.mean(a.lower[perm] == b.lower) > 0.8


def test_nesting_stepdown_marginal_and_estimate_inside():
    est, cov = _board(25, 5)
    kw = dict(n_draws=4000, random_state=6)
    ms, m1 = rank_confidence_sets(est, cov, **kw), rank_confidence_sets(est, cov, stepdown=False, **kw)
    ss, s1 = (rank_confidence_sets(est, cov, simultaneous=True, **kw),
              rank_confidence_sets(est, cov, simultaneous=True, stepdown=False, **kw))
    r = estimated_ranks(est)
    for inner, outer in [(ms, m1), (ss, s1), (ms, ss)]:  # step-down within single step; marginal within simultaneous
        assert np.all(inner.lower >= outer.lower) and np.all(inner.upper <= outer.upper)
    assert np.all((ms.lower <= r) & (r <= ms.upper))
    assert np.any(ms.lower > m1.lower) or np.any(ms.upper < m1.upper)  # the step-down did something here
    assert ms.lower.dtype.kind == "i"


@pytest.mark.parametrize("p, seed, stepdown", [(25, 5, True), (40, 8, True), (12, 3, False)])
def test_shared_draws_give_the_separate_sets(p, seed, stepdown):
    # same seed, same draws: sharing the draws and the first step must change nothing (exact equality)
    est, cov = _board(p, seed)
    kw = dict(n_draws=3000, random_state=seed, stepdown=stepdown)
    marg, joint = marginal_and_simultaneous_rank_sets(est, cov, **kw)
    for got, simultaneous in ((marg, False), (joint, True)):
        want = rank_confidence_sets(est, cov, simultaneous=simultaneous, **kw)
        np.testing.assert_array_equal(got.lower, want.lower)
        np.testing.assert_array_equal(got.upper, want.upper)


def test_step_down_refresh_is_exact():
    # the step-down re-evaluates only the upper tail of the draws after each step; its rejections must
    # equal those of a brute-force step-down that recomputes every draw for every family.
    from prefstat.inference import ranks as R

    est, cov = _board(12, 9)
    dr = R._Draws(est, cov, 3000, 0)
    better, worse = R._marginal_rejections(dr, 0.9, True)
    # brute force: re-run the step-down with full recomputation
    p = est.size
    OP = np.where(np.eye(p, dtype=bool), -np.inf, 0.0)
    OM = OP.copy()
    b2, w2 = np.zeros((p, p), bool), np.zeros((p, p), bool)
    while True:
        M = dr.rows(OP, OM, np.arange(dr.n))
        c = np.quantile(M, 0.9, axis=0)
        nw = (OP == 0) & (dr.T > c[:, None])
        nb = (OM == 0) & (-dr.T > c[:, None])
        if not (nw.any() or nb.any()):
            break
        w2 |= nw
        b2 |= nb
        OP[nw], OM[nb] = -np.inf, -np.inf
    np.testing.assert_array_equal(better, b2)
    np.testing.assert_array_equal(worse, w2)


def test_simultaneous_step_down_refresh_is_exact():
    from prefstat.inference import ranks as R

    est, cov = _board(12, 10)
    dr = R._Draws(est, cov, 3000, 1)
    rej = R._simultaneous_rejections(dr, 0.9, True)
    p = est.size
    OP, OM = np.where(np.eye(p, dtype=bool), -np.inf, 0.0), np.full((p, p), -np.inf)
    brute = np.zeros((p, p), bool)
    while True:
        c = np.quantile(dr.rows(OP, OM, np.arange(dr.n)).max(axis=1), 0.9)
        new = (OP == 0) & (dr.T > c)
        if not new.any():
            break
        brute |= new
        OP[new] = -np.inf
    np.testing.assert_array_equal(rej, brute)
    assert brute.sum() > 0


def test_top_set_monotone_in_tau():
    est, cov = _board(20, 7)
    sets = [top_set(est, cov, t, n_draws=3000, random_state=1) for t in (1, 3, 10, 20)]
    for small, big in zip(sets, sets[1:]):
        assert np.all(big >= small)
    assert sets[-1].all() and sets[0][np.argmax(est)]


# ------------------------------------------------------------------------- separation, battles needed
def test_separated_pairs_holm_and_max_t():
    est = np.array([0.0, 1.0, 1.05, 3.0])
    cov = np.eye(4) * 0.04
    names = ["a", "b", "c", "d"]
    adj = separated_pairs(est, cov, names)
    assert list(zip(adj["first"], adj["second"])) == [("d", "c"), ("c", "b"), ("b", "a")]
    z = np.array([1.95, 0.05, 1.0]) / np.sqrt(0.08)
    p = 2 * stats.norm.sf(z)
    np.testing.assert_allclose(adj["p_value"], p)
    order = np.argsort(p)
    holm = np.empty(3)
    holm[order] = np.minimum(1, np.maximum.accumulate(p[order] * np.array([3, 2, 1])))
    np.testing.assert_allclose(adj["p_adjusted"], holm)
    assert list(adj["separated"]) == [True, False, True]
    mt = separated_pairs(est, cov, names, method="max-t", pairs="all", n_draws=20_000, random_state=0)
    assert len(mt) == 6 and set(mt["first"] + mt["second"]) >= {"dc", "cb", "ba"}
    # adjusted p-values are at least the raw ones, monotone in |z|, and the near-tie is not separated
    assert np.all(mt["p_adjusted"] >= mt["p_value"] - 0.01)
    assert not mt.set_index(["first", "second"]).loc[("c", "b"), "separated"]
    one = separated_pairs([0.0, 0.25], np.eye(2) * 0.02, ["x", "y"], method="max-t", n_draws=50_000,
                          random_state=0)
    assert abs(one["p_adjusted"][0] - one["p_value"][0]) < 0.01  # one test: no adjustment (MC SE 0.002)


def test_comparisons_needed():
    cov = np.array([[0.02, 0.0], [0.0, 0.02]])
    est = np.array([0.3, 0.0])
    m = comparisons_needed(est, cov, 1000, 0, 1, power=0.8, level=0.95)
    # with v(n) = 0.04 * 1000 / n, the z statistic at n = 1000 + m reaches 1.96 + 0.8416
    n = 1000 + m
    z = 0.3 / np.sqrt(0.04 * 1000 / n)
    target = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    assert z >= target and 0.3 / np.sqrt(0.04 * 1000 / (n - 1)) < target
    assert comparisons_needed(est, cov, 1000, 1, 0) == m  # symmetric in the pair
    assert comparisons_needed([5.0, 0.0], cov, 1000, 0, 1) == 0  # already separated with room to spare
    assert comparisons_needed(est, cov, 1000, 0, 1, critical=3.0) > m  # family-wise critical value
    with pytest.raises(ValueError, match="equal estimates"):
        comparisons_needed([1.0, 1.0], cov, 1000, 0, 1)


# ------------------------------------------------------------------------- errors
@pytest.mark.parametrize("args, match", [
    (([0.0, np.nan], np.eye(2)), "non-finite value at position 1"),
    (([0.0, 1.0], [[1.0, 2.0], [2.0, 1.0]]), "not positive semi-definite"),
    (([0.0, 1.0], [[1.0, 0.5], [0.0, 1.0]]), "not symmetric"),
    (([0.0, 1.0], np.eye(3)), r"must be \(2, 2\)"),
    (([0.0, 1.0], [[1.0, np.inf], [np.inf, 1.0]]), "non-finite entry"),
    (([0.0, 1.0, 2.0], [[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]]), "positions 0 and 1 has zero variance"),
])
def test_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        rank_confidence_sets(*args, n_draws=200)


def test_errors_name_the_models():
    cov = np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    with pytest.raises(ValueError, match="'gpt-copy' and 'gpt' has zero variance"):
        separated_pairs([1.0, 2.0, 0.0], cov, ["gpt", "gpt-copy", "other"])
    with pytest.raises(ValueError, match="3 names for 2 estimates"):
        separated_pairs([1.0, 2.0], np.eye(2), ["a", "b", "c"])
    with pytest.raises(ValueError, match="pairs must hold two different positions"):
        pairwise_max_t_critical(np.eye(3), pairs=[[0, 0]])
    with pytest.raises(ValueError, match="i and j must be different"):
        comparisons_needed([1.0, 2.0], np.eye(2), 10, 1, 1)


def test_bad_options():
    est, cov = np.arange(3.0), np.eye(3)
    for level in (0.0, 1.0, 1.5, np.nan):
        with pytest.raises(ValueError, match="level"):
            rank_confidence_sets(est, cov, level=level)
        with pytest.raises(ValueError, match="level"):
            max_t_critical(cov, level=level)
    for tau in (0, 4, 1.5):
        with pytest.raises(ValueError, match="tau"):
            top_set(est, cov, tau)
    with pytest.raises(ValueError, match="n_draws"):
        max_t_critical(cov, n_draws=10)
    with pytest.raises(ValueError, match="method"):
        separated_pairs(est, cov, list("abc"), method="bonferroni")
    with pytest.raises(ValueError, match="pairs"):
        separated_pairs(est, cov, list("abc"), pairs="some")
    with pytest.raises(ValueError, match="random_state"):
        max_t_critical(cov, random_state=-1)
    with pytest.raises(ValueError, match="power"):
        comparisons_needed(est, cov, 10, 0, 1, power=1.0)


# ------------------------------------------------------------------------- through the results object
def test_results_methods_delegate():
    rng = np.random.default_rng(0)
    theta = np.linspace(-1, 1, 6)
    X = rng.integers(0, 6, (2000, 2))
    X = X[X[:, 0] != X[:, 1]]
    y = (rng.uniform(size=len(X)) < 1 / (1 + np.exp(-(theta[X[:, 0]] - theta[X[:, 1]])))).astype(float)
    bt = ps.BradleyTerry(order_effect=True).fit(X, y)
    res = bt.results_
    items = [str(i) for i in bt.items_]
    est, cov = res.estimate[:6], res.cov[:6, :6]
    rs = res.rank_sets(n_draws=2000, random_state=0)
    assert list(rs.index) == items  # order_effect left out by default
    direct = rank_confidence_sets(est, cov, n_draws=2000, random_state=0)
    np.testing.assert_array_equal(rs["lower"], direct.lower)
    np.testing.assert_array_equal(rs["rank"], estimated_ranks(est))
    sci = res.simultaneous_conf_int(n_draws=2000, random_state=0)
    lo, hi, crit = simultaneous_intervals(est, cov, n_draws=2000, random_state=0)
    np.testing.assert_allclose(sci["lower"], lo)
    assert sci.attrs["critical_value"] == crit
    np.testing.assert_allclose(sci[["marginal_lower", "marginal_upper"]], res.conf_int().iloc[:6])
    sp = res.simultaneous_pairwise(n_draws=2000, random_state=0)
    assert len(sp) == 15 and np.all(sp["lower"] < sp["marginal_lower"])
    np.testing.assert_allclose(sp["estimate"], res.pairwise()["estimate"])
    assert res.top_set(2, n_draws=2000, random_state=0).dtype == bool
    assert isinstance(res.separated_pairs(), pd.DataFrame)
    sub = res.rank_sets(names=items[:3], n_draws=2000, random_state=0)
    assert list(sub.index) == items[:3] and sub["upper"].max() <= 3
