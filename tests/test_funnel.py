"""The marketing funnel, the trial funnel, the pipeline and ordered event funnels, on
hand-worked tables.

Leads (January 2024 is the period):
  L1  contact 5 Jan: lead 6, MQL 10, SAL 15, SQL 20 Jan, won 10 Feb   (the whole way)
  L2  contact 10 Jan: lead 11, MQL 12 Jan                               (stops at MQL)
  L3  contact 20 Jan: lead 21 Jan, SQL 25 Jan                           (skips MQL and SAL)
  L4  contact 20 Dec 2023: lead 21 Dec, MQL 3 Jan, SAL 5, SQL 8, won 15 Jan (before the period,
      converting inside it)
  L5  contact 25 Jan: lead 1 Jun                                         (outside the 90-day window)
"""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kpitools.metrics.event_funnel import event_funnel, funnel_paths, time_to_convert, window_complete
from kpitools.metrics.funnel import cohort_conversion, funnel_history, funnel_kpis, period_flow, pipeline, trial_funnel
from kpitools.sources.validate import check_table

NA = None


@pytest.fixture
def leads():
    rows = [
        ("L1", "2024-01-05", "organic", "2024-01-06", "2024-01-10", "2024-01-15", "2024-01-20", "2024-02-10"),
        ("L2", "2024-01-10", "organic", "2024-01-11", "2024-01-12", NA, NA, NA),
        ("L3", "2024-01-20", "paid", "2024-01-21", NA, NA, "2024-01-25", NA),
        ("L4", "2023-12-20", "paid", "2023-12-21", "2024-01-03", "2024-01-05", "2024-01-08", "2024-01-15"),
        ("L5", "2024-01-25", "paid", "2024-06-01", NA, NA, NA, NA),
    ]
    cols = ["lead_id", "created_at", "channel", "lead_at", "mql_at", "sal_at", "sql_at", "won_at"]
    return check_table(pd.DataFrame(rows, columns=cols), "leads")


@pytest.fixture
def events():
    rows = [  # four website visitors in January (v5 only clicked), and two trials
        ("v1", "2024-01-02T10:00:00Z", "page_view", "organic", NA),
        ("v1", "2024-01-09T10:00:00Z", "page_view", "organic", NA),
        ("v2", "2024-01-03T10:00:00Z", "page_view", "paid", NA),
        ("v3", "2024-01-04T10:00:00Z", "page_view", "paid", NA),
        ("v4", "2024-01-30T10:00:00Z", "page_view", "organic", NA),
        ("v5", "2024-01-30T10:00:00Z", "click", "organic", NA),
        ("v9", "2023-12-30T10:00:00Z", "page_view", "organic", NA),
        ("u1", "2024-01-03T10:00:00Z", "trial_started", NA, "A1"),
        ("u1", "2024-01-05T10:00:00Z", "activated", NA, "A1"),
        ("u2", "2024-01-10T10:00:00Z", "trial_started", NA, "A2"),
        ("u2", "2024-04-20T10:00:00Z", "activated", NA, "A2"),  # 101 days later: not within 90
        ("u3", "2023-12-28T10:00:00Z", "trial_started", NA, "A3"),
    ]
    return check_table(pd.DataFrame(rows, columns=["user_id", "timestamp", "event", "channel", "account_id"]),
                       "events")


@pytest.fixture
def subs():
    return check_table(pd.DataFrame({
        "subscription_id": ["S1", "S2"], "account_id": ["A1", "A2"],
        "start_date": ["2024-01-03", "2024-05-01"], "end_date": [NA, NA], "mrr": [100, 100]}), "subscriptions")


def test_period_flow(leads, events):
    flow = period_flow(leads, period="2024-01", events=events).set_index("stage")
    assert flow["count"].tolist() == [4, 4, 3, 3, 2, 3, 1]  # visitors, contacts ... customers won
    # a ratio of different people: more SQLs (L1, L3, L4) than SALs (L1, L4) this month
    assert flow.loc["sqls", "rate_from_previous"] == 3 / 2
    assert flow.loc["leads", "rate_from_start"] == 3 / 4


def test_cohort_conversion(leads):
    conv = cohort_conversion(leads, period="2024-01").set_index("stage")
    # contacts L1, L2, L3, L5; L3's SQL implies MQL and SAL; L5's lead came after 90 days
    assert conv["count"].tolist() == [4, 3, 3, 2, 2, 1]
    assert conv.loc["leads", "rate_from_previous"] == 3 / 4
    assert conv.loc["customers_won", "rate_from_start"] == 1 / 4
    assert conv.loc["mqls", "median_days_from_previous"] == 2.5  # L1 4 days, L2 1 day
    assert conv.loc["sqls", "median_days_from_previous"] == 5     # L1 only has both
    assert conv.loc["customers_won", "median_days_from_previous"] == 21
    short = cohort_conversion(leads, period="2024-01", window_days=30).set_index("stage")
    assert short.loc["customers_won", "count"] == 0  # L1 was won on day 36


def test_window_completeness(leads):
    end = pd.Timestamp("2024-03-01", tz="UTC")
    assert not cohort_conversion(leads, period="2024-01", data_end=end)["window_complete"].any()
    end = pd.Timestamp("2024-06-01", tz="UTC")
    assert cohort_conversion(leads, period="2024-01", data_end=end)["window_complete"].all()


def test_trial_funnel(events, subs):
    trial = trial_funnel(events, period="2024-01", subscriptions=subs).set_index("stage")
    assert trial["count"].tolist() == [4, 2, 1, 1]
    assert trial.loc["trials", "rate_from_previous"] == 2 / 4
    assert trial.loc["pqls", "rate_from_previous"] == 1 / 2
    assert trial.loc["paid", "rate_from_previous"] == 1 / 2  # A1 paid on its trial day; A2 too late
    assert trial.loc["pqls", "median_days"] == 2


def test_trial_pql_counts_activation_after_the_trial_only(events, subs):
    # u2 had activated before its trial (an earlier one) and again 2 days into this one:
    # the later activation makes it a PQL, 2 days after its trial start; the early one
    # alone would not (u1's activation counts as before)
    early = check_table(pd.DataFrame({"user_id": ["u2", "u2"], "event": ["activated", "activated"],
                                      "timestamp": ["2023-11-01T09:00:00Z", "2024-01-12T10:00:00Z"]}),
                        "events")
    trial = trial_funnel(pd.concat([events, early], ignore_index=True), period="2024-01",
                         subscriptions=subs).set_index("stage")
    assert trial.loc["pqls", "count"] == 2
    assert trial.loc["pqls", "median_days"] == 2
    only_before = pd.concat([events, early.iloc[:1]], ignore_index=True)
    assert trial_funnel(only_before, period="2024-01", subscriptions=subs).set_index("stage").loc[
        "pqls", "count"] == 1


def test_funnel_kpis(leads, events, subs):
    k = funnel_kpis(period="2024-01", leads=leads, events=events, subscriptions=subs)
    assert (k["visitors"], k["contacts"], k["leads"], k["customers_won"]) == (4, 4, 3, 1)
    assert k["visitor_to_lead_rate"] == 3 / 4
    assert k["lead_to_sql_rate"] == 2 / 3 and k["lead_to_customer_rate"] == 1 / 3
    assert k["mql_to_sql_rate"] == 2 / 3
    assert k["visitor_to_trial_rate"] == 2 / 4 and k["trial_to_paid_rate"] == 1 / 2


def test_pipeline():
    opps = check_table(pd.DataFrame({
        "opportunity_id": ["O1", "O2", "O3", "O4"],
        "created_at": ["2024-01-05", "2024-01-10", "2024-01-25", "2024-02-02"],
        "amount": [1000, 800, 500, 2000], "probability": [0.5, 1.0, 0.0, 0.25],
        "closed_at": [NA, "2024-01-20", "2024-02-05", NA], "status": ["open", "won", "lost", "open"]}),
        "opportunities")
    pipe = pipeline(opps, periods=["2024-01", "2024-02"]).set_index("period")
    # end of January: O1 open, O3 still open (closed 5 Feb); O2 closed 20 Jan
    assert pipe.loc["2024-01", "pipeline_volume"] == 2 and pipe.loc["2024-01", "weighted_pipeline"] == 500
    assert pipe.loc["2024-02", "pipeline_volume"] == 2 and pipe.loc["2024-02", "weighted_pipeline"] == 1000


# --- ordered event funnels -------------------------------------------------------------------


@pytest.fixture
def clicks():
    rows = [
        ("p1", "2024-01-10T10:00:00Z", "A", "x"), ("p1", "2024-01-10T10:10:00Z", "B", "x"),
        ("p1", "2024-01-10T10:20:00Z", "C", "x"),                       # in order: converts
        ("p2", "2024-01-10T10:00:00Z", "A", "y"), ("p2", "2024-01-10T10:05:00Z", "C", "y"),
        ("p2", "2024-01-10T10:10:00Z", "B", "y"),                       # C before B: stops at B
        ("p3", "2024-01-10T10:00:00Z", "A", "x"), ("p3", "2024-01-10T10:30:00Z", "A", "x"),
        ("p3", "2024-01-10T10:40:00Z", "B", "x"), ("p3", "2024-01-10T11:30:00Z", "C", "x"),  # C too late
        ("p4", "2024-01-10T09:00:00Z", "B", "y"), ("p4", "2024-01-10T10:00:00Z", "A", "y"),  # B before A
        ("p5", "2023-12-31T23:50:00Z", "A", "x"), ("p5", "2024-01-01T00:10:00Z", "B", "x"),  # entered in Dec
        ("p6", "2024-01-10T10:00:00Z", "A", "x"), ("p6", "2024-01-10T10:00:00Z", "B", "x"),
        ("p6", "2024-01-10T10:05:00Z", "B", "x"),                       # same instant is not after
    ]
    return check_table(pd.DataFrame(rows, columns=["user_id", "timestamp", "event", "channel"]), "events")


def test_event_funnel(clicks):
    f = event_funnel(clicks, ["A", "B", "C"], period="2024-01", window="1h")
    assert f["users"].tolist() == [5, 4, 1]
    assert f["rate_from_start"].tolist() == [1, 4 / 5, 1 / 5]
    assert f["rate_from_previous"].tolist() == [1, 4 / 5, 1 / 4]
    assert f["drop_off"].tolist() == [0, 1, 3]
    assert f.loc[1, "median_minutes_from_previous"] == 10  # 10, 10, 40 and 5 minutes
    assert f.loc[2, "median_minutes_from_start"] == 20


def test_event_funnel_paths_and_breakdown(clicks):
    paths = funnel_paths(clicks, ["A", "B", "C"], period="2024-01", window="1h").set_index("user_id")
    assert paths.loc["p3", "step_1"] == pd.Timestamp("2024-01-10 10:00", tz="UTC")  # the first A
    assert paths.loc["p6", "step_2"] == pd.Timestamp("2024-01-10 10:05", tz="UTC")
    assert pd.isna(paths.loc["p2", "step_3"]) and "p5" not in paths.index
    assert time_to_convert(paths.reset_index(), unit="min").tolist() == [20.0]
    by = event_funnel(clicks, ["A", "B", "C"], period="2024-01", window="1h", by="channel")
    x = by[by["channel"] == "x"]["users"].tolist()
    y = by[by["channel"] == "y"]["users"].tolist()
    assert x == [3, 3, 1] and y == [2, 1, 0]  # x: p1, p3, p6; y: p2, p4
    wide = event_funnel(clicks, ["A", "B", "C"], period="2024-01", window="2h")
    assert wide["users"].tolist() == [5, 4, 2]  # p3's C at 11:30 now counts
    with pytest.raises(ValueError, match="at least two steps"):
        event_funnel(clicks, ["A"], period="2024-01")
    assert not window_complete("2024-01", "7D", pd.Timestamp("2024-02-05", tz="UTC"))


# --- invariants ----------------------------------------------------------------------------


logs = st.lists(st.tuples(st.integers(0, 6), st.integers(0, 60 * 24 * 40), st.sampled_from("ABC")),
                min_size=1, max_size=80)


@settings(max_examples=15)
@given(logs)
def test_event_funnel_never_grows(rows):
    base = pd.Timestamp("2024-01-01", tz="UTC")
    frame = pd.DataFrame({"user_id": [f"u{u}" for u, _, _ in rows],
                          "timestamp": [base + pd.Timedelta(minutes=m) for _, m, _ in rows],
                          "event": [e for _, _, e in rows]})
    f = event_funnel(check_table(frame, "events"), ["A", "B", "C"], period="2024-01", window="3D")
    assert (np.diff(f["users"]) <= 0).all()
    assert f["rate_from_start"].dropna().between(0, 1).all()


stage_days = st.one_of(st.none(), st.integers(0, 120))


@settings(max_examples=15)
@given(st.lists(st.tuples(st.integers(0, 30), stage_days, stage_days, stage_days, stage_days, stage_days),
                min_size=1, max_size=40))
def test_cohort_stages_never_grow(rows):
    base = pd.Timestamp("2024-01-01", tz="UTC")

    def at(created, offset):
        return None if offset is None else base + pd.Timedelta(days=created + offset)

    frame = pd.DataFrame({
        "lead_id": [f"L{i}" for i in range(len(rows))], "channel": "x",
        "created_at": [base + pd.Timedelta(days=r[0]) for r in rows],
        **{col: [at(r[0], r[i]) for r in rows]
           for i, col in enumerate(["lead_at", "mql_at", "sal_at", "sql_at", "won_at"], start=1)}})
    conv = cohort_conversion(check_table(frame, "leads"), period="2024-01")
    assert (np.diff(conv["count"]) <= 0).all()
    assert conv["count"].iloc[0] == len(rows)


def test_funnel_bars_chart(leads, events):
    from kpitools import plots

    conv = cohort_conversion(leads, period="2024-01")
    ax = plots.funnel_bars(conv)
    assert [p.get_width() for p in ax.patches] == [4, 3, 3, 2, 2, 1]
    assert ax.texts[1].get_text() == "3  (75.0% of previous, 75.0% of first)"
    assert [t.get_text() for t in ax.get_yticklabels()] == list(conv["stage"])
    wide = pd.DataFrame({"stage": ["visitors", "leads"], "count": [10_000, 20],
                         "rate_from_previous": [np.nan, 0.002], "rate_from_start": [np.nan, 0.002]})
    ax = plots.funnel_bars(wide)
    assert ax.get_xlabel() == "bar width: log scale"
    assert ax.patches[0].get_width() == pytest.approx(np.log10(10_001))


def test_pipeline_chart():
    from kpitools import plots

    pipe = pd.DataFrame({"period": ["2024-01", "2024-02"], "pipeline_volume": [2, 3],
                         "weighted_pipeline": [500.0, 900.0]})
    ax = plots.pipeline_trend(pipe)
    assert [p.get_height() for p in ax.patches] == [2, 3]
    twin = next(a for a in ax.figure.axes if a is not ax)
    assert list(twin.get_lines()[0].get_ydata()) == [500.0, 900.0]


def test_channel_conversion(leads, events):
    from kpitools.metrics.funnel import channel_conversion

    t = channel_conversion(leads, period="2024-01", events=events).set_index("channel")
    # January visitors by first page view: organic v1, v4; paid v2, v3. Leads in January:
    # organic L1, L2; paid L3
    assert (t.loc["organic", "visitors"], t.loc["organic", "leads"]) == (2, 2)
    assert t.loc["paid", "visitor_to_lead_rate"] == 1 / 2
    # cohort: organic contacts L1, L2 both leads, L1 reaches SQL and is won; paid: L3 (SQL), L5 (no lead)
    assert t.loc["organic", "lead_to_sql_rate"] == 1 / 2 and t.loc["organic", "lead_to_customer_rate"] == 1 / 2
    assert t.loc["paid", "lead_to_sql_rate"] == 1
    # December: paid had L4 as a lead (21 Dec) and v9 was the only (organic) visitor
    assert pd.isna(t.loc["paid", "visitor_to_lead_rate_prev"])  # no paid visitor in December
    assert t.loc["organic", "visitor_to_lead_rate_prev"] == 0
    assert t.loc["organic", "visitor_to_lead_rate_change_pts"] == 100.0


def test_funnel_history_by_hand(leads, events, subs):
    history = funnel_history(periods=["2023-12", "2024-01"], leads=leads, events=events,
                             subscriptions=subs).set_index("period")
    jan = history.loc["2024-01"]
    assert (jan["visitors"], jan["leads"], jan["customers_won"]) == (4, 3, 1)
    assert jan["visitor_to_trial_rate"] == 2 / 4 and jan["trial_to_paid_rate"] == 1 / 2
    assert jan["trial_to_pql_rate"] == 1 / 2  # u1 within 2 days; u2 after 101 days
    dec = history.loc["2023-12"]
    # v9's page view of 30 Dec; u3's trial of 28 Dec never activated nor paid
    assert dec["visitors"] == 1 and dec["visitor_to_trial_rate"] == 1
    assert dec["trial_to_pql_rate"] == 0 and dec["trial_to_paid_rate"] == 0
