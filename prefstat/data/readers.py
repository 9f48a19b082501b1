"""CSV and Parquet readers that refuse ambiguous files (repeated column names) with one clear line."""
from __future__ import annotations

import os

import numpy as np
import pandas as pd

__all__ = ["read_file", "read_csv", "read_parquet", "check_unique_column", "DuplicateColumnError"]


def check_unique_column(df: pd.DataFrame, name) -> None:
    count = int(np.sum(df.columns == name))
    if count > 1:
        raise ValueError(f"column '{name}' appears {count} times in the table; rename the duplicates so that "
                         "each column name is unique.")


class DuplicateColumnError(ValueError):
    """A file's header repeats a column name (already a one-line message; not wrapped by :func:`read_file`)."""


def check_unique_header(path, names: list, consequence: str) -> None:
    """Raise naming the first repeated column name in a file's header.

    Empty names are skipped: they cannot be asked for, and pandas gives each one
    its own ``Unnamed: i`` name.
    """
    seen = set()
    for name in names:
        if name in seen:
            where = ", ".join(str(i) for i, other in enumerate(names) if other == name)
            raise DuplicateColumnError(
                f"column '{name}' appears more than once in the header of {os.fspath(path)!r} (columns {where}, "
                f"0-based); {consequence.format(name=name)} Rename the duplicates so that each name is unique."
            )
        if name != "":
            seen.add(name)


def read_csv(path) -> pd.DataFrame:
    # pandas silently renames a repeated header name 'y' to 'y.1', so the raw header is checked first.
    header = pd.read_csv(path, header=None, nrows=1, dtype=str, keep_default_na=False).iloc[0].tolist()
    check_unique_header(path, header, "pandas would rename the second one to '{name}.1' and prefstat cannot "
                                       "tell which one you mean.")
    return pd.read_csv(path)


def read_parquet(path) -> pd.DataFrame:
    import pyarrow.parquet as pq  # pandas' Parquet engine; its own error on this dumps the whole schema

    check_unique_header(path, pq.read_schema(path).names, "a table cannot hold two columns of one name.")
    return pd.read_parquet(path)



def read_file(path, reader) -> pd.DataFrame:
    if not os.path.exists(path):
        raise ValueError(f"file not found: {os.fspath(path)!r}.")
    try:
        return reader(path)
    except DuplicateColumnError:
        raise
    except Exception as err:  # noqa: BLE001 - any reader failure becomes one clear message
        raise ValueError(f"could not read {os.fspath(path)!r}: {_first_line(err)}") from None


def _first_line(err: Exception) -> str:
    """The first line of a reader's message (pyarrow appends the whole schema on further lines)."""
    lines = str(err).strip().splitlines()
    return lines[0] if lines else type(err).__name__
