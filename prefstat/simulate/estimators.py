"""Estimators as the simulation engine sees them: adapters.

An adapter satisfies :class:`~prefstat.simulate.protocols.SimAdapter`: a
``name``, ``compare`` (``"coef"``: Euclidean error; ``"direction"``: both sides
normalised to unit length, the angle is the error), ``truth(process)`` (the
value the estimate is compared with), and one way to estimate:

* ``core(process, data)`` (:class:`~prefstat.simulate.protocols.VmappedAdapter`):
  a pure JAX function the :class:`~prefstat.simulate.Study` runner
  ``jit(vmap(...))``-s over replications (:class:`BTSim`, :class:`SignSim`,
  :class:`LatentClassSim`, :class:`DebiasedSim`, :class:`JudgeBaselineSim`); or
* ``fit(process, data)`` (:class:`~prefstat.simulate.protocols.LoopAdapter`):
  a host fit on numpy data in a Python loop (:class:`LoopSim`: any estimator class).

Both return ``{"estimate", "stderr", "converged", "exists", ...extra}``
(:mod:`prefstat.simulate.protocols` states the contract; extra keys become result
columns). The existence verdict of the logistic-index fits is
:func:`mle_exists`: max |eta| over the rows with positive weight below
:data:`prefstat.losses.DIVERGED_ETA`, and ``converged`` is the solver's flag
*and* that verdict.

:class:`BTSim` runs the same pure core as :class:`prefstat.BradleyTerry`
(``fit_core`` plus the shared inference layer), so simulation results are
the numbers the estimator class would give. :func:`adapter_for` maps a plain
prefstat estimator instance to its vmapped adapter where the mapping is exact,
and to :class:`LoopSim` otherwise.
"""
from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from ..design import DenseDesign, SparseRowsDesign
from ..inference import model_cov, reparametrize, sandwich_cov, subsample_size
from ..losses import DIVERGED_ETA, logistic_meat
from ..models.bradley_terry import fit_core, item_design, item_transform
from ..models.debiased import fit_core as debiased_core
from ..models.latent_class import fit_core as latent_class_core
from ..models.sign import exact_core as sign_exact_core
from ..models.sign import fit_core as sign_fit_core
from ..models.sign import CALIBRATION as SIGN_CALIBRATION
from ..models.sign import RATE as SIGN_RATE
from ..models.sign import subsampling_cone

__all__ = ["BTSim", "LoopSim", "DebiasedSim", "JudgeBaselineSim", "SignSim", "LatentClassSim", "observed_oracle_bt",
           "resolve_truth", "mle_exists", "adapter_for", "half_win_abilities", "vmapped"]


def mle_exists(design, W, beta):
    """Existence verdict of a logistic-index fit: ``max |eta_i| < DIVERGED_ETA`` over rows with ``W_i > 0``.

    A fitted probability within 1e-13 of 0 or 1 (|eta| >= 30) means the solver was following a
    direction of recession: the MLE of this data set does not exist (separation; at item level, an
    item that never loses or never wins), whatever the solver's own convergence flag says. The same
    threshold (:data:`prefstat.losses.DIVERGED_ETA`) decides which bootstrap resamples are kept.
    Pure JAX (jit- and vmap-able); ``beta`` may be (p,) or (K, p) (one row per latent class).
    """
    beta = jnp.atleast_2d(beta)
    eta = jax.vmap(design.matvec)(beta)
    return jnp.max(jnp.where(W > 0, jnp.abs(eta), 0.0)) < DIVERGED_ETA


def resolve_truth(process, truth) -> np.ndarray:
    """``truth`` is an attribute name of the process (a tuple value is concatenated) or a callable."""
    value = truth(process) if callable(truth) else getattr(process, truth)
    if isinstance(value, tuple):
        value = np.concatenate([np.atleast_1d(np.asarray(v, np.float64)) for v in value])
    return np.asarray(value, np.float64)


class _ResolvedTruth:
    """``truth(process)`` from the adapter's ``truth_attr`` (see :func:`resolve_truth`)."""

    def truth(self, process) -> np.ndarray:
        return resolve_truth(process, self.truth_attr)


@dataclass(frozen=True)
class BTSim(_ResolvedTruth):
    """Bradley-Terry MLE (item- or feature-level, chosen by the data keys) with Wald SEs.

    ``cov_type`` is "model" or "robust". Item-level abilities are reported
    sum-to-zero, followed by the order effect when ``order_effect``.
    ``truth`` names the process attribute to compare with (``"truth"``,
    ``"half_win_truth"``, ``"bt_limit"``, ``"direction"``, ...).
    """

    name: str = "BT"
    cov_type: str = "model"
    order_effect: bool = False
    truth_attr: str | Callable = "truth"
    compare: str = "coef"

    def core(self, process, data):
        if "left" in data:
            k = process.n_items
            o = data["order"] if self.order_effect else None
            cols, vals = item_design(data["left"], data["right"], o, k, 0, False, jnp)
            design = SparseRowsDesign(cols=cols, vals=vals, p=k - 1 + self.order_effect)
            T = jnp.asarray(item_transform(k, 0, False, self.order_effect, centre=True))
        else:
            design = DenseDesign(X=data["Z"])
            T = jnp.eye(design.p)
        y = data["y"]
        W = jnp.ones_like(y)
        res = fit_core(design, W, y, jnp.zeros(design.p), jnp.zeros(design.p))
        if self.cov_type == "model":
            cov = model_cov(res.hess)
        elif self.cov_type == "robust":
            cov = sandwich_cov(res.hess, logistic_meat(design, W, y, y * y, res.x))
        else:
            raise ValueError(f"BTSim supports cov_type 'model' or 'robust'; got {self.cov_type!r}.")
        cov = reparametrize(T, cov)
        exists = mle_exists(design, W, res.x)
        return {"estimate": T @ res.x, "stderr": jnp.sqrt(jnp.diag(cov)), "converged": res.converged & exists,
                "exists": exists}


@dataclass(frozen=True)
class LoopSim(_ResolvedTruth):
    """Any estimator class, fitted replication by replication on numpy data (no vmap).

    ``make()`` returns a fresh estimator (e.g. ``functools.partial(sklearn.base.clone, est)``); it is
    fitted on ``(X, y)`` where X is the (n, 2) item indices or the (n, d) feature matrix (two-sample
    data: ``y`` with NaN on pool rows and ``ai_label=``). The estimate is ``coef_`` (``direction_``
    when there is no ``coef_``), plus ``order_effect_`` when ``order_effect``; ``stderr_`` when present.

    Existence: an estimator class checks existence itself and raises ``ValueError`` when the estimate
    does not exist (e.g. :class:`prefstat.BradleyTerry`'s beat-graph and separation checks); such a
    replication is recorded with ``exists=False``, a NaN estimate and the message in the ``fit_error``
    column. If every replication of a cell fails, the cell fails (the error is then not about one
    data set). A fitted estimator with ``decision_function`` is also held to :func:`mle_exists`'s rule
    (max |eta| < DIVERGED_ETA) when compared as coefficients.
    """

    make: Callable
    name: str = "loop"
    order_effect: bool = False
    truth_attr: str | Callable = "truth"
    compare: str = "coef"
    groups: str | None = None  # data key passed to fit as groups= (e.g. "user"), or None

    def fit(self, process, data) -> dict:
        X = np.column_stack([data["left"], data["right"]]) if "left" in data else data["Z"]
        kwargs = {"order": data["order"]} if self.order_effect and "order" in data else {}
        if "ai_label" in data:
            kwargs["ai_label"] = data["ai_label"]
        if self.groups is not None:
            kwargs["groups"] = data[self.groups]
        est = self.make()
        try:
            est.fit(X, data["y"], **kwargs)
        except ValueError as err:
            return {"estimate": None, "stderr": None, "converged": False, "exists": False, "fit_error": str(err)}
        coef = np.ravel(est.coef_ if hasattr(est, "coef_") else est.direction_)
        stderr = getattr(est, "stderr_", None)
        if self.order_effect:
            coef = np.r_[coef, est.order_effect_]
            stderr = None if stderr is None else np.r_[stderr, est.order_effect_stderr_]
        exists = bool(np.all(np.isfinite(coef)))
        if exists and self.compare == "coef" and hasattr(est, "decision_function"):
            eta = est.decision_function(X, **({"order": kwargs["order"]} if "order" in kwargs else {}))
            exists = bool(np.max(np.abs(eta), initial=0.0) < DIVERGED_ETA)
        converged = bool(getattr(est, "converged_", True)) and exists
        return {"estimate": coef, "stderr": stderr, "converged": converged, "exists": exists, "fit_error": ""}


def vmapped(estimator, process):
    """``jit(vmap(core))`` of a simulation estimator for one process."""
    return jax.jit(jax.vmap(lambda data: estimator.core(process, data)))


# ---------------------------------------------------------------------------- AI-judge correction
# Adapters for two-sample processes (BiasedJudge: data keys Z, y (NaN on pool rows), ai_label,
# is_human, w_true, g); run them with Study(..., pool_ratio=...). The truth is the oracle BT fit
# on the pool law.
#
# In BiasedJudge the judge label A and the human label Z are independent given z, so once the BT
# model sees all of z, A carries no information about the individual human label and power tuning
# has nothing to gain (its lambda tends to 0). Real judges read the content, which the features
# summarise only in part. ``hidden`` models that: the last ``hidden`` coordinates of z drive both
# the humans and the judge but are withheld from the fitted model, which uses the first
# d - hidden columns. The target is then the oracle BT fit on the observed columns, which
# :func:`observed_oracle_bt` computes exactly for the probit link.


def observed_oracle_bt(process, hidden: int) -> np.ndarray:
    """Oracle BT on the first d - hidden features of a probit :class:`BiasedJudge` with hidden coordinates.

    With z_h ~ N(0, s^2 I) independent of the observed z_o in both samples and no disagreement along
    z_h, E[Phi(b_o^T z_o + b_h^T z_h) | z_o] = Phi(b_o^T z_o / c), c = sqrt(1 + s^2 ||b_h||^2) (a normal
    mixture of probits is a probit), and likewise for beta +- delta. So the humans' preference given
    the observed features is that of a BiasedJudge with (beta_o, delta_o) / c on d - hidden features,
    whose exact ``oracle_bt`` is the target.
    """
    if hidden == 0:
        return np.asarray(process.oracle_bt)
    d = process.d
    if process.link != "probit" or not 0 < hidden < d:
        raise ValueError("hidden features need the probit link and 0 < hidden < d.")
    h = slice(d - hidden, d)
    if any(np.asarray(v)[h].any() for v in (process.pool_mean, process.human_mean, process.disagreement)):
        raise ValueError("hidden coordinates must have mean 0 in both samples and no disagreement.")
    beta, delta = np.asarray(process.beta_true), np.asarray(process.disagreement)
    c = np.sqrt(1.0 + process.z_scale**2 * np.sum(beta[h] ** 2))
    o = slice(0, d - hidden)
    reduced = dataclasses.replace(
        process, beta_true=tuple(beta[o] / c), disagreement=tuple(delta[o] / c),
        pool_mean=tuple(process.pool_mean[o]), human_mean=tuple(process.human_mean[o]), tilt=0.0, tilt_feature=0)
    return np.asarray(reduced.oracle_bt)


def _observed(data, hidden: int):
    Z = data["Z"]
    return Z[:, : Z.shape[1] - hidden]


@dataclass(frozen=True)
class DebiasedSim:
    """:class:`prefstat.DebiasedBradleyTerry`'s pure core (``fit_core``) on a stacked two-sample table.

    ``lam``: "auto" (PPI++), or a number in [0, 1] (1: DDPO correction; 0: human-only).
    ``weights``: "none" (every density ratio 1: no shift assumed; under a real shift this is the
    negative control), "known" (the process's true ratio ``w_true``), or "classifier" (the built-in
    cross-fitted logistic regression on (1, z), folds by row index mod ``n_folds``, which is
    stratified by sample because the rows are i.i.d. within each sample). ``hidden``: number of
    trailing coordinates of z withheld from the model (see :func:`observed_oracle_bt`).

    Extra result columns: ``lam`` (the lambda used) and ``n_eff`` (effective human labels,
    n_human x tr V(human-only) / tr V, as ``DebiasedBradleyTerry.n_eff_``).
    """

    name: str = "PPI++"
    lam: float | str = "auto"
    weights: str = "none"
    n_folds: int = 5
    hidden: int = 0
    compare: str = "coef"

    def truth(self, process) -> np.ndarray:
        return observed_oracle_bt(process, self.hidden)

    def core(self, process, data):
        if self.weights not in ("none", "known", "classifier"):
            raise ValueError(f"weights must be 'none', 'known' or 'classifier'; got {self.weights!r}.")
        Z = _observed(data, self.hidden)
        m = Z.shape[0]
        w = jnp.where(data["is_human"], data["w_true"], 1.0) if self.weights == "known" else jnp.ones(m)
        n_folds = self.n_folds if self.weights == "classifier" else 0
        F = jnp.column_stack([jnp.ones(m), Z]) if n_folds else jnp.zeros((m, 0))
        res = debiased_core(DenseDesign(X=Z), jnp.nan_to_num(data["y"]), data["ai_label"], data["is_human"],
                            jnp.ones(m), w, 0.0 if self.lam == "auto" else float(self.lam), F,
                            jnp.arange(m) % max(n_folds, 1), tune=self.lam == "auto",
                            pooled_tuning=self.weights == "none", n_folds=n_folds)
        exists = mle_exists(DenseDesign(X=Z), jnp.ones(m), res.theta)
        n_human = jnp.sum(data["is_human"])
        return {"estimate": res.theta, "stderr": jnp.sqrt(jnp.diag(res.cov)),
                "converged": res.converged & res.ratio_converged & exists, "exists": exists,
                "lam": res.lam, "n_eff": n_human * jnp.trace(res.cov_human) / jnp.trace(res.cov)}


@dataclass(frozen=True)
class JudgeBaselineSim:
    """Baselines on a two-sample table, each a Bradley-Terry fit (``fit_core``) with robust (HC0) SEs.

    ``kind``: "ai-only" (pool rows, judge labels: consistent for the judge, not the humans);
    "naive" (every row, the human label where there is one, else the judge's); "oracle" (pool
    rows with the humans' preference probability g(z) as a soft label: simulation only, since g
    is unknown in practice; without label noise its spread is a floor, smaller than that of a
    human-labelled pool of the same size). ``hidden`` as in :class:`DebiasedSim`.
    """

    name: str = "AI-only"
    kind: str = "ai-only"
    hidden: int = 0
    compare: str = "coef"

    def truth(self, process) -> np.ndarray:
        return observed_oracle_bt(process, self.hidden)

    def core(self, process, data):
        human = data["is_human"]
        Z = _observed(data, self.hidden)
        pool = (~human).astype(Z.dtype)
        if self.kind == "ai-only":
            W, y = pool, data["ai_label"]
        elif self.kind == "naive":
            W, y = jnp.ones_like(pool), jnp.where(human, data["y"], data["ai_label"])
        elif self.kind == "oracle":
            W, y = pool, data["g"]
        else:
            raise ValueError(f"kind must be 'ai-only', 'naive' or 'oracle'; got {self.kind!r}.")
        design = DenseDesign(X=Z)
        WY = W * y
        res = fit_core(design, W, WY, jnp.zeros(design.p), jnp.zeros(design.p))
        cov = sandwich_cov(res.hess, logistic_meat(design, W, WY, WY * y, res.x))
        exists = mle_exists(design, W, res.x)
        return {"estimate": res.x, "stderr": jnp.sqrt(jnp.diag(cov)), "converged": res.converged & exists,
                "exists": exists}


@dataclass(frozen=True)
class SignSim(_ResolvedTruth):
    """Sign estimator (:func:`prefstat.models.sign.fit_core`, the core of :class:`prefstat.SignEstimator`).

    Compared as a direction with ``truth_attr`` (``"direction"``: beta_bar /
    ||beta_bar||; ``"sign_limit"`` for the negative control). ``method`` is
    ``"smoothed"`` (with ``bandwidth`` ``"horowitz"`` or ``"cube-root"``) or
    ``"exact"`` (d <= 2). The random starts use the fixed key
    ``seed`` in every replication (they only steer the optimiser; the data
    differ). With ``n_subsamples > 0`` the core also returns ``cone_radius``
    (degrees) and ``intervals`` (d, 2) at ``level`` from subsamples of size
    m = ceil(n^(2/3)), exactly as ``SignEstimator.conf_cone`` / ``conf_int``
    (the subsample index sets are drawn in JAX from ``seed``).
    """

    name: str = "sign"
    method: str = "smoothed"
    bandwidth: str = "horowitz"
    n_starts: int = 3
    n_bandwidths: int = 6
    tol: float = 1e-5
    max_iter: int = 200
    n_subsamples: int = 0
    level: float = 0.95
    seed: int = 0
    truth_attr: str | Callable = "direction"
    compare: str = "direction"

    def _fit(self, Z, y, key):
        w = jnp.ones_like(y)
        if self.method == "exact":
            return sign_exact_core(Z, y, w)
        return sign_fit_core(DenseDesign(X=Z), y, w, key, n_starts=self.n_starts, n_bandwidths=self.n_bandwidths,
                             gtol=self.tol, max_iter=self.max_iter, bandwidth=self.bandwidth)

    def core(self, process, data):
        Z, y = data["Z"], data["y"]
        key_fit, key_idx, key_sub = jax.random.split(jax.random.PRNGKey(self.seed), 3)
        res = self._fit(Z, y, key_fit)
        # the maximum score has a maximiser on the unit sphere for every data set: it always exists
        out = {"estimate": res.direction, "stderr": None, "converged": res.converged, "exists": jnp.asarray(True)}
        if self.n_subsamples:
            n = y.shape[0]
            m = subsample_size(n)
            idx = jax.vmap(lambda k: jax.random.choice(k, n, (m,), replace=False))(
                jax.random.split(key_idx, self.n_subsamples))
            dirs = jax.vmap(lambda rows, k: self._fit(Z[rows], y[rows], k).direction)(
                idx, jax.random.split(key_sub, self.n_subsamples))
            rate, correct = (SIGN_RATE, False) if self.method == "exact" else SIGN_CALIBRATION[self.bandwidth]
            out["cone_radius"], out["intervals"] = subsampling_cone(res.direction, dirs, n, m, self.level, rate, correct)
        return out


@dataclass(frozen=True)
class LatentClassSim(_ResolvedTruth):
    """Latent-class BT by EM (:func:`prefstat.models.latent_class.fit_core`), compared as a direction.

    The estimate is the direction of sum_k pi_k beta_k. User ids come from the
    data's ``user`` column (:class:`HeterogeneousUsers`): with ``n_users=None``
    every row has its own user, so the panel has length one and the model is the
    cross-sectional latent-class logit. The EM starts use the fixed key ``seed``.
    """

    name: str = "LatentClassBT"
    n_classes: int = 3
    n_init: int = 4
    tol: float = 1e-6
    max_iter: int = 1000
    seed: int = 0
    truth_attr: str | Callable = "direction"
    compare: str = "direction"

    def core(self, process, data):
        Z, y = data["Z"], data["y"]
        n_users = getattr(process, "n_users", None) or y.shape[0]
        res = latent_class_core(DenseDesign(X=Z), y, jnp.ones_like(y), data["user"], jax.random.PRNGKey(self.seed),
                                n_users=n_users, n_classes=self.n_classes, n_init=self.n_init, tol=self.tol,
                                max_iter=self.max_iter)
        # the EM's own flag already requires every class to stay below DIVERGED_ETA; reported separately here
        exists = mle_exists(DenseDesign(X=Z), jnp.ones_like(y), res.coef)
        return {"estimate": res.direction, "stderr": None, "converged": res.converged & exists, "exists": exists}


# ---------------------------------------------------------------------------- plain estimator instances

def half_win_abilities(process) -> np.ndarray:
    """Abilities of :attr:`HomogeneousBT.half_win_truth` (the target of a BT fit without an order column
    when the process has no order effect: by the symmetry of the pair law the order coefficient is 0)."""
    return np.asarray(process.half_win_truth[0])


def estimator_name(estimator) -> str:
    """The estimator's scikit-learn repr on one line, e.g. ``BradleyTerry(cov_type='robust')``."""
    return " ".join(repr(estimator).split())


def _seed(random_state):
    if random_state is None:
        return 0
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool):
        return int(random_state)
    return None  # a RandomState / Generator: only the estimator class can use it


def adapter_for(estimator, process, name: str | None = None):
    """The simulation adapter of a plain prefstat estimator instance, for this process.

    Vmapped adapters where the mapping is exact (same core, same options):

    * :class:`prefstat.BradleyTerry` with ``cov_type`` "model" or "robust", no penalty, no
      ``reference`` (sum-to-zero abilities) and default solver options -> :class:`BTSim` (same
      ``cov_type`` and ``order_effect``);
    * :class:`prefstat.SignEstimator` with the default subsample size and an int (or None) seed ->
      :class:`SignSim` (its options; ``n_subsamples`` > 0 adds ``cone_radius`` and ``intervals``);
    * :class:`prefstat.LatentClassBT` without a penalty -> :class:`LatentClassSim`;
    * :class:`prefstat.DebiasedBradleyTerry` with no density ratio, no classifier, no reference or
      order effect, robust SEs and default solver options -> :class:`DebiasedSim` (``weights="none"``).

    ``random_state`` (an int; None means 0) becomes the fixed key of the random starts, the same in
    every replication (the data differ). Every other instance is fitted in a loop by :class:`LoopSim`
    on a fresh ``sklearn.base.clone`` per replication.

    The truth follows from the process: item-level BT is compared with ``half_win_truth`` (abilities
    and, with ``order_effect``, the home advantage); feature-level BT with ``truth``; on
    :class:`~prefstat.simulate.HeterogeneousUsers` and for the direction estimators (sign,
    latent-class) the comparison is by direction; the debiased estimator targets ``oracle_bt``.
    Combinations without a defined target raise ``ValueError``.
    """
    from sklearn.base import clone

    from ..models import BradleyTerry, DavidsonBradleyTerry, DebiasedBradleyTerry, LatentClassBT, SignEstimator
    from .processes import BiasedJudge, FeatureBT, HeterogeneousUsers, HomogeneousBT

    name = name or estimator_name(estimator)
    make = functools.partial(clone, estimator)
    kind = type(process).__name__
    p = estimator.get_params()

    if isinstance(estimator, DebiasedBradleyTerry):
        if not isinstance(process, BiasedJudge):
            raise ValueError(f"{name} needs a two-sample process (BiasedJudge); got {kind}.")
        clean = (p["density_ratio"] is None and p["classifier"] is None and p["reference"] is None
                 and not p["order_effect"] and p["cov_type"] == "robust" and p["design"] == "auto"
                 and p["tol"] == 1e-12 and p["max_iter"] == 100)
        if clean:
            return DebiasedSim(name=name, lam=p["lam"], weights="none")
        return LoopSim(make=make, name=name, order_effect=bool(p["order_effect"]), truth_attr="oracle_bt")

    if isinstance(estimator, (SignEstimator, LatentClassBT)):
        if isinstance(process, (HomogeneousBT, BiasedJudge)) or not hasattr(process, "sample"):
            raise ValueError(f"{name} estimates a direction from feature data; {kind} has no direction to "
                             "compare with (use HeterogeneousUsers or FeatureBT).")
        seed = _seed(p["random_state"])
        if isinstance(estimator, SignEstimator):
            if p["subsample_size"] is None and seed is not None:
                return SignSim(name=name, method=p["method"], bandwidth=p["bandwidth"], n_starts=p["n_starts"],
                               n_bandwidths=p["n_bandwidths"], tol=p["tol"], max_iter=p["max_iter"],
                               n_subsamples=p["n_subsamples"], seed=seed, truth_attr="truth")
        elif not isinstance(process, HeterogeneousUsers):
            raise ValueError(f"{name} needs user ids (HeterogeneousUsers data); {kind} has none.")
        elif p["alpha"] == 0 and seed is not None:
            return LatentClassSim(name=name, n_classes=p["n_classes"], n_init=p["n_init"], tol=p["tol"],
                                  max_iter=p["max_iter"], seed=seed, truth_attr="truth")
        groups = "user" if isinstance(estimator, LatentClassBT) else None
        return LoopSim(make=make, name=name, truth_attr="truth", compare="direction", groups=groups)

    if isinstance(estimator, BradleyTerry):  # DavidsonBradleyTerry included
        order = bool(p["order_effect"])
        if isinstance(process, HeterogeneousUsers):
            truth, compare = "direction", "direction"
        elif isinstance(process, FeatureBT):
            truth, compare = "truth", "coef"
        elif isinstance(process, HomogeneousBT):
            if isinstance(estimator, DavidsonBradleyTerry):
                raise ValueError(f"{name}: HomogeneousBT states no truth for the Davidson fit's tie parameter; "
                                 "wrap it in LoopSim with a truth_attr callable.")
            if not order and process.order_effect != 0:
                raise ValueError(f"{kind} has an order effect ({process.order_effect}) that {name} does not model, "
                                 "so its target is not the process's abilities; use order_effect=True.")
            truth, compare = ("half_win_truth" if order else half_win_abilities), "coef"
        else:
            raise ValueError(f"{name} is not defined for {kind} data (two-sample processes need "
                             "DebiasedBradleyTerry or JudgeBaselineSim).")
        clean = (type(estimator) is BradleyTerry and p["cov_type"] in ("model", "robust") and p["alpha"] == 0
                 and p["reference"] is None and p["solver"] in ("auto", "newton") and p["tol"] in (None, 1e-12)
                 and p["max_iter"] in (None, 100))
        if clean:
            return BTSim(name=name, cov_type=p["cov_type"], order_effect=order, truth_attr=truth, compare=compare)
        groups = "user" if p["cov_type"] == "cluster" else None
        return LoopSim(make=make, name=name, order_effect=order, truth_attr=truth, compare=compare, groups=groups)

    raise ValueError(f"no simulation adapter for {type(estimator).__name__}: pass an adapter (BTSim, LoopSim, ...) "
                     "or a prefstat estimator (BradleyTerry, SignEstimator, LatentClassBT, DebiasedBradleyTerry).")
