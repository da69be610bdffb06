"""Every notebook rendered on hostile data: payloads in every text column, thousands of
categories, and one account in one month. Text from the data must reach the reader as
text (never markup, a link, math or a formula), and every report must render."""

from __future__ import annotations

import csv
import html
import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from kpitools.report.paths import NOTEBOOKS as NOTEBOOK_DIR
from kpitools.report.runner import render_reports
from kpitools.report.sanitize import allowed_link, allowed_source
from kpitools.sample import generate, write
from kpitools.sources.categories import OTHER

from .hostile import PAYLOADS, hostile_tables, many_categories, one_account

NOTEBOOKS = ["overview", "funnel", "retention_cohort", "unit_economics", "engagement", "data_quality"]


def _render(tables, tmp: Path, period: str, fmt: str = "parquet", notebooks: list[str] | None = None):
    write(tables, tmp / "data", fmt=fmt)
    chosen = [NOTEBOOK_DIR / f"{n}.ipynb" for n in notebooks] if notebooks else None
    summary = render_reports(tmp / "data", [period], out=tmp / "reports", jobs=2, progress=False,
                             notebooks=chosen)
    failed = {r.job.notebook.stem: r.error for r in summary.failed}
    return summary, tmp / "reports" / period, failed


@pytest.fixture(scope="module")
def payload_run(tmp_path_factory):
    base = generate(seed=3, scale=0.05, start="2025-01-01", end="2025-07-20")
    # CSV, so that the payloads' newlines and quotes also go through the CSV reader
    return _render(hostile_tables(base), tmp_path_factory.mktemp("payload"), "2025-06", fmt="csv")


@pytest.fixture(scope="module")
def many_run(tmp_path_factory):
    base = generate(seed=3, scale=0.3, start="2025-01-01", end="2025-07-20")
    # the reports with breakdowns by channel, segment, plan and feature (the payload run
    # renders every report)
    return _render(many_categories(base), tmp_path_factory.mktemp("many"), "2025-06",
                   notebooks=["funnel", "retention_cohort", "unit_economics", "engagement", "data_quality"])


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    return _render(one_account(), tmp_path_factory.mktemp("tiny"), "2025-03")


class _Elements(HTMLParser):
    """Every element with its attributes, and the text of the headings."""

    def __init__(self):
        super().__init__()
        self.elements: list[tuple[str, dict]] = []
        self.headings: list[str] = []
        self._heading: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))
        if re.fullmatch(r"h[1-6]", tag):
            self._heading = []

    def handle_endtag(self, tag):
        if re.fullmatch(r"h[1-6]", tag) and self._heading is not None:
            self.headings.append("".join(self._heading).strip())
            self._heading = None

    def handle_data(self, data):
        if self._heading is not None:
            self._heading.append(data)


def _inert(page: str) -> _Elements:
    """Assert that a page runs nothing, fetches nothing and links only to kpitools' own pages."""
    parsed = _Elements()
    parsed.feed(page)
    for tag, attrs in parsed.elements:
        assert tag not in {"script", "iframe", "object", "embed", "link", "base", "form", "frame"}, tag
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name, value)
            if name == "href":
                assert allowed_link(value or ""), (tag, value)
            if name == "src":
                assert allowed_source(value or ""), (tag, (value or "")[:40])
            assert "javascript:" not in (value or "").lower(), (tag, name, value)
    return parsed


def _text(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def test_payloads_render_in_every_report(payload_run):
    _, folder, failed = payload_run
    assert not failed, failed
    assert sorted(p.stem for p in folder.glob("*.html")) == sorted(NOTEBOOKS)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_text_from_the_data_stays_text(payload_run, name):
    _, folder, _ = payload_run
    page = (folder / f"{name}.html").read_text(encoding="utf-8")
    parsed = _inert(page)
    # headings are kpitools' own: no payload opened one (a value with a newline and "## ")
    for heading in parsed.headings:
        assert "heading" not in heading and "title" not in heading.lower().replace("kt-title", ""), heading
    assert sum(1 for tag, _ in parsed.elements if tag == "h1") == 1
    assert not [t for t, a in parsed.elements if t == "img" and not allowed_source(a.get("src", ""))]
    # every chart has a sentence of its own as alt text, never nbconvert's placeholder
    alts = [a.get("alt", "") for t, a in parsed.elements if t == "img"]
    assert all(re.match(r"(Line|Bar|Heatmap|Bar and line|Chart)", alt) for alt in alts), alts
    text = _text(page)
    # no server path, no kernel warning, no traceback reached the page
    assert "/tmp/" not in page and ".staging-" not in page and str(Path.home()) + "/" not in page
    for noise in ("Traceback", "UserWarning", "Glyph"):
        assert noise not in text, noise
    if name != "overview":  # the overview shows KPIs, not category values
        shown = [p for p in PAYLOADS if p in text or p.replace("\n", " ") in text]
        assert len(shown) >= 3, name  # the payloads are there, as the characters they are


def test_markdown_syntax_from_the_data_is_not_rendered(payload_run):
    _, folder, _ = payload_run
    page = (folder / "engagement.html").read_text(encoding="utf-8")
    # the feature story names features in bold: the payloads inside are literal text
    story = re.search(r"<p>The most used features are (.*?)</p>", page, re.DOTALL)
    assert story, "no feature story"
    assert "<a " not in story.group(1) and "<img" not in story.group(1) and "<code" not in story.group(1)
    names = [html.unescape(n) for n in re.findall(r"<strong>([^<]*)</strong>", story.group(1))]
    shown = {re.sub(r"[\t\r\n]", " ", p).replace("\u202e", "\ufffd").replace("\u202c", "\ufffd")
             for p in PAYLOADS}
    assert len(names) >= 3 and set(names) <= shown, names  # each feature name exactly as in the data


def test_csv_cells_are_not_formulas(payload_run):
    _, folder, _ = payload_run
    seen_neutralized = False
    for path in folder.glob("*.csv"):
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv.reader(handle):
                for cell in row:
                    if cell[:1] in ("=", "+", "-", "@", "\t", "\r"):
                        float(cell)  # only numbers may start so (a negative amount)
                    seen_neutralized |= cell.startswith(("'=HYPERLINK(", "'+1+cmd"))
    assert seen_neutralized  # the formula is there, as text


def test_index_is_inert(payload_run):
    _, folder, _ = payload_run
    _inert((folder.parent / "index.html").read_text(encoding="utf-8"))


def test_thousands_of_categories_show_the_top_and_other(many_run):
    _, folder, failed = many_run
    assert not failed, failed
    funnel = pd.read_csv(folder / "funnel.csv")
    channels = set(funnel["channel"]) - {"all"}
    assert OTHER in channels and len(channels) <= 13  # twelve and "(other)"
    # totals are unchanged by the grouping: the channels add up to "all"
    flow = funnel[funnel["view"] == "period_flow"]
    leads = flow[flow["stage"] == "leads"]
    assert leads.loc[leads["channel"] != "all", "count"].sum() == leads.loc[leads["channel"] == "all", "count"].item()
    page = (folder / "unit_economics.html").read_text(encoding="utf-8")
    assert OTHER in html.unescape(page)
    profile = pd.read_csv(folder / "data_quality.csv")  # the profile counts every value
    assert profile.loc[profile["table"] == "leads", "rows"].item() > 500


def test_one_account_in_one_month(tiny_run):
    _, folder, failed = tiny_run
    assert not failed, failed
    assert sorted(p.stem for p in folder.glob("*.html")) == sorted(NOTEBOOKS)
    page = (folder / "unit_economics.html").read_text(encoding="utf-8")
    assert "March 2025" in page
    assert "Traceback" not in _text(page)
