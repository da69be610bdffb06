"""Net promoter score, and the leading indicators that come from outside the product
(webinar attendance, social engagement)."""

from __future__ import annotations

import pandas as pd

from ..periods import Period

__all__ = ["nps_score", "nps_by", "nps_history", "outside_indicators", "NPS_KEYS"]

NPS_KEYS = ("nps", "promoters", "passives", "detractors", "webinar_attendees", "social_engagements")


def _in(frame: pd.DataFrame, column: str, period: Period) -> pd.DataFrame:
    return frame[(frame[column] >= period.start) & (frame[column] < period.end)]


def _score(scores: pd.Series) -> dict[str, float]:
    n = len(scores)
    promoters, detractors = int((scores >= 9).sum()), int((scores <= 6).sum())
    return {"responses": n, "promoters": promoters, "passives": n - promoters - detractors,
            "detractors": detractors,
            "nps": 100 * (promoters - detractors) / n if n else float("nan")}


def nps_score(nps: pd.DataFrame, *, period: Period | str) -> dict[str, float]:
    """NPS of the responses in the period: % promoters (9-10) - % detractors (0-6), from
    -100 to 100; with the counts of ``promoters``, ``passives``, ``detractors``, ``responses``."""
    return _score(_in(nps, "responded_at", Period.parse(period))["score"])


def nps_by(nps: pd.DataFrame, accounts: pd.DataFrame, *, period: Period | str, by: str = "segment",
           ) -> pd.DataFrame:
    """NPS per value of an ``accounts`` column, for responses linked to an account."""
    part = _in(nps, "responded_at", Period.parse(period)).dropna(subset=["account_id"])
    group = part["account_id"].map(accounts.set_index("account_id")[by]).fillna("(unknown)").astype(str)
    rows = [{by: g, **_score(scores)} for g, scores in part["score"].groupby(group)]
    return pd.DataFrame(rows, columns=[by, "responses", "promoters", "passives", "detractors", "nps"])


def outside_indicators(*, period: Period | str, events: pd.DataFrame | None = None,
                       channel_metrics: pd.DataFrame | None = None) -> dict[str, float]:
    """``webinar_attendees`` = users with a ``webinar_attended`` event in the period plus the
    ``webinar_attendees`` of channel_metrics; ``social_engagements`` = the sum of
    channel_metrics ``engagements``. Keys whose sources are all absent are left out."""
    period = Period.parse(period)
    out: dict[str, float] = {}
    attendees = None
    if events is not None:
        webinars = events.loc[(events["event"] == "webinar_attended").to_numpy(), ["user_id", "timestamp"]]
        attendees = int(_in(webinars, "timestamp", period)["user_id"].nunique())
    if channel_metrics is not None:
        metrics = _in(channel_metrics, "date", period)
        total = metrics.groupby("metric")["value"].sum()
        attendees = (attendees or 0) + float(total.get("webinar_attendees", 0.0))
        out["social_engagements"] = float(total.get("engagements", 0.0))
    if attendees is not None:
        out["webinar_attendees"] = attendees
    return out




def nps_history(nps: pd.DataFrame, *, periods: list[Period | str]) -> pd.DataFrame:
    """:func:`nps_score` per period: ``period``, ``responses``, ``promoters``, ``passives``,
    ``detractors``, ``nps``."""
    return pd.DataFrame([{"period": str(Period.parse(p)), **nps_score(nps, period=p)} for p in periods])
