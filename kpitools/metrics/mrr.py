"""The MRR grid and the MRR bridge: every account's MRR at each period end, and the
movements (new, expansion, contraction, churned, reactivation) between period ends.

Definitions (``docs/metrics.md``, Revenue): a span is active on day ``d`` when
``start_date <= d < end_date``; an account's MRR on ``d`` is the sum of its active
spans' ``mrr``. Movements compare each account's MRR on the last day of the
previous period (``prev``) with the last day of this one (``cur``):

- **new**: prev = 0, cur > 0, and the account had no paid day before this period;
- **reactivation**: prev = 0, cur > 0, and it had paid before this period;
- **expansion**: 0 < prev < cur;  **contraction**: 0 < cur < prev;
- **churned**: prev > 0, cur = 0.

so that ``new + reactivation + expansion - contraction - churned = mrr - mrr_prev``.

In the data's engine: the days to read form a small table (one row per period and
role: ``prev``, ``cur``, ``base`` a year before); paid spans are joined to it on
``start_date <= day < end_date`` and summed per account, period and role; one
conditional aggregate per period then counts the movements.
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import numpy as np
import pandas as pd
from ibis import _

from ..engine import Table, every_period, run, table, utc_stamp, windows
from ..periods import Period, parse_periods

__all__ = ["epoch_ns", "paid_spans", "account_mrr", "mrr_grid", "first_paid_day", "first_paid_days",
           "bridge_query", "mrr_movements", "MOVEMENTS", "BRIDGE_COLUMNS"]

MOVEMENTS = ("new", "expansion", "contraction", "churned", "reactivation")
BRIDGE_COLUMNS = ["period", "start", "end", "mrr_start", "new_mrr", "expansion_mrr", "contraction_mrr",
                  "churned_mrr", "reactivation_mrr", "net_new_mrr", "mrr", "customers_start",
                  "new_customers", "expansion_customers", "contraction_customers", "churned_customers",
                  "reactivated_customers", "customers"]
_FAR_FUTURE = np.iinfo(np.int64).max


def epoch_ns(values: pd.Series | pd.DatetimeIndex, *, missing: int = _FAR_FUTURE) -> np.ndarray:
    """Nanoseconds since the epoch (UTC) as int64, whatever unit the column was stored in
    (pandas 3 keeps Parquet's ms or us); empty values become ``missing``."""
    values = pd.to_datetime(values, utc=True)
    if isinstance(values, pd.Series):
        values = pd.DatetimeIndex(values)
    values = values.as_unit("ns")
    out = values.asi8.copy()
    out[values.isna()] = missing
    return out


def paid_spans(subscriptions: Table) -> ibis.Table:
    """The spans that pay: ``mrr > 0`` and an end after the start (or none)."""
    s = table(subscriptions, "subscriptions")
    return s.filter(s.mrr > 0, s.end_date.isnull() | (s.end_date > s.start_date)).select(
        "account_id", "start_date", "end_date", "mrr")


def account_mrr(subscriptions: Table, days: ibis.Table) -> ibis.Table:
    """Each paying account's MRR on each day of ``days`` (a :func:`kpitools.engine.windows`
    table whose ``start`` is the day): ``period``, ``window``, ``account_id``, ``mrr``
    (only accounts with a paid span that day)."""
    spans = paid_spans(subscriptions)
    active = spans.join(days, [spans.start_date <= days.start,
                               spans.end_date.isnull() | (spans.end_date > days.start)])
    return active.group_by(["period", "window", "account_id"]).agg(mrr=_.mrr.sum())


def mrr_grid(subscriptions: Table, days: Sequence[pd.Timestamp | str] | pd.DatetimeIndex) -> pd.DataFrame:
    """MRR of every account on each of the given days.

    Parameters
    ----------
    subscriptions : Ibis table or DataFrame
        Columns ``account_id``, ``start_date``, ``end_date`` (exclusive, empty =
        active) and ``mrr``.
    days : sequence of Timestamp
        The days to read (time of day ignored), in any order.

    Returns
    -------
    DataFrame
        Index ``account_id`` (every account with a paid span), one column per day
        (sorted, UTC midnight), values the account's MRR that day (0 when not paying).
    """
    wanted = sorted({utc_stamp(d).normalize() for d in days})
    marks = windows((str(i), "day", d, d + pd.Timedelta(days=1)) for i, d in enumerate(wanted))
    long = run(account_mrr(subscriptions, marks))
    accounts = run(paid_spans(subscriptions).select("account_id").distinct())["account_id"]
    columns = pd.DatetimeIndex(wanted).as_unit("ns")
    grid = pd.DataFrame(0.0, index=pd.Index(sorted(accounts.astype(str)), name="account_id", dtype="str"),
                        columns=columns)
    if len(long):
        long["day"] = columns[long["period"].astype(int).to_numpy()]
        wide = long.pivot_table(index="account_id", columns="day", values="mrr", aggfunc="sum")
        grid.loc[wide.index, wide.columns] = wide.fillna(0.0).to_numpy()
    return grid


def first_paid_days(subscriptions: Table) -> ibis.Table:
    """Each paying account's first paid day (``account_id``, ``first_paid``)."""
    spans = paid_spans(subscriptions)
    return spans.group_by("account_id").agg(first_paid=spans.start_date.min())


def first_paid_day(subscriptions: Table) -> pd.Series:
    """Each account's first day with MRR > 0 (UTC midnight), indexed by ``account_id``."""
    out = run(first_paid_days(subscriptions))
    first = pd.Series(pd.to_datetime(out["first_paid"], utc=True).dt.normalize().to_numpy(),
                      index=pd.Index(out["account_id"], dtype="str", name="account_id"), name="first_paid_day")
    return first.sort_index()


def period_accounts(subscriptions: Table, periods: Sequence[Period], *, year_ago: bool = False) -> ibis.Table:
    """Per period and paying account: ``prev`` (MRR on the previous period's last day),
    ``cur`` (on this period's last day), with ``year_ago`` also ``base`` (on the last day
    of the same period a year before), each 0 when not paying, and ``paid_before`` (a
    paid day before the period began)."""
    rows = []
    for p in periods:
        rows.append((str(p), "prev", p.previous().last_day, p.start))
        rows.append((str(p), "cur", p.last_day, p.start))
        if year_ago:
            rows.append((str(p), "base", p.same_period_last_year().last_day, p.start))
    marks = windows((name, role, utc_stamp(day).normalize(), start) for name, role, day, start in rows)
    # ``end`` of a mark carries its period's start, for paid_before
    per = account_mrr(subscriptions, marks)
    per = per.join(marks.select("period", "window", period_start="end"), ["period", "window"])
    roles = ["prev", "cur", *(["base"] if year_ago else [])]
    wide = per.group_by(["period", "account_id"]).agg(
        period_start=_.period_start.max(),
        **{r: (per.window == r).ifelse(per.mrr, 0.0).sum() for r in roles})
    first = first_paid_days(subscriptions)
    wide = wide.join(first, "account_id")
    return wide.mutate(paid_before=wide.first_paid < wide.period_start).drop("period_start", "first_paid")


def bridge_query(subscriptions: Table, *, periods: Sequence[Period | str], year_ago: bool = False) -> ibis.Table:
    """The expression of :func:`mrr_movements`: one row per period with a paying account
    at either end (see :func:`period_accounts`); with ``year_ago`` also the sums behind
    NRR, GRR and twelve-month NRR (``kept_now``, ``kept_prev``, ``capped``, ``kept_12m``,
    ``base_12m``)."""
    periods = parse_periods(periods)
    a = period_accounts(subscriptions, periods, year_ago=year_ago)
    gained = (a.prev == 0) & (a.cur > 0)
    classes = {"new": gained & ~a.paid_before, "reactivation": gained & a.paid_before,
               "expansion": (a.prev > 0) & (a.cur > a.prev), "contraction": (a.cur > 0) & (a.cur < a.prev),
               "churned": (a.prev > 0) & (a.cur == 0)}
    delta = (a.cur - a.prev).abs()
    labels = {"reactivation": "reactivated"}
    measures = {"mrr_start": a.prev.sum()}
    measures |= {f"{name}_mrr": mask.ifelse(delta, 0.0).sum() for name, mask in classes.items()}
    measures["mrr"] = a.cur.sum()
    measures["customers_start"] = (a.prev > 0).cast("int32").sum()
    measures |= {f"{labels.get(n, n)}_customers": mask.cast("int32").sum() for n, mask in classes.items()}
    measures["customers"] = (a.cur > 0).cast("int32").sum()
    if year_ago:
        kept = a.prev > 0
        measures |= {"kept_now": kept.ifelse(a.cur, 0.0).sum(), "kept_prev": kept.ifelse(a.prev, 0.0).sum(),
                     "capped": kept.ifelse(ibis.least(a.cur, a.prev), 0.0).sum(),
                     "kept_12m": (a.base > 0).ifelse(a.cur, 0.0).sum(),
                     "base_12m": (a.base > 0).ifelse(a.base, 0.0).sum()}
    out = a.group_by("period").agg(**measures)
    return out.mutate(net_new_mrr=out.new_mrr + out.reactivation_mrr + out.expansion_mrr
                      - out.contraction_mrr - out.churned_mrr)


def bridge_frame(result: pd.DataFrame, periods: Sequence[Period]) -> pd.DataFrame:
    """A per-period result of :func:`bridge_query` with a row for every period (a period
    without a paying account has zeros) in their order, and the days it compares."""
    frame = every_period(result, periods)
    numbers = [c for c in frame.columns if c != "period"]
    frame[numbers] = frame[numbers].fillna(0)
    for column in [c for c in numbers if c.endswith("customers") or c == "customers_start"]:
        frame[column] = frame[column].astype(int)
    frame.insert(1, "start", [p.previous().last_day for p in periods])
    frame.insert(2, "end", [p.last_day for p in periods])
    return frame


def mrr_movements(subscriptions: Table, *, periods: Sequence[Period | str]) -> pd.DataFrame:
    """The MRR bridge of each period.

    Parameters
    ----------
    subscriptions : Ibis table or DataFrame
        See :func:`mrr_grid`.
    periods : sequence of Period or str
        The periods (one kind), e.g. ``period.last_n(12)``.

    Returns
    -------
    DataFrame
        One row per period, columns: ``period``, ``start`` (previous period's
        last day), ``end`` (this period's last day), ``mrr_start``, ``new_mrr``,
        ``expansion_mrr``, ``contraction_mrr``, ``churned_mrr``,
        ``reactivation_mrr``, ``net_new_mrr``, ``mrr``, ``customers_start``,
        ``new_customers``, ``expansion_customers``, ``contraction_customers``,
        ``churned_customers``, ``reactivated_customers``, ``customers``. Every
        amount is positive; ``mrr_start + net_new_mrr == mrr``.
    """
    periods = parse_periods(periods)
    return bridge_frame(run(bridge_query(subscriptions, periods=periods)), periods)[BRIDGE_COLUMNS]
