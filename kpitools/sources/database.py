"""A database as the data source: the contract's tables read where they live.

``kpitools.load("postgresql://analyst@db.internal:5432/warehouse?schema=analytics")``
connects with Ibis's backend for the URL's scheme; each contract table found in the
schema becomes an Ibis table of that database, so every metric query runs there and
only aggregated results travel. The drivers are optional extras (``kpitools[postgres]``
and so on); a missing one is one line naming the extra.

Secrets stay out of everything kpitools prints: :func:`shown_url` is the form used in
messages, report headers, manifests and the index (``postgresql://host/db``), and any
message of the database's own that reaches the analyst goes through :func:`redact`.
Without a password in the URL, the driver reads its usual places (for PostgreSQL,
``PGPASSWORD`` and ``~/.pgpass``).
"""

from __future__ import annotations

import importlib
import os
import re
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlencode, urlsplit, urlunsplit

import ibis
import ibis.expr.types as ir

from ..errors import DataError
from .validate import ROW, Source, database_source

__all__ = ["BACKENDS", "TableRef", "is_url", "shown_url", "redact", "connect", "list_tables", "open_table",
           "open_tables", "no_tables", "query_error", "without_password", "with_secret", "RUN_URL", "RUN_SHARED"]

# a report run gives its kernels the database's whole URL through the environment, so
# that the notebooks' parameters (saved with the reports) carry no password
RUN_URL = "KPITOOLS_DATA_URL"
# ... and the folder of the run's shared results (see kpitools.sources.shared)
RUN_SHARED = "KPITOOLS_SHARED_DIR"


@dataclass(frozen=True)
class Backend:
    """An Ibis backend kpitools can read from, and what it takes to use it."""

    ibis_name: str
    driver: str  # the module the backend needs beyond Ibis
    extra: str  # kpitools' optional extra that installs it
    label: str


# URL scheme -> backend (schemes as Ibis reads them)
BACKENDS = {
    "postgresql": Backend("postgres", "psycopg", "postgres", "PostgreSQL"),
    "postgres": Backend("postgres", "psycopg", "postgres", "PostgreSQL"),
    "snowflake": Backend("snowflake", "snowflake.connector", "snowflake", "Snowflake"),
    "bigquery": Backend("bigquery", "google.cloud.bigquery", "bigquery", "BigQuery"),
    "mysql": Backend("mysql", "MySQLdb", "mysql", "MySQL"),
    "clickhouse": Backend("clickhouse", "clickhouse_connect", "clickhouse", "ClickHouse"),
}


@dataclass(frozen=True)
class TableRef:
    """Where a contract table was found in a database (stands where a folder's table
    has its file: ``name`` is what messages and the data-quality table show)."""

    url: str  # shown form, no credentials
    schema: str | None
    table: str
    suffix: str = ""

    @property
    def name(self) -> str:
        return f"{self.schema}.{self.table}" if self.schema else self.table

    def __str__(self) -> str:
        return f"{self.url}, table {self.name}"


def is_url(source: object) -> bool:
    """True for a database URL (``scheme://...``), not a path."""
    return isinstance(source, str) and re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", source) is not None


def _scheme(url: str) -> str:
    return url.split("://", 1)[0].lower()


def shown_url(url: str) -> str:
    """The URL as kpitools prints it: scheme, host and database only
    (``postgresql://db.internal/warehouse``): no user, password, port or options."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not host:  # a local socket: ?host=/run/postgresql
        host = "localhost"
    database = parts.path.lstrip("/").split("/")[0]
    return f"{_scheme(url)}://{host}/{database}" if database else f"{_scheme(url)}://{host}"


def _secrets(url: str) -> list[str]:
    parts = urlsplit(url)
    found = [parts.password, unquote(parts.password or "")]
    query = parse_qs(parts.query)
    for key in ("password", "token", "private_key", "credentials"):
        found += query.get(key, [])
    return [s for s in found if s]


def redact(text: str, url: str) -> str:
    """``text`` with the URL's password (and any ``user:password@``) removed."""
    for secret in sorted(_secrets(url), key=len, reverse=True):
        text = text.replace(secret, "***")
    text = re.sub(r"(://[^:/@\s]*):[^@\s]*@", r"\1:***@", text)
    return re.sub(r"(password\s*=\s*)\S+", r"\1***", text, flags=re.IGNORECASE)


def without_password(url: str) -> str:
    """The URL without its password (user, host, port, database and options kept): what
    a saved notebook may name, to be run again with the password from the environment."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        user, _, host = netloc.rpartition("@")
        netloc = f"{user.split(':', 1)[0]}@{host}"
    query = [(k, v) for k, values in parse_qs(parts.query, keep_blank_values=True).items() for v in values
             if k.lower() not in ("password", "token", "private_key", "credentials")]
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(query, safe="/"), parts.fragment))


def with_secret(url: str) -> str:
    """``url`` with the password a report run put in the environment (:data:`RUN_URL`),
    when that is the same database; else ``url`` as given."""
    full = os.environ.get(RUN_URL, "")
    if full and without_password(full) == without_password(url):
        return full
    return url


def _schema(url: str) -> str | None:
    """The schema named by ``?schema=`` (or a second path part, as Ibis reads it)."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    if query.get("schema"):
        return query["schema"][0]
    path = parts.path.lstrip("/").split("/", 1)
    return path[1] if len(path) > 1 and path[1] else None


def _one_line(exc: BaseException, url: str) -> str:
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    reason = lines[0] if lines else type(exc).__name__
    return redact(reason, url)[:300]


def connect(url: str) -> ibis.BaseBackend:
    """The Ibis backend connected to ``url``.

    Raises
    ------
    DataError
        An unknown scheme, a driver that is not installed (naming the extra to install),
        or a database that cannot be reached or refuses the login: one line each,
        without the password.
    """
    shown = shown_url(url)
    backend = BACKENDS.get(_scheme(url))
    if backend is None:
        known = ", ".join(sorted({f"{s}://" for s in BACKENDS}))
        raise DataError(f"{shown}: kpitools cannot read this kind of database (it reads {known}, "
                        "a data folder or a DuckDB file)", file=shown)
    try:
        importlib.import_module(backend.driver)
        importlib.import_module(f"ibis.backends.{backend.ibis_name}")
    except ImportError:
        raise DataError(f"{shown}: reading {backend.label} needs its driver: "
                        f"pip install 'kpitools[{backend.extra}]'", file=shown) from None
    try:
        con = ibis.connect(url)
    except Exception as exc:  # the driver's own errors differ by backend: each becomes one line
        raise DataError(f"{shown}: cannot connect ({_one_line(exc, url)})", file=shown) from None
    _compile_copies(con)
    _tune_session(con)
    schema = _schema(url)
    if schema is not None:
        try:
            schemas = con.list_databases()
        except Exception as exc:
            raise DataError(f"{shown}: cannot list its schemas ({_one_line(exc, url)})", file=shown) from None
        if schema not in schemas:
            raise DataError(f"{shown}: no schema '{schema}' (the database has "
                            f"{', '.join(sorted(schemas)) or 'none'})", file=shown)
    return con


def _compile_copies(con: ibis.BaseBackend) -> None:
    """Make ``con`` compile each query from a copy of its SQL tree.

    Ibis 12's SQL backends generate SQL from the tree in place (``copy=False``), and
    sqlglot, for a dialect whose ``/`` divides integers as integers (PostgreSQL), wraps
    an integer numerator in a cast by replacing the node in its parent. Ibis reuses
    one column node in several places of a query, so the cast can land elsewhere and
    ``activated / signups`` divides as integers: a rate of 0. Checked on PostgreSQL
    18: the activation rate of the sample's 2026-09 came out 0.0 instead of 0.355.
    ``ibis.to_sql`` copies first and is not affected; the copy costs about a
    millisecond a query.
    """
    import sqlglot as sg

    if not getattr(getattr(con, "dialect", None), "TYPED_DIVISION", False) or not hasattr(con, "compiler"):
        return

    def compile(expr, /, *, limit=None, params=None, pretty=False):
        query = con.compiler.to_sqlglot(expr, limit=limit, params=params).copy()
        sql = query.sql(dialect=con.dialect, pretty=pretty, copy=False, unsupported_level=sg.ErrorLevel.RAISE)
        con._log(sql)
        return sql

    con.compile = compile


def _tune_session(con: ibis.BaseBackend) -> None:
    """Session settings for analytic queries, where the database has such knobs.

    PostgreSQL: no nested-loop joins unless nothing else can do the join. Its planner
    multiplies the selectivities of a funnel step's filters (an event name, two time
    bounds) down to an estimate of one row, then joins each step's users to a full scan
    of the events in a nested loop: the sample's 2026-09 funnel ran for over ten minutes
    that way, and in 1.2 s with hash joins.

    PostgreSQL 14 and later: check every second that the client is still there. A query
    goes on in the server after its client was killed (a stopped report, a Ctrl-C) until
    it has rows to send, which for a long query can be many minutes; so a stopped run
    would leave work running. Only this session is changed.
    """
    if con.name == "postgres":
        con.raw_sql("SET enable_nestloop = off").close()
        if con.con.info.server_version >= 140000:
            con.raw_sql("SET client_connection_check_interval = '1s'").close()


def list_tables(con: ibis.BaseBackend, url: str) -> list[str]:
    """The tables (and views) of the URL's schema, or of the connection's default; for
    PostgreSQL also those the login may not read."""
    schema = _schema(url)
    try:
        if con.name == "postgres":
            # the catalog lists tables the login may not read (information_schema, which
            # Ibis asks, hides them): reading one is then an error, not an absent table
            rows = con.con.execute(
                "SELECT c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
                "ON n.oid = c.relnamespace WHERE n.nspname = coalesce(%s, current_schema()) "
                "AND c.relkind IN ('r', 'v', 'm', 'p', 'f')", (schema,)).fetchall()
            return [r[0] for r in rows]
        return con.list_tables(database=schema) if schema else con.list_tables()
    except Exception as exc:
        shown = shown_url(url)
        raise DataError(f"{shown}: cannot list its tables ({_one_line(exc, url)})", file=shown) from None


def open_table(con: ibis.BaseBackend, url: str, name: str) -> tuple[ir.Table, Source, TableRef]:
    """The raw table ``name`` of the database, as typed there.

    A database has no line numbers: a problem names its rows by their values (the id
    column first, or the required columns of a table without one), and the
    column :data:`~kpitools.sources.validate.ROW` is a constant (it costs the database
    nothing, where numbering the rows would sort the table for every query).
    """
    schema = _schema(url)
    ref = TableRef(shown_url(url), schema, name)
    try:
        raw = con.table(name, database=schema) if schema else con.table(name)
        raw.schema()
    except Exception as exc:  # no permission, a view that fails
        raise DataError(f"{ref}: cannot read the table ({_one_line(exc, url)})", file=str(ref)) from None
    if ROW in raw.columns:
        raw = raw.drop(ROW)
    raw = raw.mutate(**{ROW: ibis.literal(0, "int64")})
    return raw, database_source(str(ref), name), ref


def open_tables(url: str, names: list[str], plan=None) -> tuple[dict, dict, list]:
    """Connect, then the raw tables of the contract found in the URL's schema, or made by
    the mapping ``plan`` (:mod:`kpitools.sources.mapping`): as
    :func:`kpitools.sources.data.load` takes them from a folder (raw table and source,
    each table's :class:`TableRef`, the errors met)."""
    from .mapping import open_mapped_table

    con = connect(url)
    present = set(list_tables(con, url))
    opened, files, errors = {}, {}, []
    for name in names:
        if plan is not None and name in plan.tables:
            mapped = plan.tables[name]
            try:
                opened[name] = open_mapped_table(con, _schema(url), mapped, plan.dialect, shown_url(url))
            except DataError as exc:
                errors.append(exc)
                continue
            files[name] = TableRef(shown_url(url), _schema(url), "query" if mapped.is_query else mapped.source)
        elif name in present:
            try:
                raw, src, ref = open_table(con, url, name)
            except DataError as exc:
                errors.append(exc)
                continue
            opened[name], files[name] = (raw, src), ref
    return opened, files, errors


def no_tables(url: str, names: list[str]) -> DataError:
    """The error for a database without any contract table."""
    shown = shown_url(url)
    where = f"schema '{_schema(url)}'" if _schema(url) else "its default schema"
    return DataError(f"{shown}: no table of the data contract found in {where} (expected tables named "
                     f"{', '.join(names)})", file=shown)


def query_error(exc: BaseException, shown: str, url: str) -> DataError:
    """One line for a query the database refused while checking a table (no permission,
    a broken view): its first line, without the password."""
    return DataError(f"{shown}: cannot read the table ({_one_line(exc, url)})", file=shown)
