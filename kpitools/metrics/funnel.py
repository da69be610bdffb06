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

from ..engine import (
    Table,
    every_period,
    in_order,
    in_periods,
    run,
    table,
    whole,
    windows,
    with_medians,
)
from ..periods import Period, parse_periods
from .revenue import ratio
from .trials import trial_funnel, trial_query
from .visitors import unique_visitors, unique_visitors_query

__all__ = ["STAGES", "period_flow", "cohort_conversion", "trial_funnel", "pipeline",
           "unique_visitors", "unique_visitors_query", "FUNNEL_KEYS", "funnel_kpis", "funnel_history",
           "channel_conversion", "flow_query", "conversion_query", "trial_query", "pipeline_query", "window_open"]

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


def _groups(rows: ibis.Table, by: str) -> list[str]:
    """The values of a column (empty ones left out), sorted."""
    found = run(rows.filter(rows[by].notnull()).select(group=rows[by].cast("string")).distinct())["group"]
    return sorted(found.astype(str))


def flow_query(leads: Table, *, periods: Sequence[Period | str], by: str | None = None) -> ibis.Table:
    """Stage entries per period: ``period``, (``by``,) ``stage``, ``count`` (leads whose
    stage timestamp falls in the period), one row per stage with entries."""
    periods = parse_periods(periods)
    keys = ["period"] + ([by] if by else [])
    parts = []
    for stage, column in STAGES:
        rows = in_periods(leads, column, periods)
        if by:
            rows = rows.mutate(**{by: rows[by].cast("string")})
        parts.append(rows.group_by(keys).agg(count=_.count()).mutate(stage=ibis.literal(stage)))
    return ibis.union(*parts)


def period_flow(leads: Table, *, period: Period | str, events: Table | None = None,
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
    if visitors is None and events is not None:
        visitors = unique_visitors(events, period=period, by=by)
    counted = run(flow_query(leads, periods=[period], by=by))
    groups = [None] if by is None else _groups(table(leads, "leads"), by)
    index = ["stage"] if by is None else [by, "stage"]
    counts_of = counted.set_index(index)["count"]
    rows = []
    for group in groups:
        counts = []
        if visitors is not None:
            counts.append(("visitors", int(visitors.get("all" if group is None else group, 0))))
        counts += [(stage, int(counts_of.get(stage if group is None else (group, stage), 0)))
                   for stage, _column in STAGES]
        start = counts[0][1]
        for i, (stage, count) in enumerate(counts):
            row = {"stage": stage, "count": count,
                   "rate_from_previous": ratio(count, counts[i - 1][1]) if i else np.nan,
                   "rate_from_start": ratio(count, start) if i else np.nan}
            rows.append(row if group is None else {by: group, **row})
    columns = ([by] if by else []) + ["stage", "count", "rate_from_previous", "rate_from_start"]
    return pd.DataFrame(rows, columns=columns)


def conversion_query(leads: Table, *, periods: Sequence[Period | str], window_days: int = 90,
                     by: str | None = None, medians: bool = True) -> ibis.Table:
    """The expression of :func:`cohort_conversion`, every period at once: per period (and
    group) ``reached_<stage>`` (contacts that reached the stage or a later one within the
    window) and, unless ``medians`` is False, ``days_<stage>`` (median days from the
    previous stage)."""
    periods = parse_periods(periods)
    cohort = in_periods(leads, "created_at", periods)
    keys = ["period"] + ([by] if by else [])
    if by:
        cohort = cohort.mutate(**{by: cohort[by].cast("string")})
    limit = cohort.created_at + ibis.interval(days=window_days)
    hit = [cohort[column].notnull() & (cohort[column] <= limit) for _stage, column in STAGES]
    measures, days = {}, {}
    for i, (stage, column) in enumerate(STAGES):
        reached = ibis.or_(*hit[i:])  # CRMs skip stages: a later stage reached counts this one
        measures[f"reached_{stage}"] = reached.cast("int32").sum()
        if i:
            previous = STAGES[i - 1][1]
            taken = cohort[column].delta(cohort[previous], unit="microsecond") / 86_400e6
            days[f"days_{stage}"] = (hit[i] & hit[i - 1]).ifelse(taken, ibis.null("float64"))
    totals = cohort.group_by(keys).agg(**measures)
    return with_medians(totals, cohort, keys, days) if medians else totals


def cohort_conversion(leads: Table, *, period: Period | str, window_days: int = 90,
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
    complete = data_end is None or bool(period.end + pd.Timedelta(days=window_days) <= data_end)
    found = run(conversion_query(leads, periods=[period], window_days=window_days, by=by))
    if by is None:
        found = found if len(found) else pd.DataFrame([{"period": str(period)}])
        groups = [(None, found.iloc[0])]
    else:
        found = found[found[by].notna()].sort_values(by)
        groups = [(row[by], row) for _, row in found.iterrows()]
    rows = []
    for group, values in groups:
        start = whole(values.get("reached_contacts"))
        for i, (stage, _column) in enumerate(STAGES):
            count = whole(values.get(f"reached_{stage}"))
            previous = whole(values.get(f"reached_{STAGES[i - 1][0]}")) if i else 0
            days = values.get(f"days_{stage}") if i else np.nan
            row = {"stage": stage, "count": count,
                   "rate_from_previous": ratio(count, previous) if i else np.nan,
                   "rate_from_start": ratio(count, start) if i else np.nan,
                   "median_days_from_previous": np.nan if days is None or pd.isna(days) else float(days),
                   "window_complete": complete}
            rows.append(row if group is None else {by: group, **row})
    columns = ([by] if by else []) + ["stage", "count", "rate_from_previous", "rate_from_start",
                                       "median_days_from_previous", "window_complete"]
    return pd.DataFrame(rows, columns=columns)



def pipeline_query(opportunities: Table, *, periods: Sequence[Period | str], by: str | None = None) -> ibis.Table:
    """The expression of :func:`pipeline`."""
    periods = parse_periods(periods)
    o = table(opportunities, "opportunities")
    ends = windows((str(p), "end", p.end, p.end + pd.Timedelta(days=1)) for p in periods)
    open_ = o.join(ends, [o.created_at < ends.start, o.closed_at.isnull() | (o.closed_at >= ends.start)])
    keys = ["period"] + ([by] if by else [])
    if by:
        open_ = open_.mutate(**{by: open_[by].cast("string").fill_null("(none)")})
    return open_.group_by(keys).agg(pipeline_volume=_.count(), pipeline_amount=_.amount.sum(),
                                    weighted_pipeline=(open_.amount * open_.probability).sum())


def pipeline(opportunities: Table, *, periods: Sequence[Period | str], by: str | None = None) -> pd.DataFrame:
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
    periods = parse_periods(periods)
    found = run(pipeline_query(opportunities, periods=periods, by=by))
    columns = ["period", *([by] if by else []), "pipeline_volume", "pipeline_amount", "weighted_pipeline"]
    # without groups every period has its row, open pipeline or not
    found = every_period(found, periods) if by is None else in_order(found.sort_values(by), periods)
    found["pipeline_volume"] = found["pipeline_volume"].fillna(0).astype(int)
    found[["pipeline_amount", "weighted_pipeline"]] = found[["pipeline_amount", "weighted_pipeline"]].fillna(
        0.0).astype(float)
    return found[columns]


def funnel_kpis(*, period: Period | str, leads: Table | None = None, events: Table | None = None,
                opportunities: Table | None = None, subscriptions: Table | None = None,
                window_days: int = 90) -> dict[str, float]:
    """The Funnel keys of the spec for one period: a row of :func:`funnel_history`."""
    row = funnel_history(periods=[period], leads=leads, events=events, opportunities=opportunities,
                         subscriptions=subscriptions, window_days=window_days).iloc[0].to_dict()
    row.pop("period")
    return row


def window_open(periods: Sequence[Period | str], *, data_end: pd.Timestamp, window_days: int = 90) -> list[str]:
    r"""The periods whose contacts' conversion window has not closed by the data's end
    (period end + ``window_days`` after ``data_end``): their cohort conversion rates are
    still rising, and read as a drop if shown as final.

    .. math:: open(p) \iff end(p) + window > data\_end
    """
    end = pd.Timestamp(data_end)
    end = end.tz_localize("UTC") if end.tzinfo is None else end
    return [str(p) for p in parse_periods(periods) if p.end + pd.Timedelta(days=window_days) > end]


def funnel_history(*, periods: Sequence[Period | str], leads: Table | None = None, events: Table | None = None,
                   opportunities: Table | None = None, subscriptions: Table | None = None,
                   window_days: int = 90) -> pd.DataFrame:
    """The Funnel keys of the spec for each period, from whichever tables are given, each
    part one query over all the periods.

    ``visitor_to_lead_rate`` = leads (``lead_at`` in the period) / unique visitors
    (both period flow: a cohort of visitors cannot be followed to leads without a
    shared id); ``lead_to_sql_rate``, ``lead_to_customer_rate`` and
    ``mql_to_sql_rate`` are cohort conversions of the period's contacts within the
    window; the trial rates follow the period's trial users.

    Returns
    -------
    DataFrame
        One row per period (column ``period``), one column per key computed.
    """
    periods = parse_periods(periods)
    out = {str(p): {} for p in periods}
    visitors = None
    if events is not None:
        visitors = run(unique_visitors_query(events, periods=periods)).set_index("period")["visitors"]
    if leads is not None:
        flow = run(flow_query(leads, periods=periods)).set_index(["period", "stage"])["count"]
        conv = run(conversion_query(leads, periods=periods, window_days=window_days, medians=False))
        conv = conv.set_index("period")
        for p in periods:
            row = out[str(p)]
            if visitors is not None:
                row["visitors"] = int(visitors.get(str(p), 0))
            row.update({stage: int(flow.get((str(p), stage), 0)) for stage, _column in STAGES})
            c = conv.loc[str(p)] if str(p) in conv.index else {}
            reached = {stage: whole(c.get(f"reached_{stage}")) for stage, _column in STAGES}
            row["lead_to_sql_rate"] = ratio(reached["sqls"], reached["leads"])
            row["lead_to_customer_rate"] = ratio(reached["customers_won"], reached["leads"])
            row["mql_to_sql_rate"] = ratio(reached["sqls"], reached["mqls"])
            if visitors is not None:
                row["visitor_to_lead_rate"] = ratio(row["leads"], row["visitors"])
    if events is not None:
        trials = run(trial_query(events, periods=periods, window_days=window_days, subscriptions=subscriptions,
                                 medians=False))
        trials = trials.set_index("period")
        for p in periods:
            row = out[str(p)]
            n_vis = int(visitors.get(str(p), 0))
            row.setdefault("visitors", n_vis)
            t = trials.loc[str(p)] if str(p) in trials.index else {}
            n_trial = whole(t.get("trials"))
            row["visitor_to_trial_rate"] = ratio(n_trial, n_vis)
            row["trial_to_pql_rate"] = ratio(whole(t.get("pqls")), n_trial)
            row["trial_to_paid_rate"] = ratio(whole(t.get("paid")), n_trial)
    if opportunities is not None:
        pipe = pipeline(opportunities, periods=periods).set_index("period")
        for p in periods:
            out[str(p)]["pipeline_volume"] = int(pipe.loc[str(p), "pipeline_volume"])
            out[str(p)]["weighted_pipeline"] = float(pipe.loc[str(p), "weighted_pipeline"])
    return pd.DataFrame([{"period": name, **values} for name, values in out.items()])


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
    both = [period.previous(), period]
    stages = [stage for stage, _column in STAGES]
    groups = _groups(table(leads, "leads"), "channel")
    flow = run(flow_query(leads, periods=both, by="channel"))
    flow = flow[flow["channel"].notna()].pivot_table(index=["period", "channel"], columns="stage",
                                                      values="count", aggfunc="sum")
    conv = run(conversion_query(leads, periods=both, window_days=window_days, by="channel", medians=False))
    conv = conv[conv["channel"].notna()].set_index(["period", "channel"])
    seen = None
    if events is not None:
        seen = run(unique_visitors_query(events, periods=both, by="channel"))
        seen = seen.astype({"channel": "str"}).set_index(["period", "channel"])["visitors"]

    def one(p: Period) -> pd.DataFrame:
        name = str(p)
        contacted = conv.xs(name, level="period") if name in conv.index.get_level_values("period") else None
        channels = sorted(set(groups) | (set(contacted.index) if contacted is not None else set()))
        counts = (flow.xs(name, level="period") if name in flow.index.get_level_values("period")
                  else pd.DataFrame(index=pd.Index([], name="channel")))
        out = pd.DataFrame(index=pd.Index(channels, name="channel"))
        out["visitors"] = ([int(seen.get((name, c), 0)) for c in channels] if seen is not None
                           else np.nan)
        out["leads"] = counts.reindex(index=out.index, columns=stages).fillna(0).astype(int)["leads"]
        reached = (contacted if contacted is not None else pd.DataFrame(index=out.index))
        reached = reached.reindex(index=out.index, columns=[f"reached_{s}" for s in stages])
        leads_, sqls, won = (reached[f"reached_{s}"] for s in ("leads", "sqls", "customers_won"))
        out["visitor_to_lead_rate"] = out["leads"] / out["visitors"].where(out["visitors"] > 0)
        out["lead_to_sql_rate"] = sqls / leads_.where(leads_ > 0)
        out["lead_to_customer_rate"] = won / leads_.where(leads_ > 0)
        return out

    now, prev = one(period), one(both[0])
    rates = ["visitor_to_lead_rate", "lead_to_sql_rate", "lead_to_customer_rate"]
    for rate in rates:
        now[f"{rate}_prev"] = prev[rate].reindex(now.index)
        now[f"{rate}_change_pts"] = (now[rate] - now[f"{rate}_prev"]) * 100
    return now.rename_axis("channel").reset_index()
