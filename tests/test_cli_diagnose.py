"""`prefstat diagnose`: verdicts on a CSV table, HTML / JSON output, and one-line errors for unused options."""
import json

import numpy as np
import pandas as pd
import pytest

import prefstat as ps
from prefstat.cli import main

BASEBALL = ["--left", "home_team", "--right", "away_team", "--left-wins", "home_wins", "--right-wins", "away_wins"]


@pytest.fixture
def baseball_csv(tmp_path):
    path = tmp_path / "baseball.csv"
    ps.datasets.load_baseball(as_frame=True).to_csv(path, index=False)
    return path


@pytest.fixture
def annotated_csv(tmp_path):
    rng = np.random.default_rng(0)
    n, k = 600, 6
    theta = np.linspace(-1, 1, k)
    a = rng.integers(0, k, n)
    b = (a + rng.integers(1, k, n)) % k
    y = (rng.random(n) < 1 / (1 + np.exp(-(theta[a] - theta[b])))).astype(float)
    path = tmp_path / "votes.csv"
    pd.DataFrame({"a": [f"m{i}" for i in a], "b": [f"m{i}" for i in b], "y": y,
                  "judge": rng.integers(0, 4, n)}).to_csv(path, index=False)
    return path


def _one_error_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("prefstat: error: "), err
    return err[0]


def test_diagnose_count_table_prints_verdicts_and_matches_the_api(baseball_csv, tmp_path, capsys):
    out = tmp_path / "d.json"
    html = tmp_path / "d.html"
    assert main(["diagnose", str(baseball_csv), *BASEBALL, "--n-bootstrap", "19", "--checks", "goodness_of_fit",
                 "position_bias", "--json", str(out), "--html", str(html)]) == 0
    printed = capsys.readouterr().out
    assert "Goodness of fit" in printed and "Position / order bias" in printed
    rows = {r["diagnostic"]: r for r in json.loads(out.read_text())}
    rep = ps.diagnose(ps.datasets.load_baseball(), n_bootstrap=19, checks=["goodness_of_fit", "position_bias"])
    assert rows["goodness_of_fit"]["statistic"] == pytest.approx(rep["goodness_of_fit"].statistic, rel=1e-12)
    assert rows["goodness_of_fit"]["p_value"] == pytest.approx(rep["goodness_of_fit"].p_value, rel=1e-12)
    assert rows["position_bias"]["status"] == rep["position_bias"].status
    assert "<h2 id='goodness_of_fit'>" in html.read_text() and "<h2 id='position_bias'>" in html.read_text()


def test_diagnose_with_annotators(annotated_csv, capsys):
    assert main(["diagnose", str(annotated_csv), "--left", "a", "--right", "b", "--outcome", "y", "--group",
                 "judge", "--n-bootstrap", "9", "--n-permutations", "9", "--max-annotators", "2"]) == 0
    printed = capsys.readouterr().out
    for title in ("Annotator heterogeneity", "Annotator influence", "Vote clustering", "Connectivity"):
        assert title in printed


@pytest.mark.parametrize("extra, match", [
    (["--n-permutations", "9"], "--n-permutations configures the annotator checks"),
    (["--max-annotators", "3"], "--max-annotators configures the annotator checks"),
    (["--n-subsamples", "9"], "--n-subsamples is only used with --features"),
    (["--checks", "nope"], "unknown checks"),
    (["--level", "2"], "level"),
    (["--features", "x"], "either --left/--right"),
    (["--html", "/nonexistent-dir/x.html"], "does not exist"),
])
def test_diagnose_option_errors_are_one_line(annotated_csv, capsys, extra, match):
    assert main(["diagnose", str(annotated_csv), "--left", "a", "--right", "b", "--outcome", "y", *extra]) == 2
    assert match in _one_error_line(capsys)


def test_diagnose_needs_an_outcome(annotated_csv, capsys):
    assert main(["diagnose", str(annotated_csv), "--left", "a", "--right", "b"]) == 2
    assert "--outcome" in _one_error_line(capsys)
