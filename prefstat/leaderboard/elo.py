r"""Elo-scale ratings: a linear transform of Bradley-Terry abilities, with its covariance.

Arena leaderboards report :math:`R_i = c\,\theta_i + \text{offset}` with
:math:`c = \text{scale} / \ln(\text{base})` (scale 400, base 10: a 400-point
gap is 10:1 odds, :math:`P(i \succ j) = 1/(1 + 10^{-(R_i - R_j)/400})`).
Abilities are identified only up to a constant, so the offset is fixed by an
anchor:

* ``anchor_model=None``: the mean rating is ``anchor`` (default 1000),
  :math:`R = c\,C\theta + \text{anchor}` with :math:`C = I - 11^\top/k`;
* ``anchor_model=m``: model m has rating ``anchor`` exactly,
  :math:`R_i = c(\theta_i - \theta_m) + \text{anchor}`.

Both are ``R = A theta + offset`` with a known matrix ``A``, so the covariance
is exactly :math:`A V A^\top` (no approximation). Under a model anchor each
rating's variance is that of the *contrast* :math:`\theta_i - \theta_m`
(:math:`V_{ii} + V_{mm} - 2V_{im}`) and the anchor's own rating has variance 0:
its interval is the single point ``anchor``. Differences of ratings, and
therefore rank sets and pairwise tests, do not depend on the anchor.
"""
from __future__ import annotations

import numpy as np

from ..inference import reparametrize

__all__ = ["elo_factor", "elo_matrix", "elo_transform"]


def elo_factor(scale: float = 400.0, base: float = 10.0) -> float:
    """Rating points per unit of log-odds ability: ``scale / ln(base)`` (173.7 for 400, 10)."""
    if not (np.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a positive number; got {scale!r}.")
    if not (np.isfinite(base) and base > 1):
        raise ValueError(f"base must be a number greater than 1; got {base!r}.")
    return float(scale / np.log(base))


def elo_matrix(names, scale: float = 400.0, base: float = 10.0, anchor_model=None) -> np.ndarray:
    """The (k, k) matrix ``A`` of ``R = A theta + anchor`` (see the module docstring)."""
    names = list(names)
    k = len(names)
    c = elo_factor(scale, base)
    if anchor_model is None:
        return c * (np.eye(k) - 1.0 / k)
    hits = [i for i, n in enumerate(names) if n == anchor_model or str(n) == str(anchor_model)]
    if not hits:
        raise ValueError(f"anchor_model {anchor_model!r} is not one of the models "
                         f"({', '.join(map(str, names[:8]))}{' ...' if k > 8 else ''}).")
    A = np.eye(k)
    A[:, hits[0]] -= 1.0
    return c * A


def elo_transform(theta, cov, names, scale: float = 400.0, base: float = 10.0, anchor: float = 1000.0,
                  anchor_model=None) -> tuple[np.ndarray, np.ndarray]:
    """Ratings and their covariance ``(A theta + anchor, A V A^T)`` for abilities ``theta`` with covariance ``cov``."""
    if not np.isfinite(anchor):
        raise ValueError(f"anchor must be a finite rating; got {anchor!r}.")
    A = elo_matrix(names, scale, base, anchor_model)
    theta = np.asarray(theta, np.float64)
    return A @ theta + float(anchor), np.asarray(reparametrize(A, np.asarray(cov, np.float64)))
