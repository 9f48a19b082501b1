#!/usr/bin/env python
"""Leaderboard benchmark: prefstat's whole Leaderboard against arena-rank (sandwich, bootstrap) and arenakit.

One process, every tool on the same seeded arena table (a pandas DataFrame ``model_a, model_b,
winner`` with "model_a"/"model_b"/"tie" labels; Zipf-popular models, 10% ties; abilities ~ N(0, 1)):

* full:    2,000,000 battles x 200 models
* --quick:    50,000 battles x  50 models (smoke test)

Timed from the DataFrame to the tool's output:

* prefstat ``Leaderboard(cov_type="robust")``: winner mapping, BT fit, sandwich SEs, Elo ratings,
  marginal and simultaneous (max-|t|) intervals, marginal and simultaneous rank confidence sets;
  also ``BradleyTerry(cov_type="robust")`` alone (ComparisonTable + fit);
* arena-rank ``PairDataset.from_pandas`` + ``BradleyTerry.compute_ratings_and_cis`` with
  ``ci_method="sandwich"`` and with ``"bootstrap"`` (``--n-bootstrap`` resamples, 100 by default);
* arenakit, when installed (skipped otherwise, said so in the output).

Agreement: max abs difference of the ratings (both centred at 1000, Elo scale 400/ln 10) and of their
standard errors against prefstat's robust leaderboard. arena-rank adds ``hessian_reg * n`` (1e-5 per
battle) to the Hessian's diagonal, a small ridge, so its sandwich SEs differ slightly.

Usage::

    python benchmarks/bench_leaderboard.py            # full run, writes benchmarks/RESULTS.md
    python benchmarks/bench_leaderboard.py --quick    # smoke test, prints only (add --write to write)
"""
from __future__ import annotations

import argparse
import datetime as _dt
import importlib.metadata
import importlib.util
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peer  # noqa: E402
from bench_bt import command_line, machine_info, timed, write_results  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "RESULTS.md"
START, END = "<!-- bench_leaderboard:start -->", "<!-- bench_leaderboard:end -->"
SIZES = {"full": (2_000_000, 200), "quick": (50_000, 50)}
SEED = 13


def simulate(n: int, k: int, seed: int = SEED):
    import pandas as pd

    rng = np.random.default_rng(seed)
    theta = rng.standard_normal(k)
    pop = np.arange(1, k + 1) ** -0.8
    pop = pop / pop.sum()
    a = rng.choice(k, size=n, p=pop)
    b = rng.choice(k - 1, size=n, p=np.ones(k - 1) / (k - 1))
    b = np.where(b >= a, b + 1, b)  # a uniformly random other model
    d = theta[a] - theta[b]
    nu = 2 * 0.1 / 0.9  # Davidson ties, 10% between equals
    denom = 2 * np.cosh(d / 2) + nu
    u = rng.random(n)
    pw, pt = np.exp(d / 2) / denom, nu / denom
    winner = np.where(u < pw, "model_a", np.where(u < pw + pt, "tie", "model_b"))
    names = np.array([f"model-{i:03d}" for i in range(k)])
    return pd.DataFrame({"model_a": names[a], "model_b": names[b], "winner": winner})


def run_prefstat(df, repeats, n_draws):
    import prefstat as ps

    rows = {}

    def board():
        return ps.Leaderboard(cov_type="robust", n_draws=n_draws, random_state=0).fit(df)

    out, first, warm, nw = timed(board, repeats, always_repeat=True)
    t = out.table_.sort_index()
    rows["prefstat Leaderboard (robust; sim. intervals, rank sets)"] = dict(first=first, warm=warm, n=nw,
                                                                            ratings=t["rating"].to_numpy(),
                                                                            se=t["stderr"].to_numpy())

    def fit():
        table = ps.ComparisonTable.from_pandas(df, left="model_a", right="model_b", winner="winner")
        return ps.BradleyTerry(cov_type="robust").fit(table)

    bt, first, warm, nw = timed(fit, repeats, always_repeat=True)
    c = 400 / np.log(10)
    rows["prefstat BradleyTerry fit only (robust)"] = dict(first=first, warm=warm, n=nw,
                                                           ratings=1000 + c * bt.coef_, se=c * bt.stderr_)
    return rows


def run_arena_from_seed(n, k, repeats, n_bootstrap):
    """run_arena on the seeded table (what a peer interpreter runs, see peer.py)."""
    import multiprocessing

    multiprocessing.set_start_method("spawn", force=True)
    return run_arena(simulate(n, k), repeats, n_bootstrap)


def run_arena(df, repeats, n_bootstrap):
    if importlib.util.find_spec("arena_rank") is None:
        return {"arena-rank": dict(status="not installed")}
    # NB: importing arena_rank sets jax_enable_x64 globally; it runs after prefstat.
    from arena_rank.models.bradley_terry import BradleyTerry as ArenaBT
    from arena_rank.utils.data_utils import PairDataset

    rows = {}
    for method, reps in (("sandwich", repeats), ("bootstrap", 1)):
        def fit():
            data = PairDataset.from_pandas(df)
            model = ArenaBT(n_competitors=len(data.competitors))
            kw = dict(num_bootstrap=n_bootstrap, n_jobs=os.cpu_count()) if method == "bootstrap" else {}
            out = model.compute_ratings_and_cis(data, ci_method=method, **kw)
            return data.competitors, np.asarray(out["ratings"]), np.sqrt(np.asarray(out["variances"]))

        (comps, ratings, se), first, warm, nw = timed(fit, reps, always_repeat=True)
        order = np.argsort(np.asarray(comps, dtype=str))
        name = f"arena-rank {method}" + (f" ({n_bootstrap} resamples)" if method == "bootstrap" else "")
        rows[name] = dict(first=first, warm=warm, n=nw, ratings=ratings[order] - ratings.mean() + 1000,
                          se=se[order])
    return rows


def run_arenakit(df, repeats, n_bootstrap):
    """arenakit from its documented input, a list of ``Battle`` records: ``Arena`` (indexing), ``fit_bt``
    (MM, half-credit ties, its default prior of 0.5 virtual battles), ``bootstrap`` (``n_bootstrap``
    battle resamples, refits) and ``separation`` (its simultaneous test of adjacent gaps). Building the
    Battle records (pydantic validation, one per battle) is timed separately as input preparation."""
    if importlib.util.find_spec("arenakit") is None:
        return {"arenakit": dict(status="not installed (skipped)")}
    import arenakit

    t0 = time.perf_counter()
    code = {"model_a": "a", "model_b": "b", "tie": "tie"}
    battles = [arenakit.Battle(model_a=a, model_b=b, winner=code[w])
               for a, b, w in zip(df["model_a"].tolist(), df["model_b"].tolist(), df["winner"].tolist())]
    prep = time.perf_counter() - t0

    def board():
        arena = arenakit.Arena(battles)
        fit = arenakit.fit_bt(arena.counts())
        boot = arenakit.bootstrap(arena, n_resamples=n_bootstrap, seed=0)
        sep = arenakit.separation(boot, arena.models)
        return arena.models, fit, boot, sep

    (models, fit, boot, sep), first, warm, nw = timed(board, repeats, always_repeat=True)
    c = 400 / np.log(10)
    order = np.argsort(np.asarray(models, dtype=str))
    return {f"arenakit fit + bootstrap ({n_bootstrap} resamples) + separation":
            dict(first=first, warm=warm, n=nw, ratings=arenakit.to_elo(fit.scores)[order],
                 se=c * boot.scores.std(axis=0, ddof=1)[order],
                 note=f"building {len(battles):,} Battle records (its input) took {prep:.1f} s, not included")}


def report(rows, n, k, args, elapsed, started) -> str:
    ref = rows["prefstat Leaderboard (robust; sim. intervals, rank sets)"]
    lines = ["| tool | first call (s) | warm (s) | warm calls | max abs Δ rating | max abs Δ SE (rating points) |",
             "|---|---|---|---|---|---|"]
    notes = []
    for name, r in rows.items():
        if "status" in r:
            lines.append(f"| {name} | {r['status']} | | | | |")
            continue
        d_r = np.max(np.abs(r["ratings"] - ref["ratings"]))
        d_s = np.max(np.abs(r["se"] - ref["se"]))
        lines.append(f"| {name} | {r['first']:.2f} | {r['warm']:.2f} | {r['n']} | {d_r:.2e} | {d_s:.2e} |")
        if "note" in r:
            notes.append(f"- {name}: {r['note']}.")
    info = machine_info()
    here = peer.versions(None, ("prefstat", "jax", "jaxlib", "arenakit"))
    vers = ", ".join(f"{d} {v}" for d, v in here.items())
    there = peer.versions(args.peer_python, ("arena-rank", "jax", "jaxlib"))
    vers += (f"; arena-rank run by `{args.peer_python}`: " if args.peer_python else "; arena-rank in the same process: ")
    vers += ", ".join(f"{d} {v}" for d, v in there.items())
    return "\n".join([
        START, "## Leaderboard (`benchmarks/bench_leaderboard.py`)", "",
        f"- **Command**: `{command_line()}`",
        f"- **Date**: {started.isoformat(timespec='seconds')} (wall time {elapsed / 60:.1f} min)",
        f"- **Machine**: {info['cores']} cores, {info['cpu']}, {info['mem']} RAM; load average at end "
        f"{os.getloadavg()[0]:.2f}",
        f"- **Versions**: {vers}",
        f"- **Data**: {n:,} battles x {k} models ({'quick' if args.quick else 'full'}), seed {SEED}; "
        f"{args.n_draws} max-|t| draws",
        "", *lines, "",
        "Ratings on the Elo scale (400, base 10), centred at 1000; Δ against prefstat's robust leaderboard. "
        "arena-rank's and arenakit's bootstrap SEs are the SD of their resampled ratings; arenakit adds a prior of "
        "0.5 virtual battles per model (its default), which shrinks its ratings slightly.", "", *notes, END])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="50k battles x 50 models (smoke test)")
    ap.add_argument("--repeats", type=int, default=3, help="warm calls (median; default 3)")
    ap.add_argument("--n-bootstrap", type=int, default=100, help="arena-rank bootstrap resamples (default 100)")
    ap.add_argument("--n-draws", type=int, default=100_000, help="prefstat max-|t| draws (default 100000)")
    ap.add_argument("--write", dest="write", action="store_true", default=None,
                    help="write the section of benchmarks/RESULTS.md (default: yes unless --quick)")
    ap.add_argument("--no-write", dest="write", action="store_false")
    ap.add_argument("--peer-python", help="interpreter that runs arena-rank (e.g. .venv-bench/bin/python, whose JAX "
                    "arena-rank pins); default: this one")
    args = ap.parse_args(argv)
    # arena-rank's bootstrap uses a multiprocessing Pool; forking a process whose JAX runtime has
    # started threads deadlocks, so the workers are spawned instead.
    import multiprocessing

    multiprocessing.set_start_method("spawn", force=True)
    if args.quick:
        args.n_bootstrap = min(args.n_bootstrap, 10)
    n, k = SIZES["quick" if args.quick else "full"]
    started, t0 = _dt.datetime.now(), time.perf_counter()
    df = simulate(n, k)
    rows = run_prefstat(df, args.repeats, args.n_draws)
    rows.update(run_arenakit(df, args.repeats, args.n_bootstrap))
    rows.update(peer.call(args.peer_python, "bench_leaderboard", "run_arena_from_seed", n=n, k=k,
                          repeats=args.repeats, n_bootstrap=args.n_bootstrap))
    text = report(rows, n, k, args, time.perf_counter() - t0, started)
    print(text)
    if args.write if args.write is not None else not args.quick:
        write_results(text, RESULTS, START, END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
