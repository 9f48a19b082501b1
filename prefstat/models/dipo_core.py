r"""Pure pieces of DIPO: judge features, the per-group two-sample mean and its influence values, PPI++ tuning,
calibration error.

Notation (one ``by`` group :math:`g`; without ``by`` there is one group). The
target sample :math:`T` has :math:`N` rows (:math:`N_g` in group :math:`g`,
share :math:`p_g = N_g / N`); the human sample :math:`H` has :math:`n` rows
with label :math:`Y`, density-ratio weight :math:`w` (:math:`\propto dT/dH`)
and :math:`q_g = \frac1n \sum_{H} w_j 1\{g_j = g\}`. For an outcome function
:math:`m` (the nuisance, a raw judge score, 0, ...)

.. math::

   \hat\psi_g = \underbrace{\frac{1}{N_g} \sum_{T,g} m_i}_{\bar m_g}
              + \underbrace{\frac{\sum_{H,g} w_j (Y_j - m_j)}{\sum_{H,g} w_j}}_{c_g},

the second term a self-normalised (Hajek) weighted mean of the residuals.
It is a ratio of sample means, so its influence values are

.. math::

   \phi_i = 1\{g_i = g\}(m_i - \bar m_g) / p_g \quad (i \in T), \qquad
   \phi_j = w_j 1\{g_j = g\} (Y_j - m_j - c_g) / q_g \quad (j \in H),

each with mean zero within its sample, and
:math:`\hat\psi - \psi \approx \frac1N\sum_T \phi_i + \frac1n \sum_H \phi_j`.
The AI-only mean drops :math:`c_g` (and :math:`\phi` on :math:`H`); the
human-only mean is :math:`m = 0`.

Everything here is numpy on host arrays; the covariance is formed by
:mod:`prefstat.inference.influence` from these values.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..data import describe_rows

__all__ = ["JUDGE_FEATURES", "JudgeFeatures", "judge_features", "TwoSampleMean", "two_sample_mean", "ppi_power",
           "calibration_error"]

JUDGE_FEATURES = ("auto", "logit", "label")


class JudgeFeatures(NamedTuple):
    """Feature map of the judge label for the outcome model: ``kind`` and, for indicators, their values."""

    kind: str  # "logit", "indicator" or "linear"
    values: tuple = ()  # judge values with an indicator column (kind "indicator")

    def __call__(self, a) -> np.ndarray:
        """(m, q) features of judge labels ``a`` (also of swapped labels ``1 - a``)."""
        a = np.asarray(a, np.float64)
        if self.kind == "logit":
            return (np.log(a) - np.log1p(-a))[:, None]
        if self.kind == "linear":
            return a[:, None]
        return np.column_stack([(a == v).astype(np.float64) for v in self.values]) if self.values else \
            np.zeros((a.size, 0))


def judge_features(a: np.ndarray, kind: str) -> JudgeFeatures:
    """The judge-feature map for judge labels ``a`` in [0, 1] (``kind`` is the constructor's ``judge_feature``).

    * ``"logit"``: one column ``logit(a)``; every ``a`` must lie strictly inside (0, 1) (a judge
      probability). Nothing is clipped: a 0 or 1 is an error naming its rows.
    * ``"label"``: when ``a`` only takes the values 0, 0.5 and 1, indicator columns ``1{a = 1}`` and
      ``1{a = 0.5}`` (the smallest value that occurs is the baseline; a value that does not occur
      gets no column); otherwise the column ``a`` itself.
    * ``"auto"``: ``"logit"`` when every ``a`` is inside (0, 1), else ``"label"`` when ``a`` takes only
      the values 0, 0.5 and 1; a probability that is exactly 0 or 1 on some rows and fractional on
      others is an error (choose ``"label"``, or pass the judge's own logit as a column of F).
    """
    if kind not in JUDGE_FEATURES:
        raise ValueError(f"judge_feature must be one of {JUDGE_FEATURES}; got {kind!r}.")
    inside = (a > 0.0) & (a < 1.0)
    discrete = np.isin(a, (0.0, 0.5, 1.0))
    if kind == "auto":
        if inside.all():
            kind = "logit"
        elif discrete.all():
            kind = "label"
        else:
            raise ValueError(
                f"ai_label mixes probabilities in (0, 1) with exact 0/1 values ({describe_rows(~inside)}), so "
                "its logit is infinite there and it is not a 0/0.5/1 label either. Set judge_feature='label' "
                "(uses ai_label linearly) or pass the judge's own logit as a column of F.")
    if kind == "logit":
        if not inside.all():
            raise ValueError(f"judge_feature='logit' needs ai_label strictly inside (0, 1); it is 0 or 1 on "
                             f"{describe_rows(~inside)} (logit infinite; prefstat never clips). Use "
                             "judge_feature='label' for 0/1 judge labels.")
        return JudgeFeatures("logit")
    if discrete.all():
        present = [v for v in (0.0, 0.5, 1.0) if np.any(a == v)]
        return JudgeFeatures("indicator", tuple(present[1:]))  # the smallest value is the baseline
    return JudgeFeatures("linear")


class TwoSampleMean(NamedTuple):
    estimate: np.ndarray  # (k,) psi_hat per group
    phi_target: np.ndarray  # (N, k) influence values on the target rows
    phi_human: np.ndarray  # (n, k) influence values on the human rows
    correction: np.ndarray  # (k,) c_g, the weighted mean residual


def _group_sum(codes, values, k):
    """(k,) sums of ``values`` per code; code -1 (a group outside the target) is dropped."""
    keep = codes >= 0
    return np.bincount(codes[keep], weights=values[keep], minlength=k)


def two_sample_mean(m_target, g_target, m_human, y, w, g_human, k: int, correct: bool = True) -> TwoSampleMean:
    """``psi_g = mean_{T,g} m + sum_{H,g} w (y - m) / sum_{H,g} w`` and its influence values (module docstring).

    ``g_target`` / ``g_human``: group codes in ``[0, k)`` (-1 on human rows whose group has no
    target rows: they enter no estimate). ``correct=False``: the plain target mean of ``m``.
    Every group must have target rows and positive human weight (the caller checks and names it).
    """
    N, n = m_target.size, m_human.size
    p = np.bincount(g_target, minlength=k) / N
    mbar = np.bincount(g_target, weights=m_target, minlength=k) / (p * N)
    phi_t = np.zeros((N, k))
    phi_t[np.arange(N), g_target] = (m_target - mbar[g_target]) / p[g_target]
    phi_h = np.zeros((n, k))
    c = np.zeros(k)
    if correct:
        sw = _group_sum(g_human, w, k)
        resid = y - m_human
        c = _group_sum(g_human, w * resid, k) / sw
        q = sw / n
        rows = np.flatnonzero(g_human >= 0)
        g = g_human[rows]
        phi_h[rows, g] = w[rows] * (resid[rows] - c[g]) / q[g]
    return TwoSampleMean(estimate=mbar + c, phi_target=phi_t, phi_human=phi_h, correction=c)


def ppi_power(a_target, g_target, a_human, y, w, g_human, k: int, pooled: bool) -> tuple[np.ndarray, np.ndarray]:
    r"""PPI++ power per group: ``(lam clipped to [0, 1], lam unclipped)``, each (k,).

    With :math:`m = \lambda a` the influence values are :math:`\lambda s` on the target and
    :math:`u - \lambda t` on the human rows (:math:`u`: human-only values, :math:`t`: those of the
    weighted mean of :math:`a`), so the variance :math:`\lambda^2 V_T(s)/N + V_H(u - \lambda t)/n`
    is minimised by :math:`\lambda = \mathrm{Cov}_H(u, t)/n \,/\, (V_T(s)/N + V_H(t)/n)` (sample
    moments, divisor ``n - 1``). ``pooled=True`` (no density ratio: the samples share one law)
    follows ppi_py's ``_calc_lam_glm`` exactly instead: within each group,
    ``Cov(y, a) / n_g`` (divisor ``n_g``) over ``(1/n_g + 1/N_g) Var(a)``, with ``Var`` the
    (divisor ``- 1``) variance of ``a`` over both samples' rows of the group, i.e.
    ``Cov(y, a) / ((1 + n_g/N_g) Var(a))``
    (Angelopoulos, Duchi & Zrnic 2023, arXiv 2311.01453).
    """
    if pooled:
        lam = np.zeros(k)
        for g in range(k):
            yh, ah, at = y[g_human == g], a_human[g_human == g], a_target[g_target == g]
            cov = np.mean((yh - yh.mean()) * (ah - ah.mean()))
            var = np.var(np.concatenate([ah, at]), ddof=1)
            lam[g] = cov / ((1.0 + ah.size / at.size) * var) if var > 0 else 0.0
    else:
        N, n = a_target.size, a_human.size
        s = two_sample_mean(a_target, g_target, a_human, y, w, g_human, k, correct=False).phi_target
        u = two_sample_mean(np.zeros(N), g_target, np.zeros(n), y, w, g_human, k).phi_human
        t = u - two_sample_mean(a_target, g_target, a_human, y, w, g_human, k).phi_human
        var_s = np.var(s, axis=0, ddof=1) / N
        var_t = np.var(t, axis=0, ddof=1) / n
        cov_ut = np.sum((u - u.mean(0)) * (t - t.mean(0)), axis=0) / (n - 1) / n
        den = var_s + var_t
        lam = np.divide(cov_ut, den, out=np.zeros(k), where=den > 0)
    return np.clip(lam, 0.0, 1.0), lam


def calibration_error(p, y, n_bins: int = 10) -> float:
    r"""Binned expected calibration error :math:`\sum_b (n_b/n) |\bar y_b - \bar p_b|` of predictions ``p``.

    Equal-mass bins of the rows sorted by ``p`` (stable sort; at most ``n_bins``, at least 5 rows
    per bin). A binned estimate: sampling noise adds about :math:`\sqrt{B/n}` times the outcome's
    standard deviation, so compare the judge's and the fitted ``m``'s values on the same rows.
    """
    p, y = np.asarray(p, np.float64), np.asarray(y, np.float64)
    bins = max(1, min(int(n_bins), p.size // 5))
    order = np.argsort(p, kind="stable")
    err = 0.0
    for idx in np.array_split(order, bins):
        err += idx.size * abs(y[idx].mean() - p[idx].mean())
    return float(err / p.size)
