"""Interrupted and failing runs leave nothing broken behind: no process, no staging folder,
no half-written file, no damaged earlier report; every failure is one line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from kpitools.cli import main

from .conftest import make_notebook

SLOW = 120  # seconds a slow notebook sleeps: far longer than any test waits




@pytest.fixture
def notebooks(tmp_path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    make_notebook(folder / "alpha.ipynb", "print('alpha for', period)")
    return folder


def _args(data: Path, out: Path, notebooks: Path, *extra: str) -> list[str]:
    return ["report", "--data", str(data), "--period", "2025-06", "--out", str(out),
            "--notebooks-dir", str(notebooks), "--quiet", *extra]


def _start(args: list[str]) -> subprocess.Popen:
    """The command in a session of its own, as a terminal runs it (so a signal can go to its
    whole process group, as Ctrl-C does)."""
    return subprocess.Popen([sys.executable, "-m", "kpitools", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def _descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []


def _wait_for_kernels(proc: subprocess.Popen, count: int = 1, timeout: float = 90) -> list[psutil.Process]:
    """Wait until ``count`` kernels run under the command; return every process under it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        procs = _descendants(proc.pid)
        kernels = []
        for p in procs:
            try:
                if "ipykernel_launcher" in " ".join(p.cmdline()):
                    kernels.append(p)
            except psutil.Error:
                pass
        if len(kernels) >= count:
            time.sleep(1.0)  # the kernel is busy in its cell
            return _descendants(proc.pid)
        time.sleep(0.2)
    raise AssertionError("no kernel started")


def _gone(procs: list[psutil.Process], timeout: float = 10) -> list[psutil.Process]:
    _, alive = psutil.wait_procs(procs, timeout=timeout)
    return alive


@pytest.fixture(scope="module")
def earlier_report(small_dir, tmp_path_factory):
    """A good report of 2025-06 (rendered once for the module's tests)."""
    base = tmp_path_factory.mktemp("earlier")
    (base / "notebooks").mkdir()
    make_notebook(base / "notebooks" / "alpha.ipynb", "print('alpha for', period)")
    assert main(_args(small_dir, base / "reports", base / "notebooks")) == 0
    return base / "reports"


@pytest.fixture
def earlier(earlier_report, tmp_path):
    """A folder with a good report of 2025-06 in it (a copy of ``earlier_report``), and its
    files' bytes."""
    import shutil

    out = shutil.copytree(earlier_report, tmp_path / "reports")
    files = {p.name: p.read_bytes() for p in (out / "2025-06").iterdir()}
    assert "alpha.html" in files and "kpis.json" in files
    return out, files


def _unchanged(out: Path, files: dict) -> None:
    for name, content in files.items():
        assert (out / "2025-06" / name).read_bytes() == content, name
    assert not list(out.glob(".staging-*")) and not list(out.rglob(".kpitools-tmp-*"))


@pytest.mark.parametrize(("sig", "code", "words"), [(signal.SIGINT, 130, "interrupted (Ctrl-C)"),
                                                     (signal.SIGTERM, 143, "stopped by SIGTERM")])
def test_a_signal_stops_everything_at_once(small_dir, notebooks, earlier, sig, code, words):
    out, files = earlier
    make_notebook(notebooks / "zeta.ipynb", f"import time\ntime.sleep({SLOW})")
    proc = _start(_args(small_dir, out, notebooks, "--jobs", "2"))
    procs = _wait_for_kernels(proc)
    started = time.monotonic()
    if sig == signal.SIGINT:
        os.killpg(proc.pid, sig)  # Ctrl-C reaches the terminal's whole process group
    else:
        proc.send_signal(sig)  # kill PID
    _, err = proc.communicate(timeout=30)
    took = time.monotonic() - started
    assert proc.returncode == code, err
    assert took < 10, took
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"kpitools: {words}"), err
    assert not _gone(procs), "workers or kernels outlived the run"
    _unchanged(out, files)


def test_kill_9_leaves_no_process_and_the_next_run_cleans_up(small_dir, notebooks, earlier):
    out, files = earlier
    make_notebook(notebooks / "zeta.ipynb", f"import time\ntime.sleep({SLOW})")
    proc = _start(_args(small_dir, out, notebooks, "--jobs", "2"))
    procs = _wait_for_kernels(proc)
    proc.kill()
    proc.communicate(timeout=30)
    assert not _gone(procs), "workers or kernels outlived a killed run"
    assert list(out.glob(".staging-*"))  # a kill leaves its staging folder ...
    for name, content in files.items():
        assert (out / "2025-06" / name).read_bytes() == content
    (notebooks / "zeta.ipynb").unlink()
    assert main(_args(small_dir, out, notebooks)) == 0  # ... which the next run removes
    assert not list(out.glob(".staging-*"))


def test_every_notebook_reads_the_data_as_it_was_when_the_run_started(small_dir, tmp_path, notebooks):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(small_dir, data)
    make_notebook(notebooks / "alpha.ipynb",
        "import time, kpitools\ntime.sleep(6)\n"
        "print('accounts present:', kpitools.load(data_dir).has('accounts'))")
    out = tmp_path / "reports"
    proc = _start(_args(data, out, notebooks))
    _wait_for_kernels(proc)
    (data / "accounts.parquet").unlink()  # removed while the notebook runs
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    page = (out / "2025-06" / "alpha.html").read_text()
    assert "accounts present: True" in page
    ipynb = (out / "2025-06" / "alpha.ipynb").read_text()
    assert ".staging-" not in ipynb and json.dumps(str(data))[1:-1] in ipynb  # re-runnable as saved


def test_a_corrupt_manifest_is_rebuilt(small_dir, notebooks, earlier, capsys):
    out, _ = earlier
    (out / "2025-06" / "manifest.json").write_text('{"alpha": {"title": "Al')  # cut short
    capsys.readouterr()
    assert main(_args(small_dir, out, notebooks)) == 0
    err = capsys.readouterr().err
    assert "manifest.json could not be read" in err and "rebuilt from the 1 reports on disk" in err
    assert "Traceback" not in err
    manifest = json.loads((out / "2025-06" / "manifest.json").read_text())
    assert manifest["alpha"]["ok"]
    assert 'href="2025-06/alpha.html"' in (out / "index.html").read_text()


def _one_line(capsys, code: int, *needles: str) -> None:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code != 0 and len(lines) == 1 and lines[0].startswith("kpitools: "), err
    for needle in needles:
        assert needle in err, err


def test_out_naming_a_file(small_dir, tmp_path, notebooks, capsys):
    (tmp_path / "file").write_text("x")
    code = main(_args(small_dir, tmp_path / "file", notebooks))
    _one_line(capsys, code, "is a file; expected a folder")


@pytest.mark.parametrize("period", ["9999-12", ",", " , ", "1600-01"])
@pytest.mark.parametrize("command", ["report", "kpis"])
def test_impossible_periods(small_dir, tmp_path, notebooks, capsys, command, period):
    args = ["report", "--data", str(small_dir), "--out", str(tmp_path / "out"), "--notebooks-dir",
            str(notebooks), "--quiet"] if command == "report" else ["kpis", "--data", str(small_dir)]
    code = main([*args, f"--period={period}"])
    _one_line(capsys, code)
    assert code == 2
    assert not (tmp_path / "out").exists()


def _mount(folder: Path, size: str, *options: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join([f"size={size}", *options]), "tmpfs",
                           str(folder)], capture_output=True)
    if done.returncode != 0:
        pytest.skip("mounting a small file system needs root (tests run as root in CI)")


@pytest.fixture
def small_fs(tmp_path):
    folder = tmp_path / "fs"
    _mount(folder, "16m")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def test_a_full_disk_damages_nothing(small_dir, notebooks, small_fs, capsys):
    out = small_fs / "reports"
    assert main(_args(small_dir, out, notebooks)) == 0
    files = {p.name: p.read_bytes() for p in (out / "2025-06").iterdir()}
    free = os.statvfs(small_fs).f_bavail * os.statvfs(small_fs).f_frsize
    with open(small_fs / "filler", "wb") as handle:  # leave 64 KiB: too little for a snapshot
        handle.write(b"\0" * (free - 65536))
    capsys.readouterr()
    code = main(_args(small_dir, out, notebooks))
    _one_line(capsys, code, "No space left on device")
    _unchanged(out, files)


def test_a_read_only_out(small_dir, notebooks, small_fs, capsys):
    subprocess.run(["mount", "-o", "remount,ro", str(small_fs)], check=True)
    code = main(_args(small_dir, small_fs / "reports", notebooks))
    _one_line(capsys, code, "Read-only file system")


def test_reports_from_older_data_are_marked(small_dir, tmp_path, notebooks):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(small_dir, data)
    make_notebook(notebooks / "beta.ipynb", "print('beta')")
    out = tmp_path / "reports"
    assert main(_args(data, out, notebooks)) == 0
    index = (out / "index.html").read_text()
    assert "earlier version of the data" not in index
    os.utime(data / "events.parquet", ns=(time.time_ns(), time.time_ns() + 10**9))  # the data changed
    assert main([*_args(data, out, notebooks), "--notebooks", "beta"]) == 0
    index = (out / "index.html").read_text()
    assert index.count("from an earlier version of the data") == 1  # alpha's, not beta's
    manifest = json.loads((out / "2025-06" / "manifest.json").read_text())
    assert manifest["alpha"]["data"] != manifest["beta"]["data"]


def test_a_relative_out_folder(small_dir, notebooks, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(_args(small_dir, Path("reports"), notebooks)) == 0
    assert (tmp_path / "reports" / "2025-06" / "alpha.html").is_file()


def test_a_period_holds_only_this_runs_data_files(small_dir, tmp_path, notebooks):
    """A report's CSV tables are written with it; a run of other reports keeps them (they
    go with that report's earlier HTML), a run of that report replaces or removes them."""
    import shutil

    data = tmp_path / "data"
    shutil.copytree(small_dir, data)
    make_notebook(notebooks / "funnel.ipynb", "print('funnel for', period)")
    out = tmp_path / "reports"
    assert main(_args(data, out, notebooks)) == 0
    folder = out / "2025-06"
    assert (folder / "funnel.csv").is_file() and not (folder / "mrr_movements.csv").exists()
    (data / "leads.parquet").unlink()  # the funnel table can no longer be computed
    assert main([*_args(data, out, notebooks), "--notebooks", "alpha"]) == 0
    assert (folder / "funnel.csv").is_file() and (folder / "funnel.html").is_file()  # funnel's, kept
    assert main(_args(data, out, notebooks)) == 0
    assert not (folder / "funnel.csv").exists()
    assert (folder / "kpis.json").is_file() and (folder / "alpha.html").is_file()


def test_results_keep_the_report_order_whatever_finishes_first(small_dir, tmp_path, notebooks):
    from kpitools.report.runner import render_reports

    slow = make_notebook(notebooks / "zeta.ipynb", "import time\ntime.sleep(3)")
    summary = render_reports(small_dir, ["2025-06"], notebooks=[slow, notebooks / "alpha.ipynb"],
                             out=tmp_path / "reports", jobs=2, progress=False)
    assert [r.job.notebook.stem for r in summary.results] == ["zeta", "alpha"]
    manifest = json.loads((tmp_path / "reports" / "2025-06" / "manifest.json").read_text())
    assert list(manifest) == ["zeta", "alpha"]


def test_a_kernel_that_dies_at_start_is_started_again(tmp_path, monkeypatch):
    """Kernels listen on Unix sockets in a private folder each (no TCP port another process
    could take between picking and binding it); a kernel that cannot listen dies at start,
    and the worker starts another. Discarding a kernel removes its folder."""
    import shutil

    from kpitools.report import kernels

    real = kernels.kernel_manager
    made: list = []

    def first_cannot_listen(**kwargs):
        km = real(**kwargs)
        if not made:
            shutil.rmtree(Path(km.ip).parent)  # no folder for its sockets: the kernel dies
        made.append(km)
        return km

    monkeypatch.setattr(kernels, "kernel_manager", first_cannot_listen)
    try:
        km = kernels.worker_kernel(str(tmp_path))
        assert len(made) == 2 and not made[0].is_alive() and km is made[1] and km.is_alive()
        assert km.transport == "ipc"
        folder = Path(km.ip).parent
        assert (folder.stat().st_mode & 0o777) == 0o700 and any(p.is_socket() for p in folder.iterdir())
        assert kernels._ready(km)
    finally:
        kernels.discard_kernel()
    assert not folder.exists()


def test_a_query_stopped_by_the_signal_reports_the_signal(monkeypatch, capsys):
    """A signal that arrives during a DuckDB query interrupts the query, which raises its own
    "Query interrupted": the command still says what stopped it, in one line, with 143."""
    import kpitools.cli as cli
    from kpitools.report import workers

    def interrupted_query(args):
        workers._RECEIVED["signum"] = signal.SIGTERM  # as the handler records it
        raise RuntimeError("Query interrupted")

    monkeypatch.setattr(cli, "_cmd_kpis", interrupted_query)
    assert main(["kpis", "--data", "x"]) == 143
    _one_line(capsys, 143, "kpitools: stopped by SIGTERM")
