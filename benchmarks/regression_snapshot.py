#!/usr/bin/env python
"""Record (or compare) every estimator's reported numbers on fixed, seeded data sets.

Refactors must not change a number the package reports. Run this on the commit before a
refactor with ``--save before.npz`` and after it with ``--compare before.npz``: every estimate,
standard error and covariance of BradleyTerry (items and features; model, robust, cluster,
bootstrap), DavidsonBradleyTerry, DebiasedBradleyTerry (lam auto / 1, known and cross-fitted
density ratios, cluster), SignEstimator (direction, cone, intervals) and LatentClassBT is
compared to ``--tol`` (default 1e-12, absolute and relative to the largest entry).

Usage::

    python benchmarks/regression_snapshot.py --save /tmp/before.npz
    python benchmarks/regression_snapshot.py --compare /tmp/before.npz
"""
from __future__ import annotations

import argparse
import sys
import warnings

import numpy as np


def _data(seed, n, d):
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(n, d))
    beta = np.linspace(-1, 1, d)
    y = (rng.random(n) < 1 / (1 + np.exp(-Z @ beta))).astype(float)
    return rng, Z, y


def snapshot() -> dict:
    import prefstat as ps

    out = {}

    def put(name, est, attrs=("coef_", "stderr_", "cov_")):
        for a in attrs:
            v = getattr(est, a, None)
            if v is not None:
                out[f"{name}.{a}"] = np.asarray(v, np.float64)
        if hasattr(est, "summary"):
            try:
                out[f"{name}.summary"] = est.summary().select_dtypes("number").to_numpy(np.float64)
            except Exception:  # noqa: BLE001 - some estimators have no summary
                pass

    base = ps.datasets.load_baseball()
    cit = ps.datasets.load_citations()
    for cov in ("model", "robust"):
        put(f"bt.baseball.{cov}", ps.BradleyTerry(order_effect=True, cov_type=cov).fit(base))
        put(f"bt.citations.{cov}", ps.BradleyTerry(reference="Biometrika", cov_type=cov).fit(cit))
    put("bt.baseball.boot", ps.BradleyTerry(order_effect=True, cov_type="bootstrap", n_bootstrap=50,
                                            random_state=0).fit(base))
    put("bt.baseball.l2", ps.BradleyTerry(alpha=0.5).fit(base))

    rng, Z, y = _data(0, 3000, 6)
    g = rng.integers(0, 40, Z.shape[0])
    w = rng.integers(1, 4, Z.shape[0]).astype(float)
    for cov in ("model", "robust"):
        put(f"bt.feat.{cov}", ps.BradleyTerry(cov_type=cov).fit(Z, y, sample_weight=w))
    put("bt.feat.cluster", ps.BradleyTerry(cov_type="cluster").fit(Z, y, groups=g))
    import scipy.sparse as sp
    put("bt.feat.sparse", ps.BradleyTerry(cov_type="robust").fit(sp.csr_matrix(np.where(np.abs(Z) > 1, Z, 0)), y))
    put("bt.feat.lbfgs", ps.BradleyTerry(solver="lbfgs").fit(Z, y))

    # items with ties and groups
    k = 8
    a = rng.integers(0, k, 4000)
    b = (a + rng.integers(1, k, 4000)) % k
    theta = np.linspace(-1, 1, k)
    p = 1 / (1 + np.exp(-(theta[a] - theta[b])))
    u = rng.random(4000)
    yi = np.where(u < 0.15, 0.5, (u < 0.15 + 0.85 * p).astype(float))
    X = np.column_stack([a.astype(str), b.astype(str)]).astype(object)
    gi = rng.integers(0, 30, 4000)
    put("bt.items.cluster", ps.BradleyTerry(cov_type="cluster", order_effect=True).fit(X, yi, groups=gi))
    for cov in ("model", "robust", "cluster"):
        put(f"davidson.{cov}", ps.DavidsonBradleyTerry(cov_type=cov).fit(X, yi, groups=gi if cov == "cluster" else None))

    # debiased
    rng, Z, y = _data(1, 6000, 4)
    ai = np.where(rng.random(6000) < 0.8, y, 1 - y)
    yh = y.copy()
    yh[800:] = np.nan
    wr = np.exp(0.3 * Z[:, 0])
    gd = rng.integers(0, 50, 6000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        put("dbt.auto", ps.DebiasedBradleyTerry(lam="auto").fit(Z, yh, ai_label=ai), ("coef_", "stderr_", "cov_", "lam_", "n_eff_"))
        put("dbt.one", ps.DebiasedBradleyTerry(lam=1.0).fit(Z, yh, ai_label=ai), ("coef_", "stderr_", "cov_", "n_eff_"))
        put("dbt.known", ps.DebiasedBradleyTerry().fit(Z, yh, ai_label=ai, density_ratio=wr[:800]),
            ("coef_", "stderr_", "cov_", "lam_", "weight_ess_"))
        put("dbt.clf", ps.DebiasedBradleyTerry(density_ratio="classifier", random_state=0).fit(Z, yh, ai_label=ai),
            ("coef_", "stderr_", "cov_", "lam_", "density_ratio_"))
        from sklearn.linear_model import LogisticRegression
        put("dbt.sk", ps.DebiasedBradleyTerry(density_ratio="classifier", classifier=LogisticRegression(),
                                              random_state=0).fit(Z, yh, ai_label=ai),
            ("coef_", "stderr_", "cov_", "lam_", "density_ratio_"))
        put("dbt.cluster", ps.DebiasedBradleyTerry(cov_type="cluster").fit(Z, yh, ai_label=ai, groups=gd))
        Xd = X[:3000]
        yd = yi[:3000].copy()
        aid = np.where(rng.random(3000) < 0.8, yd, 1 - yd)
        yd[600:] = np.nan
        put("dbt.items", ps.DebiasedBradleyTerry(order_effect=True).fit(Xd, yd, ai_label=aid))

    # sign and latent class
    rng, Z, y = _data(2, 4000, 3)
    sg = ps.SignEstimator(random_state=0, n_subsamples=30).fit(Z, y)
    out["sign.direction"] = np.asarray(sg.direction_)
    out["sign.cone"] = np.atleast_1d(sg.conf_cone(0.95))
    out["sign.ci"] = np.asarray(sg.conf_int())
    users = rng.integers(0, 200, 4000)
    lc = ps.LatentClassBT(n_classes=2, n_init=2, random_state=0).fit(Z, y, groups=users)
    for a_ in ("direction_", "coef_", "weights_", "class_coef_"):
        if hasattr(lc, a_):
            out[f"lc.{a_}"] = np.asarray(getattr(lc, a_), np.float64)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--save")
    g.add_argument("--compare")
    ap.add_argument("--tol", type=float, default=1e-12)
    args = ap.parse_args(argv)
    snap = snapshot()
    if args.save:
        np.savez(args.save, **snap)
        print(f"saved {len(snap)} arrays to {args.save}")
        return 0
    ref = dict(np.load(args.compare))
    bad = 0
    for key in sorted(set(ref) | set(snap)):
        if key not in snap or key not in ref:
            print(f"MISSING {key} (before: {key in ref}, after: {key in snap})")
            bad += 1
            continue
        a, b = ref[key], snap[key]
        if a.shape != b.shape:
            print(f"SHAPE {key}: {a.shape} -> {b.shape}")
            bad += 1
            continue
        scale = max(1.0, float(np.max(np.abs(a), initial=0.0)))
        diff = float(np.max(np.abs(a - b), initial=0.0)) if a.size else 0.0
        if not np.isfinite(diff) and np.array_equal(a, b, equal_nan=True):
            diff = 0.0
        elif not np.isfinite(diff) and np.array_equal(np.isnan(a), np.isnan(b)):
            # NaN in the same places (e.g. z of a reference item with SE 0): compare the rest
            diff = float(np.max(np.abs(np.where(np.isnan(a), 0.0, a - b)), initial=0.0))
        flag = "ok " if diff <= args.tol * scale else "BAD"
        bad += flag == "BAD"
        print(f"{flag} {key:32s} max|diff| = {diff:.3g}")
    print(f"{len(ref)} arrays compared, {bad} differ by more than {args.tol:g} (relative to max(1, max|value|)).")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
