"""Mapping the analyst's own tables onto the contract (kpitools.toml, --mapping), and the
ready-made mappings, each against a small table shaped like the real export whose KPIs
are worked out by hand."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pandas as pd
import pytest

import kpitools
from kpitools.errors import DataError
from kpitools.metrics.kpis import kpis_for
from kpitools.sources.mapping import read_mapping

STRIPE = """
CREATE TABLE customers (id VARCHAR, created TIMESTAMPTZ, email VARCHAR, metadata JSON);
INSERT INTO customers VALUES
  ('cus_1', '2025-01-01 09:00:00+00', 'a@example.com', '{"channel": "organic"}'),
  ('cus_2', '2025-01-10 12:00:00+00', 'b@example.com', NULL),
  ('cus_3', '2025-02-01 08:00:00+00', 'c@example.com', '{}');
CREATE TABLE prices (id VARCHAR, product_id VARCHAR, nickname VARCHAR, unit_amount BIGINT, currency VARCHAR,
                     recurring_interval VARCHAR, recurring_interval_count BIGINT);
INSERT INTO prices VALUES
  ('price_m', 'prod_team', 'Team monthly', 5000, 'usd', 'month', 1),
  ('price_y', 'prod_team', 'Team yearly', 120000, 'usd', 'year', 1),
  ('price_q', 'prod_pro', NULL, 30000, 'usd', 'month', 3),
  ('price_use', 'prod_api', 'API usage', NULL, 'usd', 'month', 1);
CREATE TABLE subscriptions (id VARCHAR, customer_id VARCHAR, status VARCHAR, created TIMESTAMPTZ,
                            start_date TIMESTAMPTZ, ended_at TIMESTAMPTZ, canceled_at TIMESTAMPTZ,
                            cancel_at TIMESTAMPTZ);
INSERT INTO subscriptions VALUES
  ('sub_1', 'cus_1', 'active',   '2025-01-05 10:00:00+00', '2025-01-05 10:00:00+00', NULL, NULL, NULL),
  ('sub_2', 'cus_2', 'canceled', '2025-01-15 10:00:00+00', '2025-01-15 10:00:00+00',
            '2025-03-15 00:00:00+00', '2025-02-20 16:00:00+00', '2025-03-15 00:00:00+00'),
  ('sub_3', 'cus_3', 'trialing', '2025-02-03 10:00:00+00', '2025-02-03 10:00:00+00', NULL, NULL, NULL),
  ('sub_4', 'cus_3', 'active',   '2025-03-10 10:00:00+00', '2025-03-10 10:00:00+00', NULL, NULL, NULL);
CREATE TABLE subscription_items (id VARCHAR, subscription_id VARCHAR, price_id VARCHAR, quantity BIGINT);
INSERT INTO subscription_items VALUES
  ('si_1', 'sub_1', 'price_m', 2),
  ('si_2', 'sub_1', 'price_use', NULL),
  ('si_3', 'sub_2', 'price_y', 1),
  ('si_4', 'sub_3', 'price_m', 1),
  ('si_5', 'sub_4', 'price_q', 1);
"""


def _kpis(data, period: str) -> dict:
    """A period's KPIs, also of a period after the data's last day (kpis_for, which report
    histories use; compute_kpis refuses a period wholly outside the data)."""
    return kpis_for(data, [period])[period]


@pytest.fixture
def stripe_file(tmp_path: Path) -> Path:
    path = tmp_path / "stripe.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(STRIPE)
    return path


def test_stripe_kpis_by_hand(stripe_file):
    """MRR per item = unit_amount / 100 x quantity per month:
    si_1 2 x $50 = $100 (sub_1, from 5 Jan), si_2 metered = $0, si_3 $1,200 a year = $100
    (sub_2, 15 Jan to 15 Mar: canceled_at 20 Feb is only the request), si_4 trialing: left
    out, si_5 $300 every 3 months = $100 (sub_4, from 10 Mar).
    End of Feb: si_1 + si_3 = $200, customers cus_1 and cus_2. End of Mar: si_1 + si_5 =
    $200: cus_2's $100 churned on 15 Mar, cus_3's $100 is new."""
    assert_stripe_by_hand(kpitools.load(stripe_file, mapping="stripe"))


def assert_stripe_by_hand(data) -> None:
    """The values worked out in :func:`test_stripe_kpis_by_hand` (also on PostgreSQL)."""
    subs = data.subscriptions.to_pandas().set_index("subscription_id").sort_index()
    assert list(subs.index) == ["si_1", "si_2", "si_3", "si_5"]
    assert subs["mrr"].tolist() == [100.0, 0.0, 100.0, 100.0]
    assert subs["billing_period"].tolist() == ["month", "month", "year", "month"]
    assert subs["plan"].tolist() == ["Team monthly", "API usage", "Team yearly", "prod_pro"]
    assert subs.loc["si_3", "end_date"].isoformat() == "2025-03-15T00:00:00+00:00"
    accounts = data.accounts.to_pandas().set_index("account_id").sort_index()
    assert accounts["channel"].tolist() == ["organic", "(not in Stripe)", "(not in Stripe)"]
    feb, mar = _kpis(data, "2025-02"), _kpis(data, "2025-03")
    assert (feb["mrr"], feb["customers"]) == (200.0, 2)
    assert (mar["mrr"], mar["customers"], mar["churned_mrr"], mar["new_mrr"]) == (200.0, 2, 100.0, 100.0)
    assert mar["churned_customers"] == 1 and mar["new_customers"] == 1


def test_a_folder_mapping_file_is_read_by_itself(tmp_path):
    """kpitools.toml in the data folder: a CSV of the analyst's own columns, typed as
    DuckDB reads them, an expression for mrr, a contract column taken by its own name."""
    (tmp_path / "billing.csv").write_text(
        "sub,cust,started,stopped,cents,plan\n"
        "S1,1.10,2024-01-05,,9900,pro\n"
        "S2,1.20,2024-01-20,2024-02-10,4900,basic\n")
    (tmp_path / "signups.csv").write_text("account_id,signup_at,source\n1.10,2024-01-01,ads\n1.20,2024-01-02,seo\n"
                                          "1.30,2024-01-03,ads\n")
    (tmp_path / "kpitools.toml").write_text(
        '[subscriptions]\nfrom = "billing.csv"\n[subscriptions.columns]\n'
        'subscription_id = "sub"\naccount_id = "cust"\nstart_date = "started"\nend_date = "stopped"\n'
        'mrr = "cents / 100.0"\n'
        '[accounts]\nfrom = "signups.csv"\n[accounts.columns]\nchannel = "source"\n')
    data = kpitools.load(tmp_path)
    # ids stay as written (read as numbers, 1.10 would become 1.1)
    assert sorted(data.accounts.to_pandas()["account_id"]) == ["1.10", "1.20", "1.30"]
    assert sorted(data.subscriptions.to_pandas()["account_id"]) == ["1.10", "1.20"]
    jan = _kpis(data, "2024-01")
    assert (jan["mrr"], jan["customers"]) == (148.0, 2)
    assert _kpis(data, "2024-02")["mrr"] == 99.0


def test_the_mappings_problems_and_the_datas_come_together(tmp_path):
    """One run of check names what the mapping gets wrong and what the data gets wrong."""
    (tmp_path / "billing.csv").write_text("sub,account_id,start_date,mrr\nS1,A1,2024-01-05,-10\n")
    (tmp_path / "accounts.csv").write_text("account_id,signup_at,channel\nA1,2024-01-01,ads\n")
    bad = tmp_path / "kpitools.toml"
    bad.write_text('[subscription]\nfrom = "x"\n[accounts]\nfrom = "a.csv"\n[accounts.columns]\nchanel = "c"\n'
                   '[subscriptions]\nfrom = "billing.csv"\n[subscriptions.columns]\nsubscription_id = "sub"\n')
    mapping = read_mapping(bad)
    assert sorted(mapping.tables) == ["subscriptions"]
    with pytest.raises(DataError) as err:
        kpitools.load(tmp_path)
    message = str(err.value)
    assert "'subscription' is not a table of the data contract; did you mean 'subscriptions'" in message
    assert "'chanel' is not a column of the contract's accounts table; did you mean 'channel'" in message
    assert "billing.csv (mapped to subscriptions), column 'mrr': 1 row has a negative amount" in message
    assert "line 2: mrr=" in message


def test_a_required_column_without_a_mapping_names_close_matches(tmp_path):
    (tmp_path / "billing.csv").write_text("subscription_id,account_id,start_date,MRR,monthly_amount\n"
                                          "S1,A1,2024-01-05,10,10\n")
    mapping = tmp_path / "map.toml"
    mapping.write_text('[subscriptions]\nfrom = "billing.csv"\n')
    with pytest.raises(DataError, match=r"no column 'mrr' in the source and none mapped; did you mean 'MRR'"):
        kpitools.load(tmp_path, mapping=mapping)


def test_an_expression_the_engine_rejects_is_one_error(tmp_path):
    (tmp_path / "billing.csv").write_text("sub,account_id,start_date,cents\nS1,A1,2024-01-05,10\n")
    mapping = tmp_path / "map.toml"
    mapping.write_text('[subscriptions]\nfrom = "billing.csv"\n[subscriptions.columns]\n'
                       'subscription_id = "sub"\nmrr = "no_such_column / 100"\n')
    with pytest.raises(DataError, match=r"billing.csv \(mapped to subscriptions\): the mapping's columns cannot be"):
        kpitools.load(tmp_path, mapping=mapping)


def test_an_unknown_ready_made_mapping_lists_them(tmp_path):
    with pytest.raises(DataError, match=r"ready-made mappings: stripe, hubspot, segment, ga4"):
        read_mapping("chargebee")


SEGMENT = """
CREATE TABLE tracks (id VARCHAR, user_id VARCHAR, anonymous_id VARCHAR, "timestamp" TIMESTAMPTZ,
                     event VARCHAR, event_text VARCHAR, context_campaign_source VARCHAR);
INSERT INTO tracks VALUES
  ('t1', 'u1', 'a1', '2025-03-03 10:00:00+00', 'signed_up', 'Signed Up', 'newsletter'),
  ('t2', NULL, 'a9', '2025-03-03 09:55:00+00', 'product_viewed', 'Product Viewed', 'google'),
  ('t3', 'u1', 'a1', '2025-03-05 11:00:00+00', 'activated', 'Activated', NULL),
  ('t4', 'u2', 'a2', '2025-03-10 08:00:00+00', 'signed_up', 'Signed Up', 'ads'),
  ('t5', 'u2', 'a2', '2025-04-02 08:00:00+00', 'order_completed', 'Order Completed', NULL);
CREATE TABLE pages (id VARCHAR, user_id VARCHAR, anonymous_id VARCHAR, "timestamp" TIMESTAMPTZ, name VARCHAR,
                    path VARCHAR, context_campaign_source VARCHAR);
INSERT INTO pages VALUES
  ('p1', NULL, 'a9', '2025-03-03 09:50:00+00', 'Home', '/', 'google'),
  ('p2', 'u1', 'a1', '2025-03-20 14:00:00+00', 'Pricing', '/pricing', NULL);
"""


def test_segment_kpis_by_hand(tmp_path):
    """People: a9 (anonymous: a page and a product view on 3 Mar), u1 (signed up 3 Mar,
    activated 5 Mar, a page on 20 Mar), u2 (signed up 10 Mar, bought 2 Apr).
    March: 3 active people, 3 new; 2 signups of which u1 activated within 14 days: 50 %.
    April: only u2, not new. Event names: signed_up -> signup, order_completed -> purchase,
    pages -> page_view, product_viewed kept."""
    path = tmp_path / "segment.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(SEGMENT)
    data = kpitools.load(path, mapping="segment")
    events = data.events.to_pandas().sort_values("timestamp")
    assert events["event"].tolist() == ["page_view", "product_viewed", "signup", "activated", "signup",
                                        "page_view", "purchase"]
    assert events["user_id"].tolist() == ["a9", "a9", "u1", "u1", "u2", "u1", "u2"]
    assert events["channel"].tolist()[:3] == ["google", "google", "newsletter"]
    mar, apr = _kpis(data, "2025-03"), _kpis(data, "2025-04")
    assert (mar["mau"], mar["new_users"], mar["activation_rate"]) == (3.0, 3.0, 0.5)
    assert (apr["mau"], apr["new_users"]) == (1.0, 0.0)


def _micros(stamp: str) -> int:
    return int(pd.Timestamp(stamp, tz="UTC").value // 1000)


def test_ga4_kpis_by_hand(tmp_path):
    """Browser p1 arrives from google on 3 Mar (first_visit, page_view), signs up as u1 at
    09:05 and starts the tutorial on 4 Mar; browser p2 comes from the newsletter on 12 Mar;
    u1 buys on 1 Apr. March: p1, u1 and p2 are 3 ids (p1 and u1 are one person: the
    mapping's caveat), 1 signup, who viewed the onboarding (tutorial_begin) and did not
    activate. April: u1 alone."""
    path = tmp_path / "ga4.duckdb"
    rows = [("20250303", "2025-03-03 09:00", "first_visit", None, "p1", "google"),
            ("20250303", "2025-03-03 09:01", "page_view", None, "p1", "google"),
            ("20250303", "2025-03-03 09:05", "sign_up", "u1", "p1", None),
            ("20250304", "2025-03-04 10:00", "tutorial_begin", "u1", "p1", None),
            ("20250312", "2025-03-12 10:00", "page_view", None, "p2", "newsletter"),
            ("20250401", "2025-04-01 12:00", "purchase", "u1", "p1", None)]
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE events (event_date VARCHAR, event_timestamp BIGINT, event_name VARCHAR, "
                    "user_id VARCHAR, user_pseudo_id VARCHAR, "
                    "collected_traffic_source STRUCT(manual_source VARCHAR, manual_medium VARCHAR), "
                    "event_params STRUCT(key VARCHAR, value STRUCT(string_value VARCHAR, int_value BIGINT))[])")
        for day, at, name, user, pseudo, source in rows:
            con.execute("INSERT INTO events VALUES (?, ?, ?, ?, ?, {'manual_source': ?, 'manual_medium': NULL}, [])",
                        [day, _micros(at), name, user, pseudo, source])
    data = kpitools.load(path, mapping="ga4")
    events = data.events.to_pandas().sort_values("timestamp")
    assert events["event"].tolist() == ["first_visit", "page_view", "signup", "onboarding_viewed", "page_view",
                                        "purchase"]
    assert events["user_id"].tolist() == ["p1", "p1", "u1", "u1", "p2", "u1"]
    assert events["timestamp"].iloc[2].isoformat() == "2025-03-03T09:05:00+00:00"
    assert events["channel"].tolist()[:2] == ["google", "google"]
    mar, apr = _kpis(data, "2025-03"), _kpis(data, "2025-04")
    assert (mar["mau"], mar["new_users"], mar["activation_rate"], mar["onboarding_view_rate"]) == (3.0, 3.0, 0.0, 1.0)
    assert (apr["mau"], apr["new_users"]) == (1.0, 0.0)


def test_hubspot_kpis_by_hand(tmp_path):
    """Period flow in March 2025 (stages reached during the month): contacts created 101,
    102, 103 = 3; leads 101, 102 = 2; MQLs 101 (5 Mar) and 104 (1 Mar) = 2; SQLs 101
    (20 Mar) and 104 (15 Mar) = 2; customers 0 (101 on 10 Apr)."""
    folder = tmp_path / "hubspot"
    folder.mkdir()
    (folder / "contacts.csv").write_text(
        "hs_object_id,createdate,hs_analytics_source,hs_lifecyclestage_lead_date,"
        "hs_lifecyclestage_marketingqualifiedlead_date,hs_lifecyclestage_salesqualifiedlead_date,"
        "hs_lifecyclestage_customer_date,associatedcompanyid\n"
        "101,2025-03-02T10:00:00Z,ORGANIC_SEARCH,2025-03-02T10:00:00Z,2025-03-05T10:00:00Z,"
        "2025-03-20T10:00:00Z,2025-04-10T10:00:00Z,9001\n"
        "102,2025-03-04T10:00:00Z,PAID_SEARCH,2025-03-04T10:00:00Z,,,,\n"
        "103,2025-03-10T10:00:00Z,ORGANIC_SEARCH,,,,,\n"
        "104,2025-02-20T10:00:00Z,EMAIL_MARKETING,2025-02-20T10:00:00Z,2025-03-01T10:00:00Z,"
        "2025-03-15T10:00:00Z,,\n")
    data = kpitools.load(folder, mapping="hubspot")
    leads = data.leads.to_pandas().set_index("lead_id").sort_index()
    assert leads["channel"].tolist() == ["organic_search", "paid_search", "organic_search", "email_marketing"]
    assert leads["account_id"].tolist()[0] == "9001" and pd.isna(leads.loc["102", "account_id"])
    mar, apr = _kpis(data, "2025-03"), _kpis(data, "2025-04")
    assert [mar[k] for k in ("contacts", "leads", "mqls", "sqls", "customers_won")] == [3, 2, 2, 2, 0]
    assert apr["customers_won"] == 1


def test_a_report_of_mapped_data(stripe_file, tmp_path):
    """`kpitools report --mapping stripe`: the run and its notebooks read the mapping (the
    saved notebook names it), and kpis.json holds the values worked out by hand above."""
    from kpitools.report.paths import NOTEBOOKS
    from kpitools.report.runner import render_reports

    out = tmp_path / "reports"
    summary = render_reports(stripe_file, ["2025-03"], out=out, progress=False, jobs=1, mapping="stripe",
                             notebooks=[NOTEBOOKS / "data_quality.ipynb"])
    assert summary.published == ["2025-03"], [r.error for r in summary.failed]
    kpis = json.loads((out / "2025-03" / "kpis.json").read_text())
    assert (kpis["mrr"], kpis["customers"], kpis["churned_mrr"], kpis["new_mrr"]) == (200.0, 2, 100.0, 100.0)
    saved = json.loads((out / "2025-03" / "data_quality.ipynb").read_text())
    assert saved["metadata"]["papermill"]["parameters"]["mapping"] == "stripe"
    html = (out / "2025-03" / "data_quality.html").read_text()
    assert "stripe.duckdb" in html
    assert re.search(r"mapped by the ready-made mapping (&#x27;|&#39;|')stripe", html)
    assert "canceled_at is when the customer asked to cancel" in html


def test_a_broken_mapped_csv_is_one_error(tmp_path):
    """A row with more fields than the header (DuckDB would name them column4 and read
    on) is refused as for a contract file; a short row's missing values are empty."""
    (tmp_path / "billing.csv").write_text("sub,account_id,start_date,cents\nS1,A1,2024-01-05,10\n"
                                          "S2,A2\nS3,A3,2024-01-05,10,99\n")
    (tmp_path / "kpitools.toml").write_text('[subscriptions]\nfrom = "billing.csv"\n[subscriptions.columns]\n'
                                            'subscription_id = "sub"\nmrr = "cents / 100.0"\n')
    with pytest.raises(DataError, match=r"billing.csv \(mapped to subscriptions\): line 4 has more fields than "
                                        r"the header's 4"):
        kpitools.load(tmp_path)
    (tmp_path / "billing.csv").write_text("sub,account_id,start_date,cents\nS1,A1,2024-01-05,10\nS2,A2\n")
    with pytest.raises(DataError, match=r"column 'start_date': 1 row has no value.*\n.*line 3"):
        kpitools.load(tmp_path)
