"""Unique visitors: distinct users with a ``page_view`` in each period, overall or by the
channel of their first page view, in the data's engine."""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import pandas as pd
from ibis import _

from ..engine import Table, in_range, period_windows, run, table, within
from ..periods import Period, parse_periods

__all__ = ["unique_visitors_query", "unique_visitors"]


def unique_visitors_query(events: Table, *, periods: Sequence[Period | str], by: str | None = None) -> ibis.Table:
    """Distinct users with a ``page_view`` in each period (``period``, ``visitors``); with
    ``by`` (a column of events, such as ``channel``), per value of that column on the
    user's first page view of the period (empty as ``"(none)"``)."""
    periods = parse_periods(periods)
    e = table(events, "events")
    views = e.filter(e.event == "page_view", in_range(e.timestamp, min(p.start for p in periods),
                                                      max(p.end for p in periods)))
    views = within(views, "timestamp", period_windows(periods))
    if by is None:
        return views.group_by("period").agg(visitors=_.user_id.nunique())
    first = views.mutate(rank=ibis.row_number().over(
        ibis.window(group_by=[views.period, views.user_id], order_by=[views.timestamp, views[by]])))
    first = first.filter(first["rank"] == 0)
    return first.group_by(["period", first[by].fill_null("(none)").name(by)]).agg(visitors=_.count())


def unique_visitors(events: Table, *, period: Period | str, by: str | None = None) -> pd.Series:
    """:func:`unique_visitors_query` of one period as a Series: ``{"all": n}``, or the
    visitors per value of ``by`` (largest first)."""
    out = run(unique_visitors_query(events, periods=[period], by=by))
    if by is None:
        return pd.Series({"all": int(out["visitors"].sum())})
    series = out.set_index(by)["visitors"].astype(int).sort_values(ascending=False, kind="stable")
    series.index = series.index.astype(str)
    return series
