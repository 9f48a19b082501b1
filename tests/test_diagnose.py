"""prefstat.diagnose: statistics against independent oracles, each check on a planted defect, the report.

Oracles: statsmodels GLM(Binomial) on the aggregated pair design (deviance, Pearson X^2, leverages),
brute-force triangle enumeration, exact Gini values. Planted defects are strong enough that the
tests fail on a check that does nothing (e.g. a statistic that ignores the cycle) yet pass with
fixed seeds far from the threshold (p-values quoted in comments were measured with these seeds).
"""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import prefstat as ps
from prefstat.diagnose import Diagnostic, DiagnosticReport
from prefstat.diagnose.annotators import annotator_cells, permuted_wins
from prefstat.diagnose.coverage import gini
from prefstat.diagnose.goodness_of_fit import bootstrap_p_value, gof_statistics
from prefstat.diagnose.pairs import fit_pairs, pair_cells
from prefstat.diagnose.transitivity import triangle_z, triangles


def _bt_table(seed, k=6, n=1500, theta=None, order_effect=0.0, n_groups=0, ties=0.0, names=None):
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=k) if theta is None else np.asarray(theta, float)
    k = theta.size
    a = rng.integers(0, k, n)
    b = (a + rng.integers(1, k, n)) % k
    p = 1 / (1 + np.exp(-(theta[a] - theta[b] + order_effect)))
    y = (rng.random(n) < p).astype(float)
    if ties:
        y[rng.random(n) < ties] = 0.5
    g = rng.integers(0, n_groups, n) if n_groups else None
    labels = np.array(names if names is not None else [f"m{i}" for i in range(k)], dtype=object)
    return ps.ComparisonTable.from_items(labels[a], labels[b], y, group=g), theta


def _glm(cells):
    X = np.zeros((cells.m, cells.k))
    X[np.arange(cells.m), cells.i] = 1.0
    X[np.arange(cells.m), cells.j] = -1.0
    endog = np.column_stack([cells.wins, cells.n - cells.wins])
    return sm.GLM(endog, X[:, 1:], family=sm.families.Binomial()).fit(tol=1e-12)


def test_deviance_pearson_and_leverage_match_statsmodels_glm():
    table, _ = _bt_table(0, n=800)
    cells = pair_cells(table)
    fit = fit_pairs(cells)
    glm = _glm(cells)
    dev, pear = gof_statistics(cells.n, cells.wins, fit.p)
    assert dev == pytest.approx(glm.deviance, rel=1e-8)
    assert pear == pytest.approx(glm.pearson_chi2, rel=1e-8)
    assert np.allclose(fit.leverage, glm.get_influence().hat_matrix_diag, atol=1e-8)
    theta = np.r_[0.0, glm.params]
    assert np.allclose(fit.theta, theta - theta.mean(), atol=1e-7)
    # the pair fit is BradleyTerry's fit (the cells are its sufficient statistics)
    bt = ps.BradleyTerry().fit(table)
    assert np.allclose(fit.theta, bt.coef_, atol=1e-8)
    assert np.allclose(np.sqrt(np.diag(fit.cov)), bt.stderr_, rtol=1e-6)


def test_zero_weight_rows_are_deleted_rows():
    table, _ = _bt_table(13, n=600)
    pair01 = np.array([sorted((a, b)) == ["m0", "m1"] for a, b in zip(table.left, table.right)])
    w = np.where(pair01, 0.0, 1.0)  # the pair m0-m1 only in zero-weight rows: not a degree of freedom
    w[:100] = 0.0
    t0 = ps.ComparisonTable.from_items(table.left, table.right, table.outcome, weight=w)
    keep = w > 0
    t1 = ps.ComparisonTable.from_items(table.left[keep], table.right[keep], table.outcome[keep])
    d0 = ps.diagnose(t0, checks="goodness_of_fit", n_bootstrap=0)["goodness_of_fit"]
    d1 = ps.diagnose(t1, checks="goodness_of_fit", n_bootstrap=0)["goodness_of_fit"]
    assert d0.details["df"] == d1.details["df"] == 15 - 1 - 5
    assert d0.statistic == pytest.approx(d1.statistic, rel=1e-9)


def test_pair_cells_orient_outcomes_to_the_lower_item():
    t = ps.ComparisonTable.from_items(["b", "a", "a", "b"], ["a", "b", "b", "a"], [1.0, 1.0, 0.5, 0.0],
                                      weight=[1, 2, 1, 3])
    cells = pair_cells(t)
    assert cells.m == 1 and cells.n[0] == 7
    # a beat b in row 2 (w 2) and row 4 (w 3), half in row 3: wins of "a" = 2 + 0.5 + 3
    assert cells.wins[0] == pytest.approx(5.5)
    assert cells.ties[0] == 1.0


def test_triangles_match_brute_force_and_curl_is_zero_for_exact_bt_odds():
    rng = np.random.default_rng(3)
    k = 9
    pairs = [(i, j) for i, j in itertools.combinations(range(k), 2) if rng.random() < 0.6]
    left = np.array([i for i, j in pairs for _ in range(4)])
    right = np.array([j for i, j in pairs for _ in range(4)])
    t = ps.ComparisonTable.from_items(left, right, rng.integers(0, 2, left.size).astype(float))
    cells = pair_cells(t)
    tri = triangles(cells)
    have = {(cells.i[ab], cells.j[ab], cells.j[bc]) for ab, bc, _ in tri}
    edges = set(pairs)
    brute = {(a, b, c) for a, b, c in itertools.combinations(range(k), 3)
             if {(a, b), (b, c), (a, c)} <= edges}
    assert have == brute and len(tri) == len(brute)
    # exact BT counts (huge n, wins = n sigma(d)) have zero curl up to the Haldane correction
    theta = rng.normal(size=k)
    n = np.full(cells.m, 1e9)
    wins = n / (1 + np.exp(-(theta[cells.i] - theta[cells.j])))
    assert np.max(np.abs(triangle_z(n, wins, tri))) < 1e-3


def test_gini_and_bootstrap_p_value():
    assert gini([5, 5, 5, 5]) == 0.0
    assert gini([0, 0, 0, 1]) == pytest.approx(0.75)
    assert bootstrap_p_value(3.0, [1.0, 2.0, 3.0, 4.0]) == pytest.approx(3 / 5)
    assert bootstrap_p_value(10.0, [1.0, np.nan]) == pytest.approx(1 / 2)


def _planted_cycle_table(seed=0):
    # 6 items on a BT scale plus a strong cycle among m0 > m1 > m2 > m0
    rng = np.random.default_rng(seed)
    k, n = 6, 3000
    theta = np.array([0.0, 0.1, -0.1, 0.5, -0.5, 1.0])
    a = rng.integers(0, k, n)
    b = (a + rng.integers(1, k, n)) % k
    d = theta[a] - theta[b]
    cyc = {(0, 1): 1.5, (1, 2): 1.5, (2, 0): 1.5}
    for (i, j), v in cyc.items():
        d[(a == i) & (b == j)] += v
        d[(a == j) & (b == i)] -= v
    y = (rng.random(n) < 1 / (1 + np.exp(-d))).astype(float)
    labels = np.array([f"m{i}" for i in range(k)], dtype=object)
    return ps.ComparisonTable.from_items(labels[a], labels[b], y)


def test_planted_cycle_is_flagged_by_fit_and_intransitivity_with_the_right_cycle():
    rep = ps.diagnose(_planted_cycle_table(), n_bootstrap=99, checks=["goodness_of_fit", "intransitivity"],
                      figures=False)
    assert rep["goodness_of_fit"].flagged and rep["goodness_of_fit"].p_value <= 0.02
    intr = rep["intransitivity"]
    assert intr.flagged and intr.p_value <= 0.02
    worst = intr.tables["worst cycles"].cycle.iloc[0]
    assert set(worst.split(" > ")) == {"m0", "m1", "m2"}
    assert worst in ("m0 > m1 > m2 > m0", "m1 > m2 > m0 > m1", "m2 > m0 > m1 > m2")
    pairs = rep["goodness_of_fit"].tables["worst pairs"]
    assert {pairs.item_i.iloc[0], pairs.item_j.iloc[0]} <= {"m0", "m1", "m2"}


def test_bt_table_passes_fit_and_intransitivity():
    table, _ = _bt_table(11, k=6, n=2000)
    rep = ps.diagnose(table, n_bootstrap=99, checks=["goodness_of_fit", "intransitivity"], figures=False)
    assert rep["goodness_of_fit"].status == "ok" and rep["goodness_of_fit"].p_value > 0.05
    assert rep["intransitivity"].status == "ok"


def test_position_bias_matches_bradley_terry_and_flags_a_planted_effect():
    table, _ = _bt_table(2, n=2000, order_effect=0.4)
    d = ps.diagnose(table, checks="position_bias")["position_bias"]
    bt = ps.BradleyTerry(order_effect=True).fit(table)
    assert d.flagged and d.p_value < 1e-6
    assert d.table.loc["order_effect", "estimate"] == pytest.approx(bt.order_effect_, rel=1e-10)
    assert d.table.loc["order_effect", "stderr"] == pytest.approx(bt.order_effect_stderr_, rel=1e-10)
    null, _ = _bt_table(2, n=2000, order_effect=0.0)
    assert ps.diagnose(null, checks="position_bias")["position_bias"].status == "ok"


def test_position_bias_confounded_with_abilities_is_skipped_with_the_reason():
    # a chain m0 - m1 - ... - m5, each pair always shown lower item first (order +1): theta_i = -i
    # reproduces the order column, so gamma is not identifiable
    left = np.repeat(np.arange(5), 4)
    for y in ([1.0, 0.0, 1.0, 0.0], [1.0, 0.0, 1.0, 1.0]):  # the start point solves the score equations, or not
        t = ps.ComparisonTable.from_items(np.array([f"m{i}" for i in left], dtype=object),
                                          np.array([f"m{i + 1}" for i in left], dtype=object), np.tile(y, 5))
        d = ps.diagnose(t, checks="position_bias")["position_bias"]
        assert d.status == "skipped" and "not identifiable" in d.verdict, d.verdict


def test_tie_convention_side_by_side_rank_changes_and_a_flip():
    table, _ = _bt_table(4, n=1500, ties=0.3)
    d = ps.diagnose(table, checks="ties")["ties"]
    dav = ps.DavidsonBradleyTerry().fit(table)
    est = d.table.set_index("item")
    assert np.allclose(est.loc[list(dav.items_), "davidson"], dav.coef_)
    changed = int((est.rank_half_win != est.rank_davidson).sum())
    assert d.details["rank_changes"] == changed
    assert (d.status == "flagged") == (changed > 0)
    assert 0.25 < d.details["tie_share"] < 0.35
    no_ties, _ = _bt_table(4, n=300)
    assert ps.diagnose(no_ties, checks="ties")["ties"].status == "ok"
    # m0 ties m5 often but wins more decisively when it does not; m1 rarely ties: half wins put m1
    # first (55% vs 55%... see counts), Davidson puts m0 first; the check must flag the flip
    rows = ([("m0", "m5", 1.0)] * 30 + [("m0", "m5", 0.5)] * 60 + [("m0", "m5", 0.0)] * 10
            + [("m1", "m5", 1.0)] * 58 + [("m1", "m5", 0.0)] * 42
            + [("m0", "m1", 1.0)] * 10 + [("m0", "m1", 0.0)] * 10 + [("m0", "m1", 0.5)] * 10)
    rows += [(f"m{i}", f"m{j}", float(v)) for i in range(2, 5) for j in range(6) if j != i for v in (0, 1, 0.5)]
    left, right, y = map(np.array, zip(*rows))
    t = ps.ComparisonTable.from_items(left.astype(object), right.astype(object), y.astype(float))
    d = ps.diagnose(t, checks="ties")["ties"]
    bt, dav = ps.BradleyTerry().fit(t), ps.DavidsonBradleyTerry().fit(t)
    assert np.any(np.argsort(-bt.coef_) != np.argsort(-dav.coef_))  # the table does flip an order
    assert d.status == "flagged" and d.details["rank_changes"] >= 2


def _loud_annotator_table(seed=5, loud=2, n=4000, k=6, n_groups=12):
    # annotators g0..g{loud-1} vote with reversed abilities; everyone else follows BT
    rng = np.random.default_rng(seed)
    theta = np.linspace(-1, 1, k)
    a = rng.integers(0, k, n)
    b = (a + rng.integers(1, k, n)) % k
    g = rng.integers(0, n_groups, n)
    sign = np.where(g < loud, -1.0, 1.0)
    y = (rng.random(n) < 1 / (1 + np.exp(-sign * (theta[a] - theta[b])))).astype(float)
    labels = np.array([f"m{i}" for i in range(k)], dtype=object)
    return ps.ComparisonTable.from_items(labels[a], labels[b], y, group=np.array([f"g{x}" for x in g], dtype=object))


def test_loud_annotators_are_flagged_and_named():
    rep = ps.diagnose(_loud_annotator_table(), n_permutations=99, figures=False,
                      checks=["annotators", "annotator_influence", "clustering"])
    d = rep["annotators"]
    assert d.flagged and d.p_value <= 0.02
    assert set(d.table.annotator.head(2)) == {"g0", "g1"}
    assert (d.table.set_index("annotator").loc[["g0", "g1"], "p_permutation"] <= 0.02).all()
    infl = rep["annotator_influence"].table
    assert set(infl.annotator.head(2)) == {"g0", "g1"}
    assert rep["clustering"].statistic > 0


def test_shared_model_is_not_flagged_and_permutation_keeps_pair_totals():
    table, _ = _bt_table(6, n=3000, n_groups=10)
    rep = ps.diagnose(table, n_permutations=99, figures=False, checks=["annotators"], random_state=1)
    assert rep["annotators"].status == "ok"
    cells = pair_cells(table)
    ac = annotator_cells(table, cells)
    perm = permuted_wins(ac, cells, np.random.default_rng(0), 5)
    for b in range(5):
        assert np.allclose(np.bincount(ac.c, perm[b], cells.m), cells.wins)
    assert not np.allclose(perm[0], ac.wins)


def test_influence_matches_leave_one_out_refits():
    table, _ = _bt_table(7, n=1200, n_groups=5)
    d = ps.diagnose(table, checks="annotator_influence", max_annotators=5)["annotator_influence"]
    full = ps.BradleyTerry().fit(table)
    g = table.group
    for _, row in d.table.iterrows():
        keep = g != row.annotator
        sub = ps.BradleyTerry().fit(ps.ComparisonTable.from_items(table.left[keep], table.right[keep],
                                                                   table.outcome[keep]))
        assert np.max(np.abs(sub.coef_ - full.coef_) / full.stderr_) == pytest.approx(row.max_shift_se, rel=1e-5)


def test_disconnected_board_is_flagged_and_fit_checks_are_skipped():
    t = ps.ComparisonTable.from_items(["a", "b", "c", "d"] * 10, ["b", "a", "d", "c"] * 10, [1.0, 0.0] * 20,
                                      group=np.arange(40) % 3)
    rep = ps.diagnose(t, figures=False)
    con = rep["connectivity"]
    assert con.flagged and "2 components" in con.verdict
    for name in ("goodness_of_fit", "intransitivity", "annotators", "annotator_influence", "clustering"):
        assert rep[name].status == "skipped" and "does not exist" in rep[name].verdict


def test_thin_items_and_mle_existence():
    table, _ = _bt_table(8, k=5, n=400)
    extra = ps.ComparisonTable.from_items(np.r_[table.left, ["new", "m0"]], np.r_[table.right, ["m0", "new"]],
                                          np.r_[table.outcome, [1.0, 1.0]])
    con = ps.diagnose(extra, checks="connectivity", min_comparisons=5, figures=False)["connectivity"]
    assert con.flagged and list(con.tables["thin items"].item) == ["new"]
    assert set(con.tables["widest intervals"].item.head(1)) == {"new"}
    never_lost = ps.ComparisonTable.from_items(np.r_[table.left, ["new"]], np.r_[table.right, ["m0"]],
                                               np.r_[table.outcome, [1.0]])
    rep = ps.diagnose(never_lost, figures=False, checks=["connectivity", "goodness_of_fit"])
    assert rep["connectivity"].flagged and "never lost" in rep["connectivity"].verdict
    assert rep["goodness_of_fit"].status == "skipped"


def test_report_object_html_and_summary(tmp_path):
    table, _ = _bt_table(9, n=800, n_groups=4)
    rep = ps.diagnose(table, n_bootstrap=19, n_permutations=19)
    assert isinstance(rep, DiagnosticReport) and all(isinstance(d, Diagnostic) for d in rep)
    summ = rep.summary()
    assert list(summ.columns) == ["status", "statistic", "p_value", "verdict", "action"]
    assert set(summ.index) == set(ps.diagnose.ITEM_CHECKS)
    assert summ.verdict.str.len().min() > 10
    assert (summ.action != "").eq(summ.status == "flagged").all()  # every flagged check says what to do
    path = tmp_path / "r.html"
    text = rep.to_html(path)
    assert path.read_text() == text
    assert "data:image/png;base64," in text and "<img" in text
    assert "http://" not in text and "https://" not in text  # self-contained
    assert text.count("<h2") == len(rep) + 1
    with pytest.raises(KeyError, match="no diagnostic"):
        rep["nope"]
    assert str(rep).count("\n") == len(rep)


def test_diagnose_accepts_arrays_and_a_fitted_model():
    table, _ = _bt_table(10, n=600)
    X = np.column_stack([table.left, table.right])
    r1 = ps.diagnose(X, table.outcome, checks="goodness_of_fit", n_bootstrap=0)
    model = ps.BradleyTerry().fit(table)
    r2 = ps.diagnose(model, table, checks="goodness_of_fit", n_bootstrap=0)
    r3 = ps.diagnose(model, X, table.outcome, checks="goodness_of_fit", n_bootstrap=0)
    assert r1["goodness_of_fit"].statistic == r2["goodness_of_fit"].statistic == r3["goodness_of_fit"].statistic
    other, _ = _bt_table(12, n=600)
    with pytest.raises(ValueError, match="abilities differ"):
        ps.diagnose(model, other, checks="goodness_of_fit")
    with pytest.raises(ValueError, match="pass the table"):
        ps.diagnose(model)
    with pytest.raises(ValueError, match="not fitted"):
        ps.diagnose(ps.BradleyTerry(), table)


@pytest.mark.parametrize("kwargs, match", [
    (dict(checks=["nope"]), "unknown checks"),
    (dict(checks=["heterogeneity"]), "do not apply"),
    (dict(level=1.5), "level"),
    (dict(n_bootstrap=-1), "n_bootstrap"),
    (dict(max_annotators=0), "max_annotators"),
])
def test_bad_arguments_raise_one_line_errors(kwargs, match):
    table, _ = _bt_table(10, n=200)
    with pytest.raises(ValueError, match=match):
        ps.diagnose(table, **kwargs)


def test_non_integer_weights_need_n_bootstrap_zero():
    table, _ = _bt_table(10, n=300)
    t = ps.ComparisonTable.from_items(table.left, table.right, table.outcome, weight=np.full(300, 0.7))
    with pytest.raises(ValueError, match="integer frequency weights"):
        ps.diagnose(t, checks="goodness_of_fit")
    assert ps.diagnose(t, checks="goodness_of_fit", n_bootstrap=0)["goodness_of_fit"].p_value is not None


def test_prefstat_diagnose_is_callable_and_a_package():
    import prefstat.diagnose.report as report_module

    assert report_module.DiagnosticReport is DiagnosticReport
    assert callable(ps.diagnose) and ps.diagnose.diagnose.__name__ == "diagnose"
