"""Latent-class Bradley-Terry (EM on panel data): oracles and Monte-Carlo tolerances.

Oracles: with one class the model is Bradley-Terry, so EM must return the BT
MLE; the EM log-likelihood is checked against an independent numpy evaluation
and must be at least the likelihood of the true parameters; with long panels
from two well-separated user types the classes are recovered within the
sampling error of a BT fit on the true partition (model-based standard errors).
"""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import expit, logsumexp
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

import prefstat as ps
from prefstat._x64 import x64_scope
from prefstat.models.sign import angle_deg
from prefstat.simulate.estimators import LatentClassSim
from prefstat.simulate.processes import HeterogeneousUsers
from prefstat.simulate.studies import get_study, heterogeneity_reductions, write_report

# two user types beta_bar +- 3 e_1 = (1, 4, 0) and (1, -2, 0); 200 users with ~100 comparisons each
TWO_TYPES = HeterogeneousUsers((1.0, 1.0, 0.0), heterogeneity="two_type", scale=3.0, contested_axis=1,
                               z_scale=math.sqrt(2.0), n_users=200)


def draw(process, seed: int, n: int) -> dict:
    with x64_scope():
        data = jax.jit(lambda k: process.sample(k, n))(jax.random.PRNGKey(seed))
    return {k: np.asarray(v) for k, v in data.items()}


def mixture_loglik(Z, y, user, weights, coef):
    """sum_u log sum_k pi_k prod_{i in u} sigma(b_k z)^y (1 - sigma(b_k z))^(1 - y), in numpy."""
    eta = Z @ np.asarray(coef).T
    rows = y[:, None] * eta - np.logaddexp(0.0, eta)
    codes, inv = np.unique(user, return_inverse=True)
    per_user = np.zeros((codes.size, eta.shape[1]))
    np.add.at(per_user, inv, rows)
    return float(np.sum(logsumexp(np.log(weights) + per_user, axis=1)))


@pytest.fixture(scope="module")
def panel():
    data = draw(TWO_TYPES, 1, 20_000)
    lc = ps.LatentClassBT(n_classes=2, random_state=0).fit(data["Z"], data["y"], groups=data["user"])
    return data, lc


def test_one_class_is_bradley_terry():
    data = draw(TWO_TYPES, 2, 3000)
    # tol 1e-12: EM with one class is Newton's method on the BT likelihood, run to convergence here
    lc = ps.LatentClassBT(n_classes=1, n_init=1, tol=1e-12).fit(data["Z"], data["y"], groups=data["user"])
    bt = ps.BradleyTerry(design="features").fit(data["Z"], data["y"])
    np.testing.assert_allclose(lc.coef_, bt.coef_, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(lc.class_coef_[0], bt.coef_, rtol=1e-8, atol=1e-10)
    assert lc.weights_ == pytest.approx([1.0])
    assert lc.loglik_ == pytest.approx(bt.loglik_, rel=1e-12)


def test_two_user_types_are_recovered_from_panels(panel):
    data, lc = panel
    truth = np.array([[1.0, 4.0, 0.0], [1.0, -2.0, 0.0]])
    assert lc.converged_ and np.all(np.diff(lc.weights_) <= 0)
    # match classes to types by the contested coordinate
    order = np.argsort(-lc.class_coef_[:, 1])
    coef, weights, resp = lc.class_coef_[order], lc.weights_[order], lc.responsibilities_[:, order]
    # oracle: BT on each true type's rows; its model-based SEs are the Monte-Carlo scale
    user_type = (data["beta_u"][:, 1] > 1.0).astype(int)  # 1: (1, 4, 0)
    for k, t in ((0, 1), (1, 0)):
        rows = user_type == t
        bt = ps.BradleyTerry(design="features").fit(data["Z"][rows], data["y"][rows])
        assert np.all(np.abs(coef[k] - truth[k]) < 4 * bt.stderr_), (coef[k], bt.stderr_)
    # ~100 comparisons per user separate the types: posteriors are near-certain and right
    users = lc.users_
    first = np.array([np.flatnonzero(data["user"] == u)[0] for u in users])
    is_high = user_type[first] == 1
    assert np.mean(np.where(is_high, resp[:, 0], resp[:, 1]) > 0.99) > 0.99
    # so the class weights are the shares of the types among the users
    assert weights[0] == pytest.approx(is_high.mean(), abs=0.01)
    # and coef_ is sum_k pi_k beta_k
    np.testing.assert_allclose(lc.coef_, lc.weights_ @ lc.class_coef_, rtol=1e-12)
    np.testing.assert_allclose(lc.direction_, lc.coef_ / np.linalg.norm(lc.coef_), rtol=1e-12)


def test_loglik_is_the_mixture_likelihood_and_beats_the_truth(panel):
    data, lc = panel
    ll = mixture_loglik(data["Z"], data["y"], data["user"], lc.weights_, lc.class_coef_)
    assert lc.loglik_ == pytest.approx(ll, rel=1e-10)
    users, inv = np.unique(data["user"], return_index=True)
    share = np.mean(data["beta_u"][inv, 1] > 1.0)
    ll_truth = mixture_loglik(data["Z"], data["y"], data["user"], np.array([share, 1 - share]),
                              np.array([[1.0, 4.0, 0.0], [1.0, -2.0, 0.0]]))
    assert lc.loglik_ >= ll_truth


def test_simulation_core_finds_the_same_maximum(panel):
    data, lc = panel
    # a well-identified likelihood: the core's EM from its own starts reaches the class's optimum
    sim = LatentClassSim(n_classes=2)
    with x64_scope():
        out = jax.jit(lambda d: sim.core(TWO_TYPES, d))({k: jnp.asarray(data[k]) for k in ("Z", "y", "user")})
    assert bool(out["converged"])
    assert angle_deg(np.asarray(out["estimate"]), lc.direction_) < 1e-3


def test_predictions(panel):
    data, lc = panel
    Z = data["Z"][:7]
    proba = lc.predict_proba(Z)
    assert proba.shape == (7, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(proba[:, 1], expit(Z @ lc.class_coef_.T) @ lc.weights_)
    np.testing.assert_allclose(lc.decision_function(Z), Z @ lc.coef_)
    np.testing.assert_array_equal(lc.predict(Z), (Z @ lc.coef_ > 0).astype(int))
    assert lc.angular_error(lc.coef_) == pytest.approx(0.0, abs=1e-6)


def test_contract_and_errors(panel):
    data, _ = panel
    Z, y, u = data["Z"][:500], data["y"][:500], data["user"][:500]
    est = ps.LatentClassBT(n_classes=2, random_state=3)
    assert clone(est).get_params() == est.get_params()
    with pytest.raises(NotFittedError):
        ps.LatentClassBT().predict_proba(Z)
    with pytest.raises(ValueError, match="user ids"):
        ps.LatentClassBT().fit(Z, y)
    with pytest.raises(ValueError, match="n_classes"):
        ps.LatentClassBT(n_classes=0).fit(Z, y, groups=u)
    with pytest.raises(ValueError, match="alpha"):
        ps.LatentClassBT(alpha=-1.0).fit(Z, y, groups=u)
    # outcomes perfectly separated by a feature: a class runs off to infinity unless penalised
    ysep = (Z[:, 0] > 0).astype(float)
    with pytest.raises(ValueError, match="alpha > 0"):
        ps.LatentClassBT(n_classes=2, random_state=0).fit(Z, ysep, groups=u)
    fit = ps.LatentClassBT(n_classes=2, alpha=1.0, random_state=0).fit(Z, ysep, groups=u)
    assert np.all(np.isfinite(fit.class_coef_))


@pytest.mark.slow
def test_heterogeneity_study_report(tmp_path):
    # the built-in study end to end (tiny sizes): four estimators, the paper comparison, plots
    spec = get_study("heterogeneity")
    df = spec.build(sizes=[1000, 2000], reps=2, seed=0).run(progress=False)
    assert set(df.estimator) == {"BT", "sign", "sign (cube-root)", "LatentClassBT"}
    red = heterogeneity_reductions(df)
    assert np.allclose(red[red.estimator == "BT"][["angle_reduction", "disagreement_reduction"]], 0.0)
    text = write_report(spec, df, str(tmp_path))
    assert "Against the paper's claims" in text and "35%" in text
    for name in ("report.md", "results.parquet", "error_vs_n.png", "disagreement_vs_n.png"):
        assert (tmp_path / name).exists()
