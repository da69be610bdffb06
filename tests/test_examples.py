"""examples/minimal: the folder a newcomer copies keeps the contract, warns about nothing,
and gives the values its README works out by hand."""

from __future__ import annotations

import pytest

import kpitools
from kpitools.metrics.kpis import kpis_for
from kpitools.sources.schema import TABLES

from .conftest import ROOT

MINIMAL = ROOT / "examples" / "minimal"


def test_every_contract_table_is_there_and_keeps_the_contract():
    data = kpitools.load(MINIMAL)
    assert sorted(data.tables) == sorted(TABLES)
    assert data.warnings == []
    # every optional column of the contract appears in the example
    for name, spec in TABLES.items():
        columns = data.tables[name].columns
        assert all(c.name in columns for c in spec.columns), name


def test_the_values_worked_by_hand_in_its_readme():
    got = kpis_for(kpitools.load(MINIMAL), ["2025-01", "2025-02", "2025-03"])
    jan, feb, mar = got["2025-01"], got["2025-02"], got["2025-03"]
    assert (jan["mrr"], jan["customers"], jan["new_customers"], jan["cac"]) == (348, 3, 3, 1400)
    assert jan["bounce_rate"] == 0.5
    assert (feb["mrr"], feb["customers"], feb["new_customers"], feb["cac"]) == (1348, 4, 2, 2250)
    assert feb["churned_mrr"] == 49
    assert (mar["mrr"], mar["customers"], mar["new_customers"]) == (1149, 3, 0)
    assert mar["cac"] is None
    assert (mar["expansion_mrr"], mar["contraction_mrr"], mar["churned_mrr"]) == (50, 200, 49)
    assert mar["nps"] == pytest.approx(0.0)
