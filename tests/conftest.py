"""Shared helpers for the Bradley-Terry test-suite: simulated tables with known
structure, and the statsmodels GLM(Binomial) oracle on the equivalent design.

The oracle is independent of prefstat's code: it builds the logistic-regression
design by hand (one +1/-1 indicator column per non-reference item, plus the
order column) and fits it with statsmodels' IRLS, on the row-expanded data
(``np.repeat`` by the integer frequency weights), so it never sees prefstat's
weights, cell aggregation or reparametrisation.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import statsmodels.api as sm
from hypothesis import settings

# prefstat's runtime set-up (XLA threads, compilation cache) before any test module imports JAX, as for
# a user who imports prefstat first (see prefstat.runtime).
import prefstat  # noqa: F401,E402

# Property tests run the same examples on every machine: CI starts from a clean checkout with no
# example database, so randomised example generation would make a red build depend on luck.
# (Explicit @settings(...) in a test override only the options they name.)
settings.register_profile("prefstat", derandomize=True, print_blob=True)
settings.load_profile("prefstat")

# Item names deliberately NOT in sorted order of their index, so that a test
# that confused "position in my array" with "position in items_" would fail.
ITEM_NAMES = np.array(["kiwi", "apple", "mango", "fig", "banana", "cherry", "date", "lime", "pear", "grape"],
                      dtype=object)


def sigmoid(t):
    return 1.0 / (1.0 + np.exp(-t))


def simulate_items(seed, k=6, n=300, order=False, ties=0.0, weights=False, n_groups=0, names=True):
    """Random item-level comparisons whose BT MLE exists.

    Abilities ~ N(0, 1); ``order``: order indicator o in {-1, 0, 1} with a true
    effect 0.4; ``ties``: probability that an outcome is replaced by 0.5;
    ``weights``: integer frequency weights in {0, 1, 2, 3} (zeros included: they
    must act as row deletion). A cycle of wins in both directions (weight >= 1)
    is appended, so the directed win graph is strongly connected and the MLE
    exists whatever the random rows are.
    """
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=k)
    a = rng.integers(0, k, n)
    b = (a + rng.integers(1, k, n)) % k
    o = rng.integers(-1, 2, n).astype(float) if order else np.zeros(n)
    eta = theta[a] - theta[b] + 0.4 * o
    y = (rng.random(n) < sigmoid(eta)).astype(float)
    if ties:
        y[rng.random(n) < ties] = 0.5
    w = rng.integers(0, 4, n).astype(float) if weights else np.ones(n)
    cyc = np.arange(k)
    a = np.r_[a, cyc, (cyc + 1) % k]
    b = np.r_[b, (cyc + 1) % k, cyc]
    y = np.r_[y, np.ones(2 * k)]
    o = np.r_[o, rng.integers(-1, 2, 2 * k)] if order else np.r_[o, np.zeros(2 * k)]
    w = np.r_[w, np.ones(2 * k) if not weights else rng.integers(1, 4, 2 * k).astype(float)]
    labels = ITEM_NAMES[:k] if names else np.arange(k)
    out = dict(left=labels[a], right=labels[b], y=y, w=w, order=o if order else None, theta=theta,
               labels=labels)
    if n_groups:
        out["groups"] = np.array([f"g{j}" for j in rng.integers(0, n_groups, a.size)], dtype=object)
    return out


def item_X(d):
    return np.column_stack([d["left"], d["right"]])


def item_design(left, right, items, reference, order=None):
    """statsmodels design for item-level BT: +1 for the left item, -1 for the right item,
    one column per non-reference item (in ``items`` order), then the order column."""
    cols = [it for it in items if it != reference]
    X = np.column_stack([(left == it).astype(float) - (right == it).astype(float) for it in cols])
    if order is not None:
        X = np.column_stack([X, order])
    return X, cols


def expand(w, *arrays):
    """Row-expand arrays by integer frequency weights (np.repeat)."""
    reps = np.asarray(w).astype(int)
    assert np.all(reps == w), "expand() needs integer weights"
    return [None if a is None else np.repeat(np.asarray(a), reps, axis=0) for a in arrays]


def sm_glm(X, y, cov_type="model", groups=None):
    """statsmodels GLM(Binomial, logit) with a tight tolerance.

    statsmodels' nonrobust covariance uses the IRLS weights of the last
    iteration, so the default tolerance (1e-8 on the deviance change) would
    leave ~1e-5 relative error in the SEs; tol=1e-14 makes it converge to
    machine precision (checked: agreement ~1e-16 on random data).
    """
    kw = {"model": dict(cov_type="nonrobust"), "robust": dict(cov_type="HC0"),
          "cluster": dict(cov_type="cluster", cov_kwds={"groups": groups})}[cov_type]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fractional endog (ties) triggers a domain warning in statsmodels
        return sm.GLM(y, X, family=sm.families.Binomial()).fit(tol=1e-14, maxiter=200, **kw)


def centering(k):
    return np.eye(k) - np.ones((k, k)) / k


def assert_close(actual, desired, tol=1e-6, rel_floor=1e-3, what=""):
    """Absolute AND relative agreement to ``tol``.

    Relative error is checked only where |desired| > rel_floor (a relative
    error of a quantity that is ~0 is meaningless); absolute error everywhere.
    """
    actual, desired = np.asarray(actual, float), np.asarray(desired, float)
    assert actual.shape == desired.shape, (what, actual.shape, desired.shape)
    err = np.abs(actual - desired)
    assert np.all(err <= tol), f"{what}: max abs error {err.max():.3g} > {tol:g}\n{actual}\n{desired}"
    big = np.abs(desired) > rel_floor
    if big.any():
        rel = err[big] / np.abs(desired[big])
        assert np.all(rel <= tol), f"{what}: max rel error {rel.max():.3g} > {tol:g}\n{actual}\n{desired}"


@pytest.fixture(scope="session")
def baseball_frame():
    import prefstat as ps

    return ps.datasets.load_baseball(as_frame=True)


@pytest.fixture(scope="session")
def citations_frame():
    import prefstat as ps

    return ps.datasets.load_citations(as_frame=True)


# ------------------------------------------------------------------ scikit-learn's generic checks
# Reasons shared by prefstat's classifiers for failing some of scikit-learn's generic checks; each
# estimator's test adds its own. Every entry was verified to fail for the reason given.
_Y01 = "outcomes must lie in [0, 1] (1 left preferred, 0 right, 0.5 tie); the check uses class labels {1, 2}"
SKLEARN_OUTCOME_CODING = {
    # outcome coding: preference outcomes are 0/1/0.5, not arbitrary class labels
    "check_estimators_dtypes": _Y01,
    "check_sample_weights_pandas_series": _Y01,
    "check_sample_weights_not_an_array": _Y01,
    "check_sample_weights_shape": _Y01,
    "check_sample_weights_not_overwritten": _Y01,
    "check_classifier_data_not_an_array": _Y01,
    "check_fit2d_1feature": _Y01,
    "check_classifiers_classes": "string class labels are not outcomes in [0, 1]",
    "check_classifiers_regression_target": "continuous y outside [0, 1] is rejected with prefstat's own message "
                                           "(soft labels in [0, 1] are valid outcomes, so 'continuous' is not an error)",
    "check_classifier_not_supporting_multiclass": "y in {0, 1, 2} is rejected as out of [0, 1], not with sklearn's wording",
    "check_supervised_y_2d": "a (n, 1) y is rejected with a ValueError instead of being silently raveled (DESIGN: "
                             "nothing silently changed)",
}
SKLEARN_ERROR_WORDING = {
    # error wording / exception type: prefstat raises a clear ValueError in its own words
    "check_dtype_object": "a dict inside X raises ValueError (prefstat's single error type), not TypeError",
    "check_estimators_empty_data_messages": "(n, 0) X raises 'has no columns', not sklearn's exact sentence",
    "check_fit2d_predict1d": "1-D X raises a ValueError suggesting reshape(-1, 1), not 'Reshape your data'",
    "check_requires_y_none": "y=None raises 'y (the outcome column) is required', not sklearn's exact sentence",
    "check_n_features_in_after_fitting": "predict with the wrong number of features raises 'X has 1 features but "
                                         "the model was fitted on 4', not sklearn's exact regex",
}


def check_sklearn_contract(estimator, expected_failed: dict) -> None:
    """Run scikit-learn's check_estimator; fail on any unexpected failure and on any listed check that passes."""
    from sklearn.utils.estimator_checks import check_estimator

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = check_estimator(estimator, expected_failed_checks=expected_failed, on_fail=None)
    unexpected = sorted({f"{r['check_name']}: {r['exception']!r}"[:300] for r in results if r["status"] == "failed"})
    stale = sorted({r["check_name"] for r in results if r["expected_to_fail"] and r["status"] == "passed"})
    assert not unexpected, "unexpected failures:\n" + "\n".join(unexpected)
    assert not stale, f"checks listed as expected failures now pass (remove them): {stale}"


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_programs():
    """Release compiled programs after each test file.

    One pytest process compiles well over ten thousand XLA programs. Each stays memory-mapped while
    JAX caches it (about six maps), and at Linux's default cap of 65530 maps a process's next
    compilation crashed (segfault / abort inside XLA, seen two thirds of the way through the suite).
    """
    yield
    import prefstat.runtime

    prefstat.runtime.release_compiled()
