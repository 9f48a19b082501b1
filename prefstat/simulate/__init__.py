"""Data-generating processes with exactly known truth (see :mod:`prefstat.simulate.processes`)."""
from .processes import BiasedJudge, FeatureBT, GaussianClasses, HeterogeneousUsers, HomogeneousBT

__all__ = ["BiasedJudge", "FeatureBT", "GaussianClasses", "HeterogeneousUsers", "HomogeneousBT"]
