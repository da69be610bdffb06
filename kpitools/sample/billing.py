"""Accounts, subscription spans, costs to serve and targets of the sample company."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._common import FUNNEL, SEGMENT, SEGMENT_MIX, SEGMENTS, Window, add_months, ids, to_utc

_DAY_NS = 86_400 * 10**9


def accounts(leads: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """An account for every contact that started a trial (reached SAL)."""
    trial = leads[leads["sal_at"].notna()].copy()
    n = len(trial)
    mix = SEGMENT_MIX.loc[trial["channel"]].to_numpy()
    u = rng.random(n)[:, None]
    segment = np.array(SEGMENTS)[(u > np.cumsum(mix, axis=1)).sum(axis=1).clip(0, 2)]
    frame = pd.DataFrame({
        "account_id": ids("A", n),
        "signup_at": pd.to_datetime(trial["sal_at"].to_numpy(), unit="ns", utc=True),
        "channel": trial["channel"].to_numpy(),
        "segment": segment,
        "lead_row": trial.index.to_numpy(),
        "won_at": pd.to_datetime(trial["won_at"].to_numpy(), unit="ns"),
        "person": trial["person"].to_numpy(),
    })
    frame["country"] = countries(n)
    base = SEGMENT.loc[segment, "mrr_median"].to_numpy()
    frame["list_mrr"] = np.round(base * rng.lognormal(0, 0.35, n) / 10) * 10
    return frame


COUNTRIES = pd.Series({"US": 0.42, "GB": 0.12, "DE": 0.10, "FR": 0.07, "CA": 0.07, "AU": 0.05,
                       "NL": 0.05, "SE": 0.04, "IN": 0.04, "BR": 0.04})


def countries(n: int) -> np.ndarray:
    """ISO 3166 alpha-2 codes for ``n`` accounts, from a generator of their own (so that
    adding the column changed no other draw of the sample)."""
    rng = np.random.default_rng([n, 3166])
    return rng.choice(COUNTRIES.index.to_numpy(), size=n, p=COUNTRIES.to_numpy() / COUNTRIES.sum())


def subscriptions(acc: pd.DataFrame, win: Window, rng: np.random.Generator) -> pd.DataFrame:
    """Simulate each paying account month by month: renewals, upgrades, downgrades, churn
    and win-backs, vectorised over accounts.

    A monthly plan can change at each monthly anniversary; an annual plan can
    upgrade at any anniversary but churn or downgrade only at its yearly renewal.
    Churn is highest in the first months and lowest for referral customers and
    enterprise accounts; enterprise accounts expand most.
    """
    paying = acc["won_at"].notna().to_numpy()
    a = np.flatnonzero(paying)
    n = len(a)
    seg = acc["segment"].to_numpy()[a]
    params = SEGMENT.loc[seg]
    start = acc["won_at"].to_numpy()[a].astype("datetime64[ns]").astype("datetime64[D]")
    annual = rng.random(n) < params["annual_share"].to_numpy()
    mrr = acc["list_mrr"].to_numpy()[a] * np.where(annual, 0.85, 1.0)
    frailty = rng.gamma(2.0, 0.5, n)  # heterogeneity: some accounts are far likelier to leave
    hazard = params["churn"].to_numpy() * FUNNEL.loc[acc["channel"].to_numpy()[a], "churn_mult"].to_numpy() * frailty
    p_expand = params["expand"].to_numpy()
    p_contract = params["contract"].to_numpy()
    end = np.datetime64(win.end.tz_localize(None).date(), "D")

    sub_no = np.arange(n)  # subscription number; a win-back starts a new one
    next_sub = n
    anchor = start.copy()
    span_start = start.copy()
    k = np.ones(n, dtype=np.int64)  # months since the anchor at the next decision
    state = np.ones(n, dtype=np.int8)  # 1 active, 2 churned (may come back), 0 gone
    due = add_months(anchor, k)
    spans: list[pd.DataFrame] = []

    def close(idx: np.ndarray, when: np.ndarray) -> None:
        spans.append(pd.DataFrame({"acc": a[idx], "sub": sub_no[idx], "start": span_start[idx],
                                   "end": when, "mrr": mrr[idx], "annual": annual[idx]}))

    while True:
        live = (state > 0) & (due < end)
        if not live.any():
            break
        i = np.flatnonzero(live & (state == 1))
        if len(i):
            tenure = k[i]
            renewal = ~annual[i] | (tenure % 12 == 0)
            early = 1 + 1.2 * np.exp(-(tenure - 1) / 3)  # churn is front-loaded
            u = rng.random(len(i))
            churn = renewal & (u < np.clip(hazard[i] * early * np.where(annual[i], 6, 1), 0, 0.9))
            expand = ~churn & (u > 1 - p_expand[i])
            contract = ~churn & ~expand & renewal & (rng.random(len(i)) < p_contract[i])
            change = churn | expand | contract
            when = due[i]
            close(i[change], when[change])
            factor = np.where(expand, 1 + rng.uniform(0.1, 0.6, len(i)),
                              np.where(contract, 1 - rng.uniform(0.1, 0.35, len(i)), 1.0))
            mrr[i] = np.round(mrr[i] * factor, 2)
            span_start[i[change]] = when[change]
            churned = i[churn]
            back = rng.random(len(churned)) < 0.25
            gap = rng.integers(2, 11, len(churned))
            state[churned] = np.where(back, 2, 0)
            anchor[churned] = add_months(when[churn], gap)
            k[churned] = 0
            k[i[~churn]] += 1
        j = np.flatnonzero(live & (state == 2))  # win-backs start a new subscription
        if len(j):
            span_start[j] = anchor[j]
            sub_no[j] = np.arange(next_sub, next_sub + len(j))
            next_sub += len(j)
            state[j] = 1
            k[j] = 1
        due = add_months(anchor, k)
    still = state == 1
    close(np.flatnonzero(still), np.full(still.sum(), np.datetime64("NaT"), dtype="datetime64[D]"))
    s = pd.concat(spans, ignore_index=True).sort_values(["acc", "start"], ignore_index=True)
    s = s[s["start"] < end]
    seg_of = acc["segment"].to_numpy()[s["acc"].to_numpy()]
    return pd.DataFrame({
        "subscription_id": ids("S", len(s)),  # one id per span: the contract's ids are unique
        "account_id": acc["account_id"].to_numpy()[s["acc"].to_numpy()],
        "start_date": to_utc(s["start"].to_numpy().astype("datetime64[ns]")),
        "end_date": to_utc(s["end"].to_numpy().astype("datetime64[ns]")),
        "mrr": s["mrr"].to_numpy(),
        "plan": SEGMENT.loc[seg_of, "plan"].to_numpy(),
        "billing_period": np.where(s["annual"].to_numpy(), "year", "month"),
    })


def month_ends(win: Window) -> pd.DatetimeIndex:
    """Last day of every complete month of the window (UTC midnight)."""
    firsts = pd.date_range(win.start, win.end, freq="MS", tz="UTC")
    return (firsts[1:] - pd.Timedelta(days=1)).as_unit("ns")


def mrr_by_month(subs: pd.DataFrame, win: Window) -> pd.DataFrame:
    """Total MRR and paying accounts on the last day of each month (for costs and targets)."""
    days = month_ends(win)
    start = subs["start_date"].to_numpy()
    stop = subs["end_date"].fillna(pd.Timestamp.max.tz_localize("UTC")).to_numpy()
    active = (start[None, :] <= days.to_numpy()[:, None]) & (stop[None, :] > days.to_numpy()[:, None])
    mrr = active @ subs["mrr"].to_numpy()
    acc_codes = pd.factorize(subs["account_id"])[0]
    customers = [len(np.unique(acc_codes[row])) for row in active]
    return pd.DataFrame({"day": days, "mrr": mrr, "customers": customers})


def costs(subs: pd.DataFrame, win: Window, rng: np.random.Generator, scale: float) -> pd.DataFrame:
    """Monthly cost to serve by category, dated the first of the month."""
    monthly = mrr_by_month(subs, win)
    first_paid = subs.groupby("account_id")["start_date"].min()
    new = first_paid.dt.tz_convert(None).dt.to_period("M").value_counts()
    rows = []
    for _, r in monthly.iterrows():  # one row a month: 24 iterations
        first = r["day"].replace(day=1)
        n_new = int(new.get(first.tz_convert(None).to_period("M"), 0))
        noise = rng.lognormal(0, 0.05, 4)
        amounts = {
            "support": 40.0 * r["customers"] * noise[0],
            "infrastructure": (0.11 * r["mrr"] + 2500 * scale) * noise[1],
            "onboarding": 400.0 * n_new * noise[2],
            "programs": 1800.0 * scale * noise[3],
        }
        rows += [{"date": first, "category": c, "amount": round(v, 2)} for c, v in amounts.items()]
    return pd.DataFrame(rows)


def targets(subs: pd.DataFrame, leads: pd.DataFrame, win: Window) -> pd.DataFrame:
    """Goals set a quarter ahead: 3 % monthly growth on the actual of three months
    before, a fixed churn ceiling and an NPS goal; monthly and quarterly."""
    monthly = mrr_by_month(subs, win)
    monthly["period"] = monthly["day"].dt.tz_localize(None).dt.to_period("M")
    lead_month = pd.to_datetime(leads["lead_at"].dropna()).dt.to_period("M").value_counts()
    rows = []
    for i in range(len(monthly)):  # each month's goals, set three months ahead
        base = monthly.iloc[i]
        period = base["period"] + 3
        label = str(period)
        rows.append({"period": label, "kpi": "mrr", "target": round(base["mrr"] * 1.03**3, -2)})
        leads_then = lead_month.get(base["period"], 0)
        rows.append({"period": label, "kpi": "leads", "target": float(round(leads_then * 1.06))})
        rows.append({"period": label, "kpi": "customer_churn_rate", "target": 0.025})
        rows.append({"period": label, "kpi": "nps", "target": 40.0})
        if period.month % 3 == 0:
            q = f"{period.year}-Q{(period.month - 1) // 3 + 1}"
            rows.append({"period": q, "kpi": "mrr", "target": round(base["mrr"] * 1.03**3, -2)})
    return pd.DataFrame(rows)


__all__ = ["accounts", "subscriptions", "costs", "targets", "mrr_by_month"]
