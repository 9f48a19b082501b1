"""Leaderboards (issue 13, part 1): arena winner labels, style control (against statsmodels GLM),
the Elo transform, the leaderboard table and its errors/warnings, the ArenaBoard process.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import prefstat as ps
from conftest import assert_close, sm_glm
from prefstat.data import ARENA_WINNER_MAP, winner_outcomes
from prefstat.leaderboard import (Leaderboard, battle_counts, elo_factor, elo_transform, fit_with_style,
                                  style_design, style_features)



@pytest.fixture(scope="module")
def arena():
    return ps.datasets.load_arena()


def _small(seed=0, n=600, k=6, ties=True):
    rng = np.random.default_rng(seed)
    th = rng.normal(size=k)
    a = rng.integers(k, size=n)
    b = (a + rng.integers(1, k, size=n)) % k
    la, lb = rng.gamma(4, 50, size=n) * np.exp(0.3 * th[a]), rng.gamma(4, 50, size=n) * np.exp(0.3 * th[b])
    z = (la - lb) / (la + lb)
    p = 1 / (1 + np.exp(-(th[a] - th[b] + 1.5 * z)))
    u = rng.random(n)
    half = 0.06 if ties else 0.0
    winner = np.where(u < p - half, "model_a", np.where(u < p + half, "tie", "model_b"))
    return pd.DataFrame({"model_a": [f"m{i}" for i in a], "model_b": [f"m{i}" for i in b], "winner": winner,
                         "len_a": la, "len_b": lb, "judge": rng.integers(25, size=n)})


# ----------------------------------------------------------------------------- winner labels
def test_default_winner_mapping():
    df = pd.DataFrame({"a": ["x", "y", "x", "z"], "b": ["y", "z", "z", "x"],
                       "winner": ["model_a", "model_b", "tie", "tie (bothbad)"]})
    t = ps.ComparisonTable.from_pandas(df, left="a", right="b", winner="winner")
    assert list(t.outcome) == [1.0, 0.0, 0.5, 0.5]
    assert ARENA_WINNER_MAP == {"model_a": 1.0, "model_b": 0.0, "tie": 0.5, "tie (bothbad)": 0.5}


def test_unknown_winner_label_is_an_error_naming_label_and_rows():
    df = pd.DataFrame({"a": ["x", "y", "x", "z"], "b": ["y", "z", "z", "x"],
                       "winner": ["model_a", "skip", "Tie", "skip"]})
    with pytest.raises(ValueError, match=r"'skip', 'Tie' at rows 1, 2, 3.*never treats an unknown label as a tie"):
        ps.ComparisonTable.from_pandas(df, left="a", right="b", winner="winner")
    # a custom mapping accepts them
    t = ps.ComparisonTable.from_pandas(df, left="a", right="b", winner="winner",
                                       winner_map={**ARENA_WINNER_MAP, "skip": 0.5, "Tie": 0.5})
    assert list(t.outcome) == [1.0, 0.5, 0.5, 0.5]


@pytest.mark.parametrize("kwargs, message", [
    (dict(winner="winner", outcome="o"), "do not also pass outcome="),
    (dict(winner_map={"model_a": 1.0}), "name that column with winner="),
    (dict(winner="winner", winner_map={"model_a": 2.0}), r"winner_map\['model_a'\] = 2.0"),
    (dict(winner="missing"), "column 'missing'"),
])
def test_winner_argument_errors(kwargs, message):
    df = pd.DataFrame({"a": ["x", "y"], "b": ["y", "x"], "winner": ["model_a", "model_b"], "o": [1.0, 0.0]})
    with pytest.raises(ValueError, match=message):
        ps.ComparisonTable.from_pandas(df, left="a", right="b", **kwargs)


def test_missing_winner_is_an_error():
    with pytest.raises(ValueError, match="missing values at row 1"):
        winner_outcomes(["model_a", None, "tie"])


# ----------------------------------------------------------------------------- style features
def test_style_normalisations():
    df = pd.DataFrame({"len_a": [3.0, 1.0, 0.0, 5.0], "len_b": [1.0, 3.0, 0.0, 5.0], "md": [1.0, -2.0, 0.5, 0.0]})
    Z, names = style_features(df, ["len"], "relative", standardize=False)
    assert names == ["len"] and np.allclose(Z[:, 0], [0.5, -0.5, 0.0, 0.0])  # 0/0 (neither has any) -> 0
    Z, _ = style_features(df, [("len_a", "len_b"), "md"], "difference", standardize=False)
    assert np.allclose(Z, [[2, 1], [-2, -2], [0, 0.5], [0, 0]])
    Z, names = style_features(df, ["len_a:len_b"], "difference", standardize=True)
    assert names == ["len_a:len_b"] and np.isclose(np.std(Z), 1.0) and np.allclose(Z[:, 0] * np.std([2, -2, 0, 0]),
                                                                                   [2, -2, 0, 0])


@pytest.mark.parametrize("frame, style, message", [
    (pd.DataFrame({"len_a": [1.0, np.nan, 2.0], "len_b": [1.0, 2.0, 3.0]}), ["len"], r"'len_a' has NaN.*row 1"),
    (pd.DataFrame({"len_a": [1.0, 1.0, 2.0], "len_b": [1.0, 1.0, 2.0]}), ["len"], "'len' has zero variance"),
    (pd.DataFrame({"len_a": [1.0, -1.0, 2.0], "len_b": [1.0, 2.0, 3.0]}), ["len"], r"'len_a' has negative .*row 1"),
    (pd.DataFrame({"x": [1.0, 2.0, 3.0]}), ["len"], "neither a column 'len' nor the pair"),
])
def test_style_feature_errors(frame, style, message):
    with pytest.raises(ValueError, match=message):
        style_features(frame, style, "relative")


# ----------------------------------------------------------------------------- style control vs GLM
@pytest.mark.parametrize("cov_type", ["model", "robust", "cluster"])
def test_style_control_matches_statsmodels_glm(arena, cov_type):
    # Same design, same likelihood (ties as y = 1/2), same covariance formulas: agreement to 1e-6
    # (both solve to ~1e-12; see tests/test_bt_statsmodels.py).
    table = ps.ComparisonTable.from_pandas(arena, left="model_a", right="model_b", winner="winner",
                                           group="judge" if cov_type == "cluster" else None)
    Z, names = style_features(arena, ["len"], "relative")
    ref = table.items[3]
    fit = fit_with_style(table, Z, names, cov_type=cov_type, reference=ref)
    X, item_names = style_design(table, Z, reference_index=3)
    groups = np.unique(arena["judge"], return_inverse=True)[1]
    glm = sm_glm(X.toarray(), table.outcome, cov_type, groups=groups)
    k = table.items.size
    ours = [fit.results.names.index(n) for n in item_names + names]
    assert fit.results.estimate[3] == 0.0 and fit.results.stderr[3] == 0.0
    assert_close(fit.results.estimate[ours], glm.params, what="estimate")
    assert_close(fit.results.stderr[ours], glm.bse, what="stderr")
    # sum-to-zero abilities: the same contrasts, centred
    centred = fit_with_style(table, Z, names, cov_type=cov_type)
    th = centred.results.estimate[:k]
    assert abs(th.sum()) < 1e-12
    assert_close(th - th[3], fit.results.estimate[:k], what="centred contrasts")
    assert_close(centred.results.stderr[k:], fit.results.stderr[k:], what="style stderr")


def test_style_control_davidson_runs_and_differs_from_half_wins(arena):
    table = ps.ComparisonTable.from_pandas(arena, left="model_a", right="model_b", winner="winner")
    Z, names = style_features(arena, ["len"], "relative")
    half = fit_with_style(table, Z, names)
    dav = fit_with_style(table, Z, names, ties="davidson")
    assert dav.results.names[-1] == "log_tie" and dav.results.names[-2] == "len"
    # Davidson abilities are not shrunk by the ties: larger spread than half wins
    k = table.items.size
    assert np.std(dav.results.estimate[:k]) > np.std(half.results.estimate[:k])


def test_style_disconnected_board_is_an_error():
    df = pd.DataFrame({"model_a": ["a", "b", "c", "d"] * 5, "model_b": ["b", "a", "d", "c"] * 5,
                       "winner": ["model_a", "model_b", "tie", "model_a"] * 5, "len_a": np.arange(20.0) + 1,
                       "len_b": np.arange(20.0)[::-1] + 1})
    table = ps.ComparisonTable.from_pandas(df, left="model_a", right="model_b", winner="winner")
    Z, names = style_features(df, ["len"])
    with pytest.raises(ValueError, match="comparison graph is disconnected"):
        fit_with_style(table, Z, names)


# ----------------------------------------------------------------------------- Elo transform
def test_elo_transform_mean_anchor_and_model_anchor():
    rng = np.random.default_rng(1)
    df = _small(1)
    bt = ps.BradleyTerry().fit(ps.ComparisonTable.from_pandas(df, left="model_a", right="model_b", winner="winner"))
    c = elo_factor()
    assert np.isclose(c, 400 / np.log(10))
    names = list(bt.items_)
    r, V = elo_transform(bt.coef_, bt.cov_, names)
    assert np.isclose(r.mean(), 1000.0) and np.allclose(V, c**2 * bt.cov_)
    # win probability on the Elo scale equals the BT probability
    i, j = 0, 3
    assert np.isclose(1 / (1 + 10 ** (-(r[i] - r[j]) / 400)), 1 / (1 + np.exp(-(bt.coef_[i] - bt.coef_[j]))))
    # anchored at a model: that model is exactly the anchor with zero variance; the others' SEs are the
    # SEs of the contrasts theta_i - theta_anchor (not the marginal SEs)
    r2, V2 = elo_transform(bt.coef_, bt.cov_, names, anchor=1114.0, anchor_model="m2")
    assert r2[2] == 1114.0 and V2[2, 2] == 0.0
    contrast = bt.t_test("m4 - m2")
    assert np.isclose(r2[4], 1114.0 + c * contrast.estimate[0])
    assert np.isclose(np.sqrt(V2[4, 4]), c * contrast.stderr[0])
    assert not np.isclose(np.sqrt(V2[4, 4]), c * bt.stderr_[4])
    # rating differences do not depend on the anchor
    assert np.allclose(np.subtract.outer(r, r), np.subtract.outer(r2, r2))
    with pytest.raises(ValueError, match="anchor_model 'nope' is not one of the models"):
        elo_transform(bt.coef_, bt.cov_, names, anchor_model="nope")
    del rng


# ----------------------------------------------------------------------------- leaderboard
def test_battle_counts():
    df = pd.DataFrame({"model_a": ["x", "x", "y"], "model_b": ["y", "z", "z"], "winner": ["model_a", "tie", "model_b"]})
    t = ps.ComparisonTable.from_pandas(df, left="model_a", right="model_b", winner="winner")
    c = battle_counts(t)
    assert list(c["battles"]) == [2, 2, 2]
    assert list(c["wins"]) == [1, 0, 1] and list(c["ties"]) == [1, 0, 1]
    assert np.allclose(c["win_rate"], [0.75, 0.0, 0.75])


def test_leaderboard_errors_before_fitting(arena):
    with pytest.raises(ValueError, match="cov_type='cluster' needs the judge/user column"):
        Leaderboard(cov_type="cluster").fit(arena)
    with pytest.raises(ValueError, match="group= only defines the clusters"):
        Leaderboard().fit(arena, group="judge")
    with pytest.raises(ValueError, match="not available with ties='davidson'"):
        Leaderboard(ties="davidson", cov_type="bootstrap").fit(arena)
    with pytest.raises(ValueError, match="style control needs the battle DataFrame"):
        Leaderboard(style=["len"]).fit(ps.datasets.load_arena(as_frame=False))
    bad = arena.assign(winner=arena["winner"].replace({"tie (bothbad)": "both bad"}))
    with pytest.raises(ValueError, match="'both bad' at rows"):
        Leaderboard().fit(bad)
    with pytest.raises(ValueError, match="'len' has zero variance"):
        Leaderboard(style=["len"]).fit(arena.assign(len_a=100, len_b=100))


def test_single_battle_model_warns_and_disconnected_board_errors(arena):
    extra = pd.DataFrame({"model_a": ["lonely"], "model_b": ["model-00"], "winner": ["model_a"], "len_a": [1],
                          "len_b": [1], "judge": ["j"]})
    with pytest.warns(UserWarning, match="models with a single battle: 'lonely'"):
        with pytest.raises(ValueError, match="lonely"):  # it never lost: the MLE does not exist
            Leaderboard().fit(pd.concat([arena, extra], ignore_index=True))
    island = pd.DataFrame({"model_a": ["p", "q"] * 3, "model_b": ["q", "p"] * 3, "winner": ["model_a"] * 6,
                           "len_a": 1, "len_b": 2, "judge": "j"})
    with pytest.raises(ValueError, match="disconnected"):
        Leaderboard().fit(pd.concat([arena, island], ignore_index=True))
    with pytest.raises(ValueError, match="disconnected"):
        Leaderboard(style=["len"]).fit(pd.concat([arena, island], ignore_index=True))


def test_leaderboard_table(arena):
    board = Leaderboard(n_draws=4000, n_rank_draws=2000).fit(arena)
    t = board.table_
    assert list(t.columns[:11]) == ["rank", "rating", "stderr", "lower", "upper", "sim_lower", "sim_upper",
                                    "rank_lower", "rank_upper", "sim_rank_lower", "sim_rank_upper"]
    assert list(t["rank"]) == list(range(1, 21)) and np.all(np.diff(t["rating"]) <= 0)
    assert np.isclose(t["rating"].mean(), 1000.0)
    bt = ps.BradleyTerry().fit(ps.datasets.load_arena(as_frame=False).__class__.from_pandas(
        arena, left="model_a", right="model_b", winner="winner"))
    assert np.allclose(t.loc[bt.items_, "rating"], 1000 + elo_factor() * bt.coef_)
    assert np.allclose(t.loc[bt.items_, "stderr"], elo_factor() * bt.stderr_)
    # simultaneous intervals contain the marginal ones; rank sets contain the rank
    assert np.all(t["sim_lower"] <= t["lower"]) and np.all(t["sim_upper"] >= t["upper"])
    assert np.all((t["rank_lower"] <= t["rank"]) & (t["rank"] <= t["rank_upper"]))
    assert np.all((t["sim_rank_lower"] <= t["rank_lower"]) & (t["rank_upper"] <= t["sim_rank_upper"]))
    assert t["battles"].sum() == 2 * len(arena)
    top = board.top_set(3)
    assert top[:1] == [t.index[0]] and set(top) == set(t.index[t["sim_rank_lower"] <= 3])
    sep = board.separated_pairs()
    assert len(sep) == 19 and list(sep["first"][:1]) == [t.index[0]]


def test_leaderboard_style_anchor_and_reports(arena, tmp_path):
    board = Leaderboard(style=["len"], cov_type="cluster", anchor_model="model-00", anchor=1114.0,
                        n_draws=4000, n_rank_draws=2000).fit(arena, group="judge")
    t = board.table_
    assert t.loc["model-00", "rating"] == 1114.0
    assert t.loc["model-00", "sim_lower"] == t.loc["model-00", "sim_upper"] == 1114.0
    style = board.style_summary()
    assert list(style.index) == ["len"] and style["estimate"].iloc[0] > 0  # the judge prefers longer answers
    page = board.to_html(tmp_path / "board.html")
    assert page.startswith("<!DOCTYPE html>") and "data:image/png;base64," in page and "<script" not in page
    d = board.to_dict()
    assert d["anchor_model"] == "model-00" and len(d["models"]) == 20 and d["style"][0]["parameter"] == "len"


# ----------------------------------------------------------------------------- ArenaBoard process
def test_arena_board_process():
    import jax

    from prefstat._x64 import x64_scope
    from prefstat.simulate.processes import ArenaBoard

    p = ArenaBoard(n_models=25, tie_rate=0.2, length_effect=1.0)
    assert abs(p.truth.sum()) < 1e-12 and p.truth_style == 1.0 and hash(p) == hash(dataclasses.replace(p))
    with x64_scope():
        d1 = p.sample(jax.random.PRNGKey(3), 5000)
        d2 = p.sample(jax.random.PRNGKey(3), 5000)
    assert all(np.array_equal(d1[k], d2[k]) for k in d1)
    y = np.asarray(d1["y"])
    assert set(np.unique(y)) == {0.0, 0.5, 1.0} and 0.1 < np.mean(y == 0.5) < 0.3
    counts = np.bincount(np.r_[d1["left"], d1["right"]], minlength=25)
    assert counts[0] > 5 * counts[-1]  # long-tailed battle counts
    frame = p.to_frame(d1)
    assert set(frame["winner"]) == {"model_a", "model_b", "tie"} and (frame["len_a"] > 0).all()
    with pytest.raises(ValueError, match="tie_rate"):
        ArenaBoard(tie_rate=1.0)
