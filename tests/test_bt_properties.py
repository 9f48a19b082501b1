"""Exact invariances of the Bradley-Terry MLE, checked with hypothesis.

Each property is an identity between two MLEs of the SAME likelihood written
in two ways, so the only discrepancy is the solver's: Newton stops at
max|grad| <= 1e-12 * total weight, which moves an estimate by at most
~1e-12 * n * ||H^-1|| ~ 1e-10 on these small, well-conditioned problems; the
covariances are smooth functions of the estimate. We therefore use 1e-8
(absolute on estimates, relative on standard errors): 100x the solver error,
and still 5+ orders of magnitude below any real bug (e.g. a wrong weight
gives O(1e-2) differences).

Shapes are kept to a few values (k in {4, 5}, <= 64 aggregated cells) so JAX
compiles only a handful of programs; max_examples is modest for runtime.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import prefstat as ps
from conftest import item_X, simulate_items

# These tests pass the same groups to every cov_type on purpose; the warning that non-cluster
# fits ignore them is tested in test_model_shell.py.
pytestmark = pytest.mark.filterwarnings("ignore:groups= is not used:UserWarning")

TOL = 1e-8
SETTINGS = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
seeds = st.integers(0, 2**31 - 1)


def _fit(X, y, **kw):
    fit_kw = {k: kw.pop(k) for k in ("sample_weight", "groups", "order") if k in kw}
    return ps.BradleyTerry(**kw).fit(X, y, **fit_kw)


def _by_label(bt):
    return dict(zip(bt.items_, zip(bt.coef_, bt.stderr_)))


@SETTINGS
@given(seed=seeds, k=st.sampled_from([4, 5]), order=st.booleans(), ties=st.sampled_from([0.0, 0.3]),
       perm_seed=seeds)
def test_relabelling_items_permutes_estimates(seed, k, order, ties, perm_seed):
    d = simulate_items(seed, k=k, n=120, order=order, ties=ties)
    rng = np.random.default_rng(perm_seed)
    new_names = np.array([f"z{j}" for j in rng.permutation(k)], dtype=object)
    rename = dict(zip(d["labels"], new_names))
    X = item_X(d)
    X2 = np.vectorize(rename.get, otypes=[object])(X)
    a = _fit(X, d["y"], order_effect=order, order=d["order"])
    b = _fit(X2, d["y"], order_effect=order, order=d["order"])
    ea, eb = _by_label(a), _by_label(b)
    for old, new in rename.items():
        np.testing.assert_allclose(eb[new][0], ea[old][0], atol=TOL)
        np.testing.assert_allclose(eb[new][1], ea[old][1], rtol=TOL)
    if order:
        np.testing.assert_allclose(b.order_effect_, a.order_effect_, atol=TOL)
    # with a reference item: the renamed reference gives the renamed estimates
    ref = d["labels"][seed % k]
    ar = _fit(X, d["y"], reference=ref)
    br = _fit(X2, d["y"], reference=rename[ref])
    ea, eb = _by_label(ar), _by_label(br)
    for old, new in rename.items():
        np.testing.assert_allclose(eb[new][0], ea[old][0], atol=TOL)
        np.testing.assert_allclose(eb[new][1], ea[old][1], rtol=TOL, atol=1e-300)


@SETTINGS
@given(seed=seeds, k=st.sampled_from([4, 5]), order=st.booleans(), ties=st.sampled_from([0.0, 0.3]),
       cov_type=st.sampled_from(["model", "robust"]))
def test_swapping_sides_and_flipping_outcomes_leaves_abilities_unchanged(seed, k, order, ties, cov_type):
    """(a, b, y, o) -> (b, a, 1 - y, -o) is the same comparison written the other way round."""
    d = simulate_items(seed, k=k, n=120, order=order, ties=ties)
    X = item_X(d)
    a = _fit(X, d["y"], order_effect=order, order=d["order"], cov_type=cov_type)
    b = _fit(X[:, ::-1], 1.0 - d["y"], order_effect=order, order=None if not order else -d["order"],
             cov_type=cov_type)
    np.testing.assert_allclose(b.coef_, a.coef_, atol=TOL)
    np.testing.assert_allclose(b.stderr_, a.stderr_, rtol=TOL)
    if order:
        np.testing.assert_allclose(b.order_effect_, a.order_effect_, atol=TOL)
        np.testing.assert_allclose(b.order_effect_stderr_, a.order_effect_stderr_, rtol=TOL)


@SETTINGS
@given(seed=seeds, order=st.booleans(), ties=st.sampled_from([0.0, 0.3]), kind=st.sampled_from(["items", "features"]))
def test_integer_weights_equal_row_duplication(seed, order, ties, kind):
    """Frequency weights: w_i = 3 is three copies of row i, for the estimate AND for every covariance.

    Weights include 0 (= row deletion) for model and robust covariances. For the cluster
    covariance the weights are >= 1: a cluster whose rows all have weight 0 is a separate
    issue, covered by test_zero_weight_cluster_is_dropped.
    """
    rng = np.random.default_rng(seed)
    if kind == "items":
        d = simulate_items(seed, k=4, n=100, order=order, ties=ties, weights=True, n_groups=5)
        X, y, w, g, o = item_X(d), d["y"], d["w"], d["groups"], d["order"]
    else:
        n = 80
        X = rng.normal(size=(n, 3))
        y = (rng.random(n) < 1 / (1 + np.exp(-X @ [1.0, -0.5, 0.3]))).astype(float)
        if ties:
            y[rng.random(n) < ties] = 0.5
        w = rng.integers(0, 4, n).astype(float)
        w[:10] = 1.0  # never all zero
        g = rng.integers(0, 5, n)
        o = rng.integers(-1, 2, n).astype(float) if order else None
    for cov_type in ("model", "robust", "cluster"):
        ww = w if cov_type != "cluster" else np.maximum(w, 1.0)
        rr = ww.astype(int)
        Xr, yr, gr = np.repeat(X, rr, axis=0), np.repeat(y, rr), np.repeat(g, rr)
        orr = None if o is None else np.repeat(o, rr)
        a = _fit(X, y, sample_weight=ww, groups=g, order=o, order_effect=order, cov_type=cov_type)
        b = _fit(Xr, yr, groups=gr, order=orr, order_effect=order, cov_type=cov_type)
        np.testing.assert_allclose(a.coef_, b.coef_, atol=TOL, err_msg=cov_type)
        np.testing.assert_allclose(a.stderr_, b.stderr_, rtol=TOL, atol=1e-300, err_msg=cov_type)
        assert a.nobs_ == b.nobs_ == rr.sum()
        if order:
            np.testing.assert_allclose(a.order_effect_stderr_, b.order_effect_stderr_, rtol=TOL, err_msg=cov_type)


@SETTINGS
@given(seed=seeds, order=st.booleans(), kind=st.sampled_from(["items", "features"]))
def test_duplicating_the_data_divides_standard_errors_by_sqrt2(seed, order, kind):
    """Stacking the table on itself doubles the information and the meat: SE / sqrt(2) (model
    and robust HC0 alike), and leaves the MLE unchanged."""
    rng = np.random.default_rng(seed)
    if kind == "items":
        d = simulate_items(seed, k=5, n=100, order=order, ties=0.2)
        X, y, o = item_X(d), d["y"], d["order"]
    else:
        X = rng.normal(size=(70, 2))
        y = (rng.random(70) < 1 / (1 + np.exp(-X @ [0.8, -0.4]))).astype(float)
        o = rng.integers(-1, 2, 70).astype(float) if order else None
    X2, y2 = np.concatenate([X, X]), np.concatenate([y, y])
    o2 = None if o is None else np.concatenate([o, o])
    for cov_type in ("model", "robust"):
        a = _fit(X, y, order=o, order_effect=order, cov_type=cov_type)
        b = _fit(X2, y2, order=o2, order_effect=order, cov_type=cov_type)
        np.testing.assert_allclose(b.coef_, a.coef_, atol=TOL)
        np.testing.assert_allclose(b.stderr_ * np.sqrt(2.0), a.stderr_, rtol=TOL, atol=1e-300)
        if order:
            np.testing.assert_allclose(b.order_effect_stderr_ * np.sqrt(2.0), a.order_effect_stderr_, rtol=TOL)


@SETTINGS
@given(seed=seeds, j=st.integers(0, 2), log10c=st.floats(-3.0, 3.0), negative=st.booleans(),
       cov_type=st.sampled_from(["model", "robust"]))
def test_scaling_a_feature_column_divides_its_coefficient(seed, j, log10c, negative, cov_type):
    """beta^T z is invariant under z_j -> c z_j, beta_j -> beta_j / c (also for c < 0)."""
    rng = np.random.default_rng(seed)
    n = 90
    Z = rng.normal(size=(n, 3))
    y = (rng.random(n) < 1 / (1 + np.exp(-Z @ [1.0, -0.5, 0.3]))).astype(float)
    c = (-1.0 if negative else 1.0) * 10.0**log10c
    Zc = Z.copy()
    Zc[:, j] *= c
    a = _fit(Z, y, cov_type=cov_type)
    b = _fit(Zc, y, cov_type=cov_type)
    expect = a.coef_.copy()
    expect[j] /= c
    expect_se = a.stderr_.copy()
    expect_se[j] /= abs(c)
    # relative tolerance: the scaled coefficient can be 1e3 times larger or smaller
    np.testing.assert_allclose(b.coef_, expect, rtol=1e-7, atol=TOL * np.abs(expect).max())
    np.testing.assert_allclose(b.stderr_, expect_se, rtol=1e-7)


@pytest.mark.parametrize("c", [1e5, 1e6])
def test_scaling_a_feature_column_by_a_large_factor_still_fits(c):
    """The MLE is equivariant under rescaling a feature (a feature in other units, e.g. dollars
    instead of millions of dollars, c = 1e6). The fit must not fail or change beyond rounding.

    Tolerance 1e-7 (relative): a diagonal rescaling does not change the scaled condition number
    of the information matrix (Cholesky/LU errors are invariant to it, van der Sluis), so the
    rescaled fit is as accurate as the original one; observed error at c = 1e3..1e4 is ~1e-13.
    Currently fails: the stopping rule max|grad| <= 1e-12 * n is not scale-invariant (the
    gradient of the rescaled column carries rounding noise ~ eps * c * n), so Newton never
    'converges' and fit() raises 'did not converge'."""
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(200, 3))
    y = (rng.random(200) < 1 / (1 + np.exp(-Z @ [1.0, -0.5, 0.2]))).astype(float)
    a = ps.BradleyTerry().fit(Z, y)
    Zc = Z.copy()
    Zc[:, 1] *= c
    b = ps.BradleyTerry().fit(Zc, y)
    np.testing.assert_allclose(b.coef_ * [1.0, c, 1.0], a.coef_, rtol=1e-7)
    np.testing.assert_allclose(b.stderr_ * [1.0, c, 1.0], a.stderr_, rtol=1e-7)


def test_zero_weight_cluster_is_dropped():
    """A frequency weight of 0 deletes the row, in every covariance. A cluster whose rows all have
    weight 0 does not exist in the deleted-rows data, so it must not count in the number of
    clusters G of the small-sample factor G/(G-1) (exact identity, tolerance as above)."""
    d = simulate_items(5, k=5, n=200, n_groups=6)
    g, w = d["groups"].copy(), d["w"].copy()
    g[:30], w[:30] = "ghost", 0.0
    keep = w > 0
    ref = d["labels"][0]
    a = ps.BradleyTerry(cov_type="cluster", reference=ref).fit(item_X(d), d["y"], sample_weight=w, groups=g)
    b = ps.BradleyTerry(cov_type="cluster", reference=ref).fit(item_X(d)[keep], d["y"][keep], groups=g[keep])
    np.testing.assert_allclose(a.coef_, b.coef_, atol=TOL)
    np.testing.assert_allclose(a.stderr_, b.stderr_, rtol=TOL)
