"""Built-in studies, runnable as ``prefstat simulate NAME``.

* ``bt-coverage``: item-level BT with a home advantage (HomogeneousBT, 8 items,
  complete graph): bias, RMSE and Wald coverage of model-based and robust
  intervals vs n; the consistency slope should be -1/2.
* ``heterogeneity``: the worked example of docs/methods.md#heterogeneous-users-worked-example (d = 3,
  anisotropic Gaussian heterogeneity), BT, the sign estimator and the
  latent-class EM baseline side by side: BT's direction error stops shrinking
  (about 15 degrees off) while the sign estimator's shrinks like n^(-1/3);
  angular error and disagreement vs n, measured against the paper's claims.
* ``ai-judge``: Bradley-Terry from biased LLM-judge labels plus a small human
  sample (docs/methods.md#debiased-bradley-terry): bias, coverage, CI width and effective human
  labels vs n_human and judge quality, for AI-only, human-only, DDPO
  (lambda = 1), PPI++ (tuned lambda) and the oracle.

Each returns a :class:`Study` plus what its report needs (the error metric and
the baseline for the efficiency table).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, replace

import pandas as pd

from .. import diagnostics
from ..losses import DIVERGED_ETA
from .estimators import BTSim, DebiasedSim, JudgeBaselineSim, LatentClassSim, SignSim, observed_oracle_bt
from .processes import BiasedJudge, HeterogeneousUsers, HomogeneousBT
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
        process = HomogeneousBT(n_items=8, order_effect=0.3, seed_abilities=1)
        # half_win_truth = (abilities, home advantage), the exact target of the fit
        estimators = [BTSim(name="BT (model SE)", order_effect=True, truth_attr="half_win_truth"),
                      BTSim(name="BT (robust SE)", cov_type="robust", order_effect=True,
                            truth_attr="half_win_truth")]
        return Study(process, estimators, sizes=sizes, reps=reps, seed=seed)

    def extra_report(self, df: pd.DataFrame) -> tuple[list, dict]:
        """Study-specific Markdown sections and figures for :func:`write_report` (none by default)."""
        return [], {}


STUDIES = {
    "bt-coverage": StudySpec("bt-coverage", "Bradley-Terry Wald coverage and root-n consistency (item level, "
                             "home advantage)", (250, 1000, 4000), 500, "error", "BT (model SE)"),
}



# Aouad, El Gadarri, Farias (arXiv 2510.23965), digital-twin simulations: the sign estimator cuts
# the angular error of standard RLHF (BT) by about 35% and the disagreement with the population's
# preferences from 12% to 8%.
PAPER_ANGLE_REDUCTION = 0.35
PAPER_DISAGREEMENT = (0.12, 0.08)


@dataclass(frozen=True)
class HeterogeneitySpec(StudySpec):
    """The ``heterogeneity`` study: BT, the sign estimator (Horowitz and cube-root end bandwidths) and
    latent-class BT on the worked example.

    Every comparison comes from a fresh user (docs/methods.md#sign-estimator), so the
    truth beta_bar / ||beta_bar|| is exact. The latent-class baseline gets the
    user ids, which here are all distinct: it is the cross-sectional
    latent-class logit (``n_init`` EM starts; each EM fit costs hundreds of BT
    fits, so the default uses two).
    """

    n_init: int = 2

    def build(self, sizes=None, reps=None, seed=0) -> Study:
        estimators = [BTSim(name="BT", truth_attr="direction", compare="direction"), SignSim(name="sign"),
                      SignSim(name="sign (cube-root)", bandwidth="cube-root"),
                      LatentClassSim(name="LatentClassBT", n_init=self.n_init)]
        return Study(HeterogeneousUsers.worked_example(), estimators, sizes=tuple(sizes or self.sizes),
                     reps=int(reps or self.reps), seed=seed)

    def extra_report(self, df: pd.DataFrame) -> tuple[list, dict]:
        from .. import plotting

        section = ("## Against the paper's claims\n\nMean angular error (degrees) and mean disagreement with "
                   "the population's preferences on fresh pairs, and the reduction relative to BT. The paper "
                   f"(digital twins) reports an angular error about {PAPER_ANGLE_REDUCTION:.0%} below BT's and a "
                   f"disagreement of {PAPER_DISAGREEMENT[1]:.0%} against BT's {PAPER_DISAGREEMENT[0]:.0%} (a "
                   f"{1 - PAPER_DISAGREEMENT[1] / PAPER_DISAGREEMENT[0]:.0%} reduction).\n\n"
                   + heterogeneity_reductions(df).pipe(_table))
        figure = plotting.plot_error_vs_n(df, error="disagreement", slopes=())
        figure.axes[0].set_title("Disagreement with the population's preferences vs n")
        return [section], {"disagreement_vs_n.png": figure}


def heterogeneity_reductions(df: pd.DataFrame, baseline: str = "BT") -> pd.DataFrame:
    """Per n and estimator: mean angle, mean disagreement and their reductions relative to ``baseline``."""
    m = diagnostics.metrics(df).set_index(["n", "estimator"])
    base = m.xs(baseline, level="estimator")
    out = m[["mean_angle_deg", "mean_disagreement"]].reset_index()
    out["angle_reduction"] = 1 - out["mean_angle_deg"] / base.loc[out["n"], "mean_angle_deg"].to_numpy()
    out["disagreement_reduction"] = (1 - out["mean_disagreement"]
                                     / base.loc[out["n"], "mean_disagreement"].to_numpy())
    return out.sort_values(["n", "estimator"], kind="stable").reset_index(drop=True)


STUDIES["heterogeneity"] = HeterogeneitySpec(
    "heterogeneity", "Heterogeneous users (docs/methods.md#heterogeneous-users-worked-example): direction error and "
    "disagreement vs n for BT, the sign estimator and latent-class BT (EM)", (5000, 20000, 80000), 50,
    "angle_deg", "BT")

@dataclass(frozen=True)
class AIJudgeSpec(StudySpec):
    """The ``ai-judge`` study. The judge is biased three ways (random flips, a tilt towards feature 0, a
    position bias) and, like the humans, follows a coordinate of z that the Bradley-Terry model does not
    see (the content both read), so its label is informative about the individual human label (see
    :func:`~prefstat.simulate.estimators.observed_oracle_bt`). Judge quality is varied by the flip rate;
    the pool is ``pool_ratio`` times the human sample and shares its pair distribution."""

    flip_rates: tuple = (0.0, 0.15, 0.3)
    pool_ratio: float = 10.0
    hidden: int = 1

    def process(self) -> BiasedJudge:
        return BiasedJudge(beta_true=(1.0, -0.5, 0.3, 3.0), link="probit", tilt=1.0, tilt_feature=0,
                           position_bias=0.3, temperature=0.5)

    def build(self, sizes=None, reps=None, seed=0) -> Study:
        h = self.hidden
        estimators = [JudgeBaselineSim("AI-only", "ai-only", hidden=h),
                      DebiasedSim("human-only", lam=0.0, hidden=h),
                      DebiasedSim("DDPO (lambda = 1)", lam=1.0, hidden=h),
                      DebiasedSim("PPI++ (auto)", hidden=h),
                      JudgeBaselineSim("oracle", "oracle", hidden=h)]
        return Study(self.process(), estimators, sizes=tuple(sizes or self.sizes), reps=int(reps or self.reps),
                     seed=seed, grid={"flip_rate": list(self.flip_rates)}, pool_ratio=self.pool_ratio)

    def extra_report(self, df: pd.DataFrame) -> tuple[list, dict]:
        flips = sorted(df["flip_rate"].unique())
        base = self.process()
        agreement = {f: replace(base, flip_rate=f).judge_agreement for f in flips}
        quality = pd.DataFrame({"flip_rate": flips, "judge_agreement": [agreement[f] for f in flips]})
        section = ("## Judge quality\n\nP(judge label = human label) over the pool, exact; the model's target is "
                   f"the oracle fit on the observed features, {observed_oracle_bt(base, self.hidden).round(4)}.\n\n"
                   + _table(quality))
        return [section], {"ai_judge.png": _ai_judge_figure(df, self.baseline, agreement)}


def _ai_judge_figure(df: pd.DataFrame, baseline: str, agreement: dict):
    """One column per judge quality; rows: largest |bias|, coverage, CI width, effective human labels vs n."""
    from .. import plotting

    return plotting.plot_judge_quality_grid(df, diagnostics.efficiency_report(df, baseline), agreement, "log-odds")


STUDIES["ai-judge"] = AIJudgeSpec(
    "ai-judge", "Bradley-Terry from biased AI-judge labels and a small human sample (docs/methods.md#debiased-bradley-terry): "
    "AI-only, human-only, DDPO (lambda = 1), PPI++ (tuned lambda) and oracle vs n_human and judge quality; "
    "the pool is 10x the human sample", (250, 1000, 4000), 500, "error", "human-only")


def get_study(name: str) -> StudySpec:
    if name not in STUDIES:
        raise ValueError(f"unknown study {name!r}; built-in studies: {sorted(STUDIES)}.")
    return STUDIES[name]


def _table(df: pd.DataFrame) -> str:
    return "```text\n" + df.to_string(index=False, float_format=lambda v: f"{v:.4g}") + "\n```"


def no_estimate_note(df: pd.DataFrame) -> str:
    """A Markdown note naming the cells with replications whose estimate does not exist ("" if none)."""
    if "exists" not in df.columns or df["exists"].all():
        return ""
    keys = ["estimator", *diagnostics.cell_columns(df), "n"]
    counts = (~df["exists"].astype(bool)).groupby([df[k] for k in keys]).agg(["sum", "size"])
    counts = counts[counts["sum"] > 0].reset_index().rename(columns={"sum": "no_estimate", "size": "reps"})
    return ("**Note: replications without an estimate.** In these cells the fit ran off to infinity "
            f"(a fitted |log-odds| of at least {DIVERGED_ETA:g}: the MLE of that data set does not exist, e.g. "
            "an item that never lost, or a latent class that separates its rows perfectly). They are left out of every table and figure below, which therefore "
            "describe the replications with an estimate (column `no_estimate`).\n\n" + _table(counts))


def study_report(spec: StudySpec, df: pd.DataFrame, heading: bool = True) -> tuple[str, dict]:
    """The study's Markdown report and its figures (name -> Figure), shared by :func:`write_report` and the
    HTML report of ``prefstat demo``; figures are referenced in the text as ``![name](name)``."""
    from .. import plotting

    sections = [f"# Study `{spec.name}`\n\n{spec.description}\n"] if heading else []
    note = no_estimate_note(df)
    if note:
        sections.append(note)
    sections += ["## Metrics per cell\n\n" + diagnostics.metrics(df).pipe(_table),
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
    extra_sections, extra_figures = spec.extra_report(df)
    sections += extra_sections
    figures.update(extra_figures)
    sections += [f"![{name}]({name})" for name in figures]
    return "\n\n".join(sections) + "\n", figures


def write_report(spec: StudySpec, df: pd.DataFrame, out_dir: str) -> str:
    """Parquet results, Markdown report and PNG plots in ``out_dir``; returns the Markdown text.

    A spec with its own ``report(df, out_dir)`` (a study that is not an estimator comparison, e.g.
    ``diagnostics``) writes its report itself."""
    if hasattr(spec, "report"):
        return spec.report(df, out_dir)
    os.makedirs(out_dir, exist_ok=True)
    save_results(df, os.path.join(out_dir, "results.parquet"))
    text, figures = study_report(spec, df)
    for name, fig in figures.items():
        fig.savefig(os.path.join(out_dir, name), dpi=110)
    with open(os.path.join(out_dir, "report.md"), "w") as fh:
        fh.write(text)
    return text


from . import study_diagnostics  # noqa: E402,F401  (registers the 'diagnostics' study)
from . import study_dipo  # noqa: E402,F401 - registers the 'dipo' study into STUDIES
from . import study_density_ratio  # noqa: E402,F401 - registers the "density-ratio" study into STUDIES
