"""Monte-Carlo coverage of the cross-fitted PE_alpha interval of RuLSIF (slow).

The whole fit (cross-validation over the default grid, refit, cross-fitted divergence with its
variance correction, and its standard error) is the pure function ``rulsif_fit_core`` that the
estimator calls; it is mapped over 500 replications of n = 2000 per sample with the default 100
centres. Centres: the first ``b`` numerator rows of each replication (the rows are i.i.d., so this
is a random subset); folds: one seeded assignment.
"""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from prefstat import RelativeDensityRatio
from prefstat.nuisance import assign_folds
from prefstat.models.density_ratio_core import rulsif_fit_core
from prefstat.simulate.processes.gaussian import GaussianClasses

REPS, N, B_CENTRES = 500, 2000, 100


def coverage(gc, alpha, seed):
    truth = gc.pe_alpha(alpha)
    lab = np.r_[np.ones(N), np.zeros(N)]
    folds = assign_folds(lab, 5, random_state=seed)
    est = RelativeDensityRatio(n_folds=5)
    rows, fp, fm = est._fold_rows(lab, folds)
    with jax.enable_x64(True):
        keys = jax.random.split(jax.random.PRNGKey(seed), REPS)
        data = jax.vmap(lambda k: gc.sample(k, N, N))(keys)
        Z = jnp.concatenate([data["X_plus"], data["X_minus"]], axis=1)  # (REPS, 2N, d)
        # one bandwidth grid for all replications: the default rule applied to the first one
        pilot = RelativeDensityRatio(alpha=alpha, n_centers=B_CENTRES, random_state=0).fit(
            np.asarray(data["X_plus"][0]), np.asarray(data["X_minus"][0]))
        sigmas = jnp.asarray(pilot.sigma_grid_)
        lams = jnp.asarray(pilot.lambda_grid_)

        def one(z):
            out = rulsif_fit_core(z, z[:B_CENTRES], jnp.asarray(lab), jnp.asarray(folds), sigmas, lams, alpha,
                                  tuple(map(jnp.asarray, rows)), jnp.asarray(fp), jnp.asarray(fm),
                                  jnp.ones(sigmas.size, bool))
            return out["pe"], out["se"]

        pe, se = jax.lax.map(one, Z, batch_size=4)
    pe, se = np.asarray(pe), np.asarray(se)
    return np.mean(np.abs(pe - truth) <= 1.959964 * se), pe, se, truth


@pytest.mark.slow
@pytest.mark.parametrize("case", ["d1", "d5"])
def test_pe_interval_coverage(case):
    if case == "d1":
        gc = GaussianClasses(mu_plus=1.0, mu_minus=0.0)
    else:
        gc = GaussianClasses(mu_plus=(0.5, 0.3, 0, 0, 0), mu_minus=(0, 0, 0, 0, 0),
                             cov_plus=np.diag([1.0, 1.2, 1.0, 1.0, 0.8]), cov_minus=np.eye(5))
    cov, pe, se, truth = coverage(gc, 0.5, seed=1 if case == "d1" else 2)
    # binomial band for 500 replications at 95%: 0.95 -+ 2.58 sqrt(0.95 0.05 / 500) = [0.925, 0.975]
    assert 0.925 <= cov <= 0.975, (case, cov, pe.mean() - truth, se.mean(), pe.std())
    # The cross-fitted estimate alone is biased down by (1/2) E_q[(g_hat - r)^2]; in d = 5 that was
    # measured at -0.45 standard errors (two-sided coverage 0.922, misses 7.0% above / 0.8% below).
    # ``pe`` includes the estimated variance part of that bias (rulsif_pe_correction); what remains
    # is the smoothing bias, which cross-validation keeps small. The Monte-Carlo error of the mean
    # bias is sd / sqrt(500) ~ 0.05 SE, so 0.25 SE is 5 Monte-Carlo errors and still fails the
    # uncorrected estimate.
    assert abs(np.mean(pe) - truth) < 0.25 * np.mean(se), (case, np.mean(pe) - truth, np.mean(se))
    # the standard error tracks the Monte-Carlo spread (500 reps: the SD of the SD estimate is ~3%)
    assert np.mean(se) == pytest.approx(np.std(pe), rel=0.12)
