"""The flat KPI object of a period: every key of ``spec/metrics.md`` the data allows.

Each metric family registers a function ``(data, period) -> dict`` with the
tables it needs; :func:`compute_kpis` runs those whose tables are present and
merges their results into one flat mapping of key to number (``None`` where
the key is defined but not computable, for example a rate over zero).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .activation import ACTIVATION_KEYS, activation
from .data import Dataset
from .economics import UNIT_KEYS, unit_economics
from .engagement import ENGAGEMENT_KEYS, active_users, feature_adoption
from .errors import PeriodError
from .funnel import FUNNEL_KEYS, funnel_kpis
from .nps import nps_score, outside_indicators
from .period_data import period_view
from .periods import Period
from .revenue import REVENUE_KEYS, early_churn_rate, revenue_metrics
from .sessions import SESSION_KEYS, session_metrics
from .spend import cost_to_serve, spend_totals

__all__ = ["KpiFamily", "FAMILIES", "register", "compute_kpis"]

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


def compute_kpis(data: Dataset, period: Period | str) -> KpiValues:
    """Every registered KPI for one period whose tables are present.

    Returns
    -------
    dict
        ``{key: number or None}`` in registration order; keys of families whose
        tables are absent are left out.

    Notes
    -----
    The families see the period's slice of the event log (:func:`period_view`:
    the period with 3 days either side, the follow-up events after it, and who was
    seen before it), and the result is kept on the Dataset, so a history and the
    tiles of the same periods compute each period once.
    """
    period = Period.parse(period)
    if data.scope is not None and data.scope.period != period:
        raise PeriodError(f"this Dataset was read for {data.scope.period} only (load_period); "
                          f"read it with kpitools.load for {period}")
    return dict(data.cached(f"kpis {period}", lambda: _compute(period_view(data, period), period)))


def _compute(data: Dataset, period: Period) -> KpiValues:
    out: KpiValues = {}
    for family in FAMILIES:
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


@register("engagement", needs=("events",), keys=(*ENGAGEMENT_KEYS, *SESSION_KEYS, *ACTIVATION_KEYS))
def _engagement(data: Dataset, period: Period, so_far: KpiValues) -> KpiValues:
    seen_before = data.scope.seen_before if data.scope is not None else None
    values = active_users(data.events, period=period, seen_before=seen_before)
    values.update(session_metrics(data.events, period=period).to_dict("records")[0])
    values.update(activation(data.events, period=period))
    return values


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
