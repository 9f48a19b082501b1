#!/usr/bin/env python
"""Table diagnostics benchmark: `prefstat.diagnose` run time on a large board, and size / power side by
side with arenakit's probes on the same planted boards.

* Timing: one item-level table of 1M comparisons x 200 models x 500 annotators (``--quick``: 50k x 30
  x 50), every check with its calibration (200 parametric-bootstrap tables for goodness of fit and
  intransitivity, 200 permutations for the annotator test, 50 leave-one-annotator-out refits). The
  first call includes JIT compilation; the second is warm.
* Side by side: boards from ``prefstat.simulate.study_diagnostics.planted_table`` (6 models, 1000
  comparisons) with no defect and with a strong one; the rejection rate of prefstat's test and of
  arenakit's matching probe (``ProbeResult.triggered``): cycles -> intransitivity, first-position
  advantage -> position_bias, loud annotators -> annotator heterogeneity / arenakit's
  annotator_influence, a disconnected board -> connectivity. arenakit is optional (the ``bench``
  extra); when it is not installed its column says so.

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
REPS = {"full": 100, "quick": 3}
# (prefstat test, arenakit probe, defect, strong effect)
PAIRS = [("intransitivity", "intransitivity", "cycle", 1.0),
         ("position_bias", "position_bias", "position", 0.2),
         ("annotators", "annotator_influence", "annotators", 0.5),
         ("connectivity", "connectivity", "disconnected", 0)]


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


def arenakit_flags(table):
    """{probe name: triggered} of arenakit's audit on the table's battles (None when not installed)."""
    try:
        from arenakit.probes import run_audit
        from arenakit.schema import Arena, Battle
    except ImportError:
        return None
    winner = {1.0: "a", 0.0: "b", 0.5: "tie"}
    voters = table.group if table.group is not None else [None] * table.n_rows
    battles = [Battle(model_a=str(a), model_b=str(b), winner=winner[float(y)],
                      voter_id=None if v is None else str(v))
               for a, b, y, v in zip(table.left, table.right, table.outcome, voters)]
    try:
        audit = run_audit(Arena(battles), n_resamples=200, seed=0)
    except Exception as err:  # arenakit's own failure (e.g. its MM fit not converging) is counted, not fatal
        return {"failed": f"{type(err).__name__}"}
    return {p.name: bool(p.triggered) for p in audit.probes}


def side_by_side(reps, seed):
    from prefstat.simulate.study_diagnostics import planted_table, run_one

    rows = []
    for ours, theirs, defect, strong in PAIRS:
        for effect in ((2, strong) if defect == "disconnected" else (0.0, strong)):
            rng = np.random.default_rng([seed, len(rows)])
            hits_ours, hits_theirs, have, failed = 0, 0, True, 0
            for _ in range(reps):
                state = rng.bit_generator.state
                hits_ours += bool(run_one(defect, effect, 1000, rng)[ours])
                rng2 = np.random.default_rng()
                rng2.bit_generator.state = state  # the same board for both tools
                flags = arenakit_flags(planted_table(defect, rng2, 1000, effect))
                if flags is None:
                    have = False
                elif "failed" in flags:
                    failed += 1
                else:
                    hits_theirs += flags.get(theirs, False)
            if defect == "disconnected":
                label = "null: halves linked by 2 bridges, one won each way" if effect else "disconnected"
            else:
                label = "null" if not effect else f"effect {effect:g}"
            rows.append((defect, label, ours, hits_ours / reps, theirs,
                         hits_theirs / max(reps - failed, 1) if have else None, reps, failed))
    return rows


def versions() -> str:
    out = []
    for dist in ("prefstat", "jax", "numpy", "arenakit"):
        try:
            out.append(f"{dist} {importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            out.append(f"{dist} not installed")
    return ", ".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="50k x 30 models, 3 boards per cell (prints only unless --write)")
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
    sbs = side_by_side(REPS[mode], args.seed)
    load1 = os.getloadavg()
    lines = ["| defect | board | prefstat test | prefstat rejection rate | arenakit probe | arenakit rate "
             "(boards where its audit ran) | boards | arenakit audit failed |", "|---|---|---|---|---|---|---|---|"]
    for defect, label, ours, r_ours, theirs, r_theirs, reps, failed in sbs:
        theirs_txt = "not installed" if r_theirs is None else f"{r_theirs:.3g}"
        lines.append(f"| {defect} | {label} | {ours} | {r_ours:.3g} | {theirs} | {theirs_txt} | {reps} | {failed} |")
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
        "Size and power at level 0.05 on planted 6-model boards of 1000 comparisons (the same boards for both "
        "tools; arenakit's probes flag by their own rules, not all of them tests at a stated level):", "",
        *lines, "", END])
    print(text)
    if write:
        write_results(text, RESULTS, START, END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
