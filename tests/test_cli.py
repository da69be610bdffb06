"""The command line a newcomer meets: --version, kpitools keys, every option's help and
default, notebook parameters with -p, and --data never silently the sample."""

from __future__ import annotations

import argparse
import csv
import io
import json

import pytest
from nbformat.v4 import new_code_cell

import kpitools
from kpitools.cli import _parser, main
from kpitools.errors import ParameterError
from kpitools.report.parameters import Parameter, notebook_parameters, parse_settings
from kpitools.report.runner import discover_notebooks
from kpitools.text.catalog import CATALOG

from .conftest import make_notebook


def test_version(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"kpitools {kpitools.__version__}"


def test_keys_lists_every_key_with_its_definition(capsys):
    assert main(["keys", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["key"] for r in rows] == list(CATALOG)
    mrr = rows[0]
    assert (mrr["label"], mrr["unit"], mrr["better"], mrr["tables"]) == ("MRR", "money", "higher", "subscriptions")
    assert "`" not in "".join(r["definition"] for r in rows)  # plain text, not Markdown
    assert main(["keys"]) == 0
    text = capsys.readouterr().out
    assert "bounce_rate: Bounce rate (rate, lower is better)" in text
    assert main(["keys", "--format", "json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == len(CATALOG)


def _options(parser: argparse.ArgumentParser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from ((f"{name} {a}", h) for a, h in _options(sub))
        elif action.option_strings and action.help != argparse.SUPPRESS:
            yield "/".join(action.option_strings), action.help or ""


def test_every_option_says_what_it_does_and_its_default():
    options = list(_options(_parser()))
    assert len(options) > 30
    for name, text in options:
        if name.endswith(("-h/--help", "--version")):
            continue
        assert len(text) > 15 and ("default" in text or "required" in text), (name, text)
    helps = [_parser().format_help()] + [p.format_help() for p in _subparsers()]
    for text in helps:
        assert "``" not in text and ":func:" not in text, text


def _subparsers():
    for action in _parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            yield from action.choices.values()


def test_report_help_lists_the_notebook_parameters():
    text = next(p for p in _subparsers() if p.prog.endswith("report")).format_help()
    for name in ("trailing_months", "max_categories", "event_steps", "activation_days", "compare_age"):
        assert f"  {name} (default " in text, name
    assert "  period (" not in text and "  mapping (" not in text  # set by --period and --mapping


def test_settings_take_their_defaults_kind():
    known = notebook_parameters(discover_notebooks())
    got = parse_settings(["trailing_months=6", "event_steps=signup, activated", "event_window=7D",
                          "max_categories=5"], known)
    assert got == {"trailing_months": 6, "event_steps": ["signup", "activated"], "event_window": "7D",
                   "max_categories": 5}
    assert known["trailing_months"].notebooks == ("unit_economics",)
    assert "trailing" in known and set(known["max_categories"].notebooks) >= {"funnel", "overview"}
    flags = {"on": Parameter("on", True, "", ("x",)), "share": Parameter("share", 0.5, "", ("x",))}
    assert parse_settings(["on=no", "share=0.25"], flags) == {"on": False, "share": 0.25}
    for bad, words in [("trailing_months=six", "takes a whole number"), ("trailing", "expected name=value"),
                       ("nope=1", "no report notebook has a parameter 'nope'"),
                       ("period=2025-01", "period is set with --period"),
                       ("data_dir=x", "data_dir is set with --data")]:
        with pytest.raises(ParameterError, match=words):
            parse_settings([bad], known)
    with pytest.raises(ParameterError, match="true or false"):
        parse_settings(["on=maybe"], flags)


def test_a_parameter_reaches_the_notebooks_that_declare_it(small_dir, tmp_path, capsys):
    nbdir = tmp_path / "notebooks"
    nbdir.mkdir()
    make_notebook(nbdir / "alpha.ipynb", new_code_cell('print("trailing is", trailing)'))
    make_notebook(nbdir / "beta.ipynb", new_code_cell('print("beta has trailing:", "trailing" in dir())'))
    import nbformat

    alpha = nbformat.read(str(nbdir / "alpha.ipynb"), as_version=4)
    alpha.cells[0].source += "\n# trailing periods shown\ntrailing = 12"
    nbformat.write(alpha, str(nbdir / "alpha.ipynb"))
    out = tmp_path / "reports"
    code = main(["report", "--data", str(small_dir), "--period", "2025-06", "--out", str(out),
                 "--notebooks-dir", str(nbdir), "--quiet", "-p", "trailing=6"])
    assert code == 0, capsys.readouterr().err
    assert "trailing is 6" in (out / "2025-06" / "alpha.html").read_text()
    assert "beta has trailing: False" in (out / "2025-06" / "beta.html").read_text()  # not declared there
    code = main(["report", "--data", str(small_dir), "--out", str(out), "--notebooks-dir", str(nbdir),
                 "-p", "trailing=six"])
    assert code == 2 and "takes a whole number" in capsys.readouterr().err


def test_data_is_never_silently_the_sample(capsys):
    with pytest.raises(SystemExit):
        main(["check"])
    assert "--data" in capsys.readouterr().err
    assert main(["sql", "mrr", "--period", "latest-month"]) == 0
    assert "no --data given: using the bundled sample company" in capsys.readouterr().err
