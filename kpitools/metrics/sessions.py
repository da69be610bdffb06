"""Sessions cut from each user's events at a gap of inactivity (30 minutes by default),
and the session metrics of periods.

In the data's engine: each event's previous event of the same user (``LAG`` over the
user's events in time order) says whether it starts a session (none, or a gap longer
than the cut-off); a running count of starts (a ``RANGE`` frame over time, so events at
the same instant share it) numbers the user's sessions; a group-by per session gives
its start, end and counts. A session belongs to the period in which it starts; its
events are cut from the user's history from ``margin`` before the period (so a session
that started just before it is left to the previous one) to ``follow`` after it.
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import numpy as np
import pandas as pd
from ibis import _

from ..engine import Table, every_period, in_order, in_range, period_windows, run, table, within
from ..periods import Period, parse_periods
from .visitors import unique_visitors_query

__all__ = ["sessionize", "sessions_query", "session_history", "session_metrics", "session_kinds", "SESSION_KEYS",
           "SESSION_SPLIT"]

SESSION_KEYS = ("sessions", "pages_per_session", "clicks_per_session", "actions_per_session",
                "avg_session_duration_s", "bounce_rate", "unique_visitors", "time_on_site_s")
# the sessions split into website and in-product ones, beside the keys (not KPIs of their own)
SESSION_SPLIT = ("website_sessions", "product_sessions", "actions_per_product_session",
                 "product_session_duration_s")
_SESSION_COLUMNS = ["user_id", "start", "end", "duration_s", "events", "pages", "clicks", "bounce", "channel"]


def _microseconds(gap: str | pd.Timedelta) -> int:
    return int(pd.Timedelta(gap) / pd.Timedelta(microseconds=1))


def sessions_query(events: Table, *, gap: str | pd.Timedelta = "30min",
                   start: pd.Timestamp | None = None, end: pd.Timestamp | None = None) -> ibis.Table:
    """One row per session of the events from ``start`` to ``end`` (either may be None):
    ``user_id``, ``start``, ``end``, ``duration_s`` = end - start, ``events``, ``pages``
    (``page_view`` events), ``clicks`` (``click`` events), ``bounce`` (exactly one event,
    a page view) and ``channel`` (of the session's first event)."""
    e = table(events, "events")
    e = e.filter(in_range(e.timestamp, start, end))
    ts = e.timestamp
    previous = ts.lag().over(ibis.window(group_by=e.user_id, order_by=ts))
    marked = e.mutate(first=previous.isnull() | (ts.delta(previous, unit="microsecond") > _microseconds(gap)))
    numbered = marked.mutate(session=marked.first.cast("int32").sum().over(
        ibis.range_window(preceding=None, following=0, group_by=marked.user_id, order_by=marked.timestamp)))
    per = numbered.group_by(["user_id", "session"]).agg(
        start=_.timestamp.min(), end=_.timestamp.max(), events=_.count(),
        pages=(_.event == "page_view").cast("int32").sum(), clicks=(_.event == "click").cast("int32").sum(),
        channel=_.first.ifelse(_.channel, ibis.null("string")).max())
    return per.select(
        "user_id", "start", "end", duration_s=per.end.delta(per.start, unit="microsecond") / 1e6,
        events="events", pages="pages", clicks="clicks", bounce=(per.events == 1) & (per.pages == 1),
        channel="channel")


def sessionize(events: Table, *, gap: str | pd.Timedelta = "30min") -> pd.DataFrame:
    """Every session of the log (:func:`sessions_query`) as a DataFrame, one row per session."""
    out = run(sessions_query(events, gap=gap))
    out["start"] = pd.to_datetime(out["start"], utc=True)
    out["end"] = pd.to_datetime(out["end"], utc=True)
    return out[_SESSION_COLUMNS].sort_values(["user_id", "start"], ignore_index=True)


def session_query(events: Table, *, periods: Sequence[Period | str], gap: str | pd.Timedelta = "30min",
                  margin: str | pd.Timedelta = "2D", follow: str | pd.Timedelta = "1D",
                  by: str | None = None) -> ibis.Table:
    """The expression of :func:`session_history`: one row per period (and group)."""
    periods = parse_periods(periods)
    lo = min(p.start for p in periods) - pd.Timedelta(margin)
    hi = max(p.end for p in periods) + pd.Timedelta(follow)
    sessions = within(sessions_query(events, gap=gap, start=lo, end=hi), "start", period_windows(periods))
    keys = ["period"] if by is None else ["period", by]
    if by is not None:
        sessions = sessions.mutate(**{by: sessions.channel.fill_null("(none)")})
    web = sessions.pages > 0  # website sessions: a session of product events alone cannot bounce
    stats = sessions.group_by(keys).agg(
        sessions=_.count(),
        web=web.cast("int32").sum(),
        pages=_.pages.sum(),
        clicks=_.clicks.sum(),
        actions=_.events.sum(),
        avg_session_duration_s=_.duration_s.mean(),
        bounces=(web & sessions.bounce).cast("int32").sum(),
        time_on_site_s=web.ifelse(sessions.duration_s, ibis.null("float64")).mean(),
        product_actions=(~web).ifelse(sessions.events, 0).sum(),
        product_duration_s=(~web).ifelse(sessions.duration_s, ibis.null("float64")).mean())
    visitors = unique_visitors_query(events, periods=periods, by=by)
    joined = stats.outer_join(visitors, keys) if by is not None else stats.left_join(visitors, keys)
    if by is not None:  # a group may have visitors without sessions, or sessions without visitors
        joined = joined.mutate(**{k: ibis.coalesce(joined[k], joined[f"{k}_right"]) for k in keys})
    sessions_n = joined.sessions.fill_null(0)
    web_n = joined.web.fill_null(0)
    return joined.select(
        *keys,
        sessions=sessions_n,
        pages_per_session=joined.pages / joined.web.nullif(0),
        clicks_per_session=joined.clicks / sessions_n.nullif(0),
        actions_per_session=joined.actions / sessions_n.nullif(0),
        avg_session_duration_s=joined.avg_session_duration_s,
        bounce_rate=joined.bounces / joined.web.nullif(0),
        unique_visitors=joined.visitors.fill_null(0),
        time_on_site_s=joined.time_on_site_s,
        website_sessions=web_n,
        product_sessions=sessions_n - web_n,
        actions_per_product_session=joined.product_actions / (sessions_n - web_n).nullif(0),
        product_session_duration_s=joined.product_duration_s)


def session_history(events: Table, *, periods: Sequence[Period | str], gap: str | pd.Timedelta = "30min",
                    margin: str | pd.Timedelta = "2D", follow: str | pd.Timedelta = "1D",
                    by: str | None = None) -> pd.DataFrame:
    """Session metrics of the sessions that start in each period.

    Parameters
    ----------
    gap : str or Timedelta
        Inactivity that ends a session.
    margin, follow : str or Timedelta
        How far before and after the periods the events are read: a session that
        starts before ``margin`` is not seen at all (it belongs to an earlier period
        anyway), one that goes on longer than ``follow`` after the period's end is
        cut there.
    by : str, optional
        ``"channel"``: one row per period and channel of the session's first event
        (unique visitors by the channel of their first page view in the period).

    Returns
    -------
    DataFrame
        One row per period (and group): ``period``, ``sessions``,
        ``pages_per_session`` (page views / website sessions, those with at least one
        page view), ``clicks_per_session``, ``actions_per_session`` (all events; both
        over all sessions), ``avg_session_duration_s`` (last event - first event),
        ``bounce_rate`` (website sessions of a single page view and nothing else /
        website sessions), ``unique_visitors`` (distinct users with a page view in the
        period) and ``time_on_site_s`` (mean duration of the website sessions); beside
        them the sessions split in two, ``website_sessions`` and ``product_sessions``
        (in-product events only, which cannot bounce), with the product sessions' own
        ``actions_per_product_session`` and ``product_session_duration_s``. A ratio
        over zero sessions is NaN.
    """
    periods = parse_periods(periods)
    out = run(session_query(events, periods=periods, gap=gap, margin=margin, follow=follow, by=by))
    keys = ["period"] if by is None else ["period", by]
    if by is None:  # a period without a session still has its row
        out = every_period(out, periods)
    out = in_order(out.sort_values(keys[1:]) if by else out, periods)
    counts = ("sessions", "unique_visitors", "website_sessions", "product_sessions")
    for column in counts:
        out[column] = out[column].fillna(0).astype(int)
    columns = [*SESSION_KEYS, *SESSION_SPLIT]
    return out[[*keys, *columns]].astype({k: float for k in columns if k not in counts})


def session_metrics(events: Table, *, period: Period | str, gap: str | pd.Timedelta = "30min",
                    margin: str | pd.Timedelta = "2D", by: str | None = None) -> pd.DataFrame:
    """:func:`session_history` of one period, without the ``period`` column: one row (or
    one per value of ``by``)."""
    out = session_history(events, periods=[period], gap=gap, margin=margin, by=by)
    return out.drop(columns="period").reset_index(drop=True)


def session_kinds(events: Table, *, period: Period | str, gap: str | pd.Timedelta = "30min") -> pd.DataFrame:
    """Website sessions (with a page view) beside sessions inside the product (no page view,
    which cannot bounce), each with its own measures.

    Returns
    -------
    DataFrame
        Two rows, ``kind`` ``"website"`` and ``"product"``: ``sessions``, ``share`` of all
        sessions, ``bounce_rate`` and ``pages_per_session`` (website only), ``actions_per_session``
        (product only) and ``duration_s`` (mean, last event - first event).
    """
    m = session_metrics(events, period=period, gap=gap).iloc[0]
    total = m["sessions"]
    rows = [
        {"kind": "website", "sessions": int(m["website_sessions"]), "bounce_rate": m["bounce_rate"],
         "pages_per_session": m["pages_per_session"], "actions_per_session": np.nan,
         "duration_s": m["time_on_site_s"]},
        {"kind": "product", "sessions": int(m["product_sessions"]), "bounce_rate": np.nan,
         "pages_per_session": np.nan, "actions_per_session": m["actions_per_product_session"],
         "duration_s": m["product_session_duration_s"]},
    ]
    out = pd.DataFrame(rows)
    out.insert(2, "share", out["sessions"] / total if total else np.nan)
    return out
