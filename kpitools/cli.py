"""The ``kpitools`` command line: ``report``, ``kpis``, ``keys``, ``sql``, ``check`` and ``sample``.

Errors kpitools raises on purpose (bad data, a bad period, failed notebooks)
are printed as one message with a non-zero exit, never as a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from . import __version__
from .errors import KpiToolsError, PeriodError

__all__ = ["main"]

DESCRIPTION = ("kpitools: SaaS marketing and product KPIs from your own tables, as HTML reports, "
               "JSON or SQL. Data contract: docs/data-contract.md; KPI definitions: docs/metrics.md "
               "(or kpitools keys).")

EXIT_DATA = 2
EXIT_FAILED = 1


def _periods(args: argparse.Namespace, data_range: tuple) -> list:
    from .periods import resolve_periods

    return resolve_periods(args.period, args.periods, data_range)


def _warn(line: str) -> None:
    print(f"kpitools: warning: {line}", file=sys.stderr)


def _data(args: argparse.Namespace) -> str:
    """``--data``, or the bundled sample company, said so in one line (never silently)."""
    if args.data is None:
        from .report.paths import SAMPLE_DATA

        print(f"kpitools: no --data given: using the bundled sample company ({SAMPLE_DATA})", file=sys.stderr)
        args.data = str(SAMPLE_DATA)
    return args.data


def _cmd_report(args: argparse.Namespace) -> int:
    from .report.paths import NOTEBOOKS
    from .report.runner import discover_notebooks, raise_for_failures, render_reports

    names = [n.strip() for n in args.notebooks.split(",") if n.strip()] if args.notebooks else None
    notebooks = discover_notebooks(Path(args.notebooks_dir or NOTEBOOKS), names)
    started = time.perf_counter()
    words = [w for w in (args.period or "").split(",") if w.strip()] if args.period is not None else None
    if args.period is not None and not words:
        raise PeriodError(f"--period names no period (got {args.period!r}); expected e.g. 2026-09, "
                          "2026-Q3 or latest-month")
    parameters = _parameters(args, notebooks)
    summary = render_reports(_data(args), words, range_=args.periods, notebooks=notebooks, out=args.out,
                             jobs=args.jobs, progress=not args.quiet, warn=_warn, mapping=args.mapping,
                             engine=args.engine, parameters=parameters)
    skipped = [r for r in summary.results if r.skipped]
    for r in skipped:
        print(f"skipped {r.job.notebook.stem} for {r.job.period}: {r.skipped}", file=sys.stderr)
    done = len(summary.results) - len(summary.failed) - len(skipped)
    print(f"{done} of {len(summary.results)} reports rendered for "
          f"{', '.join(map(str, summary.periods))} in {time.perf_counter() - started:.1f} s; "
          f"index: {summary.index}", file=sys.stderr)
    raise_for_failures(summary)
    return 0


def _parameters(args: argparse.Namespace, notebooks: Sequence[Path]) -> dict:
    from .report.parameters import notebook_parameters, parse_settings

    return parse_settings(args.parameter, notebook_parameters(notebooks)) if args.parameter else {}


def _cmd_kpis(args: argparse.Namespace) -> int:

    from .metrics.kpis import families_for, kpis_for, tables_for
    from .periods import Period
    from .sources.data import load

    keys = [k.strip() for k in args.keys.split(",") if k.strip()] if args.keys else None
    tables = None
    if keys is not None:
        families = families_for(keys)  # an unknown key is an error before any reading
        words = [w.strip() for w in (args.period or "").split(",") if w.strip()]
        if words and args.periods is None and not any(w.lower().startswith("latest") for w in words):
            # named periods need no date range: open and check only the tables the keys read
            for word in words:
                Period.parse(word)  # a bad period is an error before any reading
            tables = tables_for(families)
    data = load(_data(args), tables=tables, mapping=args.mapping, engine=args.engine)
    periods = _periods(args, data.date_range)
    out = kpis_for(data, periods, keys=keys)
    if len(periods) == 1:
        out = out[str(periods[0])]
    print(f"kpis for {', '.join(map(str, periods))}", file=sys.stderr)
    json.dump(out, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


def _cmd_sql(args: argparse.Namespace) -> int:
    from .metrics.queries import query_for, sql
    from .periods import Period

    query_for(args.key)  # an unknown key is an error before any reading
    words = [w.strip() for w in (args.period or "latest-month").split(",") if w.strip()]
    if all(not w.lower().startswith("latest") for w in words) and args.periods is None:
        periods = [Period.parse(w) for w in words]  # named periods need no data
    else:
        from .sources.data import load

        periods = _periods(args, load(_data(args)).date_range)
    text = sql(args.key, periods=periods, dialect=args.dialect).rstrip()
    print(f"-- kpitools sql {args.key}: {', '.join(map(str, periods))}, dialect {args.dialect}; tables named "
          f"as the data contract's (events, subscriptions, ...)\n{text};")
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from .sources.data import load

    data = load(args.data, mapping=args.mapping, engine=args.engine)
    start, end = data.date_range
    for name, rows in data.row_counts().items():
        print(f"{data.files[name].name:<28} {rows:>12,} {'row' if rows == 1 else 'rows'}")
    print(f"data from {start:%Y-%m-%d} to {end:%Y-%m-%d}; latest complete month "
          f"{data.latest_complete('M')}, quarter {data.latest_complete('Q')}")
    for line in data.warnings:
        _warn(line)
    return 0


def _cmd_keys(args: argparse.Namespace) -> int:
    from .metrics.kpis import keys_table

    table = keys_table()
    if args.format == "json":
        json.dump(table.to_dict(orient="records"), sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    elif args.format == "csv":
        table.to_csv(sys.stdout, index=False)
    else:
        import textwrap

        for row in table.itertuples():
            print(f"{row.key}: {row.label} ({row.unit}{', ' + row.better + ' is better' if row.better else ''})")
            print(textwrap.fill(row.definition, 100, initial_indent=" " * 4, subsequent_indent=" " * 4))
    return 0


def _cmd_sample(args: argparse.Namespace) -> int:
    from .sample import generate, write

    started = time.perf_counter()
    tables = generate(seed=args.seed, scale=args.scale)
    paths = write(tables, args.out, fmt=args.format)
    size = sum(p.stat().st_size for p in paths.values())
    rows = sum(len(t) for t in tables.values())
    print(f"wrote {len(paths)} tables, {rows:,} rows ({len(tables['events']):,} events), "
          f"{size / 1e6:.1f} MB to {args.out} in {time.perf_counter() - started:.1f} s",
          file=sys.stderr)
    return 0


def _engine(p: argparse.ArgumentParser) -> None:
    p.add_argument("--engine", choices=("duckdb", "spark"), default=None,
                   help="what runs the queries of a data folder: duckdb (embedded) or spark (needs "
                        "kpitools[spark] and Java 17); a spark:<database> source is read on Spark "
                        "(default: duckdb, or $KPITOOLS_ENGINE)")
    p.add_argument("--spark-master", metavar="URL",
                   help="the Spark master: local[2], spark://host:7077, yarn, ... (default: local[*])")
    p.add_argument("--spark-conf", metavar="KEY=VALUE", action="append", default=[],
                   help="a Spark setting, e.g. spark.executor.memory=4g; repeat for several (default: none)")


@contextlib.contextmanager
def _engine_environment(args: argparse.Namespace) -> Iterator[None]:
    """While the command runs, the engine asked for is where every part of the run finds it
    (this process, and a report's workers and kernels): the environment kpitools.load reads.
    Put back afterwards (``main`` may be called again in the same process)."""
    from .sources.spark import ENGINE_ENV, engine_name, parse_conf, set_environment, spark_environment

    wanted: dict[str, str] = {}
    if hasattr(args, "engine"):
        if args.engine is None and (args.spark_master or args.spark_conf):
            args.engine = "spark"  # a master or a setting asks for Spark
        if args.engine is not None:
            args.engine = engine_name(args.engine)
            wanted = (spark_environment(args.spark_master, parse_conf(args.spark_conf)) if args.engine == "spark"
                      else {ENGINE_ENV: args.engine})
    restore = set_environment(wanted)
    try:
        yield
    finally:
        restore()


MAPPING_HELP = ("the source's own tables and columns mapped onto the contract: a TOML file, or a ready-made "
                "mapping (stripe, hubspot, segment, ga4) (default: the data folder's kpitools.toml, if any)")
DATA_HELP = ("data folder, DuckDB file or database URL (postgresql://user@host/db?schema=analytics), or "
             "spark:<database> for a database of the Spark catalog")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kpitools", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"kpitools {__version__}",
                        help="print the version and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def data_and_period(p: argparse.ArgumentParser) -> None:
        p.add_argument("--data", default=None, help=f"{DATA_HELP} (default: the bundled sample company)")
        group = p.add_mutually_exclusive_group()
        group.add_argument("--period", help="YYYY-MM, YYYY-Qn or YYYY-Www, comma-separated for several, or "
                           "latest-month, latest-quarter, latest-week (default: latest-month)")
        group.add_argument("--periods", metavar="FIRST..LAST",
                           help="every period of a range, e.g. 2025-01..2025-06 (default: none; "
                                "instead of --period)")

    rep = sub.add_parser("report", help="render the HTML reports", description="Render the HTML reports of "
                         "each period: <out>/<period>/<notebook>.html, their CSV tables and kpis.json, and "
                         "<out>/index.html.", formatter_class=argparse.RawDescriptionHelpFormatter)
    data_and_period(rep)
    rep.add_argument("--mapping", help=MAPPING_HELP)
    _engine(rep)
    rep.add_argument("--notebooks", help="comma-separated notebook names, e.g. overview,funnel (default: all)")
    rep.add_argument("--notebooks-dir", help=argparse.SUPPRESS)
    rep.add_argument("-p", "--parameter", metavar="NAME=VALUE", action="append", default=[],
                     help="set a notebook parameter (listed below); repeat for several (default: each "
                          "notebook's own)")
    rep.add_argument("--out", default="reports", help="output folder (default: reports)")
    rep.add_argument("--jobs", type=int, default=1, help="notebooks run in parallel (default: 1)")
    rep.add_argument("--quiet", action="store_true", help="no progress bar (default: show one)")
    rep.set_defaults(run=_cmd_report, stopped="; every worker and kernel stopped, the reports of the "
                     "periods not yet published are as they were")
    rep.format_help = lambda: _report_help(rep)

    kp = sub.add_parser("kpis", help="print the period's KPIs as JSON")
    data_and_period(kp)
    kp.add_argument("--keys", help="comma-separated KPI keys to compute, e.g. mrr,nrr,mau; only the families "
                    "that compute them run; kpitools keys lists them (default: all)")
    kp.add_argument("--mapping", help=MAPPING_HELP)
    _engine(kp)
    kp.set_defaults(run=_cmd_kpis)

    ks = sub.add_parser("keys", help="list every KPI key with its label, unit and definition")
    ks.add_argument("--format", choices=("text", "csv", "json"), default="text",
                    help="text for reading, csv or json for a program (default: text)")
    ks.set_defaults(run=_cmd_keys)

    sq = sub.add_parser("sql", help="print the SQL that computes a KPI, to run in a database or BI tool")
    sq.add_argument("key", help="a KPI key, e.g. mau or bounce_rate (kpitools keys lists them)")
    data_and_period(sq)
    sq.add_argument("--dialect", default="duckdb",
                    help="postgres, snowflake, bigquery, or another dialect Ibis knows (default: duckdb)")
    sq.set_defaults(run=_cmd_sql)

    ck = sub.add_parser("check", help="check a data folder or database against the data contract",
                        description="Check the tables against the data contract (docs/data-contract.md): "
                                    "every problem is reported in one run.")
    ck.add_argument("--data", required=True, help=f"{DATA_HELP} (required)")
    ck.add_argument("--mapping", help=MAPPING_HELP)
    _engine(ck)
    ck.set_defaults(run=_cmd_check)

    from .report.paths import SAMPLE_DATA

    sm = sub.add_parser("sample", help="generate the sample company's data folder")
    sm.add_argument("--out", default=str(SAMPLE_DATA), help="folder to write (default: the bundled sample's)")
    sm.add_argument("--scale", type=float, default=1.0,
                    help="size multiplier: 1 is about a million events, 10 about ten million (default: 1)")
    sm.add_argument("--seed", type=int, default=7, help="random seed (default: 7)")
    sm.add_argument("--format", choices=("parquet", "csv"), default="parquet",
                    help="file format of the tables (default: parquet)")
    sm.set_defaults(run=_cmd_sample)
    return parser


def _report_help(parser: argparse.ArgumentParser) -> str:
    """``report --help`` with the bundled notebooks' parameters (read only when asked)."""
    from .report.parameters import describe, notebook_parameters
    from .report.runner import discover_notebooks

    parser.epilog = describe(notebook_parameters(discover_notebooks()))
    return argparse.ArgumentParser.format_help(parser)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``kpitools`` command.

    Exit codes: 0 done, 1 a notebook failed or an output could not be written, 2 bad
    data or arguments, 128 + the signal when stopped (130 for Ctrl-C, 143 for ``kill``).
    """
    args = _parser().parse_args(argv)
    from .report.workers import Interrupted, describe_signal, interrupt_signals, received_signal
    try:
        try:
            with interrupt_signals(), _engine_environment(args):
                return args.run(args)
        except Exception as exc:  # an engine's "Query interrupted" is the signal's doing
            if received_signal() is not None:
                raise Interrupted(received_signal()) from exc
            raise
    except KpiToolsError as exc:
        print(f"kpitools: {exc}", file=sys.stderr)
        return EXIT_DATA if isinstance(exc, ValueError) else EXIT_FAILED
    except (Interrupted, KeyboardInterrupt) as exc:
        signum = exc.signum if isinstance(exc, Interrupted) else 2
        what = describe_signal(exc) if isinstance(exc, Interrupted) else "interrupted (Ctrl-C)"
        print(f"kpitools: {what}{getattr(args, 'stopped', '')}", file=sys.stderr)
        return 128 + signum
    except BrokenPipeError:  # the reader went away (kpitools keys | head): stop quietly
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILED
    except OSError as exc:  # a full disk, a folder that cannot be written
        where = f" {exc.filename}" if exc.filename else ""
        print(f"kpitools: cannot write or read{where}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
