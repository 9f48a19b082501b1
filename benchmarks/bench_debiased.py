#!/usr/bin/env python
"""AI-judge correction benchmark: prefstat's DebiasedBradleyTerry against ppi_py's PPI++ logistic CI.

One run, one process, both tools on the same seeded two-sample tables (a human sample with human
and judge labels, a pool 10x larger with judge labels only, one pair distribution):

* S   n =  1,000 human, N =    10,000 pool, d =  5 features
* M   n = 10,000 human, N =   100,000 pool, d = 10 features
* L   n = 50,000 human, N = 1,000,000 pool, d = 20 features   (full run only)

Data: prefstat.simulate.BiasedJudge (probit link, a judge with flips, a tilt and a position bias)
with one extra coordinate of z that drives humans and judge but is withheld from the model, so
the judge label is informative about the individual human label and the tuned lambda is interior.

Tools, each timed from its own documented input (X, Y, Yhat for the human rows; X, Yhat for the
pool) to a point estimate and a 95% interval per coefficient:

* prefstat ``DebiasedBradleyTerry(lam="auto")`` and ``(lam=1.0)``: ``fit`` + ``conf_int``;
* ppi_py ``ppi_logistic_ci(alpha=0.05, lam=None)`` and ``(lam=1.0)`` (its point estimate is the
  interval's midpoint).

Agreement: the tuned lambdas and the point estimates (against ppi_py's point estimate, whose tuning
convention prefstat follows, and against its CI midpoint, which ppi_py tunes once more), and the
largest relative difference of the standard errors (half-width / 1.959964) at the same lambda. The
standard errors differ by design at O(n^-1/2): both use the same two-sample variance of the
estimating equation (ddof 1), but prefstat's bread is the Jacobian of its estimating equation,
lam H_pool + (1 - lam) H_human, ppi_py's the Hessian averaged over both samples.

Usage::

    python benchmarks/bench_debiased.py            # full run, writes benchmarks/RESULTS.md
    python benchmarks/bench_debiased.py --quick    # S and M only, prints (add --write to write)
"""
from __future__ import annotations

import argparse
import datetime as _dt
import importlib.metadata
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from bench_bt import command_line, machine_info, write_results

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"
START, END = "<!-- bench_debiased:start -->", "<!-- bench_debiased:end -->"
SIZES = {"S": (1_000, 10_000, 5), "M": (10_000, 100_000, 10), "L": (50_000, 1_000_000, 20)}
Z95 = 1.959963984540054


def simulate(name: str, seed: int):
    import jax

    from prefstat._x64 import x64_scope
    from prefstat.simulate import BiasedJudge

    n, N, d = SIZES[name]
    rng = np.random.default_rng(seed)
    beta = rng.normal(0.0, 1.0 / np.sqrt(d), d)
    process = BiasedJudge(beta_true=tuple(beta) + (2.0,), link="probit", flip_rate=0.1, tilt=1.0, tilt_feature=0,
                          position_bias=0.3, temperature=0.5)
    with x64_scope():
        data = {k: np.asarray(v) for k, v in process.sample(jax.random.PRNGKey(seed), n, N).items()}
    h = data["is_human"]
    return {"Z": data["Z"][:, :d], "y": data["y"], "a": data["ai_label"], "h": h,
            "agreement": process.judge_agreement, "label": f"{name}: n={n:,}, N={N:,}, d={d}"}


def timed(fn, repeats: int):
    """(output, first-call seconds, median warm seconds)."""
    t0 = time.perf_counter()
    out = fn()
    first = time.perf_counter() - t0
    warm = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        warm.append(time.perf_counter() - t0)
    return out, first, statistics.median(warm)


def run_prefstat(ds, lam, repeats):
    import prefstat as ps

    def fit():
        est = ps.DebiasedBradleyTerry(lam=lam).fit(ds["Z"], ds["y"], ai_label=ds["a"])
        ci = est.conf_int()
        return est.coef_, (ci[:, 1] - ci[:, 0]) / (2 * Z95), est.lam_

    return timed(fit, repeats)


def run_ppi(ds, lam, repeats):
    """ppi_py's CI (timed), plus untimed reference values: its tuned lambdas and point estimate."""
    import ppi_py
    from ppi_py.ppi import _calc_lam_glm, _logistic_get_stats

    Z, y, a, h = ds["Z"], ds["y"], ds["a"], ds["h"]
    args = (Z[h], y[h], a[h], Z[~h], a[~h])
    ones = (np.ones(h.sum()), np.ones((~h).sum()))

    def fit():
        lo, hi = ppi_py.ppi_logistic_ci(*args, alpha=0.05, lam=lam)
        return (lo + hi) / 2, (hi - lo) / (2 * Z95)

    (mid, se), first, warm = timed(fit, repeats)
    ref = dict(mid=mid, se=se, lam_point=lam, lam_ci=lam)
    ref["point"] = ppi_py.ppi_logistic_pointestimate(*args, lam=lam)
    if lam is None:
        # ppi_logistic_pointestimate(lam=None) tunes at its lambda = 1 estimate (prefstat's convention);
        # ppi_logistic_ci(lam=None) tunes once more, at that tuned estimate, before forming the interval
        theta1 = ppi_py.ppi_logistic_pointestimate(*args, lam=1.0)
        ref["lam_point"] = float(_calc_lam_glm(*_logistic_get_stats(theta1, *args, *ones), clip=True))
        ref["lam_ci"] = float(_calc_lam_glm(*_logistic_get_stats(ref["point"], *args, *ones), clip=True))
    return ref, first, warm


def ppi_se_at(ds, lam):
    """ppi_py's standard errors at a given lambda (untimed): isolates the bread difference."""
    import ppi_py

    Z, y, a, h = ds["Z"], ds["y"], ds["a"], ds["h"]
    lo, hi = ppi_py.ppi_logistic_ci(Z[h], y[h], a[h], Z[~h], a[~h], alpha=0.05, lam=lam)
    return (hi - lo) / (2 * Z95)


def versions() -> str:
    out = []
    for dist in ("prefstat", "jax", "jaxlib", "numpy", "scipy", "scikit-learn", "ppi-python", "numba"):
        try:
            out.append(f"{dist} {importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            out.append(f"{dist} not installed")
    return ", ".join(out)


def section(rows, args, info, load0, load1, started, elapsed) -> str:
    cmd = command_line()
    loaded = load0[0] > 0.5 or load1[0] > (os.cpu_count() or 1)
    head = ("| data | judge agreement | method | prefstat first (s) | prefstat warm (s) | ppi_py first (s) | "
            "ppi_py warm (s) | ppi_py / prefstat (warm) | lambda prefstat | lambda ppi_py point estimate | "
            "lambda ppi_py CI | max abs Δ estimate vs ppi_py point estimate | max abs Δ estimate vs ppi_py CI "
            "midpoint | max rel Δ SE at the same lambda |")
    lines = [head, "|" + "|".join(["---"] * (head.count("|") - 1)) + "|"]
    for r in rows:
        lines.append(f"| {r['label']} | {r['agreement']:.3f} | {r['method']} | {r['p_first']:.3f} | {r['p_warm']:.3f} | "
                     f"{r['q_first']:.3f} | {r['q_warm']:.3f} | {r['q_warm'] / r['p_warm']:.1f} | {r['p_lam']:.6f} | "
                     f"{r['q_lam_point']:.6f} | {r['q_lam_ci']:.6f} | {r['d_point']:.1e} | {r['d_mid']:.1e} | "
                     f"{r['d_se']:.1e} |")
    out = [
        START,
        "## AI-judge correction: PPI++ / DDPO logistic (`benchmarks/bench_debiased.py`)",
        "",
        f"- **Command**: `{cmd}` (run from `{os.getcwd()}`)",
        f"- **Date**: {started.isoformat(timespec='seconds')} (wall time of the whole run {elapsed / 60:.1f} min)",
        f"- **Machine**: {info['cores']} cores, {info['cpu']}, {info['mem']} RAM, {info['os']}, Python {info['python']}",
        f"- **Load average** (1/5/15 min) at start {load0[0]:.2f}/{load0[1]:.2f}/{load0[2]:.2f}, at end "
        f"{load1[0]:.2f}/{load1[1]:.2f}/{load1[2]:.2f}"
        + (" — **the machine was loaded by other processes: timings are noisy**" if loaded else ""),
        f"- **Versions**: {versions()}",
        f"- **Repeats**: {args.repeats} warm calls per tool (median reported); seeds S=1, M=2, L=3",
        "",
        "Both tools get the same table: human rows (features, human label, judge label) and a pool 10x larger "
        "(features, judge label), one pair distribution. Each is timed from its own input to a point estimate "
        "and a 95% interval per coefficient (prefstat: `DebiasedBradleyTerry(lam=...).fit` + `conf_int`; "
        "ppi_py: `ppi_logistic_ci(alpha=0.05, lam=...)`, estimate = interval midpoint). *first* includes JIT "
        "compilation (JAX for prefstat, numba for ppi_py's first call in the process); *warm* is the median "
        "of the warm calls. ppi_py tunes lambda differently in its two entry points: "
        "`ppi_logistic_pointestimate(lam=None)` evaluates `_calc_lam_glm(clip=True)` at the lambda = 1 "
        "estimate (*lambda ppi_py point estimate*; prefstat follows this convention), while "
        "`ppi_logistic_ci(lam=None)` evaluates it once more at that tuned estimate (*lambda ppi_py CI*) "
        "and centres its interval on the estimate at that second lambda; the two differ by O(n^-1/2), and so "
        "do the estimates. *max rel Δ SE at the same lambda*: ppi_py's interval recomputed at prefstat's "
        "lambda (untimed), so only the bread differs (prefstat: Jacobian of its estimating equation, "
        "lam H_pool + (1 - lam) H_human; ppi_py: the Hessian averaged over both samples); the variance of the "
        "estimating equation is the same (ddof 1), so the difference is O(n^-1/2).",
        "",
        "\n".join(lines),
        "",
        END,
    ]
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="data sets S and M only; prints unless --write")
    ap.add_argument("--write", action="store_true", help="write benchmarks/RESULTS.md (default: yes unless --quick)")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    started, t_start, load0 = _dt.datetime.now(_dt.timezone.utc), time.perf_counter(), os.getloadavg()
    import jax

    jax.numpy.zeros(1).block_until_ready()  # initialise the backend outside the timings
    rows = []
    names = ["S", "M"] if args.quick else ["S", "M", "L"]
    for seed, name in enumerate(names, start=1):
        ds = simulate(name, seed)
        for method, lam in (("PPI++ (lam auto)", "auto"), ("DDPO (lam = 1)", 1.0)):
            (p_est, p_se, p_lam), p_first, p_warm = run_prefstat(ds, lam, args.repeats)
            ref, q_first, q_warm = run_ppi(ds, None if lam == "auto" else lam, args.repeats)
            q_se = ppi_se_at(ds, p_lam)
            row = dict(label=ds["label"], agreement=ds["agreement"], method=method, p_first=p_first, p_warm=p_warm,
                       q_first=q_first, q_warm=q_warm, p_lam=p_lam, q_lam_point=ref["lam_point"],
                       q_lam_ci=ref["lam_ci"], d_point=float(np.max(np.abs(p_est - ref["point"]))),
                       d_mid=float(np.max(np.abs(p_est - ref["mid"]))),
                       d_se=float(np.max(np.abs(p_se - q_se) / q_se)))
            rows.append(row)
            print({k: (f"{v:.4g}" if isinstance(v, float) else v) for k, v in row.items()}, flush=True)
    text = section(rows, args, machine_info(), load0, os.getloadavg(), started, time.perf_counter() - t_start)
    print(text)
    if args.write or not args.quick:
        write_results(text, RESULTS, START, END)
        print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
