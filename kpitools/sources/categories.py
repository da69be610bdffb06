"""Keep breakdowns readable: the most common values of a category, the rest as one group.

A report broken down by channel, segment, plan or feature shows one row, bar or line
per value. Real data can hold thousands (a tracking parameter used as the channel,
a free-text plan name): :func:`limit_categories` keeps the ``n`` values with the most
rows and labels every other value :data:`OTHER`, the same way in every table that
shares the vocabulary (channels in accounts, leads, spend, opportunities, events and
channel metrics), so that joins by channel still match. Totals do not change: only
labels are merged. A column with at most ``n`` values is left untouched.
"""

from __future__ import annotations

from collections.abc import Iterable

import ibis
import pandas as pd
from ibis import _

from ..engine import Table, run, table

__all__ = ["OTHER", "VOCABULARIES", "top_values", "limit_categories", "category_limits", "apply_category_limits"]

OTHER = "(other)"
# vocabulary -> the (table, column) pairs that share it
VOCABULARIES: dict[str, tuple[tuple[str, str], ...]] = {
    "channel": (("accounts", "channel"), ("leads", "channel"), ("spend", "channel"),
                ("opportunities", "channel"), ("events", "channel"), ("channel_metrics", "channel")),
    "segment": (("accounts", "segment"),),
    "country": (("accounts", "country"),),
    "plan": (("subscriptions", "plan"),),
    "feature": (("events", "feature"),),
    "cost_category": (("costs", "category"),),
    "metric": (("channel_metrics", "metric"),),
}
# values that carry a meaning in a metric definition and are never merged
_KEEP = {"channel": {"none"}, "metric": {"impressions", "engagements", "webinar_attendees"}}


def top_values(counts: pd.Series, n: int, *, keep: Iterable[str] = ()) -> set[str]:
    """The ``n`` values with the highest counts (ties broken by value, so the choice is
    stable), plus ``keep``."""
    ranked = counts.rename("rows").reset_index().rename(columns={counts.index.name or "index": "value"})
    ranked.columns = ["value", "rows"]
    ranked = ranked.sort_values(["rows", "value"], ascending=[False, True])
    return set(ranked["value"].head(n)) | set(keep)


def limit_categories(tables: dict[str, Table], n: int = 12) -> dict[str, Table]:
    """The tables with every vocabulary of more than ``n`` values cut to its ``n`` most
    common values and :data:`OTHER`.

    Parameters
    ----------
    tables : dict of name to table
        Contract tables (as in :attr:`kpitools.Dataset.tables`): Ibis tables or
        pandas DataFrames.
    n : int
        How many values each vocabulary keeps: those with the largest share of rows,
        summed over the tables that use it (each table weighs the same, so the event
        log's millions of rows do not outvote the accounts).

    Returns
    -------
    dict of name to Ibis table
        The same tables where nothing changes; where a column is relabelled, an
        expression that relabels it: :func:`apply_category_limits` of
        :func:`category_limits`.
    """
    return apply_category_limits(tables, category_limits(tables, n))


def category_limits(tables: dict[str, Table], n: int = 12) -> dict[str, list[str]]:
    """For each vocabulary of more than ``n`` values, the values it keeps (sorted); the
    shares of every vocabulary are counted by the engine in one query.

    The values of the tables are included as well, under ``"<vocabulary>:<table>"``, so
    that a table already within the kept values is left as it is.
    """
    parts = []
    for vocabulary, places in VOCABULARIES.items():
        for name, column in places:
            if name not in tables or column not in table(tables[name]).columns:
                continue
            t = table(tables[name])
            shares = t.filter(t[column].notnull()).group_by(value=t[column].cast("string")).aggregate(
                rows=_.count())
            parts.append(shares.mutate(vocabulary=ibis.literal(vocabulary), table=ibis.literal(name),
                                       share=_.rows / _.rows.sum().over()))
    if not parts:
        return {}
    counts = run(ibis.union(*parts) if len(parts) > 1 else parts[0])
    out: dict[str, list[str]] = {}
    for vocabulary, found in counts.groupby("vocabulary", sort=False):
        totals = found.groupby("value")["share"].sum()
        if len(totals) <= n:
            continue
        out[vocabulary] = sorted(top_values(totals, n, keep=_KEEP.get(vocabulary, ())))
        for name, values in found.groupby("table", sort=False)["value"]:
            out[f"{vocabulary}:{name}"] = sorted(set(values))
    return out


def apply_category_limits(tables: dict[str, Table], limits: dict[str, list[str]]) -> dict[str, Table]:
    """The tables with each vocabulary of ``limits`` (:func:`category_limits`) relabelled:
    a value outside the kept ones becomes :data:`OTHER`."""
    out = dict(tables)
    for vocabulary, places in VOCABULARIES.items():
        kept = limits.get(vocabulary)
        if kept is None:
            continue
        for name, column in places:
            if name not in out or not set(limits.get(f"{vocabulary}:{name}", ())) - set(kept):
                continue
            t = table(out[name])
            merged = t[column].notnull() & ~t[column].isin(kept)
            out[name] = t.mutate(**{column: ibis.ifelse(merged, ibis.literal(OTHER, "string"), t[column])})
    return out
