"""Showing results in a notebook and in its HTML report, safely.

Every string that came from the data is HTML-escaped before it reaches a
report: a channel called ``<script>alert(1)</script>`` is shown as text.
Notebooks use these helpers instead of building HTML or Markdown by hand.
"""

from __future__ import annotations

import html
from collections.abc import Mapping

import pandas as pd
from IPython.display import HTML, Markdown, display

__all__ = ["escape", "md", "show_markdown", "note", "table", "show_table", "skip_if_missing", "tiles",
           "show_tiles"]


def escape(value: object) -> str:
    """HTML-escape a value for a Markdown or HTML report (None shows as an em dash)."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "—"
    return html.escape(str(value), quote=True)


def md(template: str, /, **values: object) -> Markdown:
    """Markdown from a template whose ``{placeholders}`` are filled with escaped values.

    The template is the notebook author's own text; only ``values`` are escaped.
    """
    if not values:
        return Markdown(template)
    return Markdown(template.format(**{k: escape(v) for k, v in values.items()}))


def show_markdown(template: str, /, **values: object) -> None:
    """Display :func:`md`."""
    display(md(template, **values))


def note(text: str) -> None:
    """Display a one-line note (a skipped section, a caveat); ``text`` is escaped."""
    display(HTML(f'<p class="kt-note">{escape(text)}</p>'))


def skip_if_missing(data, *tables: str) -> bool:
    """Show the one-line note and return True when a section's tables are absent."""
    message = data.note_missing(*tables)
    if message:
        note(message)
        return True
    return False


def _cell_text(series: pd.Series, fmt: str | None) -> list[str]:
    """Format one column for display; empty values become an em dash."""
    if fmt is None:
        if isinstance(series.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(series):
            fmt = "{:%Y-%m-%d %H:%M}"
        elif pd.api.types.is_bool_dtype(series):
            return ["—" if pd.isna(v) else ("yes" if v else "no") for v in series.tolist()]
        elif pd.api.types.is_integer_dtype(series):
            fmt = "{:,.0f}"
        elif pd.api.types.is_float_dtype(series):
            fmt = "{:,.2f}"
        else:
            fmt = "{}"
    return ["—" if v is None or (not isinstance(v, str) and pd.isna(v)) else fmt.format(v)
            for v in series.tolist()]


def _cell_class(numeric: bool, text: str) -> str:
    if numeric:
        return "kt-num"
    return "kt-text kt-nowrap" if len(text) <= 24 else "kt-text"


def _is_number(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def table(frame: pd.DataFrame, *, formats: Mapping[str, str] | None = None,
          caption: str | None = None, index: bool = False,
          labels: Mapping[str, str] | None = None) -> HTML:
    """An HTML table with every cell escaped, numbers formatted and right-aligned.

    Parameters
    ----------
    frame : DataFrame
        What to show (a report table: tens of rows, not millions).
    formats : mapping of column to format spec, optional
        ``{"share": "{:.1%}", "amount": "{:,.0f}"}``. Other floats get ``{:,.2f}``,
        integers ``{:,}``, timestamps ``YYYY-MM-DD HH:MM``, empty values an em dash.
    caption : str, optional
        Shown above the table (escaped).
    index : bool
        Show the index as the first column.
    labels : mapping of column to header, optional
        Shorter or friendlier headers (escaped like everything else).
    """
    formats = dict(formats or {})
    shown = frame.reset_index() if index else frame
    columns = list(shown.columns)
    numeric = [_is_number(shown[c]) for c in columns]
    texts = [_cell_text(shown[c], formats.get(c)) for c in columns]
    names = dict(labels or {})
    head = "".join(f'<th class="{"kt-num" if num else "kt-text"}">{escape(names.get(c, c))}</th>'
                   for c, num in zip(columns, numeric, strict=True))
    body = []
    for row in range(len(shown)):
        cells = "".join(f'<td class="{_cell_class(num, col[row])}">{escape(col[row])}</td>'
                        for col, num in zip(texts, numeric, strict=True))
        body.append(f"<tr>{cells}</tr>")
    cap = f"<caption>{escape(caption)}</caption>" if caption else ""
    return HTML(f'<table class="kt-table">{cap}<thead><tr>{head}</tr></thead>'
                f'<tbody>{"".join(body)}</tbody></table>')


def show_table(frame: pd.DataFrame, **kwargs: object) -> None:
    """Display :func:`table`."""
    display(table(frame, **kwargs))


def _delta(key: str, change: float, pct: float, better: bool | None, label: str) -> str:
    from .catalog import kpi

    if change is None or pd.isna(change):
        return f'<div class="kt-tile-delta">{escape(label)}: —</div>'
    if kpi(key).unit == "rate":
        text = f"{change * 100:+.1f} pts"
    elif pct is not None and not pd.isna(pct):
        text = f"{pct:+.1%}"
    else:
        text = f"{change:+,.0f}"
    tone = "" if better is None or change == 0 else (
        " kt-good" if (change > 0) == bool(better) else " kt-bad")
    arrow = "▲" if change > 0 else ("▼" if change < 0 else "■")
    return f'<div class="kt-tile-delta{tone}">{arrow} {escape(text)} {escape(label)}</div>'


def tiles(frame: pd.DataFrame) -> HTML:
    """KPI tiles from :func:`kpitools.compare.kpi_tiles`: value, change against the previous
    period and last year (green when it moved the right way), and the target when set."""
    from .catalog import format_value

    boxes = []
    for r in frame.itertuples():
        target = ""
        if r.target is not None and not pd.isna(r.target) and r.value is not None:
            met = (r.value >= r.target) if r.higher_is_better is not False else (r.value <= r.target)
            target = (f'<div class="kt-tile-target {"kt-good" if met else "kt-bad"}">target '
                      f'{escape(format_value(r.key, r.target))}: {"met" if met else "missed"}</div>')
        boxes.append(
            f'<div class="kt-tile"><div class="kt-tile-label">{escape(r.label)}</div>'
            f'<div class="kt-tile-value">{escape(format_value(r.key, r.value))}</div>'
            + _delta(r.key, r.change, r.change_pct, r.higher_is_better, "vs previous")
            + _delta(r.key, r.yoy_change, r.yoy_pct, r.higher_is_better, "vs last year")
            + target + "</div>")
    return HTML(f'<div class="kt-tiles">{"".join(boxes)}</div>')


def show_tiles(frame: pd.DataFrame) -> None:
    """Display :func:`tiles`."""
    display(tiles(frame))
