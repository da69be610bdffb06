"""A cold DuckDB process computing one period's engagement keys from an event log.

    python benchmarks/duck_engagement.py EVENTS.parquet START END DAYS WEEKS_START WEEKS_END

The baseline of the cold ``kpitools kpis --period`` benchmark: DAU (mean distinct users
per day), WAU (mean distinct users per ISO week whose Thursday is in the period), MAU,
new users (active in the period, no event before it) and unique visitors, printed as JSON.
"""

import json
import sys

import duckdb

path, lo, hi, days, wlo, whi = sys.argv[1:7]
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
query = f"""
WITH src AS (SELECT user_id, timestamp, event FROM read_parquet('{path}')),
e AS (SELECT * FROM src WHERE timestamp >= TIMESTAMPTZ '{lo}' AND timestamp < TIMESTAMPTZ '{hi}'),
w AS (SELECT DISTINCT user_id, date_trunc('week', timestamp) wk FROM src
      WHERE timestamp >= TIMESTAMPTZ '{wlo}' AND timestamp < TIMESTAMPTZ '{whi}'),
pu AS (SELECT DISTINCT user_id FROM e),
before AS (SELECT DISTINCT user_id FROM src WHERE timestamp < TIMESTAMPTZ '{lo}')
SELECT (SELECT count(*) FROM (SELECT DISTINCT user_id, CAST(timestamp AS DATE) FROM e)) / {int(days)} AS dau_avg,
       (SELECT count(*) FROM w) / (SELECT count(DISTINCT wk) FROM w) AS wau_avg,
       (SELECT count(*) FROM pu) AS mau,
       (SELECT count(*) FROM pu ANTI JOIN before USING (user_id)) AS new_users,
       (SELECT count(DISTINCT user_id) FROM e WHERE event = 'page_view') AS unique_visitors
"""
print(json.dumps({k: float(v) for k, v in con.execute(query).df().iloc[0].to_dict().items()}))
