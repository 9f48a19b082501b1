"""Heterogeneous users (mixed logit / probit): the sign estimator's process, :class:`HeterogeneousUsers`.

Truths (the social-welfare direction, the Bradley-Terry KL limit, the maximum-score limit) are exact up to
trapezoid-rule error ~1e-13, using the logistic scale mixture and Stein's lemma of :mod:`.numerics`.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Optional

import jax
import jax.numpy as jnp
import jax.scipy.special as jsp
import numpy as np
import scipy.special as ssp
from scipy import optimize, stats

from ...geometry import angle_degrees
from .numerics import as_vector, expected_probit_exponential, kappa, noise_scales, readonly, require_x64, set_fields, uniforms

__all__ = ["HeterogeneousUsers", "HETEROGENEITY"]


HETEROGENEITY = ("anisotropic", "isotropic", "two_type", "skewed", "none")


def _user_shift_nodes(kind: str, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Quadrature for the scalar user shift V along the contested axis.

    Trapezoid rules: spectrally accurate for these analytic integrands (tests
    halve ``step`` to confirm ~1e-12).
    """
    if kind == "none":
        return np.zeros(1), np.ones(1)
    if kind == "two_type":
        return np.array([-1.0, 1.0]), np.array([0.5, 0.5])
    if kind == "anisotropic":
        v = np.linspace(-12.0, 12.0, int(round(24.0 / step)) + 1)
        return v, (v[1] - v[0]) * stats.norm.pdf(v)
    # skewed: V = E - 1, E ~ Exp(1); substitute E = e^t to resolve E -> 0
    t = np.arange(-40.0, np.log(45.0) + step / 2, step)
    e = np.exp(t)
    return e - 1.0, step * np.exp(-e) * e


@dataclass(frozen=True)
class HeterogeneousUsers:
    r"""Mixed-logit comparisons from heterogeneous users (docs/methods.md#sign-estimator).

    Aouad, El Gadarri, Farias, *The Sign Estimator: LLM Alignment in the Face of
    Choice Heterogeneity* (arXiv 2510.23965). Feature differences
    z ~ N(0, z_scale^2 I_d); the answering user has utility weights beta_u and

        P(y = 1 | z, beta_u) = F(beta_u^T z),   F = Lambda (``noise="logistic"``) or Phi ("probit").

    User weights beta_u = beta_bar + scale * (shift), with
    (j = ``contested_axis``, xi ~ N(0, 1), e_j the j-th unit vector):

    * ``"anisotropic"``: shift = xi e_j (users disagree on one attribute);
    * ``"isotropic"``:   shift = xi_vec ~ N(0, I_d);
    * ``"two_type"``:    shift = +-e_j with probability 1/2 each;
    * ``"skewed"``:      shift = (E - 1) e_j, E ~ Exp(1) (mean zero, median
      ln 2 - 1: not centrally symmetric, the negative control);
    * ``"none"``:        shift = 0.

    With ``n_users=None`` every row is answered by a fresh user, so
    P(y = 1 | z) = p(z) = E_F[F(beta_u^T z)]. With ``n_users = M`` a population
    of M users is drawn per sample and each row is answered by a uniformly
    chosen member; the truths below refer to the super-population F (a finite
    population deviates from it by O(M^-1/2)).

    ``sample(key, n)`` returns ``Z`` (n, d), ``y`` in {0, 1}, ``user`` (int32),
    ``beta_u`` (n, d: weights of the answering user) and ``p`` = p(z), the
    population preference probability (also ``preference_prob(Z)`` in numpy),
    exact to ~1e-13 (normal scale mixture of
    the logistic, closed-form probit integrals; for skewed shifts
    ``E[Phi(a + bE)] = Phi(a) + sign(b) phi(a) M(sign(b) a + 1/|b|)``, M the Mills ratio).

    Truth (numpy float64, cached):

    * ``truth`` / ``direction``: beta_bar / ||beta_bar||, the social-welfare
      direction (the scale of beta_bar is not identified from signs).
    * ``bt_limit``: the KL projection theta* with E[(p(z) - sigma(theta^T z)) z] = 0,
      the limit of BT / logistic regression on z. By Stein's lemma
      theta* is parallel to b = E_u[beta_u kappa_F(z_scale ||beta_u||)],
      kappa_F(a) = E[F'(a g)], and its length t solves
      t kappa_Lambda(z_scale t) = ``||b||``. The user expectation is a 1-D trapezoid
      rule (for isotropic users a closed-form Gaussian expectation under a 1-D
      integral representation of kappa) and kappa is exact given the scale
      mixture: absolute error ~1e-13. ``bt_limit_angle`` is angle(theta*, beta_bar) in degrees.
    * ``sign_limit``: the maximiser over the unit sphere of the population
      maximum score Q(b) = E[(2y - 1) sign(b^T z)] (Manski 1975, 1985), the sign
      estimator's limit. Q(b) = E_u sum_k w_k (2/pi) arcsin(rho_u a_u / sqrt(s_k^2 + a_u^2))
      with rho_u = cos angle(b, beta_u), a_u = z_scale ||beta_u||, (s_k, w_k) the
      noise scale mixture; the maximiser lies in span(beta_bar, e_j) and is
      found by a root of dQ/dphi (angle error ~1e-12 rad). It equals
      ``direction`` for every centrally symmetric kind (for isotropic this is
      used directly rather than computed).
    * ``median_direction``: direction of the median user beta_bar + scale med(V) e_j
      (med(V) = ln 2 - 1 for skewed, 0 otherwise). This is the sign estimator's
      limit only in the noiseless limit; with response noise the limit is
      ``sign_limit`` (in the worked example made skewed, it lies between
      ``median_direction`` and ``direction``: 15.6 deg from e_0, against 4.5 and 45).
    """

    beta_bar: tuple
    heterogeneity: str = "anisotropic"
    scale: float = 1.0
    contested_axis: int = 0
    noise: str = "logistic"
    z_scale: float = 1.0
    n_users: Optional[int] = None

    def __post_init__(self):
        beta = as_vector("beta_bar", self.beta_bar)
        set_fields(self, beta_bar=beta)
        if not np.any(np.asarray(beta)):
            raise ValueError("beta_bar must be non-zero: its direction is the estimand.")
        if self.heterogeneity not in HETEROGENEITY:
            raise ValueError(f"heterogeneity must be one of {HETEROGENEITY}; got {self.heterogeneity!r}.")
        if self.noise not in ("logistic", "probit"):
            raise ValueError(f"noise must be 'logistic' or 'probit'; got {self.noise!r}.")
        if not -len(beta) <= self.contested_axis < len(beta):
            raise ValueError(f"contested_axis={self.contested_axis} is out of range for d={len(beta)}.")
        set_fields(self, contested_axis=self.contested_axis % len(beta))
        if self.scale < 0 or self.z_scale <= 0:
            raise ValueError("scale must be >= 0 and z_scale > 0.")
        if self.n_users is not None and (int(self.n_users) != self.n_users or self.n_users < 1):
            raise ValueError(f"n_users must be None or a positive integer; got {self.n_users}.")

    @classmethod
    def worked_example(cls, n_users: Optional[int] = None) -> "HeterogeneousUsers":
        """docs/methods.md#heterogeneous-users-worked-example: d = 3, z ~ N(0, 2I), logistic noise, beta_u = (1, 1 + 3 xi, 0)."""
        return cls(beta_bar=(1.0, 1.0, 0.0), heterogeneity="anisotropic", scale=3.0,
                   contested_axis=1, noise="logistic", z_scale=math.sqrt(2.0), n_users=n_users)

    @property
    def d(self) -> int:
        return len(self.beta_bar)

    # -- sampling ----------------------------------------------------------
    def _shifts(self, u):
        """User shifts beta_u - beta_bar, (m, d), from uniforms u of shape (m, d)."""
        kind = self.heterogeneity
        if kind == "isotropic":
            return self.scale * jsp.ndtri(u)
        v = u[:, 0]
        if kind == "anisotropic":
            v = jsp.ndtri(v)
        elif kind == "two_type":
            v = jnp.where(v < 0.5, 1.0, -1.0)
        elif kind == "skewed":
            v = -jnp.log(v) - 1.0
        else:
            v = jnp.zeros_like(v)
        return self.scale * v[:, None] * jnp.eye(self.d, dtype=jnp.float64)[self.contested_axis]

    def sample(self, key, n: int) -> dict:
        require_x64()
        m = n if self.n_users is None else self.n_users
        u_z, u_users, u = uniforms(key, (n, self.d), (m, self.d), (2, n))  # u: answering user, response
        Z = self.z_scale * jsp.ndtri(u_z)
        beta_users = jnp.asarray(self.beta_bar) + self._shifts(u_users)
        if self.n_users is None:
            user = jnp.arange(n, dtype=jnp.int32)
            beta_u = beta_users
        else:
            user = jnp.minimum(jnp.floor(u[0] * self.n_users), self.n_users - 1).astype(jnp.int32)
            beta_u = beta_users[user]
        eta = jnp.sum(beta_u * Z, axis=1)
        p_user = jax.nn.sigmoid(eta) if self.noise == "logistic" else jsp.ndtr(eta)
        y = (u[1] < p_user).astype(jnp.float64)
        return {"Z": Z, "y": y, "user": user, "beta_u": beta_u, "p": self._preference_prob(Z, jnp, jsp)}

    def preference_prob(self, Z) -> np.ndarray:
        """p(z) = E_F[F(beta_u^T z)] for the rows of Z (numpy float64, ~1e-13 absolute)."""
        Z = np.atleast_2d(np.asarray(Z, dtype=np.float64))
        return self._preference_prob(Z, np, ssp)

    def _preference_prob(self, Z, xp, sp):
        s, w = (xp.asarray(a) for a in noise_scales(self.noise))
        m = (Z @ xp.asarray(self.beta_bar))[:, None]
        kind = self.heterogeneity
        if kind == "isotropic":
            c = self.scale * xp.sqrt(xp.sum(Z**2, axis=1))[:, None]
        else:
            c = self.scale * Z[:, self.contested_axis][:, None]
        if kind == "none":
            probs = sp.ndtr(m / s)
        elif kind in ("anisotropic", "isotropic"):
            probs = sp.ndtr(m / xp.sqrt(s**2 + c**2))
        elif kind == "two_type":
            probs = 0.5 * (sp.ndtr((m + c) / s) + sp.ndtr((m - c) / s))
        else:
            probs = expected_probit_exponential((m - c) / s, c / s, xp, sp)
        return xp.sum(w * probs, axis=1)

    # -- truths --------------------------------------------------------------
    @functools.cached_property
    def direction(self) -> np.ndarray:
        b = np.asarray(self.beta_bar)
        return readonly(b / np.linalg.norm(b))

    @property
    def truth(self) -> np.ndarray:
        return self.direction

    @functools.cached_property
    def bt_limit(self) -> np.ndarray:
        return readonly(self._bt_limit(step=0.05))

    @functools.cached_property
    def bt_limit_angle(self) -> float:
        return angle_degrees(self.bt_limit, self.direction)

    def _user_nodes(self, step: float) -> tuple[np.ndarray, np.ndarray]:
        """User weights beta_u (nodes, d) and quadrature weights, for the axis kinds."""
        v, w = _user_shift_nodes(self.heterogeneity, step)
        axis = np.eye(self.d)[self.contested_axis]
        return np.asarray(self.beta_bar) + self.scale * v[:, None] * axis, w

    def _bt_limit(self, step: float) -> np.ndarray:
        zs = self.z_scale
        if self.heterogeneity == "isotropic":
            # beta_u ~ N(beta_bar, scale^2 I): write (s_k^2 + a^2)^-1/2 as
            # pi^-1/2 int_0^inf tau^-1/2 e^{-tau (s_k^2 + a^2)} dtau; the Gaussian
            # expectation of beta_u e^{-lam ||beta_u||^2} is then closed form, leaving a
            # 1-D integral over log tau per noise scale (trapezoid, spectrally accurate).
            s, wk = noise_scales(self.noise)
            u = np.arange(-75.0, 60.0 + step / 2, step)
            tau = np.exp(u)[:, None]
            lam = tau * zs**2
            shrink = 1 + 2 * lam * self.scale**2
            beta = np.asarray(self.beta_bar)
            integrand = (np.sqrt(tau) * np.exp(-tau * s**2) * shrink ** (-1 - self.d / 2)
                         * np.exp(-lam * (beta @ beta) / shrink))
            b = beta * step * np.sum(wk * integrand) / (np.sqrt(2) * np.pi)
        else:
            B, w = self._user_nodes(step)
            b = np.sum(w[:, None] * B * kappa(zs * np.linalg.norm(B, axis=1), self.noise)[:, None], axis=0)
        target = np.linalg.norm(b)
        # t kappa_Lambda(zs t) increases from 0 to 1 / (zs sqrt(2 pi)) > ||b||
        hi = 1.0
        while hi * kappa(zs * hi, "logistic") < target:
            hi *= 2
        t = optimize.brentq(lambda t: t * kappa(zs * t, "logistic") - target, 0.0, hi,
                            xtol=1e-15, rtol=1e-15)
        return t * b / target

    def max_score(self, b, step: float = 0.05) -> float:
        """Population maximum score Q(b) = E[(2y - 1) sign(b^T z)] (not for isotropic users)."""
        if self.heterogeneity == "isotropic":
            raise NotImplementedError(
                "max_score is implemented for one-axis heterogeneity; for isotropic users "
                "the maximiser is `direction` by symmetry."
            )
        b = np.asarray(b, dtype=np.float64)
        B, w = self._user_nodes(step)
        unit, c = self._score_terms(B)
        weights = w[:, None] * noise_scales(self.noise)[1][None, :] * (2 / np.pi)
        return float(np.sum(weights * np.arcsin(c * (unit @ (b / np.linalg.norm(b)))[:, None])))

    def _score_terms(self, B):
        """Unit user directions (nodes, d) and c_uk = a_u / sqrt(s_k^2 + a_u^2)."""
        s, _ = noise_scales(self.noise)
        norm = np.linalg.norm(B, axis=1)
        unit = B / np.where(norm > 0, norm, 1.0)[:, None]  # an indifferent user contributes 0 either way
        a = self.z_scale * norm[:, None]
        return unit, a / np.sqrt(s[None, :] ** 2 + a**2)

    def _sign_limit(self, step: float) -> np.ndarray:
        u1 = self.direction
        if self.heterogeneity in ("none", "isotropic"):
            return u1
        e = np.eye(self.d)[self.contested_axis]
        u2 = e - (e @ u1) * u1
        if np.linalg.norm(u2) < 1e-12:
            # every user lies on the beta_bar line: only the sign is in question
            return u1 if self.max_score(u1, step) >= 0 else -u1
        u2 = u2 / np.linalg.norm(u2)
        B, w = self._user_nodes(step)
        unit, c = self._score_terms(B)
        weights = w[:, None] * noise_scales(self.noise)[1][None, :] * (2 / np.pi)

        def q(phi):
            rho = unit @ (np.cos(phi) * u1 + np.sin(phi) * u2)
            return np.sum(weights * np.arcsin(c * rho[:, None]))

        def dq(phi):
            rho = unit @ (np.cos(phi) * u1 + np.sin(phi) * u2)
            drho = unit @ (-np.sin(phi) * u1 + np.cos(phi) * u2)
            x = c * rho[:, None]
            return np.sum(weights * c * drho[:, None] / np.sqrt(1 - x**2))

        # Q is smooth on the circle: locate the maximum on a 2-degree grid, then
        # solve dQ/dphi = 0 inside the bracketing cells
        cell = 2 * np.pi / 180
        grid = -np.pi + cell * np.arange(180)
        top = grid[int(np.argmax([q(phi) for phi in grid]))]
        phi = optimize.brentq(dq, top - cell, top + cell, xtol=1e-15, rtol=1e-15)
        return np.cos(phi) * u1 + np.sin(phi) * u2

    @functools.cached_property
    def sign_limit(self) -> np.ndarray:
        return readonly(self._sign_limit(step=0.05))

    @functools.cached_property
    def median_direction(self) -> np.ndarray:
        med = math.log(2.0) - 1.0 if self.heterogeneity == "skewed" else 0.0
        m = np.asarray(self.beta_bar) + self.scale * med * np.eye(self.d)[self.contested_axis]
        return readonly(m / np.linalg.norm(m))