"""Data-generating processes with exactly known truth.

Every process is a frozen (hashable) dataclass of hyper-parameters, so it can be
passed to ``jax.jit`` as a static argument, and satisfies the
:class:`~prefstat.simulate.protocols.Process` protocol. ``sample(key, n)`` (two
sizes for two-sample processes) is a pure JAX function: jit-compatible with the
sizes static, vmappable over ``key``, same key -> same data. It returns a dict
of JAX arrays. Samplers produce float64 data and therefore must be traced with
64-bit types enabled, e.g.::

    from prefstat._x64 import x64_scope
    with x64_scope():
        data = jax.vmap(proc.sample, in_axes=(0, None))(keys, 1000)

(prefstat never flips the global ``jax_enable_x64`` flag; calling ``sample``
without it raises instead of silently returning float32.)

Each process knows its estimand as numpy float64 (read-only arrays), either in
closed form or by a deterministic quadrature whose precision is stated in the
docstring and checked in ``tests/test_processes.py`` by refining the rule.

Modules (one per process family; the shared numerics in :mod:`.numerics`):

* :mod:`.bradley_terry` - :class:`HomogeneousBT` (item level), :class:`FeatureBT` (feature level)
* :mod:`.users` - :class:`HeterogeneousUsers` (mixed logit; the sign estimator's setting)
* :mod:`.gaussian` - :class:`GaussianClasses` (relative density ratio)
* :mod:`.judge` - :class:`BiasedJudge` (biased AI judge with covariate shift)
* :mod:`.arena` - :class:`ArenaBoard` (arena battles: long-tailed counts, ties, length-preferring judge)
* :mod:`.policy_judge` - :class:`PolicyJudge` (biased judge over candidate sets; exact per-policy win rates)
* :mod:`.preference_ratio` - :class:`IntransitivePreferences` (non-BT preferences; exact RDRO/DDRO/DPO targets)
"""
from ..protocols import Process
from .arena import ArenaBoard
from .bradley_terry import FeatureBT, HomogeneousBT
from .gaussian import GaussianClasses
from .judge import BiasedJudge
from .policy_judge import PolicyJudge
from .preference_ratio import IntransitivePreferences
from .users import HeterogeneousUsers

__all__ = ["HomogeneousBT", "FeatureBT", "HeterogeneousUsers", "GaussianClasses", "BiasedJudge", "ArenaBoard", "PolicyJudge",
           "IntransitivePreferences", "Process"]
