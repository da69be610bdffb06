"""Worker processes that never outlive the run that started them.

The report runner executes notebooks in a pool of worker processes; each worker
keeps one Jupyter kernel for its notebooks (:mod:`kpitools.report.kernels`). Three
rules keep a stopped run from leaving anything running:

- A worker leaves the terminal's process group (``os.setsid``), so Ctrl-C reaches
  only the runner, which then stops everything in order; kernels already run in a
  session of their own (jupyter_client starts them so).
- A worker watches its parent: the moment the runner is gone (even by ``kill -9``),
  the worker kills its kernels and exits. Kernels watch their worker the same way
  (ipykernel's parent poller).
- :func:`stop_pool` ends the workers and their kernels at once when the run is
  interrupted (multiprocessing reaps the workers itself, so the pool never waits for
  one that is gone); :func:`kill_tree` ends a process's descendants.

Workers may start their kernel before the first notebook (``warm``), while the runner
still prepares the data. Work the runner does beside the workers runs in a
:class:`Background` daemon thread that a stopped run does not wait for.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

import psutil

__all__ = ["worker_pool", "stop_pool", "kill_tree", "Interrupted", "interrupt_signals", "describe_signal", "Background"]

POLL_S = 0.2


class Interrupted(BaseException):
    """The run was asked to stop (Ctrl-C, ``kill``): derived from BaseException so that no
    ``except Exception`` on the way swallows it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def received_signal() -> int | None:
    """The signal that stopped the last :func:`interrupt_signals` block, if one did. An
    engine running a query when the signal arrives may report its own error ("Query
    interrupted") in place of :class:`Interrupted`: the signal is what the run was told."""
    return _RECEIVED.get("signum")


_RECEIVED: dict[str, int] = {}


@contextlib.contextmanager
def interrupt_signals() -> Iterator[None]:
    """Within the block, SIGINT, SIGTERM and SIGHUP raise :class:`Interrupted` in the main
    thread (Ctrl-C, ``kill``, a closed terminal), so that the caller can clean up."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        _RECEIVED["signum"] = signum
        raise Interrupted(signum)

    _RECEIVED.clear()
    wanted = [signal.SIGINT, signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
    previous = {s: signal.signal(s, handler) for s in wanted}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def _watch_parent(parent: int) -> None:
    while True:
        if os.getppid() != parent:
            kill_tree(os.getpid(), include_root=False)
            os._exit(1)
        time.sleep(POLL_S)


def _init_worker(parent: int, threads: int, warm: tuple[str, str] | None = None) -> None:
    """Runs first in every worker: leave the terminal's process group, ignore Ctrl-C (the
    runner decides), die with the runner, and give the kernels it starts their share of the
    cores for the engine (workers x engine threads = cores). With ``warm`` (a folder and
    code), start the worker's kernel there and run the code in it (the notebooks' imports)
    while the runner still prepares the data."""
    os.environ["KPITOOLS_ENGINE_THREADS"] = str(threads)
    if hasattr(os, "setsid"):
        with contextlib.suppress(OSError):
            os.setsid()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if os.getppid() != parent:  # the runner died while this worker started
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent,), name="kpitools-parent-watch", daemon=True).start()
    if warm is not None:
        from .kernels import warm_kernel

        warm_kernel(*warm)


def worker_pool(jobs: int, *, warm: tuple[str, str] | None = None) -> ProcessPoolExecutor:
    """A pool of ``jobs`` worker processes (spawned, so no state is shared by forking) that
    die with this process. With ``warm`` (a folder and code for :func:`_init_worker`) the
    workers start at once, each starting its kernel, rather than at the first job."""
    jobs = max(1, jobs)
    threads = max(1, (os.cpu_count() or 1) // jobs)
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=get_context("spawn"),
                               initializer=_init_worker, initargs=(os.getpid(), threads, warm))
    if warm is not None:
        for _ in range(jobs):  # a worker is spawned for each task submitted while none is idle
            pool.submit(_nothing)
    return pool


def _nothing() -> None:
    return None


def kill_tree(pid: int | None = None, *, include_root: bool = False, timeout: float = 5.0) -> list[int]:
    """Kill every descendant of ``pid`` (default: this process), kernels included, and wait
    for them to be gone; returns their pids. Processes are listed before any is killed, so
    a kernel whose worker dies first is still found."""
    try:
        root = psutil.Process(pid or os.getpid())
        victims = root.children(recursive=True)
    except psutil.Error:
        return []
    if include_root:
        victims.append(root)
    for proc in victims:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    _wait_gone(victims, timeout)
    return [p.pid for p in victims]


def _wait_gone(procs: list[psutil.Process], timeout: float) -> None:
    """Wait until every process has ended: exited, or a zombie (a kernel whose worker died
    belongs to init, which may be slow to reap it, or never reap it in a container)."""
    deadline = time.monotonic() + timeout
    pending = list(procs)
    while pending and time.monotonic() < deadline:
        psutil.wait_procs(pending, timeout=0.05)  # reaps this process's own children
        pending = [p for p in pending if _running(p)]


def _running(proc: psutil.Process) -> bool:
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def stop_pool(pool: ProcessPoolExecutor, timeout: float = 5.0) -> None:
    """Kill a pool's workers and their kernels at once, and cancel what is queued (once:
    a second call does nothing).

    The workers are this process's children: multiprocessing must be the one to reap
    them (a worker reaped by anyone else looks alive to it forever, and its manager
    thread then holds the interpreter at exit), so they are joined through their
    ``Process`` objects; their kernels are not our children and are waited for by pid.
    """
    if getattr(pool, "_kpitools_stopped", False):
        return
    pool._kpitools_stopped = True
    workers = dict(getattr(pool, "_processes", None) or {})
    kernels = []
    for pid in workers:
        with contextlib.suppress(psutil.Error):
            kernels += psutil.Process(pid).children(recursive=True)
    for pid in workers:
        with contextlib.suppress(OSError):
            os.kill(pid, getattr(signal, "SIGKILL", signal.SIGTERM))
    for proc in kernels:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    deadline = time.monotonic() + timeout
    for worker in workers.values():
        worker.join(max(0.0, deadline - time.monotonic()))
    _wait_gone(kernels, max(0.0, deadline - time.monotonic()))
    pool.shutdown(wait=False, cancel_futures=True)


def describe_signal(exc: Interrupted) -> str:
    return "interrupted (Ctrl-C)" if exc.signum == signal.SIGINT else f"stopped by {exc}"


class Background:
    """``fn(*args)`` in a daemon thread: :meth:`result` waits for it and raises what it
    raised; a stopped run calls :meth:`abandon` instead and does not wait (a thread pool
    would hold the process until the work ended, and at exit)."""

    def __init__(self, fn: Callable[..., object], *args: object) -> None:
        self._error: BaseException | None = None

        def target() -> None:
            try:
                fn(*args)
            except BaseException as exc:  # handed to result()
                self._error = exc

        self._thread = threading.Thread(target=target, name="kpitools-background", daemon=True)
        self._thread.start()

    def result(self) -> None:
        self._thread.join()
        if self._error is not None:
            raise self._error

    def abandon(self, stop: Callable[[], None], timeout: float = 5.0) -> None:
        """Ask the work to stop (``stop()``, e.g. interrupt the engine's query: again every
        few milliseconds, as the work may be between two queries) and wait for it at most
        ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while self._thread.is_alive() and time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                stop()
            self._thread.join(0.02)
