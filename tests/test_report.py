"""The report pipeline end to end on a small generated data set."""

import json
import re
import shutil
from html import unescape

import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell

from kpitools.cli import main
from kpitools.periods import Period
from kpitools.report.paths import NOTEBOOKS
from kpitools.report.runner import discover_notebooks, render_reports
from kpitools.sample import write

from .conftest import make_notebook

EVIL = "<script>alert(1)</script>"
PERIOD = Period.parse("2025-06")


@pytest.fixture(scope="module")
def evil_dir(small_tables, tmp_path_factory):
    """The small sample with a channel named like an XSS probe."""
    tables = {k: v.copy() for k, v in small_tables.items()}
    acc = tables["accounts"]
    acc.loc[acc.index[:40], "channel"] = EVIL
    tables["leads"].loc[tables["leads"].index[:40], "channel"] = EVIL
    out = tmp_path_factory.mktemp("evil") / "data"
    write(tables, out)
    return out


@pytest.fixture(scope="module")
def rendered(evil_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    summary = render_reports(evil_dir, [PERIOD], notebooks=[NOTEBOOKS / "data_quality.ipynb"],
                             out=out, progress=False)
    return summary, out




def test_report_files(rendered):
    summary, out = rendered
    assert not summary.failed
    folder = out / "2025-06"
    for name in ("data_quality.html", "data_quality.ipynb", "kpis.json", "data_quality.csv", "manifest.json"):
        assert (folder / name).is_file(), name
    # the CSV tables are those of the reports rendered (here the data quality report's)
    assert not (folder / "mrr_movements.csv").exists() and not (folder / "funnel.csv").exists()
    assert not list(out.glob(".staging-*"))  # the staging folder is cleaned up
    kpis = json.loads((folder / "kpis.json").read_text())
    assert kpis["mrr"] > 0 and kpis["customers"] > 0 and kpis["arr"] == pytest.approx(12 * kpis["mrr"])


def test_html_is_a_document_without_code(rendered):
    html = (rendered[1] / "2025-06" / "data_quality.html").read_text()
    assert "import kpitools" not in html and "show_table(" not in html
    assert 'class="jp-CodeMirrorEditor' not in html and "hl-ipython3" not in html
    assert 'class="kt-title">Data quality appendix</h1>' in html
    assert "June 2025: 01 Jun 2025 to 30 Jun 2025" in html
    assert re.search(r"<dt>Data</dt><dd>01 Jan 2025 to 19 Jul 2025 \(UTC\)</dd>", html)
    assert "<dt>Generated</dt>" in html
    assert 'href="#Summary"' in html  # table of contents


def test_html_is_self_contained(rendered):
    html = (rendered[1] / "2025-06" / "data_quality.html").read_text()
    assert re.search(r'<img[^>]+src="data:image/png;base64,', html)  # charts inline
    for tag in re.findall(r"<(?:script|link|img|iframe)\b[^>]*>", html):
        assert "http" not in tag, tag


def test_strings_from_data_are_escaped(rendered):
    html = (rendered[1] / "2025-06" / "data_quality.html").read_text()
    assert EVIL not in html
    assert EVIL in unescape(html)  # shown to the reader as the characters it is
    assert "<script" not in html.lower()


def test_index_links_every_report(rendered):
    summary, out = rendered
    index = (out / "index.html").read_text()
    assert summary.index == out / "index.html"
    assert 'href="2025-06/data_quality.html"' in index
    assert "June 2025" in index and "MRR" in index


def test_failed_notebook_keeps_earlier_report(evil_dir, tmp_path, capsys):
    nbdir = tmp_path / "notebooks"
    nbdir.mkdir()
    make_notebook(nbdir / "alpha.ipynb", new_markdown_cell("## Fine"), new_code_cell("print(period)"))
    out = tmp_path / "reports"
    args = ["report", "--data", str(evil_dir), "--period", "2025-06", "--out", str(out),
            "--notebooks-dir", str(nbdir), "--quiet"]
    assert main(args) == 0
    good = (out / "2025-06" / "alpha.html").read_bytes()
    assert b"2025-06" in good
    files = {p.name: p.read_bytes() for p in (out / "2025-06").iterdir() if p.name != "manifest.json"}

    make_notebook(nbdir / "alpha.ipynb", new_code_cell("1 / 0"))
    make_notebook(nbdir / "beta.ipynb", new_code_cell("print('beta ran for', period)"))
    capsys.readouterr()
    assert main([*args, "--jobs", "2"]) == 1
    err = capsys.readouterr().err
    assert "1 notebook(s) failed" in err and "2025-06 alpha: cell [3] `1 / 0`: ZeroDivisionError" in err
    assert "not published: 2025-06 (the earlier reports of that period are unchanged)" in err
    assert "Traceback" not in err
    # the period is published whole or not at all: its reports, kpis.json and CSVs stay as they were
    for name, content in files.items():
        assert (out / "2025-06" / name).read_bytes() == content, name
    assert not (out / "2025-06" / "beta.html").exists()
    assert (out / "2025-06" / "alpha.failed.ipynb").is_file()
    manifest = json.loads((out / "2025-06" / "manifest.json").read_text())
    assert manifest["alpha"]["ok"] and "ZeroDivisionError" in manifest["alpha"]["last_failure"]
    assert "last run failed" in (out / "index.html").read_text()

    make_notebook(nbdir / "alpha.ipynb", new_code_cell("print('fixed')"))  # fixed: both are published together
    assert main([*args, "--jobs", "2"]) == 0
    assert "beta ran for" in (out / "2025-06" / "beta.html").read_text()
    assert not (out / "2025-06" / "alpha.failed.ipynb").exists()
    assert "last run failed" not in (out / "index.html").read_text()


def test_bad_data_writes_nothing(tmp_path, small_dir, capsys):
    bad = tmp_path / "bad"
    shutil.copytree(small_dir, bad)
    (bad / "nps.parquet").unlink()
    (bad / "nps.csv").write_text("respondent_id,responded_at,score\nR1,2025-01-01,12\n")
    out = tmp_path / "reports"
    assert main(["report", "--data", str(bad), "--out", str(out), "--quiet"]) == 2
    assert "nps.csv, column 'score'" in capsys.readouterr().err
    assert not out.exists()


def test_discover_orders_overview_first_and_data_quality_last(tmp_path):
    for name in ("data_quality", "funnel", "overview", "engagement", "zeta"):
        make_notebook(tmp_path / f"{name}.ipynb")
    assert [p.stem for p in discover_notebooks(tmp_path)] == [
        "overview", "funnel", "engagement", "zeta", "data_quality"]
    with pytest.raises(Exception, match="no notebook nope"):
        discover_notebooks(tmp_path, ["nope"])


def test_unit_economics_without_spend_or_costs(small_tables, tmp_path):
    tables = {k: v for k, v in small_tables.items() if k not in ("spend", "costs")}
    write(tables, tmp_path / "data")
    out = tmp_path / "reports"
    summary = render_reports(tmp_path / "data", [PERIOD], out=out, progress=False,
                             notebooks=[NOTEBOOKS / "unit_economics.ipynb"])
    assert not summary.failed
    html = (out / "2025-06" / "unit_economics.html").read_text()
    assert "Skipped: this section needs the spend table" in html
    assert "Skipped: this section needs the costs table" in html
    assert "MRR bridge, 2025-06" not in html or "data:image/png" in html
    assert "no spend table" in html  # the missing-values table says why


def test_notebook_without_its_tables_is_skipped(small_tables, tmp_path):
    write({"events": small_tables["events"]}, tmp_path / "data")
    out = tmp_path / "reports"
    summary = render_reports(tmp_path / "data", [PERIOD], out=out, progress=False,
                             notebooks=[NOTEBOOKS / "unit_economics.ipynb"])
    assert [r.skipped for r in summary.results] == ["needs subscriptions + accounts"]
    assert not (out / "2025-06" / "unit_economics.html").exists()
    assert "not rendered: needs subscriptions + accounts" in (out / "index.html").read_text()


def test_retention_on_an_events_only_directory(small_tables, tmp_path):
    events = small_tables["events"][["user_id", "timestamp", "event"]]  # a shop's bare event log
    write({"events": events}, tmp_path / "data")
    out = tmp_path / "reports"
    summary = render_reports(tmp_path / "data", [PERIOD], out=out, progress=False,
                             notebooks=[NOTEBOOKS / "retention_cohort.ipynb"])
    assert not summary.failed, summary.failed[0].error if summary.failed else ""
    html = (out / "2025-06" / "retention_cohort.html").read_text()
    assert "<strong>Activity</strong> cohorts by month" in html
    assert "Revenue retention needs subscriptions" in html
    cohorts = pd.read_csv(out / "2025-06" / "cohort_retention.csv")
    assert {"cohort", "period_number", "cohort_size", "active", "retention"} <= set(cohorts.columns)
    assert (cohorts.loc[cohorts["period_number"] == 0, "retention"] == 1).all()


def test_a_duckdb_file_reports_like_its_folder(small_dir, tmp_path):
    import duckdb

    from kpitools import compute_kpis, load

    db = tmp_path / "company.duckdb"
    con = duckdb.connect(str(db))
    for path in sorted(small_dir.glob("*.parquet")):
        con.execute(f"CREATE TABLE {path.stem} AS SELECT * FROM read_parquet('{path}')")
    con.close()
    out = tmp_path / "reports"
    # a notebook that reads the copy the runner made of the file
    (tmp_path / "nb").mkdir()
    notebook = make_notebook(tmp_path / "nb" / "rows.ipynb",
                             "import kpitools\nprint(kpitools.load(data_dir).row_counts()['events'])")
    summary = render_reports(db, [PERIOD], out=out, progress=False, notebooks=[notebook])
    assert not summary.failed, summary.failed[0].error if summary.failed else ""
    written = json.loads((out / "2025-06" / "kpis.json").read_text())
    assert written == compute_kpis(load(small_dir), PERIOD)
    assert str(load(small_dir).row_counts()["events"]) in (out / "2025-06" / "rows.html").read_text()


def test_the_warm_up_runs_the_notebooks_imports_and_nothing_else(tmp_path):
    """A worker's kernel runs the notebooks' top-level imports before their first notebook:
    each once, a failing one harmlessly, no other statement, no cell with IPython magics."""
    from nbformat.v4 import new_code_cell

    from kpitools.report.kernels import import_code

    make_notebook(tmp_path / "a.ipynb", new_code_cell("import json\nfrom os import path as p\nprint('side effect')"))
    make_notebook(tmp_path / "b.ipynb", new_code_cell("%matplotlib inline\nimport shutil"),
                  new_code_cell("from __future__ import annotations\nimport json\nimport no_such_module_here"))
    code = import_code([tmp_path / "a.ipynb", tmp_path / "b.ipynb"])
    assert code.count("import json") == 1 and "from os import path as p" in code
    assert "shutil" not in code and "print" not in code and "__future__" not in code
    assert "import no_such_module_here" in code
    namespace: dict = {}
    exec(code, namespace)  # the missing module is skipped
    assert namespace["p"] is __import__("os").path and "no_such_module_here" not in namespace


def test_the_index_lists_reports_in_order_and_names_their_data(tmp_path):
    """Whatever order a run finished them in, the index lists a period's reports overview
    first and data quality last; one source is named once, several each beside its reports."""
    from kpitools.report.index import write_index
    from kpitools.report.publish import write_manifest

    folder = tmp_path / "2025-06"
    folder.mkdir()
    names = ["data_quality", "engagement", "overview", "funnel"]  # completion order
    for name in names:
        (folder / f"{name}.html").write_text("<html></html>")
    entry = {"ok": True, "error": "", "skipped": "", "data": "x", "rendered_at": "2025-07-01T00:00:00"}
    write_manifest(folder, {n: {**entry, "title": n.title(), "source": "data/acme"} for n in names})
    page = write_index(tmp_path).read_text()
    links = re.findall(r'href="2025-06/(\w+)\.html"', page)
    assert links == ["overview", "funnel", "engagement", "data_quality"]
    assert "<dt>Data</dt><dd>data/acme</dd>" in page and "data: data/acme" not in page
    manifest = {n: {**entry, "title": n.title(), "source": "data/acme"} for n in names}
    manifest["funnel"]["source"] = "data/beta"
    write_manifest(folder, manifest)
    page = write_index(tmp_path).read_text()
    assert "2 sources: each report names its own" in page
    assert page.count("data: data/acme") == 3 and page.count("data: data/beta") == 1
