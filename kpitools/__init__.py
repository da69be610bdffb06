"""kpitools: SaaS marketing and product KPIs for Jupyter.

>>> import kpitools
>>> data = kpitools.load("data/sample")             # doctest: +SKIP
>>> period = data.latest_complete("M")              # doctest: +SKIP
>>> kpitools.compute_kpis(data, period)             # doctest: +SKIP
"""

__version__ = "0.1.0"

from .errors import DataError, KpiToolsError, MissingTableError, PeriodError, ReportError
from .metrics.kpis import compute_kpis
from .periods import Period, latest_complete, period_range
from .sources.data import Dataset, load, read_table
from .sources.validate import check_table

__all__ = [
    "__version__",
    "Dataset",
    "load",
    "read_table",
    "check_table",
    "compute_kpis",
    "Period",
    "period_range",
    "latest_complete",
    "KpiToolsError",
    "DataError",
    "MissingTableError",
    "PeriodError",
    "ReportError",
]
