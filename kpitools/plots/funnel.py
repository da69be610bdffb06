"""Charts of funnels: horizontal funnel bars with conversion, a rate by channel, the
distribution of time to convert, stage trends and the pipeline."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter, NullFormatter

from ._base import axes, money_twin, percent_axis

__all__ = ["funnel_bars", "conversion_by_channel", "time_to_convert_hist", "stage_trends",
           "pipeline_trend"]


def funnel_bars(table: pd.DataFrame, *, count: str = "count", label: str = "stage",
                ax: Axes | None = None, title: str = "") -> Axes:
    """A funnel as horizontal bars, widest at the top, each annotated with its count,
    its conversion from the previous step and from the first. When the widest stage is
    more than 30 times the narrowest, widths follow log10(count + 1) and the axis says so.

    Parameters
    ----------
    table : DataFrame
        One row per step in order, with ``count`` (or ``users``), ``rate_from_previous``
        and ``rate_from_start`` (:func:`kpitools.metrics.funnel.period_flow`,
        :func:`~kpitools.metrics.funnel.cohort_conversion`, :func:`kpitools.metrics.event_funnel.event_funnel`).
    """
    ax = axes(ax)
    y = np.arange(len(table))[::-1]
    values = table[count].to_numpy(dtype=float)
    positive = values[values > 0]
    log = len(positive) > 1 and positive.max() / positive.min() > 30
    widths = np.log10(values + 1) if log else values  # a 1 % stage would be invisible on a linear scale
    top = widths.max() if len(widths) and widths.max() > 0 else 1
    ax.barh(y, widths, left=(top - widths) / 2, color=sns.color_palette("colorblind")[0], height=0.7)
    if log:
        ax.set_xlabel("bar width: log scale")
    for yi, (_, row) in zip(y, table.iterrows(), strict=True):
        text = f"{row[count]:,.0f}"
        if pd.notna(row.get("rate_from_previous")):
            text += f"  ({row['rate_from_previous']:.1%} of previous"
            text += f", {row['rate_from_start']:.1%} of first)" if pd.notna(row.get("rate_from_start")) else ")"
        ax.annotate(text, (top / 2, yi), ha="center", va="center", fontsize=8, color="black",
                    bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.8})
    ax.set_yticks(y, table[label].astype(str))
    ax.set_xticks([])
    ax.grid(False)
    ax.set_title(title or "Funnel")
    return ax


def conversion_by_channel(table: pd.DataFrame, rate: str, *, previous: str | None = None,
                          base: str | None = None, ax: Axes | None = None, title: str = "") -> Axes:
    """A conversion rate per channel as bars, with the previous period's rate as markers and,
    with ``base``, the count each rate is a share of beside it ("4.1%, n=1,204").

    Parameters
    ----------
    table : DataFrame
        :func:`kpitools.metrics.funnel.channel_conversion`.
    base : str, optional
        The column of the rate's denominator (``visitors`` for ``visitor_to_lead_rate``).
    """
    ax = axes(ax)
    data = table.dropna(subset=[rate]).sort_values(rate)
    y = np.arange(len(data))
    ax.barh(y, data[rate], color=sns.color_palette("colorblind")[2], label="this period")
    if previous and previous in data:
        ax.scatter(data[previous], y, color="black", marker="|", s=200, zorder=3, label="previous period")
    sizes = data[base] if base is not None and base in data else [None] * len(data)
    for yi, v, n in zip(y, data[rate], sizes, strict=True):
        text = f"{v:.1%}" + (f", n={int(n):,}" if n is not None and pd.notna(n) else "")
        ax.annotate(text, (v, yi), xytext=(4, 0), textcoords="offset points", va="center", fontsize=8)
    ax.set_yticks(y, data["channel"].astype(str))
    percent_axis(ax, "x", decimals=1 if data[rate].max() < 0.1 else 0)
    ax.set(title=title or rate.replace("_", " "), xlabel="")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncols=2, frameon=False)
    return ax


def time_to_convert_hist(values: pd.Series, *, ax: Axes | None = None, unit: str = "days",
                         title: str = "") -> Axes:
    """The distribution of time to convert, with its median marked."""
    ax = axes(ax)
    sns.histplot(values.dropna(), bins=30, ax=ax, color=sns.color_palette("colorblind")[4])
    if values.notna().any():
        median = float(values.median())
        ax.axvline(median, color="black", ls="--", lw=1)
        ax.annotate(f"median {median:.1f} {unit}", (median, ax.get_ylim()[1] * 0.95), xytext=(4, 0),
                    textcoords="offset points", fontsize=8, va="top")
    ax.set(xlabel=unit, ylabel="converted", title=title or "Time to convert")
    return ax


def stage_trends(history: pd.DataFrame, stages: Mapping[str, str], *, ax: Axes | None = None,
                 title: str = "") -> Axes:
    """Stage counts over periods on a log scale, one line per stage (``stages`` maps a
    column of :func:`kpitools.metrics.funnel.funnel_history` to its label)."""
    ax = axes(ax)
    long = history.melt(id_vars="period", value_vars=list(stages), var_name="stage", value_name="count")
    long["stage"] = long["stage"].map(stages)
    sns.lineplot(data=long, x="period", y="count", hue="stage", marker="o", markersize=4, ax=ax)
    ax.set_yscale("log")
    # plain numbers: a log axis labels its ticks in mathtext, which the report style reads
    # as text (text from the data must never become LaTeX), showing "$\\mathdefault{10^{4}}$"
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.tick_params(axis="x", rotation=45)
    ax.set(xlabel="", ylabel="per period", title=title or "Funnel stages by period")
    ax.legend(title=None, fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return ax


def pipeline_trend(pipe: pd.DataFrame, *, ax: Axes | None = None, title: str = "") -> Axes:
    """Open opportunities (bars, left) and weighted pipeline (line, right) by period end."""
    ax = axes(ax)
    x = np.arange(len(pipe))
    ax.bar(x, pipe["pipeline_volume"], color=sns.color_palette("colorblind")[0], label="open opportunities")
    ax.set_xticks(x, pipe["period"], rotation=45, ha="right")
    ax.set(ylabel="open opportunities", title=title or "Pipeline at period end")
    money_twin(ax, x, pipe["weighted_pipeline"], label="weighted pipeline", ylabel="weighted pipeline",
               color="#e76f51", marker="o")
    return ax
