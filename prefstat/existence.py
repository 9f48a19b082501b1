"""Does the maximum-likelihood estimate exist? Checks run before and after a fit.

* Item-level Bradley-Terry: the MLE exists and is unique iff the directed
  "beat" graph (edge a -> b when a beat b at least once) is strongly connected
  (Zermelo 1929; Ford 1957). :func:`check_beat_graph` names the offending
  items or components.
* Any binary linear-index model: the MLE does not exist under (quasi-)complete
  separation (Albert & Anderson 1984): some direction ``b != 0`` has
  ``s_i x_i^T b >= 0`` for every row (``s_i`` = +1 for wins, -1 for losses,
  both for rows with mixed outcomes). :func:`find_separation` decides it with
  one linear program.
* :func:`check_identifiable`: the information at the start point must be
  non-singular, otherwise some parameters are not identified at all.

All failures raise ``ValueError`` with a message saying what to do (usually:
add data, drop the items, or fit with an L2 penalty ``alpha > 0``, whose
standard errors are then those of a penalised fit).
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog
from scipy.sparse.csgraph import connected_components

__all__ = ["check_beat_graph", "find_separation", "check_identifiable"]

_PENALTY_HINT = (
    "Add comparisons that connect them, drop those items, or fit with an L2 penalty "
    "(alpha > 0; standard errors are then those of the penalised fit)."
)


def _names(items, idx, limit=8) -> str:
    shown = ", ".join(repr(items[i]) for i in idx[:limit])
    return shown + (f" and {len(idx) - limit} more" if len(idx) > limit else "")


def check_beat_graph(a: np.ndarray, b: np.ndarray, left_won: np.ndarray, right_won: np.ndarray, items) -> None:
    """Raise if the item-level BT MLE does not exist.

    ``a``, ``b`` are item indices of aggregated cells; ``left_won`` /
    ``right_won`` the weight of wins of the left / right item in each cell
    (a tie counts as half a win for each side, so it links both ways).
    """
    k = len(items)
    src = np.concatenate([a[left_won > 0], b[right_won > 0]])
    dst = np.concatenate([b[left_won > 0], a[right_won > 0]])
    graph = sp.csr_matrix((np.ones(src.size), (src, dst)), shape=(k, k))
    # strongly connected (the usual case) implies weakly connected: one graph search, not two
    n_strong, strong = connected_components(graph, directed=True, connection="strong")
    if n_strong == 1:
        return
    n_weak, weak = connected_components(graph, directed=True, connection="weak")
    if n_weak > 1:
        sizes = np.bincount(weak)
        parts = [_names(items, np.flatnonzero(weak == c), 5) for c in np.argsort(-sizes)[:3]]
        raise ValueError(
            f"the comparison graph is disconnected: {n_weak} groups of items never met each other "
            f"(e.g. {{{parts[0]}}} vs {{{parts[1]}}}), so their abilities are not comparable. " + _PENALTY_HINT
        )
    wins = np.bincount(src, minlength=k)
    losses = np.bincount(dst, minlength=k)
    never_lost = np.flatnonzero(losses == 0)
    never_won = np.flatnonzero(wins == 0)
    detail = []
    if never_lost.size:
        detail.append(f"never lost: {_names(items, never_lost)}")
    if never_won.size:
        detail.append(f"never won: {_names(items, never_won)}")
    if not detail:
        # Find a component no other component ever beats (a source of the condensation).
        comp_src, comp_dst = strong[src], strong[dst]
        beaten = np.zeros(n_strong, bool)
        beaten[comp_dst[comp_src != comp_dst]] = True
        top = np.flatnonzero(~beaten)[0]
        detail.append(f"items {{{_names(items, np.flatnonzero(strong == top))}}} never lost to any other item")
    raise ValueError(
        "the Bradley-Terry MLE does not exist: the directed win graph is not strongly connected "
        f"({n_strong} components; " + "; ".join(detail) + "), so some abilities would run to +-infinity. "
        + _PENALTY_HINT
    )


def find_separation(X, wins: np.ndarray, losses: np.ndarray, tol: float = 1e-7) -> np.ndarray | None:
    """Return a separating direction ``b`` (max-norm 1) if one exists, else None.

    Solves  max sum_i s_i x_i^T b  s.t.  s_i x_i^T b >= 0 (rows with only wins
    or only losses), x_i^T b = 0 (rows with both), |b_j| <= 1. A strictly
    positive optimum means (quasi-)complete separation.
    """
    X = sp.csr_matrix(X, dtype=np.float64)
    only_w = (wins > 0) & (losses <= 0)
    only_l = (losses > 0) & (wins <= 0)
    both = (wins > 0) & (losses > 0)
    s = only_w.astype(float) - only_l.astype(float)
    one_sided = only_w | only_l
    if not one_sided.any():
        return None
    signed = sp.diags(s[one_sided]) @ X[one_sided]
    A_ub = -signed
    # maximise sum_i s_i x_i^T b  <=>  minimise its negative
    c = -np.asarray(signed.sum(axis=0)).ravel()
    kwargs = {}
    if both.any():
        kwargs = dict(A_eq=X[both], b_eq=np.zeros(int(both.sum())))
    res = linprog(c, A_ub=A_ub, b_ub=np.zeros(A_ub.shape[0]), bounds=(-1, 1), method="highs", **kwargs)
    if res.status == 0 and -res.fun > tol * max(1.0, float(np.abs(X).sum()) / X.shape[0]):
        return res.x
    return None


def check_identifiable(information: np.ndarray, names) -> None:
    """Raise if the information matrix is (numerically) singular, naming the parameters involved.

    The test runs on the correlation form ``D^-1/2 I D^-1/2`` (D = diag I), so a
    column measured in large or small units is not mistaken for a collinear one.
    """
    info = 0.5 * (information + information.T)
    names = list(names)
    if not np.all(np.isfinite(info)):
        raise ValueError("the information matrix is not finite in float64: features or weights are too large; "
                         "rescale them.")
    diag = np.diag(info).copy()
    empty = np.flatnonzero(diag <= 0)
    if empty.size:
        raise ValueError(f"the parameters are not identifiable: no comparison carries information about {_names(names, empty)} (zero "
                         "on every row with weight). Drop them, or fit with an L2 penalty (alpha > 0).")
    scale = 1.0 / np.sqrt(diag)
    evals, evecs = np.linalg.eigh(info * np.outer(scale, scale))
    if evals[0] <= 1e-9 * evals[-1]:
        v = np.abs(evecs[:, 0])
        involved = np.flatnonzero(v > 0.1 * v.max())
        raise ValueError(
            "the parameters are not identifiable from these comparisons: a combination of "
            f"{_names(names, involved)} has no information (collinear features, a constant "
            "order indicator confounded with the items, or a parameter never observed). "
            "Drop or merge those columns, or fit with an L2 penalty (alpha > 0)."
        )
