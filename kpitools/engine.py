"""The bridge between the metric families and the data's engine, through Ibis.

A metric function takes a table first: an Ibis table (bound to DuckDB, PostgreSQL,
Spark or a warehouse) or a pandas DataFrame, which :func:`table` wraps as an Ibis
memtable run by the embedded DuckDB. The function builds one expression of the
row work (filters, joins, windows, distinct counts) grouped over all the periods it
was asked for, and :func:`run` executes it where the data lives; only the small,
aggregated result comes back as pandas.

Only portable expressions are used: what Ibis compiles for DuckDB, PySpark,
PostgreSQL, Snowflake and BigQuery alike (no as-of joins, no distinct counts over
windows, explicit window frames), so ``kpitools sql KEY --dialect D`` shows SQL that
runs there too.

>>> import pandas as pd
>>> from kpitools.engine import table, run
>>> t = table(pd.DataFrame({"x": [1, 2, 3]}))
>>> run(t.aggregate(total=t.x.sum()))["total"].iloc[0]
np.int64(6)
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import os
import warnings
import weakref
from collections.abc import Callable, Iterable, Iterator, Sequence

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.operations as ops
import ibis.expr.types as ir
import pandas as pd

from .periods import Period

__all__ = ["table", "run", "connection", "interrupt_engine", "engine_errors", "utc", "in_range", "windows",
           "period_windows", "within", "in_periods", "with_medians", "every_period", "in_order", "day_of",
           "literal_windows", "remembered", "whole", "utc_stamp", "sql_text", "sql_ident", "Table", "UTC"]

Table = ir.Table | pd.DataFrame

UTC = dt.Timestamp(timezone="UTC")
_WINDOW_SCHEMA = ibis.schema({"period": "string", "window": "string", "start": UTC, "end": UTC, "days": "int64"})
# Ibis 12 asks pandas 3 about an option pandas 4 drops; nothing for an analyst to act on
warnings.filterwarnings("ignore", message=".*future.infer_string.*", module="ibis.*")
# memtables of the pandas frames already wrapped, so that a frame passed to several metric
# functions is handed to the engine once (keyed by identity, dropped with the frame)
# a frame's memtables, by the contract table it was read as (None: as it is)
_WRAPPED: dict[int, tuple[weakref.ref, dict[str | None, ir.Table]]] = {}


def _embedded_engine() -> None:
    """The embedded DuckDB that runs memtables and a data directory's files: in UTC, with
    ``KPITOOLS_ENGINE_THREADS`` threads when set (the report runner sets it so that its
    workers share the cores), at most ``KPITOOLS_ENGINE_MEMORY`` of memory (e.g. ``3GB``)
    and spilling to ``KPITOOLS_ENGINE_SPILL`` (a folder) beyond it."""
    config = {}
    threads = os.environ.get("KPITOOLS_ENGINE_THREADS", "")
    if threads.isdigit() and int(threads) > 0:
        config["threads"] = int(threads)
    if os.environ.get("KPITOOLS_ENGINE_MEMORY"):
        config["memory_limit"] = os.environ["KPITOOLS_ENGINE_MEMORY"]
    if os.environ.get("KPITOOLS_ENGINE_SPILL"):
        config["temp_directory"] = os.environ["KPITOOLS_ENGINE_SPILL"]
    if config:
        ibis.options.default_backend = ibis.duckdb.connect(**config)


def engine_errors() -> tuple[type[BaseException], ...]:
    """The exceptions an engine raises about the data it reads (not about our expressions)."""
    import duckdb

    from .sources.spark import spark_errors

    return (duckdb.Error, *spark_errors())


def interrupt_engine() -> None:
    """Stop the query the embedded engine (or this process's Spark jobs) runs now, from
    another thread (it fails with an interruption error); nothing when it runs none."""
    from .sources.spark import cancel_jobs

    with contextlib.suppress(Exception):
        connection().con.interrupt()
    with contextlib.suppress(Exception):
        cancel_jobs()


def connection() -> ibis.BaseBackend:
    """The embedded DuckDB (see :func:`_embedded_engine`)."""
    return ibis.get_backend()


_embedded_engine()


def table(data: Table, contract: str | None = None) -> ir.Table:
    """``data`` as an Ibis table: an Ibis table as it is, a pandas DataFrame wrapped
    (once per frame) as a memtable that the embedded DuckDB runs. As with a Dataset's
    tables, a frame is known by its identity: to change the data, pass a new frame
    rather than changing one in place.

    ``contract`` names the contract table a metric function expects (``"subscriptions"``):
    a frame not yet in its types is checked and typed as :func:`kpitools.load` would
    (:func:`as_contract`)."""
    if isinstance(data, ir.Table):
        return data
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"expected an Ibis table or a pandas DataFrame, got {type(data).__name__}")
    key = id(data)
    held = _WRAPPED.get(key)
    if held is None or held[0]() is not data:
        held = _WRAPPED[key] = (weakref.ref(data, functools.partial(_forget, key)), {})
    if contract not in held[1]:
        held[1][contract] = ibis.memtable(as_contract(data, contract) if contract is not None else data)
    return held[1][contract]


def as_contract(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """A DataFrame passed straight to a metric function as the contract table ``name``, in
    the contract's types: as it is when it has every required column in its type,
    otherwise checked and typed as :func:`kpitools.load` would (ISO date strings parsed,
    a missing column a DataError naming it)."""
    from .sources.schema import TABLES
    from .sources.validate import check_table

    spec = TABLES[name]
    columns = set(map(str, frame.columns))
    if set(spec.required_columns) <= columns and all(
            _has_type(frame[c.name], c.kind) for c in spec.columns if c.name in columns):
        return frame
    return check_table(frame, name)


def _has_type(values: pd.Series, kind: str) -> bool:
    if kind in ("timestamp", "date"):
        return pd.api.types.is_datetime64_any_dtype(values)
    if kind in ("money", "number", "probability", "score"):
        return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    return not pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_datetime64_any_dtype(values)


def _forget(key: int, ref: weakref.ref) -> None:
    """Drop the memtable and remembered results of a frame that no longer exists (not a
    later frame's, which may have the same identity)."""
    held = _WRAPPED.get(key) if _WRAPPED is not None else None
    if held is not None and held[0] is ref:
        del _WRAPPED[key]
        for memo_key in [k for k in _MEMO if k[1] == ("frame", key)]:
            del _MEMO[memo_key]


_MEMO: dict[tuple, pd.DataFrame] = {}
_MEMO_SIZE = 64


def remembered(name: str, data: Table, key: tuple, compute: Callable[[], pd.DataFrame]) -> pd.DataFrame:
    """``compute()`` once per ``name``, table and ``key`` (the latest results are kept; a
    copy is returned, so a caller may change it). A pandas table is known by its identity
    while it exists, an Ibis table by its expression."""
    if isinstance(data, pd.DataFrame):
        held = _WRAPPED.get(id(data))
        if held is None or held[0]() is not data:
            table(data)
        ident: object = ("frame", id(data))
    else:
        ident = data.op()
    memo_key = (name, ident, key)
    if memo_key not in _MEMO:
        if len(_MEMO) >= _MEMO_SIZE:
            _MEMO.pop(next(iter(_MEMO)))
        _MEMO[memo_key] = compute()
    return _MEMO[memo_key].copy()


def run(expr: ir.Expr) -> pd.DataFrame:
    """Execute an expression where its tables live and return the (small) result as
    pandas; memtables alone run on the embedded DuckDB."""
    out = expr.to_pandas()
    return out if isinstance(out, pd.DataFrame) else pd.DataFrame({expr.get_name(): [out]})


def whole(value: object) -> int:
    """A count from an engine's result: NULL (no row, no group) is 0."""
    return 0 if value is None or pd.isna(value) else int(value)


def sql_text(value: str) -> str:
    """``value`` as an SQL string literal (quotes doubled), for SQL kpitools writes itself."""
    return "'" + value.replace("'", "''") + "'"


def sql_ident(value: str) -> str:
    """``value`` as a quoted SQL identifier (double quotes doubled)."""
    return '"' + value.replace('"', '""') + '"'


def utc_stamp(value: pd.Timestamp | str) -> pd.Timestamp:
    """A time as a UTC pandas Timestamp (a naive one is read as UTC)."""
    stamp = pd.Timestamp(value)
    return stamp.tz_convert("UTC") if stamp.tzinfo else stamp.tz_localize("UTC")


def utc(value: pd.Timestamp | str) -> ir.TimestampScalar:
    """A UTC timestamp literal."""
    return ibis.literal(utc_stamp(value).to_pydatetime(), type=UTC)


def in_range(column: ir.TimestampValue, start: pd.Timestamp | None, end: pd.Timestamp | None) -> ir.BooleanValue:
    """``start <= column < end`` (either bound may be None): written as two comparisons
    with literals, so that a Parquet scan or a database index skips what lies outside."""
    conditions = []
    if start is not None:
        conditions.append(column >= utc(start))
    if end is not None:
        conditions.append(column < utc(end))
    return ibis.and_(*conditions) if conditions else ibis.literal(True)


def day_of(column: ir.TimestampValue) -> ir.TimestampValue:
    """The UTC day (midnight) of a timestamp."""
    return column.truncate("D")


_LITERAL_WINDOWS: contextvars.ContextVar[bool] = contextvars.ContextVar("literal_windows", default=False)


@contextlib.contextmanager
def literal_windows() -> Iterator[None]:
    """Within this block :func:`windows` writes its rows as literals in the SQL (a union of
    one-row selects) rather than as an in-memory table the embedded engine holds: for SQL
    that runs as it is in another database (``kpitools sql``). The numbers are the same;
    the in-memory table only compiles faster."""
    token = _LITERAL_WINDOWS.set(True)
    try:
        yield
    finally:
        _LITERAL_WINDOWS.reset(token)


def windows(rows: Iterable[tuple[str, str, pd.Timestamp, pd.Timestamp]]) -> ir.Table:
    """A small table of time windows: ``period`` (its name), ``window`` (what the window
    is, e.g. ``week``), ``start`` and ``end`` (UTC, end exclusive) and ``days`` (whole
    days from start to end). Joined on ``start <= t < end`` it groups rows of many
    periods in one query. See :func:`literal_windows`.
    """
    rows = [(str(p), str(w), utc_stamp(s), utc_stamp(e)) for p, w, s, e in rows]
    if not rows:
        raise ValueError("no time window given")
    days = [int((e - s) / pd.Timedelta(days=1)) for _, _, s, e in rows]
    if not _LITERAL_WINDOWS.get():
        frame = pd.DataFrame({"period": pd.Series([r[0] for r in rows], dtype="str"),
                              "window": pd.Series([r[1] for r in rows], dtype="str"),
                              "start": pd.DatetimeIndex([r[2] for r in rows]).as_unit("us"),
                              "end": pd.DatetimeIndex([r[3] for r in rows]).as_unit("us"),
                              "days": pd.Series(days, dtype="int64")})
        return ibis.memtable(frame, schema=_WINDOW_SCHEMA)
    out = []
    for (period, window, start, end), n in zip(rows, days, strict=True):
        values = {"period": ibis.literal(period, "string"), "window": ibis.literal(window, "string"),
                  "start": utc(start), "end": utc(end), "days": ibis.literal(n, "int64")}
        out.append(ops.DummyTable(values={k: v.op() for k, v in values.items()}).to_expr())
    return ibis.union(*out) if len(out) > 1 else out[0]


def period_windows(periods: Sequence[Period]) -> ir.Table:
    """:func:`windows` of the periods themselves (``window`` = ``"period"``)."""
    return windows((str(p), "period", p.start, p.end) for p in periods)


def in_periods(rows: Table, column: str, periods: Sequence[Period]) -> ir.Table:
    """The rows whose ``column`` falls in one of ``periods``, each with its ``period`` (and
    the window's columns): the overall range as a filter the scan can skip by, then a
    join to the periods."""
    t = table(rows)
    t = t.filter(in_range(t[column], min(p.start for p in periods), max(p.end for p in periods)))
    return within(t, column, period_windows(periods))


def with_medians(totals: ir.Table, rows: ir.Table, keys: Sequence[str],
                 values: dict[str, ir.Value]) -> ir.Table:
    """``totals`` (one row per ``keys``) with the exact median of each of ``values``
    (expressions over ``rows``, NULL for rows left out) per ``keys``, NULL where none.

    Written with window functions (each value's rows numbered in order, the middle one
    or two averaged), not with a median aggregate: BigQuery has no exact one, and the
    approximate ones would change the numbers.
    """
    out = totals
    for name, value in values.items():
        r = rows.select(*keys, value=value).filter(_value_present)
        ordered = ibis.window(group_by=[r[k] for k in keys], order_by=r.value)
        whole = ibis.window(group_by=[r[k] for k in keys])
        r = r.mutate(position=ibis.row_number().over(ordered), count=r.value.count().over(whole))
        middle = r.filter((r.position == (r["count"] - 1) // 2) | (r.position == r["count"] // 2))
        found = middle.group_by(list(keys)).agg(**{name: middle.value.mean()})
        out = out.left_join(found, list(keys)).select(*out.columns, name)
    return out


def _value_present(r: ir.Table) -> ir.BooleanValue:
    return r.value.notnull()


def every_period(frame: pd.DataFrame, periods: Sequence[Period]) -> pd.DataFrame:
    """A per-period result (column ``period``, one row per period at most) with a row for
    each of ``periods``, in their order; a period the engine returned nothing for has
    empty values (the caller fills its zeros)."""
    every = pd.DataFrame({"period": pd.Series([str(p) for p in periods], dtype="str")})
    return every.merge(frame.astype({"period": "str"}), on="period", how="left")


def in_order(frame: pd.DataFrame, periods: Sequence[Period]) -> pd.DataFrame:
    """The rows of a per-period result (column ``period``) in the order of ``periods``
    (an engine returns groups in any order)."""
    rank = {str(p): i for i, p in enumerate(periods)}
    order = frame["period"].map(rank).to_numpy()
    return frame.iloc[order.argsort(kind="stable")].reset_index(drop=True)


def within(rows: ir.Table, column: str, spans: ir.Table) -> ir.Table:
    """``rows`` joined to each window of ``spans`` holding ``rows[column]`` (a row in two
    overlapping windows appears twice)."""
    return rows.join(spans, [rows[column] >= spans.start, rows[column] < spans.end])
