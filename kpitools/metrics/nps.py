"""Net promoter score, and the leading indicators that come from outside the product
(webinar attendance, social engagement)."""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import pandas as pd
from ibis import _

from ..engine import Table, every_period, in_periods, run, table
from ..periods import Period, parse_periods

__all__ = ["nps_score", "nps_by", "score_counts", "nps_query", "nps_history", "outside_indicators",
           "outside_history", "NPS_KEYS"]

NPS_KEYS = ("nps", "promoters", "passives", "detractors", "webinar_attendees", "social_engagements")
_COUNTS = ["responses", "promoters", "passives", "detractors"]


def _scored(responses: ibis.Table, keys: list[str]) -> ibis.Table:
    """Responses, promoters (9-10), passives and detractors (0-6) and the NPS per group."""
    per = responses.group_by(keys).agg(responses=_.count(), promoters=(_.score >= 9).cast("int32").sum(),
                                       detractors=(_.score <= 6).cast("int32").sum())
    return per.mutate(passives=per.responses - per.promoters - per.detractors,
                      nps=100 * (per.promoters - per.detractors) / per.responses.nullif(0))


def nps_query(nps: Table, *, periods: Sequence[Period | str]) -> ibis.Table:
    """The expression of :func:`nps_history`."""
    periods = parse_periods(periods)
    return _scored(in_periods(nps, "responded_at", periods), ["period"])


def nps_history(nps: Table, *, periods: Sequence[Period | str]) -> pd.DataFrame:
    """NPS of the responses in each period: % promoters (9-10) - % detractors (0-6), from
    -100 to 100. One row per period: ``period``, ``responses``, ``promoters``,
    ``passives``, ``detractors``, ``nps`` (NaN without responses)."""
    periods = parse_periods(periods)
    out = every_period(run(nps_query(nps, periods=periods)), periods)
    out[_COUNTS] = out[_COUNTS].fillna(0).astype(int)
    out["nps"] = out["nps"].astype(float)
    return out[["period", *_COUNTS, "nps"]]


def nps_score(nps: Table, *, period: Period | str) -> dict[str, float]:
    """:func:`nps_history` of one period as a dict: ``nps``, ``promoters``, ``passives``,
    ``detractors``, ``responses``."""
    row = nps_history(nps, periods=[period]).iloc[0].to_dict()
    row.pop("period")
    return row


def score_counts(nps: Table, *, period: Period | str) -> pd.DataFrame:
    """Responses per score in a period: one row per score 0 to 10 (``score``,
    ``responses``), 0 where none."""
    responses = in_periods(nps, "responded_at", [Period.parse(period)])
    counted = run(responses.group_by("score").aggregate(responses=responses.count()))
    every = pd.DataFrame({"score": range(11)})
    out = every.merge(counted.astype({"score": "int64"}), on="score", how="left")
    out["responses"] = out["responses"].fillna(0).astype("int64")
    return out


def nps_by(nps: Table, accounts: Table, *, period: Period | str, by: str = "segment") -> pd.DataFrame:
    """NPS per value of an ``accounts`` column, for responses linked to an account
    (``"(unknown)"`` for an account without a value)."""
    responses = in_periods(nps, "responded_at", [Period.parse(period)])
    responses = responses.filter(responses.account_id.notnull())
    acc = table(accounts, "accounts")
    groups = acc.select(linked="account_id", group=acc[by].cast("string"))
    joined = responses.left_join(groups, responses.account_id == groups.linked)
    joined = joined.mutate(group=joined.group.fill_null("(unknown)"))
    out = run(_scored(joined, ["group"])).rename(columns={"group": by}).sort_values(by, ignore_index=True)
    out[_COUNTS] = out[_COUNTS].astype(int)
    return out[[by, *_COUNTS, "nps"]]


def outside_history(*, periods: Sequence[Period | str], events: Table | None = None,
                    channel_metrics: Table | None = None) -> pd.DataFrame:
    """The leading indicators from outside the product, for each period: ``period``,
    ``webinar_attendees`` = users with a ``webinar_attended`` event in the period plus the
    ``webinar_attendees`` of channel_metrics; ``social_engagements`` = the sum of
    channel_metrics ``engagements``. Columns whose sources are all absent are left out."""
    periods = parse_periods(periods)
    out = pd.DataFrame({"period": [str(p) for p in periods]})
    attendees = None
    if events is not None:
        e = table(events, "events")
        webinars = in_periods(e.filter(e.event == "webinar_attended"), "timestamp", periods)
        found = run(webinars.group_by("period").agg(n=_.user_id.nunique())).set_index("period")["n"]
        attendees = out["period"].map(found).fillna(0).astype(int)
    if channel_metrics is not None:
        m = table(channel_metrics, "channel_metrics")
        m = in_periods(m.filter(m.metric.isin(["webinar_attendees", "engagements"])), "date", periods)
        total = run(m.group_by(["period", "metric"]).agg(value=_.value.sum())).set_index(["period", "metric"])
        def of(metric: str) -> pd.Series:
            return pd.Series([float(total["value"].get((p, metric), 0.0)) for p in out["period"]])
        attendees = (attendees if attendees is not None else 0) + of("webinar_attendees")
        out["social_engagements"] = of("engagements")
    if attendees is not None:
        out["webinar_attendees"] = attendees
    return out


def outside_indicators(*, period: Period | str, events: Table | None = None,
                       channel_metrics: Table | None = None) -> dict[str, float]:
    """:func:`outside_history` of one period, as a dict."""
    row = outside_history(periods=[period], events=events, channel_metrics=channel_metrics).iloc[0].to_dict()
    row.pop("period")
    return row
