"""kpitools against DuckDB on the same Parquet files, in the same run.

    python benchmarks/run.py [--scales 1,10] [--repeat 3] [--report-scale 10]

For each scale the sample company is generated once into ``benchmarks/data/``
(git-ignored). Each metric family of ``families.py`` is timed end to end from the
data directory (reading included) by kpitools and by an equivalent DuckDB query,
each in a fresh process with its libraries already imported, so that the time is
the work and the peak memory (high-water RSS) is that family's own; the two sides
alternate, so that a slow moment of a shared machine falls on both. Results are
compared for equality and the ratio kpitools / DuckDB is reported, with kpitools'
peak memory. Then, as whole
cold processes: ``kpitools kpis --period P`` against a DuckDB process computing
the engagement keys of that period (``duck_engagement.py``); and one full
``kpitools report`` for one period. The table goes to ``benchmarks/RESULTS.md``
with the machine's description.
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

from families import FAMILIES, KPITOOLS_ONLY  # noqa: E402

FAMILY_TARGET = 1.1  # kpitools / DuckDB for a family and for the cold engagement keys (issue 13)
EVERY_KEY_TARGET = 1.5  # kpitools kpis with every key / DuckDB's engagement keys


def _peak_mb() -> float:
    """This process's own high-water RSS (``ru_maxrss`` is not used: Linux carries it over
    from the parent through fork and exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _child(fn, args, queue) -> None:
    import duckdb  # imported before the clock starts, on both sides
    import ibis
    import pandas  # noqa: F401

    import kpitools
    import kpitools.metrics.kpis  # noqa: F401

    # both engines started before the clock: a DuckDB connection, and the one Ibis runs
    duckdb.connect().execute("SELECT 1")
    ibis.get_backend().raw_sql("SELECT 1")
    before = _rss_mb()
    start = time.perf_counter()
    result = fn(*args)
    seconds = time.perf_counter() - start
    peak = _peak_mb()
    queue.put((seconds, peak, before, result))


def _once(fn, args) -> tuple:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(fn, args, queue))
    proc.start()
    out = queue.get()
    proc.join()
    return out


def measure_pair(kt, db, args, repeat: int) -> tuple[dict, dict]:
    """Each side ``repeat`` times, alternating, each run in a fresh process: median seconds,
    largest peak RSS (MB), the RSS before the work began, and the result."""
    runs: dict[str, list] = {"kt": [], "db": []}
    for _ in range(repeat):
        for side, fn in (("kt", kt), ("db", db)):
            if fn is not None:
                runs[side].append(_once(fn, args))

    def summary(rows: list) -> dict:
        if not rows:
            return {}
        return {"s": statistics.median(r[0] for r in rows), "peak": max(r[1] for r in rows),
                "base": min(r[2] for r in rows), "result": rows[-1][3]}

    return summary(runs["kt"]), summary(runs["db"])


def _run(cmd: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return time.perf_counter() - start, done.stdout


ENGAGEMENT_KEYS = "dau_avg,mau,new_users,sessions,avg_session_duration_s,pages_per_session,bounce_rate"


def cold_kpis(data_dir: Path, period: str, repeat: int) -> tuple[float, float, float, bool]:
    """Whole cold processes, alternating: ``kpitools kpis --period P`` (every family), the same
    with ``--keys`` naming the engagement keys DuckDB computes, and a DuckDB process computing
    them from the same Parquet file; medians, and whether the keys agree."""
    from kpitools.periods import Period

    p = Period.parse(period)
    kt_cmd = [sys.executable, "-m", "kpitools", "kpis", "--data", str(data_dir), "--period", period]
    db_cmd = [sys.executable, str(HERE / "duck_engagement.py"), str(data_dir / "events.parquet"),
              str(p.start.date()), str(p.end.date()), str(p.days)]
    times: dict[str, list[float]] = {"all": [], "keys": [], "db": []}
    outs: dict[str, str] = {}
    for _ in range(repeat):
        for name, cmd in (("all", kt_cmd), ("keys", [*kt_cmd, "--keys", ENGAGEMENT_KEYS]), ("db", db_cmd)):
            seconds, outs[name] = _run(cmd)
            times[name].append(seconds)
    db = json.loads(outs["db"])
    same = all(abs(json.loads(outs[n])[k] - db[k]) <= 1e-5 * max(1.0, abs(db[k])) for n in ("all", "keys") for k in db)
    return (statistics.median(times["all"]), statistics.median(times["keys"]), statistics.median(times["db"]), same)


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


def _mem(kt: dict) -> str:
    """kpitools' peak RSS and what the work added to it (peak - RSS before it)."""
    if not kt:
        return "— | —"
    return f"{kt['peak']:,.0f} | {kt['peak'] - kt['base']:,.0f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="1,10,24")
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
        jobs = [(name, kt, db) for name, (kt, db) in FAMILIES.items()]
        jobs += [(name, kt, None) for name, kt in KPITOOLS_ONLY.items()]
        for family, kt_fn, db_fn in jobs:
            kt, db = measure_pair(kt_fn, db_fn, (str(data_dir), period), args.repeat)
            if db:
                same = "yes" if kt["result"] == db["result"] else f"NO: {kt['result']} != {db['result']}"
                rows.append((f"{events:,}", family, kt["s"], db["s"], _mem(kt), f"{db['peak']:,.0f}", same))
            else:
                rows.append((f"{events:,}", family, kt["s"], float("nan"), _mem(kt), "—", "—"))
            print(f"{events:>12,} {family:<52} kpitools {kt['s']:7.2f} s  duckdb {db.get('s', float('nan')):7.2f} s  "
                  f"memory {_mem(kt)}  {rows[-1][-1]}", flush=True)
        all_s, keys_s, db_s, same = cold_kpis(data_dir, period, args.repeat)
        agree = "yes (the seven engagement keys)" if same else "NO"
        rows.append((f"{events:,}", f"`kpitools kpis --period {period}`, every key (cold process)", all_s, db_s,
                     "— | —", "—", agree))
        rows.append((f"{events:,}", f"`kpitools kpis --period {period} --keys` the engagement keys (cold process)",
                     keys_s, db_s, "— | —", "—", agree))
        print(f"{events:>12,} kpis cold: every key {all_s:.2f} s, engagement keys {keys_s:.2f} s, "
              f"duckdb {db_s:.2f} s  same: {same}", flush=True)
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
        "kpitools runs every metric as Ibis expressions on the embedded DuckDB, over views of the Parquet",
        "files. Each family is timed end to end from the data directory (opening the files included) by",
        "kpitools and by an equivalent hand-written DuckDB query, each in a fresh process with its libraries",
        "imported before the clock starts; the two sides alternate, times are the median of",
        f"{args.repeat} run{'s' if args.repeat > 1 else ''} each. kpitools opens the tables of a family with",
        "`load(check=False)`; checking the contract is timed on its own (DuckDB checks nothing). Peak memory",
        "is the largest high-water RSS of those processes (interpreter and libraries included), *work MB* what",
        "the work added to it. The cold `kpis` rows time whole processes, start-up and the contract's check",
        "included, against a DuckDB process computing the period's seven engagement keys by hand",
        "(`duck_engagement.py`): kpitools once with every key (all families, the retention model's fit",
        "included) and once with `--keys` naming the same seven keys. Targets (issue 13): a family and the",
        f"engagement keys at most {FAMILY_TARGET}x DuckDB, every key at most {EVERY_KEY_TARGET}x. Written by",
        "`make bench` (`python benchmarks/run.py`).",
        "",
        "| events | family | kpitools s | DuckDB s | ratio | target | met | kpitools peak MB | work MB "
        "| DuckDB peak MB | same result |",
        "| ---: | --- | ---: | ---: | ---: | ---: | :---: | ---: | ---: | ---: | --- |",
    ]
    for ev, family, kt_s, db_s, mem, db_mb, same in rows:
        ratio = kt_s / db_s if db_s == db_s else float("nan")
        target = EVERY_KEY_TARGET if "every key" in family else FAMILY_TARGET
        shown = f"{ratio:.2f}" if ratio == ratio else "—"
        met = ("yes" if ratio <= target else "no") if ratio == ratio else "—"
        db_shown = f"{db_s:.2f}" if db_s == db_s else "—"
        target_shown = f"{target}" if ratio == ratio else "—"
        lines.append(f"| {ev} | {family} | {kt_s:.2f} | {db_shown} | {shown} | {target_shown} | {met} | {mem} "
                     f"| {db_mb} | {same} |")
    lines += ["", *extra, "", "kpitools on Spark: [`RESULTS-spark.md`](RESULTS-spark.md) "
              "(`python benchmarks/spark.py`, which `make bench` runs next)."]
    Path(args.results).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.results}")
    return 0 if all(r[-1].startswith("yes") or r[-1] == "—" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
