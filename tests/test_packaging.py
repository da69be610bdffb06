"""pyproject.toml and environment.yml install the same packages."""

import re
import tomllib

from .conftest import ROOT


def _names(specs):
    return {re.split(r"[<>=!~ \[]", s.strip(), maxsplit=1)[0].lower() for s in specs}


def test_environment_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    dev = [d for d in extras["dev"] if not d.startswith("kpitools[")]
    dev += [x for d in extras["dev"] if d.startswith("kpitools[") for e in d[9:].split("]")[0].split(",")
            for x in extras[e]]
    wanted = _names(project["dependencies"]) | _names(dev)
    env = (ROOT / "environment.yml").read_text()
    listed = {m.group(1).lower() for m in re.finditer(r"^\s+- ([A-Za-z0-9_.-]+)\s*(?:[<>=]|$)", env, re.M)}
    assert wanted <= listed, wanted - listed
    assert "- -e ." in env


def test_the_report_pipeline_skips_the_slow_optional_grammar():
    """rfc3987_syntax (an optional jsonschema helper JupyterLab installs) takes over 2 s to
    import; nbformat's schema never needs it, so the runner and its workers leave it out."""
    import subprocess
    import sys

    code = ("import sys, kpitools.report.runner, nbformat, papermill\n"
            "nbformat.validate(nbformat.read('notebooks/overview.ipynb', 4))\n"
            "print(sys.modules.get('rfc3987_syntax'))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=ROOT)
    assert out.stdout.strip() == "None"


def _make_dry_run(*args: str) -> list[str]:
    import os
    import subprocess

    # as a user runs it, not as a sub-make of `make test` (which would print its directory)
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    out = subprocess.run(["make", "--no-print-directory", "-n", *args], capture_output=True, text=True,
                         check=True, cwd=ROOT, env=env)
    return out.stdout.splitlines()


def test_make_lab_starts_as_root_only_with_allow_root():
    import os

    lab = _make_dry_run("lab")[-1]
    assert "jupyter lab" in lab
    assert ("--allow-root" in lab) == (os.geteuid() == 0)


def test_make_says_it_is_installing_before_it_does():
    lines = _make_dry_run("-B", "install")
    assert lines[0].startswith("echo \"installing kpitools") and "minutes" in lines[0]
    assert any("uv pip install" in line for line in lines[1:])
