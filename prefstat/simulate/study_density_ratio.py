"""The built-in ``density-ratio`` study (``prefstat simulate density-ratio``): policy fitting by RDRO, DDRO
and DPO on non-Bradley-Terry preferences with exact targets.

Process: :class:`~prefstat.simulate.processes.IntransitivePreferences` (a cyclic, non-BT preference
component; one outstanding answer per prompt whose quality advantage ``separation`` is the study grid).
Estimators (:class:`RDROSim`, one jitted fit per replication, on
:func:`prefstat.models.rdro_policy.rdro_policy_fit` / :func:`~prefstat.models.rdro_policy.dpo_policy_fit`):

* ``RDRO`` (alpha = 0.5, per-prompt intercepts) against its exact target, the parameter of
  pi_ref r_alpha: error shrinking at the parametric rate, Wald coverage;
* ``DDRO`` (alpha = 0) against its own exact target (pi_ref p+/p-): consistent too, but its target,
  its variance and its per-record influence grow without bound as ``separation`` grows;
* ``DPO`` (Bradley-Terry, beta = 1) against the RDRO target: it converges to the Bradley-Terry
  projection (``IntransitivePreferences.theta_dpo``), so its error levels off at the exact distance
  between the two, reported in the targets table.

Extra columns: ``influence_max`` (largest per-record influence norm on theta), ``grad_max`` (largest
per-record gradient norm), ``ratio_max`` (largest fitted ratio exp(score) over the candidates; RDRO/DDRO).
"""
from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from ..inference import cluster_cov
from ..losses import DIVERGED_ETA
from ..models.rdro_policy import dpo_policy_fit, policy_rows, rdro_policy_fit
from ..policy import CandidateSet
from .processes import IntransitivePreferences
from .study import Study
from .studies import STUDIES, StudySpec

__all__ = ["RDROSim", "DensityRatioSpec", "stability_table", "targets_table"]


@dataclass(frozen=True)
class RDROSim:
    """RDRO / DDRO / DPO policy fit as a vmapped simulation adapter (module docstring)."""

    name: str = "RDRO"
    method: str = "rdro"
    alpha: float = 0.5
    compare: str = "coef"
    max_iter: int = 100

    def truth(self, process) -> np.ndarray:
        return np.asarray(process.theta_rdro(0.0 if self.method == "ddro" else process.alpha))

    def fit(self, process, data: dict) -> dict:
        """One replication on numpy data: the jitted :meth:`estimate_one`, replication by replication.

        Not vmapped on purpose: with jaxlib 0.10.2 the vmapped program (batched Newton fits with linear
        solves inside a while loop) sometimes never returned from ``block_until_ready`` (every XLA
        thread idle), while one jitted fit per replication is the path every other fit takes.
        """
        out = _jitted_estimate(self, process, {k: jnp.asarray(v) for k, v in data.items()})
        return {k: np.asarray(v) for k, v in out.items()}

    def estimate_one(self, process, data: dict) -> dict:
        """The fit of one data set (pure JAX)."""
        phi = jnp.asarray(process.phi)
        P, C, d = phi.shape
        cands = CandidateSet(phi=phi, log_ref=jnp.asarray(process.log_ref), mask=jnp.ones((P, C), bool))
        pr, ch, rj = data["prompt"], data["chosen"], data["rejected"]
        n = pr.shape[0]
        if self.method == "dpo":
            D = phi[pr, ch] - phi[pr, rj]
            beta, H, S, conv = dpo_policy_fit(D, jnp.zeros(d), max_iter=self.max_iter)
            G, eta = S, D @ beta
            ratio_max = jnp.nan
        else:
            alpha = 0.0 if self.method == "ddro" else self.alpha
            Fc, Fr = policy_rows(cands, pr, ch, "prompt", P), policy_rows(cands, pr, rj, "prompt", P)
            beta, H, S, conv = rdro_policy_fit(Fc, Fr, alpha, jnp.zeros(d + P), max_iter=self.max_iter)
            G, eta = S[:n] + S[n:], jnp.concatenate([Fc, Fr]) @ beta
            # every candidate's fitted score: theta . phi + the prompt's intercept
            ratio_max = jnp.exp(jnp.max(phi @ beta[:d] + beta[d:, None]))
        cov = cluster_cov(H, G, n)[:d, :d]
        infl = jnp.linalg.solve(H, G.T).T[:, :d] * n
        exists = jnp.max(jnp.abs(eta)) < DIVERGED_ETA
        return {"estimate": beta[:d], "stderr": jnp.sqrt(jnp.diag(cov)), "converged": conv & exists, "exists": exists,
                "influence_max": jnp.max(jnp.linalg.norm(infl, axis=1)),
                "grad_max": jnp.max(jnp.linalg.norm(G * n, axis=1)), "ratio_max": ratio_max}


# one compiled program per (adapter, process, data shapes); both are frozen dataclasses, hence static
_jitted_estimate = jax.jit(lambda est, process, data: est.estimate_one(process, data), static_argnums=(0, 1))


@dataclass(frozen=True)
class DensityRatioSpec(StudySpec):
    """The ``density-ratio`` study (module docstring); ``separations`` is the grid of the outstanding
    answer's quality advantage."""

    separations: tuple = (1.0, 3.0, 5.0)
    alpha: float = 0.5

    def process(self) -> IntransitivePreferences:
        return IntransitivePreferences(alpha=self.alpha)

    def build(self, sizes=None, reps=None, seed=0) -> Study:
        estimators = [RDROSim(f"RDRO (alpha={self.alpha:g})", "rdro", self.alpha), RDROSim("DDRO (alpha=0)", "ddro"),
                      RDROSim("DPO (BT)", "dpo")]
        # chunk: replications are sampled 100 at a time (vmapped draws); each is then fitted on its own (RDROSim.fit)
        return Study(self.process(), estimators, sizes=tuple(sizes or self.sizes), reps=int(reps or self.reps),
                     seed=seed, grid={"separation": list(self.separations)}, chunk=100)

    def extra_report(self, df: pd.DataFrame) -> tuple[list, dict]:
        seps = sorted(df["separation"].unique())
        targets = targets_table(self.process(), seps, self.alpha)
        stab = stability_table(df)
        section = ("## Targets (exact)\n\nPer separation: the largest true r_alpha and ordinary ratio over the "
                   "candidates, and the distance between the DPO limit (Bradley-Terry projection) and the RDRO "
                   "target, which DPO's error tends to:\n\n" + _table(targets)
                   + "\n\n## Stability as the classes separate\n\nPer cell: Monte-Carlo SD of the estimate (root "
                   "mean square over coordinates), mean largest per-record influence and gradient norms, median "
                   "largest fitted ratio, share of replications with an estimate:\n\n" + _table(stab))
        return [section], {"stability.png": stability_figure(stab)}


def targets_table(process: IntransitivePreferences, separations, alpha: float) -> pd.DataFrame:
    """Exact targets per separation (see :meth:`DensityRatioSpec.extra_report`)."""
    from dataclasses import replace

    rows = []
    for s in separations:
        p = replace(process, separation=float(s))
        rows.append({"separation": s, "max_r_alpha": float(p.r_alpha(alpha).max()),
                     "max_r_0": float(p.r_alpha(0.0).max()),
                     "dpo_limit_distance": float(np.linalg.norm(p.theta_dpo - p.theta_rdro(alpha)))})
    return pd.DataFrame(rows)


def stability_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per (separation, n, estimator): ``mc_sd``, ``influence_max``, ``grad_max``, ``ratio_max``, ``exists``."""
    rows = []
    for (s, n, name), g in df.groupby(["separation", "n", "estimator"], sort=True):
        ok = g[g["exists"]]
        est = np.stack(ok["estimate"]) if len(ok) > 1 else None
        rows.append({"separation": s, "n": n, "estimator": name,
                     "mc_sd": float(np.sqrt(np.mean(np.var(est, axis=0, ddof=1)))) if est is not None else np.nan,
                     "influence_max": float(ok["influence_max"].mean()), "grad_max": float(ok["grad_max"].mean()),
                     "ratio_max": float(ok["ratio_max"].median()), "exists": float(g["exists"].mean())})
    return pd.DataFrame(rows)


def stability_figure(stab: pd.DataFrame):
    """MC SD and mean largest influence against separation, at the largest n (one line per estimator)."""
    from matplotlib.figure import Figure

    from .. import plotting

    top = stab[stab["n"] == stab["n"].max()]
    styles = plotting.estimator_styles(top["estimator"])
    fig = Figure(figsize=(9, 3.8), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, col, label in zip(axes, ("mc_sd", "influence_max"),
                              ("Monte-Carlo SD of theta (RMS over coordinates)", "largest per-record influence")):
        for name, g in top.groupby("estimator"):
            st = styles[name]
            ax.plot(g["separation"], g[col], color=st["color"], marker=st["marker"], linestyle=st["linestyle"],
                    label=name)
        ax.set_yscale("log")
        ax.set_xlabel("separation (quality advantage of the outstanding answer)")
        ax.set_ylabel(label)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"Stability as preferred and non-preferred answers separate (n = {int(top['n'].max()):,})")
    return fig


def _table(df: pd.DataFrame) -> str:
    return "```text\n" + df.to_string(index=False, float_format=lambda v: f"{v:.4g}") + "\n```"


STUDIES["density-ratio"] = DensityRatioSpec(
    "density-ratio", "RDRO policy fitting on non-Bradley-Terry (intransitive) preferences with exact targets "
    "(docs/methods.md#relative-density-ratio): RDRO (alpha = 0.5) vs DDRO (alpha = 0) vs DPO, error vs n and "
    "stability as the preferred and non-preferred answers separate", (250, 1000, 4000), 200, "error",
    "RDRO (alpha=0.5)")
