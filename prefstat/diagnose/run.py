"""``prefstat.diagnose``: run every applicable diagnostic on a comparison table and collect the report.

Item-level tables get connectivity and coverage, goodness of fit, intransitivity,
position bias, the tie convention and, with a ``group`` (annotator) column,
annotator heterogeneity, influence and vote clustering. Feature-level tables get
the BT-versus-sign-estimator heterogeneity check and the likelihood-ratio
test of BT against the mixed logit. Checks that cannot run (a
disconnected board has no BT fit to test) are reported as skipped with the
reason. See docs/methods.md#diagnostics.
"""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator

from .._x64 import x64
from ..data import as_table
from ..validation import check_bool, check_int, check_real, check_random_state
from .annotators import annotator_heterogeneity, annotator_influence, cluster_se_ratio
from .coverage import connectivity, graph_components, mle_problem
from .goodness_of_fit import goodness_of_fit, parametric_draws
from .heterogeneity import direction_heterogeneity
from .mixed_logit import mixed_logit_test
from .order import position_bias, tie_sensitivity
from .pairs import fit_pairs, pair_cells
from .report import DiagnosticReport, skipped
from .transitivity import intransitivity

__all__ = ["diagnose", "ITEM_CHECKS", "FEATURE_CHECKS"]

ITEM_CHECKS = ("connectivity", "goodness_of_fit", "intransitivity", "position_bias", "ties", "annotators",
               "annotator_influence", "clustering")
FEATURE_CHECKS = ("heterogeneity", "mixed_logit")
_TITLES = {"goodness_of_fit": "Goodness of fit (aggregated pairs)", "intransitivity": "Intransitivity (triangle curl)",
           "annotators": "Annotator heterogeneity (one shared BT model?)",
           "annotator_influence": "Annotator influence (leave one annotator out)",
           "clustering": "Vote clustering (cluster-robust / model SE)"}


@x64
def diagnose(table_or_model, X=None, y=None, *, sample_weight=None, groups=None, order=None, checks=None,
             level: float = 0.05, n_bootstrap: int = 200, n_permutations: int = 200, random_state=0,
             min_comparisons: float = 10, max_annotators: int = 50, n_subsamples: int = 200,
             figures: bool = True) -> DiagnosticReport:
    """Diagnose whether Bradley-Terry's assumptions hold on a comparison table.

    ``table_or_model``: a :class:`~prefstat.ComparisonTable`, an (n, 2) label / (n, d) feature array
    (with ``y``, ``sample_weight``, ``groups`` = annotator ids, ``order``), or a fitted
    :class:`~prefstat.BradleyTerry` followed by the table it was fitted on (``X``, plus ``y`` etc. for
    arrays); the model's estimates must be reproducible from that table.

    ``checks``: names to run (default: all that apply; see ``ITEM_CHECKS`` / ``FEATURE_CHECKS``).
    ``level``: significance level of every test. ``n_bootstrap``: parametric-bootstrap tables for
    the goodness-of-fit and intransitivity tests (0: chi-square approximation / uncalibrated).
    ``n_permutations``: permutations of the annotator test. ``min_comparisons``: an item with fewer
    comparisons is "thin". ``max_annotators``: leave-one-out refits for this many of the largest
    annotators. ``n_subsamples``: subsamples of the sign estimator's cone (feature level).
    ``figures``: draw matplotlib figures (for ``to_html``).

    Returns a :class:`~prefstat.diagnose.DiagnosticReport`.
    """
    check_real("level", level, 0.0, 1.0, low_open=True, high_open=True)
    check_int("n_bootstrap", n_bootstrap, 0)
    check_int("n_permutations", n_permutations, 0)
    check_int("max_annotators", max_annotators, 1)
    check_int("n_subsamples", n_subsamples, 2)
    check_real("min_comparisons", min_comparisons, 0.0)
    check_bool("figures", figures)
    check_random_state("random_state", random_state)
    model = None
    if isinstance(table_or_model, BaseEstimator):
        model, data = table_or_model, X
        if data is None:
            raise ValueError("pass the table the model was fitted on: diagnose(model, table) or "
                             "diagnose(model, X, y).")
        if not hasattr(model, "coef_"):
            raise ValueError("the model is not fitted; fit it first or pass the table alone.")
    else:
        if X is not None:
            if y is not None:
                raise ValueError("pass diagnose(X, y, ...) for arrays or diagnose(model, X, y); got three arrays.")
            y = X
        data = table_or_model
    table = as_table(data, y, sample_weight, groups, order)
    known = ITEM_CHECKS if table.kind == "items" else FEATURE_CHECKS
    if checks is None:
        wanted = list(known)
    else:
        wanted = [checks] if isinstance(checks, str) else list(checks)
        unknown = [c for c in wanted if c not in ITEM_CHECKS + FEATURE_CHECKS]
        if unknown:
            raise ValueError(f"unknown checks {unknown}; choose from {list(ITEM_CHECKS + FEATURE_CHECKS)}.")
        wrong = [c for c in wanted if c not in known]
        if wrong:
            raise ValueError(f"checks {wrong} do not apply to a {table.kind}-level table; it supports {list(known)}.")
    rng = np.random.default_rng(random_state)
    settings = dict(level=level, n_bootstrap=n_bootstrap, n_permutations=n_permutations, random_state=random_state)
    source = repr(table)
    if table.kind == "features":
        out = [direction_heterogeneity(table, level, n_subsamples, random_state)] if "heterogeneity" in wanted else []
        if "mixed_logit" in wanted:
            out.append(mixed_logit_test(table, level))
        return DiagnosticReport(out, source, settings)
    return DiagnosticReport(_item_checks(table, wanted, model, rng, level, n_bootstrap, n_permutations,
                                         min_comparisons, max_annotators, figures), source, settings)


def _item_checks(table, wanted, model, rng, level, n_bootstrap, n_permutations, min_comparisons, max_annotators,
                 figures):
    cells = pair_cells(table)
    n_comp, _ = graph_components(cells)
    problem = mle_problem(cells) if n_comp == 1 else "the comparison graph is disconnected"
    fit = fit_pairs(cells) if problem is None else None
    if model is not None and fit is not None:
        _check_model(model, cells, fit)
    out = []
    if "connectivity" in wanted:
        out.append(connectivity(cells, fit, min_comparisons, figures=figures))
    no_fit = f"skipped: the BT MLE does not exist ({problem.split(':')[0]}; see connectivity)." if fit is None else ""
    draws = None
    if fit is not None and n_bootstrap > 0 and ("goodness_of_fit" in wanted or "intransitivity" in wanted):
        draws = parametric_draws(cells, fit, n_bootstrap, rng, refit="goodness_of_fit" in wanted)
    if "goodness_of_fit" in wanted:
        out.append(goodness_of_fit(cells, fit, draws, level) if fit is not None
                   else skipped("goodness_of_fit", _TITLES["goodness_of_fit"], no_fit))
    if "intransitivity" in wanted:
        out.append(intransitivity(cells, draws, level, rng=rng) if fit is not None
                   else skipped("intransitivity", _TITLES["intransitivity"], no_fit))
    if "position_bias" in wanted:
        out.append(position_bias(table, level))
    if "ties" in wanted:
        out.append(tie_sensitivity(table))
    annot = [c for c in ("annotators", "annotator_influence", "clustering") if c in wanted]
    for name in annot:
        if table.group is None:
            out.append(skipped(name, _TITLES[name], "no annotator (group) column."))
        elif fit is None:
            out.append(skipped(name, _TITLES[name], no_fit))
        elif name == "annotators":
            out.append(annotator_heterogeneity(table, cells, fit, n_permutations, rng, level, figures=figures))
        elif name == "annotator_influence":
            out.append(annotator_influence(table, cells, fit, max_annotators))
        else:
            out.append(cluster_se_ratio(table, fit))
    return out


def _check_model(model, cells, fit) -> None:
    """A fitted model passed with its table must match the table's BT fit (same items, same abilities)."""
    items = getattr(model, "items_", None)
    if items is None or list(map(str, items)) != list(map(str, cells.items)):
        raise ValueError("the model was not fitted on this table (its items differ); pass the table it was fitted on.")
    if getattr(model, "order_effect", False) or getattr(model, "alpha", 0.0):
        return  # other parametrisation: the pair-level fit is the model's null, not its estimate
    coef = np.asarray(model.coef_)
    coef = coef - coef.mean()
    if np.max(np.abs(coef - fit.theta)) > 1e-6 * max(1.0, np.max(np.abs(fit.theta))):
        raise ValueError("the model's abilities differ from the BT fit of this table; pass the table it was "
                         "fitted on.")
