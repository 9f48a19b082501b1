"""The shared inference layer: estimating-equation pieces -> covariances -> intervals.

Every regular prefstat estimator is a Z-estimator: it solves
``sum_i psi_i(theta) = 0``. It hands this module

* the *bread* ``A = -d/dtheta sum_i psi_i`` (for an MLE, the observed information),
* the *meat* ``B = sum_i psi_i psi_i^T`` (row-level, frequency weights counted), and/or
* the *cluster scores* ``S_g = sum_{i in g} psi_i`` (one row per cluster),
* or bootstrap draws of the estimate,

and gets back a covariance (model-based ``A^-1``, robust ``A^-1 B A^-1``,
cluster-robust ``c A^-1 (sum_g S_g S_g^T) A^-1``, bootstrap) in the
parametrisation it reports, via :func:`reparametrize`. Estimators never
re-implement any of this. The covariance functions are written with
``jax.numpy``: the estimator classes call them on host arrays, and the
simulation engine calls the same functions inside ``vmap``.

References: Huber (1967); White (1980); Liang & Zeger (1986); the cluster
small-sample factor is the one statsmodels applies by default
(``use_correction=True``): ``c = G/(G-1) * (N-1)/(N-p)``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import jax.numpy as jnp
import numpy as np
import pandas as pd
from scipy import stats

from ._x64 import x64

__all__ = [
    "COV_TYPES",
    "Inference",
    "model_cov",
    "sandwich_cov",
    "cluster_cov",
    "bootstrap_cov",
    "reparametrize",
    "wald_interval",
    "percentile_interval",
    "coef_table",
]

COV_TYPES = ("model", "robust", "cluster", "bootstrap")


def _inv(bread):
    # Symmetrise before inverting: the bread of an MLE is symmetric up to rounding.
    bread = 0.5 * (bread + bread.T)
    return jnp.linalg.inv(bread)


def model_cov(bread):
    """Inverse information ``A^-1`` (valid when the model is correctly specified)."""
    return _inv(jnp.asarray(bread))


def sandwich_cov(bread, meat):
    """Huber-White sandwich ``A^-1 B A^-1`` (HC0)."""
    a_inv = _inv(jnp.asarray(bread))
    cov = a_inv @ jnp.asarray(meat) @ a_inv.T
    return 0.5 * (cov + cov.T)


def cluster_cov(bread, group_scores, n_obs, correction: bool = True):
    """Cluster-robust sandwich with statsmodels' small-sample factor.

    ``group_scores`` is (G, p): the summed estimating function of each cluster.
    ``n_obs`` is the number of observations (sum of frequency weights).
    """
    S = jnp.asarray(group_scores)
    n_groups, p = S.shape
    if n_groups < 2:
        raise ValueError("cluster-robust standard errors need at least two groups; 'groups' has only one.")
    cov = sandwich_cov(bread, S.T @ S)
    if correction:
        cov = cov * (n_groups / (n_groups - 1.0)) * ((n_obs - 1.0) / (n_obs - p))
    return cov


def bootstrap_cov(draws: np.ndarray) -> np.ndarray:
    """Sample covariance of bootstrap draws (B, p)."""
    return np.atleast_2d(np.cov(np.asarray(draws, np.float64), rowvar=False, ddof=1))


def reparametrize(T, cov):
    """Covariance of ``T theta`` given that of ``theta`` (delta method for a linear map)."""
    out = T @ cov @ T.T
    return 0.5 * (out + out.T)


def _z(level: float) -> float:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be strictly between 0 and 1; got {level!r}.")
    return float(stats.norm.ppf(0.5 + level / 2.0))


def wald_interval(estimate: np.ndarray, stderr: np.ndarray, level: float = 0.95) -> np.ndarray:
    """Normal-theory interval ``estimate -+ z_{(1+level)/2} stderr`` as a (k, 2) array."""
    z = _z(level)
    est, se = np.asarray(estimate, np.float64), np.asarray(stderr, np.float64)
    return np.column_stack([est - z * se, est + z * se])


def percentile_interval(draws: np.ndarray, level: float = 0.95) -> np.ndarray:
    """Bootstrap percentile interval from draws (B, k), as a (k, 2) array."""
    _z(level)
    lo, hi = np.quantile(np.asarray(draws, np.float64), [0.5 - level / 2.0, 0.5 + level / 2.0], axis=0)
    return np.column_stack([lo, hi])


def coef_table(names, estimate, stderr, level: float = 0.95, interval: np.ndarray | None = None) -> pd.DataFrame:
    """statsmodels-style coefficient table: estimate, stderr, z, p-value, interval."""
    est, se = np.asarray(estimate, np.float64), np.asarray(stderr, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = est / se
    ci = wald_interval(est, se, level) if interval is None else interval
    lo_name, hi_name = f"lower {level:.3g}", f"upper {level:.3g}"
    return pd.DataFrame(
        {"estimate": est, "stderr": se, "z": z, "p_value": 2.0 * stats.norm.sf(np.abs(z)),
         lo_name: ci[:, 0], hi_name: ci[:, 1]},
        index=pd.Index(names, name="parameter"),
    )


@dataclass(frozen=True)
class Inference:
    """Covariance of a fitted Z-estimator in its reporting parametrisation.

    ``T`` maps the free (fitted) parameters to the reported ones; ``draws``
    are bootstrap draws already in the reported parametrisation. ``reparam``,
    when given, computes ``T V T^T`` from ``V`` more cheaply than the dense
    products (e.g. padding and centring item abilities in O(k^2)).
    """

    bread: np.ndarray
    T: np.ndarray
    n_obs: float
    meat: np.ndarray | None = None
    group_scores: np.ndarray | None = None
    draws: np.ndarray | None = None
    reparam: Callable | None = None

    def _reported(self, cov):
        return self.reparam(np.asarray(cov)) if self.reparam is not None else reparametrize(self.T, cov)

    @x64
    def cov(self, cov_type: str) -> np.ndarray:
        if cov_type == "model":
            cov = self._reported(model_cov(self.bread))
        elif cov_type == "robust":
            cov = self._reported(sandwich_cov(self.bread, self.meat))
        elif cov_type == "cluster":
            if self.group_scores is None:
                raise ValueError("cov_type='cluster' needs groups: pass groups= to fit (or a table with a group column).")
            if self.n_obs <= self.T.shape[1]:
                raise ValueError(f"the cluster correction needs more observations ({self.n_obs:g}) than "
                                 f"parameters ({self.T.shape[1]}).")
            cov = self._reported(cluster_cov(self.bread, self.group_scores, self.n_obs))
        elif cov_type == "bootstrap":
            cov = bootstrap_cov(self.draws)
        else:
            raise ValueError(f"cov_type must be one of {COV_TYPES}; got {cov_type!r}.")
        return np.asarray(cov, np.float64)


# ---------------------------------------------------------------------------- subsampling
# Non-regular estimators (the cube-root sign estimator) get their intervals from subsampling
# (Politis & Romano 1994; Politis, Romano & Wolf 1999): refit on B subsamples of size m drawn
# WITHOUT replacement; the law of tau_m (theta_m - theta_n) estimates that of tau_n (theta_n - theta)
# whenever tau_n (theta_n - theta) has a continuous limit law, m -> infinity and m / n -> 0. With
# tau_n = n^rate, the quantiles of the subsample deviations are rescaled by (m / n)^rate. (The naive
# bootstrap, m = n with replacement, is inconsistent at the cube-root rate: Abrevaya & Huang 2005.)
__all__ += ["subsample_size", "subsample_indices", "subsampling_radius"]


def subsample_size(n: int, exponent: float = 2.0 / 3.0) -> int:
    """Subsample size rule ``m = ceil(n^exponent)``, kept in ``[2, n - 1]``.

    The default 2/3 is the rule for cube-root estimators (METHODS.md section 2):
    m grows and m/n = n^(-1/3) vanishes, as subsampling requires.
    """
    if n < 3:
        raise ValueError(f"subsampling needs at least 3 observations; got {n}.")
    return int(min(max(np.ceil(n**exponent), 2), n - 1))


def subsample_indices(rng: np.random.Generator, n: int, m: int, n_subsamples: int) -> np.ndarray:
    """(n_subsamples, m) indices into ``range(n)``: each row a subsample drawn without replacement."""
    return np.stack([rng.choice(n, size=m, replace=False) for _ in range(n_subsamples)])


def subsampling_radius(distances, n: float, m: float, level: float = 0.95, rate: float = 1.0 / 3.0):
    """Radius ``(m/n)^rate * q_level(d_j)`` of a symmetric confidence region around the estimate.

    ``distances`` are d(theta_m^(j), theta_n) >= 0 for the B subsample estimates:
    a (B,) array (e.g. angles: the radius of a ball or cone) or a (B, k) array of
    absolute deviations per coordinate (one radius per column: symmetric
    intervals ``theta_n -+ radius``). Symmetric rather than equal-tailed: the
    equal-tailed interval reflects the subsample deviations, so a finite-sample
    bias that shrinks faster than the n^-rate spread (as the maximum score
    estimator's does) is over-corrected. jax.numpy: traceable, so simulation
    cores call it inside ``vmap``.
    """
    _z(level)
    return (m / n) ** rate * jnp.quantile(jnp.asarray(distances), level, axis=0)
