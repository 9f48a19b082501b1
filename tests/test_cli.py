"""The `prefstat` command: fit, demo, simulate; errors are one clean line with exit code 2."""
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import prefstat as ps
from prefstat.cli import main

BASEBALL = ["--left", "home_team", "--right", "away_team", "--left-wins", "home_wins", "--right-wins", "away_wins"]


@pytest.fixture
def baseball_csv(tmp_path):
    path = tmp_path / "baseball.csv"
    ps.datasets.load_baseball(as_frame=True).to_csv(path, index=False)
    return path


def _one_error_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("prefstat: error: "), err
    assert "Traceback" not in err[0]
    return err[0]


def test_fit_count_table_matches_the_estimator(baseball_csv, tmp_path, capsys):
    out = tmp_path / "fit.json"
    assert main(["fit", str(baseball_csv), *BASEBALL, "--order-effect", "--cov", "robust", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "order_effect" in printed and "Milwaukee" in printed
    result = json.loads(out.read_text())
    bt = ps.BradleyTerry(order_effect=True, cov_type="robust").fit(ps.datasets.load_baseball())
    est = {row["parameter"]: (row["estimate"], row["stderr"]) for row in result["parameters"]}
    for name, coef, se in zip(bt.items_, bt.coef_, bt.stderr_):
        assert est[name] == pytest.approx((coef, se), abs=1e-12)
    assert est["order_effect"][0] == pytest.approx(bt.order_effect_, abs=1e-12)
    assert result["converged"] and result["cov_type"] == "robust"


def test_fit_parquet_row_table_with_groups(tmp_path, capsys):
    rng = np.random.default_rng(0)
    a = rng.integers(0, 4, 400)
    b = (a + rng.integers(1, 4, 400)) % 4
    y = (rng.random(400) < 1 / (1 + np.exp(-(a - b) * 0.4))).astype(float)
    df = pd.DataFrame({"l": np.array(list("ABCD"))[a], "r": np.array(list("ABCD"))[b], "y": y,
                       "judge": rng.integers(0, 10, 400)})
    path = tmp_path / "t.parquet"
    df.to_parquet(path)
    assert main(["fit", str(path), "--left", "l", "--right", "r", "--outcome", "y", "--group", "judge",
                 "--cov", "cluster", "--reference", "A", "--level", "0.9"]) == 0
    out = capsys.readouterr().out
    assert "lower 0.9" in out and "cov_type=cluster" in out


@pytest.mark.parametrize("args, match", [
    (["fit", "missing.csv", "--left", "a", "--right", "b", "--outcome", "y"], "file not found"),
    (["fit", "{csv}", "--left", "nope", "--right", "away_team", "--outcome", "home_wins"], "column 'nope'"),
    (["fit", "{csv}", "--left", "home_team", "--right", "away_team", "--outcome", "home_wins"],
     "column 'home_wins' must lie in \\[0, 1\\]"),
    (["fit", "{csv}", *BASEBALL, "--cov", "cluster"], "needs groups"),
    (["fit", "{csv}", *BASEBALL, "--level", "1.5"], "--level"),
    (["fit", "{csv}", *BASEBALL, "--reference", "Nowhere"], "--reference 'Nowhere'"),
    (["fit", "{csv}", "--left", "home_team", "--right", "away_team"], "--outcome"),
    (["fit", "{csv}", *BASEBALL, "--cov", "sideways"], "invalid choice"),
    (["nonsense"], "invalid choice"),
    ([], "choose a command"),
    (["simulate", "no-such-study"], "unknown study"),
])
def test_errors_are_one_line(args, match, baseball_csv, capsys):
    args = [a.replace("{csv}", str(baseball_csv)) for a in args]
    assert main(args) == 2
    line = _one_error_line(capsys)
    assert pd.Series([line]).str.contains(match).all(), line


def test_installed_command_exits_nonzero_without_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "prefstat.cli", "fit", str(tmp_path / "x.csv"), "--left", "a",
                           "--right", "b", "--outcome", "y"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "Traceback" not in proc.stderr


def test_demo_prints_the_report(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "home advantage: odds x1.353" in out  # exp(0.3023), Agresti's 0.302
    assert "Comm Statist" in out


def test_simulate_writes_results_report_and_plots(tmp_path, capsys):
    out = tmp_path / "sim"
    assert main(["simulate", "bt-coverage", "--reps", "20", "--sizes", "200", "400", "--out", str(out)]) == 0
    for name in ("results.parquet", "report.md", "error_vs_n.png", "coverage.png", "ci_width.png"):
        assert (out / name).exists(), name
    assert "Consistency" in (out / "report.md").read_text()


cells = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-5, 5), st.text(max_size=3),
                  st.none(), st.just(1e300))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(cells, cells, cells, cells), min_size=0, max_size=8))
def test_fuzzed_tables_give_a_result_or_one_clean_error_line(rows, tmp_path, capsys):
    path = tmp_path / "fuzz.csv"
    pd.DataFrame(rows, columns=["l", "r", "y", "w"]).to_csv(path, index=False)
    code = main(["fit", str(path), "--left", "l", "--right", "r", "--outcome", "y", "--weight", "w"])
    if code == 0:
        assert "estimate" in capsys.readouterr().out
    else:
        assert code == 2
        _one_error_line(capsys)
