"""MRR on a day and the period-end snapshot, against values worked out by hand."""

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import kpitools
from kpitools.metrics.revenue import mrr_on, revenue_snapshot
from kpitools.sources.validate import check_table

# A1: monthly 100 from 5 Jan, upgraded to 150 on 5 Mar (the first span ends 5 Mar, exclusive).
# A2: annual plan, 12,000 a year = 1,000 MRR, starting on 31 Jan (a month's last day).
# A3: 50 from 10 Feb, churned: its span ends 29 Feb (exclusive), so 28 Feb is its last paid day.


def test_mrr_on_days(tiny_dir):
    subs = kpitools.load(tiny_dir).subscriptions
    assert mrr_on(subs, "2024-01-30").to_dict() == {"A1": 100.0}
    # the annual plan starting on the month's last day counts on that day
    assert mrr_on(subs, "2024-01-31").to_dict() == {"A1": 100.0, "A2": 1000.0}
    assert mrr_on(subs, "2024-02-28").to_dict() == {"A1": 100.0, "A2": 1000.0, "A3": 50.0}
    # end_date is exclusive: A3 is gone on 29 Feb
    assert mrr_on(subs, "2024-02-29").to_dict() == {"A1": 100.0, "A2": 1000.0}
    # the upgrade: 100 up to 4 Mar, 150 from 5 Mar, never both
    assert mrr_on(subs, "2024-03-04")["A1"] == 100.0
    assert mrr_on(subs, "2024-03-05")["A1"] == 150.0
    # time of day is ignored
    assert mrr_on(subs, pd.Timestamp("2024-03-05 23:59", tz="UTC"))["A1"] == 150.0


def test_snapshot_month(tiny_dir):
    subs = kpitools.load(tiny_dir).subscriptions
    # 29 Feb 2024: A1 100 + A2 1000 = 1100 over 2 customers
    assert revenue_snapshot(subs, period="2024-02") == {
        "mrr": 1100.0, "arr": 13200.0, "customers": 2, "arpu": 550.0}


def test_snapshot_quarter_reads_its_last_day(tiny_dir):
    subs = kpitools.load(tiny_dir).subscriptions
    # 31 Mar 2024: A1 150 + A2 1000
    snap = revenue_snapshot(subs, period="2024-Q1")
    assert snap["mrr"] == 1150.0 and snap["customers"] == 2 and snap["arpu"] == 575.0


def test_snapshot_without_customers(tiny_dir):
    subs = kpitools.load(tiny_dir).subscriptions
    assert revenue_snapshot(subs, period="2023-12") == {"mrr": 0.0, "arr": 0.0, "customers": 0,
                                                        "arpu": None}


def test_zero_mrr_span_is_not_a_customer():
    subs = check_table(pd.DataFrame({
        "subscription_id": ["S1", "S2"], "account_id": ["A1", "A2"],
        "start_date": ["2024-01-01", "2024-01-01"], "end_date": [None, None], "mrr": [0, 10]}),
        "subscriptions")
    snap = revenue_snapshot(subs, period="2024-01")
    assert snap["customers"] == 1 and snap["mrr"] == 10.0


spans = st.lists(
    st.tuples(st.sampled_from(["A", "B", "C", "D"]), st.integers(0, 120), st.integers(0, 60),
              st.one_of(st.none(), st.integers(0, 90)), st.integers(0, 5000)),
    min_size=0, max_size=25)


@given(spans, st.integers(0, 180))
def test_mrr_matches_day_by_day_definition(rows, day):
    base = pd.Timestamp("2024-01-01", tz="UTC")
    frame = pd.DataFrame({
        "subscription_id": [f"S{i}" for i in range(len(rows))],
        "account_id": [r[0] for r in rows],
        "start_date": [base + pd.Timedelta(days=r[1]) for r in rows],
        "end_date": [None if r[3] is None else base + pd.Timedelta(days=r[1] + r[3]) for r in rows],
        "mrr": [float(r[4]) for r in rows],
    })
    subs = check_table(frame, "subscriptions")
    when = base + pd.Timedelta(days=day)
    got = mrr_on(subs, when)
    # the definition, one span at a time: active when start <= d < end (no end: active)
    expected: dict[str, float] = {}
    for account, start, _, length, mrr in rows:
        active = start <= day and (length is None or day < start + length)
        if active:
            expected[account] = expected.get(account, 0.0) + mrr
    expected = {a: v for a, v in expected.items() if v > 0}
    assert got.to_dict() == pytest.approx(expected)
    assert (got > 0).all()
