"""Recurring revenue from subscription spans: MRR, ARR, customers, ARPU, churn rates,
NRR and GRR, quick ratio, the seeds' retention rate and early churn.

A span is active on day ``d`` when ``start_date <= d < end_date`` (an empty
``end_date`` is still active); an account's MRR on ``d`` is the sum of ``mrr``
over its active spans. Values "at the end of a period" are read on its last day.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..periods import Period
from .mrr import epoch_ns, first_paid_day, mrr_grid, mrr_movements

__all__ = ["mrr_on", "revenue_snapshot", "revenue_metrics", "early_churn_rate", "ratio", "retention_by",
           "REVENUE_KEYS"]

REVENUE_KEYS = (
    "mrr", "arr", "customers", "arpu", "new_mrr", "expansion_mrr", "contraction_mrr",
    "churned_mrr", "reactivation_mrr", "net_new_mrr", "new_customers", "churned_customers",
    "reactivated_customers", "customer_churn_rate", "gross_mrr_churn_rate", "net_mrr_churn_rate",
    "nrr", "grr", "nrr_12m", "quick_ratio", "retention_rate",
)


def ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator``, NaN when the denominator is 0 (never infinity)."""
    return float(numerator) / float(denominator) if denominator else float("nan")


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


def revenue_metrics(subscriptions: pd.DataFrame, *, periods: Sequence[Period | str]) -> pd.DataFrame:
    """Every Revenue key of the spec (but early churn) for each period.

    Returns
    -------
    DataFrame
        One row per period: the columns of :func:`kpitools.metrics.mrr.mrr_movements` and

        - ``arr`` = 12 x mrr; ``arpu`` = mrr / customers
        - ``customer_churn_rate`` = churned_customers / customers_start
        - ``gross_mrr_churn_rate`` = (churned_mrr + contraction_mrr) / mrr_start
        - ``net_mrr_churn_rate`` = (churned_mrr + contraction_mrr - expansion_mrr) / mrr_start
        - ``nrr`` = sum over accounts paying at the previous end of MRR now / MRR then
        - ``grr`` = the same with each account's MRR now capped at its MRR then
        - ``nrr_12m`` = ``nrr`` over accounts paying twelve months before the end
        - ``quick_ratio`` = (new + reactivation + expansion) / (churned + contraction)
        - ``retention_rate`` = (E - N) / S with E customers at the end, S at the
          start and N gained in the period (new and reactivated)

        A ratio over zero is NaN, never infinity.
    """
    periods = [Period.parse(p) for p in periods]
    table = mrr_movements(subscriptions, periods=periods)
    year_ago = [p.same_period_last_year().last_day for p in periods]
    grid = mrr_grid(subscriptions, list(table["end"]) + list(table["start"]) + year_ago)
    nrr, grr, nrr_12m = [], [], []
    for start, end, base_day in zip(table["start"], table["end"], year_ago, strict=True):
        prev, cur = grid[start.normalize()].to_numpy(), grid[end.normalize()].to_numpy()
        base = grid[base_day.normalize()].to_numpy()
        kept = prev > 0
        nrr.append(ratio(cur[kept].sum(), prev[kept].sum()))
        grr.append(ratio(np.minimum(cur, prev)[kept].sum(), prev[kept].sum()))
        nrr_12m.append(ratio(cur[base > 0].sum(), base[base > 0].sum()))
    t = table
    div = np.vectorize(ratio, otypes=[float])
    t["arr"] = 12 * t["mrr"]
    t["arpu"] = div(t["mrr"], t["customers"])
    t["customer_churn_rate"] = div(t["churned_customers"], t["customers_start"])
    t["gross_mrr_churn_rate"] = div(t["churned_mrr"] + t["contraction_mrr"], t["mrr_start"])
    t["net_mrr_churn_rate"] = div(t["churned_mrr"] + t["contraction_mrr"] - t["expansion_mrr"],
                                  t["mrr_start"])
    t["nrr"], t["grr"], t["nrr_12m"] = nrr, grr, nrr_12m
    t["quick_ratio"] = div(t["new_mrr"] + t["reactivation_mrr"] + t["expansion_mrr"],
                           t["churned_mrr"] + t["contraction_mrr"])
    t["retention_rate"] = div(t["customers"] - t["new_customers"] - t["reactivated_customers"],
                              t["customers_start"])
    return t


def early_churn_rate(subscriptions: pd.DataFrame, *, period: Period | str, window_days: int = 90,
                     from_months: int = 3, to_months: int = 6) -> dict[str, float | int]:
    """Share of recently acquired accounts lost within ``window_days`` of their first paid day.

    The cohort is the accounts whose first paid day falls between ``to_months``
    and ``from_months`` before the period's end (and early enough that the whole
    window is observed by then); an account churned early when its first
    continuous paid run ends (MRR falls to 0) within ``window_days`` of its first
    paid day, whether or not it came back later.

    Returns
    -------
    dict
        ``early_churn_rate`` (NaN for an empty cohort), ``early_churn_cohort``
        (accounts in the cohort) and ``early_churned`` (of those, lost early).
    """
    period = Period.parse(period)
    end = period.end
    first = first_paid_day(subscriptions)
    lo, hi = end - pd.DateOffset(months=to_months), end - pd.DateOffset(months=from_months)
    window = pd.Timedelta(days=window_days)
    cohort = first[(first >= lo) & (first < hi) & (first + window <= end)]
    spans = subscriptions[(subscriptions["mrr"] > 0) &
                          subscriptions["account_id"].isin(cohort.index)].copy()
    spans["start_ns"] = epoch_ns(spans["start_date"])
    spans["end_ns"] = epoch_ns(spans["end_date"])
    spans = spans.sort_values(["account_id", "start_ns"])
    reach = spans.groupby("account_id")["end_ns"].cummax()
    before = reach.groupby(spans["account_id"]).shift(1)
    run = (spans["start_ns"] > before).fillna(False).astype(int).groupby(spans["account_id"]).cumsum()
    first_run_end = spans.loc[run == 0].groupby("account_id")["end_ns"].max()
    first_ns = pd.Series(epoch_ns(cohort), index=cohort.index)
    lost = (first_run_end.reindex(cohort.index) <= first_ns + window.value)
    n = len(cohort)
    churned = int(lost.sum())
    return {"early_churn_rate": ratio(churned, n), "early_churn_cohort": n, "early_churned": churned}


def retention_by(subscriptions: pd.DataFrame, accounts: pd.DataFrame, *, period: Period | str,
                 by: str = "segment") -> pd.DataFrame:
    """Customers, MRR, NRR and GRR (period over period) and twelve-month NRR per group.

    Returns
    -------
    DataFrame
        One row per value of ``accounts[by]``: ``<by>``, ``customers``, ``mrr``,
        ``arpu``, ``nrr``, ``grr``, ``nrr_12m`` (definitions as in
        :func:`revenue_metrics`, restricted to the group's accounts).
    """
    period = Period.parse(period)
    days = [period.last_day, period.previous().last_day, period.same_period_last_year().last_day]
    grid = mrr_grid(subscriptions, days)
    group = accounts.set_index("account_id")[by].astype("str").reindex(grid.index).fillna("(unknown)")
    cur, prev, base = (grid[d.normalize()] for d in days)
    frame = pd.DataFrame({"group": group, "cur": cur, "prev": prev, "base": base,
                          "kept_now": cur.where(prev > 0, 0.0), "kept_prev": prev.where(prev > 0, 0.0),
                          "capped": np.minimum(cur, prev).where(prev > 0, 0.0),
                          "kept_12m": cur.where(base > 0, 0.0), "base_12m": base.where(base > 0, 0.0),
                          "paying": cur > 0})
    sums = frame.groupby("group").sum(numeric_only=True)
    div = np.vectorize(ratio, otypes=[float])
    out = pd.DataFrame({
        by: sums.index,
        "customers": sums["paying"].astype(int).to_numpy(),
        "mrr": sums["cur"].to_numpy(),
        "arpu": div(sums["cur"], sums["paying"]),
        "nrr": div(sums["kept_now"], sums["kept_prev"]),
        "grr": div(sums["capped"], sums["kept_prev"]),
        "nrr_12m": div(sums["kept_12m"], sums["base_12m"]),
    })
    return out.sort_values("mrr", ascending=False, ignore_index=True)
