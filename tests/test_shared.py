"""What the processes of one report run share: the contract's check of the snapshot, and
each period's KPI values; and ``load(check=False)``."""

import os
import sys

import pandas as pd
import pytest

import kpitools
from kpitools.errors import InvalidValueError
from kpitools.sources.shared import share_results

from .conftest import SUBSCRIPTIONS, write_csv


def _break_subscriptions(directory, *, keep_stamp: bool) -> None:
    path = directory / "subscriptions.csv"
    stat = path.stat()
    write_csv(directory, "subscriptions", SUBSCRIPTIONS.replace("1000", "lots"))
    if keep_stamp:  # same size and time: the mark cannot tell
        text = path.read_text()
        path.write_text(text + " " * (stat.st_size - len(text.encode())))
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def test_a_marked_snapshot_is_trusted_until_a_file_changes(tiny_dir):
    shared = share_results(tiny_dir)
    shared.mark_checked(kpitools.load(tiny_dir).files)
    _break_subscriptions(tiny_dir, keep_stamp=True)
    assert kpitools.load(tiny_dir).row_counts()["subscriptions"] == 4  # trusted: not checked again
    _break_subscriptions(tiny_dir, keep_stamp=False)
    with pytest.raises(InvalidValueError, match="column 'mrr': 1 row has a value that is not a number"):
        kpitools.load(tiny_dir)


def test_a_folder_without_the_mark_is_checked(tiny_dir):
    share_results(tiny_dir)  # the folder, but nothing marked
    _break_subscriptions(tiny_dir, keep_stamp=False)
    with pytest.raises(InvalidValueError):
        kpitools.load(tiny_dir)


def test_load_without_the_check(tiny_dir):
    _break_subscriptions(tiny_dir, keep_stamp=False)
    subs = kpitools.load(tiny_dir, check=False).subscriptions.to_pandas()
    assert subs["mrr"].isna().sum() == 1  # the unreadable amount is empty, and nothing said so


def test_kpis_of_a_period_are_shared_between_processes(tiny_dir):
    share_results(tiny_dir)
    first = kpitools.load(tiny_dir)
    values = kpitools.compute_kpis(first, "2024-02")
    assert values["mrr"] == 100 + 1000  # S1 and S2 on 29 February (S3 ends that day: ends are exclusive)
    # another process opening the same snapshot finds the values the first one kept
    other = kpitools.load(tiny_dir)
    key = other.shared_key("kpis 2024-02")
    assert other.shared.get(key) == values
    other.shared.put(key, {**values, "mrr": -1.0})
    assert kpitools.compute_kpis(other, "2024-02")["mrr"] == -1.0  # read, not recomputed
    # a Dataset whose tables were replaced shares nothing
    other.tables["subscriptions"] = other.subscriptions.to_pandas()
    assert other.shared_key("kpis 2024-02") is None
    assert kpitools.compute_kpis(other, "2024-02")["mrr"] == values["mrr"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc to see the process wait")
def test_a_process_waits_for_the_kpis_another_one_is_computing(tiny_dir):
    """While one process of a run holds the KPI lock, another one wanting the same period
    waits, then reads what the first one kept instead of computing it again."""
    import subprocess
    import time

    share_results(tiny_dir)
    here = kpitools.load(tiny_dir)
    key = here.shared_key("kpis 2024-02")
    script = ("import sys, kpitools\n"
              "print(kpitools.compute_kpis(kpitools.load(sys.argv[1]), '2024-02')['mrr'], flush=True)\n")
    with here.shared.exclusive("kpis"):
        other = subprocess.Popen([sys.executable, "-c", script, str(tiny_dir)], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and other.poll() is None and not _waiting_on_a_lock(other.pid):
            time.sleep(0.1)
        assert other.poll() is None, other.communicate()
        assert _waiting_on_a_lock(other.pid)
        # what this process "computed" while holding the lock: a value no computation gives
        here.shared.put(key, {"mrr": -7.0})
    out, err = other.communicate(timeout=60)
    assert other.returncode == 0, err
    assert float(out) == -7.0


def _waiting_on_a_lock(pid: int) -> bool:
    """Whether the process sleeps waiting for a file lock (Linux names the kernel function
    it waits in: ``locks_lock_inode_wait``)."""
    try:
        with open(f"/proc/{pid}/wchan") as handle:
            where = handle.read()
        return "locks_lock" in where or "flock" in where
    except OSError:
        return False


def test_the_kept_category_values_are_shared(tiny_dir):
    share_results(tiny_dir)
    data = kpitools.load(tiny_dir)
    limited = data.limit_categories(1)
    assert data.limit_categories(1) is limited  # counted once per Dataset
    kept = data.shared.get(data.shared_key("category limits 1"))
    assert kept["channel"] == ["none", "organic"]  # the top value, and "none" always
    assert set(limited.accounts.to_pandas()["channel"]) == {"(other)", "organic"}


def test_the_time_bounds_are_shared_and_the_same_for_limited_categories(tiny_dir):
    share_results(tiny_dir)
    first = kpitools.load(tiny_dir)
    bounds = first.time_bounds
    other = kpitools.load(tiny_dir)
    key = other.shared_key("time_bounds", categories=False)
    assert other.shared.get(key).equals(bounds)
    moved = bounds.assign(first=bounds["first"] - pd.Timedelta(days=1))
    other.shared.put(key, moved)
    # read, not recomputed, also by the data with its categories limited (the same times)
    assert other.limit_categories(2).time_bounds.equals(moved)
    assert other.date_range[0] == bounds["first"].min() - pd.Timedelta(days=1)


def test_some_keys_are_read_from_every_key_computed_and_do_not_wait_for_it(tiny_dir):
    """A process wanting some keys takes them from a period's every key when another
    process kept those; while every key is being computed it computes its own."""
    import threading

    share_results(tiny_dir)
    here = kpitools.load(tiny_dir)
    every = kpitools.compute_kpis(here, "2024-02")
    assert every["mrr"] == 1100 and "customers" in every
    other = kpitools.load(tiny_dir)
    other.shared.put(other.shared_key("kpis 2024-02"), {**every, "mrr": -3.0})
    assert kpitools.compute_kpis(other, "2024-02", keys=["mrr"]) == {"mrr": -3.0}  # read, not recomputed
    # another snapshot, its every-key lock held: the keys asked for are computed, not waited for
    fresh = tiny_dir.parent / "fresh"
    fresh.mkdir()
    for path in tiny_dir.glob("*.csv"):
        (fresh / path.name).write_bytes(path.read_bytes())
    share_results(fresh)
    third = kpitools.load(fresh)
    found = {}
    with third.shared.exclusive("kpis"):
        worker = threading.Thread(target=lambda: found.update(kpitools.compute_kpis(
            kpitools.load(fresh), "2024-02", keys=["mrr"])), daemon=True)
        worker.start()
        worker.join(60)
        assert not worker.is_alive()
    assert found == {"mrr": 1100}
