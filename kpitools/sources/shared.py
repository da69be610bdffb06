"""Results shared by the processes that read one snapshot of a data directory.

``kpitools report`` copies the data into its staging folder and runs every notebook of
a period in a kernel of its own. So that the data is checked once and each period's
KPIs computed once per run rather than once per notebook, the runner makes a folder
``.kpitools-shared`` beside the snapshot's files: it records there that the files passed
the contract (their names, sizes and modification times), and every process that opens
the snapshot keeps the values it computes there, one file per value, written whole
(a temporary file renamed), so a reader never sees half of one. A process about to
compute a shared value holds the value's lock (:meth:`SharedResults.exclusive`), so
that another process wanting it waits and reads it rather than computing it again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pickle
import tempfile
from collections.abc import Iterator
from pathlib import Path

try:  # POSIX; elsewhere each process computes what it needs (correct, only slower)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

__all__ = ["SHARED_FOLDER", "SharedResults", "share_results", "file_stamps"]

SHARED_FOLDER = ".kpitools-shared"
_CHECKED = "checked.json"


def file_stamps(files: dict[str, Path]) -> dict[str, list]:
    """Each table file's size and modification time (ns): changed files, changed stamps.
    A database's table (not a file) is stamped by its name: a report run reads it as it
    is, without a snapshot."""
    out: dict[str, list] = {}
    for name, path in sorted(files.items()):
        if not isinstance(path, Path):
            out[name] = [str(path)]
            continue
        stat = path.stat()
        out[name] = [stat.st_size, stat.st_mtime_ns]
    return out


class SharedResults:
    """The values computed from one snapshot, kept in its ``.kpitools-shared`` folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, key: str, suffix: str = ".pickle") -> Path:
        return self.folder / (hashlib.sha256(key.encode()).hexdigest()[:32] + suffix)

    def get(self, key: str) -> object | None:
        """The value kept under ``key``, or None."""
        try:
            with self._path(key).open("rb") as handle:
                return pickle.load(handle)
        except (OSError, EOFError, pickle.UnpicklingError):
            return None

    def put(self, key: str, value: object) -> None:
        """Keep ``value`` under ``key`` (silently not, when the folder cannot be written)."""
        with contextlib.suppress(OSError):
            fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")
            try:
                with os.fdopen(fd, "wb") as handle:
                    pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)
                os.replace(tmp, self._path(key))
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)

    @contextlib.contextmanager
    def exclusive(self, name: str) -> Iterator[None]:
        """Hold the lock ``name`` of this snapshot within the block: one process at a time
        (the others wait). The lock goes with its file's closing, and the operating system
        closes it when its holder exits, however it ends: a killed process leaves none.
        Without locks (Windows, a folder that cannot be written, a file system without
        them) the block runs unlocked: each process computes what it needs."""
        with contextlib.ExitStack() as stack:
            if fcntl is not None:
                with contextlib.suppress(OSError):
                    handle = stack.enter_context(self._path(name, ".lock").open("a"))
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            yield

    def checked(self, files: dict[str, Path]) -> bool:
        """Whether these files, as they are now, passed the contract in this snapshot."""
        try:
            recorded = json.loads((self.folder / _CHECKED).read_text())
        except (OSError, ValueError):
            return False
        return recorded == {k: list(v) for k, v in file_stamps(files).items()}

    def mark_checked(self, files: dict[str, Path]) -> None:
        """Record that the files passed the contract."""
        self.put_text(_CHECKED, json.dumps(file_stamps(files)))

    def put_text(self, name: str, text: str) -> None:
        tmp = self.folder / f"{name}.tmp"
        tmp.write_text(text)
        os.replace(tmp, self.folder / name)


def share_results(directory: Path) -> SharedResults:
    """Make ``directory`` (a snapshot only this run reads) share its results."""
    folder = Path(directory) / SHARED_FOLDER
    folder.mkdir(exist_ok=True)
    return SharedResults(folder)
