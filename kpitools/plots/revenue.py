"""Charts of revenue and unit economics: the MRR bridge over time, one period's
waterfall, rate trends, a metric by channel, and the cost breakdown."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes

from ..text.catalog import unsigned_zero
from ._base import axes, money_axis, money_twin, percent_axis

__all__ = ["mrr_bridge", "mrr_waterfall", "rate_trends", "channel_bars", "cost_breakdown"]

GAINS = (("new_mrr", "New", "#2a9d8f"), ("reactivation_mrr", "Reactivation", "#8ab17d"),
         ("expansion_mrr", "Expansion", "#457b9d"))
LOSSES = (("contraction_mrr", "Contraction", "#f4a261"), ("churned_mrr", "Churned", "#e76f51"))


def mrr_bridge(movements: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """MRR movements of each period as stacked bars (gains up, losses down), net new MRR
    as a line, and MRR on a second axis.

    Parameters
    ----------
    movements : DataFrame
        :func:`kpitools.metrics.mrr.mrr_movements` (or :func:`kpitools.metrics.revenue.revenue_metrics`).
    """
    ax = axes(ax)
    x = np.arange(len(movements))
    bottom = np.zeros(len(movements))
    for col, label, color in GAINS:
        ax.bar(x, movements[col], bottom=bottom, color=color, label=label, width=0.75)
        bottom += movements[col].to_numpy()
    bottom = np.zeros(len(movements))
    for col, label, color in LOSSES:
        ax.bar(x, -movements[col], bottom=bottom, color=color, label=label, width=0.75)
        bottom -= movements[col].to_numpy()
    ax.plot(x, movements["net_new_mrr"], color="black", marker="o", markersize=3, lw=1.2,
            label="Net new MRR")
    ax.axhline(0, color="#555", lw=0.8)
    ax.set_xticks(x, movements["period"], rotation=45, ha="right")
    ax.set(ylabel="MRR movement", title="MRR movements by period")
    money_axis(ax)
    money_twin(ax, x, movements["mrr"], label="MRR (right axis)", ylabel="MRR",
               legend={"ncols": 4, "loc": "upper left", "bbox_to_anchor": (0, -0.25)},
               color="#6c757d", ls="--", lw=1.2)
    return ax


def mrr_waterfall(row: pd.Series | Mapping[str, float], *, ax: Axes | None = None) -> Axes:
    """One period's bridge: MRR at the start, each movement, MRR at the end.

    Parameters
    ----------
    row : Series or mapping
        One row of :func:`kpitools.metrics.mrr.mrr_movements`.
    """
    ax = axes(ax)
    steps = [("Start", row["mrr_start"], "total")]
    steps += [(label, row[col], "up") for col, label, _ in GAINS]
    steps += [(label, -row[col], "down") for col, label, _ in LOSSES]
    steps.append(("End", row["mrr"], "total"))
    colors = {"total": "#6c757d", **{label: c for _, label, c in GAINS + LOSSES}}
    level = 0.0
    for i, (label, value, kind) in enumerate(steps):
        if kind == "total":
            ax.bar(i, value, color=colors["total"])
            top, level = value, value
        else:
            base = level if value >= 0 else level + value
            ax.bar(i, abs(value), bottom=base, color=colors[label])
            level += value
            top = max(level, level - value)
        ax.annotate(unsigned_zero(f"{value:+,.0f}") if kind != "total" else f"{value:,.0f}", (i, top),
                    ha="center", va="bottom", fontsize=8, xytext=(0, 2), textcoords="offset points")
    ax.set_xticks(range(len(steps)), [s[0] for s in steps])
    low = min(row["mrr_start"], row["mrr"]) * 0.85
    ax.set_ylim(bottom=max(low - (row["churned_mrr"] + row["contraction_mrr"]), 0))
    ax.set(ylabel="MRR", title=f"MRR bridge, {row['period']}")
    money_axis(ax)
    return ax


def rate_trends(table: pd.DataFrame, columns: Mapping[str, str] | Sequence[str], *,
                ax: Axes | None = None, title: str = "", reference: float | None = None,
                open_periods: Sequence[str] = (), open_columns: Sequence[str] | None = None,
                open_label: str = "window still open") -> Axes:
    """Rates (shares) over periods, one line per column, on a percentage axis.

    ``columns`` maps column names to legend labels (or lists the columns). The points of
    ``open_periods`` in ``open_columns`` (default: every column) are rates still rising (a
    cohort whose conversion window has not closed): drawn hollow on a dashed line, in a
    shaded band labelled ``open_label``, so that they do not read as a collapse.
    """
    ax = axes(ax)
    labels = dict(columns) if isinstance(columns, Mapping) else {c: c for c in columns}
    periods = [str(p) for p in table["period"]]
    x = np.arange(len(periods))
    opened = np.array([p in set(map(str, open_periods)) for p in periods])
    marked = set(labels) if open_columns is None else set(open_columns)
    # distinct colours for every line (the colour-blind palette has ten) and a marker shape of
    # its own, for colours that print alike
    palette = sns.color_palette("colorblind" if len(labels) <= 10 else "tab20", len(labels))
    shapes = ["o", "s", "^", "D", "v", "P", "X", "*", "<", ">"]
    values = table[list(labels)].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    for i, (column, label) in enumerate(labels.items()):
        y = values[:, i]
        style = {"color": palette[i], "marker": shapes[i % len(shapes)], "markersize": 5, "lw": 1.6}
        hollow = opened & (column in marked)
        ax.plot(x, np.where(hollow, np.nan, y), label=label, **style)
        if hollow.any():  # dashed from the last closed point, hollow markers
            part = np.where(hollow, y, np.nan)
            start = max(int(np.argmax(hollow)) - 1, 0)
            part[start] = y[start]
            ax.plot(x, part, ls="--", markerfacecolor="white", **style)
    if opened.any() and marked & set(labels):
        first = int(np.argmax(opened))
        ax.axvspan(first - 0.5, len(x) - 0.5, color="#adb5bd", alpha=0.18, lw=0)
        ax.text(first - 0.4, 0.98, open_label, transform=ax.get_xaxis_transform(), va="top", ha="left",
                fontsize=8, color="#495057")
    if reference is not None:
        ax.axhline(reference, color="#555", lw=0.8, ls=":")
    ax.set_xticks(x, periods, rotation=45, ha="right")
    ax.set(xlabel="", ylabel="", title=title)
    largest = np.nanmax(np.abs(values)) if np.isfinite(values).any() else 0.0
    percent_axis(ax, decimals=1 if largest < 0.1 else 0)
    # below the plot, where it covers no line
    ax.legend(title=None, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.22),
              ncols=min(len(labels), 3), frameon=False)
    return ax


def channel_bars(table: pd.DataFrame, value: str, *, by: str = "channel", ax: Axes | None = None,
                 title: str = "", reference: float | None = None, fmt: str = "{:,.1f}") -> Axes:
    """One horizontal bar per group (channel or segment) for a measure, labelled with its
    value; groups with no value are listed with 'n/a'."""
    ax = axes(ax)
    data = table[[by, value]].copy()
    data["_sort"] = data[value].fillna(-np.inf)
    data = data.sort_values("_sort")
    y = np.arange(len(data))
    ax.barh(y, data[value].fillna(0), color=sns.color_palette("colorblind")[0])
    for i, v in enumerate(data[value]):
        ax.annotate("n/a" if pd.isna(v) else fmt.format(v), (0 if pd.isna(v) else v, i),
                    xytext=(3, 0), textcoords="offset points", va="center", fontsize=8)
    if reference is not None:
        ax.axvline(reference, color="#c1121f", lw=1, ls="--")
    ax.set_yticks(y, data[by].astype(str))
    ax.set(title=title, xlabel="", ylabel="")
    if "%" in fmt:  # the axis in the labels' unit: 10%, not 0.10
        percent_axis(ax, "x", decimals=1 if data[value].abs().max() < 0.1 else 0)
    return ax


def cost_breakdown(costs: pd.DataFrame, *, ax: Axes | None = None, title: str = "") -> Axes:
    """Cost to serve by category as horizontal bars with shares.

    Parameters
    ----------
    costs : DataFrame
        Columns ``category``, ``amount``, ``share`` (:func:`kpitools.metrics.economics.cost_breakdown`).
    """
    ax = axes(ax)
    data = costs.sort_values("amount")
    y = np.arange(len(data))
    ax.barh(y, data["amount"], color=sns.color_palette("colorblind")[3])
    for i, (amount, share) in enumerate(zip(data["amount"], data["share"], strict=True)):
        ax.annotate(f"{amount:,.0f} ({share:.0%})", (amount, i), xytext=(3, 0),
                    textcoords="offset points", va="center", fontsize=8)
    ax.set_yticks(y, data["category"].astype(str))
    ax.set(title=title or "Cost to serve by category", xlabel="")
    money_axis(ax, "x")
    return ax
