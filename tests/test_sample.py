"""The sample company: valid under the contract, reproducible, and holding its stories."""

from types import SimpleNamespace

import pandas as pd
import pytest

import kpitools
from kpitools.report.paths import SAMPLE_DATA
from kpitools.sample import generate, write
from kpitools.sources.schema import TABLES


@pytest.fixture(scope="module")
def sample():
    return kpitools.load(SAMPLE_DATA)


def test_every_contract_table_is_generated(small_tables):
    assert set(small_tables) == set(TABLES)
    for name, frame in small_tables.items():
        spec = TABLES[name]
        assert [c.name for c in spec.columns] == list(frame.columns), name
        assert len(frame) > 0, name


def test_same_seed_same_data(small_tables):
    again = generate(seed=3, scale=0.05, start="2025-01-01", end="2025-07-20")
    for name in small_tables:
        pd.testing.assert_frame_equal(small_tables[name], again[name])
    other = generate(seed=4, scale=0.05, start="2025-01-01", end="2025-07-20")
    assert len(other["events"]) != len(small_tables["events"])


def test_written_csv_and_parquet_pass_validation(small_tables, small_dir, tmp_path):
    from_parquet = kpitools.load(small_dir)
    write(small_tables, tmp_path / "csv", fmt="csv")
    from_csv = kpitools.load(tmp_path / "csv")
    assert set(from_parquet.tables) == set(from_csv.tables) == set(TABLES)
    for name in TABLES:
        assert from_parquet.row_counts()[name] == from_csv.row_counts()[name] == len(small_tables[name])
    # the CSV writer keeps dates as dates
    text = (tmp_path / "csv" / "subscriptions.csv").read_text().splitlines()[1]
    assert ",20" in text and "T00:00:00" not in text


def test_scale_grows_the_company():
    small = generate(seed=1, scale=0.02, start="2025-01-01", end="2025-04-01")
    large = generate(seed=1, scale=0.08, start="2025-01-01", end="2025-04-01")
    assert len(large["events"]) > 3 * len(small["events"])
    assert len(large["leads"]) > 3 * len(small["leads"])


def test_committed_sample_size_and_span(sample):
    size = sum(p.stat().st_size for p in SAMPLE_DATA.glob("*.parquet"))
    assert size <= 20 * 1024 * 1024
    start, end = sample.date_range
    assert (end - start).days >= 24 * 30
    assert str(sample.latest_complete("M")) == "2026-09"
    assert sample.row_counts()["events"] > 1_000_000


@pytest.fixture(scope="module")
def frames(sample):
    """The sample's tables as pandas, to check the generator's story by other means."""
    return SimpleNamespace(**{name: t.to_pandas() for name, t in sample.tables.items()})


def test_internal_consistency(frames):
    leads, acc, subs = frames.leads, frames.accounts, frames.subscriptions
    # stages happen in order
    for a, b in [("created_at", "lead_at"), ("lead_at", "mql_at"), ("mql_at", "sal_at"),
                 ("sal_at", "sql_at"), ("sql_at", "won_at")]:
        both = leads[[a, b]].dropna()
        assert (both[b] >= both[a]).all(), (a, b)
    # every account comes from a lead, and every paying account was won
    assert acc["account_id"].isin(leads["account_id"]).all()
    won = set(leads.loc[leads["won_at"].notna(), "account_id"])
    assert set(subs["account_id"]) <= won
    # monthly and annual plans, upgrades, downgrades, churn and reactivations all occur
    assert set(subs["billing_period"]) == {"month", "year"}
    spans = subs.sort_values(["account_id", "start_date"])
    assert subs["subscription_id"].is_unique  # one id per span, as the contract says
    nxt = spans.groupby("account_id").shift(-1)
    same_sub = nxt["start_date"] == spans["end_date"]  # the next span continues this one
    assert ((nxt["mrr"] > spans["mrr"]) & same_sub).sum() > 20  # upgrades
    assert ((nxt["mrr"] < spans["mrr"]) & same_sub).sum() > 20  # downgrades
    assert ((nxt["start_date"] > spans["end_date"]) & ~same_sub).sum() > 5  # win-backs after a gap
    assert (spans.groupby("account_id")["end_date"].apply(lambda s: s.notna().all())).sum() > 50


def _paying(frames):
    subs = frames.subscriptions
    acc = frames.accounts.set_index("account_id")
    ended = subs.groupby("account_id")["end_date"].apply(lambda s: s.notna().all())
    frame = pd.DataFrame({"channel": acc.loc[ended.index, "channel"], "churned": ended,
                          "mrr": subs.groupby("account_id")["mrr"].mean()})
    return frame


def test_story_referral_churns_least_and_has_best_ltv_cac(frames):
    paying = _paying(frames)
    churn = paying.groupby("channel")["churned"].mean()
    assert churn.idxmin() == "referral"
    spend = frames.spend.groupby("channel")["amount"].sum().drop("none")
    cac = spend / paying.groupby("channel").size()
    ltv = paying.groupby("channel")["mrr"].mean() / churn
    assert (ltv / cac).idxmax() == "referral"


def test_story_paid_social_has_worst_cac(frames):
    paying = _paying(frames)
    spend = frames.spend.groupby("channel")["amount"].sum().drop("none")
    cac = spend / paying.groupby("channel").size()
    assert cac.idxmax() == "paid_social"


def test_story_enterprise_expands(frames):
    subs, acc = frames.subscriptions, frames.accounts.set_index("account_id")

    def mrr_on(day):
        d = pd.Timestamp(day, tz="UTC")
        live = subs[(subs["start_date"] <= d) & (subs["end_date"].isna() | (subs["end_date"] > d))]
        return live.groupby("account_id")["mrr"].sum()

    before, after = mrr_on("2025-09-30"), mrr_on("2026-09-30")
    segment = acc.loc[before.index, "segment"]
    after = after.reindex(before.index, fill_value=0)
    nrr = after.groupby(segment).sum() / before.groupby(segment).sum()
    assert nrr["enterprise"] > 1.0
    assert nrr["smb"] < 1.0


def test_story_sessions_rise_while_visitor_to_lead_falls(frames):
    ev = frames.events
    web = ev[ev["event"].eq("page_view") & ev["channel"].notna()]
    month = web["timestamp"].dt.tz_convert(None).dt.to_period("M")
    visitors = web.groupby(month)["user_id"].nunique()
    leads = frames.leads["lead_at"].dropna().dt.tz_convert(None).dt.to_period("M").value_counts()
    last3 = pd.period_range("2026-07", "2026-09", freq="M")
    before3 = pd.period_range("2026-04", "2026-06", freq="M")
    v2l = leads / visitors
    assert visitors[last3].is_monotonic_increasing
    assert v2l[last3].is_monotonic_decreasing
    assert visitors[last3].sum() > 1.15 * visitors[before3].sum()
    assert v2l[last3].mean() < 0.85 * v2l[before3].mean()


def test_overview_names_the_story(sample):
    from kpitools import compute_kpis
    from kpitools.metrics.overview import divergences

    now, prev = compute_kpis(sample, "2026-09"), compute_kpis(sample, "2026-08")
    found = [i for i in divergences(now, prev) if i.kpi == "sessions"]
    assert any("Visitor to lead fell" in i.text for i in found)
