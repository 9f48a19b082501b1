"""ComparisonTable: construction from arrays / pandas / CSV / Parquet, count tables, and
validation errors that name the offending column and rows."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import prefstat as ps
from prefstat import ComparisonTable as CT

X_ITEMS = np.array([["a", "b"], ["b", "c"], ["c", "a"], ["b", "a"], ["c", "b"], ["a", "c"]], dtype=object)
Y = np.array([1.0, 1.0, 1.0, 0.0, 0.5, 0.0])


# ------------------------------------------------------------------ from_arrays
def test_from_arrays_dispatch():
    t = CT.from_arrays(X_ITEMS, Y)
    assert t.kind == "items" and t.n_rows == 6 and list(t.items) == ["a", "b", "c"]
    assert CT.from_arrays(np.array([[1, 2], [2, 3]]), [1, 0]).kind == "items"  # integer pairs: labels
    assert CT.from_arrays(np.array([[1.0, 2.0], [2.0, 3.0]]), [1, 0]).kind == "features"  # float: differences
    assert CT.from_arrays(np.array([[1.0, 2.0], [2.0, 3.0]]), [1, 0], design="items").kind == "items"
    assert CT.from_arrays(sp.csr_matrix(np.eye(3)), [1, 0, 1]).kind == "features"
    t = CT.from_arrays(np.array([[1, 2], [2, 3]]), [1, 0], design="features")
    assert t.kind == "features" and t.features.dtype == np.float64
    # DataFrame input
    t = CT.from_arrays(pd.DataFrame(X_ITEMS, columns=["l", "r"]), Y)
    assert t.kind == "items"


def test_from_arrays_defaults_and_values():
    t = CT.from_arrays(X_ITEMS, Y.tolist())
    np.testing.assert_array_equal(t.outcome, Y)
    np.testing.assert_array_equal(t.weight, np.ones(6))
    assert t.group is None and t.order is None
    assert t.outcome.dtype == np.float64
    w = np.arange(1, 7)
    t = CT.from_arrays(X_ITEMS, Y, sample_weight=w, groups=list("xxyyzz"), order=[1, -1, 0, 1, 1, 0])
    np.testing.assert_array_equal(t.weight, w)
    np.testing.assert_array_equal(t.order, [1, -1, 0, 1, 1, 0])
    assert len(t) == 6 and "3 items" in repr(t)


def test_inputs_are_not_modified():
    y, w = Y.copy(), np.ones(6) * 2
    CT.from_arrays(X_ITEMS, y, sample_weight=w)
    np.testing.assert_array_equal(y, Y)
    np.testing.assert_array_equal(w, 2.0)


def test_boolean_and_integer_outcomes_are_accepted():
    t = CT.from_arrays(X_ITEMS, np.array([True, False, True, True, False, True]))
    np.testing.assert_array_equal(t.outcome, [1, 0, 1, 1, 0, 1])
    t = CT.from_arrays(X_ITEMS, np.array([1, 0, 1, 1, 0, 1], dtype=np.int8))
    assert t.outcome.dtype == np.float64


def test_numeric_strings_in_object_outcome_are_converted():
    t = CT.from_arrays(X_ITEMS, np.array(["1", "0", "0.5", 1, 0.0, "1"], dtype=object))
    np.testing.assert_array_equal(t.outcome, [1, 0, 0.5, 1, 0, 1])


# -------------------------------------------------------------- validation
@pytest.mark.parametrize("bad,match", [
    (np.nan, r"column 'y'.*NaN.*row 2"),
    (np.inf, r"column 'y'.*infinite.*row 2"),
    (-np.inf, r"column 'y'.*row 2"),
    (1.5, r"column 'y'.*\[0, 1\].*row 2"),
    (-0.1, r"column 'y'.*\[0, 1\].*row 2"),
    ("left", r"column 'y'.*numeric.*row 2"),
])
def test_bad_outcome_names_column_and_row(bad, match):
    y = Y.astype(object)
    y[2] = bad
    with pytest.raises(ValueError, match=match):
        CT.from_arrays(X_ITEMS, y)


@pytest.mark.parametrize("bad,match", [
    (-1.0, r"column 'sample_weight'.*non-negative.*row 4"),
    (np.nan, r"column 'sample_weight'.*NaN.*row 4"),
    (np.inf, r"column 'sample_weight'.*infinite.*row 4"),
    ("heavy", r"column 'sample_weight'.*numeric.*row 4"),
])
def test_bad_weight_names_column_and_row(bad, match):
    w = np.ones(6, dtype=object)
    w[4] = bad
    with pytest.raises(ValueError, match=match):
        CT.from_arrays(X_ITEMS, Y, sample_weight=w)


def test_all_zero_weights():
    with pytest.raises(ValueError, match=r"sample_weight.*zero"):
        CT.from_arrays(X_ITEMS, Y, sample_weight=np.zeros(6))


def test_weights_overflowing_float64_are_rejected():
    with pytest.raises(ValueError, match=r"sample_weight.*infinity"):
        CT.from_arrays(X_ITEMS, Y, sample_weight=np.full(6, 1e308))


@pytest.mark.parametrize("which", ["y", "sample_weight", "groups", "order"])
@pytest.mark.parametrize("length", [5, 7])
def test_mismatched_lengths_name_the_column(which, length):
    kw = dict(y=Y, sample_weight=np.ones(6), groups=np.arange(6), order=np.ones(6))
    kw[which] = np.ones(length)
    with pytest.raises(ValueError, match=rf"'{which}'.*{length}"):
        CT.from_arrays(X_ITEMS, **kw)


@pytest.mark.parametrize("X", [np.empty((0, 2), dtype=object), np.empty((0, 3)), sp.csr_matrix((0, 3)), []])
def test_empty_table(X):
    with pytest.raises(ValueError, match="empty|two-dimensional"):
        CT.from_arrays(X, [])


def test_self_comparison_names_rows_and_item():
    X = np.r_[X_ITEMS, [["b", "b"]]]
    with pytest.raises(ValueError, match=r"self-comparison.*row 6.*'b'"):
        CT.from_arrays(X, np.r_[Y, 1.0])


def test_fewer_than_two_items():
    # a single item can only appear in self-comparisons; either message is a clear ValueError
    with pytest.raises(ValueError, match="self-comparison|two distinct items"):
        CT.from_arrays(np.array([["a", "a"], ["a", "a"]], dtype=object), [1.0, 0.0])


def test_missing_labels_and_groups():
    X = X_ITEMS.copy()
    X[3, 1] = None
    with pytest.raises(ValueError, match=r"right.*missing.*row 3"):
        CT.from_arrays(X, Y)
    g = np.array(["u", "v", None, "u", "v", "u"], dtype=object)
    with pytest.raises(ValueError, match=r"'groups'.*missing.*row 2"):
        CT.from_arrays(X_ITEMS, Y, groups=g)


def test_non_integer_float_labels_rejected_with_design_items():
    with pytest.raises(ValueError, match=r"left.*non-integer.*row 1"):
        CT.from_arrays(np.array([[1.0, 2.0], [1.5, 2.0]]), [1, 0], design="items")


@pytest.mark.parametrize("bad", [np.inf, -np.inf, 1e300])
def test_non_finite_or_huge_float_labels_rejected(bad):
    """Float labels are cast to int64; inf and 1e300 have no int64 value (the cast returns
    INT64_MIN for both, silently merging them into one item). They must be rejected."""
    X = np.array([[1.0, 2.0], [2.0, 3.0], [3.0, 1.0], [2.0, 1.0]])
    X[1, 1] = bad
    with pytest.raises(ValueError, match=r"right"):
        CT.from_arrays(X, [1, 1, 1, 0], design="items")


def test_bad_order_values():
    with pytest.raises(ValueError, match=r"'order'.*\+1.*row 5"):
        CT.from_arrays(X_ITEMS, Y, order=[1, 1, 0, -1, 1, 0.5])


@pytest.mark.parametrize("X,match", [
    (np.array([1.0, 2.0, 3.0]), "two-dimensional"),
    (np.ones((2, 2, 2)), "two-dimensional"),
    (np.array([[1.0, np.nan], [0.0, 1.0]]), r"'X'.*NaN.*row 0"),
    (np.array([[1.0, 0.0], [0.0, -np.inf]]), r"'X'.*infinite.*row 1"),
    (sp.csr_matrix(np.array([[1.0, 0.0], [0.0, np.nan]])), r"'X'.*NaN.*row 1"),
    (np.empty((2, 0)), "no columns"),
    ([[1.0, 2.0], [3.0]], "ragged"),
    (np.array([["a", "b", "c"], ["b", "c", "a"]]), "numeric"),
])
def test_bad_feature_matrices(X, match):
    with pytest.raises(ValueError, match=match):
        CT.from_arrays(X, [1.0, 0.0])


def test_complex_features_and_outcomes_rejected():
    """Casting complex to float silently drops the imaginary part: DESIGN principle 5
    ('nothing silently changed') requires a ValueError."""
    with pytest.raises(ValueError, match="X|complex"):
        CT.from_arrays(np.array([[1 + 1j, 0.0], [0.0, 1.0]]), [1.0, 0.0])
    with pytest.raises(ValueError, match="'y'"):
        CT.from_arrays(X_ITEMS, Y + 0.5j)


def test_ragged_outcome_names_the_column():
    with pytest.raises(ValueError, match="'y'"):
        CT.from_arrays(X_ITEMS, [1, 0, [1, 0], 1, 0, 1])


def test_unhashable_labels_raise_valueerror():
    X = np.empty((2, 2), dtype=object)
    X[0, 0], X[0, 1], X[1, 0], X[1, 1] = ["a"], "b", "b", "c"
    with pytest.raises(ValueError, match="left"):
        CT.from_arrays(X, [1.0, 0.0])


def test_design_option_validated():
    with pytest.raises(ValueError, match="design"):
        CT.from_arrays(X_ITEMS, Y, design="pairs")
    with pytest.raises(ValueError, match="two columns"):
        CT.from_arrays(np.array([[1, 2, 3]]), [1.0], design="items")
    with pytest.raises(ValueError, match="y"):
        CT.from_arrays(X_ITEMS, None)


def test_mixed_type_labels():
    X = np.array([[1, "a"], ["a", 2.0], [2.0, 1]], dtype=object)
    t = CT.from_arrays(X, [1.0, 0.0, 1.0])
    assert len(t.items) == 3


# ----------------------------------------------------------------- pandas / files
@pytest.fixture
def count_frame():
    return pd.DataFrame(dict(home=["a", "b", "c", "a"], away=["b", "c", "a", "c"], hw=[3, 2, 1, 0], aw=[1, 0, 2, 0],
                             tie=[1, 0, 0, 0], annot=["x", "y", "x", "y"], pos=[1, -1, 0, 1]))


def _expected_count_rows():
    # (left, right, outcome, weight, group, order); zero counts dropped
    return {("a", "b", 1.0, 3.0, "x", 1.0), ("b", "c", 1.0, 2.0, "y", -1.0), ("c", "a", 1.0, 1.0, "x", 0.0),
            ("a", "b", 0.0, 1.0, "x", 1.0), ("c", "a", 0.0, 2.0, "x", 0.0), ("a", "b", 0.5, 1.0, "x", 1.0)}


def _rows(t):
    f = t.to_frame()
    return {tuple(r) for r in f[["left", "right", "outcome", "weight", "group", "order"]].itertuples(index=False)}


def test_from_pandas_count_table(count_frame):
    t = CT.from_pandas(count_frame, left="home", right="away", left_wins="hw", right_wins="aw", ties="tie",
                       group="annot", order="pos")
    assert t.kind == "items"
    assert _rows(t) == _expected_count_rows()
    assert t.weight.sum() == 10


def test_count_table_equals_row_table(count_frame):
    """A count table is the same data as one row per game: same fit."""
    t = CT.from_pandas(count_frame, left="home", right="away", left_wins="hw", right_wins="aw", ties="tie")
    rows = []
    for r in count_frame.itertuples():
        rows += [(r.home, r.away, 1.0)] * r.hw + [(r.home, r.away, 0.0)] * r.aw + [(r.home, r.away, 0.5)] * r.tie
    long = pd.DataFrame(rows, columns=["l", "r", "y"])
    t2 = CT.from_pandas(long, left="l", right="r", outcome="y")
    a, b = ps.BradleyTerry().fit(t), ps.BradleyTerry().fit(t2)
    np.testing.assert_allclose(a.coef_, b.coef_, atol=1e-10)
    np.testing.assert_allclose(a.stderr_, b.stderr_, rtol=1e-10)


def test_from_pandas_left_wins_only_and_constant_order(count_frame):
    t = CT.from_pandas(count_frame, left="home", right="away", left_wins="hw", order=1)
    assert set(t.outcome) == {1.0} and np.all(t.order == 1.0) and t.weight.sum() == 6


def test_from_pandas_row_table_with_weight_and_features():
    df = pd.DataFrame(dict(l=["a", "b", "c"], r=["b", "c", "a"], y=[1, 0, 0.5], w=[1, 2, 3]))
    t = CT.from_pandas(df, left="l", right="r", outcome="y", weight="w")
    np.testing.assert_array_equal(t.weight, [1, 2, 3])
    f = pd.DataFrame(dict(x1=[1.0, 2, -1], x2=[0.0, 1, 1], y=[1, 0, 0.5]))
    t = CT.from_pandas(f, features=["x1", "x2"], outcome="y")
    assert t.kind == "features" and t.feature_names == ["x1", "x2"] and t.features.shape == (3, 2)


@pytest.mark.parametrize("kw,match", [
    (dict(left="home", right="away", left_wins="nope"), r"'nope'.*not in the table.*available"),
    (dict(left="home", right="away", outcome="nope"), r"'nope'.*not in the table"),
    (dict(left="home", right="away"), "outcome="),
    (dict(left="home", outcome="hw"), "right="),
    (dict(left="home", right="away", left_wins="hw", outcome="hw"), "count table"),
    (dict(features=["hw", "zz"], outcome="aw"), r"\['zz'\]"),
])
def test_from_pandas_bad_column_names(count_frame, kw, match):
    with pytest.raises(ValueError, match=match):
        CT.from_pandas(count_frame, **kw)


def test_from_pandas_bad_counts(count_frame):
    with pytest.raises(ValueError, match=r"'hw'.*non-negative.*row 1"):
        CT.from_pandas(count_frame.assign(hw=[3, -1, 1, 0]), left="home", right="away", left_wins="hw")
    with pytest.raises(ValueError, match=r"'aw'.*NaN.*row 2"):
        CT.from_pandas(count_frame.assign(aw=[1, 0, np.nan, 0]), left="home", right="away", left_wins="hw",
                       right_wins="aw")
    with pytest.raises(ValueError, match="empty"):
        CT.from_pandas(count_frame.assign(hw=0, aw=0), left="home", right="away", left_wins="hw", right_wins="aw")
    with pytest.raises(ValueError, match="DataFrame"):
        CT.from_pandas([[1, 2]], left="a", right="b", outcome="c")


def test_from_pandas_bad_outcome_names_column(count_frame):
    df = pd.DataFrame(dict(l=["a", "b", "c"], r=["b", "c", "a"], pref=[1, 2, 0]))
    with pytest.raises(ValueError, match=r"column 'pref'.*row 1"):
        CT.from_pandas(df, left="l", right="r", outcome="pref")


def test_csv_and_parquet_round_trip(tmp_path, count_frame):
    csv, pq = tmp_path / "games.csv", tmp_path / "games.parquet"
    count_frame.to_csv(csv, index=False)
    count_frame.to_parquet(pq)
    kw = dict(left="home", right="away", left_wins="hw", right_wins="aw", ties="tie", group="annot", order="pos")
    for t in (CT.from_csv(csv, **kw), CT.from_parquet(pq, **kw), CT.from_file(csv, **kw), CT.from_file(pq, **kw),
              CT.from_csv(str(csv), **kw)):
        assert _rows(t) == _expected_count_rows()


def test_file_errors(tmp_path, count_frame):
    with pytest.raises(ValueError, match="not found"):
        CT.from_csv(tmp_path / "missing.csv", left="home", right="away", outcome="hw")
    csv = tmp_path / "games.csv"
    count_frame.to_csv(csv, index=False)
    with pytest.raises(ValueError, match="could not read"):
        CT.from_parquet(csv, left="home", right="away", outcome="hw")


def test_bundled_tables():
    b = ps.datasets.load_baseball()
    assert b.kind == "items" and len(b.items) == 7 and np.all(b.order == 1.0)
    f = ps.datasets.load_baseball(as_frame=True)
    assert b.weight.sum() == f.home_wins.sum() + f.away_wins.sum()
    c = ps.datasets.load_citations()
    assert sorted(c.items) == ["Biometrika", "Comm Statist", "JASA", "JRSS-B"]
    assert np.all(c.outcome == 1.0) and c.weight.sum() == ps.datasets.load_citations(as_frame=True)["count"].sum()


# ------------------------------------------------------------------ issue 10: duplicate names, weight range
def test_duplicate_csv_header_names_the_column(tmp_path):
    """pandas renames a repeated 'y' to 'y.1'; the reader must not pick one silently."""
    path = tmp_path / "dup.csv"
    path.write_text("l,r,y,w,y\na,b,1,1,0\nb,c,1,1,0\nc,a,0,1,1\n")
    with pytest.raises(ValueError, match=r"column 'y' appears more than once in the header .*columns 2, 4.*'y\.1'"):
        CT.from_csv(path, left="l", right="r", outcome="w")
    # empty header cells are not duplicates of each other (pandas names them 'Unnamed: i')
    path.write_text(",l,r,y,\n0,a,b,1,\n1,b,c,1,\n2,c,a,0,\n")
    assert CT.from_csv(path, left="l", right="r", outcome="y").n_rows == 3


def test_duplicate_parquet_column_names_the_column_on_one_line(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "dup.parquet"
    pq.write_table(pa.table([pa.array(["a", "b"]), pa.array(["b", "a"]), pa.array([1.0, 0.0]),
                             pa.array([0.0, 1.0])], names=["l", "r", "y", "y"]), path)
    with pytest.raises(ValueError) as err:
        CT.from_parquet(path, left="l", right="r", outcome="y")
    assert "column 'y' appears more than once" in str(err.value) and "\n" not in str(err.value)


def test_unreadable_file_error_is_one_line(tmp_path):
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"not a parquet file at all")
    with pytest.raises(ValueError, match="could not read") as err:
        CT.from_parquet(path, left="l", right="r", outcome="y")
    assert "\n" not in str(err.value)


def test_duplicate_dataframe_column_in_use_is_named():
    df = pd.DataFrame([["a", "b", 1.0, 0.0], ["b", "a", 0.0, 1.0]], columns=["l", "r", "y", "y"])
    with pytest.raises(ValueError, match="column 'y' appears 2 times"):
        CT.from_pandas(df, left="l", right="r", outcome="y")
    df.columns = ["l", "r", "y", "z"]
    df2 = pd.concat([df, df[["z"]]], axis=1)  # a repeated column that is not used is harmless in memory
    assert CT.from_pandas(df2, left="l", right="r", outcome="y").n_rows == 2


@pytest.mark.parametrize("weights, match", [
    (np.r_[1e300, np.ones(5)], r"'sample_weight' sums to 1e\+300 \(largest weights at row 0\).*2\*\*53"),
    (np.full(6, 1e200), r"sums to 6e\+200 \(largest weights at rows 0, 1, 2, 3, 4 and 1 more\).*2\*\*53"),
    (np.r_[1.0, 1.0, 2e9, 1.0, 0.0, 3.0], r"largest weight \(2e\+09 at row 2\).*rows 0, 1, 3 \(smallest 1\).*1e\+09"),
    (np.r_[1e-10, 1.0, 1.0, 1.0, 1.0, 1.0], r"at row 0 \(smallest 1e-10\).*weight 0"),
])
def test_weights_outside_the_float64_range_are_rejected_naming_rows_and_rule(weights, match):
    with pytest.raises(ValueError, match=match):
        CT.from_arrays(X_ITEMS, Y, sample_weight=weights)


def test_weights_at_the_float64_limits_are_accepted():
    from prefstat.data import MAX_TOTAL_WEIGHT, MAX_WEIGHT_RATIO

    w = np.r_[MAX_WEIGHT_RATIO, 1.0, 1.0, 0.0, 1.0, 1.0]  # ratio exactly at the bound; zeros do not count
    np.testing.assert_array_equal(CT.from_arrays(X_ITEMS, Y, sample_weight=w).weight, w)
    w = np.full(6, MAX_TOTAL_WEIGHT / 8)  # a total of 0.75 * 2**53
    assert CT.from_arrays(X_ITEMS, Y, sample_weight=w).weight.sum() == 0.75 * MAX_TOTAL_WEIGHT


def test_count_table_weight_range_names_the_count_columns_and_rows():
    df = pd.DataFrame({"l": ["a", "b", "c"], "r": ["b", "c", "a"], "lw": [1.0, 5e9, 2.0], "rw": [3.0, 1.0, 0.0]})
    with pytest.raises(ValueError, match=r"columns 'lw', 'rw': the largest weight \(5e\+09 at row 1 of 'lw'\)"
                                         r".*rows 0, 1, 2"):
        CT.from_pandas(df, left="l", right="r", left_wins="lw", right_wins="rw")
    df["lw"] = [1.0, 1e300, 2.0]
    with pytest.raises(ValueError, match=r"columns 'lw', 'rw' sum to 1e\+300 \(largest weights at row 1\)"):
        CT.from_pandas(df, left="l", right="r", left_wins="lw", right_wins="rw")


def test_one_huge_weight_is_not_reported_as_non_identifiable():
    """Before: one weight of 1e300 made BradleyTerry say the other items are not identifiable."""
    with pytest.raises(ValueError, match=r"2\*\*53") as err:
        ps.BradleyTerry().fit(X_ITEMS, Y, sample_weight=np.r_[1e300, np.ones(5)])
    assert "identifiable" not in str(err.value)


@pytest.mark.parametrize("values", [
    np.array([0.0, np.nan, 1.0, np.inf, -np.inf]),
    np.array([1, 0, 2]),
    np.array([True, False]),
    np.array([1 + 0j, np.nan + 0j]),
    np.array(["a", None, "b", np.nan], dtype=object),
    np.array(["2020-01-01", "NaT"], dtype="datetime64[D]"),
    [0.5, None, float("nan")],
    pd.array([1, None, 2], dtype="Int64"),
])
def test_missing_mask_is_pandas_isna(values):
    # the numeric fast path must mark exactly what pandas marks (inf is not missing)
    from prefstat.data import missing_mask

    expected = pd.isna(pd.Series(values, dtype=object)).to_numpy(bool)
    np.testing.assert_array_equal(missing_mask(values), expected)


def test_nonfinite_rows_is_the_elementwise_test():
    # the row-sum fast path must flag exactly the rows np.isfinite flags: NaN, +-inf, inf - inf in one
    # row, and no row whose finite entries only overflow when added
    from prefstat.data.checks import nonfinite_rows

    rng = np.random.default_rng(0)
    Z = rng.normal(size=(200, 7))
    Z[3, 1] = np.nan
    Z[10, 0], Z[10, 6] = np.inf, -np.inf
    Z[11, 2] = -np.inf
    Z[20] = 1e308  # the sum overflows, every entry is finite
    Z[21, :2] = [1e308, -1e308]
    expected = ~np.isfinite(Z).all(axis=1)
    np.testing.assert_array_equal(nonfinite_rows(Z), expected)
    assert nonfinite_rows(Z).sum() == 3
    np.testing.assert_array_equal(nonfinite_rows(np.ones((4, 0))), np.zeros(4, bool))
    with pytest.raises(ValueError, match=r"NaN or infinite entries at rows 3, 10, 11"):
        ps.BradleyTerry(design="features").fit(Z, (rng.random(200) < 0.5).astype(float))
