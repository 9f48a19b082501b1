"""RDROPolicy (RDRO / DDRO / DPO policy fitting) and the IntransitivePreferences process with exact targets."""
import dataclasses

import jax
import numpy as np
import pytest

from prefstat._x64 import x64_scope
from prefstat.models.rdro_policy import RDROPolicy
from prefstat.policy import candidate_set
from prefstat.simulate.processes import IntransitivePreferences
from prefstat.simulate.study_density_ratio import RDROSim

PROC = IntransitivePreferences()  # 3 prompts x 5 answers, d = 12, cyclic (non-BT) preferences


def records(proc, n, seed):
    with x64_scope():
        s = proc.sample(jax.random.PRNGKey(seed), n)
    return np.asarray(s["prompt"]), np.asarray(s["chosen"]), np.asarray(s["rejected"])


def test_process_truths_are_consistent():
    p_plus, p_minus = PROC.p_plus, PROC.p_minus
    np.testing.assert_allclose(p_plus.sum(1), 1.0, atol=1e-14)
    np.testing.assert_allclose(p_minus.sum(1), 1.0, atol=1e-14)
    r = PROC.r_alpha(0.5)
    assert r.max() < 2.0  # bounded by 1/alpha
    # pi_ref r_alpha normalised is the log-linear policy with theta_rdro (the family is saturated)
    target = np.exp(PROC.log_ref) * r
    np.testing.assert_allclose(PROC.policy_probs(PROC.theta_rdro(0.5)), target / target.sum(1, keepdims=True),
                               atol=1e-12)
    # empirical laws of the sampler match p+ and p- (n = 200k: SE of a frequency <= 0.0011; 5 SE)
    pr, ch, rj = records(PROC, 200_000, 0)
    for x in range(PROC.n_prompts):
        sel = pr == x
        np.testing.assert_allclose(np.bincount(ch[sel], minlength=5) / sel.sum(), p_plus[x], atol=0.0055)
        np.testing.assert_allclose(np.bincount(rj[sel], minlength=5) / sel.sum(), p_minus[x], atol=0.0055)
    # non-BT: the DPO limit is not the RDRO target ...
    assert np.linalg.norm(PROC.theta_dpo - PROC.theta_rdro(0.5)) > 0.5
    # ... while without the cyclic term the preferences are Bradley-Terry in the qualities, and the DPO
    # limit is exactly the quality difference to each prompt's answer 0 (beta = 1)
    bt = dataclasses.replace(PROC, cycle=0.0)
    q = bt._population["quality"]
    np.testing.assert_allclose(bt.theta_dpo, (q[:, 1:] - q[:, :1]).ravel(), atol=1e-9)


def test_rdro_saturated_fit_has_the_closed_form():
    # one-hot features + per-prompt intercepts: the RDRO minimiser is, cell by cell,
    # log(f+ / (alpha f+ + (1 - alpha) f-)) with f+- the empirical laws (each sample averaged separately)
    pr, ch, rj = records(PROC, 3000, 1)
    cands = PROC.candidates()
    for alpha in (0.3, 0.5):
        est = RDROPolicy(alpha=alpha, intercept="prompt").fit(cands, pr, ch, rj)
        fp = np.zeros((3, 5))
        fm = np.zeros((3, 5))
        np.add.at(fp, (pr, ch), 1.0 / pr.size)
        np.add.at(fm, (pr, rj), 1.0 / pr.size)
        s = np.log(fp / (alpha * fp + (1 - alpha) * fm))
        np.testing.assert_allclose(est.log_ratio(), s, atol=1e-8)
        np.testing.assert_allclose(est.theta_, (s[:, 1:] - s[:, :1]).ravel(), atol=1e-8)
    # the policy is pi_ref exp(theta . phi) normalised, and its KL is that of the table
    P = est.policy_probs()
    np.testing.assert_allclose(P.sum(1), 1.0)
    kl = np.mean(np.sum(P * (np.log(P) - PROC.log_ref), axis=1))
    assert est.kl() == pytest.approx(kl, rel=1e-10)


def test_dpo_matches_bradley_terry_on_differences():
    # DPO = logistic regression without intercept of "chosen wins" on phi_chosen - phi_rejected
    from sklearn.linear_model import LogisticRegression

    pr, ch, rj = records(PROC, 2000, 2)
    est = RDROPolicy(method="dpo").fit(PROC.candidates(), pr, ch, rj)
    D = PROC.phi[pr, ch] - PROC.phi[pr, rj]
    X = np.vstack([D, -D])  # both orientations: the same likelihood, and sklearn needs two classes
    y = np.r_[np.ones(len(D)), np.zeros(len(D))]
    sk = LogisticRegression(C=np.inf, fit_intercept=False, tol=1e-12, max_iter=10_000).fit(X, y)
    np.testing.assert_allclose(est.theta_, sk.coef_[0], atol=1e-5)
    assert np.isnan(est.alpha_) and est.intercept_.size == 0


@pytest.fixture(scope="module")
def mc():
    """200 replications at n = 1000 of the study adapters (RDRO and DPO at separation 1, RDRO and DDRO at
    separation 5), run by the study runner (vmapped calls of 100 replications)."""
    from prefstat.simulate.study import Study

    out = {}
    for sep, methods in ((1.0, ("rdro", "dpo")), (5.0, ("rdro", "ddro"))):
        proc = dataclasses.replace(PROC, separation=sep)
        sims = [RDROSim(m, m) for m in methods]
        df = Study(proc, sims, sizes=(1000,), reps=200, seed=7, chunk=100).run(progress=False)
        for sim in sims:
            g = df[df["estimator"] == sim.name].sort_values("rep")
            res = {"estimate": np.stack(g["estimate"]), "stderr": np.stack(g["stderr"]),
                   **{k: g[k].to_numpy() for k in ("exists", "influence_max", "ratio_max")}}
            out[sep, sim.name] = (res, sim.truth(proc), proc)
    return out


@pytest.mark.slow  # ~30-110 s: four vmapped programs compiled (200 replications each)
def test_rdro_consistent_with_valid_intervals_on_non_bt_preferences(mc):
    res, truth, proc = mc[1.0, "rdro"]
    est, se = res["estimate"], res["stderr"]
    assert res["exists"].all()
    # bias small against the spread (200 reps: SE of a mean = SD/14; 4 of them, plus O(1/n))
    assert np.all(np.abs(est.mean(0) - truth) < 4 * est.std(0) / np.sqrt(200) + 0.02)
    # record-clustered sandwich SE = Monte-Carlo SD: the SD estimate of 200 reps has 5% error per
    # coordinate; averaged over the 12 (correlated) coordinates, 15% is 3 of those errors
    assert np.mean(se.mean(0) / est.std(0)) == pytest.approx(1.0, abs=0.15)
    # coverage pooled over 12 x 200 intervals: binomial band with an effective 200 replications (the
    # worst case of fully correlated coordinates), 0.95 -+ 2.58 sqrt(0.95 0.05 / 200) = [0.910, 0.990]
    cover = np.mean(np.abs(est - truth) <= 1.959964 * se)
    assert 0.910 <= cover <= 0.990, cover
    # DPO on the same data converges to the Bradley-Terry projection, not to the RDRO target
    dpo, _, _ = mc[1.0, "dpo"]
    assert np.linalg.norm(dpo["estimate"].mean(0) - proc.theta_dpo) < 0.1
    assert np.linalg.norm(dpo["estimate"].mean(0) - truth) > 0.5


@pytest.mark.slow  # shares the fixture of the test above
def test_ddro_unstable_rdro_bounded_as_classes_separate(mc):
    # separation 5: the outstanding answer is almost never rejected (true r_0 up to 130, r_0.5 <= 2)
    rdro, _, proc = mc[5.0, "rdro"]
    ddro, _, _ = mc[5.0, "ddro"]
    assert proc.r_alpha(0.0).max() > 100 and proc.r_alpha(0.5).max() < 2
    assert rdro["exists"].all() and rdro["ratio_max"].max() < 2.2  # fitted ratio close to its bound 2
    # DDRO: no estimate when the answer is never rejected in the sample (measured ~50% at n = 1000)
    assert 0.2 < 1 - ddro["exists"].mean() < 0.8
    ok = ddro["exists"]
    # measured at n = 1000: influence RDRO ~70, DDRO ~900; MC SD 0.22 vs 0.43 (RMS over coordinates)
    assert np.median(ddro["influence_max"][ok]) > 5 * np.median(rdro["influence_max"])
    sd = {k: np.sqrt(np.mean(np.var(v["estimate"][m], axis=0))) for k, v, m in
          (("rdro", rdro, rdro["exists"]), ("ddro", ddro, ok))}
    assert sd["ddro"] > 1.5 * sd["rdro"]


def test_errors():
    cands = PROC.candidates()
    pr, ch, rj = records(PROC, 600, 3)
    with pytest.raises(ValueError, match="alpha"):
        RDROPolicy(alpha=0.0).fit(cands, pr, ch, rj)
    with pytest.raises(ValueError, match="method must be one of"):
        RDROPolicy(method="ipo").fit(cands, pr, ch, rj)
    with pytest.raises(ValueError, match="intercept must be"):
        RDROPolicy(intercept="item").fit(cands, pr, ch, rj)
    with pytest.raises(ValueError, match="chosen is out of range"):
        RDROPolicy().fit(cands, pr, ch + 5, rj)
    with pytest.raises(ValueError, match=r"rejected must have one entry per record \(600\)"):
        RDROPolicy().fit(cands, pr, ch, rj[:-1])
    with pytest.raises(ValueError, match="CandidateSet"):
        RDROPolicy().fit(np.zeros((3, 5, 12)), pr, ch, rj)
    with x64_scope():
        ragged = candidate_set(PROC.phi, PROC.log_ref, mask=np.arange(5)[None, :].repeat(3, 0) < 4)
    with pytest.raises(ValueError, match="padded"):
        RDROPolicy().fit(ragged, np.array([0, 1]), np.array([4, 0]), np.array([1, 2]))
    # answer 4 of prompt 0 chosen but never rejected: the DDRO minimiser does not exist
    with pytest.raises(ValueError, match="DDRO fit did not converge.*method='rdro'"):
        RDROPolicy(method="ddro", intercept="prompt").fit(cands, np.array([0, 0, 0, 0]), np.array([4, 1, 2, 3]),
                                                          np.array([1, 2, 3, 1]))
    est = RDROPolicy(intercept="prompt").fit(cands, pr, ch, rj)
    res = est.results()
    assert res.names[0] == "theta_0" and np.all(res.stderr > 0)
