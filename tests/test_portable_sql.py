"""Every engine expression compiles for each dialect kpitools promises (DuckDB, PostgreSQL,
Snowflake, BigQuery), and the SQL printed for a key, run by a plain DuckDB over
tables named as the contract's, gives the same numbers as the metric functions."""

from __future__ import annotations

import math

import duckdb
import pytest

from kpitools import compute_kpis
from kpitools.metrics.queries import DIALECTS, EXPRESSIONS, QUERIES, compile_all, sql

PERIODS = ["2025-06", "2025-Q2", "2025-W27"]


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("query", QUERIES, ids=lambda q: q.keys[0])
def test_every_query_compiles(query, dialect):
    text = sql(query.keys[0], periods=PERIODS, dialect=dialect)
    assert "SELECT" in text.upper() and all(name in text for name in query.needs)


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("name", sorted(EXPRESSIONS))
def test_every_family_expression_compiles(name, dialect):
    text = compile_all(name, periods=PERIODS, dialect=dialect)
    assert "SELECT" in text.upper()


@pytest.fixture(scope="module")
def small(small_dir):
    import kpitools

    return kpitools.load(small_dir)


@pytest.mark.parametrize("query", QUERIES, ids=lambda q: q.keys[0])
def test_printed_sql_gives_the_kpis(small, query):
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    if not small.has(*query.needs):
        pytest.skip(f"the small data set has no {query.needs}")
    for name in query.needs:
        frame = small.tables[name].to_pandas()  # noqa: F841 - read by DuckDB's replacement scan
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM frame")
    key = query.keys[0]
    got = con.execute(sql(key, periods=["2025-06"])).df()
    want = compute_kpis(small, "2025-06")  # rounded to 6 decimals
    if key == "feature_adoption_rate":
        for feature, value in zip(got["feature"], got[key], strict=True):
            assert math.isclose(value, want[f"{key}.{feature}"], rel_tol=1e-9, abs_tol=5e-7)
        return
    row = got.iloc[0]
    for k in query.keys:
        if want.get(k) is None:
            assert row[k] is None or math.isnan(row[k])
        else:
            assert math.isclose(float(row[k]), want[k], rel_tol=1e-9, abs_tol=5e-7), k


def test_sql_command(capsys):
    from kpitools.cli import main

    assert main(["sql", "bounce_rate", "--period", "2025-06", "--dialect", "bigquery"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("-- kpitools sql bounce_rate: 2025-06, dialect bigquery") and "`events`" in out
    assert main(["sql", "mrr_nonsense", "--period", "2025-06"]) == 2
    assert "no SQL for KPI key 'mrr_nonsense'" in capsys.readouterr().err
    assert main(["sql", "mau", "--period", "2025-06", "--dialect", "nosuch"]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "unknown SQL dialect 'nosuch'" in captured.err
