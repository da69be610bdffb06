"""The KPI catalogue: each key's label, unit, direction and definition, in one place.

Reports format values, colour changes and write their glossary from here, so
the definition printed beside a number is the one the code computes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

__all__ = ["Kpi", "CATALOG", "kpi", "format_value", "unsigned_zero", "glossary", "glossary_markdown"]


@dataclass(frozen=True)
class Kpi:
    key: str
    label: str
    unit: str  # money, count, rate (a share shown as %), ratio, months
    higher_is_better: bool | None
    definition: str


def _k(key, label, unit, better, definition) -> Kpi:
    return Kpi(key, label, unit, better, definition)


CATALOG: dict[str, Kpi] = {k.key: k for k in [
    _k("mrr", "MRR", "money", True,
       "Monthly recurring revenue: the sum of every account's MRR on the period's last day. An "
       "account's MRR on a day is the sum of `mrr` of its subscription spans active that day "
       "(`start_date <= day < end_date`; an empty `end_date` is still active)."),
    _k("arr", "ARR", "money", True, "12 x MRR."),
    _k("customers", "Customers", "count", True, "Accounts with MRR > 0 on the period's last day."),
    _k("arpu", "ARPU", "money", True, "MRR / customers (ARPU = ARPA: revenue per paying account)."),
    _k("new_mrr", "New MRR", "money", True,
       "MRR on the period's last day of accounts that paid nothing on the previous period's last "
       "day and had never paid before this period began."),
    _k("expansion_mrr", "Expansion MRR", "money", True,
       "Increase of accounts paying more than on the previous period's last day (0 < prev < cur)."),
    _k("contraction_mrr", "Contraction MRR", "money", False,
       "Decrease of accounts still paying but less than on the previous period's last day "
       "(0 < cur < prev), as a positive amount."),
    _k("churned_mrr", "Churned MRR", "money", False,
       "MRR on the previous period's last day of accounts paying nothing on this period's last day."),
    _k("reactivation_mrr", "Reactivation MRR", "money", True,
       "MRR of accounts that paid nothing on the previous period's last day but had paid before "
       "this period began (win-backs)."),
    _k("net_new_mrr", "Net new MRR", "money", True,
       "new + reactivation + expansion - contraction - churned; always equals MRR minus the "
       "previous period's MRR (the MRR bridge)."),
    _k("new_customers", "New customers", "count", True, "Accounts in the new class."),
    _k("churned_customers", "Churned customers", "count", False, "Accounts in the churned class."),
    _k("reactivated_customers", "Reactivated customers", "count", True,
       "Accounts in the reactivation class."),
    _k("customer_churn_rate", "Customer churn", "rate", False,
       "Churned customers / customers on the previous period's last day. For a quarter: accounts "
       "paying on the last day before it that pay nothing on its last day, over those paying then."),
    _k("gross_mrr_churn_rate", "Gross MRR churn", "rate", False,
       "(churned MRR + contraction MRR) / MRR on the previous period's last day."),
    _k("net_mrr_churn_rate", "Net MRR churn", "rate", False,
       "(churned MRR + contraction MRR - expansion MRR) / previous MRR; negative is negative churn."),
    _k("nrr", "NRR", "rate", True,
       "Net revenue retention: over the accounts paying on the previous period's last day, their "
       "MRR now / their MRR then."),
    _k("grr", "GRR", "rate", True,
       "Gross revenue retention: as NRR with each account's MRR now capped at its MRR then."),
    _k("nrr_12m", "NRR (12 months)", "rate", True,
       "NRR over the accounts paying twelve months before the period's last day."),
    _k("quick_ratio", "Quick ratio", "ratio", True,
       "(new + reactivation + expansion MRR) / (churned + contraction MRR)."),
    _k("retention_rate", "Customer retention (CRR)", "rate", True,
       "(E - N) / S: E customers at the end, S at the start (the previous period's last day), N "
       "customers gained in the period. N counts new and reactivated customers, so E - N is the "
       "customers kept from S."),
    _k("early_churn_rate", "Early churn", "rate", False,
       "Of the accounts whose first paid day was 3 to 6 months before the period's end, the share "
       "whose first continuous paid run ended within 90 days of that day."),
    _k("sm_spend", "S&M spend", "money", None, "Marketing + sales spend dated in the period, all channels."),
    _k("marketing_spend", "Marketing spend", "money", None, "Spend with category `marketing` in the period."),
    _k("sales_spend", "Sales spend", "money", None, "Spend with category `sales` in the period."),
    _k("cac", "CAC", "money", False, "Blended customer acquisition cost: S&M spend / new customers."),
    _k("paid_cac", "Paid CAC", "money", False,
       "Spend of channels other than `none` / new customers acquired through those channels."),
    _k("revenue", "Revenue", "money", True,
       "Revenue earned in the period: the sum over its days of MRR that day / days in that "
       "day's month (a month of a span earns its MRR)."),
    _k("cost_to_serve", "Cost to serve", "money", False, "Costs dated in the period, all categories."),
    _k("cost_to_serve_per_customer", "Cost to serve per customer", "money", False,
       "Cost to serve / customers at the period's end."),
    _k("gross_margin", "Gross margin", "rate", True, "(revenue - cost to serve) / revenue."),
    _k("ltv", "LTV", "money", True,
       "ARPU x gross margin / monthly customer churn, the churn being the mean of the monthly "
       "customer churn rates of the three months ending with the period's last month. Without "
       "a costs table the margin is 1 (the seed formula LTV = ARPU / churn). No churn: missing."),
    _k("ltv_lifespan", "LTV (lifespan)", "money", True,
       "Average revenue per customer per month (revenue / mean of start and end customers / months "
       "in the period) x average lifespan in months (1 / the same churn)."),
    _k("ltv_projected", "LTV (projected)", "money", True,
       "Discounted revenue per customer over the survival curve projected by the retention "
       "model (shifted-beta-geometric), 10 % a year."),
    _k("ltv_cac", "LTV:CAC", "ratio", True, "LTV / CAC."),
    _k("cac_payback_months", "CAC payback", "months", False,
       "CAC / (new MRR / new customers x gross margin): months of a new customer's margin that "
       "repay its acquisition."),
    _k("marketing_roi", "Marketing ROI", "ratio", True,
       "(new customers x LTV - S&M spend) / S&M spend."),
    _k("profit_after_sm", "Profit after S&M", "money", True,
       "Revenue - cost to serve - S&M spend in the period."),
    _k("visitors", "Unique visitors", "count", True,
       "Distinct users with a `page_view` event in the period."),
    _k("contacts", "Contacts", "count", True, "Leads whose `created_at` falls in the period."),
    _k("leads", "Leads", "count", True, "Leads whose `lead_at` falls in the period."),
    _k("mqls", "MQLs", "count", True, "Leads whose `mql_at` falls in the period."),
    _k("sals", "SALs", "count", True, "Leads whose `sal_at` falls in the period."),
    _k("sqls", "SQLs", "count", True, "Leads whose `sql_at` falls in the period."),
    _k("customers_won", "Customers won", "count", True, "Leads whose `won_at` falls in the period."),
    _k("visitor_to_lead_rate", "Visitor to lead", "rate", True,
       "Leads / unique visitors, both counted in the period (period flow)."),
    _k("lead_to_sql_rate", "Lead to SQL", "rate", True,
       "Cohort conversion: of the contacts created in the period that became leads within 90 days "
       "of becoming a contact, the share that also became SQLs within those 90 days. A stage counts "
       "as reached when it or a later one was (CRMs skip stages)."),
    _k("lead_to_customer_rate", "Lead to customer", "rate", True,
       "Cohort conversion: the share of those leads won as customers within the 90 days."),
    _k("mql_to_sql_rate", "MQL to SQL", "rate", True,
       "Cohort conversion: of the period's contacts that became MQLs within 90 days, the share that "
       "became SQLs within them."),
    _k("visitor_to_trial_rate", "Visitor to trial", "rate", True,
       "Users with a `trial_started` event in the period / unique visitors."),
    _k("trial_to_pql_rate", "Trial to PQL", "rate", True,
       "Of the period's trial users, the share with an `activated` event within 90 days after starting "
       "(an activation before the trial does not count)."),
    _k("trial_to_paid_rate", "Trial to paid", "rate", True,
       "Of the period's trial users, the share whose account's first paid day falls within 90 days "
       "(without subscriptions: a `purchase` event)."),
    _k("pipeline_volume", "Open pipeline", "count", True,
       "Opportunities created before the period's end and not closed by then."),
    _k("weighted_pipeline", "Weighted pipeline", "money", True,
       "Sum of amount x probability of those open opportunities. Probabilities are as recorded now: "
       "an opportunity closed since carries its outcome (1 won, 0 lost), so past values are the "
       "pipeline as it turned out."),
    _k("dau_avg", "DAU (average)", "count", True,
       "Mean over the period's days of the distinct users with at least one event that day (UTC). "
       "The common shortcut (a year's daily users summed and divided by its days) is this average."),
    _k("wau_avg", "WAU (average)", "count", True,
       "Mean over the ISO weeks whose Thursday falls in the period of the distinct users active in "
       "the week."),
    _k("mau", "MAU", "count", True,
       "Distinct users with an event in the period (a month); for a quarter, the mean of its three "
       "months. The common 'yearly sum of monthly users / 12' is the same mean over a year."),
    _k("stickiness", "Stickiness", "rate", True, "DAU (average) / MAU."),
    _k("new_users", "New users", "count", True, "Users whose first event ever falls in the period."),
    _k("product_adoption_rate", "Product adoption", "rate", True,
       "New users / MAU (above 100 % is possible for a quarter, whose MAU "
       "is a monthly mean)."),
    _k("activation_rate", "Activation", "rate", True,
       "Share of the users with a `signup` in the period that reach `activated` within 14 days."),
    _k("time_to_value_days", "Time to value", "number", False,
       "Median days from `signup` to the first `activated`, over the period's signups that activated."),
    _k("onboarding_view_rate", "Onboarding viewed", "rate", True,
       "Share of the period's signups with an `onboarding_viewed` event after signing up."),
    _k("onboarding_completion_rate", "Onboarding completed", "rate", True,
       "Of those, the share with `onboarding_completed`."),
    _k("sessions", "Sessions", "count", True,
       "Sessions starting in the period, cut from each user's events at 30 minutes of inactivity."),
    _k("pages_per_session", "Pages per session", "ratio", True,
       "`page_view` events / website sessions (sessions with at least one `page_view`)."),
    _k("clicks_per_session", "Clicks per session", "ratio", True, "`click` events / sessions."),
    _k("actions_per_session", "Actions per session", "ratio", True, "All events / sessions."),
    _k("avg_session_duration_s", "Session duration (s)", "number", True,
       "Mean of last event - first event over the sessions (a single-event session lasts 0 s)."),
    _k("bounce_rate", "Bounce rate", "rate", False,
       "Share of website sessions (with at least one `page_view`) made of exactly one event, a "
       "`page_view`; a session of product events alone cannot bounce."),
    _k("unique_visitors", "Unique visitors", "count", True, "Distinct users with a `page_view` in the period."),
    _k("time_on_site_s", "Time on site (s)", "number", True,
       "Mean duration of the sessions with at least one `page_view`."),
    _k("nps", "NPS", "number", True,
       "On the responses in the period: % of scores 9-10 minus % of scores 0-6 (-100 to 100)."),
    _k("promoters", "Promoters", "count", True, "Responses scoring 9 or 10."),
    _k("passives", "Passives", "count", None, "Responses scoring 7 or 8."),
    _k("detractors", "Detractors", "count", False, "Responses scoring 0 to 6."),
    _k("webinar_attendees", "Webinar attendees", "count", True,
       "Users with a `webinar_attended` event plus channel_metrics `webinar_attendees`, in the period."),
    _k("social_engagements", "Social engagements", "count", True,
       "Sum of channel_metrics `engagements` in the period."),
]}


def kpi(key: str) -> Kpi:
    """The catalogue entry of a key (a plain entry for an unknown key)."""
    return CATALOG.get(key, Kpi(key, key.replace("_", " ").capitalize(), "number", None, ""))


def format_value(key: str, value: float | None, *, signed: bool = False) -> str:
    """A value as a report shows it: money with thousands separators, rates as %."""
    if value is None or pd.isna(value):
        return "—"
    unit = kpi(key).unit
    sign = "+" if signed else ""
    if unit == "rate":
        return unsigned_zero(f"{value:{sign}.1%}")
    if unit == "count":
        return unsigned_zero(f"{value:{sign},.0f}")
    if unit == "number":
        return unsigned_zero(f"{value:{sign},.1f}")
    if unit in ("ratio", "months"):
        return unsigned_zero(f"{value:{sign},.1f}") + (" mo" if unit == "months" else "")
    return unsigned_zero(f"{value:{sign},.0f}")


def unsigned_zero(text: str) -> str:
    """A formatted number that shows as zero without a sign: ``"-0"`` and ``"+0.0%"`` (a
    tiny movement, or minus zero) read as ``"0"`` and ``"0.0%"``."""
    if text[:1] in "+-" and not any(ch in "123456789" for ch in text):
        return text[1:]
    return text


def glossary(keys: Iterable[str]) -> pd.DataFrame:
    """Label and definition of each key, in the given order (columns ``kpi``, ``key``,
    ``definition``)."""
    rows = [{"kpi": kpi(k).label, "key": k, "definition": kpi(k).definition} for k in keys]
    return pd.DataFrame(rows, columns=["kpi", "key", "definition"])


# How every report reads its data, stated once at the end of each glossary.
READING_NOTES = (
    "- **(other)**: a breakdown shows the 12 values of a category (channel, segment, plan, feature) "
    "with the most rows and groups every other value as *(other)*; totals are unchanged.\n"
    "- **—**: a value that cannot be computed (no base to divide by, no earlier period); never shown "
    "as zero.\n"
    "- **Dates**: periods are half-open intervals in UTC; an `end_date` of 9999-12-31 means the "
    "subscription is open; dates outside 1900 to 2200 and times later than the run are rejected.\n"
    "- **Names** of channels, plans, features and the like are shown exactly as the data writes them, "
    "as plain text.")


def glossary_markdown(keys: Iterable[str], *, notes: bool = True) -> str:
    """The glossary as a Markdown list: **label** (`key`): definition, followed by the
    :data:`READING_NOTES` (unless ``notes=False``)."""
    lines = [f"- **{kpi(k).label}** (`{k}`): {kpi(k).definition}" for k in keys]
    return "\n".join(lines + ([READING_NOTES] if notes else []))
