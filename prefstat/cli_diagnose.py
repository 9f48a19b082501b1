"""``prefstat diagnose TABLE``: run :func:`prefstat.diagnose` on a CSV/Parquet table and print the verdicts.

Item-level tables (``--left``/``--right``) get every item check; a ``--group`` (annotator) column adds
the annotator checks; ``--features`` columns make a feature-level table (BT vs sign estimator).
Numbers are printed with 6 significant digits; ``--html`` writes the self-contained report and
``--json`` the verdict table at full precision. Every option is used or is an error.
"""
from __future__ import annotations

import argparse
import json

__all__ = ["add_parser", "run"]

_EPILOG = """\
Every option given is used, or the command stops with an error: --n-permutations and --max-annotators
need --group (they configure the annotator checks), --n-subsamples needs --features, --order and
--checks must name columns/checks that apply. Checks (item level): connectivity, goodness_of_fit,
intransitivity, position_bias, ties, annotators, annotator_influence, clustering; (feature level):
heterogeneity. The exit code is 0 whether or not a check is flagged; read the verdicts.
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
    from .cli import add_outcome_args

    p = subparsers.add_parser("diagnose", help="check Bradley-Terry's assumptions on a comparison table",
                              description="Diagnostics for a CSV/Parquet comparison table: goodness of fit, "
                                          "intransitivity, position bias, ties, annotators, connectivity.",
                              epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("table", help="CSV or Parquet file, one comparison per row or aggregated counts")
    p.add_argument("--left", help="column of the left option (item level)")
    p.add_argument("--right", help="column of the right option (item level)")
    p.add_argument("--features", nargs="+", help="feature-difference columns (feature level; instead of --left/--right)")
    add_outcome_args(p)
    p.add_argument("--group", help="column of annotator ids (enables the annotator checks)")
    p.add_argument("--order", help="column of the order indicator (+1 left shown first / advantaged, -1 right, 0 "
                                   "none); without it the left option is taken as advantaged")
    p.add_argument("--checks", nargs="+", help="checks to run (default: all that apply; see below)")
    p.add_argument("--level", type=float, default=0.05, help="significance level of the tests (default: 0.05)")
    p.add_argument("--n-bootstrap", type=int, default=200,
                   help="parametric-bootstrap tables for goodness of fit and intransitivity (default: 200)")
    p.add_argument("--n-permutations", type=int, help="permutations of the annotator test; only with --group "
                                                       "(default: 200)")
    p.add_argument("--max-annotators", type=int, help="leave-one-out refits for this many of the largest "
                                                       "annotators; only with --group (default: 50)")
    p.add_argument("--n-subsamples", type=int, help="subsamples of the sign estimator's cone; only with "
                                                     "--features (default: 200)")
    p.add_argument("--min-comparisons", type=float, default=10,
                   help="items with fewer comparisons are reported as thin (default: 10)")
    p.add_argument("--seed", type=int, default=0, help="random seed of the bootstrap and permutations (default: 0)")
    p.add_argument("--html", metavar="FILE", help="write the self-contained HTML report (with figures)")
    p.add_argument("--json", metavar="FILE", help="write the verdict table as JSON (full precision)")
    return p


def _check_options(args) -> None:
    items = args.left is not None or args.right is not None
    if args.features and items:
        raise ValueError("give either --left/--right (item level) or --features (feature level), not both.")
    if not args.features and (args.left is None or args.right is None):
        raise ValueError("name the compared options with --left and --right (or give --features).")
    if all(v is None for v in (args.outcome, args.left_wins, args.right_wins, args.ties)):
        raise ValueError("give --outcome (one comparison per row) or --left-wins (a count table).")
    for option, value in (("--n-permutations", args.n_permutations), ("--max-annotators", args.max_annotators)):
        if value is not None and args.group is None:
            raise ValueError(f"{option} configures the annotator checks, which need --group; add --group or drop "
                             f"{option}.")
    if args.n_subsamples is not None and not args.features:
        raise ValueError("--n-subsamples is only used with --features (the sign estimator's cone); drop it.")
    if args.features and (args.group is not None or args.order is not None):
        raise ValueError("--group and --order are only used by the item-level checks; drop them with --features.")


def run(args) -> int:
    from .cli import check_output_file, print_frame
    from .data import ComparisonTable
    from .diagnose import diagnose

    _check_options(args)
    for option, path in (("--html", args.html), ("--json", args.json)):
        if path:
            check_output_file(path, option)
    if args.features:
        table = ComparisonTable.from_file(args.table, features=list(args.features), outcome=args.outcome,
                                          weight=args.weight)
    else:
        table = ComparisonTable.from_file(args.table, left=args.left, right=args.right, outcome=args.outcome,
                                          weight=args.weight, group=args.group, order=args.order,
                                          left_wins=args.left_wins, right_wins=args.right_wins, ties=args.ties)
    report = diagnose(table, checks=args.checks, level=args.level, n_bootstrap=args.n_bootstrap,
                      n_permutations=200 if args.n_permutations is None else args.n_permutations,
                      max_annotators=50 if args.max_annotators is None else args.max_annotators,
                      n_subsamples=200 if args.n_subsamples is None else args.n_subsamples,
                      min_comparisons=args.min_comparisons, random_state=args.seed, figures=bool(args.html))
    print(f"prefstat diagnose {args.table}: {table!r}")
    print_frame(report.summary()[["status", "statistic", "p_value"]])
    for d in report:
        print(d.line())
    if args.html:
        report.to_html(args.html)
        print(f"HTML report written to {args.html}")
    if args.json:
        rows = report.summary().reset_index()
        with open(args.json, "w") as fh:
            json.dump(json.loads(rows.to_json(orient="records", double_precision=15)), fh, indent=2)
    return 0

