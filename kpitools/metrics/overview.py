"""The KPI overview: leading and lagging indicators side by side, goals against targets,
and insights written from the numbers, ranked by size.

Insight rules (each documented in the report's glossary):

- **divergence**: a leading indicator rises by more than ``min_change`` while the
  outcome it should drive falls by more than ``min_change`` (relative change; rates
  by more than ``min_points`` percentage points), or the reverse;
- **mover**: a KPI changed by more than ``mover_change`` against the previous period
  (the three largest);
- **target**: a KPI missed its target (or, in a period still running, is behind
  its linear pace);
- **anomaly**: a value lies more than 3.5 robust standard deviations from the median
  of its previous six periods (the modified z-score of Iglewicz and Hoaglin:
  0.6745 x (x - median) / MAD) and more than 10 % (rates: 1 point) away from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..engine import run, table
from ..periods import Period
from ..text.catalog import format_value, kpi
from ..text.display import escape

__all__ = ["LEADING", "LAGGING", "DIVERGENCES", "NOTEBOOK_OF", "BASES", "MIN_BASE", "Insight", "goals", "format_goals",
           "divergences", "movers", "target_misses", "anomalies", "insights", "base_of", "too_few"]

LEADING = ("unique_visitors", "sessions", "time_on_site_s", "bounce_rate", "social_engagements",
           "webinar_attendees", "leads", "pipeline_volume", "weighted_pipeline")
LAGGING = ("mrr", "net_new_mrr", "customer_churn_rate", "ltv", "ltv_cac", "marketing_roi", "gross_margin")
# (leading indicator, the outcome it should drive)
DIVERGENCES = (("sessions", "visitor_to_lead_rate"), ("unique_visitors", "visitor_to_lead_rate"),
               ("sessions", "leads"),
               ("leads", "customers_won"), ("pipeline_volume", "new_mrr"),
               ("weighted_pipeline", "new_mrr"), ("sm_spend", "new_customers"))
# KPIs summed over the period (their running-period target is pro rata); others are levels
FLOWS = {"new_mrr", "expansion_mrr", "net_new_mrr", "new_customers", "churned_customers", "leads",
         "contacts", "mqls", "sqls", "customers_won", "visitors", "unique_visitors", "sessions", "sm_spend",
         "marketing_spend", "sales_spend", "revenue", "cost_to_serve", "new_users", "webinar_attendees",
         "social_engagements"}
# a rate and the count it is a share of: (count key, "start" for the previous period's
# value, the base at the period's start, or "same" for the period's own)
BASES = {
    **dict.fromkeys(("customer_churn_rate", "gross_mrr_churn_rate", "net_mrr_churn_rate", "nrr", "grr",
                     "retention_rate"), ("customers", "start")),
    **dict.fromkeys(("visitor_to_lead_rate", "visitor_to_trial_rate"), ("unique_visitors", "same")),
    **dict.fromkeys(("lead_to_sql_rate", "lead_to_customer_rate"), ("leads", "same")),
    "mql_to_sql_rate": ("mqls", "same"),
    **dict.fromkeys(("stickiness", "product_adoption_rate"), ("mau", "same")),
    **dict.fromkeys(("bounce_rate", "time_on_site_s"), ("sessions", "same")),
}
# a rule never ranks a rate resting on fewer cases than this (in either period compared)
MIN_BASE = 30
NOTEBOOK_OF = {
    **dict.fromkeys(("mrr", "arr", "customers", "arpu", "new_mrr", "net_new_mrr", "expansion_mrr",
                     "customer_churn_rate", "nrr", "grr", "ltv", "ltv_cac", "cac", "marketing_roi",
                     "gross_margin", "sm_spend", "new_customers", "revenue", "cost_to_serve"), "unit_economics"),
    **dict.fromkeys(("unique_visitors", "visitors", "leads", "contacts", "customers_won",
                     "visitor_to_lead_rate", "pipeline_volume", "weighted_pipeline", "lead_to_sql_rate"),
                    "funnel"),
    **dict.fromkeys(("sessions", "time_on_site_s", "bounce_rate", "social_engagements",
                     "webinar_attendees", "mau", "dau_avg", "stickiness", "nps", "activation_rate"),
                    "engagement"),
    **dict.fromkeys(("early_churn_rate", "nrr_12m", "retention_rate"), "retention_cohort"),
}


@dataclass(frozen=True)
class Insight:
    """One finding: its rule, the KPIs involved, a sentence (Markdown, values escaped),
    a size for ranking, and the notebook that explains it."""

    kind: str
    kpi: str
    text: str
    size: float
    notebook: str

    def markdown(self, link: bool = True) -> str:
        target = f" ([{escape(self.notebook.replace('_', ' '))}]({self.notebook}.html))" if link else ""
        return f"**{self.kind.capitalize()}**: {self.text}{target}"


def _relative(now: float | None, then: float | None) -> float:
    if now is None or then is None or pd.isna(now) or pd.isna(then) or then == 0:
        return np.nan
    return (now - then) / abs(then)


def _moved(key: str, now: float | None, then: float | None, min_change: float, min_points: float) -> int:
    """+1 up, -1 down, 0 flat or unknown, by the KPI's own scale (points for rates)."""
    if now is None or then is None or pd.isna(now) or pd.isna(then):
        return 0
    if kpi(key).unit == "rate":
        points = (now - then) * 100
        return int(np.sign(points)) if abs(points) > min_points else 0
    rel = _relative(now, then)
    return int(np.sign(rel)) if pd.notna(rel) and abs(rel) > min_change else 0


def _size(key: str, now: float, then: float) -> float:
    """How big a change is: relative for amounts, points / 10 for rates (1 point ~ 10 %)."""
    return abs(now - then) * 10 if kpi(key).unit == "rate" else abs(_relative(now, then))


def _change_text(key: str, now: float, then: float) -> str:
    if kpi(key).unit == "rate":
        return f"{'rose' if now > then else 'fell'} {abs(now - then) * 100:.1f} points"
    return f"{'rose' if now > then else 'fell'} {abs(_relative(now, then)):.1%}"


def _of(key: str, now: dict, prev: dict) -> str:
    """" (of 1,204 sessions)": the base a rate rests on, for a sentence about it."""
    if key not in BASES:
        return ""
    count, when = BASES[key]
    n = (prev if when == "start" else now).get(count)
    if n is None or pd.isna(n):
        return ""
    noun = kpi(count).label.lower()
    return f" (of {format_value(count, n)} {noun}{' at the start' if when == 'start' else ''})"


def divergences(now: dict, prev: dict, *, pairs: Sequence[tuple[str, str]] = DIVERGENCES,
                min_change: float = 0.02, min_points: float = 0.1) -> list[Insight]:
    """Leading indicators that moved one way while the outcome they drive moved the other."""
    found = []
    for lead, lag in pairs:
        a = _moved(lead, now.get(lead), prev.get(lead), min_change, min_points)
        b = _moved(lag, now.get(lag), prev.get(lag), min_change, min_points)
        if a and b and a != b:
            size = _size(lead, now[lead], prev[lead]) + _size(lag, now[lag], prev[lag])
            text = (f"{kpi(lead).label} {_change_text(lead, now[lead], prev[lead])}{_of(lead, now, prev)} while "
                    f"{kpi(lag).label} {_change_text(lag, now[lag], prev[lag])}{_of(lag, now, prev)}.")
            found.append(Insight("divergence", lead, text, float(size), NOTEBOOK_OF.get(lag, "overview")))
    return found


def movers(now: dict, prev: dict, keys: Sequence[str], *, mover_change: float = 0.10, top: int = 3,
           ) -> list[Insight]:
    """The KPIs that changed most against the previous period (relative change; rates in
    points / 10, so a 1-point move ranks like a 10 % one)."""
    rows = []
    for key in keys:
        a, b = now.get(key), prev.get(key)
        if a is None or b is None or pd.isna(a) or pd.isna(b):
            continue
        size = _size(key, a, b)
        if pd.notna(size) and size > mover_change:
            rows.append((size, key))
    out = []
    for size, key in sorted(rows, reverse=True)[:top]:
        text = (f"{kpi(key).label} {_change_text(key, now[key], prev[key])} to "
                f"{format_value(key, now[key])}{_of(key, now, prev)} (from {format_value(key, prev[key])}).")
        out.append(Insight("mover", key, text, float(size), NOTEBOOK_OF.get(key, "overview")))
    return out


def goals(now: dict, targets: pd.DataFrame | None, *, period: Period | str, data_end: pd.Timestamp,
          previous: dict | None = None) -> pd.DataFrame:
    """Every target of the period against the actual.

    Returns
    -------
    DataFrame
        ``kpi``, ``label``, ``actual``, ``target``, ``gap`` (actual - target),
        ``better`` (``higher`` or ``lower``), ``status``: ``met`` / ``missed`` for a
        complete period; for one still running at ``data_end``, ``on track`` /
        ``at risk`` against the linear pace: a flow KPI's target x the share of the
        period elapsed, a level KPI's previous value moved toward the target by that
        share.
    """
    period = Period.parse(period)
    if targets is None:
        return pd.DataFrame(columns=["kpi", "label", "actual", "target", "gap", "better", "status"])
    t = table(targets, "targets")
    rows = run(t.filter(t.period == str(period)).select("kpi", "target"))
    covered = data_end.normalize() + pd.Timedelta(days=1)
    running = covered < period.end
    elapsed = min(max((covered - period.start) / (period.end - period.start), 0.0), 1.0)
    out = []
    for key, target in zip(rows["kpi"], rows["target"], strict=True):
        actual = now.get(key)
        lower = kpi(key).higher_is_better is False
        goal = target
        if running:
            if key in FLOWS:
                goal = target * elapsed
            elif previous and previous.get(key) is not None:
                goal = previous[key] + (target - previous[key]) * elapsed
        ok = None if actual is None or pd.isna(actual) else (actual <= goal if lower else actual >= goal)
        status = "no value" if ok is None else (("on track" if ok else "at risk") if running else
                                                ("met" if ok else "missed"))
        out.append({"kpi": key, "label": kpi(key).label, "actual": actual, "target": target,
                    "gap": None if actual is None else actual - target,
                    "better": "lower" if lower else "higher", "status": status})
    return pd.DataFrame(out, columns=["kpi", "label", "actual", "target", "gap", "better", "status"])


def target_misses(goal_table: pd.DataFrame) -> list[Insight]:
    """An insight per missed (or at-risk) target, sized by the gap relative to the target."""
    out = []
    for row in goal_table[goal_table["status"].isin(["missed", "at risk"])].itertuples():
        size = abs(row.gap / row.target) if row.target else abs(row.gap)
        text = (f"{row.label} {'is behind' if row.status == 'at risk' else 'missed'} its target: "
                f"{format_value(row.kpi, row.actual)} against {format_value(row.kpi, row.target)} "
                f"({row.better} is better).")
        out.append(Insight("target", row.kpi, text, float(size), NOTEBOOK_OF.get(row.kpi, "overview")))
    return out


def anomalies(history: pd.DataFrame, keys: Sequence[str], *, window: int = 6, threshold: float = 3.5,
              min_change: float = 0.10) -> list[Insight]:
    """KPIs whose latest value is far from their own recent history.

    ``history`` has one row per period, oldest first, the latest last. The rule:
    modified z = 0.6745 x (x - median) / MAD over the previous ``window`` periods;
    an anomaly when |z| > ``threshold``, the MAD is not zero, and the value differs
    from the median by more than ``min_change`` (relative; rates: that many x 10
    points), so a steady series does not flag a trivial wobble.
    """
    if len(history) < window + 1:
        return []
    out = []
    for key in keys:
        if key not in history:
            continue
        values = pd.to_numeric(history[key], errors="coerce")
        recent, x = values.iloc[-window - 1:-1].dropna(), values.iloc[-1]
        if len(recent) < window or pd.isna(x):
            continue
        median = recent.median()
        mad = (recent - median).abs().median()
        if mad == 0:
            continue
        z = 0.6745 * (x - median) / mad
        if abs(z) > threshold and _size(key, x, median) > min_change:
            rows = history.iloc[-1].to_dict(), history.iloc[-2].to_dict()
            text = (f"{kpi(key).label} is {format_value(key, x)}{_of(key, *rows)}, "
                    f"{'far above' if z > 0 else 'far below'} "
                    f"its usual {format_value(key, median)} (modified z-score {z:+.1f} against the "
                    f"previous {window} periods).")
            out.append(Insight("anomaly", key, text, float(abs(z) / 10), NOTEBOOK_OF.get(key, "overview")))
    return out


def base_of(key: str, history: pd.DataFrame, row: int = -1) -> float | None:
    """How many cases the rate ``key`` of a period of ``history`` rests on (its base count,
    :data:`BASES`), or None for a key without one (a count, money, an unknown base)."""
    if key not in BASES:
        return None
    count, when = BASES[key]
    row = row if row >= 0 else len(history) + row
    at = row - 1 if when == "start" else row
    if count not in history or at < 0 or at >= len(history):
        return np.nan
    value = pd.to_numeric(history[count], errors="coerce").iloc[at]
    return float(value) if pd.notna(value) else np.nan


def too_few(history: pd.DataFrame, keys: Sequence[str], *, min_base: int = MIN_BASE) -> set[str]:
    """The rates whose base in the latest or the previous period is under ``min_base``
    cases: a finding about them would rank noise (a base the history lacks is no reason)."""
    small = set()
    for key in keys:
        bases = [base_of(key, history, -1), *([base_of(key, history, -2)] if len(history) > 1 else [])]
        if any(b is not None and pd.notna(b) and b < min_base for b in bases):
            small.add(key)
    return small


def insights(history: pd.DataFrame, goal_table: pd.DataFrame | None = None, *,
             keys: Sequence[str] = (*LEADING, *LAGGING), min_base: int = MIN_BASE) -> list[Insight]:
    """Every rule over a KPI history (one row per period, the report period last), ranked by
    size, largest first. A rate resting on fewer than ``min_base`` cases in either period
    compared (:func:`too_few`) takes part in no rule: with a handful of leads, one more or
    less moves the rate by tens of points."""
    now = history.iloc[-1].to_dict()
    prev = history.iloc[-2].to_dict() if len(history) > 1 else {}
    small = too_few(history, list(dict.fromkeys([*keys, *(k for pair in DIVERGENCES for k in pair)])),
                    min_base=min_base)
    keys = [k for k in keys if k not in small]
    pairs = [(a, b) for a, b in DIVERGENCES if a not in small and b not in small]
    found = divergences(now, prev, pairs=pairs) + movers(now, prev, keys) + anomalies(history, keys)
    if goal_table is not None:
        found += target_misses(goal_table)
    return sorted(found, key=lambda i: i.size, reverse=True)




def format_goals(goal_table: pd.DataFrame) -> pd.DataFrame:
    """The goals table with each value formatted in its KPI's unit, for display."""
    out = goal_table.copy()
    for column, signed in (("actual", False), ("target", False), ("gap", True)):
        out[column] = [format_value(k, v, signed=signed)
                       for k, v in zip(goal_table["kpi"], goal_table[column], strict=True)]
    return out
