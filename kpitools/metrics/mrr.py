"""The MRR grid and the MRR bridge: every account's MRR at each period end, and the
movements (new, expansion, contraction, churned, reactivation) between period ends.

Definitions (``spec/metrics.md``, Revenue): a span is active on day ``d`` when
``start_date <= d < end_date``; an account's MRR on ``d`` is the sum of its active
spans' ``mrr``. Movements compare each account's MRR on the last day of the
previous period (``prev``) with the last day of this one (``cur``):

- **new**: prev = 0, cur > 0, and the account had no paid day before this period;
- **reactivation**: prev = 0, cur > 0, and it had paid before this period;
- **expansion**: 0 < prev < cur;  **contraction**: 0 < cur < prev;
- **churned**: prev > 0, cur = 0.

so that ``new + reactivation + expansion - contraction - churned = mrr - mrr_prev``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..periods import Period

__all__ = ["epoch_ns", "mrr_grid", "first_paid_day", "mrr_movements", "MOVEMENTS"]

MOVEMENTS = ("new", "expansion", "contraction", "churned", "reactivation")
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


def _paid_spans(subscriptions: pd.DataFrame) -> pd.DataFrame:
    s = subscriptions
    keep = (s["mrr"] > 0) & (s["end_date"].isna() | (s["end_date"] > s["start_date"]))
    return s.loc[keep, ["account_id", "start_date", "end_date", "mrr"]]


def mrr_grid(subscriptions: pd.DataFrame, days: Sequence[pd.Timestamp] | pd.DatetimeIndex,
             ) -> pd.DataFrame:
    """MRR of every account on each of the given days.

    Parameters
    ----------
    subscriptions : DataFrame
        Columns ``account_id``, ``start_date``, ``end_date`` (exclusive, empty =
        active) and ``mrr``.
    days : sequence of Timestamp
        The days to read (time of day ignored), in any order.

    Returns
    -------
    DataFrame
        Index ``account_id`` (every account with a paid span), one column per
        day (sorted, UTC midnight), values the account's MRR that day (0 when
        not paying).

    Notes
    -----
    Vectorised: each span is expanded only over the requested days it covers
    (``searchsorted`` on the sorted days), then summed per account and day.
    """
    day_index = pd.DatetimeIndex(pd.to_datetime(list(days), utc=True)).normalize()
    day_index = day_index.unique().sort_values().as_unit("ns")
    spans = _paid_spans(subscriptions)
    accounts, codes = np.unique(spans["account_id"].astype("str").to_numpy(), return_inverse=True)
    d = day_index.asi8
    first = np.searchsorted(d, epoch_ns(spans["start_date"]), side="left")
    stop = np.searchsorted(d, epoch_ns(spans["end_date"]), side="left")
    length = np.maximum(stop - first, 0)
    span = np.repeat(np.arange(len(spans)), length)
    k = first[span] + np.arange(len(span)) - np.repeat(np.cumsum(length) - length, length)
    flat = np.bincount(codes[span] * len(d) + k, weights=spans["mrr"].to_numpy(dtype=float)[span],
                       minlength=len(accounts) * len(d))
    grid = flat.reshape(len(accounts), len(d))
    return pd.DataFrame(grid, index=pd.Index(accounts, name="account_id"), columns=day_index)


def first_paid_day(subscriptions: pd.DataFrame) -> pd.Series:
    """Each account's first day with MRR > 0 (UTC midnight), indexed by ``account_id``."""
    spans = _paid_spans(subscriptions)
    first = spans.groupby("account_id")["start_date"].min().dt.normalize()
    first.name = "first_paid_day"
    return first


def mrr_movements(subscriptions: pd.DataFrame, *, periods: Sequence[Period | str]) -> pd.DataFrame:
    """The MRR bridge of each period.

    Parameters
    ----------
    subscriptions : DataFrame
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
    periods = [Period.parse(p) for p in periods]
    ends = [p.last_day for p in periods]
    starts = [p.previous().last_day for p in periods]
    grid = mrr_grid(subscriptions, ends + starts)
    first = first_paid_day(subscriptions).reindex(grid.index)
    first_ns = epoch_ns(first)
    rows = []
    for period, start, end in zip(periods, starts, ends, strict=True):
        prev = grid[start.normalize()].to_numpy()
        cur = grid[end.normalize()].to_numpy()
        gained = (prev == 0) & (cur > 0)
        paid_before = first_ns < period.start.value  # a paid day before this period began
        classes = {
            "new": gained & ~paid_before,
            "reactivation": gained & paid_before,
            "expansion": (prev > 0) & (cur > prev),
            "contraction": (cur > 0) & (cur < prev),
            "churned": (prev > 0) & (cur == 0),
        }
        delta = np.abs(cur - prev)
        row = {"period": str(period), "start": start, "end": end,
               "mrr_start": float(prev.sum())}
        for name, mask in classes.items():
            row[f"{name}_mrr"] = float(delta[mask].sum())
        row["net_new_mrr"] = (row["new_mrr"] + row["reactivation_mrr"] + row["expansion_mrr"]
                              - row["contraction_mrr"] - row["churned_mrr"])
        row["mrr"] = float(cur.sum())
        row["customers_start"] = int((prev > 0).sum())
        for name, mask in classes.items():
            label = {"reactivation": "reactivated", "new": "new"}.get(name, name)
            row[f"{label}_customers"] = int(mask.sum())
        row["customers"] = int((cur > 0).sum())
        rows.append(row)
    columns = ["period", "start", "end", "mrr_start", "new_mrr", "expansion_mrr", "contraction_mrr",
               "churned_mrr", "reactivation_mrr", "net_new_mrr", "mrr", "customers_start",
               "new_customers", "expansion_customers", "contraction_customers", "churned_customers",
               "reactivated_customers", "customers"]
    return pd.DataFrame(rows, columns=columns)
