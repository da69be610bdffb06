"""Loading a data directory and every "Bad input" rule of the data contract."""

import pandas as pd
import pytest

import kpitools
from kpitools import DataError, MissingTableError
from kpitools.errors import InvalidValueError, MissingColumnError

from .conftest import ACCOUNTS, SUBSCRIPTIONS, write_csv


def test_load_types(tiny_dir):
    data = kpitools.load(tiny_dir)
    assert data.accounts.schema()["signup_at"].timezone == "UTC"
    acc = data.accounts.to_pandas()
    assert str(acc["signup_at"].dtype).endswith(", UTC]")
    # +02:00 is converted to UTC
    assert acc.loc[1, "signup_at"] == pd.Timestamp("2024-01-10 07:30", tz="UTC")
    # a bare date is midnight UTC
    assert acc.loc[2, "signup_at"] == pd.Timestamp("2024-02-01", tz="UTC")
    subs = data.subscriptions.to_pandas()
    assert subs["mrr"].dtype == "float64"
    assert subs["end_date"].isna().sum() == 2
    assert subs["billing_period"].tolist() == ["month", "month", "year", "month"]
    assert data.events is None and not data.has("events")
    assert data.date_range == (pd.Timestamp("2024-01-03 10:00", tz="UTC"),
                               pd.Timestamp("2024-03-05", tz="UTC"))


def test_ids_keep_leading_zeros(tmp_path):
    write_csv(tmp_path, "accounts", """
        account_id,signup_at,channel
        007,2024-01-01,organic
        7,2024-01-02,organic
    """)
    acc = kpitools.load(tmp_path).accounts.to_pandas()
    assert acc["account_id"].tolist() == ["007", "7"]


def test_optional_columns_are_added_empty(tmp_path):
    write_csv(tmp_path, "accounts", """
        account_id,signup_at,channel
        A1,2024-01-01,organic
    """)
    acc = kpitools.load(tmp_path).accounts.to_pandas()
    assert "segment" in acc.columns and acc["segment"].isna().all()


def test_extra_columns_are_kept(tmp_path):
    write_csv(tmp_path, "accounts", """
        account_id,signup_at,channel,country
        A1,2024-01-01,organic,NL
    """)
    assert kpitools.load(tmp_path).accounts.to_pandas()["country"].tolist() == ["NL"]


def test_parquet_and_csv_load_alike(tiny_dir, tmp_path):
    csv = kpitools.load(tiny_dir)
    out = tmp_path / "pq"
    out.mkdir()
    for name, frame in csv.tables.items():
        frame.to_pandas().to_parquet(out / f"{name}.parquet")
    pq = kpitools.load(out)
    for name in csv.tables:
        pd.testing.assert_frame_equal(csv.tables[name].to_pandas(), pq.tables[name].to_pandas(), check_dtype=False)


def test_parquet_timestamps_in_milliseconds_and_naive_are_utc(tiny_dir, tmp_path):
    frame = kpitools.load(tiny_dir).accounts.to_pandas()
    frame["signup_at"] = frame["signup_at"].dt.as_unit("ms")
    frame["channel_at"] = frame["signup_at"]
    frame.to_parquet(tmp_path / "accounts.parquet")
    loaded = kpitools.load(tmp_path).accounts.to_pandas()
    assert loaded["signup_at"].iloc[0] == pd.Timestamp("2024-01-03 10:00", tz="UTC")
    frame["signup_at"] = frame["signup_at"].dt.tz_localize(None)  # a naive time is UTC
    frame.to_parquet(tmp_path / "accounts.parquet")
    loaded = kpitools.load(tmp_path).accounts.to_pandas()
    assert loaded["signup_at"].iloc[0] == pd.Timestamp("2024-01-03 10:00", tz="UTC")


# --- bad input: one error naming file, column and rows as numbered in the file --------


def test_missing_directory(tmp_path):
    with pytest.raises(DataError, match="no such data directory"):
        kpitools.load(tmp_path / "nope")


def test_directory_without_tables(tmp_path):
    with pytest.raises(DataError, match="no table of the data contract found: the folder is empty"):
        kpitools.load(tmp_path)
    for name in ("Accounts.xlsx", "notes.txt", "subs.csv"):
        (tmp_path / name).write_text("x")
    with pytest.raises(DataError) as err:
        kpitools.load(tmp_path)
    message = str(err.value)
    assert "the folder has Accounts.xlsx, notes.txt, subs.csv" in message
    assert "these look like contract tables: Accounts.xlsx (expected accounts.csv or accounts.parquet)" in message
    assert "subscriptions.csv" in message and "docs/data-contract.md" in message


def test_missing_required_column(tmp_path):
    write_csv(tmp_path, "accounts", """
        account_id,channel
        A1,organic
    """)
    with pytest.raises(MissingColumnError, match=r"(?s)accounts\.csv: required column 'signup_at' is missing"):
        kpitools.load(tmp_path)


def test_unparseable_timestamp_names_lines(tmp_path):
    write_csv(tmp_path, "accounts", """
        account_id,signup_at,channel
        A1,2024-01-01,organic
        A2,yesterday,organic
        A3,2024-01-03,organic
        A4,2024-13-45,organic
    """)
    with pytest.raises(InvalidValueError) as info:
        kpitools.load(tmp_path)
    err = info.value
    assert err.column == "signup_at" and err.rows == [3, 5]
    assert err.file.endswith("accounts.csv")
    message = str(err)
    assert "column 'signup_at': 2 rows have a value that cannot be read as a date or time" in message
    assert "line 3: signup_at='yesterday'" in message and "line 5: signup_at='2024-13-45'" in message


def test_unparseable_number(tmp_path):
    write_csv(tmp_path, "accounts", ACCOUNTS)
    write_csv(tmp_path, "subscriptions", """
        subscription_id,account_id,start_date,end_date,mrr
        S1,A1,2024-01-05,,100
        S2,A2,2024-01-05,,1.000,50
        S3,A2,2024-01-05,,ten
    """)
    with pytest.raises(DataError):
        kpitools.load(tmp_path)  # line 3 has one field too many: the CSV reader says so
    write_csv(tmp_path, "subscriptions", """
        subscription_id,account_id,start_date,end_date,mrr
        S1,A1,2024-01-05,,100
        S3,A2,2024-01-05,,ten
    """)
    with pytest.raises(InvalidValueError, match=r"(?s)column 'mrr': 1 row has a value that is not a number"
                                                r".*line 3: mrr='ten'"):
        kpitools.load(tmp_path)


def test_ragged_csv_is_one_clear_error(tmp_path):
    write_csv(tmp_path, "accounts", """
        account_id,signup_at,channel
        A1,2024-01-01,organic,extra,more
    """)
    with pytest.raises(DataError, match=r"(?s)accounts\.csv: line 2 has more fields than the header's 3"):
        kpitools.load(tmp_path)


def test_negative_money(tmp_path):
    write_csv(tmp_path, "spend", """
        date,channel,category,amount
        2024-01-01,paid_search,marketing,100
        2024-01-02,paid_search,marketing,-5
    """)
    with pytest.raises(InvalidValueError, match=r"(?s)spend\.csv, column 'amount': 1 row has a negative amount; "
                                                r"expected an amount >= 0.\s+line 3: amount='-5'"):
        kpitools.load(tmp_path)


@pytest.mark.parametrize("score", ["11", "-1", "7.5"])
def test_score_outside_0_to_10(tmp_path, score):
    write_csv(tmp_path, "nps", f"""
        respondent_id,responded_at,score
        R1,2024-01-01,9
        R2,2024-01-01,{score}
    """)
    with pytest.raises(InvalidValueError, match=r"(?s)column 'score'.*a score that is not a whole "
                                                r"number from 0 to 10.*line 3"):
        kpitools.load(tmp_path)


def test_duplicate_ids(tmp_path):
    write_csv(tmp_path, "leads", """
        lead_id,created_at,channel
        L1,2024-01-01,organic
        L2,2024-01-01,organic
        L1,2024-01-02,organic
    """)
    with pytest.raises(InvalidValueError, match=r"(?s)column 'lead_id': 2 rows have a repeated id.*line 2.*line 4"):
        kpitools.load(tmp_path)


def test_end_before_start(tmp_path):
    write_csv(tmp_path, "accounts", ACCOUNTS)
    write_csv(tmp_path, "subscriptions", """
        subscription_id,account_id,start_date,end_date,mrr
        S1,A1,2024-01-05,2024-01-05,100
        S2,A2,2024-03-01,2024-02-01,100
    """)
    with pytest.raises(InvalidValueError,
                       match=r"(?s)column 'end_date': 1 row has an end_date before its start_date.*"
                             r"line 3: start_date='2024-03-01', end_date='2024-02-01'"):
        kpitools.load(tmp_path)


def test_subscription_for_unknown_account(tmp_path):
    write_csv(tmp_path, "accounts", ACCOUNTS)
    write_csv(tmp_path, "subscriptions", SUBSCRIPTIONS + "S9,A9,2024-01-01,,10\n")
    with pytest.raises(InvalidValueError, match=r"(?s)subscriptions\.csv, column 'account_id': 1 row has an id "
                                                r"missing from .*accounts\.csv.*line 6: account_id='A9'"):
        kpitools.load(tmp_path)


def test_bad_choice(tmp_path):
    write_csv(tmp_path, "opportunities", """
        opportunity_id,created_at,amount,probability,status
        O1,2024-01-01,100,0.5,open
        O2,2024-01-01,100,0.5,pending
        O3,2024-01-01,100,1.5,won
    """)
    with pytest.raises(InvalidValueError, match=r"(?s)column 'probability'.*a value outside \[0, 1\].*line 4"):
        kpitools.load(tmp_path)


def test_empty_required_value(tmp_path):
    write_csv(tmp_path, "accounts", """
        account_id,signup_at,channel
        A1,2024-01-01,organic
        A2,2024-01-01,
    """)
    with pytest.raises(InvalidValueError, match=r"(?s)column 'channel': 1 row has no value.*line 3"):
        kpitools.load(tmp_path)


def test_at_most_five_rows_are_listed(tmp_path):
    rows = "\n".join(f"A{i},never,organic" for i in range(9))
    write_csv(tmp_path, "accounts", "account_id,signup_at,channel\n" + rows)
    with pytest.raises(InvalidValueError) as info:
        kpitools.load(tmp_path)
    assert info.value.rows == [2, 3, 4, 5, 6]
    assert "(and 4 more)" in str(info.value)


def test_parquet_rows_are_numbered_from_one(tmp_path):
    pd.DataFrame({"account_id": ["A1", "A2"], "signup_at": ["2024-01-01", "bad"],
                  "channel": ["x", "y"]}).to_parquet(tmp_path / "accounts.parquet")
    with pytest.raises(InvalidValueError, match=r"(?s)accounts\.parquet, column 'signup_at'.*row 2:"):
        kpitools.load(tmp_path)


def test_both_csv_and_parquet(tiny_dir):
    kpitools.load(tiny_dir).accounts.to_pandas().to_parquet(tiny_dir / "accounts.parquet")
    with pytest.raises(DataError, match=r"both accounts\.parquet and accounts\.csv exist"):
        kpitools.load(tiny_dir)


def test_require_names_missing_table(tiny_dir):
    data = kpitools.load(tiny_dir)
    with pytest.raises(MissingTableError, match=r"(?s)no events\.csv/events\.parquet \(events is needed for "
                                                r"engagement"):
        data.require("events")
    assert data.note_missing("costs").startswith("Skipped: this section needs the costs table")
    assert data.note_missing("accounts") is None


def test_check_table_names_index_labels():
    frame = pd.DataFrame({"account_id": ["A1", "A2"], "signup_at": ["2024-01-01", "??"],
                          "channel": ["a", "b"]}, index=[10, 20])
    with pytest.raises(InvalidValueError, match=r"(?s)the 'accounts' DataFrame, column 'signup_at'.*index 20"):
        kpitools.check_table(frame, "accounts")


def test_blank_required_value_is_empty(tmp_path):
    write_csv(tmp_path, "accounts", """
        account_id,signup_at,channel
        A1,2024-01-01,organic
        A2,2024-01-01,"   "
    """)
    with pytest.raises(InvalidValueError, match=r"(?s)column 'channel': 1 row has no value.*line 3"):
        kpitools.load(tmp_path)


def test_blank_values_in_parquet_are_empty(tmp_path):
    """Only whitespace (spaces, tabs, line breaks) or nothing is no value; a value that
    starts with a space and goes on is a value."""
    pd.DataFrame({"account_id": ["A1", "A2", "A3", "A4", "A5"],
                  "signup_at": pd.to_datetime(["2024-01-01"] * 5, utc=True),
                  "channel": ["organic", "\t \n", " paid", "", "\r"]}).to_parquet(tmp_path / "accounts.parquet")
    with pytest.raises(InvalidValueError, match=r"column 'channel': 3 rows have no value") as info:
        kpitools.load(tmp_path)
    assert info.value.rows == [2, 4, 5]


def test_dataset_pickles(tiny_dir):
    import pickle

    data = pickle.loads(pickle.dumps(kpitools.load(tiny_dir).limit_categories(1)))
    assert data.row_counts()["accounts"] == 3 and data.events is None
    assert set(data.accounts.to_pandas()["channel"]) == {"(other)", "organic"}  # one row each: ties go by name


def test_limit_categories_by_hand():
    """Shares summed over the tables of a vocabulary, each table weighing the same:
    accounts (4 rows) give ads 2/4, seo 1/4, mail 1/4; leads (2 rows) give mail 1/2,
    none 1/2. Totals: mail 0.75, ads 0.5, none 0.5, seo 0.25. With two kept: mail, then
    ads before none (a tie goes by name); "none" carries a meaning and is always kept."""
    from kpitools.sources.categories import OTHER, category_limits, limit_categories

    tables = {"accounts": pd.DataFrame({"account_id": ["A1", "A2", "A3", "A4"],
                                        "channel": ["ads", "ads", "seo", "mail"]}),
              "leads": pd.DataFrame({"lead_id": ["L1", "L2"], "channel": ["mail", "none"]}),
              "subscriptions": pd.DataFrame({"plan": ["pro", "basic"]})}
    limits = category_limits(tables, 2)
    assert limits["channel"] == ["ads", "mail", "none"]
    assert "plan" not in limits  # two values: nothing to cut
    out = limit_categories(tables, 2)
    assert out["accounts"].to_pandas()["channel"].tolist() == ["ads", "ads", OTHER, "mail"]
    assert out["leads"] is tables["leads"]  # all its values kept: the table is left as it is
    assert out["subscriptions"] is tables["subscriptions"]


def test_read_table_reads_one_file(tmp_path):
    pd.DataFrame({"user_id": ["u1"], "timestamp": ["2024-01-01T10:00:00Z"], "event": ["login"],
                  "feature": ["x"]}).to_parquet(tmp_path / "events.parquet")
    events = kpitools.read_table(tmp_path / "events.parquet")
    assert events["feature"].tolist() == ["x"] and events["channel"].isna().all()
    assert events["timestamp"].iloc[0] == pd.Timestamp("2024-01-01 10:00", tz="UTC")


def test_csv_records_spanning_lines_are_numbered_by_their_first_line(tmp_path):
    (tmp_path / "accounts.csv").write_text(
        'account_id,signup_at,channel\nA1,2024-01-01,"two\nlines"\n\nA2,soon,organic\n')
    with pytest.raises(InvalidValueError, match=r"line 5: signup_at='soon'"):
        kpitools.load(tmp_path)


def test_a_duckdb_file_is_a_source(tiny_dir, tmp_path):
    import duckdb

    path = tmp_path / "company.duckdb"
    con = duckdb.connect(str(path))
    for name in ("accounts", "subscriptions"):
        con.sql(f"CREATE TABLE {name} AS SELECT * FROM read_csv('{tiny_dir / (name + '.csv')}', all_varchar=true)")
    con.close()
    data = kpitools.load(path)
    folder = kpitools.load(tiny_dir)
    for name in ("accounts", "subscriptions"):
        pd.testing.assert_frame_equal(data.tables[name].to_pandas(), folder.tables[name].to_pandas())
