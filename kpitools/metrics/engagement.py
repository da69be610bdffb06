"""Active users: DAU, WAU and MAU as daily series and period values, stickiness, new
users and adoption, feature adoption, and the lifecycle of users per period.

A user is active on a day when it has at least one event that day (UTC). The
trailing counts are distinct users over windows of days, computed without a loop
over users: each active day covers the next 7 (or 30) days up to the user's next
active day, and a cumulative sum over the day axis counts every user once.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..periods import Period, period_index
from ..sources.membership import isin, occurring
from .mrr import epoch_ns
from .revenue import ratio

__all__ = ["active_days", "active_series", "active_users", "first_seen", "users_seen_before", "active_history",
           "feature_adoption", "lifecycle", "ENGAGEMENT_KEYS"]

ENGAGEMENT_KEYS = ("dau_avg", "wau_avg", "mau", "stickiness", "new_users", "product_adoption_rate")
_DAY_NS = 86_400 * 10**9


def active_days(events: pd.DataFrame) -> pd.DataFrame:
    """Distinct (user, day) pairs: columns ``user`` (integer code), ``day`` (days since the
    epoch) and the frame's ``attrs["users"]`` (the user ids, by code)."""
    codes, users = pd.factorize(events["user_id"])
    days = epoch_ns(events["timestamp"]) // _DAY_NS
    # days since 1970 stay below 100,000; a hash unique, then a sort of the (fewer) pairs
    key = np.sort(pd.unique(codes.astype(np.int64) * 100_000 + days))
    out = pd.DataFrame({"user": key // 100_000, "day": key % 100_000})
    out.attrs["users"] = users
    return out


def active_series(events: pd.DataFrame, *, start: pd.Timestamp | str, end: pd.Timestamp | str,
                  windows: tuple[int, ...] = (1, 7, 30)) -> pd.DataFrame:
    """Distinct active users over trailing windows, for every day from ``start`` to ``end``
    (exclusive).

    Returns
    -------
    DataFrame
        ``day`` (UTC midnight) and one column per window: ``dau`` (1 day), ``wau``
        (the day and the 6 before it), ``mau`` (the day and the 29 before it);
        other windows as ``active_<n>d``. DAU <= WAU <= MAU on every day.
    """
    first = pd.Timestamp(start).tz_convert("UTC").normalize() if pd.Timestamp(start).tzinfo else \
        pd.Timestamp(start, tz="UTC").normalize()
    last = pd.Timestamp(end).tz_convert("UTC") if pd.Timestamp(end).tzinfo else pd.Timestamp(end, tz="UTC")
    lo, hi = first.value // _DAY_NS, -(-last.value // _DAY_NS)
    width = max(windows)
    pairs = active_days(events[(events["timestamp"] >= first - pd.Timedelta(days=width))
                               & (events["timestamp"] < last)])
    user, day = pairs["user"].to_numpy(), pairs["day"].to_numpy()
    nxt = np.r_[day[1:], np.iinfo(np.int64).max]
    same = np.r_[user[1:] == user[:-1], False]
    nxt = np.where(same, nxt, np.iinfo(np.int64).max)
    n_days = hi - lo
    out = {"day": pd.date_range(first, periods=n_days, freq="D", tz="UTC")}
    for w in windows:
        stop = np.minimum(day + w, nxt)  # this day covers [day, stop) without the user's next day
        delta = np.zeros(n_days + 1, dtype=np.int64)
        begin = np.clip(day - lo, 0, n_days)
        finish = np.clip(stop - lo, 0, n_days)
        keep = finish > begin
        delta += np.bincount(begin[keep], minlength=n_days + 1)
        delta -= np.bincount(finish[keep], minlength=n_days + 1)
        name = {1: "dau", 7: "wau", 30: "mau"}.get(w, f"active_{w}d")
        out[name] = np.cumsum(delta)[:n_days]
    return pd.DataFrame(out)


def active_users(events: pd.DataFrame, *, period: Period | str,
                 seen_before: pd.Index | None = None) -> dict[str, float]:
    """The period's active-user keys.

    Returns
    -------
    dict
        ``dau_avg`` = mean over the period's days of distinct users active that day;
        ``wau_avg`` = mean over the ISO weeks whose Thursday falls in the period of
        distinct users active in that week; ``mau`` = distinct users active in the
        period (a quarter: the mean of its three months); ``stickiness`` =
        dau_avg / mau; ``new_users`` = users whose first event ever falls in the
        period; ``product_adoption_rate`` = new_users / mau.
    """
    period = Period.parse(period)
    weeks = _iso_weeks(period)
    months = [Period.containing(period.start, "M").shift(i) for i in range(3)] if period.kind == "Q" else [period]
    lo = min([period.start, *(w.start for w in weeks)])
    hi = max([period.end, *(w.end for w in weeks)])
    ts = events["timestamp"]
    pairs = active_days(events.loc[(ts >= lo) & (ts < hi), ["user_id", "timestamp"]])
    user, day = pairs["user"].to_numpy(), pairs["day"].to_numpy()
    n_users = len(pairs.attrs["users"])

    def days_of(p: Period) -> np.ndarray:
        return (day >= p.start.value // _DAY_NS) & (day < p.end.value // _DAY_NS)

    def distinct(p: Period) -> int:
        return int(np.bincount(user[days_of(p)], minlength=n_users).astype(bool).sum())

    in_period = days_of(period)
    dau = in_period.sum() / period.days  # (user, day) pairs of the period / its days
    mau = float(np.mean([distinct(m) for m in months]))
    wau = float(np.mean([distinct(w) for w in weeks])) if weeks else float("nan")
    period_users = pd.Index(pairs.attrs["users"][pd.unique(user[in_period])], dtype="str")
    if seen_before is None:
        seen_before = users_seen_before(events, period_users, before=period.start)
    new = int((~isin(period_users, seen_before)).sum())
    return {"dau_avg": float(dau), "wau_avg": wau, "mau": mau, "stickiness": ratio(dau, mau),
            "new_users": new, "product_adoption_rate": ratio(new, mau)}


def first_seen(events: pd.DataFrame) -> pd.Series:
    """Each user's first event: a Series of UTC timestamps indexed by ``user_id``.

    One factorisation and an integer group-by (the minimum of nanoseconds per user code).
    """
    codes, users = pd.factorize(events["user_id"])
    keep = codes >= 0
    first = pd.Series(epoch_ns(events["timestamp"])[keep]).groupby(codes[keep]).min()
    return pd.Series(pd.to_datetime(first.to_numpy(), unit="ns", utc=True),
                     index=pd.Index(users[first.index.to_numpy()], dtype="str", name="user_id"), name="first_event")


def users_seen_before(events: pd.DataFrame, users: pd.Index, *, before: pd.Timestamp) -> pd.Index:
    """The ``users`` that have an event before ``before``: one hash lookup per earlier event
    (no group-by of each user's first event)."""
    return occurring(users, events.loc[(events["timestamp"] < before).to_numpy(), "user_id"])


def _iso_weeks(period: Period) -> list[Period]:
    """ISO weeks whose Thursday lies in the period (each week belongs to one month)."""
    week = Period.containing(period.start - pd.Timedelta(days=3), "W")
    out = []
    while week.start < period.end:
        thursday = week.start + pd.Timedelta(days=3)
        if period.start <= thursday < period.end:
            out.append(week)
        week = week.shift(1)
    return out


def feature_adoption(events: pd.DataFrame, *, periods: list[Period | str]) -> pd.DataFrame:
    """Per feature and period: users with a ``feature_used`` event of it / the period's MAU.

    Returns ``period``, ``feature``, ``users``, ``mau``, ``adoption`` (tidy, one row per
    feature and period).
    """
    rows = []
    ts = events["timestamp"]
    uses = events.loc[(events["event"] == "feature_used").to_numpy(), ["user_id", "timestamp", "feature"]]
    for p in (Period.parse(x) for x in periods):
        mau = events.loc[(ts >= p.start) & (ts < p.end), "user_id"].nunique()
        part = uses[(uses["timestamp"] >= p.start) & (uses["timestamp"] < p.end)]
        used = part.groupby("feature")["user_id"].nunique()
        for feature, users in used.items():
            rows.append({"period": str(p), "feature": feature, "users": int(users), "mau": int(mau),
                         "adoption": ratio(users, mau)})
    return pd.DataFrame(rows, columns=["period", "feature", "users", "mau", "adoption"])


def lifecycle(events: pd.DataFrame, *, periods: list[Period | str]) -> pd.DataFrame:
    """Users per period by lifecycle state, as product analytics tools show it.

    Returns
    -------
    DataFrame
        One row per period: ``new`` (first event ever in it), ``returning`` (active in
        it and the previous period), ``resurrecting`` (active in it, not in the
        previous, not new), ``dormant`` (active in the previous period, not in it;
        negative), and ``active`` = new + returning + resurrecting.
    """
    periods = [Period.parse(p) for p in periods]
    origin = periods[0].previous()
    codes, users = pd.factorize(events["user_id"])
    idx = period_index(events["timestamp"], origin)
    first_idx = pd.Series(idx).groupby(codes).min().to_numpy()
    keep = (idx >= 0) & (idx <= len(periods))
    active = np.zeros((len(users), len(periods) + 1), dtype=bool)
    active[codes[keep], idx[keep]] = True
    rows = []
    for i, p in enumerate(periods, start=1):  # one vectorised pass per period
        now, before = active[:, i], active[:, i - 1]
        new = now & (first_idx == i)
        returning = now & before
        resurrecting = now & ~before & ~new
        rows.append({"period": str(p), "new": int(new.sum()), "returning": int(returning.sum()),
                     "resurrecting": int(resurrecting.sum()), "dormant": -int((before & ~now).sum()),
                     "active": int(now.sum())})
    return pd.DataFrame(rows)


def active_history(events: pd.DataFrame, *, periods: list[Period | str]) -> pd.DataFrame:
    """:func:`active_users` for each period: one row per period (column ``period``).

    Each user's first event is found once (:func:`first_seen`) for all the periods.
    """
    first = first_seen(events)
    stamps = epoch_ns(first)
    rows = []
    for p in (Period.parse(x) for x in periods):
        seen = first.index[stamps < p.start.value]
        rows.append({"period": str(p), **active_users(events, period=p, seen_before=seen)})
    return pd.DataFrame(rows)
