"""Estimators as the simulation engine sees them.

A simulation estimator turns one sampled data set (the dict returned by a
process's ``sample``) into ``{"estimate", "stderr", "converged"}``. It has

* ``core(process, data)``: a pure JAX function the :class:`~prefstat.simulate.Study`
  runner ``jit(vmap(...))``s over replications, or ``None``; and
* ``fit(process, data)``: the host fallback on numpy data (used when ``core``
  is None), e.g. a scikit-learn or statsmodels fit in a Python loop;
* ``truth(process)``: the value the estimate is compared with;
* ``compare``: ``"coef"`` (Euclidean error) or ``"direction"`` (both sides
  normalised to unit length; the angle is the error).

:class:`BTSim` runs the same pure core as :class:`prefstat.BradleyTerry`
(``fit_core`` plus the shared inference layer), so simulation results are
the numbers the estimator class would give. :class:`LoopSim` wraps any
estimator class with ``fit`` / ``coef_`` / ``stderr_``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from ..design import DenseDesign, SparseRowsDesign
from ..inference import model_cov, reparametrize, sandwich_cov
from ..models.bradley_terry import _robust_meat, fit_core, item_design, item_transform

__all__ = ["BTSim", "LoopSim", "resolve_truth"]


def resolve_truth(process, truth) -> np.ndarray:
    """``truth`` is an attribute name of the process (a tuple value is concatenated) or a callable."""
    value = truth(process) if callable(truth) else getattr(process, truth)
    if isinstance(value, tuple):
        value = np.concatenate([np.atleast_1d(np.asarray(v, np.float64)) for v in value])
    return np.asarray(value, np.float64)


@dataclass(frozen=True)
class BTSim:
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

    def truth(self, process) -> np.ndarray:
        return resolve_truth(process, self.truth_attr)

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
            cov = sandwich_cov(res.hess, _robust_meat(design, W, y, y * y, res.x))
        else:
            raise ValueError(f"BTSim supports cov_type 'model' or 'robust'; got {self.cov_type!r}.")
        cov = reparametrize(T, cov)
        return {"estimate": T @ res.x, "stderr": jnp.sqrt(jnp.diag(cov)), "converged": res.converged}

    fit = None


@dataclass(frozen=True)
class LoopSim:
    """Any estimator class, fitted replication by replication on numpy data (no vmap).

    ``make()`` returns a fresh estimator; it is fitted on ``(X, y)`` where X is
    the (n, 2) item indices or the (n, d) feature matrix. The estimate is
    ``coef_`` (plus ``order_effect_`` when ``order_effect``); ``stderr_`` when present.
    """

    make: Callable
    name: str = "loop"
    order_effect: bool = False
    truth_attr: str | Callable = "truth"
    compare: str = "coef"
    core = None

    def truth(self, process) -> np.ndarray:
        return resolve_truth(process, self.truth_attr)

    def fit(self, process, data) -> dict:
        X = np.column_stack([data["left"], data["right"]]) if "left" in data else data["Z"]
        kwargs = {"order": data["order"]} if self.order_effect and "order" in data else {}
        est = self.make().fit(X, data["y"], **kwargs)
        coef = np.ravel(est.coef_)
        stderr = getattr(est, "stderr_", None)
        if self.order_effect:
            coef = np.r_[coef, est.order_effect_]
            stderr = None if stderr is None else np.r_[stderr, est.order_effect_stderr_]
        return {"estimate": coef, "stderr": stderr, "converged": bool(getattr(est, "converged_", True))}


def vmapped(estimator, process):
    """``jit(vmap(core))`` of a simulation estimator for one process."""
    return jax.jit(jax.vmap(lambda data: estimator.core(process, data)))
