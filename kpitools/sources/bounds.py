"""First and last time of each table, from Parquet statistics where they say it, so that
choosing the latest complete period does not read the tables."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from ..errors import DataError
from .data import _utc, find_table_file, load, no_tables, read_table
from .schema import TABLES

__all__ = ["table_bounds"]


def table_bounds(directory: str | os.PathLike[str]) -> pd.DataFrame:
    """First and last value of each table's time column, without loading the tables where
    Parquet statistics say it.

    Returns
    -------
    DataFrame
        One row per table with dated rows: ``table``, ``column``, ``first``, ``last``
        (UTC), as :attr:`Dataset.time_bounds`.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(f"{directory}: no such data directory", file=str(directory))
    rows = []
    for name, spec in TABLES.items():
        path = find_table_file(directory, name)
        if path is None or not spec.time_column:
            continue
        try:
            rows += _bounds(path, name)
        except DataError:
            load(directory)  # says what is wrong with every table, together
            raise
    if not rows and not any(find_table_file(directory, n) for n in TABLES):
        raise no_tables(directory, list(TABLES))
    return pd.DataFrame(rows, columns=["table", "column", "first", "last"])


def _bounds(path: Path, name: str) -> list[dict]:
    """A table's row of :func:`table_bounds` ([] when it holds no dated row): from the
    Parquet statistics, else by reading and validating its time column."""
    column = TABLES[name].time_column
    bounds = _parquet_bounds(path, column) if path.suffix == ".parquet" else None
    if bounds is None:
        values = read_table(path, name, columns=[column])[column].dropna()
        if values.empty:
            return []
        bounds = (values.min(), values.max())
    return [{"table": name, "column": column, "first": bounds[0], "last": bounds[1]}]


def _parquet_bounds(path: Path, column: str) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """Min and max of a timestamp or date column from the row groups' statistics, or None
    when a row group has none (or the column is stored as text)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(path).metadata
    except (OSError, ValueError):  # unreadable: read_table says so, naming the file
        return None
    schema = meta.schema.to_arrow_schema()
    if column not in schema.names:
        return None
    kind = schema.field(column).type
    if not (pa.types.is_timestamp(kind) or pa.types.is_date(kind)):
        return None
    index = schema.names.index(column)
    lows, highs = [], []
    for i in range(meta.num_row_groups):
        group = meta.row_group(i)
        if group.num_rows == 0:
            continue
        stats = group.column(index).statistics
        if stats is None or not stats.has_min_max:
            return None
        lows.append(stats.min)
        highs.append(stats.max)
    if not lows:
        return None
    return _utc(min(lows)).as_unit("ns"), _utc(max(highs)).as_unit("ns")
