#!/usr/bin/env python
"""Sign estimator benchmark: time per fit against n and d.

Seeded heterogeneous-user data: the worked example of docs/methods.md#heterogeneous-users-worked-example
embedded in d features, z ~ N(0, 2 I_d), beta_bar = (1, 1, 0, ..., 0), each
comparison answered by a fresh user with beta_u = beta_bar + 3 xi e_1
(xi ~ N(0, 1), logistic noise), so BT is 15 degrees off for every d and the
sign estimator is consistent.

Timed, from the (n, d) float array and the outcome vector to the fitted object:

* ``SignEstimator(n_subsamples=0)``: the point estimate (BT start + 2 random starts,
  6 bandwidth stages of L-BFGS, Horowitz end bandwidth); for d = 2 also
  ``method="exact"`` (the angular sweep);
* ``SignEstimator(n_subsamples=200)``: the same plus subsampling inference
  (200 refits on m = ceil(n^(2/3)) comparisons), at the sizes listed in ``INFERENCE``;
* ``BradleyTerry(design="features")``: the pooled BT fit with model-based SEs, for scale.

*first call* includes JIT compilation; *warm* is the median of ``--repeats``
further calls (single warm call for fits that take longer than 60 s). The angle
to beta_bar is reported as a sanity check (BT's does not shrink with n; the sign
estimator's does).

Usage::

    python benchmarks/bench_sign.py            # full grid (n up to 1M, d up to 64), writes RESULTS.md
    python benchmarks/bench_sign.py --quick    # n up to 100k, d up to 16, prints only (add --write)
"""
from __future__ import annotations

import argparse
import datetime as _dt
import importlib.metadata
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from bench_bt import command_line, write_results

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"
START, END = "<!-- bench_sign:start -->", "<!-- bench_sign:end -->"

GRID = {"full": ([10_000, 100_000, 1_000_000], [2, 3, 16, 64]),
        "quick": ([10_000, 100_000], [2, 3, 16])}
# (n, d) cells where inference (200 subsample refits) is also timed
INFERENCE = {"full": [(100_000, 3), (1_000_000, 3), (1_000_000, 64)], "quick": [(100_000, 3)]}
SLOW_FIT = 60.0  # seconds: slower fits get a single warm call


def simulate(n: int, d: int, seed: int):
    """The worked example embedded in d features: beta_bar = (1, 1, 0, ..., 0), users disagree on
    feature 1 (beta_u = beta_bar + 3 xi e_1), so BT's limit is 15 degrees off for every d."""
    rng = np.random.default_rng([seed, n, d])
    beta = np.zeros(d)
    beta[:2] = 1.0
    Z = np.sqrt(2.0) * rng.normal(size=(n, d))
    eta = Z @ beta + 3.0 * rng.normal(size=n) * Z[:, 1]
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-eta))).astype(np.float64)
    return Z, y, beta


def angle(a, b) -> float:
    a, b = np.asarray(a) / np.linalg.norm(a), np.asarray(b) / np.linalg.norm(b)
    return float(np.degrees(np.arctan2(np.linalg.norm(a - (a @ b) * b), a @ b)))


def timed(make, Z, y, repeats: int):
    t0 = time.perf_counter()
    est = make().fit(Z, y)
    first = time.perf_counter() - t0
    warm = []
    for _ in range(1 if first > SLOW_FIT else repeats):
        t0 = time.perf_counter()
        est = make().fit(Z, y)
        warm.append(time.perf_counter() - t0)
    return est, first, statistics.median(warm), len(warm)


def versions() -> str:
    out = []
    for dist in ("prefstat", "jax", "jaxlib", "optax", "numpy", "scipy"):
        try:
            out.append(f"{dist} {importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            out.append(f"{dist} not installed")
    return ", ".join(out)


def machine() -> str:
    cpu = "unknown"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{os.cpu_count()} cores, {cpu}, {platform.platform()}, Python {platform.python_version()}"


def section(rows, args, started, elapsed, load0, load1) -> str:
    head = ("| n | d | estimator | first call (s) | warm (s) | compile (s) | angle to beta_bar (deg) | notes |")
    lines = [head, "|" + "---|" * 8]
    for r in rows:
        compile_ = max(r["first"] - r["warm"], 0.0)
        lines.append(f"| {r['n']:,} | {r['d']} | {r['tool']} | {r['first']:.2f} | {r['warm']:.2f}"
                     f"{' (1 call)' if r['n_warm'] == 1 else ''} | {compile_:.2f} | {r['angle']:.2f} | {r['notes']} |")
    loaded = load0[0] > 0.5 or load1[0] > (os.cpu_count() or 1)
    return "\n".join([
        START,
        "## Sign estimator (`benchmarks/bench_sign.py`)",
        "",
        f"- **Command**: `{command_line()}` (run from `{os.getcwd()}`)",
        f"- **Date**: {started.isoformat(timespec='seconds')} (whole run {elapsed / 60:.1f} min)",
        f"- **Machine**: {machine()}",
        f"- **Load average** (1/5/15 min) at start {load0[0]:.2f}/{load0[1]:.2f}/{load0[2]:.2f}, at end "
        f"{load1[0]:.2f}/{load1[1]:.2f}/{load1[2]:.2f}"
        + (" — **the machine was loaded by other processes: timings are noisy**" if loaded else ""),
        f"- **Versions**: {versions()}",
        f"- **Grid**: {'quick' if args.quick else 'full'}; warm repeats = {args.repeats}; seed {args.seed}",
        "",
        "Data: the worked example embedded in d features: z ~ N(0, 2 I_d), beta_bar = (1, 1, 0, ..., 0), a "
        "fresh user per comparison with beta_u = beta_bar + 3 xi e_1 (logistic noise; BT's limit is 15 degrees "
        "off for every d). *first call* includes JIT compilation (one per padded "
        "row count and configuration); *warm* is the median of the warm calls. The point estimate is "
        "`SignEstimator(n_subsamples=0)` (3 starts x 6 bandwidth "
        "stages of L-BFGS, Horowitz end bandwidth h0 n^-1/5); *sign exact* is the angular sweep for d = 2; *+ inference* adds the 200 subsample refits of `conf_cone`/`conf_int`. "
        "BT (`BradleyTerry(design=\"features\")`, model-based SEs) is listed for scale: its angle is its "
        "inconsistency, which does not shrink with n.",
        "",
        *lines,
        "",
        END,
    ])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="n up to 100k, d up to 16 (prints only unless --write)")
    ap.add_argument("--repeats", type=int, default=3, help="warm calls per fit (median; default 3)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--write", dest="write", action="store_true", default=None)
    ap.add_argument("--no-write", dest="write", action="store_false")
    args = ap.parse_args(argv)
    if args.repeats < 1:
        ap.error("--repeats must be >= 1")
    mode = "quick" if args.quick else "full"
    write = (not args.quick) if args.write is None else args.write

    import jax.numpy as jnp

    import prefstat as ps
    from prefstat.inference import subsample_size

    jnp.zeros(1).block_until_ready()  # initialise the JAX backend outside the timed calls
    started, t_start, load0 = _dt.datetime.now().astimezone(), time.perf_counter(), os.getloadavg()
    rows = []
    sizes, dims = GRID[mode]
    for d in dims:
        for n in sizes:
            Z, y, beta = simulate(n, d, args.seed)
            tools = [("sign", lambda: ps.SignEstimator(n_subsamples=0, random_state=0), "")]
            if d == 2:
                tools.append(("sign exact", lambda: ps.SignEstimator(method="exact", n_subsamples=0), "exact sweep"))
            if (n, d) in INFERENCE[mode]:
                tools.append(("sign + inference", lambda: ps.SignEstimator(n_subsamples=200, random_state=0),
                              f"m = {subsample_size(n)}"))
            tools.append(("BT", lambda: ps.BradleyTerry(design="features"), "model SEs"))
            for tool, make, notes in tools:
                est, first, warm, n_warm = timed(make, Z, y, args.repeats)
                direction = est.direction_ if hasattr(est, "direction_") else est.coef_
                if tool == "sign + inference":
                    notes += f", 95% cone {est.conf_cone():.2f} deg"
                rows.append(dict(n=n, d=d, tool=tool, first=first, warm=warm, n_warm=n_warm,
                                 angle=angle(direction, beta), notes=notes))
                print(f"n={n:>9,} d={d:>3} {tool:<17} first {first:8.2f}s warm {warm:8.2f}s "
                      f"angle {rows[-1]['angle']:6.2f}  {notes}", flush=True)
    text = section(rows, args, started, time.perf_counter() - t_start, load0, os.getloadavg())
    print(text)
    if write:
        write_results(text, RESULTS, START, END)
        print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
