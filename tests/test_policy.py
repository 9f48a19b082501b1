"""prefstat.policy: log-linear policies over finite candidate sets (exact sums checked against numpy)."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from prefstat import policy as pol
from prefstat._x64 import x64_scope


def _ragged(seed=0, P=5, C=4, d=3):
    rng = np.random.default_rng(seed)
    phi = rng.normal(size=(P, C, d))
    log_ref = rng.normal(size=(P, C)) + 3.0  # unnormalised on purpose
    mask = np.ones((P, C), bool)
    if P == 5 and C == 4:
        mask[1, 3] = mask[2, 2:] = False
        mask[4, 1:] = False  # a single candidate
        log_ref[1, 3] = np.nan  # ignored on padding
    return phi, log_ref, mask


def _np_probs(theta, phi, log_ref, mask):
    eta = np.where(mask, log_ref + phi @ theta, -np.inf)
    e = np.exp(eta - eta.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def test_probs_kl_and_values_match_numpy():
    phi, log_ref, mask = _ragged()
    theta = np.array([0.7, -1.2, 0.3])
    with x64_scope():
        c = pol.candidate_set(phi, log_ref, mask)
        p = np.asarray(pol.probs(jnp.asarray(theta), c))
        ref = np.asarray(pol.probs(jnp.zeros(3), c))
        kl = float(pol.kl_to_reference(jnp.asarray(theta), c))
        f = np.random.default_rng(1).normal(size=mask.shape)
        G = np.random.default_rng(2).uniform(size=mask.shape + (mask.shape[1],))
        ev = float(pol.expected_value(jnp.asarray(theta), c, jnp.asarray(f)))
        pv = float(pol.expected_pair_value(jnp.asarray(theta), c, jnp.asarray(G)))
        lp = np.asarray(pol.log_probs(jnp.asarray(theta), c))
    p_np = _np_probs(theta, phi, np.where(mask, log_ref, 0.0), mask)
    r_np = _np_probs(np.zeros(3), phi, np.where(mask, log_ref, 0.0), mask)
    np.testing.assert_allclose(p, p_np, atol=1e-14)
    np.testing.assert_allclose(ref, r_np, atol=1e-14)  # theta = 0 is the (normalised) reference
    assert np.all(p[~mask] == 0) and np.all(np.isneginf(lp[~mask]))
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_np = np.mean(np.nansum(np.where(mask, p_np * np.log(p_np / r_np), 0.0), axis=1))
    assert kl == pytest.approx(kl_np, abs=1e-14) and kl > 0
    assert ev == pytest.approx(np.mean(np.sum(p_np * np.where(mask, f, 0), 1)), abs=1e-14)
    pv_np = np.mean([p_np[i] @ np.where(mask[i][:, None] & mask[i][None], G[i], 0) @ r_np[i] for i in range(5)])
    assert pv == pytest.approx(pv_np, abs=1e-14)


def test_gradients_finite_with_padding_and_match_finite_differences():
    phi, log_ref, mask = _ragged()
    theta = np.array([0.4, 0.1, -0.5])
    with x64_scope():
        c = pol.candidate_set(phi, log_ref, mask)
        f = jnp.asarray(np.random.default_rng(3).normal(size=mask.shape))

        def obj(t):
            return pol.expected_value(t, c, f) - 0.7 * pol.kl_to_reference(t, c)

        g = np.asarray(jax.grad(obj)(jnp.asarray(theta)))
        h = 1e-6
        fd = [(float(obj(jnp.asarray(theta + h * e))) - float(obj(jnp.asarray(theta - h * e)))) / (2 * h)
              for e in np.eye(3)]
        # the KL gradient at theta = 0 vanishes (minimum)
        g0 = np.asarray(jax.grad(lambda t: pol.kl_to_reference(t, c))(jnp.zeros(3)))
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(g, fd, atol=1e-8)
    np.testing.assert_allclose(g0, 0.0, atol=1e-15)


def test_sample_pairs_frequencies_and_pair_probs():
    phi, log_ref, mask = _ragged(P=2, C=3)
    mask[:] = True
    theta = np.array([1.0, -0.5, 0.2])
    n = 200_000
    with x64_scope():
        c = pol.candidate_set(phi, np.nan_to_num(log_ref), mask)
        pairs = pol.sample_pairs(jnp.asarray(theta), c, n, jax.random.PRNGKey(0))
        p = np.asarray(pol.probs(jnp.asarray(theta), c))
        r = np.asarray(pol.probs(jnp.zeros(3), c))
        pp = np.asarray(pol.pair_probs(pairs, c, jnp.asarray(theta)))
    prompt, left, right = (np.asarray(v) for v in pairs)
    np.testing.assert_allclose(pp, p[prompt, left] * r[prompt, right], atol=1e-15)
    for x in range(2):
        sel = prompt == x
        freq_l = np.bincount(left[sel], minlength=3) / sel.sum()
        freq_r = np.bincount(right[sel], minlength=3) / sel.sum()
        # binomial SE <= sqrt(.25 / 1e5) = 0.0016; 5 SE
        np.testing.assert_allclose(freq_l, p[x], atol=0.008)
        np.testing.assert_allclose(freq_r, r[x], atol=0.008)


def test_sample_pairs_never_draws_padding():
    phi, log_ref, mask = _ragged()
    with x64_scope():
        c = pol.candidate_set(phi, log_ref, mask)
        pairs = pol.sample_pairs(jnp.zeros(3), c, 5000, jax.random.PRNGKey(1))
    prompt, left, right = (np.asarray(v) for v in pairs)
    assert mask[prompt, left].all() and mask[prompt, right].all()


def test_probability_table_policies():
    phi, log_ref, mask = _ragged()
    with x64_scope():
        c = pol.candidate_set(phi, log_ref, mask)
        table = np.asarray(pol.probs(jnp.asarray([0.3, 0.0, 0.0]), c))
        G = jnp.asarray(np.random.default_rng(0).uniform(size=(5, 4, 4)))
        a = float(pol.expected_pair_value(jnp.asarray(table), c, G))
        b = float(pol.expected_pair_value(jnp.asarray([0.3, 0.0, 0.0]), c, G))
    assert a == pytest.approx(b, abs=1e-15)
    pol.check_probs(table, c)
    with pytest.raises(ValueError, match="sum to"):
        pol.check_probs(table * 1.1, c)
    with pytest.raises(ValueError, match="padded"):
        bad = table.copy()
        bad[1, 3] = 0.1
        pol.check_probs(bad, c)


@pytest.mark.parametrize("kwargs, match", [
    (dict(phi=np.zeros((3, 2))), "n_prompts, n_candidates, d"),
    (dict(log_ref=np.zeros((3, 3))), "log_ref must have shape"),
    (dict(log_ref=np.array([[0, -np.inf], [0, 0], [0, 0]])), "log_ref is not finite at prompt 0, candidate 1"),
    (dict(mask=np.array([[True, True], [False, False], [True, True]])), "prompt 1 has no candidate"),
    (dict(mask=np.ones((3, 2))), "mask must be a boolean"),
    (dict(phi=np.full((3, 2, 1), np.nan)), "phi is not finite"),
])
def test_candidate_set_errors(kwargs, match):
    args = dict(phi=np.zeros((3, 2, 1)), log_ref=None, mask=None)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        pol.candidate_set(**args)


def test_theta_length_checked():
    with x64_scope():
        c = pol.candidate_set(np.zeros((2, 2, 3)))
        with pytest.raises(ValueError, match="theta has length 2"):
            pol.as_probs(jnp.zeros(2), c)
