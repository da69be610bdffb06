"""One kernel per worker process, kept for the worker's notebooks.

Starting a kernel and importing pandas, matplotlib, seaborn, Ibis and kpitools in it
costs a few seconds, and a fresh kernel opens the data again and recomputes what the
previous notebook of the run computed. So a worker keeps its kernel: before each
notebook the kernel's namespace is emptied (``%reset -f``) and its figures closed, so a
notebook sees nothing of the one before it but imported modules, the engine and what
kpitools keeps of a data snapshot it opened. A kernel that died, timed out or cannot be
reset is replaced by a fresh one. The kernel dies with its worker (see
:mod:`kpitools.report.workers`), and is shut down when the worker exits.
"""

from __future__ import annotations

import ast
import atexit
import contextlib
from collections.abc import Iterable
from pathlib import Path

__all__ = ["worker_kernel", "discard_kernel", "warm_kernel", "import_code"]

_KERNEL: dict = {}
_RESET = ("get_ipython().run_line_magic('reset', '-f')\n"
          "import matplotlib.pyplot as _plt\n_plt.close('all')\ndel _plt\n")
START_TIMEOUT_S = 60
START_ATTEMPTS = 3


def worker_kernel(cwd: str):
    """This worker's kernel, started in ``cwd`` if need be, emptied for the next notebook."""
    from jupyter_client.manager import KernelManager

    km = _KERNEL.get("km")
    if km is not None and (_KERNEL.get("cwd") != cwd or not km.is_alive() or not _reset(km)):
        discard_kernel()
        km = None
    if km is None:
        if not _KERNEL:
            atexit.register(discard_kernel)
        for attempt in range(START_ATTEMPTS):
            km = KernelManager(kernel_name="python3")
            # ipykernel 7 warns at every start that its TCP transport is unencrypted (local, harmless)
            km.start_kernel(cwd=cwd, extra_arguments=["--IPKernelApp.log_level=CRITICAL"])
            _KERNEL.update(km=km, cwd=cwd)
            if _ready(km) or attempt == START_ATTEMPTS - 1:
                break
            # jupyter_client picks free ports, then the kernel binds them: another process
            # starting a kernel at the same moment can take one in between, and the kernel
            # dies at start ("Address already in use"). New ports are picked on each start.
            discard_kernel()
    return km


def _ready(km) -> bool:
    """True when a freshly started kernel answers ``kernel_info``."""
    return _run(km, "")


def _reset(km) -> bool:
    """Empty the kernel's namespace and close its figures; False when it does not answer."""
    return _run(km, _RESET)


def _run(km, code: str, timeout: float = START_TIMEOUT_S) -> bool:
    """Wait for the kernel to answer, then run ``code`` in it (its output dropped); False
    when it does not answer or the code fails."""
    kc = km.blocking_client()
    try:
        kc.start_channels()
        kc.wait_for_ready(timeout=START_TIMEOUT_S)
        if not code:
            return True
        reply = kc.execute_interactive(code, timeout=timeout, store_history=False, output_hook=lambda msg: None)
        return reply["content"]["status"] == "ok"
    except Exception:
        return False
    finally:
        with contextlib.suppress(Exception):
            kc.stop_channels()


def discard_kernel() -> None:
    """Shut this worker's kernel down (after a timeout, a dead kernel, or at exit)."""
    km = _KERNEL.pop("km", None)
    _KERNEL.pop("cwd", None)
    if km is not None:
        with contextlib.suppress(Exception):
            km.shutdown_kernel(now=True)
        with contextlib.suppress(Exception):
            km.cleanup_resources()


def warm_kernel(cwd: str, code: str) -> None:
    """Start this worker's kernel in ``cwd`` and run ``code`` in it (imports), so that its
    first notebook does not wait for either. Never raises: a kernel that fails here is
    started again for the notebook, which then reports what is wrong."""
    with contextlib.suppress(Exception):
        km = worker_kernel(cwd)
        if code:
            _run(km, code, timeout=START_TIMEOUT_S * 5)


def import_code(notebooks: Iterable[Path]) -> str:
    """The top-level import statements of the notebooks' code cells, each in a ``try``
    (a failing import is the notebook's to report), for :func:`warm_kernel`."""
    import nbformat

    seen: dict[str, None] = {}
    for path in notebooks:
        try:
            cells = nbformat.read(str(path), as_version=4).cells
        except Exception:
            continue
        for cell in cells:
            if cell.cell_type != "code":
                continue
            try:
                tree = ast.parse(cell.source)
            except SyntaxError:  # IPython magics: not plain Python
                continue
            for node in tree.body:
                if isinstance(node, ast.Import | ast.ImportFrom) and getattr(node, "module", "") != "__future__":
                    seen[ast.unparse(node)] = None
    return "".join(f"try:\n    {line}\nexcept Exception:\n    pass\n" for line in seen)
