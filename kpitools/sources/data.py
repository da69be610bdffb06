"""Read a data directory into validated, typed tables.

>>> import kpitools
>>> data = kpitools.load("data/sample")          # doctest: +SKIP
>>> data.subscriptions.head()                    # doctest: +SKIP
>>> data.date_range, data.latest_complete("Q")   # doctest: +SKIP
"""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError, MissingTableError
from ..periods import Period, latest_complete
from .csvfile import csv_record_lines, ragged_error
from .schema import TABLES, table_spec
from .validate import Source, check_references, parse_table

__all__ = ["Dataset", "load", "find_table_file", "read_table"]

SUFFIXES = (".parquet", ".csv")


def find_table_file(directory: Path, name: str) -> Path | None:
    """The file holding table ``name`` in ``directory``, or None when absent."""
    found = [directory / f"{name}{suffix}" for suffix in SUFFIXES]
    found = [p for p in found if p.is_file()]
    if len(found) > 1:
        raise DataError(
            f"{directory}: both {found[0].name} and {found[1].name} exist; keep one file per table.",
            file=str(found[0]),
        )
    return found[0] if found else None


def _display(path: Path) -> str:
    """The path as the analyst typed it: relative to the working folder when inside it."""
    resolved = path.resolve()
    try:
        return str(resolved.relative_to(Path.cwd()))
    except ValueError:
        return str(resolved)


def read_table(path: str | os.PathLike[str], table: str | None = None, *,
               columns: list[str] | None = None,
               where: dict[str, list[str]] | None = None,
               between: tuple[pd.Timestamp | None, pd.Timestamp | None] | None = None) -> pd.DataFrame:
    """Read and validate one table file (CSV or Parquet).

    Parameters
    ----------
    path : path-like
        ``<table>.csv`` or ``<table>.parquet``.
    table : str, optional
        The contract table; by default the file's stem.
    columns : list of str, optional
        Read only the required columns and these (Parquet reads nothing else from
        disk); the other optional columns come back empty. Default: every column.
    where : dict of column to values, optional
        Keep only the rows whose column holds one of the values, e.g.
        ``{"event": ["signup", "activated"]}``; Parquet skips the others while
        reading. Rows named in an error are then numbered among the rows kept.
    between : (start, end), optional
        Keep only the rows whose time column (``timestamp`` for events) is on or
        after ``start`` and before ``end``; either bound may be None. Parquet skips
        the row groups outside the range (their statistics say so) and the rows
        outside it while reading; a CSV file is read whole and filtered after
        validation, so its rows keep their line numbers.
    """
    path = Path(path)
    name = table or path.name.split(".")[0]
    spec = table_spec(name)
    shown = _display(path)
    wanted = None if columns is None else list(dict.fromkeys([*spec.required_columns, *columns]))
    try:
        if path.suffix == ".parquet":
            if wanted is not None:
                import pyarrow.parquet as pq

                present = set(pq.read_schema(path).names)
                wanted = [c for c in wanted if c in present]
            filters = [(c, "in", list(v)) for c, v in (where or {}).items()]
            pushed = _time_filters(path, spec.time_column, between)
            raw = pd.read_parquet(path, columns=wanted, filters=[*filters, *pushed] or None)
            source = Source(file=shown, row_word="kept row" if filters or pushed else "row", row_offset=1)
        elif path.suffix == ".csv":
            with warnings.catch_warnings():
                warnings.simplefilter("error", pd.errors.ParserWarning)
                try:
                    raw = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""],
                                      skipinitialspace=True, index_col=False,
                                      usecols=None if wanted is None else lambda c: c in wanted)
                except pd.errors.ParserWarning:
                    raise ragged_error(path, shown) from None
            lines = functools.partial(csv_record_lines, path)
            source = Source(file=shown, row_word="line", row_offset=2, lines=lines)
            if where:
                keep = np.ones(len(raw), dtype=bool)
                for column, values in where.items():
                    keep &= raw[column].isin(list(values)).to_numpy()
                raw = raw[keep].reset_index(drop=True)
                source = Source(file=shown, row_word="line", kept=np.flatnonzero(keep), lines=lines)
        else:
            raise DataError(f"{shown}: a table must be a .csv or .parquet file", file=shown)
    except DataError:
        raise
    except FileNotFoundError:
        raise MissingTableError(f"{shown}: file not found", file=shown) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError,
            ValueError) as exc:
        # pandas / pyarrow say what is wrong (and for CSV, on which line).
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{shown}: cannot read the file ({reason})", file=shown) from None
    frame = parse_table(raw, spec, source)
    if between is not None and spec.time_column:
        frame = frame[_in_range(frame[spec.time_column], between)].reset_index(drop=True)
    return frame


def _utc(value: pd.Timestamp | str | None) -> pd.Timestamp | None:
    if value is None:
        return None
    value = pd.Timestamp(value)
    return value.tz_convert("UTC") if value.tzinfo else value.tz_localize("UTC")


def _in_range(values: pd.Series, between: tuple[pd.Timestamp | None, pd.Timestamp | None]) -> np.ndarray:
    start, end = (_utc(b) for b in between)
    keep = np.ones(len(values), dtype=bool)
    if start is not None:
        keep &= (values >= start).to_numpy(dtype=bool)
    if end is not None:
        keep &= (values < end).to_numpy(dtype=bool)
    return keep


def _time_filters(path: Path, column: str,
                  between: tuple[pd.Timestamp | None, pd.Timestamp | None] | None) -> list[tuple]:
    """Parquet filters that skip what lies outside a time range while reading (the exact
    range is applied after parsing too), or [] when the column is stored as text."""
    if between is None or not column:
        return []
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    if column not in schema.names:
        return []
    kind = schema.field(column).type
    out = []
    for op, bound in ((">=", between[0]), ("<", between[1])):
        value = _utc(bound)
        if value is None:
            continue
        if pa.types.is_timestamp(kind):
            stamp = value if kind.tz else value.tz_localize(None)
            out.append((column, op, pa.scalar(stamp.to_pydatetime(), type=pa.timestamp("us", kind.tz))))
        elif pa.types.is_date(kind):  # a superset: the exact range is applied after parsing
            day = value.normalize() + pd.Timedelta(days=0 if op == ">=" else 1)
            out.append((column, op, day.date()))
        else:
            return []
    return out


@dataclass
class Dataset:
    """The validated tables of one data directory.

    Each contract table is an attribute (``data.accounts``, ``data.events``,
    ...): a DataFrame, or None when the directory has no such file.
    """

    directory: Path
    tables: dict[str, pd.DataFrame]
    files: dict[str, Path] = field(default_factory=dict)
    # values derived from the tables (each period's KPIs, users' first events), computed
    # once; keyed by the tables' identities, so replacing a table recomputes them
    cache: dict = field(default_factory=dict, repr=False, compare=False)

    def cache_key(self, name: str) -> tuple:
        """The key of a derived value in ``cache``: its name and the tables' identities."""
        return (name, tuple((n, id(t)) for n, t in self.tables.items()))

    def cached(self, name: str, compute: Callable[[], object]) -> object:
        """``compute()`` once per name and set of tables."""
        key = self.cache_key(name)
        if key not in self.cache:
            self.cache[key] = compute()
        return self.cache[key]

    def __getattr__(self, name: str) -> pd.DataFrame | None:
        if name in TABLES:
            return self.__dict__.get("tables", {}).get(name)
        raise AttributeError(name)

    def __dir__(self) -> Iterable[str]:
        return [*super().__dir__(), *TABLES]

    def __repr__(self) -> str:
        start, end = self.date_range
        present = ", ".join(f"{n} ({len(t):,})" for n, t in self.tables.items())
        return f"<Dataset {self.directory}: {present}; {start:%Y-%m-%d} to {end:%Y-%m-%d}>"

    def limit_categories(self, n: int = 12) -> Dataset:
        """The same data with every category of more than ``n`` values (channel, segment,
        plan, feature, ...) cut to its ``n`` most common values and ``"(other)"``: see
        :func:`kpitools.sources.categories.limit_categories`. Totals are unchanged."""
        from .categories import limit_categories

        tables = limit_categories(self.tables, n)
        if all(tables[k] is self.tables[k] for k in tables):
            return self
        return Dataset(directory=self.directory, tables=tables, files=self.files)

    def has(self, *names: str) -> bool:
        """Whether every named table is present."""
        return all(n in self.tables for n in names)

    def missing(self, *names: str) -> list[str]:
        """The named tables that are absent."""
        return [n for n in names if n not in self.tables]

    def require(self, *names: str) -> None:
        """Raise MissingTableError naming the files an analysis needs and lacks."""
        absent = self.missing(*names)
        if absent:
            files = " or ".join(f"{n}.csv/{n}.parquet" for n in absent)
            needs = "; ".join(f"{n} is needed for {table_spec(n).needed_for}" for n in absent)
            raise MissingTableError(f"{self.directory}: no {files} ({needs}).",
                                    file=str(self.directory / f"{absent[0]}.csv"))

    def note_missing(self, *names: str) -> str | None:
        """A one-line note for a report section that needs absent tables, else None."""
        absent = self.missing(*names)
        if not absent:
            return None
        files = ", ".join(absent)
        return f"Skipped: this section needs the {files} table, which the data directory does not have."

    @property
    def time_bounds(self) -> pd.DataFrame:
        """First and last value of each table's time column (one row per table)."""
        rows = []
        for name, frame in self.tables.items():
            col = TABLES[name].time_column
            if col and len(frame):
                rows.append({"table": name, "column": col,
                             "first": frame[col].min(), "last": frame[col].max()})
        return pd.DataFrame(rows, columns=["table", "column", "first", "last"])

    @property
    def date_range(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        """First and last timestamp across every table's time column."""
        bounds = self.time_bounds.dropna()
        if bounds.empty:
            raise DataError(f"{self.directory}: the tables hold no dated rows", file=str(self.directory))
        return bounds["first"].min(), bounds["last"].max()

    def latest_complete(self, kind: str = "M") -> Period:
        """The latest month (``"M"``), quarter (``"Q"``) or week (``"W"``) the data covers whole."""
        return latest_complete(self.date_range[1], kind)


def load(directory: str | os.PathLike[str], *, tables: Iterable[str] | None = None) -> Dataset:
    """Load and validate every contract table found in a data directory.

    Parameters
    ----------
    directory : path-like
        A folder with ``<table>.csv`` or ``<table>.parquet`` files.
    tables : iterable of str, optional
        Load only these tables (default: all found).

    Returns
    -------
    Dataset
        Typed tables; absent optional tables are simply missing.

    Raises
    ------
    DataError
        The directory is missing or holds no contract table, or a table breaks
        the contract (the message names file, column and rows).
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(f"{_display(directory)}: no such data directory", file=str(directory))
    names = list(tables) if tables is not None else list(TABLES)
    loaded, files, errors = read_tables(directory, names)
    if not files and not errors:
        raise no_tables(directory, names)
    raise_problems(loaded, files, errors)
    return Dataset(directory=directory, tables=loaded, files=files)


def read_tables(directory: Path, names: Iterable[str], *, skip: Iterable[str] = ()
                ) -> tuple[dict[str, pd.DataFrame], dict[str, Path], list[DataError]]:
    """Read and validate every named table found in ``directory`` (``skip``: found, listed
    in the files, read by the caller), going on past broken ones so that every problem can
    be reported together. Returns the tables read, the files found and the errors."""
    loaded: dict[str, pd.DataFrame] = {}
    files: dict[str, Path] = {}
    errors: list[DataError] = []
    for name in names:
        try:
            path = find_table_file(directory, name)
            if path is None:
                continue
            files[name] = path
            if name not in skip:
                loaded[name] = read_table(path, name)
        except DataError as exc:
            errors.append(exc)
    return loaded, files, errors


def raise_problems(loaded: dict[str, pd.DataFrame], files: dict[str, Path], errors: list[DataError],
                   filtered: Iterable[str] = ()) -> None:
    """Check the ids that point across tables, also those of broken tables as far as they
    could be read, and raise every problem found together (nothing when there is none)."""
    partial = {e.table: e.frame for e in errors if e.table and e.frame is not None}
    try:
        check_all_references({**loaded, **partial}, files, filtered)
    except DataError as exc:
        errors = [*errors, exc]
    if errors:
        raise DataError.together(errors)


def no_tables(directory: Path, names: list[str]) -> DataError:
    """The error for a directory without any contract table."""
    expected = ", ".join(f"{n}.csv" for n in names)
    return DataError(
        f"{_display(directory)}: no table of the data contract found (expected files such as "
        f"{expected}, or the same names ending .parquet)",
        file=str(directory),
    )


def check_all_references(loaded: dict[str, pd.DataFrame], files: dict[str, Path],
                         filtered: Iterable[str] = ()) -> None:
    """Every id that points into another loaded table exists there (``filtered``: the tables
    of which only some rows were read, whose rows are then numbered among those kept)."""
    errors = []
    for name, frame in loaded.items():
        for column, parent in TABLES[name].references.items():
            if parent in loaded:
                csv_file = files[name].suffix == ".csv" and name not in filtered
                source = Source(file=_display(files[name]),
                                row_word="line" if csv_file else "kept row" if name in filtered else "row",
                                row_offset=2 if csv_file else 1,
                                lines=functools.partial(csv_record_lines, files[name]) if csv_file else None)
                try:
                    check_references(frame, column, loaded[parent], TABLES[parent].columns[0].name,
                                     source, _display(files[parent]))
                except DataError as exc:
                    errors.append(exc)
    if errors:
        raise DataError.together(errors)
