"""A cold DuckDB process computing one period's engagement keys from an event log.

    python benchmarks/duck_engagement.py EVENTS.parquet START END DAYS

The baseline of the cold ``kpitools kpis --period --keys`` benchmark, hand-written from
spec/metrics.md: DAU (mean distinct users per day), MAU, new users (active in the
period, no event before it), and the session keys: sessions cut from each user's events
at 30 minutes of inactivity (events from two days before the period to one day after
it, as kpitools reads them; events at the same time fall in the same session), a session
belonging to the period it starts in; mean
duration over all sessions; pages per session and bounce rate over website sessions
(with a ``page_view``), a bounce being a session of one ``page_view`` and nothing else.
Printed as JSON.
"""

import json
import sys

import duckdb

path, lo, hi, days = sys.argv[1:5]
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
query = f"""
WITH src AS (SELECT user_id, timestamp, event FROM read_parquet('{path}')),
e AS (SELECT * FROM src WHERE timestamp >= TIMESTAMPTZ '{lo}' AND timestamp < TIMESTAMPTZ '{hi}'),
pu AS (SELECT DISTINCT user_id FROM e),
before AS (SELECT DISTINCT user_id FROM src WHERE timestamp < TIMESTAMPTZ '{lo}'),
near AS (SELECT user_id, timestamp, event FROM src
         WHERE timestamp >= TIMESTAMPTZ '{lo}' - INTERVAL 2 DAY AND timestamp < TIMESTAMPTZ '{hi}' + INTERVAL 1 DAY),
marked AS (SELECT *, CASE WHEN lag(timestamp) OVER w IS NULL
                            OR timestamp - lag(timestamp) OVER w > INTERVAL 30 MINUTE THEN 1 ELSE 0 END AS first
           FROM near WINDOW w AS (PARTITION BY user_id ORDER BY timestamp)),
numbered AS (SELECT *, sum(first) OVER (PARTITION BY user_id ORDER BY timestamp
                                         RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS session
             FROM marked),
s AS (SELECT user_id, session, min(timestamp) AS start, epoch(max(timestamp)) - epoch(min(timestamp)) AS secs,
             count(*) AS n, count(*) FILTER (WHERE event = 'page_view') AS pages
      FROM numbered GROUP BY user_id, session),
ps AS (SELECT * FROM s WHERE start >= TIMESTAMPTZ '{lo}' AND start < TIMESTAMPTZ '{hi}')
SELECT (SELECT count(*) FROM (SELECT DISTINCT user_id, CAST(timestamp AS DATE) FROM e)) / {int(days)} AS dau_avg,
       (SELECT count(*) FROM pu) AS mau,
       (SELECT count(*) FROM pu ANTI JOIN before USING (user_id)) AS new_users,
       (SELECT count(*) FROM ps) AS sessions,
       (SELECT avg(secs) FROM ps) AS avg_session_duration_s,
       (SELECT sum(pages) / count(*) FROM ps WHERE pages > 0) AS pages_per_session,
       (SELECT count(*) FILTER (WHERE n = 1 AND pages = 1) / count(*) FROM ps WHERE pages > 0) AS bounce_rate
"""
print(json.dumps({k: float(v) for k, v in con.execute(query).df().iloc[0].to_dict().items()}))
