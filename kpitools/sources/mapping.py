"""The analyst's own tables and columns mapped onto the data contract.

A mapping file (``kpitools.toml`` in the data folder, or ``--mapping FILE``) says, for
each contract table, where its rows come from and how each contract column is made::

    [subscriptions]
    from = "billing_subscriptions"        # a table of the database, a file of the folder,
                                          # or a query (SELECT ... / WITH ...)
    [subscriptions.columns]
    subscription_id = "id"                # a source column ...
    mrr = "plan_amount / 100.0 * quantity / interval_months"   # ... or an SQL expression
    end_date = "coalesce(ended_at, cancel_at)"

A contract column the mapping does not name is taken from the source column of the same
name when there is one. Expressions are SQL in the source's own dialect, or in the one
the file names (``dialect = "duckdb"`` at the top), translated by sqlglot. Ready-made
mappings for common exports ship with kpitools (``--mapping stripe``, see
:data:`READY_MADE`): each file says what its export looks like and its caveats.

A mapped table becomes a view of the source's engine (``SELECT <expressions> FROM
<source>``), then goes through the contract's rules like any table: a problem names the
contract column, and the source table.
"""

from __future__ import annotations

import difflib
import itertools
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import ibis
import ibis.expr.types as ir

from ..engine import sql_ident, sql_text
from ..errors import DataError
from .schema import TABLES, table_spec
from .validate import ROW

__all__ = ["Mapping", "TableMapping", "READY_MADE", "read_mapping", "find_mapping", "mapped_view",
           "MAPPING_FILE", "source_file"]

MAPPING_FILE = "kpitools.toml"
READY_DIR = Path(__file__).parent / "mappings"
READY_MADE = ("stripe", "hubspot", "segment", "ga4")
_VIEWS = itertools.count()


@dataclass(frozen=True)
class TableMapping:
    """Where one contract table comes from: ``source`` (a table or file name, or a
    query) and, per contract column, a source column or an SQL expression."""

    table: str
    source: str
    columns: dict[str, str] = field(default_factory=dict)

    @property
    def is_query(self) -> bool:
        return self.source.lstrip().lower().startswith(("select", "with", "("))


@dataclass(frozen=True)
class Mapping:
    """A whole mapping: its name as shown (a file, or ``stripe``), the dialect of its
    expressions (None: the source's), and its tables."""

    name: str
    tables: dict[str, TableMapping]
    dialect: str | None = None
    # what the mapping assumes, in sentences a report's reader can weigh (``caveats``)
    caveats: tuple[str, ...] = ()
    # how a report names it: the ready-made mapping's name, or the file's (no folder)
    label: str = ""
    # what is wrong with the file (unknown names, malformed entries): reported with the
    # data's problems, in one run
    problems: tuple[str, ...] = ()

    def error(self) -> DataError | None:
        """The mapping's problems as one error, or None."""
        if not self.problems:
            return None
        return DataError(f"{self.name}: " + "; ".join(self.problems), file=self.name)


def find_mapping(directory: Path) -> Path | None:
    """The data folder's own mapping file, when it has one."""
    path = Path(directory) / MAPPING_FILE
    return path if Path(directory).is_dir() and path.is_file() else None


def read_mapping(spec: str | Path) -> Mapping:
    """A mapping file, or a ready-made mapping by name.

    Returns
    -------
    Mapping
        Its usable tables, and in ``problems`` what the file gets wrong (a table or
        column the contract does not have, a table without ``from``): the tables with
        such a problem are left out, the others are read, so that one run reports the
        mapping's problems and the data's together.

    Raises
    ------
    DataError
        A file that is missing or cannot be read as TOML.
    """
    text_spec = str(spec)
    if text_spec in READY_MADE:
        path, shown = READY_DIR / f"{text_spec}.toml", f"the ready-made mapping '{text_spec}'"
    else:
        path, shown = Path(spec), str(spec)
        if not path.is_file():
            ready = ", ".join(READY_MADE)
            raise DataError(f"{shown}: no such mapping file (ready-made mappings: {ready})", file=shown)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise DataError(f"{shown}: cannot read the mapping ({exc})", file=shown) from None
    problems: list[str] = []
    dialect = raw.pop("dialect", None)
    caveats = raw.pop("caveats", [])
    if not isinstance(caveats, list) or not all(isinstance(c, str) for c in caveats):
        problems.append("caveats must be a list of sentences")
        caveats = []
    tables = {}
    for name, body in raw.items():
        before = len(problems)
        if name not in TABLES:
            problems.append(f"'{name}' is not a table of the data contract{_did_you_mean(name, TABLES)}")
            continue
        if not isinstance(body, dict) or not isinstance(body.get("from"), str) or not body["from"].strip():
            problems.append(f"[{name}] needs from = \"<table, file or query>\"")
            continue
        columns = body.get("columns", {})
        known = [c.name for c in table_spec(name).columns]
        for column, value in columns.items():
            if column not in known:
                problems.append(f"[{name}.columns] '{column}' is not a column of the contract's {name} table"
                                f"{_did_you_mean(column, known)}")
            elif not isinstance(value, str) or not value.strip():
                problems.append(f"[{name}.columns] {column} must be a column name or an SQL expression")
        unknown_keys = set(body) - {"from", "columns", "notes"}
        if unknown_keys:
            problems.append(f"[{name}] unknown setting {', '.join(sorted(unknown_keys))} "
                            "(expected from, columns, notes)")
        if len(problems) == before:
            tables[name] = TableMapping(name, body["from"].strip(), {k: str(v).strip() for k, v in columns.items()})
    label = f"the ready-made mapping '{text_spec}'" if text_spec in READY_MADE else f"the mapping file {path.name}"
    return Mapping(shown, tables, dialect, tuple(caveats), label, tuple(problems))


def _did_you_mean(name: str, choices) -> str:
    close = difflib.get_close_matches(name, list(choices), n=2, cutoff=0.6)
    if not close:
        close = [c for c in choices if c.lower() == name.lower()]
    return f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


def _expression(text: str, columns: list[str], dialect: str | None, target: str) -> str:
    """A column name as a quoted identifier; anything else as SQL, translated."""
    if text in columns:
        return sql_ident(text)
    if dialect is None or dialect == target:
        return text
    import sqlglot

    return sqlglot.transpile(text, read=dialect, write=target)[0]


def mapped_view(con: ibis.BaseBackend, source_sql: str, source_columns: list[str], mapping: TableMapping,
                dialect: str | None, shown: str) -> ir.Table:
    """The contract table ``mapping.table`` as a temporary view over ``source_sql`` (a
    table reference or a parenthesised query of ``con``), with the column
    :data:`~kpitools.sources.validate.ROW` kept when the source has it.

    Raises
    ------
    DataError
        A required column that is neither mapped nor in the source (with the source's
        close matches), or an expression the engine rejects: all of them together.
    """
    spec = table_spec(mapping.table)
    target = con.name  # Ibis's backend names are sqlglot's dialect names
    problems, select = [], []
    for col in spec.columns:
        given = mapping.columns.get(col.name)
        if given is None:
            if col.name in source_columns:
                select.append(f"{sql_ident(col.name)} AS {sql_ident(col.name)}")
            elif col.required:
                problems.append(f"no column '{col.name}' in the source and none mapped"
                                f"{_did_you_mean(col.name, source_columns)}")
            continue
        try:
            select.append(f"{_expression(given, source_columns, dialect, target)} AS {sql_ident(col.name)}")
        except Exception as exc:  # sqlglot cannot parse it
            problems.append(f"{col.name} = {given!r} is not an SQL expression ({str(exc).splitlines()[0]})")
    if problems:
        raise DataError(f"{shown}: " + "; ".join(problems), file=shown)
    if ROW in source_columns:
        select.insert(0, sql_ident(ROW))
    else:
        select.insert(0, f"0 AS {sql_ident(ROW)}")
    name = f"kpitools_mapped_{next(_VIEWS)}"
    body = f"SELECT {', '.join(select)} FROM {source_sql} AS kpitools_source"
    try:
        _done(con, con.raw_sql(f"CREATE TEMPORARY VIEW {name} AS {body}"))
        view = con.table(name)
        view.limit(0).execute()  # an expression the engine rejects fails here, not in a metric
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{shown}: the mapping's columns cannot be computed ({first[:300]})", file=shown) from None
    return view


def _columns(con: ibis.BaseBackend, source_sql: str) -> list[str]:
    """The column names of a table reference or query (``Backend.sql`` of Ibis 12 fails
    on DuckDB 2.0, so the query's own description)."""
    cursor = con.raw_sql(f"SELECT * FROM {source_sql} AS kpitools_source LIMIT 0")
    try:
        return [d[0] for d in cursor.description]
    finally:
        _done(con, cursor)


def _done(con: ibis.BaseBackend, cursor) -> None:
    """Close a raw query's cursor (DuckDB's raw_sql returns the connection itself: kept)."""
    if con.name != "duckdb" and hasattr(cursor, "close"):
        cursor.close()


def _qualified_query(query: str, schema: str | None, dialect: str | None, target: str) -> str:
    """The query in the source's dialect, each table it names (not its CTEs) in ``schema``:
    a query then reads the URL's schema (or the DuckDB file) whatever the search path."""
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(query.strip().rstrip(";"), read=dialect or target)
    if schema:
        ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
        for ref in tree.find_all(exp.Table):
            if not ref.args.get("db") and ref.name not in ctes:
                ref.set("db", exp.to_identifier(schema))
    return tree.sql(dialect=target)


def source_file(directory: Path, mapping: TableMapping) -> Path:
    """The file of the data folder that ``from`` names (a table's name without ending: its
    Parquet or CSV file)."""
    path = Path(directory) / mapping.source
    if not path.suffix:
        path = next((p for p in (path.with_suffix(".parquet"), path.with_suffix(".csv")) if p.is_file()), path)
    return path


def open_mapped_file(directory: Path, mapping: TableMapping, dialect: str | None) -> tuple[ir.Table, object, Path]:
    """A mapped table whose source is a file of the data folder (CSV read with the types
    DuckDB detects, so that expressions can compute; Parquet as stored), its source and
    the file (``from`` may name the table without the file's ending)."""
    from ..engine import connection, engine_errors
    from .csvfile import ragged_error
    from .files import _csv_header, open_file, read_error, shown_path
    from .validate import Source

    path = source_file(directory, mapping)
    shown = f"{shown_path(path)} (mapped to {mapping.table})"
    if mapping.is_query:
        raise DataError(f"{shown}: in a data folder, from names a file (a query needs a database)", file=shown)
    if not path.is_file():
        raise DataError(f"{shown_path(path)}: file not found (named by the mapping of {mapping.table})",
                        file=str(path))
    con = connection()
    if path.suffix == ".csv":
        # ids and text taken by name stay text as written (an id 00123 must not become 123)
        header = _csv_header(path, shown)
        spec = table_spec(mapping.table)
        text = {mapping.columns.get(c.name, c.name) for c in spec.columns
                if c.kind in ("id", "text", "choice", "period")}
        types = ", ".join(f"{sql_text(h)}: 'VARCHAR'" for h in header if h in text)
        typed = f", types={{{types}}}" if types else ""
        # the contract's CSV dialect (a comma, double quotes, short rows padded, rows numbered in
        # the file's order); types detected
        options = "delim=',', quote='\"', escape='\"', strict_mode=true, null_padding=true, parallel=false"
        source_sql = (f"(SELECT row_number() OVER () - 1 AS {ROW}, * FROM read_csv({sql_text(str(path))}, header=true, "
                      f"{options}{typed}))")
        source = Source(file=shown, row_word="line", row_offset=2)
    else:
        raw, source = open_file(path)
        source = Source(file=shown, row_word=source.row_word, row_offset=source.row_offset)
        source_sql = raw.op().name
    try:
        columns = _columns(con, source_sql) if path.suffix == ".csv" else list(raw.columns)
    except engine_errors() as exc:  # a file the engine cannot read: one error, as for the contract's
        ragged = ragged_error(path, shown) if path.suffix == ".csv" else None
        raise (ragged if ragged is not None and ragged.rows else read_error(exc, shown)) from None
    if path.suffix == ".csv" and len(columns) - 1 > len(header):  # DuckDB names a row's extra fields
        raise ragged_error(path, shown)
    return mapped_view(con, source_sql, columns, mapping, dialect, shown), source, path


def open_mapped_table(con: ibis.BaseBackend, schema: str | None, mapping: TableMapping, dialect: str | None,
                      where: str) -> tuple[ir.Table, object]:
    """A mapped table whose source is a table of a database, or a query run there."""
    from .validate import database_source

    if mapping.is_query:
        shown = f"{where}, the query of the mapping of {mapping.table}"
        try:
            source_sql = f"({_qualified_query(mapping.source, schema, dialect, con.name)})"
        except Exception as exc:  # sqlglot cannot parse it
            raise DataError(f"{shown}: not an SQL query ({str(exc).splitlines()[0][:300]})", file=shown) from None
    else:
        qualified = f"{sql_ident(schema)}.{sql_ident(mapping.source)}" if schema else sql_ident(mapping.source)
        source_sql = qualified
        shown = f"{where}, table {schema + '.' if schema else ''}{mapping.source} (mapped to {mapping.table})"
    try:
        columns = _columns(con, source_sql)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{shown}: cannot read it ({first[:300]})", file=shown) from None
    return mapped_view(con, source_sql, columns, mapping, dialect, shown), database_source(shown, mapping.table)
