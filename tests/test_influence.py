"""prefstat.inference.influence: covariances from per-row influence values (exact identities).

Every check compares two computations of one formula, so tolerances are rounding-level (1e-10
relative), except where one side is an MLE solved to Newton's stopping rule (stated there).
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.sparse as sp

import prefstat as ps
from prefstat._x64 import x64_scope
from prefstat.design import DenseDesign, SparseRowsDesign, sparse_rows_from_scipy
from prefstat.inference import (DenseInfluence, DesignInfluence, cluster_cov, cluster_influence_cov, influence_cov,
                                influence_sandwich, sandwich_cov)
from prefstat.losses import logistic_fit, logistic_group_scores, logistic_meat


def _logistic(seed, n=2000, d=3):
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(n, d))
    y = (rng.random(n) < 1 / (1 + np.exp(-Z @ np.linspace(-1, 1, d)))).astype(float)
    f = rng.integers(1, 4, n).astype(float)
    return rng, Z, y, f


def _mle(Z, y, f):
    design = DenseDesign(X=jnp.asarray(Z))
    res = logistic_fit(design, jnp.asarray(f), jnp.asarray(f * y), jnp.zeros(Z.shape[1]), jnp.zeros(Z.shape[1]))
    beta = np.asarray(res.x)
    psi = (y - 1 / (1 + np.exp(-Z @ beta)))[:, None] * Z  # per-row score
    return design, res, beta, psi


def test_influence_cov_of_mle_scores_is_the_sandwich():
    _, Z, y, f = _logistic(0)
    with x64_scope():
        design, res, beta, psi = _mle(Z, y, f)
        meat = logistic_meat(design, jnp.asarray(f), jnp.asarray(f * y), jnp.asarray(f * y * y), res.x)
        expected = np.asarray(sandwich_cov(res.hess, meat))
        got = np.asarray(influence_sandwich(res.hess, psi, f, center=False, ddof=0))
        # at the MLE the weighted scores sum to ~1e-12, so centring changes nothing at this precision
        centred = np.asarray(influence_sandwich(res.hess, psi, f, ddof=0))
    np.testing.assert_allclose(got, expected, rtol=1e-10)
    np.testing.assert_allclose(centred, expected, rtol=1e-10)
    bt = ps.BradleyTerry(cov_type="robust").fit(Z, y, sample_weight=f)
    np.testing.assert_allclose(got, bt.cov_, rtol=1e-10)


def test_ddof_and_centring_convention():
    rng = np.random.default_rng(1)
    psi = rng.normal(size=(50, 3)) + np.array([1.0, -2.0, 0.5])  # non-zero mean: centring matters
    f = rng.integers(1, 4, 50).astype(float)
    with x64_scope():
        got = np.asarray(influence_cov(psi, f))
        # frequency weights are repeated rows; then n * (unbiased sample covariance)
        rep = np.repeat(psi, f.astype(int), axis=0)
        np.testing.assert_allclose(got, rep.shape[0] * np.cov(rep.T, ddof=1), rtol=1e-10)
        np.testing.assert_allclose(np.asarray(influence_cov(psi, f, ddof=0)), rep.shape[0] * np.cov(rep.T, ddof=0),
                                   rtol=1e-10)
        np.testing.assert_allclose(np.asarray(influence_cov(psi, f, center=False, ddof=0)), rep.T @ rep, rtol=1e-10)


def test_two_sample_cov_is_the_sum_of_the_one_sample_covs():
    rng = np.random.default_rng(2)
    psi, phi = rng.normal(size=(2, 300, 4)) + 0.3
    f = rng.integers(0, 3, 300).astype(float)  # some zero weights: those rows drop out
    human = rng.random(300) < 0.3
    masks = (1.0 * ~human, 1.0 * human)
    with x64_scope():
        both = np.asarray(influence_cov(psi, f, masks))
        parts = sum(np.asarray(influence_cov(psi[s], f[s])) for s in (~human, human))
        np.testing.assert_allclose(both, parts, rtol=1e-10)
        cross = np.asarray(influence_cov(psi, f, masks, other=phi))
        parts = sum(np.asarray(influence_cov(psi[s], f[s], other=phi[s])) for s in (~human, human))
        np.testing.assert_allclose(cross, parts, rtol=1e-10)
        # ... and differs from pooling the two samples (their means differ)
        psi2 = psi + 2.0 * human[:, None]
        assert not np.allclose(np.asarray(influence_cov(psi2, f, masks)), np.asarray(influence_cov(psi2, f)),
                               rtol=1e-3)
        # traceable: the same numbers under jit and vmap
        jitted = jax.jit(lambda p, w: influence_cov(p, w, masks))(psi, f)
        vmapped = jax.vmap(lambda p: influence_cov(p, f, masks))(jnp.stack([psi, phi]))
    np.testing.assert_allclose(np.asarray(jitted), both, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(vmapped[0]), both, rtol=1e-12)


@pytest.mark.parametrize("sparse", [False, True])
def test_design_influence_equals_the_materialised_matrix(sparse):
    """psi_r = s_r x_r + E F_r e_r: moments and cluster sums from the design without forming psi."""
    rng = np.random.default_rng(3)
    m, p, q = 200, 5, 3
    X = rng.normal(size=(m, p)) * (rng.random((m, p)) < 0.5)
    s_a, s_b, e = rng.normal(size=(3, m))
    F = rng.normal(size=(m, q))
    E_a, E_b = rng.normal(size=(2, p, q))
    f = rng.integers(1, 3, m).astype(float)
    codes = rng.integers(0, 15, m)
    with x64_scope():
        if sparse:
            cols, vals = sparse_rows_from_scipy(sp.csr_matrix(X))
            design = SparseRowsDesign(jnp.asarray(cols), jnp.asarray(vals), p)
        else:
            design = DenseDesign(X=jnp.asarray(X))
        a = DesignInfluence(design, jnp.asarray(s_a), jnp.asarray(E_a), jnp.asarray(e), jnp.asarray(F))
        b = DesignInfluence(design, jnp.asarray(s_b), jnp.asarray(E_b), jnp.asarray(e), jnp.asarray(F))
        dense_a = s_a[:, None] * X + (e[:, None] * F) @ E_a.T
        dense_b = s_b[:, None] * X + (e[:, None] * F) @ E_b.T
        np.testing.assert_allclose(np.asarray(influence_cov(a, f, other=b)),
                                   np.asarray(influence_cov(dense_a, f, other=dense_b)), rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(np.asarray(a.cluster_sums(jnp.asarray(f), jnp.asarray(codes), 15)),
                                   np.asarray(DenseInfluence(jnp.asarray(dense_a)).cluster_sums(
                                       jnp.asarray(f), jnp.asarray(codes), 15)), rtol=1e-10, atol=1e-10)


def test_cluster_influence_cov_equals_cluster_cov():
    """One sample, MLE scores: the cluster sums are logistic_group_scores and, with statsmodels' factor,
    the sandwich is cluster_cov (and BradleyTerry's cluster covariance); without it, the plain sum."""
    rng, Z, y, f = _logistic(4)
    groups = rng.integers(0, 40, Z.shape[0])
    with x64_scope():
        design, res, beta, psi = _mle(Z, y, f)
        S = logistic_group_scores(design, jnp.asarray(f), jnp.asarray(f * y), res.x, jnp.asarray(groups), 40)
        expected = np.asarray(cluster_cov(res.hess, S, float(f.sum())))
        got = np.asarray(influence_sandwich(res.hess, psi, f, clusters=groups))
        raw = np.asarray(influence_sandwich(res.hess, psi, f, clusters=groups, correction=False, center=False))
        raw_expected = np.asarray(cluster_cov(res.hess, S, float(f.sum()), correction=False))
    # centring by the mean score (~1e-12 at the Newton solution) is below this tolerance
    np.testing.assert_allclose(got, expected, rtol=1e-10)
    np.testing.assert_allclose(raw, raw_expected, rtol=1e-10)
    bt = ps.BradleyTerry(cov_type="cluster").fit(Z, y, sample_weight=f, groups=groups)
    np.testing.assert_allclose(got, bt.cov_, rtol=1e-10)


def test_cluster_influence_cov_over_two_samples():
    rng = np.random.default_rng(5)
    psi = rng.normal(size=(400, 3)) + 0.2
    f = rng.integers(1, 3, 400).astype(float)
    human = rng.random(400) < 0.4
    codes = np.where(human, rng.integers(0, 20, 400), rng.integers(0, 30, 400))
    masks = (1.0 * human, 1.0 * ~human)
    with x64_scope():
        both = np.asarray(cluster_influence_cov(psi, codes, f, masks))
        parts = sum(np.asarray(cluster_influence_cov(psi[s], codes[s], f[s])) for s in (human, ~human))
        np.testing.assert_allclose(both, parts, rtol=1e-10)
        # pool rows without ids (-1) are independent units: their term is the row-level one
        codes_free = np.where(human, codes, -1)
        mixed = np.asarray(cluster_influence_cov(psi, codes_free, f, masks))
        expected = (np.asarray(cluster_influence_cov(psi[human], codes[human], f[human]))
                    + np.asarray(influence_cov(psi[~human], f[~human])))
        np.testing.assert_allclose(mixed, expected, rtol=1e-10)
        with pytest.raises(ValueError, match="missing codes \\(-1\\) on some rows of a sample"):
            cluster_influence_cov(psi, np.where(np.arange(400) == 0, -1, codes), f, masks)
        with pytest.raises(ValueError, match="one code per row"):
            cluster_influence_cov(psi, codes[:10], f, masks)


def test_debiased_bradley_terry_reports_through_estimation_results():
    rng = np.random.default_rng(6)
    k, n_rows = 4, 1200
    a = rng.integers(0, k, n_rows)
    b = (a + rng.integers(1, k, n_rows)) % k
    theta = np.array([0.5, 0.0, -0.3, 0.2])
    z = (rng.random(n_rows) < 1 / (1 + np.exp(-(theta[a] - theta[b])))).astype(float)
    ai = np.where(rng.random(n_rows) < 0.85, z, 1 - z)
    X = np.column_stack([np.array(list("ABCD"))[a], np.array(list("ABCD"))[b]])
    y = np.where(np.arange(n_rows) < 300, z, np.nan)
    est = ps.DebiasedBradleyTerry(order_effect=True).fit(X, y, ai_label=ai)
    res = est.results_
    assert res.names == ("A", "B", "C", "D", "order_effect")
    np.testing.assert_array_equal(res.estimate[:4], est.coef_)
    np.testing.assert_array_equal(res.cov[:4, :4], est.cov_)
    assert res.estimate[4] == est.order_effect_ and np.sqrt(res.cov[4, 4]) == est.order_effect_stderr_
    np.testing.assert_array_equal(est.conf_int(), res.interval()[:4])
    diff = res.t_test("A - C")
    c = np.array([1.0, 0, -1, 0, 0])
    assert diff.estimate[0] == pytest.approx(c @ res.estimate, abs=1e-15)
    assert diff.stderr[0] == pytest.approx(np.sqrt(c @ res.cov @ c), rel=1e-12)
    assert len(res.pairwise()) == 6


def test_host_inverse_of_the_bread():
    # Positive definite breads are inverted through their Cholesky factor on the host; indefinite,
    # singular and non-finite ones as before (LU, NaN when exactly singular).
    from prefstat.inference import model_cov

    rng = np.random.default_rng(0)
    A = rng.normal(size=(60, 40))
    H = A.T @ A
    np.testing.assert_allclose(model_cov(H), np.linalg.inv(H), rtol=1e-10, atol=0)
    assert np.array_equal(model_cov(H), model_cov(H).T)
    J = np.array([[1.0, 2.0], [2.0, 1.0]])  # indefinite
    np.testing.assert_allclose(model_cov(J), np.linalg.inv(J), rtol=1e-14)
    assert np.isnan(model_cov(np.ones((2, 2)))).all()
    np.testing.assert_array_equal(model_cov(np.array([[np.inf, 0.0], [0.0, 1.0]])),
                                  np.linalg.inv(np.array([[np.inf, 0.0], [0.0, 1.0]])))
