"""``prefstat demo``: fit the bundled tables, build and diagnose an arena leaderboard, run small versions of the
built-in studies, write an HTML report.

The report (``index.html``) is one self-contained file with a reading guide per
section: what the estimate means and how far to trust it. The raw results go
beside it (``results/*.parquet`` for the studies, ``tables/*.csv`` for the fits).
The studies run at small sizes chosen so that the whole demo takes a few minutes
on 2 cores (``quick=True``: under a minute); their Monte-Carlo error is stated in
each section, and ``prefstat simulate NAME --full`` runs the documented sizes.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .html import HtmlReport, figure_to_data_uri

__all__ = ["DemoStudy", "DEMO_STUDIES", "build_demo"]


@dataclass(frozen=True)
class DemoStudy:
    """A built-in study at demo size: its sizes and replications, in the full and the quick demo."""

    name: str
    sizes: tuple
    reps: int
    quick_sizes: tuple
    quick_reps: int
    guide: str
    options: tuple = ()  # (field, value) pairs replacing the study's own settings in the full demo
    quick_options: tuple = ()  # the same, in the quick demo


DEMO_STUDIES = (
    DemoStudy("bt-coverage", (250, 1000, 4000), 200, (250, 1000), 40,
              "Item-level Bradley-Terry with a home advantage, simulated from a known truth. **Coverage** is the "
              "share of replications whose 95% interval contains the true value: it should sit near 0.95, "
              "inside the Wilson band drawn around it (the band reflects the limited number of replications "
              "here). The error should fall like n^(-1/2) (slope -1/2 on the log-log plot): that is what "
              "'consistent at the parametric rate' looks like."),
    DemoStudy("heterogeneity", (2000, 8000), 6, (500, 2000), 2,
              "Users who disagree (each comparison from a user with their own preference direction). "
              "Bradley-Terry then estimates a KL projection, not the population's average direction: its "
              "angular error stops shrinking, while the sign estimator's keeps shrinking (slowly, at a cube-root "
              "rate). With a handful of replications per cell these figures are a sketch: read the direction "
              "of the differences, and run `prefstat simulate heterogeneity --full` for the documented study."),
    DemoStudy("ai-judge", (250, 1000), 40, (250, 500), 10,
              "A biased LLM judge labels a large pool; humans label a small sample. **AI-only** is biased "
              "(coverage far below 0.95), **human-only** is unbiased but wide, the debiased estimators "
              "(DDPO, PPI++) are unbiased and narrower. The efficiency table's **n_eff** is how many human "
              "labels the debiased estimate is worth: the value of the judge, in human labels.",
              options=(("flip_rates", (0.0, 0.3)),), quick_options=(("flip_rates", (0.3,)),)),
    DemoStudy("dipo", (250, 1000), 40, (250, 1000), 5,
              "**DIPO** estimates one number, the probability that humans prefer the left answer, averaged over "
              "the pool the judge labelled, when the human sample was drawn from a different (shifted) "
              "distribution. It combines a model of the human label given the judge's with a density-ratio "
              "correction and is right if either of the two is. Read the coverage row (DIPO near 0.95, "
              "AI-only far below) and the last row: the effective number of human labels above the n line is "
              "what the judge adds.",
              options=(("flip_rates", (0.0, 0.2)),), quick_options=(("flip_rates", (0.2,)),)),
    DemoStudy("density-ratio", (250, 1000), 40, (250, 1000), 5,
              "**Density ratio: policy fitting without a preference model.** The humans' preferences here are "
              "intransitive (rock-paper-scissors on top of quality), so no Bradley-Terry model holds. **RDRO** fits "
              "the policy pi_ref * r_alpha, where r_alpha = p+ / (alpha p+ + (1 - alpha) p-) compares how often an "
              "answer is chosen with how often it appears at all; it needs no preference model and r_alpha is at "
              "most 1/alpha. Its error falls like n^(-1/2) and its intervals cover. **DPO** assumes Bradley-Terry: "
              "its error stops falling at the distance to its own limit (the targets table). **DDRO** (alpha = 0) "
              "is consistent too, but as one answer becomes almost never rejected (larger separation) its target "
              "ratio, its spread and its largest per-record influence blow up, and in small samples its estimate "
              "does not exist (no_estimate); RDRO stays bounded.",
              options=(("separations", (1.0, 3.0, 5.0)),), quick_options=(("separations", (5.0,)),)),
)

LEADERBOARD_GUIDE = (
    "A leaderboard from the bundled simulated arena (4,000 battles among 20 models, ties, a judge who likes "
    "long answers). Ratings are on the Elo scale (400 points = odds of 10 to 1), **adjusted for answer length** "
    "(style control), with cluster-robust intervals by judge. The **simultaneous** interval covers all models "
    "at once; the **rank sets** (Mogstad et al. 2023) say which ranks the evidence supports: a model whose "
    "rank set is 3-9 may be anywhere there. Two models whose rank sets overlap are not separated.")


def _bundled_tables(report: HtmlReport, tables_dir: str) -> dict:
    from .. import datasets, plotting
    from ..models import BradleyTerry

    report.section("Bradley-Terry on the bundled tables",
                   guide="Abilities are log-odds: a difference of 1 between two teams means odds of e = 2.7 to 1 "
                         "that the first wins. They are identified only up to a shift, so one item (the "
                         "reference) is fixed at 0. The three interval types answer different worries: "
                         "**model** trusts the Bradley-Terry likelihood, **robust** (sandwich) survives "
                         "misspecified variances, **bootstrap** resamples the games. When they agree, as here, "
                         "the model-based interval is fine; when robust is much wider, trust robust (or "
                         "cluster, if votes are grouped by annotator).")
    baseball = datasets.load_baseball()
    frames, home = [], []
    for cov in ("model", "robust", "bootstrap"):
        bt = BradleyTerry(order_effect=True, cov_type=cov, random_state=0).fit(baseball)
        s = bt.summary()
        if not frames:  # the estimate is the same for every SE type
            frames.append(s[["estimate"]])
        frames.append(s.iloc[:, [1, -2, -1]].add_prefix(f"{cov}: "))
        lo, hi = s.loc["order_effect"].iloc[-2:]
        home.append({"SE type": cov, "home advantage (log-odds)": bt.order_effect_,
                     "stderr": bt.order_effect_stderr_, "odds ratio": np.exp(bt.order_effect_),
                     "odds ratio, 95% low": np.exp(lo), "odds ratio, 95% high": np.exp(hi)})
    table = pd.concat(frames, axis=1)
    report.text(f"**Baseball**, 1987 American League East ({baseball.n_rows} rows of home/away wins; Agresti "
                "2002, Table 10.10), with a home advantage. Agresti reports a home advantage of 0.302.")
    report.table(table, caption="Team abilities (log-odds, reference fixed at 0) with 95% intervals", index=True)
    home_df = pd.DataFrame(home)
    report.table(home_df, caption="Home advantage, three ways")
    citations = datasets.load_citations()
    bt = BradleyTerry(reference="Biometrika").fit(citations)
    cit = bt.summary()
    report.text("**Journal citations** (Stigler 1994): a citation is a comparison won by the cited journal; "
                "reference Biometrika.")
    report.table(cit, caption="Journal abilities (log-odds against Biometrika)", index=True)
    report.figure(plotting.plot_forest(cit, xlabel="ability (log-odds vs Biometrika)",
                                       title="Journal citations: abilities with 95% intervals"),
                  caption="Forest plot of the citation abilities")
    os.makedirs(tables_dir, exist_ok=True)
    table.to_csv(os.path.join(tables_dir, "baseball_abilities.csv"))
    home_df.to_csv(os.path.join(tables_dir, "baseball_home_advantage.csv"), index=False)
    cit.to_csv(os.path.join(tables_dir, "citations_abilities.csv"))
    return {"home_advantage": float(home_df.loc[0, "home advantage (log-odds)"])}


def _leaderboard(report: HtmlReport, tables_dir: str) -> None:
    from .. import datasets
    from ..leaderboard import Leaderboard
    from ..leaderboard.report import plot_leaderboard

    board = Leaderboard(style=["len"], cov_type="cluster", random_state=0).fit(datasets.load_arena(), group="judge")
    report.section("Arena leaderboard with style control", guide=LEADERBOARD_GUIDE)
    report.table(board.table_, caption="Leaderboard (Elo scale; marginal and simultaneous 95% intervals, rank sets)",
                 index=True)
    style = board.style_summary()
    if style is not None:
        report.table(style, caption="Style coefficient (log-odds per standard deviation of the relative length "
                                    "difference)", index=True)
    report.figure(plot_leaderboard(board), caption="Ratings with intervals, and rank confidence sets")
    os.makedirs(tables_dir, exist_ok=True)
    board.table_.to_csv(os.path.join(tables_dir, "arena_leaderboard.csv"))


DIAGNOSTICS_GUIDE = (
    "Before a leaderboard is published: does Bradley-Terry fit the table? `prefstat.diagnose` runs every check "
    "that applies to an item-level table with judges: whether the battle graph is connected well enough, "
    "goodness of fit and intransitive cycles (p-values from a parametric bootstrap of the fitted model), "
    "position bias, how much the tie convention matters, judges who disagree with each other or move a "
    "rating on their own, and how much votes cluster by judge. **flagged** means the test found a problem "
    "at the 5% level, and the action column says what to do; **ok** means this table shows no evidence "
    "against the model, which is not proof that it holds (a small table has little power); **skipped** "
    "gives the reason a check could not run; **info** is descriptive. The arena here was simulated from a "
    "Bradley-Terry model (with a preference for long answers, which the style control above removes from the "
    "ratings), so the checks should pass. The bootstrap p-values are Monte-Carlo estimates: with B tables, a p-value is known to "
    "about ±2 sqrt(p (1 - p) / B).")


def _diagnostics(report: HtmlReport, tables_dir: str, quick: bool) -> None:
    from .. import datasets
    from ..diagnose import diagnose

    n_resamples = 50 if quick else 200
    diag = diagnose(datasets.load_arena(as_frame=False), n_bootstrap=n_resamples, n_permutations=n_resamples,
                    random_state=0)
    report.section("Diagnostics: does Bradley-Terry fit the arena?", guide=DIAGNOSTICS_GUIDE)
    summary = diag.summary()
    report.table(summary, caption=f"One row per check ({n_resamples} bootstrap tables and {n_resamples} "
                                  "permutations; level 0.05)", index=True)
    for check, name in (("connectivity", "comparisons per item"), ("annotators", "annotator score statistics")):
        fig = diag[check].figures.get(name)
        if fig is not None:
            report.figure(fig, caption=f"{diag[check].title}: {name}")
    os.makedirs(tables_dir, exist_ok=True)
    summary.to_csv(os.path.join(tables_dir, "arena_diagnostics.csv"))


def _study(report: HtmlReport, demo: DemoStudy, quick: bool, seed: int, results_dir: str, progress: bool):
    from ..simulate.study import save_results
    from ..simulate.studies import get_study, study_report

    sizes, reps = (demo.quick_sizes, demo.quick_reps) if quick else (demo.sizes, demo.reps)
    spec = replace(get_study(demo.name), **dict(demo.quick_options if quick else demo.options))
    start = time.perf_counter()
    df = spec.build(sizes=sizes, reps=reps, seed=seed).run(progress=progress)
    elapsed = time.perf_counter() - start
    os.makedirs(results_dir, exist_ok=True)
    save_results(df, os.path.join(results_dir, f"{demo.name}.parquet"))
    text, figures = study_report(spec, df, heading=False)
    precision = (f" (a coverage of 0.95 is measured to about ±{1.96 * np.sqrt(0.95 * 0.05 / reps):.2f} here)"
                 if df["lower"].notna().all() else "")
    report.section(f"Simulation: {demo.name}", guide=demo.guide)
    report.text(f"{spec.description}. Sizes {', '.join(map(str, sizes))}; {reps} replications per cell"
                f"{precision}; {elapsed:.0f} s. Full study: `prefstat simulate {demo.name} --full` "
                f"({spec.reps} replications per cell at sizes {', '.join(map(str, spec.sizes))}).")
    report.text(text, images={name: figure_to_data_uri(fig) for name, fig in figures.items()})
    return df


def build_demo(out_dir: str = "prefstat-report", quick: bool = False, seed: int = 0,
               progress: bool = True) -> str:
    """Run the demo and write ``out_dir/index.html`` (returned) with the raw results beside it."""
    from .. import __version__

    mode = "quick" if quick else "standard"
    report = HtmlReport("prefstat demo report",
                        subtitle=f"prefstat {__version__}; {mode} demo; seed {seed}. Each section starts with a "
                                 "reading guide: what the estimate means and how far to trust it.")
    steps = ["bundled tables", "leaderboard", "diagnostics"] + [d.name for d in DEMO_STUDIES]
    bar = tqdm(steps, desc="prefstat demo", disable=not progress)
    for step in bar:
        bar.set_postfix_str(step)
        if step == "bundled tables":
            _bundled_tables(report, os.path.join(out_dir, "tables"))
        elif step == "leaderboard":
            _leaderboard(report, os.path.join(out_dir, "tables"))
        elif step == "diagnostics":
            _diagnostics(report, os.path.join(out_dir, "tables"), quick)
        else:
            demo = next(d for d in DEMO_STUDIES if d.name == step)
            _study(report, demo, quick, seed, os.path.join(out_dir, "results"), progress)
    return report.write(os.path.join(out_dir, "index.html"))
