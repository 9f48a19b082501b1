#!/usr/bin/env python
"""DIPO benchmark: fit time against the pool size (5-fold cross-fitting) and against ppi_py's mean CI.

One run, one process, seeded two-sample tables from prefstat.simulate.BiasedJudge (probit link, a
judge with flips, a tilt and a position bias, a hidden coordinate driving humans and judge; d = 3
observed features): n = 2,000 human rows and a pool of N = 10,000, 100,000 and 1,000,000 rows
(``--quick``: 1,000 and 10,000 only).

Tools, each timed from its own input to a point estimate and a 95% interval:

* prefstat ``DIPO(n_folds=5)`` (cross-fitted logistic outcome model on the judge label and F, no
  shift): ``fit`` + ``conf_int``;
* prefstat ``DIPO(method="ppi")`` (m = the raw judge score);
* ppi_py ``ppi_mean_ci(Y, Yhat, Yhat_unlabeled, alpha=0.05, lam=1)``, the same estimator as
  ``method="ppi"``: the estimates agree to rounding (reported), the intervals differ only by ppi_py's
  variance divisors (reported as the relative SE difference).

ppi_py is optional: without it its columns are "not installed".

Usage::

    python benchmarks/bench_dipo.py            # full run, writes benchmarks/RESULTS.md
    python benchmarks/bench_dipo.py --quick    # tiny sizes, prints (add --write to write)
"""
from __future__ import annotations

import argparse
import datetime as _dt
import os
import statistics
import time
from pathlib import Path

import numpy as np

from bench_bt import command_line, machine_info, write_results

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"
START, END = "<!-- bench_dipo:start -->", "<!-- bench_dipo:end -->"
N_HUMAN = 2_000
POOLS = (10_000, 100_000, 1_000_000)
QUICK = (1_000, (2_000, 10_000))
Z95 = 1.959963984540054


def simulate(n: int, N: int, seed: int):
    import jax

    from prefstat._x64 import x64_scope
    from prefstat.simulate import BiasedJudge

    process = BiasedJudge(beta_true=(1.0, -0.5, 0.3, 2.0), link="probit", flip_rate=0.1, tilt=1.0, tilt_feature=0,
                          position_bias=0.3, temperature=0.5)
    with x64_scope():
        data = {k: np.asarray(v) for k, v in process.sample(jax.random.PRNGKey(seed), n, N).items()}
    return {"F": data["Z"][:, :3], "y": data["y"], "a": data["ai_label"], "h": data["is_human"], "psi": process.psi}


def timed(fn, repeats: int):
    t0 = time.perf_counter()
    out = fn()
    first = time.perf_counter() - t0
    warm = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        warm.append(time.perf_counter() - t0)
    return out, first, statistics.median(warm) if warm else first


def run_prefstat(ds, method, repeats):
    import prefstat as ps

    def fit():
        est = ps.DIPO(method=method, n_folds=5, random_state=0).fit(ds["F"], ds["y"], ds["a"])
        lo, hi = est.conf_int()
        return est.estimate_, (hi - lo) / (2 * Z95)

    return timed(fit, repeats)


def run_ppi(ds, repeats):
    try:
        import ppi_py
    except ImportError:
        return None
    h = ds["h"]
    args = (ds["y"][h], ds["a"][h], ds["a"][~h])

    def fit():
        lo, hi = ppi_py.ppi_mean_ci(*args, alpha=0.05, lam=1.0)
        return (lo + hi) / 2, (hi - lo) / (2 * Z95)

    (mid, se), first, warm = timed(fit, repeats)
    return float(np.squeeze(mid)), float(np.squeeze(se)), first, warm


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes; prints unless --write")
    ap.add_argument("--write", action="store_true", help="write benchmarks/RESULTS.md (default: yes unless --quick)")
    ap.add_argument("--repeats", type=int, default=3, help="warm calls per tool (median reported; default: 3)")
    args = ap.parse_args(argv)
    started, t0, load0 = _dt.datetime.now(_dt.timezone.utc), time.perf_counter(), os.getloadavg()
    n, pools = (QUICK[0], QUICK[1]) if args.quick else (N_HUMAN, POOLS)
    rows = []
    for i, N in enumerate(pools):
        ds = simulate(n, N, seed=i + 1)
        (est, se), p_first, p_warm = run_prefstat(ds, "dipo", args.repeats)
        (est_ppi, se_ppi), q_first, q_warm = run_prefstat(ds, "ppi", args.repeats)
        ref = run_ppi(ds, args.repeats)
        row = dict(n=n, N=N, est=est, se=se, first=p_first, warm=p_warm, ppi_first=q_first, ppi_warm=q_warm)
        if ref is not None:
            row.update(ppi_py_warm=ref[3], ppi_py_first=ref[2], d_est=abs(ref[0] - est_ppi),
                       d_se=abs(ref[1] - se_ppi) / ref[1])
        rows.append(row)
        print(row, flush=True)
    load1 = os.getloadavg()
    info = machine_info()
    head = ("| n human | N pool | DIPO first (s) | DIPO warm (s) | DIPO SE | PPI (prefstat) warm (s) | ppi_py "
            "ppi_mean_ci warm (s) | abs Δ estimate PPI vs ppi_py | rel Δ SE |")
    lines = [head, "|" + "|".join(["---"] * (head.count("|") - 1)) + "|"]
    for r in rows:
        py = (f"{r['ppi_py_warm']:.4f} | {r['d_est']:.1e} | {r['d_se']:.1e}" if "d_est" in r
              else "not installed | - | -")
        lines.append(f"| {r['n']:,} | {r['N']:,} | {r['first']:.3f} | {r['warm']:.3f} | {r['se']:.5f} | "
                     f"{r['ppi_warm']:.4f} | {py} |")
    loaded = load0[0] > 0.5 or load1[0] > (os.cpu_count() or 1)
    text = "\n".join([
        START, "## DIPO: fit time against the pool size, and ppi_py's mean CI (`benchmarks/bench_dipo.py`)", "",
        f"- **Command**: `{command_line()}`",
        f"- **Date**: {started.isoformat(timespec='seconds')} (wall time {(time.perf_counter() - t0) / 60:.1f} min)",
        f"- **Machine**: {info['cores']} cores, {info['cpu']}, {info['mem']} RAM, {info['os']}, Python {info['python']}",
        f"- **Load average** at start {load0[0]:.2f}, at end {load1[0]:.2f}"
        + (" — **the machine was loaded by other processes: timings are noisy**" if loaded else ""),
        f"- **Sizes**: {'quick (smoke test)' if args.quick else 'full'}; {args.repeats} warm repeats (median)", "",
        "DIPO: 5-fold cross-fitted logistic outcome model (judge label and 3 features), no shift; *first* "
        "includes JAX compilation. PPI: m = the raw judge score, the estimator of ppi_py's `ppi_mean_ci(lam=1)`.",
        "", "\n".join(lines), "", END])
    if args.write or not args.quick:
        write_results(text, RESULTS, START, END)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
