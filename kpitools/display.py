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

__all__ = ["escape", "md", "show_markdown", "note", "table", "show_table", "skip_if_missing"]


def escape(value: object) -> str:
    """HTML-escape a value for a Markdown or HTML report (None shows as an em dash)."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "—"
    return html.escape(str(value), quote=True)


def md(template: str, /, **values: object) -> Markdown:
    """Markdown from a template whose ``{placeholders}`` are filled with escaped values.

    The template is the notebook author's own text; only ``values`` are escaped.
    """
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


def table(frame: pd.DataFrame, *, formats: Mapping[str, str] | None = None,
          caption: str | None = None, index: bool = False) -> HTML:
    """An HTML table with every cell escaped and numbers formatted.

    Parameters
    ----------
    frame : DataFrame
        What to show.
    formats : mapping of column to format spec, optional
        ``{"share": "{:.1%}", "amount": "{:,.0f}"}``. Other float columns get
        ``{:,.2f}``, integers ``{:,}``, timestamps ``YYYY-MM-DD HH:MM``.
    caption : str, optional
        Shown above the table (escaped).
    """
    formats = dict(formats or {})
    shown = frame.copy()
    for col in shown.columns:
        series = shown[col]
        fmt = formats.get(col)
        if fmt is not None:
            shown[col] = series.map(lambda v, f=fmt: "—" if pd.isna(v) else f.format(v))
        elif isinstance(series.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(series):
            shown[col] = series.dt.strftime("%Y-%m-%d %H:%M").fillna("—")
        elif pd.api.types.is_bool_dtype(series):
            shown[col] = series.map({True: "yes", False: "no"})
        elif pd.api.types.is_integer_dtype(series):
            shown[col] = series.map(lambda v: "—" if pd.isna(v) else f"{int(v):,}")
        elif pd.api.types.is_float_dtype(series):
            shown[col] = series.map(lambda v: "—" if pd.isna(v) else f"{v:,.2f}")
        else:
            shown[col] = series.map(lambda v: "—" if v is None or pd.isna(v) else str(v))
    body = shown.to_html(index=index, escape=True, border=0, classes="kt-table", na_rep="—")
    head = f"<p><strong>{escape(caption)}</strong></p>" if caption else ""
    return HTML(head + body)


def show_table(frame: pd.DataFrame, **kwargs: object) -> None:
    """Display :func:`table`."""
    display(table(frame, **kwargs))
