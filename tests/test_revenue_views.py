"""Breakdowns, tiles, catalogue, narrative and charts of revenue and unit economics."""

import json

import numpy as np
import pandas as pd
import pytest

from kpitools import plots
from kpitools.metrics.compare import kpi_tiles, target_for
from kpitools.metrics.economics import UNIT_KEYS
from kpitools.metrics.revenue import REVENUE_KEYS, retention_by, revenue_metrics
from kpitools.metrics.spend import cost_breakdown, spend_by_channel
from kpitools.sources.data import Dataset
from kpitools.sources.validate import check_table
from kpitools.text.catalog import CATALOG, READING_NOTES, format_value, glossary, glossary_markdown
from kpitools.text.display import tiles
from kpitools.text.narrative import change_words, channel_story, revenue_story, segment_story

EVIL = "<script>alert(1)</script>"




@pytest.fixture
def accounts():
    return check_table(pd.DataFrame({
        "account_id": list("ABCDEFG"), "signup_at": ["2023-10-01"] * 7,
        "channel": ["organic", "referral", "organic", "organic", "referral", "paid_search", "organic"],
        "segment": ["smb", EVIL, "smb", "smb", EVIL, "smb", "smb"]}), "accounts")


def test_retention_by_segment(subs, accounts):
    table = retention_by(subs, accounts, period="2024-02", by="segment").set_index("segment")
    # EVIL segment = B and E: on 31 Jan 500 + 100, on 29 Feb 300 + 100
    assert table.loc[EVIL, "nrr"] == pytest.approx(400 / 600)
    assert table.loc[EVIL, "grr"] == pytest.approx(400 / 600)
    assert table.loc[EVIL, "customers"] == 2 and table.loc[EVIL, "mrr"] == 400
    # smb = A, C, D, F, G: on 31 Jan A 100 + C 200; now A 180 + C 0 (D, F not counted)
    assert table.loc["smb", "nrr"] == pytest.approx(180 / 300)
    assert table.loc["smb", "grr"] == pytest.approx(100 / 300)
    assert table.loc["smb", "mrr"] == 180 + 60 + 70
    assert np.isnan(table.loc["smb", "nrr_12m"])  # nobody paid on 28 Feb 2023


def test_spend_by_channel_and_cost_breakdown():
    spend = check_table(pd.DataFrame({
        "date": ["2024-02-01", "2024-02-02", "2024-02-03", "2024-03-01"],
        "channel": ["paid_search", "paid_search", "none", "paid_search"],
        "category": ["marketing", "sales", "sales", "marketing"], "amount": [300, 100, 600, 999]}), "spend")
    table = spend_by_channel(spend, period="2024-02")
    assert table.to_dict("records") == [
        {"channel": "none", "marketing": 0.0, "sales": 600.0, "total": 600.0, "share": 0.6},
        {"channel": "paid_search", "marketing": 300.0, "sales": 100.0, "total": 400.0, "share": 0.4}]
    costs = check_table(pd.DataFrame({"date": ["2024-02-01", "2024-02-09", "2024-02-01"],
                                      "category": ["support", "support", "infrastructure"],
                                      "amount": [100, 50, 50]}), "costs")
    table = cost_breakdown(costs, period="2024-02", customers=4)
    assert table.to_dict("records") == [
        {"category": "support", "amount": 150.0, "share": 0.75, "per_customer": 37.5},
        {"category": "infrastructure", "amount": 50.0, "share": 0.25, "per_customer": 12.5}]


def test_catalogue_covers_every_key():
    for key in (*REVENUE_KEYS, *UNIT_KEYS, "early_churn_rate"):
        assert key in CATALOG and CATALOG[key].definition, key
    assert format_value("customer_churn_rate", 0.0234) == "2.3%"
    assert format_value("mrr", 1234567.8) == "1,234,568"
    assert format_value("net_new_mrr", -50, signed=True) == "-50"
    assert format_value("cac_payback_months", 12.34) == "12.3 mo"
    assert format_value("ltv", None) == "—" and format_value("ltv", float("nan")) == "—"
    assert list(glossary(["mrr", "arr"])["kpi"]) == ["MRR", "ARR"]
    assert glossary_markdown(["arr"], notes=False) == "- **ARR** (`arr`): 12 x MRR."
    assert glossary_markdown(["arr"]).endswith(READING_NOTES)


def test_tiles(subs, tmp_path):
    targets = check_table(pd.DataFrame({"period": ["2024-02", "2024-02"], "kpi": ["mrr", "customer_churn_rate"],
                                        "target": [800, 0.2]}), "targets")
    data = Dataset(tmp_path, {"subscriptions": subs, "targets": targets})
    assert target_for(targets, "2024-02", "mrr") == 800 and target_for(targets, "2024-03", "mrr") is None
    t = kpi_tiles(data, "2024-02", ["mrr", "customer_churn_rate"]).set_index("key")
    assert (t.loc["mrr", "value"], t.loc["mrr", "previous"]) == (710, 900)
    assert t.loc["mrr", "change"] == -190 and t.loc["mrr", "change_pct"] == pytest.approx(-190 / 900)
    # 2023-02 lies before the data (from 2023-10-01): no comparison, never "+710 vs last year"
    assert pd.isna(t.loc["mrr", "last_year"]) and pd.isna(t.loc["mrr", "yoy_change"])
    assert pd.isna(t.loc["customer_churn_rate", "yoy_change"])
    assert t.loc["customer_churn_rate", "value"] == 0.25 and t.loc["customer_churn_rate", "previous"] == 0
    html = tiles(t.reset_index()).data
    assert "target 800: missed" in html  # MRR 710 below 800
    assert "target 20.0%: missed" in html  # churn 25 % above a 20 % ceiling
    assert "▲ +25.0 pts vs previous" in html and "kt-bad" in html
    assert html.count("vs last year: —") == 2


def test_change_words():
    assert change_words(110, 100) == "up 10.0%"
    assert change_words(0.021, 0.025, rate=True) == "down 0.4 points"
    assert change_words(5, 0) == "up from zero"
    assert change_words(5, None) == "with no earlier value to compare"


def test_revenue_story_names_the_driver(subs):
    t = revenue_metrics(subs, periods=["2024-01", "2024-02"])
    text = revenue_story(t.iloc[1], t.iloc[0])
    assert text.startswith("MRR fell to **710** at the end of 2024-02 (down 21.1%)")
    assert "net new MRR of **-190**" in text
    # January net new +200, February -190: churn (-200) moved most ... and contraction (-200) ties;
    # the first largest in the bridge's order is reported
    assert "the largest change was in" in text


def test_stories_escape_group_names():
    by = pd.DataFrame({"channel": [EVIL, "organic"], "ltv_cac": [5.0, 0.5], "payback_months": [3.0, 40.0],
                       "churn_rate": [0.01, 0.05], "cac": [100.0, 900.0]})
    text = channel_story(by, months=12)
    assert EVIL not in text and "&#60;script&#62;" in text
    assert "**organic** does not recover its acquisition cost" in text
    assert "9 times the lowest" in text
    seg = pd.DataFrame({"segment": [EVIL, "smb"], "nrr_12m": [1.2, 0.8]})
    text = segment_story(seg)
    assert EVIL not in text and "expand" in text and "**smb** (80.0%) shrink" in text


def test_bridge_chart_draws_the_movements(subs):
    t = revenue_metrics(subs, periods=["2024-01", "2024-02"])
    ax = plots.mrr_bridge(t)
    drawn = {c.get_label(): [p.get_height() for p in c.patches] for c in ax.containers}
    # January: new 200; February: new 70, reactivation 60, expansion 80, contraction and churn 200 each
    assert drawn == {"New": [200, 70], "Reactivation": [0, 60], "Expansion": [0, 80],
                     "Contraction": [0, -200], "Churned": [0, -200]}
    net = ax.get_lines()[0]
    assert list(net.get_ydata()) == [200, -190]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2024-01", "2024-02"]


def test_waterfall_ends_at_mrr(subs):
    row = revenue_metrics(subs, periods=["2024-02"]).iloc[0]
    ax = plots.mrr_waterfall(row)
    bars = ax.patches
    assert bars[0].get_height() == 900 and bars[-1].get_height() == 710
    assert [b.get_height() for b in bars[1:-1]] == [70, 60, 80, 200, 200]
    # each loss hangs from the running level: contraction from 1110 down to 910, churn to 710
    assert bars[4].get_y() == 910 and bars[5].get_y() == 710
    assert ax.get_title() == "MRR bridge, 2024-02"


def test_channel_bars_lists_missing_values():
    table = pd.DataFrame({"channel": ["a", "b", "c"], "ltv_cac": [2.0, np.nan, 5.0]})
    ax = plots.channel_bars(table, "ltv_cac", reference=3)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["b", "a", "c"]
    assert [p.get_width() for p in ax.patches] == [0, 2.0, 5.0]
    assert [t.get_text() for t in ax.texts] == ["n/a", "2.0", "5.0"]


def test_kpis_json_is_serialisable(subs, tmp_path):
    from kpitools.metrics.kpis import compute_kpis

    values = compute_kpis(Dataset(tmp_path, {"subscriptions": subs}), "2024-02")
    assert json.loads(json.dumps(values)) == values


def test_period_changes():
    from kpitools.metrics.compare import period_changes

    history = pd.DataFrame({"period": ["2024-01", "2024-02"], "leads": [100, 120],
                            "visitor_to_lead_rate": [0.030, 0.025]})
    t = period_changes(history, ["leads", "visitor_to_lead_rate"]).set_index("key")
    assert t.loc["leads", "change"] == pytest.approx(0.2)
    assert t.loc["visitor_to_lead_rate", "change"] == pytest.approx(-0.5)  # points
    assert t.loc["leads", "kpi"] == "Leads"


def test_ltv_estimates_fill_in_the_formula():
    from kpitools.metrics.economics import ltv_estimates

    t = ltv_estimates({"ltv": 4000.0, "ltv_lifespan": 4500.0, "ltv_projected": float("nan"),
                       "arpu": 100.0, "gross_margin": 0.8, "churn_rate_avg": 0.02})
    assert t["formula"].iloc[0] == "100 x 80.0% / 2.00%"
    assert t["value"].tolist()[:2] == [4000.0, 4500.0]
    assert ltv_estimates({"arpu": 100.0})["formula"].iloc[0] == "100 x 100.0% / —"


def test_onboarding_story():
    from kpitools.text.narrative import onboarding_story

    steps = pd.DataFrame({"step": ["viewed onboarding", "1_profile", EVIL], "users": [10, 8, 2],
                          "rate_from_previous": [np.nan, 0.8, 0.25]})
    text = onboarding_story(steps)
    assert text.startswith("Onboarding loses most people at **&#60;script&#62;")
    assert "25.0% of those" in text


def test_zero_and_counts_read_as_a_manager_reads_them():
    """Worked by hand: a zero movement (or minus zero, or -0.3 rounded) is "0", never "-0";
    a count takes its noun in the right number; the waterfall labels a zero movement "0"."""
    import matplotlib

    matplotlib.use("Agg")
    from kpitools import plots
    from kpitools.text.narrative import counted

    assert format_value("net_new_mrr", -0.0, signed=True) == "0"
    assert format_value("net_new_mrr", -0.3, signed=True) == "0"
    assert format_value("net_new_mrr", -5, signed=True) == "-5"
    assert format_value("customer_churn_rate", -0.00001, signed=True) == "0.0%"
    assert format_value("net_new_mrr", 1200, signed=True) == "+1,200"
    assert counted(1, "new customer") == "1 new customer" and counted(1204, "user") == "1,204 users"
    assert counted(0, "customer") == "0 customers"
    row = {"period": "2024-02", "mrr_start": 900.0, "mrr": 950.0, "new_mrr": 50.0, "reactivation_mrr": 0.0,
           "expansion_mrr": 0.0, "contraction_mrr": 0.0, "churned_mrr": 0.0}
    labels = [t.get_text() for t in plots.mrr_waterfall(row).texts]
    assert "-0" not in labels and labels.count("0") == 4 and "+50" in labels
