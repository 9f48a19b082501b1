"""``prefstat leaderboard``: the leaderboard of an arena battle table (ratings, intervals, rank sets).

Registered by :mod:`prefstat.cli` (``add_parser`` / ``run``); errors are one line, numbers are printed
with 6 significant digits (``--json`` keeps full precision), and every option given is used or is an error.
"""
from __future__ import annotations

import argparse
import json
import math
import os


__all__ = ["add_parser", "run"]

_EPILOG = """\
The winner column holds labels: by default "model_a" -> 1 (left won), "model_b" -> 0, "tie" and
"tie (bothbad)" -> 0.5; --map LABEL=VALUE adds or overrides a label (repeatable). Any other label is an
error naming it and its rows (never a silent tie). --outcome instead reads a numeric column (1, 0, 0.5).
--style names style features: X (columns X_a and X_b, or a ready per-battle column X) or COL_A:COL_B,
comma-separated; --normalize and --no-standardize need --style. --group needs --cov cluster;
--n-bootstrap needs --cov bootstrap. Ratings are on the Elo scale (--scale, --base), anchored at a mean of
--anchor or, with --anchor-model, at that model. --html writes a self-contained page (table, forest plot
of ratings and rank confidence sets); --json the full-precision results.
"""


def add_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "leaderboard", help="leaderboard of an arena battle table: Elo ratings, intervals, rank confidence sets",
        description="Leaderboard of an arena battle table: Elo-scale ratings with marginal and simultaneous "
                    "intervals, ranks with confidence sets, battles and win rates.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("table", help="CSV or Parquet file, one battle per row")
    p.add_argument("--left", default="model_a", help="column of the left model (default: model_a)")
    p.add_argument("--right", default="model_b", help="column of the right model (default: model_b)")
    p.add_argument("--winner", help="column of winner labels (default: winner)")
    p.add_argument("--map", action="append", metavar="LABEL=VALUE",
                   help="winner label -> outcome in [0, 1], added to the default mapping (repeatable)")
    p.add_argument("--outcome", help="numeric outcome column instead of --winner (1 left, 0 right, 0.5 tie)")
    p.add_argument("--weight", help="column of frequency weights (default: none)")
    p.add_argument("--style", help="comma-separated style features (X or COL_A:COL_B; default: none)")
    p.add_argument("--normalize", choices=["relative", "difference"],
                   help="style pairs as (a - b)/(a + b) or a - b; only with --style (default: relative)")
    p.add_argument("--no-standardize", action="store_true",
                   help="keep style features in their units (default: divided by their standard deviation)")
    p.add_argument("--ties", default="half", choices=["half", "davidson"],
                   help="ties as half wins or Davidson's third outcome (default: half)")
    p.add_argument("--group", help="column of judge/user ids; only with --cov cluster")
    p.add_argument("--cov", default="model", choices=["model", "robust", "cluster", "bootstrap"],
                   help="covariance of the abilities (default: model)")
    p.add_argument("--n-bootstrap", type=int, help="bootstrap replicates; only with --cov bootstrap (default: 200)")
    p.add_argument("--level", type=float, default=0.95, help="confidence level (default: 0.95)")
    p.add_argument("--scale", type=float, default=400.0, help="Elo scale (default: 400)")
    p.add_argument("--base", type=float, default=10.0, help="Elo base (default: 10)")
    p.add_argument("--anchor", type=float, default=1000.0, help="anchor rating (default: 1000)")
    p.add_argument("--anchor-model", help="model that gets the anchor rating (default: none, the mean rating)")
    p.add_argument("--n-draws", type=int, default=100_000,
                   help="Monte-Carlo draws of the simultaneous intervals' max-|t| critical value (default: 100000)")
    p.add_argument("--n-rank-draws", type=int,
                   help="Monte-Carlo draws of the rank confidence sets (default: prefstat.inference.ranks' default)")
    p.add_argument("--seed", type=int, default=0, help="seed of those draws and of the bootstrap (default: 0)")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON (full precision)")
    p.add_argument("--html", metavar="FILE", help="also write a self-contained HTML page")
    return p


def _winner_map(entries):
    from .data import ARENA_WINNER_MAP

    if not entries:
        return None
    mapping = dict(ARENA_WINNER_MAP)
    for entry in entries:
        label, sep, value = entry.rpartition("=")
        if not sep or not label:
            raise ValueError(f"--map {entry!r}: write LABEL=VALUE, e.g. --map 'skip=0.5'.")
        try:
            mapping[label] = float(value)
        except ValueError:
            raise ValueError(f"--map {entry!r}: the outcome {value!r} is not a number.") from None
    return mapping


def _check_options(args) -> None:
    from .cli import check_output_file

    if args.outcome is not None and (args.winner is not None or args.map):
        raise ValueError("--outcome replaces the winner labels; drop --winner/--map, or drop --outcome.")
    if args.style is None:
        for option, given in (("--normalize", args.normalize is not None), ("--no-standardize", args.no_standardize)):
            if given:
                raise ValueError(f"{option} only applies to style features; add --style or drop {option}.")
    if args.group is not None and args.cov != "cluster":
        raise ValueError(f"--group only defines the clusters of --cov cluster; with --cov {args.cov} it would be "
                         "ignored. Add --cov cluster or drop --group.")
    if args.cov == "cluster" and args.group is None:
        raise ValueError("--cov cluster needs --group (the judge/user column).")
    if args.n_bootstrap is not None and args.cov != "bootstrap":
        raise ValueError(f"--n-bootstrap is only used with --cov bootstrap; with --cov {args.cov} it would be "
                         "ignored. Add --cov bootstrap or drop --n-bootstrap.")
    if not 0.0 < args.level < 1.0:
        raise ValueError(f"--level must be strictly between 0 and 1; got {args.level}.")
    for option, path in (("--json", args.json), ("--html", args.html)):
        if path:
            check_output_file(path, option)


def run(args) -> int:
    from .cli import print_frame
    from .data.readers import read_csv, read_file, read_parquet
    from .leaderboard import Leaderboard

    _check_options(args)
    style = None
    if args.style is not None:
        style = [s.strip() for s in args.style.split(",") if s.strip()]
        if not style:
            raise ValueError("--style is empty; name at least one feature.")
    reader = read_parquet if args.table.lower().endswith((".parquet", ".pq")) else read_csv
    df = read_file(args.table, reader)
    board = Leaderboard(style=style, normalize=args.normalize or "relative", standardize=not args.no_standardize,
                        ties=args.ties, cov_type=args.cov, level=args.level, scale=args.scale, base=args.base,
                        anchor=args.anchor, anchor_model=args.anchor_model, n_draws=args.n_draws,
                        n_rank_draws=args.n_rank_draws,
                        n_bootstrap=200 if args.n_bootstrap is None else args.n_bootstrap, random_state=args.seed)
    board.fit(df, left=args.left, right=args.right, winner=args.winner or "winner", outcome=args.outcome,
              winner_map=_winner_map(args.map), group=args.group, weight=args.weight)
    print(f"Leaderboard of {args.table}: {len(board.table_)} models, {board.results_.n_obs:.6g} battles; "
          f"ties={args.ties}, cov={args.cov}, level={args.level:g}, simultaneous critical value "
          f"{board.critical_value_:.6g}")
    print_frame(board.table_)
    style_table = board.style_summary()
    if style_table is not None:
        print("\nstyle coefficients (log-odds per unit of the feature):")
        print_frame(style_table)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(_jsonable(board.to_dict()), fh, indent=2)
    if args.html:
        board.to_html(args.html, title=f"prefstat leaderboard: {os.path.basename(args.table)}")
    return 0


def _jsonable(obj):
    """Native Python numbers (numpy scalars are not JSON); NaN becomes null."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, str):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
