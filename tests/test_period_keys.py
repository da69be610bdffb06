"""One period's keys from a Parquet event log that reaches far before and after the
period, the period's filter in the Parquet scan, and the tables' time bounds.

The hand-made log below is written as Parquet in row groups of 4 rows. Period: January 2024.

  a   events in 2023-06 (long before the window) and in January: not new
  b   first event 20 Jan: new; signs up 20 Jan, activated 20 Feb (after the window,
      31 days: not within 14, but it is its time to value)
  c   only in 2023: not active
  d   first event 30 Dec (in the margin before the month), active in January: not new
  e   first event 2 Jan: new; trial 2 Jan, activated 3 Jan
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kpitools import compute_kpis, load

ROWS = [
    ("c", "2023-03-01T10:00:00Z", "page_view"),
    ("a", "2023-06-01T10:00:00Z", "page_view"),
    ("c", "2023-06-05T10:00:00Z", "activated"),
    ("a", "2023-06-07T10:00:00Z", "activated"),
    ("d", "2023-12-30T10:00:00Z", "page_view"),
    ("e", "2024-01-02T09:00:00Z", "trial_started"),
    ("e", "2024-01-02T10:00:00Z", "page_view"),
    ("e", "2024-01-03T10:00:00Z", "activated"),
    ("a", "2024-01-05T10:00:00Z", "page_view"),
    ("d", "2024-01-06T10:00:00Z", "page_view"),
    ("b", "2024-01-20T10:00:00Z", "signup"),
    ("b", "2024-01-20T11:00:00Z", "page_view"),
    ("a", "2024-01-31T23:00:00Z", "page_view"),
    ("b", "2024-02-20T11:00:00Z", "activated"),
    ("a", "2024-03-01T10:00:00Z", "page_view"),
]


def _events() -> pd.DataFrame:
    frame = pd.DataFrame(ROWS, columns=["user_id", "timestamp", "event"])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True).dt.as_unit("ms")
    return frame


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    out = tmp_path / "data"
    out.mkdir()
    pq.write_table(pa.Table.from_pandas(_events(), preserve_index=False), out / "events.parquet", row_group_size=4)
    return out


def test_period_keys_by_hand(log_dir):
    k = compute_kpis(load(log_dir), "2024-01")
    assert k["mau"] == 4                 # a, b, d, e
    assert k["new_users"] == 2           # b and e: a and d had events before January
    # (user, day) pairs: e on the 2nd (two events) and 3rd, a 5th, d 6th, b 20th, a 31st
    assert k["dau_avg"] == round(6 / 31, 6)
    assert k["activation_rate"] == 0     # b activated after 31 days, not within 14
    assert k["time_to_value_days"] == round(31 + 1 / 24, 6)  # 20 Jan 10:00 to 20 Feb 11:00
    assert k["trial_to_pql_rate"] == 1   # e activated the day after its trial


def test_kpis_are_computed_once_per_dataset_and_period(small_dir):
    data = load(small_dir)
    first = compute_kpis(data, "2025-03")
    first["mau"] = -1  # the caller's copy
    assert compute_kpis(data, "2025-03")["mau"] != -1
    assert sum(1 for k in data.cache if k[0] == "kpis 2025-03") == 1


def test_csv_event_log_is_read_whole(tmp_path):
    out = tmp_path / "csv"
    out.mkdir()
    _events().assign(timestamp=lambda f: f["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_csv(
        out / "events.csv", index=False)
    data = load(out)
    assert data.row_counts()["events"] == len(ROWS)
    assert compute_kpis(data, "2024-01")["new_users"] == 2


def test_time_bounds_by_hand(log_dir):
    bounds = load(log_dir).time_bounds
    assert bounds["table"].tolist() == ["events"]
    assert bounds["first"].iloc[0] == pd.Timestamp("2023-03-01T10:00:00Z")
    assert bounds["last"].iloc[0] == pd.Timestamp("2024-03-01T10:00:00Z")


def test_a_periods_filter_reaches_the_parquet_scan(log_dir):
    from kpitools.engine import connection, in_range

    events = load(log_dir).events
    query = events.filter(in_range(events.timestamp, pd.Timestamp("2024-01-01"), pd.Timestamp("2024-02-01")))
    plan = "\n".join(r[1] for r in connection().raw_sql(f"EXPLAIN {query.compile()}").fetchall())
    scan = plan[plan.index("READ_PARQUET") if "READ_PARQUET" in plan else plan.index("PARQUET_SCAN"):]
    assert "Filters" in scan and "timestamp" in scan.split("Filters", 1)[1][:200]


def test_events_out_of_time_order_give_the_same_keys(small_dir):
    data = load(small_dir)
    shuffled = load(small_dir)
    shuffled.tables["events"] = shuffled.events.to_pandas().sample(frac=1.0, random_state=5).reset_index(drop=True)
    assert compute_kpis(shuffled, "2025-04") == compute_kpis(data, "2025-04")


def test_funnel_history_matches_each_period_over_the_whole_log(small_dir):
    from kpitools.metrics.funnel import funnel_history, funnel_kpis

    data = load(small_dir)
    periods = ["2025-02", "2025-03", "2025-Q2"]
    history = funnel_history(periods=periods, leads=data.leads, events=data.events,
                             opportunities=data.opportunities, subscriptions=data.subscriptions)
    for row, p in zip(history.to_dict("records"), periods, strict=True):
        whole = funnel_kpis(period=p, leads=data.leads, events=data.events, opportunities=data.opportunities,
                            subscriptions=data.subscriptions)
        assert {k: row[k] for k in whole} == pytest.approx(whole, nan_ok=True), p


def test_nanosecond_parquet_times_are_read_as_times(log_dir):
    from kpitools.engine import in_range

    path = log_dir / "events.parquet"
    frame = _events()
    frame["timestamp"] = frame["timestamp"].dt.as_unit("ns")  # how pandas writes Parquet by default
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=4)
    events = load(log_dir).events
    query = events.filter(in_range(events.timestamp, pd.Timestamp("2024-01-01"), pd.Timestamp("2024-02-01")))
    assert "VARCHAR" not in query.compile()  # compared as times, not parsed from text in every query
    assert compute_kpis(load(log_dir), "2024-01")["mau"] == 4
