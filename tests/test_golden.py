"""The sample company's KPIs and report tables stay what they were when they were checked
(tests/golden/, written by tests/golden/regenerate.py): the safety net of the engine
change. Every value to a relative tolerance of 1e-9; a missing value stays missing."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

import kpitools
from kpitools.metrics.kpis import kpis_for
from kpitools.periods import Period
from kpitools.report.paths import SAMPLE_DATA
from kpitools.report.results import write_results

from .golden.regenerate import CSV_PERIOD, HERE, golden_periods

GOLDEN = json.loads((HERE / "kpis.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def sample():
    return kpitools.load(SAMPLE_DATA)


def test_golden_covers_every_complete_period(sample):
    assert sorted(GOLDEN) == sorted(str(p) for p in golden_periods(sample))
    assert len(GOLDEN) == 24 + 8 + 3


@pytest.fixture(scope="module")
def together(sample):
    """Every golden period computed at once, as a history is (one grouped query per family)."""
    return kpis_for(sample, list(GOLDEN))


def _assert_golden(got: dict, period: str) -> None:
    want = GOLDEN[period]
    assert sorted(got) == sorted(want)
    differ = {k: (got[k], v) for k, v in want.items()
              if not (got[k] is None and v is None)
              and (got[k] is None or v is None or not math.isclose(got[k], v, rel_tol=1e-9, abs_tol=1e-12))}
    assert not differ, differ


@pytest.mark.parametrize("period", sorted(GOLDEN))
def test_kpis_equal_the_golden_values(together, period):
    _assert_golden(together[period], period)


@pytest.mark.parametrize("period", ["2026-09", "2025-Q2", "2025-W27"])
def test_one_period_alone_equals_the_golden_values(period):
    _assert_golden(kpitools.compute_kpis(kpitools.load(SAMPLE_DATA), period), period)


def assert_golden_tables(folder: Path, *, ignore: tuple[str, ...] = (), only: tuple[str, ...] | None = None) -> None:
    """The CSV tables of a report folder are the golden ones of CSV_PERIOD (``only``: these
    files, those of the reports rendered), every value to a relative tolerance of 1e-9
    (``ignore``: columns that may differ by design)."""
    golden = sorted(p for p in Path(HERE).glob(f"{CSV_PERIOD}_*.csv")
                    if only is None or p.name.removeprefix(f"{CSV_PERIOD}_") in only)
    written = sorted(p.name for p in folder.glob("*.csv"))
    assert golden and written == sorted(p.name.removeprefix(f"{CSV_PERIOD}_") for p in golden)
    for path in golden:
        want = pd.read_csv(path).drop(columns=list(ignore), errors="ignore")
        got = pd.read_csv(folder / path.name.removeprefix(f"{CSV_PERIOD}_")).drop(columns=list(ignore), errors="ignore")
        pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-9, atol=1e-12)


def test_report_tables_equal_the_golden_ones(sample, tmp_path):
    write_results(sample, Period.parse(CSV_PERIOD), tmp_path)
    assert_golden_tables(tmp_path)
