"""The shared inference layer: estimating-equation pieces -> covariances -> intervals -> results.

Every regular prefstat estimator is a Z-estimator. It hands this layer its
bread, meat, cluster scores, bootstrap draws or per-row influence values and
gets back a covariance in the parametrisation it reports
(:mod:`~prefstat.inference.covariance`; per-row influence values, one or several
independent samples, row- or cluster-level: :mod:`~prefstat.inference.influence`), then reports through one
:class:`EstimationResults` object (:mod:`~prefstat.inference.results`:
``conf_int``, ``summary``, ``t_test``/``contrast``, ``wald_test``,
``pairwise``). Simultaneous (max-t) intervals: :mod:`~prefstat.inference.simultaneous`; confidence
sets for ranks, the top-tau set and pairwise separation: :mod:`~prefstat.inference.ranks` (also as
``EstimationResults`` methods). Non-regular estimators use :mod:`~prefstat.inference.subsampling`.
See ``docs/methods.md#inference-layer``.
"""
from .covariance import (COV_TYPES, Inference, bootstrap_cov, cluster_cov, model_cov, reparametrize,
                         sandwich_cov)
from .influence import (DenseInfluence, DesignInfluence, as_influence, cluster_influence_cov, influence_cov,
                        influence_sandwich)
from .intervals import coef_table, normal_quantile, percentile_interval, wald_interval
from .ranks import (RankSets, comparisons_needed, estimated_ranks, marginal_and_simultaneous_rank_sets,
                    rank_confidence_sets, separated_pairs, top_set)
from .results import ContrastResults, EstimationResults, WaldTestResults
from .simultaneous import (PairwiseIntervals, max_t_critical, pairwise_max_t_critical, simultaneous_intervals,
                           simultaneous_pairwise_intervals)
from .subsampling import subsample_indices, subsample_size, subsampling_radius

__all__ = [
    "COV_TYPES", "Inference", "model_cov", "sandwich_cov", "cluster_cov", "bootstrap_cov", "reparametrize",
    "DenseInfluence", "DesignInfluence", "as_influence", "influence_cov", "cluster_influence_cov",
    "influence_sandwich",
    "wald_interval", "percentile_interval", "coef_table", "normal_quantile",
    "EstimationResults", "ContrastResults", "WaldTestResults",
    "subsample_size", "subsample_indices", "subsampling_radius",
    "max_t_critical", "simultaneous_intervals", "pairwise_max_t_critical", "simultaneous_pairwise_intervals",
    "PairwiseIntervals", "RankSets", "rank_confidence_sets", "marginal_and_simultaneous_rank_sets", "top_set", "separated_pairs", "comparisons_needed",
    "estimated_ranks",
]
