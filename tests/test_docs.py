"""The users' copy of the specification (docs/) says the same as the project's spec."""

from pathlib import Path

import pytest

from .conftest import ROOT

SPEC = ROOT.parent / "shared" / "spec"


@pytest.mark.parametrize("name", ["data-contract.md", "metrics.md"])
def test_docs_copy_the_spec(name):
    if not SPEC.is_dir():
        pytest.skip("the project's spec (../shared/spec) is not beside this checkout")
    assert (ROOT / "docs" / name).read_text(encoding="utf-8") == (SPEC / name).read_text(encoding="utf-8"), (
        f"docs/{name} differs from {SPEC / name}: copy the spec over")


def test_contract_columns_are_in_the_docs():
    from kpitools.sources.schema import TABLES

    text = Path(ROOT / "docs" / "data-contract.md").read_text(encoding="utf-8")
    for table in TABLES.values():
        assert f"## {table.name}" in text
        for column in table.columns:
            assert column.name in text, (table.name, column.name)
