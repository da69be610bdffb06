"""What a report run reads: a snapshot of a data folder, or a database where it is.

A folder (or DuckDB file) is copied into the run's staging folder first, so that every
notebook of the run reads the same files however the originals change meanwhile. A
database cannot be copied: the notebooks read it as it is, each with its own connection.
Its whole URL reaches the kernels through their environment (:data:`RUN_URL`), never as
a notebook parameter: the parameters are saved with the reports, and there the URL is
the one without a password (:func:`~kpitools.sources.database.without_password`), so a
saved notebook runs again with ``PGPASSWORD`` or ``~/.pgpass``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..sources.data import Dataset, load
from ..sources.database import RUN_SHARED, RUN_URL, is_url, shown_url, without_password
from ..sources.mapping import find_mapping, read_mapping, source_file
from ..sources.shared import SHARED_FOLDER, share_results
from ..sources.spark import ENGINE_ENV, is_catalog, set_environment
from .publish import snapshot

__all__ = ["RunSource", "run_environment", "open_for_run"]


@dataclass(frozen=True)
class RunSource:
    """How the run names its data.

    ``for_kernels`` is the ``data_dir`` parameter the notebooks get, ``shown`` what the
    saved notebooks name instead, ``label`` what the report headers name (a folder's
    name, or ``postgresql://host/db``), ``fingerprint`` what the manifest records to tell
    reports of other data apart.
    """

    for_kernels: str
    shown: str
    label: str
    fingerprint: str


def run_environment(data_dir: str | os.PathLike[str], stage: Path, engine: str | None = None) -> Callable[[], None]:
    """For a database (or a Spark catalog's), set the environment the run's workers and
    kernels inherit (its URL and the run's shared folder), and for ``engine`` its name
    (:data:`~kpitools.sources.spark.ENGINE_ENV`); return what puts it back. Called
    before the workers start."""
    wanted = {ENGINE_ENV: engine} if engine else {}
    if is_url(data_dir) or is_catalog(data_dir):
        wanted.update({RUN_URL: str(data_dir), RUN_SHARED: str(stage / "data" / SHARED_FOLDER)})
    return set_environment(wanted)


def open_for_run(data_dir: str | os.PathLike[str], stage: Path,
                 mapping: str | os.PathLike[str] | None = None) -> tuple[Dataset, RunSource]:
    """Open and check the run's data once (the kernels then trust the mark this leaves in
    the run's shared folder), and say how the run names it. A folder's snapshot holds its
    mapping file and the files the mapping names (the notebooks get ``mapping`` as a
    parameter when it is given)."""
    if is_url(data_dir) or is_catalog(data_dir):  # read where it is, never copied
        url = str(data_dir)
        (stage / "data").mkdir(parents=True)
        shared = share_results(stage / "data")
        data = load(url, mapping=mapping)
        shared.mark_checked(data.files)
        data.shared = shared
        shown = shown_url(url) if is_url(url) else url
        digest = hashlib.sha256(repr((shown, sorted(data.row_counts().items()),
                                      data.time_bounds.to_csv(index=False))).encode())
        safe = without_password(url) if is_url(url) else url
        return data, RunSource(safe, safe, shown, digest.hexdigest()[:16])
    source = Path(data_dir).resolve()
    own = find_mapping(source)
    extra: list[Path] = []
    if source.is_dir() and (mapping is not None or own is not None):
        plan = read_mapping(mapping if mapping is not None else own)
        extra = [source_file(source, t) for t in plan.tables.values() if not t.is_query]
        extra = [p for p in extra if p.is_file() and p.parent == source] + ([own] if own is not None else [])
    fingerprint = snapshot(source, stage / "data", extra)
    staged = stage / "data" / source.name if source.is_file() else stage / "data"
    shared = share_results(stage / "data")
    data = load(staged, mapping=mapping)
    shared.mark_checked(data.files)
    data.directory = source
    # absolute: the kernels run in the notebooks' folder
    return data, RunSource(str(staged.resolve()), str(source), source.name, fingerprint)
