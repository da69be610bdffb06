"""A sentence describing each chart, as the alt text of its image in a report.

A report is read by screen readers and printed; an image without a description says
nothing to either (nbconvert writes "No description has been provided for this image").
Each figure is described from what it draws: its title, the kind of marks, the series of
its legend and its axes. A plot may set its own words with :func:`describe`.
"""

from __future__ import annotations

import contextlib

from matplotlib.axes import Axes
from matplotlib.figure import Figure

__all__ = ["describe", "describe_figure", "install_alt_text"]

_ATTR = "_kpitools_description"
MAX_SERIES = 8


def describe(ax: Axes, text: str) -> Axes:
    """Give the chart of ``ax`` its own one-sentence description (its alt text)."""
    setattr(ax.figure, _ATTR, text)
    return ax


def _series(ax: Axes) -> list[str]:
    legend = ax.get_legend()
    names = [t.get_text() for t in legend.get_texts()] if legend is not None else []
    if not names:
        names = [line.get_label() for line in ax.get_lines() if not line.get_label().startswith("_")]
    return [n for n in names if n]


def _kind(ax: Axes) -> str:
    if ax.images or any(type(c).__name__ == "QuadMesh" for c in ax.collections):
        return "heatmap"
    bars = sum(len(c) for c in ax.containers if type(c).__name__ == "BarContainer")  # not a shaded band
    lines = [line for line in ax.get_lines() if len(line.get_xdata()) > 1]
    if bars and lines:
        return "bar and line chart"
    if bars:
        return "bar chart"
    if lines:
        return "line chart"
    return "chart"


def _axes_sentence(ax: Axes) -> str:
    title = ax.get_title() or ax.get_title("left")
    parts = [f"{_kind(ax).capitalize()}{f' titled {title}' if title else ''}"]
    series = _series(ax)
    if series:
        shown = ", ".join(series[:MAX_SERIES]) + (f" and {len(series) - MAX_SERIES} more" if len(series) > MAX_SERIES
                                                 else "")
        parts.append(f"showing {shown}")
    x, y = ax.get_xlabel(), ax.get_ylabel()
    if y:
        parts.append(f"{y} on the vertical axis")
    if x:
        parts.append(f"{x} on the horizontal axis")
    return ", ".join(parts)


def describe_figure(fig: Figure) -> str:
    """The figure's own description, or one sentence built from its axes (on one line:
    a series name from the data keeps its characters, its line breaks become spaces)."""
    own = getattr(fig, _ATTR, None)
    if own:
        return " ".join(str(own).split())
    return " ".join(_built(fig).split())


def _built(fig: Figure) -> str:
    panels = [ax for ax in fig.axes if ax.get_visible() and (ax.has_data() or ax.get_title())]
    if not panels:
        return "Chart."
    main = [ax for ax in panels if ax.get_label() != "<colorbar>"] or panels
    return "; ".join(_axes_sentence(ax) for ax in main[:3]) + "."


def install_alt_text() -> None:
    """In a Jupyter kernel, attach :func:`describe_figure` to every figure shown inline
    (the ``alt`` of the image's display metadata, which the report template writes)."""
    try:
        from matplotlib_inline import backend_inline
    except ImportError:  # not in a kernel with the inline backend
        return
    fetch = backend_inline._fetch_figure_metadata
    if getattr(fetch, "_kpitools", False):
        return

    def with_alt(fig):
        metadata = dict(fetch(fig) or {})
        with contextlib.suppress(Exception):  # a description must never stop a chart from showing
            metadata["alt"] = describe_figure(fig)
        return metadata

    with_alt._kpitools = True
    backend_inline._fetch_figure_metadata = with_alt
