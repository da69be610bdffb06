"""KPIs of a period against the previous period, the same period last year and the
target, and their history over trailing periods."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..engine import Table, run, table
from ..periods import Period, parse_periods
from ..sources.data import Dataset
from ..text.catalog import kpi
from .kpis import kpis_for

__all__ = ["kpi_history", "kpi_tiles", "tile_periods", "target_for", "period_changes"]


def kpi_history(data: Dataset, periods: Sequence[Period | str], keys: Sequence[str] | None = None,
                ) -> pd.DataFrame:
    """One row per period (column ``period``), one column per KPI key.

    Periods before the data starts are left out.
    """
    start = data.date_range[0]
    periods = [p for p in parse_periods(periods) if p.end > start]
    every = kpis_for(data, periods, keys=keys)
    rows = []
    for p in periods:
        values = every[str(p)]
        if keys is not None:
            values = {k: values.get(k) for k in keys}
        rows.append({"period": str(p), **values})
    return pd.DataFrame(rows).astype({k: "float64" for k in (keys or [])}, errors="ignore")


def target_for(targets: Table | None, period: Period | str, key: str) -> float | None:
    """The target of a KPI for a period from the ``targets`` table, or None (the last
    one, when the table names several)."""
    if targets is None:
        return None
    return _targets_of(targets, period).get(key)


def _targets_of(targets: Table | None, period: Period | str) -> dict[str, float]:
    """Each KPI's target for the period (the last one where the table names several): one query."""
    if targets is None:
        return {}
    t = table(targets, "targets")
    hit = run(t.filter(t.period == str(Period.parse(period))).select("kpi", "target"))
    return {str(k): float(v) for k, v in zip(hit["kpi"], hit["target"], strict=True)}


def _change(now: float | None, then: float | None) -> tuple[float, float]:
    if now is None or then is None or pd.isna(now) or pd.isna(then):
        return np.nan, np.nan
    return now - then, ((now - then) / abs(then)) if then else np.nan


def tile_periods(period: Period | str) -> list[Period]:
    """The periods a KPI tile compares: the period, the one before and the same period a
    year earlier."""
    period = Period.parse(period)
    return [period, period.previous(), period.same_period_last_year()]


def kpi_tiles(data: Dataset, period: Period | str, keys: Sequence[str]) -> pd.DataFrame:
    """Value, change against the previous period and the same period last year, and
    target, for each key.

    Returns
    -------
    DataFrame
        One row per key: ``key``, ``label``, ``value``, ``previous``, ``change``
        (value - previous), ``change_pct``, ``last_year``, ``yoy_change``,
        ``yoy_pct``, ``target``, ``higher_is_better``. Rates change in
        percentage points: ``change`` of a rate is a difference of shares. A
        comparison period that starts before the data does is missing (NaN): the
        data does not cover it.
    """
    this, before, year_before = tile_periods(period)
    now, prev, year = kpis_for(data, [this, before, year_before]).values()
    # a period the data does not cover whole is no comparison: its values would be zeros
    # or partial sums, not last year's business ("—", never "+7,000 vs last year")
    covered_from = data.date_range[0].floor("D")
    prev = prev if before.start >= covered_from else {}
    year = year if year_before.start >= covered_from else {}
    goals = _targets_of(data.targets, period)
    rows = []
    for key in keys:
        change, pct = _change(now.get(key), prev.get(key))
        ychange, ypct = _change(now.get(key), year.get(key))
        rows.append({"key": key, "label": kpi(key).label, "value": now.get(key),
                     "previous": prev.get(key), "change": change, "change_pct": pct,
                     "last_year": year.get(key), "yoy_change": ychange, "yoy_pct": ypct,
                     "target": goals.get(key),
                     "higher_is_better": kpi(key).higher_is_better})
    return pd.DataFrame(rows)


def period_changes(history: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """The last period of a history against the one before, per key.

    Returns ``kpi`` (label), ``key``, ``this period``, ``previous`` and ``change``: percentage
    points for rates (the difference x 100), relative change otherwise.
    """
    now = history.iloc[-1]
    prev = history.iloc[-2] if len(history) > 1 else pd.Series(dtype=float)
    rows = []
    for key in keys:
        a, b = now.get(key), prev.get(key)
        if kpi(key).unit == "rate":
            change = (a - b) * 100 if pd.notna(a) and pd.notna(b) else np.nan
        else:
            change = _change(a, b)[1]
        rows.append({"kpi": kpi(key).label, "key": key, "this period": a, "previous": b, "change": change})
    return pd.DataFrame(rows, columns=["kpi", "key", "this period", "previous", "change"])
