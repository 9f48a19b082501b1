r"""Simultaneous (max-|t|) confidence intervals from an estimated covariance.

Estimand: a vector $\theta \in \mathbb{R}^k$ (abilities, or linear combinations such as all
pairwise differences $\theta_a - \theta_b$) estimated by $\hat\theta$ with
$\hat\theta - \theta \approx N(0, \Sigma)$ and $\Sigma$ estimated by ``cov``.

Method: the intervals $\hat\theta_i \pm c\,\mathrm{sd}_i$ hold jointly with probability
``level`` when $c$ is the ``level`` quantile of $\max_i |Z_i| / \mathrm{sd}_i$ for
$Z \sim N(0, \Sigma)$ (the max-|t| or "max-t" critical value; Hothorn, Bretz & Westfall 2008,
Romano & Wolf 2005). ``c`` is estimated from ``n_draws`` seeded Gaussian draws, generated in
chunks so that memory stays bounded (``n_draws`` by ``k`` is never held at once). For independent
components ``c`` is the Sidak value $\Phi^{-1}((1 + \text{level}^{1/k})/2)$; positive correlation
makes it smaller, so the max-t intervals are never wider than Bonferroni's or Sidak's.

Assumptions: asymptotic normality of $\hat\theta$ and a consistent ``cov``; the joint coverage
is then ``level`` up to the Monte-Carlo error of ``c`` (about
$\sqrt{\text{level}(1-\text{level})/n_\text{draws}}$ in probability).

Singular covariances are expected (a sum-to-zero parametrisation has rank $k - 1$; a reference
ability is fixed at 0 and has variance 0): draws use a symmetric square root from the
eigendecomposition, and a component with zero variance is known exactly, so it is left out of
the maximum and its interval is the point itself. A covariance that is not symmetric positive
semi-definite (beyond rounding) is an error.
See ``docs/methods.md#simultaneous-inference-and-confidence-sets-for-ranks``.
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import scipy.linalg

from .._x64 import x64_scope
from ..validation import check_int, check_level, check_random_state
from .intervals import normal_quantile

__all__ = ["check_estimate_cov", "check_covariance", "covariance_factor", "seed_sequence", "normal_draw_chunks",
           "max_t_critical",
           "simultaneous_intervals", "all_pairs", "difference_sd", "pairwise_max_t_critical",
           "simultaneous_pairwise_intervals", "PairwiseIntervals", "ZERO_VARIANCE_RTOL", "CHUNK_ELEMENTS",
           "pair_weights", "pair_row_maxima"]

#: A variance at most this fraction of the largest variance counts as zero (a fixed reference ability
#: comes out of ``T V T^T`` as exact zeros or rounding noise of that size).
ZERO_VARIANCE_RTOL = 1e-12
#: Negative eigenvalues down to this fraction of the largest are rounding, not indefiniteness.
_PSD_RTOL = 1e-8
#: Elements (draws x columns) generated per chunk: about 16 MB of float64.
CHUNK_ELEMENTS = 2_000_000


def check_estimate_cov(estimate, cov, estimate_name: str = "estimate", cov_name: str = "cov"):
    """``(estimate, cov)`` as float64 arrays of shapes (k,) and (k, k), or a one-line ValueError.

    Rejects non-finite entries (naming the first position), a covariance of the wrong shape, an
    asymmetric one and one that is not positive semi-definite beyond rounding."""
    est = np.asarray(estimate, dtype=np.float64)
    if est.ndim != 1 or est.size == 0:
        raise ValueError(f"{estimate_name} must be a non-empty 1-D array; got shape {est.shape}.")
    bad = np.flatnonzero(~np.isfinite(est))
    if bad.size:
        raise ValueError(f"{estimate_name} has a non-finite value at position {bad[0]} ({est[bad[0]]!r}); "
                         "fit again or drop that parameter.")
    cov = check_covariance(cov, est.size, cov_name)
    return est, cov


def check_covariance(cov, k: int | None = None, cov_name: str = "cov") -> np.ndarray:
    """A finite, symmetric, positive semi-definite (k, k) float64 matrix, or a one-line ValueError."""
    cov = np.asarray(cov, dtype=np.float64)
    if cov.ndim != 2 or cov.shape[0] != cov.shape[1] or (k is not None and cov.shape[0] != k):
        want = f"({k}, {k})" if k is not None else "square"
        raise ValueError(f"{cov_name} must be {want}; got shape {cov.shape}.")
    bad = np.argwhere(~np.isfinite(cov))
    if bad.size:
        i, j = bad[0]
        raise ValueError(f"{cov_name} has a non-finite entry at ({i}, {j}); the covariance was not estimated.")
    scale = float(np.max(np.abs(cov))) if cov.size else 0.0
    if scale == 0.0:
        raise ValueError(f"{cov_name} is all zeros: no parameter has sampling variance.")
    if np.max(np.abs(cov - cov.T)) > 1e-8 * scale:
        raise ValueError(f"{cov_name} is not symmetric (largest asymmetry {np.max(np.abs(cov - cov.T)):.3g}).")
    lam = np.linalg.eigvalsh(0.5 * (cov + cov.T))
    if lam[0] < -_PSD_RTOL * max(lam[-1], 0.0) or lam[-1] <= 0.0:
        raise ValueError(f"{cov_name} is not positive semi-definite (smallest eigenvalue {lam[0]:.3g}, largest "
                         f"{lam[-1]:.3g}); pass a covariance matrix.")
    return 0.5 * (cov + cov.T)


def covariance_factor(cov) -> np.ndarray:
    """A (k, k) matrix ``F`` with ``F F^T = cov`` (symmetric square root; rounding-negative eigenvalues
    set to 0), so that ``G F^T`` with standard normal ``G`` (n, k) are draws from N(0, cov)."""
    cov = check_covariance(cov)
    # LAPACK's divide-and-conquer driver: numpy's default eigh can be 50x slower on a busy machine
    lam, U = scipy.linalg.eigh(cov, driver="evd")
    return U * np.sqrt(np.clip(lam, 0.0, None))


def seed_sequence(random_state) -> np.random.SeedSequence:
    """A ``SeedSequence`` from ``random_state`` (None, int, Generator or SeedSequence).

    A Generator is advanced by one draw (its next 63-bit integer seeds the sequence), so repeated calls
    with the same Generator give different, reproducible streams."""
    random_state = check_random_state("random_state", random_state)
    if isinstance(random_state, np.random.SeedSequence):
        return random_state
    if isinstance(random_state, np.random.Generator):
        return np.random.SeedSequence(int(random_state.integers(2 ** 63)))
    return np.random.SeedSequence(random_state)


def normal_draw_chunks(factor: np.ndarray, n_draws: int, seed: np.random.SeedSequence, chunk: int | None = None):
    """Yield N(0, F F^T) draws in blocks of at most ``chunk`` rows (``n_draws`` rows in all).

    The same ``seed`` yields the same draws whatever the chunk size (the standard normals are consumed
    in order from one generator)."""
    k = factor.shape[0]
    chunk = chunk or max(1, CHUNK_ELEMENTS // max(k, 1))
    rng = np.random.default_rng(seed)
    done = 0
    while done < n_draws:
        m = min(chunk, n_draws - done)
        yield rng.standard_normal((m, factor.shape[1])) @ factor.T
        done += m


def _check_n_draws(n_draws) -> int:
    return check_int("n_draws", n_draws, 100, extra=" Use at least a few thousand for a stable critical value.")


def max_t_critical(cov, level: float = 0.95, n_draws: int = 100_000, random_state=None) -> float:
    """Critical value ``c`` with P(max_i |Z_i| / sd_i <= c) = ``level`` for Z ~ N(0, ``cov``).

    Components with zero variance (a reference ability) are left out of the maximum. Estimated by
    ``n_draws`` seeded draws (linear-interpolation quantile); the same ``random_state`` gives the same
    value."""
    level = check_level(level)
    n_draws = _check_n_draws(n_draws)
    cov = check_covariance(cov)
    var = np.diag(cov)
    keep = var > ZERO_VARIANCE_RTOL * var.max()
    F = covariance_factor(cov)[keep] / np.sqrt(var[keep])[:, None]  # draws of the standardised components
    seed = seed_sequence(random_state)
    maxima = np.concatenate([np.max(np.abs(Z), axis=1) for Z in normal_draw_chunks(F, n_draws, seed)])
    return float(np.quantile(maxima, level))


def simultaneous_intervals(estimate, cov, level: float = 0.95, n_draws: int = 100_000, random_state=None):
    """``(lower, upper, crit)``: intervals ``estimate -+ crit * sd`` that cover all components jointly.

    ``crit`` is :func:`max_t_critical`; a zero-variance component gets ``lower = upper = estimate``."""
    est, cov = check_estimate_cov(estimate, cov)
    crit = max_t_critical(cov, level, n_draws, random_state)
    var = np.diag(cov)
    sd = np.where(var > ZERO_VARIANCE_RTOL * var.max(), np.sqrt(np.clip(var, 0.0, None)), 0.0)
    return est - crit * sd, est + crit * sd, crit


def all_pairs(k: int) -> np.ndarray:
    """All pairs ``(a, b)`` with ``a < b`` among ``k`` parameters, as a (k(k-1)/2, 2) int array."""
    a, b = np.triu_indices(k, 1)
    return np.column_stack([a, b]).astype(np.int64)


def _check_pairs(pairs, k: int) -> np.ndarray:
    if pairs is None:
        return all_pairs(k)
    P = np.asarray(pairs)
    if P.ndim != 2 or P.shape[1] != 2 or P.shape[0] == 0 or not np.issubdtype(P.dtype, np.integer):
        raise ValueError(f"pairs must be a non-empty (q, 2) integer array of parameter positions; got shape "
                         f"{P.shape}, dtype {P.dtype}.")
    if P.min() < 0 or P.max() >= k or np.any(P[:, 0] == P[:, 1]):
        raise ValueError(f"pairs must hold two different positions in [0, {k - 1}] per row.")
    return P.astype(np.int64)


def difference_sd(cov: np.ndarray, pairs: np.ndarray, names=None) -> np.ndarray:
    """Standard deviation of ``theta_a - theta_b`` for each row ``(a, b)`` of ``pairs``.

    A difference with zero variance is an error naming the pair: it would be known exactly, which a
    fitted model cannot deliver, so the covariance is wrong for this use."""
    a, b = pairs[:, 0], pairs[:, 1]
    var = cov[a, a] + cov[b, b] - 2.0 * cov[a, b]
    zero = var <= ZERO_VARIANCE_RTOL * np.max(np.diag(cov))
    if np.any(zero):
        r = int(np.flatnonzero(zero)[0])
        who = (f"{names[a[r]]!r} and {names[b[r]]!r}" if names is not None
               else f"positions {a[r]} and {b[r]}")
        raise ValueError(f"the difference between {who} has zero variance in cov; every compared pair needs a "
                         "positive variance (is one of them duplicated, or are both fixed?).")
    return np.sqrt(var)


@jax.jit
def _block_row_maxima(Zb, W, OP, OM):
    D = (Zb[:, :, None] - Zb[:, None, :]) * W[None]
    return jnp.max(jnp.maximum(D + OP[None], OM[None] - D), axis=2)


def pair_weights(cov: np.ndarray, names=None) -> tuple[np.ndarray, np.ndarray]:
    """``(W, sd)`` (k, k): ``sd[a, b]`` the standard deviation of ``theta_a - theta_b`` and ``W = 1/sd`` off
    the diagonal (0 on it, where ``sd`` is 1). A zero-variance difference is an error (:func:`difference_sd`)."""
    k = cov.shape[0]
    A, B = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
    off = A != B
    sd = np.ones((k, k))
    sd[off] = difference_sd(cov, np.column_stack([A[off], B[off]]), names)
    return np.where(off, 1.0 / sd, 0.0), sd


def pair_row_maxima(Z: np.ndarray, W: np.ndarray, OP: np.ndarray, OM: np.ndarray, block: int | None = None):
    """Per draw (row of ``Z``, shape (n, k)) and parameter j: the largest one-sided standardised difference
    of the family, ``max_b max(D_jb + OP[j, b], OM[j, b] - D_jb)`` with ``D_jb = (Z_j - Z_b) W[j, b]``.

    ``OP``/``OM`` hold 0 for a term in the family and ``-inf`` for one left out: ``OP[j, b] == 0`` puts
    the hypothesis "theta_j <= theta_b" in (its statistic is ``D_jb``), ``OM[j, b] == 0`` puts
    "theta_b <= theta_j" in (statistic ``-D_jb``). The maximum over j is the max-t statistic of the whole
    family. One fused JAX kernel per block of draws (fixed block size, padded, so it compiles once per k);
    returns an (n, k) array."""
    n, k = Z.shape
    m = block or int(np.clip(CHUNK_ELEMENTS // (k * k), 8, 4096))
    out = np.empty((n, k))
    with x64_scope():
        Wj, OPj, OMj = jnp.asarray(W), jnp.asarray(OP), jnp.asarray(OM)
        for s in range(0, n, m):
            Zb = Z[s:s + m]
            r = Zb.shape[0]
            if r < m:
                Zb = np.concatenate([Zb, np.zeros((m - r, k))])
            out[s:s + r] = np.asarray(_block_row_maxima(Zb, Wj, OPj, OMj))[:r]
    return out


def pairwise_max_t_critical(cov, level: float = 0.95, n_draws: int = 20_000, random_state=None,
                            pairs=None) -> float:
    """Max-|t| critical value over the differences ``theta_a - theta_b`` for ``pairs`` (default: all).

    Each draw costs O(k^2) here (O(k) for :func:`max_t_critical`), hence the smaller default ``n_draws``:
    with 20,000 draws the Monte-Carlo standard error of a 95% critical value near 4 is below 0.01.

    Works from k-dimensional draws, so the (q, q) covariance of the q = k(k-1)/2 differences is never
    formed (200 models: 19,900 differences); draws are generated and reduced in chunks."""
    level = check_level(level)
    n_draws = _check_n_draws(n_draws)
    cov = check_covariance(cov)
    k = cov.shape[0]
    P = _check_pairs(pairs, k)
    difference_sd(cov, P)  # names the first zero-variance pair, if any
    W, _ = pair_weights(cov) if pairs is None else (None, None)
    if W is None:  # only the requested pairs need a finite weight
        W = np.zeros((k, k))
        sd = difference_sd(cov, P)
        W[P[:, 0], P[:, 1]] = W[P[:, 1], P[:, 0]] = 1.0 / sd
    # two-sided: the term of (a, b) in row a and its mirror in row b
    OP = np.full((k, k), -np.inf)
    OP[P[:, 0], P[:, 1]] = OP[P[:, 1], P[:, 0]] = 0.0
    OM = np.full((k, k), -np.inf)
    F = covariance_factor(cov)
    seed = seed_sequence(random_state)
    maxima = [pair_row_maxima(Z, W, OP, OM).max(axis=1)
              for Z in normal_draw_chunks(F, n_draws, seed, max(1, CHUNK_ELEMENTS // k))]
    return float(np.quantile(np.concatenate(maxima), level))


class PairwiseIntervals(NamedTuple):
    """Intervals for ``theta_a - theta_b``, one row per pair, simultaneous and marginal."""

    pairs: np.ndarray        # (q, 2) positions (a, b)
    difference: np.ndarray   # theta_a - theta_b
    stderr: np.ndarray
    lower: np.ndarray        # simultaneous
    upper: np.ndarray
    marginal_lower: np.ndarray
    marginal_upper: np.ndarray
    crit: float              # simultaneous critical value (the marginal one is normal_quantile(level))


def simultaneous_pairwise_intervals(estimate, cov, level: float = 0.95, n_draws: int = 20_000,
                                    random_state=None, pairs=None) -> PairwiseIntervals:
    """Simultaneous (max-t) and marginal (Wald) intervals for the differences ``theta_a - theta_b``."""
    est, cov = check_estimate_cov(estimate, cov)
    P = _check_pairs(pairs, est.size)
    crit = pairwise_max_t_critical(cov, level, n_draws, random_state, P)
    diff = est[P[:, 0]] - est[P[:, 1]]
    sd = difference_sd(cov, P)
    z = normal_quantile(level)
    return PairwiseIntervals(P, diff, sd, diff - crit * sd, diff + crit * sd, diff - z * sd, diff + z * sd, crit)
