"""The MRR bridge and the revenue keys on a hand-worked subscription set.

Accounts (2023-10 to 2024-02; end dates exclusive):
  A  upgrade:      100 from 10 Jan, 180 from 15 Feb
  B  downgrade:    500 from 1 Dec 2023, 300 from 20 Feb
  C  churn:        200 from 5 Nov 2023 to 10 Feb
  D  reactivation: 50 from 1 Oct to 15 Dec 2023, back at 60 from 3 Feb
  E  annual plan:  1,200 a year = 100 MRR, 31 Jan 2024 (a month's last day) to 31 Jan 2025
  F  new on 29 Feb (the month's last day): 70
  G  in and out within February (5 to 20 Feb): 40, never paying at a month's end

MRR at month ends, worked by hand:
  31 Dec 2023: B 500 + C 200                          = 700, 2 customers
  31 Jan 2024: A 100 + B 500 + C 200 + E 100          = 900, 4 customers
  29 Feb 2024: A 180 + B 300 + D 60 + E 100 + F 70    = 710, 5 customers
"""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kpitools.metrics.mrr import mrr_grid, mrr_movements
from kpitools.metrics.revenue import early_churn_rate, revenue_metrics
from kpitools.sources.validate import check_table


def row(table, period):
    return table.set_index("period").loc[period]


def test_grid(subs):
    grid = mrr_grid(subs, ["2024-02-29", "2023-12-31", "2024-01-31"])
    assert list(grid.columns.strftime("%Y-%m-%d")) == ["2023-12-31", "2024-01-31", "2024-02-29"]
    assert grid.sum().tolist() == [700, 900, 710]
    assert grid.loc["E"].tolist() == [0, 100, 100]
    assert grid.loc["G"].tolist() == [0, 0, 0]


def test_january_two_new_accounts(subs):
    jan = row(mrr_movements(subs, periods=["2024-01"]), "2024-01")
    assert (jan["mrr_start"], jan["mrr"]) == (700, 900)
    assert jan["new_mrr"] == 200 and jan["new_customers"] == 2  # A and the annual E (31 Jan)
    assert jan[["expansion_mrr", "contraction_mrr", "churned_mrr", "reactivation_mrr"]].sum() == 0


def test_february_bridge(subs):
    feb = row(mrr_movements(subs, periods=["2024-02"]), "2024-02")
    assert feb["new_mrr"] == 70              # F, starting on 29 Feb
    assert feb["expansion_mrr"] == 80        # A: 100 -> 180
    assert feb["contraction_mrr"] == 200     # B: 500 -> 300
    assert feb["churned_mrr"] == 200         # C
    assert feb["reactivation_mrr"] == 60     # D paid in 2023, back in February
    assert feb["net_new_mrr"] == 70 + 60 + 80 - 200 - 200 == 710 - 900
    counts = feb[["customers_start", "new_customers", "expansion_customers", "contraction_customers",
                  "churned_customers", "reactivated_customers", "customers"]].tolist()
    assert counts == [4, 1, 1, 1, 1, 1, 5]


def test_february_rates(subs):
    feb = row(revenue_metrics(subs, periods=["2024-02"]), "2024-02")
    assert feb["arr"] == 12 * 710
    assert feb["arpu"] == 710 / 5
    assert feb["customer_churn_rate"] == 1 / 4
    assert feb["gross_mrr_churn_rate"] == pytest.approx((200 + 200) / 900)
    assert feb["net_mrr_churn_rate"] == pytest.approx((200 + 200 - 80) / 900)
    # NRR over A, B, C, E (paying on 31 Jan): now 180 + 300 + 0 + 100 of 900 then
    assert feb["nrr"] == pytest.approx(580 / 900)
    # GRR caps each at its January MRR: 100 + 300 + 0 + 100
    assert feb["grr"] == pytest.approx(500 / 900)
    assert feb["quick_ratio"] == pytest.approx((70 + 60 + 80) / (200 + 200))
    assert feb["retention_rate"] == pytest.approx((5 - 1 - 1) / 4)  # (E - N) / S


def test_quarter_compares_quarter_ends(subs):
    q1 = row(revenue_metrics(subs, periods=["2024-Q1"]), "2024-Q1")
    # 31 Dec 2023 (700: B, C) -> 31 Mar 2024 (710)
    assert q1["new_mrr"] == 180 + 100 + 70   # A, E, F all first paid in Q1
    assert q1["reactivation_mrr"] == 60      # D
    assert q1["contraction_mrr"] == 200 and q1["churned_mrr"] == 200
    assert q1["expansion_mrr"] == 0          # A was not paying on 31 Dec
    assert q1["net_new_mrr"] == 10
    assert q1["customer_churn_rate"] == 1 / 2
    assert q1["nrr"] == pytest.approx(300 / 700)
    assert q1["retention_rate"] == pytest.approx((5 - 3 - 1) / 2)


def test_annual_plan_churns_at_its_end(subs):
    jan25 = row(revenue_metrics(subs, periods=["2025-01"]), "2025-01")
    assert jan25["churned_mrr"] == 100 and jan25["churned_customers"] == 1  # E ends 31 Jan 2025


def test_nrr_12m(subs):
    nov = row(revenue_metrics(subs, periods=["2024-11"]), "2024-11")
    # paying on 30 Nov 2023: C 200 and D 50; on 30 Nov 2024: C 0 and D 60
    assert nov["nrr_12m"] == pytest.approx(60 / 250)


def test_rates_over_zero_are_missing(subs):
    before = row(revenue_metrics(subs, periods=["2023-06"]), "2023-06")
    for key in ("arpu", "customer_churn_rate", "nrr", "grr", "quick_ratio", "retention_rate"):
        assert np.isnan(before[key]), key
    jan = row(revenue_metrics(subs, periods=["2024-01"]), "2024-01")
    assert np.isnan(jan["quick_ratio"])  # no churn or contraction: not infinity


def test_early_churn(subs):
    # period 2024-05 ends 1 Jun: cohort = first paid from 1 Dec 2023 to end of Feb 2024:
    # A, B, E, F, G; only G (15 paid days) is lost within 90 days
    out = early_churn_rate(subs, period="2024-05")
    assert out == {"early_churn_rate": 1 / 5, "early_churn_cohort": 5, "early_churned": 1}


def test_week_period(subs):
    wk = row(mrr_movements(subs, periods=["2024-W09"]), "2024-W09")  # 26 Feb to 3 Mar 2024
    # 25 Feb: A 180, B 300, D 60, E 100 (G ended 20 Feb) -> 3 Mar: + F 70
    assert (wk["mrr_start"], wk["mrr"], wk["new_mrr"]) == (640, 710, 70)


# --- properties over random subscription sets ----------------------------------------------

spans = st.lists(
    st.tuples(st.integers(0, 5), st.integers(0, 400), st.one_of(st.none(), st.integers(0, 200)),
              st.sampled_from([0, 10, 25, 99.5, 100, 1000])),
    max_size=30)


@settings(max_examples=15)
@given(spans, st.integers(0, 11))
def test_bridge_reconciles(rows, first_month):
    base = pd.Timestamp("2023-01-01", tz="UTC")
    frame = pd.DataFrame({
        "subscription_id": [f"S{i}" for i in range(len(rows))],
        "account_id": [f"A{r[0]}" for r in rows],
        "start_date": [base + pd.Timedelta(days=r[1]) for r in rows],
        "end_date": [None if r[2] is None else base + pd.Timedelta(days=r[1] + r[2]) for r in rows],
        "mrr": [float(r[3]) for r in rows],
    })
    subs = check_table(frame, "subscriptions")
    periods = [f"2023-{m:02d}" for m in range(first_month + 1, 13)]
    t = revenue_metrics(subs, periods=periods)
    assert np.allclose(t["mrr_start"] + t["net_new_mrr"], t["mrr"])
    assert np.allclose(t["mrr_start"].iloc[1:].to_numpy(), t["mrr"].iloc[:-1].to_numpy())
    for col in ("new_mrr", "expansion_mrr", "contraction_mrr", "churned_mrr", "reactivation_mrr"):
        assert (t[col] >= 0).all()
    counts = t[["customers_start", "new_customers", "churned_customers", "reactivated_customers",
                "customers"]]
    assert (counts.dtypes == "int64").all()
    assert (t["customers_start"] - t["churned_customers"] + t["new_customers"]
            + t["reactivated_customers"] == t["customers"]).all()
    for col in ("customer_churn_rate", "grr", "retention_rate"):
        values = t[col].dropna()
        assert ((values >= 0) & (values <= 1)).all(), col
    assert (t["nrr"].dropna() >= 0).all() and (t["nrr"].dropna() >= t["grr"].dropna() - 1e-12).all()
