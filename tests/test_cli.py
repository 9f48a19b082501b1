"""The `prefstat` command: fit, demo, simulate; errors are one clean line with exit code 2."""
import json
import re
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


def test_installed_command_prints_everything_before_its_fast_exit(baseball_csv, capsys):
    # run() ends the process with os._exit after flushing: the piped output must be complete and the
    # exit code that of main()
    args = ["fit", str(baseball_csv), "--left", "home_team", "--right", "away_team", "--left-wins", "home_wins",
            "--right-wins", "away_wins", "--order-effect"]
    assert main(args) == 0
    expected = capsys.readouterr().out
    proc = subprocess.run([sys.executable, "-m", "prefstat.cli", *args], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout == expected and proc.stderr == ""


def test_closed_pipe_stops_quietly(tmp_path):
    # `prefstat fit t.csv | head -c 10`: the reader goes away after the first bytes; the command must not
    # report an error (it printed "prefstat: error: [Errno 32] Broken pipe" with status 2). 1500 items
    # (a ring, each neighbour pair won once each way) print ~120 kB, more than a pipe holds (64 kB), so the
    # command is still writing when the pipe closes, whatever the timing.
    k = 1500
    left = np.r_[np.arange(k), (np.arange(k) + 1) % k]
    pd.DataFrame({"a": [f"i{j}" for j in left], "b": [f"i{j}" for j in np.r_[(np.arange(k) + 1) % k, np.arange(k)]],
                  "y": 1.0}).to_csv(tmp_path / "ring.csv", index=False)
    proc = subprocess.Popen([sys.executable, "-m", "prefstat.cli", "fit", str(tmp_path / "ring.csv"), "--left", "a",
                             "--right", "b", "--outcome", "y"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.read(10) == b"Bradley-Te"
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait() == 1 and err == b""


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


# ------------------------------------------------------------------ issue 10: nothing silently ignored
@pytest.fixture
def rows_csv(tmp_path):
    """One comparison per row, with a 0/1 outcome, weights, judges and an order column."""
    rng = np.random.default_rng(1)
    a = rng.integers(0, 4, 120)
    b = (a + rng.integers(1, 4, 120)) % 4
    df = pd.DataFrame({"l": np.array(list("ABCD"))[a], "r": np.array(list("ABCD"))[b],
                       "y": (rng.random(120) < 0.5).astype(float), "w": rng.integers(1, 4, 120).astype(float),
                       "judge": rng.integers(0, 6, 120), "o": rng.choice([-1, 0, 1], 120)})
    path = tmp_path / "ok.csv"
    df.to_csv(path, index=False)
    return path


ROWS = ["--left", "l", "--right", "r"]


def _json_estimates(path) -> dict:
    """{parameter: estimate, parameter + ' se': stderr} from `prefstat fit --json`."""
    rows = json.loads(path.read_text())["parameters"]
    return {**{r["parameter"]: r["estimate"] for r in rows}, **{r["parameter"] + " se": r["stderr"] for r in rows}}


def _api_estimates(model) -> dict:
    s = model.summary()
    names = [str(n) for n in s.index]
    return {**dict(zip(names, s["estimate"])), **{n + " se": v for n, v in zip(names, s["stderr"])}}


@pytest.mark.parametrize("extra, columns", [
    (["--outcome", "y", "--left-wins", "y"], dict(outcome="y", left_wins="y")),
    (["--left-wins", "y", "--weight", "w"], dict(left_wins="y", weight="w")),
    (["--outcome", "y", "--right-wins", "w"], dict(outcome="y", right_wins="w")),
    (["--outcome", "y", "--ties", "w"], dict(outcome="y", ties="w")),
])
def test_combinations_the_api_rejects_are_rejected_with_its_message(extra, columns, rows_csv, capsys):
    """Before: --outcome/--weight were dropped in count mode and count columns dropped in outcome mode
    (exit 0, the outcome column fitted as left-win counts)."""
    with pytest.raises(ValueError) as api:
        ps.ComparisonTable.from_csv(rows_csv, left="l", right="r", **columns)
    assert main(["fit", str(rows_csv), *ROWS, *extra]) == 2
    assert _one_error_line(capsys) == f"prefstat: error: {api.value}"


@pytest.mark.parametrize("extra, match", [
    (["--group", "judge"], "--group.*--cov cluster"),
    (["--group", "judge", "--cov", "robust"], "--group.*--cov cluster"),
    (["--group", "judge", "--cov", "bootstrap"], "--group.*--cov cluster"),
    (["--order", "o"], "--order.*--order-effect"),
    (["--n-bootstrap", "50"], "--n-bootstrap.*--cov bootstrap"),
    (["--seed", "3", "--cov", "robust"], "--seed.*--cov bootstrap"),
])
def test_options_that_would_be_ignored_are_errors(extra, match, rows_csv, capsys):
    assert main(["fit", str(rows_csv), *ROWS, "--outcome", "y", *extra]) == 2
    line = _one_error_line(capsys)
    assert pd.Series([line]).str.contains(match).all(), line


def test_options_that_apply_are_used(rows_csv, tmp_path, capsys):
    """The counterparts of the errors above fit and equal the Python API."""
    out = tmp_path / "fit.json"
    assert main(["fit", str(rows_csv), *ROWS, "--outcome", "y", "--weight", "w", "--group", "judge", "--cov",
                 "cluster", "--order", "o", "--order-effect", "--json", str(out)]) == 0
    table = ps.ComparisonTable.from_csv(rows_csv, left="l", right="r", outcome="y", weight="w", group="judge",
                                        order="o")
    bt = ps.BradleyTerry(order_effect=True, cov_type="cluster").fit(table)
    assert _json_estimates(out) == pytest.approx(_api_estimates(bt), abs=1e-12)
    assert main(["fit", str(rows_csv), *ROWS, "--outcome", "y", "--cov", "bootstrap", "--n-bootstrap", "20",
                 "--seed", "4", "--json", str(out)]) == 0
    bt = ps.BradleyTerry(cov_type="bootstrap", n_bootstrap=20, random_state=4).fit(
        ps.ComparisonTable.from_csv(rows_csv, left="l", right="r", outcome="y"))
    assert _json_estimates(out) == pytest.approx(_api_estimates(bt), abs=1e-12)


def test_duplicate_csv_column_is_an_error_naming_it(tmp_path, capsys):
    """Before: pandas renamed the second 'y' to 'y.1' and the first was fitted without a word."""
    path = tmp_path / "dup.csv"
    path.write_text("l,r,y,y\nA,B,1,0\nB,C,1,0\nC,A,0,1\nA,C,1,0\n")
    assert main(["fit", str(path), *ROWS, "--outcome", "y"]) == 2
    line = _one_error_line(capsys)
    assert "column 'y' appears more than once" in line and "y.1" in line


def test_duplicate_parquet_column_is_one_line_naming_it(tmp_path, capsys):
    """Before: pyarrow's error dumped the whole schema over several lines."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "dup.parquet"
    pq.write_table(pa.table([pa.array(["A", "B", "C"]), pa.array(["B", "C", "A"]), pa.array([1.0, 0.0, 1.0]),
                             pa.array([0.0, 1.0, 0.0])], names=["l", "r", "y", "y"]), path)
    assert main(["fit", str(path), *ROWS, "--outcome", "y"]) == 2
    line = _one_error_line(capsys)
    assert "column 'y' appears more than once" in line and "FieldRef" not in line


def _significant_digits(token: str) -> int:
    mantissa = token.lower().split("e")[0].lstrip("+-").replace(".", "").lstrip("0")
    return len(mantissa)


def test_printed_numbers_have_at_most_six_significant_digits(rows_csv, tmp_path, capsys):
    """Before: the log-likelihood was printed with %.4f (e.g. -4158883.0832, 11 digits; 200 digits for
    weights of 1e200)."""
    df = pd.read_csv(rows_csv)
    df["w"] = df["w"] * 1e6
    path = tmp_path / "big.csv"
    df.to_csv(path, index=False)
    assert main(["fit", str(path), *ROWS, "--outcome", "y", "--weight", "w", "--cov", "robust"]) == 0
    out = capsys.readouterr().out
    numbers = re.findall(r"(?<![\w.])[-+]?\d+\.?\d*(?:[eE][-+]?\d+)?", out.split("\n", 1)[1])
    assert numbers and max(map(_significant_digits, numbers)) <= 6, out


@pytest.mark.parametrize("weights, match", [
    ("1e300 first", r"'w' sums to 1e\+300.*row 0.*2\*\*53"),
    ("1e200 all", r"'w' sums to .*2\*\*53"),
    ("1e10 first", r"'w': the largest weight \(1e\+10 at row 0\).*1e\+09"),
])
def test_weights_outside_the_float64_range_name_the_rule(weights, match, rows_csv, tmp_path, capsys):
    """Before: a weight of 1e300 gave 'parameters are not identifiable ... B, C' (the wrong cause)."""
    df = pd.read_csv(rows_csv)
    value, where = weights.split()
    if where == "first":
        df.loc[0, "w"] = float(value)
    else:
        df["w"] = float(value)
    path = tmp_path / "w.csv"
    df.to_csv(path, index=False)
    assert main(["fit", str(path), *ROWS, "--outcome", "y", "--weight", "w"]) == 2
    line = _one_error_line(capsys)
    assert re.search(match, line), line
    assert "identifiable" not in line


# ------------------------------------------------------------------ issue 10: simulate
@pytest.fixture
def no_study_run(monkeypatch):
    """Fails the test if a study would run (the checks must come first)."""
    from prefstat.simulate.study import Study

    def boom(self, *args, **kwargs):
        raise AssertionError("the study ran")
    monkeypatch.setattr(Study, "run", boom)


def test_simulate_out_is_checked_before_the_study_runs(tmp_path, capsys, no_study_run):
    """Before: --out pointing at a file failed only after the whole study had run."""
    existing = tmp_path / "taken.txt"
    existing.write_text("x")
    assert main(["simulate", "bt-coverage", "--reps", "2", "--out", str(existing)]) == 2
    assert "is an existing file" in _one_error_line(capsys)
    assert main(["simulate", "bt-coverage", "--reps", "2", "--out", str(existing / "sub")]) == 2
    assert "is a file" in _one_error_line(capsys)


def test_simulate_out_in_a_read_only_directory_is_checked_first(tmp_path, capsys, no_study_run):
    import os
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as a user who can write anywhere (root)")
        assert main(["simulate", "bt-coverage", "--reps", "2", "--out", str(locked / "new")]) == 2
        assert "not writable" in _one_error_line(capsys)
    finally:
        locked.chmod(0o700)


def test_simulate_help_shows_defaults_and_run_times(capsys):
    from prefstat.cli import QUICK_REPS
    from prefstat.simulate.studies import STUDIES

    with pytest.raises(SystemExit) as exit_:
        main(["simulate", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    options = out.split("options:", 1)[1]
    for option in ("--reps", "--sizes", "--seed", "--out", "--scheduler", "--full"):
        block = options.split("\n  " + option, 1)[1].split("\n  -", 1)[0]
        assert "default" in block, (option, block)
    assert f"default: {QUICK_REPS}" in out and "2 cores" in out
    for name, spec in STUDIES.items():
        line = next(l for l in out.splitlines() if l.strip().startswith(name))
        assert " ".join(map(str, spec.sizes)) in line and f"--reps {spec.reps}" in line
        assert re.search(r"~\d", line), line  # a run-time estimate, not "unknown"


@pytest.mark.parametrize("extra, expected", [([], "quick"), (["--full"], "full"), (["--reps", "7"], 7)])
def test_simulate_reps_default_is_quick_and_full_is_the_documented_study(extra, expected, tmp_path, monkeypatch,
                                                                        capsys):
    """Before: no --reps ran the full study (about 30 minutes for ai-judge on 2 cores)."""
    from prefstat.cli import QUICK_REPS
    from prefstat.simulate import studies

    spec = studies.get_study("ai-judge")
    seen = {}

    def build(self, sizes=None, reps=None, seed=0):
        seen["reps"] = reps
        raise ValueError("stop here")
    monkeypatch.setattr(type(spec), "build", build)
    assert main(["simulate", "ai-judge", *extra, "--out", str(tmp_path / "o")]) == 2
    capsys.readouterr()
    assert seen["reps"] == {"quick": QUICK_REPS, "full": spec.reps}.get(expected, expected)
    assert QUICK_REPS < spec.reps


def test_simulate_reps_and_full_are_exclusive(capsys):
    assert main(["simulate", "ai-judge", "--reps", "5", "--full"]) == 2
    assert "not allowed with" in _one_error_line(capsys)


def test_fit_json_target_is_checked_before_reading_the_table(tmp_path, capsys):
    missing_dir = tmp_path / "no" / "such" / "fit.json"
    assert main(["fit", str(tmp_path / "not-read.csv"), *ROWS, "--outcome", "y", "--json", str(missing_dir)]) == 2
    assert "does not exist" in _one_error_line(capsys)  # not "file not found": the output is checked first
    assert main(["fit", str(tmp_path / "not-read.csv"), *ROWS, "--outcome", "y", "--json", str(tmp_path)]) == 2
    assert "is a directory" in _one_error_line(capsys)


def test_library_warnings_are_one_line(rows_csv, capsys, monkeypatch):
    import warnings

    original = ps.BradleyTerry.fit

    def warn_then_fit(self, *args, **kwargs):
        warnings.warn("first line\nsecond line", UserWarning)
        return original(self, *args, **kwargs)
    monkeypatch.setattr(ps.BradleyTerry, "fit", warn_then_fit)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        assert main(["fit", str(rows_csv), *ROWS, "--outcome", "y"]) == 0
    assert capsys.readouterr().err.strip().splitlines() == ["prefstat: warning: UserWarning: first line second line"]
