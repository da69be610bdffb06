"""Process-wide settings for the ``kpitools`` command (never applied on ``import kpitools``).

A metric run allocates and frees many arrays of a few to a few hundred megabytes. With
glibc's defaults each of them is a fresh ``mmap`` returned to the system at ``free``;
on Linux with transparent huge pages every new array then pays for zeroing its pages
again, which showed as up to 2 s of system time in a 4 s ``kpitools kpis`` run.
:func:`tune_memory` keeps freed memory in the process for reuse instead and gives
pyarrow its jemalloc pool (returns memory to the system lazily), where available.
Kernels started by the report runner inherit the same settings through the
environment.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

__all__ = ["tune_memory"]

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 1024 * 1024  # the largest glibc accepts on 64-bit systems
TRIM_THRESHOLD = 1024 * 1024 * 1024


def tune_memory() -> dict[str, str]:
    """Apply the settings to this process and put them in ``os.environ`` for child
    processes; returns what was set. Harmless where they do not apply (macOS, musl)."""
    done: dict[str, str] = {}
    env = {"MALLOC_MMAP_THRESHOLD_": str(MMAP_THRESHOLD), "MALLOC_TRIM_THRESHOLD_": str(TRIM_THRESHOLD),
           "ARROW_DEFAULT_MEMORY_POOL": "jemalloc"}
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            if libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) and libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD):
                done["malloc"] = "glibc keeps freed memory for reuse"
        except (OSError, AttributeError):  # not glibc
            env.pop("MALLOC_MMAP_THRESHOLD_")
            env.pop("MALLOC_TRIM_THRESHOLD_")
    try:
        import pyarrow as pa

        pa.set_memory_pool(pa.jemalloc_memory_pool())
        done["arrow"] = "jemalloc"
    except (ImportError, NotImplementedError, AttributeError):
        env.pop("ARROW_DEFAULT_MEMORY_POOL")
    for key, value in env.items():
        os.environ.setdefault(key, value)
    return done
