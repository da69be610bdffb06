"""Where the project's folders are, defined once (cookiecutter-data-science style).

The notebooks, templates and sample data live beside the package in the
repository. ``KPITOOLS_HOME`` points elsewhere (a copy of the repository's
folders) when kpitools is installed without its source tree.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["HOME", "NOTEBOOKS", "TEMPLATES", "SAMPLE_DATA", "ORDER", "APPENDIX", "report_rank"]

HOME = Path(os.environ.get("KPITOOLS_HOME", Path(__file__).resolve().parents[2]))
NOTEBOOKS = HOME / "notebooks"
TEMPLATES = HOME / "templates"
SAMPLE_DATA = HOME / "data" / "sample"

# The overview opens every report set and data quality closes it as the appendix.
ORDER = ("overview", "funnel", "retention_cohort", "unit_economics", "engagement")
APPENDIX = "data_quality"


def report_rank(stem: str) -> tuple[int, str]:
    """Where a report goes in a set (the index, a run): the documented order, then other
    notebooks by name, the appendix last."""
    if stem == APPENDIX:
        return (len(ORDER) + 1, stem)
    return (ORDER.index(stem) if stem in ORDER else len(ORDER), stem)
