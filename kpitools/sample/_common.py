"""Shared settings and helpers of the sample-company generator."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

CHANNELS = ("organic", "paid_search", "paid_social", "referral", "events", "outbound")
WEB_CHANNELS = ("organic", "paid_search", "paid_social", "referral")
SEGMENTS = ("smb", "mid_market", "enterprise")

# Per channel: web sessions a day at scale 1 (start of the data), visitor -> contact rate,
# and the funnel's stage rates contact -> lead -> MQL -> SAL (trial) -> SQL -> won.
FUNNEL = pd.DataFrame(
    {
        "sessions": [78.0, 38.0, 55.0, 12.0, 0.0, 0.0],
        "contact": [0.060, 0.070, 0.055, 0.120, 0.0, 0.0],
        "offline_contacts": [0.0, 0.0, 0.0, 0.0, 2.2, 3.0],  # a day, not from the website
        "lead": [0.62, 0.66, 0.50, 0.78, 0.70, 0.45],
        "mql": [0.55, 0.58, 0.50, 0.70, 0.60, 0.60],
        "sal": [0.65, 0.66, 0.60, 0.80, 0.70, 0.72],
        "sql": [0.60, 0.60, 0.50, 0.72, 0.66, 0.70],
        "won": [0.45, 0.44, 0.36, 0.62, 0.48, 0.42],
        "churn_mult": [1.0, 1.1, 1.7, 0.2, 0.85, 1.3],
        "nps_mean": [7.6, 7.3, 6.6, 8.6, 7.7, 7.4],
    },
    index=list(CHANNELS),
)

SEGMENT_MIX = pd.DataFrame(  # share of each channel's accounts by segment
    {
        "smb": [0.62, 0.60, 0.78, 0.45, 0.30, 0.15],
        "mid_market": [0.28, 0.30, 0.18, 0.35, 0.40, 0.40],
        "enterprise": [0.10, 0.10, 0.04, 0.20, 0.30, 0.45],
    },
    index=list(CHANNELS),
)

# Per segment: plan, seat price range, annual share, churn hazard a month,
# expansion and contraction chances a month, users per paying account.
SEGMENT = pd.DataFrame(
    {
        "plan": ["starter", "growth", "enterprise"],
        "mrr_median": [120.0, 800.0, 3800.0],
        "annual_share": [0.20, 0.45, 0.80],
        "churn": [0.045, 0.025, 0.012],
        "expand": [0.015, 0.035, 0.085],
        "contract": [0.012, 0.018, 0.015],
        "users_min": [1, 2, 5],
        "users_max": [3, 7, 18],
    },
    index=list(SEGMENTS),
)

FEATURES = ("dashboards", "reports", "integrations", "alerts", "exports", "api", "ai_assistant")
FEATURE_WEIGHTS = np.array([0.30, 0.22, 0.12, 0.12, 0.10, 0.06, 0.08])
ONBOARDING_STEPS = ("1_profile", "2_invite_team", "3_connect_data", "4_first_dashboard")


@dataclass(frozen=True)
class Window:
    """The sample's calendar: data from ``start`` to ``end`` (exclusive), UTC days."""

    start: pd.Timestamp
    end: pd.Timestamp

    @property
    def days(self) -> int:
        return int((self.end - self.start) / pd.Timedelta(days=1))

    def day_index(self, when: pd.Series | np.ndarray) -> np.ndarray:
        return ((pd.DatetimeIndex(when) - self.start) // pd.Timedelta(days=1)).to_numpy()

    def story_weight(self, day: np.ndarray) -> np.ndarray:
        """0 before the last three months, rising linearly to 1 at the end: the period where
        sessions rise while visitor-to-lead conversion falls."""
        story_start = self.days - 92
        return np.clip((day - story_start) / 92, 0, 1)


def add_months(dates: np.ndarray, months: np.ndarray) -> np.ndarray:
    """Add whole months to datetime64[D] dates, clipping to the month's last day
    (31 Jan + 1 month = 28 or 29 Feb)."""
    d = dates.astype("datetime64[D]")
    month0 = d.astype("datetime64[M]")
    day = (d - month0).astype(int)
    target = month0 + months.astype("timedelta64[M]")
    length = ((target + np.timedelta64(1, "M")).astype("datetime64[D]")
              - target.astype("datetime64[D]")).astype(int)
    return target.astype("datetime64[D]") + np.minimum(day, length - 1).astype("timedelta64[D]")


def ids(prefix: str, n: int, start: int = 1) -> np.ndarray:
    """``prefix`` + zero-padded numbers: A000001, A000002, ..."""
    return np.char.add(prefix, np.char.zfill(np.arange(start, start + n).astype(str), 6))


def to_utc(values: np.ndarray) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(values).tz_localize("UTC").as_unit("ns")
