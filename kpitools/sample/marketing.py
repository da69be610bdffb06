"""Website traffic, contacts through the lifecycle stages, opportunities, spend and
channel metrics of the sample company."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._common import CHANNELS, FUNNEL, WEB_CHANNELS, Window, ids, to_utc

WEEKDAY = np.array([1.12, 1.15, 1.13, 1.08, 0.97, 0.74, 0.70])  # Monday first
_DAY_NS = 86_400 * 10**9


def _daily_factor(win: Window, rng: np.random.Generator, growth: float) -> np.ndarray:
    day = np.arange(win.days)
    weekday = (win.start.day_of_week + day) % 7
    season = 1 + 0.08 * np.cos(2 * np.pi * (day - 15) / 365.25)  # a summer lull
    noise = rng.lognormal(0, 0.08, win.days)
    return (1 + growth) ** (day / 30.4) * WEEKDAY[weekday] * season * noise


def web_sessions(win: Window, rng: np.random.Generator, scale: float) -> pd.DataFrame:
    """One row per website session: day, start time (ns), channel, visitor number.

    Sessions grow about 2.5 % a month; in the last three months organic and paid
    traffic rise a further 35 % (a campaign) while it converts worse.
    """
    frames = []
    for channel in WEB_CHANNELS:
        rate = FUNNEL.at[channel, "sessions"] * scale * _daily_factor(win, rng, 0.025)
        if channel != "referral":
            rate = rate * (1 + 0.35 * win.story_weight(np.arange(win.days)))
        counts = rng.poisson(rate)
        day = np.repeat(np.arange(win.days), counts)
        frames.append(pd.DataFrame({"day": day, "channel": channel}))
    sessions = pd.concat(frames, ignore_index=True)
    n = len(sessions)
    # Office-hours arrival: a mixture centred on 14:00 UTC.
    seconds = np.clip(rng.normal(14 * 3600, 4 * 3600, n), 0, 86_399).astype(np.int64)
    start = win.start.value + sessions["day"].to_numpy() * _DAY_NS + seconds * 10**9
    sessions["start"] = start
    sessions = sessions.sort_values("start", ignore_index=True)
    # 35 % of sessions come from a returning visitor, drawn among those seen before.
    new = rng.random(n) >= 0.35
    new[0] = True
    seen = np.cumsum(new)
    visitor = np.where(new, seen - 1, np.floor(rng.random(n) * (seen - new)).astype(np.int64))
    sessions["visitor"] = visitor
    return sessions


def web_events(sessions: pd.DataFrame, visitor_ids: np.ndarray, rng: np.random.Generator,
               ) -> pd.DataFrame:
    """Page views and clicks of each session: 38 % bounce with a single page view."""
    n = len(sessions)
    bounce = rng.random(n) < 0.38
    pages = np.where(bounce, 1, 1 + rng.geometric(0.55, n))
    clicks = np.where(bounce, 0, rng.poisson(0.5 * pages))
    total = pages + clicks
    row = np.repeat(np.arange(n), total)
    first = np.cumsum(total) - total
    k = np.arange(len(row)) - first[row]
    gaps = rng.exponential(55, len(row)) * (k > 0)
    # cumulative seconds within the session
    offset = np.cumsum(gaps)
    offset -= np.repeat(offset[first], total)
    is_page = k < np.repeat(pages, total)
    return pd.DataFrame({
        "user_id": visitor_ids[sessions["visitor"].to_numpy()[row]],
        "timestamp": sessions["start"].to_numpy()[row] + (offset * 1e9).astype(np.int64),
        "event": np.where(is_page, "page_view", "click"),
        "channel": sessions["channel"].to_numpy()[row],
    })


def contacts(win: Window, sessions: pd.DataFrame, visitor_ids: np.ndarray,
             rng: np.random.Generator, scale: float) -> pd.DataFrame:
    """Contacts with the time each reached lead, MQL, SAL, SQL and won (NaT = not yet/never).

    Web contacts come from sessions (conversion falls by a third over the last
    three months); events and outbound contacts come from webinars and prospecting.
    """
    day = sessions["day"].to_numpy()
    rate = FUNNEL.loc[sessions["channel"], "contact"].to_numpy() * (1 - 0.33 * win.story_weight(day))
    hit = rng.random(len(sessions)) < rate
    web = pd.DataFrame({
        "created": sessions["start"].to_numpy()[hit] + rng.integers(60, 900, hit.sum()) * 10**9,
        "channel": sessions["channel"].to_numpy()[hit],
        "person": visitor_ids[sessions["visitor"].to_numpy()[hit]],
    })
    web = web[web["created"] < win.end.value].drop_duplicates("person")  # a contact once
    offline = []
    all_days = np.arange(win.days)
    for channel in ("events", "outbound"):
        rate = FUNNEL.at[channel, "offline_contacts"] * scale * _daily_factor(win, rng, 0.02)
        if channel == "events":  # webinars on the 2nd and 4th Thursday of each month
            dates = win.start + pd.to_timedelta(all_days, unit="D")
            webinar = (dates.day_of_week == 3) & (((dates.day - 1) // 7).isin([1, 3]))
            rate = np.where(webinar, rate * 9.0, rate * 0.25)
        counts = rng.poisson(rate)
        d = np.repeat(all_days, counts)
        created = win.start.value + d * _DAY_NS + rng.integers(9 * 3600, 18 * 3600, len(d)) * 10**9
        offline.append(pd.DataFrame({"created": created, "channel": channel}))
    off = pd.concat(offline, ignore_index=True)
    off["person"] = ids("P", len(off))
    leads = pd.concat([web, off], ignore_index=True).sort_values("created", ignore_index=True)
    n = len(leads)
    leads["lead_id"] = ids("L", n)
    ch = leads["channel"].to_numpy()
    story = win.story_weight(((leads["created"] - win.start.value) // _DAY_NS).to_numpy())
    reached = np.ones(n, dtype=bool)
    at = leads["created"].to_numpy().astype(np.float64)
    end = float(win.end.value)
    lags = {"lead": 1.5, "mql": 6.0, "sal": 5.0, "sql": 7.0, "won": 16.0}
    for stage, mean_days in lags.items():
        p = FUNNEL.loc[ch, stage].to_numpy()
        if stage == "lead":
            p = p * (1 - 0.25 * story)  # the campaign's contacts are colder
        reached &= rng.random(n) < p
        at = at + rng.gamma(1.6, mean_days / 1.6, n) * _DAY_NS
        value = np.where(reached & (at < end), at, np.nan)
        reached &= at < end
        leads[f"{stage}_at"] = value
    return leads


def lead_table(leads: pd.DataFrame, account_of: np.ndarray) -> pd.DataFrame:
    out = pd.DataFrame({"lead_id": leads["lead_id"], "created_at": to_utc(leads["created"])})
    out["channel"] = leads["channel"].to_numpy()
    for stage in ("lead", "mql", "sal", "sql", "won"):
        out[f"{stage}_at"] = pd.to_datetime(leads[f"{stage}_at"].to_numpy(), unit="ns", utc=True)
    out["account_id"] = account_of
    return out


def opportunities(leads: pd.DataFrame, expected_mrr: np.ndarray, win: Window,
                  rng: np.random.Generator) -> pd.DataFrame:
    """One opportunity per SQL: won when the contact was won, otherwise lost after a
    while or still open at the end of the data."""
    has = leads["sql_at"].notna().to_numpy()
    sql = leads["sql_at"].to_numpy()[has]
    won = leads["won_at"].to_numpy()[has]
    n = has.sum()
    lost_at = sql + rng.gamma(2.0, 20.0, n) * _DAY_NS
    is_won = ~np.isnan(won)
    is_lost = ~is_won & (lost_at < win.end.value)
    closed = np.where(is_won, won, np.where(is_lost, lost_at, np.nan))
    status = np.where(is_won, "won", np.where(is_lost, "lost", "open"))
    open_prob = np.round(rng.choice([0.2, 0.4, 0.6], n, p=[0.5, 0.35, 0.15]), 2)
    return pd.DataFrame({
        "opportunity_id": ids("O", n),
        "created_at": pd.to_datetime(sql, unit="ns", utc=True),
        "amount": np.round(expected_mrr[has] * 12, 2),
        "probability": np.where(is_won, 1.0, np.where(is_lost, 0.0, open_prob)),
        "closed_at": pd.to_datetime(closed, unit="ns", utc=True),
        "status": status,
        "channel": leads["channel"].to_numpy()[has],
    })


def spend(win: Window, rng: np.random.Generator, scale: float) -> pd.DataFrame:
    """Daily spend by channel and category. Paid social is bought dear, referral cheap."""
    per_day = {  # (channel, category): amount a day at scale 1 at the start of the data
        ("organic", "marketing"): 150.0,
        ("paid_search", "marketing"): 330.0,
        ("paid_social", "marketing"): 520.0,
        ("referral", "marketing"): 90.0,
        ("events", "marketing"): 300.0,
        ("outbound", "marketing"): 60.0,
        ("outbound", "sales"): 520.0,
        ("events", "sales"): 120.0,
        ("none", "marketing"): 160.0,
        ("none", "sales"): 900.0,
    }
    day = np.arange(win.days)
    dates = to_utc((win.start + pd.to_timedelta(day, unit="D")).tz_localize(None).to_numpy())
    rows = []
    for (channel, category), amount in per_day.items():
        lift = 1 + 0.35 * win.story_weight(day) if channel in ("paid_search", "paid_social") else 1
        value = 5 * amount * scale * (1.02 ** (day / 30.4)) * lift * rng.lognormal(0, 0.1, win.days)
        rows.append(pd.DataFrame({"date": dates, "channel": channel, "category": category,
                                  "amount": np.round(value, 2)}))
    return pd.concat(rows, ignore_index=True)


def channel_metrics(win: Window, sessions: pd.DataFrame, leads: pd.DataFrame,
                    rng: np.random.Generator) -> pd.DataFrame:
    """Impressions and engagements of social and search, webinar registrations and attendees."""
    day_counts = sessions.groupby(["day", "channel"]).size().unstack(fill_value=0)
    day_counts = day_counts.reindex(index=range(win.days), columns=list(WEB_CHANNELS), fill_value=0)
    dates = (win.start + pd.to_timedelta(np.arange(win.days), unit="D"))
    frames = []

    def add(channel: str, metric: str, values: np.ndarray) -> None:
        frames.append(pd.DataFrame({"date": dates, "channel": channel, "metric": metric,
                                    "value": np.round(values).astype(float)}))

    n = win.days
    add("paid_social", "impressions", day_counts["paid_social"] * rng.normal(95, 8, n))
    add("paid_social", "engagements", day_counts["paid_social"] * rng.normal(3.2, 0.3, n))
    add("organic", "impressions", day_counts["organic"] * rng.normal(40, 4, n))
    add("organic", "engagements", day_counts["organic"] * rng.normal(1.6, 0.2, n))
    add("paid_search", "impressions", day_counts["paid_search"] * rng.normal(28, 3, n))
    add("paid_search", "ad_clicks", day_counts["paid_search"] * rng.normal(1.05, 0.04, n))
    ev = leads[leads["channel"] == "events"]
    ev_day = ((ev["created"] - win.start.value) // _DAY_NS).to_numpy()
    per_day = np.bincount(ev_day, minlength=n)[:n]
    webinar = per_day >= 8
    add("events", "webinar_registrations", np.where(webinar, per_day * rng.normal(2.6, 0.2, n), 0))
    add("events", "webinar_attendees", np.where(webinar, per_day * rng.normal(0.55, 0.05, n), 0))
    out = pd.concat(frames, ignore_index=True)
    out = out[out["value"] > 0].reset_index(drop=True)
    out["date"] = out["date"].dt.as_unit("ns")
    return out


__all__ = ["CHANNELS", "web_sessions", "web_events", "contacts", "lead_table", "opportunities",
           "spend", "channel_metrics"]
