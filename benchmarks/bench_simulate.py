"""Replications per second: 1000 BT fits (n = 2000, d = 10) through the vmapped core vs Python loops.

Same data for every tool: 1000 replications drawn once from FeatureBT. Timed:

* prefstat: ``Study``'s path, one compiled ``jit(vmap(BTSim().core))`` over all replications
  (estimates + model-based SEs); compile time reported separately;
* scikit-learn: a loop of ``LogisticRegression(fit_intercept=False, C=inf)`` fits (no SEs);
* statsmodels: a loop of ``GLM(Binomial).fit()`` (estimates + SEs).

Usage: ``python benchmarks/bench_simulate.py [--reps 1000] [--no-write]``; writes its section of
benchmarks/RESULTS.md between the bench_simulate markers.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import os
import pathlib
import sys
import time

import jax
import numpy as np

from bench_bt import command_line, write_results
from prefstat._x64 import x64_scope
from prefstat.simulate import FeatureBT
from prefstat.simulate.estimators import BTSim, vmapped

RESULTS = pathlib.Path(__file__).with_name("RESULTS.md")
START, END = "<!-- bench_simulate:start -->", "<!-- bench_simulate:end -->"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=1000)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--d", type=int, default=10)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)
    beta = tuple(np.random.default_rng(0).normal(0, 1 / np.sqrt(args.d), args.d))
    process = FeatureBT(beta=beta)
    with x64_scope():
        keys = jax.random.split(jax.random.PRNGKey(1), args.reps)
        data = jax.jit(jax.vmap(lambda k: process.sample(k, args.n)))(keys)
        data = {k: v for k, v in data.items() if k in ("Z", "y")}
        fn = vmapped(BTSim(), process)
        t0 = time.perf_counter()
        compiled = fn.lower(data).compile()
        compile_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        out = jax.block_until_ready(compiled(data))
        core_s = time.perf_counter() - t0
        # the second call, as in a study's later cells and runs (the first also maps fresh output buffers)
        t0 = time.perf_counter()
        jax.block_until_ready(compiled(data))
        warm_s = time.perf_counter() - t0
    Z, y = np.asarray(data["Z"]), np.asarray(data["y"])
    est_core = np.asarray(out["estimate"])

    from sklearn.linear_model import LogisticRegression
    t0 = time.perf_counter()
    est_sk = np.stack([LogisticRegression(fit_intercept=False, C=np.inf, tol=1e-10, max_iter=1000)
                       .fit(Z[r], y[r]).coef_.ravel() for r in range(args.reps)])
    sk_s = time.perf_counter() - t0

    import statsmodels.api as sm
    t0 = time.perf_counter()
    est_sm = np.stack([sm.GLM(y[r], Z[r], family=sm.families.Binomial()).fit(tol=1e-12).params
                       for r in range(args.reps)])
    sm_s = time.perf_counter() - t0

    rows = [("prefstat vmapped core (estimates + model SEs)", core_s, "ref", f"compile {compile_s:.2f} s"),
            ("prefstat vmapped core, second call", warm_s, "0", "same program and data"),
            ("scikit-learn LogisticRegression loop (estimates)", sk_s, f"{np.abs(est_sk - est_core).max():.1e}", ""),
            ("statsmodels GLM loop (estimates + SEs)", sm_s, f"{np.abs(est_sm - est_core).max():.1e}", "")]
    load = os.getloadavg()
    lines = [START, "## Simulation throughput (`benchmarks/bench_simulate.py`)", "",
             f"- **Command**: `{command_line()}`",
             f"- **Date**: {_dt.datetime.now().astimezone().isoformat(timespec='seconds')}; load average after the "
             f"run {load[0]:.2f}/{load[1]:.2f}/{load[2]:.2f} on {os.cpu_count()} cores",
             f"- {args.reps} replications of FeatureBT, n = {args.n}, d = {args.d}; same data for every tool", "",
             "| tool | total (s) | replications / s | speed-up of prefstat | max abs diff vs prefstat | notes |",
             "|---|---|---|---|---|---|"]
    for name, secs, diff, note in rows:
        lines.append(f"| {name} | {secs:.3f} | {args.reps / secs:,.0f} | {secs / core_s:.1f}x | {diff} | {note} |")
    lines.append(END)
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_results(text, RESULTS, START, END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
