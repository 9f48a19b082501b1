r"""Pure JAX cores of :class:`~prefstat.RelativeDensityRatio` (jit- and vmap-able, run in float64).

The two samples are stacked into one pooled matrix ``Z`` (n, d); ``wp`` and
``wm`` are per-row weights of the numerator and denominator sample (0/1 masks,
times a training-fold mask when cross-fitting, or a permuted labelling in the
permutation test). Every quantity is normalised within each sample, so the
numerator and denominator enter with the weights ``alpha`` and ``1 - alpha``
whatever their sizes.

* RuLSIF (Yamada et al. 2011/2013): :func:`gaussian_kernel`,
  :func:`rulsif_cv_losses` (K-fold cross-validation over a bandwidth x ridge
  grid, one eigendecomposition per bandwidth and fold serves every ridge),
  :func:`rulsif_fold_thetas` (per-fold and full-sample coefficients),
  :func:`rulsif_perm_pe` (the permutation statistic).
* RDRO loss (Takahashi et al. 2026) and the class-weighted logistic classifier
  are both the shared soft-target logistic loss (:mod:`prefstat.losses`) with
  per-row weights: :func:`rdro_weights`, :func:`classifier_weights`,
  :func:`logistic_fold_coefs`.
* :func:`pe_variational`: the alpha-relative Pearson divergence in its
  variational form, with its two-sample influence-function variance.

See ``docs/methods.md#relative-density-ratio``.
"""
from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp

from ..design import DenseDesign
from ..inference import influence_cov
from ..losses import logistic_fit

__all__ = ["squared_distances", "gaussian_kernel", "fold_moments", "rulsif_cv_losses", "rulsif_fold_thetas", "rulsif_fit_core", "rulsif_pe_correction", "rulsif_perm_pe",
           "rdro_weights", "classifier_weights", "logistic_fold_coefs", "logistic_perm_pe", "pe_variational",
           "log_relative_ratio"]


@jax.jit
def squared_distances(X, C):
    """(n, b) squared Euclidean distances between the rows of ``X`` and the centres ``C``."""
    # explicit differences, not |x|^2 + |c|^2 - 2 x.c: the latter cancels catastrophically for nearby
    # points and can give a centre a kernel value != 1 with itself
    return jnp.sum((X[:, None, :] - C[None, :, :]) ** 2, axis=-1)


def gaussian_kernel(X, C, sigma):
    """(n, b) Gaussian kernel ``exp(-|x - c|^2 / (2 sigma^2))`` between rows of ``X`` and centres ``C``."""
    return jnp.exp(-0.5 * squared_distances(X, C) / sigma**2)


def fold_moments(P, fp, fm):
    """Per-fold unnormalised moments of the kernel rows ``P = (Pp, Pm)``, each (K, m, b): the numerator
    and the denominator rows of every fold (padded), with weights ``fp`` and ``fm`` (K, m) (0 on padding).

    Returns ``(Gp, Gm, hp, np_, nm)``: ``sum fp phi phi^T`` over the numerator rows, ``sum fm phi phi^T``
    over the denominator rows, ``sum fp phi`` and the weight totals, per fold. Keeping the two samples'
    rows apart halves the work of the Gram products against weighting all rows twice.
    """
    Pp, Pm = P
    Gp = jnp.einsum("kmb,kmc->kbc", Pp * fp[..., None], Pp)
    Gm = jnp.einsum("kmb,kmc->kbc", Pm * fm[..., None], Pm)
    hp = jnp.einsum("kmb,km->kb", Pp, fp)
    return Gp, Gm, hp, fp.sum(1), fm.sum(1)


def _normalised(Gp, Gm, hp, np_, nm, alpha):
    H = alpha * Gp / np_[..., None, None] + (1.0 - alpha) * Gm / nm[..., None, None]
    return H, hp / np_[..., None]


def _train_and_test(P, fp, fm, alpha):
    Gp, Gm, hp, np_, nm = fold_moments(P, fp, fm)
    test = _normalised(Gp, Gm, hp, np_, nm, alpha)
    train = _normalised(Gp.sum(0) - Gp, Gm.sum(0) - Gm, hp.sum(0) - hp, np_.sum() - np_, nm.sum() - nm, alpha)
    return train, test


@jax.jit
def rulsif_cv_losses(Z, C, sigmas, lams, alpha, rows, fp, fm):
    """(S, L) K-fold held-out RuLSIF loss for every bandwidth in ``sigmas`` and ridge in ``lams``.

    ``rows = (rows_p, rows_m)``, each (K, m): indices into ``Z`` of each fold's numerator and
    denominator rows (padded; padding has weight 0 in ``fp``/``fm``, the weights of those rows).
    The model fitted on the other folds, ``theta = (H_tr + lam I)^-1 h_tr``, is
    scored on the held-out fold by the alpha-weighted squared loss
    ``(alpha/2) mean_+ g^2 + ((1-alpha)/2) mean_- g^2 - mean_+ g``
    (= ``(1/2) E_{q_alpha}[(g - r_alpha)^2]`` up to a constant); folds are averaged.
    """

    def per_sigma(sigma):
        Phi = gaussian_kernel(Z, C, sigma)
        P = (Phi[rows[0]], Phi[rows[1]])
        (H_tr, h_tr), (H_te, h_te) = _train_and_test(P, fp, fm, alpha)
        e, U = jnp.linalg.eigh(H_tr)
        Uh = jnp.einsum("kbc,kb->kc", U, h_tr)
        theta = jnp.einsum("kbc,lkc->lkb", U, Uh[None] / (e[None] + lams[:, None, None]))
        J = 0.5 * jnp.einsum("lkb,kbc,lkc->lk", theta, H_te, theta) - jnp.einsum("kb,lkb->lk", h_te, theta)
        return J.mean(1)

    return jax.lax.map(per_sigma, sigmas)


def _fold_solutions(Z, C, sigma, lam, alpha, rows, fp, fm):
    """``(theta (K + 1, b), H (K + 1, b, b), lu)``: the K fold fits and the full fit (last), their
    normalised ``H`` and the LU factors of ``H + lam I``.

    One batched factorisation serves every system, and later solves reuse it. Two independent batched
    LAPACK calls in one program can run at the same time, and jaxlib 0.10's CPU LAPACK kernels then
    each wait for batch work queued on the same intra-op thread pool: on a 2-core machine both pool
    threads wait and the process hangs (seen with gdb: two threads in jax::ParallelBatchMap under
    dgetrf). Solves that depend on each other's results cannot overlap.
    """
    Phi = gaussian_kernel(Z, C, sigma)
    P = (Phi[rows[0]], Phi[rows[1]])
    Gp, Gm, hp, np_, nm = fold_moments(P, fp, fm)
    H_tr, h_tr = _normalised(Gp.sum(0) - Gp, Gm.sum(0) - Gm, hp.sum(0) - hp, np_.sum() - np_, nm.sum() - nm,
                             alpha)
    H_full, h_full = _normalised(Gp.sum(0), Gm.sum(0), hp.sum(0), np_.sum(), nm.sum(), alpha)
    H = jnp.concatenate([H_tr, H_full[None]])
    lu = jax.scipy.linalg.lu_factor(H + lam * jnp.eye(C.shape[0], dtype=Z.dtype))
    theta = jax.scipy.linalg.lu_solve(lu, jnp.concatenate([h_tr, h_full[None]])[..., None])[..., 0]
    return theta, H, lu


@jax.jit
def rulsif_fold_thetas(Z, C, sigma, lam, alpha, rows, fp, fm):
    """Coefficients at one ``(sigma, lam)``: ``(theta_folds (K, b), theta_full (b,))``.

    ``theta_folds[k]`` is fitted without fold ``k`` (cross-fitting),
    ``theta_full`` on every row.
    """
    theta = _fold_solutions(Z, C, sigma, lam, alpha, rows, fp, fm)[0]
    return theta[:-1], theta[-1]


@jax.jit
def rulsif_fit_core(Z, C, label, folds, sigmas, lams, alpha, rows, fp, fm, usable):
    """The whole RuLSIF fit as one pure function (vmap it over replications with equal shapes).

    Cross-validates over ``sigmas`` x ``lams`` (bandwidths with ``usable`` False are skipped), refits at
    the minimum, and returns a dict: ``losses`` (S, L), ``sigma``, ``lam``, ``theta`` (b,), ``g_oof``
    (n,) cross-fitted ratio values, ``g_in`` in-sample values, ``pe``, ``se`` (cross-fitted divergence
    and its standard error, :func:`pe_variational`).
    """
    losses = rulsif_cv_losses(Z, C, sigmas, lams, alpha, rows, fp, fm)
    losses = jnp.where(usable[:, None] & jnp.isfinite(losses), losses, jnp.inf)
    i, j = jnp.unravel_index(jnp.argmin(losses), losses.shape)
    sigma, lam = sigmas[i], lams[j]
    thetas, H, (lu, piv) = _fold_solutions(Z, C, sigma, lam, alpha, rows, fp, fm)
    theta_k, theta = thetas[:-1], thetas[-1]
    Phi = gaussian_kernel(Z, C, sigma)
    g_oof = jnp.sum(Phi * theta_k[folds], axis=1)
    g_in = Phi @ theta
    pe, se = pe_variational(g_oof, label, 1.0 - label, alpha)
    correction = rulsif_pe_correction(Phi, label, folds, theta_k, H[:-1], (lu[:-1], piv[:-1]), alpha)
    return {"losses": losses, "sigma": sigma, "lam": lam, "theta": theta, "g_oof": g_oof, "g_in": g_in,
            "pe": pe + correction, "pe_correction": correction, "se": se}


def rulsif_pe_correction(Phi, label, folds, theta_k, H, lu, alpha):
    r"""Estimated downward bias of the cross-fitted divergence from the variance of the fold fits.

    Held out, the fold fit ``g = phi^T theta_hat`` scores
    ``PE(theta_hat) = PE(theta_lam) - (1/2) E_q[(g - g_lam)^2] + ...`` (the functional is maximised
    at the ratio, so the loss is quadratic), and ``E_q[(g - g_lam)^2] = tr(H Cov theta_hat)`` for the
    linear kernel model. ``theta_hat`` solves ``(H_hat + lam I) theta = h_hat``, so to first order
    ``theta_hat - theta_lam = A^-1 (mean_+ u_+ + mean_- u_-)`` with ``A = H + lam I``, per numerator
    row ``u_+ = phi (1 - alpha g)`` and per denominator row ``u_- = -(1 - alpha) phi g``; its
    covariance is estimated within each sample from the training rows of the fold. ``H`` (K, b, b)
    are the folds' normalised training moments and ``lu`` the LU factors of ``H + lam I``
    (:func:`jax.scipy.linalg.lu_factor`), as used for the fold fits ``theta_k``.

    Returns ``(1/2) tr(H A^-1 S A^-1)`` averaged over the folds (weighted by their sizes), ``S`` the
    two-sample covariance of the mean score. What it does not remove is the fit's smoothing bias
    ``(1/2) E_q[(g_lam - r_alpha)^2]``, which cross-validation keeps small.
    """
    K = theta_k.shape[0]
    train = (folds[None, :] != jnp.arange(K)[:, None]).astype(Phi.dtype)       # (K, n)
    wp, wm = train * label, train * (1.0 - label)
    n_p, n_m = wp.sum(1), wm.sum(1)
    g = jnp.einsum("nb,kb->kn", Phi, theta_k)
    coef = jnp.where(label[None, :] == 1, 1.0 - alpha * g, -(1.0 - alpha) * g)  # u = coef * phi
    # Within each sample, sum_n (u_n - u_bar)(u_n - u_bar)^T / n_s^2 = (sum_n u_n u_n^T - n_s u_bar u_bar^T) / n_s^2,
    # so S is one weighted Gram product of Phi per fold, without forming the (K, n, b) scores
    mean_p = jnp.einsum("kn,nb->kb", wp * coef, Phi) / n_p[:, None]
    mean_m = jnp.einsum("kn,nb->kb", wm * coef, Phi) / n_m[:, None]
    d = coef**2 * (wp / n_p[:, None] ** 2 + wm / n_m[:, None] ** 2)
    S = (jax.lax.map(DenseDesign(X=Phi).gram, d)
         - jnp.einsum("kb,kc->kbc", mean_p, mean_p) / n_p[:, None, None]
         - jnp.einsum("kb,kc->kbc", mean_m, mean_m) / n_m[:, None, None])
    # A^-1 S A^-1 = A^-1 (A^-1 S)^T for symmetric A and S: two solves with b right-hand sides, not n
    M = jax.scipy.linalg.lu_solve(lu, jnp.swapaxes(jax.scipy.linalg.lu_solve(lu, S), 1, 2))
    per_fold = 0.5 * jnp.einsum("kbc,kbc->k", H, M)
    sizes = (1.0 - train).sum(1)
    return jnp.sum(per_fold * sizes) / sizes.sum()


def _map_whole_batches(one, labels, batch_size):
    """``lax.map(one, labels, batch_size=...)`` with the rows padded to whole batches (copies of the first,
    dropped afterwards): lax.map's remainder path hung indefinitely with jaxlib 0.10.2 on CPU (21
    labellings in batches of 16)."""
    B = labels.shape[0]
    pad = (-B) % batch_size
    padded = jnp.concatenate([labels, jnp.broadcast_to(labels[:1], (pad, labels.shape[1]))]) if pad else labels
    return jax.lax.map(one, padded, batch_size=batch_size)[:B]


@partial(jax.jit, static_argnames=("batch_size",))
def rulsif_perm_pe(Phi, labels, alpha, lam, batch_size=16):
    """(B,) in-sample variational PE of the RuLSIF fit for each labelling ``labels`` (B, n) of the pooled rows.

    ``Phi`` (n, b) is the kernel matrix at the fixed bandwidth; the ridge is
    fixed too. The denominator gram is the total minus the numerator's, so one
    n x b^2 product per labelling.
    """
    G = Phi.T @ Phi
    b = Phi.shape[1]
    eye = jnp.eye(b, dtype=Phi.dtype)

    def one(lab):
        Gp = (Phi * lab[:, None]).T @ Phi
        np_, nm = lab.sum(), (1.0 - lab).sum()
        H = alpha * Gp / np_ + (1.0 - alpha) * (G - Gp) / nm
        h = Phi.T @ lab / np_
        g = Phi @ jnp.linalg.solve(H + lam * eye, h)
        return pe_variational(g, lab, 1.0 - lab, alpha)[0]

    return _map_whole_batches(one, labels, batch_size)


def rdro_weights(wp, wm, alpha):
    """Soft-target logistic-loss weights ``(W, WY)`` of the RDRO loss.

    ``L(s) = mean_+[softplus(-s)] + alpha mean_+[softplus(s)] + (1-alpha) mean_-[softplus(s)]``
    with ``softplus(-s) = softplus(s) - s`` is ``sum_r W_r softplus(s_r) - WY_r s_r`` with
    ``W = (1 + alpha) wp/n_+ + (1 - alpha) wm/n_-`` and ``WY = wp/n_+``; its pointwise minimiser
    ``e^s = p_+ / (alpha p_+ + (1 - alpha) p_-)`` is ``r_alpha``.
    """
    np_, nm = wp.sum(), wm.sum()
    return (1.0 + alpha) * wp / np_ + (1.0 - alpha) * wm / nm, wp / np_


def classifier_weights(wp, wm, balanced: bool):
    """``(W, WY, offset)`` of a class-weighted logistic regression of sample membership.

    Balanced: each sample has total weight 1/2, and the fitted log odds
    estimate ``log p_+/p_-`` directly (offset 0). Unweighted: the log odds
    include the prior odds ``log(n_+/n_-)``, returned as ``offset`` to subtract.
    """
    np_, nm = wp.sum(), wm.sum()
    if balanced:
        return 0.5 * wp / np_ + 0.5 * wm / nm, 0.5 * wp / np_, jnp.zeros((), wp.dtype)
    # unit weights on the per-sample mean scale (sum 1) for the Newton tolerance
    n = np_ + nm
    return (wp + wm) / n, wp / n, jnp.log(np_ / nm)


@partial(jax.jit, static_argnames=("kind", "n_folds", "max_iter"))
def logistic_fold_coefs(F, wp, wm, folds, alpha, penalty, kind: str, n_folds: int, gtol=1e-12, max_iter=100):
    """Per-fold and full-sample coefficients of the RDRO loss (``kind="rdro"``) or the class-balanced
    (``"balanced"``) / unweighted (``"unweighted"``) logistic classifier, on features ``F`` (n, q).

    Returns ``(coef_folds (K, q), offset_folds (K,), coef (q,), offset, converged)``; fold ``k``'s fit
    uses the rows with ``folds != k``.
    """
    design = DenseDesign(X=F)
    beta0 = jnp.zeros(F.shape[1], F.dtype)

    def one(tp, tm):
        if kind == "rdro":
            W, WY = rdro_weights(tp, tm, alpha)
            off = jnp.zeros((), F.dtype)
        else:
            W, WY, off = classifier_weights(tp, tm, kind == "balanced")
        res = logistic_fit(design, W, WY, penalty, beta0, gtol=gtol, max_iter=max_iter)
        return res.x, off, res.converged

    keep = (folds[None, :] != jnp.arange(n_folds)[:, None]).astype(F.dtype)
    bk, ok_, convk = jax.vmap(one)(wp * keep, wm * keep)
    b, off, conv = one(wp, wm)
    return bk, ok_, b, off, conv & jnp.all(convk)


@partial(jax.jit, static_argnames=("kind", "max_iter", "batch_size"))
def logistic_perm_pe(F, labels, alpha, penalty, kind: str, gtol=1e-12, max_iter=100, batch_size=16):
    """(B,) in-sample variational PE of the logistic fit (``kind`` as in :func:`logistic_fold_coefs`)
    for each labelling ``labels`` (B, n) of the pooled rows."""
    design = DenseDesign(X=F)
    beta0 = jnp.zeros(F.shape[1], F.dtype)

    def one(lab):
        if kind == "rdro":
            W, WY = rdro_weights(lab, 1.0 - lab, alpha)
            off = 0.0
        else:
            W, WY, off = classifier_weights(lab, 1.0 - lab, kind == "balanced")
        s = F @ logistic_fit(design, W, WY, penalty, beta0, gtol=gtol, max_iter=max_iter).x - off
        if kind != "rdro":
            s = log_relative_ratio(s, alpha)
        return pe_variational(jnp.exp(s), lab, 1.0 - lab, alpha)[0]

    return _map_whole_batches(one, labels, batch_size)


def log_relative_ratio(f, alpha):
    """``log r_alpha = -log(alpha + (1 - alpha) e^{-f})`` from the log ratio ``f = log p_+/p_-`` (no overflow)."""
    if isinstance(alpha, (int, float)) and alpha == 0.0:
        return f
    return -jnp.logaddexp(jnp.log(alpha), jnp.log1p(-alpha) - f)


@jax.jit
def pe_variational(g, wp, wm, alpha):
    r"""``(PE, stderr)``: the variational alpha-relative Pearson divergence at the ratio values ``g``.

    ``PE = mean_+[g - alpha g^2/2] - ((1 - alpha)/2) mean_-[g^2] - 1/2`` (the
    maximum over ``g`` is ``PE_alpha``, attained at ``g = r_alpha``, so an error
    in ``g`` moves it only at second order). Standard error from the two-sample
    influence function (``ddof = 1`` in each sample), treating ``g`` as fixed:
    right for out-of-fold ``g`` by the orthogonality just stated.
    """
    np_, nm = wp.sum(), wm.sum()
    # each sample's term, divided by its size: the estimate is their weighted sum
    psi = wp * (g - 0.5 * alpha * g**2) / np_ - wm * 0.5 * (1.0 - alpha) * g**2 / nm
    var = influence_cov(psi[:, None], samples=(wp, wm))[0, 0]
    return jnp.sum(psi) - 0.5, jnp.sqrt(var)
