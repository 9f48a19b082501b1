#!/usr/bin/env python
"""Table diagnostics benchmark: `prefstat.diagnose` run time on a large board (acceptance: 1M rows x 200 models
in under a minute on 2 cores, calibrations included).

One item-level table of 1M comparisons x 200 models x 500 annotators with 5% ties (``--quick``: 50k x 30 x
50), every check with its calibration (200 parametric-bootstrap tables for goodness of fit and
intransitivity, 200 permutations for the annotator test, 50 leave-one-annotator-out refits). The first
call includes JIT compilation; the second is warm. Size and power side by side with arenakit's probes
are in ``benchmarks/compare_arenakit.py``.

Usage::

    python benchmarks/bench_diagnose.py            # full run, writes its section of benchmarks/RESULTS.md
    python benchmarks/bench_diagnose.py --quick    # smoke test, prints only (add --write to write)
"""
from __future__ import annotations

import argparse
import datetime as _dt
import importlib.metadata
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_bt import command_line, write_results  # noqa: E402

START, END = "<!-- diagnose:start -->", "<!-- diagnose:end -->"
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
SIZES = {"full": (1_000_000, 200, 500), "quick": (50_000, 30, 50)}


def big_table(n, k, n_annotators, seed):
    import prefstat as ps

    rng = np.random.default_rng(seed)
    theta = rng.normal(size=k)
    a = rng.integers(0, k, n)
    b = (a + rng.integers(1, k, n)) % k
    y = (rng.random(n) < 1 / (1 + np.exp(-(theta[a] - theta[b])))).astype(float)
    y[rng.random(n) < 0.05] = 0.5
    names = np.array([f"model-{i:03d}" for i in range(k)], dtype=object)
    return ps.ComparisonTable.from_items(names[a], names[b], y, group=rng.integers(0, n_annotators, n))


def versions() -> str:
    out = []
    for dist in ("prefstat", "jax", "numpy"):
        try:
            out.append(f"{dist} {importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            out.append(f"{dist} not installed")
    return ", ".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="50k x 30 models x 50 annotators (prints only unless --write)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--write", dest="write", action="store_true", default=None)
    ap.add_argument("--no-write", dest="write", action="store_false")
    args = ap.parse_args(argv)
    mode = "quick" if args.quick else "full"
    write = (not args.quick) if args.write is None else args.write

    import prefstat as ps

    started, t0, load0 = _dt.datetime.now().astimezone(), time.perf_counter(), os.getloadavg()
    n, k, g = SIZES[mode]
    table = big_table(n, k, g, args.seed)
    times = []
    for _ in range(2):
        t = time.perf_counter()
        report = ps.diagnose(table, n_bootstrap=200, n_permutations=200, max_annotators=50, figures=False)
        times.append(time.perf_counter() - t)
    verdicts = "\n".join(f"  - {d.line()}" for d in report)
    print(f"diagnose on {n:,} x {k} x {g}: first call {times[0]:.1f} s, warm {times[1]:.1f} s", flush=True)
    load1 = os.getloadavg()
    loaded = load0[0] > 0.5 or load1[0] > (os.cpu_count() or 1)
    text = "\n".join([
        START, "## Table diagnostics (`benchmarks/bench_diagnose.py`)", "",
        f"- **Command**: `{command_line()}`",
        f"- **Date**: {started.isoformat(timespec='seconds')} (whole run {(time.perf_counter() - t0) / 60:.1f} min)",
        f"- **Machine**: {os.cpu_count()} cores, {platform.platform()}, Python {platform.python_version()}",
        f"- **Load average** at start {load0[0]:.2f}, at end {load1[0]:.2f}"
        + (" — **the machine was loaded by other processes: timings are noisy**" if loaded else ""),
        f"- **Versions**: {versions()}", "",
        f"`prefstat.diagnose` on {n:,} comparisons x {k} models x {g} annotators (5% ties), every check, 200 "
        f"bootstrap tables, 200 permutations, 50 leave-one-out refits: first call {times[0]:.1f} s (with JIT "
        f"compilation), warm {times[1]:.1f} s.", "", "Verdicts:", verdicts, "",
        "Size and power side by side with arenakit: `benchmarks/compare_arenakit.py`.", "", END])
    print(text)
    if write:
        write_results(text, RESULTS, START, END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
