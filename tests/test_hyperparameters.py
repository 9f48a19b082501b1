"""Every hyperparameter is validated at fit: one ValueError that names it (issue 10).

Before, e.g. ``BradleyTerry(cov_type="bootstrap", n_bootstrap=0)`` failed inside numpy ("need at
least one array to concatenate"), ``n_bootstrap=1`` blamed the weights ("the covariance is not
finite: the weights are too large") and ``random_state=-1`` gave numpy's "expected non-negative
integer" without naming the parameter. The cases below cover each estimator's integer counts,
tolerances, penalties, option strings and seeds, and the ``level`` of every interval method.
"""
from __future__ import annotations

import re

import numpy as np
import pytest

import prefstat as ps
from prefstat.validation import check_int, check_level, check_option, check_real

BAD = {
    "BradleyTerry": [
        ("n_bootstrap", 0), ("n_bootstrap", 1), ("n_bootstrap", -5), ("n_bootstrap", 2.5), ("n_bootstrap", True),
        ("alpha", -1.0), ("alpha", np.nan), ("alpha", np.inf), ("alpha", "big"),
        ("tol", 0.0), ("tol", -1e-8), ("tol", np.nan), ("max_iter", 0), ("max_iter", -3), ("max_iter", 10.5),
        ("cov_type", "sandwich"), ("design", "rows"), ("solver", "bfgs"), ("order_effect", "yes"),
        ("random_state", -1), ("random_state", "seed"),
    ],
    "DavidsonBradleyTerry": [
        ("alpha", -0.5), ("tol", 0.0), ("max_iter", 0), ("solver", "lbfgs"), ("cov_type", "bootstrap"),
        ("design", "rows"), ("order_effect", 1),
    ],
    "SignEstimator": [
        ("n_starts", 0), ("n_starts", 1.5), ("n_bandwidths", 1), ("n_subsamples", -1), ("n_subsamples", 1),
        ("n_subsamples", 3.0), ("subsample_size", 1), ("subsample_size", 10.5), ("tol", 0.0), ("tol", np.inf),
        ("max_iter", 0), ("method", "fast"), ("bandwidth", "silverman"), ("random_state", -2),
    ],
    "LatentClassBT": [
        ("n_classes", 0), ("n_classes", 2.0), ("n_init", 0), ("alpha", -1.0), ("tol", 0.0), ("tol", -1.0),
        ("max_iter", 0), ("random_state", "seed"), ("cov_type", "robust"),
    ],
    # the two estimators that take judge labels validate through the same shared helpers
    "DebiasedBradleyTerry": [
        ("lam", 1.5), ("lam", "ppi"), ("n_folds", 1), ("n_folds", 2.5), ("cov_type", "model"), ("tol", 0.0),
        ("max_iter", 0), ("order_effect", 1), ("random_state", -1),
    ],
    "DIPO": [
        ("n_folds", 1), ("n_folds", True), ("symmetrize", 1), ("judge_feature", "probit"), ("cov_type", "model"),
        ("method", "mean"), ("tol", -1.0), ("max_iter", 0), ("random_state", "seed"),
    ],
}
CASES = [(est, name, value) for est, bad in BAD.items() for name, value in bad]


def _data():
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(60, 2))
    y = (rng.random(60) < 0.5).astype(float)
    y[:5] = 0.5  # ties, for the Davidson model
    return Z, y, np.arange(60) % 6


@pytest.mark.parametrize("estimator, name, value", CASES, ids=[f"{e}-{n}={v!r}" for e, n, v in CASES])
def test_bad_hyperparameter_raises_naming_it(estimator, name, value):
    Z, y, g = _data()
    params = {name: value}
    if estimator == "BradleyTerry" and name in ("n_bootstrap", "random_state"):
        params["cov_type"] = "bootstrap"
    est = getattr(ps, estimator)(**params)
    kwargs = {"groups": g} if estimator == "LatentClassBT" else {}
    if estimator in ("DebiasedBradleyTerry", "DIPO"):
        kwargs = {"ai_label": np.where(y == 0.5, 1.0, y)}
        y = np.where(np.arange(y.size) < 30, y, np.nan)  # human labels on half the rows, the pool on the rest
    with pytest.raises(ValueError, match=rf"\b{re.escape(name)}\b") as err:
        est.fit(Z, y, **kwargs)
    assert "\n" not in str(err.value)  # one line


def _fitted():
    Z, y, g = _data()
    y = np.where(y == 0.5, 1.0, y)
    return {
        "BradleyTerry": ps.BradleyTerry().fit(Z, y),
        "DavidsonBradleyTerry": ps.DavidsonBradleyTerry().fit(Z, _data()[1]),
        "SignEstimator": ps.SignEstimator(method="exact", n_subsamples=20, random_state=0).fit(Z, y),
    }


@pytest.mark.parametrize("level", [0.0, 1.0, 1.5, -0.2, np.nan])
def test_bad_level_raises_naming_it(level):
    for name, est in _fitted().items():
        calls = [est.conf_int]
        if name != "SignEstimator":
            calls += [est.summary, lambda level: est.t_test("x0 - x1", level=level),
                      lambda level: est.pairwise(level=level)]
        else:
            calls += [est.conf_cone]
        for call in calls:
            with pytest.raises(ValueError, match="level"):
                call(level=level)


def test_checks_return_canonical_values_and_name_the_range():
    assert check_int("n", np.int64(3), 1) == 3 and isinstance(check_int("n", np.int64(3), 1), int)
    assert check_int("n", None, 1, allow_none=True) is None
    assert check_real("a", 2, 0.0) == 2.0
    assert check_level(0.9) == 0.9
    assert check_option("m", "b", ("a", "b")) == "b"
    with pytest.raises(ValueError, match=r"n must be an integer >= 1; got 0\."):
        check_int("n", 0, 1)
    with pytest.raises(ValueError, match=r"n must be an integer in \[1, 3\]"):
        check_int("n", 4, 1, 3)
    with pytest.raises(ValueError, match=r"tol must be a finite number > 0; got 0"):
        check_real("tol", 0, 0.0, low_open=True)
    with pytest.raises(ValueError, match=r"m must be one of 'a', 'b'; got 'c'"):
        check_option("m", "c", ("a", "b"))
