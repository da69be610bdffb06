"""Ordered event funnels: which users did the steps in order, within a window.

A user enters the funnel at its first step-1 event in the period; it converts to
step n when events of steps 2..n occur in that order, each strictly after the
previous step, all within the window from the entry. Each step takes the user's
earliest qualifying event, which leaves the most room for the steps after it.
Vectorised with ``merge_asof`` (one pass per step, none per user).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..periods import Period
from .revenue import ratio

__all__ = ["funnel_paths", "event_funnel", "time_to_convert", "window_complete"]


def funnel_paths(events: pd.DataFrame, steps: Sequence[str], *, period: Period | str,
                 window: str | pd.Timedelta = "7D", by: str | None = None) -> pd.DataFrame:
    """Each entering user's time at every step it reached.

    Parameters
    ----------
    events : DataFrame
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
    if len(steps) < 2:
        raise ValueError("an event funnel needs at least two steps")
    period = Period.parse(period)
    window = pd.Timedelta(window)
    columns = ["user_id", "timestamp", "event"] + ([by] if by else [])
    ev = events.loc[events["event"].isin(list(steps)), columns]
    first = ev[(ev["event"] == steps[0]) & (ev["timestamp"] >= period.start) & (ev["timestamp"] < period.end)]
    first = first.sort_values("timestamp", kind="stable").drop_duplicates("user_id")
    paths = pd.DataFrame({"user_id": first["user_id"].astype("str").reset_index(drop=True),
                          "step_1": first["timestamp"].dt.as_unit("ns").reset_index(drop=True)})
    if by:
        paths["group"] = first[by].fillna("(none)").astype(str).to_numpy()
    deadline = paths["step_1"] + window
    current = paths[["user_id", "step_1"]].rename(columns={"step_1": "previous"})
    current["deadline"] = deadline
    for n, step in enumerate(steps[1:], start=2):
        right = ev.loc[ev["event"] == step, ["user_id", "timestamp"]]
        right = right.assign(user_id=right["user_id"].astype("str"),
                             timestamp=right["timestamp"].dt.as_unit("ns")).sort_values("timestamp")
        left = current.dropna(subset=["previous"]).sort_values("previous")
        matched = pd.merge_asof(left, right, left_on="previous", right_on="timestamp", by="user_id",
                                direction="forward", allow_exact_matches=False)
        matched = matched[matched["timestamp"] <= matched["deadline"]]
        reached = matched.set_index("user_id")["timestamp"]
        paths[f"step_{n}"] = pd.Series(reached.reindex(paths["user_id"]).to_numpy(), dtype="datetime64[ns, UTC]")
        current = matched[["user_id", "timestamp", "deadline"]].rename(columns={"timestamp": "previous"})
    return paths


def event_funnel(events: pd.DataFrame, steps: Sequence[str], *, period: Period | str,
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
    paths = funnel_paths(events, steps, period=period, window=window, by=by)
    groups = [None] if by is None else sorted(paths["group"].unique())
    rows = []
    for group in groups:
        part = paths if group is None else paths[paths["group"] == group]
        entered = len(part)
        previous = entered
        for n, step in enumerate(steps, start=1):
            reached = part[f"step_{n}"].notna()
            users = int(reached.sum())
            gap = start_gap = np.nan
            if n > 1 and users:
                gap = float(((part.loc[reached, f"step_{n}"] - part.loc[reached, f"step_{n - 1}"])
                             / pd.Timedelta(minutes=1)).median())
                start_gap = float(((part.loc[reached, f"step_{n}"] - part.loc[reached, "step_1"])
                                   / pd.Timedelta(minutes=1)).median())
            row = {"step_number": n, "step": step, "users": users,
                   "rate_from_start": ratio(users, entered), "rate_from_previous": ratio(users, previous),
                   "drop_off": previous - users if n > 1 else 0,
                   "median_minutes_from_previous": gap, "median_minutes_from_start": start_gap}
            rows.append(row if group is None else {by: group, **row})
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
