"""Angles between directions, shared by the direction estimators and the simulation reports.

The angle is computed as ``atan2(|a - (a.b) b|, a.b)`` on unit vectors: unlike
``arccos(a.b)``, whose derivative blows up at 1, it keeps full relative accuracy
for nearly parallel vectors (an error of 1e-8 degrees is still resolved).
"""
from __future__ import annotations

import numpy as np

__all__ = ["angle_degrees", "angles_degrees"]


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
