"""Where the rows of a CSV file are: the line each record starts on (a quoted value may
span lines), read only when an error names rows, and the error for ragged rows."""

from __future__ import annotations

import csv
import functools
from pathlib import Path

import numpy as np

from ..errors import DataError

__all__ = ["csv_record_lines", "ragged_error"]


def ragged_error(path: Path, shown: str) -> DataError:
    """The error for a CSV whose rows have more fields than its header (error path only;
    a row with fewer has its last values empty)."""
    with path.open(newline="", encoding="utf-8", errors="replace") as handle:
        reader = csv.reader(handle, skipinitialspace=True)
        width = len(next(reader, []))
        more, last = [], reader.line_num
        for row in reader:
            if len(row) > width:
                more.append(last + 1)  # the line the record starts on
            last = reader.line_num
    lines = ", ".join(map(str, more[:5])) + (f" (and {len(more) - 5} more)" if len(more) > 5 else "")
    return DataError(f"{shown}: line {lines} has more fields than the header's {width}; expected one value "
                     "per column (quote values that contain commas)", file=shown, rows=more[:5])


def csv_record_lines(path: Path) -> np.ndarray:
    """The line on which each record of a CSV file starts (the header is line 1), as
    pandas reads it: blank lines skipped, a quoted value free to span lines. Read only
    when a row is named in an error."""
    stat = path.stat()
    return _record_lines(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=4)
def _record_lines(path: str, mtime_ns: int, size: int) -> np.ndarray:
    starts = []
    with open(path, newline="", encoding="utf-8", errors="replace") as handle:
        reader = csv.reader(handle, skipinitialspace=True)
        next(reader, None)
        last = reader.line_num
        for row in reader:
            if row:
                starts.append(last + 1)
            last = reader.line_num
    return np.asarray(starts, dtype=np.int64)
