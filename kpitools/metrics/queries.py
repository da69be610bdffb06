"""Each KPI key's engine expression: what ``kpitools sql KEY`` prints and what the portable
SQL test compiles for every dialect.

A query takes the contract's tables (Ibis tables, by name) and the periods, and returns
one expression with a row per period and the key among its columns. By default the
tables are unbound and named as the contract's (``events``, ``subscriptions``, ...), so
the SQL runs as it is in a database holding tables of those names.

>>> print(sql("mau", periods=["2026-09"], dialect="snowflake"))   # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from ..engine import literal_windows
from ..errors import DialectError, KeyNameError
from ..periods import Period
from ..sources.schema import TABLES
from .engagement import ENGAGEMENT_KEYS, active_query, feature_adoption_query
from .funnel import unique_visitors_query
from .sessions import SESSION_KEYS, session_query

__all__ = ["Query", "QUERIES", "query_for", "contract_tables", "sql", "DIALECTS"]

# the dialects every query must compile for (the portable SQL test checks each)
DIALECTS = ("duckdb", "postgres", "snowflake", "bigquery")


@dataclass(frozen=True)
class Query:
    """The expression computing some keys: ``needs`` the tables it reads, ``build(tables,
    periods)`` the expression (one row per period)."""

    keys: tuple[str, ...]
    needs: tuple[str, ...]
    build: Callable[[Mapping[str, ir.Table], Sequence[Period]], ir.Table]


QUERIES: list[Query] = [
    Query(ENGAGEMENT_KEYS, ("events",), lambda t, periods: active_query(t["events"], periods=periods)),
    Query(tuple(k for k in SESSION_KEYS if k != "unique_visitors"), ("events",),
          lambda t, periods: session_query(t["events"], periods=periods)),
    Query(("unique_visitors",), ("events",),
          lambda t, periods: unique_visitors_query(t["events"], periods=periods).rename(
              unique_visitors="visitors")),
    Query(("feature_adoption_rate",), ("events",),
          lambda t, periods: feature_adoption_query(t["events"], periods=periods).rename(
              feature_adoption_rate="adoption")),
]


def query_for(key: str) -> Query:
    """The query computing ``key``; KeyNameError for a key no query computes (yet)."""
    for query in QUERIES:
        if key.split(".")[0] in query.keys:
            return query
    known = ", ".join(k for q in QUERIES for k in q.keys)
    raise KeyNameError(f"no SQL for KPI key {key!r}; the keys with SQL are {known}")


def contract_tables(names: Sequence[str] | None = None) -> dict[str, ir.Table]:
    """Unbound Ibis tables named and typed as the contract's tables."""
    return {n: ibis.table(TABLES[n].engine_schema(), name=n) for n in (names or TABLES)}


def sql(key: str, *, periods: Sequence[Period | str], dialect: str = "duckdb",
        tables: Mapping[str, ir.Table] | None = None) -> str:
    """The SQL computing ``key`` for each of ``periods`` in ``dialect`` (any Ibis knows:
    duckdb, postgres, snowflake, bigquery, pyspark, ...)."""
    query = query_for(key)
    import sqlglot

    try:
        sqlglot.Dialect.get_or_raise(dialect)
    except ValueError:
        raise DialectError(f"unknown SQL dialect {dialect!r}; for example duckdb, postgres, snowflake, "
                           "bigquery, databricks, trino") from None
    tables = dict(tables) if tables is not None else contract_tables(query.needs)
    with literal_windows():
        expr = query.build(tables, [Period.parse(p) for p in periods])
        return ibis.to_sql(expr, dialect=dialect)
