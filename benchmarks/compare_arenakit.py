#!/usr/bin/env python
"""prefstat's table diagnostics side by side with arenakit's probes: size and power on the same planted boards.

Boards come from ``prefstat.simulate.study_diagnostics.planted_table`` (6 models, ``--n`` comparisons,
default 1000), each defect at the strengths of the ``diagnostics`` study (``EFFECTS``; effect 0 is the
null board):

===============  ===========================================  ==========================================
defect           prefstat test (level 0.05)                   arenakit probe (``ProbeResult.triggered``)
===============  ===========================================  ==========================================
cycle            intransitivity (max triangle curl, bootstrap)  intransitivity (cyclic-triad excess)
                 and goodness of fit (deviance, bootstrap)
position         position_bias (Wald test of the order effect)  position_bias (bootstrap CI vs +-0.05 band)
annotators       annotators (permutation score test)            annotator_influence (leave-one-out shift)
                                                                and vote_clustering (when it runs)
disconnected     connectivity (components / MLE existence)      connectivity (components / thin models)
===============  ===========================================  ==========================================

Every board is generated once and given to both tools (the random state is replayed). prefstat's
tests run as in the study (``run_one``: 99 bootstrap draws / permutations); arenakit runs its whole
audit (``run_audit``, ``--resamples`` bootstrap resamples, default 200, seed 0) and the matching
probes are read off (disconnected boards: 10 resamples, see ``CONNECTIVITY_RESAMPLES``). arenakit's
probes flag by their own rules (intervals against "innocent bands", fixed thresholds), not all of
them tests at a stated level, so its "size" is the rate at which a
defect-free board is flagged. Rates come with Wilson 95% intervals; for prefstat's null rows the
verdict says whether the rate is inside the central 99.5% binomial band at 0.05.

arenakit is optional (the ``bench`` extra): without it its columns say "not installed".

Usage::

    python benchmarks/compare_arenakit.py            # full: 500 boards per null, 100 per effect, 10 per
                                                     # bridge count (~2400 boards, ~1.5 s each on 2 cores,
                                                     # bridged boards ~20 s); writes its RESULTS.md section
    python benchmarks/compare_arenakit.py --quick    # smoke test: 3 boards per cell, prints only
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

START, END = "<!-- compare-arenakit:start -->", "<!-- compare-arenakit:end -->"
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
LEVEL = 0.05
# defect -> (prefstat tests, arenakit probes)
PAIRS = {"cycle": (("intransitivity", "goodness_of_fit"), ("intransitivity",)),
         "position": (("position_bias",), ("position_bias",)),
         "annotators": (("annotators",), ("annotator_influence", "vote_clustering")),
         "disconnected": (("connectivity",), ("connectivity",))}
# arenakit's connectivity probe does not use its bootstrap, and on weakly bridged boards each of its MM fits
# runs up to 10,000 iterations (minutes per audit at 200 resamples): those boards get 10 resamples
CONNECTIVITY_RESAMPLES = 10
REPS = {"full": (500, 100), "quick": (3, 3)}  # (null boards, boards per effect)
# both tools' connectivity checks are deterministic functions of the comparison graph, and an arenakit
# audit of a bridged board takes ~20 s even so: a few boards per bridge count
DISCONNECTED_REPS = {"full": 10, "quick": 1}


def arenakit_audit(table, n_resamples: int):
    """{probe: triggered (None when skipped)} of arenakit's audit of the table's battles; None when arenakit
    is not installed; {"failed": reason} when its audit raised."""
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
        audit = run_audit(Arena(battles), n_resamples=n_resamples, seed=0)
    except Exception as err:  # arenakit's own failure (e.g. its fit not converging) is counted, not fatal
        return {"failed": type(err).__name__}
    return {p.name: (None if p.skipped else bool(p.triggered)) for p in audit.probes}


def null_label(defect, effect) -> bool:
    return (effect >= 2) if defect == "disconnected" else (effect == 0)


def board_label(defect, effect) -> str:
    if defect == "disconnected":
        return {0: "disconnected (no bridge)", 1: "one one-way bridge (no MLE)"}.get(
            int(effect), f"null: {int(effect)} bridges won both ways")
    return "null" if effect == 0 else f"effect {effect:g}"


def run_cell(defect, effect, n, reps, n_resamples, seed):
    """Counts of rejections per prefstat test and per arenakit probe over ``reps`` boards."""
    from prefstat.simulate.study_diagnostics import EFFECTS, planted_table, run_one

    rng = np.random.default_rng([seed, list(PAIRS).index(defect), list(EFFECTS[defect]).index(effect)])
    ours_tests, theirs_probes = PAIRS[defect]
    ours = dict.fromkeys(ours_tests, 0)
    theirs = {p: [0, 0] for p in theirs_probes}  # [triggered, ran]
    have, failed = True, 0
    for _ in range(reps):
        state = rng.bit_generator.state
        flags = run_one(defect, effect, n, rng)
        for t in ours_tests:
            ours[t] += bool(flags[t])
        replay = np.random.default_rng()
        replay.bit_generator.state = state  # the same board for both tools
        audit = arenakit_audit(planted_table(defect, replay, n, effect),
                               CONNECTIVITY_RESAMPLES if defect == "disconnected" else n_resamples)
        if audit is None:
            have = False
        elif "failed" in audit:
            failed += 1
        else:
            for p in theirs_probes:
                if audit.get(p) is not None:
                    theirs[p][0] += audit[p]
                    theirs[p][1] += 1
    return ours, (theirs if have else None), failed


def wilson(hits, total):
    from statsmodels.stats.proportion import proportion_confint

    if total == 0:
        return float("nan"), float("nan")
    return proportion_confint(hits, total, alpha=0.05, method="wilson")


def fmt_rate(hits, total) -> str:
    if total == 0:
        return "skipped"
    lo, hi = wilson(hits, total)
    return f"{hits / total:.3g} [{lo:.2f}, {hi:.2f}] ({total})"


def versions() -> str:
    out = []
    for dist in ("prefstat", "jax", "numpy", "arenakit"):
        try:
            out.append(f"{dist} {importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            try:
                mod = __import__(dist)
                out.append(f"{dist} {getattr(mod, '__version__', '?')} (not an installed distribution)")
            except ImportError:
                out.append(f"{dist} not installed")
    return ", ".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="3 boards per cell (prints only unless --write)")
    ap.add_argument("--n", type=int, default=1000, help="comparisons per board")
    ap.add_argument("--resamples", type=int, default=200, help="arenakit's bootstrap resamples per audit")
    ap.add_argument("--defects", nargs="+", default=list(PAIRS), choices=list(PAIRS), help="defects to run")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--null-boards", type=int, help="boards per null cell (default 500; quick 3)")
    ap.add_argument("--effect-boards", type=int, help="boards per effect size (default 100; quick 3)")
    ap.add_argument("--bridge-boards", type=int, help="boards per bridge count of 'disconnected' (default 10; quick 1)")
    ap.add_argument("--write", dest="write", action="store_true", default=None,
                    help="write the section of benchmarks/RESULTS.md (default: full runs only)")
    ap.add_argument("--no-write", dest="write", action="store_false")
    args = ap.parse_args(argv)
    if args.n < 50 or args.resamples < 10:
        ap.error("--n must be at least 50 and --resamples at least 10.")
    if any(v is not None and v < 1 for v in (args.null_boards, args.effect_boards, args.bridge_boards)):
        ap.error("--null-boards, --effect-boards and --bridge-boards must be at least 1.")
    mode = "quick" if args.quick else "full"
    write = (not args.quick) if args.write is None else args.write
    from scipy import stats

    from prefstat.simulate.study_diagnostics import EFFECTS

    started, t0, load0 = _dt.datetime.now().astimezone(), time.perf_counter(), os.getloadavg()
    null_reps, alt_reps = REPS[mode]
    null_reps = args.null_boards or null_reps
    alt_reps = args.effect_boards or alt_reps
    bridge_reps = args.bridge_boards or DISCONNECTED_REPS[mode]
    lines = ["| defect | board | prefstat test | prefstat rate [Wilson 95%] (boards) | arenakit probe | "
             "arenakit rate [Wilson 95%] (boards where the probe ran) | arenakit audit failed |",
             "|---|---|---|---|---|---|---|"]
    band_notes = []
    for defect in args.defects:
        for effect in EFFECTS[defect]:
            is_null = null_label(defect, effect)
            reps = bridge_reps if defect == "disconnected" else (null_reps if is_null else alt_reps)
            t = time.perf_counter()
            ours, theirs, failed = run_cell(defect, effect, args.n, reps, args.resamples, args.seed)
            ours_tests, theirs_probes = PAIRS[defect]
            for r in range(max(len(ours_tests), len(theirs_probes))):
                test = ours_tests[r] if r < len(ours_tests) else ""
                probe = theirs_probes[r] if r < len(theirs_probes) else ""
                ours_txt = fmt_rate(ours[test], reps) if test else ""
                if probe:
                    theirs_txt = "not installed" if theirs is None else fmt_rate(*theirs[probe])
                else:
                    theirs_txt = ""
                lines.append(f"| {defect} | {board_label(defect, effect)} | {test} | {ours_txt} | {probe} | "
                             f"{theirs_txt} | {failed if r == 0 else ''} |")
                if is_null and test and defect != "disconnected":
                    lo, hi = stats.binom.interval(0.995, reps, LEVEL)
                    inside = lo <= ours[test] <= hi
                    band_notes.append(f"{test}: {ours[test]}/{reps} rejections on null boards "
                                      f"({'inside' if inside else 'OUTSIDE'} the 99.5% band {lo:.0f}-{hi:.0f})")
            print(f"{defect} {board_label(defect, effect)}: {time.perf_counter() - t:.1f} s", flush=True)
    load1 = os.getloadavg()
    loaded = load0[0] > 0.5 or load1[0] > (os.cpu_count() or 1)
    text = "\n".join([
        START, "## Diagnostics side by side with arenakit (`benchmarks/compare_arenakit.py`)", "",
        f"- **Command**: `{command_line()}`",
        f"- **Date**: {started.isoformat(timespec='seconds')} (whole run {(time.perf_counter() - t0) / 60:.1f} min)",
        f"- **Machine**: {os.cpu_count()} cores, {platform.platform()}, Python {platform.python_version()}",
        f"- **Load average** at start {load0[0]:.2f}, at end {load1[0]:.2f}"
        + (" (other processes were running)" if loaded else ""),
        f"- **Versions**: {versions()}", "",
        f"Rejection (flag) rates on planted 6-model boards of {args.n} comparisons, {null_reps} null boards and "
        f"{alt_reps} per effect (disconnected boards: {bridge_reps} per bridge count); the same boards "
        f"for both tools. prefstat: tests at level {LEVEL:g} (99 bootstrap draws / permutations). arenakit: "
        "`run_audit` with "
        f"{args.resamples} resamples; its probes flag by their own rules, not tests at a stated level.", "", *lines, "",
        "prefstat size: " + ("; ".join(band_notes) if band_notes else "no null rows run") + ".", "", END])
    print(text)
    if write:
        write_results(text, RESULTS, START, END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
