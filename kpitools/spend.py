"""Money going out in a period: sales and marketing spend, and the cost to serve."""

from __future__ import annotations

import pandas as pd

from .periods import Period

__all__ = ["spend_totals", "cost_to_serve"]


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
