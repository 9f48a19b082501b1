"""DebiasedBradleyTerry: exact cross-checks (ppi_py, BradleyTerry, sklearn), errors, and simulation checks.

Exact checks compare numbers two implementations compute from the same formula; their tolerances
are set by the looser optimiser (stated at each test). Simulation checks run the estimator's pure
core through the Study runner on BiasedJudge tables and derive every tolerance from Monte-Carlo
error: coverage over R replications is Binomial(R, 0.95) when the intervals are exact, and is
accepted inside the central 99.9% band of that law (as in test_bt_coverage.py); a bias is
"indistinguishable from zero" when |mean error| / (its Monte-Carlo standard error) is below the
two-sided 99.9% normal quantile with a Bonferroni split over the coordinates tested.
"""
import dataclasses
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import ppi_py as ppi
from hypothesis import given, settings
from hypothesis import strategies as st
from ppi_py.ppi import _calc_lam_glm, _logistic_get_stats
from scipy import stats
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

import prefstat as ps
from prefstat._x64 import x64_scope
from prefstat.design import DenseDesign
from prefstat.design import pad_rows as _pad
from prefstat.design import padded_size as _bucket
from prefstat.models.debiased import (PoorOverlapWarning, crossfit_logistic_ratio, fit_ai_only, fit_core,
                                      fit_naive_pooled)
from prefstat.simulate import BiasedJudge
from prefstat.simulate.estimators import DebiasedSim, JudgeBaselineSim, observed_oracle_bt
from prefstat.simulate.study import Study


# A judge with all three biases of the issue (random flips, a tilt towards feature 0, a position
# bias), whose labels also follow a coordinate of z the model does not see (the content both the
# humans and the judge read): that is what makes a judge label informative about the individual
# human label (see prefstat.simulate.estimators.observed_oracle_bt).
HIDDEN = 1
HUMAN_MEAN = (0.0, 0.2, -0.2, 0.0)
SHIFTED_POOL = (0.4, 0.0, 0.25, 0.0)
JUDGE = BiasedJudge(beta_true=(1.0, -0.5, 0.3, 2.0), link="probit", human_mean=HUMAN_MEAN, pool_mean=HUMAN_MEAN,
                    flip_rate=0.1, tilt=1.0, tilt_feature=0, position_bias=0.3, temperature=0.5)


def draw(process, seed, n, n_pool):
    with x64_scope():
        return {k: np.asarray(v) for k, v in process.sample(jax.random.PRNGKey(seed), n, n_pool).items()}


def observed(data):
    return data["Z"][:, : data["Z"].shape[1] - HIDDEN]


def binomial_band(reps, level=0.95, confidence=0.999):
    return (stats.binom.ppf((1 - confidence) / 2, reps, level) / reps,
            stats.binom.isf((1 - confidence) / 2, reps, level) / reps)


# ----------------------------------------------------------------------------- ppi_py cross-check
@pytest.fixture(scope="module")
def unshifted():
    data = draw(JUDGE, 1, 300, 3000)
    h = data["is_human"]
    Z = observed(data)
    return data, Z, h


def test_point_estimates_equal_ppi_py_for_fixed_lambda(unshifted):
    data, Z, h = unshifted
    for lam in (0.0, 0.3, 1.0):
        ours = ps.DebiasedBradleyTerry(lam=lam).fit(Z, data["y"], ai_label=data["ai_label"])
        theirs = ppi.ppi_logistic_pointestimate(Z[h], data["y"][h], data["ai_label"][h], Z[~h],
                                                data["ai_label"][~h], lam=lam)
        # ppi_py stops L-BFGS-B at a relative objective change of 1e-15, which leaves ~sqrt(1e-15) = 3e-8
        # in theta (per unit curvature); 1e-6 keeps a 30x margin (the issue asks for 1e-5).
        np.testing.assert_allclose(ours.coef_, theirs, rtol=0, atol=1e-6)


def test_tuned_lambda_follows_ppi_py_convention(unshifted):
    data, Z, h = unshifted
    y, a = data["y"], data["ai_label"]
    ours = ps.DebiasedBradleyTerry(lam="auto").fit(Z, y, ai_label=a)
    # ppi_py's convention: lambda from _calc_lam_glm(clip=True) at the lambda = 1 estimate, then a refit
    theta1 = ppi.ppi_logistic_pointestimate(Z[h], y[h], a[h], Z[~h], a[~h], lam=1.0)
    stats_ = _logistic_get_stats(theta1, Z[h], y[h], a[h], Z[~h], a[~h], np.ones(h.sum()), np.ones((~h).sum()))
    lam = _calc_lam_glm(*stats_, clip=True)
    assert 0.05 < lam < 0.95  # an interior value: the test exercises the formula, not the clipping
    assert ours.lam_ == pytest.approx(lam, abs=1e-6)
    theirs = ppi.ppi_logistic_pointestimate(Z[h], y[h], a[h], Z[~h], a[~h], lam=None)
    np.testing.assert_allclose(ours.coef_, theirs, rtol=0, atol=1e-6)


def test_two_sample_meat_equals_ppi_py_variance_pieces(unshifted):
    """Our Var(U) is ppi_py's lam^2 Cov(pool gradients)/N + Cov(human gradients - lam judge gradients)/n
    (ddof 1 both); only the bread differs: we use the Jacobian of our estimating equation,
    lam H_pool + (1 - lam) H_human, ppi_py the Hessian averaged over both samples."""
    data, Z, h = unshifted
    y, a = data["y"], data["ai_label"]
    m, n, N = Z.shape[0], int(h.sum()), int((~h).sum())
    lam = 0.4
    mp = _bucket(m)  # padded (f = 0) as the class pads, so the compiled core is shared with the other tests
    with x64_scope():
        res = fit_core(DenseDesign(X=jnp.asarray(_pad(Z, mp))), *(jnp.asarray(_pad(v, mp)) for v in (
            np.nan_to_num(y), a, h * 1.0, np.ones(m))), jnp.asarray(_pad(np.ones(m), mp, 1.0)), lam,
            jnp.zeros((mp, 0)), jnp.zeros(mp, jnp.int32), tune=False, pooled_tuning=True)
    theta = np.asarray(res.theta)
    grads, grads_hat, grads_hat_unl, _ = _logistic_get_stats(theta, Z[h], y[h], a[h], Z[~h], a[~h],
                                                             np.ones(n), np.ones(N))
    meat = lam**2 * np.cov(grads_hat_unl.T) / N + np.cov((grads - lam * grads_hat).T) / n
    np.testing.assert_allclose(np.asarray(res.meat), meat, rtol=1e-10, atol=0)
    sig = 1 / (1 + np.exp(-Z @ theta))
    d = sig * (1 - sig)
    jac = lam * (Z[~h].T * d[~h]) @ Z[~h] / N + (1 - lam) * (Z[h].T * d[h]) @ Z[h] / n
    np.testing.assert_allclose(np.asarray(res.bread), jac, rtol=1e-10, atol=0)


def test_known_density_ratio_matches_ppi_py_sample_weights():
    # ppi_py rescales its weights to mean 1, so give it (and us) mean-1 weights; then its rectified
    # loss with w on the human rows is our estimating equation with density ratio w.
    data = draw(dataclasses.replace(JUDGE, pool_mean=SHIFTED_POOL), 2, 300, 3000)
    h, Z, y, a = data["is_human"], observed(data), data["y"], data["ai_label"]
    w = data["w_true"][h] / data["w_true"][h].mean()
    for lam in (0.0, 0.6, 1.0):
        ours = ps.DebiasedBradleyTerry(lam=lam).fit(Z, y, ai_label=a, density_ratio=w)
        theirs = ppi.ppi_logistic_pointestimate(Z[h], y[h], a[h], Z[~h], a[~h], lam=lam, w=w)
        np.testing.assert_allclose(ours.coef_, theirs, rtol=0, atol=1e-6)  # L-BFGS-B precision, as above


# ----------------------------------------------------------------------------- BradleyTerry and sklearn
def _items(seed, n_rows=1500, n_human=300, k=5, agree=0.8):
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=k)
    a = rng.integers(0, k, n_rows)
    b = (a + rng.integers(1, k, n_rows)) % k
    o = rng.choice([-1.0, 1.0], n_rows)
    z = (rng.random(n_rows) < 1 / (1 + np.exp(-(theta[a] - theta[b] + 0.3 * o)))).astype(float)
    ai = np.where(rng.random(n_rows) < agree, z, 1 - z)
    names = np.array(["kiwi", "apple", "mango", "fig", "pear"], dtype=object)[:k]
    X = np.column_stack([names[a], names[b]])
    y = np.where(np.arange(n_rows) < n_human, z, np.nan)
    return X, y, ai, o, rng


@pytest.mark.parametrize("kind", ["items", "features"])
def test_lambda_zero_is_the_human_only_bradley_terry_fit(kind):
    X, y, ai, o, rng = _items(3) if kind == "items" else _items(3, n_rows=3300, n_human=300)
    h = ~np.isnan(y)
    f = rng.integers(1, 4, y.size).astype(float)
    if kind == "features":
        X = rng.normal(size=(y.size, 2))
        y = np.where(h, (rng.random(y.size) < 1 / (1 + np.exp(-X @ [1.0, -0.5]))).astype(float), np.nan)
    dbt = ps.DebiasedBradleyTerry(lam=0.0, order_effect=True).fit(X, y, ai_label=ai, sample_weight=f, order=o)
    bt = ps.BradleyTerry(order_effect=True, cov_type="robust").fit(X[h], y[h], sample_weight=f[h], order=o[h])
    np.testing.assert_allclose(dbt.coef_, bt.coef_, atol=1e-9)  # both Newton to the rounding floor
    assert dbt.order_effect_ == pytest.approx(bt.order_effect_, abs=1e-9)
    # same sandwich up to the within-sample ddof: ours divides by n - 1 (as ppi_py), BT's HC0 by n
    n = f[h].sum()
    np.testing.assert_allclose(dbt.stderr_, bt.stderr_ * np.sqrt(n / (n - 1)), rtol=1e-8)
    if kind == "items":
        assert list(dbt.items_) == list(bt.items_) and abs(dbt.coef_.sum()) < 1e-12


def test_cluster_covariance_at_lambda_zero_equals_bradley_terry():
    X, y, ai, o, rng = _items(4)
    h = ~np.isnan(y)
    groups = np.where(h, rng.integers(0, 25, y.size), None)  # annotators on human rows; pool rows independent
    dbt = ps.DebiasedBradleyTerry(lam=0.0, cov_type="cluster", order_effect=True).fit(X, y, ai_label=ai, groups=groups)
    bt = ps.BradleyTerry(cov_type="cluster", order_effect=True).fit(X[h], y[h], groups=groups[h].astype(int))
    np.testing.assert_allclose(dbt.stderr_, bt.stderr_, rtol=1e-8)


def test_builtin_classifier_weights_equal_sklearn_unpenalised_logistic_regression():
    data = draw(dataclasses.replace(JUDGE, pool_mean=SHIFTED_POOL), 3, 300, 3000)
    h, Z = data["is_human"], observed(data)
    m = Z.shape[0]
    folds = np.arange(m) % 4
    with x64_scope():
        w, prob, ok = crossfit_logistic_ratio(jnp.asarray(np.column_stack([np.ones(m), Z])), jnp.asarray(h * 1.0),
                                              jnp.ones(m), jnp.asarray(folds), 4)
    assert bool(ok)
    for k in range(4):
        train = folds != k
        clf = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000).fit(Z[train], ~h[train])
        p = clf.predict_proba(Z[folds == k])[:, 1]
        odds = (h[train].sum() / (~h[train]).sum()) * p / (1 - p)
        # lbfgs at tol 1e-12 reaches the MLE to ~1e-8 in the coefficients
        np.testing.assert_allclose(np.asarray(w)[folds == k], odds, rtol=1e-6)


def test_sklearn_classifier_is_cross_fitted_and_never_clipped():
    data = draw(dataclasses.replace(JUDGE, pool_mean=SHIFTED_POOL), 4, 300, 3000)
    Z, y, a = observed(data), data["y"], data["ai_label"]
    # same folds (random_state) and a fixed lambda (a tuned one differs legitimately: only the built-in
    # classifier's estimation error enters the tuning and the covariance)
    builtin = ps.DebiasedBradleyTerry(lam=0.5, density_ratio="classifier", random_state=0).fit(Z, y, ai_label=a)
    sk = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000)
    lr = ps.DebiasedBradleyTerry(lam=0.5, density_ratio="classifier", random_state=0, classifier=sk).fit(Z, y, ai_label=a)
    np.testing.assert_allclose(lr.density_ratio_, builtin.density_ratio_, rtol=1e-6)  # lbfgs at tol 1e-12
    np.testing.assert_allclose(lr.coef_, builtin.coef_, atol=1e-6)
    # the first-step correction changes only the covariance
    assert not np.allclose(lr.stderr_, builtin.stderr_, rtol=1e-6)
    # a fully grown tree on a feature unique to each row memorises the training rows: a held-out human
    # row lands in a leaf of pool rows, P(pool) = 1, an infinite ratio, which is an error, not a clip
    Zs = np.column_stack([np.random.default_rng(0).permutation(Z.shape[0]), Z[:, 1:]])
    tree = DecisionTreeClassifier(random_state=0)
    with pytest.raises(ValueError, match="P\\(pool\\) = 1 on human row"):
        ps.DebiasedBradleyTerry(density_ratio="classifier", classifier=tree).fit(Zs, y, ai_label=a)


def test_vmapped_core_equals_the_class():
    """Principle 1: the simulation adapter runs the class's numbers."""
    process = dataclasses.replace(JUDGE, pool_mean=SHIFTED_POOL)
    df = Study(process, [DebiasedSim("lam 0.5", lam=0.5, weights="known", hidden=HIDDEN)], sizes=[300], reps=3,
               seed=9, pool_ratio=10).run(progress=False)
    keys = jax.random.split(jax.random.PRNGKey(int(np.random.SeedSequence([9, 0]).generate_state(1)[0])), 3)
    for r in range(3):
        with x64_scope():
            data = {k: np.asarray(v) for k, v in process.sample(keys[r], 300, 3000).items()}
        est = ps.DebiasedBradleyTerry(lam=0.5).fit(observed(data), data["y"], ai_label=data["ai_label"],
                                            density_ratio=data["w_true"])
        np.testing.assert_allclose(df.estimate[r], est.coef_, atol=1e-10)
        np.testing.assert_allclose(df.stderr[r], est.stderr_, rtol=1e-9)


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 10_000), lam=st.sampled_from([0.0, 0.5, 1.0, "auto"]))
def test_frequency_weight_two_equals_a_duplicated_row(seed, lam):
    X, y, ai, o, rng = _items(seed)
    dup = rng.integers(0, y.size, 100)
    f = np.ones(y.size)
    np.add.at(f, dup, 1.0)
    Xd, yd, ad, od = (np.concatenate([v, v[dup]]) for v in (X, y, ai, o))
    # Some seeds with lam=1 have no finite root (the documented ValueError): then the duplicated
    # table, being the same data, must fail the same way.
    try:
        a = ps.DebiasedBradleyTerry(lam=lam, order_effect=True).fit(X, y, ai_label=ai, sample_weight=f, order=o)
    except ValueError as err:
        assert "no finite root" in str(err)
        with pytest.raises(ValueError, match="no finite root"):
            ps.DebiasedBradleyTerry(lam=lam, order_effect=True).fit(Xd, yd, ai_label=ad, order=od)
        return
    b = ps.DebiasedBradleyTerry(lam=lam, order_effect=True).fit(Xd, yd, ai_label=ad, order=od)
    np.testing.assert_allclose(a.coef_, b.coef_, atol=1e-9)
    np.testing.assert_allclose(a.stderr_, b.stderr_, rtol=1e-7)
    assert a.lam_ == pytest.approx(b.lam_, abs=1e-9)


# ----------------------------------------------------------------------------- behaviour
def test_fitted_attributes_diagnostics_and_sklearn_contract():
    X, y, ai, o, _ = _items(6, agree=0.9)
    est = ps.DebiasedBradleyTerry(reference="apple", order_effect=True)
    with pytest.raises(NotFittedError):
        est.predict_proba(X[:3])
    fitted = est.fit(X, y, ai_label=ai, order=o)
    assert fitted is est and clone(est).get_params() == est.get_params()
    assert fitted.coef_[list(fitted.items_).index("apple")] == 0.0
    d = fitted.diagnostics_
    assert set(d) >= {"lam", "lam_unclipped", "disagreement", "n_eff", "weight_ess", "weight_max", "n_human", "n_pool"}
    h = ~np.isnan(y)
    assert d["disagreement"] == pytest.approx(np.mean(ai[h] != y[h]))
    # a judge agreeing on 90% of the rows: lambda interior and more effective labels than human rows
    assert 0 < fitted.lam_ < 1 and fitted.n_eff_ > h.sum()
    assert d["weight_ess"] == h.sum() and d["weight_max"] == 1.0
    p = fitted.predict_proba(X[:4])
    assert p.shape == (4, 2) and np.allclose(p.sum(axis=1), 1)
    table = fitted.summary()
    assert list(table.index) == list(fitted.items_) + ["order_effect"]
    np.testing.assert_allclose(fitted.conf_int(), table.iloc[:-1, -2:])


def test_baseline_helpers():
    X, y, ai, o, _ = _items(7)
    h = ~np.isnan(y)
    ai_only = fit_ai_only(X, y, ai)
    np.testing.assert_allclose(ai_only.coef_, ps.BradleyTerry(cov_type="robust").fit(X[~h], ai[~h]).coef_)
    naive = fit_naive_pooled(X, y, ai)
    np.testing.assert_allclose(naive.coef_, ps.BradleyTerry(cov_type="robust").fit(X, np.where(h, y, ai)).coef_)
    human = ps.DebiasedBradleyTerry(lam=0.0, order_effect=True).fit(X, y, ai_label=ai, order=o)
    np.testing.assert_allclose(human.coef_, ps.BradleyTerry(order_effect=True).fit(X[h], y[h], order=o[h]).coef_,
                               atol=1e-9)


def test_poor_overlap_warns_and_keeps_the_weights():
    process = dataclasses.replace(JUDGE, pool_mean=(1.5, -1.0, 1.0, 0.0))
    data = draw(process, 8, 300, 3000)
    Z, y, a, w = observed(data), data["y"], data["ai_label"], data["w_true"]
    with pytest.warns(PoorOverlapWarning, match="effective sample size"):
        est = ps.DebiasedBradleyTerry(lam=0.0).fit(Z, y, ai_label=a, density_ratio=w)
    np.testing.assert_array_equal(est.density_ratio_, w[data["is_human"]])
    assert est.weight_max_ == w[data["is_human"]].max() and est.weight_ess_ < 0.2 * 300
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ps.DebiasedBradleyTerry(lam=0.0).fit(Z, y, ai_label=a)  # no ratio given: nothing to warn about


def test_no_root_is_an_error_not_a_runaway_estimate():
    # The pool's judge labels follow the sign of z except on 5% of rows, so the pool loss is nearly flat
    # along +z; on the human rows the judge is always wrong while the humans mostly follow z, so with
    # lam = 1 the correction term keeps pulling along +z harder than the pool resists: no root.
    rng = np.random.default_rng(0)
    n_rows, n_h = 3300, 300
    Z = rng.normal(size=(n_rows, 3))  # columns 1-2 are noise; the problem lives along column 0
    sign = (Z[:, 0] > 0).astype(float)
    human = np.arange(n_rows) < n_h
    z_label = np.where(rng.random(n_rows) < 0.8, sign, 1 - sign)
    ai = np.where(human, 1 - z_label, np.where(rng.random(n_rows) < 0.95, sign, 1 - sign))
    y = np.where(human, z_label, np.nan)
    with pytest.raises(ValueError, match="no finite root for lam=1"):
        ps.DebiasedBradleyTerry(lam=1.0).fit(Z, y, ai_label=ai)
    # lam = 'auto' starts from the human-only root instead; a judge anti-correlated with the humans gets lam = 0
    est = ps.DebiasedBradleyTerry(lam="auto").fit(Z, y, ai_label=ai)
    assert est.lam_ == 0.0 and est.diagnostics_["lam_unclipped"] < 0
    np.testing.assert_allclose(est.coef_, ps.BradleyTerry().fit(Z[human], y[human]).coef_, atol=1e-9)


@pytest.mark.parametrize("kwargs, match", [
    (dict(y=np.full(6, np.nan)), "no human labels"),
    (dict(y=np.ones(6)), "no AI-labelled pool"),
    (dict(ai_label=None), "ai_label is required"),
    (dict(ai_label=[0, 1, 1.5, 0, 1, 0]), "'ai_label' must lie in \\[0, 1\\]"),
    (dict(ai_label=[0, np.nan, 1, 0, 1, 0]), "missing on human-labelled row 1"),
    (dict(ai_label=[0, 1, 1, 0, np.nan, 0]), "missing on pool row 4"),
    (dict(ai_label=[0, 1]), "one entry per row"),
    (dict(y=[1, 0, 2, np.nan, np.nan, np.nan]), "'y' must lie in \\[0, 1\\]"),
    (dict(density_ratio=[1.0, -1.0, 1.0]), "negative on human row 1"),
    (dict(density_ratio=[1.0, np.inf, 1.0]), "NaN or infinite on human row 1"),
    (dict(density_ratio=[1.0, 1.0]), "one entry per human row \\(3\\)"),
    (dict(density_ratio=[0.0, 0.0, 0.0]), "zero on every human row"),
    (dict(groups=[1, None, 2, 3, 4, 5], cov_type="cluster"), "missing ids on human-labelled row 1"),
    (dict(groups=[1, 2, 3, 4, None, 5], cov_type="cluster"), "missing on pool row 4"),
    (dict(cov_type="cluster"), "needs groups"),
    (dict(lam=1.5), "lam must be 'auto' or a number in \\[0, 1\\]"),
    (dict(lam="ppi"), "lam must be 'auto'"),
    (dict(density_ratio_init="known"), "density_ratio must be None or 'classifier'"),
    (dict(density_ratio_init="classifier", density_ratio=[1.0, 1.0, 1.0]), "use one or the other"),
    (dict(classifier=object()), "classifier must be a scikit-learn classifier"),
    (dict(n_folds=1), "n_folds must be an integer >= 2"),
])
def test_errors_name_the_problem(kwargs, match):
    X = np.array([[0.5, 1.0], [-1.0, 0.2], [0.3, -0.7], [1.2, 0.4], [-0.4, -0.9], [0.8, -0.1]])
    args = dict(y=[1, 0, 1, np.nan, np.nan, np.nan], ai_label=[1, 0, 0, 1, 0, 1])
    init = {k: kwargs.pop(k) for k in ("lam", "cov_type", "classifier", "n_folds") if k in kwargs}
    if "density_ratio_init" in kwargs:
        init["density_ratio"] = kwargs.pop("density_ratio_init")
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        ps.DebiasedBradleyTerry(**init).fit(X, **args)


def test_a_comparison_table_is_refused():
    table = ps.ComparisonTable.from_features(np.eye(3), [1, 0, 1])
    with pytest.raises(ValueError, match="cannot hold missing human labels"):
        ps.DebiasedBradleyTerry().fit(table)


def test_observed_oracle_truth_is_the_reduced_biased_judge():
    # E[Phi(b_o z_o + b_h z_h) | z_o] = Phi(b_o z_o / c): check the identity behind the truth by quadrature
    z_h, w_h = np.polynomial.hermite_e.hermegauss(80)
    w_h = w_h / np.sqrt(2 * np.pi)
    eta = np.linspace(-3, 3, 7)
    lhs = np.array([np.sum(w_h * stats.norm.cdf(e + 2.0 * z_h)) for e in eta])
    np.testing.assert_allclose(lhs, stats.norm.cdf(eta / np.sqrt(5.0)), atol=1e-12)
    truth = observed_oracle_bt(JUDGE, HIDDEN)
    reduced = BiasedJudge(beta_true=tuple(np.array([1.0, -0.5, 0.3]) / np.sqrt(5.0)), link="probit",
                          pool_mean=HUMAN_MEAN[:3], human_mean=HUMAN_MEAN[:3])
    np.testing.assert_allclose(truth, reduced.oracle_bt, atol=1e-14)
    with pytest.raises(ValueError, match="probit"):
        observed_oracle_bt(dataclasses.replace(JUDGE, link="logistic"), 1)


# ----------------------------------------------------------------------------- simulation (slow)
def _errors(frame):
    est, truth = np.stack(frame.estimate), np.stack(frame.truth)
    return est - truth, truth


def _bias_z(frame):
    err, _ = _errors(frame)
    return err.mean(axis=0) / (err.std(axis=0, ddof=1) / np.sqrt(len(err)))


def _coverage(frame):
    _, truth = _errors(frame)
    return np.mean((np.stack(frame.lower) <= truth) & (truth <= np.stack(frame.upper)), axis=0)


@pytest.mark.slow
@pytest.mark.parametrize("shift", [False, True], ids=["no shift", "shift"])
def test_bias_and_coverage_500_reps(shift):
    """DDPO (lam = 1) and PPI++ (auto) are unbiased and cover with known and with estimated density ratios;
    AI-only does not. Under a real shift, ignoring it (ratio set to 1) leaves a detectable bias."""
    reps = 500
    process = dataclasses.replace(JUDGE, pool_mean=SHIFTED_POOL) if shift else JUDGE
    known = "known" if shift else "none"  # without shift the known ratio is 1: the pooled (ppi_py) tuning
    estimators = [JudgeBaselineSim("AI-only", "ai-only", hidden=HIDDEN),
                  DebiasedSim("DDPO", lam=1.0, weights=known, hidden=HIDDEN),
                  DebiasedSim("PPI++", weights=known, hidden=HIDDEN),
                  DebiasedSim("PPI++ (estimated ratio)", weights="classifier", hidden=HIDDEN)]
    if shift:
        estimators.append(DebiasedSim("DDPO (ratio set to 1)", lam=1.0, weights="none", hidden=HIDDEN))
    # n = 800: at n = 400 the O(1/n) small-sample bias of the (weighted) logistic fit is already visible
    # over 1000 replications (|z| ~ 4) and coverage sits near 0.93; both vanish at n = 1600.
    df = Study(process, estimators, sizes=[800], reps=reps, seed=11, pool_ratio=5, chunk=250).run(progress=False)
    lo, hi = binomial_band(reps)
    z_crit = stats.norm.isf(0.001 / 2 / 3)  # 99.9% two-sided, Bonferroni over the 3 coordinates
    for name, g in df.groupby("estimator"):
        # a finite-sample root can fail to exist (the class raises): it must be rare; such runs are excluded
        assert g.converged.mean() >= 0.99, (name, g.converged.mean())
        g = g[g.converged]
        cover, bias_z = _coverage(g), _bias_z(g)
        if name == "AI-only":
            assert cover.min() < 0.5, cover
        elif name == "DDPO (ratio set to 1)":
            assert np.abs(bias_z).max() > z_crit, (bias_z, "the negative control should detect the shift")
        else:
            assert np.all((cover >= lo) & (cover <= hi)), (name, cover, (lo, hi))
            assert np.all(np.abs(bias_z) < z_crit), (name, bias_z)


@pytest.mark.slow
def test_tuned_interval_never_wider_than_human_only_and_narrower_with_a_good_judge():
    """PPI++'s interval vs the human-only one (no shift, N = 10 n) for a poor and a good judge."""
    reps = 500
    poor = dataclasses.replace(JUDGE, beta_true=(1.0, -0.5, 0.3, 0.5), flip_rate=0.3)
    good = dataclasses.replace(JUDGE, beta_true=(1.0, -0.5, 0.3, 4.0), flip_rate=0.05)
    assert poor.judge_agreement < 0.65 and good.judge_agreement >= 0.85
    estimators = [DebiasedSim("human-only", lam=0.0, hidden=HIDDEN), DebiasedSim("PPI++", hidden=HIDDEN)]
    for process, narrower in ((poor, False), (good, True)):
        df = Study(process, estimators, sizes=[400], reps=reps, seed=12, pool_ratio=10, chunk=250).run(progress=False)
        width = {name: 2 * np.stack(g.stderr) for name, g in df.groupby("estimator")}
        ratio = width["PPI++"] / width["human-only"]  # paired: same data sets
        mean, se = ratio.mean(axis=0), ratio.std(axis=0, ddof=1) / np.sqrt(reps)
        # "never wider beyond Monte-Carlo error": the mean width ratio is below 1 + 3.3 MC standard errors
        assert np.all(mean < 1 + stats.norm.isf(0.001 / 2 / 3) * se), (mean, se)
        if narrower:
            assert np.all(mean < 0.85), mean
        # the reported intervals still cover
        lo, hi = binomial_band(reps)
        cover = _coverage(df[df.estimator == "PPI++"])
        assert np.all((cover >= lo) & (cover <= hi)), cover


@pytest.mark.slow
def test_ai_judge_study_writes_its_report(tmp_path):
    from prefstat.simulate.studies import get_study, write_report

    spec = dataclasses.replace(get_study("ai-judge"), flip_rates=(0.1,))
    df = spec.build(sizes=[100, 200], reps=4).run(progress=False)
    assert set(df.estimator) == {"AI-only", "human-only", "DDPO (lambda = 1)", "PPI++ (auto)", "oracle"}
    text = write_report(spec, df, str(tmp_path))
    assert "## Judge quality" in text and "## Efficiency" in text
    assert (tmp_path / "ai_judge.png").stat().st_size > 0 and (tmp_path / "results.parquet").exists()
