"""The ``prefstat`` command: ``fit`` a comparison table, ``simulate`` a built-in study, run the ``demo`` report.

Errors are one line on stderr (``prefstat: error: ...``) with exit code 2;
no traceback.
"""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import pandas as pd

from .exceptions import StudyError

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one clear line, no usage dump
        raise _CLIError(f"{message} (see `{self.prog} --help`)")


class _CLIError(Exception):
    pass


def _fit_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("table", help="CSV or Parquet file, one comparison per row or aggregated counts")
    p.add_argument("--left", required=True, help="column of the left option")
    p.add_argument("--right", required=True, help="column of the right option")
    p.add_argument("--outcome", help="column: 1 left preferred, 0 right, 0.5 tie")
    p.add_argument("--left-wins", help="count table: column of left wins (instead of --outcome)")
    p.add_argument("--right-wins", help="count table: column of right wins")
    p.add_argument("--ties", help="count table: column of ties")
    p.add_argument("--weight", help="column of frequency weights")
    p.add_argument("--group", help="column of cluster ids (annotator, prompt) for --cov cluster")
    p.add_argument("--order", help="column of the order indicator (+1 left holds the advantage, -1 right, 0 none); "
                                   "without it --order-effect takes the left option as advantaged")
    p.add_argument("--order-effect", action="store_true", help="estimate a home / first-position effect")
    p.add_argument("--reference", help="item fixed at 0 (default: sum-to-zero abilities)")
    p.add_argument("--alpha", type=float, default=0.0, help="L2 penalty (default 0: plain MLE)")
    p.add_argument("--cov", default="model", choices=["model", "robust", "cluster", "bootstrap"])
    p.add_argument("--n-bootstrap", type=int, default=200)
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    p.add_argument("--level", type=float, default=0.95)
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON")


def _cmd_fit(args) -> int:
    from .data import ComparisonTable
    from .models import BradleyTerry

    if not 0.0 < args.level < 1.0:
        raise ValueError(f"--level must be strictly between 0 and 1; got {args.level}.")
    if args.outcome is None and args.left_wins is None:
        raise ValueError("give --outcome (one comparison per row) or --left-wins (a count table).")
    columns = dict(left=args.left, right=args.right, group=args.group, order=args.order)
    if args.left_wins is not None:
        columns.update(left_wins=args.left_wins, right_wins=args.right_wins, ties=args.ties)
    else:
        columns.update(outcome=args.outcome, weight=args.weight)
    table = ComparisonTable.from_file(args.table, **columns)
    reference = args.reference
    if reference is not None and reference not in set(map(str, table.items)):
        raise ValueError(f"--reference {reference!r} is not an item of the table.")
    if reference is not None:
        reference = next(item for item in table.items if str(item) == reference)
    model = BradleyTerry(reference=reference, order_effect=args.order_effect, cov_type=args.cov, alpha=args.alpha,
                         n_bootstrap=args.n_bootstrap, random_state=args.seed).fit(table)
    summary = model.summary(level=args.level)
    _print_fit(model, summary, f"{args.table} ({table.n_rows} rows, total weight {table.weight.sum():g})")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(_fit_json(model, summary, args.level), fh, indent=2)
    return 0


def _print_fit(model, summary: pd.DataFrame, source: str) -> None:
    print(f"Bradley-Terry MLE on {source}")
    print(f"  cov_type={model.cov_type}  nobs={model.nobs_:g}  loglik={model.loglik_:.4f}  "
          f"deviance={model.deviance_:.4f}  iterations={model.n_iter_}  converged={model.converged_}")
    with pd.option_context("display.width", 120, "display.max_rows", 200, "display.float_format", "{:.4f}".format):
        print(summary.to_string())


def _fit_json(model, summary: pd.DataFrame, level: float) -> dict:
    rows = summary.reset_index()
    rows["parameter"] = rows["parameter"].astype(str)
    return {
        "model": "BradleyTerry", "cov_type": model.cov_type, "level": level, "nobs": model.nobs_,
        "loglik": model.loglik_, "deviance": model.deviance_, "n_iter": model.n_iter_,
        "converged": model.converged_, "order_effect": model.order_effect_,
        "parameters": json.loads(rows.to_json(orient="records", double_precision=15)),
    }


def _cmd_demo(args) -> int:
    from . import datasets
    from .models import BradleyTerry

    print("prefstat demo: Bradley-Terry on the bundled classic tables\n")
    baseball = datasets.load_baseball()
    for cov in ("model", "robust", "bootstrap"):
        bt = BradleyTerry(order_effect=True, cov_type=cov, random_state=0).fit(baseball)
        _print_fit(bt, bt.summary(), f"baseball, 1987 AL East, home advantage ({baseball.n_rows} rows)")
        lo, hi = bt.summary().loc["order_effect"].iloc[-2:]
        print(f"  home advantage: odds x{np.exp(bt.order_effect_):.3f} (95% CI x{np.exp(lo):.3f} to x{np.exp(hi):.3f})\n")
    citations = datasets.load_citations()
    bt = BradleyTerry(reference="Biometrika").fit(citations)
    _print_fit(bt, bt.summary(), "journal citations (Stigler 1994), reference Biometrika")
    return 0


def _cmd_simulate(args) -> int:
    from .simulate.studies import get_study, write_report

    spec = get_study(args.study)
    if args.reps is not None and args.reps < 2:
        raise ValueError("--reps must be at least 2.")
    study = spec.build(sizes=args.sizes, reps=args.reps, seed=args.seed)
    if args.scheduler:
        df = study.run(backend="dask", client=args.scheduler)
    else:
        df = study.run()
    out = args.out or f"prefstat-{spec.name}"
    print(write_report(spec, df, out))
    print(f"results, report.md and plots written to {out}/")
    return 0


def main(argv=None) -> int:
    parser = _Parser(prog="prefstat", description="Statistical estimation on pairwise preference data.")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    fit = sub.add_parser("fit", help="fit a Bradley-Terry model to a CSV/Parquet comparison table")
    _fit_args(fit)
    sub.add_parser("demo", help="fit the bundled tables and print the report")
    sim = sub.add_parser("simulate", help="run a built-in simulation study (bt-coverage, heterogeneity, ai-judge)")
    sim.add_argument("study", help="study name: bt-coverage, heterogeneity or ai-judge")
    sim.add_argument("--reps", type=int, help="replications per cell")
    sim.add_argument("--sizes", type=int, nargs="+", help="sample sizes")
    sim.add_argument("--seed", type=int, default=0)
    sim.add_argument("--out", help="output directory (default prefstat-STUDY)")
    sim.add_argument("--scheduler", help="dask scheduler address (default: run in-process)")
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            raise _CLIError("choose a command: fit, demo or simulate (see `prefstat --help`)")
        return {"fit": _cmd_fit, "demo": _cmd_demo, "simulate": _cmd_simulate}[args.command](args)
    except (_CLIError, ValueError, OSError, StudyError) as err:
        print(f"prefstat: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
