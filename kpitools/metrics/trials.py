"""The trial funnel: visitors to trials, trials to product-qualified leads (``activated``)
and to paying customers, followed in the data's engine for every period at once."""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import numpy as np
import pandas as pd
from ibis import _

from ..engine import Table, in_periods, run, table, whole, with_medians
from ..periods import Period, parse_periods
from .mrr import first_paid_days
from .revenue import ratio
from .visitors import unique_visitors

__all__ = ["trial_query", "trial_funnel"]



def trial_query(events: Table, *, periods: Sequence[Period | str], window_days: int = 90,
                subscriptions: Table | None = None, by: str | None = None, medians: bool = True) -> ibis.Table:
    """The trial users of each period and what became of them: per period (and group of
    the trial's ``by``) ``trials``, ``pqls``, ``paid`` and, unless ``medians`` is False,
    the median days to each (``days_pql``, ``days_paid``)."""
    periods = parse_periods(periods)
    e = table(events, "events")
    started = in_periods(e.filter(e.event == "trial_started"), "timestamp", periods)
    first = started.mutate(rank=ibis.row_number().over(
        ibis.window(group_by=[started.period, started.user_id], order_by=[started.timestamp])))
    trials = first.filter(first["rank"] == 0).select(
        "period", "user_id", "account_id", start="timestamp",
        group=(first[by].cast("string").fill_null("(none)") if by else ibis.literal("all")))
    acts = e.filter(e.event == "activated").select(actor="user_id", at="timestamp")
    act = trials.left_join(acts, [trials.user_id == acts.actor, acts.at >= trials.start]).group_by(
        ["period", "user_id", "account_id", "start", "group"]).agg(activated_at=_.at.min())
    if subscriptions is not None:
        paid = first_paid_days(subscriptions).select(payer="account_id", paid_at="first_paid")
        joined = act.left_join(paid, act.account_id == paid.payer)
    else:
        buys = e.filter(e.event == "purchase").group_by("user_id").agg(paid_at=_.timestamp.min())
        buys = buys.select(payer="user_id", paid_at="paid_at")
        joined = act.left_join(buys, act.user_id == buys.payer)
    end = joined.start + ibis.interval(days=window_days)
    pql = joined.activated_at.notnull() & (joined.activated_at <= end)
    # a first paid day is a date: it may fall on the trial's own day, before its time of day
    paid_in = joined.paid_at.notnull() & (joined.paid_at >= joined.start.truncate("D")) & (joined.paid_at <= end)
    day = 86_400e6
    totals = joined.group_by(["period", "group"]).agg(
        trials=_.count(), pqls=pql.cast("int32").sum(), paid=paid_in.cast("int32").sum())
    if not medians:
        return totals
    return with_medians(totals, joined, ["period", "group"], {
        "days_pql": pql.ifelse(joined.activated_at.delta(joined.start, unit="microsecond") / day,
                               ibis.null("float64")),
        "days_paid": paid_in.ifelse(joined.paid_at.delta(joined.start, unit="microsecond") / day,
                                    ibis.null("float64"))})


def trial_funnel(events: Table, *, period: Period | str, window_days: int = 90,
                 subscriptions: Table | None = None, by: str | None = None,
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
    if visitors is None:
        visitors = unique_visitors(events, period=period, by=by)
    found = run(trial_query(events, periods=[period], window_days=window_days, subscriptions=subscriptions,
                            by=by)).set_index("group")
    groups = [None] if by is None else sorted(visitors.index)
    rows = []
    for group in groups:
        values = found.loc["all" if group is None else group] if ("all" if group is None else group) in \
            found.index else {}
        n_vis = int(visitors.get("all" if group is None else group, 0))
        n_trial, n_pql, n_paid = (whole(values.get(k)) for k in ("trials", "pqls", "paid"))
        for stage, count, rate, days in (
                ("visitors", n_vis, np.nan, np.nan),
                ("trials", n_trial, ratio(n_trial, n_vis), np.nan),
                ("pqls", n_pql, ratio(n_pql, n_trial), values.get("days_pql", np.nan)),
                ("paid", n_paid, ratio(n_paid, n_trial), values.get("days_paid", np.nan))):
            row = {"stage": stage, "count": count, "rate_from_previous": rate,
                   "median_days": np.nan if days is None or pd.isna(days) else float(days)}
            rows.append(row if group is None else {by: group, **row})
    return pd.DataFrame(rows)
