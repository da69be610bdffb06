"""The flat KPI object of a period: every key of ``spec/metrics.md`` the data allows.

Each metric family registers a function ``(data, period) -> dict`` with the
tables it needs; :func:`compute_kpis` runs those whose tables are present and
merges their results into one flat mapping of key to number (``None`` where
the key is defined but not computable, for example a rate over zero).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import KeyNameError
from ..periods import Period
from ..sources.data import Dataset
from .activation import ACTIVATION_KEYS, activation
from .economics import UNIT_KEYS, unit_economics
from .engagement import ENGAGEMENT_KEYS, active_users, feature_adoption
from .funnel import FUNNEL_KEYS, funnel_kpis, unique_visitors
from .nps import nps_score, outside_indicators
from .revenue import REVENUE_KEYS, early_churn_rate, revenue_metrics
from .sessions import SESSION_KEYS, session_metrics
from .spend import cost_to_serve, spend_totals

__all__ = ["KpiFamily", "FAMILIES", "register", "compute_kpis", "families_for"]

KpiValues = dict[str, float | int | None]


@dataclass(frozen=True)
class KpiFamily:
    name: str
    needs: tuple[str, ...]
    keys: tuple[str, ...]
    compute: Callable[[Dataset, Period, KpiValues], KpiValues]


FAMILIES: list[KpiFamily] = []


def register(name: str, *, needs: tuple[str, ...], keys: tuple[str, ...]):
    """Decorator: add a KPI family. ``compute(data, period, so_far)`` sees the values
    computed by earlier families (``so_far``), so a ratio can reuse a count."""

    def wrap(fn: Callable[[Dataset, Period, KpiValues], KpiValues]):
        FAMILIES.append(KpiFamily(name, needs, keys, fn))
        return fn

    return wrap


def _clean(value: object) -> float | int | None:
    if value is None:
        return None
    if isinstance(value, bool | int | np.integer):
        return int(value)
    number = float(value)
    return round(number, 6) if math.isfinite(number) else None


def compute_kpis(data: Dataset, period: Period | str, *, keys: Sequence[str] | None = None) -> KpiValues:
    """Every registered KPI for one period whose tables are present.

    Parameters
    ----------
    keys : sequence of str, optional
        Only these keys (``feature_adoption_rate`` for every feature's); only the
        families that compute them run. Default: every key.

    Returns
    -------
    dict
        ``{key: number or None}`` in registration order; keys of families whose
        tables are absent are left out.

    Notes
    -----
    The result is kept on the Dataset, so a history and the tiles of the same periods
    compute each period once.
    """
    period = Period.parse(period)
    families = FAMILIES if keys is None else families_for(keys)
    name = f"kpis {period}" if keys is None else f"kpis {period} {','.join(f.name for f in families)}"
    values = data.cached(name, lambda: _compute(data, period, families))
    if keys is None:
        return dict(values)
    return {k: v for k, v in values.items() if k in keys or k.split(".")[0] in keys}


def families_for(keys: Sequence[str]) -> list[KpiFamily]:
    """The families that compute any of ``keys``; raises KeyNameError naming unknown keys."""
    known = {k for f in FAMILIES for k in f.keys} | {"feature_adoption_rate"}
    unknown = [k for k in keys if k.split(".")[0] not in known]
    if unknown:
        raise KeyNameError(f"unknown KPI key {', '.join(map(repr, unknown))}; the keys are those of "
                           "`kpitools kpis` (spec/metrics.md)")
    wanted = {k.split(".")[0] for k in keys}
    return [f for f in FAMILIES if wanted & set(f.keys) or (f.name == "feature_adoption"
                                                            and "feature_adoption_rate" in wanted)]


def _compute(data: Dataset, period: Period, families: Sequence[KpiFamily] | None = None) -> KpiValues:
    out: KpiValues = {}
    for family in FAMILIES if families is None else families:
        if not data.has(*family.needs):
            continue
        values = family.compute(data, period, out)
        for key in family.keys or tuple(values):
            if key in values:
                out[key] = _clean(values[key])
    return out


@register("revenue", needs=("subscriptions",), keys=(*REVENUE_KEYS, "early_churn_rate"))
def _revenue(data: Dataset, period: Period, so_far: KpiValues) -> KpiValues:
    row = revenue_metrics(data.subscriptions, periods=[period]).iloc[0].to_dict()
    row.update(early_churn_rate(data.subscriptions, period=period))
    return row


@register("spend", needs=("spend",), keys=("sm_spend", "marketing_spend", "sales_spend"))
def _spend(data: Dataset, period: Period, so_far: KpiValues) -> KpiValues:
    if data.has("subscriptions"):  # the unit_economics family computes these with the rest
        return {}
    return spend_totals(data.spend, period=period)


@register("cost_to_serve", needs=("costs",), keys=("cost_to_serve", "cost_to_serve_per_customer"))
def _costs(data: Dataset, period: Period, so_far: KpiValues) -> KpiValues:
    if data.has("subscriptions"):  # the unit_economics family computes these with the rest
        return {}
    customers = so_far.get("customers")
    return cost_to_serve(data.costs, period=period,
                         customers=int(customers) if customers else None)


@register("unit_economics", needs=("subscriptions",), keys=UNIT_KEYS)
def _unit(data: Dataset, period: Period, so_far: KpiValues) -> KpiValues:
    return unit_economics(data.subscriptions, period=period, accounts=data.accounts,
                          spend=data.spend, costs=data.costs)



@register("funnel", needs=(), keys=FUNNEL_KEYS)
def _funnel(data: Dataset, period: Period, so_far: KpiValues) -> KpiValues:
    if not (data.has("leads") or data.has("events") or data.has("opportunities")):
        return {}
    return funnel_kpis(period=period, leads=data.leads, events=data.events,
                       opportunities=data.opportunities, subscriptions=data.subscriptions)


@register("active_users", needs=("events",), keys=ENGAGEMENT_KEYS)
def _active(data: Dataset, period: Period, so_far: KpiValues) -> KpiValues:
    return active_users(data.events, period=period)


@register("visitors", needs=("events",), keys=("unique_visitors",))
def _visitors(data: Dataset, period: Period, so_far: KpiValues) -> KpiValues:
    if "visitors" in so_far:  # the funnel counted them
        return {"unique_visitors": so_far["visitors"]}
    return {"unique_visitors": int(unique_visitors(data.events, period=period).get("all", 0))}


@register("sessions", needs=("events",), keys=tuple(k for k in SESSION_KEYS if k != "unique_visitors"))
def _sessions(data: Dataset, period: Period, so_far: KpiValues) -> KpiValues:
    return session_metrics(data.events, period=period).to_dict("records")[0]


@register("activation", needs=("events",), keys=ACTIVATION_KEYS)
def _activation(data: Dataset, period: Period, so_far: KpiValues) -> KpiValues:
    return activation(data.events, period=period)


@register("feature_adoption", needs=("events",), keys=())
def _features(data: Dataset, period: Period, so_far: KpiValues) -> KpiValues:
    table = feature_adoption(data.events, periods=[period])
    return {f"feature_adoption_rate.{f}": v for f, v in zip(table["feature"], table["adoption"], strict=True)}


@register("nps", needs=("nps",), keys=("nps", "promoters", "passives", "detractors"))
def _nps(data: Dataset, period: Period, so_far: KpiValues) -> KpiValues:
    return nps_score(data.nps, period=period)


@register("outside_indicators", needs=(), keys=("webinar_attendees", "social_engagements"))
def _outside(data: Dataset, period: Period, so_far: KpiValues) -> KpiValues:
    return outside_indicators(period=period, events=data.events, channel_metrics=data.channel_metrics)
