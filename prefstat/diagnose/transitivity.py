r"""Intransitivity: a triangle (curl) statistic against Bradley-Terry, calibrated by parametric bootstrap.

Under BT the log-odds of pair :math:`\{a, b\}` is :math:`\theta_a - \theta_b`, so
around every triangle :math:`a, b, c` of compared pairs the *curl*
:math:`\ell_{ab} + \ell_{bc} + \ell_{ca}` is zero (the gradient part of the
HodgeRank decomposition: Jiang, Lim, Yao & Ye 2011). Cyclic preferences
(:math:`a \succ b \succ c \succ a`) make it positive. With the empirical
log-odds :math:`\hat\ell = \log\frac{w + 1/2}{n - w + 1/2}` (Haldane's correction:
finite for pairs one item always won) and its delta-method variance
:math:`1/(w + 1/2) + 1/(n - w + 1/2)`, each triangle gets
:math:`z_t = \widehat{\mathrm{curl}}_t / \sqrt{\sum \mathrm{var}}`, and the statistic
is :math:`T = \max_t |z_t|`, aimed at a few items forming a cycle (a sum of
squares would dilute a local cycle among all triangles).

The null law of :math:`T` has no usable closed form (dependent triangles,
small cells, Haldane bias), so it is calibrated by parametric bootstrap from the
fitted BT: the same draws as the goodness-of-fit test; :math:`T` needs no refit.
Triangles are enumerated over the pairs actually compared; beyond
``max_triangles`` a seeded uniform subset is used (the statistic is then the
maximum over that subset, for the data and every draw alike).
"""
from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from .._x64 import x64_scope
from .goodness_of_fit import NullDraws, bootstrap_p_value
from .pairs import PairCells
from .report import Diagnostic

__all__ = ["triangles", "triangle_z", "max_triangle_statistic", "intransitivity"]


def triangles(cells: PairCells, max_triangles: int = 2_000_000, rng: np.random.Generator | None = None):
    """(T, 3) cell indices (ab, bc, ac) of the triangles a < b < c whose three pairs were compared."""
    k = cells.k
    index = np.full((k, k), -1, np.int64)
    live = cells.n > 0
    index[cells.i[live], cells.j[live]] = np.flatnonzero(live)
    adj = index >= 0
    # count first: sum over a of the edges among a's higher neighbours
    counts = np.zeros(k, np.int64)
    nbrs = [np.flatnonzero(adj[a]) for a in range(k)]
    for a in range(k):
        nb = nbrs[a]
        if nb.size >= 2:
            counts[a] = int(np.triu(adj[np.ix_(nb, nb)], 1).sum())
    total = int(counts.sum())
    rate = 1.0 if total <= max_triangles else max_triangles / total
    rng = rng or np.random.default_rng(0)
    out = []
    for a in range(k):
        if counts[a] == 0:
            continue
        nb = nbrs[a]
        bi, ci = np.nonzero(np.triu(adj[np.ix_(nb, nb)], 1))
        b, c = nb[bi], nb[ci]
        if rate < 1.0:
            keep = rng.random(b.size) < rate
            b, c = b[keep], c[keep]
        out.append(np.column_stack([index[a, b], index[b, c], index[a, c]]))
    if not out:
        return np.zeros((0, 3), np.int64)
    return np.concatenate(out)


def _logits(n, wins, xp):
    lo, hi = wins + 0.5, n - wins + 0.5
    return xp.log(lo / hi), 1.0 / lo + 1.0 / hi


def triangle_z(n, wins, tri) -> np.ndarray:
    """Standardised curl z per triangle (numpy; ``wins`` (m,))."""
    ell, var = _logits(np.asarray(n, np.float64), np.asarray(wins, np.float64), np)
    curl = ell[tri[:, 0]] + ell[tri[:, 1]] - ell[tri[:, 2]]
    return curl / np.sqrt(var[tri].sum(axis=1))


@partial(jax.jit, static_argnames=())
def _max_abs_z(n, wins, tri):
    def one(w):
        ell, var = _logits(n, w, jnp)
        curl = ell[tri[:, 0]] + ell[tri[:, 1]] - ell[tri[:, 2]]
        return jnp.max(jnp.abs(curl) / jnp.sqrt(var[tri[:, 0]] + var[tri[:, 1]] + var[tri[:, 2]]))

    return jax.lax.map(one, wins)


def max_triangle_statistic(n, wins, tri) -> np.ndarray:
    """max_t |z_t| for each row of ``wins`` (B, m) (JAX, one replicate at a time in memory)."""
    wins = np.atleast_2d(np.asarray(wins, np.float64))
    with x64_scope():
        return np.asarray(_max_abs_z(jnp.asarray(n, jnp.float64), jnp.asarray(wins), jnp.asarray(tri)))


def intransitivity(cells: PairCells, draws: NullDraws | None, level: float = 0.05, n_worst: int = 10,
                   max_triangles: int = 2_000_000, rng: np.random.Generator | None = None) -> Diagnostic:
    """Max-|curl| triangle test against BT and the worst cycles."""
    title = "Intransitivity (triangle curl)"
    tri = triangles(cells, max_triangles, rng)
    if tri.shape[0] == 0:
        return Diagnostic("intransitivity", title, "skipped",
                          "no three items were all compared with each other: cycles cannot be tested.")
    z = triangle_z(cells.n, cells.wins, tri)
    stat = float(np.max(np.abs(z)))
    p = float("nan")
    details = {"triangles": int(tri.shape[0])}
    if draws is not None:
        null = max_triangle_statistic(cells.n, draws.wins, tri)
        p = bootstrap_p_value(stat, null)
        details["n_bootstrap"] = draws.size
    order = np.argsort(-np.abs(z))[:n_worst]
    names = cells.items
    ell, _ = _logits(cells.n, cells.wins, np)
    rows = []
    for t in order:
        ab, bc, ac = tri[t]
        a, b, c = cells.i[ab], cells.j[ab], cells.j[bc]
        cyc = (a, b, c) if z[t] > 0 else (a, c, b)  # z > 0: a beats b, b beats c, c beats a (on log-odds)
        rows.append({"cycle": " > ".join(str(names[x]) for x in cyc + (cyc[0],)), "z": abs(z[t]),
                     "curl_log_odds": abs(ell[ab] + ell[bc] - ell[ac]),
                     "n_pairs": "/".join(f"{cells.n[x]:g}" for x in tri[t])})
    worst = pd.DataFrame(rows)
    if not np.isfinite(p):
        return Diagnostic("intransitivity", title, "info",
                          f"largest standardised triangle curl {stat:.3g} over {tri.shape[0]} triangles "
                          "(not calibrated: n_bootstrap=0).", statistic=stat, tables={"worst cycles": worst},
                          details=details)
    if p < level:
        verdict = (f"cyclic preferences beyond BT (max |z| = {stat:.3g} over {tri.shape[0]} triangles, "
                   f"bootstrap p = {p:.3g}); worst cycle {worst.cycle.iloc[0]}.")
        action = ("no single ranking describes these items: report the pair probabilities (DIPO) for the items "
                  "in the worst cycles and do not over-read their BT ranks.")
        status = "flagged"
    else:
        verdict = f"no evidence of cycles (max |z| = {stat:.3g} over {tri.shape[0]} triangles, p = {p:.3g})."
        action, status = "", "ok"
    return Diagnostic("intransitivity", title, status, verdict, action, statistic=stat, p_value=p,
                      tables={"worst cycles": worst}, details=details)
