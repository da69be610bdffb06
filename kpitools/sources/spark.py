"""Apache Spark as the engine: the same metric expressions, run by Ibis's PySpark backend.

``kpitools.load("data/acme", engine="spark")`` reads the folder's Parquet and CSV files
with Spark; ``kpitools.load("spark:analytics", engine=session)`` reads the contract's
tables from a database of the session's catalog (``spark:main.analytics`` for a
catalog and schema, as on Databricks). Every check of the contract and every metric is
then a Spark job; only aggregated results reach the driver.

The session kpitools starts (:func:`session`) runs in UTC with ANSI SQL on, logs only
errors and shows no progress bars. Its master and settings come from the arguments or
from the environment a report run hands its kernels: ``KPITOOLS_SPARK_MASTER``
(default ``local[*]``) and ``KPITOOLS_SPARK_CONF`` (``key=value`` lines). A session
made by the caller (a cluster's, Databricks', Spark Connect's) is used as it is, with
the time zone and ANSI mode set for it.

Spark has no line numbers: a row that breaks the contract is named by its values (the
id first), as for a database.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import re
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path

import ibis
import ibis.expr.types as ir

from ..errors import EngineError

__all__ = ["CATALOG", "ENGINE_ENV", "MASTER_ENV", "CONF_ENV", "DEFAULT_MASTER", "is_catalog", "engine_name",
           "session", "backend", "connect_source", "parse_conf", "set_environment", "spark_environment",
           "open_folder", "open_catalog", "no_catalog_tables", "spark_errors", "cancel_jobs"]

# a source of this form is a database of the Spark session's catalog
CATALOG = "spark:"
ENGINE_ENV = "KPITOOLS_ENGINE"
MASTER_ENV = "KPITOOLS_SPARK_MASTER"
CONF_ENV = "KPITOOLS_SPARK_CONF"
DEFAULT_MASTER = "local[*]"
MIN_JAVA = 17
INSTALL = "pip install 'kpitools[spark]'"
# what every session runs with, whoever made it
SESSION_CONF = {"spark.sql.session.timeZone": "UTC", "spark.sql.ansi.enabled": "true"}
# what a session kpitools starts runs with, unless the caller's settings say otherwise
# (results and in-memory tables cross between Python and the JVM as Arrow, not row by row)
STARTED_CONF = {"spark.ui.showConsoleProgress": "false", "spark.sql.adaptive.enabled": "true",
                "spark.sql.execution.arrow.pyspark.enabled": "true"}
LOG_CONFIG = Path(__file__).with_name("spark-log4j2.properties")
# where the JVM of a session kpitools starts writes (its errors only: LOG_CONFIG)
JVM_LOG = Path(tempfile.gettempdir()) / "kpitools-spark" / "jvm.log"
JVM_LOG_LIMIT = 10_000_000  # bytes; a longer log starts again
_NAMES = itertools.count()


def is_catalog(source: object) -> bool:
    """True for ``spark:<database>``, a database of the Spark session's catalog."""
    return isinstance(source, str) and source.startswith(CATALOG) and "://" not in source


def engine_name(engine: object = None) -> str:
    """``"duckdb"`` or ``"spark"``: what ``engine`` asks for (a name, a SparkSession,
    or None for ``KPITOOLS_ENGINE``, else DuckDB)."""
    if engine is None:
        engine = os.environ.get(ENGINE_ENV) or "duckdb"
    if not isinstance(engine, str):
        return "spark"  # a session of the caller's
    name = engine.strip().lower()
    if name not in ("duckdb", "spark"):
        raise EngineError(f"unknown engine {engine!r}: expected duckdb (the default) or spark")
    return name


def parse_conf(pairs: Iterable[str]) -> dict[str, str]:
    """``key=value`` settings (``--spark-conf``) as a dict; a malformed one is an error."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise EngineError(f"--spark-conf {pair!r}: expected key=value, e.g. spark.executor.memory=4g")
        out[key.strip()] = value.strip()
    return out


def spark_environment(master: str | None, conf: Mapping[str, str]) -> dict[str, str]:
    """The environment that hands a Spark master and settings to a report run's kernels."""
    env = {ENGINE_ENV: "spark"}
    if master:
        env[MASTER_ENV] = master
    if conf:
        env[CONF_ENV] = "\n".join(f"{k}={v}" for k, v in conf.items())
    return env


def set_environment(wanted: Mapping[str, str]) -> Callable[[], None]:
    """Set these environment variables (which a report's workers and kernels inherit) and
    return what puts the environment back as it was."""
    before = {k: os.environ.get(k) for k in wanted}
    os.environ.update(wanted)

    def restore() -> None:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return restore


def _java() -> tuple[str, int]:
    """The Java that PySpark will start (``JAVA_HOME``'s, else the one on the path) and
    its major version; an error naming what is needed when there is none or it is old."""
    home = os.environ.get("JAVA_HOME")
    java = str(Path(home) / "bin" / "java") if home else shutil.which("java")
    if not java or not Path(java).exists():
        raise EngineError(f"the Spark engine needs Java {MIN_JAVA} or later, and no java was found "
                          "(install a JDK, e.g. OpenJDK 17, or set JAVA_HOME)")
    try:
        shown = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30).stderr
    except (OSError, subprocess.SubprocessError) as exc:
        raise EngineError(f"the Spark engine needs Java {MIN_JAVA} or later; {java} does not run ({exc})") from None
    found = re.search(r'version "(\d+)(?:\.(\d+))?', shown)
    major = int(found.group(1)) if found else 0
    if major == 1 and found and found.group(2):  # "1.8.0_392" is Java 8
        major = int(found.group(2))
    if major < MIN_JAVA:
        raise EngineError(f"the Spark engine needs Java {MIN_JAVA} or later; {java} is Java {major or '?'} "
                          "(install a newer JDK, or point JAVA_HOME at one)")
    return java, major


def _pyspark():
    try:
        import ibis.backends.pyspark  # noqa: F401
        from pyspark.sql import SparkSession
    except ImportError:
        raise EngineError(f"the Spark engine needs PySpark: {INSTALL}") from None
    return SparkSession


def _local_conf(master: str) -> dict[str, str]:
    """For a local master, as many shuffle partitions as it has threads (Spark's default of
    200 is for a cluster: on one machine each is a task to schedule for little data)."""
    found = re.fullmatch(r"local(?:\[(\d+|\*)(?:,\s*\d+)?\])?", master.strip())
    if not found:
        return {}
    threads = {None: "1", "*": str(os.cpu_count() or 1)}.get(found.group(1), found.group(1))  # "local": 1
    return {"spark.sql.shuffle.partitions": threads}


def session(master: str | None = None, conf: Mapping[str, str] | None = None):
    """A SparkSession to run kpitools on: ``master`` (default ``KPITOOLS_SPARK_MASTER``,
    else ``local[*]``) and ``conf`` (default ``KPITOOLS_SPARK_CONF``) on top of kpitools'
    settings (UTC, ANSI SQL, errors-only logging, no progress bars). One per process:
    a session that is already running is returned with these settings applied.

    Raises
    ------
    EngineError
        PySpark is not installed, or Java 17 or later is not there.
    """
    spark_session = _pyspark()
    master = master or os.environ.get(MASTER_ENV) or DEFAULT_MASTER
    if conf is None:
        conf = parse_conf(line for line in os.environ.get(CONF_ENV, "").splitlines() if line.strip())
    from pyspark import SparkContext

    if SparkContext._active_spark_context is None:  # the JVM is still to start
        _java()
    settings = {**STARTED_CONF, **_local_conf(master), **dict(conf), **SESSION_CONF}
    builder = spark_session.builder.master(master).appName("kpitools")
    options = f"-Dlog4j2.configurationFile={LOG_CONFIG.as_uri()}"
    builder = builder.config("spark.driver.extraJavaOptions", f"{settings.pop('spark.driver.extraJavaOptions', '')} "
                             f"{options}".strip())
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        with _jvm_output():
            return builder.getOrCreate()
    except Exception as exc:  # the JVM did not start, or the master cannot be reached
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise EngineError(f"cannot start Spark (master {master}): {first[:300]}") from None


@contextlib.contextmanager
def _jvm_output() -> Iterator[None]:
    """While Spark's JVM starts, this process's standard error is :data:`JVM_LOG`: the JVM
    keeps it, so its start-up notices and any later log line go there, not into a report's
    cells (a kernel shows what is written to its standard error) or the terminal."""
    from pyspark import SparkContext

    if SparkContext._active_spark_context is not None:  # the JVM runs already
        yield
        return
    JVM_LOG.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        if JVM_LOG.stat().st_size > JVM_LOG_LIMIT:
            JVM_LOG.unlink()
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(JVM_LOG, "ab") as log:
            os.dup2(log.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


@functools.lru_cache(maxsize=4)
def _backend_of(spark_session) -> ibis.BaseBackend:
    # PySpark 4.0 converts results with an argument pandas 3 deprecates: nothing to act on
    warnings.filterwarnings("ignore", message=".*copy keyword is deprecated.*", module="pyspark.*")
    con = ibis.pyspark.connect(spark_session)
    for key, value in SESSION_CONF.items():
        try:
            spark_session.conf.set(key, value)
        except Exception:  # a managed session may refuse settings; UTC is the one that matters
            if key == "spark.sql.session.timeZone":
                raise
    return con


def backend(engine: object = None) -> ibis.BaseBackend:
    """Ibis's PySpark backend over ``engine``: a SparkSession of the caller's, or the one
    :func:`session` starts (for ``"spark"`` or None)."""
    spark_session = session() if engine is None or isinstance(engine, str) else engine
    return _backend_of(spark_session)


def spark_errors() -> tuple[type[BaseException], ...]:
    """Spark's errors about the data or a query, once PySpark is imported (else none)."""
    if "pyspark" not in sys.modules:
        return ()
    from py4j.protocol import Py4JError
    from pyspark.errors import PySparkException

    return (PySparkException, Py4JError)


def cancel_jobs() -> None:
    """Cancel the Spark jobs this process runs (from another thread), if any."""
    if "pyspark" not in sys.modules:
        return
    from pyspark import SparkContext

    context = SparkContext._active_spark_context
    if context is not None:
        context.cancelAllJobs()


def connect_source(source: str | os.PathLike[str], plan: object, engine: object) -> tuple[ibis.BaseBackend,
                                                                                           Path | str]:
    """Spark's backend for ``engine`` and what it reads: a data folder (its path) or a
    catalog database (``spark:<database>``); one line for what Spark cannot read."""
    from ..errors import DataError
    from .files import shown_path

    shown = str(source)
    if plan is not None:
        raise DataError(f"{shown}: the Spark engine reads tables named as the data contract's; a mapping "
                        f"({plan.name}) is read on DuckDB or a database (on Spark, make the mapping a view "
                        "in the catalog)", file=shown)
    if not is_catalog(source):
        directory = Path(source)
        if not directory.is_dir():
            what = "a DuckDB file is read on DuckDB" if directory.is_file() else "no such data directory"
            raise DataError(f"{shown_path(directory)}: {what} (the Spark engine reads a folder of Parquet or CSV "
                            "files, or spark:<database>)", file=str(directory))
    return backend(engine), (shown if is_catalog(source) else Path(source))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    reason = lines[0] if lines else type(exc).__name__
    return re.sub(r"^\[[A-Z_.]+\]\s*", "", reason)[:300]


def open_folder(con: ibis.BaseBackend, directory: Path, names: list[str]) -> tuple[dict, dict, list]:
    """The raw tables of a data folder's files, read by Spark: Parquet as stored, CSV as
    text (the contract's rules do the typing), as :func:`kpitools.sources.data.load`
    takes them (raw table and source, files, errors)."""
    from ..errors import DataError
    from .files import find_table_file, shown_path
    from .validate import ROW, database_source

    reader = con._session.read
    opened, files, errors = {}, {}, []
    for name in names:
        try:
            path = find_table_file(directory, name)
        except DataError as exc:
            errors.append(exc)
            continue
        if path is None:
            continue
        shown = shown_path(path)
        files[name] = path
        uri = path.resolve().as_uri()
        try:
            if path.suffix == ".parquet":
                frame = reader.parquet(uri)
            else:  # text, a quoted value free to span lines, a broken row an error
                frame = reader.csv(uri, header=True, inferSchema=False, multiLine=True, quote='"', escape='"',
                                   ignoreLeadingWhiteSpace=True, mode="FAILFAST", encoding="UTF-8")
            view = f"kpitools_{name}_{next(_NAMES)}"
            frame.createOrReplaceTempView(view)
            raw = con.table(view)
        except spark_errors() as exc:
            errors.append(DataError(f"{shown}: cannot read the file ({_first_line(exc)})", file=shown))
            continue
        if ROW in raw.columns:
            raw = raw.drop(ROW)
        opened[name] = (raw.mutate(**{ROW: ibis.literal(0, "int64")}), database_source(shown, name))
    return opened, files, errors


def _database(source: str) -> str:
    return source[len(CATALOG):].strip()


def open_catalog(con: ibis.BaseBackend, source: str, names: list[str]) -> tuple[dict, dict, list]:
    """The contract's tables in the catalog database ``spark:<database>`` (raw table and
    source, a :class:`~kpitools.sources.database.TableRef` each, errors)."""
    from ..errors import DataError
    from .database import TableRef
    from .validate import ROW, database_source

    database = _database(source)
    if not database:
        raise DataError(f"{source}: name a database of the Spark catalog, e.g. spark:analytics", file=source)
    try:
        present = set(con.list_tables(database=database))
    except Exception as exc:
        raise DataError(f"{source}: cannot list its tables ({_first_line(exc)})", file=source) from None
    opened, files, errors = {}, {}, []
    for name in names:
        if name not in present:
            continue
        ref = TableRef(source, database, name)
        try:
            raw = con.table(name, database=database)
            raw.schema()
        except Exception as exc:
            errors.append(DataError(f"{ref}: cannot read the table ({_first_line(exc)})", file=str(ref)))
            continue
        if ROW in raw.columns:
            raw = raw.drop(ROW)
        opened[name] = (raw.mutate(**{ROW: ibis.literal(0, "int64")}), database_source(str(ref), name))
        files[name] = ref
    return opened, files, errors


def no_catalog_tables(source: str, names: list[str]) -> Exception:
    """The error for a catalog database without any contract table."""
    from ..errors import DataError

    return DataError(f"{source}: no table of the data contract found in database '{_database(source)}' "
                     f"(expected tables named {', '.join(names)})", file=source)


def cached(expr: ir.Table) -> ir.Table:
    """``expr`` kept in Spark's memory once computed (a CSV file's text, typed once)."""
    return expr.cache()
