"""Sessions cut from each user's events at a gap of inactivity (30 minutes by default),
and the session metrics of a period.

Events are ordered by user and time with one ``lexsort`` over integer codes; a new
session starts at a user's first event or after a gap longer than the cut-off, so
session ids are a cumulative sum and every aggregate is a ``bincount`` or a
``reduceat``: no loop over users. A session belongs to the period in which it
starts; it is cut from the user's history around the period (a margin of
``margin`` before it), so a session that started just before the period is left
to the previous one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..periods import Period
from .funnel import unique_visitors
from .mrr import epoch_ns
from .revenue import ratio

__all__ = ["sessionize", "session_metrics", "SESSION_KEYS"]

SESSION_KEYS = ("sessions", "pages_per_session", "clicks_per_session", "actions_per_session",
                "avg_session_duration_s", "bounce_rate", "unique_visitors", "time_on_site_s")


def sessionize(events: pd.DataFrame, *, gap: str | pd.Timedelta = "30min") -> pd.DataFrame:
    """One row per session.

    Parameters
    ----------
    events : DataFrame
        ``user_id``, ``timestamp``, ``event`` (and optionally ``channel``).
    gap : str or Timedelta
        Inactivity that ends a session.

    Returns
    -------
    DataFrame
        ``user_id``, ``start``, ``end`` (first and last event), ``duration_s`` =
        end - start, ``events``, ``pages`` (``page_view`` events), ``clicks``
        (``click`` events), ``bounce`` (exactly one event, a page view) and
        ``channel`` (of the session's first event, when the column exists).
    """
    if events.empty:
        return pd.DataFrame(columns=["user_id", "start", "end", "duration_s", "events", "pages", "clicks",
                                     "bounce", "channel"])
    codes, users = pd.factorize(events["user_id"])
    ts = epoch_ns(events["timestamp"])
    # order by user, then time: a stable sort on time (skipped when the log is already in time
    # order, as most exports are), then a stable radix sort on the integer user codes
    by_time = np.arange(len(ts)) if (np.diff(ts) >= 0).all() else np.argsort(ts, kind="stable")
    order = by_time[np.argsort(codes[by_time], kind="stable")]
    codes, ts = codes[order], ts[order]
    is_page = (events["event"] == "page_view").to_numpy(dtype=bool)[order]
    is_click = (events["event"] == "click").to_numpy(dtype=bool)[order]
    new = np.ones(len(ts), dtype=bool)
    new[1:] = (codes[1:] != codes[:-1]) | (ts[1:] - ts[:-1] > pd.Timedelta(gap).value)
    starts = np.flatnonzero(new)
    session = np.cumsum(new) - 1
    n_events = np.diff(np.r_[starts, len(ts)])
    pages = np.bincount(session, weights=is_page, minlength=len(starts)).astype(int)
    clicks = np.bincount(session, weights=is_click, minlength=len(starts)).astype(int)
    first_ts, last_ts = ts[starts], np.maximum.reduceat(ts, starts)
    out = pd.DataFrame({
        "user_id": users[codes[starts]],
        "start": pd.to_datetime(first_ts, unit="ns", utc=True),
        "end": pd.to_datetime(last_ts, unit="ns", utc=True),
        "duration_s": (last_ts - first_ts) / 1e9,
        "events": n_events, "pages": pages, "clicks": clicks,
        "bounce": (n_events == 1) & (pages == 1),
    })
    if "channel" in events:
        out["channel"] = events["channel"].to_numpy()[order[starts]]
    return out


def session_metrics(events: pd.DataFrame, *, period: Period | str, gap: str | pd.Timedelta = "30min",
                    margin: str | pd.Timedelta = "2D", by: str | None = None) -> pd.DataFrame:
    """Session metrics of the sessions that start in the period.

    Returns
    -------
    DataFrame
        One row (or one per value of ``by``, e.g. ``channel``): ``sessions``,
        ``pages_per_session`` (page views / website sessions, those with at least
        one page view), ``clicks_per_session``, ``actions_per_session`` (all
        events; both over all sessions), ``avg_session_duration_s`` (last event -
        first event), ``bounce_rate`` (website sessions of a single page view and
        nothing else / website sessions),
        ``unique_visitors`` (distinct users with a page view in the period; by
        channel, the channel of their first page view) and
        ``time_on_site_s`` (mean duration of the sessions with a page view).
    """
    period = Period.parse(period)
    lo = period.start - pd.Timedelta(margin)
    columns = ["user_id", "timestamp", "event", *([by] if by and by in events else [])]
    window = events.loc[(events["timestamp"] >= lo) & (events["timestamp"] < period.end + pd.Timedelta(gap)), columns]
    s = sessionize(window, gap=gap)
    s = s[(s["start"] >= period.start) & (s["start"] < period.end)]
    visitors = unique_visitors(events, period=period, by=by)
    groups = [("all", s)] if by is None else list(s.groupby(s[by].fillna("(none)").astype(str)))
    rows = []
    for group, part in groups:
        n = len(part)
        with_pages = part[part["pages"] > 0]  # website sessions: a session of product events cannot bounce
        row = {"sessions": n,
               "pages_per_session": ratio(with_pages["pages"].sum(), len(with_pages)),
               "clicks_per_session": ratio(part["clicks"].sum(), n),
               "actions_per_session": ratio(part["events"].sum(), n),
               "avg_session_duration_s": float(part["duration_s"].mean()) if n else float("nan"),
               "bounce_rate": ratio(with_pages["bounce"].sum(), len(with_pages)),
               "unique_visitors": int(visitors.get(group, 0)),
               "time_on_site_s": float(with_pages["duration_s"].mean()) if len(with_pages) else float("nan")}
        rows.append(row if by is None else {by: group, **row})
    return pd.DataFrame(rows)
