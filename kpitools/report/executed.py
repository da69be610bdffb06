"""What a report keeps of an executed notebook: no kernel stderr (warnings with server
paths), the data directory as the analyst named it, and a one-line account of a failure."""

from __future__ import annotations

from pathlib import Path

import nbformat

__all__ = ["take_stderr", "show_data_dir", "describe_failure"]


def take_stderr(nb: nbformat.NotebookNode) -> list[str]:
    """Remove what the kernel wrote to stderr (warnings with the server's paths in them)
    from the notebook; return its distinct lines, for the command line."""
    lines: dict[str, None] = {}
    for cell in nb.cells:
        outputs = cell.get("outputs", [])
        kept = [o for o in outputs if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]
        for o in outputs:
            if o not in kept:
                text = o.get("text", "")
                text = text if isinstance(text, str) else "".join(text)
                lines.update((line.strip(), None) for line in text.splitlines() if line.strip())
        if len(kept) != len(outputs):
            cell["outputs"] = kept
    return list(lines)


def show_data_dir(nb: nbformat.NotebookNode, read: str, shown: str, published: Path) -> None:
    """In the saved notebook, name the data directory the analyst gave (``shown``) rather
    than the run's snapshot of it that the kernel ``read``, and the path the notebook is
    published at, so that it can be run again as it stands."""
    for cell in nb.cells:
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []):
            cell.source = cell.source.replace(repr(read), repr(shown)).replace(f'"{read}"', repr(shown))
    papermill = nb.metadata.get("papermill", {})
    params = papermill.get("parameters", {})
    if params.get("data_dir") == read:
        params["data_dir"] = shown
    if "output_path" in papermill:  # where the run publishes it, not where it was staged
        papermill["output_path"] = str(published)


def describe_failure(exc, executed: Path) -> str:
    """``cell [3] `df.loc[x]`: KeyError: 'x'``: the failing cell's execution count, as shown
    in the executed notebook, its first line, and the exception."""
    first = ""
    try:
        cells = nbformat.read(str(executed), as_version=4).cells
        failing = [c for c in cells if any(o.get("output_type") == "error" for o in c.get("outputs", []))]
        lines = [line for line in failing[0].source.splitlines() if line.strip()] if failing else []
        first = f" `{lines[0].strip()[:60]}`" if lines else ""
    except (OSError, ValueError):
        pass
    evalue = str(exc.evalue).strip().splitlines()[0] if str(exc.evalue).strip() else ""
    return f"cell [{exc.exec_count}]{first}: {exc.ename}: {evalue}"
