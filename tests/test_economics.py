"""Unit economics on the hand-worked subscription set of test_mrr (February 2024).

By hand (29 days in February 2024), paid days x MRR in February:
  A 14 x 100 + 15 x 180, B 19 x 500 + 10 x 300, C 9 x 200, D 27 x 60, E 29 x 100, F 1 x 70,
  G 15 x 40 = 23,590, so revenue = 23,590 / 29.
Spend in February: 3,000 marketing on paid_search, 1,000 sales on `none`; costs 200.
Monthly customer churn: December 1/2 (D), January 0/2, February 1/4 (C): mean 0.25.
"""

import numpy as np
import pandas as pd
import pytest

from kpitools.metrics.economics import (
    churn_average,
    missing_notes,
    recognised_revenue,
    unit_economics,
    unit_economics_by,
)
from kpitools.metrics.sbg import fit_sbg_cohorts
from kpitools.sources.validate import check_table

REVENUE = 23_590 / 29
MARGIN = (REVENUE - 200) / REVENUE
ARPU = 710 / 5




@pytest.fixture
def accounts():
    return check_table(pd.DataFrame({
        "account_id": list("ABCDEFG"),
        "signup_at": ["2023-10-01"] * 7,
        "channel": ["organic", "referral", "organic", "organic", "referral", "paid_search", "organic"],
        "segment": ["smb", "enterprise", "smb", "smb", "enterprise", "smb", "smb"],
    }), "accounts")


@pytest.fixture
def spend():
    return check_table(pd.DataFrame({
        "date": ["2024-02-01", "2024-02-15", "2024-01-20"],
        "channel": ["paid_search", "none", "referral"],
        "category": ["marketing", "sales", "marketing"],
        "amount": [3000, 1000, 500],
    }), "spend")


@pytest.fixture
def costs():
    return check_table(pd.DataFrame({"date": ["2024-02-01"], "category": ["support"], "amount": [200]}),
                       "costs")


def test_recognised_revenue(subs):
    assert recognised_revenue(subs, period="2024-02") == pytest.approx(REVENUE)
    # a full month of a span earns its MRR: January = A 22 days x 100 / 31 + B 500 + C 200 + E 100 / 31
    assert recognised_revenue(subs, period="2024-01") == pytest.approx((22 * 100 + 100) / 31 + 700)


def test_churn_average(subs):
    assert churn_average(subs, period="2024-02") == pytest.approx((1 / 2 + 0 + 1 / 4) / 3)
    assert churn_average(subs, period="2024-Q1") == pytest.approx((0 + 1 / 4 + 0 / 5) / 3)


def test_unit_economics_february(subs, accounts, spend, costs):
    u = unit_economics(subs, period="2024-02", accounts=accounts, spend=spend, costs=costs)
    assert u["revenue"] == pytest.approx(REVENUE)
    assert u["sm_spend"] == 4000 and u["marketing_spend"] == 3000 and u["sales_spend"] == 1000
    assert u["cac"] == 4000                    # one new customer (F)
    assert u["paid_cac"] == 3000               # paid_search spend over F, from paid_search
    assert u["cost_to_serve"] == 200 and u["cost_to_serve_per_customer"] == 40
    assert u["gross_margin"] == pytest.approx(MARGIN)
    assert u["ltv"] == pytest.approx(ARPU * MARGIN / 0.25)
    assert u["ltv_lifespan"] == pytest.approx(REVENUE / ((4 + 5) / 2) / 0.25)
    assert u["ltv_cac"] == pytest.approx(ARPU * MARGIN / 0.25 / 4000)
    assert u["cac_payback_months"] == pytest.approx(4000 / (70 * MARGIN))
    assert u["marketing_roi"] == pytest.approx((1 * ARPU * MARGIN / 0.25 - 4000) / 4000)
    assert u["profit_after_sm"] == pytest.approx(REVENUE - 200 - 4000)
    # the pooled sBG model on the monthly cohorts' survivors, worked by hand in test_retention
    model = fit_sbg_cohorts([[1, 1, 0, 0, 0], [1, 1, 1, 0], [1, 1, 1], [2, 2]])
    monthly_rate = 1.10 ** (1 / 12) - 1
    assert u["ltv_projected"] == pytest.approx(ARPU * MARGIN * model.discounted_expected_lifetime(monthly_rate))


def test_without_costs_margin_is_one(subs, spend):
    u = unit_economics(subs, period="2024-02", spend=spend)
    assert np.isnan(u["gross_margin"]) and np.isnan(u["cost_to_serve"])
    assert u["ltv"] == pytest.approx(ARPU / 0.25)  # the seed formula LTV = ARPU / churn
    assert np.isnan(u["paid_cac"])  # needs accounts
    notes = missing_notes(u)
    assert notes["gross_margin"] == "no costs table"


def test_division_by_zero_is_missing_with_a_note(subs, spend):
    # March 2024: no new customers, no churn in Jan-Mar
    u = unit_economics(subs, period="2024-03", spend=spend)
    assert np.isnan(u["cac"]) and np.isnan(u["cac_payback_months"])
    notes = missing_notes(u)
    assert notes["cac"] == "no new customers in the period: CAC is undefined"
    # no spend table at all
    u = unit_economics(subs, period="2024-02")
    assert np.isnan(u["sm_spend"]) and "no spend table" in missing_notes(u)["cac"]


def test_zero_churn_gives_no_ltv(subs):
    u = unit_economics(subs, period="2024-01")  # churn Nov 0, Dec 1/2, Jan 0: mean > 0
    assert not np.isnan(u["ltv"])
    only_e = subs[subs["account_id"] == "E"]
    u = unit_economics(only_e, period="2024-06")
    assert np.isnan(u["ltv"]) and not np.isinf(u["ltv"])
    assert "unbounded" in missing_notes(u)["ltv"]


def test_by_channel(subs, accounts, spend):
    table = unit_economics_by(subs, accounts, period="2024-02", spend=spend, months=3,
                              gross_margin=0.5).set_index("channel")
    # window Dec 2023 - Feb 2024. referral: B and E paying at 29 Feb (400 MRR), B new in December
    # and E in January, spend 500; no referral account churned in the window
    ref = table.loc["referral"]
    assert (ref["customers"], ref["mrr"], ref["new_customers"], ref["spend"]) == (2, 400, 2, 500)
    assert ref["cac"] == 250 and ref["churn_rate"] == 0 and np.isnan(ref["ltv"])
    assert "LTV unbounded" in ref["note"]
    # organic: A new (Jan), churn: Dec D lost (1 of C, D), Jan 0 of C, Feb C lost (1 of A, C)
    org = table.loc["organic"]
    assert org["churn_rate"] == pytest.approx((1 / 2 + 0 + 1 / 2) / 3)
    assert org["customers"] == 2 and org["mrr"] == 180 + 60  # A and D
    assert org["ltv"] == pytest.approx(120 * 0.5 / (1 / 3))
    assert org["new_customers"] == 1 and org["cac"] == 0  # A; no organic spend is recorded
    assert table.loc["paid_search", "cac"] == 3000 and table.loc["paid_search", "new_mrr"] == 70


def test_unit_economics_quarter(subs, accounts, spend, costs):
    u = unit_economics(subs, period="2024-Q1", accounts=accounts, spend=spend, costs=costs)
    january = (22 * 100 + 100) / 31 + 700  # A from 10 Jan, E on 31 Jan, B and C all month
    march = 710.0  # A 180 + B 300 + D 60 + E 100 + F 70, every day of March
    assert u["revenue"] == pytest.approx(january + REVENUE + march)
    assert u["sm_spend"] == 4500 and u["cac"] == 1500  # A, E and F are new in Q1
    assert u["paid_cac"] == 3500 / 2  # paid_search and referral spend over E and F (A is organic)
    assert u["churn_rate_avg"] == pytest.approx((0 + 1 / 4 + 0 / 5) / 3)
    assert u["cost_to_serve_per_customer"] == 200 / 5
