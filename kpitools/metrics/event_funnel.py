"""Ordered event funnels: which users did the steps in order, within a window.

A user enters the funnel at its first step-1 event in the period; it converts to
step n when events of steps 2..n occur in that order, each strictly after the
previous step, all within the window from the entry. Each step takes the user's
earliest qualifying event, which leaves the most room for the steps after it.
In the data's engine: one join per step on the earliest qualifying event inside the
window (no loop over users).
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import numpy as np
import pandas as pd
from ibis import _

from ..engine import Table, in_range, run, table, with_medians
from ..periods import Period
from .revenue import ratio

__all__ = ["paths_query", "funnel_paths", "event_funnel_query", "event_funnel", "time_to_convert", "window_complete"]


def paths_query(events: Table, steps: Sequence[str], *, period: Period | str,
                window: str | pd.Timedelta = "7D", by: str | None = None) -> ibis.Table:
    """The expression of :func:`funnel_paths`: one join per step on the earliest
    qualifying event inside the window (no as-of join, so it runs on any engine)."""
    if len(steps) < 2:
        raise ValueError("an event funnel needs at least two steps")
    period = Period.parse(period)
    window = pd.Timedelta(window)
    e = table(events, "events")
    # every step happens from the period's start to the last entry's deadline: the scan
    # skips the rest of the log
    reach = period.end + window + pd.Timedelta(microseconds=1)
    e = e.filter(e.event.isin(list(steps)), in_range(e.timestamp, period.start, reach))
    entries = e.filter(e.event == steps[0], in_range(e.timestamp, period.start, period.end))
    entries = entries.mutate(rank=ibis.row_number().over(
        ibis.window(group_by=entries.user_id, order_by=[entries.timestamp] + ([entries[by]] if by else []))))
    paths = entries.filter(entries["rank"] == 0).select(
        "user_id", step_1="timestamp", **({"group": entries[by].cast("string").fill_null("(none)")} if by else {}))
    paths = paths.mutate(deadline=paths.step_1 + ibis.interval(microseconds=int(window / pd.Timedelta("1us"))))
    current = paths.select(walker="user_id", previous="step_1", deadline="deadline")
    for n, step in enumerate(steps[1:], start=2):
        hits = e.filter(e.event == step).select(doer="user_id", at="timestamp")
        matched = current.join(hits, [current.walker == hits.doer, hits.at > current.previous,
                                      hits.at <= current.deadline])
        reached = matched.group_by(["walker", "deadline"]).agg(**{f"step_{n}": _.at.min()})
        paths = paths.left_join(reached.select("walker", f"step_{n}"), paths.user_id == reached.walker).drop(
            "walker")
        current = reached.select("walker", previous=f"step_{n}", deadline="deadline")
    return paths.drop("deadline")


def funnel_paths(events: Table, steps: Sequence[str], *, period: Period | str,
                 window: str | pd.Timedelta = "7D", by: str | None = None) -> pd.DataFrame:
    """Each entering user's time at every step it reached.

    Parameters
    ----------
    events : Ibis table or DataFrame
        ``user_id``, ``timestamp``, ``event`` (and ``by``).
    steps : sequence of str
        Event names in order, at least two.
    period : Period or str
        Users enter at their first step-1 event in the period (later steps may
        fall after the period, within the window).
    window : str or Timedelta
        Conversion window from the entry, e.g. ``"7D"``, ``"30min"``.
    by : str, optional
        A column of ``events``; each user takes its value on the entering event.

    Returns
    -------
    DataFrame
        One row per entering user: ``user_id``, ``group`` (with ``by``), and
        ``step_1`` ... ``step_n`` timestamps (NaT from the first step not reached).
    """
    out = run(paths_query(events, steps, period=period, window=window, by=by))
    out = out.sort_values(["step_1", "user_id"], ignore_index=True)
    for n in range(1, len(steps) + 1):
        out[f"step_{n}"] = pd.to_datetime(out[f"step_{n}"], utc=True).dt.as_unit("ns")
    columns = ["user_id", *(["group"] if by else []), *(f"step_{n}" for n in range(1, len(steps) + 1))]
    return out[columns]


def event_funnel_query(events: Table, steps: Sequence[str], *, period: Period | str,
                       window: str | pd.Timedelta = "7D", by: str | None = None) -> ibis.Table:
    """The expression of :func:`event_funnel`: per group (``group`` = ``"all"`` without
    ``by``) ``users_<n>`` and the median minutes to step n from the previous step
    (``gap_<n>``) and from the entry (``start_<n>``)."""
    paths = paths_query(events, steps, period=period, window=window, by=by)
    if not by:
        paths = paths.mutate(group=ibis.literal("all"))
    minute = 60e6
    measures, medians = {}, {}
    for n in range(1, len(steps) + 1):
        here = paths[f"step_{n}"]
        measures[f"users_{n}"] = here.notnull().cast("int32").sum()
        if n > 1:
            medians[f"gap_{n}"] = here.delta(paths[f"step_{n - 1}"], unit="microsecond") / minute
            medians[f"start_{n}"] = here.delta(paths.step_1, unit="microsecond") / minute
    return with_medians(paths.group_by("group").agg(**measures), paths, ["group"], medians)


def event_funnel(events: Table, steps: Sequence[str], *, period: Period | str,
                 window: str | pd.Timedelta = "7D", by: str | None = None) -> pd.DataFrame:
    """Users at each step of an ordered funnel, conversion and time between steps.

    Returns
    -------
    DataFrame
        One row per (group and) step: ``step_number``, ``step`` (event name),
        ``users``, ``rate_from_start`` (users / users at step 1),
        ``rate_from_previous``, ``drop_off`` (users lost since the previous step),
        ``median_minutes_from_previous`` and ``median_minutes_from_start``.
    """
    found = run(event_funnel_query(events, steps, period=period, window=window, by=by)).set_index("group")
    groups = ["all"] if by is None else sorted(found.index.astype(str))
    rows = []
    for group in groups:
        values = found.loc[group] if group in found.index else {}
        entered = int(values.get("users_1", 0) or 0)
        previous = entered
        for n, step in enumerate(steps, start=1):
            users = int(values.get(f"users_{n}", 0) or 0)
            gap = start_gap = np.nan
            if n > 1 and users:
                gap, start_gap = float(values[f"gap_{n}"]), float(values[f"start_{n}"])
            row = {"step_number": n, "step": step, "users": users,
                   "rate_from_start": ratio(users, entered), "rate_from_previous": ratio(users, previous),
                   "drop_off": previous - users if n > 1 else 0,
                   "median_minutes_from_previous": gap, "median_minutes_from_start": start_gap}
            rows.append(row if by is None else {by: group, **row})
            previous = users
    return pd.DataFrame(rows)


def time_to_convert(paths: pd.DataFrame, *, unit: str = "h") -> pd.Series:
    """Time from entry to the last step for the users who completed the funnel, in ``unit``
    (``"min"``, ``"h"`` or ``"D"``): the distribution behind the median."""
    last = max((c for c in paths.columns if c.startswith("step_")), key=lambda c: int(c[5:]))
    done = paths[paths[last].notna()]
    return ((done[last] - done["step_1"]) / pd.Timedelta(1, unit=unit)).rename(f"time_to_convert_{unit}")


def window_complete(period: Period | str, window: str | pd.Timedelta, data_end: pd.Timestamp) -> bool:
    """Whether every user entering in the period has had its whole window by the data's end
    (otherwise the latest entrants' conversions are still to come)."""
    return bool(Period.parse(period).end + pd.Timedelta(window) <= data_end)
