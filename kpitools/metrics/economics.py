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

from ..engine import Table, in_periods, run, table, windows
from ..periods import Period
from .mrr import mrr_grid
from .retention import pooled_models, projected_ltv
from .revenue import ratio, revenue_metrics
from .spend import spend_history

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
    s = table(subscriptions)
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
    needed = sorted({m for ms in windows_of.values() for m in ms})
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
    periods = [Period.parse(p) for p in periods]
    revs = revenue_metrics(subscriptions, periods=periods).set_index("period")
    earned = run(revenue_query(subscriptions, periods=periods)).set_index("period")["revenue"]
    churns = churn_averages(subscriptions, periods=periods, months=churn_months)
    models = pooled_models(subscriptions, through=periods)
    spent = spend_history(spend, periods=periods).set_index("period") if spend is not None else None
    cost = None
    if costs is not None:
        cost = run(in_periods(costs, "date", periods).group_by("period").agg(total=_.amount.sum()))
        cost = cost.set_index("period")["total"]
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
            if accounts is not None:
                out["paid_cac"] = _paid_cac(subscriptions, accounts, spend, period)
            out["ltv_cac"] = ratio(out["ltv"], out["cac"]) if out["cac"] == out["cac"] else nan
            out["cac_payback_months"] = ratio(out["cac"], new_arpu * margin_used)
            out["marketing_roi"] = ratio(new * out["ltv"] - out["sm_spend"], out["sm_spend"])
            if cost is not None:
                out["profit_after_sm"] = revenue - out["cost_to_serve"] - out["sm_spend"]
        result[name] = out
    return result


def _new_accounts(subscriptions: pd.DataFrame, period: Period) -> pd.Index:
    grid = mrr_grid(subscriptions, [period.previous().last_day, period.last_day])
    prev, cur = grid.iloc[:, 0], grid.iloc[:, 1]
    first = subscriptions[subscriptions["mrr"] > 0].groupby("account_id")["start_date"].min()
    gained = grid.index[(prev.to_numpy() == 0) & (cur.to_numpy() > 0)]
    return gained[first.reindex(gained).to_numpy() >= period.start]


def _paid_cac(subscriptions: pd.DataFrame, accounts: pd.DataFrame, spend: pd.DataFrame,
              period: Period) -> float:
    in_period = spend[(spend["date"] >= period.start) & (spend["date"] < period.end)]
    paid = in_period[in_period["channel"] != "none"]
    channels = set(paid["channel"])
    new = _new_accounts(subscriptions, period)
    channel_of = accounts.set_index("account_id")["channel"]
    from_paid = int(channel_of.reindex(new).isin(channels).sum())
    return ratio(paid["amount"].sum(), from_paid)


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
    last = Period.containing(period.last_day, "M")
    window = last.last_n(months)
    margin = 1.0 if gross_margin is None or gross_margin != gross_margin else gross_margin
    group_of = accounts.set_index("account_id")[by].astype("str").fillna("(none)")
    ends = [window[0].previous().last_day] + [m.last_day for m in window]
    grid = mrr_grid(subscriptions, ends)
    group = group_of.reindex(grid.index).fillna("(unknown)").to_numpy()
    values = grid.to_numpy()
    prev, cur = values[:, :-1], values[:, 1:]
    churned = pd.DataFrame((prev > 0) & (cur == 0)).groupby(group).sum()
    at_start = pd.DataFrame(prev > 0).groupby(group).sum()
    churn_rate = (churned / at_start.where(at_start > 0)).mean(axis=1)
    moves = []
    for month in window:  # one bridge per month: the new customers of each group
        new = _new_accounts(subscriptions, month)
        frame = pd.DataFrame({"account_id": new})
        frame["group"] = group_of.reindex(new).fillna("(unknown)").to_numpy()
        frame["mrr"] = mrr_grid(subscriptions[subscriptions["account_id"].isin(new)],
                                [month.last_day]).reindex(new).iloc[:, 0].to_numpy()
        moves.append(frame)
    new_all = pd.concat(moves, ignore_index=True)
    end_mrr = pd.Series(values[:, -1], index=grid.index)
    table = pd.DataFrame({"customers": (end_mrr > 0).groupby(group).sum(),
                          "mrr": end_mrr.groupby(group).sum()})
    table["new_customers"] = new_all.groupby("group").size()
    table["new_mrr"] = new_all.groupby("group")["mrr"].sum()
    table = table.fillna({"new_customers": 0, "new_mrr": 0.0})
    if spend is not None and by == "channel":
        in_window = spend[(spend["date"] >= window[0].start) & (spend["date"] < window[-1].end)]
        table["spend"] = in_window.groupby("channel")["amount"].sum().reindex(table.index).fillna(0.0)
    else:
        table["spend"] = np.nan
    table["arpu"] = table["mrr"] / table["customers"].where(table["customers"] > 0)
    table["cac"] = table["spend"] / table["new_customers"].where(table["new_customers"] > 0)
    table["churn_rate"] = churn_rate.reindex(table.index)
    table["ltv"] = table["arpu"] * margin / table["churn_rate"].where(table["churn_rate"] > 0)
    table["ltv_cac"] = table["ltv"] / table["cac"]
    new_arpu = table["new_mrr"] / table["new_customers"].where(table["new_customers"] > 0)
    table["payback_months"] = table["cac"] / (new_arpu * margin)
    table["note"] = [_group_note(r, by, spend is not None) for r in table.itertuples()]
    table = table.rename_axis(by).reset_index()
    table["customers"] = table["customers"].astype(int)
    table["new_customers"] = table["new_customers"].astype(int)
    cols = [by, "customers", "mrr", "arpu", "new_customers", "new_mrr", "spend", "cac",
            "churn_rate", "ltv", "ltv_cac", "payback_months", "note"]
    return table[cols].sort_values("ltv_cac", ascending=False, na_position="last",
                                   ignore_index=True)


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
