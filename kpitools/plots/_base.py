"""Charts of kpitools results, in the manner of seaborn: each function takes a
tidy result and an optional ``ax=``, draws on it and returns the Axes. No
function touches pyplot's global state beyond creating a figure when no Axes
is given.
"""

from __future__ import annotations

import matplotlib as mpl
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter

__all__ = ["STYLE", "use_style", "rows_over_time", "axes", "money_axis", "percent_axis", "money_twin"]

STYLE = {
    "figure.figsize": (9.0, 4.0),
    "figure.dpi": 100,
    "savefig.dpi": 110,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.titlesize": 12,
    "legend.frameon": False,
    "font.size": 10,
    # text from the data ($ signs in a channel name) is never read as mathtext
    "text.parse_math": False,
    "text.usetex": False,
}


def use_style() -> None:
    """The report chart style: seaborn's whitegrid with a quieter frame; in a kernel, every
    chart shown gets a one-sentence description as its alt text (:mod:`.describe`)."""
    from .describe import install_alt_text

    sns.set_theme(style="whitegrid", palette="colorblind", rc=STYLE)
    install_alt_text()


def axes(ax: Axes | None) -> Axes:
    """The Axes to draw on: the one given, or a new figure's."""
    if ax is None:
        _, ax = plt.subplots(figsize=mpl.rcParams["figure.figsize"], layout="constrained")
    return ax


def _compact(value: float) -> str:
    """1,250,000 -> 1.25M; 40,000 -> 40k; at most three significant decimals kept."""
    size = abs(value)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if size >= limit:
            return f"{value / limit:,.2f}".rstrip("0").rstrip(".") + suffix
    return f"{value:,.0f}"


def money_axis(ax: Axes, which: str = "y") -> Axes:
    """Thousands as k and millions as M on an axis."""
    axis = ax.yaxis if which == "y" else ax.xaxis
    axis.set_major_formatter(FuncFormatter(lambda v, _: _compact(v)))
    return ax


def percent_axis(ax: Axes, which: str = "y", decimals: int = 0) -> Axes:
    """Shares shown as percentages on an axis."""
    axis = ax.yaxis if which == "y" else ax.xaxis
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.{decimals}%}"))
    return ax


def rows_over_time(counts: pd.DataFrame, *, ax: Axes | None = None, log: bool = True) -> Axes:
    """Rows per month of each table, one line per table.

    Parameters
    ----------
    counts : DataFrame
        Columns ``table``, ``month``, ``rows`` (see :func:`kpitools.metrics.quality.monthly_rows`).
    log : bool
        Log scale, so the event log and a table of a hundred rows share one chart.
    """
    ax = axes(ax)
    frame = counts.assign(month=counts["month"].dt.tz_convert(None))
    sns.lineplot(data=frame, x="month", y="rows", hue="table", marker="o", markersize=3, ax=ax)
    if log:
        ax.set_yscale("log")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.set(xlabel="", ylabel="rows per month", title="Rows per month, by table")
    ax.legend(title=None, fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return ax


def money_twin(ax: Axes, x, values, *, label: str, ylabel: str, legend: dict | None = None,
               **line) -> Axes:
    """A line of money on a second y axis (from 0), with one legend for both axes."""
    twin = ax.twinx()
    twin.plot(x, values, label=label, **line)
    twin.set_ylim(bottom=0)
    twin.grid(False)
    twin.set_ylabel(ylabel)
    money_axis(twin)
    handles, labels = ax.get_legend_handles_labels()
    more, more_labels = twin.get_legend_handles_labels()
    ax.legend(handles + more, labels + more_labels, fontsize=8, **(legend or {"loc": "upper left"}))
    return twin
