"""Tests for prefstat.simulate.processes: the data-generating processes and their truths.

Monte-Carlo checks use fixed seeds and a 4-standard-error tolerance (SE computed
from the same sample), so a correct process fails a single check with
probability ~6e-5; deterministic truths are checked by refining their
quadrature rules.
"""
from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import jax.scipy.special as jsp
import numpy as np
import pytest
import statsmodels.api as sm
from scipy import integrate, sparse, special, stats

from prefstat._x64 import x64_scope
from prefstat.simulate import BiasedJudge, FeatureBT, GaussianClasses, HeterogeneousUsers, HomogeneousBT
from prefstat.geometry import angle_degrees
from prefstat.simulate.processes import numerics as N

Z4 = 4.0  # Monte-Carlo tolerance in standard errors


@functools.lru_cache(maxsize=None)
def sampler(proc, n_sizes):
    """One jitted sampler per process: tests sharing sizes share its compilation."""
    return jax.jit(proc.sample, static_argnums=tuple(range(1, 1 + n_sizes)))


@functools.lru_cache(maxsize=None)
def draw(proc, seed, *sizes):
    """Jitted sample as numpy arrays (cached: tests that need the same sample share it)."""
    with x64_scope():
        return {k: np.asarray(v) for k, v in sampler(proc, len(sizes))(jax.random.key(seed), *sizes).items()}


def within(est, truth, se, k=Z4):
    est, truth, se = map(np.asarray, (est, truth, se))
    z = np.abs(est - truth) / se
    assert np.all(z < k), f"|est - truth| / se = {z} (est={est}, truth={truth}, se={se})"


# The processes below are shared by several tests, each with one sample size, so
# every sampler is compiled once (XLA compilation dominates the test time).
HBT = HomogeneousBT(abilities=(-1.0, -0.4, 0.0, 0.3, 0.5, 0.9), order_effect=0.3)
HBT_N = (60_000,)
FEATURE = FeatureBT(beta=(1.0, -0.5, 0.25), z_cov=((1.0, 0.3, 0.0), (0.3, 1.5, 0.2), (0.0, 0.2, 0.8)))
FEATURE_N = (50_000,)
WORKED = HeterogeneousUsers.worked_example()
WORKED_N = (400_000,)
FINITE = HeterogeneousUsers((1.0, 0.5, -0.5), heterogeneity="isotropic", scale=1.0, n_users=7)
FINITE_N = (500,)
GAUSS = GaussianClasses((1.0, -1.0), (0.0, 0.5), ((1.0, 0.5), (0.5, 2.0)), 0.5, alpha=0.3)
GAUSS_N = (100_000, 50_000)
SHIFTED = BiasedJudge(beta_true=(1.0, -0.5, 0.3), link="probit", disagreement=(0.5, 1.5, -1.0),
                      pool_mean=(0.5, 0.0, 0.2), human_mean=(0.0, 0.3, -0.2), tilt=0.6,
                      position_bias=0.3, temperature=0.7, flip_rate=0.1)
SHIFTED_N = (200_000, 400_000)
SOFT = BiasedJudge((1.0, -1.0), pool_mean=(0.4, 0.0), judge_output="probability", tilt=1.0, flip_rate=0.2)
SOFT_N = (2_000, 200_000)
TWO_PROBIT = HeterogeneousUsers((1.0, 0.5), heterogeneity="two_type", scale=2.0, noise="probit")
TWO_PROBIT_N = (100_000,)


# ----------------------------------------------------------------------------
# generic sampler contract
# ----------------------------------------------------------------------------

# each sampler is exercised at the sizes of its statistical tests (no extra compilation)
@pytest.mark.parametrize("proc,sizes", [(HBT, HBT_N), (FEATURE, FEATURE_N), (TWO_PROBIT, TWO_PROBIT_N),
                                        (FINITE, FINITE_N), (GAUSS, GAUSS_N), (SOFT, SOFT_N)],
                         ids=["homogeneous", "feature", "users", "users-finite", "gaussian", "judge"])
def test_sampler_dtypes_jit_vmap_reproducible(proc, sizes):
    hash(proc)  # usable as a static argument
    with x64_scope():
        sample = sampler(proc, len(sizes))
        once = sample(jax.random.key(3), *sizes)
        again = sample(jax.random.key(3), *sizes)
        other = sample(jax.random.key(5), *sizes)
        keys = jax.random.split(jax.random.key(4), 2)
        batched = jax.jit(jax.vmap(proc.sample, in_axes=(0,) + (None,) * len(sizes)),
                          static_argnums=tuple(range(1, 1 + len(sizes))))(keys, *sizes)
        single = sample(keys[1], *sizes)
    for name, value in once.items():
        assert not value.weak_type, name
        value = np.asarray(value)
        if name in ("left", "right", "user"):
            assert value.dtype == np.int32, name
        elif name == "is_human":
            assert value.dtype == np.bool_
        else:
            assert value.dtype == np.float64, (name, value.dtype)
        np.testing.assert_array_equal(value, np.asarray(again[name]))  # same key -> same data
        assert batched[name].shape == (2,) + value.shape
        # vmap may fuse arithmetic differently: equal up to a few ulps
        np.testing.assert_allclose(np.asarray(batched[name][1]), np.asarray(single[name]),
                                   rtol=1e-14, atol=0)
    assert any(not np.array_equal(np.asarray(other[k]), np.asarray(v)) for k, v in once.items())


def test_sampler_refuses_float32():
    with pytest.raises(RuntimeError, match="enable_x64"):
        FeatureBT(beta=(1.0,)).sample(jax.random.key(0), 3)


def test_truths_are_readonly_float64():
    proc = HomogeneousBT(n_items=4)
    assert proc.truth.dtype == np.float64
    with pytest.raises(ValueError):
        proc.truth[0] = 1.0


# ----------------------------------------------------------------------------
# HomogeneousBT
# ----------------------------------------------------------------------------

def _pair_design(left, right, k):
    X = np.zeros((left.size, k))
    X[np.arange(left.size), left] += 1.0
    X[np.arange(left.size), right] -= 1.0
    return np.column_stack([X[:, 1:], np.ones(left.size)])  # reference item 0; order column (o = +1)


def test_homogeneous_bt_recovers_abilities_and_order_effect():
    proc = HBT
    np.testing.assert_allclose(proc.truth.sum(), 0.0, atol=1e-15)
    data = draw(proc, 1, *HBT_N)
    k = proc.n_items
    # sufficient statistics: wins per ordered pair
    cell = data["left"] * k + data["right"]
    n_ab = np.bincount(cell, minlength=k * k)
    w_ab = np.bincount(cell, weights=data["y"], minlength=k * k)
    keep = n_ab > 0
    a, b = np.divmod(np.arange(k * k)[keep], k)
    fit = sm.GLM(np.column_stack([w_ab[keep], n_ab[keep] - w_ab[keep]]), _pair_design(a, b, k),
                 family=sm.families.Binomial()).fit()
    true = np.concatenate([proc.truth[1:] - proc.truth[0], [proc.truth_order_effect]])
    within(fit.params, true, fit.bse)


@pytest.mark.parametrize("graph", ["complete", "sparse", "long_tail"])
def test_homogeneous_bt_graphs(graph):
    proc = HomogeneousBT(n_items=30, graph=graph, avg_degree=3.0, seed_abilities=2)
    Pm = proc.pair_probs
    np.testing.assert_allclose(Pm.sum(), 1.0, rtol=1e-14)
    np.testing.assert_array_equal(np.diag(Pm), 0.0)
    np.testing.assert_allclose(Pm, Pm.T, rtol=1e-14)  # both orientations: order effect identified
    n_comp, _ = sparse.csgraph.connected_components(sparse.csr_matrix(Pm > 0), directed=False)
    assert n_comp == 1
    degree = (Pm > 0).sum(axis=1)
    if graph == "complete":
        assert np.all(degree == 29) and np.ptp(Pm[Pm > 0]) == 0
    if graph == "sparse":
        assert degree.mean() == pytest.approx(3.0, abs=0.07)
        # a fixed graph: the same seed gives the same graph
        twin = HomogeneousBT(n_items=30, graph=graph, avg_degree=3.0, seed_abilities=2)
        np.testing.assert_array_equal(Pm, twin.pair_probs)
    if graph == "long_tail":
        share = Pm.sum(axis=1)
        assert share[:3].sum() > 0.3 and share[-10:].sum() < 0.15  # a few items meet often


def test_homogeneous_bt_long_tail_sample():
    # the sampler is the same inverse-CDF draw for every graph; the long tail is the hardest case
    proc = HomogeneousBT(n_items=30, graph="long_tail", seed_abilities=2)
    Pm = proc.pair_probs
    n = 20_000
    data = draw(proc, 2, n)
    # pairs follow pair_probs: chi-square goodness of fit over the support (one test, level 1e-4)
    counts = np.bincount(data["left"] * 30 + data["right"], minlength=900)
    support = Pm.ravel() > 0
    assert np.all(counts[~support] == 0)
    assert stats.chisquare(counts[support], n * Pm.ravel()[support]).pvalue > 1e-4
    # even the rarely compared tail items make the "beat" graph strongly connected (the MLE exists)
    win = data["y"] == 1.0
    winners = np.where(win, data["left"], data["right"])
    losers = np.where(win, data["right"], data["left"])
    beat = sparse.csr_matrix((np.ones(n), (winners, losers)), shape=(30, 30))
    n_strong, _ = sparse.csgraph.connected_components(beat, directed=True, connection="strong")
    assert n_strong == 1


def test_davidson_ties_and_half_win_target():
    proc = HomogeneousBT(abilities=(-1.2, -0.3, 0.4, 1.1), order_effect=0.5, tie_rate=0.3)
    n = 120_000
    data = draw(proc, 4, n)
    y = data["y"]
    assert set(np.unique(y)) == {0.0, 0.5, 1.0}
    Pm = proc.pair_probs
    a, b = np.nonzero(Pm)
    p_win, p_tie, _ = proc.outcome_probs(a, b)
    for observed, p in [((y == 0.5).mean(), Pm[a, b] @ p_tie), ((y == 1.0).mean(), Pm[a, b] @ p_win)]:
        within(observed, p, math.sqrt(p * (1 - p) / n))
    # half-win quasi-likelihood (ties as 1/2): converges to half_win_truth, not to the abilities;
    # sandwich SEs because the binomial variance is wrong for y in {0, 1/2, 1}
    fit = sm.GLM(y, _pair_design(data["left"], data["right"], 4), family=sm.families.Binomial()).fit(
        cov_type="HC0")
    theta_hw, gamma_hw = proc.half_win_truth
    within(fit.params, np.concatenate([theta_hw[1:] - theta_hw[0], [gamma_hw]]), fit.bse)
    full = np.concatenate([proc.truth[1:] - proc.truth[0], [proc.truth_order_effect]])
    assert np.max(np.abs(fit.params - full) / fit.bse) > 10  # the distinction is real


def test_half_win_target_without_ties_is_the_truth():
    proc = HomogeneousBT(n_items=7, graph="sparse", avg_degree=3.0, order_effect=-0.4)
    theta, gamma = proc.half_win_truth
    np.testing.assert_allclose(theta, proc.truth, atol=1e-12)
    assert gamma == pytest.approx(-0.4, abs=1e-12)


def test_homogeneous_bt_rejects_bad_input():
    with pytest.raises(ValueError, match="n_items"):
        HomogeneousBT(n_items=3, abilities=(0.0, 1.0))
    with pytest.raises(ValueError, match="graph"):
        HomogeneousBT(graph="ring")
    with pytest.raises(ValueError, match="avg_degree"):
        HomogeneousBT(n_items=5, graph="sparse", avg_degree=9.0)


def test_feature_bt_recovers_beta():
    proc = FEATURE
    data = draw(proc, 5, *FEATURE_N)
    np.testing.assert_allclose(data["p"], special.expit(data["Z"] @ proc.truth), rtol=1e-13)
    fit = sm.Logit(data["y"], data["Z"]).fit(disp=0)
    within(fit.params, proc.truth, fit.bse)


# ----------------------------------------------------------------------------
# HeterogeneousUsers
# ----------------------------------------------------------------------------

def test_logistic_scale_mixture_reproduces_the_logistic():
    s, w = N.logistic_scale_mixture()
    x = np.linspace(-40, 40, 4001)
    approx = (w[:, None] * special.ndtr(x[None, :] / s[:, None])).sum(axis=0)
    np.testing.assert_allclose(approx, special.expit(x), rtol=0, atol=2e-15)
    assert w.sum() == pytest.approx(1.0, abs=1e-14)
    assert w @ s**2 == pytest.approx(math.pi**2 / 3, abs=1e-13)  # logistic variance


@pytest.mark.filterwarnings("ignore::scipy.integrate.IntegrationWarning")  # the reference quad at 1e-16
def test_expected_probit_of_exponential():
    a, b = np.meshgrid([-30.0, -8.0, -3.0, -0.3, 0.0, 0.7, 5.0, 9.0, 40.0],
                       [-25.0, -1.0, -0.3, -0.0101, -0.0099, -5e-4, 0.0, 3e-4, 0.0099, 0.0101, 0.05, 0.4, 8.0])
    a, b = a.ravel(), b.ravel()

    def direct(ai, bi):
        # E ~ Exp(1) has mass e^-50 beyond 50; split where the probit argument crosses 0
        f = lambda e: math.exp(-e) * special.ndtr(ai + bi * e)  # noqa: E731
        kink = -ai / bi if bi != 0 and 0 < -ai / bi < 50 else None
        edges = [0.0, 50.0] if kink is None else [0.0, kink, 50.0]
        return sum(integrate.quad(f, lo, hi, epsabs=1e-16, epsrel=1e-14, limit=500)[0]
                   for lo, hi in zip(edges[:-1], edges[1:]))

    want = np.array([direct(ai, bi) for ai, bi in zip(a, b)])
    np.testing.assert_allclose(N.expected_probit_exponential(a, b, np, special), want, rtol=0, atol=1e-12)
    with x64_scope():
        got = jax.jit(lambda a, b: N.expected_probit_exponential(a, b, jnp, jsp))(a, b)
    np.testing.assert_allclose(np.asarray(got), want, rtol=0, atol=1e-12)


def _direct_preference(proc, z):
    """E_V[F(m + c V)] by adaptive quadrature straight from the definition."""
    F = special.expit if proc.noise == "logistic" else special.ndtr
    m = z @ np.asarray(proc.beta_bar)
    c = proc.scale * (np.linalg.norm(z) if proc.heterogeneity == "isotropic" else z[proc.contested_axis])
    kind = proc.heterogeneity
    if kind == "none":
        return F(m)
    if kind == "two_type":
        return 0.5 * (F(m + c) + F(m - c))
    if kind == "skewed":
        return integrate.quad(lambda e: math.exp(-e) * F(m + c * (e - 1)), 0, np.inf,
                              epsabs=1e-15, epsrel=1e-13, limit=500)[0]
    return integrate.quad(lambda v: stats.norm.pdf(v) * F(m + c * v), -np.inf, np.inf,
                          epsabs=1e-15, epsrel=1e-13, limit=500)[0]


KINDS = ["anisotropic", "isotropic", "two_type", "skewed", "none"]


@pytest.mark.parametrize("noise", ["logistic", "probit"])
@pytest.mark.parametrize("kind", KINDS)
def test_preference_prob_matches_definition(kind, noise):
    proc = HeterogeneousUsers((1.0, 1.0, 0.0), heterogeneity=kind, scale=3.0, contested_axis=1,
                              noise=noise, z_scale=math.sqrt(2))
    Z = np.random.default_rng(0).normal(size=(6, 3)) * 3.0
    Z[0] = 0.0
    got = proc.preference_prob(Z)
    want = [_direct_preference(proc, z) for z in Z]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-11)


SKEWED = HeterogeneousUsers((1.0, 1.0, 0.0), heterogeneity="skewed", scale=3.0, contested_axis=1,
                            z_scale=math.sqrt(2))
USER_CASES = [
    (WORKED, WORKED_N),
    (HeterogeneousUsers((1.0, 1.0, 0.0), heterogeneity="isotropic", scale=2.0, z_scale=1.5), (200_000,)),
    (SKEWED, (200_000,)),
    (TWO_PROBIT, TWO_PROBIT_N),
]
USER_IDS = ["worked", "isotropic", "skewed", "two-type-probit"]


@pytest.mark.parametrize("proc,sizes", USER_CASES, ids=USER_IDS)
def test_outcomes_follow_mixed_logit(proc, sizes):
    data = draw(proc, 9, *sizes)
    y, p = data["y"], data["p"]
    # the sampler's jax evaluation of p(z) agrees with the numpy one (on a subset: numpy is slow)
    np.testing.assert_allclose(p[:5_000], proc.preference_prob(data["Z"][:5_000]), rtol=0, atol=1e-13)
    var = p * (1 - p)
    assert abs(np.sum(y - p)) / math.sqrt(var.sum()) < Z4
    # calibration by deciles of p: E[y | z] = E_F[F(beta_u^T z)]
    bins = np.quantile(p, np.linspace(0, 1, 11))
    idx = np.clip(np.searchsorted(bins, p, side="right") - 1, 0, 9)
    for j in range(10):
        sel = idx == j
        within(y[sel].mean(), p[sel].mean(), math.sqrt(var[sel].sum()) / sel.sum())
    # and the answering user's own probability is what generated y
    F = special.expit if proc.noise == "logistic" else special.ndtr
    p_user = F(np.sum(data["beta_u"] * data["Z"], axis=1))
    assert abs(np.sum(y - p_user)) / math.sqrt(np.sum(p_user * (1 - p_user))) < Z4


@pytest.mark.parametrize("proc,sizes", USER_CASES, ids=USER_IDS)
def test_bt_limit_matches_logistic_regression(proc, sizes):
    data = draw(proc, 9, *sizes)
    # BT is misspecified here, so the sandwich (HC0) SE is the valid one
    fit = sm.Logit(data["y"], data["Z"]).fit(disp=0, cov_type="HC0")
    within(fit.params, proc.bt_limit, fit.bse)


def test_finite_user_population():
    data = draw(FINITE, 8, *FINITE_N)
    assert data["user"].min() >= 0 and data["user"].max() < 7
    for u in np.unique(data["user"]):
        rows = data["beta_u"][data["user"] == u]
        np.testing.assert_array_equal(rows, np.broadcast_to(rows[0], rows.shape))
    assert len(np.unique(data["beta_u"], axis=0)) == len(np.unique(data["user"]))


def test_worked_example_bt_limit_angle():
    proc = WORKED
    angle = proc.bt_limit_angle
    print(f"worked example: bt_limit = {proc.bt_limit}, angle to beta_bar = {angle:.6f} deg")
    assert 14.5 < angle < 15.5  # docs/methods.md#heterogeneous-users-worked-example: 15.1 degrees
    assert proc.bt_limit[2] == 0.0
    # BT down-weights the contested attribute (axis 1)
    assert proc.bt_limit[1] < proc.bt_limit[0]


@pytest.mark.parametrize("kind", KINDS)
def test_bt_limit_quadrature_precision(kind):
    proc = HeterogeneousUsers((1.0, 1.0, 0.0), heterogeneity=kind, scale=3.0, contested_axis=1,
                              z_scale=math.sqrt(2))
    np.testing.assert_allclose(proc._bt_limit(step=0.025), proc.bt_limit, rtol=0, atol=1e-12)


@pytest.mark.parametrize("noise", ["logistic", "probit"])
def test_bt_limit_parallel_cases(noise):
    # isotropic users, or homogeneous users: theta* parallel to beta_bar; homogeneous
    # logistic users: theta* = beta_bar exactly
    for kind in ("isotropic", "none"):
        proc = HeterogeneousUsers((0.6, -0.8, 0.3), heterogeneity=kind, scale=1.5, noise=noise)
        assert proc.bt_limit_angle < 1e-10
    proc = HeterogeneousUsers((0.6, -0.8, 0.3), heterogeneity="none")
    np.testing.assert_allclose(proc.bt_limit, proc.beta_bar, rtol=1e-13)


@pytest.mark.parametrize("noise", ["logistic", "probit"])
@pytest.mark.parametrize("kind", ["anisotropic", "two_type", "none"])
def test_sign_limit_is_direction_under_central_symmetry(kind, noise):
    proc = HeterogeneousUsers((1.0, 1.0, 0.0), heterogeneity=kind, scale=3.0, contested_axis=1, noise=noise)
    np.testing.assert_allclose(proc.sign_limit, proc.direction, rtol=0, atol=1e-10)


def test_skewed_sign_limit_maximises_population_score():
    proc = SKEWED
    b0 = proc.sign_limit
    np.testing.assert_allclose(proc._sign_limit(step=0.025), b0, rtol=0, atol=1e-12)
    q0 = proc.max_score(b0)
    rng = np.random.default_rng(1)
    for _ in range(10):
        b = b0 + 0.02 * rng.normal(size=3)
        assert proc.max_score(b) < q0
    # negative control: the sign estimator does not target beta_bar here, nor exactly the median user
    assert angle_degrees(b0, proc.direction) > 20
    assert angle_degrees(b0, proc.median_direction) > 5
    # the population score agrees with its Monte-Carlo counterpart
    n = 200_000
    data = draw(proc, 9, n)  # the sample of the USER_CASES tests
    s = 2 * data["y"] - 1
    for b in (b0, proc.direction, proc.median_direction):
        terms = s * np.sign(data["Z"] @ b)
        within(terms.mean(), proc.max_score(b), terms.std() / math.sqrt(n))


def test_heterogeneous_users_rejects_bad_input():
    with pytest.raises(ValueError, match="heterogeneity"):
        HeterogeneousUsers((1.0,), heterogeneity="wild")
    with pytest.raises(ValueError, match="non-zero"):
        HeterogeneousUsers((0.0, 0.0))
    with pytest.raises(ValueError, match="contested_axis"):
        HeterogeneousUsers((1.0, 1.0), contested_axis=2)


# ----------------------------------------------------------------------------
# GaussianClasses
# ----------------------------------------------------------------------------

def test_gaussian_reference_pearson_divergences():
    proc = GaussianClasses(mu_plus=1.0, mu_minus=0.0)
    reference = {0.0: 0.859141, 0.1: 0.467441, 0.39: 0.154981, 0.5: 0.102027}
    for alpha, value in reference.items():
        assert proc.pe_alpha(alpha) == pytest.approx(value, abs=1e-5)
        assert proc.pe_alpha_error(alpha) < 1e-10
    assert proc.pe_alpha(0.0) == pytest.approx((math.e - 1) / 2, abs=1e-14)
    assert GaussianClasses(1.0, 0.0, alpha=0.39).truth == pytest.approx(0.154981, abs=1e-5)


def test_gaussian_log_ratio_matches_scipy():
    x1 = np.linspace(-4, 5, 50)
    proc = GaussianClasses(1.0, -0.5, 0.7, 1.6)
    want = stats.norm.logpdf(x1, 1.0, math.sqrt(0.7)) - stats.norm.logpdf(x1, -0.5, math.sqrt(1.6))
    np.testing.assert_allclose(proc.log_ratio(x1), want, rtol=1e-12)
    cp, cm = np.array([[1.0, 0.4], [0.4, 2.0]]), np.array([[1.5, -0.2], [-0.2, 0.7]])
    proc2 = GaussianClasses((1.0, 0.5), (0.0, -1.0), cp, cm, alpha=0.2)
    X = np.random.default_rng(0).normal(size=(40, 2)) * 2
    want2 = (stats.multivariate_normal((1.0, 0.5), cp).logpdf(X)
             - stats.multivariate_normal((0.0, -1.0), cm).logpdf(X))
    np.testing.assert_allclose(proc2.log_ratio(X), want2, rtol=1e-12)
    r = proc2.r_alpha(X)
    np.testing.assert_allclose(r, np.exp(want2) / (0.2 * np.exp(want2) + 0.8), rtol=1e-12)
    assert np.all(r <= 1 / 0.2)
    np.testing.assert_allclose(proc2.r_alpha(X, alpha=0.0), np.exp(want2), rtol=1e-12)


def test_gaussian_pe_closed_form_and_quadrature_paths():
    # alpha = 0 closed form against direct quadrature of p+^2 / p- (unequal variances)
    proc = GaussianClasses(1.0, 0.0, 0.8, 1.2)
    direct = integrate.quad(lambda x: stats.norm.pdf(x, 1, math.sqrt(0.8)) ** 2
                            / stats.norm.pdf(x, 0, math.sqrt(1.2)), -30, 30, epsabs=1e-14)[0]
    assert proc.pe_alpha(0.0) == pytest.approx(0.5 * (direct - 1), abs=1e-12)
    assert GaussianClasses(0.0, 0.0, 1.0, 0.4).pe_alpha(0.0) == math.inf  # p+^2/p- not integrable
    # equal covariances in d = 3 reduce to one dimension along the discriminant
    cov = np.array([[1.0, 0.3, 0.0], [0.3, 1.0, 0.2], [0.0, 0.2, 2.0]])
    mu = np.array([0.5, -0.4, 0.3])
    m2 = mu @ np.linalg.solve(cov, mu)
    same = GaussianClasses(mu, (0.0, 0.0, 0.0), cov, cov)
    one_d = GaussianClasses(math.sqrt(m2), 0.0)
    for alpha in (0.0, 0.25):
        assert same.pe_alpha(alpha) == pytest.approx(one_d.pe_alpha(alpha), abs=1e-12)


def test_gaussian_pe_quasi_monte_carlo_path():
    # unequal 2-d covariances whose ratio depends on x_1 only: the truth is a 1-d quadrature
    proc = GaussianClasses((1.0, 0.0), (0.0, 0.0), ((1.0, 0.0), (0.0, 2.0)), ((1.5, 0.0), (0.0, 2.0)))
    one_d = GaussianClasses(1.0, 0.0, 1.0, 1.5)
    for alpha in (0.1, 0.5):
        value, err = proc.pe_alpha(alpha), proc.pe_alpha_error(alpha)
        assert 0 < err < 1e-5
        # tolerance: 4 reported (randomised-QMC) standard errors
        assert abs(value - one_d.pe_alpha(alpha)) < Z4 * err


def test_gaussian_sample_moments():
    cp = np.asarray(GAUSS.cov_plus)
    n_plus, n_minus = GAUSS_N
    data = draw(GAUSS, 11, *GAUSS_N)
    assert data["X_plus"].shape == (n_plus, 2) and data["X_minus"].shape == (n_minus, 2)
    within(data["X_plus"].mean(axis=0), GAUSS.mu_plus, np.sqrt(np.diag(cp) / n_plus))
    within(data["X_minus"].mean(axis=0), GAUSS.mu_minus, np.sqrt(0.5 / n_minus))
    # sample covariance: SE of entry (i, j) is sqrt((S_ii S_jj + S_ij^2) / n) for Gaussian data
    se = np.sqrt((np.outer(np.diag(cp), np.diag(cp)) + cp**2) / n_plus)
    within(np.cov(data["X_plus"].T), cp, se)


# ----------------------------------------------------------------------------
# BiasedJudge
# ----------------------------------------------------------------------------

N_HUMAN, N_POOL = SHIFTED_N


def test_biased_judge_table_layout():
    nh = N_HUMAN
    data = draw(SHIFTED, 14, *SHIFTED_N)
    assert data["Z"].shape == (N_HUMAN + N_POOL, 3)
    np.testing.assert_array_equal(data["is_human"], np.arange(N_HUMAN + N_POOL) < nh)
    assert np.all(np.isnan(data["y"][nh:])) and set(np.unique(data["y"][:nh])) == {0.0, 1.0}
    assert np.all(np.isnan(data["w_true"][nh:]))
    np.testing.assert_allclose(data["w_true"][:nh], SHIFTED.density_ratio(data["Z"][:nh]), rtol=1e-13)
    assert set(np.unique(data["ai_label"])) == {0.0, 1.0}
    np.testing.assert_allclose(data["g"], SHIFTED.human_preference(data["Z"]), rtol=1e-13)
    np.testing.assert_allclose(data["ai_prob"], SHIFTED.judge_prob(data["Z"]), rtol=1e-13)
    # human labels follow g on the human rows (4 SE)
    y, g = data["y"][:nh], data["g"][:nh]
    assert abs(np.sum(y - g)) / math.sqrt(np.sum(g * (1 - g))) < Z4
    soft = draw(SOFT, 15, *SOFT_N)["ai_label"]
    assert np.all((soft > 0) & (soft < 1)) and len(np.unique(soft)) == soft.size


def test_density_ratio_integrates_correctly():
    n = N_HUMAN
    data = draw(SHIFTED, 14, *SHIFTED_N)
    h, pool = data["Z"][:n], data["Z"][n:]
    w = data["w_true"][:n]
    within(w.mean(), 1.0, w.std() / math.sqrt(n))  # E_human[w] = 1
    g_h, g_p = data["g"][:n], data["g"][n:]
    for f_h, f_p in [(h[:, 0], pool[:, 0]), (g_h, g_p), (h[:, 1] ** 2, pool[:, 1] ** 2)]:
        # E_human[w f] = E_pool[f]; independent samples, so the SEs add in quadrature
        se = math.sqrt((w * f_h).var() / n + f_p.var() / N_POOL)
        within((w * f_h).mean(), f_p.mean(), se)


def test_oracle_bt_psi_and_agreement_match_monte_carlo():
    n = N_POOL
    data = draw(SHIFTED, 14, *SHIFTED_N)
    Z, g, ai_label = data["Z"][N_HUMAN:], data["g"][N_HUMAN:], data["ai_label"][N_HUMAN:]
    labels = (np.random.default_rng(0).random(n) < g).astype(float)  # human labels on the pool
    fit = sm.Logit(labels, Z).fit(disp=0, cov_type="HC0")  # g is not BT: sandwich SE
    within(fit.params, SHIFTED.oracle_bt, fit.bse)
    within(g.mean(), SHIFTED.psi, g.std() / math.sqrt(n))
    within(labels.mean(), SHIFTED.psi, labels.std() / math.sqrt(n))
    agree = (ai_label == labels).astype(float)
    within(agree.mean(), SHIFTED.judge_agreement, agree.std() / math.sqrt(n))
    assert SHIFTED.psi > 0.55  # the pool is not centred, so psi is not trivially 1/2


def test_judge_agreement_for_probability_output():
    n_human, n = SOFT_N
    data = draw(SOFT, 15, *SOFT_N)
    labels = (np.random.default_rng(1).random(n) < data["g"][n_human:]).astype(float)
    a = data["ai_label"][n_human:]
    soft = a * labels + (1 - a) * (1 - labels)
    within(soft.mean(), SOFT.judge_agreement, soft.std() / math.sqrt(n))


def test_well_specified_oracle_and_quadrature_precision():
    proc = BiasedJudge((0.8, -0.4, 1.0), pool_mean=(0.3, 0.3, 0.0))
    np.testing.assert_array_equal(proc.oracle_bt, proc.beta_true)
    np.testing.assert_allclose(proc._oracle_bt(refine=1.0), proc.beta_true, atol=1e-12)
    # SHIFTED is the hardest tested case (probit link with disagreement, three dimensions)
    np.testing.assert_allclose(SHIFTED._oracle_bt(refine=1.25), SHIFTED.oracle_bt, rtol=0, atol=1e-11)
    assert SHIFTED._psi(refine=1.25) == pytest.approx(SHIFTED.psi, abs=1e-12)
    assert SHIFTED._judge_agreement(refine=1.25) == pytest.approx(SHIFTED.judge_agreement, abs=1e-8)


def test_judge_agreement_decreases_with_flip_rate():
    base = dict(beta_true=(1.5, -1.0), tilt=0.8, position_bias=0.4, pool_mean=(0.2, 0.0))
    agreement = [BiasedJudge(**base, flip_rate=f).judge_agreement for f in (0.0, 0.1, 0.2, 0.3)]
    assert agreement[0] > 0.5 and np.all(np.diff(agreement) < 0)
    # flips are independent of everything: agreement(f) = (1 - f) a0 + f (1 - a0)
    for f, a in zip((0.1, 0.2, 0.3), agreement[1:]):
        assert a == pytest.approx((1 - f) * agreement[0] + f * (1 - agreement[0]), abs=1e-12)


def test_judge_biases_enter_the_logit():
    proc = BiasedJudge((1.0, 0.0), position_bias=0.7, temperature=0.5, tilt=2.0, tilt_feature=1)
    origin = np.zeros((1, 2))
    assert proc.judge_prob(origin)[0] == pytest.approx(special.expit(0.7 / 0.5), rel=1e-14)
    assert proc.human_preference(origin)[0] == pytest.approx(0.5, rel=1e-14)
    z = np.array([[0.3, 1.0]])
    assert proc.judge_prob(z)[0] == pytest.approx(special.expit((0.3 + 2.0 + 0.7) / 0.5), rel=1e-14)
    np.testing.assert_allclose(proc.density_ratio(np.random.default_rng(0).normal(size=(5, 2))), 1.0)
