"""The report folder: staging, a snapshot of the data, the manifest, and publishing a
period's files together.

A run works in ``<out>/.staging-<pid>-<token>/``: it copies the data there first
(every notebook of the run reads the same bytes, whatever happens to the data
directory meanwhile), renders into it, and publishes a period only when all of its
notebooks succeeded, by swapping the period's folder for the staged one in one
rename. A reader, or an interrupted run, therefore never sees a period whose
``kpis.json``, CSVs and reports come from different runs. Whatever a killed run left
behind (a staging folder, a half-written temporary file) is removed by the next run.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import hashlib
import html
import json
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import psutil

from ..errors import ReportError
from ..sources.data import find_table_file
from ..sources.schema import TABLES
from .atomic import TEMP_PREFIX, write_text

__all__ = ["prepare_out", "new_stage", "remove_stale", "snapshot", "read_manifest", "write_manifest",
           "publish_period", "out_lock", "STAGING_PREFIX"]

STAGING_PREFIX = ".staging-"
OLD_PREFIX = ".old-"
MANIFEST = "manifest.json"
Warn = Callable[[str], None]


def prepare_out(out: Path) -> None:
    """Create the output folder, or say in one line why it cannot be written."""
    if out.exists() and not out.is_dir():
        raise ReportError(f"--out {out} is a file; expected a folder for the reports")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f"{TEMP_PREFIX}{os.getpid()}-probe"
        probe.write_bytes(b"kpitools")
        probe.unlink()
    except OSError as exc:
        raise ReportError(f"cannot write to {out}: {exc.strerror or exc}") from None


def new_stage(out: Path) -> Path:
    stage = out / f"{STAGING_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
    stage.mkdir()
    return stage


def _owner_alive(path: Path) -> bool:
    """Whether the run that named ``path`` (``<prefix><pid>-...``) is still running."""
    match = re.match(rf"(?:{re.escape(STAGING_PREFIX)}|{re.escape(OLD_PREFIX)}|{re.escape(TEMP_PREFIX)})(\d+)-",
                     path.name)
    if not match:
        return False
    pid = int(match.group(1))
    if pid == os.getpid():
        return True
    try:
        started = psutil.Process(pid).create_time()
    except psutil.Error:
        return False
    return started <= path.lstat().st_mtime + 1  # the same process, not a later one with its pid


def remove_stale(out: Path) -> list[Path]:
    """Remove what runs that no longer exist left in ``out``: staging folders, temporary
    files, and the old copy of a period whose swap was cut short (put back if the period
    itself is missing). Returns what was removed."""
    removed = []
    for path in [*out.glob(f"{STAGING_PREFIX}*"), *out.glob(f"{OLD_PREFIX}*"), *out.glob(f"{TEMP_PREFIX}*"),
                 *out.glob(f"*/{TEMP_PREFIX}*")]:
        if _owner_alive(path):
            continue
        if path.name.startswith(OLD_PREFIX):
            period = out / path.name.split("-", 2)[-1]
            if not period.exists():
                os.rename(path, period)
                continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed


_FICLONE = 0x40049409  # Linux: share the blocks copy-on-write (btrfs, XFS); else a plain copy


def _clone(source: Path, target: Path) -> None:
    try:
        import fcntl

        with open(source, "rb") as src, open(target, "wb") as dst:
            fcntl.ioctl(dst.fileno(), _FICLONE, src.fileno())
        return
    except (ImportError, OSError):
        pass
    shutil.copyfile(source, target)


def _stamp(path: Path) -> str:
    st = path.stat()
    return f"{path.name}:{st.st_size}:{st.st_mtime_ns}"


def snapshot(data_dir: Path, into: Path, extra: Sequence[Path] = ()) -> str:
    """Copy the data directory's table files (or the DuckDB database file) into ``into``,
    and the ``extra`` files of the folder (a mapping and the files it names), and return
    a fingerprint of what was copied (names, sizes and modification times).

    Raises
    ------
    ReportError
        A file changed while it was copied (an export still being written).
    """
    into.mkdir(parents=True)
    digest = hashlib.sha256()
    # a folder's table files, or a DuckDB database file as a whole
    paths = [data_dir] if data_dir.is_file() else [find_table_file(data_dir, name) for name in TABLES]
    paths += [p for p in extra if p not in paths]
    for path in paths:
        if path is None:
            continue
        before = _stamp(path)
        _clone(path, into / path.name)
        if _stamp(path) != before:
            raise ReportError(f"{path} changed while it was read (is an export still writing it?); "
                              "run again when it is complete")
        digest.update(before.encode())
    return digest.hexdigest()[:16]


def _title_from_html(path: Path) -> str:
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            head = handle.read(65536)
    except OSError:
        return path.stem
    match = re.search(r"<title>(.*?)</title>", head, re.DOTALL)
    return html.unescape(match.group(1)).strip() if match else path.stem


def read_manifest(folder: Path, *, warn: Warn | None = None) -> dict[str, dict]:
    """A period folder's manifest: per notebook its title, outcome and timings. A manifest
    that cannot be read (an interrupted write by an older version, a full disk) is
    rebuilt from the reports on disk, with one line through ``warn``."""
    path = folder / MANIFEST
    if not path.exists():
        return {}
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(manifest, dict) or not all(isinstance(v, dict) for v in manifest.values()):
            raise ValueError("not an object of reports")
        return manifest
    except (OSError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        rebuilt = {p.stem: {"title": _title_from_html(p), "ok": True, "seconds": None, "error": "",
                            "skipped": ""} for p in sorted(folder.glob("*.html"))}
        if warn is not None:
            warn(f"{path} could not be read ({reason}); rebuilt from the {len(rebuilt)} reports on disk")
        return rebuilt


def write_manifest(folder: Path, manifest: dict[str, dict]) -> None:
    write_text(folder / MANIFEST, json.dumps(manifest, indent=2) + "\n")


@contextlib.contextmanager
def out_lock(out: Path) -> Iterator[None]:
    """Serialise publishing between runs writing into the same folder."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    with open(out / ".kpitools.lock", "a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two directories in one atomic step (Linux ``renameat2(RENAME_EXCHANGE)``)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    return renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0


def publish_period(staged: Path, target: Path, *, keep: Callable[[Path], bool]) -> None:
    """Make ``staged`` the period folder ``target`` in one step.

    Files of ``target`` that the run did not write again and ``keep`` accepts (the
    reports of notebooks this run did not execute) are linked into ``staged`` first;
    then the folders are swapped and the old one is removed.
    """
    if target.exists():
        for path in target.iterdir():
            if path.is_file() and not (staged / path.name).exists() and not path.name.startswith(".") \
                    and keep(path):
                try:
                    os.link(path, staged / path.name)
                except OSError:
                    shutil.copy2(path, staged / path.name)
    if not target.exists():
        os.rename(staged, target)
        return
    if _exchange(staged, target):
        shutil.rmtree(staged, ignore_errors=True)
        return
    old = target.parent / f"{OLD_PREFIX}{os.getpid()}-{target.name}"
    os.rename(target, old)
    os.rename(staged, target)
    shutil.rmtree(old, ignore_errors=True)


def now_text() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
