r"""Heterogeneity of users on a feature-level table: Bradley-Terry direction against the sign estimator's.

When users weigh the features differently (mixed logit), pooled BT converges to
a KL projection that is not parallel to the average user's weights, while the
sign estimator stays consistent for the average direction under centrally
symmetric heterogeneity (docs/methods.md#sign-estimator). Under homogeneous BT
both estimate the same direction: BT at rate :math:`n^{-1/2}`, the sign
estimator at :math:`n^{-1/3}` (or :math:`n^{-2/5}`). The check reports the angle
between the two directions together with the sign estimator's subsampling
confidence cone (:meth:`prefstat.SignEstimator.conf_cone`), and rejects
"no heterogeneity" when the BT direction lies outside that cone. Since BT's own
error is of smaller order than the cone's radius, the test has asymptotic level
at most ``level`` (the cone's coverage error) under homogeneous BT.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..data import ComparisonTable
from ..geometry import angle_degrees
from ..models import BradleyTerry, SignEstimator
from .report import Diagnostic

__all__ = ["direction_heterogeneity"]


def direction_heterogeneity(table: ComparisonTable, level: float = 0.05, n_subsamples: int = 200,
                            random_state=0) -> Diagnostic:
    """Angle between the BT and sign-estimator directions against the sign estimator's confidence cone."""
    title = "User heterogeneity (BT vs sign-estimator direction)"
    try:
        bt = BradleyTerry().fit(ComparisonTable.from_features(table.features, table.outcome, table.weight,
                                                              feature_names=table.feature_names))
        sign = SignEstimator(n_subsamples=n_subsamples, random_state=random_state).fit(
            table.features, table.outcome, sample_weight=table.weight)
    except ValueError as err:
        return Diagnostic("heterogeneity", title, "skipped", f"a fit failed: {' '.join(str(err).split())}")
    b_bt = bt.coef_ / np.linalg.norm(bt.coef_)
    angle = angle_degrees(b_bt, sign.direction_)
    radius = sign.conf_cone(1 - level)
    frame = pd.DataFrame({"bt_direction": b_bt, "sign_direction": sign.direction_},
                         index=pd.Index(table.feature_names, name="feature"))
    stats_tab = pd.DataFrame({"value": [angle, radius, sign.subsample_size_, n_subsamples]},
                             index=pd.Index(["angle_deg", f"sign_cone_radius_{1 - level:.3g}_deg", "subsample_size",
                                             "subsamples"], name="quantity"))
    verdict = (f"BT and sign-estimator directions differ by {angle:.3g} degrees; the sign estimator's "
               f"{1 - level:.0%} cone has radius {radius:.3g} degrees")
    tables = {"angle": stats_tab, "directions": frame}
    if angle > radius:
        return Diagnostic("heterogeneity", title, "flagged", verdict + " (BT lies outside it).",
                          "users weigh the features differently: estimate the average preference direction with "
                          "SignEstimator (BT is not consistent for it here).", statistic=angle, tables=tables)
    return Diagnostic("heterogeneity", title, "ok", verdict + " (BT inside it: no evidence of heterogeneity).",
                      statistic=angle, tables=tables)
