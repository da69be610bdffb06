"""Unit economics: revenue in a period, gross margin, CAC, LTV three ways, LTV:CAC,
payback, cost to serve, marketing ROI and profit after sales and marketing;
in total and by acquisition channel or segment.

Every ratio over zero is a missing value (NaN in tables, None in ``kpis.json``)
and :func:`missing_notes` says why, never infinity and never an exception.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..periods import Period
from .mrr import epoch_ns, mrr_grid
from .retention import pooled_model, projected_ltv
from .revenue import ratio, revenue_metrics
from .spend import cost_to_serve, spend_totals

__all__ = ["UNIT_KEYS", "recognised_revenue", "churn_average", "unit_economics",
           "missing_notes", "unit_economics_by", "ltv_estimates"]

UNIT_KEYS = (
    "sm_spend", "marketing_spend", "sales_spend", "cac", "paid_cac", "revenue", "cost_to_serve",
    "cost_to_serve_per_customer", "gross_margin", "ltv", "ltv_lifespan", "ltv_projected", "ltv_cac",
    "cac_payback_months", "marketing_roi", "profit_after_sm",
)
_DAY_NS = 86_400 * 10**9


def recognised_revenue(subscriptions: pd.DataFrame, *, period: Period | str) -> float:
    """Revenue earned in a period from subscription spans.

    .. math:: R = \\sum_{d \\in \\text{period}} \\mathrm{MRR}(d) / \\text{days in the month of } d

    so a full month of a 100 MRR span earns 100, half of a 30-day month 50, and
    a quarter of it 300.
    """
    period = Period.parse(period)
    s = subscriptions[subscriptions["mrr"] > 0]
    start, end = epoch_ns(s["start_date"]), epoch_ns(s["end_date"])
    mrr = s["mrr"].to_numpy(dtype=float)
    total = 0.0
    month = Period.containing(period.start, "M")
    while month.start < period.end:
        lo = max(month.start, period.start).value
        hi = min(month.end, period.end).value
        days = np.clip(np.minimum(end, hi) - np.maximum(start, lo), 0, None) // _DAY_NS
        total += float((mrr * days).sum()) / month.days
        month = month.shift(1)
    return total


def churn_average(subscriptions: pd.DataFrame, *, period: Period | str, months: int = 3) -> float:
    """Mean of the monthly customer churn rates over the ``months`` months ending with the
    month that holds the period's last day (for a quarter: its own three months)."""
    period = Period.parse(period)
    last = Period.containing(period.last_day, "M")
    rates = revenue_metrics(subscriptions, periods=last.last_n(months))["customer_churn_rate"]
    return float(rates.mean()) if rates.notna().any() else float("nan")


def unit_economics(
    subscriptions: pd.DataFrame,
    *,
    period: Period | str,
    accounts: pd.DataFrame | None = None,
    spend: pd.DataFrame | None = None,
    costs: pd.DataFrame | None = None,
    churn_months: int = 3,
    discount: float = 0.10,
) -> dict[str, float]:
    """The Unit-economics keys of the spec for one period.

    Parameters
    ----------
    subscriptions : DataFrame
        The contract's subscriptions table.
    period : Period or str
    accounts, spend, costs : DataFrame, optional
        Without ``spend`` the spend, CAC, LTV:CAC, payback and ROI keys are NaN;
        without ``costs`` the gross margin is NaN and LTV uses a margin of 1 (the
        seed formula LTV = ARPU / churn); without ``accounts`` ``paid_cac`` is NaN.
    churn_months : int
        Months averaged for the churn in LTV (default 3, as the spec says).

    Returns
    -------
    dict
        ``revenue`` (:func:`recognised_revenue`), ``cost_to_serve``,
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
    period = Period.parse(period)
    rev = revenue_metrics(subscriptions, periods=[period]).iloc[0]
    nan = float("nan")
    out: dict[str, float] = dict.fromkeys(UNIT_KEYS, nan)
    revenue = recognised_revenue(subscriptions, period=period)
    churn = churn_average(subscriptions, period=period, months=churn_months)
    new, arpu = int(rev["new_customers"]), float(rev["arpu"])
    new_arpu = ratio(rev["new_mrr"], new)
    out.update(revenue=revenue, churn_rate_avg=churn, new_customers=new, arpu=arpu, new_arpu=new_arpu)
    margin_used = 1.0
    if costs is not None:
        cts = cost_to_serve(costs, period=period, customers=int(rev["customers"]))
        out["cost_to_serve"] = cts["cost_to_serve"]
        out["cost_to_serve_per_customer"] = cts["cost_to_serve_per_customer"] or nan
        out["gross_margin"] = ratio(revenue - cts["cost_to_serve"], revenue)
        margin_used = out["gross_margin"]
    avg_customers = (rev["customers_start"] + rev["customers"]) / 2
    per_customer_month = ratio(revenue, avg_customers * period.months)
    out["ltv"] = ratio(arpu * margin_used, churn) if churn == churn else nan
    out["ltv_lifespan"] = ratio(per_customer_month, churn) if churn == churn else nan
    if arpu == arpu:
        try:
            model = pooled_model(subscriptions, through=period)
            out["ltv_projected"] = projected_ltv(model, monthly_margin=arpu * margin_used,
                                                 annual_discount=discount)
        except ValueError:  # no cohort with a later period, or nobody ever churned
            pass
    if spend is not None:
        out.update(spend_totals(spend, period=period))
        out["cac"] = ratio(out["sm_spend"], new)
        if accounts is not None:
            out["paid_cac"] = _paid_cac(subscriptions, accounts, spend, period)
        out["ltv_cac"] = ratio(out["ltv"], out["cac"]) if out["cac"] == out["cac"] else nan
        out["cac_payback_months"] = ratio(out["cac"], new_arpu * margin_used)
        out["marketing_roi"] = ratio(new * out["ltv"] - out["sm_spend"], out["sm_spend"])
        if costs is not None:
            out["profit_after_sm"] = revenue - out["cost_to_serve"] - out["sm_spend"]
    return out


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
