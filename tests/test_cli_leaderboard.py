"""`prefstat leaderboard`: output, JSON, HTML, and one-line errors for options that would be ignored."""
from __future__ import annotations

import json
from importlib import resources

import pytest

from prefstat.cli import main

ARENA = str(resources.files("prefstat.datasets").joinpath("data", "arena_small.csv"))


def test_leaderboard_prints_and_writes_json_and_html(tmp_path, capsys):
    js, page = tmp_path / "board.json", tmp_path / "board.html"
    rc = main(["leaderboard", ARENA, "--left", "model_a", "--right", "model_b", "--winner", "winner",
               "--style", "len", "--group", "judge", "--cov", "cluster", "--n-draws", "2000",
               "--n-rank-draws", "1000", "--json", str(js), "--html", str(page)])
    out = capsys.readouterr().out
    assert rc == 0
    assert "20 models, 4000 battles" in out and "style coefficients" in out and "model-00" in out
    data = json.loads(js.read_text())
    assert len(data["models"]) == 20 and data["cov_type"] == "cluster" and data["style"][0]["parameter"] == "len"
    assert {"rating", "sim_lower", "rank_lower", "sim_rank_upper", "win_rate"} <= set(data["models"][0])
    assert "data:image/png;base64," in page.read_text()


@pytest.mark.parametrize("args, match", [
    (["--group", "judge"], "--group only defines the clusters of --cov cluster"),
    (["--cov", "cluster"], "--cov cluster needs --group"),
    (["--normalize", "difference"], "--normalize only applies to style features"),
    (["--no-standardize"], "--no-standardize only applies to style features"),
    (["--n-bootstrap", "10"], "--n-bootstrap is only used with --cov bootstrap"),
    (["--outcome", "y", "--map", "skip=0.5"], "--outcome replaces the winner labels"),
    (["--map", "skip"], "write LABEL=VALUE"),
    (["--level", "1.5"], "--level must be strictly between 0 and 1"),
    (["--html", "/nonexistent-dir/x.html"], "does not exist"),
    (["--winner", "judge"], "labels outside the winner mapping: 'judge-"),
    (["--style", "nope"], "style feature 'nope'"),
])
def test_leaderboard_errors_are_one_line(args, match, capsys):
    assert main(["leaderboard", ARENA, *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("prefstat: error: ") and match in err and err.count("\n") == 1
