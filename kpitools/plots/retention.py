"""Charts of cohorts and retention: the heatmap triangle, curves by cohort or group,
and the sBG projection against the observed curve."""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator

from ..metrics.sbg import SBG
from ._base import axes, percent_axis

__all__ = ["retention_heatmap", "retention_curves", "projection"]


def retention_heatmap(tidy: pd.DataFrame, *, value: str = "retention", ax: Axes | None = None,
                      title: str = "", max_cohorts: int = 24) -> Axes:
    """The cohort triangle as a heatmap, each cell annotated in %; empty cells are not yet
    observable, and cells of a partial period are hatched.

    Parameters
    ----------
    tidy : DataFrame
        A cohort table (:func:`kpitools.metrics.retention.revenue_cohorts` and friends).
    value : str
        ``retention``, ``revenue_retention`` or ``survival``.
    max_cohorts : int
        Show the newest cohorts only.
    """
    grid = tidy.pivot(index="cohort", columns="period_number", values=value)
    grid = grid.iloc[-max_cohorts:]
    grid = grid.loc[:, grid.notna().any()]
    if ax is None:
        import matplotlib.pyplot as plt

        # sized so that a cell's number stays legible when the page scales the image down
        height = max(3.0, 0.34 * len(grid) + 1.4)
        _, ax = plt.subplots(figsize=(min(11.0, 3.0 + 0.42 * grid.shape[1]), height), layout="constrained")
    upper = max(1.0, float(np.nanmax(grid.to_numpy()))) if grid.size else 1.0
    # whole percentages without the % sign (the colour scale says "%"): narrow enough to read
    sns.heatmap(grid * 100, ax=ax, cmap="YlGnBu", vmin=0, vmax=upper * 100, annot=True, fmt=".0f",
                annot_kws={"fontsize": 8}, cbar=True, linewidths=0.5, linecolor="white",
                cbar_kws={"label": f"{'revenue retention' if value == 'revenue_retention' else value} (%)",
                          "shrink": 0.6})
    if "cohort_size" in tidy:  # each cohort's size beside its name
        sizes = tidy.drop_duplicates("cohort").set_index("cohort")["cohort_size"]
        ax.set_yticks(np.arange(len(grid)) + 0.5,
                      [f"{c}  (n={int(sizes.get(c, 0)):,})" for c in grid.index], rotation=0)
    if "partial" in tidy:
        partial = tidy[tidy["partial"]].pivot(index="cohort", columns="period_number", values=value)
        for cohort, row in partial.reindex(index=grid.index, columns=grid.columns).iterrows():
            for k, v in row.items():
                if pd.notna(v):
                    i, j = grid.index.get_loc(cohort), grid.columns.get_loc(k)
                    ax.add_patch(Rectangle((j, i), 1, 1, fill=False, hatch="///", edgecolor="#888", lw=0))
    ax.set(xlabel="periods since the cohort's first", ylabel="cohort",
           title=title or ("Revenue retention" if value == "revenue_retention" else "Logo retention"))
    ax.tick_params(axis="y", labelsize=9)
    return ax


def retention_curves(curves: pd.DataFrame, *, hue: str = "cohort", value: str = "retention",
                     ax: Axes | None = None, title: str = "") -> Axes:
    """Retention by period number, one line per cohort or group.

    Parameters
    ----------
    curves : DataFrame
        Columns ``period_number``, ``value`` and ``hue`` (a cohort table, or
        :func:`kpitools.metrics.retention.group_curves` with ``hue="group"``).
    """
    ax = axes(ax)
    sns.lineplot(data=curves, x="period_number", y=value, hue=hue, marker="o", markersize=3, ax=ax)
    ax.set(xlabel="periods since the cohort's first", ylabel="", ylim=(0, None),
           title=title or f"{value.replace('_', ' ').capitalize()} by {hue}")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    percent_axis(ax)
    ax.legend(title=None, fontsize=8, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return ax


def projection(observed: pd.DataFrame, model: SBG, *, horizon: int = 36, ax: Axes | None = None,
               title: str = "") -> Axes:
    """Observed survival by period number (points, pooled over cohorts) and the fitted sBG
    survival curve projected to ``horizon`` periods.

    Parameters
    ----------
    observed : DataFrame
        :func:`kpitools.metrics.retention.group_curves` without groups (``period_number``, ``survival``).
    """
    ax = axes(ax)
    fitted = model.survival(horizon)
    ax.plot(np.arange(horizon + 1), fitted, color="#1d3557", lw=2,
            label=f"sBG fit (alpha {model.alpha:.2f}, beta {model.beta:.2f})")
    last = int(observed["period_number"].max()) if len(observed) else 0
    ax.axvspan(last, horizon, color="#f1f3f5", zorder=0, label="projection")
    ax.scatter(observed["period_number"], observed["survival"], color="#e76f51", zorder=3, s=18,
               label="observed")
    ax.set(xlabel="periods since the cohort's first", ylabel="still a customer", ylim=(0, 1.02),
           title=title or "Survival: observed and projected")
    percent_axis(ax)
    ax.legend(fontsize=8)
    return ax
