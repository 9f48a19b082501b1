"""BradleyTerry: every bad input or non-existent estimate is a clear ValueError naming the
column, row, item or parameter at fault (DESIGN principle 5); a hypothesis fuzz test checks
that nothing but ValueError ever escapes from malformed tables."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import prefstat as ps
from prefstat import ComparisonTable as CT

# These tests pass the same groups to every cov_type on purpose; the warning that non-cluster
# fits ignore them is tested in test_model_shell.py.
pytestmark = pytest.mark.filterwarnings("ignore:groups= is not used:UserWarning")

X_ITEMS = np.array([["a", "b"], ["b", "c"], ["c", "a"], ["b", "a"], ["c", "b"], ["a", "c"]], dtype=object)
Y = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 1.0])  # a > b > c > a and back: strongly connected


def fit(X=X_ITEMS, y=Y, **kw):
    fit_kw = {k: kw.pop(k) for k in ("sample_weight", "groups", "order") if k in kw}
    return ps.BradleyTerry(**kw).fit(X, y, **fit_kw)


# ------------------------------------------------------------------ bad columns
@pytest.mark.parametrize("bad,match", [(np.nan, "NaN"), (np.inf, "infinite"), (2.0, r"\[0, 1\]"), (-1.0, r"\[0, 1\]")])
def test_bad_outcomes(bad, match):
    y = Y.copy()
    y[3] = bad
    with pytest.raises(ValueError, match=rf"'y'.*{match}.*row 3"):
        fit(y=y)


@pytest.mark.parametrize("bad,match", [(-2.0, "non-negative"), (np.nan, "NaN"), (np.inf, "infinite")])
def test_bad_weights(bad, match):
    w = np.ones(6)
    w[1] = bad
    with pytest.raises(ValueError, match=rf"'sample_weight'.*{match}.*row 1"):
        fit(sample_weight=w)


def test_all_zero_weights():
    with pytest.raises(ValueError, match="'sample_weight'.*zero"):
        fit(sample_weight=np.zeros(6))


@pytest.mark.parametrize("which", ["y", "sample_weight", "groups", "order"])
def test_mismatched_lengths(which):
    kw = dict(y=Y, sample_weight=np.ones(6), groups=np.arange(6) % 2, order=np.ones(6))
    kw[which] = np.ones(4)
    y = kw.pop("y")
    with pytest.raises(ValueError, match=rf"'{which}'.*4"):
        fit(y=y, cov_type="cluster", order_effect=True, **kw)


def test_empty_input():
    with pytest.raises(ValueError, match="empty"):
        fit(X=np.empty((0, 2), dtype=object), y=np.empty(0))
    with pytest.raises(ValueError, match="empty"):
        fit(X=np.empty((0, 3)), y=np.empty(0))


def test_self_comparisons():
    with pytest.raises(ValueError, match=r"self-comparison.*row 6.*'c'"):
        fit(X=np.r_[X_ITEMS, [["c", "c"]]], y=np.r_[Y, 0.0])


def test_fewer_than_two_items():
    with pytest.raises(ValueError, match="self-comparison|two distinct items"):
        fit(X=np.array([["a", "a"]], dtype=object), y=[1.0])


def test_y_required():
    with pytest.raises(ValueError, match="y"):
        ps.BradleyTerry().fit(X_ITEMS)
    with pytest.raises(ValueError, match="do not pass y"):
        ps.BradleyTerry().fit(CT.from_arrays(X_ITEMS, Y), Y)


# ---------------------------------------------------------------- prediction
def test_unknown_items_at_predict_time():
    bt = fit()
    with pytest.raises(ValueError, match=r"unknown items.*'zebra'"):
        bt.predict_proba(np.array([["a", "zebra"]], dtype=object))
    with pytest.raises(ValueError, match=r"unknown items.*'yak'.*'zebra'|unknown items.*'zebra'.*'yak'"):
        bt.predict(np.array([["yak", "a"], ["b", "zebra"]], dtype=object))
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        bt.predict_proba(np.array([["a", "b", "c"]], dtype=object))


def test_wrong_number_of_features_at_predict_time():
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(50, 3))
    bt = ps.BradleyTerry().fit(Z, (rng.random(50) < 0.5).astype(float))
    with pytest.raises(ValueError, match="3"):
        bt.predict_proba(Z[:, :2])


# ---------------------------------------------------------- existence of the MLE
def test_disconnected_graph_names_components():
    X = np.array([["a", "b"], ["b", "a"], ["c", "d"], ["d", "c"], ["d", "e"], ["e", "c"]], dtype=object)
    with pytest.raises(ValueError, match=r"disconnected") as err:
        fit(X=X, y=np.ones(6))
    msg = str(err.value)
    for item in "abcde":
        assert f"'{item}'" in msg
    assert "alpha" in msg  # suggests the penalty


def test_item_that_never_loses_is_named():
    X = np.array([["top", "b"], ["b", "c"], ["c", "b"], ["c", "top"]], dtype=object)
    with pytest.raises(ValueError, match=r"never lost: 'top'"):
        fit(X=X, y=np.array([1.0, 1.0, 1.0, 0.0]))


def test_item_that_never_wins_is_named():
    X = np.array([["a", "b"], ["b", "a"], ["loser", "a"], ["b", "loser"]], dtype=object)
    with pytest.raises(ValueError, match=r"never won: 'loser'"):
        fit(X=X, y=np.array([1.0, 1.0, 0.0, 1.0]))


def test_group_that_never_loses_is_named():
    # {a, b} beat {c, d} every time, each group internally strongly connected
    X = np.array([["a", "b"], ["b", "a"], ["c", "d"], ["d", "c"], ["a", "c"], ["d", "b"]], dtype=object)
    with pytest.raises(ValueError, match=r"'a'.*'b'.*never lost"):
        fit(X=X, y=np.array([1.0, 1.0, 1.0, 1.0, 1.0, 0.0]))


def test_tie_links_both_directions():
    # a tie counts as half a win each way: with it the graph is strongly connected and the MLE exists
    X = np.array([["a", "b"], ["b", "c"], ["a", "c"]], dtype=object)
    bt = fit(X=X, y=np.array([0.5, 0.5, 0.5]))
    np.testing.assert_allclose(bt.coef_, 0.0, atol=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_separation_in_feature_design(seed):
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(60, 3))
    y = (Z[:, 0] - Z[:, 2] > 0).astype(float)
    with pytest.raises(ValueError, match=r"separated.*x0.*x2"):
        fit(X=Z, y=y)


def test_separation_with_equal_margins_is_detected():
    """z = +-1, y = 1 exactly when z = 1: completely separated, the MLE is +infinity.

    Newton's gradient decays like n e^{-beta}, so the run 'converges' (max|grad| <= 1e-12 n) at
    beta ~ 28, below the divergence threshold |eta| > 34 -> no error, a finite coefficient and an
    absurd SE (~2e5) are returned unless the separation check runs."""
    z = np.r_[np.ones(20), -np.ones(20)].reshape(-1, 1)
    with pytest.raises(ValueError, match="separated"):
        fit(X=z, y=(z[:, 0] > 0).astype(float))


def test_order_effect_separation_is_detected():
    """The home side wins every game of a balanced schedule: abilities are 0 but the order effect
    is +infinity (separation along 'order_effect'). Must raise, not return gamma ~ 28."""
    X = np.array([["a", "b"], ["b", "a"], ["a", "c"], ["c", "a"], ["b", "c"], ["c", "b"]] * 3, dtype=object)
    with pytest.raises(ValueError, match="order_effect"):
        fit(X=X, y=np.ones(18), order_effect=True)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("kind", ["duplicate", "sum", "scaled", "zero"])
def test_collinear_features_are_named(seed, kind):
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(200, 3))
    y = (rng.random(200) < 1 / (1 + np.exp(-Z @ [1.0, -0.5, 0.2]))).astype(float)
    extra = {"duplicate": Z[:, 0], "sum": Z[:, 0] + Z[:, 1], "scaled": 3.3 * Z[:, 2], "zero": np.zeros(200)}[kind]
    Zc = np.column_stack([Z, extra])
    with pytest.raises(ValueError, match=r"identifiable.*'x3'|collinear.*'x3'"):
        fit(X=Zc, y=y)


def test_order_effect_collinear_with_a_constant_feature():
    rng = np.random.default_rng(1)
    Z = np.column_stack([rng.normal(size=100), np.ones(100)])
    y = (rng.random(100) < 0.5).astype(float)
    with pytest.raises(ValueError, match="identifiable.*order_effect|order_effect.*identifiable"):
        fit(X=Z, y=y, order_effect=True)


# ------------------------------------------------------------------- options
def test_cluster_without_groups():
    with pytest.raises(ValueError, match="groups"):
        fit(cov_type="cluster")


def test_cluster_with_one_group():
    with pytest.raises(ValueError, match="two groups"):
        fit(cov_type="cluster", groups=np.zeros(6))


@pytest.mark.parametrize("cov_type", ["HC0", "sandwich", None, ""])
def test_bad_cov_type(cov_type):
    with pytest.raises(ValueError, match="cov_type"):
        fit(cov_type=cov_type)


@pytest.mark.parametrize("alpha", [-1.0, np.nan, np.inf, "big"])
def test_bad_alpha(alpha):
    with pytest.raises(ValueError, match="alpha"):
        fit(alpha=alpha)


def test_bad_reference_and_design():
    with pytest.raises(ValueError, match="reference.*'zz'"):
        fit(reference="zz")
    with pytest.raises(ValueError, match="design"):
        fit(design="pairs")


@pytest.mark.parametrize("level", [0.0, 1.0, 1.5, -0.1, 95])
def test_bad_level(level):
    bt = fit()
    with pytest.raises(ValueError, match="level"):
        bt.conf_int(level)


def test_bootstrap_with_huge_weights_is_a_valueerror():
    """Weights of 1e300 are valid float64 frequency weights (the model fit works), but the
    multinomial bootstrap cannot draw 6e300 comparisons: it must say so, not raise OverflowError."""
    with pytest.raises(ValueError, match="weight|bootstrap"):
        fit(cov_type="bootstrap", n_bootstrap=5, random_state=0, sample_weight=np.full(6, 1e300))


def test_huge_weights_model_fit_is_finite_or_valueerror():
    try:
        bt = fit(sample_weight=np.full(6, 1e300))
    except ValueError:
        return
    assert np.all(np.isfinite(bt.coef_)) and np.all(np.isfinite(bt.stderr_))


def test_complex_input_is_rejected_by_fit():
    with pytest.raises(ValueError):
        fit(X=np.array([[1 + 2j, 0.0], [0.0, 1.0], [1.0, 1.0]]), y=[1.0, 0.0, 1.0])


def test_unhashable_labels_are_a_valueerror_in_fit():
    X = X_ITEMS.copy()
    X[2, 0] = ["c"]
    with pytest.raises(ValueError, match="left"):
        fit(X=X)


# -------------------------------------------------------------------- fuzzing
_good_label = st.sampled_from(["a", "b", "c", "d"])
_bad_label = st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True), st.integers(-2, 2), st.booleans(),
                       st.lists(st.integers(0, 1), max_size=2), st.just(1e300), st.text(max_size=2))
_good_num = st.sampled_from([0.0, 1.0, 0.5, 1.0, 0.0])
_bad_num = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-3, 3), st.none(), st.booleans(),
                     st.text(max_size=3), st.just(1e300), st.just(-1e300), st.just(5e-324),
                     st.lists(st.floats(0, 1), max_size=2), st.complex_numbers(max_magnitude=2))


def _column(draw, n, good, bad):
    mode = draw(st.sampled_from(["good", "good", "good", "mixed", "short", "long", "empty", "2d"]))
    if mode == "good":
        return draw(st.lists(good, min_size=n, max_size=n))
    if mode == "mixed":
        return draw(st.lists(st.one_of(good, bad), min_size=n, max_size=n))
    if mode == "short":
        return draw(st.lists(good, min_size=max(n - 1, 0), max_size=max(n - 1, 0)))
    if mode == "long":
        return draw(st.lists(good, min_size=n + 1, max_size=n + 1))
    if mode == "empty":
        return []
    return [[v] for v in draw(st.lists(good, min_size=n, max_size=n))]


@st.composite
def malformed_tables(draw):
    n = draw(st.integers(0, 8))
    kind = draw(st.sampled_from(["items", "items", "features", "ragged"]))
    if kind == "items":
        label = st.one_of(_good_label, _good_label, _good_label, _bad_label)
        X = [[draw(label), draw(label)] for _ in range(n)]
        if draw(st.booleans()):  # an object array (built cell by cell: labels may be lists)
            arr = np.empty((n, 2), dtype=object)
            for i, (left, right) in enumerate(X):
                arr[i, 0], arr[i, 1] = left, right
            X = arr
    elif kind == "features":
        d = draw(st.integers(1, 3))
        val = st.one_of(st.floats(-3, 3), st.floats(-3, 3), st.floats(allow_nan=True, allow_infinity=True),
                        st.just(1e300), st.text(max_size=2))
        X = [[draw(val) for _ in range(d)] for _ in range(n)]
        if draw(st.booleans()):
            X = sp.csr_matrix(np.nan_to_num(np.array(X, dtype=float).reshape(n, d), nan=0.0)) \
                if all(isinstance(v, float) for row in X for v in row) else X
    else:
        X = [[draw(_good_label)] * draw(st.integers(1, 3)) for _ in range(n)]
    y = _column(draw, n, _good_num, _bad_num)
    w = None if draw(st.booleans()) else _column(draw, n, st.sampled_from([1.0, 2.0, 0.0, 1e300]), _bad_num)
    g = None if draw(st.booleans()) else _column(draw, n, st.sampled_from(["u", "v", 1]), _bad_label)
    o = None if draw(st.booleans()) else _column(draw, n, st.sampled_from([1.0, -1.0, 0.0]), _bad_num)
    cov_type = draw(st.sampled_from(["model", "robust", "cluster"]))
    order_effect = draw(st.booleans())
    alpha = draw(st.sampled_from([0.0, 0.0, 1.0]))
    return X, y, w, g, o, cov_type, order_effect, alpha


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(malformed_tables())
def test_fuzz_only_valueerror_escapes(case):
    X, y, w, g, o, cov_type, order_effect, alpha = case
    try:
        CT.from_arrays(X, y, sample_weight=w, groups=g, order=o)
    except ValueError:
        pass
    try:
        bt = ps.BradleyTerry(cov_type=cov_type, order_effect=order_effect, alpha=alpha).fit(
            X, y, sample_weight=w, groups=g, order=o)
    except ValueError:
        return
    assert np.all(np.isfinite(bt.coef_)), bt.coef_
    assert np.all(np.isfinite(bt.stderr_)), bt.stderr_
    if order_effect:
        assert np.isfinite(bt.order_effect_) and np.isfinite(bt.order_effect_stderr_)
