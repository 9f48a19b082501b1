"""The `diagnostics` study: registered, runs a tiny grid, writes its own report (rates with Wilson bands)."""
import numpy as np
import pytest

from prefstat.simulate.studies import STUDIES, get_study, write_report
from prefstat.simulate.study_diagnostics import DiagnosticsStudy, run_one


def test_study_is_registered_and_reports_rates(tmp_path):
    spec = get_study("diagnostics")
    assert "diagnostics" in STUDIES and spec.reps >= 500
    df = DiagnosticsStudy(sizes=(400,), reps=2, seed=0, defects=("position", "disconnected")).run()
    assert set(df.test) == {"position_bias", "connectivity"}
    assert ((df.wilson_lower <= df.rate) & (df.rate <= df.wilson_upper)).all()
    disc = df[df.defect == "disconnected"].set_index("effect").rate
    assert disc[0] == 1.0 and disc[1] == 1.0 and disc[5] == 0.0  # deterministic: no bridge / one-way bridge
    text = write_report(spec, df, str(tmp_path))
    assert "Rejection rate" in text and (tmp_path / "power.png").exists() and (tmp_path / "results.parquet").exists()


@pytest.mark.slow
def test_strong_defects_are_detected_in_single_tables():
    rng = np.random.default_rng(0)
    assert run_one("cycle", 1.5, 1000, rng)["intransitivity"]
    assert run_one("position", 0.5, 1000, rng)["position_bias"]
    assert run_one("annotators", 1.0, 1000, rng)["annotators"]
