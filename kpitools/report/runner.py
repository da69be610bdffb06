"""Render the report notebooks for one or more periods.

Each (period, notebook) pair is executed by papermill with its parameters injected, in
the kernel its worker keeps for its notebooks (emptied before each, see
:mod:`kpitools.report.kernels`), then exported to HTML through ``templates/kpitools``.
The run reads a snapshot of the data taken when it starts, writes everything to
a staging folder, and publishes a period's folder whole, only when every notebook
of that period succeeded (see :mod:`kpitools.report.publish`): a failed or interrupted
run never overwrites an earlier good report. Workers and kernels die with the run
(see :mod:`kpitools.report.workers`). ``<out>/index.html`` links every period and notebook.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .. import __version__
from ..engine import interrupt_engine
from ..errors import KpiToolsError, ReportError
from ..metrics.quality import ANALYSES
from ..periods import Period, resolve_periods
from ..sources.data import Dataset
from ..sources.mapping import READY_MADE
from ..sources.spark import engine_name
from .atomic import write_text
from .executed import describe_failure, show_data_dir, take_stderr
from .html import export_html
from .index import write_index
from .kernels import discard_kernel, import_code, worker_kernel
from .parameters import declared
from .paths import NOTEBOOKS, ORDER, report_rank
from .publish import (
    new_stage,
    now_text,
    out_lock,
    prepare_out,
    publish_period,
    read_manifest,
    remove_stale,
    write_manifest,
)
from .results import TABLE_WRITERS, tile_kpis, write_results
from .source import open_for_run, run_environment
from .workers import Background, stop_pool, worker_pool

__all__ = ["ORDER", "discover_notebooks", "render_reports", "Job", "JobResult", "RunSummary"]

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

    return [found[s] for s in sorted(found, key=report_rank)]


def notebook_title(path: Path) -> str:
    nb = nbformat.read(str(path), as_version=4)
    return nb.metadata.get("kpitools", {}).get("title") or path.stem.replace("_", " ").capitalize()


@dataclass(frozen=True)
class Job:
    notebook: Path
    period: str
    data_dir: str  # what the notebook reads: the run's snapshot of the data
    stage: Path
    header: dict
    parameters: dict = field(default_factory=dict)
    shown_data_dir: str = ""  # the data directory as the analyst named it, for the saved notebook


@dataclass
class JobResult:
    job: Job
    ok: bool
    seconds: float
    error: str = ""
    html: Path | None = None
    ipynb: Path | None = None
    skipped: str = ""
    warnings: list[str] = field(default_factory=list)


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
        km = worker_kernel(str(job.notebook.parent))
        pm.execute_notebook(str(job.notebook), str(out_nb), parameters=params,
                            kernel_name="python3", progress_bar=False, log_output=False,
                            cwd=str(job.notebook.parent), execution_timeout=CELL_TIMEOUT_S, km=km)
        nb = nbformat.read(str(out_nb), as_version=4)
        warnings = take_stderr(nb)
        show_data_dir(nb, job.data_dir, job.shown_data_dir, job.stage.parent / job.period / f"{name}.ipynb")
        nbformat.write(nb, str(out_nb))
        header = {**job.header, "title": notebook_title(job.notebook)}
        out_html = out_nb.with_suffix(".html")
        write_text(out_html, export_html(nb, header, name=name))
    except pm.PapermillExecutionError as exc:
        return JobResult(job, False, _since(start), describe_failure(exc, out_nb), ipynb=out_nb)
    except (CellTimeoutError, DeadKernelError) as exc:
        discard_kernel()
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return JobResult(job, False, _since(start), f"{type(exc).__name__}: {first}",
                         ipynb=out_nb if out_nb.exists() else None)
    except Exception as exc:
        last = traceback.format_exception_only(exc)[-1].strip()
        return JobResult(job, False, _since(start), last,
                         ipynb=out_nb if out_nb.exists() else None)
    return JobResult(job, True, _since(start), html=out_html, ipynb=out_nb, warnings=warnings)


def _declared_by(notebook: Path, parameters: dict) -> dict:
    """The run's parameters that this notebook's ``parameters`` cell declares (papermill
    would add the others to it, with a warning)."""
    names = declared(notebook)
    return {k: v for k, v in parameters.items() if k in names}


def _since(start: dt.datetime) -> float:
    return (dt.datetime.now() - start).total_seconds()


@dataclass
class RunSummary:
    """What a run produced: one result per (period, notebook), the index path, the
    periods that were published, and warnings for the command line."""

    results: list[JobResult]
    out: Path
    index: Path | None = None
    published: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    periods: list[Period] = field(default_factory=list)

    @property
    def failed(self) -> list[JobResult]:
        return [r for r in self.results if not r.ok]


def _header(data: Dataset, period: Period, label: str) -> dict:
    start, end = data.date_range
    return {
        "company": "KPI report",
        "period": str(period),
        "period_label": f"{period.label}: {period.start:%d %b %Y} to {period.last_day:%d %b %Y}",
        "data_range": f"{start:%d %b %Y} to {end:%d %b %Y} (UTC)",
        # the folder's name, or postgresql://host/db: no server path, no password; and the engine
        # when it is not the folder's own DuckDB
        "data_dir": f"{label} (computed on Spark)" if data.engine == "spark" else label,
        "generated_at": dt.datetime.now(dt.UTC).strftime("%d %b %Y %H:%M UTC"),
        "version": __version__,
        "index_href": "../index.html",
    }


def render_reports(
    data_dir: str | os.PathLike[str],
    periods: Sequence[Period | str] | None = None,
    *,
    notebooks: Sequence[Path] | None = None,
    out: str | os.PathLike[str] = "reports",
    jobs: int = 1,
    parameters: dict | None = None,
    progress: bool = True,
    range_: str | None = None,
    warn: Callable[[str], None] | None = None,
    mapping: str | os.PathLike[str] | None = None,
    engine: str | None = None,
) -> RunSummary:
    """Execute and export every notebook for every period.

    Parameters
    ----------
    data_dir : path-like or str
        The data directory (or DuckDB file, or database URL). A folder's table files are
        copied into the run's staging folder first, and that snapshot is validated once
        and read by every notebook; a database is validated once and read as it is (see
        :mod:`kpitools.report.source`).
    periods : sequence of Period or str, optional
        The report periods: periods, period strings or words such as
        ``"latest-quarter"`` (resolved against the data). Default: the latest
        complete month.
    notebooks : sequence of Path, optional
        The notebooks (default: every notebook of ``notebooks/``, in report order).
    out : path-like
        Output folder: ``<out>/<period>/<notebook>.html`` and ``.ipynb``,
        ``kpis.json`` and CSV tables, ``manifest.json``, and ``<out>/index.html``.
    jobs : int
        Notebooks executed in parallel (worker processes).
    parameters : dict, optional
        Extra notebook parameters (str, int, float, bool, list or dict only).
    range_ : str, optional
        ``FIRST..LAST`` instead of ``periods``.
    warn : callable, optional
        Receives one line per warning (kernel stderr, a rebuilt manifest).
    mapping : path-like or str, optional
        The data's own tables and columns mapped onto the contract (a file, or a
        ready-made mapping's name; see :mod:`kpitools.sources.mapping`); default: the
        data folder's ``kpitools.toml``, if any.
    engine : str, optional
        ``"duckdb"`` or ``"spark"`` for the runner and every kernel (a Spark master and
        settings from ``KPITOOLS_SPARK_MASTER`` and ``KPITOOLS_SPARK_CONF``, see
        :mod:`kpitools.sources.spark`); default: ``KPITOOLS_ENGINE``, else DuckDB.

    Returns
    -------
    RunSummary
        Per-job results. A period is published only when all its notebooks
        succeeded; otherwise its folder keeps the earlier reports.
    """
    out = Path(out)
    created = not out.exists()
    prepare_out(out)
    messages: list[str] = []
    say = warn or messages.append
    remove_stale(out)
    notebooks = list(notebooks) if notebooks is not None else discover_notebooks()
    stage = new_stage(out)
    published: list[str] = []
    # the workers start their kernels and import what the notebooks import while the
    # data is copied and checked
    asked = [w for w in ",".join(map(str, periods or [])).split(",") if w.strip()]
    size = min(jobs, len(notebooks) * (len(asked) if asked and not range_ else jobs))
    # a database's URL, and the engine, reach the kernels this way
    restore = run_environment(data_dir, stage, engine_name(engine) if engine is not None else None)
    pool = None
    try:
        pool = worker_pool(size, warm=(str(notebooks[0].parent), import_code(notebooks))) if notebooks else None
        if mapping is not None and str(mapping) not in READY_MADE:
            mapping = str(Path(mapping).resolve())  # the kernels run in the notebooks' folder
        data, source = open_for_run(data_dir, stage, mapping)  # checked once; the kernels trust the mark
        for line in data.warnings:
            say(line)
        parameters = {**(parameters or {}), **({"mapping": str(mapping)} if mapping is not None else {})}
        fingerprint = source.fingerprint
        words = [str(p) for p in periods] if periods else None
        wanted = resolve_periods(",".join(words) if words else None, range_, data.date_range)
        job_list = []
        for period in wanted:
            header = _header(data, period, source.label)
            job_list += [Job(nb, str(period), source.for_kernels, stage, header,
                             _declared_by(nb, parameters), shown_data_dir=source.shown) for nb in notebooks]
        runnable, skipped = _split_runnable(job_list, data)
        # the machine-readable results are written while the kernels run (only that
        # thread uses the runner's engine meanwhile); a stopped run does not wait for it
        writer = Background(_write_all_results, data, wanted, stage, runnable, dict(parameters or {}))
        try:
            results = _run_all(runnable, pool, progress) + skipped
        except BaseException:
            writer.abandon(interrupt_engine)
            raise
        writer.result()
        for r in results:
            say_lines = [f"{r.job.period} {r.job.notebook.stem}: {w}" for w in r.warnings]
            for line in say_lines:
                say(line)
        with out_lock(out):
            published = _publish(results, stage, out, [str(p) for p in wanted], fingerprint, say, source.label)
            index = write_index(out, warn=say)
    finally:
        if pool is not None:  # after the jobs, the idle workers; after a failure, every one
            stop_pool(pool)
        restore()
        shutil.rmtree(stage, ignore_errors=True)
        if created and not published:  # a run that published nothing leaves no folder behind
            (out / ".kpitools.lock").unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                out.rmdir()
    return RunSummary(results, out, index, published, messages, wanted)


def _write_all_results(data: Dataset, periods: Sequence[Period], stage: Path, jobs: Sequence[Job],
                       parameters: dict) -> None:
    """First the KPIs that the notebooks' tiles and histories show (see :func:`tile_kpis`),
    then each period's machine-readable results: kpis.json, and the CSV tables of the
    run's reports."""
    tile_kpis(data, periods, [j.notebook.stem for j in jobs], parameters)
    for period in periods:
        write_results(data, period, stage / str(period), analyses={j.notebook.stem for j in jobs})


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


def _run_all(job_list: list[Job], pool: ProcessPoolExecutor, progress: bool) -> list[JobResult]:
    """Run the jobs in the pool's worker processes; on any interruption kill the workers
    and their kernels before the exception goes on."""
    from tqdm.auto import tqdm

    if not job_list:
        return []
    bar = tqdm(total=len(job_list), desc="reports", unit="notebook", disable=not progress)
    results = []
    try:
        pending = {pool.submit(_run_job, job) for job in job_list}
        while pending:
            done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            for future in done:
                result = future.result()
                bar.set_postfix_str(f"{result.job.period} {result.job.notebook.stem}")
                results.append(result)
                bar.update()
        pool.shutdown(wait=True)
    except BrokenProcessPool:
        stop_pool(pool)
        raise ReportError("a worker process died while it ran a notebook (out of memory, or killed); "
                          "no report was published") from None
    except BaseException:
        stop_pool(pool)  # workers and their kernels, then the exception goes on
        raise
    finally:
        bar.close()
    # results come back from the workers as copies: order them by what they are, not identity
    order = {(j.period, str(j.notebook)): i for i, j in enumerate(job_list)}
    return sorted(results, key=lambda r: order[(r.job.period, str(r.job.notebook))])


def _publish(results: list[JobResult], stage: Path, out: Path, periods: list[str], fingerprint: str,
             warn: Callable[[str], None], source: str = "") -> list[str]:
    """Publish each period whose notebooks all succeeded; for the others keep the earlier
    folder, put the failed notebooks' executed copies beside it and note the failure."""
    published = []
    for period in periods:
        mine = [r for r in results if r.job.period == period]
        target = out / period
        manifest = read_manifest(target, warn=warn) if target.exists() else {}
        failed = [r for r in mine if not r.ok]
        stamp = now_text()
        if failed:
            target.mkdir(exist_ok=True)
            for r in failed:
                name = r.job.notebook.stem
                if r.ipynb is not None and r.ipynb.exists():
                    os.replace(r.ipynb, target / f"{name}.failed.ipynb")
                    r.ipynb = target / f"{name}.failed.ipynb"
                old = manifest.get(name, {})
                entry = {"title": notebook_title(r.job.notebook), "ok": False, "seconds": round(r.seconds, 1),
                         "error": r.error, "skipped": "", "attempted_at": stamp}
                manifest[name] = {**old, "last_failure": r.error, "attempted_at": stamp} if old.get("ok") else entry
            write_manifest(target, manifest)
            continue
        run = {r.job.notebook.stem: r for r in mine}
        for name, r in run.items():
            manifest[name] = {"title": notebook_title(r.job.notebook), "ok": True, "seconds": round(r.seconds, 1),
                              "error": "", "skipped": r.skipped, "data": fingerprint, "rendered_at": stamp,
                              "source": source}
        staged = stage / period
        write_manifest(staged, manifest)

        def keep(path: Path, run=run) -> bool:
            if path.suffix == ".csv" and path.name in TABLE_WRITERS:
                return TABLE_WRITERS[path.name][3] not in run  # the table of another report
            if path.suffix not in (".html", ".ipynb"):
                return False  # kpis.json comes from this run only
            name = path.name.split(".")[0]
            if name not in run:
                return True  # another notebook's report from an earlier run
            return not (run[name].skipped or path.name.endswith(".failed.ipynb"))

        publish_period(staged, target, keep=keep)
        published.append(period)
    return published


def raise_for_failures(summary: RunSummary) -> None:
    """Raise ReportError listing every failed notebook with its failing cell."""
    if summary.failed:
        lines = [f"{r.job.period} {r.job.notebook.stem}: {r.error}"
                 + (f" (executed notebook: {r.ipynb})" if r.ipynb else "") for r in summary.failed]
        held = sorted({r.job.period for r in summary.failed})
        raise ReportError(f"{len(summary.failed)} notebook(s) failed:\n  " + "\n  ".join(lines)
                          + f"\n  not published: {', '.join(held)} (the earlier reports of "
                          f"{'that period' if len(held) == 1 else 'those periods'} are unchanged)")
