"""What the finite-candidate preference processes share: a fixed population of prompts, each with
``C`` candidate answers, policy features ``phi``, a normalised reference policy and the human
preference probabilities between every two answers (:class:`PolicyJudge`,
:class:`IntransitivePreferences`)."""
from __future__ import annotations

import numpy as np

from ..._x64 import x64_scope
from ...policy import CandidateSet, candidate_set

__all__ = ["CandidatePopulation"]


class CandidatePopulation:
    """Accessors of a process whose ``_population`` dict holds ``phi`` (P, C, d), ``log_ref`` (P, C)
    and ``g`` (P, C, C); the arrays are read-only."""

    @property
    def phi(self) -> np.ndarray:
        """(prompts, C, d) policy features of every candidate answer."""
        return self._population["phi"]

    @property
    def log_ref(self) -> np.ndarray:
        """(prompts, C) log pi_ref, normalised per prompt."""
        return self._population["log_ref"]

    @property
    def human_preference(self) -> np.ndarray:
        """(prompts, C, C) g(x, y, y') = P(a human prefers the left answer y over the right y')."""
        return self._population["g"]

    def candidates(self, prompts=None) -> CandidateSet:
        """CandidateSet of the given prompts (default: all), built inside an x64 scope."""
        idx = np.arange(self.phi.shape[0]) if prompts is None else np.asarray(prompts)
        with x64_scope():
            return candidate_set(self.phi[idx], self.log_ref[idx])
