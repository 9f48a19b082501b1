"""Inference layer and estimator contract of BradleyTerry: bootstrap, intervals,
summary, prediction, score, scikit-learn compatibility, penalised fits."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

import prefstat as ps
from conftest import (SKLEARN_ERROR_WORDING, SKLEARN_OUTCOME_CODING, check_sklearn_contract, item_X, sigmoid,
                      simulate_items)

B = 400


@pytest.fixture(scope="module")
def binary_items():
    # binary outcomes (no ties): the BT model is correctly specified, so the inverse
    # information is a valid variance and the bootstrap must reproduce it.
    return simulate_items(3, k=5, n=2000, order=True, ties=0.0)


def _boot(d, random_state, n_bootstrap=B):
    return ps.BradleyTerry(order_effect=True, cov_type="bootstrap", n_bootstrap=n_bootstrap,
                           random_state=random_state).fit(item_X(d), d["y"], order=d["order"])


@pytest.fixture(scope="module")
def boot_fit(binary_items):
    return _boot(binary_items, 123)


@pytest.fixture(scope="module")
def model_fit(binary_items):
    d = binary_items
    return ps.BradleyTerry(order_effect=True).fit(item_X(d), d["y"], order=d["order"])


# ----------------------------------------------------------------- bootstrap
def test_bootstrap_is_reproducible_with_fixed_random_state(binary_items, boot_fit):
    again = _boot(binary_items, 123)
    np.testing.assert_array_equal(again.stderr_, boot_fit.stderr_)
    np.testing.assert_array_equal(again.conf_int(method="percentile"), boot_fit.conf_int(method="percentile"))
    other = _boot(binary_items, 124)
    assert not np.allclose(other.stderr_, boot_fit.stderr_, rtol=1e-6)
    # the point estimate is the MLE whatever the covariance type
    np.testing.assert_allclose(boot_fit.coef_, ps.BradleyTerry(order_effect=True).fit(
        item_X(binary_items), binary_items["y"], order=binary_items["order"]).coef_, atol=1e-12)


def test_bootstrap_standard_errors_agree_with_model_based(boot_fit, model_fit):
    """Monte-Carlo tolerance. With B bootstrap draws of a (near-)normal estimate, the bootstrap
    SE has relative standard deviation 1/sqrt(2(B-1)) = 0.035 for B = 400. The model SE and the
    ideal bootstrap SE also differ at n = 2000 by the sampling noise of the variance estimate,
    O(n^-1/2) relative (~0.02 observed for robust/model). Combined sd ~0.04; we allow 0.16
    (4 sd; with 5 parameters the chance of a false alarm is ~1e-3 for any seed). A bootstrap
    that resampled the wrong number of rows (e.g. cells instead of comparisons) or ignored the
    weights would be off by a factor, far outside this band."""
    assert boot_fit.n_bootstrap_failed_ == 0
    ratio = boot_fit.stderr_ / model_fit.stderr_
    assert np.all(np.abs(ratio - 1.0) < 0.16), ratio
    assert abs(boot_fit.order_effect_stderr_ / model_fit.order_effect_stderr_ - 1.0) < 0.16
    # the bootstrap covariance lives in the reported (sum-to-zero) parametrisation
    np.testing.assert_allclose(boot_fit.cov_.sum(axis=0), 0.0, atol=1e-12)


def test_bootstrap_of_weighted_table_matches_expanded_table_in_distribution():
    """Frequency weights in the bootstrap: weighted and row-expanded tables have the same
    resampling law. With different random streams the SEs agree within MC error
    (2 independent bootstrap SEs: relative sd sqrt(2) * 0.035 = 0.05; allow 0.2 = 4 sd)."""
    d = simulate_items(8, k=4, n=1500, weights=True)
    X, y, w = item_X(d), d["y"], d["w"]
    a = ps.BradleyTerry(cov_type="bootstrap", n_bootstrap=B, random_state=0).fit(X, y, sample_weight=w)
    reps = w.astype(int)
    b = ps.BradleyTerry(cov_type="bootstrap", n_bootstrap=B, random_state=1).fit(
        np.repeat(X, reps, axis=0), np.repeat(y, reps))
    assert np.all(np.abs(a.stderr_ / b.stderr_ - 1.0) < 0.2), a.stderr_ / b.stderr_


def test_percentile_interval_shape_and_agreement_with_wald(boot_fit):
    """Percentile CI: (k, 2), ordered. For a near-normal estimate (n = 2000) its ends agree with
    the Wald ends built from the bootstrap SE up to MC error of a 2.5% sample quantile:
    sd = sqrt(.025 * .975 / B) / phi(1.96) * SE = 0.13 SE for B = 400; allow 0.6 SE (4.5 sd)."""
    ci = boot_fit.conf_int(method="percentile")
    assert ci.shape == (len(boot_fit.coef_), 2)
    assert np.all(ci[:, 0] < ci[:, 1])
    wald = boot_fit.conf_int()
    assert np.all(np.abs(ci - wald) < 0.6 * boot_fit.stderr_[:, None])
    ci90 = boot_fit.conf_int(level=0.9, method="percentile")
    assert np.all(ci90[:, 0] >= ci[:, 0]) and np.all(ci90[:, 1] <= ci[:, 1])
    table = boot_fit.summary(method="percentile")
    np.testing.assert_array_equal(table.iloc[: len(boot_fit.coef_), -2:].to_numpy(), ci)


def test_percentile_requires_bootstrap(model_fit):
    with pytest.raises(ValueError, match="bootstrap"):
        model_fit.conf_int(method="percentile")
    with pytest.raises(ValueError, match="method"):
        model_fit.conf_int(method="profile")


# ----------------------------------------------------------------- intervals
@pytest.mark.parametrize("level", [0.5, 0.8, 0.9, 0.99, 0.999])
def test_wald_width_scales_with_normal_quantile(model_fit, level):
    """Wald: width = 2 z_{(1+level)/2} SE, centred on the estimate (exact up to rounding)."""
    ci = model_fit.conf_int(level)
    ci95 = model_fit.conf_int(0.95)
    z = stats.norm.ppf(0.5 + level / 2)
    np.testing.assert_allclose(ci.mean(axis=1), model_fit.coef_, atol=1e-13)
    np.testing.assert_allclose(ci[:, 1] - ci[:, 0], 2 * z * model_fit.stderr_, rtol=1e-12)
    np.testing.assert_allclose((ci[:, 1] - ci[:, 0]) / (ci95[:, 1] - ci95[:, 0]),
                               z / stats.norm.ppf(0.975), rtol=1e-12)


@pytest.mark.parametrize("level", [0.0, 1.0, -0.5, 1.5, 95, float("nan")])
def test_bad_level_raises(model_fit, level):
    with pytest.raises(ValueError, match="level"):
        model_fit.conf_int(level)
    with pytest.raises(ValueError, match="level"):
        model_fit.summary(level)


def test_summary_columns_and_values(model_fit):
    s = model_fit.summary()
    assert isinstance(s, pd.DataFrame)
    for col in ("estimate", "stderr", "lower 0.95", "upper 0.95"):
        assert col in s.columns
    assert list(s.index) == list(model_fit.items_) + ["order_effect"]
    k = len(model_fit.coef_)
    np.testing.assert_array_equal(s["estimate"].to_numpy()[:k], model_fit.coef_)
    np.testing.assert_array_equal(s["stderr"].to_numpy()[:k], model_fit.stderr_)
    assert s.loc["order_effect", "estimate"] == model_fit.order_effect_
    assert s.loc["order_effect", "stderr"] == model_fit.order_effect_stderr_
    np.testing.assert_allclose(s[["lower 0.95", "upper 0.95"]].to_numpy()[:k], model_fit.conf_int(), rtol=1e-14)
    if "z" in s.columns:
        np.testing.assert_allclose(s["z"], s["estimate"] / s["stderr"], rtol=1e-14)
    if "p_value" in s.columns:
        np.testing.assert_allclose(s["p_value"], 2 * stats.norm.sf(np.abs(s["z"])), rtol=1e-12)
    s90 = model_fit.summary(level=0.9)
    assert "lower 0.9" in s90.columns and "upper 0.9" in s90.columns


# ---------------------------------------------------------------- prediction
def test_predict_proba_items(model_fit, binary_items):
    bt = model_fit
    theta = dict(zip(bt.items_, bt.coef_))
    X = item_X(binary_items)[:50]
    eta = np.array([theta[a] - theta[b] for a, b in X])
    P = bt.predict_proba(X)
    assert P.shape == (50, 2)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-15)
    # default order: the left option holds the advantage (documented convention)
    np.testing.assert_allclose(P[:, 1], sigmoid(eta + bt.order_effect_), rtol=1e-12)
    np.testing.assert_allclose(bt.predict_proba(X, order=0)[:, 1], sigmoid(eta), rtol=1e-12)
    np.testing.assert_allclose(bt.predict_proba(X, order=-1)[:, 1], sigmoid(eta - bt.order_effect_), rtol=1e-12)
    np.testing.assert_array_equal(bt.predict(X, order=0), (eta > 0).astype(int))
    np.testing.assert_array_equal(bt.classes_, [0, 1])


def test_predict_proba_items_without_order_is_antisymmetric():
    d = simulate_items(2, k=6, n=300)
    bt = ps.BradleyTerry().fit(item_X(d), d["y"])
    X = np.array([[a, b] for a in bt.items_ for b in bt.items_ if a != b], dtype=object)
    P, Pswap = bt.predict_proba(X), bt.predict_proba(X[:, ::-1])
    np.testing.assert_allclose(P[:, 1], Pswap[:, 0], atol=1e-15)
    theta = dict(zip(bt.items_, bt.coef_))
    np.testing.assert_allclose(P[:, 1], sigmoid(np.array([theta[a] - theta[b] for a, b in X])), rtol=1e-12)


@pytest.mark.parametrize("sparse", [False, True])
def test_predict_proba_features(sparse):
    import scipy.sparse as sp

    rng = np.random.default_rng(4)
    Z = rng.normal(size=(120, 3))
    y = (rng.random(120) < sigmoid(Z @ [1.0, -1.0, 0.5])).astype(float)
    bt = ps.BradleyTerry().fit(sp.csr_matrix(Z) if sparse else Z, y)
    P = bt.predict_proba(sp.csr_matrix(Z) if sparse else Z)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-15)
    np.testing.assert_allclose(P[:, 1], sigmoid(Z @ bt.coef_), rtol=1e-12)
    np.testing.assert_allclose(bt.decision_function(Z), Z @ bt.coef_, rtol=1e-12, atol=1e-14)


# --------------------------------------------------------------------- score
def test_score_is_mean_loglik(binary_items, model_fit):
    d = binary_items
    s = model_fit.score(item_X(d), d["y"], order=d["order"])
    np.testing.assert_allclose(s * len(d["y"]), model_fit.loglik_, rtol=1e-12)


def test_score_weighted_with_ties_and_tables():
    d = simulate_items(6, k=5, n=300, ties=0.2, weights=True)
    X, y, w = item_X(d), d["y"], d["w"]
    bt = ps.BradleyTerry().fit(X, y, sample_weight=w)
    np.testing.assert_allclose(bt.score(X, y, sample_weight=w) * w.sum(), bt.loglik_, rtol=1e-12)
    table = ps.ComparisonTable.from_items(d["left"], d["right"], y, w)
    np.testing.assert_allclose(bt.score(table), bt.score(X, y, sample_weight=w), rtol=1e-14)
    # a direct computation of the mean log-likelihood
    theta = dict(zip(bt.items_, bt.coef_))
    eta = np.array([theta[a] - theta[b] for a, b in X])
    ll = y * eta - np.logaddexp(0, eta)
    np.testing.assert_allclose(bt.score(X, y, sample_weight=w), np.sum(w * ll) / w.sum(), rtol=1e-12)


# ------------------------------------------------------------- sklearn shell
def test_sklearn_contract():
    import inspect

    init_names = [n for n in inspect.signature(ps.BradleyTerry.__init__).parameters if n != "self"]
    assert sorted(ps.BradleyTerry().get_params()) == sorted(init_names)  # hyperparameters only in __init__
    params = dict(reference="kiwi", order_effect=True, cov_type="robust", alpha=0.5, design="items",
                  n_bootstrap=17, random_state=3, tol=1e-10, max_iter=50)
    bt = ps.BradleyTerry(**params)
    assert {k: bt.get_params()[k] for k in params} == params
    c = clone(bt)
    assert c is not bt and c.get_params() == bt.get_params()
    c.set_params(alpha=0.0, cov_type="model")
    assert c.alpha == 0.0 and bt.alpha == 0.5
    d = simulate_items(1, k=4, n=100)
    X, y = item_X(d), d["y"]
    fresh = ps.BradleyTerry()
    for method, args in [("predict_proba", (X,)), ("predict", (X,)), ("decision_function", (X,)),
                         ("conf_int", ()), ("summary", ()), ("score", (X, y))]:
        with pytest.raises(NotFittedError):
            getattr(fresh, method)(*args)
    assert fresh.fit(X, y) is fresh
    assert not hasattr(ps.BradleyTerry(), "coef_")
    # clone of a fitted estimator is unfitted; refitting gives the same numbers
    c = clone(fresh)
    with pytest.raises(NotFittedError):
        c.predict_proba(X)
    np.testing.assert_array_equal(c.fit(X, y).coef_, fresh.coef_)


def test_refit_on_other_design_clears_old_attributes():
    d = simulate_items(1, k=4, n=100)
    bt = ps.BradleyTerry().fit(item_X(d), d["y"])
    assert hasattr(bt, "items_")
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(60, 2))
    bt.fit(Z, (rng.random(60) < sigmoid(Z[:, 0])).astype(float))
    assert not hasattr(bt, "items_") and bt.n_features_in_ == 2 and bt.coef_.shape == (2,)


# Checks of scikit-learn's generic suite that BradleyTerry(design="features") is expected to fail,
# each for the reason given (conftest.SKLEARN_* and below); check_sklearn_contract also asserts that
# none of them unexpectedly passes, so the list cannot silently go stale.
EXPECTED_FAILED_CHECKS = {
    **SKLEARN_OUTCOME_CODING,
    **SKLEARN_ERROR_WORDING,
    "check_classifiers_one_label": "one outcome only = complete separation: ValueError says the MLE does not exist "
                                   "(sklearn wants the word 'class')",
    # existence of the MLE: no intercept, separable data -> the MLE does not exist and prefstat says so
    "check_positive_only_tag_during_fit": "iris (class 0 vs rest) is linearly separable: the MLE does not exist",
    "check_non_transformer_estimators_n_iter": "iris (class 0 vs rest) is linearly separable: the MLE does not exist",
    "check_classifiers_one_label_sample_weights": "after weight trimming the parameters are not identifiable; "
                                                  "prefstat's message does not contain 'class'",
    "check_sample_weight_equivalence_on_dense_data": "15 rows, 30 features: the parameters are not identifiable",
    "check_sample_weight_equivalence_on_sparse_data": "15 rows, 30 features: the parameters are not identifiable",
    "check_fit2d_1sample": "1 row, 10 features: not identifiable (message names parameters, not 'sample')",
}


def test_sklearn_check_estimator():
    check_sklearn_contract(ps.BradleyTerry(design="features"), EXPECTED_FAILED_CHECKS)


# -------------------------------------------------------------- penalised fits
def _never_loses():
    # 'ace' beats everyone and never loses: the MLE does not exist (ability -> +inf)
    X = np.array([["ace", "b"], ["ace", "c"], ["b", "ace"], ["b", "c"], ["c", "b"], ["c", "ace"]] * 3, dtype=object)
    y = np.array([1, 1, 0, 1, 1, 0] * 3, dtype=float)
    return X, y


def test_penalised_fit_exists_on_separated_items_and_solves_the_penalised_equations():
    X, y = _never_loses()
    with pytest.raises(ValueError, match="ace"):
        ps.BradleyTerry().fit(X, y)
    alpha = 0.7
    bt = ps.BradleyTerry(alpha=alpha).fit(X, y)
    assert np.all(np.isfinite(bt.coef_)) and np.all(np.isfinite(bt.stderr_))
    assert bt.coef_[list(bt.items_).index("ace")] == bt.coef_.max()
    # oracle: minimise the penalised negative log-likelihood over all k abilities with scipy
    items = list(bt.items_)
    a = np.array([items.index(v) for v in X[:, 0]])
    b = np.array([items.index(v) for v in X[:, 1]])

    def f(t):
        eta = t[a] - t[b]
        return -np.sum(y * eta - np.logaddexp(0, eta)) + 0.5 * alpha * t @ t

    def g(t):
        r = y - sigmoid(t[a] - t[b])
        return -(np.bincount(a, r, 3) - np.bincount(b, r, 3)) + alpha * t

    opt = optimize.minimize(f, np.zeros(3), jac=g, method="BFGS", options=dict(gtol=1e-12))
    # the penalty makes the optimum sum to zero automatically (the likelihood is shift-invariant)
    # BFGS reaches |grad| ~ 1e-10 on this strongly convex 3-parameter problem -> estimates to ~1e-9
    np.testing.assert_allclose(bt.coef_, opt.x, atol=1e-7)
    # SE: inverse penalised information (documented), centred
    p = sigmoid(opt.x[a] - opt.x[b])
    D = np.zeros((len(y), 3))
    D[np.arange(len(y)), a], D[np.arange(len(y)), b] = 1.0, -1.0
    H = D.T @ (D * (p * (1 - p))[:, None]) + alpha * np.eye(3)
    C = np.eye(3) - 1.0 / 3
    np.testing.assert_allclose(bt.cov_, C @ np.linalg.inv(H) @ C.T, rtol=1e-6, atol=1e-9)
    # with a reference item: the same penalised fit reported as theta - theta_ref, cov M V M^T
    br = ps.BradleyTerry(alpha=alpha, reference="b").fit(X, y)
    M = np.eye(3) - np.outer(np.ones(3), np.eye(3)[items.index("b")])
    np.testing.assert_allclose(br.coef_, M @ opt.x, atol=1e-7)
    np.testing.assert_allclose(br.cov_, M @ np.linalg.inv(H) @ M.T, rtol=1e-6, atol=1e-9)


def test_penalised_fit_exists_on_separated_features():
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(40, 2))
    y = (Z[:, 0] > 0).astype(float)
    with pytest.raises(ValueError, match="separat"):
        ps.BradleyTerry().fit(Z, y)
    bt = ps.BradleyTerry(alpha=1.0).fit(Z, y)
    assert np.all(np.isfinite(bt.coef_)) and np.all(np.isfinite(bt.stderr_)) and bt.coef_[0] > 0
    # penalised score equation: Z^T (y - p) = alpha * beta (Newton tol 1e-12 * n -> 1e-9 is ample)
    np.testing.assert_allclose(Z.T @ (y - sigmoid(Z @ bt.coef_)), 1.0 * bt.coef_, atol=1e-9)
    # larger penalty -> smaller coefficients
    assert np.linalg.norm(ps.BradleyTerry(alpha=10.0).fit(Z, y).coef_) < np.linalg.norm(bt.coef_)
