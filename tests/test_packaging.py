"""pyproject.toml and environment.yml install the same packages."""

import re
import tomllib

from .conftest import ROOT


def _names(specs):
    return {re.split(r"[<>=!~ \[]", s.strip(), maxsplit=1)[0].lower() for s in specs}


def test_environment_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = _names(project["dependencies"]) | _names(project["optional-dependencies"]["dev"])
    env = (ROOT / "environment.yml").read_text()
    listed = {m.group(1).lower() for m in re.finditer(r"^\s+- ([A-Za-z0-9_.-]+)\s*(?:[<>=]|$)", env, re.M)}
    assert wanted <= listed, wanted - listed
    assert "- -e ." in env
