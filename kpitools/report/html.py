"""Export an executed notebook to a finished HTML document through ``templates/kpitools``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import nbformat
from nbconvert import HTMLExporter

from .paths import TEMPLATES
from .sanitize import sanitize_html

__all__ = ["export_html", "headings"]

_HEADING = re.compile(r"^(#{2})\s+(.+?)\s*#*\s*$", re.MULTILINE)


def _anchor(text: str) -> str:
    # nbconvert's markdown renderer gives headings the id of their text with spaces as dashes.
    return re.sub(r"\s", "-", text.strip())


def headings(nb: nbformat.NotebookNode) -> list[dict[str, str]]:
    """The level-2 headings of the markdown cells and of displayed Markdown outputs,
    for the table of contents."""
    found = []
    for cell in nb.cells:
        sources = []
        if cell.cell_type == "markdown":
            sources.append(cell.source)
        for output in cell.get("outputs", []):
            md = output.get("data", {}).get("text/markdown")
            if md:
                sources.append(md if isinstance(md, str) else "".join(md))
        for source in sources:
            for match in _HEADING.finditer(source):
                text = re.sub(r"[*_`]", "", match.group(2))
                found.append({"text": text, "anchor": _anchor(text)})
    return found


def export_html(
    nb: nbformat.NotebookNode | str | Path,
    meta: Mapping[str, Any],
    *,
    name: str = "report",
    template_dir: Path = TEMPLATES,
) -> str:
    """Render an executed notebook as a self-contained HTML document.

    Parameters
    ----------
    nb : NotebookNode or path
        The executed notebook.
    meta : mapping
        Header fields for the template: ``title``, ``period``, ``period_label``,
        ``data_range``, ``data_dir``, ``generated_at``, ``company``, ``version``,
        ``index_href``. Stored under ``nb.metadata.kpitools``.
    name : str
        The notebook's name, shown in the footer.

    Returns
    -------
    str
        HTML with no code cells, no prompts, charts inlined as base64 PNG and no
        script or stylesheet fetched from the network; passed through
        :func:`kpitools.report.sanitize.sanitize_html` as a last line.
    """
    if not isinstance(nb, nbformat.NotebookNode):
        nb = nbformat.read(str(nb), as_version=4)
    header = dict(meta)
    header.setdefault("toc", headings(nb))
    nb.metadata["kpitools"] = header
    exporter = HTMLExporter(
        template_name="kpitools",
        extra_template_basedirs=[str(template_dir)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    exporter.register_filter("escape_html", _escape)
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": name}})
    return sanitize_html(body)[0]


def _escape(text: object) -> str:
    import html

    return html.escape(str(text), quote=False)
