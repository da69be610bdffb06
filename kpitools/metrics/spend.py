"""Money going out in a period: sales and marketing spend, and the cost to serve."""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import pandas as pd
from ibis import _

from ..engine import Table, every_period, in_periods, run
from ..periods import Period, parse_periods

__all__ = ["spend_query", "spend_history", "spend_totals", "cost_history", "cost_to_serve", "spend_by_channel",
           "cost_breakdown"]


def spend_query(spend: Table, *, periods: Sequence[Period | str]) -> ibis.Table:
    """The expression of :func:`spend_history`."""
    rows = in_periods(spend, "date", parse_periods(periods))
    per = rows.group_by("period").agg(
        marketing_spend=(rows.category == "marketing").ifelse(rows.amount, 0.0).sum(),
        sales_spend=(rows.category == "sales").ifelse(rows.amount, 0.0).sum())
    return per.mutate(sm_spend=per.marketing_spend + per.sales_spend)


def spend_history(spend: Table, *, periods: Sequence[Period | str]) -> pd.DataFrame:
    """Marketing, sales and total (S&M) spend dated in each period, all channels.

    Parameters
    ----------
    spend : Ibis table or DataFrame
        Columns ``date``, ``channel``, ``category`` (``marketing`` or
        ``sales``) and ``amount``.

    Returns
    -------
    DataFrame
        One row per period: ``period``, ``sm_spend`` = ``marketing_spend`` +
        ``sales_spend`` (0 for a period without spend).
    """
    periods = parse_periods(periods)
    out = every_period(run(spend_query(spend, periods=periods)), periods)
    columns = ["sm_spend", "marketing_spend", "sales_spend"]
    out[columns] = out[columns].fillna(0.0).astype(float)
    return out[["period", *columns]]


def spend_totals(spend: Table, *, period: Period | str) -> dict[str, float]:
    """:func:`spend_history` of one period as a dict."""
    row = spend_history(spend, periods=[period]).iloc[0].to_dict()
    row.pop("period")
    return row


def cost_history(costs: Table, *, periods: Sequence[Period | str]) -> pd.DataFrame:
    """Costs dated in each period: ``period``, ``cost_to_serve`` (0 for a period without
    costs), one query for every period."""
    periods = parse_periods(periods)
    rows = in_periods(costs, "date", periods)
    out = every_period(run(rows.group_by("period").agg(cost_to_serve=_.amount.sum())), periods)
    out["cost_to_serve"] = out["cost_to_serve"].fillna(0.0).astype(float)
    return out


def cost_to_serve(costs: Table, *, period: Period | str, customers: int | None = None) -> dict[str, float | None]:
    """Costs dated in the period, in total and per paying customer.

    Returns
    -------
    dict
        ``cost_to_serve`` (sum of ``amount``) and ``cost_to_serve_per_customer``
        (cost_to_serve / customers at period end; None without customers).
    """
    total = float(cost_history(costs, periods=[period])["cost_to_serve"].iloc[0])
    per = total / customers if customers else None
    return {"cost_to_serve": total, "cost_to_serve_per_customer": per}


def spend_by_channel(spend: Table, *, period: Period | str) -> pd.DataFrame:
    """Spend in the period by channel.

    Returns
    -------
    DataFrame
        One row per channel: ``channel``, ``marketing``, ``sales``, ``total``,
        ``share`` (of all S&M spend), largest first.
    """
    rows = in_periods(spend, "date", [Period.parse(period)])
    out = run(rows.group_by("channel").agg(
        marketing=(rows.category == "marketing").ifelse(rows.amount, 0.0).sum(),
        sales=(rows.category == "sales").ifelse(rows.amount, 0.0).sum()))
    out["total"] = out["marketing"] + out["sales"]
    total = out["total"].sum()
    out["share"] = out["total"] / total if total else float("nan")
    out = out.sort_values("channel").sort_values("total", ascending=False, kind="stable", ignore_index=True)
    return out[["channel", "marketing", "sales", "total", "share"]]


def cost_breakdown(costs: Table, *, period: Period | str, customers: int | None = None) -> pd.DataFrame:
    """Cost to serve in the period by category.

    Returns
    -------
    DataFrame
        One row per category: ``category``, ``amount``, ``share`` of the total and
        ``per_customer`` (amount / customers at the period's end; NaN without customers).
    """
    rows = in_periods(costs, "date", [Period.parse(period)])
    out = run(rows.group_by("category").agg(amount=_.amount.sum()))
    total = out["amount"].sum()
    out["share"] = out["amount"] / total if total else float("nan")
    out["per_customer"] = out["amount"] / customers if customers else float("nan")
    out = out.sort_values("category").sort_values("amount", ascending=False, kind="stable", ignore_index=True)
    return out[["category", "amount", "share", "per_customer"]]
