"""Exact fits on partitioned data (issue 15): in memory == on a multi-process LocalCluster.

One LocalCluster (2 worker processes, 1 thread each) serves the module; its start-up is the main
cost. The partition kernels reach the workers by value (prefstat.distributed.compute), so the
workers never import prefstat. Tolerances: the in-memory and the distributed fit solve the same
equations with sums added in a different order (per partition, then across partitions), so they
agree to rounding (~1e-13 here); the acceptance bounds are 1e-8 (fit) and 1e-10 (update).
"""
from __future__ import annotations

import os
import pickle

import numpy as np
import pandas as pd
import pytest

from conftest import simulate_items
from prefstat import BradleyTerry, ComparisonTable, DebiasedBradleyTerry
from prefstat.cli import main
from prefstat.distributed import PartitionedTable, cells_from_rows

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("dask.distributed")

N_FEATURES = 4


@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=40) as cluster, distributed.Client(cluster) as c:
        yield c


def _assert_same(a, b, tol=1e-8):
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=0, atol=tol)
    np.testing.assert_allclose(a.stderr_, b.stderr_, rtol=0, atol=tol)
    if a.order_effect:
        assert abs(a.order_effect_ - b.order_effect_) < tol
        assert abs(a.order_effect_stderr_ - b.order_effect_stderr_) < tol
    assert a.param_names_ == b.param_names_
    assert a.nobs_ == pytest.approx(b.nobs_, rel=1e-12)
    assert a.loglik_ == pytest.approx(b.loglik_, rel=1e-10)
    assert a.deviance_ == pytest.approx(b.deviance_, rel=1e-8, abs=1e-8)


@pytest.fixture(scope="module")
def items_frame():
    d = simulate_items(0, k=6, n=600, order=True, ties=0.1, weights=True, n_groups=7)
    return pd.DataFrame(dict(left=d["left"], right=d["right"], outcome=d["y"], weight=d["w"], order=d["order"],
                             group=d["groups"]))


@pytest.fixture(scope="module")
def features_frame():
    rng = np.random.default_rng(1)
    n = 3000
    Z = rng.normal(size=(n, N_FEATURES))
    eta = Z @ rng.normal(size=N_FEATURES)
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)
    y[rng.random(n) < 0.05] = 0.5  # ties
    df = pd.DataFrame(Z, columns=[f"z{j}" for j in range(N_FEATURES)])
    df["outcome"] = y
    df["weight"] = rng.integers(0, 3, n).astype(float)  # zero weights included
    df["group"] = rng.integers(0, 40, n)
    df["order"] = rng.integers(-1, 2, n).astype(float)
    return df


def _table(df, cov, **roles):
    return ComparisonTable.from_pandas(df, outcome="outcome", weight="weight", order="order",
                                       group="group" if cov == "cluster" else None, **roles)


@pytest.mark.parametrize("cov", ["model", "robust", "cluster"])
def test_item_level_on_cluster_equals_in_memory(client, items_frame, cov, tmp_path):
    kw = dict(order_effect=True, cov_type=cov)
    full = BradleyTerry(**kw).fit(_table(items_frame, cov, left="left", right="right"))
    frame = items_frame if cov == "cluster" else items_frame.drop(columns="group")
    remote = BradleyTerry(**kw).fit(dd.from_pandas(frame, npartitions=5))
    _assert_same(full, remote)
    assert remote.distributed_["passes"] == 1 and remote.distributed_["n_partitions"] == 5
    if cov != "cluster":
        return
    # Parquet files: one partition per file, the table read on the workers only
    for i, part in enumerate(np.array_split(np.arange(len(frame)), 4)):
        frame.iloc[part].to_parquet(tmp_path / f"part-{i}.parquet")
    from_files = BradleyTerry(**kw).fit(PartitionedTable(str(tmp_path / "*.parquet"), left="left", right="right",
                                                         weight="weight", order="order",
                                                         group="group" if cov == "cluster" else None))
    _assert_same(full, from_files)


@pytest.mark.parametrize("cov", ["model", "robust", "cluster"])
def test_feature_level_on_cluster_equals_in_memory(client, features_frame, cov):
    feats = [f"z{j}" for j in range(N_FEATURES)]
    kw = dict(order_effect=True, cov_type=cov)
    full = BradleyTerry(**kw).fit(_table(features_frame, cov, features=feats))
    table = PartitionedTable(dd.from_pandas(features_frame, npartitions=4), features=feats, weight="weight",
                             order="order", group="group" if cov == "cluster" else None)
    remote = BradleyTerry(**kw).fit(table)
    _assert_same(full, remote)
    # what reached the client: p-vectors and p x p matrices (and, for clusters, G x p scores), never a partition
    partition_bytes = features_frame.iloc[: len(features_frame) // 4].memory_usage(deep=True).sum()
    assert remote.distributed_["max_bytes_to_client"] < partition_bytes / 8
    # and the workers never imported prefstat: the kernels travel by value
    assert not any(client.run(eval, "'prefstat' in __import__('sys').modules").values())


def test_penalised_and_reference_item_fit(client, items_frame):
    kw = dict(alpha=0.5, reference="fig", cov_type="robust")
    frame = items_frame.drop(columns=["group", "order"])
    full = BradleyTerry(**kw).fit(ComparisonTable.from_pandas(frame, "left", "right", "outcome", weight="weight"))
    _assert_same(full, BradleyTerry(**kw).fit(dd.from_pandas(frame, npartitions=3)))


@pytest.mark.parametrize("kw", [dict(lam="auto", order_effect=True),
                                pytest.param(dict(lam=1.0, cov_type="cluster"), marks=pytest.mark.slow)])
def test_debiased_on_cluster_equals_in_memory(client, kw):
    rng = np.random.default_rng(5)
    n, n_human, k = 2000, 400, 5
    theta = rng.normal(size=k)
    a = rng.integers(0, k, n)
    b = (a + rng.integers(1, k, n)) % k
    o = rng.choice([-1.0, 1.0], n)
    z = (rng.random(n) < 1 / (1 + np.exp(-(theta[a] - theta[b] + 0.3 * o)))).astype(float)
    ai = np.where(rng.random(n) < 0.8, z, 1 - z)
    names = np.array(["kiwi", "apple", "mango", "fig", "pear"], dtype=object)
    df = pd.DataFrame(dict(left=names[a], right=names[b], outcome=np.where(np.arange(n) < n_human, z, np.nan),
                           ai_label=ai, order=o, weight=rng.integers(1, 3, n).astype(float),
                           group=rng.integers(0, 60, n)))
    X = df[["left", "right"]].to_numpy()
    groups = df.group.to_numpy() if kw.get("cov_type") == "cluster" else None
    full = DebiasedBradleyTerry(**kw).fit(X, df.outcome.to_numpy(), ai, sample_weight=df.weight.to_numpy(),
                                          groups=groups, order=o)
    table = PartitionedTable(dd.from_pandas(df, npartitions=4), left="left", right="right", ai_label="ai_label",
                             weight="weight", order="order", group="group" if groups is not None else None)
    remote = DebiasedBradleyTerry(**kw).fit(table)
    np.testing.assert_allclose(remote.coef_, full.coef_, rtol=0, atol=1e-8)
    np.testing.assert_allclose(remote.stderr_, full.stderr_, rtol=0, atol=1e-8)
    assert remote.lam_ == pytest.approx(full.lam_, abs=1e-8)
    assert remote.n_eff_ == pytest.approx(full.n_eff_, rel=1e-8)
    # the client received the distinct rows only (5 x 4 pairs x 2 orders x 4 label pairs at most)
    assert remote.distributed_["max_bytes_to_client"] < 200_000


@pytest.mark.parametrize("kw", [dict(lam="auto", order_effect=True), dict(lam=0.4)])
def test_feature_level_debiased_on_cluster_equals_in_memory(client, kw):
    # every Newton pass, the PPI++ tuning sums and the two-sample covariance sums are map-reduces
    rng = np.random.default_rng(6)
    n, n_human, d = 2400, 400, 3
    Z = rng.normal(size=(n, d))
    o = rng.choice([-1.0, 0.0, 1.0], n)
    z = (rng.random(n) < 1 / (1 + np.exp(-(Z @ rng.normal(size=d) + 0.3 * o)))).astype(float)
    ai = np.where(rng.random(n) < 0.8, z, 1 - z)
    ai[rng.random(n) < 0.2] = 0.7  # soft judge labels
    y = np.where(rng.random(n) < n_human / n, z, np.nan)
    w = rng.integers(0, 3, n).astype(float)
    feats = [f"z{j}" for j in range(d)]
    df = pd.DataFrame(Z, columns=feats).assign(outcome=y, ai_label=ai, order=o, weight=w)
    full = DebiasedBradleyTerry(**kw).fit(Z, y, ai, sample_weight=w, order=o)
    table = PartitionedTable(dd.from_pandas(df, npartitions=4), features=feats, ai_label="ai_label", weight="weight",
                             order="order")
    remote = DebiasedBradleyTerry(**kw).fit(table)
    np.testing.assert_allclose(remote.coef_, full.coef_, rtol=0, atol=1e-8)
    np.testing.assert_allclose(remote.stderr_, full.stderr_, rtol=0, atol=1e-8)
    assert remote.param_names_ == feats and full.param_names_ == ["x0", "x1", "x2"]  # an unnamed array
    if kw.get("order_effect"):
        assert remote.order_effect_stderr_ == pytest.approx(full.order_effect_stderr_, abs=1e-8)
    for key, value in full.diagnostics_.items():
        assert remote.diagnostics_[key] == pytest.approx(value, rel=1e-8, nan_ok=True), key
    # p-vectors, p x p matrices and the human rows' weights reached the client, never a partition
    assert remote.distributed_["max_bytes_to_client"] < 20_000
    with pytest.raises(ValueError, match="cov_type='cluster' is not available for feature-level"):
        DebiasedBradleyTerry(cov_type="cluster").fit(table)


@pytest.mark.parametrize("cov", ["model", "robust", "cluster"])
def test_update_on_a_split_equals_the_fit_on_all_rows(cov, items_frame):
    kw = dict(order_effect=True, cov_type=cov)
    full = BradleyTerry(**kw).fit(_table(items_frame, cov, left="left", right="right"))
    # a split whose first part lacks an item and a cluster that the second part brings
    first = items_frame[(items_frame.left != "date") & (items_frame.right != "date")].iloc[:300]
    rest = items_frame.drop(index=first.index)
    model = BradleyTerry(**kw).fit(_table(first, cov, left="left", right="right"))
    model = pickle.loads(pickle.dumps(model))  # the cell statistics survive pickling
    model.update(_table(rest, cov, left="left", right="right"))
    _assert_same(full, model, tol=1e-10)
    assert model.cell_stats_.n_rows == len(items_frame)


def test_update_with_partitioned_rows(client, items_frame):
    full = BradleyTerry(order_effect=True).fit(_table(items_frame, "model", left="left", right="right"))
    frame = items_frame.drop(columns="group")
    first, *rest = np.array_split(np.arange(len(frame)), 3)
    model = BradleyTerry(order_effect=True).fit(dd.from_pandas(frame.iloc[first], npartitions=2))
    for part in rest:
        model.update(dd.from_pandas(frame.iloc[part], npartitions=2))
    _assert_same(full, model, tol=1e-10)


def test_update_errors():
    d = simulate_items(3, k=4, n=200)
    X = np.column_stack([d["left"], d["right"]])
    model = BradleyTerry().fit(X, d["y"])
    with pytest.raises(ValueError, match="hyperparameters of the fit"):
        model.set_params(order_effect=True).update(X, d["y"])
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(100, 2))
    feat = BradleyTerry().fit(Z, (rng.random(100) < 0.5).astype(float))
    del feat.rows_  # feature-level models keep their rows for update (tests/test_distributed_update.py)
    with pytest.raises(ValueError, match="feature-level models keep no sufficient statistics"):
        feat.update(Z, np.ones(100))


def test_cells_are_additive():
    d = simulate_items(4, k=5, n=300, ties=0.2, weights=True)
    cut = 120
    whole = cells_from_rows(d["left"], d["right"], d["y"], d["w"])
    parts = cells_from_rows(d["left"][:cut], d["right"][:cut], d["y"][:cut], d["w"][:cut]).merge(
        cells_from_rows(d["left"][cut:], d["right"][cut:], d["y"][cut:], d["w"][cut:]))
    key = ["left", "right"]
    a = whole.frame.sort_values(key).reset_index(drop=True)
    b = parts.frame.sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-14)
    assert parts.entropy == pytest.approx(whole.entropy, rel=1e-13)
    assert (parts.n_rows, parts.w_min, parts.w_max) == (whole.n_rows, whole.w_min, whole.w_max)


def test_bad_partition_is_named(client, tmp_path, items_frame):
    frame = items_frame.drop(columns="group")
    frame.iloc[:300].to_parquet(tmp_path / "a.parquet")
    bad = frame.iloc[300:].copy()
    bad.iloc[4, bad.columns.get_loc("outcome")] = 1.5
    bad.to_parquet(tmp_path / "b.parquet")
    with pytest.raises(ValueError, match=r"partition 1 \(file '.*b\.parquet'\): column 'outcome' must lie in "
                                         r"\[0, 1\].*row 4 .*0-based within that partition"):
        BradleyTerry().fit(PartitionedTable(str(tmp_path), weight="weight"))
    with pytest.raises(ValueError, match=r"has no column\(s\) \['wins'\]"):
        PartitionedTable(str(tmp_path), outcome="wins")
    with pytest.raises(ValueError, match="bootstrap"):
        BradleyTerry(cov_type="bootstrap").fit(dd.from_pandas(frame, npartitions=2))
    with pytest.raises(ValueError, match="do not pass y"):
        BradleyTerry().fit(dd.from_pandas(frame, npartitions=2), np.ones(3))


def test_cli_fit_on_parquet_directory_with_scheduler(client, tmp_path, items_frame, capsys):
    frame = items_frame.drop(columns="group")
    data = tmp_path / "battles"
    data.mkdir()
    for i, part in enumerate(np.array_split(np.arange(len(frame)), 3)):
        frame.iloc[part].to_parquet(data / f"day-{i}.parquet")
    out = tmp_path / "fit.json"
    code = main(["fit", str(data), "--left", "left", "--right", "right", "--outcome", "outcome", "--weight",
                 "weight", "--order", "order", "--order-effect", "--cov", "robust", "--scheduler",
                 client.scheduler.address, "--json", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "3 partitions" in captured.out
    assert "partition" in captured.err  # the progress bar over partitions
    import json

    params = {p["parameter"]: p for p in json.loads(out.read_text())["parameters"]}
    full = BradleyTerry(order_effect=True, cov_type="robust").fit(
        _table(frame, "robust", left="left", right="right"))
    assert params["order_effect"]["estimate"] == pytest.approx(full.order_effect_, abs=1e-8)
    code = main(["fit", str(data / "*.parquet"), "--left", "left", "--right", "right", "--outcome", "outcome",
                 "--workers", "2", "--scheduler", client.scheduler.address])
    assert code == 2 and "give either --workers" in capsys.readouterr().err


def test_study_dask_backend_on_the_process_cluster(client):
    # The Study runner's Dask backend on this multi-process cluster (workers import prefstat for it).
    from prefstat.simulate import Study
    from test_study import BT_ITEMS, ITEMS, _comparable

    study = Study(ITEMS, [BT_ITEMS], sizes=[200], reps=3, seed=2)
    pd.testing.assert_frame_equal(_comparable(study.run(progress=False)),
                                  _comparable(study.run(backend="dask", client=client, progress=False)))


# Peak resident memory (bytes) of a worker process's address space (Linux). Sent as source text and
# evaluated on the worker, which therefore imports neither this module nor prefstat.
PEAK_RSS = "int(open('/proc/self/status').read().split('VmHWM:')[1].split()[0]) * 1024"


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads the workers' peak memory from /proc")
@pytest.mark.xfail(strict=False, reason="with a 350 MB limit a worker was restarted once in a run of 20 test files "
                   "(its baseline, ~240-280 MB alone, reached 333 MB); the limit is now 500 MB with the data grown "
                   "to match, and this mark stays until full runs have shown it reliable")
def test_out_of_core_table_larger_than_worker_memory(tmp_path):
    # 200 uncompressed Parquet files of 150k rows x (2 int32 labels, float64 outcome, float64 weight):
    # 720 MB on disk and as much in memory, more than each worker's memory limit (500 MB; a worker
    # process with numpy, pandas, pyarrow and dask's own state peaks at ~240-280 MB alone, and was
    # seen at 333 MB in a long run: the limit leaves ~140 MB above that). Each task
    # reads one file (3.6 MB) and returns its cells (50 x 49 pairs); the reduction releases partial
    # results as it combines them (prefstat.distributed.compute), so no worker ever holds the table.
    # Dask's pause threshold is switched off: that resident memory is memory dask does not manage
    # (imports, allocator caches), and a worker paused at 80% of its limit waits for managed memory
    # to be released that it never holds: the first version of this test (2 x 250 MB, default
    # thresholds) hung there. The limit is still enforced: the nanny restarts a worker above 95% of
    # it (the fit then fails with KilledWorker, or times out below), and each worker's peak resident
    # memory is checked after the fit.
    import concurrent.futures

    import dask
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    k, per_file, n_files = 50, 150_000, 200
    theta = rng.normal(size=k)
    for i in range(n_files):
        a = rng.integers(0, k, per_file, dtype=np.int32)
        b = ((a + rng.integers(1, k, per_file)) % k).astype(np.int32)
        y = (rng.random(per_file) < 1 / (1 + np.exp(-(theta[a] - theta[b])))).astype(np.float64)
        w = rng.uniform(0.5, 1.5, per_file)
        pq.write_table(pa.table(dict(left=a, right=b, outcome=y, weight=w)), tmp_path / f"part-{i:03d}.parquet",
                       compression="none", use_dictionary=False)
    on_disk = sum(f.stat().st_size for f in tmp_path.iterdir())
    limit = 500_000_000
    assert on_disk > 1.4 * limit
    memory = {"distributed.worker.memory.target": False, "distributed.worker.memory.spill": False,
              "distributed.worker.memory.pause": False, "distributed.worker.memory.terminate": 0.95}
    with dask.config.set(memory), distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, memory_limit=limit,
            silence_logs=40) as cluster, distributed.Client(cluster) as c:
        workers = set(c.scheduler_info()["workers"])
        pool = concurrent.futures.ThreadPoolExecutor(1)
        job = pool.submit(BradleyTerry().fit, PartitionedTable(str(tmp_path), weight="weight"))
        try:
            # a hard timeout: a hang (e.g. paused workers) fails the test instead of stalling the suite
            model = job.result(timeout=360)
        except concurrent.futures.TimeoutError:
            c.close()  # makes the fit thread raise, so the thread ends
            pytest.fail("the out-of-core fit did not finish within 360 s")
        finally:
            pool.shutdown(wait=False)
        peaks = c.run(eval, PEAK_RSS)
        # no worker was restarted for exceeding its limit (a restarted worker gets a new address)
        assert set(c.scheduler_info()["workers"]) == workers
    print("worker peak RSS (MB):", {w: round(v / 1e6) for w, v in peaks.items()})
    assert len(peaks) == 2 and max(peaks.values()) < 0.95 * limit, peaks
    assert model.nobs_ == pytest.approx(float(np.sum([pq.read_table(f, columns=["weight"])["weight"].to_numpy().sum()
                                                      for f in sorted(tmp_path.iterdir())])), rel=1e-12)
    assert model.cell_stats_.n_rows == n_files * per_file
    assert model.distributed_["n_partitions"] == n_files
    assert model.distributed_["max_bytes_to_client"] < 1_000_000
    # the truth is recovered to a few standard errors (30M comparisons): max of 50 |z| < 4.5 fails
    # with probability < 50 * 7e-6 under a correct fit
    centred = theta - theta.mean()
    assert np.max(np.abs(model.coef_ - centred) / model.stderr_) < 4.5
