"""prefstat.nuisance: folds, cross-fitted predictions, density ratios, overlap diagnostics, two-sample view.

Exact checks compare two computations of the same quantity (tolerances from the solver's stopping
rule, stated at each test). The Gaussian density-ratio check is statistical: its tolerance is a
multiple of the estimator's own standard error (see that test).
"""
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import ShuffleSplit, StratifiedKFold, cross_val_predict

import prefstat.models.debiased as debiased
from prefstat._x64 import x64_scope
from prefstat.design import DenseDesign
from prefstat.losses import logistic_fit
from prefstat.nuisance import (PoorOverlapWarning, SampleStratifiedKFold, assign_folds, crossfit_logistic,
                               crossfit_logistic_ratio, crossfit_predict, density_ratio_from_logodds,
                               density_ratio_from_proba, fold_ids, group_codes, kish_ess, known_ratio,
                               relative_density_ratio, split_samples, top_share, warn_poor_overlap,
                               weight_diagnostics)


# ----------------------------------------------------------------------------- folds
def _historical_folds(human, n_folds, seed):
    """The fold assignment DebiasedBradleyTerry used before prefstat.nuisance existed (kept verbatim)."""
    rng = np.random.default_rng(seed)
    folds = np.zeros(human.size, np.int32)
    for mask in (human, ~human):
        idx = np.flatnonzero(mask)
        folds[idx[rng.permutation(idx.size)]] = np.arange(idx.size) % n_folds
    return folds


@pytest.mark.parametrize("seed", [0, 1, 12345])
def test_default_folds_reproduce_the_historical_assignment(seed):
    rng = np.random.default_rng(seed + 100)
    human = rng.random(997) < 0.2
    np.testing.assert_array_equal(assign_folds((~human).astype(int), 5, seed), _historical_folds(human, 5, seed))


def test_folds_are_stratified_seeded_and_follow_the_splitter_api():
    y = np.r_[np.zeros(103), np.ones(1001)].astype(int)
    np.random.default_rng(0).shuffle(y)
    folds = assign_folds(y, 4, random_state=7)
    for c in (0, 1):
        counts = np.bincount(folds[y == c], minlength=4)
        assert counts.max() - counts.min() <= 1 and counts.sum() == (y == c).sum()
    np.testing.assert_array_equal(folds, assign_folds(y, 4, random_state=7))  # reproducible
    assert not np.array_equal(folds, assign_folds(y, 4, random_state=8))  # and the seed matters
    cv = SampleStratifiedKFold(4, random_state=7)
    assert cv.get_n_splits() == 4
    splits = list(cv.split(np.zeros((y.size, 1)), y))
    for k, (train, test) in enumerate(splits):
        np.testing.assert_array_equal(test, np.flatnonzero(folds == k))
        np.testing.assert_array_equal(np.sort(np.r_[train, test]), np.arange(y.size))
    np.testing.assert_array_equal(fold_ids(cv, None, y), folds)
    # usable wherever scikit-learn takes cv=
    X = np.random.default_rng(1).normal(size=(y.size, 2))
    p = cross_val_predict(LogisticRegression(), X, y, cv=cv, method="predict_proba")
    assert p.shape == (y.size, 2)


def test_grouped_folds_keep_clusters_together_and_any_sklearn_splitter_is_accepted():
    rng = np.random.default_rng(2)
    groups = rng.integers(0, 60, 900)
    y = (rng.random(900) < 0.3).astype(int)
    folds = assign_folds(y, 5, random_state=0, groups=groups)
    for g in np.unique(groups):
        assert np.unique(folds[groups == g]).size == 1
    assert np.unique(folds).size == 5
    np.testing.assert_array_equal(folds, assign_folds(y, 5, random_state=0, groups=groups))
    plain = assign_folds(y, 5, random_state=0, groups=groups, stratify=False)
    for g in np.unique(groups):
        assert np.unique(plain[groups == g]).size == 1
    skf = StratifiedKFold(3, shuffle=True, random_state=4)
    expected = np.zeros(900, int)
    for k, (_, test) in enumerate(skf.split(np.zeros((900, 1)), y)):
        expected[test] = k
    np.testing.assert_array_equal(assign_folds(y, cv=skf), expected)


@pytest.mark.parametrize("kwargs, match", [
    (dict(n_folds=1), "n_splits must be an integer >= 2"),
    (dict(n_folds=True), "n_splits must be an integer >= 2"),
    (dict(n_folds=20), "needs at least 20 rows of every class; class 0 has 10"),
    (dict(n_folds=5, groups=np.arange(60) % 3), "needs at least 5 groups; groups has 3"),
    (dict(cv=ShuffleSplit(3, test_size=0.2, random_state=0)), "partition of the rows"),
    (dict(cv="kfold"), "cv must be a scikit-learn splitter"),
])
def test_fold_errors_name_the_problem(kwargs, match):
    y = np.r_[np.zeros(10), np.ones(50)].astype(int)
    with pytest.raises(ValueError, match=match):
        assign_folds(y, **kwargs)


# ----------------------------------------------------------------------------- cross-fitted predictions
def _two_gaussians(seed, n1, n0, mu1, mu0):
    rng = np.random.default_rng(seed)
    x = np.r_[rng.normal(mu1, 1.0, n1), rng.normal(mu0, 1.0, n0)]
    label = np.r_[np.ones(n1), np.zeros(n0)]
    return x, label


def test_crossfit_predict_equals_a_manual_per_fold_fit():
    x, label = _two_gaussians(3, 400, 200, 0.5, 0.0)
    X = np.column_stack([x, x**2])
    f = np.random.default_rng(3).integers(1, 4, x.size).astype(float)
    folds = assign_folds(label.astype(int), 4, random_state=0)
    clf = LogisticRegression(C=1.0, tol=1e-10, max_iter=1000)
    got = crossfit_predict(clf, X, label.astype(int), folds, sample_weight=f)
    reg = LinearRegression()
    got_reg = crossfit_predict(reg, X, x**3, folds)  # "auto": predict for a regressor
    for k in range(4):
        train, test = folds != k, folds == k
        manual = LogisticRegression(C=1.0, tol=1e-10, max_iter=1000).fit(X[train], label[train].astype(int),
                                                                        sample_weight=f[train])
        np.testing.assert_array_equal(got[test], manual.predict_proba(X[test]))  # same fit, same rows
        np.testing.assert_allclose(got_reg[test], LinearRegression().fit(X[train], x[train] ** 3).predict(X[test]),
                                   rtol=1e-12)


def test_jax_crossfit_logistic_equals_a_manual_per_fold_fit():
    x, label = _two_gaussians(4, 300, 500, 0.7, 0.0)
    m = x.size
    F = np.column_stack([np.ones(m), x])
    f = np.random.default_rng(4).integers(1, 3, m).astype(float)
    folds = assign_folds(label.astype(int), 5, random_state=1)
    with x64_scope():
        out = crossfit_logistic(jnp.asarray(F), jnp.asarray(label), jnp.asarray(f), jnp.asarray(folds), 5)
        assert bool(out.converged)
        for k in range(5):
            train = folds != k
            res = logistic_fit(DenseDesign(X=jnp.asarray(F[train])), jnp.asarray(f[train]),
                               jnp.asarray(f[train] * label[train]), jnp.zeros(2), jnp.zeros(2))
            # Newton to a decrement of 1e-12 (relative): both solve the same problem to ~1e-12
            np.testing.assert_allclose(np.asarray(out.coef[k]), np.asarray(res.x), atol=1e-10)
            np.testing.assert_allclose(np.asarray(out.eta)[folds == k], F[folds == k] @ np.asarray(res.x), atol=1e-10)


# ----------------------------------------------------------------------------- density ratios
def test_density_ratio_from_probabilities_recovers_the_gaussian_log_ratio():
    """Two unit-variance Gaussians: log p1/p0 = (mu1 - mu0) x - (mu1^2 - mu0^2)/2, linear in x, so the
    logistic classifier is well specified. Unequal sample sizes (n1 = 2 n0) make the size-ratio factor
    matter: forgetting it shifts the log-ratio by log 2 = 0.69, ~20 standard errors here. Tolerance:
    the cross-fitted log-ratio at a point x is a logistic-regression prediction with standard error
    se(x) = sqrt(a^T V a), a = (1, x), V the inverse information of the fit on 4/5 of the data; we
    require |error| < 4.5 se(x) at 5 points (Bonferroni over 5 points x 5 folds at family level 1e-3
    gives z = 4.1)."""
    mu1, mu0, n1, n0 = 0.6, 0.0, 4000, 2000
    x, label = _two_gaussians(5, n1, n0, mu1, mu0)
    m = x.size
    F = np.column_stack([np.ones(m), x])
    folds = assign_folds(label.astype(int), 5, random_state=2)
    with x64_scope():
        # crossfit_logistic_ratio estimates dP_pool/dP_human with pool = 1 - human: pool is label 1
        w, p, ok = crossfit_logistic_ratio(jnp.asarray(F), jnp.asarray(1.0 - label), jnp.ones(m), jnp.asarray(folds), 5)
    assert bool(ok)
    w, p = np.asarray(w), np.asarray(p)
    true_log = (mu1 - mu0) * x - (mu1**2 - mu0**2) / 2
    grid = np.quantile(x, [0.1, 0.3, 0.5, 0.7, 0.9])
    idx = np.abs(x[:, None] - grid).argmin(axis=0)
    for r in idx:
        train = folds != folds[r]
        sig = p[train]  # out-of-fold P(label 1): close enough to the in-fold fit for a standard error
        info = (F[train].T * (sig * (1 - sig))) @ F[train]
        se = np.sqrt(F[r] @ np.linalg.solve(info, F[r]))
        assert abs(np.log(w[r]) - true_log[r]) < 4.5 * se, (x[r], np.log(w[r]), true_log[r], se)
    # the same ratio from probabilities (odds times sample-size ratio) and from log-odds
    prior = (label[folds != 0] == 0).sum() / (label[folds != 0] == 1).sum()
    np.testing.assert_allclose(density_ratio_from_proba(p[folds == 0], prior), w[folds == 0], rtol=1e-12)
    np.testing.assert_allclose(density_ratio_from_logodds(np.log(p / (1 - p))[folds == 0], prior), w[folds == 0],
                               rtol=1e-10)
    # E_0[r(X)] = 1: the weighted denominator sample has the numerator's size; MC error of the mean of w
    # over n0 rows is sd(w)/sqrt(n0), tolerance 4 of those
    w0 = w[label == 0]
    assert abs(w0.mean() - 1) < 4 * w0.std() / np.sqrt(n0)


def test_relative_ratio_is_bounded_and_equals_the_closed_form():
    rng = np.random.default_rng(6)
    x = rng.normal(0, 2, 500)
    p1, p0 = stats.norm.pdf(x, 1.5, 1.0), stats.norm.pdf(x, 0.0, 1.0)
    r = p1 / p0
    assert r.max() > 100  # the ordinary ratio is unbounded here
    for alpha in (0.1, 0.5, 0.9, 1.0):
        ra = relative_density_ratio(r, alpha)
        np.testing.assert_allclose(ra, p1 / (alpha * p1 + (1 - alpha) * p0), rtol=1e-12)
        assert ra.max() <= 1 / alpha + 1e-12 and ra.min() >= 0
    np.testing.assert_array_equal(relative_density_ratio(r, 0.0), r)
    assert relative_density_ratio(np.array([np.inf]), 0.25)[0] == 4.0
    with x64_scope():  # traceable: the same numbers under jit
        jitted = jax.jit(relative_density_ratio, static_argnums=1)(jnp.asarray(r), 0.5)
    np.testing.assert_allclose(np.asarray(jitted), relative_density_ratio(r, 0.5), rtol=1e-14)
    with pytest.raises(ValueError, match="alpha must lie in \\[0, 1\\]"):
        relative_density_ratio(r, 1.5)


# ----------------------------------------------------------------------------- overlap
def test_kish_ess_and_top_share_formulas():
    assert kish_ess(np.ones(40)) == 40
    assert kish_ess([1, 1, 1, 1, 5]) == pytest.approx(81 / 29, rel=1e-15)
    w = np.random.default_rng(7).lognormal(0, 1, 50)
    f = np.random.default_rng(8).integers(1, 5, 50)
    # a row of frequency weight 3 is three units
    assert kish_ess(w, f) == pytest.approx(kish_ess(np.repeat(w, f)), rel=1e-12)
    assert top_share(w, f) == pytest.approx(top_share(np.repeat(w, f)), rel=1e-12)
    assert top_share(np.ones(300)) == pytest.approx(0.01, rel=1e-12)
    # 300 units: the top 1% are the 3 largest
    v = np.r_[np.ones(297), 10.0, 20.0, 30.0]
    assert top_share(v) == pytest.approx(60 / 357, rel=1e-12)
    d = weight_diagnostics(v)
    assert (d.max, d.n) == (30.0, 300.0) and d.mean == pytest.approx(357 / 300) and d.ess == pytest.approx(kish_ess(v))


def test_poor_overlap_warning():
    assert debiased.PoorOverlapWarning is PoorOverlapWarning  # importable from where it always was
    good = weight_diagnostics(np.random.default_rng(9).uniform(0.5, 1.5, 300))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert warn_poor_overlap(good) is False
    poor = weight_diagnostics(np.r_[np.full(290, 0.01), np.full(10, 30.0)])
    assert poor.ess < 0.2 * 300
    with pytest.warns(PoorOverlapWarning, match="effective sample size of 1.*out of 300 human units"):
        assert warn_poor_overlap(poor) is True


# ----------------------------------------------------------------------------- two-sample view
def test_two_sample_view():
    view = split_samples([1, np.nan, 0.5, None, 0], [0.2, 1, 1, 0, 0])
    np.testing.assert_array_equal(view.human, [True, False, True, False, True])
    np.testing.assert_array_equal(view.pool, ~view.human)
    np.testing.assert_array_equal(view.y, [1, 0, 0.5, 0, 0])
    human, y, ai = view  # unpacks as before
    np.testing.assert_array_equal(ai, [0.2, 1, 1, 0, 0])
    np.testing.assert_array_equal(known_ratio([2.0, 3.0, 4.0], human), [2, 1, 3, 1, 4])
    np.testing.assert_array_equal(known_ratio([2.0, 9, 3.0, 9, 4.0], human), [2, 1, 3, 1, 4])
    # cluster ids numbered within each sample; pool rows without ids are independent (-1)
    np.testing.assert_array_equal(group_codes(["a", "x", "b", "y", "a"], human, 5), [0, 0, 1, 1, 0])
    np.testing.assert_array_equal(group_codes(["a", None, "b", None, "a"], human, 5), [0, -1, 1, -1, 0])
    with pytest.raises(ValueError, match="missing ids on human-labelled row 2"):
        group_codes(["a", "x", None, "y", "a"], human, 5)
