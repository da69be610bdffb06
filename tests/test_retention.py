"""Cohorts and retention on hand-worked cases, the sBG paper's estimates, and invariants.

Revenue cohorts of the hand-worked subscription set (see test_mrr), through March 2024,
active = paying on the month's last day:
  2023-10 {D}:    paying Oct, Nov; not Dec, Jan; back Feb, Mar (reactivated)
  2023-11 {C}:    Nov, Dec, Jan; churned in Feb, no later activity
  2023-12 {B}:    Dec 500, Jan 500, Feb 300, Mar 300
  2024-01 {A, E}: Jan 100 + 100, Feb 180 + 100, Mar 180 + 100
  2024-02 {F, G}: only F pays on 29 Feb (G paid 5-19 Feb): 1 of 2
"""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kpitools.metrics.activity import activity_cohorts
from kpitools.metrics.retention import (
    churn_mix,
    fit_cohorts,
    group_curves,
    projected_ltv,
    retention_triangle,
    revenue_cohorts,
    survivor_counts,
)
from kpitools.metrics.sbg import fit_sbg, fit_sbg_cohorts
from kpitools.sources.validate import check_table


def cells(tidy, cohort, column):
    return tidy[tidy["cohort"] == cohort].sort_values("period_number")[column].tolist()


def test_revenue_cohorts(subs):
    t = revenue_cohorts(subs, through="2024-03")
    assert sorted(t["cohort"].unique()) == ["2023-10", "2023-11", "2023-12", "2024-01", "2024-02"]
    assert cells(t, "2023-10", "retention") == [1, 1, 0, 0, 1, 1]      # D comes back
    assert cells(t, "2023-10", "survival") == [1, 1, 0, 0, 0, 0]       # ... but had lapsed
    assert cells(t, "2023-10", "revenue_retention") == [1, 1, 0, 0, 1.2, 1.2]
    assert cells(t, "2023-11", "retention") == [1, 1, 1, 0, 0]         # no later activity: zeros
    assert cells(t, "2023-12", "revenue_retention") == [1, 1, 0.6, 0.6]
    assert cells(t, "2024-01", "mrr") == [200, 280, 280]
    assert cells(t, "2024-01", "revenue_retention") == [1, 1.4, 1.4]
    assert cells(t, "2024-02", "cohort_size") == [2, 2]
    assert cells(t, "2024-02", "retention") == [0.5, 0.5]
    assert cells(t, "2023-12", "period") == ["2023-12", "2024-01", "2024-02", "2024-03"]


def test_triangle_leaves_unobservable_cells_empty(subs):
    tri = retention_triangle(revenue_cohorts(subs, through="2024-03"))
    assert tri.shape == (5, 6)
    assert tri.loc["2024-02", 1] == 0.5 and np.isnan(tri.loc["2024-02", 2])
    assert tri.loc["2023-11", 4] == 0  # observed and zero, unlike the empty cells
    assert np.isnan(tri.loc["2023-11", 5])


def test_on_or_after(subs):
    t = revenue_cohorts(subs, through="2024-03", mode="on_or_after")
    assert cells(t, "2023-10", "retention") == [1, 1, 1, 1, 1, 1]  # D is active again later


def test_partial_periods_are_marked(subs):
    t = revenue_cohorts(subs, through="2024-03", data_end=pd.Timestamp("2024-03-15", tz="UTC"))
    assert t.loc[t["period"] == "2024-03", "partial"].all()
    assert not t.loc[t["period"] != "2024-03", "partial"].any()
    assert survivor_counts(t)["2023-10"] == [1, 1, 0, 0, 0]  # March left out


def test_quarterly_cohorts(subs):
    t = revenue_cohorts(subs, through="2024-Q1", kind="Q")
    # 2023-Q4: D, C, B first paid; on 31 Dec C and B pay (D lapsed) -> 2 of 3; on 31 Mar B and D
    assert cells(t, "2023-Q4", "cohort_size") == [3, 3]
    assert cells(t, "2023-Q4", "active") == [2, 2]
    assert cells(t, "2023-Q4", "surviving") == [2, 1]
    assert cells(t, "2024-Q1", "active") == [3]  # A, E, F (G stopped within the quarter)


def test_breakdown_by_channel(subs):
    accounts = check_table(pd.DataFrame({
        "account_id": list("ABCDEFG"), "signup_at": ["2023-09-01"] * 7,
        "channel": ["x", "y", "x", "x", "y", "x", "x"]}), "accounts")
    t = revenue_cohorts(subs, through="2024-03", accounts=accounts, by="channel")
    jan = t[(t["cohort"] == "2024-01")]
    assert set(jan["group"]) == {"x", "y"}  # A from x, E from y
    curves = group_curves(t, min_size=1).set_index(["group", "period_number"])
    assert group_curves(t).empty  # by default ages seen on fewer than 20 members are left out
    # channel y: B (Dec cohort) and E (Jan cohort), both still paying: retention 1 throughout
    assert curves.loc[("y", 0), "retention"] == 1 and curves.loc[("y", 2), "retention"] == 1
    # channel x at k = 0: D, C, A, F + G -> sizes 1 + 1 + 1 + 2 = 5, active 4
    assert curves.loc[("x", 0), "cohort_size"] == 5 and curves.loc[("x", 0), "active"] == 4


def test_activity_cohorts():
    events = check_table(pd.DataFrame({
        "user_id": ["u1", "u1", "u2", "u3", "u1", "u4"],
        "timestamp": ["2024-01-03", "2024-01-20", "2024-01-09", "2024-02-11", "2024-03-01", "2024-03-05"],
        "event": ["signup", "login", "signup", "signup", "login", "login"],
        "channel": ["ads", None, "seo", "seo", None, None]}), "events")
    t = activity_cohorts(events, through="2024-03")
    assert cells(t, "2024-01", "cohort_size") == [2, 2, 2]
    assert cells(t, "2024-01", "retention") == [1, 0, 0.5]  # u2 never returns; u1 skips February
    assert cells(t, "2024-01", "surviving") == [2, 0, 0]
    assert cells(t, "2024-02", "retention") == [1, 0]
    after = activity_cohorts(events, through="2024-03", mode="on_or_after")
    assert cells(after, "2024-01", "retention") == [1, 0.5, 0.5]
    # cohorts by first signup only: u4 (login only) is in no cohort
    signups = activity_cohorts(events, through="2024-03", event="signup")
    assert signups["cohort_size"].groupby(signups["cohort"]).first().to_dict() == {"2024-01": 2, "2024-02": 1}
    by = activity_cohorts(events, through="2024-03", by="channel")
    assert set(by["group"]) == {"ads", "seo", "(unknown)"}


def test_sbg_reproduces_the_paper():
    regular = fit_sbg([1000, 631, 468, 382, 326, 289, 262, 241])
    high_end = fit_sbg([1000, 869, 743, 653, 593, 551, 517, 491])
    assert (round(regular.alpha, 3), round(regular.beta, 3)) == (0.704, 1.182)
    assert (round(high_end.alpha, 3), round(high_end.beta, 3)) == (0.668, 3.806)
    assert regular.log_likelihood == pytest.approx(-1680.3, abs=0.05)


def test_sbg_projections():
    m = fit_sbg([1000, 631, 468, 382, 326, 289, 262, 241])
    s = m.survival(3)
    assert s[0] == 1 and s[1] == pytest.approx(m.beta / (m.alpha + m.beta))  # 1 - P(T = 1)
    r = m.retention(3)
    assert r[0] == pytest.approx(m.beta / (m.alpha + m.beta))
    assert r[1] == pytest.approx((m.beta + 1) / (m.alpha + m.beta + 1))
    assert s[2] == pytest.approx(s[1] * r[1])
    assert np.all(np.diff(m.retention(30)) > 0)  # retention rises as the loyal remain
    # at a huge discount rate only the first period counts
    assert m.discounted_expected_lifetime(1e6) == pytest.approx(1.0, abs=1e-5)
    assert projected_ltv(m, monthly_margin=10, annual_discount=0.1, months_per_period=12) == \
        pytest.approx(120 * m.discounted_expected_lifetime(0.1))


def test_sbg_rejects_bad_counts():
    with pytest.raises(ValueError, match="non-increasing"):
        fit_sbg([100, 90, 95])
    with pytest.raises(ValueError, match="nobody churned"):
        fit_sbg([100, 100, 100])
    with pytest.raises(ValueError, match="at least one cohort"):
        fit_sbg([100])


def test_fit_cohorts_pools(subs):
    table = fit_cohorts(revenue_cohorts(subs, through="2024-02"), min_size=1, min_periods=1)
    pooled = table.iloc[-1]
    # the pooled fit rests on the four cohorts observed for a period or more (2024-02 is not),
    # 1 + 1 + 1 + 2 customers, the oldest observed for four periods
    assert pooled["cohort"] == "all (pooled)" and pooled["size"] == 1 + 1 + 1 + 2
    assert (pooled["cohorts"], pooled["periods"]) == (4, 4)
    expected = fit_sbg_cohorts([[1, 1, 0, 0, 0], [1, 1, 1, 0], [1, 1, 1], [2, 2]])
    assert pooled["churn_first_period"] == pytest.approx(expected.mean_churn_rate)
    # six accounts cannot tell heterogeneous churn from a constant rate: alpha and beta run off
    assert expected.homogeneous and np.isnan(pooled["alpha"])
    assert pooled["note"] == "geometric: churn alike for every customer"
    assert table.set_index("cohort").loc["2024-02", "note"] == "too small or too young to fit"


def test_a_median_lifetime_beyond_the_data_is_said_so():
    from kpitools.text.narrative import lifetime_text, projection_story

    assert lifetime_text(14.0, 23) == "about 14 months"
    assert lifetime_text(1342.0, 23) == "beyond 23 months"
    assert lifetime_text(float("inf"), 8, "quarter") == "beyond 8 quarters"
    assert lifetime_text(1.0, 1, "quarter") == "about 1 quarter"
    assert lifetime_text(float("nan"), 5) == "—"
    model = fit_sbg([1000, 900, 850, 820, 800])  # a slow leak: the median is far beyond four months
    assert model.median_lifetime() > 4
    story = projection_story(model, observed=4, customers=1000, cohorts=1)
    assert story.startswith("The model is fitted to 1,000 customers in 1 cohort, observed for up to 4 months.")
    assert "More than half of a cohort is still there after 4 months" in story
    assert f"{model.median_lifetime():.0f}" not in story.split("observed")[1]


def test_churn_mix(subs):
    accounts = check_table(pd.DataFrame({
        "account_id": list("ABCDEFG"), "signup_at": ["2023-09-01"] * 7,
        "channel": ["x", "y", "x", "x", "y", "x", "x"]}), "accounts")
    mix = churn_mix(subs, accounts, period="2024-02", months=3).set_index("channel")
    # Dec-Feb: D lost in December, C in February, both channel x; customers on 30 Nov: C, D (x)
    assert mix.loc["x", "churned"] == 2 and mix.loc["y", "churned"] == 0
    assert mix.loc["x", "share_of_churned"] == 1 and mix.loc["x", "customers_at_start"] == 2


# --- invariants ------------------------------------------------------------------------------

event_logs = st.lists(st.tuples(st.integers(0, 8), st.integers(0, 200)), min_size=1, max_size=60)


@settings(max_examples=15)  # each example: a check and a cohort query
@given(event_logs)
def test_activity_retention_invariants(rows):
    base = pd.Timestamp("2024-01-01", tz="UTC")
    events = pd.DataFrame({"user_id": [f"u{u}" for u, _ in rows],
                           "timestamp": [base + pd.Timedelta(days=d) for _, d in rows],
                           "event": "login"})
    t = activity_cohorts(check_table(events, "events"), through="2024-07")
    assert ((t["retention"] >= 0) & (t["retention"] <= 1)).all()
    assert (t.loc[t["period_number"] == 0, "retention"] == 1).all()
    assert (t["survival"] <= t["retention"]).all()
    after = activity_cohorts(check_table(events, "events"), through="2024-07", mode="on_or_after")
    assert (after["retention"].to_numpy() >= t["retention"].to_numpy()).all()
    for _, g in t.groupby("cohort"):
        assert (np.diff(g.sort_values("period_number")["surviving"]) <= 0).all()
    assert t.groupby("cohort")["cohort_size"].first().sum() == len({u for u, _ in rows})


spans = st.lists(st.tuples(st.integers(0, 5), st.integers(0, 300), st.one_of(st.none(), st.integers(1, 150)),
                           st.sampled_from([10.0, 50.0, 100.0])), min_size=1, max_size=25)


@settings(max_examples=15)
@given(spans)
def test_revenue_retention_invariants(rows):
    base = pd.Timestamp("2023-01-01", tz="UTC")
    frame = pd.DataFrame({
        "subscription_id": [f"S{i}" for i in range(len(rows))], "account_id": [f"A{r[0]}" for r in rows],
        "start_date": [base + pd.Timedelta(days=r[1]) for r in rows],
        "end_date": [None if r[2] is None else base + pd.Timedelta(days=r[1] + r[2]) for r in rows],
        "mrr": [r[3] for r in rows]})
    t = revenue_cohorts(check_table(frame, "subscriptions"), through="2023-12")
    if t.empty:
        return
    assert ((t["retention"] >= 0) & (t["retention"] <= 1)).all()
    assert (t["active"] <= t["cohort_size"]).all() and (t["surviving"] <= t["active"]).all()
    assert (t["revenue_retention"].dropna() >= 0).all()
    for _, g in t.groupby("cohort"):
        assert (np.diff(g.sort_values("period_number")["surviving"]) <= 0).all()


def test_heatmap_annotates_cells_and_hatches_partial(subs):
    from kpitools import plots

    t = revenue_cohorts(subs, through="2024-03", data_end=pd.Timestamp("2024-03-15", tz="UTC"))
    ax = plots.retention_heatmap(t)
    texts = [x.get_text() for x in ax.texts]
    assert texts[:6] == ["100", "100", "0", "0", "100", "100"]  # the 2023-10 row (D), in % (the scale says so)
    assert len(texts) == 6 + 5 + 4 + 3 + 2  # only observable cells are annotated
    assert ax.collections[0].colorbar.ax.get_ylabel() == "retention (%)"
    # each cohort's size beside it (D alone in October 2023)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[0] == "2023-10  (n=1)" and all("(n=" in label for label in labels)
    hatched = [p for p in ax.patches if p.get_hatch()]
    assert len(hatched) == 5  # one March cell per cohort


def test_projection_chart(subs):
    from kpitools import plots

    model = fit_sbg([1000, 631, 468, 382, 326, 289, 262, 241])
    observed = pd.DataFrame({"period_number": range(8),
                             "survival": np.array([1000, 631, 468, 382, 326, 289, 262, 241]) / 1000})
    ax = plots.projection(observed, model, horizon=12)
    line = ax.get_lines()[0]
    assert list(line.get_xdata()) == list(range(13))
    assert np.allclose(line.get_ydata(), model.survival(12))
    assert np.allclose(ax.collections[-1].get_offsets()[:, 1], observed["survival"])


def test_signup_cohorts(subs):
    from kpitools.metrics.retention import signup_cohorts

    accounts = check_table(pd.DataFrame({
        "account_id": list("ABCDEFGH"),
        "signup_at": ["2023-12-20", "2023-11-15", "2023-11-01", "2023-09-20", "2024-01-05", "2024-02-01",
                      "2024-02-02", "2024-01-10"],
        "channel": "x"}), "accounts")
    t = signup_cohorts(accounts, subs, through="2024-02")
    # 2023-11 {B, C}: paying on 30 Nov: C (B from 1 Dec) -> 1 of 2; 31 Dec: B, C; 31 Jan: B, C;
    # 29 Feb: B only (C churned)
    assert cells(t, "2023-11", "active") == [1, 2, 2, 1]
    assert cells(t, "2023-11", "surviving") == [1, 1, 1, 0]  # B never paid on 30 Nov: not surviving
    # 2024-01 {E, H}: E pays from 31 Jan; H (no subscription) never does
    assert cells(t, "2024-01", "retention") == [0.5, 0.5]
    # 2023-12 {A}: A first pays 10 Jan: 0 in December, then 1
    assert cells(t, "2023-12", "active") == [0, 1, 1]
