"""Product usage events and NPS responses of the sample company's users."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._common import FEATURE_WEIGHTS, FEATURES, FUNNEL, ONBOARDING_STEPS, SEGMENT, Window, ids

_DAY_NS = 86_400 * 10**9
_WEEKDAY_USE = np.array([1.0, 1.04, 1.03, 0.98, 0.86, 0.22, 0.16])


def users(acc: pd.DataFrame, subs: pd.DataFrame, win: Window, rng: np.random.Generator,
          ) -> pd.DataFrame:
    """The people of each account: the contact who signed up, and colleagues invited
    once the account pays. Each user is active from joining until the account's
    last paid day (a trial that never pays: its first three weeks)."""
    last_paid = subs.groupby("account_id")["end_date"].apply(
        lambda s: pd.NaT if s.isna().any() else s.max())
    last = pd.to_datetime(acc["account_id"].map(last_paid), utc=True).dt.as_unit("ns")
    trial_end = acc["signup_at"] + pd.Timedelta(days=21)
    paid = acc["won_at"].notna().to_numpy()
    leave = np.where(paid, last.fillna(win.end).to_numpy(), trial_end.to_numpy())
    primary = pd.DataFrame({"user_id": acc["person"].to_numpy(), "acc": np.arange(len(acc)),
                            "join": acc["signup_at"].to_numpy(), "leave": leave})
    seg = acc["segment"].to_numpy()
    extra = np.where(paid, rng.integers(SEGMENT.loc[seg, "users_min"].to_numpy(),
                                        SEGMENT.loc[seg, "users_max"].to_numpy() + 1) - 1, 0)
    owner = np.repeat(np.arange(len(acc)), extra)
    won = pd.DatetimeIndex(acc["won_at"].to_numpy()[owner]).tz_localize("UTC")
    join = won + pd.to_timedelta(rng.exponential(25, len(owner)), unit="D")
    invited = pd.DataFrame({"user_id": ids("U", len(owner)), "acc": owner, "join": join,
                            "leave": leave[owner]})
    out = pd.concat([primary, invited], ignore_index=True)
    out["join"] = pd.to_datetime(out["join"], utc=True).dt.as_unit("ns")
    out["leave"] = pd.to_datetime(out["leave"], utc=True).dt.as_unit("ns").clip(upper=win.end)
    out = out[out["join"] < out["leave"]].reset_index(drop=True)
    out["engagement"] = rng.beta(2.2, 3.0, len(out))  # each user's own appetite
    return out


def usage_events(people: pd.DataFrame, acc: pd.DataFrame, win: Window,
                 rng: np.random.Generator) -> pd.DataFrame:
    """Logins, page views, clicks and feature use on each user's active days.

    The chance of being active on a day decays with tenure (from about 0.55 x
    appetite to 0.25 x appetite over two months) and is low at weekends. The
    AI assistant launches a year before the end and is adopted gradually.
    """
    join_day = (people["join"].dt.floor("D") - win.start) // pd.Timedelta(days=1)
    leave_day = (people["leave"] - win.start) // pd.Timedelta(days=1)
    length = np.maximum((leave_day - join_day).to_numpy(), 0)
    user = np.repeat(np.arange(len(people)), length)
    age = np.arange(len(user)) - np.repeat(np.cumsum(length) - length, length)
    day = join_day.to_numpy()[user] + age
    weekday = (win.start.day_of_week + day) % 7
    p = people["engagement"].to_numpy()[user] * (0.25 + 0.30 * np.exp(-age / 60))
    active = rng.random(len(user)) < np.clip(p * _WEEKDAY_USE[weekday], 0, 1)
    user, day = user[active], day[active]
    m = len(user)
    pages = rng.poisson(1.6, m)
    clicks = rng.poisson(1.2, m)
    feats = rng.poisson(0.9, m)
    per_day = 1 + pages + clicks + feats
    row = np.repeat(np.arange(m), per_day)
    k = np.arange(len(row)) - np.repeat(np.cumsum(per_day) - per_day, per_day)
    kind = np.select(
        [k == 0, k <= np.repeat(pages, per_day), k <= np.repeat(pages + clicks, per_day)],
        ["login", "page_view", "click"], "feature_used")
    start = np.clip(rng.normal(13.5 * 3600, 3 * 3600, m), 0, 80_000).astype(np.int64)
    seconds = start[row] + np.cumsum(rng.exponential(70, len(row)) * (k > 0)).astype(np.int64)
    seconds -= np.repeat((seconds[np.cumsum(per_day) - per_day] - start), per_day)
    ts = win.start.value + day[row] * _DAY_NS + np.minimum(seconds, 86_399) * 10**9
    launch = win.days - 365
    weights = np.tile(FEATURE_WEIGHTS, (len(row), 1))
    ramp = np.clip((day[row] - launch) / 240, 0, 1)
    weights[:, -1] *= ramp * 2.5
    weights /= weights.sum(axis=1, keepdims=True)
    pick = (rng.random(len(row))[:, None] > np.cumsum(weights, axis=1)).sum(axis=1)
    feature = np.where(kind == "feature_used", np.array(FEATURES)[np.minimum(pick, 6)], None)
    uid = people["user_id"].to_numpy()[user][row]
    account = acc["account_id"].to_numpy()[people["acc"].to_numpy()[user][row]]
    return pd.DataFrame({"user_id": uid, "timestamp": ts, "event": kind,
                         "account_id": account, "feature": feature})


def lifecycle_events(acc: pd.DataFrame, leads: pd.DataFrame, win: Window,
                     rng: np.random.Generator) -> pd.DataFrame:
    """Signup, trial start, onboarding steps, activation and purchase of each account's
    first user; webinar attendance of contacts from events."""
    n = len(acc)
    t0 = acc["signup_at"].dt.tz_convert(None).to_numpy().astype("datetime64[ns]").astype(np.int64)
    person = acc["person"].to_numpy()
    account = acc["account_id"].to_numpy()
    paid = acc["won_at"].notna().to_numpy()
    channel = acc["channel"].to_numpy()
    frames = []

    def emit(mask: np.ndarray, at: np.ndarray, event: str, feature: object = None) -> None:
        keep = mask & (at < win.end.value)
        frames.append(pd.DataFrame({"user_id": person[keep], "timestamp": at[keep],
                                    "event": event, "account_id": account[keep],
                                    "feature": feature}))

    every = np.ones(n, dtype=bool)
    emit(every, t0, "signup")
    emit(every, t0 + 10**9, "trial_started")
    viewed = rng.random(n) < np.where(paid, 0.86, 0.62)
    at = t0 + rng.integers(60, 3600, n) * 10**9
    emit(viewed, at, "onboarding_viewed")
    going = viewed.copy()
    for step in ONBOARDING_STEPS:
        at = at + rng.exponential(0.4, n) * _DAY_NS
        going &= rng.random(n) < np.where(paid, 0.9, 0.72)
        emit(going, at, "onboarding_step", step)
    emit(going, at + 60 * 10**9, "onboarding_completed")
    base = np.where(paid, 0.84, 0.30) * np.where(channel == "paid_social", 0.8, 1.0)
    activated = rng.random(n) < base
    emit(activated, t0 + rng.gamma(1.3, 3.2, n) * _DAY_NS, "activated")
    won = acc["won_at"].fillna(win.start.tz_localize(None)).to_numpy().astype("datetime64[ns]")
    emit(paid, won.astype(np.int64), "purchase")
    out = pd.concat(frames, ignore_index=True)
    ev = leads[leads["channel"] == "events"]
    webinar = pd.DataFrame({"user_id": ev["person"].to_numpy(),
                            "timestamp": ev["created"].to_numpy() - 3600 * 10**9,
                            "event": "webinar_attended", "account_id": None, "feature": None})
    return pd.concat([out, webinar], ignore_index=True)


def nps(people: pd.DataFrame, acc: pd.DataFrame, win: Window, rng: np.random.Generator,
        ) -> pd.DataFrame:
    """A monthly in-app survey shown to 4 % of active users; referral and enterprise
    customers answer highest, paid social lowest."""
    months = pd.date_range(win.start, win.end, freq="MS", tz="UTC")[:-1]
    frames = []
    for first in months:  # one survey a month: 24 iterations
        when = first + pd.Timedelta(days=14)
        live = people[(people["join"] <= when) & (people["leave"] > when)]
        asked = live[rng.random(len(live)) < 0.04]
        ch = acc["channel"].to_numpy()[asked["acc"].to_numpy()]
        seg = acc["segment"].to_numpy()[asked["acc"].to_numpy()]
        mean = FUNNEL.loc[ch, "nps_mean"].to_numpy() + np.where(seg == "enterprise", 0.4, 0)
        score = np.clip(np.round(rng.normal(mean, 1.9)), 0, 10).astype(int)
        offset = rng.integers(0, 10 * 86_400, len(asked))
        frames.append(pd.DataFrame({
            "respondent_id": asked["user_id"].to_numpy(),
            "responded_at": when + pd.to_timedelta(offset, unit="s"),
            "score": score,
            "account_id": acc["account_id"].to_numpy()[asked["acc"].to_numpy()],
        }))
    out = pd.concat(frames, ignore_index=True)
    return out[out["responded_at"] < win.end].reset_index(drop=True)


__all__ = ["users", "usage_events", "lifecycle_events", "nps"]
