"""Cohorts and retention: revenue, signup and activity cohorts, logo and revenue
retention by period number, the triangle, and sBG projections.

A cohort is the accounts (or users) whose first qualifying day falls in one
period: the first paid day (revenue cohorts), ``signup_at`` (signup cohorts) or
the first event (activity cohorts). Period number k = 0 is the cohort's own
period. An account is active in period k when it pays on k's last day (revenue
and signup cohorts); a user when it has a qualifying event in k (activity
cohorts). Cells after the last observed period are empty, never zero.
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import numpy as np
import pandas as pd

from ..engine import Table, run, table, utc
from ..periods import Period, period_index
from .mrr import first_paid_day, mrr_grid
from .sbg import SBG, fit_sbg, fit_sbg_cohorts

__all__ = ["revenue_cohorts", "signup_cohorts", "retention_triangle",
           "survivor_counts", "fit_cohorts", "projected_ltv", "pooled_model", "pooled_models", "group_curves",
           "comparison_age", "churn_mix",
           "choose_basis", "cohorts_for", "fit_sbg", "SBG"]

TIDY = ["cohort", "period_number", "period", "cohort_size", "active", "retention", "surviving",
        "survival", "partial"]


def _periods_between(first: Period, last: Period) -> list[Period]:
    out = [first]
    while out[-1] < last:
        out.append(out[-1].shift(1))
    return out


def _tidy(active: np.ndarray, ever: np.ndarray, alive: np.ndarray, cohort_idx: np.ndarray,
          periods: list[Period], groups: np.ndarray | None, data_end: pd.Timestamp | None,
          mode: str, mrr: np.ndarray | None = None) -> pd.DataFrame:
    """Aggregate per-member activity matrices (members x periods, aligned on calendar
    periods) into the tidy cohort table."""
    n_periods = len(periods)
    if groups is None:
        groups = np.zeros(len(cohort_idx), dtype=int)
        labels = np.array([None])
    else:
        labels, groups = np.unique(groups.astype(str), return_inverse=True)
    rows = []
    use = ever if mode == "on_or_after" else active
    key = groups * n_periods + cohort_idx
    size = np.bincount(key, minlength=len(labels) * n_periods)
    base_mrr = None
    for k in range(n_periods):
        col = cohort_idx + k
        ok = col < n_periods
        idx = np.flatnonzero(ok)
        counts = np.bincount(key[idx], weights=use[idx, col[idx]], minlength=len(size))
        surviving = np.bincount(key[idx], weights=alive[idx, col[idx]], minlength=len(size))
        money = None
        if mrr is not None:
            money = np.bincount(key[idx], weights=mrr[idx, col[idx]], minlength=len(size))
            if k == 0:
                base_mrr = money
        for g in range(len(labels)):
            for c in range(n_periods):
                j = g * n_periods + c
                if size[j] == 0 or c + k >= n_periods:
                    continue
                period = periods[c + k]
                row = {"group": labels[g], "cohort": str(periods[c]), "period_number": k,
                       "period": str(period), "cohort_size": int(size[j]),
                       "active": int(counts[j]), "surviving": int(surviving[j]),
                       "partial": bool(data_end is not None and period.end > data_end)}
                if money is not None:
                    row["mrr"] = float(money[j])
                    row["revenue_retention"] = (money[j] / base_mrr[j]) if base_mrr[j] else np.nan
                rows.append(row)
    out = pd.DataFrame(rows)
    if out.empty:
        cols = TIDY + (["mrr", "revenue_retention"] if mrr is not None else [])
        return pd.DataFrame(columns=cols)
    out["retention"] = out["active"] / out["cohort_size"]
    out["survival"] = out["surviving"] / out["cohort_size"]
    cols = [c for c in TIDY if c in out] + [c for c in ("mrr", "revenue_retention") if c in out]
    if labels[0] is not None:
        cols = ["group", *cols]
    return out[cols].sort_values([*(["group"] if labels[0] is not None else []), "cohort",
                                  "period_number"], ignore_index=True)


def _alive(active: np.ndarray, cohort_idx: np.ndarray) -> np.ndarray:
    """Active in every period from the cohort's own up to this one (no lapse yet)."""
    n = active.shape[1]
    before = np.arange(n)[None, :] < cohort_idx[:, None]
    lapsed = np.cumsum(~active & ~before, axis=1) > 0
    return active & ~lapsed


def _ever(active: np.ndarray) -> np.ndarray:
    """Active in this period or any later one ("on or after" retention)."""
    return np.flip(np.maximum.accumulate(np.flip(active, axis=1), axis=1), axis=1)


def _paying_matrix(subscriptions: Table, accounts: Sequence[str], periods: list[Period],
                   ) -> np.ndarray:
    grid = mrr_grid(subscriptions, [p.last_day for p in periods]).reindex(accounts, fill_value=0.0)
    return grid.to_numpy()


def revenue_cohorts(subscriptions: Table, *, through: Period | str, kind: str = "M",
                    mode: str = "on", accounts: Table | None = None, by: str | None = None,
                    data_end: pd.Timestamp | None = None) -> pd.DataFrame:
    """Logo and revenue retention of cohorts by first paid period.

    Parameters
    ----------
    subscriptions : DataFrame
        The contract's subscriptions.
    through : Period or str
        The last period observed (usually the report period).
    kind : {"M", "Q", "W"}
        Cohort and period length.
    mode : {"on", "on_or_after"}
        Active in period k, or in k or any later observed period.
    accounts, by : optional
        Break cohorts down by a column of ``accounts`` (``channel``, ``segment``).
    data_end : Timestamp, optional
        The data's last timestamp: periods ending after it are marked ``partial``.

    Returns
    -------
    DataFrame
        One row per (cohort, period number): ``cohort``, ``period_number``,
        ``period`` (calendar period of the cell), ``cohort_size``, ``active``,
        ``retention`` = active / cohort_size, ``surviving`` and ``survival``
        (paying at the end of every period since the cohort's own),
        ``partial``, ``mrr`` (the cohort's MRR at the end of period k) and
        ``revenue_retention`` = mrr / mrr at the end of period 0. With ``by``, a
        leading ``group`` column.
    """
    through = Period.parse(through)
    if through.kind != kind:
        through = Period.containing(through.last_day, kind)
    first = first_paid_day(subscriptions)
    first = first[first < through.end]
    if first.empty:
        return _tidy(np.zeros((0, 1), bool), np.zeros((0, 1), bool), np.zeros((0, 1), bool),
                     np.zeros(0, int), [through], None, data_end, mode, np.zeros((0, 1)))
    origin = Period.containing(first.min(), kind)
    periods = _periods_between(origin, through)
    cohort_idx = period_index(first, origin)
    grid = _paying_matrix(subscriptions, first.index, periods)
    active = grid > 0
    groups = _group_values(accounts, by, first.index)
    return _tidy(active, _ever(active), _alive(active, cohort_idx), cohort_idx, periods, groups,
                 data_end, mode, mrr=grid)


def _account_labels(accounts: Table, by: str) -> pd.Series:
    """``accounts[by]`` by account id (one value per account, from the engine)."""
    acc = table(accounts, "accounts")
    frame = run(acc.select("account_id", label=acc[by].cast("string")))
    return frame.drop_duplicates("account_id", keep="last").set_index("account_id")["label"]


def _group_values(accounts: Table | None, by: str | None, ids: pd.Index) -> np.ndarray | None:
    if by is None:
        return None
    if accounts is None:
        raise ValueError(f"a breakdown by {by!r} needs the accounts table")
    return _account_labels(accounts, by).reindex(ids).fillna("(unknown)").astype(str).to_numpy()


def signup_cohorts(accounts: Table, subscriptions: Table, *, through: Period | str,
                   kind: str = "M", mode: str = "on", by: str | None = None,
                   data_end: pd.Timestamp | None = None) -> pd.DataFrame:
    """Cohorts by ``accounts.signup_at``; an account is active in period k when it pays on
    k's last day. Period 0 is below 100 % when trials convert later or never.

    Returns the columns of :func:`revenue_cohorts` (without the revenue columns).
    """
    through = Period.parse(through)
    if through.kind != kind:
        through = Period.containing(through.last_day, kind)
    t = table(accounts, "accounts")
    t = t.filter(t.signup_at < utc(through.end))
    acc = run(t.select("account_id", "signup_at", *([] if by is None else [t[by].cast("string").name("group")])))
    acc["signup_at"] = pd.to_datetime(acc["signup_at"], utc=True)
    origin = Period.containing(acc["signup_at"].min(), kind)
    periods = _periods_between(origin, through)
    cohort_idx = period_index(acc["signup_at"], origin)
    active = _paying_matrix(subscriptions, acc["account_id"], periods) > 0
    groups = acc["group"].fillna("(unknown)").astype(str).to_numpy() if by else None
    return _tidy(active, _ever(active), _alive(active, cohort_idx), cohort_idx, periods, groups,
                 data_end, mode)


def retention_triangle(tidy: pd.DataFrame, value: str = "retention") -> pd.DataFrame:
    """The familiar triangle: one row per cohort, one column per period number; cells not
    yet observable are NaN."""
    return tidy.pivot(index="cohort", columns="period_number", values=value)


def survivor_counts(tidy: pd.DataFrame, *, complete_only: bool = True) -> dict[str, list[int]]:
    """Each cohort's ``[n_0, n_1, ...]`` survivor counts for the sBG model, leaving out
    partial periods when ``complete_only``."""
    frame = tidy[~tidy["partial"]] if complete_only and "partial" in tidy else tidy
    return {c: g.sort_values("period_number")["surviving"].astype(int).tolist()
            for c, g in frame.groupby("cohort")}


def fit_cohorts(tidy: pd.DataFrame, *, min_size: int = 20, min_periods: int = 3) -> pd.DataFrame:
    """sBG fits to each cohort with at least ``min_size`` members and ``min_periods``
    observed periods after its own, and to all cohorts pooled.

    Returns
    -------
    DataFrame
        One row per cohort and a last row ``cohort == "all (pooled)"``: ``cohort``,
        ``cohorts`` fitted (1, or the pooled cohorts: those observed one period or more),
        ``size`` (their customers at start), ``periods`` observed (the most of them),
        ``alpha``, ``beta``, ``churn_first_period`` (alpha / (alpha + beta)),
        ``median_lifetime`` (periods; it may lie beyond ``periods``, where the data cannot
        check it), ``note``.
    """
    counts = survivor_counts(tidy)
    rows = []
    usable = []
    for cohort, n in counts.items():
        row = {"cohort": cohort, "cohorts": 1, "size": n[0] if n else 0, "periods": max(len(n) - 1, 0)}
        if len(n) - 1 < min_periods or not n or n[0] < min_size:
            row["note"] = "too small or too young to fit"
        else:
            usable.append(n)
            row.update(_fit_row(fit_sbg, n))
        rows.append(row)
    pooled_on = [n for n in counts.values() if len(n) >= 2]
    pooled = {"cohort": "all (pooled)", "cohorts": len(pooled_on), "size": sum(n[0] for n in pooled_on),
              "periods": max((len(n) - 1 for n in pooled_on), default=0)}
    pooled.update(_fit_row(fit_sbg_cohorts, pooled_on))
    rows.append(pooled)
    cols = ["cohort", "cohorts", "size", "periods", "alpha", "beta", "churn_first_period", "median_lifetime", "note"]
    return pd.DataFrame(rows).reindex(columns=cols)


def _fit_row(fitter, data) -> dict:
    try:
        model = fitter(data)
    except ValueError as exc:
        return {"note": str(exc)}
    if model.homogeneous:  # alpha and beta ran off together: only their ratio is identified
        return {"churn_first_period": model.mean_churn_rate, "median_lifetime": model.median_lifetime(),
                "note": "geometric: churn alike for every customer"}
    return {"alpha": model.alpha, "beta": model.beta, "churn_first_period": model.mean_churn_rate,
            "median_lifetime": model.median_lifetime(), "note": ""}


def projected_ltv(model: SBG, *, monthly_margin: float, annual_discount: float = 0.10,
                  months_per_period: float = 1.0) -> float:
    """Discounted lifetime value from a fitted sBG survival curve.

    .. math:: LTV = m \\sum_{t \\ge 0} S(t) / (1 + d)^t

    with ``m`` the margin per period (monthly margin x months per period) and
    ``d`` the annual rate converted to the period: (1 + annual)^(months/12) - 1.
    """
    rate = (1 + annual_discount) ** (months_per_period / 12) - 1
    return monthly_margin * months_per_period * model.discounted_expected_lifetime(rate)


def pooled_model(subscriptions: Table, *, through: Period | str) -> SBG:
    """The sBG model fitted to every monthly revenue cohort's survival through a period."""
    tidy = revenue_cohorts(subscriptions, through=Period.containing(Period.parse(through).last_day, "M"))
    return fit_sbg_cohorts([n for n in survivor_counts(tidy).values() if len(n) >= 2])


def pooled_models(subscriptions: Table, *, through: Sequence[Period | str]) -> dict[str, SBG | None]:
    """:func:`pooled_model` through each of several periods (None where it cannot be
    fitted), from one cohort table: the cells of the cohort table through an earlier
    month are those of the latest one up to that month (a member's survival depends only
    on the periods before)."""
    months = {str(p): Period.containing(Period.parse(p).last_day, "M") for p in through}
    tidy = revenue_cohorts(subscriptions, through=max(months.values()))
    out: dict[str, SBG | None] = dict.fromkeys(months)
    if tidy.empty or "cohort" not in tidy:  # nobody ever paid
        return out
    cell = tidy["period"].map(Period.parse)
    for name, month in months.items():
        part = tidy[(cell <= month).to_numpy(dtype=bool)]
        try:
            out[name] = fit_sbg_cohorts([n for n in survivor_counts(part).values() if len(n) >= 2])
        except ValueError:  # no cohort with a later period, or nobody ever churned
            out[name] = None
    return out


def group_curves(tidy: pd.DataFrame, *, min_size: int = 20) -> pd.DataFrame:
    """Retention by period number per group (or for all cohorts), pooling cohorts: the
    sum of active members over the sum of cohort sizes among cohorts observed at k.

    Ages observed on fewer than ``min_size`` members (the oldest cohorts' tails) are
    left out: a share of five accounts is noise.

    Returns ``group`` (when present), ``period_number``, ``cohort_size``, ``active``,
    ``surviving``, ``retention`` and ``survival``.
    """
    keys = (["group"] if "group" in tidy else []) + ["period_number"]
    frame = tidy[~tidy["partial"]] if "partial" in tidy else tidy
    out = frame.groupby(keys, as_index=False)[["cohort_size", "active", "surviving"]].sum()
    out = out[out["cohort_size"] >= min_size].reset_index(drop=True)
    out["retention"] = out["active"] / out["cohort_size"]
    out["survival"] = out["surviving"] / out["cohort_size"]
    return out


def comparison_age(curves: pd.DataFrame, kind: str = "M") -> int | None:
    """The age at which groups' retention is compared: a year (12 months, 4 quarters) or
    the oldest age observed in ``curves`` (from :func:`group_curves`) if younger; None
    when nothing is observed."""
    if curves.empty:
        return None
    return min(12 if kind == "M" else 4, int(curves["period_number"].max()))


def churn_mix(subscriptions: Table, accounts: Table, *, period: Period | str,
              months: int = 12, by: str = "channel") -> pd.DataFrame:
    """Where the churned customers came from: accounts lost over the trailing ``months``
    months (paying at one month's end, not at the next) by a column of ``accounts``
    or by ``plan`` (of the last paid span), against the mix of customers at the start.

    Returns
    -------
    DataFrame
        ``<by>``, ``churned``, ``share_of_churned``, ``customers_at_start``,
        ``share_of_customers``, ``index`` = share_of_churned / share_of_customers
        (above 1: over-represented among the churned), sorted by ``churned``.
    """
    period = Period.parse(period)
    window = Period.containing(period.last_day, "M").last_n(months)
    days = [window[0].previous().last_day] + [m.last_day for m in window]
    grid = mrr_grid(subscriptions, days)
    values = grid.to_numpy()
    lost = ((values[:, :-1] > 0) & (values[:, 1:] == 0)).sum(axis=1)
    if by == "plan":
        label = _last_plans(subscriptions).reindex(grid.index)
    else:
        label = _account_labels(accounts, by).reindex(grid.index)
    label = label.fillna("(unknown)").astype(str)
    frame = pd.DataFrame({by: label.to_numpy(), "churned": lost, "start": values[:, 0] > 0})
    out = frame.groupby(by, as_index=False).agg(churned=("churned", "sum"),
                                               customers_at_start=("start", "sum"))
    out["share_of_churned"] = out["churned"] / max(out["churned"].sum(), 1)
    out["share_of_customers"] = out["customers_at_start"] / max(out["customers_at_start"].sum(), 1)
    out["index"] = out["share_of_churned"] / out["share_of_customers"].where(out["share_of_customers"] > 0)
    cols = [by, "churned", "share_of_churned", "customers_at_start", "share_of_customers", "index"]
    return out[cols].sort_values("churned", ascending=False, ignore_index=True)


def _last_plans(subscriptions: Table) -> pd.Series:
    """The plan of each account's latest-starting paid span (ties: the larger
    ``subscription_id``), by account id."""
    t = table(subscriptions, "subscriptions")
    paid = t.filter(t.mrr > 0)
    latest = ibis.window(group_by=paid.account_id, order_by=[ibis.desc(paid.start_date),
                                                               ibis.desc(paid.subscription_id)])
    ranked = paid.select("account_id", "plan", rank=ibis.row_number().over(latest))
    return run(ranked.filter(ranked["rank"] == 0).select("account_id", "plan")).set_index("account_id")["plan"]


BASES = ("revenue", "signup", "activity")


def choose_basis(data, basis: str = "auto") -> str:
    """The cohort basis the data allows: ``revenue`` (subscriptions), ``signup`` (accounts
    and subscriptions) or ``activity`` (events alone). ``auto`` takes the first possible
    of revenue and activity."""
    needs = {"revenue": ("subscriptions",), "signup": ("accounts", "subscriptions"),
             "activity": ("events",)}
    if basis == "auto":
        for candidate in ("revenue", "activity"):
            if data.has(*needs[candidate]):
                return candidate
        raise ValueError("cohorts need subscriptions (revenue cohorts) or events (activity cohorts)")
    if basis not in needs:
        raise ValueError(f"cohort basis must be auto, {', '.join(BASES)}; got {basis!r}")
    data.require(*needs[basis])
    return basis


def cohorts_for(data, *, basis: str, through: Period | str, kind: str = "M", mode: str = "on",
                by: str | None = None, event: str | None = None) -> pd.DataFrame:
    """The cohort table of a :class:`~kpitools.sources.data.Dataset` on a basis (see :func:`choose_basis`)."""
    end = data.date_range[1]
    if basis == "revenue":
        return revenue_cohorts(data.subscriptions, through=through, kind=kind, mode=mode,
                               accounts=data.accounts, by=by, data_end=end)
    if basis == "signup":
        return signup_cohorts(data.accounts, data.subscriptions, through=through, kind=kind, mode=mode,
                              by=by, data_end=end)
    from .activity import activity_cohorts  # activity cohorts build on this module's table

    return activity_cohorts(data.events, through=through, kind=kind, mode=mode, event=event, by=by,
                            data_end=end)

