"""Data sets that attack the reports: every text column replaced with payloads, thousands
of categories, and a company of one account in one month."""

from __future__ import annotations

import numpy as np
import pandas as pd

# Text that a Markdown, LaTeX or HTML renderer, a template engine, a shell, a database or a
# spreadsheet would read as something other than text.
PAYLOADS = [
    "<script>alert(1)</script>",
    '=HYPERLINK("http://x.invalid","y")',
    "[x](javascript:alert(1))",
    "$\\href{javascript:alert(1)}{x}$",
    '"><img src=x onerror=alert(1)>',
    "a\n## heading",
    "+1+cmd|' /C calc'!A0",
    "![t](http://host.invalid/t.png)",
    "' onmouseover='alert(1)",
    "<a href=http://host.invalid>x</a>",
    "x\n\n# title\n- item",
    "-2+3",
    "@SUM(1,1)",
    "$x$ and $y$",
    "\\(\\frac{1}{0}\\)",
    "**bold** _it_ `code`",
    "{{ 7*7 }} {% raw %} ${7*7}",
    "'; DROP TABLE accounts; --",
    "$(rm -rf /) `id`",
    "\u202eevil\u202c",
    "\u0645\u0631\u062d\u0628\u0627 RTL",
    "🚀 rocket 😀",
    "tab\there\r\nline",
    "&amp; &lt;b&gt;",
    "www.example.invalid me@example.invalid",
    "| a | b |",
]
# the markers a test looks for in outputs: none may appear as markup
ACTIVE_MARKERS = ["<script", "onerror=", "onmouseover=", "javascript:", "<img src=x", "host.invalid",
                  "<h1", "<a href=http"]

# event names and metrics that carry meaning in the metric definitions stay as they are
MEANINGFUL_EVENTS = {"page_view", "click", "signup", "trial_started", "activated", "onboarding_viewed",
                     "onboarding_completed", "feature_used", "webinar_attended", "purchase"}
MEANINGFUL_METRICS = {"impressions", "engagements", "webinar_attendees"}


def _payload_map(values: pd.Series, keep: set[str] = frozenset()) -> dict:
    distinct = [v for v in pd.unique(values.dropna()) if v not in keep]
    return {v: (PAYLOADS[i % len(PAYLOADS)] if i < len(PAYLOADS) else f"{PAYLOADS[i % len(PAYLOADS)]} {i}")
            for i, v in enumerate(distinct)}


def _replace(frame: pd.DataFrame, column: str, mapping: dict) -> None:
    frame[column] = frame[column].map(lambda v: mapping.get(v, v) if isinstance(v, str) else v).astype(object)


def hostile_tables(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Every text column of ``tables`` with its values replaced by payloads (one payload per
    distinct value, so the data keeps its shape), ids included."""
    t = {k: v.copy() for k, v in tables.items()}
    accounts = {a: f"{PAYLOADS[i % len(PAYLOADS)]}#{i}" for i, a in enumerate(t["accounts"]["account_id"])}
    channels = _payload_map(pd.concat([t[n]["channel"] for n in ("accounts", "leads", "spend", "events",
                                                                  "opportunities", "channel_metrics")]))
    channels.pop("none", None)  # spend's `none` means "no channel": keep its meaning
    for frame in t.values():
        if "account_id" in frame:
            _replace(frame, "account_id", accounts)
        if "channel" in frame:
            _replace(frame, "channel", channels)
    for column in ("segment", "country"):
        _replace(t["accounts"], column, _payload_map(t["accounts"][column]))
    _replace(t["subscriptions"], "plan", _payload_map(t["subscriptions"]["plan"]))
    _replace(t["events"], "event", _payload_map(t["events"]["event"], MEANINGFUL_EVENTS))
    _replace(t["events"], "feature", _payload_map(t["events"]["feature"]))
    _replace(t["costs"], "category", _payload_map(t["costs"]["category"]))
    _replace(t["channel_metrics"], "metric", _payload_map(t["channel_metrics"]["metric"], MEANINGFUL_METRICS))
    extra = pd.DataFrame({"period": t["targets"]["period"].iloc[0], "kpi": PAYLOADS[:3], "target": 1.0})
    t["targets"] = pd.concat([t["targets"], extra], ignore_index=True)
    return t


def many_categories(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """A channel of its own for every lead, account, opportunity and spend row, a segment and
    plan per account, and a feature per user: thousands of categories."""
    t = {k: v.copy() for k, v in tables.items()}
    t["leads"]["channel"] = [f"channel {i:05d}" for i in range(len(t["leads"]))]
    t["accounts"]["channel"] = [f"channel {i:05d}" for i in range(len(t["accounts"]))]
    t["accounts"]["segment"] = [f"segment {i:05d}" for i in range(len(t["accounts"]))]
    t["opportunities"]["channel"] = [f"channel {i:05d}" for i in range(len(t["opportunities"]))]
    spend = t["spend"]
    spend["channel"] = np.where(spend["channel"] == "none", "none",
                                [f"channel {i:05d}" for i in range(len(spend))])
    t["subscriptions"]["plan"] = [f"plan {i:05d}" for i in range(len(t["subscriptions"]))]
    events = t["events"]
    used = events["event"] == "feature_used"
    events.loc[used, "feature"] = [f"feature {i:05d}" for i in range(int(used.sum()))]
    t["costs"]["category"] = [f"cost {i:05d}" for i in range(len(t["costs"]))]
    return t


def one_account() -> dict[str, pd.DataFrame]:
    """A company of one account, paying for one month, with a handful of rows per table."""
    ts = pd.Timestamp
    utc = {"tz": "UTC"}
    return {
        "accounts": pd.DataFrame({"account_id": ["A1"], "signup_at": [ts("2025-03-03 10:00", **utc)],
                                  "channel": ["organic"], "segment": ["smb"]}),
        "subscriptions": pd.DataFrame({"subscription_id": ["S1"], "account_id": ["A1"],
                                       "start_date": [ts("2025-03-05", **utc)], "end_date": [pd.NaT],
                                       "mrr": [49.0], "plan": ["starter"], "billing_period": ["month"]}),
        "events": pd.DataFrame({
            "user_id": ["u1"] * 6,
            "timestamp": pd.to_datetime(["2025-03-03 10:00", "2025-03-03 10:05", "2025-03-03 10:06",
                                         "2025-03-04 09:00", "2025-03-05 12:00", "2025-03-31 23:00"], utc=True),
            "event": ["page_view", "signup", "trial_started", "activated", "purchase", "feature_used"],
            "account_id": [None, "A1", "A1", "A1", "A1", "A1"],
            "feature": [None, None, None, None, None, "reports"],
            "channel": ["organic"] + [None] * 5}),
        "leads": pd.DataFrame({"lead_id": ["L1"], "created_at": [ts("2025-03-01", **utc)], "channel": ["organic"],
                               "lead_at": [ts("2025-03-02", **utc)], "mql_at": [ts("2025-03-02", **utc)],
                               "sal_at": [ts("2025-03-03", **utc)], "sql_at": [pd.NaT],
                               "won_at": [ts("2025-03-05", **utc)], "account_id": ["A1"]}),
        "spend": pd.DataFrame({"date": [ts("2025-03-01", **utc)], "channel": ["organic"],
                               "category": ["marketing"], "amount": [100.0]}),
        "nps": pd.DataFrame({"respondent_id": ["R1"], "responded_at": [ts("2025-03-20", **utc)], "score": [9],
                             "account_id": ["A1"]}),
    }
