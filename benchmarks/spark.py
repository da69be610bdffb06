"""kpitools on Spark against kpitools on DuckDB and hand-written DuckDB, same data, same run.

    python benchmarks/spark.py [--scales 10,24] [--plan-scale 1] [--master local[2]] [--repeat 1]

For each scale of the sample company (generated into ``benchmarks/data/`` by ``run.py``,
or here when missing), whole cold processes, alternating:

- ``kpitools kpis --period P`` with every key, on DuckDB and on Spark (``--engine spark
  --spark-master M``): start-up, the contract's check and every family included;
- the same with ``--keys`` naming the seven engagement keys, and a DuckDB process
  computing those keys by hand (``duck_engagement.py``), the baseline of ``run.py``.

The two engines' outputs are compared key by key (relative tolerance 1e-9). Then, once, on
``--plan-scale`` (default: the sample): every metric family of ``kpis`` run on Spark by itself, and the physical
plan of each of its queries as Spark ran it (adaptive execution's final plan): which stages
exchange rows between tasks (a shuffle, and by what key), which gather everything into one
task, and which broadcast a small side. Written to ``benchmarks/RESULTS-spark.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import re
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from run import ENGAGEMENT_KEYS, machine  # noqa: E402

_PLANS: list[tuple[str, str]] = []
_FAMILY = [""]


def _timed(cmd: list[str]) -> tuple[float, dict]:
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
    return seconds, json.loads(done.stdout)


def _same(a: dict, b: dict) -> bool:
    if sorted(a) != sorted(b):
        return False
    for k, v in a.items():
        w = b[k]
        if v is None or w is None:
            if v is not w:
                return False
        elif not math.isclose(v, w, rel_tol=1e-9, abs_tol=1e-12):
            return False
    return True


def cold(data_dir: Path, period: str, master: str, repeat: int) -> dict:
    """Medians of whole processes: every key and the engagement keys on each engine, and
    the hand-written DuckDB process; whether the engines agree."""
    from kpitools.periods import Period

    p = Period.parse(period)
    base = [sys.executable, "-m", "kpitools", "kpis", "--data", str(data_dir), "--period", period]
    spark = ["--engine", "spark", "--spark-master", master]
    commands = {
        "duckdb all": base, "spark all": [*base, *spark],
        "duckdb keys": [*base, "--keys", ENGAGEMENT_KEYS], "spark keys": [*base, "--keys", ENGAGEMENT_KEYS, *spark],
        "hand": [sys.executable, str(HERE / "duck_engagement.py"), str(data_dir / "events.parquet"),
                 str(p.start.date()), str(p.end.date()), str(p.days)],
    }
    times: dict[str, list[float]] = {k: [] for k in commands}
    outs: dict[str, dict] = {}
    for _ in range(repeat):
        for name, cmd in commands.items():
            seconds, outs[name] = _timed(cmd)
            times[name].append(seconds)
            print(f"  {name:<12} {seconds:8.1f} s", flush=True)
    out = {k: statistics.median(v) for k, v in times.items()}
    out["same"] = _same(outs["duckdb all"], outs["spark all"]) and _same(outs["duckdb keys"], outs["spark keys"])
    return out


def _capture_plans(data_dir: str, period: str, master: str, queue) -> None:
    """In a child process: every family on Spark by itself, keeping each query's final plan."""
    import ibis.backends.pyspark as backend

    import kpitools
    from kpitools.metrics.kpis import FAMILIES
    from kpitools.periods import Period
    from kpitools.sources import spark

    run = backend.Backend.execute

    def execute(self, expr, /, *, params=None, limit=None, **kwargs):
        from ibis.backends.pyspark.converter import PySparkPandasData

        self._run_pre_execute_hooks(expr)  # the in-memory tables, registered
        table = expr.as_table()
        frame = self._session.sql(self.compile(table, params=params, limit=limit, **kwargs))
        result = frame.toPandas()
        _PLANS.append((_FAMILY[0], frame._jdf.queryExecution().executedPlan().toString()))
        return expr.__pandas_result__(PySparkPandasData.convert_table(result, table.schema()))

    backend.Backend.execute = execute
    session = spark.session(master)
    _FAMILY[0] = "opening and checking the tables"
    data = kpitools.load(data_dir, engine=session)
    data.date_range  # noqa: B018 (a query of its own)
    periods = [Period.parse(period)]
    so_far: dict = {period: {}}
    times = {}
    for family in FAMILIES:
        if not data.has(*family.needs):
            continue
        _FAMILY[0] = family.name
        start = time.perf_counter()
        found = family.compute(data, periods, so_far)
        times[family.name] = time.perf_counter() - start
        for p, values in found.items():
            so_far[p].update(values)
    backend.Backend.execute = run
    queue.put((_PLANS, times))


def _column(text: str) -> str:
    """``account_id#123`` -> ``account_id``; Spark's generated names kept short."""
    return re.sub(r"#\d+L?", "", text).strip()


def summarise(plans: list[tuple[str, str]]) -> dict[str, dict]:
    """Per family: queries, shuffles by their keys, single-partition gathers, broadcasts,
    sorts across tasks, and windows by their partition keys."""
    out: dict[str, dict] = {}
    for family, plan in plans:
        row = out.setdefault(family, {"queries": 0, "shuffles": Counter(), "single": 0, "broadcasts": 0,
                                      "sorts": 0, "windows": Counter()})
        row["queries"] += 1
        for line in plan.splitlines():
            if "BroadcastExchange" in line:
                row["broadcasts"] += 1
            elif "Exchange SinglePartition" in line:
                row["single"] += 1
            elif found := re.search(r"Exchange hashpartitioning\((.*), \d+\)", line):
                row["shuffles"][_column(found.group(1))] += 1
            elif "Exchange rangepartitioning" in line:
                row["sorts"] += 1
            if found := re.search(r"\bWindow \[.*?\], \[(.*?)\], \[", line):
                row["windows"][_column(found.group(1)) or "(none: one task)"] += 1
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="10,24")
    parser.add_argument("--plan-scale", type=float, default=1.0)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--data", default=str(HERE / "data"))
    parser.add_argument("--results", default=str(HERE / "RESULTS-spark.md"))
    args = parser.parse_args()

    import pyarrow.parquet as pq

    import kpitools
    from kpitools.sample import generate, write

    def scale_data(scale: float) -> tuple[Path, str, int]:
        data_dir = Path(args.data) / f"scale-{scale:g}"
        if not (data_dir / "events.parquet").exists():
            write(generate(scale=scale), data_dir)
        events = pq.ParquetFile(data_dir / "events.parquet").metadata.num_rows
        return data_dir, str(kpitools.load(data_dir, tables=["spend"]).latest_complete("M")), events

    rows = []
    for scale in [float(s) for s in args.scales.split(",")]:
        data_dir, period, events = scale_data(scale)
        print(f"{events:,} events, {period}", flush=True)
        rows.append((events, period, cold(data_dir, period, args.master, args.repeat)))
    first = scale_data(args.plan_scale)

    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_capture_plans, args=(str(first[0]), first[1], args.master, queue))
    proc.start()
    plans, family_times = queue.get()
    proc.join()
    summary = summarise(plans)

    lines = ["# Benchmarks: kpitools on Spark", "", f"Machine: {machine()}; Spark master `{args.master}`.", "",
             "Whole cold processes (start-up, the contract's check and the JVM's start included), median of "
             f"{args.repeat} run{'s' if args.repeat > 1 else ''}; *hand DuckDB* is `duck_engagement.py`, the "
             "seven engagement keys written by hand. Written by `make bench` (`python benchmarks/spark.py`).", "",
             "| events | period | command | DuckDB s | Spark s | Spark / DuckDB | same values |",
             "| ---: | --- | --- | ---: | ---: | ---: | --- |"]
    for events, period, r in rows:
        same = "yes" if r["same"] else "NO"
        lines.append(f"| {events:,} | {period} | `kpis`, every key | {r['duckdb all']:.1f} | {r['spark all']:.1f} "
                     f"| {r['spark all'] / r['duckdb all']:.1f} | {same} |")
        lines.append(f"| {events:,} | {period} | `kpis --keys` engagement | {r['duckdb keys']:.1f} "
                     f"| {r['spark keys']:.1f} | {r['spark keys'] / r['duckdb keys']:.1f} | {same} |")
        lines.append(f"| {events:,} | {period} | hand DuckDB, engagement | {r['hand']:.1f} | — "
                     f"| {r['spark keys'] / r['hand']:.1f} (Spark keys / hand) | — |")
    if len(rows) > 1:
        (e0, _, a), (e1, _, b) = rows[0], rows[-1]
        lines += ["", f"Growth from {e0:,} to {e1:,} events ({e1 / e0:.1f}x): every key, DuckDB "
                  f"{b['duckdb all'] / a['duckdb all']:.2f}x, Spark {b['spark all'] / a['spark all']:.2f}x; "
                  f"engagement keys, DuckDB {b['duckdb keys'] / a['duckdb keys']:.2f}x, Spark "
                  f"{b['spark keys'] / a['spark keys']:.2f}x."]
    lines += ["", f"## The plans ({first[2]:,} events, {first[1]})", "",
              "Each family's queries as Spark ran them. *Shuffles* are exchanges by hash of the keys shown: "
              "rows move between tasks so that equal keys meet (a cluster spreads them over its workers); "
              "*one task* counts exchanges into a single partition (work that does not spread); *broadcasts* "
              "copy a small side (a window table, a lookup) to every task; *windows* are partitioned by the "
              "keys shown.", "",
              "| family | s | queries | shuffles (by key: count) | one task | broadcasts | sorts | windows by |",
              "| --- | ---: | ---: | --- | ---: | ---: | ---: | --- |"]
    for family, r in summary.items():
        shuffles = "; ".join(f"{k}: {n}" for k, n in r["shuffles"].most_common()) or "—"
        windows = "; ".join(f"{k}: {n}" for k, n in r["windows"].most_common()) or "—"
        seconds = family_times.get(family)
        lines.append(f"| {family} | {seconds:.1f} | {r['queries']} | {shuffles} | {r['single']} | {r['broadcasts']} "
                     f"| {r['sorts']} | {windows} |" if seconds is not None else
                     f"| {family} | — | {r['queries']} | {shuffles} | {r['single']} | {r['broadcasts']} "
                     f"| {r['sorts']} | {windows} |")
    Path(args.results).write_text("\n".join(lines) + "\n", encoding="utf-8")
    (HERE / "data" / "spark-plans.txt").write_text(
        "\n\n".join(f"=== {family}\n{plan}" for family, plan in plans), encoding="utf-8")
    print(f"wrote {args.results} (the whole plans: benchmarks/data/spark-plans.txt)")
    return 0 if all(r["same"] for _, _, r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
