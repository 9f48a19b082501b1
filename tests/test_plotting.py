"""Image-level checks of every figure prefstat makes (plotting.py and the built-in studies' figures).

On the rendered figure: every axis has an x and a y label, each stating its unit in parentheses
(or its kind of quantity, e.g. "(share of intervals)", "(count)"); no legend's window extent
overlaps the window extent of any data line, marker or shaded band; legend labels are unique and
entries are told apart by line style or marker, not by colour alone.
"""
from __future__ import annotations

import dataclasses
import re

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from prefstat import diagnostics, plotting
from prefstat.simulate import studies

UNIT = re.compile(r"\([^()]+\)\s*$")


def fake_results(estimators, sizes, reps=40, grid=None, p=3, seed=0, direction=False):
    """A results frame shaped like Study.run()'s, with errors shrinking like n^-1/2 (cheap and deterministic)."""
    rng = np.random.default_rng(seed)
    grid = grid or {}
    keys = list(grid)
    combos = [dict(zip(keys, c)) for c in pd.MultiIndex.from_product(list(grid.values())).tolist()] if keys else [{}]
    truth = np.array([1.0, -0.5, 0.25])[:p]
    if direction:
        truth = truth / np.linalg.norm(truth)
    rows = []
    for params in combos:
        for k, name in enumerate(estimators):
            for n in sizes:
                for r in range(reps):
                    se = (1.0 + 0.2 * k) / np.sqrt(n) * np.ones(p)
                    est = truth + se * rng.normal(size=p)
                    if direction:
                        est = est / np.linalg.norm(est)
                    err = float(np.linalg.norm(est - truth))
                    rows.append({**params, "estimator": name, "n": n, "rep": r, "estimate": est, "truth": truth,
                                 "error": err, "angle_deg": float(np.degrees(2 * np.arcsin(min(err / 2, 1.0)))),
                                 "converged": True, "exists": r != 0 or n != sizes[0],
                                 "runtime_s": 1e-3, "level": 0.95, "stderr": se, "lower": est - 1.96 * se,
                                 "upper": est + 1.96 * se, "disagreement": err / np.pi})
    return pd.DataFrame(rows)


def _render(fig):
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


def _signature(handle):
    """What tells a legend entry apart besides colour."""
    if isinstance(handle, Line2D):
        return ("line", handle.get_linestyle(), handle.get_marker())
    return (type(handle).__name__,)


def check_figure(fig):
    renderer = _render(fig)
    data_boxes = []
    for ax in fig.axes:
        assert ax.get_xlabel().strip(), f"axis {ax.get_title()!r} has no x label"
        assert ax.get_ylabel().strip(), f"axis {ax.get_title()!r} has no y label"
        assert UNIT.search(ax.get_xlabel()), f"x label {ax.get_xlabel()!r} states no unit"
        assert UNIT.search(ax.get_ylabel()), f"y label {ax.get_ylabel()!r} states no unit"
        assert "_" not in ax.get_ylabel(), f"y label {ax.get_ylabel()!r} is a column name, not a label"
        for artist in ax.lines:
            if len(artist.get_xdata()):
                data_boxes.append((artist.get_label(), artist.get_window_extent(renderer)))
        for coll in ax.collections:
            if isinstance(coll, PolyCollection):
                data_boxes.append(("band", coll.get_window_extent(renderer)))
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None] + list(fig.legends)
    assert legends, "figure has no legend"
    for legend in legends:
        box = legend.get_window_extent(renderer)
        for label, data in data_boxes:
            assert not box.overlaps(data), f"legend overlaps the data of {label!r}"
        labels = [t.get_text() for t in legend.get_texts()]
        assert len(labels) == len(set(labels)), f"duplicate legend labels: {labels}"
        handles = legend.legend_handles
        sigs = [_signature(h) for h in handles]
        assert len(sigs) == len(set(sigs)), f"legend entries differ only by colour: {list(zip(labels, sigs))}"
    return fig


BT_NAMES = ["BT (model SE)", "BT (robust SE)"]


def test_error_vs_n():
    fig = check_figure(plotting.plot_error_vs_n(fake_results(BT_NAMES, [250, 1000, 4000])))
    ax = fig.axes[0]
    assert ax.get_ylabel() == "RMS error (log-odds)"
    refs = [line for line in ax.get_legend().legend_handles if line.get_marker() in ("None", "", None)]
    assert len({line.get_linestyle() for line in refs}) == 2  # the two reference slopes look different


def test_error_vs_n_angle_label_and_model_se_line_visible():
    df = fake_results(BT_NAMES, [250, 1000, 4000])
    for col in ("error", "angle_deg", "exists"):  # the robust-SE rows have the model-SE rows' values
        df.loc[df.estimator == "BT (robust SE)", col] = df.loc[df.estimator == "BT (model SE)", col].to_numpy()
    fig = check_figure(plotting.plot_error_vs_n(df, error="angle_deg"))
    ax = fig.axes[0]
    assert ax.get_ylabel() == "RMS angular error (degrees)"
    # identical values: the two estimator lines must still be told apart (offset along n, own marker)
    lines = {line.get_label(): line for line in ax.lines}
    a, b = lines["BT (model SE)"], lines["BT (robust SE)"]
    np.testing.assert_allclose(a.get_ydata(), b.get_ydata())
    assert not np.allclose(a.get_xdata(), b.get_xdata())
    assert (a.get_marker(), a.get_linestyle()) != (b.get_marker(), b.get_linestyle())


def test_coverage_band_is_in_the_legend():
    fig = check_figure(plotting.plot_coverage(fake_results(BT_NAMES, [250, 1000])))
    handles = fig.axes[0].get_legend().legend_handles
    assert any(isinstance(h, Patch) for h in handles)
    assert fig.axes[0].get_ylabel() == "coverage (share of intervals)"


def test_ci_width():
    check_figure(plotting.plot_ci_width(fake_results(BT_NAMES, [250, 1000])))


def test_heterogeneity_figure():
    names = ["BT", "LatentClassBT", "sign", "sign (cube-root)"]
    df = fake_results(names, [5000, 20000, 80000], reps=10, direction=True)
    check_figure(plotting.plot_error_vs_n(df, error="angle_deg"))
    _, figures = studies.get_study("heterogeneity").extra_report(df)
    for fig in figures.values():
        check_figure(fig)
        assert "disagreement" in fig.axes[0].get_ylabel()


def test_ai_judge_figure():
    spec = dataclasses.replace(studies.get_study("ai-judge"), flip_rates=(0.0, 0.3))
    names = ["AI-only", "human-only", "DDPO (lambda = 1)", "PPI++ (auto)", "oracle"]
    df = fake_results(names, [250, 1000, 4000], reps=10, grid={"flip_rate": [0.0, 0.3]}, p=3)
    _, figures = spec.extra_report(df)
    for fig in figures.values():
        check_figure(fig)


def test_reports_leave_out_replications_without_estimate():
    df = fake_results(BT_NAMES, [250, 1000], reps=10)
    df.loc[0, "estimate"] = np.array([45.0, -45.0, 45.0])  # the replication flagged exists=False
    m = diagnostics.metrics(df)
    assert list(m.no_estimate) == [1, 0, 1, 0] and list(m.reps) == [9, 10, 9, 10]
    assert m.rmse.max() < 1.0


@pytest.mark.parametrize("name", ["bt-coverage", "heterogeneity", "ai-judge"])
def test_study_figures_through_write_report(tmp_path, name):
    spec = studies.get_study(name)
    if name == "ai-judge":
        spec = dataclasses.replace(spec, flip_rates=(0.0,))
        df = fake_results(["AI-only", "human-only", "PPI++ (auto)"], [250, 1000], reps=8, grid={"flip_rate": [0.0]})
    elif name == "heterogeneity":
        df = fake_results(["BT", "sign"], [5000, 20000], reps=8, direction=True)
    else:
        df = fake_results(BT_NAMES, [250, 1000], reps=8)
    text = studies.write_report(spec, df, str(tmp_path))
    assert "replications without an estimate" in text  # fake_results flags one per estimator
    for png in sorted(tmp_path.glob("*.png")):
        assert png.stat().st_size > 5000
