"""The flat KPI object of a period: every key of ``docs/metrics.md`` the data allows.

Each metric family registers a function ``(data, periods, so_far) -> {period: values}``
with the tables it needs; it computes every period asked for at once (one grouped query
per family where the family has one). :func:`kpis_for` runs the families whose tables
are present and merges their results into one flat mapping of key to number per
period (``None`` where the key is defined but not computable, for example a rate over
zero); :func:`compute_kpis` is the same for one period.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import KeyNameError
from ..periods import Period, check_within, parse_periods, resolve_period
from ..sources.data import Dataset
from .activation import ACTIVATION_KEYS, activation_history
from .economics import UNIT_KEYS, unit_economics_history
from .engagement import ENGAGEMENT_KEYS, active_history, feature_adoption
from .funnel import FUNNEL_KEYS, funnel_history
from .nps import nps_history, outside_history
from .revenue import REVENUE_KEYS, early_churn_history, revenue_metrics
from .sessions import SESSION_KEYS, session_history
from .spend import cost_history, spend_history
from .visitors import unique_visitors_query

__all__ = ["KpiFamily", "FAMILIES", "register", "compute_kpis", "kpis_for", "kpis_like", "families_for",
           "keys_table"]

KpiValues = dict[str, float | int | None]
ByPeriod = dict[str, KpiValues]


@dataclass(frozen=True)
class KpiFamily:
    name: str
    needs: tuple[str, ...]
    keys: tuple[str, ...]
    compute: Callable[[Dataset, list[Period], ByPeriod], ByPeriod]
    reads: tuple[str, ...] = ()  # every table it reads when present (``needs`` among them)
    # its keys name category values (one key per feature): they change with the category
    # limit, while every other family's values are totals that no relabelling changes
    by_category: bool = False

    def owns(self, key: str) -> bool:
        """Whether ``key`` is one of this family's."""
        return key in self.keys or (self.by_category and key.split(".")[0] == f"{self.name}_rate")


FAMILIES: list[KpiFamily] = []


def register(name: str, *, needs: tuple[str, ...], keys: tuple[str, ...], reads: tuple[str, ...] = (),
             by_category: bool = False):
    """Decorator: add a KPI family. ``compute(data, periods, so_far)`` returns each
    period's values and sees those computed by earlier families (``so_far``, by period),
    so a ratio can reuse a count. ``reads``: the tables it also uses when present;
    ``by_category``: its keys (``<name>_rate.<value>``) are per category value."""

    def wrap(fn: Callable[[Dataset, list[Period], ByPeriod], ByPeriod]):
        FAMILIES.append(KpiFamily(name, needs, keys, fn, tuple(dict.fromkeys([*needs, *reads])), by_category))
        return fn

    return wrap


def _clean(value: object) -> float | int | None:
    if value is None:
        return None
    if isinstance(value, bool | int | np.integer):
        return int(value)
    number = float(value)
    return round(number, 6) if math.isfinite(number) else None


def compute_kpis(data: Dataset, period: Period | str = "latest-month", *,
                 keys: Sequence[str] | None = None) -> KpiValues:
    """Every registered KPI for one period whose tables are present: :func:`kpis_for` of
    one period.

    Parameters
    ----------
    data : Dataset
        What :func:`kpitools.load` returned.
    period : Period or str
        A period (``"2026-09"``, ``"2026-Q3"``, ``"2026-W36"``) or, as on the command
        line, ``"latest-month"`` (the default), ``"latest-quarter"`` or ``"latest-week"``.
    keys : sequence of str, optional
        Only these keys (``kpitools keys`` lists them); default: every key.

    Returns
    -------
    dict
        ``{key: number or None}`` in registration order; keys of families whose
        tables are absent are left out.

    Raises
    ------
    PeriodError
        The period lies wholly outside the data (as ``kpitools kpis`` refuses it).
    """
    period = resolve_period(period, data.date_range[1])
    check_within([period], data.date_range)
    return kpis_for(data, [period], keys=keys)[str(period)]


def kpis_like(data: Dataset, period: Period | str, *, limited: Dataset) -> KpiValues:
    """:func:`compute_kpis` of ``data``, taking the values of every family whose values no
    category limit changes from ``limited`` (the same data with :meth:`Dataset.limit_categories`,
    whose KPIs a report run computes anyway); only the families keyed by category value
    (``feature_adoption_rate.<feature>``) are computed on ``data`` itself."""
    period = Period.parse(period)
    shown = kpis_for(limited, [period])[str(period)]
    per_value = [f for f in FAMILIES if f.by_category]
    own = kpis_for(data, [period], keys=[f"{f.name}_rate" for f in per_value])[str(period)] if per_value else {}
    out: KpiValues = {}
    for key, value in shown.items():  # in registration order, the per-value block in its place
        if any(f.owns(key) for f in per_value):
            out.update(own)
            own = {}
        else:
            out[key] = value
    out.update(own)
    return out


def kpis_for(data: Dataset, periods: Sequence[Period | str], *, keys: Sequence[str] | None = None
             ) -> dict[str, KpiValues]:
    """Every registered KPI of each period, the periods computed together.

    Parameters
    ----------
    keys : sequence of str, optional
        Only these keys (``feature_adoption_rate`` for every feature's); only the
        families that compute them run. Default: every key.

    Returns
    -------
    dict
        ``{period: {key: number or None}}``, periods in the order given.

    Notes
    -----
    Each period's values are kept on the Dataset, so a history and the tiles of the
    same periods compute each period once; within a report run, the notebooks share
    them (see :mod:`kpitools.sources.shared`). Some keys of a period whose every key
    was computed are taken from those.
    """
    periods = list(dict.fromkeys(parse_periods(periods)))
    families = FAMILIES if keys is None else families_for(keys)
    suffix = "" if keys is None else " " + ",".join(f.name for f in families)
    names = {p: data.cache_key(f"kpis {p}{suffix}") for p in periods}
    shared = {p: data.shared_key(f"kpis {p}{suffix}") for p in periods}
    # every key of a period, computed already, holds the keys asked for
    every = {p: (data.cache_key(f"kpis {p}"), data.shared_key(f"kpis {p}")) for p in periods} if suffix else {}
    _take_known(data, periods, names, shared, every)
    missing = [p for p in periods if names[p] not in data.cache]
    if missing:
        # one process of a report run computes the same KPIs at a time: another one
        # computing them is waited for, and only what it did not compute is computed
        # here (a process wanting some keys does not wait for one computing every key)
        lock = (data.shared.exclusive("kpis" + suffix) if any(shared[p] for p in missing)
                else contextlib.nullcontext())
        with lock:
            _take_known(data, missing, names, shared, every)
            missing = [p for p in missing if names[p] not in data.cache]
            for p, values in (_compute(data, missing, families) if missing else {}).items():
                period = Period.parse(p)
                data.cache[names[period]] = values
                if shared[period] is not None:
                    data.shared.put(shared[period], values)
    out = {}
    for p in periods:
        values = dict(data.cache[names[p]])
        if keys is not None:
            values = {k: v for k, v in values.items() if k in keys or k.split(".")[0] in keys}
        out[str(p)] = values
    return out


def _take_known(data: Dataset, periods: Sequence[Period], names: dict, shared: dict, every: dict) -> None:
    """Into ``data.cache``: the periods' values computed earlier, in this process or
    another process of the run: the keys asked for or, in ``every``, all of them."""
    for p in periods:
        for name, key in [(names[p], shared[p]), *([every[p]] if p in every else [])]:
            found = data.cache.get(name)
            if found is None and key is not None:
                found = data.shared.get(key)
            if found is not None:
                data.cache[names[p]] = found
                break


def tables_for(families: Sequence[KpiFamily]) -> list[str]:
    """Every table the families read."""
    return list(dict.fromkeys(t for f in families for t in f.reads))


def families_for(keys: Sequence[str]) -> list[KpiFamily]:
    """The families that compute any of ``keys``; raises KeyNameError naming unknown keys."""
    known = {k for f in FAMILIES for k in f.keys} | {"feature_adoption_rate"}
    unknown = [k for k in keys if k.split(".")[0] not in known]
    if unknown:
        raise KeyNameError(f"unknown KPI key {', '.join(map(repr, unknown))}; kpitools keys lists every key "
                           "(docs/metrics.md defines them)")
    wanted = {k.split(".")[0] for k in keys}
    return [f for f in FAMILIES if wanted & set(f.keys) or (f.name == "feature_adoption"
                                                            and "feature_adoption_rate" in wanted)]


def keys_table() -> pd.DataFrame:
    """Every KPI key, in the catalogue's order: ``key``, ``label``, ``unit``, ``better``
    (higher, lower or blank), ``tables`` (those its family needs; blank: it uses whatever
    is there) and ``definition`` (plain text)."""
    from ..text.catalog import CATALOG

    rows = []
    for k in CATALOG.values():
        family = next(f for f in FAMILIES if f.owns(k.key))
        better = {True: "higher", False: "lower"}.get(k.higher_is_better, "")
        rows.append({"key": k.key, "label": k.label, "unit": k.unit, "better": better,
                     "tables": ", ".join(family.needs), "definition": k.definition.replace("`", "")})
    return pd.DataFrame(rows, columns=["key", "label", "unit", "better", "tables", "definition"])


def _compute(data: Dataset, periods: list[Period], families: Sequence[KpiFamily]) -> ByPeriod:
    out: ByPeriod = {str(p): {} for p in periods}
    for family in families:
        if not data.has(*family.needs):
            continue
        found = family.compute(data, periods, out)
        for p, values in found.items():
            for key in family.keys or tuple(values):
                if key in values:
                    out[p][key] = _clean(values[key])
    return out


def _rows(frame: pd.DataFrame) -> ByPeriod:
    """A per-period result (column ``period``) as ``{period: {column: value}}``."""
    return {row.pop("period"): row for row in frame.to_dict("records")}


@register("revenue", needs=("subscriptions",), keys=(*REVENUE_KEYS, "early_churn_rate"))
def _revenue(data: Dataset, periods: list[Period], so_far: ByPeriod) -> ByPeriod:
    out = _rows(revenue_metrics(data.subscriptions, periods=periods))
    for p, values in _rows(early_churn_history(data.subscriptions, periods=periods)).items():
        out[p].update(values)
    return out


@register("spend", needs=("spend",), keys=("sm_spend", "marketing_spend", "sales_spend"),
          reads=("subscriptions",))
def _spend(data: Dataset, periods: list[Period], so_far: ByPeriod) -> ByPeriod:
    if data.has("subscriptions"):  # the unit_economics family computes these with the rest
        return {}
    return _rows(spend_history(data.spend, periods=periods))


@register("cost_to_serve", needs=("costs",), keys=("cost_to_serve", "cost_to_serve_per_customer"),
          reads=("subscriptions",))
def _costs(data: Dataset, periods: list[Period], so_far: ByPeriod) -> ByPeriod:
    if data.has("subscriptions"):  # the unit_economics family computes these with the rest
        return {}
    # without subscriptions there are no customers to divide by
    return {p: {**values, "cost_to_serve_per_customer": None}
            for p, values in _rows(cost_history(data.costs, periods=periods)).items()}


@register("unit_economics", needs=("subscriptions",), keys=UNIT_KEYS, reads=("accounts", "spend", "costs"))
def _unit(data: Dataset, periods: list[Period], so_far: ByPeriod) -> ByPeriod:
    return unit_economics_history(data.subscriptions, periods=periods, accounts=data.accounts, spend=data.spend,
                                  costs=data.costs)


@register("funnel", needs=(), keys=FUNNEL_KEYS, reads=("leads", "events", "opportunities", "subscriptions"))
def _funnel(data: Dataset, periods: list[Period], so_far: ByPeriod) -> ByPeriod:
    if not (data.has("leads") or data.has("events") or data.has("opportunities")):
        return {}
    return _rows(funnel_history(periods=periods, leads=data.leads, events=data.events,
                                opportunities=data.opportunities, subscriptions=data.subscriptions))


@register("active_users", needs=("events",), keys=ENGAGEMENT_KEYS)
def _active(data: Dataset, periods: list[Period], so_far: ByPeriod) -> ByPeriod:
    return _rows(active_history(data.events, periods=periods))


@register("visitors", needs=("events",), keys=("unique_visitors",))
def _visitors(data: Dataset, periods: list[Period], so_far: ByPeriod) -> ByPeriod:
    if all("visitors" in so_far[str(p)] for p in periods):  # the funnel counted them
        return {str(p): {"unique_visitors": so_far[str(p)]["visitors"]} for p in periods}
    from ..engine import run

    counted = run(unique_visitors_query(data.events, periods=periods)).set_index("period")["visitors"]
    return {str(p): {"unique_visitors": int(counted.get(str(p), 0))} for p in periods}


@register("sessions", needs=("events",), keys=tuple(k for k in SESSION_KEYS if k != "unique_visitors"))
def _sessions(data: Dataset, periods: list[Period], so_far: ByPeriod) -> ByPeriod:
    return _rows(session_history(data.events, periods=periods)[["period", *SESSION_KEYS]])


@register("activation", needs=("events",), keys=ACTIVATION_KEYS)
def _activation(data: Dataset, periods: list[Period], so_far: ByPeriod) -> ByPeriod:
    return _rows(activation_history(data.events, periods=periods))


@register("feature_adoption", needs=("events",), keys=(), by_category=True)
def _features(data: Dataset, periods: list[Period], so_far: ByPeriod) -> ByPeriod:
    table = feature_adoption(data.events, periods=periods)
    out: ByPeriod = {str(p): {} for p in periods}
    for p, feature, value in zip(table["period"], table["feature"], table["adoption"], strict=True):
        out[p][f"feature_adoption_rate.{feature}"] = value
    return out


@register("nps", needs=("nps",), keys=("nps", "promoters", "passives", "detractors"))
def _nps(data: Dataset, periods: list[Period], so_far: ByPeriod) -> ByPeriod:
    return _rows(nps_history(data.nps, periods=periods))


@register("outside_indicators", needs=(), keys=("webinar_attendees", "social_engagements"),
          reads=("events", "channel_metrics"))
def _outside(data: Dataset, periods: list[Period], so_far: ByPeriod) -> ByPeriod:
    if data.events is None and data.channel_metrics is None:
        return {}
    return _rows(outside_history(periods=periods, events=data.events, channel_metrics=data.channel_metrics))
