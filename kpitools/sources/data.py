"""Open a data directory (or a DuckDB database file) as validated tables of the engine.

>>> import kpitools
>>> data = kpitools.load("data/sample")          # doctest: +SKIP
>>> data.subscriptions.to_pandas().head()        # doctest: +SKIP
>>> data.date_range, data.latest_complete("Q")   # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pandas as pd

from ..engine import UTC, engine_errors, run, table
from ..errors import DataError, MissingTableError
from ..periods import Period, latest_complete
from . import database, spark
from .database import TableRef, is_url, shown_url
from .files import (
    DATABASE_SUFFIXES,
    find_table_file,
    materialise,
    no_tables,
    open_directory,
    open_duckdb_file,
    open_file,
    read_error,
    release,
    shown_path,
)
from .mapping import Mapping, find_mapping, read_mapping
from .schema import TABLES, table_spec
from .shared import SHARED_FOLDER, SharedResults, file_stamps
from .validate import ROW, Checked, Source, check_references, validate
from .variants import variant_warnings

__all__ = ["Dataset", "load", "find_table_file", "read_table"]


def read_table(path: str | os.PathLike[str], table: str | None = None) -> pd.DataFrame:
    """Read and validate one table file (CSV or Parquet) into pandas.

    Parameters
    ----------
    path : path-like
        ``<table>.csv`` or ``<table>.parquet``.
    table : str, optional
        The contract table; by default the file's stem.
    """
    path = Path(path)
    name = table or path.name.split(".")[0]
    spec = table_spec(name)
    checked = _checked(*open_file(path), spec.name)
    return checked.typed.order_by(ROW).to_pandas().drop(columns=ROW)


def _checked(raw: ir.Table, source: Source, name: str, *, check: bool = True) -> Checked:
    """``validate``, with the engine's failure to read the file as one clear error."""
    try:
        return validate(raw, name, source, check=check)
    except DataError:
        raise
    except engine_errors() as exc:  # the engine could not read the file
        raise read_error(exc, source.file) from None


@dataclass
class Dataset:
    """The validated tables of one data directory.

    Each contract table is an attribute (``data.accounts``, ``data.events``, ...): an
    Ibis table the engine runs (``.to_pandas()`` gives a frame), or None when the
    directory has no such file.
    """

    # the data folder or DuckDB file; for a database, its URL as shown (no credentials)
    directory: Path | str
    tables: dict[str, ir.Table]
    # each table's file (a folder's) or TableRef (a database's)
    files: dict[str, Path | TableRef] = field(default_factory=dict)
    # values derived from the tables (each period's KPIs, their time bounds), computed
    # once; keyed by the tables' identities, so replacing a table recomputes them
    cache: dict = field(default_factory=dict, repr=False, compare=False)
    # how many values each category keeps (limit_categories), None: all
    category_limit: int | None = None
    # values shared with the other processes reading the same snapshot (a report run)
    shared: SharedResults | None = field(default=None, repr=False, compare=False)
    # a database's whole URL, to open it again (never shown)
    url: str | None = field(default=None, repr=False, compare=False)
    # the mapping that made the tables from the data's own (None: named as the contract's)
    mapping: Mapping | None = field(default=None, repr=False, compare=False)
    # the engine that runs the queries: "duckdb" (embedded, or the database's own) or "spark"
    engine: str = field(default="duckdb", repr=False, compare=False)
    # what the check found worth a warning but not an error (values that differ only in
    # case or surrounding spaces: kpitools.sources.variants); empty when not checked
    warnings: list[str] = field(default_factory=list, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._opened = {n: id(t) for n, t in self.tables.items()}

    def shared_key(self, name: str, *, categories: bool = True) -> str | None:
        """The key of a derived value shared between processes, or None when nothing is
        shared (no report run, or a table was replaced since the data was opened).
        ``categories=False`` for a value that limiting the categories does not change."""
        if self.shared is None or {n: id(t) for n, t in self.tables.items()} != self._opened:
            return None
        limit = self.category_limit if categories else None
        return f"{name}|categories={limit}|tables={','.join(sorted(self.tables))}"

    def cache_key(self, name: str) -> tuple:
        """The key of a derived value in ``cache``: its name and the tables' identities."""
        return (name, tuple((n, id(t)) for n, t in self.tables.items()))

    def cached(self, name: str, compute: Callable[[], object]) -> object:
        """``compute()`` once per name and set of tables."""
        key = self.cache_key(name)
        if key not in self.cache:
            self.cache[key] = compute()
        return self.cache[key]

    def shared_value(self, name: str, compute: Callable[[], object], *, categories: bool = True) -> object:
        """``compute()`` once per name and set of tables, and within a report run once for
        all its processes: the first computes it (holding its lock), the others wait and
        read it from the run's shared results. ``categories``: as in :meth:`shared_key`."""
        def across() -> object:
            key = self.shared_key(name, categories=categories)
            if key is None:
                return compute()
            found = self.shared.get(key)
            if found is None:
                with self.shared.exclusive(key):
                    found = self.shared.get(key)
                    if found is None:
                        found = compute()
                        self.shared.put(key, found)
            return found
        return self.cached(name, across)

    def __getattr__(self, name: str) -> ir.Table | None:
        if name in TABLES:
            return self.__dict__.get("tables", {}).get(name)
        raise AttributeError(name)

    def __dir__(self) -> Iterable[str]:
        return [*super().__dir__(), *TABLES]

    def __reduce__(self):
        # an engine's tables do not travel between processes: the copy opens the source again
        return (_reopen, (self.url or self.directory, list(self.tables), self.category_limit, self.engine))

    def __repr__(self) -> str:
        start, end = self.date_range
        counts = self.row_counts()
        present = ", ".join(f"{n} ({counts[n]:,})" for n in self.tables)
        return f"<Dataset {self.directory}: {present}; {start:%Y-%m-%d} to {end:%Y-%m-%d}>"

    def row_counts(self) -> dict[str, int]:
        """The number of rows of each table (one query)."""
        def compute() -> dict[str, int]:
            parts = [table(t).aggregate(table=ibis.literal(n), rows=table(t).count()) for n, t in self.tables.items()]
            if not parts:
                return {}
            frame = run(ibis.union(*parts) if len(parts) > 1 else parts[0])
            counts = {r.table: int(r.rows) for r in frame.itertuples()}
            return {n: counts[n] for n in self.tables}  # in the tables' order (Spark unions in any)
        return self.shared_value("row_counts", compute, categories=False)

    def limit_categories(self, n: int = 12) -> Dataset:
        """The same data with every category of more than ``n`` values (channel, segment,
        plan, feature, ...) cut to its ``n`` most common values and ``"(other)"``: see
        :func:`kpitools.sources.categories.limit_categories`. Totals are unchanged."""
        return self.cached(f"limit_categories {n}", lambda: self._limited(n))

    def _limited(self, n: int) -> Dataset:
        from .categories import apply_category_limits, category_limits

        # the kept values are counted once per report run (the notebooks share them)
        limits = self.shared_value(f"category limits {n}", lambda: category_limits(self.tables, n))
        tables = apply_category_limits(self.tables, limits)
        if all(tables[k] is self.tables[k] for k in tables):
            return self
        return Dataset(directory=self.directory, tables=tables, files=self.files, category_limit=n,
                       shared=self.shared, url=self.url, mapping=self.mapping, engine=self.engine,
                       warnings=self.warnings)

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
            needs = "; ".join(f"{n} is needed for {table_spec(n).needed_for}" for n in absent) + \
                "; the tables are described in docs/data-contract.md"
            if self.url is not None:
                raise MissingTableError(f"{self.directory}: no table {' or '.join(absent)} ({needs}).",
                                        file=str(self.directory))
            raise MissingTableError(f"{self.directory}: no {files} ({needs}).",
                                    file=str(Path(self.directory) / f"{absent[0]}.csv"))

    def note_missing(self, *names: str) -> str | None:
        """A one-line note for a report section that needs absent tables, else None."""
        absent = self.missing(*names)
        if not absent:
            return None
        files = ", ".join(absent)
        return f"Skipped: this section needs the {files} table, which the data directory does not have."

    @property
    def time_bounds(self) -> pd.DataFrame:
        """First and last value of each table's time column (one row per table, one query)."""
        def compute() -> pd.DataFrame:
            parts = []
            for name, frame in self.tables.items():
                t = table(frame)
                col = TABLES[name].time_column
                if col:
                    parts.append(t.aggregate(table=ibis.literal(name), column=ibis.literal(col),
                                             first=t[col].min().cast(UTC), last=t[col].max().cast(UTC)))
            columns = ["table", "column", "first", "last"]
            if not parts:
                return pd.DataFrame(columns=columns)
            frame = run(ibis.union(*parts) if len(parts) > 1 else parts[0])
            frame = frame.dropna(subset=["first"])
            order = {n: i for i, n in enumerate(self.tables)}
            frame = frame.iloc[frame["table"].map(order).argsort()].reset_index(drop=True)
            for c in ("first", "last"):
                frame[c] = pd.to_datetime(frame[c], utc=True)
            return frame[columns]
        return self.shared_value("time_bounds", compute, categories=False).copy()

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


def _reopen(directory: Path | str, names: list[str], limit: int | None, engine: str = "duckdb") -> Dataset:
    data = load(directory, tables=names, engine=engine)
    return data.limit_categories(limit) if limit else data


def load(source: str | os.PathLike[str], *, tables: Iterable[str] | None = None, check: bool = True,
         mapping: str | os.PathLike[str] | None = None, engine: object = None) -> Dataset:
    """Open and validate every contract table found in a data directory.

    Parameters
    ----------
    source : path-like or str
        A folder with ``<table>.csv`` or ``<table>.parquet`` files, a DuckDB database
        file (``.duckdb``) whose tables are named as the contract's, or a database URL
        in Ibis's form (``postgresql://user@host:5432/db?schema=analytics``): its
        tables are read where they are, and every query runs in that database.
        With the Spark engine, ``spark:<database>`` names a database of the Spark
        catalog (``spark:main.analytics``: a catalog and its schema).
    tables : iterable of str, optional
        Open only these tables (default: all found).
    mapping : path-like or str, optional
        A mapping of the source's own tables and columns onto the contract's (see
        :mod:`kpitools.sources.mapping`): a file, or a ready-made one by name
        (``stripe``, ``hubspot``, ``segment``, ``ga4``). Default: the data folder's
        ``kpitools.toml`` when it has one.
    check : bool
        Check every rule of the data contract (default). False skips the rules for
        data known to keep them (checked upstream, or a moment ago): the tables are
        typed the same way, but a broken value then gives wrong numbers, not an error.
    engine : str or SparkSession, optional
        What runs the queries of a data folder or catalog: ``"duckdb"`` (embedded, the
        default), ``"spark"`` (a session started as :func:`kpitools.sources.spark.session`
        says) or a SparkSession of the caller's (a cluster's, Databricks', Spark
        Connect's). Default: ``KPITOOLS_ENGINE``, else DuckDB; ``spark:`` sources
        always run on Spark. A database URL's queries run in that database.

    Returns
    -------
    Dataset
        The tables as the engine's: nothing is read into memory; a Parquet file is
        scanned by each query (a period's filter skips what lies outside it), a CSV
        file is read once into the engine.

    Raises
    ------
    DataError
        The source is missing or holds no contract table, or tables break the
        contract: every problem together, each naming file, column and rows.
    """
    names = list(tables) if tables is not None else list(TABLES)
    if is_url(source):
        return _load(database.with_secret(str(source)), names, check, _plan(mapping, None))
    if spark.is_catalog(source) or spark.engine_name(engine) == "spark":
        return _load_spark(source, names, check, _plan(mapping, source), engine)
    plan = _plan(mapping, source)
    directory = Path(source)
    if plan is not None:
        return _load(directory, names, check, plan)
    key = _opened_key(directory, names, check)
    if key is not None and key in _OPENED:  # opened in this process, files unchanged
        seen = _OPENED[key]
        return Dataset(directory=seen.directory, tables=dict(seen.tables), files=dict(seen.files),
                       shared=seen.shared, warnings=list(seen.warnings))
    data = _load(directory, names, check)
    if key is not None:
        if len(_OPENED) >= 8:
            _OPENED.pop(next(iter(_OPENED)))
        _OPENED[key] = data
        return Dataset(directory=data.directory, tables=dict(data.tables), files=dict(data.files),
                       shared=data.shared, warnings=list(data.warnings))
    return data


def _plan(mapping: str | os.PathLike[str] | None, source: object) -> Mapping | None:
    """The mapping asked for, else a data folder's own, else None."""
    if mapping is None and source is not None and not spark.is_catalog(source):
        mapping = find_mapping(Path(source))
    return read_mapping(mapping) if mapping is not None else None


def _load_spark(source: str | os.PathLike[str], names: list[str], check: bool, plan: Mapping | None,
                engine: object) -> Dataset:
    """A data folder's files, or a catalog database's tables, on Spark."""
    con, where = spark.connect_source(source, plan, engine)
    return _load(where, names, check, None, con=con)


# the data sources opened in this process, by path, tables asked for, check and the files'
# sizes and times: opening the same files again (a notebook re-run, the next notebook of a
# report worker's kernel) gives the same engine tables, so remembered results carry over
_OPENED: dict[tuple, Dataset] = {}


def _opened_key(directory: Path, names: list[str], check: bool) -> tuple | None:
    try:
        if directory.is_file():
            found = {directory.name: directory}
        elif directory.is_dir():
            found = {n: p for n in names if (p := find_table_file(directory, n)) is not None}
        else:
            return None
        stamps = tuple(sorted((n, *v) for n, v in file_stamps(found).items()))
        mark = directory / SHARED_FOLDER / "checked.json" if directory.is_dir() else None
        marked = mark.stat().st_mtime_ns if mark is not None and mark.exists() else None
    except (OSError, DataError):
        return None
    return (str(directory.resolve()), tuple(names), check, stamps, marked)


def _load(directory: Path | str, names: list[str], check: bool, plan: Mapping | None = None, *,
          con: object = None) -> Dataset:
    """Open (a folder's files, a DuckDB file's or a database's tables, mapped or named as
    the contract's; with ``con``, Spark's backend, a folder's files or a catalog's tables
    on Spark), check, type."""
    url = directory if isinstance(directory, str) else None
    engine = "spark" if con is not None else "duckdb"
    if con is not None:
        opened, files, errors = (spark.open_catalog(con, url, names) if url is not None
                                 else spark.open_folder(con, directory, names))
    elif url is not None:
        opened, files, errors = database.open_tables(url, names, plan)
    elif directory.is_file() and directory.suffix in DATABASE_SUFFIXES:
        opened, files, errors = open_duckdb_file(directory, names, plan)
    elif directory.is_dir():
        opened, files, errors = open_directory(directory, names, plan)
    else:
        raise DataError(f"{shown_path(directory)}: no such data directory", file=str(directory))
    if plan is not None and plan.error() is not None:
        errors.insert(0, plan.error())
    if not files and not errors:
        if con is not None and url is not None:
            raise spark.no_catalog_tables(url, names)
        raise database.no_tables(url, names) if url is not None else no_tables(directory, names)
    if url is None:
        folder: Path | None = (directory if directory.is_dir() else directory.parent) / SHARED_FOLDER
    else:  # the shared folder of the report run reading this database (kpitools.report.source)
        run_folder = os.environ.get(database.RUN_SHARED) if os.environ.get(database.RUN_URL) == url else None
        folder = Path(run_folder) if run_folder else None
    shared = SharedResults(folder) if folder is not None and folder.is_dir() else None
    # the snapshot of a report run is checked once, by the runner
    check = check and not (shared is not None and not errors and shared.checked(files))
    checked = {}
    for name, (raw, src) in opened.items():
        try:
            checked[name] = _checked(raw, src, name, check=check)
        except DataError as exc:
            errors.append(exc)
        except Exception as exc:
            if url is None:
                raise
            errors.append(database.query_error(exc, src.file, url))
    partial = {e.table: e.frame for e in errors if e.table and e.frame is not None}
    typed = {**{n: c.typed for n, c in checked.items()}, **partial}
    if check:
        errors += _references(typed, {n: src for n, (_, src) in opened.items()})
    if errors:
        raise DataError.together(errors)
    warnings = variant_warnings({n: c.clean for n, c in checked.items()},
                                {n: src for n, (_, src) in opened.items()}) if check else []
    out = {}
    for name in names:
        if name in checked:
            clean = checked[name].clean
            if files[name].suffix == ".csv" and con is not None:
                clean = spark.cached(clean)
            elif files[name].suffix == ".csv":  # the text once in the contract's types
                clean = materialise(clean)
                if plan is None or name not in plan.tables:  # a mapped table is a view of its file
                    release(opened[name][0])
            out[name] = clean
    if url is not None:
        shown = url if con is not None else shown_url(url)
        return Dataset(directory=shown, tables=out, files=files, url=url, shared=shared, mapping=plan, engine=engine,
                       warnings=warnings)
    return Dataset(directory=directory, tables=out, files=files, shared=shared, mapping=plan, engine=engine,
                   warnings=warnings)


def _references(typed: dict[str, ir.Table], sources: dict[str, Source]) -> list[DataError]:
    """Every id that points into another table exists there (also for tables with other
    problems, as far as they could be read)."""
    errors: list[DataError] = []
    for name, frame in typed.items():
        for column, parent in TABLES[name].references.items():
            if parent in typed:
                try:
                    errors += check_references(frame, column, typed[parent], TABLES[parent].columns[0].name,
                                               sources[name], sources[parent].file)
                except engine_errors() as exc:  # a table the engine cannot read
                    if not any(isinstance(e, DataError) and e.table in (name, parent) for e in errors):
                        errors.append(read_error(exc, sources[name].file))
    return errors
