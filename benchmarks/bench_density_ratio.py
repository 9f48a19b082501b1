#!/usr/bin/env python
"""Relative density ratio benchmark: prefstat's RelativeDensityRatio(method="rulsif") against densratio's RuLSIF.

One process, both tools on the same seeded samples from two Gaussians (``GaussianClasses``), so
the alpha-relative ratio and PE_alpha are known exactly:

* G1-n   d = 1: N(1, 1) vs N(0, 1), alpha = 0.5, n = 1,000 and 10,000 per sample
* G5-n   d = 5: N((0.5, 0.3, 0, 0, 0), diag(1, 1.2, 1, 1, 0.8)) vs N(0, I), alpha = 0.5, same n
* README-1  densratio's README: N(0, 1/8^2) vs N(0, 1/2^2), n = 500, alpha = 0.1, its default grids
* README-2  densratio's README: N((1, 1), I/8) vs N((1, 1), I/2), n = 3,000, alpha = 0 (its example's
  value), sigma_range = [0.1, 0.3, 0.5, 0.7, 1], lambda_range = [0.01, ..., 0.05]

Both tools use 100 kernel centres and search a 9 x 9 bandwidth x ridge grid (densratio: its
default ``10^linspace(-3, 1, 9)`` for both; prefstat: its defaults, a median-distance bandwidth grid
x 13 ridges), except README-2, where both search the README's grid. densratio selects by its
leave-one-out shortcut (exact for alpha = 0 only), prefstat by 5-fold cross-validation.

Timing: ``densratio(x, y, method="RuLSIF", alpha=..., verbose=False)`` vs
``RelativeDensityRatio(alpha=..., random_state=0).fit(x, y)`` (which also computes the cross-fitted
PE_alpha and its standard error); *first* includes JIT compilation, *warm* is the median of the
warm calls. Accuracy: RMSE of the fitted ratio against the exact ratio at 2,000 fresh draws from
the mixture q_alpha (where the ratio matters), and |PE_hat - PE_alpha| (densratio's in-sample
``alpha_PE``; prefstat's cross-fitted ``pe_``).

Usage::

    python benchmarks/bench_density_ratio.py            # full run, writes benchmarks/RESULTS.md
    python benchmarks/bench_density_ratio.py --quick    # n = 300 and the README cases, prints only
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

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
START, END = "<!-- bench_density_ratio:start -->", "<!-- bench_density_ratio:end -->"


def cases(quick: bool):
    from prefstat.simulate.processes.gaussian import GaussianClasses

    sizes = (300,) if quick else (1000, 10_000)
    g1 = GaussianClasses(mu_plus=1.0, mu_minus=0.0)
    g5 = GaussianClasses(mu_plus=(0.5, 0.3, 0, 0, 0), mu_minus=(0, 0, 0, 0, 0),
                         cov_plus=np.diag([1.0, 1.2, 1.0, 1.0, 0.8]), cov_minus=np.eye(5))
    out = []
    for n in sizes:
        out.append(dict(label=f"G1-{n}", gc=g1, n=n, alpha=0.5, grids=None))
        out.append(dict(label=f"G5-{n}", gc=g5, n=n, alpha=0.5, grids=None))
    out.append(dict(label="README-1", gc=GaussianClasses(mu_plus=0.0, mu_minus=0.0, cov_plus=1 / 64, cov_minus=1 / 4),
                    n=500, alpha=0.1, grids=None))
    out.append(dict(label="README-2", gc=GaussianClasses(mu_plus=(1.0, 1.0), mu_minus=(1.0, 1.0),
                                                         cov_plus=np.eye(2) / 8, cov_minus=np.eye(2) / 2),
                    n=3000, alpha=0.0, grids=([0.1, 0.3, 0.5, 0.7, 1.0], [0.01, 0.02, 0.03, 0.04, 0.05])))
    return out


def draw(case, seed):
    """Samples and 2,000 evaluation points from q_alpha (numpy generator, seeded)."""
    gc, n = case["gc"], case["n"]
    rng = np.random.default_rng(seed)
    Lp, Lm = np.linalg.cholesky(np.asarray(gc.cov_plus)), np.linalg.cholesky(np.asarray(gc.cov_minus))
    d = gc.d
    xp = np.asarray(gc.mu_plus) + rng.standard_normal((n, d)) @ Lp.T
    xm = np.asarray(gc.mu_minus) + rng.standard_normal((n, d)) @ Lm.T
    m = 2000
    from_p = rng.random(m) < case["alpha"]
    ep = np.asarray(gc.mu_plus) + rng.standard_normal((m, d)) @ Lp.T
    em = np.asarray(gc.mu_minus) + rng.standard_normal((m, d)) @ Lm.T
    return xp, xm, np.where(from_p[:, None], ep, em)


SLOW_FIRST_CALL = 30.0  # seconds: a non-JIT peer this slow is not repeated (its warm time = its first call)


def timed(fn, repeats, jit=True):
    t = time.perf_counter()
    out = fn()
    first = time.perf_counter() - t
    warm = []
    for _ in range(0 if (not jit and first > SLOW_FIRST_CALL) else repeats):
        t = time.perf_counter()
        fn()
        warm.append(time.perf_counter() - t)
    return out, first, statistics.median(warm) if warm else first


def run_prefstat(case, xp, xm, repeats):
    import prefstat as ps

    kw = {}
    if case["grids"] is not None:
        kw = dict(sigma_grid=case["grids"][0], lambda_grid=case["grids"][1])
    return timed(lambda: ps.RelativeDensityRatio(alpha=case["alpha"], random_state=0, **kw).fit(xp, xm), repeats)


def run_densratio(case, xp, xm, repeats):
    try:
        from densratio import densratio
    except ImportError:
        return None, None, None
    kw = {}
    if case["grids"] is not None:
        kw = dict(sigma_range=case["grids"][0], lambda_range=case["grids"][1])
    np.random.seed(0)  # densratio draws its centres from numpy's global generator
    return timed(lambda: densratio(xp, xm, method="RuLSIF", alpha=case["alpha"], verbose=False, **kw), repeats,
                 jit=False)


def versions() -> str:
    out = []
    for dist in ("prefstat", "jax", "jaxlib", "numpy", "densratio", "numba"):
        try:
            out.append(f"{dist} {importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            out.append(f"{dist} not installed")
    return ", ".join(out)


def section(rows, args, info, load0, load1, started, elapsed) -> str:
    head = ("| data | n per sample | d | alpha | prefstat first (s) | prefstat warm (s) | densratio first (s) | "
            "densratio warm (s) | densratio / prefstat (warm) | RMSE prefstat | RMSE densratio | "
            "abs err PE prefstat (SE) | abs err PE densratio |")
    lines = [head, "|" + "|".join(["---"] * (head.count("|") - 1)) + "|"]

    def f(v, spec):
        return "—" if v is None else format(v, spec)

    for r in rows:
        ratio = None if r["q_warm"] is None else r["q_warm"] / r["p_warm"]
        lines.append(f"| {r['label']} | {r['n']} | {r['d']} | {r['alpha']:g} | {r['p_first']:.3f} | "
                     f"{r['p_warm']:.3f} | {f(r['q_first'], '.3f')} | {f(r['q_warm'], '.3f')} | {f(ratio, '.1f')} | "
                     f"{r['p_rmse']:.4f} | {f(r['q_rmse'], '.4f')} | {r['p_pe']:.4f} ({r['p_se']:.4f}) | "
                     f"{f(r['q_pe'], '.4f')} |")
    loaded = load0[0] > 0.5 or load1[0] > (os.cpu_count() or 1)
    out = [
        START,
        "## Relative density ratio: RuLSIF (`benchmarks/bench_density_ratio.py`)",
        "",
        f"- **Command**: `{command_line()}` (run from `{os.getcwd()}`)",
        f"- **Date**: {started.isoformat(timespec='seconds')} (wall time {elapsed / 60:.1f} min)",
        f"- **Machine**: {info['cores']} cores, {info['cpu']}, {info['mem']} RAM, {info['os']}, Python {info['python']}",
        f"- **Load average** at start {load0[0]:.2f}/{load0[1]:.2f}/{load0[2]:.2f}, at end "
        f"{load1[0]:.2f}/{load1[1]:.2f}/{load1[2]:.2f}"
        + (" — **the machine was loaded by other processes: timings are noisy**" if loaded else ""),
        f"- **Versions**: {versions()}",
        f"- **Repeats**: {args.repeats} warm calls per tool (median; densratio, not compiled, is not repeated "
        f"when its first call exceeds {SLOW_FIRST_CALL:.0f} s); sizes {'quick' if args.quick else 'full'}",
        "",
        __doc__.split("\n\n")[1].replace("\n", " "),
        "",
        "\n".join(lines),
        "",
        END,
    ]
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="n = 300 and the README cases; prints unless --write")
    ap.add_argument("--write", action="store_true", help="write benchmarks/RESULTS.md (default: yes unless --quick)")
    ap.add_argument("--repeats", type=int, default=3, help="warm calls per tool (default 3)")
    args = ap.parse_args(argv)
    started, t_start, load0 = _dt.datetime.now(_dt.timezone.utc), time.perf_counter(), os.getloadavg()
    import jax

    jax.numpy.zeros(1).block_until_ready()
    rows = []
    for seed, case in enumerate(cases(args.quick), start=1):
        xp, xm, xe = draw(case, seed)
        gc, alpha = case["gc"], case["alpha"]
        truth_r, truth_pe = gc.r_alpha(xe, alpha), gc.pe_alpha(alpha)
        est, p_first, p_warm = run_prefstat(case, xp, xm, args.repeats)
        q, q_first, q_warm = run_densratio(case, xp, xm, args.repeats)
        row = dict(label=case["label"], n=case["n"], d=gc.d, alpha=alpha, p_first=p_first, p_warm=p_warm,
                   q_first=q_first, q_warm=q_warm,
                   p_rmse=float(np.sqrt(np.mean((est.predict_ratio(xe) - truth_r) ** 2))),
                   p_pe=abs(est.pe_ - truth_pe), p_se=est.pe_stderr_,
                   q_rmse=None if q is None else float(np.sqrt(np.mean((q.compute_density_ratio(xe) - truth_r) ** 2))),
                   q_pe=None if q is None else abs(float(q.alpha_PE) - truth_pe))
        if q is None:
            print("densratio is not installed: peer skipped", flush=True)
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
