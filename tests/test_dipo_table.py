"""ComparisonTable input with missing outcomes (AI-labelled pool rows) and an ai_label column: DIPO and
DebiasedBradleyTerry give the same numbers as on arrays; Bradley-Terry rejects the table with a pointer."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import prefstat as ps


def _two_sample(seed=0, n=120, N=400, d=2):
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(n + N, d))
    p = 1 / (1 + np.exp(-Z @ np.array([1.0, -0.5])[:d]))
    y = (rng.uniform(size=n + N) < p).astype(float)
    y[n:] = np.nan
    ai = np.where(rng.uniform(size=n + N) < 0.8, (rng.uniform(size=n + N) < p).astype(float), 0.0)
    return Z, y, ai


def test_dipo_table_equals_arrays():
    Z, y, ai = _two_sample()
    order = np.where(np.arange(y.size) % 2 == 0, 1.0, -1.0)
    table = ps.ComparisonTable.from_features(Z, y, order=order, ai_label=ai, feature_names=["a", "b"])
    assert table.has_missing_outcomes and table.human.sum() == 120
    a = ps.DIPO(random_state=0).fit(table)
    b = ps.DIPO(random_state=0).fit(np.column_stack([Z, order]), y, ai)
    assert a.estimate_ == b.estimate_ and a.stderr_ == b.stderr_
    np.testing.assert_array_equal(a.influence_, b.influence_)


def test_dipo_item_table_and_pandas_equal_arrays():
    Z, y, ai = _two_sample(1)
    items = np.array(["a", "b", "c"])
    rng = np.random.default_rng(1)
    left = items[rng.integers(0, 2, y.size)]
    right = np.where(left == "a", "c", "a")
    df = pd.DataFrame({"L": left, "R": right, "win": y, "judge": ai, "ann": np.arange(y.size) % 17})
    table = ps.ComparisonTable.from_pandas(df, left="L", right="R", outcome="win", ai_label="judge", group="ann")
    a = ps.DIPO(method="ppi").fit(table)
    b = ps.DIPO(method="ppi").fit(None, y, ai)
    assert a.estimate_ == b.estimate_ and a.stderr_ == b.stderr_
    c = ps.DIPO(method="ppi", cov_type="cluster").fit(table)  # the table's groups are the clusters
    d = ps.DIPO(method="ppi", cov_type="cluster").fit(None, y, ai, groups=df["ann"].to_numpy())
    assert c.stderr_ == d.stderr_
    assert list(table.to_frame()["ai_label"]) == list(ai)


@pytest.mark.parametrize("kind", ["items", "features"])
def test_debiased_bt_table_equals_arrays(kind):
    Z, y, ai = _two_sample(2)
    if kind == "features":
        table = ps.ComparisonTable.from_features(Z, y, ai_label=ai)
        X = Z
    else:
        rng = np.random.default_rng(2)
        X = rng.choice(np.array(["u", "v", "w", "x"]), size=(y.size, 2), replace=True)
        X[:, 1] = np.where(X[:, 0] == X[:, 1], "z", X[:, 1])
        table = ps.ComparisonTable.from_items(X[:, 0], X[:, 1], y, ai_label=ai)
    a = ps.DebiasedBradleyTerry().fit(table)
    b = ps.DebiasedBradleyTerry().fit(X, y, ai)
    np.testing.assert_array_equal(a.results_.estimate, b.results_.estimate)
    np.testing.assert_array_equal(a.results_.cov, b.results_.cov)


def test_bradley_terry_rejects_missing_outcomes_with_pointer():
    Z, y, ai = _two_sample(3)
    table = ps.ComparisonTable.from_features(Z, y, ai_label=ai)
    with pytest.raises(ValueError, match="missing outcomes on rows 120, 121.*Fit DIPO or DebiasedBradleyTerry"):
        ps.BradleyTerry().fit(table)
    # without a judge column a missing outcome is an error that names the way out
    with pytest.raises(ValueError, match="column 'outcome' has NaN or infinite values at rows 120.*ai_label="):
        ps.ComparisonTable.from_features(Z, y)
    # the human rows alone are an ordinary table
    human = ps.ComparisonTable.from_features(Z[:120], y[:120], ai_label=ai[:120])
    assert ps.BradleyTerry().fit(human).coef_.shape == (2,)


def test_table_judge_errors():
    Z, y, ai = _two_sample(4)
    bad = ai.copy()
    bad[5] = 1.5
    with pytest.raises(ValueError, match="column 'judge' must lie in .*row 5 are out of range"):
        ps.ComparisonTable.from_features(Z, y, ai_label=bad, ai_name="judge")
    nan_ai = ai.copy()
    nan_ai[7] = np.nan
    with pytest.raises(ValueError, match="column 'ai_label' has NaN or infinite values at row 7"):
        ps.ComparisonTable.from_features(Z, y, ai_label=nan_ai)
    plain = ps.ComparisonTable.from_features(Z[:120], y[:120])
    with pytest.raises(ValueError, match="DebiasedBradleyTerry needs the AI judge's labels"):
        ps.DebiasedBradleyTerry().fit(plain)
    with pytest.raises(ValueError, match="DIPO needs the AI judge's labels"):
        ps.DIPO().fit(plain)
    table = ps.ComparisonTable.from_features(Z, y, ai_label=ai)
    with pytest.raises(ValueError, match="do not pass ai_label"):
        ps.DIPO().fit(table, ai_label=ai)
    weighted = ps.ComparisonTable.from_features(Z, y, weight=np.full(y.size, 2.0), ai_label=ai)
    with pytest.raises(ValueError, match="DIPO takes no weights"):
        ps.DIPO().fit(weighted)
