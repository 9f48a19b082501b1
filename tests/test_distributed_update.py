"""Feature-level BradleyTerry.update (issue 15): appending rows and refitting equals the fit on all rows.

A feature-level model keeps its rows (prefstat.models.bt_update); update appends the new ones and
refits from the previous solution. Both fits solve the same equations on the same rows in the
same order, so they agree to rounding (~1e-15 here); the acceptance bound is 1e-10.
Partitioned fits run on Dask's local scheduler (no cluster: the map-reduce is the same graph).
"""
from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from prefstat import BradleyTerry, ComparisonTable
from prefstat.distributed import PartitionedTable

D = 4


@pytest.fixture(scope="module")
def rows():
    rng = np.random.default_rng(11)
    n = 1500
    Z = rng.normal(size=(n, D))
    eta = Z @ rng.normal(size=D) + 0.3 * 1.0
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)
    y[rng.random(n) < 0.05] = 0.5  # ties
    return dict(Z=Z, y=y, w=rng.integers(0, 3, n).astype(float), g=rng.integers(0, 30, n),
                o=rng.integers(-1, 2, n).astype(float))


def _same(a, b, tol=1e-10):
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=0, atol=tol)
    np.testing.assert_allclose(a.stderr_, b.stderr_, rtol=0, atol=tol)
    if a.order_effect:
        assert abs(a.order_effect_ - b.order_effect_) < tol
        assert abs(a.order_effect_stderr_ - b.order_effect_stderr_) < tol
    assert a.nobs_ == pytest.approx(b.nobs_, rel=1e-14)
    assert a.loglik_ == pytest.approx(b.loglik_, rel=1e-12)
    assert a.deviance_ == pytest.approx(b.deviance_, rel=1e-10, abs=1e-10)


@pytest.mark.parametrize("cov, sparse", [("model", False), ("robust", True), ("cluster", False)])
def test_feature_update_equals_the_fit_on_all_rows(rows, cov, sparse):
    Z, y, w, o = rows["Z"], rows["y"], rows["w"], rows["o"]
    g = rows["g"] if cov == "cluster" else None
    kw = dict(order_effect=True, cov_type=cov)
    X = sp.csr_matrix(Z) if sparse else Z
    full = BradleyTerry(**kw).fit(X, y, w, g, o)
    cut, cut2 = 500, 1100
    part = lambda v, a, b: None if v is None else v[a:b]  # noqa: E731
    first = Z[:cut].copy()
    model = BradleyTerry(**kw).fit(sp.csr_matrix(first) if sparse else first, y[:cut], w[:cut], part(g, 0, cut),
                                   o[:cut])
    first[:] = 0.0  # the caller's array changes after fit: the model kept its own rows
    model = pickle.loads(pickle.dumps(model))  # the rows survive pickling
    for a, b in ((cut, cut2), (cut2, None)):
        model.update(X[a:b], y[a:b], w[a:b], part(g, a, b), o[a:b])
    _same(full, model)
    assert model.rows_.n_rows == Z.shape[0]
    assert model.n_iter_ < full.n_iter_  # the warm start saves Newton steps


def test_feature_update_from_dataframes_and_tables(rows):
    Z, y = rows["Z"], rows["y"]
    df = pd.DataFrame(Z, columns=[f"f{j}" for j in range(D)])
    full = BradleyTerry().fit(df, y)
    model = BradleyTerry().fit(df.iloc[:700], y[:700]).update(df.iloc[700:], y[700:])
    _same(full, model)
    assert model.param_names_ == [f"f{j}" for j in range(D)]
    table = ComparisonTable.from_features(Z, y, feature_names=list("abcd"))
    model = BradleyTerry().fit(ComparisonTable.from_features(Z[:700], y[:700], feature_names=list("abcd")))
    _same(BradleyTerry().fit(table), model.update(Z[700:], y[700:]))  # an unnamed array takes the fitted names


def test_feature_update_errors(rows):
    Z, y, g = rows["Z"], rows["y"], rows["g"]
    model = BradleyTerry().fit(Z[:600], y[:600])
    with pytest.raises(ValueError, match="the new rows have 3 features but the model was fitted on 4"):
        model.update(Z[600:, :3], y[600:])
    with pytest.raises(ValueError, match=r"feature names \['a', 'b', 'c', 'd'\] differ from the fitted ones"):
        model.update(ComparisonTable.from_features(Z[600:], y[600:], feature_names=list("abcd")))
    with pytest.raises(ValueError, match="needs feature-level rows"):
        model.update(np.array([["a", "b"], ["b", "c"]], dtype=object), np.ones(2))
    with pytest.raises(ValueError, match=r"hyperparameters of the fit: alpha=0.0 -> 1.0"):
        BradleyTerry().fit(Z[:600], y[:600]).set_params(alpha=1.0).update(Z[600:], y[600:])
    dd = pytest.importorskip("dask.dataframe")
    frame = pd.DataFrame(Z[600:], columns=[f"x{j}" for j in range(D)]).assign(outcome=y[600:])
    with pytest.raises(ValueError, match="fitted on rows in memory; update it with rows in memory"):
        model.update(dd.from_pandas(frame, npartitions=2))
    clustered = BradleyTerry(cov_type="cluster").fit(Z[:600], y[:600], groups=g[:600])
    with pytest.raises(ValueError, match="cov_type='cluster' needs groups: pass groups= to update"):
        clustered.update(Z[600:], y[600:])
    df = pd.DataFrame(Z, columns=list("abcd"))
    named = BradleyTerry().fit(df.iloc[:600], y[:600])
    with pytest.raises(ValueError, match="feature names"):
        named.update(df.iloc[600:].rename(columns={"a": "z"}), y[600:])
    del model.rows_
    with pytest.raises(ValueError, match="rows are gone"):
        model.update(Z[600:], y[600:])


def test_partitioned_feature_update(rows, tmp_path):
    dd = pytest.importorskip("dask.dataframe")
    Z, y, w, o = rows["Z"], rows["y"], rows["w"], rows["o"]
    feats = [f"z{j}" for j in range(D)]
    frame = pd.DataFrame(Z, columns=feats).assign(outcome=y, weight=w, order=o)
    kw = dict(order_effect=True, cov_type="robust")
    full = BradleyTerry(**kw).fit(Z, y, w, order=o)
    roles = dict(features=feats, weight="weight", order="order")
    model = BradleyTerry(**kw).fit(PartitionedTable(dd.from_pandas(frame.iloc[:800], npartitions=2), **roles))
    model.update(dd.from_pandas(frame.iloc[800:], npartitions=2))  # a bare Dask DataFrame takes the fitted roles
    _same(full, model)
    assert model.rows_.n_partitions == 4
    assert model.n_iter_ < full.n_iter_  # started at the solution of 800 rows
    # Parquet files: the file lists are joined; a file already fitted is refused (its rows would count twice)
    for i, (a, b) in enumerate(((0, 800), (800, None))):
        frame.iloc[a:b].to_parquet(tmp_path / f"day-{i}.parquet")
    files = BradleyTerry(**kw).fit(PartitionedTable(str(tmp_path / "day-0.parquet"), **roles))
    _same(full, files.update(PartitionedTable(str(tmp_path / "day-1.parquet"), **roles)))
    with pytest.raises(ValueError, match="already in the fitted table"):
        files.update(PartitionedTable(str(tmp_path / "day-1.parquet"), **roles))
    with pytest.raises(ValueError, match=r"column roles differ .*weight: 'weight' vs None"):
        files.update(PartitionedTable(str(tmp_path / "day-1.parquet"), features=feats, order="order"))
    with pytest.raises(ValueError, match="must be partitioned too"):
        files.update(Z[:10])
