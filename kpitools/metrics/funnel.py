"""The marketing funnel: period flow and cohort conversion from visitors to won customers,
the trial funnel, and the sales pipeline.

Two views, never mixed:

- **period flow** counts stage entries during the period (visitors with a page
  view, contacts created, leads, MQLs, SALs, SQLs and customers won in it) and
  divides each stage by the one before: quick, but a ratio of different people;
- **cohort conversion** follows the contacts created in the period and counts
  those that reached each later stage within a window (default 90 days) of
  becoming a contact: the same people throughout. A cohort whose window has not
  ended by the data's end is marked ``window_complete = False``.
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import numpy as np
import pandas as pd
from ibis import _

from ..engine import Table, in_range, period_windows, run, table, within
from ..periods import Period
from ..sources.membership import isin
from .mrr import epoch_ns, first_paid_day
from .revenue import ratio

__all__ = ["STAGES", "period_flow", "cohort_conversion", "trial_funnel", "pipeline",
           "unique_visitors", "unique_visitors_query", "FUNNEL_KEYS", "funnel_kpis", "funnel_history",
           "channel_conversion"]

# (stage key, lead column) in funnel order; visitors come from events
STAGES = (("contacts", "created_at"), ("leads", "lead_at"), ("mqls", "mql_at"), ("sals", "sal_at"),
          ("sqls", "sql_at"), ("customers_won", "won_at"))
FUNNEL_KEYS = ("visitors", "contacts", "leads", "mqls", "sals", "sqls", "customers_won",
               "visitor_to_lead_rate", "lead_to_sql_rate", "lead_to_customer_rate", "mql_to_sql_rate",
               "visitor_to_trial_rate", "trial_to_pql_rate", "trial_to_paid_rate",
               "pipeline_volume", "weighted_pipeline")
_DAY = pd.Timedelta(days=1)
_FUNNEL_EVENTS = ("page_view", "trial_started", "activated", "purchase")


def _in(series: pd.Series, period: Period) -> pd.Series:
    return (series >= period.start) & (series < period.end)


def unique_visitors_query(events: Table, *, periods: Sequence[Period | str], by: str | None = None) -> ibis.Table:
    """Distinct users with a ``page_view`` in each period (``period``, ``visitors``); with
    ``by`` (a column of events, such as ``channel``), per value of that column on the
    user's first page view of the period (empty as ``"(none)"``)."""
    periods = [Period.parse(p) for p in periods]
    e = table(events)
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


def period_flow(leads: pd.DataFrame, *, period: Period | str, events: pd.DataFrame | None = None,
                by: str | None = None, visitors: pd.Series | None = None) -> pd.DataFrame:
    """Stage entries during the period.

    ``visitors`` takes :func:`unique_visitors` of the same period and ``by`` when it
    is already computed (the events are then not read again).

    Returns
    -------
    DataFrame
        One row per (group and) stage in funnel order: ``stage``, ``count`` (for
        ``visitors``: distinct users with a page view; otherwise leads whose stage
        timestamp falls in the period), ``rate_from_previous`` (count / the
        previous stage's count) and ``rate_from_start``. With ``by="channel"`` a
        leading ``channel`` column (leads by their channel, visitors by the
        channel of their first page view).
    """
    period = Period.parse(period)
    rows = []
    groups = [None] if by is None else sorted(set(leads[by].dropna().astype(str)))
    if visitors is None and events is not None:
        visitors = unique_visitors(events, period=period, by=by)
    for group in groups:
        part = leads if group is None else leads[leads[by].astype(str) == group]
        counts = []
        if visitors is not None:
            counts.append(("visitors", int(visitors.get("all" if group is None else group, 0))))
        counts += [(stage, int(_in(part[col], period).sum())) for stage, col in STAGES]
        start = counts[0][1]
        for i, (stage, count) in enumerate(counts):
            row = {"stage": stage, "count": count,
                   "rate_from_previous": ratio(count, counts[i - 1][1]) if i else np.nan,
                   "rate_from_start": ratio(count, start) if i else np.nan}
            rows.append(row if group is None else {by: group, **row})
    columns = ([by] if by else []) + ["stage", "count", "rate_from_previous", "rate_from_start"]
    return pd.DataFrame(rows, columns=columns)


def cohort_conversion(leads: pd.DataFrame, *, period: Period | str, window_days: int = 90,
                      by: str | None = None, data_end: pd.Timestamp | None = None) -> pd.DataFrame:
    """Of the contacts created in the period, how many reached each later stage within
    ``window_days`` of becoming a contact, and how long each step took.

    A stage counts as reached when it, or any later stage, was reached within the
    window (stages may be skipped), so counts never grow along the funnel.

    Returns
    -------
    DataFrame
        One row per (group and) stage: ``stage``, ``count``, ``rate_from_previous``,
        ``rate_from_start`` (of the contacts), ``median_days_from_previous``
        (median days between the previous stage and this one, over the contacts
        with both timestamps in the window) and ``window_complete`` (the window of every contact has
        ended by ``data_end``).
    """
    period = Period.parse(period)
    cohort = leads[_in(leads["created_at"], period)]
    limit = cohort["created_at"] + pd.Timedelta(days=window_days)
    complete = data_end is None or bool(period.end + pd.Timedelta(days=window_days) <= data_end)
    # a stage counts as reached when it or any later stage was reached within the window:
    # CRMs skip stages (a contact can be won without ever being marked an MQL)
    hit = np.column_stack([(cohort[col].notna() & (cohort[col] <= limit)).to_numpy()
                           for _, col in STAGES]) if len(cohort) else np.zeros((0, len(STAGES)), bool)
    reached_all = np.flip(np.logical_or.accumulate(np.flip(hit, axis=1), axis=1), axis=1)
    groups = [None] if by is None else sorted(set(cohort[by].dropna().astype(str)))
    rows = []
    for group in groups:
        mask = np.ones(len(cohort), bool) if group is None else (cohort[by].astype(str) == group).to_numpy()
        start = int(mask.sum())
        for i, (stage, col) in enumerate(STAGES):
            reached = mask & reached_all[:, i]
            count = int(reached.sum())
            days = np.nan
            if i:
                prev_col = STAGES[i - 1][1]
                both = mask & hit[:, i] & hit[:, i - 1]
                if both.any():
                    days = float(((cohort[col] - cohort[prev_col])[both] / _DAY).median())
            previous = int((mask & reached_all[:, i - 1]).sum()) if i else 0
            row = {"stage": stage, "count": count,
                   "rate_from_previous": ratio(count, previous) if i else np.nan,
                   "rate_from_start": ratio(count, start) if i else np.nan,
                   "median_days_from_previous": days, "window_complete": complete}
            rows.append(row if group is None else {by: group, **row})
    columns = ([by] if by else []) + ["stage", "count", "rate_from_previous", "rate_from_start",
                                       "median_days_from_previous", "window_complete"]
    return pd.DataFrame(rows, columns=columns)


def trial_funnel(events: pd.DataFrame, *, period: Period | str, window_days: int = 90,
                 subscriptions: pd.DataFrame | None = None, by: str | None = None,
                 visitors: pd.Series | None = None) -> pd.DataFrame:
    """Visitors to trials, trials to product-qualified (``activated``) and to paying.

    Trial users are the users with a ``trial_started`` event in the period; a trial
    user is a PQL when it has an ``activated`` event at or after its trial start and
    within ``window_days`` of it (an activation before the trial does not count), and
    paid when its account's first paid day (from
    ``subscriptions``; without them, a ``purchase`` event) falls within the window.

    Returns
    -------
    DataFrame
        One row per (group and) stage ``visitors``, ``trials``, ``pqls``, ``paid``:
        ``count``, ``rate_from_previous`` (PQL and paid both over trials) and
        ``median_days`` from the trial start. ``visitors``: as for :func:`period_flow`.
    """
    period = Period.parse(period)
    trials = events[(events["event"] == "trial_started") & _in(events["timestamp"], period)]
    trials = trials.sort_values("timestamp", kind="stable").drop_duplicates("user_id")
    trials = trials.reset_index(drop=True)
    start = trials["timestamp"].dt.as_unit("ns")
    end = start + pd.Timedelta(days=window_days)
    act = _first_at_or_after(events[events["event"] == "activated"], trials["user_id"], start)
    if subscriptions is not None:
        paid_at = first_paid_day(subscriptions).reindex(trials["account_id"])
    else:
        paid_at = events[events["event"] == "purchase"].groupby("user_id")["timestamp"].min()
        paid_at = paid_at.reindex(trials["user_id"])
    paid_at = pd.Series(paid_at.to_numpy(), dtype="datetime64[ns, UTC]")
    pql = (act.notna() & (act >= start) & (act <= end)).to_numpy()
    # a first paid day is a date: it may fall on the trial's own day, before its time of day
    paid = (paid_at.notna() & (paid_at >= start.dt.normalize()) & (paid_at <= end)).to_numpy()
    if visitors is None:
        visitors = unique_visitors(events, period=period, by=by)
    rows = []
    groups = [None] if by is None else sorted(visitors.index)
    for group in groups:
        mask = np.ones(len(trials), bool) if group is None else (
            trials[by].fillna("(none)").astype(str) == group).to_numpy()
        n_vis = int(visitors.get("all" if group is None else group, 0))
        n_trial, n_pql, n_paid = int(mask.sum()), int((mask & pql).sum()), int((mask & paid).sum())
        days_pql = (act[mask & pql] - start[mask & pql]) / _DAY
        days_paid = (paid_at[mask & paid] - start[mask & paid]) / _DAY
        for stage, count, rate, days in (
                ("visitors", n_vis, np.nan, np.nan),
                ("trials", n_trial, ratio(n_trial, n_vis), np.nan),
                ("pqls", n_pql, ratio(n_pql, n_trial), days_pql.median() if len(days_pql) else np.nan),
                ("paid", n_paid, ratio(n_paid, n_trial), days_paid.median() if len(days_paid) else np.nan)):
            row = {"stage": stage, "count": count, "rate_from_previous": rate, "median_days": days}
            rows.append(row if group is None else {by: group, **row})
    return pd.DataFrame(rows)


def _first_at_or_after(hits: pd.DataFrame, users: pd.Series, start: pd.Series) -> pd.Series:
    """Per user in ``users`` (aligned with ``start``), the first time in ``hits`` at or after
    its start, NaT when none: one ``merge_asof`` looking forward, on integer nanoseconds."""
    left = pd.DataFrame({"user_id": pd.array(users, dtype="str"), "t": epoch_ns(start),
                         "row": np.arange(len(users))})
    right = pd.DataFrame({"user_id": pd.array(hits["user_id"], dtype="str"), "t": epoch_ns(hits["timestamp"])})
    right = right.sort_values("t", kind="stable").reset_index(drop=True)
    right["hit"] = np.arange(len(right))  # a row number survives the float NaN of a miss exactly
    merged = pd.merge_asof(left.sort_values("t", kind="stable"), right, on="t", by="user_id",
                           direction="forward").sort_values("row")
    hit = merged["hit"].to_numpy()
    found = ~np.isnan(hit)
    at = np.full(len(hit), np.datetime64("NaT"), dtype="datetime64[ns]")
    at[found] = right["t"].to_numpy()[hit[found].astype(np.int64)].astype("datetime64[ns]")
    return pd.Series(pd.DatetimeIndex(at).tz_localize("UTC"))


def pipeline(opportunities: pd.DataFrame, *, periods: list[Period | str], by: str | None = None,
             ) -> pd.DataFrame:
    """Open opportunities at each period's end and their weighted value.

    An opportunity is open at the end of a period when it was created before the
    period ended and not closed by then (``closed_at`` empty or later).

    Returns
    -------
    DataFrame
        One row per period (and group): ``period``, ``pipeline_volume`` (open
        opportunities), ``pipeline_amount`` (their ``amount``), ``weighted_pipeline``
        (sum of amount x probability).
    """
    rows = []
    for p in (Period.parse(x) for x in periods):
        open_ = opportunities[(opportunities["created_at"] < p.end)
                              & (opportunities["closed_at"].isna() | (opportunities["closed_at"] >= p.end))]
        weighted = open_["amount"] * open_["probability"]
        if by is None:
            rows.append({"period": str(p), "pipeline_volume": len(open_),
                         "pipeline_amount": float(open_["amount"].sum()),
                         "weighted_pipeline": float(weighted.sum())})
            continue
        frame = pd.DataFrame({by: open_[by].fillna("(none)").astype(str), "amount": open_["amount"],
                              "weighted": weighted})
        for group, g in frame.groupby(by):
            rows.append({"period": str(p), by: group, "pipeline_volume": len(g),
                         "pipeline_amount": float(g["amount"].sum()),
                         "weighted_pipeline": float(g["weighted"].sum())})
    return pd.DataFrame(rows)


def funnel_kpis(*, period: Period | str, leads: pd.DataFrame | None = None,
                events: pd.DataFrame | None = None, opportunities: pd.DataFrame | None = None,
                subscriptions: pd.DataFrame | None = None, window_days: int = 90) -> dict[str, float]:
    """The Funnel keys of the spec for one period, from whichever tables are given.

    ``visitor_to_lead_rate`` = leads (``lead_at`` in the period) / unique visitors
    (both period flow: a cohort of visitors cannot be followed to leads without a
    shared id); ``lead_to_sql_rate``, ``lead_to_customer_rate`` and
    ``mql_to_sql_rate`` are cohort conversions of the period's contacts within the
    window; the trial rates follow the period's trial users.
    """
    period = Period.parse(period)
    out: dict[str, float] = {}
    visitors = unique_visitors(events, period=period) if events is not None else None
    if leads is not None:
        flow = period_flow(leads, period=period, events=events, visitors=visitors).set_index("stage")["count"]
        out.update({k: int(v) for k, v in flow.items()})
        conv = cohort_conversion(leads, period=period, window_days=window_days).set_index("stage")["count"]
        out["lead_to_sql_rate"] = ratio(conv["sqls"], conv["leads"])
        out["lead_to_customer_rate"] = ratio(conv["customers_won"], conv["leads"])
        out["mql_to_sql_rate"] = ratio(conv["sqls"], conv["mqls"])
        if events is not None:
            out["visitor_to_lead_rate"] = ratio(flow["leads"], flow["visitors"])
    if events is not None:
        trial = trial_funnel(events, period=period, window_days=window_days, subscriptions=subscriptions,
                             visitors=visitors).set_index("stage")
        out.setdefault("visitors", int(trial.loc["visitors", "count"]))
        out["visitor_to_trial_rate"] = trial.loc["trials", "rate_from_previous"]
        out["trial_to_pql_rate"] = trial.loc["pqls", "rate_from_previous"]
        out["trial_to_paid_rate"] = trial.loc["paid", "rate_from_previous"]
    if opportunities is not None:
        pipe = pipeline(opportunities, periods=[period]).iloc[0]
        out["pipeline_volume"] = int(pipe["pipeline_volume"])
        out["weighted_pipeline"] = float(pipe["weighted_pipeline"])
    return out


def funnel_history(*, periods: list[Period | str], leads: pd.DataFrame | None = None,
                   events: pd.DataFrame | None = None, opportunities: pd.DataFrame | None = None,
                   subscriptions: pd.DataFrame | None = None, window_days: int = 90) -> pd.DataFrame:
    """:func:`funnel_kpis` for each period: one row per period (column ``period``).

    The event log is cut once to the events the funnel reads (page views, trial
    starts, activations, purchases) in time order; each period then gets its own
    slice plus the activations and purchases of every date, not the whole log.
    """
    periods = [Period.parse(p) for p in periods]
    parts: list[pd.DataFrame | None] = [None] * len(periods)
    if events is not None:
        columns = [c for c in ("user_id", "timestamp", "event", "account_id", "channel") if c in events]
        used = events.loc[isin(events["event"], _FUNNEL_EVENTS), columns]
        used = used.sort_values("timestamp", kind="stable", ignore_index=True)
        later = used[isin(used["event"], ["activated", "purchase"])]
        for i, p in enumerate(periods):
            lo, hi = used["timestamp"].searchsorted([p.start, p.end])
            outside = ((later["timestamp"] < p.start) | (later["timestamp"] >= p.end)).to_numpy()
            parts[i] = pd.concat([used.iloc[lo:hi], later[outside]], ignore_index=True)
    rows = [{"period": str(p),
             **funnel_kpis(period=p, leads=leads, events=part, opportunities=opportunities,
                           subscriptions=subscriptions, window_days=window_days)}
            for p, part in zip(periods, parts, strict=True)]
    return pd.DataFrame(rows)


def channel_conversion(leads: pd.DataFrame, *, period: Period | str, events: pd.DataFrame | None = None,
                       window_days: int = 90) -> pd.DataFrame:
    """Conversion by channel in the period and the one before, with the change in points.

    Returns
    -------
    DataFrame
        One row per channel: ``channel``, ``visitors``, ``leads`` (period flow),
        ``visitor_to_lead_rate``, ``lead_to_sql_rate`` and ``lead_to_customer_rate``
        (cohort conversion of the period's contacts), each rate's value in the
        previous period (``..._prev``) and its change in percentage points
        (``..._change_pts``).
    """
    period = Period.parse(period)

    def one(p: Period) -> pd.DataFrame:
        flow = period_flow(leads, period=p, events=events, by="channel")
        stages = [stage for stage, _ in STAGES]
        flow = flow.pivot(index="channel", columns="stage", values="count").reindex(
            columns=["visitors", *stages])
        conv = cohort_conversion(leads, period=p, window_days=window_days, by="channel")
        conv = conv.pivot(index="channel", columns="stage", values="count").reindex(columns=stages)
        out = pd.DataFrame(index=flow.index.union(conv.index))
        out["visitors"] = flow["visitors"]
        out["leads"] = flow["leads"]
        out["visitor_to_lead_rate"] = out["leads"] / out["visitors"].where(out["visitors"] > 0)
        out["lead_to_sql_rate"] = conv["sqls"] / conv["leads"].where(conv["leads"] > 0)
        out["lead_to_customer_rate"] = conv["customers_won"] / conv["leads"].where(conv["leads"] > 0)
        return out

    now, prev = one(period), one(period.previous())
    rates = ["visitor_to_lead_rate", "lead_to_sql_rate", "lead_to_customer_rate"]
    for rate in rates:
        now[f"{rate}_prev"] = prev[rate].reindex(now.index)
        now[f"{rate}_change_pts"] = (now[rate] - now[f"{rate}_prev"]) * 100
    return now.rename_axis("channel").reset_index()
