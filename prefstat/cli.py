"""The ``prefstat`` command: ``fit`` a comparison table, ``simulate`` a built-in study, run the ``demo`` report.

Errors are one line on stderr (``prefstat: error: ...``) with exit code 2;
no traceback. When the reader of the output goes away (``prefstat fit t.csv | head``)
the command stops quietly with exit code 1. Nothing is silently ignored: an option that cannot apply to the
others given is an error, and a combination the Python API rejects is rejected
with the API's message. Library warnings are one ``prefstat: warning: ...``
line; printed numbers have 6 significant digits (``--json`` keeps full
precision). ``simulate`` checks its output directory before the study runs.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import warnings

from .cli_distributed import add_distributed_args, is_distributed_fit, run_distributed_fit
from .exceptions import StudyError

# Start-up: numpy, pandas, JAX and the models are imported inside the commands that use them, so
# `prefstat --help` (and argument errors) answer without loading them.

__all__ = ["main", "run"]

_NUMBER = "{:.6g}"  # every number the command prints: 6 significant digits


class _Parser(argparse.ArgumentParser):
    """One-line errors; ``epilog_factory`` builds the epilog only when the help is shown (the simulate
    epilog lists the registered studies, which imports the simulation engine and JAX)."""

    def __init__(self, *args, epilog_factory=None, **kwargs):
        super().__init__(*args, **kwargs)
        self._epilog_factory = epilog_factory

    def format_help(self):
        if self._epilog_factory is not None:
            self.epilog, self._epilog_factory = self._epilog_factory(), None
        return super().format_help()

    def error(self, message):  # one clear line, no usage dump
        raise _CLIError(f"{message} (see `{self.prog} --help`)")


class _CLIError(Exception):
    pass


_FIT_EPILOG = """\
Every option given is used, or the command stops with an error: --group needs --cov cluster (it only
defines the clusters of the cluster-robust covariance), --order needs --order-effect, --n-bootstrap and
--seed need --cov bootstrap. One comparison per row: --outcome (and optionally --weight). Count table:
--left-wins plus --right-wins and/or --ties; the counts are the frequency weights, so --outcome and
--weight cannot be combined with them. Weights are frequency weights: their total must stay <= 2**53
and the largest positive weight <= 1e9 times the smallest (float64 precision; prefstat does not rescale
them). Numbers are printed with 6 significant digits; --json keeps full precision.
"""


def add_outcome_args(p) -> None:
    """The outcome columns every table command reads: one comparison per row or aggregated counts."""
    p.add_argument("--outcome", help="column: 1 left preferred, 0 right, 0.5 tie")
    p.add_argument("--left-wins", help="count table: column of left wins (instead of --outcome)")
    p.add_argument("--right-wins", help="count table: column of right wins (needs --left-wins)")
    p.add_argument("--ties", help="count table: column of ties (needs --left-wins)")
    p.add_argument("--weight", help="column of frequency weights (one comparison per row only)")


def _fit_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("table", help="CSV or Parquet file, one comparison per row or aggregated counts; or a directory "
                                 "or glob of Parquet files (fitted with Dask, see --workers/--scheduler)")
    p.add_argument("--left", required=True, help="column of the left option")
    p.add_argument("--right", required=True, help="column of the right option")
    add_outcome_args(p)
    p.add_argument("--group", help="column of cluster ids (annotator, prompt); only with --cov cluster")
    p.add_argument("--order", help="column of the order indicator (+1 left holds the advantage, -1 right, 0 none); "
                                   "only with --order-effect, which without it takes the left option as advantaged")
    p.add_argument("--order-effect", action="store_true", help="estimate a home / first-position effect")
    p.add_argument("--reference", help="item fixed at 0 (default: sum-to-zero abilities)")
    p.add_argument("--alpha", type=float, default=0.0, help="L2 penalty (default: 0, the plain MLE)")
    p.add_argument("--cov", default="model", choices=["model", "robust", "cluster", "bootstrap"],
                   help="covariance of the estimates (default: model)")
    p.add_argument("--n-bootstrap", type=int, help="bootstrap replicates; only with --cov bootstrap (default: 200)")
    p.add_argument("--seed", type=int, help="bootstrap seed; only with --cov bootstrap (default: 0)")
    p.add_argument("--level", type=float, default=0.95, help="confidence level of the intervals (default: 0.95)")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON (full precision)")
    add_distributed_args(p)


def _unused_options(args) -> None:
    """Options that would be silently ignored with the others given are errors (nothing is ignored)."""
    if args.group is not None and args.cov != "cluster":
        raise ValueError(f"--group only defines the clusters of --cov cluster; with --cov {args.cov} it would be "
                         "ignored. Add --cov cluster or drop --group.")
    if args.order is not None and not args.order_effect:
        raise ValueError("--order is only used with --order-effect; add --order-effect or drop --order.")
    for option, value in (("--n-bootstrap", args.n_bootstrap), ("--seed", args.seed)):
        if value is not None and args.cov != "bootstrap":
            raise ValueError(f"{option} is only used with --cov bootstrap; with --cov {args.cov} it would be "
                             f"ignored. Add --cov bootstrap or drop {option}.")


def check_output_file(path: str, option: str) -> None:
    """Fail before any work if ``path`` cannot be written as a file."""
    if os.path.isdir(path):
        raise ValueError(f"{option} {path!r} is a directory; give a file name.")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise ValueError(f"{option} {path!r}: the directory {parent!r} does not exist.")
    if not os.access(parent, os.W_OK | os.X_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise ValueError(f"{option} {path!r} is not writable.")


def _cmd_fit(args) -> int:
    from .data import ComparisonTable
    from .models import BradleyTerry

    _unused_options(args)
    if not 0.0 < args.level < 1.0:
        raise ValueError(f"--level must be strictly between 0 and 1; got {args.level}.")
    if all(v is None for v in (args.outcome, args.left_wins, args.right_wins, args.ties)):
        raise ValueError("give --outcome (one comparison per row) or --left-wins (a count table).")
    if args.json:
        check_output_file(args.json, "--json")
    if is_distributed_fit(args):
        return run_distributed_fit(args, _print_fit, _fit_json)
    # Every column option goes to the table reader, which rejects the combinations the Python API rejects
    # (with the same message): e.g. --outcome or --weight together with count columns.
    table = ComparisonTable.from_file(args.table, left=args.left, right=args.right, outcome=args.outcome,
                                      weight=args.weight, group=args.group, order=args.order,
                                      left_wins=args.left_wins, right_wins=args.right_wins, ties=args.ties)
    reference = args.reference
    if reference is not None and reference not in set(map(str, table.items)):
        raise ValueError(f"--reference {reference!r} is not an item of the table.")
    if reference is not None:
        reference = next(item for item in table.items if str(item) == reference)
    bootstrap = {} if args.cov != "bootstrap" else dict(
        n_bootstrap=200 if args.n_bootstrap is None else args.n_bootstrap,
        random_state=0 if args.seed is None else args.seed)
    model = BradleyTerry(reference=reference, order_effect=args.order_effect, cov_type=args.cov, alpha=args.alpha,
                         **bootstrap).fit(table)
    summary = model.summary(level=args.level)
    _print_fit(model, summary, f"{args.table} ({table.n_rows} rows, total weight {table.weight.sum():.6g})")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(_fit_json(model, summary, args.level), fh, indent=2)
    return 0


def print_frame(frame) -> None:
    """A DataFrame with the command's number format (6 significant digits)."""
    import pandas as pd

    with pd.option_context("display.width", 120, "display.max_rows", 200, "display.max_colwidth", 200, "display.max_columns", 50,
                           "display.float_format", _NUMBER.format):
        print(frame.to_string())


def _print_fit(model, summary, source: str) -> None:
    print(f"Bradley-Terry MLE on {source}")
    print(f"  cov_type={model.cov_type}  nobs={model.nobs_:.6g}  loglik={model.loglik_:.6g}  "
          f"deviance={model.deviance_:.6g}  iterations={model.n_iter_}  converged={model.converged_}")
    print_frame(summary)


def _fit_json(model, summary, level: float) -> dict:
    rows = summary.reset_index()
    rows["parameter"] = rows["parameter"].astype(str)
    return {
        "model": "BradleyTerry", "cov_type": model.cov_type, "level": level, "nobs": model.nobs_,
        "loglik": model.loglik_, "deviance": model.deviance_, "n_iter": model.n_iter_,
        "converged": model.converged_, "order_effect": model.order_effect_,
        "parameters": json.loads(rows.to_json(orient="records", double_precision=15)),
    }


def _cmd_demo(args) -> int:
    import numpy as np

    from . import datasets
    from .models import BradleyTerry

    _check_output_dir(args.out or "prefstat-report", files=("index.html",))  # before any work
    print("prefstat demo: Bradley-Terry on the bundled classic tables\n")
    baseball = datasets.load_baseball()
    for cov in ("model", "robust", "bootstrap"):
        bt = BradleyTerry(order_effect=True, cov_type=cov, random_state=0).fit(baseball)
        _print_fit(bt, bt.summary(), f"baseball, 1987 AL East, home advantage ({baseball.n_rows} rows)")
        lo, hi = bt.summary().loc["order_effect"].iloc[-2:]
        print(f"  home advantage: odds x{np.exp(bt.order_effect_):.4g} (95% CI x{np.exp(lo):.4g} to x{np.exp(hi):.4g})\n")
    citations = datasets.load_citations()
    bt = BradleyTerry(reference="Biometrika").fit(citations)
    _print_fit(bt, bt.summary(), "journal citations (Stigler 1994), reference Biometrika")
    return _demo_report(args)


def _demo_report(args) -> int:
    from .report import build_demo

    out = args.out or "prefstat-report"
    kind = "quick (under a minute or two)" if args.quick else "standard (a few minutes on 2 cores)"
    print(f"prefstat demo: {kind} report with small simulation studies; progress below", flush=True)
    path = build_demo(out, quick=args.quick, seed=args.seed)
    print(f"report written to {os.path.abspath(path)} (raw results in {os.path.join(out, 'results')}/ and "
          f"{os.path.join(out, 'tables')}/); open it in a browser")
    return 0


QUICK_REPS = 10  # default replications per cell: a quick look; --full runs each study's documented count

# Rough wall time of each built-in study at its default sizes, in-process, on 2 cores: (quick, --full) in
# seconds. Measured 2026-11-30 with --reps 20 on a 2-core machine shared with other jobs (load average
# about 7, so an idle machine is faster), split into a fixed part (JIT compilation) and a per-replication
# part (the results' runtime_s) and extrapolated linearly in the replications; the full ai-judge figure is
# the one measured for issue 10; dipo was measured with --reps 10 on an idle machine. Only a guide for
# choosing between the quick look and --full. diagnostics: + ~20 s / ~700 s estimated for its mixed_logit
# defect (2000 tables of 1000 rows, ~0.3 s each), not yet measured.
RUN_TIME_2_CORES = {"bt-coverage": (30, 60), "heterogeneity": (780, 2520), "ai-judge": (590, 1800),
                    "diagnostics": (170, 6700), "dipo": (45, 1000),
                    "density-ratio": (120, 400)}


def _duration(seconds) -> str:
    if seconds is None:
        return "unknown"
    if seconds < 90:
        return f"~{seconds:.0f} s"
    if seconds < 5400:
        return f"~{seconds / 60:.0f} min"
    return f"~{seconds / 3600:.1f} h"


def _simulate_epilog() -> str:
    from .simulate.studies import STUDIES

    lines = ["built-in studies (default --sizes; replications per cell; rough run time on 2 cores):"]
    for name, spec in STUDIES.items():
        quick, full = RUN_TIME_2_CORES.get(name, (None, None))
        lines.append(f"  {name:<14} sizes {' '.join(map(str, spec.sizes))}; --reps {QUICK_REPS} (default) "
                     f"{_duration(quick)}, --full = --reps {spec.reps} {_duration(full)}")
    lines.append("The output directory is checked before the study runs; existing results in it are overwritten.")
    return "\n".join(lines)


def _check_output_dir(path: str, files=("results.parquet", "report.md")) -> None:
    """Fail before the study runs if ``path`` cannot become (or is not) a writable directory."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"--out {path!r} is an existing file; give a directory (it receives "
                         f"{', '.join(files)} and the figures).")
    existing = os.path.abspath(path)
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise ValueError(f"--out {path!r}: {existing!r} is a file, so the directory cannot be created.")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"--out {path!r}: the directory {existing!r} is not writable.")
    for name in files:
        target = os.path.join(path, name)
        if os.path.isdir(target) or (os.path.exists(target) and not os.access(target, os.W_OK)):
            raise ValueError(f"--out {path!r}: {target!r} exists and cannot be overwritten.")


def _cmd_simulate(args) -> int:
    from .simulate.studies import get_study, write_report

    spec = get_study(args.study)
    if args.reps is not None and args.reps < 2:
        raise ValueError("--reps must be at least 2.")
    reps = spec.reps if args.full else (QUICK_REPS if args.reps is None else args.reps)
    out = args.out or f"prefstat-{spec.name}"
    _check_output_dir(out)
    study = spec.build(sizes=args.sizes, reps=reps, seed=args.seed)
    quick, full = RUN_TIME_2_CORES.get(spec.name, (None, None))
    if args.sizes is None and reps in (QUICK_REPS, spec.reps):
        estimate = f"; rough run time on 2 cores {_duration(quick if reps == QUICK_REPS else full)}"
    else:
        estimate = ""
    print(f"prefstat simulate {spec.name}: {reps} replications per cell{estimate}", flush=True)
    if args.scheduler:
        df = study.run(backend="dask", client=args.scheduler)
    else:
        df = study.run()
    print(write_report(spec, df, out))
    print(f"results, report.md and plots written to {out}/")
    return 0


def main(argv=None) -> int:
    parser = _Parser(prog="prefstat", description="Statistical estimation on pairwise preference data.")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    fit = sub.add_parser("fit", help="fit a Bradley-Terry model to a CSV/Parquet comparison table",
                         description="Fit a Bradley-Terry model to a CSV/Parquet comparison table.",
                         epilog=_FIT_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    _fit_args(fit)
    demo = sub.add_parser("demo", help="fit the bundled tables, run small studies, write an HTML report",
                          description="Fit the bundled tables, build and diagnose a leaderboard of the bundled "
                                      "arena, run small versions of the built-in studies and write a "
                                      "self-contained HTML report (index.html) with the raw results.")
    demo.add_argument("--out", help="output directory (default: prefstat-report)")
    demo.add_argument("--quick", action="store_true", help="a smaller, faster report (default: off)")
    demo.add_argument("--seed", type=int, default=0, help="random seed of the studies (default: 0)")
    sim = sub.add_parser("simulate", help="run a built-in simulation study (bt-coverage, heterogeneity, ai-judge, dipo, diagnostics)",
                         description="Run a built-in simulation study; writes results.parquet, report.md and plots.",
                         epilog_factory=_simulate_epilog,
                         formatter_class=argparse.RawDescriptionHelpFormatter)
    sim.add_argument("study", help="study name: bt-coverage, heterogeneity, ai-judge, dipo or diagnostics")
    reps = sim.add_mutually_exclusive_group()
    reps.add_argument("--reps", type=int, help=f"replications per cell (default: {QUICK_REPS}, a quick look)")
    reps.add_argument("--full", action="store_true",
                      help="run the study's documented number of replications (see below; default: off)")
    sim.add_argument("--sizes", type=int, nargs="+", help="sample sizes (default: the study's, see below)")
    sim.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    sim.add_argument("--out", help="output directory (default: prefstat-STUDY)")
    sim.add_argument("--scheduler", help="dask scheduler address (default: none, run in-process)")
    from . import cli_diagnose, cli_leaderboard
    cli_diagnose.add_parser(sub)
    cli_leaderboard.add_parser(sub)
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            raise _CLIError("choose a command: fit, leaderboard, diagnose, demo or simulate (see `prefstat --help`)")
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning  # restored on exit
            return {"fit": _cmd_fit, "demo": _cmd_demo, "simulate": _cmd_simulate,
                    "diagnose": cli_diagnose.run, "leaderboard": cli_leaderboard.run}[args.command](args)
    except BrokenPipeError:
        # The reader of the output has gone (`prefstat fit t.csv | head`): not an error of the command.
        # Stop quietly with status 1, as Python's documentation recommends, with stdout pointed at
        # /dev/null so that no later flush fails again.
        _silence_stdout()
        return 1
    except (_CLIError, ValueError, OSError, StudyError) as err:
        print(f"prefstat: error: {_one_line(err)}", file=sys.stderr)
        return 2


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no file descriptor (e.g. a captured stream)
        pass


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A library warning as one line on stderr (no source location or code line)."""
    print(f"prefstat: warning: {category.__name__}: {_one_line(message)}", file=sys.stderr)


def _one_line(err: Exception) -> str:
    """The message on one line (a library message may span several)."""
    return " ".join(str(err).split())


def run() -> None:
    """The ``prefstat`` console command: :func:`main`, then exit without Python's interpreter teardown.

    The teardown (destroying JAX's CPU client and MLIR context, clearing a few thousand modules)
    took 0.25-0.45 s of a 1.4-1.9 s ``prefstat fit`` (measured, 2 cores). Once a command has returned,
    its output is flushed and the process ends with ``os._exit`` and the command's exit code. Files
    the commands write are closed before they return, and JAX writes its compilation cache when it
    compiles, so nothing is lost. The normal exit is kept when a Dask client was started or other
    threads still run (their shutdown needs it), and for errors that escape ``main`` (tracebacks).
    """
    code = main()
    if "distributed" in sys.modules or threading.active_count() > 1:
        sys.exit(code)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: what Python's own exit would also lose
            pass
    os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    run()
