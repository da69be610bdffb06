"""kpitools against DuckDB on the same Parquet files, in the same run.

    python benchmarks/run.py [--scales 1,10] [--repeat 3]

For each scale the sample company is generated once into ``benchmarks/data/``
(git-ignored). Each metric family is timed end to end from the data directory
(reading included) by kpitools and by an equivalent DuckDB SQL query, each in a
fresh process so that peak memory (max RSS) is that family's own; the results
are compared for equality and the ratio kpitools / DuckDB is reported. The table
goes to ``benchmarks/RESULTS.md`` with a description of the machine.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))


# --- the families: each returns a comparable result ---------------------------------------


def kt_load(data_dir: str, period: str) -> dict:
    import kpitools

    data = kpitools.load(data_dir)
    return {name: len(frame) for name, frame in data.tables.items()}


def db_load(data_dir: str, period: str) -> dict:
    import duckdb

    con = duckdb.connect()
    out = {}
    for path in sorted(Path(data_dir).glob("*.parquet")):
        out[path.stem] = len(con.execute(f"SELECT * FROM read_parquet('{path}')").df())
    return out


def kt_kpis(data_dir: str, period: str) -> dict:
    import kpitools

    data = kpitools.load(data_dir, tables=["subscriptions", "spend", "costs"])
    values = kpitools.compute_kpis(data, period)
    return {k: round(values[k], 2) for k in ("mrr", "customers", "sm_spend", "cost_to_serve")}


def db_kpis(data_dir: str, period: str) -> dict:
    import duckdb

    from kpitools.periods import Period

    p = Period.parse(period)
    day, start, end = p.last_day.date(), p.start.date(), p.end.date()
    d = Path(data_dir)
    con = duckdb.connect()
    mrr, customers = con.execute(f"""
        SELECT coalesce(sum(m), 0), count(*) FROM (
          SELECT account_id, sum(mrr) AS m FROM read_parquet('{d / "subscriptions.parquet"}')
          WHERE CAST(start_date AS DATE) <= DATE '{day}'
            AND (end_date IS NULL OR CAST(end_date AS DATE) > DATE '{day}')
          GROUP BY account_id HAVING sum(mrr) > 0)""").fetchone()
    (spend,) = con.execute(f"""
        SELECT coalesce(sum(amount), 0) FROM read_parquet('{d / "spend.parquet"}')
        WHERE CAST(date AS DATE) >= DATE '{start}' AND CAST(date AS DATE) < DATE '{end}'""").fetchone()
    (costs,) = con.execute(f"""
        SELECT coalesce(sum(amount), 0) FROM read_parquet('{d / "costs.parquet"}')
        WHERE CAST(date AS DATE) >= DATE '{start}' AND CAST(date AS DATE) < DATE '{end}'""").fetchone()
    return {"mrr": round(mrr, 2), "customers": customers, "sm_spend": round(spend, 2),
            "cost_to_serve": round(costs, 2)}


FAMILIES = {
    "load every table": (kt_load, db_load),
    "kpis: mrr, customers, spend, costs": (kt_kpis, db_kpis),
}


# --- measuring ------------------------------------------------------------------------------


def _child(fn, args, queue) -> None:
    start = time.perf_counter()
    result = fn(*args)
    seconds = time.perf_counter() - start
    queue.put((seconds, _peak_mb(), result))


def _peak_mb() -> float:
    """This process's own high-water RSS. ``ru_maxrss`` is not used: Linux carries it over
    from the parent through fork and exec, so a child would report the parent's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(fn, args, repeat: int) -> tuple[float, float, object]:
    """Median seconds, max peak RSS (MB) and the result, each run in a fresh process."""
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


def machine() -> str:
    import duckdb
    import numpy
    import pandas
    import pyarrow

    mem = ""
    try:
        info = Path("/proc/meminfo").read_text().splitlines()
        kb = int(next(line for line in info if line.startswith("MemTotal")).split()[1])
        mem = f", {kb / 1024**2:.0f} GiB memory"
    except (OSError, StopIteration):
        pass
    return (f"{platform.machine()}, {mp.cpu_count()} cores{mem}, {platform.system()} "
            f"{platform.release()}; Python {platform.python_version()}, pandas {pandas.__version__}, "
            f"numpy {numpy.__version__}, pyarrow {pyarrow.__version__}, duckdb {duckdb.__version__}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="1,10")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--data", default=str(HERE / "data"))
    parser.add_argument("--results", default=str(HERE / "RESULTS.md"))
    args = parser.parse_args()

    import pyarrow.parquet as pq

    import kpitools
    from kpitools.sample import generate, write

    rows = []
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
            same = kt_result == db_result
            rows.append((f"{events:,}", family, kt_s, db_s, kt_s / db_s, kt_mb, db_mb,
                         "yes" if same else f"NO: {kt_result} != {db_result}"))
            print(f"{events:>12,} events  {family:<36} kpitools {kt_s:6.2f} s  duckdb {db_s:6.2f} s  "
                  f"ratio {kt_s / db_s:5.2f}  peak {kt_mb:,.0f} / {db_mb:,.0f} MB  same: {same}",
                  flush=True)

    lines = [
        "# Benchmarks: kpitools against DuckDB",
        "",
        f"Machine: {machine()}.",
        "",
        "Each family is timed end to end from the Parquet data directory (reading included), by",
        "kpitools and by an equivalent DuckDB query, each in a fresh process; times are the median of",
        f"{args.repeat} runs, peak memory the largest max-RSS of those processes (interpreter included).",
        "Written by `make bench` (`python benchmarks/run.py`).",
        "",
        "| events | family | kpitools s | DuckDB s | ratio | kpitools peak MB | DuckDB peak MB | same result |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for ev, family, kt_s, db_s, ratio, kt_mb, db_mb, same in rows:
        lines.append(f"| {ev} | {family} | {kt_s:.2f} | {db_s:.2f} | {ratio:.2f} | {kt_mb:,.0f} | "
                     f"{db_mb:,.0f} | {same} |")
    Path(args.results).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.results}")
    return 0 if all(r[-1] == "yes" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
