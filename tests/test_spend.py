import pandas as pd

from kpitools.metrics.spend import cost_to_serve, spend_totals
from kpitools.sources.validate import check_table


def _spend():
    return check_table(pd.DataFrame({
        "date": ["2024-01-31", "2024-02-01", "2024-02-15", "2024-02-29", "2024-03-01"],
        "channel": ["paid_search", "paid_search", "none", "referral", "paid_search"],
        "category": ["marketing", "marketing", "sales", "marketing", "marketing"],
        "amount": [999, 100, 250, 50, 999],
    }), "spend")


def test_spend_in_period_only():
    # February: marketing 100 + 50, sales 250; 31 Jan and 1 Mar are outside
    assert spend_totals(_spend(), period="2024-02") == {
        "sm_spend": 400.0, "marketing_spend": 150.0, "sales_spend": 250.0}


def test_spend_quarter_and_empty_period():
    # Q1 holds all five rows: 999 + 100 + 250 + 50 + 999
    assert spend_totals(_spend(), period="2024-Q1")["sm_spend"] == 2398.0
    assert spend_totals(_spend(), period="2023-12") == {
        "sm_spend": 0.0, "marketing_spend": 0.0, "sales_spend": 0.0}


def test_cost_to_serve():
    costs = check_table(pd.DataFrame({
        "date": ["2024-02-01", "2024-02-01", "2024-03-01"],
        "category": ["support", "infrastructure", "support"],
        "amount": [300, 900, 5]}), "costs")
    assert cost_to_serve(costs, period="2024-02", customers=4) == {
        "cost_to_serve": 1200.0, "cost_to_serve_per_customer": 300.0}
    assert cost_to_serve(costs, period="2024-02", customers=0)["cost_to_serve_per_customer"] is None
