"""Write output files whole or not at all.

A report run can be interrupted at any instruction (Ctrl-C, a kill, a full disk).
Every file it writes goes to a temporary file in the same folder first, is flushed
to disk, and only then renamed over the target: a reader (a browser, the next run)
sees the old file or the new one, never half of one. A failed write removes its
temporary file and leaves the target as it was.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pandas as pd

from .sanitize import neutralize_formulas

__all__ = ["atomic_open", "write_text", "write_csv", "TEMP_PREFIX"]

TEMP_PREFIX = ".kpitools-tmp-"


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w", encoding: str | None = "utf-8") -> Iterator[IO]:
    """Open a temporary file beside ``path``; on a clean exit it replaces ``path``.

    >>> with atomic_open("reports/2026-09/kpis.json") as handle:   # doctest: +SKIP
    ...     handle.write("{}")
    """
    path = Path(path)
    # the pid in the name lets the next run tell a killed run's leftovers from a live one's
    fd, tmp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-", suffix=path.suffix, dir=path.parent)
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else encoding,
                       newline=None if "b" in mode else "") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    with atomic_open(path) as handle:
        handle.write(text)
    return Path(path)


def write_csv(frame: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a table as CSV atomically, with every text cell a spreadsheet would evaluate
    as a formula made inert (see :func:`kpitools.report.sanitize.neutralize_formulas`)."""
    with atomic_open(path) as handle:
        neutralize_formulas(frame).to_csv(handle, index=False, lineterminator="\n")
    return Path(path)
