"""Charts of engagement: daily active users, lifecycle, NPS."""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes

from ._base import axes

__all__ = ["active_users_lines", "lifecycle_bars", "nps_trend", "score_distribution"]


def active_users_lines(series: pd.DataFrame, *, ax: Axes | None = None, title: str = "") -> Axes:
    """DAU, WAU and MAU per day (:func:`kpitools.metrics.engagement.active_series`); the daily line
    shows the weekday rhythm, the trailing ones the trend."""
    ax = axes(ax)
    days = series["day"].dt.tz_convert(None)
    palette = sns.color_palette("colorblind")
    for i, (col, label) in enumerate((("mau", "MAU (trailing 30 days)"), ("wau", "WAU (trailing 7 days)"),
                                      ("dau", "DAU"))):
        if col in series:
            ax.plot(days, series[col], label=label, color=palette[i], lw=1.2 if col == "dau" else 1.8)
    ax.set(ylabel="distinct users", xlabel="", ylim=(0, None), title=title or "Active users by day")
    ax.legend(fontsize=8, loc="upper left")
    ax.tick_params(axis="x", rotation=30)
    return ax


def lifecycle_bars(table: pd.DataFrame, *, ax: Axes | None = None, title: str = "") -> Axes:
    """New, returning and resurrecting users stacked above zero, dormant below
    (:func:`kpitools.metrics.engagement.lifecycle`)."""
    ax = axes(ax)
    x = np.arange(len(table))
    palette = {"new": "#2a9d8f", "returning": "#457b9d", "resurrecting": "#8ab17d", "dormant": "#e76f51"}
    bottom = np.zeros(len(table))
    for col in ("returning", "new", "resurrecting"):
        ax.bar(x, table[col], bottom=bottom, color=palette[col], label=col)
        bottom += table[col].to_numpy()
    ax.bar(x, table["dormant"], color=palette["dormant"], label="dormant")
    ax.axhline(0, color="#555", lw=0.8)
    ax.set_xticks(x, table["period"], rotation=45, ha="right")
    ax.set(ylabel="users", title=title or "User lifecycle by period")
    ax.legend(fontsize=8, ncols=4, loc="upper left", bbox_to_anchor=(0, -0.22))
    return ax


def nps_trend(table: pd.DataFrame, *, ax: Axes | None = None, title: str = "") -> Axes:
    """NPS by period with the number of responses under each point."""
    ax = axes(ax)
    x = np.arange(len(table))
    ax.plot(x, table["nps"], marker="o", color="#1d3557")
    for xi, (score, n) in enumerate(zip(table["nps"], table["responses"], strict=True)):
        if pd.notna(score):
            ax.annotate(f"n={n}", (xi, score), xytext=(0, -12), textcoords="offset points", ha="center",
                        fontsize=7, color="#555")
    ax.axhline(0, color="#555", lw=0.8)
    ax.set_xticks(x, table["period"], rotation=45, ha="right")
    ax.set(ylabel="NPS", ylim=(-100, 100), title=title or "NPS by period")
    return ax


def score_distribution(counts: pd.DataFrame, *, ax: Axes | None = None, title: str = "") -> Axes:
    """Responses per score 0-10 (the result of :func:`kpitools.metrics.nps.score_counts`),
    coloured as detractors, passives and promoters."""
    ax = axes(ax)
    counts = counts.set_index("score")["responses"].reindex(range(11), fill_value=0)
    colors = ["#e76f51"] * 7 + ["#adb5bd"] * 2 + ["#2a9d8f"] * 2
    ax.bar(counts.index, counts.to_numpy(), color=colors)
    ax.set_xticks(range(11))
    ax.set(xlabel="score", ylabel="responses", title=title or "Responses by score")
    return ax
