"""Money going out in a period: sales and marketing spend, and the cost to serve."""

from __future__ import annotations

import pandas as pd

from ..periods import Period

__all__ = ["spend_totals", "cost_to_serve", "spend_by_channel", "cost_breakdown"]


def _in_period(frame: pd.DataFrame, column: str, period: Period) -> pd.DataFrame:
    return frame[(frame[column] >= period.start) & (frame[column] < period.end)]


def spend_totals(spend: pd.DataFrame, *, period: Period | str) -> dict[str, float]:
    """Marketing, sales and total (S&M) spend dated in the period, all channels.

    Parameters
    ----------
    spend : DataFrame
        Columns ``date``, ``channel``, ``category`` (``marketing`` or
        ``sales``) and ``amount``.

    Returns
    -------
    dict
        ``marketing_spend``, ``sales_spend`` and ``sm_spend`` = their sum.
    """
    rows = _in_period(spend, "date", Period.parse(period))
    by = rows.groupby("category")["amount"].sum()
    marketing = float(by.get("marketing", 0.0))
    sales = float(by.get("sales", 0.0))
    return {"sm_spend": marketing + sales, "marketing_spend": marketing, "sales_spend": sales}


def cost_to_serve(costs: pd.DataFrame, *, period: Period | str,
                  customers: int | None = None) -> dict[str, float | None]:
    """Costs dated in the period, in total and per paying customer.

    Returns
    -------
    dict
        ``cost_to_serve`` (sum of ``amount``) and ``cost_to_serve_per_customer``
        (cost_to_serve / customers at period end; None without customers).
    """
    total = float(_in_period(costs, "date", Period.parse(period))["amount"].sum())
    per = total / customers if customers else None
    return {"cost_to_serve": total, "cost_to_serve_per_customer": per}


def spend_by_channel(spend: pd.DataFrame, *, period: Period | str) -> pd.DataFrame:
    """Spend in the period by channel.

    Returns
    -------
    DataFrame
        One row per channel: ``channel``, ``marketing``, ``sales``, ``total``,
        ``share`` (of all S&M spend), largest first.
    """
    rows = _in_period(spend, "date", Period.parse(period))
    table = rows.pivot_table(index="channel", columns="category", values="amount", aggfunc="sum",
                             fill_value=0.0)
    table = table.reindex(columns=["marketing", "sales"], fill_value=0.0)
    table["total"] = table["marketing"] + table["sales"]
    total = table["total"].sum()
    table["share"] = table["total"] / total if total else float("nan")
    table.columns.name = None
    return table.reset_index().sort_values("total", ascending=False, ignore_index=True)


def cost_breakdown(costs: pd.DataFrame, *, period: Period | str,
                   customers: int | None = None) -> pd.DataFrame:
    """Cost to serve in the period by category.

    Returns
    -------
    DataFrame
        One row per category: ``category``, ``amount``, ``share`` of the total and
        ``per_customer`` (amount / customers at the period's end; NaN without customers).
    """
    rows = _in_period(costs, "date", Period.parse(period))
    table = rows.groupby("category", as_index=False)["amount"].sum()
    total = table["amount"].sum()
    table["share"] = table["amount"] / total if total else float("nan")
    table["per_customer"] = table["amount"] / customers if customers else float("nan")
    return table.sort_values("amount", ascending=False, ignore_index=True)
