"""Activation and onboarding of the period's signups: who reached the value moment, how
fast, and where onboarding loses people."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..periods import Period
from ..sources.membership import isin
from .revenue import ratio

__all__ = ["signups", "activation", "onboarding_steps", "ACTIVATION_KEYS"]

ACTIVATION_KEYS = ("activation_rate", "time_to_value_days", "onboarding_view_rate",
                   "onboarding_completion_rate")
_DAY = pd.Timedelta(days=1)
# the events that follow a signup, and the column of the first one at or after it
_FOLLOW_UPS = (("activated", "activated_at"), ("onboarding_viewed", "viewed_at"),
               ("onboarding_completed", "completed_at"))


def _first(events: pd.DataFrame, name: str) -> pd.Series:
    return events[events["event"] == name].groupby("user_id")["timestamp"].min()


def signups(events: pd.DataFrame, *, period: Period | str, days: int = 14) -> pd.DataFrame:
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
    period = Period.parse(period)
    s = events[(events["event"] == "signup") & (events["timestamp"] >= period.start)
               & (events["timestamp"] < period.end)]
    s = s.sort_values("timestamp", kind="stable").drop_duplicates("user_id")
    out = pd.DataFrame({"user_id": s["user_id"].to_numpy(),
                        "signup_at": s["timestamp"].dt.as_unit("ns").to_numpy()})
    out["signup_at"] = pd.Series(out["signup_at"], dtype="datetime64[ns, UTC]")
    follow = events.loc[events["event"].isin([name for name, _ in _FOLLOW_UPS]).to_numpy(),
                        ["user_id", "timestamp", "event"]]
    later = follow[isin(follow["user_id"], out["user_id"])]
    start = out.set_index("user_id")["signup_at"]
    for name, column in _FOLLOW_UPS:
        hits = later[later["event"] == name][["user_id", "timestamp"]]
        hits = hits[hits["timestamp"].to_numpy() >= start.reindex(hits["user_id"]).to_numpy()]
        first = hits.groupby("user_id")["timestamp"].min()
        out[column] = pd.Series(first.reindex(out["user_id"]).to_numpy(), dtype="datetime64[ns, UTC]")
    out["days_to_value"] = (out["activated_at"] - out["signup_at"]) / _DAY
    out["activated"] = out["days_to_value"] <= days
    out["viewed"] = out["viewed_at"].notna()
    out["completed"] = out["completed_at"].notna()
    return out.drop(columns=["viewed_at", "completed_at"])


def activation(events: pd.DataFrame, *, period: Period | str, days: int = 14) -> dict[str, float]:
    """The period's activation and onboarding keys.

    Returns
    -------
    dict
        ``activation_rate`` = signups reaching ``activated`` within ``days`` / signups;
        ``time_to_value_days`` = median days from signup to the first ``activated``
        (over the signups that activated at all); ``onboarding_view_rate`` = signups
        with ``onboarding_viewed`` / signups; ``onboarding_completion_rate`` = of
        those, the share with ``onboarding_completed``; and ``signups``.
    """
    s = signups(events, period=period, days=days)
    n = len(s)
    viewed = int(s["viewed"].sum())
    ttv = s["days_to_value"].dropna()
    return {"signups": n, "activation_rate": ratio(s["activated"].sum(), n),
            "time_to_value_days": float(ttv.median()) if len(ttv) else float("nan"),
            "onboarding_view_rate": ratio(viewed, n),
            "onboarding_completion_rate": ratio((s["viewed"] & s["completed"]).sum(), viewed)}


def onboarding_steps(events: pd.DataFrame, *, period: Period | str, steps: Sequence[str] | None = None,
                     event: str = "onboarding_step", column: str = "feature") -> pd.DataFrame:
    """Where onboarding loses people: of the period's signups that viewed onboarding, how
    many reached each step (``event`` rows whose ``column`` names the step), in order.

    ``steps`` defaults to the step names seen, sorted. Returns ``step``, ``users``,
    ``rate_from_start`` (of viewers), ``rate_from_previous`` and ``drop_off``.
    """
    s = signups(events, period=period)
    viewers = s.loc[s["viewed"], "user_id"]
    rows = events[(events["event"] == event).to_numpy() & isin(events["user_id"], viewers)]
    names = list(steps) if steps is not None else sorted(rows[column].dropna().unique())
    out, previous = [], len(viewers)
    start = len(viewers)
    out.append({"step": "viewed onboarding", "users": start, "rate_from_start": 1.0 if start else np.nan,
                "rate_from_previous": np.nan, "drop_off": 0})
    for name in names:
        users = int(rows.loc[rows[column] == name, "user_id"].nunique())
        out.append({"step": name, "users": users, "rate_from_start": ratio(users, start),
                    "rate_from_previous": ratio(users, previous), "drop_off": previous - users})
        previous = users
    return pd.DataFrame(out)
