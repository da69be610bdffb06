"""Write the golden values of the sample company: ``kpis.json`` of every complete month and
quarter and of a few ISO weeks, and every CSV the reports write for 2026-09.

They are the safety net of the engine change (issue 13): after it, every value must be
identical (relative tolerance 1e-9). Regenerate only on purpose, when a definition
changes, and say so in the commit:

    .venv/bin/python tests/golden/regenerate.py
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

import kpitools  # noqa: E402
from kpitools.periods import Period, period_range  # noqa: E402
from kpitools.report.paths import SAMPLE_DATA  # noqa: E402
from kpitools.report.results import write_results  # noqa: E402

WEEKS = ["2025-W01", "2025-W27", "2026-W36"]
CSV_PERIOD = "2026-09"


def golden_periods(data: kpitools.Dataset) -> list[Period]:
    """Every complete month and quarter of the sample, and a few ISO weeks."""
    first = data.date_range[0]
    months = period_range(Period.containing(first, "M"), data.latest_complete("M"))
    quarters = period_range(Period.containing(first, "Q"), data.latest_complete("Q"))
    return [*months, *quarters, *(Period.parse(w) for w in WEEKS)]


def main() -> None:
    data = kpitools.load(SAMPLE_DATA)
    values = {str(p): kpitools.compute_kpis(data, p) for p in golden_periods(data)}
    (HERE / "kpis.json").write_text(json.dumps(values, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        for path in write_results(data, Period.parse(CSV_PERIOD), Path(tmp)):
            if path.suffix == ".csv":
                shutil.copyfile(path, HERE / f"{CSV_PERIOD}_{path.name}")
    print(f"wrote {len(values)} periods and the CSVs of {CSV_PERIOD} to {HERE}")


if __name__ == "__main__":
    main()
