"""Insight rules and goal statuses on small hand-made series: each rule fires when it
should and stays quiet otherwise."""

import pandas as pd
import pytest

from kpitools.metrics.overview import anomalies, divergences, goals, insights, movers, target_misses
from kpitools.sources.validate import check_table


def test_divergence_fires_on_opposite_moves():
    now = {"sessions": 1120, "visitor_to_lead_rate": 0.022}
    prev = {"sessions": 1000, "visitor_to_lead_rate": 0.030}
    found = divergences(now, prev, pairs=[("sessions", "visitor_to_lead_rate")])
    assert len(found) == 1
    assert found[0].text == "Sessions rose 12.0% while Visitor to lead fell 0.8 points."
    assert found[0].notebook == "funnel"
    assert found[0].size == pytest.approx(0.12 + 0.008 * 10)


def test_divergence_stays_quiet():
    pairs = [("pipeline_volume", "new_mrr")]
    # both up: no divergence
    assert divergences({"pipeline_volume": 120, "new_mrr": 60}, {"pipeline_volume": 100, "new_mrr": 50},
                       pairs=pairs) == []
    # the leading indicator barely moved (1 % < 2 %)
    assert divergences({"pipeline_volume": 101, "new_mrr": 40}, {"pipeline_volume": 100, "new_mrr": 50},
                       pairs=pairs) == []
    # a rate moving 0.05 points is noise (threshold 0.1)
    assert divergences({"sessions": 1200, "visitor_to_lead_rate": 0.0295},
                       {"sessions": 1000, "visitor_to_lead_rate": 0.0300},
                       pairs=[("sessions", "visitor_to_lead_rate")]) == []
    # missing values never fire
    assert divergences({"pipeline_volume": 150}, {"pipeline_volume": 100}, pairs=pairs) == []


def test_divergence_the_other_way():
    found = divergences({"pipeline_volume": 80, "new_mrr": 70}, {"pipeline_volume": 100, "new_mrr": 50},
                        pairs=[("pipeline_volume", "new_mrr")])
    assert found[0].text == "Open pipeline fell 20.0% while New MRR rose 40.0%."


def test_movers_rank_and_threshold():
    now = {"mrr": 110, "leads": 50, "customer_churn_rate": 0.05, "sessions": 1040}
    prev = {"mrr": 100, "leads": 100, "customer_churn_rate": 0.03, "sessions": 1000}
    found = movers(now, prev, list(now))
    # leads -50 %, churn +2 points (= 0.2), MRR +10 % is not above 10 %; sessions +4 %
    assert [i.kpi for i in found] == ["leads", "customer_churn_rate"]
    assert found[1].text == "Customer churn rose 2.0 points to 5.0% (from 3.0%)."
    assert movers(now, prev, list(now), top=1)[0].kpi == "leads"


def test_anomaly_rule():
    history = pd.DataFrame({"period": [f"2024-{m:02d}" for m in range(1, 8)],
                            "leads": [100, 104, 98, 101, 99, 102, 160]})
    found = anomalies(history, ["leads"])
    # median 100.5, MAD 1.5: z = 0.6745 x 59.5 / 1.5 = 26.8
    assert len(found) == 1 and "modified z-score +26.8" in found[0].text
    steady = history.assign(leads=[100, 104, 98, 101, 99, 102, 105])
    assert anomalies(steady, ["leads"]) == []  # z = 2.0: within 3.5
    small = history.assign(leads=[100, 100, 100, 100.5, 100, 100, 104])
    assert anomalies(small, ["leads"]) == []  # MAD 0 (no spread to judge against)
    assert anomalies(history.tail(6), ["leads"]) == []  # needs six earlier periods


def test_goal_statuses_complete_period():
    targets = check_table(pd.DataFrame({"period": ["2024-05"] * 3, "kpi": ["mrr", "customer_churn_rate", "leads"],
                                        "target": [1000, 0.03, 50]}), "targets")
    now = {"mrr": 1100, "customer_churn_rate": 0.04, "leads": 50}
    table = goals(now, targets, period="2024-05", data_end=pd.Timestamp("2024-06-10", tz="UTC")).set_index("kpi")
    assert table.loc["mrr", "status"] == "met" and table.loc["mrr", "gap"] == 100
    assert table.loc["customer_churn_rate", "status"] == "missed"  # lower is better
    assert table.loc["customer_churn_rate", "better"] == "lower"
    assert table.loc["leads", "status"] == "met"  # exactly on target
    found = target_misses(table.reset_index())
    assert [i.kpi for i in found] == ["customer_churn_rate"]
    assert found[0].size == pytest.approx(0.01 / 0.03)


def test_goal_statuses_running_period():
    targets = check_table(pd.DataFrame({"period": ["2024-06"] * 2, "kpi": ["leads", "mrr"],
                                        "target": [300, 2000]}), "targets")
    end = pd.Timestamp("2024-06-10 15:00", tz="UTC")  # 10 of 30 days covered
    # leads is a flow: pace = 300 x 10/30 = 100; MRR a level: 1000 + (2000 - 1000) x 1/3 = 1333
    on = goals({"leads": 101, "mrr": 1400}, targets, period="2024-06", data_end=end,
               previous={"mrr": 1000}).set_index("kpi")
    assert on.loc["leads", "status"] == "on track" and on.loc["mrr", "status"] == "on track"
    behind = goals({"leads": 99, "mrr": 1300}, targets, period="2024-06", data_end=end,
                   previous={"mrr": 1000}).set_index("kpi")
    assert behind.loc["leads", "status"] == "at risk" and behind.loc["mrr", "status"] == "at risk"
    assert goals({}, None, period="2024-06", data_end=end).empty


def test_insights_are_ranked():
    history = pd.DataFrame({"period": ["2024-01", "2024-02"], "sessions": [1000, 1300],
                            "visitor_to_lead_rate": [0.03, 0.02], "mrr": [100, 101]})
    found = insights(history, keys=["sessions", "mrr"])
    assert [i.kind for i in found] == ["divergence", "mover"]
    assert found[0].size >= found[1].size
    assert found[0].markdown().endswith("([funnel](funnel.html))")


def test_a_rate_on_a_handful_of_cases_ranks_nothing():
    """Six leads: lead-to-customer conversion jumps 17 points on one more customer. Below
    30 cases a rate takes part in no rule; above it, the finding says its base."""
    history = pd.DataFrame({"period": ["2024-01", "2024-02"], "leads": [6, 6], "mrr": [100, 101],
                            "lead_to_customer_rate": [1 / 6, 2 / 6]})
    assert insights(history, keys=["lead_to_customer_rate", "mrr"]) == []
    history["leads"] = [600, 600]
    found = insights(history, keys=["lead_to_customer_rate", "mrr"])
    assert [i.kpi for i in found] == ["lead_to_customer_rate"]
    assert "33.3% (of 600 leads)" in found[0].text
    churn = pd.DataFrame({"period": ["2024-01", "2024-02"], "customers": [20, 400],
                          "customer_churn_rate": [0.02, 0.30]})
    assert insights(churn, keys=["customer_churn_rate"]) == []  # 20 customers at the start of February
