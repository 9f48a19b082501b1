"""The built-in ``dipo`` study (``prefstat simulate dipo``) and the DIPO policy-level simulation helpers.

* ``dipo``: the human preference probability over an AI-labelled pool under covariate shift
  (:class:`~prefstat.simulate.BiasedJudge`: judge miscalibrated, tilted towards feature 0, position
  biased, random flips for a worse judge; humans and judge both follow a coordinate of z that the
  nuisance models do not see, so the judge label is informative about the individual human label):
  bias, coverage, CI width, efficiency ratio (estimated variance over the plug-in efficiency bound)
  and effective human labels against n_human and judge quality, for DIPO (known and estimated
  density ratio), PPI with the raw judge score, human-only and AI-only. Truth: ``BiasedJudge.psi``
  (quadrature, ~1e-14).
* :func:`policy_task` turns one :class:`~prefstat.simulate.PolicyJudge` sample into a
  :class:`~prefstat.models.dipo_policy.PolicyData`; :func:`policy_study` runs the policy-optimisation
  comparison (DIPO, human-only, AI-only, oracle; true win rates exact).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, replace

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from .. import diagnostics
from .._x64 import x64_scope
from ..models.dipo import DIPO
from ..models.dipo_policy import PolicyData, policy_data
from ..nuisance import PoorOverlapWarning
from ..policy import kl_to_reference
from .processes import BiasedJudge, PolicyJudge
from .study import Study
from .studies import STUDIES, StudySpec

__all__ = ["DIPOSim", "DIPOSpec", "policy_task", "policy_study", "POLICY_METHODS"]


@dataclass(frozen=True)
class DIPOSim:
    """:class:`prefstat.DIPO` fitted replication by replication on a :class:`BiasedJudge` table.

    ``method``: DIPO's ``method``; ``weights``: "known" (the process's true ratio), "classifier"
    (estimated) or "none" (w = 1); ``hidden``: trailing coordinates of z withheld from the nuisance
    models. Extra result columns: ``n_eff`` and ``efficiency_ratio`` (``diagnostics_``).
    """

    name: str = "DIPO"
    method: str = "dipo"
    weights: str = "known"
    hidden: int = 1
    n_folds: int = 5
    compare: str = "coef"

    def truth(self, process) -> np.ndarray:
        return np.array([process.psi])

    def fit(self, process, data: dict) -> dict:
        Z = np.asarray(data["Z"])
        F = Z[:, : Z.shape[1] - self.hidden]
        human = np.asarray(data["is_human"], bool)
        est = DIPO(method=self.method, n_folds=self.n_folds, random_state=0,
                   density_ratio="classifier" if self.weights == "classifier" else None)
        known = np.asarray(data["w_true"])[human] if self.weights == "known" else None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PoorOverlapWarning)
            est.fit(F, data["y"], data["ai_label"], density_ratio=known)
        diag = est.diagnostics_
        return {"estimate": np.array([est.estimate_]), "stderr": np.array([est.stderr_]),
                "n_eff": float(diag["n_eff"]), "efficiency_ratio": float(diag["efficiency_ratio"])}


@dataclass(frozen=True)
class DIPOSpec(StudySpec):
    """The ``dipo`` study (module docstring). Judge quality is varied by the flip rate; the pool is
    ``pool_ratio`` times the human sample and shifted (pool mean ``shift`` along feature 1)."""

    flip_rates: tuple = (0.0, 0.2)
    pool_ratio: float = 10.0
    shift: float = 0.3
    hidden: int = 1

    def process(self) -> BiasedJudge:
        return BiasedJudge(beta_true=(1.0, -0.5, 0.3, 2.0), link="probit", tilt=1.0, tilt_feature=0,
                           position_bias=0.3, temperature=0.5, pool_mean=(0.0, self.shift, 0.0, 0.0))

    def build(self, sizes=None, reps=None, seed=0) -> Study:
        h = self.hidden
        estimators = [DIPOSim("DIPO (known w)", hidden=h), DIPOSim("DIPO (estimated w)", weights="classifier", hidden=h),
                      DIPOSim("PPI (raw judge)", method="ppi", hidden=h),
                      DIPOSim("human-only", method="human", hidden=h),
                      DIPOSim("AI-only", method="ai", hidden=h)]
        return Study(self.process(), estimators, sizes=tuple(sizes or self.sizes), reps=int(reps or self.reps),
                     seed=seed, grid={"flip_rate": list(self.flip_rates)}, pool_ratio=self.pool_ratio)

    def extra_report(self, df: pd.DataFrame) -> tuple[list, dict]:
        flips = sorted(df["flip_rate"].unique())
        base = self.process()
        agreement = {f: replace(base, flip_rate=f).judge_agreement for f in flips}
        eff = (df.groupby(["flip_rate", "n", "estimator"], sort=True)[["n_eff", "efficiency_ratio"]].mean()
               .reset_index())
        quality = pd.DataFrame({"flip_rate": flips, "judge_agreement": [agreement[f] for f in flips]})
        section = ("## Judge quality and efficiency\n\nP(judge label = human label) over the pool (exact); "
                   f"psi = {base.psi:.6g}. Mean effective human labels and mean ratio of the estimated "
                   "variance to the plug-in efficiency bound (DIPO only) per cell:\n\n"
                   + _table(quality) + "\n\n" + _table(eff))
        return [section], {"dipo.png": dipo_figure(df, agreement)}


def _table(df: pd.DataFrame) -> str:
    return "```text\n" + df.to_string(index=False, float_format=lambda v: f"{v:.4g}") + "\n```"


def dipo_figure(df: pd.DataFrame, agreement: dict):
    """One column per judge quality; rows: |bias|, coverage, CI width and effective human labels vs n_human
    (:func:`prefstat.plotting.plot_judge_quality_grid`)."""
    from .. import plotting

    eff = df.groupby(["flip_rate", "n", "estimator"])["n_eff"].mean().reset_index()
    return plotting.plot_judge_quality_grid(df, eff, agreement, "probability", bias_label="|bias|")


STUDIES["dipo"] = DIPOSpec(
    "dipo", "DIPO: the human preference probability over a shifted AI-labelled pool (docs/methods.md#dipo): "
    "DIPO with known and estimated density ratio, PPI with the raw judge, human-only and AI-only vs n_human and "
    "judge quality; the pool is 10x the human sample", (250, 1000, 4000), 500, "error", "human-only")


# ------------------------------------------------------------------------------------------ policy level
POLICY_METHODS = ("dipo", "human", "ai", "oracle")


def policy_task(process: PolicyJudge, sample: dict, oracle: bool = False) -> PolicyData:
    """The :class:`PolicyData` of one :class:`PolicyJudge` sample (numpy arrays of ``process.sample``).

    Prompt rows: the pool prompts (the target), then one row per human pair (its prompt); pair
    features F = phi(x, y) - phi(x, y'); generator mu_H of the process. ``oracle=True``: the
    human labels of every pool pair replace the judge's (for ``DIPO(method="ai")``: the oracle).
    """
    s = {k: np.asarray(v) for k, v in sample.items()}
    n_p, n_h = s["pool_prompt"].size, s["y"].size
    prompts = np.r_[s["pool_prompt"], s["human_prompt"]]
    C = process.n_candidates
    phi = process.phi[prompts]
    judge = np.full((prompts.size, C, C), np.nan)
    judge[:n_p] = s["oracle"] if oracle else s["judge"]
    return policy_data(process.candidates(prompts), judge, n_p + np.arange(n_h), s["left"], s["right"], s["y"],
                       process.generator_probs(prompts), ai_label=s["ai_label"],
                       target=np.arange(prompts.size) < n_p, F=phi[:, :, None, :] - phi[:, None, :, :])


def policy_study(process: PolicyJudge, reps: int, n_human: int, n_pool: int, beta: float, seed: int = 0) -> pd.DataFrame:
    """Optimise the policy with DIPO, human labels only, AI labels only and the oracle on ``reps`` samples.

    One row per replication and method: ``theta_*``, the estimated win rate and the exact true
    human win rate (``true_win_rate``) and regularised objective (``true_objective`` = win rate -
    beta * KL over the population) of the fitted policy.
    """
    keys = jax.random.split(jax.random.PRNGKey(seed), reps)
    c = process.candidates()
    rows = []
    for r in range(reps):
        with x64_scope():
            s = {k: np.asarray(v) for k, v in process.sample(keys[r], n_human, n_pool).items()}
        data, oracle = policy_task(process, s), policy_task(process, s, oracle=True)
        for method in POLICY_METHODS:
            est = DIPO(method="ai" if method == "oracle" else method, random_state=r)
            fit = est.optimize_policy(beta, data=oracle if method == "oracle" else data)
            with x64_scope():
                kl = float(kl_to_reference(jnp.asarray(fit.theta), c))
            wr = process.win_rate(fit.theta)
            rows.append({"rep": r, "method": method, "theta": fit.theta, "estimate": fit.value.estimate,
                         "stderr": fit.value.stderr, "true_win_rate": wr, "true_objective": wr - beta * kl,
                         "converged": fit.converged})
    return pd.DataFrame(rows)
