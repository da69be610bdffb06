import ibis
import pandas as pd

import kpitools
from kpitools.metrics import quality
from kpitools.periods import Period

from .conftest import write_csv


def _data(tmp_path):
    d = tmp_path / "d"
    write_csv(d, "accounts", """
        account_id,signup_at,channel,segment
        A1,2024-01-03,organic,smb
        A2,2024-01-10,referral,
    """)
    write_csv(d, "events", """
        user_id,timestamp,event,account_id
        u1,2024-01-05T10:00:00Z,login,A1
        u2,2024-01-06T10:00:00Z,login,A9
        u3,2024-01-07T10:00:00Z,login,
        u1,2024-03-02T10:00:00Z,login,A1
        u1,2026-01-01T00:00:00Z,login,A1
    """)
    write_csv(d, "leads", """
        lead_id,created_at,channel,account_id
        L1,2024-01-01,organic,A1
        L2,2024-02-29T12:00:00Z,organic,A7
    """)
    return kpitools.load(d)


def test_table_profile(tmp_path):
    prof = quality.table_profile(_data(tmp_path)).set_index("table")
    assert prof.loc["events", "rows"] == 5 and prof.loc["accounts", "rows"] == 2
    assert prof.loc["costs", "rows"] == 0 and pd.isna(prof.loc["costs", "file"])
    assert prof.loc["leads", "last"] == pd.Timestamp("2024-02-29 12:00", tz="UTC")


def test_empty_shares(tmp_path):
    shares = quality.empty_shares(_data(tmp_path)).set_index(["table", "column"])
    assert shares.loc[("accounts", "segment"), "empty_share"] == 0.5
    assert shares.loc[("events", "account_id"), "empty"] == 1
    assert shares.loc[("events", "feature"), "empty_share"] == 1.0  # absent optional column
    assert shares.loc[("accounts", "account_id"), "empty_share"] == 0.0


def test_unknown_accounts(tmp_path):
    checks = quality.id_checks(_data(tmp_path)).set_index(["table", "check"])
    assert checks.loc[("events", "unknown account"), "rows"] == 1
    assert checks.loc[("events", "unknown account"), "examples"] == "A9"
    assert checks.loc[("leads", "unknown account"), "rows"] == 1
    assert checks.loc[("accounts", "duplicate id"), "rows"] == 0


def test_examples_are_the_first_three_ids_in_order():
    """Worked by hand: five offending rows of four ids; the examples are the three smallest,
    in order, joined by ", " (written without an ordered aggregate, which Spark lacks)."""
    import ibis

    from kpitools.engine import run

    ids = ibis.memtable({"id": ["E5", "E2", "E9", "E2", "E7"]})
    row = run(quality._offenders("events", "account_id", "unknown account", ids)).iloc[0]
    assert (row["rows"], row["distinct"], row["examples"]) == (5, 4, "E2, E5, E7")
    two = run(quality._offenders("events", "account_id", "unknown account", ibis.memtable({"id": ["B", "A"]})))
    assert two["examples"].iloc[0] == "A, B"


def test_late_rows(tmp_path):
    late = quality.late_rows(_data(tmp_path), now=pd.Timestamp("2025-01-01", tz="UTC"))
    late = late.set_index("table")
    # other tables end on 29 Feb: events on 2 Mar 2024 and in 2026 are after the data's end
    assert late.attrs["data_end"] == pd.Timestamp("2024-03-01", tz="UTC")
    assert late.loc["events", "after_data_end"] == 2
    assert late.loc["events", "in_future"] == 1
    assert late.loc["leads", "in_future"] == 0 and pd.isna(late.loc["leads", "after_data_end"])


def test_readiness(tmp_path):
    data = _data(tmp_path)
    ready = quality.analysis_readiness(data, Period.parse("2024-02")).set_index("analysis")
    assert ready.loc["unit_economics", "status"] == "cannot run"
    assert ready.loc["unit_economics", "note"] == "needs subscriptions + accounts"
    assert ready.loc["engagement", "status"] == "partial"  # no nps
    assert ready.loc["engagement", "missing"] == "nps"
    # retention runs on events alone (activity cohorts)
    assert ready.loc["retention_cohort", "uses"] == "accounts, events"
    outside = quality.analysis_readiness(data, Period.parse("2023-12")).set_index("analysis")
    assert "does not cover all of 2023-12" in outside.loc["engagement", "note"]


def test_complete_periods_and_summary(tmp_path):
    data = _data(tmp_path)  # 1 Jan 2024 to 1 Jan 2026: every month of 2024 and 2025 complete
    periods = quality.complete_periods(data).set_index("kind")
    assert periods.loc["month", "latest_complete"] == "2025-12"
    facts = quality.summary(data, Period.parse("2024-02"))
    assert facts["tables_present"] == 3 and facts["tables_total"] == 10
    assert facts["problems"] == 2 and facts["period_covered"]


def test_monthly_rows_fill_gaps(tmp_path):
    data = _data(tmp_path)
    events = data.events.to_pandas()
    data.tables["events"] = events[events["timestamp"].dt.year == 2024]
    rows = quality.monthly_rows(data)
    ev = rows[rows["table"] == "events"]
    assert ev["rows"].tolist() == [3, 0, 1]  # January, an empty February, March


def test_category_values(tmp_path):
    cats = quality.category_values(_data(tmp_path))
    ch = cats[(cats["table"] == "accounts") & (cats["column"] == "channel")]
    assert dict(zip(ch["value"], ch["rows"], strict=True)) == {"organic": 1, "referral": 1}


def test_overlapping_spans_are_counted_not_rejected():
    subs = kpitools.check_table(pd.DataFrame({
        "subscription_id": ["S1", "S2", "S3", "S4", "S5", "S6"],
        "account_id": ["A", "A", "B", "B", "C", "C"],
        # A: a second product from 1 Feb while the first runs to 1 Mar; B: an upgrade, back to back
        # (ends are exclusive); C: an open span and a later one beside it
        "start_date": ["2024-01-01", "2024-02-01", "2024-01-01", "2024-02-01", "2024-01-01", "2024-06-01"],
        "end_date": ["2024-03-01", None, "2024-02-01", None, None, "2024-07-01"],
        "mrr": [10, 20, 10, 20, 5, 5]}), "subscriptions")
    assert quality.overlapping_spans(subs)["subscription_id"].tolist() == ["S2", "S6"]
    data = kpitools.Dataset(directory=".", tables={"subscriptions": ibis.memtable(subs)})
    row = quality.id_checks(data).set_index("check").loc["overlapping spans (several products?)"]
    assert row["rows"] == 2 and row["distinct"] == 2
