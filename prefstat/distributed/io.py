"""Comparison rows spread over partitions: a Parquet directory / glob / file list, or a Dask DataFrame.

:class:`PartitionedTable` names the column roles exactly as
:meth:`prefstat.ComparisonTable.from_pandas` does (``left``/``right`` or ``features``,
``outcome``, ``weight``, ``group``, ``order``; ``ai_label`` for
:class:`~prefstat.DebiasedBradleyTerry`) but never reads the rows on the client: each partition
is read and validated by the task that reduces it (:mod:`prefstat.distributed.partition`), and
an invalid value is reported as ``partition i (file '...'): column 'outcome' ...`` with row
numbers inside that partition. A Parquet source has one partition per file.

Estimators accept a :class:`PartitionedTable` or a bare ``dask.dataframe.DataFrame``; the latter
is read with the default roles of :func:`as_partitioned`.
"""
from __future__ import annotations

import glob
import os

__all__ = ["PartitionedTable", "as_partitioned", "is_partitioned", "parquet_files"]

_ROLES = ("left", "right", "outcome", "weight", "group", "order", "ai_label")


def is_partitioned(X) -> bool:
    """True for a :class:`PartitionedTable` or a Dask DataFrame (checked without importing dask)."""
    if isinstance(X, PartitionedTable):
        return True
    return type(X).__module__.split(".")[0] == "dask" and hasattr(X, "to_delayed") and hasattr(X, "columns")


def parquet_files(path) -> list:
    """The Parquet files of a directory (recursively, ``*.parquet`` / ``*.pq``), a glob, a file or a list."""
    if isinstance(path, (list, tuple)):
        files = [os.fspath(p) for p in path]
    else:
        path = os.fspath(path)
        if os.path.isdir(path):
            files = sorted(os.path.join(root, name) for root, _, names in os.walk(path) for name in names
                           if name.lower().endswith((".parquet", ".pq")))
            if not files:
                raise ValueError(f"directory {path!r} holds no Parquet files (*.parquet or *.pq).")
        elif any(ch in path for ch in "*?["):
            files = sorted(glob.glob(path, recursive=True))
            if not files:
                raise ValueError(f"no file matches {path!r}.")
        else:
            files = [path]
    for f in files:
        if not os.path.isfile(f):
            raise ValueError(f"file not found: {f!r}.")
    return files


class PartitionedTable:
    """Comparison rows in partitions, with their column roles; read lazily, partition by partition.

    Parameters
    ----------
    source : str, path, list of paths, or dask.dataframe.DataFrame
        A Parquet directory (every ``*.parquet``/``*.pq`` file below it), a glob
        (``"battles/day=*/part-*.parquet"``), one file, a list of files, or a Dask DataFrame
        (e.g. ``dask.dataframe.read_parquet(...)``).
    left, right : column names of the compared items (item level), or
    features : list of column names of the feature differences (feature level).
        With neither, columns named ``left`` and ``right`` make an item-level table; otherwise
        every column that has no other role is a feature.
    outcome : column name, default ``"outcome"`` (1 left preferred, 0 right, 0.5 tie; NaN marks
        an AI-labelled pool row when ``ai_label`` is given).
    weight, group, order, ai_label : optional column names (frequency weights, cluster ids, order
        indicator +1/-1/0, judge label for :class:`~prefstat.DebiasedBradleyTerry`).
    progress : bool, default False
        Show a progress bar over the partitions for every pass over the data.
    """

    def __init__(self, source, left=None, right=None, outcome="outcome", *, features=None, weight=None,
                 group=None, order=None, ai_label=None, progress=False):
        self.source = source
        self.progress = bool(progress)
        if is_partitioned(source) and not isinstance(source, PartitionedTable):
            self.files = None
            columns = [str(c) for c in source.columns]
            where = "the Dask DataFrame"
        else:
            if isinstance(source, PartitionedTable):
                raise ValueError("source is already a PartitionedTable.")
            self.files = parquet_files(source)
            columns = _schema_names(self.files[0])
            where = f"{self.files[0]!r}"
        if (left is None) != (right is None):
            raise ValueError("name both compared options: left= and right= (or give features=).")
        if left is not None and features is not None:
            raise ValueError("give left=/right= (item level) or features= (feature level), not both.")
        if left is None and features is None and "left" in columns and "right" in columns:
            left, right = "left", "right"
        roles = dict(left=left, right=right, outcome=outcome, weight=weight, group=group, order=order,
                     ai_label=ai_label)
        named = [v for v in roles.values() if v is not None]
        if features is None and left is None:
            features = [c for c in columns if c not in named]
            if not features:
                raise ValueError(f"{where} has no feature columns besides the roles {named}.")
        self.features = None if features is None else [str(c) for c in features]
        self.kind = "items" if left is not None else "features"
        self.roles = roles
        missing = [c for c in named + (self.features or []) if c not in columns]
        if missing:
            raise ValueError(f"{where} has no column(s) {missing}; its columns are {columns}.")

    @classmethod
    def from_parquet(cls, path, **roles) -> "PartitionedTable":
        """A directory, glob, file or list of Parquet files; ``roles`` as in the constructor."""
        return cls(path, **roles)

    def spec(self) -> dict:
        """The column roles as a plain dict (what the partition kernels receive)."""
        spec = dict(self.roles, kind=self.kind, features=self.features)
        spec["columns"] = [v for v in self.roles.values() if v is not None] + (self.features or [])
        return spec

    @property
    def n_partitions(self) -> int:
        return len(self.files) if self.files is not None else int(self.source.npartitions)

    def delayed_partitions(self) -> list:
        """``[(delayed pandas partition, label for error messages)]``; nothing is read here."""
        from dask import delayed

        from .compute import ByValue
        from .partition import read_parquet_file

        if self.files is not None:
            columns = self.spec()["columns"]
            reader = ByValue(read_parquet_file)
            return [(delayed(reader, pure=True)(f, columns), f"partition {i} (file {f!r})")
                    for i, f in enumerate(self.files)]
        return [(part, f"partition {i}") for i, part in enumerate(self.source.to_delayed())]

    def append(self, other) -> "PartitionedTable":
        """This table's partitions followed by ``other``'s (same column roles), e.g. a day of new battles.

        Both must be Parquet sources (the file lists are joined) or both Dask DataFrames
        (``dask.dataframe.concat``). ``other`` may be a bare Dask DataFrame (read with this table's roles).
        """
        if not isinstance(other, PartitionedTable):
            if not is_partitioned(other):
                raise ValueError("the new rows of a model fitted on partitioned data must be partitioned too (a "
                                 "PartitionedTable or a Dask DataFrame); refit to combine them with rows in memory.")
            other = PartitionedTable(other, features=self.features, progress=self.progress,
                                     **{k: v for k, v in self.roles.items()})
        if (other.kind, other.features, other.roles) != (self.kind, self.features, self.roles):
            mine = dict(self.roles, features=self.features)
            theirs = dict(other.roles, features=other.features)
            diff = [f"{k}: {mine[k]!r} vs {theirs[k]!r}" for k in mine if mine[k] != theirs[k]]
            raise ValueError(f"the new partitions' column roles differ from the fitted table's ({'; '.join(diff)}); "
                             "name the same columns for every role.")
        if (self.files is None) != (other.files is None):
            raise ValueError("cannot append a Dask DataFrame to a Parquet file list (or the reverse); give the new "
                             "rows in the form of the fitted table.")
        roles = {k: v for k, v in self.roles.items()}
        if self.files is not None:
            again = sorted(set(map(os.path.abspath, self.files)) & set(map(os.path.abspath, other.files)))
            if again:
                raise ValueError(f"file(s) {again[:3]} are already in the fitted table: their rows would count twice.")
            return PartitionedTable(self.files + other.files, features=self.features, progress=self.progress,
                                    **roles)
        import dask.dataframe as dd

        return PartitionedTable(dd.concat([self.source, other.source]), features=self.features,
                                progress=self.progress, **roles)

    def __repr__(self) -> str:
        return f"PartitionedTable({self.kind}, {self.n_partitions} partitions)"


def _schema_names(path) -> list:
    import pyarrow.parquet as pq

    try:
        return list(pq.read_schema(path).names)
    except Exception as err:  # noqa: BLE001
        lines = str(err).strip().splitlines()
        raise ValueError(f"could not read {path!r}: {lines[0] if lines else type(err).__name__}") from None


def as_partitioned(X, *, ai_label: bool = False) -> PartitionedTable:
    """``X`` as a :class:`PartitionedTable`: a table as is; a Dask DataFrame with the default roles.

    Default roles of a Dask DataFrame: ``left``/``right`` if both columns exist (else every other
    column is a feature), ``outcome``, and ``weight``, ``group``, ``order`` (and ``ai_label`` when
    asked for) when columns of those names exist.
    """
    if isinstance(X, PartitionedTable):
        return X
    columns = [str(c) for c in X.columns]
    if "outcome" not in columns:
        raise ValueError(f"a Dask DataFrame passed to fit needs an 'outcome' column (its columns are {columns}); "
                         "or wrap it in prefstat.distributed.PartitionedTable(frame, outcome=..., ...) to name the roles.")
    optional = {name: name if name in columns else None for name in ("weight", "group", "order")}
    if ai_label:
        optional["ai_label"] = "ai_label" if "ai_label" in columns else None
    return PartitionedTable(X, **optional)
