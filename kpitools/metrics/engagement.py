"""Active users: DAU, WAU and MAU as daily series and period values, stickiness, new
users and adoption, feature adoption, and the lifecycle of users per period.

A user is active on a day when it has at least one event that day (UTC). The row
work runs in the data's engine (:mod:`kpitools.engine`): distinct (user, day) pairs,
counted per day and per window each period asks for (its ISO weeks, its months) in one
query for every period; each user's first event is one group-by over
the whole history.
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import numpy as np
import pandas as pd
from ibis import _

from ..engine import (
    Table,
    day_of,
    in_order,
    in_range,
    period_windows,
    run,
    table,
    utc_stamp,
    windows,
    within,
)
from ..periods import Period, parse_periods

__all__ = ["active_series", "active_users", "active_history", "first_seen", "feature_adoption", "lifecycle",
           "iso_weeks", "active_query", "feature_adoption_query",
           "lifecycle_query", "active_series_query", "ENGAGEMENT_KEYS"]

ENGAGEMENT_KEYS = ("dau_avg", "wau_avg", "mau", "stickiness", "new_users", "product_adoption_rate")
_DAY = pd.Timedelta(days=1)


def iso_weeks(period: Period) -> list[Period]:
    """ISO weeks whose Thursday lies in the period (each week belongs to one month)."""
    week = Period.containing(period.start - pd.Timedelta(days=3), "W")
    out = []
    while week.start < period.end:
        thursday = week.start + pd.Timedelta(days=3)
        if period.start <= thursday < period.end:
            out.append(week)
        week = week.shift(1)
    return out


def _months(period: Period) -> list[Period]:
    """The months whose distinct users MAU averages: a quarter's three, else the period."""
    if period.kind == "Q":
        return [Period.containing(period.start, "M").shift(i) for i in range(3)]
    return [period]


def active_pairs(events: Table, start: pd.Timestamp, end: pd.Timestamp) -> ibis.Table:
    """Distinct (``user_id``, ``day``) pairs of the events from ``start`` to ``end``."""
    e = table(events, "events")
    return e.filter(in_range(e.timestamp, start, end)).select(
        user_id=e.user_id, day=day_of(e.timestamp)).distinct()


def first_events(events: Table) -> ibis.Table:
    """Each user's first event (``user_id``, ``first``), over the whole history."""
    e = table(events, "events")
    return e.group_by("user_id").agg(first=e.timestamp.min())


def first_seen(events: Table) -> pd.Series:
    """Each user's first event: a Series of UTC timestamps indexed by ``user_id``."""
    out = run(first_events(events))
    return pd.Series(pd.to_datetime(out["first"], utc=True).to_numpy(),
                     index=pd.Index(out["user_id"], dtype="str", name="user_id"), name="first_event").sort_index()


def active_query(events: Table, *, periods: Sequence[Period | str]) -> ibis.Table:
    """The expression of :func:`active_history`: one row per period, every period in one query.

    The windows each period asks for (the period itself, its months, its ISO weeks) form
    a small table. Distinct (user, day) pairs are counted per day, and the period's sum
    of those counts is its DAU numerator. Each day is matched to the month and week
    windows that hold it (a join of two small tables), the pairs are joined to that on
    the day, and the distinct (window, user) rows are counted per window: a plain
    group-by that the engine spills to disk when it must, where a distinct count per
    group (or a range join of the pairs themselves) held every window's users at once.
    Windows nobody was active in count 0.
    """
    periods = parse_periods(periods)
    wanted = []
    for p in periods:
        wanted.append((str(p), "period", p.start, p.end))
        wanted += [(str(p), "month", m.start, m.end) for m in _months(p)]
        wanted += [(str(p), "week", w.start, w.end) for w in iso_weeks(p)]
    spans = windows(wanted)
    pairs = active_pairs(events, min(w[2] for w in wanted), max(w[3] for w in wanted))
    daily = pairs.group_by("day").agg(pairs=_.count())
    full = spans.filter(spans.window == "period")
    parts = spans.filter(spans.window != "period")
    units = parts.select("start", "end").distinct()
    day_units = within(daily.select("day"), "day", units).select("day", "start", "end")
    users = (pairs.join(day_units, "day").select("start", "end", "user_id").distinct()
             .group_by(["start", "end"]).agg(users=_.count()))
    counted = parts.left_join(users, ["start", "end"]).select("period", "window", users=_.users.fill_null(0))
    averaged = counted.group_by("period").agg(
        wau_avg=(counted.window == "week").ifelse(counted.users, ibis.null()).mean(),
        mau=(counted.window == "month").ifelse(counted.users, ibis.null()).mean())
    summed = within(daily, "day", full).group_by("period").agg(pairs=_.pairs.sum())
    per_period = (full.left_join(summed, "period").left_join(averaged, "period")
                  .select("period", "wau_avg", "mau", dau_avg=_.pairs.fill_null(0) / _.days))
    new = within(first_events(events), "first", period_windows(periods)).group_by("period").agg(new_users=_.count())
    out = per_period.left_join(new, "period").select(
        "period", "dau_avg", "wau_avg", "mau", new_users=_.new_users.fill_null(0))
    return out.mutate(stickiness=out.dau_avg / out.mau.nullif(0),
                      product_adoption_rate=out.new_users / out.mau.nullif(0))


def active_history(events: Table, *, periods: Sequence[Period | str]) -> pd.DataFrame:
    """The active-user keys of each period.

    Returns
    -------
    DataFrame
        One row per period, in the order given: ``period``;
        ``dau_avg`` = (distinct (user, day) pairs in the period) / its days, the mean
        over its days of distinct users active that day;
        ``wau_avg`` = mean over the ISO weeks whose Thursday falls in the period of
        distinct users active in that week (NaN when no week's Thursday does);
        ``mau`` = distinct users active in the period (a quarter: the mean of its
        three months); ``stickiness`` = dau_avg / mau; ``new_users`` = users whose
        first event ever falls in the period; ``product_adoption_rate`` = new_users / mau.
    """
    periods = parse_periods(periods)
    out = in_order(run(active_query(events, periods=periods)), periods)
    out["new_users"] = out["new_users"].astype(int)
    return out[["period", *ENGAGEMENT_KEYS]]


def active_users(events: Table, *, period: Period | str) -> dict[str, float]:
    """The period's active-user keys: one row of :func:`active_history`."""
    row = active_history(events, periods=[period]).iloc[0].to_dict()
    row.pop("period")
    return row


def active_series(events: Table, *, start: pd.Timestamp | str, end: pd.Timestamp | str,
                  windows: tuple[int, ...] = (1, 7, 30)) -> pd.DataFrame:
    """Distinct active users over trailing windows, for every day from ``start`` to ``end``
    (exclusive).

    Each active (user, day) pair covers the days from that day to the end of its window
    or to the user's next active day, whichever comes first; so no user is counted twice
    on a day, and the count on day ``d`` is the number of covers begun on or before
    ``d`` less those ended by then. The engine returns the covers begun and ended per
    day; their running sum is taken over the (few) days in pandas.

    Returns
    -------
    DataFrame
        ``day`` (UTC midnight) and one column per window: ``dau`` (1 day), ``wau``
        (the day and the 6 before it), ``mau`` (the day and the 29 before it);
        other windows as ``active_<n>d``. DAU <= WAU <= MAU on every day.
    """
    first, last = utc_stamp(start).normalize(), utc_stamp(end)
    days = pd.date_range(first, last - pd.Timedelta(1), freq="D").as_unit("us")
    moves = run(active_series_query(events, start=first, end=last, windows=windows))
    moves["day"] = pd.to_datetime(moves["day"], utc=True)
    out = {"day": days}
    begun = _running(moves[moves["what"] == "begin"], days)
    for w in windows:
        name = {1: "dau", 7: "wau", 30: "mau"}.get(w, f"active_{w}d")
        out[name] = begun - _running(moves[moves["what"] == f"end {w}"], days)
    return pd.DataFrame(out)


def active_series_query(events: Table, *, start: pd.Timestamp, end: pd.Timestamp,
                        windows: tuple[int, ...] = (1, 7, 30)) -> ibis.Table:
    """The expression of :func:`active_series`: ``day``, ``what`` (``begin`` or ``end <n>``
    for an n-day window) and ``n``, the covers begun or ended that day."""
    pairs = active_pairs(events, utc_stamp(start).normalize() - max(windows) * _DAY, utc_stamp(end))
    following = pairs.day.lead().over(ibis.window(group_by=pairs.user_id, order_by=pairs.day))
    covers = pairs.mutate(following=following)
    parts = [covers.group_by(day=covers.day).agg(n=_.count()).mutate(what=ibis.literal("begin"))]
    for w in windows:
        reach = covers.day + ibis.interval(days=w)
        stop = (covers.following < reach).ifelse(covers.following, reach)
        parts.append(covers.group_by(day=stop).agg(n=_.count()).mutate(what=ibis.literal(f"end {w}")))
    return ibis.union(*parts)


def _running(moves: pd.DataFrame, days: pd.DatetimeIndex) -> np.ndarray:
    """How many of ``moves`` (``day``, ``n``) happened on or before each of ``days``."""
    by_day = moves.groupby("day")["n"].sum().sort_index()
    total = by_day.cumsum()
    position = np.searchsorted(total.index.as_unit("us").asi8, days.asi8, side="right")
    values = np.r_[0, total.to_numpy(dtype=np.int64)]
    return values[position]


def feature_adoption_query(events: Table, *, periods: Sequence[Period | str]) -> ibis.Table:
    """The expression of :func:`feature_adoption`."""
    periods = parse_periods(periods)
    e = table(events, "events")
    spans = period_windows(periods)
    recent = e.filter(in_range(e.timestamp, min(p.start for p in periods), max(p.end for p in periods)))
    uses = recent.filter(recent.event == "feature_used", recent.feature.notnull())
    used = within(uses, "timestamp", spans).group_by(["period", "feature"]).agg(users=_.user_id.nunique())
    active = within(recent, "timestamp", spans).group_by("period").agg(mau=_.user_id.nunique())
    joined = used.join(active, "period")
    return joined.mutate(adoption=joined.users / joined.mau.nullif(0))


def feature_adoption(events: Table, *, periods: Sequence[Period | str]) -> pd.DataFrame:
    """Per feature and period: users with a ``feature_used`` event of it / the period's
    distinct active users.

    Returns ``period``, ``feature``, ``users``, ``mau``, ``adoption`` (tidy, one row per
    feature used and period; periods in the order given, features alphabetical).
    """
    periods = parse_periods(periods)
    out = in_order(run(feature_adoption_query(events, periods=periods)).sort_values("feature"), periods)
    out = out.astype({"users": int, "mau": int, "adoption": float})
    return out[["period", "feature", "users", "mau", "adoption"]]


def lifecycle_query(events: Table, *, periods: Sequence[Period | str]) -> ibis.Table:
    """The expression of :func:`lifecycle`: users active per period (each with its previous
    period's name), those also active in the previous one, and the new ones."""
    periods = parse_periods(periods)
    every = [periods[0].previous(), *periods]
    spans = windows((str(p), str(p.previous()), p.start, p.end) for p in every)
    e = table(events, "events")
    recent = e.filter(in_range(e.timestamp, every[0].start, max(p.end for p in periods)))
    active = within(recent, "timestamp", spans).select("user_id", "period", previous="window").distinct()
    before = active.select(user_id="user_id", seen_in="period")
    counts = active.group_by("period").agg(n_active=_.count())
    kept = active.join(before, ["user_id", active.previous == before.seen_in]).group_by("period").agg(
        n_returning=_.count())
    new = within(first_events(events), "first", period_windows(periods)).group_by("period").agg(n_new=_.count())
    earlier = counts.select(previous="period", n_before="n_active")
    rows = (windows((str(p), str(p.previous()), p.start, p.end) for p in periods)
            .select("period", previous="window")
            .left_join(counts, "period").select("period", "previous", "n_active")
            .left_join(kept, "period").select("period", "previous", "n_active", "n_returning")
            .left_join(new, "period").select("period", "previous", "n_active", "n_returning", "n_new")
            .left_join(earlier, "previous").select("period", "n_active", "n_returning", "n_new", "n_before"))
    now, back = rows.n_active.fill_null(0), rows.n_returning.fill_null(0)
    fresh, was = rows.n_new.fill_null(0), rows.n_before.fill_null(0)
    return rows.select("period", new=fresh, returning=back, resurrecting=now - back - fresh,
                       dormant=back - was, active=now)


def lifecycle(events: Table, *, periods: Sequence[Period | str]) -> pd.DataFrame:
    """Users per period by lifecycle state, as product analytics tools show it.

    Returns
    -------
    DataFrame
        One row per period: ``new`` (first event ever in it), ``returning`` (active in
        it and the previous period), ``resurrecting`` (active in it, not in the
        previous, not new), ``dormant`` (active in the previous period, not in it;
        negative), and ``active`` = new + returning + resurrecting.
    """
    periods = parse_periods(periods)
    out = in_order(run(lifecycle_query(events, periods=periods)), periods)
    columns = ["new", "returning", "resurrecting", "dormant", "active"]
    return out.astype({c: int for c in columns})[["period", *columns]]
