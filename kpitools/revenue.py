"""Recurring revenue from subscription spans: MRR per account on a day, and the
period-end snapshot (MRR, ARR, paying customers, ARPU).

A span is active on day ``d`` when ``start_date <= d < end_date`` (an empty
``end_date`` is still active); an account's MRR on ``d`` is the sum of ``mrr``
over its active spans.
"""

from __future__ import annotations

import pandas as pd

from .periods import Period

__all__ = ["mrr_on", "revenue_snapshot"]


def mrr_on(subscriptions: pd.DataFrame, day: pd.Timestamp | str) -> pd.Series:
    """MRR of each account on one day.

    Parameters
    ----------
    subscriptions : DataFrame
        Columns ``account_id``, ``start_date``, ``end_date`` (exclusive, empty
        = active) and ``mrr``.
    day : Timestamp or str
        The day (its time of day is ignored).

    Returns
    -------
    Series
        ``mrr`` indexed by ``account_id``, only accounts with MRR > 0 on ``day``.

    Notes
    -----
    .. math:: \\mathrm{MRR}_a(d) = \\sum_{s \\in a} mrr_s \\,[start_s \\le d < end_s]
    """
    d = pd.Timestamp(day)
    d = (d.tz_localize("UTC") if d.tzinfo is None else d.tz_convert("UTC")).normalize()
    active = (subscriptions["start_date"] <= d) & (
        subscriptions["end_date"].isna() | (subscriptions["end_date"] > d))
    per_account = subscriptions.loc[active].groupby("account_id", sort=True)["mrr"].sum()
    per_account.name = "mrr"
    return per_account[per_account > 0]


def revenue_snapshot(subscriptions: pd.DataFrame, *, period: Period | str) -> dict[str, float | None]:
    """MRR, ARR, paying customers and ARPU on the last day of a period.

    Returns
    -------
    dict
        ``mrr`` (sum of accounts' MRR on the period's last day), ``arr``
        (12 x mrr), ``customers`` (accounts with MRR > 0 that day) and ``arpu``
        (mrr / customers; None when there are no customers).
    """
    period = Period.parse(period)
    per_account = mrr_on(subscriptions, period.last_day)
    mrr = float(per_account.sum())
    customers = len(per_account)
    return {"mrr": mrr, "arr": 12 * mrr, "customers": customers,
            "arpu": mrr / customers if customers else None}
