"""Render the report notebooks for one or more periods.

Each (period, notebook) pair is executed by papermill in a fresh kernel with
its parameters injected, then exported to HTML through ``templates/kpitools``.
Everything is written to a staging folder first and moved into
``<out>/<period>/`` only once it succeeded, so a failed run never overwrites
an earlier good report. ``<out>/index.html`` links every period and notebook.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
import traceback
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

import nbformat

from . import __version__
from .data import Dataset, load
from .errors import KpiToolsError, ReportError
from .html import export_html
from .index import write_index
from .paths import NOTEBOOKS
from .periods import Period
from .quality import ANALYSES
from .results import write_results

__all__ = ["ORDER", "discover_notebooks", "render_reports", "Job", "JobResult", "RunSummary"]

# The overview opens every report set and data quality closes it as the appendix.
ORDER = ("overview", "funnel", "retention_cohort", "unit_economics", "engagement")
APPENDIX = "data_quality"
CELL_TIMEOUT_S = 600


def discover_notebooks(directory: Path = NOTEBOOKS, names: Sequence[str] | None = None,
                       ) -> list[Path]:
    """The report notebooks in ``directory``, overview first and data quality last.

    ``names`` selects some of them (by file stem); an unknown name is an error.
    """
    found = {p.stem: p for p in sorted(directory.glob("*.ipynb")) if not p.stem.startswith("_")}
    if names:
        unknown = [n for n in names if n not in found]
        if unknown:
            raise KpiToolsError(f"no notebook {', '.join(unknown)} in {directory} "
                                f"(available: {', '.join(sorted(found)) or 'none'})")
        found = {n: found[n] for n in names}

    def rank(stem: str) -> tuple[int, str]:
        if stem == APPENDIX:
            return (len(ORDER) + 1, stem)
        return (ORDER.index(stem) if stem in ORDER else len(ORDER), stem)

    return [found[s] for s in sorted(found, key=rank)]


def notebook_title(path: Path) -> str:
    nb = nbformat.read(str(path), as_version=4)
    return nb.metadata.get("kpitools", {}).get("title") or path.stem.replace("_", " ").capitalize()


@dataclass(frozen=True)
class Job:
    notebook: Path
    period: str
    data_dir: str
    stage: Path
    header: dict
    parameters: dict = field(default_factory=dict)


@dataclass
class JobResult:
    job: Job
    ok: bool
    seconds: float
    error: str = ""
    html: Path | None = None
    ipynb: Path | None = None
    skipped: str = ""


def _run_job(job: Job) -> JobResult:
    """Execute one notebook and export it; runs in a worker process."""
    import papermill as pm
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    start = dt.datetime.now()
    name = job.notebook.stem
    out_nb = job.stage / job.period / f"{name}.ipynb"
    out_nb.parent.mkdir(parents=True, exist_ok=True)
    params = {"period": job.period, "data_dir": job.data_dir, **job.parameters}
    try:
        pm.execute_notebook(str(job.notebook), str(out_nb), parameters=params,
                            kernel_name="python3", progress_bar=False, log_output=False,
                            cwd=str(job.notebook.parent), execution_timeout=CELL_TIMEOUT_S,
                            # ipykernel 7 warns at every start that its TCP transport is
                            # unencrypted (local, harmless); errors still reach the notebook.
                            extra_arguments=["--IPKernelApp.log_level=CRITICAL"])
        header = {**job.header, "title": notebook_title(job.notebook)}
        html_text = export_html(nbformat.read(str(out_nb), as_version=4), header, name=name)
        out_html = out_nb.with_suffix(".html")
        out_html.write_text(html_text, encoding="utf-8")
    except pm.PapermillExecutionError as exc:
        return JobResult(job, False, _since(start), _describe_failure(exc, out_nb), ipynb=out_nb)
    except (CellTimeoutError, DeadKernelError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return JobResult(job, False, _since(start), f"{type(exc).__name__}: {first}",
                         ipynb=out_nb if out_nb.exists() else None)
    except Exception as exc:
        last = traceback.format_exception_only(exc)[-1].strip()
        return JobResult(job, False, _since(start), last,
                         ipynb=out_nb if out_nb.exists() else None)
    return JobResult(job, True, _since(start), html=out_html, ipynb=out_nb)


def _describe_failure(exc, executed: Path) -> str:
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


def _since(start: dt.datetime) -> float:
    return (dt.datetime.now() - start).total_seconds()


@dataclass
class RunSummary:
    """What a run produced: one result per (period, notebook), and the index path."""

    results: list[JobResult]
    out: Path
    index: Path | None = None

    @property
    def failed(self) -> list[JobResult]:
        return [r for r in self.results if not r.ok]


def _header(data: Dataset, period: Period, data_dir: Path, out_period: Path) -> dict:
    start, end = data.date_range
    return {
        "company": "KPI report",
        "period": str(period),
        "period_label": f"{period.label}: {period.start:%d %b %Y} to {period.last_day:%d %b %Y}",
        "data_range": f"{start:%d %b %Y} to {end:%d %b %Y} (UTC)",
        "data_dir": str(data_dir),
        "generated_at": dt.datetime.now(dt.UTC).strftime("%d %b %Y %H:%M UTC"),
        "version": __version__,
        "index_href": "../index.html",
    }


def render_reports(
    data_dir: str | os.PathLike[str],
    periods: Sequence[Period],
    *,
    notebooks: Sequence[Path] | None = None,
    out: str | os.PathLike[str] = "reports",
    jobs: int = 1,
    parameters: dict | None = None,
    progress: bool = True,
    data: Dataset | None = None,
) -> RunSummary:
    """Execute and export every notebook for every period.

    Parameters
    ----------
    data_dir : path-like
        The data directory; it is loaded and validated once before anything runs.
    periods : sequence of Period
        The report periods.
    notebooks : sequence of Path, optional
        The notebooks (default: every notebook of ``notebooks/``, in report order).
    out : path-like
        Output folder: ``<out>/<period>/<notebook>.html`` and ``.ipynb``,
        ``kpis.json`` and CSV tables, and ``<out>/index.html``.
    jobs : int
        Notebooks executed in parallel (separate processes).
    parameters : dict, optional
        Extra notebook parameters (str, int, float, bool, list or dict only).

    Returns
    -------
    RunSummary
        Per-job results; a failed notebook leaves its earlier report in place.
    """
    data_dir = Path(data_dir).resolve()
    data = data if data is not None else load(data_dir)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    notebooks = list(notebooks) if notebooks is not None else discover_notebooks()
    stage = Path(tempfile.mkdtemp(prefix=".staging-", dir=out))
    try:
        job_list = []
        for period in periods:
            write_results(data, period, stage / str(period))
            header = _header(data, period, data_dir, out / str(period))
            job_list += [Job(nb, str(period), str(data_dir), stage, header, dict(parameters or {}))
                         for nb in notebooks]
        runnable, skipped = _split_runnable(job_list, data)
        results = _run_all(runnable, jobs, progress) + skipped
        _publish(results, stage, out, [str(p) for p in periods])
        index = write_index(out)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return RunSummary(results, out, index)


def _split_runnable(job_list: list[Job], data: Dataset) -> tuple[list[Job], list[JobResult]]:
    """Jobs whose notebook has the tables it needs, and a skipped result for the others
    (an analysis with none of its required tables renders nothing, and says why)."""
    needs = {a.name: a.needs for a in ANALYSES}
    runnable, skipped = [], []
    for job in job_list:
        options = needs.get(job.notebook.stem)
        if options and not any(data.has(*need) for need in options):
            alternatives = " or ".join(" + ".join(need) for need in options)
            skipped.append(JobResult(job, True, 0.0, skipped=f"needs {alternatives}"))
        else:
            runnable.append(job)
    return runnable, skipped


def _run_all(job_list: list[Job], jobs: int, progress: bool) -> list[JobResult]:
    from tqdm.auto import tqdm

    bar = tqdm(total=len(job_list), desc="reports", unit="notebook", disable=not progress)
    results = []
    try:
        if jobs <= 1:
            for job in job_list:
                bar.set_postfix_str(f"{job.period} {job.notebook.stem}")
                results.append(_run_job(job))
                bar.update()
        else:
            with ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn")) as pool:
                futures = [pool.submit(_run_job, job) for job in job_list]
                for future in as_completed(futures):
                    result = future.result()
                    bar.set_postfix_str(f"{result.job.period} {result.job.notebook.stem}")
                    results.append(result)
                    bar.update()
    finally:
        bar.close()
    order = {id(j): i for i, j in enumerate(job_list)}
    return sorted(results, key=lambda r: order.get(id(r.job), 0))


def _publish(results: list[JobResult], stage: Path, out: Path, periods: list[str]) -> None:
    """Move what succeeded into place; keep a failed notebook's executed copy aside."""
    for period in periods:
        target = out / period
        target.mkdir(parents=True, exist_ok=True)
        for path in (stage / period).glob("*"):
            if path.suffix in (".json", ".csv"):
                os.replace(path, target / path.name)
    for result in results:
        target = out / result.job.period
        name = result.job.notebook.stem
        if result.skipped:
            (target / f"{name}.html").unlink(missing_ok=True)  # the data no longer supports it
        elif result.ok:
            os.replace(result.ipynb, target / f"{name}.ipynb")
            os.replace(result.html, target / f"{name}.html")
            (target / f"{name}.failed.ipynb").unlink(missing_ok=True)
        elif result.ipynb is not None and result.ipynb.exists():
            failed = target / f"{name}.failed.ipynb"
            os.replace(result.ipynb, failed)
            result.ipynb = failed
    manifest = {}
    for result in results:
        entry = manifest.setdefault(result.job.period, {})
        entry[result.job.notebook.stem] = {
            "title": notebook_title(result.job.notebook), "ok": result.ok,
            "seconds": round(result.seconds, 1), "error": result.error,
            "skipped": result.skipped}
    for period, entries in manifest.items():
        path = out / period / "manifest.json"
        old = json.loads(path.read_text()) if path.exists() else {}
        for name, entry in entries.items():
            if not entry["ok"] and name in old and old[name].get("ok"):
                entry = {**old[name], "last_failure": entry["error"]}
            old[name] = entry
        path.write_text(json.dumps(old, indent=2) + "\n", encoding="utf-8")


def raise_for_failures(summary: RunSummary) -> None:
    """Raise ReportError listing every failed notebook with its failing cell."""
    if summary.failed:
        lines = [f"{r.job.period} {r.job.notebook.stem}: {r.error}"
                 + (f" (executed notebook: {r.ipynb})" if r.ipynb else "") for r in summary.failed]
        raise ReportError(f"{len(summary.failed)} notebook(s) failed:\n  " + "\n  ".join(lines))
