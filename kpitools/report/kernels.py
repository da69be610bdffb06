"""One kernel per worker process, kept for the worker's notebooks.

Starting a kernel and importing pandas, matplotlib, seaborn, Ibis and kpitools in it
costs a few seconds, and a fresh kernel opens the data again and recomputes what the
previous notebook of the run computed. So a worker keeps its kernel: before each
notebook the kernel's namespace is emptied (``%reset -f``) and its figures closed, so a
notebook sees nothing of the one before it but imported modules, the engine and what
kpitools keeps of a data snapshot it opened. A kernel that died, timed out or cannot be
reset is replaced by a fresh one. The kernel dies with its worker (see
:mod:`kpitools.report.workers`), and is shut down when the worker exits.

On POSIX systems a kernel talks to its worker over Unix sockets in a folder of its own
(:func:`kernel_manager`), not over TCP ports: jupyter_client picks free ports, then the
kernel binds them, and a kernel another process starts at the same moment can take one
in between; the kernel then dies at start, or the client's heartbeat reaches the other
kernel and waits a minute for an answer that never comes.
"""

from __future__ import annotations

import ast
import atexit
import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterable
from pathlib import Path

__all__ = ["worker_kernel", "discard_kernel", "warm_kernel", "import_code", "kernel_manager"]

_KERNEL: dict = {}
_RESET = ("get_ipython().run_line_magic('reset', '-f')\n"
          "import matplotlib.pyplot as _plt\n_plt.close('all')\ndel _plt\n")
START_TIMEOUT_S = 60
START_ATTEMPTS = 3
# a Unix socket's path has room for about 100 bytes (104 on macOS, 108 on Linux)
_SOCKET_PATH_MAX = 96
_SOCKET_FOLDER = "kpitools-kernel-"


def kernel_manager(**kwargs):
    """A ``jupyter_client`` KernelManager whose kernel listens on Unix sockets in a new
    private folder under the temporary directory (POSIX); on Windows, or where that path
    would be too long for a socket, on TCP ports as usual. The folder is removed when the
    process exits; :func:`discard_kernel` removes it with the kernel."""
    from jupyter_client.manager import KernelManager

    if os.name != "posix":
        return KernelManager(**kwargs)
    folder = tempfile.mkdtemp(prefix=_SOCKET_FOLDER)
    prefix = os.path.join(folder, uuid.uuid4().hex[:8])
    if len(f"{prefix}-99") > _SOCKET_PATH_MAX:
        os.rmdir(folder)
        return KernelManager(**kwargs)
    atexit.register(shutil.rmtree, folder, True)
    return KernelManager(transport="ipc", ip=prefix, **kwargs)


def _remove_socket_folder(km) -> None:
    if getattr(km, "transport", "tcp") == "ipc":
        folder = os.path.dirname(km.ip)
        if os.path.basename(folder).startswith(_SOCKET_FOLDER):
            shutil.rmtree(folder, ignore_errors=True)


def worker_kernel(cwd: str):
    """This worker's kernel, started in ``cwd`` if need be, emptied for the next notebook."""
    km = _KERNEL.get("km")
    if km is not None and (_KERNEL.get("cwd") != cwd or not km.is_alive() or not _reset(km)):
        discard_kernel()
        km = None
    if km is None:
        if not _KERNEL:
            atexit.register(discard_kernel)
        for attempt in range(START_ATTEMPTS):
            km = kernel_manager(kernel_name="python3")
            # ipykernel 7 warns at every start that a TCP transport is unencrypted (local, harmless)
            km.start_kernel(cwd=cwd, extra_arguments=["--IPKernelApp.log_level=CRITICAL"])
            _KERNEL.update(km=km, cwd=cwd)
            if _ready(km) or attempt == START_ATTEMPTS - 1:
                break
            # a kernel that does not answer (on TCP, a port another process took between
            # jupyter_client picking it and the kernel binding it) is started anew
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
        _remove_socket_folder(km)


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
