r"""The sign estimator: the population-average preference direction under heterogeneous users.

Aouad, El Gadarri, Farias, *The Sign Estimator: LLM Alignment in the Face of
Choice Heterogeneity* (arXiv 2510.23965); Manski (1975, 1985) maximum score;
Horowitz (1992) smoothed maximum score. docs/methods.md#sign-estimator.

Row i holds the feature difference :math:`z_i = \phi(\text{left}_i) - \phi(\text{right}_i)`,
the outcome :math:`y_i` (1 left preferred, 0 right, 1/2 tie) and a frequency
weight :math:`w_i`. With :math:`s_i = 2 y_i - 1` the estimate is the unit vector

.. math::  \hat b = \arg\max_{\|b\| = 1} S_n(b), \qquad
           S_n(b) = \frac{1}{\sum_i w_i} \sum_i w_i s_i \, \mathrm{sign}(b^\top z_i)

(Manski's maximum score on differenced features). **Ties** (:math:`y = 1/2`,
so :math:`s = 0`) carry no sign information and drop out of :math:`S_n`; soft
labels weigh a row by its majority margin :math:`2y - 1`. The reported score is
the exact weighted *agreement*
:math:`A_n(b) = \tfrac12 (1 + \sum_i w_i s_i \mathrm{sign}(b^\top z_i) / \sum_i w_i |s_i|)`,
the share of non-tied comparisons whose winner lies on the side :math:`b`
prefers (a row with :math:`b^\top z_i = 0` counts one half).

**Why not Bradley-Terry.** If user u answers with utility weights
:math:`\beta_u \sim F` (mean :math:`\bar\beta`), pooled BT converges to the KL
projection of the mixed logit, which is not parallel to :math:`\bar\beta` when
the heterogeneity is anisotropic. :math:`\hat b` is consistent for
:math:`\bar\beta / \|\bar\beta\|` when :math:`\beta_u - \bar\beta` and the
response noise are centrally symmetric given z (then the majority preference
is the mean-utility preference) and a continuous regressor has non-zero
weight. Its rate is :math:`n^{-1/3}` with a non-normal limit (Kim & Pollard 1990).

**When it targets something else (negative control).** Under skewed
heterogeneity the majority of users is not the average user: :math:`\hat b`
converges to the maximiser of the population score
:math:`Q(b) = E[(2y - 1)\,\mathrm{sign}(b^\top z)]`
(``HeterogeneousUsers.sign_limit``), which lies between the mean direction and
the direction of the *median* user, and equals the latter in the noiseless limit.
It is not :math:`\bar\beta / \|\bar\beta\|`.

**Optimisation** (``method="smoothed"``; docs/methods.md#sign-estimator, our choice).
The 0-1 objective is piecewise constant, so it is replaced by the smoothed
score :math:`S_{n,h}(b) = \sum_i c_i\, \sigma(b^\top z_i / h)`,
:math:`c_i = w_i s_i / \sum_j w_j |s_j|` (Horowitz 1992), maximised on the sphere by
L-BFGS (:func:`prefstat.optim.lbfgs`) over :math:`u \in R^d` with
:math:`b = u / \|u\|`. The bandwidth is annealed geometrically over
``n_bandwidths`` stages from :math:`h_0 = \mathrm{median}_i |b_0^\top z_i|`
(informative rows; :math:`b_0` the BT direction), where :math:`S_{n,h}` is
close to linear in b and has one maximum, down to :math:`h_0\, n_{\text{eff}}^{-e}`
(:math:`n_{\text{eff}}` the weight of the non-tied rows), each stage
warm-started at the previous solution. Two end points (``bandwidth``):

* ``"horowitz"`` (default), :math:`e = 1/5`: Horowitz's smoothed maximum
  score. The sigmoid is a second-order kernel, so for smooth designs (a
  continuous regressor with a smooth density, smooth p(z)) the smoothing bias
  is :math:`O(h^2)` and the estimate converges at :math:`n^{-2/5}`, faster
  than the maximum score itself, with an asymptotically normal (biased) limit.
  In the worked example its mean angular error is 25-40% below the cube-root
  end point's (2.97/1.37/0.85 against 3.87/2.24/1.14 degrees at n = 20k, 80k,
  320k), and at 80k it reproduces the "about 1.5 degrees" of docs/methods.md#heterogeneous-users-worked-example.
* ``"cube-root"``, :math:`e = 1/3`: the smoothing stays below the
  :math:`n^{-1/3}` sampling error of the 0-1 maximiser, so the result behaves
  like Manski's estimator (cube-root rate, Kim-Pollard limit). Use it when the
  smoothness conditions are in doubt (discrete features, kinks in p(z)).

Several starts (the BT direction plus ``n_starts - 1`` uniform random
directions) run the whole path; the final choice is the start with the best
**exact** score :math:`S_n`.
``method="exact"`` (d <= 2): for d = 2 the sign of :math:`b^\top z_i` changes
only at the 2n angles perpendicular to the :math:`z_i`, so sorting them and
cumulating the score changes gives the exact maximiser (the midpoint of the
best arc) in :math:`O(n \log n)`; for d = 1 the two directions are compared.

**Inference: subsampling** (Politis & Romano 1994; Delgado, Rodriguez-Poo &
Wolf 2001 for the maximum score estimator). The naive bootstrap is
inconsistent at the cube-root rate (Abrevaya & Huang 2005). B subsamples of
size m are drawn without replacement (comparisons are the units: a row of
frequency weight k is k comparisons) and refitted with the same procedure; the
law of :math:`m^{r} \angle(\hat b_m, \hat b)` estimates that of
:math:`n^{r} \angle(\hat b, b_0)` for the estimator's rate r. The exact method
and the cube-root end point use r = 1/3, their own rate. The Horowitz end
point (default) uses the rate its bandwidth implies, r = 2/5, with a **bias
correction for the subsample fits** (issue 18; ``subsampling_cone(...,
bias_correction=True)``): a subsample fit ends at the larger bandwidth
:math:`h_m`, so its smoothing bias :math:`O(h_m^2)` exceeds the full fit's and
the scaled deviations carry only the fraction :math:`1 - (m/n)^{2/5}` of the
full fit's bias; the uncorrected :math:`(m/n)^{2/5}` cone under-covered in the
worked example at n = 20k (0.915-0.935 over three sets of 200 replications),
and the previous r = 1/3 over-covered (0.995, a cone 1.3 times the needed
radius, on an anisotropic d = 4 population). The mean subsample deviation
estimates the missing part; docs/methods.md#sign-estimator gives the algebra
and why the data-driven rate (Bertail, Politis & Romano 1999) was not chosen.
Subsample size rule: :math:`m = \lceil n^{2/3} \rceil` (docs/methods.md#sign-estimator;
m -> infinity and m/n -> 0 as required, with the subsample error
:math:`m^{-r}` still small). The
confidence cone has radius :math:`(m/n)^{r} q_{\text{level}}` (q the
quantile of the subsample angles); symmetric per-coordinate intervals come
from the tangent-space (log-map) coordinates of the subsample directions at
:math:`\hat b` (:func:`subsampling_cone`).

The pure cores :func:`fit_core` and :func:`exact_core` are jit- and
vmap-able; :class:`SignEstimator` is the scikit-learn-style shell. (The module
is over 500 lines because this docstring carries the method's assumptions and
measured choices; the code itself is the cores, the subsampling and the shell.)
"""
from __future__ import annotations

import functools
import math
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import check_is_fitted

from .._x64 import x64
from ..data import ComparisonTable, as_table
from ..design import DenseDesign, feature_design, pad_rows, padded_size
from ..geometry import angle_degrees
from ..inference import subsample_indices, subsample_size, subsampling_radius
from ..losses import logistic_fit
from ..optim import lbfgs
from ..validation import check_int, check_option, check_random_state, check_real
from .base import DirectionMixin, PreferenceClassifier, disagreement_rate

__all__ = ["SignEstimator", "SignResult", "fit_core", "exact_core", "agreement", "angle_deg",
           "disagreement_rate", "log_map", "subsampling_cone"]

# End points of the bandwidth annealing: the exponent e of h0 n^-e.
BANDWIDTHS = {"horowitz": 1.0 / 5.0, "cube-root": 1.0 / 3.0}
# Rate assumed by the subsampling scale (m/n)^RATE: the cube root, the slowest of the estimators'
# rates (module docstring); the default of subsampling_cone and the scale of the cube-root end point
# and of the exact method.
RATE = 1.0 / 3.0
# Subsampling rate and bias correction per end point of the smoothed method (module docstring,
# "Inference"): the Horowitz end point uses its own rate n^(-2/5) with the subsample fits' extra
# smoothing bias corrected; the cube-root end point is unchanged.
CALIBRATION = {"horowitz": (2.0 / 5.0, True), "cube-root": (RATE, False)}


class SignResult(NamedTuple):
    direction: jax.Array  # (d,) unit vector
    score: jax.Array  # exact agreement A_n(direction)
    bandwidths: jax.Array  # (n_bandwidths,) annealing path (empty for the exact method)
    converged: jax.Array  # L-BFGS met its tolerance in every stage of the chosen start
    n_iter: jax.Array  # L-BFGS iterations over all starts and stages


def _signed_weights(y, w):
    # c_i = w_i (2 y_i - 1): a tie has s = 0 and contributes nothing.
    return w * (2.0 * y - 1.0)


def agreement(design, y, w, b):
    """Exact weighted agreement ``A_n(b)`` (ties ignored; ``b^T z = 0`` counts one half)."""
    c = _signed_weights(y, w)
    return 0.5 * (1.0 + jnp.sum(c * jnp.sign(design.matvec(b))) / jnp.sum(jnp.abs(c)))


def _bt_direction(design, y, w):
    """Unit direction of the BT fit on the non-tied rows, the first start (ties are ignored
    throughout). Only a starting point: under separation the Newton iterates grow along the
    separating direction, which is still a good start."""
    p = design.p
    W = jnp.where(y != 0.5, w, 0.0)
    res = logistic_fit(design, W, W * y, jnp.zeros(p), jnp.zeros(p), max_iter=50)
    norm = jnp.linalg.norm(res.x)
    ok = jnp.isfinite(norm) & (norm > 0)
    return jnp.where(ok, res.x / jnp.where(ok, norm, 1.0), jnp.eye(p, dtype=res.x.dtype)[0])


def _bandwidth_path(design, c, w, b0, n_bandwidths: int, exponent: float):
    """h_k = h0 n_eff^(-exponent k / (K - 1)), h0 = median |b0^T z_i| over the informative rows."""
    informative = c != 0
    a = jnp.abs(design.matvec(b0))
    h0 = jnp.nanmedian(jnp.where(informative, a, jnp.nan))
    # A median of 0 (most informative rows orthogonal to b0, e.g. sparse one-hot features) would
    # stop the annealing before it starts: fall back to the mean scale, then to 1.
    mean = jnp.sum(jnp.where(informative, a, 0.0)) / jnp.maximum(jnp.sum(informative), 1)
    h0 = jnp.where(h0 > 0, h0, jnp.where(mean > 0, mean, 1.0))
    n_eff = jnp.maximum(jnp.sum(jnp.where(informative, w, 0.0)), 1.0)
    steps = jnp.arange(n_bandwidths) / max(n_bandwidths - 1, 1)
    return h0 * n_eff ** (-exponent * steps)


def _anneal(design, c, u0, bandwidths, gtol, max_iter):
    """Maximise the smoothed score along the bandwidth path from ``u0``.

    Returns the unit end point, whether every stage met its tolerance, and the iteration count.
    """
    # The L-BFGS memory need not exceed the dimension; a shorter one makes each iteration cheaper.
    # (Every stage is solved to gtol: stopping the intermediate stages 100x earlier saved ~5% of the
    # time but sometimes left the path in a worse local maximum, 2 degrees off in 1 of 16 fits.)
    memory = int(min(20, max(4, design.p)))

    def stage(u, h):
        def value(v):
            r2 = v @ v
            # S_{n,h} depends on v only through v/|v|; the radial term pins |v| = 1 so that
            # L-BFGS sees no flat direction (it does not move the maximiser on the sphere).
            return -jnp.sum(c * jax.nn.sigmoid(design.matvec(v) / (jnp.sqrt(r2) * h))) + 0.25 * (r2 - 1.0) ** 2

        res = lbfgs(value, u, gtol=gtol, max_iter=max_iter, memory_size=memory)
        return res.x / jnp.linalg.norm(res.x), (res.converged, res.n_iter)

    u, (converged, n_iter) = jax.lax.scan(stage, u0, bandwidths)
    return u, jnp.all(converged), jnp.sum(n_iter)


@functools.lru_cache(maxsize=None)
def _sequential_fit(n_starts: int, n_bandwidths: int, max_iter: int, exponent: float):
    # Under vmap (simulation replications, subsamples) the fits run one after another: batched
    # L-BFGS would run every fit to the slowest one's iteration count and, its line search
    # branching on the data, evaluate both branches of every step (measured 3-5x slower).
    @jax.custom_batching.sequential_vmap
    def fit(design, y, w, key, gtol):
        c = _signed_weights(y, w)
        c = c / jnp.sum(jnp.abs(c))  # tied rows have c = 0 and change nothing, not even the scale
        b0 = _bt_direction(design, y, w)
        rnd = jax.random.normal(key, (n_starts - 1, design.p), dtype=b0.dtype)
        starts = jnp.concatenate([b0[None], rnd / jnp.linalg.norm(rnd, axis=1, keepdims=True)])
        bandwidths = _bandwidth_path(design, c, w, b0, n_bandwidths, exponent)
        ends, converged, n_iter = jax.lax.map(lambda u: _anneal(design, c, u, bandwidths, gtol, max_iter), starts)
        exact = jax.vmap(lambda b: jnp.sum(c * jnp.sign(design.matvec(b))))(ends)
        best = jnp.argmax(exact)
        b = ends[best]
        return SignResult(direction=b, score=agreement(design, y, w, b), bandwidths=bandwidths,
                          converged=converged[best], n_iter=jnp.sum(n_iter))

    return fit


@partial(jax.jit, static_argnames=("n_starts", "n_bandwidths", "max_iter", "bandwidth"))
def fit_core(design, y, w, key, n_starts: int = 3, n_bandwidths: int = 6, gtol: float = 1e-5,
             max_iter: int = 200, bandwidth: str = "horowitz") -> SignResult:
    """Smoothed maximum score with an annealed bandwidth and several starts: a pure function.

    ``design`` is a :mod:`prefstat.design` pytree of the feature differences,
    ``y`` the outcomes (1/0/0.5), ``w`` frequency weights (padding rows: w = 0),
    ``key`` a JAX PRNG key for the ``n_starts - 1`` random starts, ``bandwidth``
    a key of :data:`BANDWIDTHS` (the end point of the annealing). ``gtol``
    stops each L-BFGS stage when ``max|gradient| <= gtol`` (the score is an
    average, so this is scale-free). Trace it under
    ``prefstat._x64.x64_scope()``; ``vmap`` it over data for simulations (the
    batched fits then run sequentially, see :func:`_sequential_fit`).
    """
    exponent = BANDWIDTHS[bandwidth]
    return _sequential_fit(n_starts, n_bandwidths, max_iter, exponent)(design, y, w, key, jnp.asarray(gtol, y.dtype))


@jax.jit
def exact_core(Z, y, w) -> SignResult:
    """Exact maximum score for d = 1 or 2 (dense ``Z``): a pure function, O(n log n).

    d = 2: with b = (cos phi, sin phi) and alpha_i the angle of z_i, sign(b^T z_i)
    is +1 on the open half circle (alpha_i - pi/2, alpha_i + pi/2). The score is
    constant between consecutive event angles alpha_i -+ pi/2 and jumps by
    +-2 c_i there; it is evaluated once directly (at the middle of the longest
    arc) and carried to every other arc by cumulative sums. The estimate is the
    midpoint of the best arc of positive length (the first one by angle if
    several tie). d = 1: b = +1 unless -1 scores strictly higher.
    """
    c = _signed_weights(y, w)
    d = Z.shape[1]
    if d == 1:
        b = jnp.where(jnp.sum(c * jnp.sign(Z[:, 0])) >= 0, 1.0, -1.0)[None].astype(Z.dtype)
    elif d == 2:
        alpha = jnp.arctan2(Z[:, 1], Z[:, 0])
        live = jnp.any(Z != 0, axis=1)
        two_pi = 2.0 * math.pi
        events = jnp.concatenate([jnp.mod(alpha - 0.5 * math.pi, two_pi), jnp.mod(alpha + 0.5 * math.pi, two_pi)])
        jumps = jnp.concatenate([jnp.where(live, 2.0 * c, 0.0), jnp.where(live, -2.0 * c, 0.0)])
        order = jnp.argsort(events)
        events, jumps = events[order], jumps[order]
        # arc k runs from events[k] to events[k + 1]; the last one wraps around to events[0] + 2 pi
        length = jnp.concatenate([events[1:], events[:1] + two_pi]) - events
        mid = events + 0.5 * length
        cum = jnp.cumsum(jumps)
        ref = jnp.argmax(length)
        at_ref = jnp.sum(c * jnp.sign(Z @ jnp.stack([jnp.cos(mid[ref]), jnp.sin(mid[ref])])))
        score = jnp.where(length > 0, at_ref + cum - cum[ref], -jnp.inf)
        phi = mid[jnp.argmax(score)]
        b = jnp.stack([jnp.cos(phi), jnp.sin(phi)])
    else:
        raise ValueError(f"the exact method needs d <= 2 features; got d = {d}. Use method='smoothed'.")
    return SignResult(direction=b, score=agreement(DenseDesign(Z), y, w, b), bandwidths=jnp.zeros(0, Z.dtype),
                      converged=jnp.asarray(True), n_iter=jnp.asarray(0, jnp.int32))


# Kept under its original public name; the one implementation is prefstat.geometry.angle_degrees.
angle_deg = angle_degrees


def log_map(b_hat, B):
    """Tangent-space coordinates at the unit vector ``b_hat`` of the unit rows of ``B`` (jax.numpy).

    log_b(v) = theta (v - cos(theta) b) / sin(theta), theta = angle(b, v): the
    vector in the tangent plane at b whose length is the geodesic distance to v.
    """
    B = jnp.atleast_2d(B)
    cos = jnp.clip(B @ b_hat, -1.0, 1.0)
    perp = B - cos[:, None] * b_hat
    sin = jnp.linalg.norm(perp, axis=1)
    theta = jnp.arctan2(sin, cos)
    safe = jnp.where(sin > 0, sin, 1.0)
    return perp * jnp.where(sin > 0, theta / safe, 1.0)[:, None]


def subsampling_cone(b_hat, subsample_dirs, n, m, level: float = 0.95, rate: float = RATE,
                     bias_correction: bool = False):
    """(cone radius in degrees, (d, 2) tangent-space intervals) from subsample directions.

    ``bias_correction`` (the Horowitz end point, rate 2/5): the subsample fits end at the
    larger bandwidth h_m, so with smoothing bias B h^2 ∝ B n^(-2/5) the subsample deviations
    t_j are centred at B (m^(-2/5) - n^(-2/5)), and after the scale c = (m/n)^(2/5) they
    carry only the fraction 1 - c of the full fit's bias B n^(-2/5). Their mean estimates
    that centre, so each t_j is shifted by mean(t) c / (1 - c) before the quantiles are taken:
    the scaled deviations then carry the whole bias, as the full fit's error does.

    With t_j = log_{b_hat}(b_j) the log map of subsample direction j and r the
    convergence ``rate`` of the estimator, the cone radius is
    (m/n)^r q_level(|t_j|) (|t_j| is the angle) and the interval
    of coordinate k is b_hat_k -+ (m/n)^r q_level(|t_jk|)
    (:func:`prefstat.inference.subsampling_radius`). Symmetric intervals: in
    finite samples the maximum score estimator is biased towards the BT side
    (d = 2 exact search, worked example: -3.9 deg at n = 737, -0.8 deg at
    n = 20k, against spreads of 14 and 4.4 deg), a bias that shrinks faster
    than n^(-1/3), so equal-tailed intervals, which reflect the subsample
    deviations, over-correct it (coverage 0.80 instead of 0.95 at n = 20k). To
    first order the tangent coordinates are those of the true unit direction.
    Traceable (jax.numpy).
    """
    tangent = log_map(b_hat, subsample_dirs)
    if bias_correction:
        c = (m / n) ** rate
        tangent = tangent + jnp.mean(tangent, axis=0) * (c / (1.0 - c))
    radius = subsampling_radius(jnp.degrees(jnp.linalg.norm(tangent, axis=1)), n, m, level, rate)
    half = subsampling_radius(jnp.abs(tangent), n, m, level, rate)
    return radius, jnp.stack([b_hat - half, b_hat + half], axis=1)


@partial(jax.jit, static_argnames=("n_starts", "n_bandwidths", "max_iter", "bandwidth"))
def _subsample_fits(design, y, w, idx, keys, n_starts, n_bandwidths, gtol, max_iter, bandwidth):
    """Refits on subsamples: row ``idx[j]`` of the data (one unit each), one key per subsample."""

    def one(rows, key):
        sub = jax.tree_util.tree_map(lambda a: a[rows], design)
        return fit_core(sub, y[rows], jnp.ones(rows.shape[0], y.dtype), key, n_starts=n_starts,
                        n_bandwidths=n_bandwidths, gtol=gtol, max_iter=max_iter, bandwidth=bandwidth).direction

    return jax.vmap(one)(idx, keys)


class SignEstimator(DirectionMixin, PreferenceClassifier):
    """Sign (maximum score) estimator of the population-average preference direction.

    See the module docstring for the estimator, its assumptions (central
    symmetry), what it converges to under skewed heterogeneity (the majority,
    not the mean: a negative control), the optimiser and the subsampling rule.

    Parameters
    ----------
    method : {"smoothed", "exact"}, default "smoothed"
        ``"smoothed"``: annealed smoothed maximum score (any d).
        ``"exact"`` (d <= 2 only): the exact 0-1 maximiser by an angular sweep
        (Manski's estimator itself, cube-root rate; ``bandwidth`` is ignored).
    bandwidth : {"horowitz", "cube-root"}, default "horowitz"
        End point of the annealing, ``h0 n^-1/5`` or ``h0 n^-1/3`` (module
        docstring): Horowitz's smoothed maximum score (rate n^-2/5 for smooth
        designs; the default, 25-40% smaller angular error in the worked example)
        or a near-0-1 objective with the cube-root rate of the maximum score.
        The subsampling scale is each end point's own rate: (m/n)^(2/5) with a
        bias correction for the Horowitz end point, (m/n)^(1/3) for the cube root
        (module docstring).
    n_starts : int, default 3
        Starts of the smoothed method: the BT direction plus ``n_starts - 1`` random directions.
    n_bandwidths : int, default 6
        Stages of the bandwidth annealing.
    n_subsamples : int, default 200
        Subsample refits for ``conf_cone`` / ``conf_int``: 0 skips inference, else at least 2.
    subsample_size : int >= 2 or None, default None
        Comparisons per subsample; None applies the rule m = ceil(n^(2/3)), n the
        number of comparisons (total frequency weight).
    random_state : int, numpy Generator or None
        Seed of the random starts and of the subsamples.
    tol : positive float, default 1e-5
        L-BFGS stops a stage when max|gradient of the smoothed score| <= tol (the
        score is an average: near the maximum this is an angle error of order
        tol / curvature, far below the n^(-1/3) sampling error).
    max_iter : int, default 200
        L-BFGS iterations per stage.

    Attributes
    ----------
    direction_, coef_ : (d,) unit vector (the same array)
    score_ : exact agreement of ``direction_`` (share of non-tied comparisons it orders correctly)
    bandwidth_path_ : bandwidths of the annealing (empty for the exact method)
    n_starts_ : starts used (1 for the exact method)
    converged_ : every L-BFGS stage of the chosen start met ``tol`` (always True when exact)
    n_iter_ : L-BFGS iterations over all starts and stages (0 for the exact method)
    nobs_ : number of comparisons (total weight); ``n_informative_``: of them not tied
    subsample_size_ : m (only when ``n_subsamples > 0``); ``n_features_in_``: d
    feature_names_in_ : column names of a DataFrame ``X`` (when all strings); predict-time
        DataFrames must match them, order included

    Notes
    -----
    Every hyperparameter is validated by ``fit`` (a ValueError names it and its allowed range).
    :meth:`score` (the agreement, ties skipped) is the default ``GridSearchCV`` scorer.
    """

    def __init__(self, method="smoothed", bandwidth="horowitz", n_starts=3, n_bandwidths=6, n_subsamples=200,
                 subsample_size=None, random_state=None, tol=1e-5, max_iter=200):
        self.method = method
        self.bandwidth = bandwidth
        self.n_starts = n_starts
        self.n_bandwidths = n_bandwidths
        self.n_subsamples = n_subsamples
        self.subsample_size = subsample_size
        self.random_state = random_state
        self.tol = tol
        self.max_iter = max_iter

    def _check_params(self) -> None:
        """Validate every hyperparameter (called by ``fit``)."""
        check_option("method", self.method, ("smoothed", "exact"))
        check_option("bandwidth", self.bandwidth, sorted(BANDWIDTHS))
        check_int("n_starts", self.n_starts, 1)
        check_int("n_bandwidths", self.n_bandwidths, 2)
        check_int("n_subsamples", self.n_subsamples, 0)
        if self.n_subsamples == 1:
            raise ValueError("n_subsamples must be 0 (no inference) or an integer >= 2; got 1.")
        check_int("subsample_size", self.subsample_size, 2, allow_none=True)
        check_random_state("random_state", self.random_state)
        check_real("tol", self.tol, 0.0, low_open=True)
        check_int("max_iter", self.max_iter, 1)

    def _opts(self) -> dict:
        return dict(n_starts=int(self.n_starts), n_bandwidths=int(self.n_bandwidths), gtol=float(self.tol),
                    bandwidth=self.bandwidth,
                    max_iter=int(self.max_iter))

    @x64
    def fit(self, X, y=None, sample_weight=None):
        """Fit on feature differences ``X`` (n, d) (dense or scipy.sparse) or a feature-level table.

        ``y``: 1 left preferred, 0 right, 0.5 tie (ignored: no sign information).
        ``sample_weight``: frequency weights (integers when ``n_subsamples > 0``:
        subsampling draws comparisons).
        """
        self._check_params()
        table = as_table(X, y, sample_weight, design="features", kind="features", who="the sign estimator")
        self._reset_input_names(X)
        Z, y, w = table.features, table.outcome, table.weight
        n_rows, d = Z.shape
        method = self.method
        if method == "exact" and d > 2:
            raise ValueError(f"method='exact' needs at most 2 features; X has {d}. Use method='smoothed'.")
        informative = (y != 0.5) & (w > 0)
        if not informative.any():
            raise ValueError("every comparison in y is a tie (0.5) or has zero weight: ties carry no sign "
                             "information, so the direction is not identified.")
        frequency = np.all(w == np.round(w))
        if self.n_subsamples > 0 and not frequency:
            raise ValueError("subsampling draws comparisons, so sample_weight must hold integer frequency "
                             "weights; pass n_subsamples=0 to fit without inference.")
        self.__dict__.pop("subsample_size_", None)  # a refit without inference must not keep the old one
        rng = np.random.default_rng(self.random_state)
        rows = padded_size(n_rows)
        # the exact sweep needs the columns themselves: with d <= 2 a dense copy is cheap
        design, _ = feature_design(Z.toarray() if method == "exact" and sp.issparse(Z) else Z, n_rows=rows)
        yj, wj = jnp.asarray(pad_rows(y, rows)), jnp.asarray(pad_rows(w, rows))
        if method == "exact":
            res = exact_core(design.X, yj, wj)
        else:
            key = jax.random.PRNGKey(rng.integers(2**63))
            res = fit_core(design, yj, wj, key, **self._opts())
        self.direction_ = np.asarray(res.direction, np.float64)
        self.coef_ = self.direction_
        self.score_ = float(res.score)
        self.bandwidth_path_ = np.asarray(res.bandwidths, np.float64)
        self.n_starts_ = 1 if method == "exact" else int(self.n_starts)
        self.converged_ = bool(res.converged)
        self.n_iter_ = int(res.n_iter)
        self.nobs_ = float(w.sum())
        self.n_informative_ = float(w[informative].sum())
        self.n_features_in_ = d
        self.classes_ = np.array([0, 1])
        self._subsamples = None
        if self.n_subsamples > 0:
            self._subsamples = self._subsample(design, yj, w, method, rng)
        return self

    def _subsample(self, design, yj, w, method, rng) -> np.ndarray:
        n_units = int(round(w.sum()))
        m = subsample_size(n_units) if self.subsample_size is None else int(self.subsample_size)
        if not 2 <= m < n_units:
            raise ValueError(f"subsample_size must be between 2 and the number of comparisons - 1 "
                             f"({n_units - 1}); got {m}.")
        self.subsample_size_ = m
        # Units are comparisons: unit j belongs to the row whose cumulative weight first exceeds j.
        units = subsample_indices(rng, n_units, m, self.n_subsamples)
        idx = np.searchsorted(np.cumsum(w), units, side="right")
        if method == "exact":
            Z = design.X
            dirs = jax.vmap(lambda r: exact_core(Z[r], yj[r], jnp.ones(r.shape[0])).direction)(jnp.asarray(idx))
            return np.asarray(dirs)
        keys = jax.random.split(jax.random.PRNGKey(rng.integers(2**63)), self.n_subsamples)
        chunk = max(1, min(self.n_subsamples, int(2e7 // (m * (design.p + 2)))))
        out = [np.asarray(_subsample_fits(design, yj, jnp.ones_like(yj), jnp.asarray(idx[s:s + chunk]),
                                          keys[s:s + chunk], **self._opts()))
               for s in range(0, self.n_subsamples, chunk)]
        return np.concatenate(out)

    # ------------------------------------------------------------- inference
    def _require_subsamples(self):
        check_is_fitted(self, "direction_")
        if self._subsamples is None:
            raise ValueError("no subsamples: refit with n_subsamples > 0 for conf_cone / conf_int.")

    def _calibration(self) -> tuple:
        """(rate, bias_correction) of the subsampling scale for this fit (``CALIBRATION``)."""
        return (RATE, False) if self.method == "exact" else CALIBRATION[self.bandwidth]

    @x64
    def conf_cone(self, level: float = 0.95) -> float:
        """Radius in degrees of the ``level`` confidence cone around ``direction_`` (subsampling)."""
        self._require_subsamples()
        radius, _ = subsampling_cone(jnp.asarray(self.direction_), jnp.asarray(self._subsamples), self.nobs_,
                                     self.subsample_size_, level, *self._calibration())
        return float(radius)

    @x64
    def conf_int(self, level: float = 0.95) -> np.ndarray:
        """(d, 2) intervals for the coordinates of the true unit direction (tangent-space subsampling)."""
        self._require_subsamples()
        _, intervals = subsampling_cone(jnp.asarray(self.direction_), jnp.asarray(self._subsamples), self.nobs_,
                                        self.subsample_size_, level, *self._calibration())
        return np.asarray(intervals, np.float64)

    # ------------------------------------------------------------ prediction
    def decision_function(self, X) -> np.ndarray:
        """b^T z: positive where the left option is predicted to be preferred."""
        return np.asarray(self._features(X) @ self.direction_).ravel()

    def predict(self, X) -> np.ndarray:
        """1 where the left option is predicted to be preferred, else 0."""
        return (self.decision_function(X) > 0).astype(int)

    @x64
    def score(self, X, y, sample_weight=None) -> float:
        """Exact weighted agreement of ``direction_`` with the outcomes (ties ignored), as ``score_``."""
        check_is_fitted(self, "direction_")
        self._check_input_names(X)
        table = ComparisonTable.from_arrays(X, y, sample_weight, design="features")
        self._check_width(table.features)
        if not np.any(table.weight * (table.outcome != 0.5)):
            raise ValueError("every comparison in y is a tie (0.5) or has zero weight: nothing to score.")
        design, _ = feature_design(table.features, n_rows=table.n_rows)
        return float(agreement(design, jnp.asarray(table.outcome),
                               jnp.asarray(table.weight), jnp.asarray(self.direction_)))
