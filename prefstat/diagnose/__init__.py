"""Diagnostics for comparison tables: is Bradley-Terry right here, and if not, what is wrong?

:func:`diagnose` runs the checks and returns a :class:`DiagnosticReport`
(one :class:`Diagnostic` per check: DataFrames, a verdict line with the
recommended action, figures, ``to_html()``). The checks live in small modules:

* :mod:`.coverage` - components, MLE existence, thin items, Gini of the budget, widest CIs
* :mod:`.goodness_of_fit` - deviance / Pearson on pairs, parametric-bootstrap p-value, residuals
* :mod:`.transitivity` - triangle curl statistic, bootstrap-calibrated; worst cycles
* :mod:`.order` - position bias (order effect test), tie convention (half win vs Davidson)
* :mod:`.annotators` - permutation score test of one shared model, leave-one-out influence, cluster SE ratio
* :mod:`.heterogeneity` - BT vs sign-estimator direction (feature level)
* :mod:`.mixed_logit` - likelihood-ratio test of BT against normal random coefficients (feature level)
* :mod:`.pairs` - the pair-cell view and vmapped BT refits they share

(:mod:`prefstat.diagnostics`, a different module, reports on simulation-study results.)
See docs/methods.md#diagnostics.
"""
from .report import STATUS, Diagnostic, DiagnosticReport
from .run import FEATURE_CHECKS, ITEM_CHECKS, diagnose

__all__ = ["diagnose", "Diagnostic", "DiagnosticReport", "STATUS", "ITEM_CHECKS", "FEATURE_CHECKS"]


class _CallableModule(type(__import__("sys"))):
    """This package is callable: ``prefstat.diagnose(table)`` is :func:`diagnose`, while
    ``prefstat.diagnose.report`` etc. stay importable submodules (a function bound to the same
    name would shadow the package)."""

    def __call__(self, *args, **kwargs):
        return diagnose(*args, **kwargs)


__import__("sys").modules[__name__].__class__ = _CallableModule
