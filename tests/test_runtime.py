"""The kpitools command's process settings reach the kernels it starts."""

import subprocess
import sys

CHILD = """
import os, subprocess, sys
from kpitools.runtime import tune_memory
done = tune_memory()
child = subprocess.run([sys.executable, "-c", "import os, pyarrow as pa; "
                        "print(os.environ.get('ARROW_DEFAULT_MEMORY_POOL'), pa.default_memory_pool().backend_name)"],
                       capture_output=True, text=True, check=True).stdout.split()
print(sorted(done), child)
"""


def test_tune_memory_applies_here_and_in_child_processes():
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, check=True).stdout
    if "arrow" in out:  # pyarrow built with jemalloc (the Linux and macOS wheels)
        assert "['jemalloc', 'jemalloc']" in out
    if sys.platform.startswith("linux"):
        assert "malloc" in out
