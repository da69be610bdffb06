"""Committed notebooks: no outputs, a literal parameters cell that papermill sees,
defaults that point at the bundled sample, the python3 kernel."""

import ast

import nbformat
import papermill as pm
import pytest

from kpitools.report.paths import NOTEBOOKS

NOTEBOOK_FILES = sorted(NOTEBOOKS.glob("*.ipynb"))


def test_there_are_notebooks():
    assert any(p.stem == "data_quality" for p in NOTEBOOK_FILES)


@pytest.mark.parametrize("path", NOTEBOOK_FILES, ids=lambda p: p.stem)
def test_committed_without_outputs(path):
    nb = nbformat.read(str(path), as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    assert "papermill" not in nb.metadata


@pytest.mark.parametrize("path", NOTEBOOK_FILES, ids=lambda p: p.stem)
def test_parameters(path):
    nb = nbformat.read(str(path), as_version=4)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert nb.metadata.get("kpitools", {}).get("title")
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    # literal assignments only: a derived value would keep its default after injection
    for node in ast.parse(tagged[0].source).body:
        assert isinstance(node, ast.Assign), ast.dump(node)
        ast.literal_eval(node.value)  # raises unless the value is a literal (str, number, list, dict)
    params = pm.inspect_notebook(str(path))
    assert {"period", "data_dir"} <= set(params)
    assert params["data_dir"]["default"] == '"../data/sample"'
