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
from ..periods import Period, parse_periods
from ..sources.schema import TABLES
from .activation import ACTIVATION_KEYS, activation_query
from .activity import activity_counts_query
from .economics import paid_cac_query
from .economics import revenue_query as recognised_query
from .engagement import (
    ENGAGEMENT_KEYS,
    active_query,
    active_series_query,
    feature_adoption_query,
    lifecycle_query,
)
from .event_funnel import event_funnel_query
from .funnel import conversion_query, flow_query, pipeline_query
from .mrr import bridge_query
from .nps import nps_query
from .revenue import REVENUE_KEYS, early_churn_query, revenue_query
from .sessions import SESSION_KEYS, session_query
from .spend import spend_query
from .trials import trial_query
from .visitors import unique_visitors_query

__all__ = ["Query", "QUERIES", "EXPRESSIONS", "query_for", "contract_tables", "sql", "compile_all", "DIALECTS"]

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
    Query(REVENUE_KEYS, ("subscriptions",), lambda t, periods: revenue_query(t["subscriptions"], periods=periods)),
    Query(("early_churn_rate",), ("subscriptions",),
          lambda t, periods: _rate(early_churn_query(t["subscriptions"], periods=periods))),
    Query(ACTIVATION_KEYS, ("events",), lambda t, periods: activation_query(t["events"], periods=periods)),
    Query(("nps", "promoters", "passives", "detractors"), ("nps",),
          lambda t, periods: nps_query(t["nps"], periods=periods)),
    Query(("sm_spend", "marketing_spend", "sales_spend"), ("spend",),
          lambda t, periods: spend_query(t["spend"], periods=periods)),
    Query(("pipeline_volume", "weighted_pipeline"), ("opportunities",),
          lambda t, periods: pipeline_query(t["opportunities"], periods=periods)),
]


def _rate(t: ir.Table) -> ir.Table:
    return t.mutate(early_churn_rate=t.early_churned / t.early_churn_cohort.nullif(0))


# every engine expression of the metric families, for the portable SQL test: name -> (tables, build)
P = Sequence[Period]
EXPRESSIONS: dict[str, tuple[tuple[str, ...], Callable[[Mapping[str, ir.Table], P], ir.Table]]] = {
    "active users": (("events",), lambda t, p: active_query(t["events"], periods=p)),
    "active series": (("events",), lambda t, p: active_series_query(t["events"], start=p[0].start, end=p[0].end)),
    "lifecycle": (("events",), lambda t, p: lifecycle_query(t["events"], periods=p)),
    "feature adoption": (("events",), lambda t, p: feature_adoption_query(t["events"], periods=p)),
    "sessions": (("events",), lambda t, p: session_query(t["events"], periods=p)),
    "sessions by channel": (("events",), lambda t, p: session_query(t["events"], periods=p, by="channel")),
    "visitors by channel": (("events",), lambda t, p: unique_visitors_query(t["events"], periods=p, by="channel")),
    "activation": (("events",), lambda t, p: activation_query(t["events"], periods=p)),
    "event funnel": (("events",), lambda t, p: event_funnel_query(
        t["events"], ["page_view", "signup", "activated"], period=p[0], by="channel")),
    "activity cohorts": (("events",), lambda t, p: activity_counts_query(
        t["events"], origin=p[0].shift(-6), through=p[0], by="channel")),
    "MRR bridge": (("subscriptions",), lambda t, p: bridge_query(t["subscriptions"], periods=p, year_ago=True)),
    "revenue": (("subscriptions",), lambda t, p: revenue_query(t["subscriptions"], periods=p)),
    "recognised revenue": (("subscriptions",), lambda t, p: recognised_query(t["subscriptions"], periods=p)),
    "early churn": (("subscriptions",), lambda t, p: early_churn_query(t["subscriptions"], periods=p)),
    "paid CAC": (("subscriptions", "accounts", "spend"), lambda t, p: paid_cac_query(
        t["subscriptions"], t["accounts"], t["spend"], periods=p)),
    "spend": (("spend",), lambda t, p: spend_query(t["spend"], periods=p)),
    "NPS": (("nps",), lambda t, p: nps_query(t["nps"], periods=p)),
    "funnel flow": (("leads",), lambda t, p: flow_query(t["leads"], periods=p, by="channel")),
    "cohort conversion": (("leads",), lambda t, p: conversion_query(t["leads"], periods=p, by="channel")),
    "trials": (("events", "subscriptions"), lambda t, p: trial_query(
        t["events"], periods=p, subscriptions=t["subscriptions"], by="channel")),
    "pipeline": (("opportunities",), lambda t, p: pipeline_query(t["opportunities"], periods=p, by="channel")),
}


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
        expr = query.build(tables, parse_periods(periods))
        return ibis.to_sql(expr, dialect=dialect)


def compile_all(name: str, *, periods: Sequence[Period | str], dialect: str) -> str:
    """The SQL of one of :data:`EXPRESSIONS` over the contract's unbound tables."""
    needs, build = EXPRESSIONS[name]
    with literal_windows():
        return ibis.to_sql(build(contract_tables(needs), parse_periods(periods)), dialect=dialect)
