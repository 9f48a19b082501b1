#!/usr/bin/env python
"""LatentClassBT benchmark: accelerated EM (issue 18) against the previous plain EM, same code base.

Times ``prefstat.models.latent_class.fit_core`` (the core of ``LatentClassBT``) with
``accelerate=True`` (SQUAREM, starts screened for 8 EM maps, the best run to tol) and
``accelerate=False`` (plain generalised EM from every start to tol, the algorithm on main
before issue 18), on

* ``worked``: the worked example with one comparison per user, K = 3 (the heterogeneity
  study's case; EM is slow there because the likelihood is flat along a ridge);
* ``panel``: two user types, 200 users, K = 2.

Reported: wall and CPU seconds of a warm call (compilation excluded; median of ``--repeats``),
the speed-up, and both log-likelihoods (the accelerated fit must not end lower).

Usage::

    python benchmarks/bench_latent_class.py           # n = 20k and 80k, writes RESULTS.md
    python benchmarks/bench_latent_class.py --quick   # n = 5k, prints only (add --write)
"""
from __future__ import annotations

import argparse
import datetime as _dt
import math
import os
import statistics
import time
from pathlib import Path

import jax
import jax.numpy as jnp

from bench_bt import command_line, write_results
from prefstat._x64 import x64_scope
from prefstat.design import DenseDesign
from prefstat.models.latent_class import fit_core
from prefstat.simulate.processes import HeterogeneousUsers

HERE = Path(__file__).resolve().parent
START, END = "<!-- bench_latent_class:start -->", "<!-- bench_latent_class:end -->"
CASES = {"worked": (HeterogeneousUsers.worked_example(), 3),
         "panel": (HeterogeneousUsers((1.0, 1.0, 0.0), heterogeneity="two_type", scale=3.0, contested_axis=1,
                                      z_scale=math.sqrt(2.0), n_users=200), 2)}


def run_case(name: str, n: int, repeats: int) -> dict:
    process, K = CASES[name]
    with x64_scope():
        data = jax.jit(lambda k: process.sample(k, n))(jax.random.PRNGKey(1))
        args = (DenseDesign(data["Z"]), data["y"], jnp.ones(n), data["user"], jax.random.PRNGKey(0))
        row = {"case": name, "n": n, "K": K}
        for label, acc in (("new", True), ("old", False)):
            fit = lambda: fit_core(*args, n_users=process.n_users or n, n_classes=K, accelerate=acc)  # noqa: E731
            fit().loglik.block_until_ready()  # compile
            walls, cpus = [], []
            for _ in range(repeats):
                t0, c0 = time.perf_counter(), time.process_time()
                res = fit()
                res.loglik.block_until_ready()
                walls.append(time.perf_counter() - t0)
                cpus.append(time.process_time() - c0)
            row.update({f"{label}_wall": statistics.median(walls), f"{label}_cpu": statistics.median(cpus),
                        f"{label}_ll": float(res.loglik), f"{label}_iter": int(res.n_iter),
                        f"{label}_conv": bool(res.converged)})
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="n = 5k only (smoke test)")
    ap.add_argument("--repeats", type=int, default=3, help="warm calls per fit (median reported)")
    ap.add_argument("--write", action="store_true", help="write RESULTS.md also with --quick")
    args = ap.parse_args(argv)
    if args.repeats < 1:
        ap.error("--repeats must be >= 1")
    sizes = [5_000] if args.quick else [20_000, 80_000]
    started, load0 = _dt.datetime.now(_dt.timezone.utc), os.getloadavg()
    rows = [run_case(name, n, args.repeats) for name in CASES for n in sizes]
    lines = ["| case | n | K | new wall (s) | old wall (s) | new CPU (s) | old CPU (s) | speed-up (wall) | "
             "loglik new | loglik old |", "|" + "---|" * 10]
    for r in rows:
        lines.append(f"| {r['case']} | {r['n']:,} | {r['K']} | {r['new_wall']:.3g} | {r['old_wall']:.3g} | "
                     f"{r['new_cpu']:.3g} | {r['old_cpu']:.3g} | {r['old_wall'] / r['new_wall']:.3g}x | "
                     f"{r['new_ll']:.6g} | {r['old_ll']:.6g} |")
    load1 = os.getloadavg()
    text = "\n".join([START, "## LatentClassBT EM (`benchmarks/bench_latent_class.py`)", "",
                      f"- **Command**: `{command_line()}`",
                      f"- **Date**: {started.isoformat(timespec='seconds')}",
                      f"- **Load average** at start {load0[0]:.2f}, at end {load1[0]:.2f} ({os.cpu_count()} cores)",
                      "", *lines, END])
    print(text)
    if args.write or not args.quick:
        write_results(text, HERE / "RESULTS.md", START, END)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
