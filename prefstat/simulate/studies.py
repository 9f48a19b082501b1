"""Built-in studies, runnable as ``prefstat simulate NAME``.

* ``bt-coverage``: item-level BT with a home advantage (HomogeneousBT, 8 items,
  complete graph): bias, RMSE and Wald coverage of model-based and robust
  intervals vs n; the consistency slope should be -1/2.
* ``heterogeneity``: the worked example of METHODS.md section 2 (d = 3,
  anisotropic Gaussian heterogeneity): BT's direction error stops shrinking
  (about 15 degrees off) - the inconsistency the sign estimator fixes.

Each returns a :class:`Study` plus what its report needs (the error metric and
the baseline for the efficiency table).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import pandas as pd

from .. import diagnostics
from .estimators import BTSim
from .processes import HeterogeneousUsers, HomogeneousBT
from .study import Study, save_results


@dataclass(frozen=True)
class StudySpec:
    name: str
    description: str
    sizes: tuple
    reps: int
    error: str  # metric for the consistency report
    baseline: str  # estimator for the efficiency report

    def build(self, sizes=None, reps=None, seed=0) -> Study:
        sizes = tuple(sizes or self.sizes)
        reps = int(reps or self.reps)
        if self.name == "bt-coverage":
            process = HomogeneousBT(n_items=8, order_effect=0.3, seed_abilities=1)
            # half_win_truth = (abilities, home advantage), the exact target of the fit
            estimators = [BTSim(name="BT (model SE)", order_effect=True, truth_attr="half_win_truth"),
                          BTSim(name="BT (robust SE)", cov_type="robust", order_effect=True,
                                truth_attr="half_win_truth")]
        else:
            process = HeterogeneousUsers.worked_example()
            estimators = [BTSim(name="BT", truth_attr="direction", compare="direction")]
        return Study(process, estimators, sizes=sizes, reps=reps, seed=seed)


STUDIES = {
    "bt-coverage": StudySpec("bt-coverage", "Bradley-Terry Wald coverage and root-n consistency (item level, "
                             "home advantage)", (250, 1000, 4000), 500, "error", "BT (model SE)"),
    "heterogeneity": StudySpec("heterogeneity", "Heterogeneous users (METHODS.md section 2 worked example): "
                               "direction error vs n", (5000, 20000, 80000), 100, "angle_deg", "BT"),
}


def get_study(name: str) -> StudySpec:
    if name not in STUDIES:
        raise ValueError(f"unknown study {name!r}; built-in studies: {sorted(STUDIES)}.")
    return STUDIES[name]


def _table(df: pd.DataFrame) -> str:
    return "```text\n" + df.to_string(index=False, float_format=lambda v: f"{v:.4g}") + "\n```"


def write_report(spec: StudySpec, df: pd.DataFrame, out_dir: str) -> str:
    """Parquet results, Markdown report and PNG plots in ``out_dir``; returns the Markdown text."""
    from .. import plotting

    os.makedirs(out_dir, exist_ok=True)
    save_results(df, os.path.join(out_dir, "results.parquet"))
    sections = [f"# Study `{spec.name}`\n\n{spec.description}\n",
                "## Metrics per cell\n\n" + diagnostics.metrics(df).pipe(_table),
                "## Consistency (slope of log error on log n)\n\n"
                + diagnostics.consistency_report(df, error=spec.error).pipe(_table)]
    figures = {"error_vs_n.png": plotting.plot_error_vs_n(df, error=spec.error)}
    if df["lower"].notna().all():
        cov = diagnostics.coverage_report(df)
        sections.append("## Coverage (Wilson 95% intervals; flag = nominal outside)\n\n"
                        + cov.pipe(_table))
        figures["coverage.png"] = plotting.plot_coverage(df)
        figures["ci_width.png"] = plotting.plot_ci_width(df)
    if df["estimator"].nunique() > 1:
        sections.append("## Efficiency\n\n" + diagnostics.efficiency_report(df, spec.baseline)
                        .pipe(_table))
    for name, fig in figures.items():
        fig.savefig(os.path.join(out_dir, name), dpi=110)
        sections.append(f"![{name}]({name})")
    text = "\n\n".join(sections) + "\n"
    with open(os.path.join(out_dir, "report.md"), "w") as fh:
        fh.write(text)
    return text
