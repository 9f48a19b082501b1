"""Simulation engine: data-generating processes with exact truth, the study runner, estimator adapters.

* :mod:`prefstat.simulate.processes` - HomogeneousBT, FeatureBT, HeterogeneousUsers, GaussianClasses, BiasedJudge,
  PolicyJudge
* :mod:`prefstat.simulate.protocols` - the :class:`Process` and adapter contracts
* :mod:`prefstat.simulate.study` - :class:`Study` (vmapped replications, local or Dask), Parquet I/O
* :mod:`prefstat.simulate.estimators` - how estimators plug into a study (BTSim, LoopSim, ..., adapter_for)
* :mod:`prefstat.simulate.studies` - the built-in studies behind ``prefstat simulate``
"""
from .processes import BiasedJudge, FeatureBT, GaussianClasses, HeterogeneousUsers, HomogeneousBT, PolicyJudge
from .protocols import LoopAdapter, Process, SimAdapter, VmappedAdapter
from .study import Study, load_results, save_results

__all__ = ["BiasedJudge", "FeatureBT", "GaussianClasses", "HeterogeneousUsers", "HomogeneousBT", "PolicyJudge", "Study",
           "load_results", "save_results", "Process", "SimAdapter", "VmappedAdapter", "LoopAdapter"]
