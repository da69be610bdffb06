"""The Python API takes what an analyst would pass: frames with ISO date strings, one
period where several are expected, "latest-month"; and refuses what the command line
refuses, in the same words."""

from __future__ import annotations

import pandas as pd
import pytest

import kpitools
from kpitools.cli import main
from kpitools.errors import MissingColumnError, PeriodError
from kpitools.metrics import revenue

RAW = pd.DataFrame({
    "subscription_id": ["S1", "S2", "S3"],
    "account_id": ["A", "B", "C"],
    "start_date": ["2024-01-05", "2024-02-01", "2024-01-10"],
    "end_date": ["", "9999-12-31", "2024-02-10"],  # empty and 9999-12-31: open; S3 ends in February
    "mrr": ["100", "50.5", "20"],
})


def test_a_frame_of_text_is_read_as_the_loader_reads_it():
    got = revenue.revenue_metrics(RAW, periods=["2024-01", "2024-02"]).set_index("period")
    # by hand: January ends with S1 (100) and S3 (20); February with S1 and S2 (50.5), S3 churned
    assert got.loc["2024-01", "mrr"] == 120.0 and got.loc["2024-01", "customers"] == 2
    assert got.loc["2024-02", "mrr"] == 150.5 and got.loc["2024-02", "churned_mrr"] == 20.0
    assert got.loc["2024-02", "new_mrr"] == 50.5


def test_a_missing_column_is_named():
    with pytest.raises(MissingColumnError, match=r"the 'subscriptions' DataFrame: required column 'mrr' is missing"):
        revenue.revenue_metrics(RAW.drop(columns="mrr"), periods=["2024-02"])


def test_one_period_where_several_are_expected():
    one = revenue.revenue_metrics(RAW, periods="2024-02")
    assert list(one["period"]) == ["2024-02"]
    assert one.equals(revenue.revenue_metrics(RAW, periods=[kpitools.Period.parse("2024-02")]))
    assert list(revenue.revenue_metrics(RAW, periods="2024-01,2024-02")["period"]) == ["2024-01", "2024-02"]


def test_compute_kpis_reads_periods_as_the_command_line(tiny_dir, capsys):
    data = kpitools.load(tiny_dir)
    latest = data.latest_complete("M")
    assert kpitools.compute_kpis(data, "latest-month") == kpitools.compute_kpis(data, latest)
    assert kpitools.compute_kpis(data) == kpitools.compute_kpis(data, str(latest))
    for outside in ("2030-01", "2020-01"):
        with pytest.raises(PeriodError) as err:
            kpitools.compute_kpis(data, outside)
        assert main(["kpis", "--data", str(tiny_dir), "--period", outside]) == 2
        assert capsys.readouterr().err.strip() == f"kpitools: {err.value}"
        assert f"period {outside} lies outside the data" in str(err.value)
