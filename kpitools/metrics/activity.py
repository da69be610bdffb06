"""Activity cohorts: users by their first event (of one kind, or any), active in a later
period when they have any event in it; retention from an event log alone, counted in the
data's engine per cohort and period number (no per-user matrix)."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
from ibis import _

from ..engine import Table, in_range, run, table, utc, windows, within
from ..periods import Period
from .retention import TIDY, _periods_between, _tidy

__all__ = ["activity_counts_query", "activity_cohorts"]


def activity_counts_query(events: Table, *, origin: Period, through: Period, event: str | None = None,
                          by: str | None = None) -> ibis.Table:
    """Per (``group``, ``cohort``, ``k``) of the activity cohorts: ``size`` (k = -1 rows:
    the users of the cohort), ``active`` (active in period cohort + k), ``surviving``
    (active in every period from the cohort's own to it) and ``reaching`` (whose last
    active period is cohort + k). Cohorts and periods are numbered from ``origin``."""
    periods = _periods_between(origin, through)
    spans = windows((str(i), "period", p.start, p.end) for i, p in enumerate(periods))
    e = table(events, "events")
    e = e.filter(in_range(e.timestamp, origin.start, through.end))
    starts = e if event is None else e.filter(e.event == event)
    order = [starts.timestamp] + ([starts[by]] if by else [])
    ranked = starts.mutate(rank=ibis.row_number().over(ibis.window(group_by=starts.user_id, order_by=order)))
    firsts = ranked.filter(ranked["rank"] == 0).select(
        "user_id", "timestamp", group=(ranked[by].cast("string").fill_null("(unknown)") if by else ibis.literal("")))
    cohorts = within(firsts, "timestamp", spans).select("user_id", "group", cohort=_.period.cast("int64"))
    active = within(e.select("user_id", "timestamp"), "timestamp", spans).select(
        "user_id", idx=_.period.cast("int64")).distinct()
    rows = active.join(cohorts, "user_id")
    rows = rows.filter(rows.idx >= rows.cohort)
    rank = ibis.row_number().over(ibis.window(group_by=rows.user_id, order_by=rows.idx))
    rows = rows.mutate(k=rows.idx - rows.cohort, alive=(rows.idx - rows.cohort) == rank)
    last = rows.group_by(["user_id", "group", "cohort"]).agg(k=_.k.max())
    sizes = cohorts.group_by(["group", "cohort"]).agg(n=_.count()).mutate(k=ibis.literal(-1, "int64"),
                                                                          what=ibis.literal("size"))
    counted = rows.group_by(["group", "cohort", "k"]).agg(n=_.count()).mutate(what=ibis.literal("active"))
    alive = rows.filter(rows.alive).group_by(["group", "cohort", "k"]).agg(n=_.count()).mutate(
        what=ibis.literal("surviving"))
    reaching = last.group_by(["group", "cohort", "k"]).agg(n=_.count()).mutate(what=ibis.literal("reaching"))
    columns = ["group", "cohort", "k", "what", "n"]
    return ibis.union(*(x.select(*columns) for x in (sizes, counted, alive, reaching)))


def activity_cohorts(events: Table, *, through: Period | str, kind: str = "M",
                     mode: str = "on", event: str | None = None, by: str | None = None,
                     data_end: pd.Timestamp | None = None) -> pd.DataFrame:
    """Cohorts of users by their first event (of ``event``, default any), active in period k
    when they have any event in it: retention from an event log alone.

    ``by`` names a column of ``events``; each user takes the value of its first
    qualifying event (for example the ``channel`` of its first visit). Counted in the
    data's engine (:func:`activity_counts_query`): per cohort and period number, no
    per-user matrix.

    Returns the columns of :func:`revenue_cohorts` (without the revenue columns);
    ``surviving`` counts users active in every period since their first.
    """
    through = Period.parse(through)
    if through.kind != kind:
        through = Period.containing(through.last_day, kind)
    e = table(events, "events")
    starts = e.filter(e.timestamp < utc(through.end))
    starts = starts if event is None else starts.filter(starts.event == event)
    first = run(starts.aggregate(first=_.timestamp.min()))["first"].iloc[0]
    if first is None or pd.isna(first):
        return _tidy(np.zeros((0, 1), bool), np.zeros((0, 1), bool), np.zeros((0, 1), bool),
                     np.zeros(0, int), [through], None, data_end, mode)
    origin = Period.containing(pd.Timestamp(first), kind)
    periods = _periods_between(origin, through)
    found = run(activity_counts_query(events, origin=origin, through=through, event=event, by=by))
    counts = found.set_index(["what", "group", "cohort", "k"])["n"]
    n = len(periods)
    rows = []
    for (group, cohort), size in counts.loc["size"].droplevel("k").items():
        reaching = [int(counts.get(("reaching", group, cohort, k), 0)) for k in range(n - cohort)]
        later = np.cumsum(reaching[::-1])[::-1]  # last active at k or later: "on or after"
        for k in range(n - cohort):
            period = periods[cohort + k]
            active = int(counts.get(("active", group, cohort, k), 0)) if mode != "on_or_after" else int(later[k])
            rows.append({"group": group, "cohort": str(periods[cohort]), "period_number": k, "period": str(period),
                         "cohort_size": int(size), "active": active,
                         "surviving": int(counts.get(("surviving", group, cohort, k), 0)),
                         "partial": bool(data_end is not None and period.end > data_end)})
    out = pd.DataFrame(rows)
    out["retention"] = out["active"] / out["cohort_size"]
    out["survival"] = out["surviving"] / out["cohort_size"]
    keys = ["group"] if by else []
    return out[[*keys, *TIDY]].sort_values([*keys, "cohort", "period_number"], ignore_index=True)
