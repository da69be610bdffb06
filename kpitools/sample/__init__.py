"""The sample company: a seeded, internally consistent B2B SaaS data directory.

``Acme Metrics`` sells an analytics product to small businesses, mid-market
and enterprise companies. Website visitors become contacts, leads, MQLs, trial
accounts (SAL), SQLs and customers; customers subscribe monthly or yearly,
upgrade, downgrade, churn and sometimes come back; their users log in, click
and use features with fading enthusiasm. The data holds the stories an analyst
should find:

- referral customers churn least and have the best LTV:CAC;
- paid social has the worst CAC;
- enterprise accounts expand (net revenue retention above 100 %);
- in the last three months website sessions rise while visitor-to-lead
  conversion falls.

Run ``python -m kpitools.sample --out DIR [--scale X] [--seed N]``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..sources.schema import TABLES
from . import billing, marketing, product
from ._common import Window, ids

__all__ = ["generate", "write", "DEFAULT_START", "DEFAULT_END"]

DEFAULT_START = "2024-10-01"
DEFAULT_END = "2026-10-15"  # exclusive: the data runs to 14 October 2026


def generate(*, seed: int = 7, scale: float = 1.0, start: str = DEFAULT_START,
             end: str = DEFAULT_END) -> dict[str, pd.DataFrame]:
    """Generate every table of the data contract.

    Parameters
    ----------
    seed : int
        Seed of the random generator; the same seed gives the same data.
    scale : float
        Multiplies traffic, contacts and spend (and so accounts and events):
        1 gives about 1.2 million events, 10 about 12 million.
    start, end : str
        First day and exclusive last day of the data (UTC).

    Returns
    -------
    dict of str to DataFrame
        One frame per contract table, in the contract's columns.
    """
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    rng = np.random.default_rng(seed)
    win = Window(pd.Timestamp(start, tz="UTC"), pd.Timestamp(end, tz="UTC"))
    sessions = marketing.web_sessions(win, rng, scale)
    visitor_ids = ids("V", int(sessions["visitor"].max()) + 1)
    leads = marketing.contacts(win, sessions, visitor_ids, rng, scale)
    acc = billing.accounts(leads, rng)
    subs = billing.subscriptions(acc, win, rng)
    people = product.users(acc, subs, win, rng)

    account_of = np.full(len(leads), None, dtype=object)
    account_of[acc["lead_row"].to_numpy()] = acc["account_id"].to_numpy()
    expected = np.full(len(leads), np.nan)
    expected[acc["lead_row"].to_numpy()] = acc["list_mrr"].to_numpy()
    seg_median = billing.SEGMENT["mrr_median"].mean()
    expected = np.where(np.isnan(expected), seg_median, expected)

    events = pd.concat([
        marketing.web_events(sessions, visitor_ids, rng),
        product.lifecycle_events(acc, leads, win, rng),
        product.usage_events(people, acc, win, rng),
    ], ignore_index=True)
    events["timestamp"] = pd.to_datetime(events["timestamp"].astype(np.int64), unit="ns", utc=True)
    events = events[events["timestamp"] < win.end]
    events = events.sort_values("timestamp", kind="stable", ignore_index=True)
    events = events[["user_id", "timestamp", "event", "account_id", "feature", "channel"]]

    return {
        "accounts": acc[["account_id", "signup_at", "channel", "segment", "country"]].reset_index(drop=True),
        "subscriptions": subs,
        "events": events,
        "leads": marketing.lead_table(leads, account_of),
        "opportunities": marketing.opportunities(leads, expected, win, rng),
        "spend": marketing.spend(win, rng, scale),
        "costs": billing.costs(subs, win, rng, scale),
        "nps": product.nps(people, acc, win, rng),
        "channel_metrics": marketing.channel_metrics(win, sessions, leads, rng),
        "targets": billing.targets(subs, leads.assign(
            lead_at=pd.to_datetime(leads["lead_at"], unit="ns")), win),
    }


def write(tables: dict[str, pd.DataFrame], out: str | os.PathLike[str], *,
          fmt: str = "parquet") -> dict[str, Path]:
    """Write tables as ``<name>.parquet`` (or ``.csv``) into ``out``; returns the paths."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, frame in tables.items():
        for stale in (out / f"{name}.csv", out / f"{name}.parquet"):
            stale.unlink(missing_ok=True)
        path = out / f"{name}.{fmt}"
        if fmt == "parquet":
            frame.to_parquet(path, index=False, compression="zstd", coerce_timestamps="ms",
                             allow_truncated_timestamps=True)
        else:
            frame = frame.copy()
            for col in TABLES[name].columns:
                if col.kind == "date" and col.name in frame:
                    frame[col.name] = frame[col.name].dt.strftime("%Y-%m-%d")
            frame.to_csv(path, index=False, date_format="%Y-%m-%dT%H:%M:%SZ")
        paths[name] = path
    return paths
