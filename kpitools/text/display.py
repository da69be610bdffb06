"""Showing results in a notebook and in its HTML report, safely.

Every string that came from the data is escaped before it reaches a report, for
HTML and for Markdown alike: a channel called ``<script>alert(1)</script>``,
``[x](javascript:alert(1))``, ``$\\href{...}$`` or ``## heading`` is shown as
those characters, never as a tag, a link, math or a heading. Notebooks use these
helpers instead of building HTML or Markdown by hand.
"""

from __future__ import annotations

import html
from collections.abc import Mapping

import pandas as pd
from IPython.display import HTML, Markdown, display

__all__ = ["escape", "escape_html", "md", "show_markdown", "note", "table", "show_table", "skip_if_missing", "tiles",
           "show_tiles"]


# Every ASCII character that means something to HTML or Markdown (links, images,
# emphasis, headings, lists, tables, math, autolinked URLs and e-mail addresses)
# becomes a numeric character reference: HTML shows the character, Markdown sees no
# syntax. Line breaks and tabs become spaces (a value cannot start a Markdown block),
# and the invisible controls that reorder text (bidirectional overrides) or hide it
# are shown as U+FFFD.
_ACTIVE = "\\`*_{}[]()<>#+-.!|$~:/&\"'=@"
_INVISIBLE = [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F, *range(0x80, 0xA0),
              0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_ESCAPES = {ord(c): f"&#{ord(c)};" for c in _ACTIVE}
_ESCAPES.update({0x09: " ", 0x0A: " ", 0x0D: " ", 0x2028: " ", 0x2029: " "})
_ESCAPES.update({c: "\ufffd" for c in _INVISIBLE})


_CONTROLS = {k: v for k, v in _ESCAPES.items() if chr(k) not in _ACTIVE}


def escape_html(value: object) -> str:
    """Escape a value for an HTML element or attribute only (tables, tiles, notes), where
    Markdown does not apply: ``html.escape`` plus the invisible controls."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "—"
    return html.escape(str(value).translate(_CONTROLS), quote=True)


def escape(value: object) -> str:
    """Escape a value for an HTML or Markdown report: the text reaches the reader as
    the same characters and never as markup (None shows as an em dash)."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "—"
    return str(value).translate(_ESCAPES)


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
    display(HTML(f'<p class="kt-note">{escape_html(text)}</p>'))


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
    head = "".join(f'<th class="{"kt-num" if num else "kt-text"}">{escape_html(names.get(c, c))}</th>'
                   for c, num in zip(columns, numeric, strict=True))
    body = []
    for row in range(len(shown)):
        cells = "".join(f'<td class="{_cell_class(num, col[row])}">{escape_html(col[row])}</td>'
                        for col, num in zip(texts, numeric, strict=True))
        body.append(f"<tr>{cells}</tr>")
    cap = f"<caption>{escape_html(caption)}</caption>" if caption else ""
    return HTML(f'<table class="kt-table">{cap}<thead><tr>{head}</tr></thead>'
                f'<tbody>{"".join(body)}</tbody></table>')


def show_table(frame: pd.DataFrame, **kwargs: object) -> None:
    """Display :func:`table`."""
    display(table(frame, **kwargs))


def _delta(key: str, change: float, pct: float, better: bool | None, label: str) -> str:
    from .catalog import kpi

    if change is None or pd.isna(change):
        return f'<div class="kt-tile-delta">{escape_html(label)}: —</div>'
    if kpi(key).unit == "rate":
        text = f"{change * 100:+.1f} pts"
    elif pct is not None and not pd.isna(pct):
        text = f"{pct:+.1%}"
    else:
        text = f"{change:+,.0f}"
    tone = "" if better is None or change == 0 else (
        " kt-good" if (change > 0) == bool(better) else " kt-bad")
    arrow = "▲" if change > 0 else ("▼" if change < 0 else "■")
    return f'<div class="kt-tile-delta{tone}">{arrow} {escape_html(text)} {escape_html(label)}</div>'


def tiles(frame: pd.DataFrame) -> HTML:
    """KPI tiles from :func:`kpitools.metrics.compare.kpi_tiles`: value, change against the previous
    period and last year (green when it moved the right way), and the target when set."""
    from .catalog import format_value

    boxes = []
    for r in frame.itertuples():
        target = ""
        if r.target is not None and not pd.isna(r.target) and r.value is not None:
            met = (r.value >= r.target) if r.higher_is_better is not False else (r.value <= r.target)
            target = (f'<div class="kt-tile-target {"kt-good" if met else "kt-bad"}">target '
                      f'{escape_html(format_value(r.key, r.target))}: {"met" if met else "missed"}</div>')
        boxes.append(
            f'<div class="kt-tile"><div class="kt-tile-label">{escape_html(r.label)}</div>'
            f'<div class="kt-tile-value">{escape_html(format_value(r.key, r.value))}</div>'
            + _delta(r.key, r.change, r.change_pct, r.higher_is_better, "vs previous")
            + _delta(r.key, r.yoy_change, r.yoy_pct, r.higher_is_better, "vs last year")
            + target + "</div>")
    return HTML(f'<div class="kt-tiles">{"".join(boxes)}</div>')


def show_tiles(frame: pd.DataFrame) -> None:
    """Display :func:`tiles`."""
    display(tiles(frame))
