r"""Overlap diagnostics of importance (density-ratio) weights, and the warning they trigger.

Weighting the human sample by :math:`w = dP_{pool}/dP_{human}` rests on
overlap: every kind of pair in the pool must also occur among the human rows.
When it barely does, a few rows carry most of the weight and the weighted
estimate has the precision of those few rows. Three summaries, on units with
frequency weights :math:`f` (a row of weight 3 is three units):

* Kish's effective sample size :math:`(\sum f w)^2 / \sum f w^2` (Kish 1965),
  equal to :math:`\sum f` for equal weights;
* the largest weight;
* the share of the total weight :math:`\sum f w` held by the 1% of units with
  the largest weights (fractional units at the boundary).

Weights are never clipped; :func:`warn_poor_overlap` raises
:class:`PoorOverlapWarning` when the effective size is below a fifth of the
sample. See ``docs/methods.md`` (density ratios, overlap).
"""
from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np

__all__ = ["PoorOverlapWarning", "POOR_OVERLAP_SHARE", "WeightDiagnostics", "kish_ess", "top_share",
           "weight_diagnostics", "warn_poor_overlap"]

# Overlap is called poor when Kish's effective size is below this share of the (weighted) sample size.
POOR_OVERLAP_SHARE = 0.2


class PoorOverlapWarning(UserWarning):
    """The density-ratio weights concentrate on few human rows (low effective sample size)."""


class WeightDiagnostics(NamedTuple):
    ess: float  # Kish effective sample size
    max: float  # largest weight
    top1_share: float  # share of sum(f w) held by the top 1% of units
    mean: float  # sum(f w) / sum(f)
    n: float  # sum(f)


def _weights(w, f):
    w = np.asarray(w, np.float64)
    f = np.ones_like(w) if f is None else np.asarray(f, np.float64)
    if w.ndim != 1 or f.shape != w.shape:
        raise ValueError(f"weights and frequency weights must be 1-D of one length; got {w.shape} and {f.shape}.")
    return w, f


def kish_ess(w, f=None) -> float:
    """Kish's effective sample size ``(sum f w)^2 / sum f w^2`` of weights ``w`` on units counted ``f`` times."""
    w, f = _weights(w, f)
    return float(np.sum(f * w) ** 2 / np.sum(f * w**2))


def top_share(w, f=None, share: float = 0.01) -> float:
    """Share of the total weight ``sum f w`` held by the ``share`` fraction of units with the largest weights.

    Units are rows counted ``f`` times; the boundary unit counts fractionally,
    so with equal weights the result is exactly ``share``.
    """
    if not 0.0 < share <= 1.0:
        raise ValueError(f"share must lie in (0, 1]; got {share!r}.")
    w, f = _weights(w, f)
    order = np.argsort(-w, kind="stable")
    ws, fs = w[order], f[order]
    quota = share * np.sum(f)
    before = np.cumsum(fs) - fs  # units ranked above each row
    take = np.clip(quota - before, 0.0, fs)
    return float(np.sum(take * ws) / np.sum(fs * ws))


def weight_diagnostics(w, f=None) -> WeightDiagnostics:
    """Kish ESS, largest weight, top-1% share and mean of the weights ``w`` (frequency weights ``f``)."""
    w, f = _weights(w, f)
    n = float(np.sum(f))
    return WeightDiagnostics(ess=kish_ess(w, f), max=float(w.max()), top1_share=top_share(w, f),
                             mean=float(np.sum(f * w) / n), n=n)


def warn_poor_overlap(diag: WeightDiagnostics, threshold: float = POOR_OVERLAP_SHARE, stacklevel: int = 2) -> bool:
    """Warn (:class:`PoorOverlapWarning`) when ``diag.ess < threshold * diag.n``; return whether it warned."""
    if diag.ess >= threshold * diag.n:
        return False
    warnings.warn(
        f"poor overlap between the human sample and the pool: the density-ratio weights have an "
        f"effective sample size of {diag.ess:.1f} out of {diag.n:g} human units (largest weight "
        f"{diag.max:.3g}). The correction rests on few human rows and its interval may be "
        "unreliable; weights are not clipped. Collect human labels on pairs like the pool's.",
        PoorOverlapWarning, stacklevel=stacklevel + 1)
    return True
