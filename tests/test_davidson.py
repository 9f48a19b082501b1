"""Davidson (1970) tie model: reference fits, bad input, known-truth simulation, invariances.

The reference is independent of prefstat: a plain numpy log-likelihood on a
hand-built design (conftest.item_design), maximised by scipy's BFGS and polished
by Newton steps, with the Hessian by central differences of the numpy gradient
(cross-checked against statsmodels' approx_hess3 on the log-likelihood) and
per-row scores by central differences of the per-row log-likelihood. Those
differences are accurate to ~1e-9 relative, so prefstat must agree to 1e-6.
"""
from __future__ import annotations

import jax
import numpy as np
import pytest
from scipy import optimize, stats
from statsmodels.tools.numdiff import approx_hess3

import prefstat as ps
from prefstat._x64 import x64_scope
from prefstat.simulate.processes import HomogeneousBT
from conftest import assert_close, centering, item_X, item_design, simulate_items

TOL = 1e-6


# ------------------------------------------------------------------ numpy reference
def _row_loglik(x, X, y):
    """Davidson log-likelihood of each row at x = (beta, tau), numpy only."""
    eta, tau = X @ x[:-1], x[-1]
    log_d = np.logaddexp(np.logaddexp(eta / 2, -eta / 2), tau)
    num = np.where(y == 1.0, eta / 2, np.where(y == 0.0, -eta / 2, tau))
    return num - log_d


def _grad(x, X, y, w):
    eta, tau = X @ x[:-1], x[-1]
    den = np.exp(eta / 2) + np.exp(-eta / 2) + np.exp(tau)
    pl, pr, pt = np.exp(eta / 2) / den, np.exp(-eta / 2) / den, np.exp(tau) / den
    s_eta = 0.5 * ((y == 1.0).astype(float) - (y == 0.0)) - 0.5 * (pl - pr)
    s_tau = (y == 0.5) - pt
    return -np.r_[X.T @ (w * s_eta), np.sum(w * s_tau)]


def _jacobian(fun, x, h):
    """Central differences, column by column (error ~h^2 + eps/h)."""
    return np.column_stack([(fun(x + h * e) - fun(x - h * e)) / (2 * h) for e in np.eye(x.size)])


def reference_fit(X, y, w, groups=None):
    """(estimate, model cov, robust cov, cluster cov) of the Davidson MLE on design X."""
    f = lambda x: -np.sum(w * _row_loglik(x, X, y))  # noqa: E731
    x0 = np.r_[np.zeros(X.shape[1]), 0.0]
    res = optimize.minimize(f, x0, jac=lambda x: _grad(x, X, y, w), method="BFGS",
                            options=dict(gtol=1e-10, maxiter=10_000))
    hess = lambda x: _jacobian(lambda v: _grad(v, X, y, w), x, 1e-6)  # noqa: E731
    x = res.x
    for _ in range(3):  # Newton polish: BFGS stalls at |grad| ~ 1e-8 (rounding of f)
        x = x - np.linalg.solve(hess(x), _grad(x, X, y, w))
    # the numpy gradient is itself checked against finite differences of the plain log-likelihood,
    # and the Hessian against statsmodels' approx_hess3 (good to ~1e-6 only, hence not used itself)
    assert np.max(np.abs(optimize.approx_fprime(x, f, 1e-6))) < 1e-4 * np.sum(w)
    assert np.max(np.abs(_grad(x, X, y, w))) < 1e-10
    H = hess(x)
    np.testing.assert_allclose(approx_hess3(x, f), H, rtol=1e-4, atol=1e-4 * np.abs(H).max())
    Hinv = np.linalg.inv(0.5 * (H + H.T))
    S = _jacobian(lambda v: _row_loglik(v, X, y), x, 1e-5)  # per-row scores, numerically
    robust = Hinv @ (S.T @ (w[:, None] * S)) @ Hinv
    cluster = None
    if groups is not None:
        codes, G = np.unique(groups, return_inverse=True)[1], np.unique(groups).size
        Sg = np.zeros((G, x.size))
        np.add.at(Sg, codes, w[:, None] * S)
        n, p = w.sum(), x.size
        cluster = Hinv @ (Sg.T @ Sg) @ Hinv * G / (G - 1) * (n - 1) / (n - p)
    return x, Hinv, robust, cluster


def _davidson_probs(eta, nu):
    den = np.exp(eta / 2) + np.exp(-eta / 2) + nu
    return np.exp(eta / 2) / den, nu / den


def _draw_davidson(rng, eta, nu):
    pl, pt = _davidson_probs(eta, nu)
    u = rng.random(eta.size)
    return np.where(u < pl, 1.0, np.where(u < pl + pt, 0.5, 0.0))


def item_data(seed, order):
    """simulate_items' design (with a both-ways win cycle), outcomes redrawn from a Davidson model."""
    d = simulate_items(seed, k=5, n=250, order=order, weights=True, n_groups=7)
    rng = np.random.default_rng(seed + 1)
    idx = {lab: j for j, lab in enumerate(d["labels"])}
    a = np.array([idx[v] for v in d["left"]])
    b = np.array([idx[v] for v in d["right"]])
    eta = d["theta"][a] - d["theta"][b] + (0.4 * d["order"] if order else 0.0)
    y = _draw_davidson(rng, eta, 0.7)
    y[-2 * 5:] = 1.0  # keep the win cycle: the MLE exists
    d["y"] = y
    return d


# ------------------------------------------------------------------ 1. reference
@pytest.mark.parametrize("order", [False, True])
def test_items_match_scipy_reference(order):
    d = item_data(3, order)
    X = item_X(d)
    fit_kw = dict(sample_weight=d["w"], groups=d["groups"], order=d["order"])
    ref_label = d["labels"][2]
    fits = {ct: ps.DavidsonBradleyTerry(reference=ref_label, order_effect=order, cov_type=ct).fit(X, d["y"], **fit_kw)
            for ct in ("model", "robust", "cluster")}
    m = fits["model"]
    Xd, cols = item_design(d["left"], d["right"], m.items_, ref_label, d["order"] if order else None)
    x, V, Vr, Vc = reference_fit(Xd, d["y"], d["w"], d["groups"])
    free = np.array([it != ref_label for it in m.items_])
    assert m.converged_
    assert_close(m.coef_[free], x[: len(cols)], TOL, what="abilities")
    assert m.coef_[~free] == 0.0
    assert_close(m.log_tie_param_, x[-1], TOL, what="tau")
    assert_close(m.tie_param_, np.exp(x[-1]), TOL, what="nu")
    for ct, Vref in (("model", V), ("robust", Vr), ("cluster", Vc)):
        f = fits[ct]
        assert_close(f.stderr_[free], np.sqrt(np.diag(Vref))[: len(cols)], TOL, what=f"{ct} se abilities")
        assert_close(f.log_tie_param_stderr_, np.sqrt(Vref[-1, -1]), TOL, what=f"{ct} se tau")
        assert_close(f.tie_param_stderr_, np.exp(x[-1]) * np.sqrt(Vref[-1, -1]), TOL, what=f"{ct} se nu (delta)")
        if order:
            assert_close(f.order_effect_, x[-2], TOL, what="gamma")
            assert_close(f.order_effect_stderr_, np.sqrt(Vref[-2, -2]), TOL, what=f"{ct} se gamma")
    # the log-likelihood is the maximised one; deviance is -2 loglik (every row is its own saturated fit)
    assert_close(m.loglik_ / d["w"].sum(), np.sum(d["w"] * _row_loglik(x, Xd, d["y"])) / d["w"].sum(), TOL)
    assert_close(m.deviance_, -2 * m.loglik_, 1e-9)
    assert_close(m.score(X, d["y"], sample_weight=d["w"], order=d["order"]), m.loglik_ / d["w"].sum(), 1e-9)

    # sum-to-zero report: C theta, with covariance C V C^T including the cross-covariance with tau
    c = ps.DavidsonBradleyTerry(order_effect=order).fit(X, d["y"], sample_weight=d["w"], order=d["order"])
    k = len(m.items_)
    P = np.zeros((k + order + 1, x.size))
    P[np.flatnonzero(free), np.arange(len(cols))] = 1.0
    P[k:, len(cols):] = np.eye(order + 1)
    A = np.eye(k + order + 1)
    A[:k, :k] = centering(k)
    assert_close(c.summary()["estimate"].to_numpy(), A @ P @ x, TOL, what="centred estimates")
    assert_close(c.summary()["stderr"].to_numpy(), np.sqrt(np.diag(A @ P @ V @ P.T @ A.T)), TOL, what="centred se")


def test_features_match_scipy_reference():
    rng = np.random.default_rng(11)
    n = 400
    Z = rng.normal(size=(n, 3))
    o = rng.choice([-1.0, 1.0], n)
    y = _draw_davidson(rng, Z @ np.array([0.8, -0.5, 0.2]) + 0.3 * o, 1.2)
    w = rng.integers(1, 4, n).astype(float)
    groups = rng.integers(0, 9, n)
    fits = {ct: ps.DavidsonBradleyTerry(order_effect=True, cov_type=ct).fit(Z, y, sample_weight=w, order=o,
                                                                          groups=groups)
            for ct in ("model", "robust", "cluster")}
    x, V, Vr, Vc = reference_fit(np.column_stack([Z, o]), y, w, groups)
    m = fits["model"]
    assert_close(m.coef_, x[:3], TOL, what="beta")
    assert_close(m.order_effect_, x[3], TOL, what="gamma")
    assert_close(m.log_tie_param_, x[4], TOL, what="tau")
    for ct, Vref in (("model", V), ("robust", Vr), ("cluster", Vc)):
        assert_close(fits[ct].summary()["stderr"].to_numpy(), np.sqrt(np.diag(Vref)), TOL, what=f"{ct} se")
    # three-column predictions [right, tie, left] from the fitted model
    eta = Z[:5] @ m.coef_ + m.order_effect_ * o[:5]
    pl, pt = _davidson_probs(eta, m.tie_param_)
    proba = m.predict_proba(Z[:5], order=o[:5])
    assert_close(proba, np.column_stack([1 - pl - pt, pt, pl]), 1e-12)
    assert np.all(np.isin(m.predict(Z[:5], order=o[:5]), [0.0, 0.5, 1.0]))


# ------------------------------------------------------------------ 2. bad input
def test_no_ties_is_a_boundary_error():
    d = simulate_items(5, k=4, n=120)
    with pytest.raises(ValueError, match=r"no ties.*nu = 0.*boundary.*half-win"):
        ps.DavidsonBradleyTerry().fit(item_X(d), d["y"])
    # ties that carry no weight are no ties
    y = d["y"].copy()
    y[0] = 0.5
    w = np.ones_like(y)
    w[0] = 0.0
    with pytest.raises(ValueError, match="no ties"):
        ps.DavidsonBradleyTerry().fit(item_X(d), y, sample_weight=w)


def test_all_ties_and_soft_labels_and_bootstrap_are_errors():
    d = simulate_items(5, k=4, n=60)
    with pytest.raises(ValueError, match="every comparison is a tie"):
        ps.DavidsonBradleyTerry().fit(item_X(d), np.full(d["y"].size, 0.5))
    y = d["y"].copy()
    y[[3, 7]] = [0.3, 0.9]
    with pytest.raises(ValueError, match=r"column 'y'.*rows 3, 7.*half-win"):
        ps.DavidsonBradleyTerry().fit(item_X(d), y)
    y[[3, 7]] = 0.5
    with pytest.raises(ValueError, match="bootstrap.*not supported"):
        ps.DavidsonBradleyTerry(cov_type="bootstrap").fit(item_X(d), y)


def test_ordered_outcomes_have_no_mle():
    # wins for z > 1, ties for |z| < 1, losses for z < -1: (beta, tau) -> infinity along (1, 1/2)
    z = np.linspace(-3, 3, 61)
    y = np.where(z > 1, 1.0, np.where(z < -1, 0.0, 0.5))
    with pytest.raises(ValueError, match=r"Davidson-Bradley-Terry MLE does not exist.*log_tie"):
        ps.DavidsonBradleyTerry().fit(z[:, None], y)


# ------------------------------------------------------------------ 4. invariances
def test_swapping_sides_and_duplicating_rows():
    d = item_data(8, order=True)
    X, y, w, o = item_X(d), d["y"], d["w"], d["order"]
    base = ps.DavidsonBradleyTerry(order_effect=True).fit(X, y, sample_weight=w, order=o)
    # swap left/right, flip the outcome (ties stay) and the order indicator: the same likelihood
    swap = ps.DavidsonBradleyTerry(order_effect=True).fit(X[:, ::-1], 1.0 - y, sample_weight=w, order=-o)
    # integer weights are row duplication
    reps = w.astype(int)
    dup = ps.DavidsonBradleyTerry(order_effect=True).fit(np.repeat(X, reps, 0), np.repeat(y, reps),
                                                         order=np.repeat(o, reps))
    for other in (swap, dup):
        np.testing.assert_allclose(other.summary()["estimate"], base.summary()["estimate"], atol=1e-8)
        np.testing.assert_allclose(other.summary()["stderr"], base.summary()["stderr"], rtol=1e-8)
    # without negating the order indicator the order effect changes sign
    flip = ps.DavidsonBradleyTerry(order_effect=True).fit(X[:, ::-1], 1.0 - y, sample_weight=w, order=o)
    np.testing.assert_allclose(flip.order_effect_, -base.order_effect_, atol=1e-8)
    np.testing.assert_allclose(flip.coef_, base.coef_, atol=1e-8)


# ------------------------------------------------------------------ 3. known truth
def test_simulation_consistency_and_coverage():
    """200 replications of HomogeneousBT with Davidson ties (tie_rate 0.3, order effect 0.3), n = 1500.

    Monte Carlo reasoning: if the model-based 95% Wald intervals are exact, the number of
    replications (of 200) whose interval covers a parameter is Binomial(200, 0.95); its central
    99.9% range is about [179, 198]. Seven parameters are checked, so a correct method fails this
    test with probability <= 7 * 0.001 (independence not needed: union bound). Consistency: the mean
    estimate must be within 4 Monte Carlo standard errors (sd / sqrt(200)) plus 0.01 (O(1/n) bias)
    of the Davidson truth, whereas the half-win target (the KL projection of the half-win
    quasi-likelihood) is shrunk towards zero and must be far from it.
    """
    proc = HomogeneousBT(n_items=5, tie_rate=0.3, order_effect=0.3, seed_abilities=4)
    truth = np.r_[proc.truth, proc.truth_order_effect, np.log(proc.davidson_nu)]
    n, reps = 1500, 200
    est, se, cover = [], [], []
    for r in range(reps):
        with x64_scope():
            s = proc.sample(jax.random.PRNGKey(r), n)
        X = np.column_stack([np.asarray(s["left"]), np.asarray(s["right"])])
        m = ps.DavidsonBradleyTerry(order_effect=True).fit(X, np.asarray(s["y"]), order=np.asarray(s["order"]))
        tab = m.summary()
        lo, hi = tab.iloc[:, 4].to_numpy(), tab.iloc[:, 5].to_numpy()
        est.append(tab["estimate"].to_numpy())
        se.append(tab["stderr"].to_numpy())
        cover.append((lo <= truth) & (truth <= hi))
    est, se, cover = np.array(est), np.array(se), np.array(cover)
    lo_band, hi_band = stats.binom.interval(0.999, reps, 0.95)
    covered = cover.sum(axis=0)
    assert np.all((covered >= lo_band) & (covered <= hi_band)), (covered, lo_band, hi_band)
    mc_se = est.std(axis=0, ddof=1) / np.sqrt(reps)
    assert np.all(np.abs(est.mean(axis=0) - truth) <= 4 * mc_se + 0.01), (est.mean(axis=0), truth)
    half = np.r_[proc.half_win_truth[0], proc.half_win_truth[1]]
    assert np.max(np.abs(est.mean(axis=0)[:6] - half) / mc_se[:6]) > 10
    # delta-method SE of nu against the Monte Carlo spread of nu-hat
    nu_hat = np.exp(est[:, -1])
    assert abs(np.mean(nu_hat * se[:, -1]) / nu_hat.std(ddof=1) - 1) < 0.2
