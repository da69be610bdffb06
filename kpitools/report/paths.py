"""Where the project's folders are, defined once (cookiecutter-data-science style).

The notebooks, templates and sample data live beside the package in the
repository. ``KPITOOLS_HOME`` points elsewhere (a copy of the repository's
folders) when kpitools is installed without its source tree.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["HOME", "NOTEBOOKS", "TEMPLATES", "SAMPLE_DATA"]

HOME = Path(os.environ.get("KPITOOLS_HOME", Path(__file__).resolve().parents[2]))
NOTEBOOKS = HOME / "notebooks"
TEMPLATES = HOME / "templates"
SAMPLE_DATA = HOME / "data" / "sample"
