"""The ``diagnostics`` study (``prefstat simulate diagnostics``): size and power of every diagnostic test.

Each defect is planted at increasing strength (effect 0 is the null) and every replication runs the
test(s) aimed at it at level 0.05; the report gives the rejection rate with its Wilson 95% interval
against the effect size (docs/methods.md#diagnostics):

* ``cycle``: 6 items on a BT scale plus a cycle m0 > m1 > m2 > m0 of ``effect`` log-odds on each of
  its pairs -> goodness of fit and intransitivity (parametric bootstrap, 99 draws);
* ``position``: order effect ``effect`` (log-odds), every pair in both orientations -> position bias;
* ``annotators``: 8 annotators, two of them loud (each casts three times the votes of another) and
  voting with abilities multiplied by ``1 - 2 effect`` (effect 1: reversed) -> annotator test (99
  permutations);
* ``heterogeneity``: the worked example of docs/methods.md#heterogeneous-users-worked-example with
  user spread ``effect`` (0: homogeneous BT) on 20 n comparisons (the sign estimator's cone shrinks
  like n^-1/3, so it needs more data) -> BT vs sign-estimator cone (100 subsamples);
* ``mixed_logit``: heterogeneous users (HeterogeneousUsers, beta_u = (1, 1 + ``effect`` xi, 0), z ~ N(0, 2I),
  a fresh user per row; effect 0: homogeneous BT) on n comparisons -> likelihood-ratio test of BT
  against the mixed logit (chi-bar-squared calibrated);
* ``disconnected``: two halves of 6 items joined by ``effect`` bridging comparisons, alternately won
  by either side -> connectivity (deterministic: flagged with no bridge, and with one, which links
  the halves one way only so that the MLE does not exist; not flagged from two bridges on).

Runs in-process (a loop over tables; the tests' own refits are vmapped).
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from ..data import ComparisonTable
from .studies import STUDIES, StudySpec

__all__ = ["DiagnosticsSpec", "DiagnosticsStudy", "EFFECTS", "planted_table", "run_one"]

LEVEL = 0.05
EFFECTS = {"cycle": (0.0, 0.5, 1.0, 1.5), "position": (0.0, 0.1, 0.2, 0.3), "annotators": (0.0, 0.25, 0.5, 1.0),
           "heterogeneity": (0.0, 1.5, 3.0), "mixed_logit": (0.0, 0.25, 0.5, 1.0), "disconnected": (0, 1, 2, 5)}
_THETA = np.array([0.0, 0.1, -0.1, 0.5, -0.5, 1.0])


def _items(rng, n, k):
    a = rng.integers(0, k, n)
    return a, (a + rng.integers(1, k, n)) % k


def _labels(codes):
    return np.array([f"m{c}" for c in codes], dtype=object)


def _cycle_table(rng, n, effect):
    a, b = _items(rng, n, 6)
    d = _THETA[a] - _THETA[b]
    for i, j in ((0, 1), (1, 2), (2, 0)):
        d[(a == i) & (b == j)] += effect
        d[(a == j) & (b == i)] -= effect
    y = (rng.random(n) < 1 / (1 + np.exp(-d))).astype(float)
    return ComparisonTable.from_items(_labels(a), _labels(b), y)


def _position_table(rng, n, effect):
    a, b = _items(rng, n, 6)
    y = (rng.random(n) < 1 / (1 + np.exp(-(_THETA[a] - _THETA[b] + effect)))).astype(float)
    return ComparisonTable.from_items(_labels(a), _labels(b), y)


def _annotator_table(rng, n, effect):
    a, b = _items(rng, n, 6)
    share = np.r_[3.0, 3.0, np.ones(6)]
    g = rng.choice(8, size=n, p=share / share.sum())
    scale = np.where(g < 2, 1.0 - 2.0 * effect, 1.0)
    y = (rng.random(n) < 1 / (1 + np.exp(-scale * 2 * (_THETA[a] - _THETA[b])))).astype(float)
    return ComparisonTable.from_items(_labels(a), _labels(b), y, group=np.array([f"g{x}" for x in g], dtype=object))


def _disconnected_table(rng, n, effect):
    half = rng.integers(0, 2, n)
    a, b = _items(rng, n, 3)
    a, b = a + 3 * half, b + 3 * half
    bridge = np.arange(int(effect))
    a[bridge], b[bridge] = 0, 3
    theta = np.r_[_THETA[:3], _THETA[:3]]
    y = (rng.random(n) < 1 / (1 + np.exp(-(theta[a] - theta[b])))).astype(float)
    y[bridge] = np.arange(bridge.size) % 2  # bridges both ways, so the MLE can exist
    return ComparisonTable.from_items(_labels(a), _labels(b), y)


def _users_table(rng, n, effect):
    import jax

    from .._x64 import x64_scope
    from .processes import HeterogeneousUsers

    proc = HeterogeneousUsers(beta_bar=(1.0, 1.0, 0.0), heterogeneity="anisotropic" if effect > 0 else "none",
                              scale=float(effect), contested_axis=1, z_scale=np.sqrt(2.0))
    with x64_scope():
        data = proc.sample(jax.random.PRNGKey(int(rng.integers(2**31))), n)
    return ComparisonTable.from_features(np.asarray(data["Z"]), np.asarray(data["y"]))


def planted_table(defect: str, rng: np.random.Generator, n: int, effect) -> ComparisonTable:
    """An item-level table with ``defect`` planted at strength ``effect`` (cycle, position, annotators,
    disconnected; see the module docstring)."""
    makers = {"cycle": _cycle_table, "position": _position_table, "annotators": _annotator_table,
              "disconnected": _disconnected_table}
    if defect not in makers:
        raise ValueError(f"no item-level table for defect {defect!r}; choose from {sorted(makers)}.")
    return makers[defect](rng, n, effect)


def run_one(defect: str, effect: float, n: int, rng: np.random.Generator) -> dict:
    """p-values (or flags) of the tests aimed at ``defect`` on one simulated table."""
    from ..diagnose.annotators import annotator_heterogeneity
    from ..diagnose.coverage import connectivity
    from ..diagnose.goodness_of_fit import goodness_of_fit, parametric_draws
    from ..diagnose.heterogeneity import direction_heterogeneity
    from ..diagnose.order import position_bias
    from ..diagnose.pairs import fit_pairs, pair_cells
    from ..diagnose.transitivity import intransitivity

    if defect == "cycle":
        t = _cycle_table(rng, n, effect)
        cells = pair_cells(t)
        fit = fit_pairs(cells)
        draws = parametric_draws(cells, fit, 99, rng)
        return {"goodness_of_fit": goodness_of_fit(cells, fit, draws, LEVEL).flagged,
                "intransitivity": intransitivity(cells, draws, LEVEL, rng=rng).flagged}
    if defect == "position":
        return {"position_bias": position_bias(_position_table(rng, n, effect), LEVEL).flagged}
    if defect == "annotators":
        t = _annotator_table(rng, n, effect)
        cells = pair_cells(t)
        return {"annotators": annotator_heterogeneity(t, cells, fit_pairs(cells), 99, rng, LEVEL,
                                                      figures=False).flagged}
    if defect == "heterogeneity":
        import jax

        from .._x64 import x64_scope
        from .processes import FeatureBT, HeterogeneousUsers

        proc = (HeterogeneousUsers(beta_bar=(1.0, 1.0, 0.0), scale=effect, contested_axis=1, z_scale=np.sqrt(2.0))
                if effect > 0 else FeatureBT(beta=(1.0, 1.0, 0.0), z_cov=tuple(map(tuple, 2.0 * np.eye(3)))))
        with x64_scope():
            data = proc.sample(jax.random.PRNGKey(int(rng.integers(2**31))), 20 * n)
        t = ComparisonTable.from_features(np.asarray(data["Z"]), np.asarray(data["y"]))
        return {"heterogeneity": direction_heterogeneity(t, LEVEL, 100, int(rng.integers(2**31))).flagged}
    if defect == "mixed_logit":
        from ..diagnose.mixed_logit import mixed_logit_test

        return {"mixed_logit": mixed_logit_test(_users_table(rng, n, effect), LEVEL).flagged}
    if defect == "disconnected":
        t = _disconnected_table(rng, n, effect)
        return {"connectivity": connectivity(pair_cells(t), None, 0, figures=False).flagged}
    raise ValueError(f"unknown defect {defect!r}; choose from {sorted(EFFECTS)}.")


class DiagnosticsStudy:
    """Rejection rates per (defect, effect, n, test) over ``reps`` tables."""

    def __init__(self, sizes, reps, seed, defects=None):
        self.sizes, self.reps, self.seed = tuple(sizes), int(reps), int(seed)
        self.defects = tuple(defects or EFFECTS)

    def run(self, backend=None, client=None) -> pd.DataFrame:
        if backend not in (None, "local"):
            raise ValueError("the diagnostics study runs in-process only; drop --scheduler.")
        rows = []
        for d_i, defect in enumerate(self.defects):
            for e_i, effect in enumerate(EFFECTS[defect]):
                for n in self.sizes:
                    rng = np.random.default_rng([self.seed, d_i, e_i, int(n)])
                    start = time.perf_counter()
                    flags = [run_one(defect, effect, int(n), rng) for _ in range(self.reps)]
                    elapsed = (time.perf_counter() - start) / self.reps
                    for test in flags[0]:
                        hits = int(sum(f[test] for f in flags))
                        lo, hi = proportion_confint(hits, self.reps, alpha=0.05, method="wilson")
                        rows.append({"defect": defect, "effect": effect, "n": int(n), "test": test,
                                     "reps": self.reps, "rejections": hits, "rate": hits / self.reps,
                                     "wilson_lower": lo, "wilson_upper": hi, "runtime_s": elapsed})
        return pd.DataFrame(rows)


@dataclass(frozen=True)
class DiagnosticsSpec(StudySpec):
    """``prefstat simulate diagnostics``: see the module docstring."""

    def build(self, sizes=None, reps=None, seed=0) -> DiagnosticsStudy:
        return DiagnosticsStudy(sizes or self.sizes, reps or self.reps, seed)

    def report(self, df: pd.DataFrame, out_dir: str) -> str:
        """results.parquet, report.md and power.png in ``out_dir``; returns the Markdown text."""
        from matplotlib.figure import Figure

        os.makedirs(out_dir, exist_ok=True)
        df.to_parquet(os.path.join(out_dir, "results.parquet"))
        table = df.to_string(index=False, float_format=lambda v: f"{v:.4g}")
        size = df[(df.effect == 0) & (df.defect != "disconnected")]
        text = (f"# Study `{self.name}`\n\n{self.description}\n\n## Rejection rate at level {LEVEL:g} "
                f"(effect 0 = the null: size; otherwise power)\n\n```text\n{table}\n```\n\n"
                f"Size (effect 0): {', '.join(f'{r.test} {r.rate:.3g}' for r in size.itertuples())}.\n\n"
                "![power.png](power.png)\n")
        tests = list(dict.fromkeys(df.test))
        fig = Figure(figsize=(3.2 * len(tests) + 1.5, 3.4), layout="constrained")
        axes = np.atleast_1d(fig.subplots(1, len(tests), squeeze=False)[0])
        for ax, test in zip(axes, tests):
            for i, (n, g) in enumerate(df[df.test == test].groupby("n")):
                ax.errorbar(g.effect, g.rate, yerr=[g.rate - g.wilson_lower, g.wilson_upper - g.rate],
                            marker="os^D"[i % 4], linestyle="-", capsize=3, label=f"n = {n:,}")
            ax.axhline(LEVEL, color="k", linestyle="--", lw=1, label=f"level {LEVEL:g}")
            ax.set(title=test, xlabel=f"effect ({g.defect.iloc[0]})", ylabel="rejection rate (share)",
                   ylim=(-0.02, 1.02))
        axes[-1].legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8)
        fig.savefig(os.path.join(out_dir, "power.png"), dpi=110)
        with open(os.path.join(out_dir, "report.md"), "w") as fh:
            fh.write(text)
        return text


STUDIES["diagnostics"] = DiagnosticsSpec(
    "diagnostics", "Size and power of the table diagnostics (docs/methods.md#diagnostics): rejection rate at "
    "level 0.05 against the strength of a planted defect (cycles, position bias, loud annotators, heterogeneous "
    "users, a disconnected board)", (1000,), 500, "rate", "")
