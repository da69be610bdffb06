"""Unit economics: revenue in a period, gross margin, CAC, LTV three ways, LTV:CAC,
payback, cost to serve, marketing ROI and profit after sales and marketing;
in total and by acquisition channel or segment.

Every ratio over zero is a missing value (NaN in tables, None in ``kpis.json``)
and :func:`missing_notes` says why, never infinity and never an exception.
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import numpy as np
import pandas as pd
from ibis import _

from ..engine import Table, in_periods, in_range, run, table, windows
from ..periods import Period, parse_periods
from .mrr import paid_spans, period_accounts
from .retention import pooled_models, projected_ltv
from .revenue import ratio, revenue_metrics
from .spend import cost_history, spend_history

__all__ = ["UNIT_KEYS", "recognised_revenue", "revenue_query", "churn_average", "churn_averages", "unit_economics",
           "unit_economics_history",
           "missing_notes", "unit_economics_by", "ltv_estimates"]

UNIT_KEYS = (
    "sm_spend", "marketing_spend", "sales_spend", "cac", "paid_cac", "revenue", "cost_to_serve",
    "cost_to_serve_per_customer", "gross_margin", "ltv", "ltv_lifespan", "ltv_projected", "ltv_cac",
    "cac_payback_months", "marketing_roi", "profit_after_sm",
)


def revenue_query(subscriptions: Table, *, periods: Sequence[Period | str]) -> ibis.Table:
    """The expression of :func:`recognised_revenue` for each period (``period``, ``revenue``).

    Each period is cut into its calendar months (a quarter into three, a week into the one
    or two it touches); each paying span earns ``mrr x days it is active in the part /
    days in the part's month``, summed per period.
    """
    parts = []
    for p in (Period.parse(x) for x in periods):
        month = Period.containing(p.start, "M")
        while month.start < p.end:
            lo, hi = max(month.start, p.start), min(month.end, p.end)
            parts.append((str(p), str(month.days), lo, hi))
            month = month.shift(1)
    pieces = windows(parts)
    s = table(subscriptions, "subscriptions")
    spans = s.filter(s.mrr > 0).select("start_date", "end_date", "mrr")
    joined = spans.join(pieces, [spans.start_date < pieces.end,
                                 spans.end_date.isnull() | (spans.end_date > pieces.start)])
    first = (joined.start_date > joined.start).ifelse(joined.start_date, joined.start)
    last = (joined.end_date.notnull() & (joined.end_date < joined.end)).ifelse(joined.end_date, joined.end)
    days = last.delta(first, unit="day")
    earned = joined.mrr * days / joined.window.cast("float64")
    return joined.group_by("period").agg(revenue=earned.sum())


def recognised_revenue(subscriptions: Table, *, period: Period | str) -> float:
    """Revenue earned in a period from subscription spans.

    .. math:: R = \\sum_{d \\in \\text{period}} \\mathrm{MRR}(d) / \\text{days in the month of } d

    so a full month of a 100 MRR span earns 100, half of a 30-day month 50, and
    a quarter of it 300.
    """
    out = run(revenue_query(subscriptions, periods=[period]))["revenue"]
    return float(out.iloc[0]) if len(out) and pd.notna(out.iloc[0]) else 0.0


def churn_average(subscriptions: Table, *, period: Period | str, months: int = 3) -> float:
    """Mean of the monthly customer churn rates over the ``months`` months ending with the
    month that holds the period's last day (for a quarter: its own three months)."""
    return churn_averages(subscriptions, periods=[period], months=months)[str(Period.parse(period))]


def churn_averages(subscriptions: Table, *, periods: Sequence[Period | str], months: int = 3) -> dict[str, float]:
    """:func:`churn_average` of each period, from one bridge over every month they need."""
    windows_of = {str(p): Period.containing(Period.parse(p).last_day, "M").last_n(months) for p in periods}
    # the periods themselves too: the same bridge then serves unit_economics_history whole
    needed = sorted({m for ms in windows_of.values() for m in ms} | {Period.parse(p) for p in periods})
    rates = revenue_metrics(subscriptions, periods=needed).set_index("period")["customer_churn_rate"]
    out = {}
    for name, ms in windows_of.items():
        values = rates.reindex([str(m) for m in ms])
        out[name] = float(values.mean()) if values.notna().any() else float("nan")
    return out


def unit_economics(
    subscriptions: Table,
    *,
    period: Period | str,
    accounts: Table | None = None,
    spend: Table | None = None,
    costs: Table | None = None,
    churn_months: int = 3,
    discount: float = 0.10,
) -> dict[str, float]:
    """The Unit-economics keys of the spec for one period: a row of
    :func:`unit_economics_history` as a dict."""
    return unit_economics_history(subscriptions, periods=[period], accounts=accounts, spend=spend, costs=costs,
                                  churn_months=churn_months, discount=discount)[str(Period.parse(period))]


def unit_economics_history(
    subscriptions: Table,
    *,
    periods: Sequence[Period | str],
    accounts: Table | None = None,
    spend: Table | None = None,
    costs: Table | None = None,
    churn_months: int = 3,
    discount: float = 0.10,
) -> dict[str, dict[str, float]]:
    """The Unit-economics keys of the spec for each period (``{period: values}``), every
    family of inputs computed for all the periods at once.

    Parameters
    ----------
    subscriptions : Ibis table or DataFrame
        The contract's subscriptions table.
    periods : sequence of Period or str
    accounts, spend, costs : Ibis table or DataFrame, optional
        Without ``spend`` the spend, CAC, LTV:CAC, payback and ROI keys are NaN;
        without ``costs`` the gross margin is NaN and LTV uses a margin of 1 (the
        seed formula LTV = ARPU / churn); without ``accounts`` ``paid_cac`` is NaN.
    churn_months : int
        Months averaged for the churn in LTV (default 3, as the spec says).

    Returns
    -------
    dict
        Per period: ``revenue`` (:func:`recognised_revenue`), ``cost_to_serve``,
        ``cost_to_serve_per_customer`` (/ customers at the end),
        ``gross_margin`` = (revenue - cost_to_serve) / revenue,
        ``sm_spend``, ``marketing_spend``, ``sales_spend``,
        ``cac`` = sm_spend / new_customers,
        ``paid_cac`` = spend of channels other than ``none`` / new customers from those channels,
        ``ltv`` = arpu x gross_margin / churn (mean monthly customer churn over ``churn_months``),
        ``ltv_lifespan`` = revenue per average customer per month x 1 / churn,
        ``ltv_projected`` = arpu x margin x the discounted expected lifetime of the sBG
        model fitted to all monthly revenue cohorts (:func:`kpitools.metrics.retention.projected_ltv`,
        ``discount`` a year),
        ``ltv_cac`` = ltv / cac, ``cac_payback_months`` = cac / (new_mrr / new_customers x gross_margin),
        ``marketing_roi`` = (new_customers x ltv - sm_spend) / sm_spend,
        ``profit_after_sm`` = revenue - cost_to_serve - sm_spend; and the inputs used:
        ``churn_rate_avg``, ``new_customers``, ``arpu``, ``new_arpu``.
    """
    periods = parse_periods(periods)
    churns = churn_averages(subscriptions, periods=periods, months=churn_months)
    needed = sorted({m for p in periods for m in Period.containing(p.last_day, "M").last_n(churn_months)}
                    | set(periods))
    revs = revenue_metrics(subscriptions, periods=needed).set_index("period")
    earned = run(revenue_query(subscriptions, periods=periods)).set_index("period")["revenue"]
    models = pooled_models(subscriptions, through=periods)
    spent = spend_history(spend, periods=periods).set_index("period") if spend is not None else None
    cost = None
    if costs is not None:
        cost = cost_history(costs, periods=periods).set_index("period")["cost_to_serve"]
    paid = None
    if spend is not None and accounts is not None:
        paid = run(paid_cac_query(subscriptions, accounts, spend, periods=periods)).set_index("period")
    nan = float("nan")
    result = {}
    for period in periods:
        name = str(period)
        rev = revs.loc[name]
        out: dict[str, float] = dict.fromkeys(UNIT_KEYS, nan)
        revenue = float(earned.get(name, 0.0)) if pd.notna(earned.get(name, 0.0)) else 0.0
        churn = churns[name]
        new, arpu = int(rev["new_customers"]), float(rev["arpu"])
        new_arpu = ratio(rev["new_mrr"], new)
        out.update(revenue=revenue, churn_rate_avg=churn, new_customers=new, arpu=arpu, new_arpu=new_arpu)
        margin_used = 1.0
        if cost is not None:
            total = float(cost.get(name, 0.0))
            customers = int(rev["customers"])
            out["cost_to_serve"] = total
            out["cost_to_serve_per_customer"] = total / customers if customers else nan
            out["gross_margin"] = ratio(revenue - total, revenue)
            margin_used = out["gross_margin"]
        avg_customers = (rev["customers_start"] + rev["customers"]) / 2
        per_customer_month = ratio(revenue, avg_customers * period.months)
        out["ltv"] = ratio(arpu * margin_used, churn) if churn == churn else nan
        out["ltv_lifespan"] = ratio(per_customer_month, churn) if churn == churn else nan
        if arpu == arpu and models[name] is not None:
            out["ltv_projected"] = projected_ltv(models[name], monthly_margin=arpu * margin_used,
                                                 annual_discount=discount)
        if spent is not None:
            out.update(spent.loc[name].to_dict())
            out["cac"] = ratio(out["sm_spend"], new)
            if paid is not None:
                out["paid_cac"] = (ratio(paid.loc[name, "paid_spend"], paid.loc[name, "from_paid"])
                                   if name in paid.index else nan)
            out["ltv_cac"] = ratio(out["ltv"], out["cac"]) if out["cac"] == out["cac"] else nan
            out["cac_payback_months"] = ratio(out["cac"], new_arpu * margin_used)
            out["marketing_roi"] = ratio(new * out["ltv"] - out["sm_spend"], out["sm_spend"])
            if cost is not None:
                out["profit_after_sm"] = revenue - out["cost_to_serve"] - out["sm_spend"]
        result[name] = out
    return result


def paid_cac_query(subscriptions: Table, accounts: Table, spend: Table, *,
                   periods: Sequence[Period | str]) -> ibis.Table:
    """Per period: ``paid_spend`` (spend of channels other than ``none``) and ``from_paid``
    (new customers of the period whose account's channel had such spend in it)."""
    periods = parse_periods(periods)
    rows = in_periods(spend, "date", periods)
    paid = rows.filter(rows.channel != "none")
    spent = paid.group_by("period").agg(paid_spend=_.amount.sum())
    channels = paid.select("period", paid_channel="channel").distinct()
    a = period_accounts(subscriptions, periods)
    new = a.filter((a.prev == 0) & (a.cur > 0) & ~a.paid_before).select("period", "account_id")
    acc = table(accounts, "accounts").select(owner="account_id", account_channel="channel")
    new = new.join(acc, new.account_id == acc.owner)
    won = new.join(channels, [new.period == channels.period, new.account_channel == channels.paid_channel])
    counted = won.group_by(won.period).agg(from_paid=_.count())
    return spent.left_join(counted, "period").select("period", "paid_spend", from_paid=_.from_paid.fill_null(0))


def missing_notes(values: dict[str, float | None]) -> dict[str, str]:
    """Why each missing unit-economics value is missing, in one line each."""

    def gone(key: str) -> bool:
        v = values.get(key)
        return v is None or v != v

    notes = {}
    churn, new = values.get("churn_rate_avg"), values.get("new_customers")
    if gone("sm_spend"):
        for key in ("sm_spend", "cac", "paid_cac", "ltv_cac", "cac_payback_months", "marketing_roi"):
            notes[key] = "no spend table: spend, CAC, LTV:CAC, payback and ROI need it"
    elif new == 0:
        for key in ("cac", "ltv_cac", "cac_payback_months"):
            notes[key] = "no new customers in the period: CAC is undefined"
    if gone("cost_to_serve"):
        notes["cost_to_serve"] = notes["gross_margin"] = "no costs table"
        notes["profit_after_sm"] = "needs the costs and spend tables"
    if churn == 0:
        for key in ("ltv", "ltv_lifespan", "ltv_cac", "marketing_roi"):
            notes[key] = "no customer churned in the averaging window: lifetime value is unbounded"
    elif churn is None or churn != churn:
        notes["ltv"] = notes["ltv_lifespan"] = "no paying customers to measure churn on"
    if gone("paid_cac") and "paid_cac" not in notes:
        notes["paid_cac"] = "needs accounts, and new customers from channels with spend"
    notes["ltv_projected"] = ("the retention model could not be fitted: it needs cohorts with at "
                              "least one later period and at least one churned customer")
    return {k: v for k, v in notes.items() if gone(k)}


def unit_economics_by(
    subscriptions: pd.DataFrame,
    accounts: pd.DataFrame,
    *,
    period: Period | str,
    by: str = "channel",
    spend: pd.DataFrame | None = None,
    gross_margin: float | None = None,
    months: int = 12,
) -> pd.DataFrame:
    """Unit economics per acquisition channel (or segment) over the trailing ``months``.

    A single month holds too few new and churned customers per channel for a
    stable CAC or churn rate, so this table pools the ``months`` months ending
    with the period: CAC = the group's spend over them / its new customers over
    them; churn = the mean monthly customer churn rate of the group's customers
    over them; ARPU at the period's end.

    Returns
    -------
    DataFrame
        One row per group: ``<by>``, ``customers``, ``mrr``, ``arpu``,
        ``new_customers``, ``new_mrr``, ``spend``, ``cac``, ``churn_rate``,
        ``ltv`` = arpu x margin / churn_rate, ``ltv_cac``,
        ``payback_months`` = cac / (new_mrr / new_customers x margin), ``note``.
        Spend is recorded by channel only: other groupings have no CAC.
    """
    period = Period.parse(period)
    window = Period.containing(period.last_day, "M").last_n(months)
    margin = 1.0 if gross_margin is None or gross_margin != gross_margin else gross_margin
    acc = table(accounts, "accounts")
    labels = acc.select(owner="account_id", label=acc[by].cast("string").fill_null("(none)"))

    def grouped(rows: ibis.Table) -> ibis.Table:
        joined = rows.left_join(labels, rows.account_id == labels.owner)
        return joined.mutate(group=joined.label.fill_null("(unknown)"))

    a = grouped(period_accounts(subscriptions, window))
    new = (a.prev == 0) & (a.cur > 0) & ~a.paid_before
    per = run(a.group_by(["period", "group"]).agg(
        at_start=(a.prev > 0).cast("int32").sum(), churned=((a.prev > 0) & (a.cur == 0)).cast("int32").sum(),
        new_customers=new.cast("int32").sum(), new_mrr=new.ifelse(a.cur, 0.0).sum(),
        customers=(a.cur > 0).cast("int32").sum(), mrr=a.cur.sum()))
    everyone = grouped(paid_spans(subscriptions).select("account_id").distinct())
    groups = sorted(run(everyone.select("group").distinct())["group"].astype(str))
    rates = per.assign(rate=per["churned"] / per["at_start"].where(per["at_start"] > 0))
    last = per[per["period"] == str(window[-1])].set_index("group")
    table_ = pd.DataFrame(index=pd.Index(groups, name=by))
    table_["customers"] = last["customers"].reindex(table_.index).fillna(0)
    table_["mrr"] = last["mrr"].reindex(table_.index).fillna(0.0).astype(float)
    sums = per.groupby("group")[["new_customers", "new_mrr"]].sum()
    table_["new_customers"] = sums["new_customers"].reindex(table_.index).fillna(0)
    table_["new_mrr"] = sums["new_mrr"].reindex(table_.index).fillna(0.0).astype(float)
    if spend is not None and by == "channel":
        rows = table(spend, "spend")
        rows = rows.filter(in_range(rows.date, window[0].start, window[-1].end))
        spent = run(rows.group_by("channel").agg(amount=_.amount.sum())).set_index("channel")["amount"]
        table_["spend"] = spent.reindex(table_.index).fillna(0.0).astype(float)
    else:
        table_["spend"] = np.nan
    table_["arpu"] = table_["mrr"] / table_["customers"].where(table_["customers"] > 0)
    table_["cac"] = table_["spend"] / table_["new_customers"].where(table_["new_customers"] > 0)
    table_["churn_rate"] = rates.groupby("group")["rate"].mean().reindex(table_.index).astype(float)
    table_["ltv"] = table_["arpu"] * margin / table_["churn_rate"].where(table_["churn_rate"] > 0)
    table_["ltv_cac"] = table_["ltv"] / table_["cac"]
    new_arpu = table_["new_mrr"] / table_["new_customers"].where(table_["new_customers"] > 0)
    table_["payback_months"] = table_["cac"] / (new_arpu * margin)
    table_["note"] = [_group_note(r, by, spend is not None) for r in table_.itertuples()]
    table_ = table_.reset_index()
    table_["customers"] = table_["customers"].astype(int)
    table_["new_customers"] = table_["new_customers"].astype(int)
    cols = [by, "customers", "mrr", "arpu", "new_customers", "new_mrr", "spend", "cac",
            "churn_rate", "ltv", "ltv_cac", "payback_months", "note"]
    return table_[cols].sort_values("ltv_cac", ascending=False, na_position="last", ignore_index=True)


def _group_note(row, by: str, has_spend: bool) -> str:
    notes = []
    if by != "channel":
        notes.append("spend is recorded by channel, not by " + by)
    elif not has_spend:
        notes.append("no spend table")
    elif row.new_customers == 0:
        notes.append("no new customers in the window")
    if row.churn_rate == 0:
        notes.append("no churn in the window: LTV unbounded")
    elif row.churn_rate != row.churn_rate:
        notes.append("no paying customers to measure churn on")
    return "; ".join(notes)



def ltv_estimates(values: dict) -> pd.DataFrame:
    """The three LTV estimates of :func:`unit_economics` side by side, each with its formula
    filled in with the period's numbers."""
    churn = values.get("churn_rate_avg")
    margin = values.get("gross_margin")
    margin = 1.0 if margin is None or margin != margin else margin
    churn_text = "—" if churn is None or churn != churn else f"{churn:.2%}"
    arpu = values.get("arpu")
    arpu_text = "—" if arpu is None or arpu != arpu else f"{arpu:,.0f}"
    rows = [
        ("ARPU x gross margin / churn", "ltv", f"{arpu_text} x {margin:.1%} / {churn_text}"),
        ("Revenue per customer-month x lifespan", "ltv_lifespan",
         f"revenue per customer-month x 1 / {churn_text}"),
        ("Projected from the retention curve", "ltv_projected",
         "ARPU x margin x discounted expected lifetime (sBG, 10 % a year)"),
    ]
    return pd.DataFrame([{"estimate": e, "key": k, "value": values.get(k), "formula": f} for e, k, f in rows])
