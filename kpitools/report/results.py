"""Machine-readable results written beside each period's HTML reports:
``kpis.json`` and the main tidy tables as CSV."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from ..metrics.activity import activity_cohorts
from ..metrics.compare import tile_periods
from ..metrics.funnel import cohort_conversion, period_flow
from ..metrics.kpis import kpis_for, kpis_like
from ..metrics.quality import ANALYSES, table_profile
from ..metrics.retention import revenue_cohorts
from ..metrics.revenue import revenue_metrics
from ..periods import Period
from ..sources.data import Dataset
from .atomic import write_csv, write_text

__all__ = ["TABLE_WRITERS", "register_table", "write_results", "tile_kpis"]

TABLE_WRITERS: dict[str, tuple[tuple[str, ...], Callable[[Dataset, Period], pd.DataFrame | None], bool, str]] = {}


def register_table(filename: str, *, analysis: str, needs: tuple[str, ...] = (), whole: bool = False):
    """Decorator: a tidy table written as ``filename`` beside the ``analysis`` report, for
    every period whose data has the ``needs`` tables; ``whole`` tables see every category
    value (a profile of the data), the others the report's top values and ``(other)``."""

    def wrap(fn: Callable[[Dataset, Period], pd.DataFrame]):
        TABLE_WRITERS[filename] = (needs, fn, whole, analysis)
        return fn

    return wrap


@register_table("mrr_movements.csv", analysis="unit_economics", needs=("subscriptions",))
def _movements(data: Dataset, period: Period) -> pd.DataFrame:
    """The MRR bridge and revenue rates of the trailing 24 months (8 quarters, 104 weeks)."""
    n = {"M": 24, "Q": 8, "W": 104}[period.kind]
    start = data.date_range[0]
    periods = [p for p in period.last_n(n) if p.end > start]
    return revenue_metrics(data.subscriptions, periods=periods)


@register_table("cohort_retention.csv", analysis="retention_cohort")
def _cohorts(data: Dataset, period: Period) -> pd.DataFrame | None:
    """Revenue cohorts of the period's kind (weekly reports use months); activity cohorts
    from the event log when there is no billing data."""
    kind = period.kind if period.kind in ("M", "Q") else "M"
    end = data.date_range[1]
    if data.has("subscriptions"):
        return revenue_cohorts(data.subscriptions, through=period, kind=kind, data_end=end)
    if data.has("events"):
        return activity_cohorts(data.events, through=period, kind=kind, data_end=end)
    return None


@register_table("funnel.csv", analysis="funnel", needs=("leads",))
def _funnel(data: Dataset, period: Period) -> pd.DataFrame:
    """Both views of the marketing funnel, overall and by channel, in one tidy table."""
    frames = []
    for view, by in (("period_flow", None), ("period_flow", "channel"), ("cohort_conversion", None),
                     ("cohort_conversion", "channel")):
        if view == "period_flow":
            table = period_flow(data.leads, period=period, events=data.events, by=by)
        else:
            table = cohort_conversion(data.leads, period=period, by=by, data_end=data.date_range[1])
        if by is None:
            table.insert(0, "channel", "all")
        table.insert(0, "view", view)
        frames.append(table)
    return pd.concat(frames, ignore_index=True)


@register_table("data_quality.csv", analysis="data_quality", whole=True)
def _profile(data: Dataset, period: Period) -> pd.DataFrame:
    return table_profile(data)


def write_results(data: Dataset, period: Period, out_dir: Path, *, max_categories: int = 12,
                  analyses: Sequence[str] | None = None) -> list[Path]:
    """Write ``kpis.json`` and the registered tables the data allows into ``out_dir``: those
    of ``analyses`` (the reports of the run; default: every table). The tables break down
    by at most ``max_categories`` values per category and ``(other)``, as the reports do."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    shown = data.limit_categories(max_categories)
    # every category value's own key; the other values are those the reports computed
    kpis = kpis_like(data, period, limited=shown)  # the folder names the period: numbers only
    written.append(write_text(out_dir / "kpis.json", json.dumps(kpis, indent=2, allow_nan=False) + "\n"))
    for filename, (needs, fn, whole, analysis) in TABLE_WRITERS.items():
        if analyses is not None and analysis not in analyses:
            continue
        table = fn(data if whole else shown, period) if data.has(*needs) else None
        if table is not None:  # text cells a spreadsheet would evaluate are made inert
            written.append(write_csv(table, out_dir / filename))
    return written


def tile_kpis(data: Dataset, periods: Sequence[Period], notebooks: Sequence[str], parameters: dict) -> None:
    """Compute, in one batch, every period's KPIs that a notebook of the run will show as
    tiles or a history (the trailing periods, the previous one, a year before), while the
    workers start their kernels; the notebooks then read them from the run's shared
    results (a notebook that gets there first waits for this batch rather than compute
    them again). Nothing happens when no notebook of the run shows KPI tiles."""
    tiles = {a.name for a in ANALYSES if a.tiles}
    if data.shared is None or tiles.isdisjoint(notebooks):
        return
    # the notebooks' parameters: their default unless the run sets one
    shown = data.limit_categories(_whole(parameters.get("max_categories"), 12))
    trailing = _whole(parameters.get("trailing"), 12)
    wanted = [q for p in periods for q in [*p.last_n(trailing), *tile_periods(p)]]
    kpis_for(shown, sorted(set(wanted), key=lambda q: (q.start, q.end)))


def _whole(value: object, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else default
