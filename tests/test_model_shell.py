"""The estimator shell shared by the models: results object, design builder, input reading,
feature names, ignored groups, float item codes and scoring with ties (issues 9 and 10)."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.utils.estimator_checks import check_dataframe_column_names_consistency

import prefstat as ps
from prefstat._x64 import x64_scope
from prefstat.data import ComparisonTable, as_table
from prefstat.design import DenseDesign, SparseRowsDesign, feature_design
from prefstat.inference import EstimationResults
from prefstat.models import preference_accuracy, preference_accuracy_scorer


def _features(n=400, d=3, seed=0, ties=0.0):
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(n, d))
    beta = np.linspace(1.0, -0.5, d)
    u = rng.random(n)
    p = 1 / (1 + np.exp(-Z @ beta))
    y = np.where(u < ties, 0.5, (u < ties + (1 - ties) * p).astype(float))
    return Z, y


def _items(n=600, k=5, seed=1, ties=0.0):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, k, n)
    b = (a + rng.integers(1, k, n)) % k
    theta = np.linspace(-1, 1, k)
    u = rng.random(n)
    p = 1 / (1 + np.exp(-(theta[a] - theta[b])))
    y = np.where(u < ties, 0.5, (u < ties + (1 - ties) * p).astype(float))
    return np.column_stack([a, b]), y


# ------------------------------------------------------------------ results object
def test_bt_reports_through_results_object_with_contrasts():
    X, y = _items()
    bt = ps.BradleyTerry(order_effect=True).fit(X, y)
    res = bt.results_
    assert isinstance(res, EstimationResults)
    assert not any(hasattr(bt, a) for a in ("_est_all", "_cov_all", "_names", "_draws"))
    k = len(bt.coef_)
    np.testing.assert_array_equal(res.estimate[:k], bt.coef_)
    np.testing.assert_array_equal(res.cov[:k, :k], bt.cov_)
    assert res.estimate[k] == bt.order_effect_ and res.names[-1] == "order_effect"
    # integer item labels stay integers in summary's index
    assert list(bt.summary().index) == [0, 1, 2, 3, 4, "order_effect"]
    # theta_4 - theta_0 with the delta-method standard error, by name and by dict
    c = bt.t_test("4 - 0")
    V = bt.cov_
    assert c.estimate[0] == pytest.approx(bt.coef_[4] - bt.coef_[0], abs=1e-12)
    assert c.stderr[0] == pytest.approx(np.sqrt(V[4, 4] + V[0, 0] - 2 * V[4, 0]), rel=1e-12)
    assert bt.t_test({4: 1, 0: -1}).estimate[0] == pytest.approx(c.estimate[0], abs=1e-12)
    # joint Wald test: chi-square with 2 df equal to the quadratic form
    w = bt.wald_test("4 - 0, 3 - 1")
    L = np.zeros((2, k + 1))
    L[0, 4], L[0, 0], L[1, 3], L[1, 1] = 1, -1, 1, -1
    d = L @ res.estimate
    assert w.df == 2 and w.statistic == pytest.approx(d @ np.linalg.solve(L @ res.cov @ L.T, d), rel=1e-10)
    pw = bt.pairwise()
    assert len(pw) == k * (k - 1) // 2 and ("0", "4") in pw.index  # order effect excluded
    assert pw.loc[("0", "4"), "estimate"] == pytest.approx(bt.coef_[0] - bt.coef_[4], abs=1e-12)


def test_bootstrap_percentile_and_davidson_tie_through_results():
    X, y = _items(ties=0.2)
    boot = ps.BradleyTerry(cov_type="bootstrap", n_bootstrap=30, random_state=0).fit(X, y)
    assert boot.results_.draws.shape == (30, 5)
    np.testing.assert_allclose(boot.conf_int(method="percentile"),
                               np.quantile(boot.results_.draws, [0.025, 0.975], axis=0).T, rtol=1e-12)
    dav = ps.DavidsonBradleyTerry().fit(X, y)
    assert dav.results_.names[-1] == "log_tie"
    assert dav.log_tie_param_ == dav.results_.estimate[-1]
    assert dav.log_tie_param_stderr_ == pytest.approx(np.sqrt(dav.results_.cov[-1, -1]), rel=1e-15)
    assert len(dav.pairwise()) == 10  # abilities only, not log_tie


# ------------------------------------------------------------------ design builder / input
def test_feature_design_dense_sparse_order_and_padding():
    Z, _ = _features(n=10, d=3)
    o = np.array([1.0, -1.0] * 5)
    with x64_scope():
        dense, names = feature_design(Z, o)
        sparse, names_sp = feature_design(sp.csr_matrix(np.where(np.abs(Z) > 0.5, Z, 0.0)), o, n_rows=10)
        plain, plain_names = feature_design(Z, n_rows=10, names=["a", "b", "c"])
    assert isinstance(dense, DenseDesign) and isinstance(sparse, SparseRowsDesign)
    assert names == names_sp == ["x0", "x1", "x2", "order_effect"] and plain_names == ["a", "b", "c"]
    X = np.asarray(dense.X)
    assert X.shape == (64, 4) and X.dtype == np.float64  # padded to padded_size(10) with zero rows
    np.testing.assert_array_equal(X[:10], np.column_stack([Z, o]))
    assert not X[10:].any()
    S = sparse.to_scipy().toarray()
    np.testing.assert_array_equal(S, np.column_stack([np.where(np.abs(Z) > 0.5, Z, 0.0), o]))
    assert np.asarray(plain.X).shape == (10, 3)


def test_as_table_accepts_tables_and_arrays_once():
    X, y = _items(n=50)
    table = ComparisonTable.from_arrays(X, y)
    assert as_table(table) is table
    with pytest.raises(ValueError, match="do not pass y, groups with it"):
        as_table(table, y=y, groups=np.zeros(50))
    with pytest.raises(ValueError, match="LatentClassBT needs feature differences"):
        as_table(X, y, kind="features", who="LatentClassBT")
    assert as_table(*_features(n=20), kind="features").kind == "features"


# ------------------------------------------------------------------ feature names (issue 10)
def test_dataframe_feature_names_in_summary_and_checked_at_predict():
    Z, y = _features(d=4)
    df = pd.DataFrame(Z, columns=["length", "helpful", "polite", "correct"])
    bt = ps.BradleyTerry().fit(df, y)
    np.testing.assert_array_equal(bt.feature_names_in_, df.columns)
    assert bt.param_names_ == list(df.columns)
    assert list(bt.summary().index) == list(df.columns)
    with pytest.warns(UserWarning, match="does not have valid feature names"):  # sklearn's warning
        np.testing.assert_allclose(bt.predict_proba(df), bt.predict_proba(Z), rtol=1e-14)
    swapped = df[["helpful", "length", "polite", "correct"]]
    for method in (bt.predict_proba, bt.predict, bt.decision_function, lambda X: bt.score(X, y)):
        with pytest.raises(ValueError, match="same order as they were in fit"):
            method(swapped)
    with pytest.raises(ValueError, match="unseen at fit time"):
        bt.predict(df.rename(columns={"polite": "rude"}))
    # refitting on an array forgets the names
    assert not hasattr(ps.BradleyTerry().fit(Z, y), "feature_names_in_")


@pytest.mark.parametrize("make", [lambda: ps.BradleyTerry(design="features"),
                                  lambda: ps.SignEstimator(n_subsamples=0, n_starts=1, random_state=0)])
def test_sklearn_column_name_consistency_check(make):
    # scikit-learn's own check (y in {0, 1}, so not for the Davidson model, which needs ties)
    est = make()
    check_dataframe_column_names_consistency(type(est).__name__, est)


def test_davidson_and_latent_class_check_feature_names():
    Z, y = _features(d=3, ties=0.2)
    df = pd.DataFrame(Z, columns=["a", "b", "c"])
    dav = ps.DavidsonBradleyTerry().fit(df, y)
    assert list(dav.summary().index) == ["a", "b", "c", "log_tie"]
    with pytest.raises(ValueError, match="same order"):
        dav.predict_proba(df[["c", "b", "a"]])
    lc = ps.LatentClassBT(n_classes=2, n_init=2, random_state=0).fit(df, y, groups=np.arange(len(y)) % 40)
    np.testing.assert_array_equal(lc.feature_names_in_, ["a", "b", "c"])
    with pytest.raises(ValueError, match="same order"):
        lc.predict_proba(df[["c", "b", "a"]])


# ------------------------------------------------------------------ ignored groups (issue 10)
@pytest.mark.parametrize("cov_type", ["model", "robust"])
def test_groups_without_cluster_cov_warn(cov_type):
    Z, y = _features(ties=0.2)
    g = np.arange(len(y)) % 10
    for est in (ps.BradleyTerry(cov_type=cov_type), ps.DavidsonBradleyTerry(cov_type=cov_type)):
        with pytest.warns(UserWarning, match=r"groups.*not used.*cov_type='cluster'") as rec:
            est.fit(Z, y, groups=g)
        assert rec[0].filename == __file__  # attributed to the caller, not to prefstat
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        ps.BradleyTerry(cov_type="cluster").fit(Z, y, groups=g)
        ps.BradleyTerry(cov_type=cov_type).fit(Z, y)


# ------------------------------------------------------------------ dispatch (issue 10)
def test_float_item_codes_warn_and_explicit_design_is_silent():
    X, y = _items()
    with pytest.warns(UserWarning, match="design='items'") as rec:
        bt = ps.BradleyTerry().fit(X.astype(float), y)
    assert bt.kind_ == "features" and rec[0].filename == __file__
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        assert ps.BradleyTerry(design="items").fit(X.astype(float), y).kind_ == "items"
        assert ps.BradleyTerry(design="features").fit(X.astype(float), y).kind_ == "features"
        assert ps.BradleyTerry().fit(X, y).kind_ == "items"  # integer codes
        # genuine two-feature differences (some rows equal in both columns) do not warn
        Z = np.round(_features(n=len(y), d=2)[0])
        ps.BradleyTerry().fit(Z, y)


def test_dataframe_string_and_float_columns_is_an_error_naming_them():
    Z, y = _features(n=30, d=1)
    df = pd.DataFrame({"model": np.where(Z[:, 0] > 0, "a", "b"), "score": Z[:, 0]})
    with pytest.raises(ValueError, match=r"\['model'\].*\['score'\]"):
        ps.BradleyTerry().fit(df, y)
    labels = pd.DataFrame({"l": ["a", "b", "c"] * 10, "r": ["b", "c", "a"] * 10})
    assert ps.BradleyTerry().fit(labels, np.r_[[1.0, 0.0, 1.0] * 5, [0.0, 1.0, 0.0] * 5]).kind_ == "items"
    numeric = pd.DataFrame({"x": Z[:, 0], "n": np.arange(30) % 3})  # int + float: all numeric -> features
    assert ps.BradleyTerry().fit(numeric, y).param_names_ == ["x", "n"]
    with pytest.raises(ValueError, match=r"columns \['t'\] are not numeric"):
        ps.BradleyTerry().fit(pd.DataFrame({"x": Z[:, 0], "y2": Z[:, 0] ** 2, "t": ["a"] * 30}), y)


# ------------------------------------------------------------------ scoring with ties (issue 10)
def test_default_scorer_handles_ties_in_grid_search():
    Z, y = _features(n=600, ties=0.25)
    gs = GridSearchCV(ps.BradleyTerry(), {"alpha": [0.0, 10.0]}, cv=3).fit(Z, y)
    scores = gs.cv_results_["mean_test_score"]
    assert np.all(np.isfinite(scores)) and np.all(scores < 0)  # mean log-likelihoods
    np.testing.assert_allclose(scores[0], cross_val_score(ps.BradleyTerry(), Z, y, cv=3).mean(), rtol=1e-12)
    acc = GridSearchCV(ps.BradleyTerry(), {"alpha": [0.0, 10.0]}, cv=3,
                       scoring=preference_accuracy_scorer).fit(Z, y)
    assert np.all(np.isfinite(acc.cv_results_["mean_test_score"]))
    # the tie-aware accuracy: ties skipped, by hand on the full fit
    bt = ps.BradleyTerry().fit(Z, y)
    live = y != 0.5
    assert preference_accuracy(y, bt.predict(Z)) == pytest.approx(np.mean(bt.predict(Z)[live] == y[live]))
    # sklearn's accuracy needs y in {0, 1}: one ValueError, as documented
    with pytest.raises(ValueError, match="continuous"):
        GridSearchCV(ps.BradleyTerry(), {"alpha": [0.0]}, cv=3, scoring="accuracy", error_score="raise").fit(Z, y)


def test_latent_class_score_is_a_tie_aware_log_likelihood():
    Z, y = _features(n=300, ties=0.2)
    g = np.arange(300) % 50
    lc = ps.LatentClassBT(n_classes=2, n_init=2, random_state=0).fit(Z, y, groups=g)
    s = lc.score(Z, y)  # was accuracy_score: ValueError on y = 0.5
    p = lc.predict_proba(Z)[:, 1]
    assert s == pytest.approx(np.mean(y * np.log(p) + (1 - y) * np.log1p(-p)), rel=1e-10)
