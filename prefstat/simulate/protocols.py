"""The two contracts of the simulation engine: what a data-generating process offers, and what an
estimator adapter offers (:class:`~prefstat.simulate.Study` relies on nothing else).

* :class:`Process` - a frozen, hashable dataclass with ``sample(key, *sizes) -> dict`` (a pure JAX
  function, vmappable over ``key``) and a ``truth`` attribute (numpy float64). Processes may expose
  further truths (``half_win_truth``, ``bt_limit``, ``direction``, ...) that adapters name.
* :class:`SimAdapter` - ``name``, ``compare`` ("coef": Euclidean error; "direction": both sides
  normalised to unit length, the angle is the error) and ``truth(process)``, plus exactly one way to
  estimate: :class:`VmappedAdapter` (``core(process, data)``, a pure JAX function the runner
  ``jit(vmap(...))``-s over replications) or :class:`LoopAdapter` (``fit(process, data)`` on numpy data,
  one replication at a time).

Both ``core`` and ``fit`` return a dict with

* ``estimate`` - (p,) the estimate (a direction estimator may return an unnormalised vector);
* ``stderr`` - (p,) standard errors, or None when the estimator has none;
* ``converged`` - bool: the solver met its tolerance *and* the estimate exists (never True for a
  fit that ran off to infinity);
* ``exists`` - bool: the existence verdict of this replication's estimate. For maximum-likelihood
  type fits of a logistic index it is ``max_i |eta_i| < prefstat.losses.DIVERGED_ETA`` over the rows
  with positive weight (the rule the bootstrap applies to its resamples): a fitted probability within
  1e-13 of 0 or 1 means the MLE of that data set does not exist (separation, or an item that never
  loses) and the solver stopped somewhere on the way to infinity;
* any other key (e.g. ``cone_radius``, ``intervals``, ``lam``, ``n_eff``): an extra per-replication
  value, kept as a column of the study results.
"""
from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = ["Process", "SimAdapter", "VmappedAdapter", "LoopAdapter", "RESULT_KEYS"]

# keys of an adapter's output that the runner turns into its own columns; every other key is an extra column
RESULT_KEYS = ("estimate", "stderr", "converged", "exists")


@runtime_checkable
class Process(Protocol):
    """A data-generating process with exactly known truth (see the module docstring).

    Implementations are frozen dataclasses (hashable: ``jax.jit`` takes them as static arguments,
    ``dataclasses.replace`` builds the cells of a study grid).
    """

    @property
    def truth(self) -> Any:
        """The estimand (numpy float64 array, or a float), exact or to a stated quadrature precision."""

    def sample(self, key, *sizes: int) -> dict:
        """One data set of the given size(s) as a dict of JAX float64/int32 arrays (pure, vmappable over key)."""


@runtime_checkable
class SimAdapter(Protocol):
    """What every estimator adapter has (see the module docstring)."""

    name: str
    compare: str

    def truth(self, process) -> np.ndarray:
        """The value the estimate is compared with, for this process."""


@runtime_checkable
class VmappedAdapter(SimAdapter, Protocol):
    """An adapter with a pure JAX core, run as ``jit(vmap(core))`` over replications."""

    def core(self, process, data: dict) -> dict:
        """Estimate from one data set (JAX arrays; traced under vmap)."""


@runtime_checkable
class LoopAdapter(SimAdapter, Protocol):
    """An adapter fitted replication by replication on numpy data (no vmap)."""

    def fit(self, process, data: dict) -> dict:
        """Estimate from one data set (numpy arrays)."""
