r"""Density ratios from a probabilistic classifier, and the alpha-relative ratio.

Estimand: :math:`r(x) = p_1(x) / p_0(x)`, the ratio of the densities of two
samples (label 1: numerator, e.g. the AI-labelled pool; label 0: denominator,
e.g. the human sample). By Bayes' rule, for a classifier trained on the two
samples stacked (``n_1`` rows of label 1, ``n_0`` of label 0),

.. math::  r(x) = \frac{n_0}{n_1} \cdot \frac{P(1 \mid x)}{1 - P(1 \mid x)}
           = \frac{n_0}{n_1} e^{\mathrm{logit}\,P(1 \mid x)},

the posterior odds times the inverse prior odds (Qin 1998; Bickel, Brückner &
Scheffer 2009). With cross-fitting the sample sizes are those of the training
folds. Calibration matters: a classifier whose probabilities are not the
posterior gives a biased ratio, and ``P(1 | x) = 1`` an infinite one.

The alpha-relative ratio (Yamada et al. 2011/2013, RuLSIF)
:math:`r_\alpha = p_1 / (\alpha p_1 + (1 - \alpha) p_0) = r / (\alpha r + 1 - \alpha)`
is bounded by :math:`1/\alpha` for :math:`\alpha \in (0, 1]`; :math:`\alpha = 0`
is the ordinary ratio.

The functions use only array arithmetic, so they accept numpy or JAX arrays
and can be traced (``jit``/``vmap``). See ``docs/methods.md`` (density ratios).
"""
from __future__ import annotations

import numbers

import numpy as np

from ..data import describe_rows

__all__ = ["density_ratio_from_proba", "density_ratio_from_logodds", "relative_density_ratio",
           "check_finite_ratio"]


def density_ratio_from_proba(p, size_ratio):
    """``size_ratio * p / (1 - p)``: the ratio ``p_1 / p_0`` from ``p = P(label 1 | x)``.

    ``size_ratio`` is ``n_0 / n_1`` (weighted sample sizes of the classifier's
    training rows), a scalar or one value per row (e.g. per cross-fitting fold).
    ``p = 1`` gives ``inf``: check with :func:`check_finite_ratio` on host.
    """
    return size_ratio * p / (1.0 - p)


def density_ratio_from_logodds(eta, size_ratio):
    """``size_ratio * exp(eta)``: the ratio from the log-odds ``eta = logit P(label 1 | x)``.

    Numerically preferable to :func:`density_ratio_from_proba` when the
    classifier's linear predictor is available (no cancellation in ``1 - p``).
    """
    xp = _namespace(eta)
    return size_ratio * xp.exp(eta)


def relative_density_ratio(r, alpha):
    """The alpha-relative ratio ``r / (alpha r + 1 - alpha)``, in ``[0, 1/alpha]`` for ``alpha in (0, 1]``.

    ``alpha = 0`` returns ``r``; ``alpha = 1`` returns 1 wherever ``r`` is
    finite; ``r = inf`` maps to ``1/alpha`` (its limit) for ``alpha > 0``.
    """
    if isinstance(alpha, numbers.Real) and not 0.0 <= float(alpha) <= 1.0:
        raise ValueError(f"alpha must lie in [0, 1]; got {alpha!r}.")
    if isinstance(alpha, numbers.Real) and alpha == 0:
        return r
    xp = _namespace(r)
    infinite = xp.isinf(r)
    safe = xp.where(infinite, 0.0, r)  # no inf / inf
    return xp.where(infinite, 1.0 / alpha, safe / (alpha * safe + (1.0 - alpha)))


def check_finite_ratio(p, rows_mask=None, label: str = "pool", rows: str = "human") -> None:
    """Raise naming the rows where a class probability ``P(label 1 | x)`` is 1 (an infinite ratio).

    ``rows_mask`` restricts the check to the rows whose ratio is used (e.g. the
    human rows); ``label`` and ``rows`` name the numerator sample and those rows
    in the message. The ratio is never clipped: no overlap is an error the user
    must resolve.
    """
    p = np.asarray(p, np.float64)
    bad = p >= 1.0
    if rows_mask is not None:
        bad &= np.asarray(rows_mask, bool)
    if bad.any():
        raise ValueError(f"the classifier gives P({label}) = 1 on {rows} {describe_rows(bad)}: no overlap, the "
                         "density ratio is infinite there (weights are never clipped). Use a calibrated classifier "
                         f"or drop the {label} pairs that {rows} rows never cover.")


def _namespace(x):
    """numpy for host arrays, jax.numpy for JAX arrays and tracers."""
    if isinstance(x, (np.ndarray, numbers.Number)):
        return np
    import jax.numpy as jnp

    return jnp
