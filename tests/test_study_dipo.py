"""The built-in ``dipo`` study at a tiny size: runs, reports, plots; the CLI lists it."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from prefstat.simulate import studies
from prefstat.simulate.study_dipo import DIPOSpec


@pytest.mark.slow  # ~25 s on an idle machine (five DIPO variants, JIT compilation)
def test_dipo_study_tiny_run_and_report(tmp_path):
    spec = studies.get_study("dipo")
    assert isinstance(spec, DIPOSpec)
    tiny = dataclasses.replace(spec, flip_rates=(0.0,))
    df = tiny.build(sizes=(100, 200), reps=2, seed=1).run(progress=False)
    assert set(df["estimator"]) == {"DIPO (known w)", "DIPO (estimated w)", "PPI (raw judge)", "human-only",
                                    "AI-only"}
    truth = tiny.process().psi
    assert np.allclose(np.stack(df["truth"]).ravel(), truth)
    assert df["stderr"].notna().all() and (df["n_eff"] > 0).all()
    dipo = df[df["estimator"] == "DIPO (known w)"]
    assert dipo["efficiency_ratio"].notna().all()
    text = studies.write_report(tiny, df, str(tmp_path))
    assert "Judge quality and efficiency" in text and (tmp_path / "dipo.png").exists()
    assert (tmp_path / "report.md").exists()


def test_cli_lists_dipo_study():
    from prefstat import cli

    assert "dipo" in cli.RUN_TIME_2_CORES and "dipo" in cli._simulate_epilog()
