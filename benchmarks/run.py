"""kpitools against DuckDB on the same Parquet files, in the same run.

    python benchmarks/run.py [--scales 1,10] [--repeat 3] [--report-scale 10]

For each scale the sample company is generated once into ``benchmarks/data/``
(git-ignored). Each metric family of ``families.py`` is timed end to end from the
data directory (reading included) by kpitools and by an equivalent DuckDB query,
each in a fresh process with its libraries already imported, so that the time is
the work and the peak memory (high-water RSS) is that family's own; results are
compared for equality and the ratio kpitools / DuckDB is reported. Then, as whole
cold processes: ``kpitools kpis --period P`` against a DuckDB process computing
the engagement keys of that period; and one full ``kpitools report`` for one
period. The table goes to ``benchmarks/RESULTS.md`` with the machine's description.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from families import FAMILIES  # noqa: E402


def _peak_mb() -> float:
    """This process's own high-water RSS (``ru_maxrss`` is not used: Linux carries it over
    from the parent through fork and exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _child(fn, args, queue) -> None:
    import duckdb  # noqa: F401  - imported before the clock starts, on both sides
    import pandas  # noqa: F401

    import kpitools  # noqa: F401

    start = time.perf_counter()
    result = fn(*args)
    queue.put((time.perf_counter() - start, _peak_mb(), result))


def measure(fn, args, repeat: int) -> tuple[float, float, object]:
    """Median seconds, largest peak RSS (MB) and the result, each run in a fresh process."""
    ctx = mp.get_context("spawn")
    times, peaks, result = [], [], None
    for _ in range(repeat):
        queue = ctx.Queue()
        proc = ctx.Process(target=_child, args=(fn, args, queue))
        proc.start()
        seconds, peak, result = queue.get()
        proc.join()
        times.append(seconds)
        peaks.append(peak)
    return statistics.median(times), max(peaks), result


def _timed(cmd: list[str], repeat: int) -> tuple[float, str]:
    times, out = [], ""
    for _ in range(repeat):
        start = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
        times.append(time.perf_counter() - start)
        out = done.stdout
    return statistics.median(times), out


DUCK_ENGAGEMENT = """
import duckdb, json, sys
path, lo, hi, days = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
con = duckdb.connect(); con.execute("SET TimeZone = 'UTC'")
q = f'''WITH e AS (SELECT user_id, timestamp, event FROM read_parquet('{path}')
        WHERE timestamp >= TIMESTAMPTZ '{lo}' AND timestamp < TIMESTAMPTZ '{hi}')
    SELECT (SELECT count(*) FROM (SELECT DISTINCT user_id, CAST(timestamp AS DATE) FROM e)) / {days} AS dau_avg,
           (SELECT count(DISTINCT user_id) FROM e) AS mau,
           (SELECT count(DISTINCT user_id) FROM e WHERE event = 'page_view') AS unique_visitors'''
print(json.dumps({k: float(v) for k, v in con.execute(q).df().iloc[0].to_dict().items()}))
"""


def cold_kpis(data_dir: Path, period: str, repeat: int) -> tuple[float, float, bool]:
    from kpitools.periods import Period

    p = Period.parse(period)
    kt_s, out = _timed([sys.executable, "-m", "kpitools", "kpis", "--data", str(data_dir), "--period", period],
                       repeat)
    db_s, db_out = _timed([sys.executable, "-c", DUCK_ENGAGEMENT, str(data_dir / "events.parquet"),
                           str(p.start.date()), str(p.end.date()), str(p.days)], repeat)
    kt, db = json.loads(out), json.loads(db_out)
    same = all(abs(kt[k] - db[k]) <= 1e-5 * max(1.0, abs(db[k])) for k in db)
    return kt_s, db_s, same


def machine() -> str:
    import duckdb
    import numpy
    import pandas
    import pyarrow

    kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
              if line.startswith("MemTotal"))
    return (f"{platform.machine()}, {mp.cpu_count()} cores, {kb / 1024**2:.0f} GiB memory, {platform.system()} "
            f"{platform.release()}; Python {platform.python_version()}, pandas {pandas.__version__}, "
            f"numpy {numpy.__version__}, pyarrow {pyarrow.__version__}, duckdb {duckdb.__version__}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="1,10")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--report-scale", type=float, default=10.0)
    parser.add_argument("--data", default=str(HERE / "data"))
    parser.add_argument("--results", default=str(HERE / "RESULTS.md"))
    args = parser.parse_args()

    import pyarrow.parquet as pq

    import kpitools
    from kpitools.sample import generate, write

    rows, extra = [], []
    for scale in [float(s) for s in args.scales.split(",")]:
        data_dir = Path(args.data) / f"scale-{scale:g}"
        if not (data_dir / "events.parquet").exists():
            started = time.perf_counter()
            write(generate(scale=scale), data_dir)
            print(f"generated scale {scale:g} in {time.perf_counter() - started:.1f} s", flush=True)
        events = pq.ParquetFile(data_dir / "events.parquet").metadata.num_rows
        period = str(kpitools.load(data_dir, tables=["spend"]).latest_complete("M"))
        for family, (kt, db) in FAMILIES.items():
            kt_s, kt_mb, kt_result = measure(kt, (str(data_dir), period), args.repeat)
            db_s, db_mb, db_result = measure(db, (str(data_dir), period), args.repeat)
            same = "yes" if kt_result == db_result else f"NO: {kt_result} != {db_result}"
            rows.append((f"{events:,}", family, kt_s, db_s, kt_s / db_s, kt_mb, db_mb, same))
            print(f"{events:>12,} {family:<42} kpitools {kt_s:7.2f} s  duckdb {db_s:7.2f} s  "
                  f"ratio {kt_s / db_s:5.2f}  peak {kt_mb:,.0f} / {db_mb:,.0f} MB  same: {same}", flush=True)
        kt_s, db_s, same = cold_kpis(data_dir, period, args.repeat)
        rows.append((f"{events:,}", f"`kpitools kpis --period {period}` (cold process)", kt_s, db_s, kt_s / db_s,
                     float("nan"), float("nan"), "yes (dau_avg, mau, unique_visitors)" if same else "NO"))
        print(f"{events:>12,} kpis cold: kpitools {kt_s:.2f} s  duckdb {db_s:.2f} s  same: {same}", flush=True)
        if scale == args.report_scale:
            with tempfile.TemporaryDirectory() as out:
                started = time.perf_counter()
                subprocess.run([sys.executable, "-m", "kpitools", "report", "--data", str(data_dir), "--period",
                                period, "--out", out, "--jobs", "2", "--quiet"], check=True, capture_output=True)
                seconds = time.perf_counter() - started
            extra.append(f"- `kpitools report` for every notebook, period {period}, {events:,} events, "
                         f"two jobs: **{seconds:.0f} s**.")
            print(extra[-1], flush=True)

    lines = [
        "# Benchmarks: kpitools against DuckDB",
        "",
        f"Machine: {machine()}.",
        "",
        "Each family is timed end to end from the Parquet data directory (reading included) by kpitools and",
        "by an equivalent DuckDB query, each in a fresh process with its libraries imported before the clock",
        f"starts; times are the median of {args.repeat} run{'s' if args.repeat > 1 else ''}, peak memory the "
        "largest high-water RSS of those",
        "processes (interpreter included). The cold `kpis` row times whole processes, start-up included.",
        "Written by `make bench` (`python benchmarks/run.py`).",
        "",
        "| events | family | kpitools s | DuckDB s | ratio | kpitools peak MB | DuckDB peak MB | same result |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for ev, family, kt_s, db_s, ratio, kt_mb, db_mb, same in rows:
        mem = f"{kt_mb:,.0f} | {db_mb:,.0f}" if kt_mb == kt_mb else "— | —"
        lines.append(f"| {ev} | {family} | {kt_s:.2f} | {db_s:.2f} | {ratio:.2f} | {mem} | {same} |")
    lines += ["", *extra]
    Path(args.results).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.results}")
    return 0 if all(r[-1].startswith("yes") for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
