"""Angles between directions, shared by the direction estimators and the simulation reports.

The angle is computed as ``atan2(|a - (a.b) b|, a.b)`` on unit vectors: unlike
``arccos(a.b)``, whose derivative blows up at 1, it keeps full relative accuracy
for nearly parallel vectors (an error of 1e-8 degrees is still resolved).
"""
from __future__ import annotations

import numpy as np
from scipy import integrate, optimize, stats

__all__ = ["angle_degrees", "angles_degrees", "gaussian_cone_radius"]


def angle_degrees(a, b) -> float:
    """Angle between two vectors in degrees, in [0, 180]."""
    return float(angles_degrees(np.asarray(a)[None, :], b)[0])


def angles_degrees(A, b) -> np.ndarray:
    """Angle in degrees between each row of ``A`` (m, d) and the vector ``b`` (d,)."""
    A = np.asarray(A, np.float64)
    A = A / np.linalg.norm(A, axis=1, keepdims=True)
    b = np.asarray(b, np.float64)
    b = b / np.linalg.norm(b)
    cos = A @ b
    sin = np.linalg.norm(A - cos[:, None] * b[None, :], axis=1)
    return np.degrees(np.arctan2(sin, cos))


def gaussian_cone_radius(cov_direction, level: float = 0.95) -> float:
    """Radius in degrees of the ``level`` confidence cone of a unit-vector estimate with normal errors.

    ``cov_direction`` (d, d) is the delta-method covariance of the estimated unit
    vector (rank d - 1: it lives in the tangent plane). To first order the angle
    to the truth is |t|, t ~ N(0, cov_direction), and |t|^2 = sum_j lambda_j X_j^2
    (lambda the eigenvalues, X_j iid N(0, 1)); its ``level`` quantile is found
    exactly by Imhof's (1961) inversion formula
    P(Q > x) = 1/2 + (1/pi) int_0^inf sin(theta(u)) / (u rho(u)) du and a root search.
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be strictly between 0 and 1; got {level!r}.")
    lam = np.linalg.eigvalsh(0.5 * (np.asarray(cov_direction, np.float64) + np.asarray(cov_direction).T))
    top = lam.max(initial=0.0)
    if not np.isfinite(top):
        raise ValueError("the covariance of the direction is not finite.")
    if top <= 0:
        return 0.0
    lam = lam[lam > 1e-12 * top] / top  # scale-free: the radius scales with sqrt(top)
    if lam.size == 1:
        return float(np.degrees(np.sqrt(top) * stats.norm.ppf(0.5 + level / 2.0)))

    def upper_tail(x):
        # theta(u) = A(u) - x u / 2 with A(u) = sum_j arctan(lambda_j u) / 2; on [1, inf) the
        # oscillating factor is handed to QUADPACK's Fourier-integral routine (QAWF) by
        # sin(A - xu/2) = sin A cos(xu/2) - cos A sin(xu/2)
        def amp(u):
            return 0.5 * np.sum(np.arctan(lam * u)), u * np.prod((1.0 + (lam * u) ** 2) ** 0.25)

        def full(u):
            a, r = amp(u)
            return np.sin(a - 0.5 * x * u) / r if u > 0 else 0.5 * (lam.sum() - x)

        head = integrate.quad(full, 0.0, 1.0)[0]
        cos_part = integrate.quad(lambda u: np.sin(amp(u)[0]) / amp(u)[1], 1.0, np.inf, weight="cos", wvar=0.5 * x)[0]
        sin_part = integrate.quad(lambda u: np.cos(amp(u)[0]) / amp(u)[1], 1.0, np.inf, weight="sin", wvar=0.5 * x)[0]
        return 0.5 + (head + cos_part - sin_part) / np.pi

    # lambda_max = 1 >= every lambda_j: the quantile lies between those of X_1^2 and of chi2_k
    lo, hi = stats.chi2.ppf(level, 1), stats.chi2.ppf(level, lam.size)
    x = optimize.brentq(lambda x: (1.0 - upper_tail(x)) - level, 0.999 * lo, 1.001 * hi, xtol=1e-12)
    return float(np.degrees(np.sqrt(x * top)))
