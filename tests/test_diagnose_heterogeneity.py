"""Feature-level diagnose: BT vs sign-estimator direction (slow: compiles the sign estimator's subsampling).

Worked example (anisotropic users, n = 20000): BT is about 15 degrees off the average direction
(docs/methods.md#heterogeneous-users-worked-example) and the sign estimator's 95% cone has a radius of
about 7 degrees, so the check flags it; homogeneous FeatureBT with the same design: angle ~0.3 deg, inside
a ~3 degree cone. Both margins are several cone radii wide, far beyond the seed-to-seed variation.
"""
import jax
import numpy as np
import pytest

import prefstat as ps
from prefstat._x64 import x64_scope
from prefstat.simulate import FeatureBT, HeterogeneousUsers


def _sample(proc, n=20000):
    with x64_scope():
        d = proc.sample(jax.random.PRNGKey(0), n)
    return np.asarray(d["Z"]), np.asarray(d["y"])


@pytest.mark.slow
def test_heterogeneous_users_are_flagged_and_homogeneous_bt_is_not():
    Z, y = _sample(HeterogeneousUsers.worked_example())
    d = ps.diagnose(Z, y, n_subsamples=100)["heterogeneity"]
    assert d.flagged and "SignEstimator" in d.action
    assert 10 < d.statistic < 20
    Z, y = _sample(FeatureBT(beta=(1.0, 1.0, 0.0), z_cov=tuple(map(tuple, 2.0 * np.eye(3)))))
    d = ps.diagnose(Z, y, n_subsamples=100)["heterogeneity"]
    assert d.status == "ok" and d.statistic < 2
    assert list(d.tables["directions"].index) == ["x0", "x1", "x2"]
