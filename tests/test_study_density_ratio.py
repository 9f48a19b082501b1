"""The built-in ``density-ratio`` study at a tiny size: runs, reports, plots; the CLI lists it."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from prefstat.simulate import studies
from prefstat.simulate.study_density_ratio import DensityRatioSpec


@pytest.mark.slow  # ~30-60 s: six vmapped programs compiled
def test_density_ratio_study_tiny_run_and_report(tmp_path):
    spec = studies.get_study("density-ratio")
    assert isinstance(spec, DensityRatioSpec)
    tiny = dataclasses.replace(spec, separations=(5.0,))
    df = tiny.build(sizes=(200, 2000), reps=4, seed=1).run(progress=False)
    assert set(df["estimator"]) == {"RDRO (alpha=0.5)", "DDRO (alpha=0)", "DPO (BT)"}
    proc = dataclasses.replace(tiny.process(), separation=5.0)
    rdro = df[df["estimator"] == "RDRO (alpha=0.5)"]
    assert np.allclose(np.stack(rdro["truth"]), proc.theta_rdro(0.5))
    ddro = df[df["estimator"] == "DDRO (alpha=0)"]
    assert np.allclose(np.stack(ddro["truth"]), proc.theta_rdro(0.0))
    assert rdro["exists"].all() and (rdro["ratio_max"] < 2.2).all()
    # n = 200: the outstanding answers are rarely rejected, so DDRO's estimate often does not exist
    assert not ddro[ddro["n"] == 200]["exists"].all()
    text = studies.write_report(tiny, df, str(tmp_path))
    assert "Stability as the classes separate" in text and "Targets (exact)" in text
    assert (tmp_path / "stability.png").exists() and (tmp_path / "report.md").exists()


def test_cli_lists_density_ratio_study():
    from prefstat import cli

    assert "density-ratio" in cli.RUN_TIME_2_CORES and "density-ratio" in cli._simulate_epilog()
