import html
import re

import numpy as np
import pandas as pd
import pytest
from nbconvert.filters.markdown_mistune import markdown2html_mistune

from kpitools import plots
from kpitools.text.display import escape, md, table

EVIL = "<script>alert(1)</script>"
# text that Markdown, LaTeX, HTML or a spreadsheet would read as something else
PAYLOADS = [
    EVIL, '"><img src=x onerror=alert(1)>', "[x](javascript:alert(1))", "![t](http://host/t.png)",
    "a\n## heading", "=HYPERLINK(\"http://x\",\"y\")", "$x$ and $y$", "$\\href{javascript:alert(1)}{x}$",
    "**bold** _it_ `code`", "<http://x.org>", "www.example.com", "me@example.com", "1. list", "- item",
    "| a | b |", "{{ template }} {% raw %}", "'; DROP TABLE accounts; --", "$(rm -rf /)",
    "\u202eevil\u202c", "🚀 emoji", "tab\there\r\nline", "&amp; &lt;",
]


def _text(rendered: str) -> str:
    """What a reader sees: the tags removed and the character references decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", rendered)).strip()


def test_table_escapes_cells_headers_and_caption():
    frame = pd.DataFrame({EVIL: [EVIL, "ok"], "n": [1, 2]})
    out = table(frame, caption=EVIL).data
    assert "<script>" not in out
    assert html.unescape(out).count(EVIL) == 3


@pytest.mark.parametrize("payload", PAYLOADS)
def test_markdown_shows_data_as_literal_text(payload):
    rendered = markdown2html_mistune(md("Channel **{name}** grew", name=payload).data)
    tags = set(re.findall(r"<\s*([a-zA-Z0-9]+)", rendered))
    assert tags <= {"p", "strong"}, tags  # no link, image, heading, list, code, table or script
    expected = payload.replace("\u202e", "\ufffd").replace("\u202c", "\ufffd")
    expected = re.sub(r"[\t\r\n]", " ", expected)
    assert _text(rendered) == f"Channel {expected} grew"


def test_table_formats():
    frame = pd.DataFrame({
        "share": [0.1234, np.nan], "amount": [1234.5, 2.0], "count": pd.array([1200, None], dtype="Int64"),
        "when": pd.to_datetime(["2024-01-02 03:04", None], utc=True), "flag": [True, False],
        "name": ["a", None]})
    html = table(frame, formats={"share": "{:.1%}"}).data
    for text in ("12.3%", "1,234.50", "2.00", "1,200", "2024-01-02 03:04", "yes", "no"):
        assert f">{text}</td>" in html, text
    assert html.count(">—</td>") == 4  # NaN share, missing count, missing time, missing name
    assert '<td class="kt-num">1,200</td>' in html and '<th class="kt-text">name</th>' in html


def test_markdown_values_are_escaped_template_is_not():
    out = md("**{channel}** leads", channel=EVIL).data
    assert out.startswith("**") and out.endswith("** leads") and "<" not in out
    assert html.unescape(out) == f"**{EVIL}** leads"
    assert escape(None) == "—"
    assert escape("Café 42") == "Café 42"  # letters, digits and spaces stay as they are


def test_rows_over_time_draws_each_table():
    counts = pd.DataFrame({
        "table": ["events", "events", "leads", "leads"],
        "month": pd.to_datetime(["2024-01-01", "2024-02-01"] * 2, utc=True),
        "rows": [1000, 1500, 10, 12]})
    ax = plots.rows_over_time(counts)
    assert ax.get_yscale() == "log"
    assert ax.get_title() == "Rows per month, by table"
    drawn = [list(line.get_ydata()) for line in ax.get_lines() if len(line.get_ydata())]
    assert drawn == [[1000, 1500], [10, 12]]  # one line per table, in the data's order
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["events", "leads"]


def test_a_chart_is_described_in_one_sentence():
    import matplotlib

    matplotlib.use("Agg")
    import pandas as pd

    from kpitools import plots
    from kpitools.plots.describe import describe, describe_figure

    history = pd.DataFrame({"period": ["2025-01", "2025-02", "2025-03"], "lead_rate": [0.1, 0.12, 0.11],
                            "paid_rate": [0.3, 0.28, 0.31]})
    ax = plots.rate_trends(history, {"lead_rate": "Visitor to lead", "paid_rate": "Trial to paid"},
                           title="Conversion rates by period")
    text = describe_figure(ax.figure)
    assert text.startswith("Line chart titled Conversion rates by period, showing Visitor to lead, Trial to paid")
    assert text.endswith(".") and "\n" not in text
    describe(ax, "Two conversion rates over three months.")
    assert describe_figure(ax.figure) == "Two conversion rates over three months."


def test_rates_read_as_rates_with_their_base():
    import matplotlib

    matplotlib.use("Agg")
    import pandas as pd

    from kpitools import plots

    table = pd.DataFrame({"channel": ["ads", "seo"], "visitor_to_lead_rate": [0.041, 0.02],
                          "visitor_to_lead_rate_prev": [0.03, 0.025], "visitors": [1204, 12]})
    ax = plots.conversion_by_channel(table, "visitor_to_lead_rate", previous="visitor_to_lead_rate_prev",
                                     base="visitors")
    assert sorted(t.get_text() for t in ax.texts) == ["2.0%, n=12", "4.1%, n=1,204"]
    bars = plots.channel_bars(table, "visitor_to_lead_rate", fmt="{:.1%}")
    bars.figure.canvas.draw()
    ticks = [t.get_text() for t in bars.get_xticklabels() if t.get_text()]
    assert ticks and all(t.endswith("%") for t in ticks)  # 4.0%, not 0.04


def test_open_cohort_windows_are_drawn_apart_and_labelled():
    """A cohort rate whose window has not closed is drawn hollow on a dashed line in a
    labelled band, not as a collapse; a period-flow rate in the same chart is not."""
    import matplotlib

    matplotlib.use("Agg")
    import pandas as pd

    from kpitools import plots
    from kpitools.metrics.funnel import window_open

    periods = ["2026-06", "2026-07", "2026-08", "2026-09"]
    # data to 14 October with a 90-day window: July's contacts have until 30 October
    assert window_open(periods, data_end=pd.Timestamp("2026-10-14", tz="UTC"), window_days=90) == \
        ["2026-07", "2026-08", "2026-09"]
    history = pd.DataFrame({"period": periods, "trial_to_paid_rate": [0.316, 0.30, 0.22, 0.163],
                            "visitor_to_lead_rate": [0.02, 0.021, 0.02, 0.022]})
    ax = plots.rate_trends(history, {"trial_to_paid_rate": "Trial to paid", "visitor_to_lead_rate": "Visitor to lead"},
                           open_periods=["2026-08", "2026-09"], open_columns=["trial_to_paid_rate"],
                           open_label="cohorts still inside their 90-day window")
    dashed = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert len(dashed) == 1 and dashed[0].get_markerfacecolor() == "white"
    # the dashed part starts at the last closed point (July) and holds the two open ones
    assert list(pd.Series(dashed[0].get_ydata()).dropna()) == [0.30, 0.22, 0.163]
    solid = [line for line in ax.get_lines() if line.get_linestyle() == "-"]
    assert list(pd.Series(solid[0].get_ydata()).dropna()) == [0.316, 0.30]  # the final rates only
    assert pd.Series(solid[1].get_ydata()).notna().all()  # visitor to lead: period flow, never open
    assert any(t.get_text() == "cohorts still inside their 90-day window" for t in ax.texts)


def test_a_log_axis_reads_as_numbers():
    """The report style reads no mathtext (text from the data stays text), so a log axis
    must label its ticks itself: "10,000", never "$\\mathdefault{10^{4}}$"."""
    import matplotlib

    matplotlib.use("Agg")
    import pandas as pd

    from kpitools import plots

    plots.use_style()
    history = pd.DataFrame({"period": ["2026-08", "2026-09"], "visitors": [12000, 15000], "leads": [300, 320]})
    ax = plots.stage_trends(history, {"visitors": "Unique visitors", "leads": "Leads"})
    ax.figure.canvas.draw()
    labels = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert labels and not any("$" in t or "mathdefault" in t for t in labels), labels
    assert "1,000" in labels or "10,000" in labels
