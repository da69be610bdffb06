"""Apache Spark as the engine, on a real Spark ``local[2]`` (the ``pyspark`` wheel and the
machine's Java 17): the same KPIs and report tables as DuckDB, value for value, and one
clear line for each fault.

Everything that needs Spark is one test, ``test_on_spark``, of subtests: one xdist worker
runs it (first: tests/conftest.py), so the run starts one Spark session (one JVM). The JVM
compiles with its quick compiler only (C1) and a serial collector: for a run of a minute
that is a third less CPU than its defaults, which matters on the two cores of a CI run.

A whole ``kpitools report --engine spark`` is not run here: it takes over two minutes on two
cores (a second JVM in the notebook's kernel, the runner's batch of fourteen months' KPIs on
Spark), more than the suite's budget allows; the report's tables and the kernel's way of
reading the engine (``KPITOOLS_ENGINE``) are tested instead.
"""

from __future__ import annotations

import json
import math
import os
import sys

import pytest

import kpitools
from kpitools.cli import main
from kpitools.errors import DataError, EngineError
from kpitools.metrics.kpis import kpis_for
from kpitools.periods import Period
from kpitools.report.results import write_results
from kpitools.sources import spark

from .conftest import ROOT, write_csv
from .golden.regenerate import CSV_PERIOD
from .test_golden import GOLDEN, assert_golden_tables

SAMPLE = ROOT / "data" / "sample"
# a month, a quarter and an ISO week (the parity periods)
PERIODS = ["2026-09", "2026-Q3", "2026-W36"]


TEST_JVM = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"


def test_on_spark(subtests, tmp_path_factory, tiny_dir, capsys):
    """The run's Spark session: local[2]; small tables joined by broadcast (the sample is
    small); the catalog's tables in a temporary folder. The sample is read unchecked
    (checking the contract on Spark is a subtest on small folders; on the sample it takes a
    quarter of a minute)."""
    session = spark.session("local[2]", {"spark.sql.autoBroadcastJoinThreshold": "200MB",
                                         "spark.driver.extraJavaOptions": TEST_JVM,
                                         "spark.sql.warehouse.dir": str(tmp_path_factory.mktemp("warehouse"))})
    on_spark = kpitools.load(SAMPLE, engine=session, check=False)
    checks = [
        (the_session_runs_in_utc_with_ansi_sql, (session, on_spark)),
        (kpis_on_spark_equal_duckdbs, (on_spark,)),
        (report_tables_on_spark_equal_duckdbs, (on_spark, tmp_path_factory.mktemp("tables"))),
        (a_csv_folder_on_spark_is_checked_and_named_by_values, (session, tmp_path_factory.mktemp("csv"))),
        (a_good_csv_folder_on_spark_equals_duckdb, (session, tiny_dir)),
        (catalog_tables_on_spark, (session,)),
        (the_command_line_on_spark, (tiny_dir, capsys)),
    ]
    for check, args in checks:
        with subtests.test(check.__name__):
            check(*args)


def assert_same(got: dict, want: dict) -> None:
    """Every KPI equal to a relative tolerance of 1e-9; a missing value missing on both."""
    assert sorted(got) == sorted(want)
    differ = {k: (got[k], v) for k, v in want.items()
              if not (got[k] is None and v is None)
              and (got[k] is None or v is None or not math.isclose(got[k], v, rel_tol=1e-9, abs_tol=1e-12))}
    assert not differ, differ


def the_session_runs_in_utc_with_ansi_sql(session, on_spark):
    assert on_spark.engine == "spark"
    assert session.conf.get("spark.sql.session.timeZone") == "UTC"
    assert session.conf.get("spark.sql.ansi.enabled") == "true"
    # the tables are Spark's, not pandas frames or DuckDB views
    assert on_spark.events._find_backend().name == "pyspark"


def kpis_on_spark_equal_duckdbs(on_spark):
    """A month, a quarter and an ISO week in one batch, every key, against the golden values,
    which are DuckDB's (tests/test_golden.py holds DuckDB to them in the same run)."""
    got = kpis_for(on_spark, PERIODS)
    for period in PERIODS:
        assert_same(got[period], GOLDEN[period])
    # not a vacuous comparison: customers, revenue, active users and sessions are there
    month = got["2026-09"]
    assert month["mrr"] > 0 and month["mau"] > 0 and month["sessions"] > 0 and month["activation_rate"] > 0
    on_duckdb = kpitools.load(SAMPLE, check=False)
    assert on_spark.row_counts() == on_duckdb.row_counts()
    assert on_spark.date_range == on_duckdb.date_range


def report_tables_on_spark_equal_duckdbs(on_spark, tmp_path):
    """Every CSV table of a report (the golden ones are DuckDB's: tests/test_golden.py)."""
    write_results(on_spark, Period.parse(CSV_PERIOD), tmp_path)
    assert_golden_tables(tmp_path)


def test_a_report_run_hands_the_engine_to_its_kernels(tmp_path, monkeypatch):
    """The runner's environment, which its workers and kernels inherit, names the engine,
    and is put back after the run."""
    from kpitools.report.source import run_environment

    monkeypatch.delenv(spark.ENGINE_ENV, raising=False)
    restore = run_environment(SAMPLE, tmp_path, "spark")
    assert os.environ[spark.ENGINE_ENV] == "spark" and spark.engine_name() == "spark"
    restore()
    assert spark.ENGINE_ENV not in os.environ and spark.engine_name() == "duckdb"


def a_csv_folder_on_spark_is_checked_and_named_by_values(session, tmp_path):
    write_csv(tmp_path, "accounts", """
        account_id,signup_at,channel,segment
        A1,2024-01-03T10:00:00Z,organic,smb
        A2,not a date,referral,enterprise
        """)
    write_csv(tmp_path, "subscriptions", """
        subscription_id,account_id,start_date,end_date,mrr,plan,billing_period
        S1,A1,2024-01-05,,100,starter,month
        S2,A2,2024-01-31,,-5,enterprise,year
        """)
    with pytest.raises(DataError) as err:
        kpitools.load(tmp_path, engine=session)
    message = str(err.value)
    assert message.startswith("2 problems in the data:")
    assert "accounts.csv, column 'signup_at'" in message and "account_id='A2'" in message
    assert "subscriptions.csv, column 'mrr'" in message and "subscription_id='S2'" in message
    assert "line " not in message


def a_good_csv_folder_on_spark_equals_duckdb(session, tiny_dir):
    keys = ["mrr", "customers", "new_mrr", "churned_mrr"]
    got = kpis_for(kpitools.load(tiny_dir, engine=session), ["2024-01", "2024-02", "2024-03"], keys=keys)
    want = kpis_for(kpitools.load(tiny_dir), ["2024-01", "2024-02", "2024-03"], keys=keys)
    assert got == want
    # worked by hand (tests/conftest.py): January ends with S1 (100) and S2 (1000 a month);
    # March with S1b (150) and S2
    assert got["2024-01"]["mrr"] == 1100.0 and got["2024-01"]["customers"] == 2
    assert got["2024-03"]["mrr"] == 1150.0


def catalog_tables_on_spark(session):
    session.sql("CREATE DATABASE IF NOT EXISTS kpitools_test")
    for name in ("accounts", "subscriptions"):
        session.read.parquet((SAMPLE / f"{name}.parquet").as_uri()).createOrReplaceTempView(f"src_{name}")
        session.sql(f"DROP TABLE IF EXISTS kpitools_test.{name}")
        session.sql(f"CREATE TABLE kpitools_test.{name} USING parquet AS SELECT * FROM src_{name}")
    data = kpitools.load("spark:kpitools_test", engine=session)
    assert sorted(data.tables) == ["accounts", "subscriptions"]
    assert data.files["accounts"].name == "kpitools_test.accounts"
    got = kpis_for(data, ["2026-09"], keys=["mrr", "customers", "arpu"])["2026-09"]
    assert_same(got, {k: GOLDEN["2026-09"][k] for k in ("mrr", "customers", "arpu")})
    with pytest.raises(DataError, match=r"spark:kpitools_none: cannot list its tables"):
        kpitools.load("spark:kpitools_none", engine=session)


def the_command_line_on_spark(tiny_dir, capsys):
    """`kpitools kpis --engine spark` (the run's session is reused: one per process); the
    engine's environment is put back afterwards."""
    capsys.readouterr()  # what earlier checks printed
    code = main(["kpis", "--data", str(tiny_dir), "--period", "2024-02", "--keys", "mrr,customers",
                 "--engine", "spark", "--spark-master", "local[2]"])
    assert code == 0
    assert json.loads(capsys.readouterr().out) == {"mrr": 1100.0, "customers": 2}  # S1 and S2; S3 ended
    assert spark.ENGINE_ENV not in os.environ


def test_without_pyspark_one_line_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)  # as if not installed: import fails
    with pytest.raises(EngineError, match=r"^the Spark engine needs PySpark: pip install 'kpitools\[spark\]'$"):
        spark.session("local[1]")


def test_without_java_one_line_says_java_17(monkeypatch, tmp_path):
    from pyspark import SparkContext

    # as in a process whose JVM is still to start (this worker may have run test_on_spark)
    monkeypatch.setattr(SparkContext, "_active_spark_context", None)
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-java"))
    with pytest.raises(EngineError, match=r"needs Java 17 or later, and no java was found"):
        spark.session("local[1]")
    old = tmp_path / "old" / "bin"
    old.mkdir(parents=True)
    (old / "java").write_text('#!/bin/sh\necho \'openjdk version "11.0.2" 2019-01-15\' >&2\n')
    (old / "java").chmod(0o755)
    monkeypatch.setenv("JAVA_HOME", str(old.parent))
    with pytest.raises(EngineError, match=r"needs Java 17 or later; .* is Java 11"):
        spark.session("local[1]")


def test_engine_names_and_settings():
    assert spark.engine_name("Spark") == "spark" and spark.engine_name("duckdb") == "duckdb"
    with pytest.raises(EngineError, match="unknown engine 'polars'"):
        spark.engine_name("polars")
    assert spark.parse_conf(["spark.executor.memory=4g", "a.b = c=d"]) == {"spark.executor.memory": "4g",
                                                                          "a.b": "c=d"}
    with pytest.raises(EngineError, match="expected key=value"):
        spark.parse_conf(["spark.executor.memory"])
    assert spark.is_catalog("spark:main.analytics") and not spark.is_catalog("spark://host:7077")
    assert main(["kpis", "--engine", "spark", "--spark-conf", "oops", "--keys", "mrr"]) == 2
