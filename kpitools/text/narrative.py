"""Sentences written from the numbers, for the reports' narrative.

Each function takes tidy results and returns Markdown in which every value that
came from the data (a channel or segment name) is HTML-escaped.
"""

from __future__ import annotations

import pandas as pd

from .catalog import format_value
from .display import escape

__all__ = ["revenue_story", "churn_story", "unit_economics_story", "channel_story", "cohort_story",
           "group_retention_story", "projection_story", "funnel_story", "channel_move_story",
           "divergence_story", "engagement_story", "feature_story", "onboarding_story",
           "segment_story", "change_words", "lifetime_text", "counted"]


def _pct(value: float | None) -> str:
    """A share as a percentage; an empty value (no base to divide by) as an em dash, never
    'nan%'."""
    if value is None or pd.isna(value):
        return "—"
    return f"{value:.1%}"


def change_words(now: float, then: float, *, rate: bool = False) -> str:
    """'up 4.2 %' / 'down 0.8 points' / 'unchanged' / 'with no earlier value'."""
    if then is None or now is None or pd.isna(then) or pd.isna(now):
        return "with no earlier value to compare"
    diff = now - then
    if rate:
        points = diff * 100
        return "unchanged" if abs(points) < 0.05 else (
            f"{'up' if points > 0 else 'down'} {abs(points):.1f} points")
    if then == 0:
        return "up from zero" if now > 0 else "unchanged"
    pct = diff / abs(then)
    return "unchanged" if abs(pct) < 0.0005 else f"{'up' if pct > 0 else 'down'} {abs(pct):.1%}"


def revenue_story(now: pd.Series, prev: pd.Series | None = None) -> str:
    """What MRR did in the period and which movement drove it.

    Parameters
    ----------
    now, prev : Series
        Rows of :func:`kpitools.metrics.revenue.revenue_metrics` for the period and the one before.
    """
    parts = {"new": now["new_mrr"], "reactivation": now["reactivation_mrr"],
             "expansion": now["expansion_mrr"], "contraction": -now["contraction_mrr"],
             "churn": -now["churned_mrr"]}
    direction = "rose" if now["net_new_mrr"] > 0 else ("fell" if now["net_new_mrr"] < 0 else "held")
    text = (f"MRR {direction} to **{format_value('mrr', now['mrr'])}** at the end of {now['period']} "
            f"({change_words(now['mrr'], now['mrr_start'])}): net new MRR of "
            f"**{format_value('net_new_mrr', now['net_new_mrr'], signed=True)}** is new "
            f"{format_value('mrr', now['new_mrr'])} from {counted(now['new_customers'], 'new customer')}, "
            f"reactivation {format_value('mrr', now['reactivation_mrr'])}, expansion "
            f"{format_value('mrr', now['expansion_mrr'])}, less contraction "
            f"{format_value('mrr', now['contraction_mrr'])} and churn "
            f"{format_value('mrr', now['churned_mrr'])} from {counted(now['churned_customers'], 'customer')}.")
    if prev is not None:
        deltas = {k: parts[k] - v for k, v in {
            "new": prev["new_mrr"], "reactivation": prev["reactivation_mrr"],
            "expansion": prev["expansion_mrr"], "contraction": -prev["contraction_mrr"],
            "churn": -prev["churned_mrr"]}.items()}
        driver = max(deltas, key=lambda k: abs(deltas[k]))
        diff = now["net_new_mrr"] - prev["net_new_mrr"]
        text += (f" Net new MRR was {format_value('mrr', abs(diff))} "
                 f"{'higher' if diff >= 0 else 'lower'} than in {prev['period']}; the largest "
                 f"change was in {driver} ({format_value('mrr', deltas[driver], signed=True)} "
                 f"to net new MRR).")
    return text


def churn_story(now: pd.Series, prev: pd.Series | None = None) -> str:
    """Customer churn, MRR churn and net revenue retention in words."""
    text = (f"Customer churn was **{_pct(now['customer_churn_rate'])}** "
            f"({now['churned_customers']:,} of {now['customers_start']:,} customers)")
    if prev is not None:
        text += f", {change_words(now['customer_churn_rate'], prev['customer_churn_rate'], rate=True)}"
    text += (f". Gross MRR churn was {_pct(now['gross_mrr_churn_rate'])} and net MRR churn "
             f"{_pct(now['net_mrr_churn_rate'])}")
    if now["net_mrr_churn_rate"] < 0:
        text += " (negative churn: expansion outgrew the losses)"
    text += (f"; NRR {_pct(now['nrr'])}, GRR {_pct(now['grr'])}, and over twelve months NRR "
             f"{format_value('nrr_12m', now['nrr_12m'])}.")
    return text


def unit_economics_story(values: dict) -> str:
    """CAC, LTV, LTV:CAC and payback of the period in words."""
    if pd.isna(values.get("cac")) or pd.isna(values.get("ltv")):
        return ("LTV:CAC cannot be computed for this period: " +
                ("no spend table." if pd.isna(values.get("sm_spend")) else
                 "see the notes on missing values below."))
    verdict = ("above the common 3:1 benchmark" if values["ltv_cac"] >= 3 else
               "below the common 3:1 benchmark" if values["ltv_cac"] >= 1 else
               "below 1: acquisition does not pay for itself")
    return (f"A new customer cost **{format_value('cac', values['cac'])}** (blended CAC) and is "
            f"worth **{format_value('ltv', values['ltv'])}** over its expected lifetime, an "
            f"LTV:CAC of **{values['ltv_cac']:.1f}**, {verdict}; its margin repays the CAC in "
            f"{format_value('cac_payback_months', values['cac_payback_months'])}.")


def channel_story(table: pd.DataFrame, *, months: int, by: str = "channel") -> str:
    """Which channel pays back best and worst, from :func:`kpitools.metrics.economics.unit_economics_by`."""
    rated = table.dropna(subset=["ltv_cac"])
    if rated.empty:
        return f"No {by} has both a CAC and an LTV over the last {months} months."
    best, worst = rated.iloc[0], rated.iloc[-1]
    text = (f"Over the last {months} months, **{escape(best[by])}** has the best LTV:CAC "
            f"({best['ltv_cac']:.1f}, payback {format_value('cac_payback_months', best['payback_months'])}, "
            f"churn {_pct(best['churn_rate'])} a month) and **{escape(worst[by])}** the worst "
            f"({worst['ltv_cac']:.1f}, CAC {format_value('cac', worst['cac'])}, payback "
            f"{format_value('cac_payback_months', worst['payback_months'])}).")
    losing = rated[rated["ltv_cac"] < 1][by]
    if len(losing):
        text += (" " + ", ".join(f"**{escape(c)}**" for c in losing) +
                 (" does" if len(losing) == 1 else " do") + " not recover its acquisition cost.")
    priced = table.dropna(subset=["cac"]).sort_values("cac")
    if len(priced) > 1 and priced.iloc[0]["cac"] > 0:
        high, low = priced.iloc[-1], priced.iloc[0]
        text += (f" The highest CAC ({escape(high[by])}, {format_value('cac', high['cac'])}) is "
                 f"{high['cac'] / low['cac']:.0f} times the lowest ({escape(low[by])}, "
                 f"{format_value('cac', low['cac'])}).")
    return text


def segment_story(table: pd.DataFrame, *, by: str = "segment") -> str:
    """Which group expands (NRR above 100 %) and which shrinks, from
    :func:`kpitools.metrics.revenue.retention_by`."""
    rated = table.dropna(subset=["nrr_12m"]).sort_values("nrr_12m", ascending=False)
    if rated.empty:
        return f"No {by} has twelve months of history yet."
    growing = rated[rated["nrr_12m"] > 1]
    shrinking = rated[rated["nrr_12m"] < 1]
    parts = []
    if len(growing):
        parts.append(", ".join(f"**{escape(r[by])}** ({_pct(r['nrr_12m'])})" for _, r in growing.iterrows())
                     + " expand: their accounts of a year ago pay more now than then")
    if len(shrinking):
        parts.append(", ".join(f"**{escape(r[by])}** ({_pct(r['nrr_12m'])})" for _, r in shrinking.iterrows())
                     + " shrink: churn and downgrades outweigh upgrades")
    return "Twelve-month net revenue retention by " + by + ": " + "; ".join(parts) + "."


def cohort_story(tidy: pd.DataFrame, *, age: int = 3, recent: int = 3) -> str:
    """How the newest cohorts that have reached ``age`` periods compare with those a year
    (or as far back as the data goes) older, at the same age."""
    complete = ~tidy["partial"] if "partial" in tidy else True
    at_age = tidy[(tidy["period_number"] == age) & complete].sort_values("cohort")
    if len(at_age) < 2 * recent:
        return f"Too few cohorts have reached {age} periods to compare new with old."
    new = at_age.iloc[-recent:]
    # the same cohorts a year earlier when the data reaches back that far, else the oldest
    old = at_age.iloc[-recent - 12:-12] if len(at_age) >= recent + 12 else at_age.iloc[:recent]
    new_rate = new["active"].sum() / new["cohort_size"].sum()
    old_rate = old["active"].sum() / old["cohort_size"].sum()
    verdict = ("better than" if new_rate > old_rate + 0.01 else
               "worse than" if new_rate < old_rate - 0.01 else "about the same as")
    return (f"The newest cohorts that have reached period {age} ({new['cohort'].iloc[0]} to "
            f"{new['cohort'].iloc[-1]}) kept **{_pct(new_rate)}** of their members, {verdict} the "
            f"{_pct(old_rate)} of the cohorts {old['cohort'].iloc[0]} to {old['cohort'].iloc[-1]} at "
            f"the same age ({change_words(new_rate, old_rate, rate=True)}).")


def group_retention_story(curves: pd.DataFrame, *, age: int, by: str = "channel") -> str:
    """Which group retains best and worst at ``age`` periods, from
    :func:`kpitools.metrics.retention.group_curves`."""
    at = curves[curves["period_number"] == age].sort_values("retention", ascending=False)
    if len(at) < 2:
        return f"Too few {by} groups have reached {age} periods to compare."
    best, worst = at.iloc[0], at.iloc[-1]
    return (f"After {age} periods, **{escape(best['group'])}** customers retain best "
            f"(**{_pct(best['retention'])}** of {int(best['cohort_size']):,}) and "
            f"**{escape(worst['group'])}** worst ({_pct(worst['retention'])} of "
            f"{int(worst['cohort_size']):,}).")


def lifetime_text(median: float, observed: int, unit: str = "month") -> str:
    """A median lifetime as far as the data supports it: ``"about 14 months"`` within the
    periods observed, ``"beyond 23 months"`` past them (a fit says little beyond its data)."""
    if median != median:
        return "—"
    if _beyond(median, observed):
        return f"beyond {observed} {_plural(observed, unit)}"
    return f"about {median:.0f} {_plural(round(median), unit)}"


def _beyond(median: float, observed: int) -> bool:
    """A median lifetime past the periods the fit has seen (or never reached)."""
    return median == float("inf") or median > observed


def _plural(n: int, word: str) -> str:
    return word if n == 1 else f"{word}s"


def counted(n: float, noun: str) -> str:
    """A count with its noun in the right number: ``"1 new customer"``, ``"1,204 users"``."""
    n = int(n)
    return f"{n:,} {_plural(n, noun)}"


def projection_story(model, *, unit: str = "month", ltv: float | None = None, observed: int | None = None,
                     customers: int | None = None, cohorts: int | None = None) -> str:
    """What the fitted sBG model implies for lifetime, and what it rests on: ``customers``
    in ``cohorts`` observed for up to ``observed`` periods (a median beyond them is
    "beyond N")."""
    median = model.median_lifetime()
    if observed is None:
        half = "never within the horizon" if median == float("inf") else f"after about {median:.0f} {unit}s"
        half = f"Half of a cohort is gone {half}."
    elif _beyond(median, observed):
        half = (f"More than half of a cohort is still there after {observed} {_plural(observed, unit)}, as far as "
                f"the data reaches; the model's median lifetime lies beyond that, where it cannot be checked.")
    else:
        half = f"Half of a cohort is gone after about {median:.0f} {_plural(round(median), unit)}."
    rests = ""
    if customers is not None and cohorts is not None and observed is not None:
        rests = (f"The model is fitted to {customers:,} {_plural(customers, 'customer')} in {cohorts:,} "
                 f"{_plural(cohorts, 'cohort')}, observed for up to {observed} {_plural(observed, unit)}. ")
    text = (f"{rests}The retention model (shifted-beta-geometric, alpha {model.alpha:.2f}, beta "
            f"{model.beta:.2f}) expects a new customer to churn in its first {unit} with probability "
            f"{_pct(model.mean_churn_rate)}, and those who stay to become steadily more loyal: "
            f"retention rises from {_pct(model.retention(1)[0])} in the first {unit} to "
            f"{_pct(model.retention(24)[-1])} by the 24th. {half}")
    if ltv is not None and ltv == ltv:
        text += f" Discounted at 10 % a year, that lifetime is worth **{format_value('ltv', ltv)}** per customer."
    return text


def funnel_story(flow: pd.DataFrame, *, view: str = "period flow") -> str:
    """The step that loses the largest share of the previous step."""
    steps = flow.dropna(subset=["rate_from_previous"])
    if steps.empty:
        return "The funnel is empty for this period."
    worst = steps.loc[steps["rate_from_previous"].idxmin()]
    position = flow.index.get_loc(worst.name)
    before = flow.iloc[position - 1]["stage"]
    return (f"In the {view}, the largest drop-off is from **{escape(before)}** to "
            f"**{escape(worst['stage'])}**: only {_pct(worst['rate_from_previous'])} move on "
            f"({int(worst['count']):,} of {int(flow.iloc[position - 1]['count']):,}).")


def channel_move_story(table: pd.DataFrame, rate: str = "visitor_to_lead_rate", *,
                       label: str = "visitor-to-lead conversion") -> str:
    """The channel whose conversion moved most against the previous period, in points."""
    moved = table.dropna(subset=[f"{rate}_change_pts"])
    if moved.empty:
        return f"No channel has {label} in both periods."
    row = moved.loc[moved[f"{rate}_change_pts"].abs().idxmax()]
    return (f"**{escape(row['channel'])}** moved most: its {label} went from "
            f"{_pct(row[f'{rate}_prev'])} to {_pct(row[rate])} "
            f"({row[f'{rate}_change_pts']:+.1f} points).")


def divergence_story(now: dict, prev: dict, *, traffic: str = "visitors",
                     rate: str = "visitor_to_lead_rate") -> str:
    """Warn when traffic rises while conversion falls (or the reverse)."""
    if any(pd.isna(x) for x in (now.get(traffic), prev.get(traffic), now.get(rate), prev.get(rate))) \
            or not prev.get(traffic):
        return ""
    traffic_change = now[traffic] / prev[traffic] - 1
    points = (now[rate] - prev[rate]) * 100
    if traffic_change > 0.02 and points < -0.05:
        return (f"**Traffic rose while conversion fell**: unique visitors up {traffic_change:.1%}, "
                f"visitor-to-lead conversion down {abs(points):.1f} points. More visits are not "
                "turning into more leads: check the quality of the new traffic before celebrating it.")
    if traffic_change < -0.02 and points > 0.05:
        return (f"Traffic fell {abs(traffic_change):.1%} while visitor-to-lead conversion rose "
                f"{points:.1f} points: fewer, better visitors.")
    return ""


def engagement_story(now: dict, prev: dict, life: pd.DataFrame) -> str:
    """Whether engagement grows with the user base or only with signups."""
    if not prev or pd.isna(prev.get("mau")) or not prev.get("mau"):
        return "No earlier period to compare engagement with."
    mau = change_words(now["mau"], prev["mau"])
    stick = change_words(now["stickiness"], prev["stickiness"], rate=True)
    last = life.iloc[-1]
    share_new = last["new"] / last["active"] if last["active"] else float("nan")
    text = (f"MAU was **{now['mau']:,.0f}** ({mau}) and stickiness (DAU/MAU) **{_pct(now['stickiness'])}** "
            f"({stick}). New users make up {_pct(share_new)} of this period's active users; "
            f"{counted(abs(int(last['dormant'])), 'user')} of the previous period went dormant.")
    if now["mau"] > prev["mau"] and now["stickiness"] < prev["stickiness"]:
        text += (" **Engagement is growing with signups, not with use**: more users, each coming back "
                 "less often.")
    elif now["mau"] > prev["mau"]:
        text += " The user base grows and its members come back at least as often."
    return text


def feature_story(table: pd.DataFrame, previous: pd.DataFrame | None = None) -> str:
    """Which features carry engagement, and which is rising fastest."""
    if table.empty:
        return "No feature use was recorded in the period."
    ranked = table.sort_values("adoption", ascending=False)
    top = ", ".join(f"**{escape(r.feature)}** ({_pct(r.adoption)})" for r in ranked.head(3).itertuples())
    text = f"The most used features are {top} of monthly active users."
    if previous is not None and not previous.empty:
        merged = ranked.merge(previous[["feature", "adoption"]], on="feature", suffixes=("", "_prev"))
        merged["change"] = merged["adoption"] - merged["adoption_prev"]
        if len(merged) and merged["change"].max() >= 0.0005:
            riser = merged.loc[merged["change"].idxmax()]
            text += (f" **{escape(riser['feature'])}** rose most, "
                     f"{change_words(riser['adoption'], riser['adoption_prev'], rate=True)}.")
        elif len(merged):
            text += " No feature's adoption rose on the previous period."
    return text


def onboarding_story(steps: pd.DataFrame) -> str:
    """The onboarding step that keeps the smallest share of the step before it, from
    :func:`kpitools.metrics.activation.onboarding_steps`."""
    later = steps.iloc[1:].dropna(subset=["rate_from_previous"])
    if later.empty:
        return "No onboarding steps were recorded for this period's signups."
    worst = later.sort_values("rate_from_previous").iloc[0]
    return (f"Onboarding loses most people at **{escape(worst['step'])}**: {_pct(worst['rate_from_previous'])} "
            "of those who reached the step before went on.")
