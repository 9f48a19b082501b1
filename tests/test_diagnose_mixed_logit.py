"""BT against the mixed logit (prefstat.diagnose.mixed_logit): likelihood, score, boundary calibration, size, power.

The size study draws tables from feature-level BT (HeterogeneousUsers with no heterogeneity) and counts
rejections at level 0.05 over 500 tables; the band is the central 99.5% binomial interval (13 to 39).
Power: HeterogeneousUsers with user spread 1 on one axis (2000 rows) is rejected in at least 18 of 20
tables (pilot: p-values below 0.03 in 10 of 10; the fixed seeds make the outcome deterministic).
"""
from __future__ import annotations

import jax
import numpy as np
import pytest
from scipy import integrate, special, stats

import prefstat as ps
from prefstat._x64 import x64_scope
from prefstat.diagnose.mixed_logit import (chibar_p_value, chibar_weights, efficient_information, fit_mixed_logit,
                                           mixed_logit_loglik, mixed_logit_test)
from prefstat.simulate import HeterogeneousUsers

LEVEL = 0.05


def _sample(proc, n, seed):
    with x64_scope():
        d = proc.sample(jax.random.PRNGKey(seed), n)
    return np.asarray(d["Z"]), np.asarray(d["y"])


def _null(d=2):
    return HeterogeneousUsers(beta_bar=(1.0, 0.5, 0.0)[:d], heterogeneity="none", z_scale=1.5)


def test_loglik_is_bt_at_zero_variance_and_the_mixture_elsewhere():
    Z, y = _sample(_null(3), 300, 0)
    w = np.ones(y.size)
    b = np.array([0.9, 0.4, 0.1])
    eta = Z @ b
    assert abs(mixed_logit_loglik(Z, y, w, b, np.zeros(3)) - np.sum(y * eta - np.logaddexp(0, eta))) < 1e-9
    # tau > 0: against adaptive quadrature of E sigma(eta + s xi) per row (scipy quad, ~1e-12)
    tau = np.array([0.3, 0.0, 1.2])
    s = np.sqrt((Z**2) @ tau)
    p = np.array([integrate.quad(lambda x: stats.norm.pdf(x) * special.expit(e + si * x), -12, 12,
                                 epsabs=1e-13)[0] for e, si in zip(eta[:60], s[:60])])
    Z, y, w = Z[:60], y[:60], w[:60]
    ref = np.sum(y * np.log(p) + (1 - y) * np.log1p(-p))
    assert abs(mixed_logit_loglik(Z, y, w, b, tau) - ref) < 1e-7


def test_score_and_information_match_finite_differences():
    Z, y = _sample(_null(2), 400, 1)
    w = np.ones(y.size)
    b = np.array([0.8, 0.6])
    dtau, info = efficient_information(Z, w, b)
    p = 1 / (1 + np.exp(-(Z @ b)))
    h = 1e-5
    for j in range(2):
        t = np.zeros(2)
        t[j] = h
        fd = (mixed_logit_loglik(Z, y, w, b, t) - mixed_logit_loglik(Z, y, w, b, 0 * t)) / h
        assert abs(fd - (y - p) @ dtau[:, j]) < 1e-3 * max(1.0, abs(fd))
    assert np.all(np.linalg.eigvalsh(info) > 0)


def test_chibar_weights():
    assert np.allclose(chibar_weights(np.eye(1) * 3.0), [0.5, 0.5])
    # independent components: binomial(d, 1/2) weights (Monte Carlo, 20000 draws: sd <= 0.0035)
    assert np.allclose(chibar_weights(np.diag([1.0, 2.0, 3.0])), stats.binom.pmf(range(4), 3, 0.5), atol=0.015)
    info = np.array([[2.0, 0.7], [0.7, 1.0]])
    V = np.linalg.inv(info)
    w2 = 0.25 + np.arcsin(V[0, 1] / np.sqrt(V[0, 0] * V[1, 1])) / (2 * np.pi)  # P(W in the orthant)
    assert np.allclose(chibar_weights(info), [0.5 - w2, 0.5, w2])
    # the enumeration (d <= 10) and the NNLS path agree
    A = np.random.default_rng(0).normal(size=(12, 12))
    big = A @ A.T + 12 * np.eye(12)
    w = chibar_weights(big[:3, :3])
    assert w.sum() == pytest.approx(1.0)
    assert chibar_p_value(0.0, [0.5, 0.5]) == 1.0
    assert chibar_p_value(2.706, [0.5, 0.5]) == pytest.approx(0.05, abs=1e-4)  # the 50:50 mixture


@pytest.mark.slow
def test_fit_recovers_the_user_spread():
    proc = HeterogeneousUsers(beta_bar=(1.0, 1.0, 0.0), scale=1.5, contested_axis=1, z_scale=np.sqrt(2.0))
    Z, y = _sample(proc, 20000, 2)
    fit = fit_mixed_logit(Z, y, np.ones(y.size))
    # truth: mean (1, 1, 0), sd (0, 1.5, 0); the MLE's sd on n = 20000 is ~0.1-0.2 (pilot fits)
    assert fit.converged and fit.lr > 30
    assert np.allclose(fit.beta, [1.0, 1.0, 0.0], atol=0.25)
    assert abs(np.sqrt(fit.tau[1]) - 1.5) < 0.4 and np.sqrt(fit.tau[[0, 2]]).max() < 0.5


def test_diagnose_wires_the_check_with_a_verdict():
    proc = HeterogeneousUsers(beta_bar=(1.0, 1.0, 0.0), scale=2.0, contested_axis=1, z_scale=np.sqrt(2.0))
    Z, y = _sample(proc, 2000, 3)
    rep = ps.diagnose(Z, y, checks="mixed_logit")
    d = rep["mixed_logit"]
    assert d.flagged and d.p_value < 1e-4 and "SignEstimator" in d.action
    assert d.tables["coefficients"].mixed_sd.idxmax() == "x1"
    assert "mixed_logit" in ps.diagnose.FEATURE_CHECKS
    # hard outcomes only: a tie is a clear skip, not a silent recode
    y2 = y.copy()
    y2[0] = 0.5
    assert ps.diagnose(Z, y2, checks="mixed_logit")["mixed_logit"].status == "skipped"


def null_p_values(reps, n=600, d=2, seed=0):
    with x64_scope():
        data = jax.vmap(_null(d).sample, in_axes=(0, None))(jax.random.split(jax.random.PRNGKey(seed), reps), n)
    Z, y = np.asarray(data["Z"]), np.asarray(data["y"])
    return np.array([mixed_logit_test(ps.ComparisonTable.from_features(Z[r], y[r]), LEVEL).p_value
                     for r in range(reps)])


def test_null_p_values_are_not_degenerate():
    p = null_p_values(12)
    assert np.isfinite(p).all() and (p > 0.0).all() and (p <= 1.0).all()
    assert np.mean(p == 1.0) < 0.6  # LR = 0 (tau-hat = 0) has chi-bar weight w_0 ~ 1/4 to 1/3 here


@pytest.mark.slow
def test_size_under_bt_is_in_the_binomial_band():
    R = 500
    p = null_p_values(R)
    lo, hi = stats.binom.interval(0.995, R, LEVEL)
    assert lo <= (p < LEVEL).sum() <= hi, (p < LEVEL).sum()


@pytest.mark.slow
def test_power_against_heterogeneous_users():
    proc = HeterogeneousUsers(beta_bar=(1.0, 0.5), scale=1.0, contested_axis=1, z_scale=1.5)
    flags = [mixed_logit_test(ps.ComparisonTable.from_features(*_sample(proc, 2000, 500 + r)), LEVEL).flagged
             for r in range(20)]
    assert sum(flags) >= 18


def test_study_has_a_mixed_logit_power_curve():
    from prefstat.simulate.study_diagnostics import EFFECTS, DiagnosticsStudy

    assert EFFECTS["mixed_logit"][0] == 0.0 and len(EFFECTS["mixed_logit"]) >= 3
    df = DiagnosticsStudy(sizes=(600,), reps=1, seed=0, defects=("mixed_logit",)).run()
    assert set(df.test) == {"mixed_logit"} and list(df.effect) == list(EFFECTS["mixed_logit"])
    assert df.set_index("effect").rate[1.0] == 1.0  # user sd 1 on 600 rows: p ~ 1e-4 in pilot runs
