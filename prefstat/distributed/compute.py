"""Run one kernel over every partition and reduce the results on the cluster; only the sum comes back.

:func:`map_reduce` is the only place the distributed code computes anything. With an active
``dask.distributed`` client (``Client(...)`` created before the fit) each partition's kernel is a
task on the workers and the partial results are combined there in a tree of fan-in
:data:`FAN_IN`; the client receives the final combination alone (a cell table, a p x p matrix).
Without a client Dask's local scheduler runs the same graph in this process. The number of
bytes received by the client is recorded (:class:`TransferLog`) so that tests and users can
check that no partition was collected.

Kernels (:mod:`prefstat.distributed.partition`) are shipped to the workers by value, together with
:mod:`prefstat.data.checks`, so worker processes need numpy, pandas and pyarrow but never import
prefstat (see that module's docstring).
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field

__all__ = ["map_reduce", "TransferLog", "ByValue", "active_client", "FAN_IN"]

FAN_IN = 8  # partial results combined per reduction task


@dataclass
class TransferLog:
    """What the client received: one entry (bytes, per :func:`dask.sizeof.sizeof`) per map-reduce pass."""

    bytes_per_pass: list = field(default_factory=list)
    n_partitions: int = 0

    @property
    def passes(self) -> int:
        return len(self.bytes_per_pass)

    @property
    def max_bytes(self) -> int:
        return max(self.bytes_per_pass, default=0)

    def as_dict(self) -> dict:
        return {"n_partitions": self.n_partitions, "passes": self.passes, "max_bytes_to_client": self.max_bytes}


_SHIPPED = False


def _ship_kernels_by_value() -> None:
    global _SHIPPED
    if _SHIPPED:
        return
    import cloudpickle

    from . import partition
    from ..data import checks

    for module in (checks, partition):
        cloudpickle.register_pickle_by_value(sys.modules[module.__name__])
    _SHIPPED = True


class ByValue:
    """A kernel that pickles as ``cloudpickle.loads(<its code>)``: the receiving worker needs no prefstat.

    ``dask.distributed`` pickles task functions with plain :mod:`pickle` (by reference: the worker
    would import the function's module, i.e. the whole ``prefstat`` package) and uses cloudpickle
    only for ``__main__`` objects; this wrapper makes the kernels travel by value whichever path
    the serializer takes.
    """

    def __init__(self, func):
        self.func = func

    def __call__(self, *args):
        return self.func(*args)

    def __reduce__(self):
        import cloudpickle

        return cloudpickle.loads, (cloudpickle.dumps(self.func),)


def active_client():
    """The current ``dask.distributed`` client, or None (Dask's local scheduler is then used)."""
    try:
        from distributed import default_client
    except ImportError:  # pragma: no cover - distributed is a dependency of the dask extra
        return None
    try:
        return default_client()
    except ValueError:
        return None


def _tree(items, combine):
    from dask import delayed

    while len(items) > 1:
        items = [delayed(combine, pure=True)(items[i:i + FAN_IN]) for i in range(0, len(items), FAN_IN)]
    return items[0]


def _reduce_on_cluster(client, partials, combine, desc):
    """Submit the kernels and the whole reduction tree at once; keep a reference to the root only.

    A partial result is released by the cluster as soon as the combine task that consumes it has
    run (the client holds no future of it), so the workers hold a few partial results at a time,
    not one per partition: with many partitions and a memory limit on the workers this is what
    keeps the reduction small (the kernels' inputs, one Parquet file each, are read when a worker
    is free: root-task queuing). ``desc`` (None: no progress bar) labels a bar over the partitions.
    """
    from distributed import as_completed
    from tqdm.auto import tqdm

    futures = client.compute(partials)
    level = futures
    while len(level) > 1:
        level = [client.submit(combine, level[i:i + FAN_IN], pure=False) for i in range(0, len(level), FAN_IN)]
    root = level[0]
    try:
        if desc is not None:
            done = as_completed(futures)
            del futures, level  # as_completed drops each future once it is yielded
            for _ in tqdm(done, total=len(partials), desc=desc, unit="partition"):
                pass
        else:
            del futures, level
        return root.result()
    finally:
        client.cancel([root])


def map_reduce(table, kernel, combine, *args, desc: str = "partitions", log: TransferLog | None = None):
    """``combine`` over ``kernel(partition, table.spec, where, *args)`` of every partition of ``table``.

    ``table`` is a :class:`~prefstat.distributed.PartitionedTable`. ``combine`` takes a list of
    partial results (``None`` for empty partitions) and returns one of the same form. A progress
    bar over the partitions is shown when ``table.progress`` is true.
    """
    import dask
    from dask import delayed
    from dask.sizeof import sizeof

    _ship_kernels_by_value()
    kernel, combine = ByValue(kernel), ByValue(combine)
    parts = table.delayed_partitions()
    spec = table.spec()
    partials = [delayed(kernel, pure=True)(part, spec, where, *args) for part, where in parts]
    client = active_client()
    if client is None:
        from tqdm.dask import TqdmCallback

        with TqdmCallback(desc=desc, disable=not table.progress):
            (result,) = dask.compute(_tree(partials, combine))
    else:
        result = _reduce_on_cluster(client, partials, combine, desc if table.progress else None)
    if log is not None:
        log.n_partitions = len(parts)
        log.bytes_per_pass.append(int(sizeof(result)))
    return result
