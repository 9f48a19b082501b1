"""LatentClassBT standard errors, confidence cone and accelerated EM (issue 18).

Oracles: with one class the mixture is Bradley-Terry, so the model-based and the
user-clustered covariances must equal BT's model and cluster covariances; the
per-user scores and the observed information are checked against an independent
numpy evaluation of the mixture likelihood (Fisher's identity for the scores, a
finite-difference Hessian for the information); the confidence-cone radius
against closed-form chi-square quantiles; accelerated EM against plain EM by the
likelihood it reaches. Coverage over 300 replications is a slow test.
"""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats
from scipy.special import expit, logsumexp

import prefstat as ps
from prefstat._x64 import x64_scope
from prefstat.design import DenseDesign
from prefstat.geometry import gaussian_cone_radius
from prefstat.inference import cluster_cov, reparametrize
from prefstat.models.latent_class import fit_core, inference_core
from prefstat.simulate.processes import HeterogeneousUsers

# two user types beta_bar +- 3 e_1 = (1, 4, 0) and (1, -2, 0), half the users each
TWO_TYPES = HeterogeneousUsers((1.0, 1.0, 0.0), heterogeneity="two_type", scale=3.0, contested_axis=1,
                               z_scale=math.sqrt(2.0), n_users=200)
TYPES = np.array([[1.0, 4.0, 0.0], [1.0, -2.0, 0.0]])


def draw(process, seed: int, n: int) -> dict:
    with x64_scope():
        data = jax.jit(lambda k: process.sample(k, n))(jax.random.PRNGKey(seed))
    return {k: np.asarray(v) for k, v in data.items()}


def user_loglik(Z, y, codes, n_users, theta, K):
    """numpy: (n_users,) mixture log-likelihood at theta = (logits of classes 1.., vec beta)."""
    p = Z.shape[1]
    logits = np.concatenate([[0.0], theta[:K - 1]])
    logpi = logits - logsumexp(logits)
    eta = Z @ theta[K - 1:].reshape(K, p).T
    per = np.zeros((n_users, K))
    np.add.at(per, codes, y[:, None] * eta - np.logaddexp(0.0, eta))
    return logsumexp(logpi + per, axis=1)


@pytest.fixture(scope="module")
def small_panel():
    # 60 users with 20 comparisons each: two types, separable enough for a clear optimum
    data = draw(HeterogeneousUsers((1.0, 1.0, 0.0), heterogeneity="two_type", scale=3.0, contested_axis=1,
                                   z_scale=math.sqrt(2.0), n_users=60), 5, 1200)
    lc = ps.LatentClassBT(n_classes=2, tol=1e-12, random_state=0).fit(data["Z"], data["y"], groups=data["user"])
    return data, lc


def test_one_class_covariances_are_bradley_terry():
    data = draw(TWO_TYPES, 2, 3000)
    Z, y, g = data["Z"], data["y"], data["user"]
    for cov_type in ("model", "cluster"):
        lc = ps.LatentClassBT(n_classes=1, n_init=1, tol=1e-12, cov_type=cov_type).fit(Z, y, groups=g)
        bt = ps.BradleyTerry(design="features", cov_type=cov_type).fit(Z, y, groups=g if cov_type == "cluster"
                                                                         else None)
        res = lc.results_
        assert res.names[:4] == ("pi[0]", "class0:x0", "class0:x1", "class0:x2")
        # pi is fixed at 1 with one class: no free parameter, zero variance
        assert res.stderr[0] == 0.0
        np.testing.assert_allclose(res.cov[1:4, 1:4], bt.cov_, rtol=1e-7)
        np.testing.assert_allclose(res.cov[4:7, 4:7], bt.cov_, rtol=1e-7)  # the mean is the class
        np.testing.assert_allclose(lc.stderr_[1:4], bt.stderr_, rtol=1e-7)


def test_scores_and_information_match_numpy_oracles(small_panel):
    data, lc = small_panel
    Z, y = data["Z"], data["y"]
    codes = np.searchsorted(lc.users_, data["user"]) if np.all(np.diff(lc.users_) > 0) else None
    if codes is None:  # users_ in order of first appearance
        lookup = {u: i for i, u in enumerate(lc.users_)}
        codes = np.array([lookup[u] for u in data["user"]])
    n_users, K = len(lc.users_), 2
    w, beta = lc.weights_, lc.class_coef_
    theta = np.concatenate([[np.log(w[1] / w[0])], beta.ravel()])
    with x64_scope():
        inf = inference_core(DenseDesign(jnp.asarray(Z)), jnp.asarray(y), jnp.ones(y.size), jnp.asarray(codes),
                             jnp.asarray(w), jnp.asarray(beta), n_users=n_users, n_classes=K)
    S, A = np.asarray(inf.user_scores), np.asarray(inf.bread)
    # Fisher's identity: d L_u / d beta_k = r_uk sum_{i in u} (y_i - sigma(beta_k z_i)) z_i, d L_u / d a_1 = r_u1 - pi_1
    r = lc.responsibilities_
    for k in range(K):
        res = (y - expit(Z @ beta[k]))[:, None] * Z
        per = np.zeros((n_users, 3))
        np.add.at(per, codes, res)
        np.testing.assert_allclose(S[:, 1 + 3 * k:4 + 3 * k], r[:, [k]] * per, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(S[:, 0], r[:, 1] - w[1], atol=1e-12)
    # at the MLE (EM run to tol 1e-12) the scores sum to zero
    assert np.abs(S.sum(axis=0)).max() < 1e-4 * np.abs(S).sum(axis=0).max()
    # the observed information: central finite differences of the numpy likelihood (step 1e-4: the
    # truncation error is O(h^2) ~ 1e-8 relative, the rounding O(eps / h^2) ~ 1e-8 times |loglik|)
    f = lambda t: user_loglik(Z, y, codes, n_users, t, K).sum()  # noqa: E731
    h, P = 1e-4, theta.size
    H = np.zeros((P, P))
    for i in range(P):
        for j in range(P):
            e_i, e_j = np.eye(P)[i] * h, np.eye(P)[j] * h
            H[i, j] = (f(theta + e_i + e_j) - f(theta + e_i - e_j) - f(theta - e_i + e_j) + f(theta - e_i - e_j)) / (4 * h * h)
    np.testing.assert_allclose(A, -H, rtol=1e-4, atol=1e-4 * np.abs(H).max())


def test_results_intervals_summary_and_cone(small_panel):
    data, lc = small_panel
    res = lc.results_
    d, K = 3, 2
    assert len(res.names) == K + K * d + 2 * d
    np.testing.assert_array_equal(res.estimate, np.concatenate([lc.weights_, lc.class_coef_.ravel(), lc.coef_,
                                                                lc.direction_]))
    ci = lc.conf_int(0.95)
    assert list(ci.columns) == ["lower", "upper"] and list(ci.index) == list(res.names)
    assert np.all((ci.lower < res.estimate) & (res.estimate < ci.upper))
    table = lc.summary()
    np.testing.assert_allclose(table.stderr.to_numpy(), lc.stderr_)
    # the weights sum to one, so their covariance has that constraint: var(pi0) = var(pi1) = -cov
    V = res.cov
    np.testing.assert_allclose([V[0, 0], V[1, 1]], -V[0, 1], rtol=1e-10)
    # the direction is a unit vector: its covariance annihilates it
    D = V[-d:, -d:]
    assert np.abs(D @ lc.direction_).max() < 1e-10 * np.abs(D).max()
    r90, r95 = lc.conf_cone(0.9), lc.conf_cone(0.95)
    assert 0 < r90 < r95 == pytest.approx(gaussian_cone_radius(D, 0.95))
    with pytest.raises(ValueError, match="level"):
        lc.conf_cone(1.0)
    with pytest.raises(ValueError, match="cov_type"):
        ps.LatentClassBT(cov_type="robust").fit(data["Z"], data["y"], groups=data["user"])
    # model-based and clustered covariances agree when the model holds (same order: 60 users, so a
    # relative difference of a few 1/sqrt(60) is sampling noise)
    lm = ps.LatentClassBT(n_classes=2, tol=1e-12, random_state=0, cov_type="model").fit(
        data["Z"], data["y"], groups=data["user"])
    ratio = lm.stderr_[2:8] / lc.stderr_[2:8]
    assert np.all((ratio > 0.6) & (ratio < 1.6)), ratio


def test_gaussian_cone_radius_exact_cases():
    deg = np.degrees
    # equal eigenvalues: the quantile of sqrt(lambda chi2_k)
    assert gaussian_cone_radius(np.diag([1e-4, 1e-4, 0.0]), 0.95) == pytest.approx(deg(0.01 * np.sqrt(stats.chi2.ppf(0.95, 2))), rel=1e-8)
    assert gaussian_cone_radius(np.diag([4e-6] * 3), 0.9) == pytest.approx(deg(2e-3 * np.sqrt(stats.chi2.ppf(0.9, 3))), rel=1e-8)
    # one eigenvalue: a normal quantile
    assert gaussian_cone_radius(np.diag([0.0, 1e-6]), 0.8) == pytest.approx(deg(1e-3 * stats.norm.ppf(0.9)), rel=1e-10)
    # unequal eigenvalues: Monte Carlo with 10^6 draws (quantile standard error ~0.05%; tolerance 0.3%)
    lam = np.array([1.0, 0.3, 0.05]) * 1e-4
    t = np.random.default_rng(0).normal(size=(1_000_000, 3)) * np.sqrt(lam)
    rot = np.linalg.qr(np.random.default_rng(1).normal(size=(3, 3)))[0]
    cov = rot @ np.diag(lam) @ rot.T
    assert gaussian_cone_radius(cov, 0.95) == pytest.approx(deg(np.quantile(np.linalg.norm(t, axis=1), 0.95)), rel=3e-3)


def test_accelerated_em_reaches_plain_em_likelihood():
    # the worked example with one comparison per user (the slow, ridge-like case) and a panel: the accelerated
    # EM must reach at least the likelihood of plain EM (up to its stopping tolerance, 1e-6 relative)
    cases = [(HeterogeneousUsers.worked_example(), 5000, 3), (TWO_TYPES, 4000, 2)]
    for process, n, K in cases:
        data = draw(process, 7, n)
        n_users = process.n_users or n
        with x64_scope():
            args = (DenseDesign(jnp.asarray(data["Z"])), jnp.asarray(data["y"]), jnp.ones(n), jnp.asarray(data["user"]),
                    jax.random.PRNGKey(0))
            fast = fit_core(*args, n_users=n_users, n_classes=K)
            plain = fit_core(*args, n_users=n_users, n_classes=K, accelerate=False)
        assert bool(fast.converged) and bool(plain.converged)
        assert float(fast.loglik) >= float(plain.loglik) - 1e-6 * abs(float(plain.loglik)), (fast.loglik, plain.loglik)


@pytest.mark.slow
def test_coverage_300_replications_two_types():
    # 300 replications, 200 users x 25 comparisons each from two types (finite population redrawn per
    # replication: the class shares vary, and the user-clustered sandwich must include that). Truth: the
    # super-population pi = (1/2, 1/2), beta = (1, 4, 0), (1, -2, 0), mean (1, 1, 0). With exact intervals
    # each coverage count is Binomial(300, 0.95): its central 99.9% band is used for every parameter.
    reps, n, level = 300, 5000, 0.95
    truth = np.concatenate([[0.5, 0.5], TYPES.ravel(), [1.0, 1.0, 0.0], np.array([1.0, 1.0, 0.0]) / math.sqrt(2)])
    keys = jax.random.split(jax.random.PRNGKey(181), reps)

    def one(key):
        data = TWO_TYPES.sample(key, n)
        design, y, w = DenseDesign(data["Z"]), data["y"], jnp.ones(n)
        res = fit_core(design, y, w, data["user"], jax.random.PRNGKey(0), n_users=200, n_classes=2)
        order = jnp.argsort(-res.coef[:, 1])  # class 0: the (1, 4, 0) type
        inf = inference_core(design, y, w, data["user"], res.weights[order], res.coef[order], n_users=200,
                             n_classes=2)
        cov = reparametrize(inf.T, cluster_cov(inf.bread, inf.user_scores, float(n)))
        est = jnp.concatenate([res.weights[order], res.coef[order].ravel(), res.mean_coef, res.direction])
        return est, cov, res.converged

    with x64_scope():
        f = jax.jit(jax.vmap(one))
        outs = [jax.tree_util.tree_map(np.asarray, f(keys[s:s + 50])) for s in range(0, reps, 50)]
    est, cov, conv = (np.concatenate([o[i] for o in outs]) for i in range(3))
    assert conv.all()
    se = np.sqrt(np.einsum("rii->ri", cov))
    z = stats.norm.ppf(0.5 + level / 2)
    covered = np.abs(est - truth) <= z * se
    lo, hi = stats.binom.ppf(0.0005, reps, level) / reps, stats.binom.isf(0.0005, reps, level) / reps
    rate = covered.mean(axis=0)
    # the direction's cone: angle to the truth against the radius from the direction block
    radius = np.array([gaussian_cone_radius(c[-3:, -3:], level) for c in cov])
    angle = np.degrees(np.arccos(np.clip(est[:, -3:] @ truth[-3:], -1, 1)))
    cone = np.mean(angle <= radius)
    print(f"coverage {np.round(rate, 3)}, cone {cone:.3f} (mean radius {radius.mean():.2f} deg, 95% quantile of the "
          f"angle {np.quantile(angle, level):.2f}), band [{lo:.3f}, {hi:.3f}]")
    # the direction's x2 coordinate is 0 with an x2 coefficient 0 in both classes; every other one too
    assert np.all((rate >= lo) & (rate <= hi)), rate
    assert lo <= cone <= hi
