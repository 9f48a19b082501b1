r"""An arena board with known truth: long-tailed battle counts, Davidson ties, a length-preferring judge.

:class:`ArenaBoard` simulates the battles of an LLM arena. Model i has a
style-free ability :math:`\theta_i` and a typical answer length; each battle
draws a pair with probability proportional to the models' popularity
:math:`(r + 1)^{-s}` (Zipf, so a few models have many battles and the tail
few), answer lengths :math:`L = 100\exp(\mu_i + \sigma_L \varepsilon)` and a
judge id, and an outcome from Davidson's tie model with index

.. math:: d = \theta_a - \theta_b + \beta\, z, \qquad z = (L_a - L_b)/(L_a + L_b),

so with ``length_effect`` :math:`\beta > 0` the judge prefers longer answers.
The models' mean log-lengths :math:`\mu_i` are correlated with their abilities
(``length_ability_corr``), so a leaderboard without style control credits
length to ability: it converges to :math:`\theta` plus a bias, while the fit
with the relative-length feature (``normalize="relative"``, not standardised)
is well specified and converges to the truth.

Truth (numpy float64, exact): ``truth`` (sum-to-zero abilities, style-free)
and ``truth_style`` (:math:`\beta`). With ``tie_rate = 0`` Bradley-Terry with
the style feature is the MLE; with ties, the Davidson fit (``ties="davidson"``)
is, while the half-win fit converges to abilities shrunk towards zero (as for
:class:`~prefstat.simulate.processes.HomogeneousBT`).

``sample(key, n)`` returns ``left``, ``right`` (int32), ``y`` (0, 1/2, 1),
``len_left``, ``len_right`` (float64) and ``judge`` (int32).
:meth:`ArenaBoard.to_frame` turns a sample into an arena-format DataFrame.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import jax.numpy as jnp
import jax.scipy.special as jsp
import numpy as np
import pandas as pd

from .bradley_terry import davidson_probs
from .numerics import readonly, require_x64, uniforms

__all__ = ["ArenaBoard"]


@dataclass(frozen=True)
class ArenaBoard:
    """Hyper-parameters (see the module docstring); every one has a default."""

    n_models: int = 30
    zipf_exponent: float = 1.0
    tie_rate: float = 0.0
    length_effect: float = 0.0
    length_spread: float = 0.4
    length_noise: float = 0.5
    length_ability_corr: float = 0.7
    ability_scale: float = 1.0
    n_judges: int = 100
    seed: int = 0

    def __post_init__(self):
        if int(self.n_models) != self.n_models or self.n_models < 2:
            raise ValueError(f"n_models must be an integer >= 2; got {self.n_models}.")
        if not 0.0 <= self.tie_rate < 1.0:
            raise ValueError(f"tie_rate must be in [0, 1); got {self.tie_rate}.")
        if not -1.0 <= self.length_ability_corr <= 1.0:
            raise ValueError(f"length_ability_corr must be in [-1, 1]; got {self.length_ability_corr}.")
        for name in ("zipf_exponent", "length_spread", "length_noise", "ability_scale"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be non-negative; got {getattr(self, name)}.")
        if int(self.n_judges) != self.n_judges or self.n_judges < 1:
            raise ValueError(f"n_judges must be an integer >= 1; got {self.n_judges}.")

    @functools.cached_property
    def _draws(self):
        rng = np.random.default_rng([self.seed, 13])
        e1, e2 = rng.standard_normal((2, self.n_models))
        theta = self.ability_scale * e1
        theta = theta - theta.mean()
        r = self.length_ability_corr
        mu = self.length_spread * (r * e1 + np.sqrt(1.0 - r * r) * e2)
        return theta, mu

    @property
    def truth(self) -> np.ndarray:
        """Style-free abilities, sum-to-zero."""
        return readonly(self._draws[0])

    @property
    def truth_style(self) -> float:
        """The judge's coefficient on the relative length difference (a - b)/(a + b)."""
        return float(self.length_effect)

    @property
    def mean_log_length(self) -> np.ndarray:
        return readonly(self._draws[1])

    @property
    def davidson_nu(self) -> float:
        return 2 * self.tie_rate / (1 - self.tie_rate)

    @functools.cached_property
    def pair_probs(self) -> np.ndarray:
        """(k, k): P(left = a, right = b), proportional to pop_a pop_b off the diagonal."""
        pop = np.arange(1, self.n_models + 1, dtype=np.float64) ** -self.zipf_exponent
        P = np.outer(pop, pop)
        np.fill_diagonal(P, 0.0)
        return readonly(P / P.sum())

    def sample(self, key, n: int) -> dict:
        require_x64()
        k = self.n_models
        u_pair, u_len, u_y, u_judge = uniforms(key, (n,), (2, n), (n,), (n,))
        cdf = jnp.asarray(np.cumsum(self.pair_probs.ravel()))
        idx = jnp.minimum(jnp.searchsorted(cdf, cdf[-1] * (1.0 - u_pair)), k * k - 1)
        left = (idx // k).astype(jnp.int32)
        right = (idx % k).astype(jnp.int32)
        mu = jnp.asarray(self.mean_log_length)
        eps = jsp.ndtri(u_len)
        len_left = 100.0 * jnp.exp(mu[left] + self.length_noise * eps[0])
        len_right = 100.0 * jnp.exp(mu[right] + self.length_noise * eps[1])
        z = (len_left - len_right) / (len_left + len_right)
        theta = jnp.asarray(self.truth)
        d = theta[left] - theta[right] + self.length_effect * z
        p_win, p_tie, _ = davidson_probs(d, self.davidson_nu, jnp)
        y = jnp.where(u_y < p_win, 1.0, jnp.where(u_y < p_win + p_tie, 0.5, 0.0)).astype(jnp.float64)
        judge = jnp.minimum((u_judge * self.n_judges).astype(jnp.int32), self.n_judges - 1)
        return {"left": left, "right": right, "y": y, "len_left": len_left, "len_right": len_right,
                "judge": judge}

    def model_names(self) -> list:
        width = len(str(self.n_models - 1))
        return [f"model-{i:0{width}d}" for i in range(self.n_models)]

    def to_frame(self, data: dict) -> pd.DataFrame:
        """Arena-format battles: ``model_a``, ``model_b``, ``winner`` ("model_a", "model_b", "tie"),
        ``len_a``, ``len_b`` (answer lengths) and ``judge``."""
        names = np.asarray(self.model_names())
        y = np.asarray(data["y"])
        winner = np.where(y == 1.0, "model_a", np.where(y == 0.0, "model_b", "tie"))
        return pd.DataFrame({"model_a": names[np.asarray(data["left"])], "model_b": names[np.asarray(data["right"])],
                             "winner": winner, "len_a": np.asarray(data["len_left"]),
                             "len_b": np.asarray(data["len_right"]),
                             "judge": [f"judge-{j}" for j in np.asarray(data["judge"])]})
