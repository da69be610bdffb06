"""Recurring revenue from subscription spans: MRR, ARR, customers, ARPU, churn rates,
NRR and GRR, quick ratio, customer retention rate (CRR) and early churn.

A span is active on day ``d`` when ``start_date <= d < end_date`` (an empty
``end_date`` is still active); an account's MRR on ``d`` is the sum of ``mrr``
over its active spans. Values "at the end of a period" are read on its last day.
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import pandas as pd
from ibis import _

from ..engine import Table, every_period, remembered, run, table, utc_stamp, windows, within
from ..periods import Period, parse_periods
from .mrr import BRIDGE_COLUMNS, bridge_frame, bridge_query, first_paid_days, period_accounts

__all__ = ["mrr_on", "revenue_snapshot", "revenue_metrics", "early_churn_rate", "ratio", "retention_by",
           "revenue_query", "early_churn_query", "early_churn_history", "REVENUE_KEYS"]

REVENUE_KEYS = (
    "mrr", "arr", "customers", "arpu", "new_mrr", "expansion_mrr", "contraction_mrr",
    "churned_mrr", "reactivation_mrr", "net_new_mrr", "new_customers", "churned_customers",
    "reactivated_customers", "customer_churn_rate", "gross_mrr_churn_rate", "net_mrr_churn_rate",
    "nrr", "grr", "nrr_12m", "quick_ratio", "retention_rate",
)


def ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator``, NaN when the denominator is 0 (never infinity)."""
    return float(numerator) / float(denominator) if denominator else float("nan")


def mrr_on(subscriptions: Table, day: pd.Timestamp | str) -> pd.Series:
    """MRR of each account on one day.

    Parameters
    ----------
    subscriptions : Ibis table or DataFrame
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
    d = utc_stamp(day).normalize()
    s = table(subscriptions, "subscriptions")
    active = s.filter(s.start_date <= d.to_pydatetime(), s.end_date.isnull() | (s.end_date > d.to_pydatetime()))
    out = run(active.group_by("account_id").agg(mrr=_.mrr.sum()))
    per_account = out.set_index("account_id")["mrr"].astype(float).sort_index()
    per_account.index = per_account.index.astype("str")
    per_account.name = "mrr"
    return per_account[per_account > 0]


def revenue_snapshot(subscriptions: Table, *, period: Period | str) -> dict[str, float | None]:
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


def _over(numerator: ibis.Value, denominator: ibis.Value) -> ibis.Value:
    """numerator / denominator, NULL (NaN in pandas) when the denominator is 0."""
    return numerator / denominator.nullif(0)


def revenue_query(subscriptions: Table, *, periods: Sequence[Period | str]) -> ibis.Table:
    """The expression of :func:`revenue_metrics` (periods without a paying account at
    either end have no row)."""
    t = bridge_query(subscriptions, periods=periods, year_ago=True)
    return t.mutate(
        arr=12 * t.mrr,
        arpu=_over(t.mrr, t.customers),
        customer_churn_rate=_over(t.churned_customers, t.customers_start),
        gross_mrr_churn_rate=_over(t.churned_mrr + t.contraction_mrr, t.mrr_start),
        net_mrr_churn_rate=_over(t.churned_mrr + t.contraction_mrr - t.expansion_mrr, t.mrr_start),
        nrr=_over(t.kept_now, t.kept_prev),
        grr=_over(t.capped, t.kept_prev),
        nrr_12m=_over(t.kept_12m, t.base_12m),
        quick_ratio=_over(t.new_mrr + t.reactivation_mrr + t.expansion_mrr, t.churned_mrr + t.contraction_mrr),
        retention_rate=_over(t.customers - t.new_customers - t.reactivated_customers, t.customers_start),
    ).drop("kept_now", "kept_prev", "capped", "kept_12m", "base_12m")


def revenue_metrics(subscriptions: Table, *, periods: Sequence[Period | str]) -> pd.DataFrame:
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
    periods = parse_periods(periods)
    return remembered("revenue_metrics", subscriptions, tuple(periods),
                      lambda: _revenue_metrics(subscriptions, periods))


def _revenue_metrics(subscriptions: Table, periods: list[Period]) -> pd.DataFrame:
    rates = ["arr", "arpu", "customer_churn_rate", "gross_mrr_churn_rate", "net_mrr_churn_rate", "nrr", "grr",
             "nrr_12m", "quick_ratio", "retention_rate"]
    out = run(revenue_query(subscriptions, periods=periods))
    frame = bridge_frame(out.drop(columns=rates), periods)[BRIDGE_COLUMNS]
    ratios = out.set_index("period")[rates].reindex(frame["period"]).astype(float)
    ratios["arr"] = ratios["arr"].fillna(0.0)
    return pd.concat([frame, ratios.reset_index(drop=True)], axis=1)


def early_churn_query(subscriptions: Table, *, periods: Sequence[Period | str], window_days: int = 90,
                      from_months: int = 3, to_months: int = 6) -> ibis.Table:
    """The expression of :func:`early_churn_rate`, every period at once: ``period``,
    ``early_churn_cohort`` and ``early_churned`` (periods with an empty cohort have no row).

    The first continuous paid run of an account ends at the first span that starts after
    every earlier span has ended: the latest end among the earlier spans (a window over
    the account's spans by start, ``ROWS`` up to the one before) says so. That end is the
    account's own, whatever the period; each period's cohort is then a range of first
    paid days joined to it.
    """
    spans_of = []
    for p in (Period.parse(x) for x in periods):
        end = p.end
        lo, hi = end - pd.DateOffset(months=to_months), end - pd.DateOffset(months=from_months)
        # first paid days are midnights: "first + window <= end" is "first < end - window + 1 day"
        last = end - pd.Timedelta(days=window_days) + pd.Timedelta(days=1)
        spans_of.append((str(p), "cohort", lo, min(hi, last)))
    cohorts = windows((name, kind, lo, max(lo, hi)) for name, kind, lo, hi in spans_of)
    first = first_paid_days(subscriptions)
    first = first.mutate(first_paid=first.first_paid.truncate("D"))
    s = table(subscriptions, "subscriptions")
    spans = s.filter(s.mrr > 0).select("account_id", "start_date", "end_date")
    far = pd.Timestamp("9999-12-31", tz="UTC").to_pydatetime()
    spans = spans.mutate(reach=spans.end_date.fill_null(far))
    earlier = ibis.window(group_by=spans.account_id, order_by=spans.start_date, rows=(None, -1))
    reached = spans.mutate(reached=spans.reach.max().over(earlier))
    breaks = reached.mutate(gap=(reached.start_date > reached.reached).fill_null(False).cast("int32"))
    upto = ibis.window(group_by=breaks.account_id, order_by=breaks.start_date, rows=(None, 0))
    runs = breaks.mutate(run=breaks.gap.sum().over(upto))
    first_run = runs.filter(runs.run == 0).group_by("account_id").agg(run_end=_.reach.max())
    accounts = first.join(first_run, "account_id")
    lost = accounts.run_end <= accounts.first_paid + ibis.interval(days=window_days)
    accounts = accounts.mutate(lost=lost.cast("int32"))
    member = within(accounts, "first_paid", cohorts)
    return member.group_by("period").agg(early_churn_cohort=_.count(), early_churned=_.lost.sum())


def early_churn_history(subscriptions: Table, *, periods: Sequence[Period | str], window_days: int = 90,
                        from_months: int = 3, to_months: int = 6) -> pd.DataFrame:
    """Share of recently acquired accounts lost within ``window_days`` of their first paid
    day, for each period.

    The cohort is the accounts whose first paid day falls between ``to_months``
    and ``from_months`` before the period's end (and early enough that the whole
    window is observed by then); an account churned early when its first
    continuous paid run ends (MRR falls to 0) within ``window_days`` of its first
    paid day, whether or not it came back later.

    Returns
    -------
    DataFrame
        One row per period: ``period``, ``early_churn_rate`` (NaN for an empty cohort),
        ``early_churn_cohort`` (accounts in the cohort) and ``early_churned`` (of those,
        lost early).
    """
    periods = parse_periods(periods)
    found = run(early_churn_query(subscriptions, periods=periods, window_days=window_days,
                                  from_months=from_months, to_months=to_months))
    out = every_period(found, periods)
    out["early_churn_cohort"] = out["early_churn_cohort"].fillna(0).astype(int)
    out["early_churned"] = out["early_churned"].fillna(0).astype(int)
    out["early_churn_rate"] = [ratio(c, n) for c, n in zip(out["early_churned"], out["early_churn_cohort"],
                                                            strict=True)]
    return out[["period", "early_churn_rate", "early_churn_cohort", "early_churned"]]


def early_churn_rate(subscriptions: Table, *, period: Period | str, window_days: int = 90,
                     from_months: int = 3, to_months: int = 6) -> dict[str, float | int]:
    """:func:`early_churn_history` of one period, as a dict."""
    row = early_churn_history(subscriptions, periods=[period], window_days=window_days, from_months=from_months,
                              to_months=to_months).iloc[0].to_dict()
    row.pop("period")
    return row


def retention_by(subscriptions: Table, accounts: Table, *, period: Period | str,
                 by: str = "segment") -> pd.DataFrame:
    """Customers, MRR, NRR and GRR (period over period) and twelve-month NRR per group.

    Returns
    -------
    DataFrame
        One row per value of ``accounts[by]`` (``"(unknown)"`` for none): ``<by>``,
        ``customers``, ``mrr``, ``arpu``, ``nrr``, ``grr``, ``nrr_12m`` (definitions as
        in :func:`revenue_metrics`, restricted to the group's accounts), largest MRR first.
    """
    period = Period.parse(period)
    a = period_accounts(subscriptions, [period], year_ago=True)
    acc = table(accounts, "accounts")
    groups = acc.select("account_id", group=acc[by].cast("string"))
    a = a.left_join(groups, "account_id")
    a = a.mutate(group=a.group.fill_null("(unknown)"))
    kept, based = a.prev > 0, a.base > 0
    sums = a.group_by("group").agg(
        customers=(a.cur > 0).cast("int32").sum(), mrr=a.cur.sum(),
        kept_now=kept.ifelse(a.cur, 0.0).sum(), kept_prev=kept.ifelse(a.prev, 0.0).sum(),
        capped=kept.ifelse(ibis.least(a.cur, a.prev), 0.0).sum(),
        kept_12m=based.ifelse(a.cur, 0.0).sum(), base_12m=based.ifelse(a.base, 0.0).sum())
    out = run(sums.select(
        "group", "customers", "mrr", arpu=_over(sums.mrr, sums.customers), nrr=_over(sums.kept_now, sums.kept_prev),
        grr=_over(sums.capped, sums.kept_prev), nrr_12m=_over(sums.kept_12m, sums.base_12m)))
    out = out.rename(columns={"group": by}).astype({"customers": int, "mrr": float, "arpu": float, "nrr": float,
                                                    "grr": float, "nrr_12m": float})
    return out.sort_values(["mrr", by], ascending=[False, True], ignore_index=True)
