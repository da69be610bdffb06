"""Small multiples of KPI histories for the overview page."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from ..text.catalog import format_value, kpi

__all__ = ["sparkline", "sparklines"]


def sparkline(history: pd.DataFrame, key: str, *, ax: Axes | None = None) -> Axes:
    """One KPI over the periods of ``history`` (one row per period, column ``period``):
    a thin line, the latest point marked, its label and latest value as the title."""
    if ax is None:
        _, ax = plt.subplots(figsize=(2.6, 1.3), layout="constrained")
    values = pd.to_numeric(history[key], errors="coerce") if key in history else pd.Series(dtype=float)
    x = np.arange(len(values))
    ax.plot(x, values, color="#1d3557", lw=1.4)
    if len(values) and pd.notna(values.iloc[-1]):
        ax.scatter([x[-1]], [values.iloc[-1]], color="#e76f51", s=14, zorder=3)
    latest = values.iloc[-1] if len(values) else None
    ax.set_title(f"{kpi(key).label}: {format_value(key, latest)}", fontsize=8, loc="left")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    if len(history):
        ax.set_xlabel(f"{history['period'].iloc[0]} to {history['period'].iloc[-1]}", fontsize=6)
    return ax


def sparklines(history: pd.DataFrame, keys: Sequence[str], *, ncols: int = 4) -> np.ndarray:
    """A grid of :func:`sparkline`, one per key; returns the array of Axes."""
    nrows = max(1, -(-len(keys) // ncols))
    _, grid = plt.subplots(nrows, ncols, figsize=(2.5 * ncols, 1.35 * nrows), layout="constrained",
                             squeeze=False)
    flat = grid.ravel()
    for ax, key in zip(flat, keys, strict=False):
        sparkline(history, key, ax=ax)
    for ax in flat[len(keys):]:
        ax.set_visible(False)
    return grid
