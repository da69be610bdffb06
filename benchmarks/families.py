"""The benchmarked metric families: each a kpitools function and an equivalent DuckDB
query over the same Parquet files, both end to end from the data directory (reading
included), both returning the same small, comparable result.

kpitools opens the tables a family needs with ``kpitools.load(..., check=False)``: the
contract's rules are timed on their own (``check the contract``), as DuckDB checks
nothing.
"""

from __future__ import annotations

from pathlib import Path

PERIOD_MONTHS = 12  # the MRR bridge and cohorts span the twelve months to the period



def _open(data_dir: str, *tables: str):
    import kpitools

    data = kpitools.load(data_dir, tables=list(tables), check=False)
    return data.tables[tables[0]] if len(tables) == 1 else data


def _months(period: str) -> list:
    from kpitools.periods import Period

    return Period.parse(period).last_n(PERIOD_MONTHS)


def _con():
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    return con


def _round(d: dict) -> dict:
    return {k: round(float(v), 2) for k, v in d.items()}


# --- checking the contract --------------------------------------------------------------------------


def kt_check(data_dir: str, period: str) -> dict:
    import kpitools

    return kpitools.load(data_dir).row_counts()


# --- the MRR bridge ------------------------------------------------------------------------------


def kt_mrr(data_dir: str, period: str) -> dict:
    from kpitools.metrics.mrr import mrr_movements

    subs = _open(data_dir, "subscriptions")
    t = mrr_movements(subs, periods=_months(period))
    cols = ["mrr", "new_mrr", "expansion_mrr", "contraction_mrr", "churned_mrr", "reactivation_mrr"]
    return _round(t[cols].sum().to_dict())


def db_mrr(data_dir: str, period: str) -> dict:
    months = _months(period)
    ends = ", ".join(f"DATE '{p.last_day.date()}'" for p in [months[0].previous(), *months])
    sql = f"""
    WITH days AS (SELECT unnest([{ends}]) AS d),
    spans AS (SELECT account_id, CAST(start_date AS DATE) s, CAST(end_date AS DATE) e, mrr
              FROM read_parquet('{Path(data_dir) / "subscriptions.parquet"}')
              WHERE mrr > 0 AND (end_date IS NULL OR end_date > start_date)),
    firsts AS (SELECT account_id, min(s) f FROM spans GROUP BY 1),
    grid AS (SELECT account_id, d, sum(mrr) m FROM spans JOIN days ON s <= d AND (e IS NULL OR e > d)
             GROUP BY ALL),
    full_grid AS (SELECT a.account_id, days.d, coalesce(g.m, 0) m FROM firsts a CROSS JOIN days
                  LEFT JOIN grid g ON g.account_id = a.account_id AND g.d = days.d),
    lagged AS (SELECT account_id, d, m cur, lag(m) OVER w prev, lag(d) OVER w prev_d
               FROM full_grid WINDOW w AS (PARTITION BY account_id ORDER BY d)),
    moves AS (SELECT l.*, f FROM lagged l JOIN firsts USING (account_id) WHERE prev IS NOT NULL)
    SELECT sum(cur) mrr,
           sum(CASE WHEN prev = 0 AND cur > 0 AND f > prev_d THEN cur ELSE 0 END) new_mrr,
           sum(CASE WHEN prev > 0 AND cur > prev THEN cur - prev ELSE 0 END) expansion_mrr,
           sum(CASE WHEN cur > 0 AND cur < prev THEN prev - cur ELSE 0 END) contraction_mrr,
           sum(CASE WHEN prev > 0 AND cur = 0 THEN prev ELSE 0 END) churned_mrr,
           sum(CASE WHEN prev = 0 AND cur > 0 AND f <= prev_d THEN cur ELSE 0 END) reactivation_mrr
    FROM moves"""
    row = _con().execute(sql).df().iloc[0]
    return _round(row.to_dict())


# --- cohort retention ------------------------------------------------------------------------------


def kt_cohorts(data_dir: str, period: str) -> dict:
    from kpitools.metrics.retention import revenue_cohorts

    subs = _open(data_dir, "subscriptions")
    t = revenue_cohorts(subs, through=period)
    return {"cells": len(t), "active": int(t["active"].sum()), "members": int(t["cohort_size"].sum())}


def db_cohorts(data_dir: str, period: str) -> dict:
    from kpitools.periods import Period

    end = Period.parse(period).last_day.date()
    sql = f"""
    WITH spans AS (SELECT account_id, CAST(start_date AS DATE) s, CAST(end_date AS DATE) e, mrr
              FROM read_parquet('{Path(data_dir) / "subscriptions.parquet"}')
              WHERE mrr > 0 AND (end_date IS NULL OR end_date > start_date)),
    firsts AS (SELECT account_id, date_trunc('month', min(s)) c FROM spans GROUP BY 1
               HAVING min(s) <= DATE '{end}'),
    months AS (SELECT last_day(m::DATE) d, m::DATE m FROM generate_series(
               (SELECT min(c) FROM firsts), DATE '{end}', INTERVAL 1 MONTH) t(m)),
    cells AS (SELECT f.account_id, f.c, months.d,
                     datediff('month', f.c, months.m) k FROM firsts f JOIN months ON months.m >= f.c),
    paying AS (SELECT DISTINCT cells.account_id, cells.d FROM cells JOIN spans
               ON spans.account_id = cells.account_id AND s <= cells.d AND (e IS NULL OR e > cells.d))
    SELECT count(DISTINCT (c, k)) cells, count(p.account_id) active, count(*) members
    FROM cells LEFT JOIN paying p ON p.account_id = cells.account_id AND p.d = cells.d"""
    row = _con().execute(sql).df().iloc[0]
    return {k: int(v) for k, v in row.to_dict().items()}


# --- the marketing funnel --------------------------------------------------------------------------


def kt_funnel(data_dir: str, period: str) -> dict:
    from kpitools.metrics.funnel import cohort_conversion, period_flow

    leads = _open(data_dir, "leads")
    flow = period_flow(leads, period=period).set_index("stage")["count"]
    conv = cohort_conversion(leads, period=period).set_index("stage")["count"]
    return {**{f"flow_{k}": int(v) for k, v in flow.items()}, **{f"cohort_{k}": int(v) for k, v in conv.items()}}


def db_funnel(data_dir: str, period: str) -> dict:
    from kpitools.periods import Period

    p = Period.parse(period)
    lo, hi = p.start.date(), p.end.date()
    stages = [("contacts", "created_at"), ("leads", "lead_at"), ("mqls", "mql_at"), ("sals", "sal_at"),
              ("sqls", "sql_at"), ("customers_won", "won_at")]
    flow = ", ".join(f"count(*) FILTER ({c} >= TIMESTAMPTZ '{lo}' AND {c} < TIMESTAMPTZ '{hi}') flow_{n}"
                     for n, c in stages)
    hit = [f"({c} IS NOT NULL AND {c} <= created_at + INTERVAL 90 DAY)" for _, c in stages]
    cohort = ", ".join(f"count(*) FILTER ({' OR '.join(hit[i:])}) cohort_{n}" for i, (n, _) in enumerate(stages))
    src = f"read_parquet('{Path(data_dir) / 'leads.parquet'}')"
    con = _con()
    a = con.execute(f"SELECT {flow} FROM {src}").df().iloc[0].to_dict()
    b = con.execute(f"SELECT {cohort} FROM {src} WHERE created_at >= TIMESTAMPTZ '{lo}' "
                    f"AND created_at < TIMESTAMPTZ '{hi}'").df().iloc[0].to_dict()
    return {k: int(v) for k, v in {**a, **b}.items()}


STEPS = ("signup", "onboarding_viewed", "activated", "purchase")


def kt_event_funnel(data_dir: str, period: str) -> dict:
    import pandas as pd

    from kpitools.metrics.event_funnel import event_funnel

    events = _open(data_dir, "events")
    t = event_funnel(events, STEPS, period=period, window=pd.Timedelta(days=30))
    return {f"step_{i + 1}": int(v) for i, v in enumerate(t["users"])}


def db_event_funnel(data_dir: str, period: str) -> dict:
    from kpitools.periods import Period

    p = Period.parse(period)
    src = f"read_parquet('{Path(data_dir) / 'events.parquet'}')"
    parts = [f"""e AS (SELECT user_id, timestamp t, event FROM {src} WHERE event IN {STEPS}),
    s1 AS (SELECT user_id, min(t) t1 FROM e WHERE event = '{STEPS[0]}'
           AND t >= TIMESTAMPTZ '{p.start.date()}' AND t < TIMESTAMPTZ '{p.end.date()}' GROUP BY 1)"""]
    for n in range(2, len(STEPS) + 1):
        prev_cols = ", ".join(f"a.t{i}" for i in range(1, n))
        parts.append(f"""s{n} AS (SELECT a.user_id, {prev_cols},
            CASE WHEN b.t <= a.t1 + INTERVAL 30 DAY THEN b.t END t{n}
            FROM s{n - 1} a ASOF LEFT JOIN (SELECT user_id, t FROM e WHERE event = '{STEPS[n - 1]}') b
            ON a.user_id = b.user_id AND b.t > a.t{n - 1})""")
    counts = ", ".join(f"count(t{i}) step_{i}" for i in range(1, len(STEPS) + 1))
    row = _con().execute(f"WITH {', '.join(parts)} SELECT {counts} FROM s{len(STEPS)}").df().iloc[0]
    return {k: int(v) for k, v in row.to_dict().items()}


# --- active users and sessions ---------------------------------------------------------------------


def kt_active(data_dir: str, period: str) -> dict:

    from kpitools.metrics.engagement import active_series
    from kpitools.periods import Period

    p = Period.parse(period)
    s = active_series(_open(data_dir, "events"), start=p.start, end=p.end)
    return {c: int(s[c].sum()) for c in ("dau", "wau", "mau")}


def db_active(data_dir: str, period: str) -> dict:
    from kpitools.periods import Period

    p = Period.parse(period)
    lo, hi = p.start.date(), p.last_day.date()
    sql = f"""
    WITH ud AS (SELECT DISTINCT user_id, CAST(timestamp AS DATE) dy
                FROM read_parquet('{Path(data_dir) / 'events.parquet'}')
                WHERE timestamp >= TIMESTAMPTZ '{lo}' - INTERVAL 30 DAY
                  AND timestamp < TIMESTAMPTZ '{p.end.date()}'),
    days AS (SELECT d::DATE d FROM generate_series(DATE '{lo}', DATE '{hi}', INTERVAL 1 DAY) t(d)),
    counts AS (SELECT d,
        count(DISTINCT user_id) FILTER (WHERE dy = d) dau,
        count(DISTINCT user_id) FILTER (WHERE dy > d - 7) wau,
        count(DISTINCT user_id) mau
        FROM days JOIN ud ON ud.dy > days.d - 30 AND ud.dy <= days.d GROUP BY d)
    SELECT sum(dau) dau, sum(wau) wau, sum(mau) mau FROM counts"""
    return {k: int(v) for k, v in _con().execute(sql).df().iloc[0].to_dict().items()}


def kt_sessions(data_dir: str, period: str) -> dict:
    from kpitools.engine import run
    from kpitools.metrics.sessions import sessions_query

    s = sessions_query(_open(data_dir, "events"))
    row = run(s.aggregate(sessions=s.count(), pages=s.pages.sum(), bounces=s.bounce.cast("int64").sum(),
                          total_seconds=s.duration_s.sum().round())).iloc[0]
    return {k: int(v) for k, v in row.to_dict().items()}


def db_sessions(data_dir: str, period: str) -> dict:
    sql = f"""
    WITH e AS (SELECT user_id, timestamp t, event,
                      CASE WHEN lag(timestamp) OVER w IS NULL
                             OR timestamp - lag(timestamp) OVER w > INTERVAL 30 MINUTE THEN 1 ELSE 0 END new
               FROM read_parquet('{Path(data_dir) / 'events.parquet'}')
               WINDOW w AS (PARTITION BY user_id ORDER BY timestamp)),
    s AS (SELECT user_id, t, event, sum(new) OVER (PARTITION BY user_id ORDER BY t
                 RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) sid FROM e),
    g AS (SELECT user_id, sid, count(*) n, count(*) FILTER (event = 'page_view') pages,
                 epoch(max(t)) - epoch(min(t)) secs FROM s GROUP BY ALL)
    SELECT count(*) sessions, sum(pages) pages, count(*) FILTER (n = 1 AND pages = 1) bounces,
           round(sum(secs)) total_seconds FROM g"""
    return {k: int(v) for k, v in _con().execute(sql).df().iloc[0].to_dict().items()}


FAMILIES = {
    "MRR grid and movements (12 months)": (kt_mrr, db_mrr),
    "revenue cohort retention": (kt_cohorts, db_cohorts),
    "marketing funnel (both views)": (kt_funnel, db_funnel),
    "ordered event funnel (4 steps, 30 days)": (kt_event_funnel, db_event_funnel),
    "DAU/WAU/MAU series (one month)": (kt_active, db_active),
    "sessionisation (whole log)": (kt_sessions, db_sessions),
}


# --- kpitools only: the overview's work, for peak memory against the loaded tables ----------------


def kt_history(data_dir: str, period: str) -> dict:
    import kpitools
    from kpitools.metrics.compare import kpi_history
    from kpitools.periods import Period

    data = kpitools.load(data_dir)
    history = kpi_history(data, Period.parse(period).last_n(13))  # every key, as the overview
    return {"periods": len(history), "mau": float(history["mau"].iloc[-1])}


KPITOOLS_ONLY = {"check the contract (every table, every rule)": kt_check,
                 "load + KPIs of 13 periods (the overview's history)": kt_history}
