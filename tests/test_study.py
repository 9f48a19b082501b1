"""The study runner: determinism, backends, persistence, diagnostics on known truths."""
import dataclasses

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import prefstat as ps
from prefstat import diagnostics
from prefstat.exceptions import StudyError
from prefstat.simulate.estimators import BTSim, LoopSim
from prefstat.simulate.processes import FeatureBT, HeterogeneousUsers, HomogeneousBT
from prefstat.simulate.study import Study, load_results, save_results

ITEMS = HomogeneousBT(n_items=6, order_effect=0.3, seed_abilities=2)
BT_ITEMS = BTSim(order_effect=True, truth_attr="half_win_truth")


def _comparable(df: pd.DataFrame) -> pd.DataFrame:
    # runtime is wall time: the only column allowed to differ between runs and backends
    out = df.drop(columns="runtime_s").copy()
    for col in ("estimate", "stderr", "lower", "upper", "truth"):
        out[col] = [None if v is None else tuple(np.asarray(v)) for v in out[col]]
    return out


def test_same_seed_same_numbers_and_cells_are_independent_of_order():
    study = Study(ITEMS, [BT_ITEMS], sizes=[300, 600], reps=8, seed=5)
    a, b = study.run(progress=False), study.run(progress=False)
    pd.testing.assert_frame_equal(_comparable(a), _comparable(b))
    # a study with only the second size reproduces that cell only if cells are seeded by index,
    # so check the seeding rule explicitly: cell 1 of a two-size study differs from cell 0
    assert not np.allclose(np.stack(a[a.n == 300].estimate), np.stack(a[a.n == 600].estimate))
    assert len(a) == 16 and set(a.columns) >= {"estimate", "stderr", "lower", "upper", "truth", "error",
                                                "angle_deg", "runtime_s", "converged", "level"}


def test_vmapped_core_matches_the_estimator_class_in_a_loop():
    process = FeatureBT(beta=(1.0, -0.5, 0.25))
    study = Study(process, [BTSim(name="core"), LoopSim(make=lambda: ps.BradleyTerry(design="features"),
                                                        name="class")], sizes=[400], reps=6, seed=1)
    df = study.run(progress=False)
    core, loop = (np.stack(df[df.estimator == e].estimate) for e in ("core", "class"))
    np.testing.assert_allclose(core, loop, atol=1e-10)
    se_core, se_loop = (np.stack(df[df.estimator == e].stderr) for e in ("core", "class"))
    np.testing.assert_allclose(se_core, se_loop, rtol=1e-9)


def test_parquet_round_trip(tmp_path):
    df = Study(ITEMS, [BT_ITEMS], sizes=[300], reps=4, seed=0).run(progress=False)
    save_results(df, tmp_path / "r.parquet")
    back = load_results(tmp_path / "r.parquet")
    pd.testing.assert_frame_equal(_comparable(df), _comparable(back))


def test_failing_cell_is_named():
    bad = dataclasses.replace(BT_ITEMS, truth_attr="truth")  # truth has no order effect: shape mismatch
    with pytest.raises(StudyError, match=r"cell n=300 failed: ValueError: estimator 'BT' returns 7 parameters"):
        Study(ITEMS, [bad], sizes=[300], reps=2).run(progress=False)


def test_grid_over_process_parameters():
    study = Study(ITEMS, [BT_ITEMS], sizes=[400], reps=3, grid={"order_effect": [0.0, 0.5]})
    df = study.run(progress=False)
    assert sorted(df.order_effect.unique()) == [0.0, 0.5]
    truths = {oe: g.truth.iloc[0][-1] for oe, g in df.groupby("order_effect")}
    assert truths == pytest.approx({0.0: 0.0, 0.5: 0.5}, abs=1e-12)


def test_dask_backend_matches_local():
    distributed = pytest.importorskip("dask.distributed")
    study = Study(ITEMS, [BT_ITEMS], sizes=[300, 600], reps=5, seed=11)
    local = study.run(progress=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        remote = study.run(backend="dask", client=client, progress=False)
    pd.testing.assert_frame_equal(_comparable(local), _comparable(remote))


def test_bt_coverage_study_500_reps_and_root_n_rate():
    # 500 replications per cell: coverage of each parameter must lie in the central 99.9% band of
    # Binomial(500, 0.95)/500 (Bonferroni over 7 parameters x 2 sizes keeps false alarms ~1%).
    reps = 500
    df = Study(ITEMS, [BT_ITEMS], sizes=[500, 2000], reps=reps, seed=3).run(progress=False)
    cov = diagnostics.coverage_report(df)
    lo = stats.binom.ppf(0.0005, reps, 0.95) / reps
    hi = stats.binom.isf(0.0005, reps, 0.95) / reps
    assert cov.coverage.between(lo, hi).all(), cov
    slope = diagnostics.consistency_report(df).iloc[0]
    # the slope's OLS interval (1000 points) has half-width ~0.05; -1/2 must be inside it
    assert slope.slope_lower <= -0.5 <= slope.slope_upper, slope
    assert not slope.inconsistent


def test_heterogeneous_users_bt_is_flagged_inconsistent():
    # METHODS.md section 2 worked example: BT's limit is ~15 degrees from beta_bar, so the
    # angular error stops shrinking between n = 2k and 32k.
    process = HeterogeneousUsers.worked_example()
    df = Study(process, [BTSim(truth_attr="direction", compare="direction")],
               sizes=[2000, 8000, 32000], reps=30, seed=4).run(progress=False)
    rep = diagnostics.consistency_report(df, error="angle_deg").iloc[0]
    assert rep.inconsistent, rep
    assert abs(rep.error_at_max_n - process.bt_limit_angle) < 1.0, rep
    # disagreement = angle / 180 for isotropic Gaussian z, up to Monte-Carlo error of the eval set
    m = diagnostics.metrics(df)
    np.testing.assert_allclose(m.mean_disagreement, m.mean_angle_deg / 180, atol=0.004)


def test_efficiency_report_against_itself_is_one():
    df = Study(ITEMS, [BT_ITEMS, dataclasses.replace(BT_ITEMS, name="BT2", cov_type="robust")],
               sizes=[400], reps=20).run(progress=False)
    eff = diagnostics.efficiency_report(df, baseline="BT")
    np.testing.assert_allclose(eff.variance_ratio, 1.0)
    with pytest.raises(ValueError, match="baseline 'nope'"):
        diagnostics.efficiency_report(df, baseline="nope")
