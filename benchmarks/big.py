"""Hundreds of millions of events on one machine: kpitools kpis and report, time and memory.

    python benchmarks/big.py [--events 300e6] [--chunk-scale 10] [--out benchmarks/data/big]
                             [--memory 3GB] [--skip-kpis] [--skip-report]

The sample company's event log is generated chunk by chunk (each chunk the sample at
``--chunk-scale`` with its own seed, its users and accounts renamed so that chunks do not
share them) and appended to one Parquet file, so the generator never holds more than a
chunk; the other tables are the first chunk's. Then, with DuckDB's ``memory_limit`` set
(``KPITOOLS_ENGINE_MEMORY``) and a spill folder (``KPITOOLS_ENGINE_SPILL``):
``kpitools kpis --period P`` and ``kpitools report --period P --jobs 2``, each timed, with
the peak resident memory of every process of the run (the command, its workers and their
kernels) sampled from ``/proc``. The lines go to ``benchmarks/RESULTS.md``'s end.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def generate_big(out: Path, events: float, chunk_scale: float) -> int:
    """Write the data directory; returns the number of events."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from kpitools.sample import generate, write

    out.mkdir(parents=True, exist_ok=True)
    target = out / "events.parquet"
    if target.exists():
        return pq.ParquetFile(target).metadata.num_rows
    partial = out / "events.parquet.partial"
    writer, written, chunk = None, 0, 0
    try:
        while written < events:
            started = time.perf_counter()
            tables = generate(seed=7 + chunk, scale=chunk_scale)
            ev = tables.pop("events")
            if chunk == 0:
                write(tables, out)
            else:  # another company's worth of users and accounts
                ev["user_id"] = f"c{chunk}-" + ev["user_id"].astype(str)
                ev["account_id"] = ev["account_id"].where(ev["account_id"].isna(),
                                                          f"c{chunk}-" + ev["account_id"].astype(str))
            arrow = pa.Table.from_pandas(ev, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(partial, arrow.schema, compression="zstd")
            writer.write_table(arrow.cast(writer.schema), row_group_size=1_000_000)
            written += len(ev)
            chunk += 1
            print(f"chunk {chunk}: {written:,} events ({time.perf_counter() - started:.0f} s)", flush=True)
            del ev, arrow, tables
    finally:
        if writer is not None:
            writer.close()
    partial.rename(target)
    return written


def _tree(root: int) -> list[int]:
    """``root`` and every process descended from it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += children.get(pid, [])
    return out


def _rss_mb(pid: int) -> tuple[str, float]:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:80]
    except OSError:
        return "", 0.0
    rss = next((int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmRSS:")), 0.0)
    return cmd, rss


def run_measured(cmd: list[str], env: dict) -> tuple[float, dict[str, float]]:
    """Run ``cmd``; its wall time and the peak RSS (MB) of each kind of process in its tree."""
    peaks: dict[int, tuple[str, float]] = {}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            for pid in _tree(proc.pid):
                name, rss = _rss_mb(pid)
                if rss > peaks.get(pid, ("", 0.0))[1]:
                    peaks[pid] = (name, rss)
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    started = time.perf_counter()
    sampler.start()
    _, err = proc.communicate()
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    if proc.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{err[-2000:]}")
    kinds: dict[str, float] = {}
    for name, rss in peaks.values():
        kind = "kernel" if "ipykernel" in name else "kpitools" if "kpitools" in name else "worker"
        kinds[kind] = max(kinds.get(kind, 0.0), rss)
    return seconds, kinds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=float, default=300e6)
    parser.add_argument("--chunk-scale", type=float, default=10.0)
    parser.add_argument("--out", default=str(HERE / "data" / "big"))
    parser.add_argument("--memory", default="3GB")
    parser.add_argument("--period", default="2026-09")
    parser.add_argument("--skip-report", action="store_true")
    parser.add_argument("--skip-kpis", action="store_true")
    parser.add_argument("--results", default=str(HERE / "RESULTS.md"))
    args = parser.parse_args()

    out = Path(args.out)
    started = time.perf_counter()
    n = generate_big(out, args.events, args.chunk_scale)
    size = sum(p.stat().st_size for p in out.glob("*.parquet")) / 2**30
    print(f"{n:,} events, {size:.1f} GiB of Parquet ({time.perf_counter() - started:.0f} s)", flush=True)
    lines = [f"- **{n:,} events** ({size:.1f} GiB of Parquet), DuckDB `memory_limit` {args.memory} with a spill "
             "folder, peak resident memory sampled per process:"]
    with tempfile.TemporaryDirectory() as spill, tempfile.TemporaryDirectory() as reports:
        env = {**os.environ, "KPITOOLS_ENGINE_MEMORY": args.memory, "KPITOOLS_ENGINE_SPILL": spill}
        kpitools = [sys.executable, "-m", "kpitools"]
        if not args.skip_kpis:
            seconds, peaks = run_measured([*kpitools, "kpis", "--data", str(out), "--period", args.period], env)
            lines.append(f"  `kpitools kpis --period {args.period}` (every key, the contract checked): "
                         f"{seconds:.0f} s, peak {max(peaks.values()):,.0f} MB.")
            print(lines[-1], flush=True)
        if not args.skip_report:
            seconds, peaks = run_measured([*kpitools, "report", "--data", str(out), "--period", args.period,
                                           "--out", reports, "--jobs", "2", "--quiet"], env)
            shown = ", ".join(f"{k} {v:,.0f} MB" for k, v in sorted(peaks.items()))
            lines.append(f"  `kpitools report --period {args.period} --jobs 2` (six notebooks): {seconds:.0f} s, "
                         f"peaks: {shown}.")
            print(lines[-1], flush=True)
    with open(args.results, "a", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
