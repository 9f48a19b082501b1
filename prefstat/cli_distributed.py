"""``prefstat fit`` on partitioned Parquet (a directory or glob) with Dask: ``--workers N`` / ``--scheduler ADDR``.

A directory or glob is fitted by :class:`prefstat.BradleyTerry` on a
:class:`prefstat.distributed.PartitionedTable` (one partition per file, read on the workers), with
a progress bar over the partitions on stderr. ``--workers N`` starts a LocalCluster of N worker
processes (one thread each) for the command; ``--scheduler ADDR`` uses a running cluster; with
neither, Dask's local scheduler runs in this process. Count tables (``--left-wins``) are read in
memory only. Everything else follows the conventions of :mod:`prefstat.cli`.
"""
from __future__ import annotations

import os

__all__ = ["add_distributed_args", "is_distributed_fit", "run_distributed_fit"]


def add_distributed_args(p) -> None:
    g = p.add_argument_group("partitioned data (Dask)")
    g.add_argument("--workers", type=int, metavar="N",
                   help="fit on a local Dask cluster of N worker processes, 1 thread each (default: none)")
    g.add_argument("--scheduler", metavar="ADDR",
                   help="address of a running Dask scheduler, e.g. tcp://host:8786 (default: none)")


def _is_glob(path: str) -> bool:
    return any(ch in path for ch in "*?[")


def is_distributed_fit(args) -> bool:
    """True when the table is a directory or glob, or a Dask option is given."""
    return (args.workers is not None or args.scheduler is not None or os.path.isdir(args.table)
            or _is_glob(args.table))


def _reference_label(reference, table):
    """``--reference`` as a label of the table's type (integer label columns take an integer)."""
    if reference is None or table.files is None:
        return reference
    import pyarrow.parquet as pq

    schema = pq.read_schema(table.files[0])
    if all(str(schema.field(c).type).startswith(("int", "uint")) for c in (table.roles["left"], table.roles["right"])):
        try:
            return int(reference)
        except ValueError:
            raise ValueError(f"--reference {reference!r} is not an item of the table (its labels are integers).") from None
    return reference


def run_distributed_fit(args, print_fit, fit_json) -> int:
    """The ``fit`` command on partitioned data; ``print_fit``/``fit_json`` are the CLI's reporters."""
    import json

    from .distributed import PartitionedTable
    from .models import BradleyTerry

    if args.workers is not None and args.scheduler is not None:
        raise ValueError("give either --workers (a local cluster) or --scheduler (a running one), not both.")
    if args.workers is not None and args.workers < 1:
        raise ValueError(f"--workers must be at least 1; got {args.workers}.")
    counts = [o for o, v in (("--left-wins", args.left_wins), ("--right-wins", args.right_wins),
                             ("--ties", args.ties)) if v is not None]
    if counts:
        raise ValueError(f"{', '.join(counts)}: count tables are read in memory only; a partitioned table needs "
                         "--outcome (one comparison per row, --weight for frequency weights).")
    if args.outcome is None:
        raise ValueError("give --outcome (one comparison per row).")
    table = PartitionedTable(args.table, left=args.left, right=args.right, outcome=args.outcome, weight=args.weight,
                             group=args.group, order=args.order, progress=True)
    reference = _reference_label(args.reference, table)
    model = BradleyTerry(reference=reference, order_effect=args.order_effect, cov_type=args.cov, alpha=args.alpha)
    client = cluster = None
    try:
        if args.workers is not None or args.scheduler is not None:
            from distributed import Client, LocalCluster

            if args.workers is not None:
                cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
            client = Client(cluster if cluster is not None else args.scheduler)
        model.fit(table)
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
    summary = model.summary(level=args.level)
    print_fit(model, summary, f"{args.table} ({table.n_partitions} partitions, total weight {model.nobs_:.6g})")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(fit_json(model, summary, args.level), fh, indent=2)
    return 0
