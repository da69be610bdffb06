"""The contract's rules on values: non-finite and non-numeric numbers, dates outside the
accepted years, open-ended spans, times in the future, unique subscriptions, nested
Parquet columns, true line numbers, and every problem reported together."""

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import kpitools
from kpitools import DataError
from kpitools.cli import main
from kpitools.errors import InvalidValueError

from .conftest import ACCOUNTS, write_csv


def _subs(tmp_path, rows: str) -> None:
    write_csv(tmp_path, "accounts", ACCOUNTS)
    write_csv(tmp_path, "subscriptions", "subscription_id,account_id,start_date,end_date,mrr\n" + rows)


@pytest.mark.parametrize("word", ["inf", "Infinity", "-inf", "-Infinity"])
def test_infinite_money_is_rejected(tmp_path, word):
    _subs(tmp_path, f"S1,A1,2024-01-05,,100\nS2,A2,2024-01-05,,{word}\n")
    with pytest.raises(InvalidValueError, match=rf"(?s)column 'mrr': 1 row has a value that is not finite"
                                                rf".*line 3: mrr='{word}'"):
        kpitools.load(tmp_path)


def test_nan_in_a_required_number_is_rejected(tmp_path):
    _subs(tmp_path, "S1,A1,2024-01-05,,NaN\n")
    with pytest.raises(InvalidValueError, match=r"column 'mrr': 1 row has a value that is not a number"):
        kpitools.load(tmp_path)


def test_boolean_parquet_column_is_not_money(tmp_path):
    write_csv(tmp_path, "accounts", ACCOUNTS)
    pd.DataFrame({"subscription_id": ["S1", "S2"], "account_id": ["A1", "A2"],
                  "start_date": ["2024-01-05", "2024-01-05"], "mrr": [True, False]}
                 ).to_parquet(tmp_path / "subscriptions.parquet")
    with pytest.raises(InvalidValueError, match=r"column 'mrr': 2 rows have a true/false value; "
                                                r"expected a plain number"):
        kpitools.load(tmp_path)


def test_sums_cannot_overflow(tmp_path):
    # two values of 1e308 add up to infinity: no amount is that large
    _subs(tmp_path, "S1,A1,2024-01-05,,1e308\nS2,A2,2024-01-05,,1e308\nS3,A3,2024-02-10,,999999999999.99\n")
    with pytest.raises(InvalidValueError, match=r"(?s)column 'mrr': 2 rows have a value too large to add up "
                                                r"safely.*line 2.*line 3") as info:
        kpitools.load(tmp_path)
    assert info.value.rows == [2, 3]  # a trillion a month is still accepted


def test_end_date_9999_12_31_means_open(tmp_path):
    _subs(tmp_path, "S1,A1,2024-01-05,9999-12-31,100\nS2,A2,2024-01-05,2030-06-01,50\n")
    subs = kpitools.load(tmp_path).subscriptions.to_pandas()
    assert subs["end_date"].isna().tolist() == [True, False]  # a scheduled end may lie in the future
    assert str(subs["end_date"].dt.tz) == "UTC"
    from kpitools.metrics.revenue import revenue_metrics
    assert revenue_metrics(subs, periods=["2024-02"])["mrr"].tolist() == [150.0]


@pytest.mark.parametrize(("column", "row", "value"), [
    ("start_date", "S1,A1,9999-12-31,,100", "9999-12-31"),
    ("end_date", "S1,A1,2024-01-05,2999-01-01,100", "2999-01-01"),
    ("start_date", "S1,A1,1600-01-01,,100", "1600-01-01"),
])
def test_dates_outside_1900_to_2200_are_rejected(tmp_path, column, row, value):
    _subs(tmp_path, row + "\n")
    with pytest.raises(InvalidValueError, match=rf"(?s)column '{column}': 1 row has a date outside the years "
                                                rf"the contract accepts; expected a date in the years 1900 to "
                                                rf"2200.*line 2: {column}='{value}'"):
        kpitools.load(tmp_path)


def test_parquet_timestamps_beyond_nanoseconds_are_an_error_not_a_traceback(tmp_path):
    table = pa.table({"account_id": ["A1", "A2"], "channel": ["organic", "organic"],
                      "signup_at": pa.array([dt.datetime(2024, 1, 1), dt.datetime(9999, 12, 31)],
                                            type=pa.timestamp("us", tz="UTC"))})
    pq.write_table(table, tmp_path / "accounts.parquet")
    with pytest.raises(InvalidValueError, match=r"column 'signup_at': 1 row has a date outside the years"):
        kpitools.load(tmp_path)


def test_future_events_are_rejected_but_future_ends_are_not(tmp_path):
    write_csv(tmp_path, "events", """
        user_id,timestamp,event
        u1,2024-01-05T10:00:00Z,login
        u2,2199-12-01T00:00:00Z,login
    """)
    with pytest.raises(InvalidValueError, match=r"(?s)column 'timestamp': 1 row has a time later than the time "
                                                r"of this run.*line 3: timestamp='2199-12-01T00:00:00Z'"):
        kpitools.load(tmp_path)
    # the time of the run is a parameter of the parser
    raw = pd.DataFrame({"user_id": ["u1"], "timestamp": ["2024-01-05T10:00:00Z"], "event": ["login"]})
    with pytest.raises(InvalidValueError, match="later than the time of this run"):
        kpitools.check_table(raw, "events", now=pd.Timestamp("2024-01-01", tz="UTC"))


def test_repeated_subscription_id_is_rejected(tmp_path):
    _subs(tmp_path, "S1,A1,2024-01-05,2024-03-01,100\nS1,A1,2024-03-01,,150\n")
    with pytest.raises(InvalidValueError, match=r"column 'subscription_id': 2 rows have a repeated id"):
        kpitools.load(tmp_path)


def test_nested_parquet_column_is_one_clear_error(tmp_path):
    table = pa.table({"account_id": ["A1", "A2"], "signup_at": ["2024-01-01", "2024-01-02"],
                      "channel": pa.array([["organic"], ["paid", "social"]], type=pa.list_(pa.string()))})
    pq.write_table(table, tmp_path / "accounts.parquet")
    with pytest.raises(InvalidValueError, match=r"column 'channel': 2 rows have a nested value \(a list or a "
                                                r"record\); expected one plain value per cell"):
        kpitools.load(tmp_path)
    assert main(["check", "--data", str(tmp_path)]) == 2


def test_line_numbers_count_lines_of_quoted_values(tmp_path):
    (tmp_path / "accounts.csv").write_text(
        'account_id,signup_at,channel\n'
        'A1,2024-01-01,"two\nlines"\n'
        '\n'
        'A2,2024-01-02,"three\nmore\nlines"\n'
        'A3,never,organic\n', encoding="utf-8")
    with pytest.raises(InvalidValueError, match=r"line 8: signup_at='never'") as info:
        kpitools.load(tmp_path)
    assert info.value.rows == [8]  # header 1, A1 2-3, blank 4, A2 5-7


def test_every_problem_is_reported_together(tmp_path, capsys):
    write_csv(tmp_path, "accounts", """
        account_id,signup_at,channel
        A1,2024-01-01,organic
        A2,someday,organic
    """)
    write_csv(tmp_path, "subscriptions", """
        subscription_id,account_id,start_date,end_date,mrr
        S1,A1,2024-01-05,,-5
        S2,A9,2024-01-05,,inf
    """)
    write_csv(tmp_path, "leads", """
        lead_id,created_at
        L1,2024-01-01
    """)
    with pytest.raises(DataError) as info:
        kpitools.load(tmp_path)
    err = info.value
    found = {(p.file.rsplit("/", 1)[-1], p.column) for p in err.problems}
    assert found == {("accounts.csv", "signup_at"), ("subscriptions.csv", "mrr"),
                     ("leads.csv", "channel"), ("subscriptions.csv", "account_id")}
    assert len(err.problems) == 5  # mrr breaks two rules: negative and not finite
    assert str(err).startswith("5 problems in the data:")
    assert main(["check", "--data", str(tmp_path)]) == 2
    printed = capsys.readouterr().err
    assert "Traceback" not in printed
    for needle in ("signup_at='someday'", "mrr='-5'", "mrr='inf'", "required column 'channel' is missing",
                   "account_id='A9'"):
        assert needle in printed


def test_country_is_an_optional_account_column(tmp_path):
    write_csv(tmp_path, "accounts", """
        account_id,signup_at,channel,country
        A1,2024-01-01,organic,DE
        A2,2024-01-02,organic,
    """)
    acc = kpitools.load(tmp_path).accounts.to_pandas()
    assert acc["country"].tolist()[0] == "DE" and pd.isna(acc["country"].tolist()[1])


def test_valid_numbers_are_kept_exactly():
    frame = pd.DataFrame({"date": ["2024-01-01"] * 3, "channel": ["a", "b", "c"], "metric": ["x"] * 3,
                          "value": [-2.5, 0.0, 999999999999999.0]})
    got = kpitools.check_table(frame, "channel_metrics")
    assert got["value"].tolist() == [-2.5, 0.0, 999999999999999.0]
    assert np.isfinite(got["value"]).all()


def test_kpis_names_the_file_of_an_impossible_date(tmp_path, capsys):
    table = pa.table({"account_id": ["A1", "A2"], "channel": ["organic", "organic"],
                      "signup_at": pa.array([dt.datetime(2024, 1, 1), dt.datetime(2199, 12, 1)],
                                            type=pa.timestamp("us", tz="UTC"))})
    pq.write_table(table, tmp_path / "accounts.parquet")
    assert main(["kpis", "--data", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "accounts.parquet, column 'signup_at': 1 row has a time later than the time of this run" in err
    assert "Traceback" not in err


def test_kpis_for_one_period_reports_every_problem_together(small_dir, tmp_path, capsys):
    import shutil

    shutil.copytree(small_dir, tmp_path / "d")
    (tmp_path / "d" / "nps.parquet").unlink()
    (tmp_path / "d" / "nps.csv").write_text("respondent_id,responded_at,score\nR1,2025-01-01,12\n")
    (tmp_path / "d" / "costs.parquet").unlink()
    (tmp_path / "d" / "costs.csv").write_text("date,category,amount\n2025-01-01,support,-3\n")
    assert main(["kpis", "--data", str(tmp_path / "d"), "--period", "2025-06"]) == 2
    err = capsys.readouterr().err
    assert "2 problems in the data" in err and "nps.csv, column 'score'" in err and "costs.csv, column 'amount'" in err


def test_values_differing_only_in_case_or_spaces_are_warned_about(tmp_path, capsys):
    """Counted apart as the data writes them, and said so once per column (the contract's
    "warned about, not rejected"); an id with spaces around it is named too."""
    write_csv(tmp_path, "accounts", """
        account_id,signup_at,channel,segment
        A1,2024-01-03T10:00:00Z,Organic,smb
        A2,2024-01-04T10:00:00Z,organic,SMB
        A3,2024-01-05T10:00:00Z,organic,smb
        A4,2024-01-05T10:00:00Z,referral,mid
        A5 ,2024-01-06T10:00:00Z,referral,mid
        """)
    data = kpitools.load(tmp_path)
    where = str(tmp_path / "accounts.csv")
    assert data.warnings == [
        f"{where}, column 'channel': values that differ only in case or surrounding spaces are counted apart: "
        "'organic' (2 rows) / 'Organic' (1 row)",
        f"{where}, column 'segment': values that differ only in case or surrounding spaces are counted apart: "
        "'smb' (2 rows) / 'SMB' (1 row)",
        f"{where}, column 'account_id': 1 row has an id with spaces around it ('A5 '); it matches no id "
        "written without the spaces",
    ]
    assert main(["check", "--data", str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert err.count("kpitools: warning: ") == 3 and "'SMB' (1 row)" in err


def test_the_sample_has_no_such_values():
    from .conftest import ROOT

    assert kpitools.load(ROOT / "data" / "sample").warnings == []
