"""Activation and onboarding of the period's signups: who reached the value moment, how
fast, and where onboarding loses people.

In the data's engine: each user's first ``signup`` in a period, joined to the same
user's follow-up events (``activated``, ``onboarding_viewed``, ``onboarding_completed``)
at or after it, the first of each kind kept; counts and the median per period.
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import numpy as np
import pandas as pd
from ibis import _

from ..engine import Table, every_period, in_range, period_windows, run, table, with_medians, within
from ..periods import Period, parse_periods
from .revenue import ratio

__all__ = ["signups", "signups_query", "activation", "activation_query", "activation_history", "onboarding_steps",
           "ACTIVATION_KEYS"]

ACTIVATION_KEYS = ("activation_rate", "time_to_value_days", "onboarding_view_rate",
                   "onboarding_completion_rate")
_DAY_US = 86_400 * 10**6
# the events that follow a signup, and the column of the first one at or after it
_FOLLOW_UPS = (("activated", "activated_at"), ("onboarding_viewed", "viewed_at"),
               ("onboarding_completed", "completed_at"))


def signups_query(events: Table, *, periods: Sequence[Period | str], days: int = 14) -> ibis.Table:
    """One row per period and user with a ``signup`` in it (its first there): ``period``,
    ``user_id``, ``signup_at``, ``activated_at``, ``viewed_at``, ``completed_at`` (the
    first of each follow-up event at or after the signup), ``days_to_value`` and
    ``activated`` (within ``days``)."""
    periods = parse_periods(periods)
    e = table(events, "events")
    first = e.filter(e.event == "signup", in_range(e.timestamp, min(p.start for p in periods),
                                                   max(p.end for p in periods)))
    first = within(first, "timestamp", period_windows(periods)).group_by(["period", "user_id"]).agg(
        signup_at=_.timestamp.min())
    follow = e.filter(e.event.isin([name for name, _ in _FOLLOW_UPS])).select(
        follower="user_id", event="event", at="timestamp")
    later = first.left_join(follow, [first.user_id == follow.follower, follow.at >= first.signup_at])
    out = later.group_by(["period", "user_id", "signup_at"]).agg(
        **{column: (later.event == name).ifelse(later.at, ibis.null()).min() for name, column in _FOLLOW_UPS})
    to_value = out.activated_at.delta(out.signup_at, unit="microsecond") / _DAY_US
    return out.mutate(days_to_value=to_value, activated=(to_value <= days).fill_null(False))


def signups(events: Table, *, period: Period | str, days: int = 14) -> pd.DataFrame:
    """The users with a ``signup`` event in the period and what they did next.

    Returns
    -------
    DataFrame
        One row per user (its first signup in the period): ``user_id``,
        ``signup_at``, ``activated_at`` (first ``activated`` at or after signup),
        ``days_to_value``, ``activated`` (within ``days``), ``viewed``
        (``onboarding_viewed``) and ``completed`` (``onboarding_completed``) at or
        after signup.
    """
    out = run(signups_query(events, periods=[period], days=days))
    out = out.sort_values(["signup_at", "user_id"], ignore_index=True)
    for column in ("signup_at", "activated_at", "viewed_at", "completed_at"):
        out[column] = pd.to_datetime(out[column], utc=True).dt.as_unit("ns")
    out["viewed"] = out["viewed_at"].notna()
    out["completed"] = out["completed_at"].notna()
    out["days_to_value"] = out["days_to_value"].astype(float)
    out["activated"] = out["activated"].astype(bool)
    return out[["user_id", "signup_at", "activated_at", "days_to_value", "activated", "viewed", "completed"]]


def activation_query(events: Table, *, periods: Sequence[Period | str], days: int = 14) -> ibis.Table:
    """The expression of :func:`activation_history`."""
    s = signups_query(events, periods=periods, days=days)
    viewed = s.viewed_at.notnull()
    per = s.group_by("period").agg(
        signups=_.count(), activated=s.activated.cast("int32").sum(), viewed=viewed.cast("int32").sum(),
        completed=(viewed & s.completed_at.notnull()).cast("int32").sum())
    per = with_medians(per, s, ["period"], {"time_to_value_days": s.days_to_value})
    return per.mutate(activation_rate=per.activated / per.signups.nullif(0),
                      onboarding_view_rate=per.viewed / per.signups.nullif(0),
                      onboarding_completion_rate=per.completed / per.viewed.nullif(0))


def activation_history(events: Table, *, periods: Sequence[Period | str], days: int = 14) -> pd.DataFrame:
    """The activation and onboarding keys of each period.

    Returns
    -------
    DataFrame
        One row per period: ``period``, ``signups``;
        ``activation_rate`` = signups reaching ``activated`` within ``days`` / signups;
        ``time_to_value_days`` = median days from signup to the first ``activated``
        (over the signups that activated at all); ``onboarding_view_rate`` = signups
        with ``onboarding_viewed`` / signups; ``onboarding_completion_rate`` = of
        those, the share with ``onboarding_completed``.
    """
    periods = parse_periods(periods)
    out = run(activation_query(events, periods=periods, days=days))
    out = every_period(out, periods)
    out["signups"] = out["signups"].fillna(0).astype(int)
    return out[["period", "signups", *ACTIVATION_KEYS]].astype({k: float for k in ACTIVATION_KEYS})


def activation(events: Table, *, period: Period | str, days: int = 14) -> dict[str, float]:
    """:func:`activation_history` of one period, as a dict (with ``signups``)."""
    row = activation_history(events, periods=[period], days=days).iloc[0].to_dict()
    row.pop("period")
    return row


def onboarding_steps(events: Table, *, period: Period | str, steps: Sequence[str] | None = None,
                     event: str = "onboarding_step", column: str = "feature") -> pd.DataFrame:
    """Where onboarding loses people: of the period's signups that viewed onboarding, how
    many reached each step (``event`` rows whose ``column`` names the step), in order.

    ``steps`` defaults to the step names seen, sorted. Returns ``step``, ``users``,
    ``rate_from_start`` (of viewers), ``rate_from_previous`` and ``drop_off``.
    """
    s = signups_query(events, periods=[period])
    viewers = s.filter(s.viewed_at.notnull()).select(viewer="user_id")
    e = table(events, "events")
    rows = e.filter(e.event == event, e[column].notnull())
    rows = rows.join(viewers, rows.user_id == viewers.viewer)
    reached = run(rows.group_by(step=rows[column]).agg(users=_.user_id.nunique()))
    start = int(run(viewers.aggregate(n=_.count()))["n"].iloc[0])
    reached = reached.set_index("step")["users"]
    names = list(steps) if steps is not None else sorted(reached.index.astype(str))
    out, previous = [], start
    out.append({"step": "viewed onboarding", "users": start, "rate_from_start": 1.0 if start else np.nan,
                "rate_from_previous": np.nan, "drop_off": 0})
    for name in names:
        users = int(reached.get(name, 0))
        out.append({"step": name, "users": users, "rate_from_start": ratio(users, start),
                    "rate_from_previous": ratio(users, previous), "drop_off": previous - users})
        previous = users
    return pd.DataFrame(out)
