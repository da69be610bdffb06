"""Engagement on a hand-worked event log (period: January 2024).

  a  session across midnight: page 31 Dec 23:50, click 1 Jan 00:10, page 00:30 (one session,
     started in December: it belongs to December); then a lone page view 3 Jan 10:00 (a bounce)
  b  3 Jan 09:00 page, 09:20 click, 10:05 feature_used (gap 45 min: two sessions)
  c  active before the period only (20 Dec)
  d  signs up 10 Jan, views onboarding, steps 1 and 2, activated 15 Jan; login 20 Jan
  e  signs up 12 Jan, nothing else
"""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kpitools.metrics.activation import activation, onboarding_steps, signups
from kpitools.metrics.engagement import (
    active_history,
    active_series,
    active_users,
    feature_adoption,
    first_seen,
    lifecycle,
)
from kpitools.metrics.nps import nps_by, nps_score, outside_indicators, score_counts
from kpitools.metrics.sessions import session_kinds, session_metrics, sessionize
from kpitools.sources.validate import check_table

ROWS = [
    ("a", "2023-12-31T23:50:00Z", "page_view", None, "organic"),
    ("a", "2024-01-01T00:10:00Z", "click", None, "organic"),
    ("a", "2024-01-01T00:30:00Z", "page_view", None, "organic"),
    ("a", "2024-01-03T10:00:00Z", "page_view", None, "paid"),
    ("b", "2024-01-03T09:00:00Z", "page_view", None, "paid"),
    ("b", "2024-01-03T09:20:00Z", "click", None, "paid"),
    ("b", "2024-01-03T10:05:00Z", "feature_used", "reports", None),
    ("c", "2023-12-20T12:00:00Z", "login", None, None),
    ("d", "2024-01-10T08:00:00Z", "signup", None, None),
    ("d", "2024-01-10T08:05:00Z", "onboarding_viewed", None, None),
    ("d", "2024-01-10T08:10:00Z", "onboarding_step", "1_profile", None),
    ("d", "2024-01-10T08:20:00Z", "onboarding_step", "2_invite", None),
    ("d", "2024-01-15T08:00:00Z", "activated", None, None),
    ("d", "2024-01-20T08:00:00Z", "feature_used", "reports", None),
    ("e", "2024-01-12T08:00:00Z", "signup", None, None),
]


@pytest.fixture
def events():
    return check_table(pd.DataFrame(ROWS, columns=["user_id", "timestamp", "event", "feature", "channel"]),
                       "events")


def test_sessionize(events):
    s = sessionize(events).sort_values(["user_id", "start"]).reset_index(drop=True)
    # d: signup to step 2 within 20 minutes is one session; 15 Jan and 20 Jan one each
    assert s["user_id"].tolist() == ["a", "a", "b", "b", "c", "d", "d", "d", "e"]
    midnight = s.iloc[0]
    assert (midnight["events"], midnight["pages"], midnight["clicks"]) == (3, 2, 1)
    assert midnight["duration_s"] == 40 * 60 and midnight["channel"] == "organic"
    assert s.iloc[1]["bounce"] and s.iloc[1]["duration_s"] == 0
    assert s.iloc[3]["events"] == 1 and not s.iloc[3]["bounce"]  # a lone feature_used is not a bounce
    assert not s.iloc[4]["bounce"]  # a lone login neither


def test_session_metrics(events):
    m = session_metrics(events, period="2024-01").iloc[0]
    # sessions starting in January: a's bounce, b's two, d's four (signup..step 2 is one), e's one;
    # a's midnight session started on 31 Dec and belongs to December
    assert m["sessions"] == 1 + 2 + 3 + 1
    # website sessions (with a page view): a's 3 Jan bounce and b's 09:00 session, one page each
    assert m["pages_per_session"] == pytest.approx(2 / 2)
    assert m["bounce_rate"] == pytest.approx(1 / 2)
    assert m["actions_per_session"] == pytest.approx((1 + 3 + 6 + 1) / 7)
    assert m["unique_visitors"] == 2  # a and b viewed pages in January
    # sessions with a page: a's bounce (0 s) and b's first (20 min)
    assert m["time_on_site_s"] == pytest.approx((0 + 20 * 60) / 2)
    # product sessions (no page view): b's lone feature_used, d's three (4 + 1 + 1 events, the
    # first 20 minutes long), e's signup: 8 actions over 5 sessions, 20 minutes over 5
    assert (m["website_sessions"], m["product_sessions"]) == (2, 5)
    assert m["actions_per_product_session"] == pytest.approx(8 / 5)
    assert m["product_session_duration_s"] == pytest.approx(20 * 60 / 5)
    kinds = session_kinds(events, period="2024-01").set_index("kind")
    assert kinds.loc["website", "sessions"] == 2 and kinds.loc["product", "sessions"] == 5
    assert kinds.loc["website", "share"] == pytest.approx(2 / 7) and kinds.loc["website", "bounce_rate"] == 0.5
    assert np.isnan(kinds.loc["product", "bounce_rate"])  # a product session cannot bounce
    assert kinds.loc["product", "actions_per_session"] == pytest.approx(8 / 5)
    by = session_metrics(events, period="2024-01", by="channel").set_index("channel")
    assert by.loc["paid", "sessions"] == 2 and by.loc["paid", "bounce_rate"] == 0.5


def test_active_users(events):
    v = active_users(events, period="2024-01")
    # daily actives: a on 1 and 3 Jan, b on 3 Jan, d on 10, 15, 20 Jan, e on 12 Jan -> 7 user-days
    assert v["dau_avg"] == pytest.approx(7 / 31)
    assert v["mau"] == 4 and v["new_users"] == 3  # b, d, e; a began in December, c is gone
    assert v["stickiness"] == pytest.approx(7 / 31 / 4)
    assert v["product_adoption_rate"] == pytest.approx(3 / 4)
    # ISO weeks with their Thursday in January 2024: W01 (1-7 Jan) to W04 (22-28 Jan); W05's
    # Thursday is 1 Feb. W01: a, b; W02: d, e; W03: d; W04: nobody -> (2 + 2 + 1 + 0) / 4
    assert v["wau_avg"] == pytest.approx(5 / 4)


def test_active_history_mixes_weeks_months_and_quarters(events):
    h = active_history(events, periods=["2024-W02", "2024-01", "2023-Q4", "2024-Q1"]).set_index("period")
    # 2024-W02 (8-14 Jan): d on 10 Jan, e on 12 Jan; its MAU and WAU window is the week itself
    assert h.loc["2024-W02", ["dau_avg", "wau_avg", "mau", "new_users"]].tolist() == pytest.approx([2 / 7, 2, 2, 2])
    assert h.loc["2024-01", ["dau_avg", "wau_avg", "mau", "new_users"]].tolist() == pytest.approx([7 / 31, 5 / 4, 4, 3])
    # 2023-Q4: MAU is the mean of October (0), November (0) and December (a, c); 2 user-days
    # in 92 days; 13 ISO weeks have their Thursday in the quarter (5 Oct to 28 Dec), c is
    # active in the week of 18 Dec and a in the week of 25 Dec
    assert h.loc["2023-Q4", ["dau_avg", "wau_avg", "mau", "new_users"]].tolist() == pytest.approx(
        [2 / 92, 2 / 13, 2 / 3, 2])
    # 2024-Q1: January's 4 users, none in February or March; 7 user-days in 91 days; weeks
    # of 1, 8 and 15 Jan have 2, 2 and 1 users, the other 10 of the 13 none
    assert h.loc["2024-Q1", ["dau_avg", "wau_avg", "mau", "new_users"]].tolist() == pytest.approx(
        [7 / 91, 5 / 13, 4 / 3, 3])


def test_active_series(events):
    s = active_series(events, start="2023-12-30", end="2024-01-16").set_index("day")
    day = pd.Timestamp("2024-01-03", tz="UTC")
    assert s.loc[day, "dau"] == 2 and s.loc[day, "wau"] == 2
    # 1 Jan: a (31 Dec and 1 Jan), c (20 Dec, within 30 days) -> MAU 2, WAU 1 (a)
    assert s.loc[pd.Timestamp("2024-01-01", tz="UTC"), ["dau", "wau", "mau"]].tolist() == [1, 1, 2]
    # 15 Jan: d that day; d and e in 9-15 Jan; a, b, c (20 Dec), d, e in 17 Dec - 15 Jan
    assert s.loc[pd.Timestamp("2024-01-15", tz="UTC"), ["dau", "wau", "mau"]].tolist() == [1, 2, 5]


def test_lifecycle(events):
    life = lifecycle(events, periods=["2023-12", "2024-01"]).set_index("period")
    assert life.loc["2023-12"].to_dict() == {"new": 2, "returning": 0, "resurrecting": 0, "dormant": 0,
                                             "active": 2}
    assert life.loc["2024-01"].to_dict() == {"new": 3, "returning": 1, "resurrecting": 0, "dormant": -1,
                                             "active": 4}


def test_feature_adoption(events):
    f = feature_adoption(events, periods=["2024-01"])
    assert f.to_dict("records") == [{"period": "2024-01", "feature": "reports", "users": 2, "mau": 4,
                                     "adoption": 0.5}]


def test_activation(events):
    a = activation(events, period="2024-01")
    assert a["signups"] == 2 and a["activation_rate"] == 0.5 and a["time_to_value_days"] == 5
    assert a["onboarding_view_rate"] == 0.5 and a["onboarding_completion_rate"] == 0
    assert activation(events, period="2024-01", days=3)["activation_rate"] == 0  # 5 days is too slow
    s = signups(events, period="2024-01").set_index("user_id")
    assert s.loc["d", "days_to_value"] == 5 and pd.isna(s.loc["e", "days_to_value"])
    steps = onboarding_steps(events, period="2024-01")
    assert steps["users"].tolist() == [1, 1, 1] and steps["step"].tolist()[1:] == ["1_profile", "2_invite"]


def test_nps_and_outside():
    nps = check_table(pd.DataFrame({
        "respondent_id": list("pqrstu"), "responded_at": ["2024-01-05"] * 5 + ["2024-02-01"],
        "score": [10, 9, 8, 3, 6, 0], "account_id": ["A1", "A1", "A2", "A2", None, "A1"]}), "nps")
    s = nps_score(nps, period="2024-01")
    assert (s["promoters"], s["passives"], s["detractors"]) == (2, 1, 2)
    assert s["nps"] == pytest.approx(100 * (2 - 2) / 5)
    # January's five responses by score, every score 0..10 listed (February's 0 left out)
    counts = score_counts(nps, period="2024-01").set_index("score")["responses"]
    assert counts.index.tolist() == list(range(11))
    assert {k: v for k, v in counts.items() if v} == {3: 1, 6: 1, 8: 1, 9: 1, 10: 1}
    accounts = check_table(pd.DataFrame({"account_id": ["A1", "A2"], "signup_at": ["2023-01-01"] * 2,
                                         "channel": ["x", "y"], "segment": ["big", "small"]}), "accounts")
    by = nps_by(nps, accounts, period="2024-01").set_index("segment")
    assert by.loc["big", "nps"] == 100 and by.loc["small", "nps"] == -50
    events = check_table(pd.DataFrame({"user_id": ["u1", "u1", "u2"],
                                       "timestamp": ["2024-01-04", "2024-01-18", "2024-01-04"],
                                       "event": ["webinar_attended"] * 3}), "events")
    metrics = check_table(pd.DataFrame({"date": ["2024-01-04", "2024-01-05", "2024-01-05"],
                                        "channel": ["events", "paid_social", "organic"],
                                        "metric": ["webinar_attendees", "engagements", "engagements"],
                                        "value": [30, 100, 20]}), "channel_metrics")
    assert outside_indicators(period="2024-01", events=events, channel_metrics=metrics) == {
        "social_engagements": 120.0, "webinar_attendees": 32.0}


logs = st.lists(st.tuples(st.integers(0, 8), st.integers(0, 90 * 24)), min_size=1, max_size=120)


@settings(max_examples=15)  # 1.4 s an example (a check and three queries)
@given(logs)
def test_active_counts_are_ordered(rows):
    base = pd.Timestamp("2024-01-01", tz="UTC")
    events = check_table(pd.DataFrame({"user_id": [f"u{u}" for u, _ in rows],
                                       "timestamp": [base + pd.Timedelta(hours=h) for _, h in rows],
                                       "event": "login"}), "events")
    s = active_series(events, start="2024-01-01", end="2024-04-01")
    assert (s["dau"] <= s["wau"]).all() and (s["wau"] <= s["mau"]).all()
    # against the definition, counted directly on a few days
    for day in s["day"].iloc[[0, 20, 45, 89]]:
        window = events[(events["timestamp"] >= day - pd.Timedelta(days=6)) &
                        (events["timestamp"] < day + pd.Timedelta(days=1))]
        assert s.loc[s["day"] == day, "wau"].iloc[0] == window["user_id"].nunique()
    v = active_users(events, period="2024-02")
    assert np.isnan(v["stickiness"]) or 0 <= v["stickiness"] <= 1


def test_first_seen_and_history_reuse_it(events):
    first = first_seen(events)
    assert first["c"] == pd.Timestamp("2023-12-20T12:00:00Z")
    assert first["a"] == pd.Timestamp("2023-12-31T23:50:00Z") and len(first) == 5
    history = active_history(events, periods=["2023-12", "2024-01"]).set_index("period")
    assert history.loc["2023-12", "new_users"] == 2  # c and a
    assert history.loc["2024-01", "new_users"] == 3  # b, d, e
    assert history.loc["2024-01", "mau"] == 4
