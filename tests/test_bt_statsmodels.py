"""BradleyTerry against an independent oracle: statsmodels GLM(Binomial, logit).

Both compute the same maximum-likelihood estimate and the same covariance
formulas, so DESIGN.md's contract applies: agreement to 1e-6 (absolute and
relative). Both sides solve the score equations to ~1e-12 relative accuracy
(prefstat: max|grad| <= 1e-12 * total weight; statsmodels: tol=1e-14), and
the data sets are small and well-conditioned, so the only residual difference
is floating-point rounding (~1e-13 observed); 1e-6 leaves a wide margin for
platform differences while still catching any formula error (a wrong
small-sample factor, a wrong nobs, a missing weight, ... all change SEs by
>= 1e-3 relative on these sample sizes).

statsmodels always sees the row-expanded data (np.repeat by the frequency
weights): its own freq_weights option uses a different nobs in the cluster
correction, and expansion is the definition of a frequency weight.
"""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import prefstat as ps
from conftest import assert_close, centering, expand, item_design, item_X, simulate_items, sm_glm

# These tests pass the same groups to every cov_type on purpose; the warning that non-cluster
# fits ignore them is tested in test_model_shell.py.
pytestmark = pytest.mark.filterwarnings("ignore:groups= is not used:UserWarning")

COV_TYPES = ["model", "robust", "cluster"]


def _fit_items(d, cov_type, reference):
    bt = ps.BradleyTerry(reference=reference, order_effect=d["order"] is not None, cov_type=cov_type)
    return bt.fit(item_X(d), d["y"], sample_weight=d["w"], groups=d.get("groups"), order=d["order"])


def _sm_items(d, cov_type, items, reference):
    left, right, y, o, g = expand(d["w"], d["left"], d["right"], d["y"], d["order"], d.get("groups"))
    X, cols = item_design(left, right, items, reference, o)
    return sm_glm(X, y, cov_type, groups=None if g is None else np.unique(g, return_inverse=True)[1]), cols


# ---------------------------------------------------------------- item level
@pytest.mark.parametrize("cov_type", COV_TYPES)
@pytest.mark.parametrize("order", [False, True], ids=["no_order", "order"])
@pytest.mark.parametrize("ties", [0.0, 0.25], ids=["binary", "ties"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_items_reference_matches_statsmodels(seed, ties, order, cov_type):
    d = simulate_items(seed, k=6, n=250, order=order, ties=ties, weights=seed > 0, n_groups=7)
    ref = d["labels"][seed % 6]
    bt = _fit_items(d, cov_type, ref)
    res, cols = _sm_items(d, cov_type, list(bt.items_), ref)

    assert sorted(bt.items_) == list(bt.items_) == sorted(d["labels"])
    pos = [list(bt.items_).index(c) for c in cols]
    iref = list(bt.items_).index(ref)
    assert bt.coef_[iref] == 0.0 and bt.stderr_[iref] == 0.0
    k = len(cols)
    assert_close(bt.coef_[pos], res.params[:k], what="coef")
    assert_close(bt.stderr_[pos], res.bse[:k], what="stderr")
    assert_close(bt.cov_[np.ix_(pos, pos)], res.cov_params()[:k, :k], what="cov")
    if order:
        assert_close(bt.order_effect_, res.params[k], what="order effect")
        assert_close(bt.order_effect_stderr_, res.bse[k], what="order effect stderr")
    else:
        assert bt.order_effect_ is None


@pytest.mark.parametrize("cov_type", COV_TYPES)
@pytest.mark.parametrize("order", [False, True], ids=["no_order", "order"])
@pytest.mark.parametrize("seed", [3, 4])
def test_items_sum_to_zero_matches_transformed_statsmodels(seed, order, cov_type):
    """reference=None: theta_c = C pad(theta), cov = C pad(V) C^T (docs/methods.md#conventions)."""
    d = simulate_items(seed, k=5, n=200, order=order, ties=0.2, weights=True, n_groups=6)
    bt = _fit_items(d, cov_type, None)
    items = list(bt.items_)
    ref = items[2]  # any reference gives the same sum-to-zero quantities
    res, cols = _sm_items(d, cov_type, items, ref)
    k = len(items)
    P = np.zeros((k, k - 1))  # pads the reference back in as a zero row
    for j, c in enumerate(cols):
        P[items.index(c), j] = 1.0
    C = centering(k)
    V = res.cov_params()
    theta_c = C @ P @ res.params[: k - 1]
    cov_c = C @ P @ V[: k - 1, : k - 1] @ P.T @ C.T

    assert abs(bt.coef_.sum()) < 1e-12
    assert_close(bt.coef_, theta_c, what="centred coef")
    assert_close(bt.cov_, cov_c, what="centred cov")
    assert_close(bt.stderr_, np.sqrt(np.diag(cov_c)), what="centred stderr")
    if order:
        # the order effect does not depend on the ability parametrisation
        assert_close(bt.order_effect_, res.params[-1], what="order effect")
        assert_close(bt.order_effect_stderr_, res.bse[-1], what="order effect stderr")


@pytest.mark.parametrize("kind", ["items", "features"])
def test_lbfgs_solver_matches_statsmodels(kind):
    """solver='lbfgs' stops at max|grad| <= 1e-10 * n; with the information's smallest eigenvalue
    ~0.05 n here, the estimate is within ~2e-9 of the MLE: the 1e-6 contract still applies."""
    if kind == "items":
        d = simulate_items(30, k=6, n=300, order=True, ties=0.2, weights=True)
        ref = d["labels"][0]
        bt = ps.BradleyTerry(reference=ref, order_effect=True, solver="lbfgs").fit(
            item_X(d), d["y"], sample_weight=d["w"], order=d["order"])
        res, cols = _sm_items(d, "model", list(bt.items_), ref)
        est = np.r_[bt.coef_[[list(bt.items_).index(c) for c in cols]], bt.order_effect_]
        se = np.r_[bt.stderr_[[list(bt.items_).index(c) for c in cols]], bt.order_effect_stderr_]
    else:
        Z, Zd, y, w, _ = _feature_data(31)
        bt = ps.BradleyTerry(solver="lbfgs").fit(Z, y, sample_weight=w)
        Ze, ye = expand(w, Zd, y)
        res = sm_glm(Ze, ye)
        est, se = bt.coef_, bt.stderr_
    assert_close(est, res.params, what="lbfgs coef")
    assert_close(se, res.bse, what="lbfgs stderr")


def test_items_integer_labels_and_first_item_default_reference_invariance():
    """Integer labels; the centred estimate must not depend on the internal reference."""
    d = simulate_items(7, k=5, n=200, names=False)
    a = ps.BradleyTerry().fit(item_X(d), d["y"])
    b = ps.BradleyTerry(reference=3).fit(item_X(d), d["y"])
    assert list(a.items_) == [0, 1, 2, 3, 4]
    # same MLE in two parametrisations: exact linear relation up to solver precision (1e-10 is
    # 100x the Newton tolerance's effect on the estimate for n=210 well-conditioned rows)
    np.testing.assert_allclose(a.coef_, b.coef_ - b.coef_.mean(), atol=1e-10)


# ------------------------------------------------------------- feature level
def _feature_data(seed, n=300, d=4, sparse=False):
    rng = np.random.default_rng(seed)
    if sparse:
        Z = sp.random(n, d, density=0.4, format="csr", random_state=seed, data_rvs=rng.standard_normal)
        Zd = Z.toarray()
    else:
        Zd = rng.normal(size=(n, d))
        Z = Zd
    beta = rng.normal(size=d)
    y = (rng.random(n) < 1 / (1 + np.exp(-Zd @ beta))).astype(float)
    y[rng.random(n) < 0.15] = 0.5
    w = rng.integers(1, 4, n).astype(float)
    g = rng.integers(0, 9, n)
    return Z, Zd, y, w, g


@pytest.mark.parametrize("cov_type", COV_TYPES)
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "sparse"])
@pytest.mark.parametrize("order", [False, True], ids=["no_order", "order"])
@pytest.mark.parametrize("seed", [10, 11])
def test_features_match_statsmodels(seed, order, sparse, cov_type):
    Z, Zd, y, w, g = _feature_data(seed, sparse=sparse)
    rng = np.random.default_rng(seed + 100)
    o = rng.integers(-1, 2, Z.shape[0]).astype(float) if order else None
    bt = ps.BradleyTerry(order_effect=order, cov_type=cov_type).fit(Z, y, sample_weight=w, groups=g, order=o)
    Ze, ye, oe, ge = expand(w, Zd, y, o, g)
    Xsm = Ze if o is None else np.column_stack([Ze, oe])
    res = sm_glm(Xsm, ye, cov_type, groups=ge)
    dd = Zd.shape[1]
    assert bt.coef_.shape == (dd,)
    assert_close(bt.coef_, res.params[:dd], what="coef")
    assert_close(bt.stderr_, res.bse[:dd], what="stderr")
    assert_close(bt.cov_, res.cov_params()[:dd, :dd], what="cov")
    if order:
        assert_close(bt.order_effect_, res.params[dd], what="order effect")
        assert_close(bt.order_effect_stderr_, res.bse[dd], what="order stderr")


def test_features_order_effect_without_order_column_is_an_intercept():
    """order_effect=True with no order column: every row's left option holds the advantage."""
    Z, Zd, y, w, _ = _feature_data(12)
    bt = ps.BradleyTerry(order_effect=True).fit(Z, y)
    res = sm_glm(np.column_stack([Zd, np.ones(len(y))]), y)
    assert_close(bt.coef_, res.params[:-1], what="coef")
    assert_close(bt.order_effect_, res.params[-1], what="intercept")
    assert_close(bt.order_effect_stderr_, res.bse[-1], what="intercept stderr")


# ------------------------------------------------------ log-likelihood, deviance
@pytest.mark.parametrize("kind", ["items", "features"])
@pytest.mark.parametrize("seed", [20, 21])
def test_loglik_and_deviance_match_statsmodels_on_binary_rows(seed, kind):
    if kind == "items":
        d = simulate_items(seed, k=5, n=200, order=True, weights=True)
        bt = _fit_items(d, "model", d["labels"][0])
        left, right, y, o = expand(d["w"], d["left"], d["right"], d["y"], d["order"])
        X, _ = item_design(left, right, list(bt.items_), d["labels"][0], o)
    else:
        Z, Zd, y, w, _ = _feature_data(seed)
        y = np.round(y + 0.01 * (y == 0.5))  # binary rows only: ties -> 1
        bt = ps.BradleyTerry().fit(Z, y, sample_weight=w)
        X, y = expand(w, Zd, y)
    res = sm_glm(X, y)
    # log-likelihoods are sums of ~500 terms of size ~1; rounding is ~1e-12 relative.
    assert_close(bt.loglik_, res.llf, what="loglik")
    assert_close(bt.deviance_, res.deviance, what="deviance")
    assert bt.nobs_ == pytest.approx(len(y), abs=0)


def test_deviance_with_ties_matches_statsmodels():
    """With y = 1/2 statsmodels' Binomial deviance is the saturated-model deviance too
    (its llf is not: it adds gammaln terms for fractional endog, so only deviance is compared)."""
    d = simulate_items(22, k=5, n=200, ties=0.3)
    bt = _fit_items(d, "model", d["labels"][1])
    X, _ = item_design(d["left"], d["right"], list(bt.items_), d["labels"][1])
    res = sm_glm(X, d["y"])
    assert_close(bt.deviance_, res.deviance, what="deviance with ties")


# ------------------------------------------------------------ bundled data sets
def _baseball_games(frame):
    home = np.repeat(frame.home_team.to_numpy(), frame.home_wins + frame.away_wins)
    away = np.repeat(frame.away_team.to_numpy(), frame.home_wins + frame.away_wins)
    y = np.concatenate([np.r_[np.ones(h), np.zeros(a)] for h, a in zip(frame.home_wins, frame.away_wins)])
    return home.astype(object), away.astype(object), y


@pytest.mark.parametrize("cov_type", ["model", "robust"])
@pytest.mark.parametrize("home", [False, True], ids=["no_home", "home_advantage"])
def test_baseball_matches_statsmodels_game_level(baseball_frame, home, cov_type):
    table = ps.datasets.load_baseball()
    bt = ps.BradleyTerry(reference="Baltimore", order_effect=home, cov_type=cov_type).fit(table)
    hh, aa, y = _baseball_games(baseball_frame)
    assert len(y) == bt.nobs_ == baseball_frame[["home_wins", "away_wins"]].to_numpy().sum()
    X, cols = item_design(hh, aa, list(bt.items_), "Baltimore", np.ones(len(y)) if home else None)
    res = sm_glm(X, y, cov_type)
    pos = [list(bt.items_).index(c) for c in cols]
    assert_close(bt.coef_[pos], res.params[:6], what="abilities")
    assert_close(bt.stderr_[pos], res.bse[:6], what="stderr")
    if home:
        assert_close(bt.order_effect_, res.params[6], what="home advantage")
        assert_close(bt.order_effect_stderr_, res.bse[6], what="home advantage stderr")
    assert_close(bt.loglik_, res.llf, what="loglik")


def test_citations_match_statsmodels(citations_frame):
    bt = ps.BradleyTerry(reference="Biometrika").fit(ps.datasets.load_citations())
    f = citations_frame
    cited = np.repeat(f.cited.to_numpy(), f["count"]).astype(object)
    citing = np.repeat(f.citing.to_numpy(), f["count"]).astype(object)
    y = np.ones(len(cited))  # the cited journal (left) wins every comparison
    X, cols = item_design(cited, citing, list(bt.items_), "Biometrika")
    res = sm_glm(X, y)
    pos = [list(bt.items_).index(c) for c in cols]
    assert_close(bt.coef_[pos], res.params, what="abilities")
    assert_close(bt.stderr_[pos], res.bse, what="stderr")
    # sum-to-zero version against the transformed statsmodels covariance
    bc = ps.BradleyTerry().fit(ps.datasets.load_citations())
    k = 4
    P = np.zeros((k, k - 1))
    for j, c in enumerate(cols):
        P[list(bc.items_).index(c), j] = 1.0
    C = centering(k)
    assert_close(bc.coef_, C @ P @ res.params, what="centred abilities")
    assert_close(bc.cov_, C @ P @ res.cov_params() @ P.T @ C.T, what="centred cov")


# --------------------------------------------------------------- published values
def test_baseball_home_advantage_agresti():
    """Agresti (2002, Sec. 10.6): estimated home advantage 0.302 (three decimals), SE 0.131.

    Published values are rounded to 3 decimals (rounding error <= 5e-4), so 1e-3 is the
    tightest tolerance that a correct implementation is guaranteed to meet.
    """
    bt = ps.BradleyTerry(order_effect=True).fit(ps.datasets.load_baseball())
    assert bt.order_effect_ == pytest.approx(0.302, abs=1e-3)
    assert bt.order_effect_stderr_ == pytest.approx(0.131, abs=1e-3)


def test_citations_abilities_stigler_agresti():
    """Agresti (2002, Table 10.9 fit): abilities relative to Biometrika (3 decimals -> tol 1e-3)."""
    bt = ps.BradleyTerry(reference="Biometrika").fit(ps.datasets.load_citations())
    est = dict(zip(bt.items_, bt.coef_))
    assert est["Biometrika"] == 0.0
    assert est["Comm Statist"] == pytest.approx(-2.949, abs=1e-3)
    assert est["JASA"] == pytest.approx(-0.480, abs=1e-3)
    assert est["JRSS-B"] == pytest.approx(0.269, abs=1e-3)


@pytest.mark.parametrize("cov_type", ["model", "robust"])
def test_subsampled_solver_matches_newton_and_statsmodels(cov_type):
    """solver='subsampled' (the default for tall dense designs, n * d > 5e6) reaches the same
    minimiser: its subsampled-Hessian steps stop at a decrement of 1e-12 * n and the final full
    Newton step squares that error, so coefficients and SEs agree with full Newton to 1e-10 here.
    100,000 rows x 52 columns is above the auto threshold, so the default also takes this path;
    the subsample (every 3rd row) differs from the full data."""
    rng = np.random.default_rng(7)
    n, d = 100_000, 52
    Z = rng.standard_normal((n, d))
    beta = rng.normal(0, 0.2, d)
    y = (rng.random(n) < 1 / (1 + np.exp(-Z @ beta))).astype(float)
    auto = ps.BradleyTerry(cov_type=cov_type)
    auto.fit(Z, y)
    assert auto._opts["solver"] == "subsampled"
    newton = ps.BradleyTerry(cov_type=cov_type, solver="newton").fit(Z, y)
    np.testing.assert_allclose(auto.coef_, newton.coef_, rtol=0, atol=1e-10)
    np.testing.assert_allclose(auto.stderr_, newton.stderr_, rtol=1e-10, atol=0)
    assert auto.converged_
    res = sm_glm(Z, y, cov_type)
    assert_close(auto.coef_, res.params, what="subsampled coef")
    assert_close(auto.stderr_, res.bse, what="subsampled stderr")
