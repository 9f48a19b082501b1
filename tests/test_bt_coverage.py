"""Simulation checks against a known Bradley-Terry model: Wald intervals cover the truth.

Coverage over R replications is Binomial(R, 0.95) when the intervals are
exact; we accept when it lies inside the central 99.9% band of that law
(Bonferroni over the handful of parameters checked per test keeps the
family-wise false-alarm rate near 1%). With R = 500 the band is about
0.95 +- 0.032: an interval that is 15% too narrow (coverage ~0.91) fails.
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

import prefstat as ps
from prefstat._x64 import x64_scope
from prefstat.design import SparseRowsDesign
from prefstat.models.bradley_terry import fit_core

# These tests pass the same groups to every cov_type on purpose; the warning that non-cluster
# fits ignore them is tested in test_model_shell.py.
pytestmark = pytest.mark.filterwarnings("ignore:groups= is not used:UserWarning")

K = 8
THETA = np.linspace(-1.0, 1.0, K) - np.linspace(-1.0, 1.0, K).mean()
GAMMA = 0.3
ITEMS = np.array([f"item{j}" for j in range(K)], dtype=object)


def binomial_band(reps: int, level: float = 0.95, confidence: float = 0.999):
    lo = stats.binom.ppf((1 - confidence) / 2, reps, level) / reps
    hi = stats.binom.isf((1 - confidence) / 2, reps, level) / reps
    return lo, hi


def simulate(rng, n, groups=0, rho=0.0):
    """BT rows; with groups, outcomes within a group are dependent through a Gaussian copula
    (latent correlation rho) while every row keeps its BT marginal P(y=1) = sigma(eta), so the
    abilities remain the target and only the dependence changes."""
    a = rng.integers(0, K, n)
    b = (a + rng.integers(1, K, n)) % K
    eta = THETA[a] - THETA[b] + GAMMA
    g = None
    u = rng.random(n)
    if groups:
        g = rng.integers(0, groups, n)
        latent = np.sqrt(rho) * rng.normal(size=groups)[g] + np.sqrt(1 - rho) * rng.normal(size=n)
        u = stats.norm.cdf(latent)
    y = (u < 1 / (1 + np.exp(-eta))).astype(float)
    return np.column_stack([ITEMS[a], ITEMS[b]]), y, g


def coverage(cov_type, reps, n, seed, **sim):
    rng = np.random.default_rng(seed)
    hits = np.zeros(K + 1)
    for _ in range(reps):
        X, y, g = simulate(rng, n, **sim)
        bt = ps.BradleyTerry(order_effect=True, cov_type=cov_type).fit(X, y, groups=g)
        ci = bt.summary().iloc[:, -2:].to_numpy()
        truth = np.r_[THETA, GAMMA]
        hits += (ci[:, 0] <= truth) & (truth <= ci[:, 1])
    return hits / reps


def test_model_based_wald_coverage_500_reps():
    reps = 500
    # n = 1200 (about 300 comparisons per item): at n = 600 the most extreme ability sits at
    # the lower edge of the band (0.916), the small-sample skew of the Wald interval.
    cover = coverage("model", reps, n=1200, seed=1)
    lo, hi = binomial_band(reps)
    assert np.all((cover >= lo) & (cover <= hi)), (cover, (lo, hi))


@pytest.mark.slow
def test_robust_wald_coverage_500_reps():
    reps = 500
    cover = coverage("robust", reps, n=1200, seed=2)
    lo, hi = binomial_band(reps)
    assert np.all((cover >= lo) & (cover <= hi)), (cover, (lo, hi))


@pytest.mark.slow
def test_cluster_coverage_when_rows_within_a_group_are_dependent():
    # Positively dependent outcomes within annotator groups: the model-based intervals are too
    # narrow for the order effect (every row carries it), the cluster-robust ones cover. 60 groups
    # keeps the cluster sandwich's own small-sample bias small.
    reps = 400
    sim = dict(groups=60, rho=0.5)
    cluster = coverage("cluster", reps, n=1200, seed=3, **sim)
    lo, hi = binomial_band(reps)
    assert np.all((cluster >= lo) & (cluster <= hi)), (cluster, (lo, hi))
    model = coverage("model", reps, n=1200, seed=3, **sim)
    assert model[-1] < lo, model


def test_vmapped_core_equals_estimator_shell():
    """Principle 1: the pure core vmapped over replications gives the class's numbers."""
    rng = np.random.default_rng(4)
    n, reps = 400, 16
    a = rng.integers(0, K, n)
    b = (a + rng.integers(1, K, n)) % K
    eta = THETA[a] - THETA[b]
    Y = (rng.random((reps, n)) < 1 / (1 + np.exp(-eta))).astype(float)
    # reference item 0 fixed at 0: columns are items 1..K-1
    cols = np.column_stack([np.maximum(a - 1, 0), np.maximum(b - 1, 0)]).astype(np.int32)
    vals = np.column_stack([(a > 0) * 1.0, (b > 0) * -1.0])
    with x64_scope():
        design = SparseRowsDesign(jnp.asarray(cols), jnp.asarray(vals), K - 1)
        W = jnp.ones(n)
        fits = jax.vmap(lambda wy: fit_core(design, W, wy, jnp.zeros(K - 1), jnp.zeros(K - 1)))(jnp.asarray(Y))
        assert fits.x.dtype == jnp.float64
    assert bool(np.all(fits.converged))
    for r in range(reps):
        bt = ps.BradleyTerry(reference="item0").fit(np.column_stack([ITEMS[a], ITEMS[b]]), Y[r])
        np.testing.assert_allclose(bt.coef_[1:], np.asarray(fits.x[r]), atol=1e-10)
        np.testing.assert_allclose(bt.stderr_[1:], np.sqrt(np.diag(np.linalg.inv(fits.hess[r]))), rtol=1e-9)
