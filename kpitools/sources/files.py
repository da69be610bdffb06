"""A data directory's files (and a DuckDB database file) as raw tables of the engine.

Each table becomes a view of the embedded DuckDB over its file, with the column
:data:`~kpitools.sources.validate.ROW` numbering the rows as in the file; nothing is read
until a query asks for it. A CSV file is read as text (the contract's rules do the typing)
with its header as written; a Parquet file as stored.
"""

from __future__ import annotations

import csv
import functools
import itertools
from pathlib import Path

import ibis.expr.types as ir

from ..engine import connection, engine_errors, sql_ident, sql_text
from ..errors import DataError
from .csvfile import csv_record_lines, ragged_error
from .mapping import Mapping, open_mapped_file, open_mapped_table
from .validate import ROW, Source

__all__ = ["SUFFIXES", "DATABASE_SUFFIXES", "find_table_file", "open_file", "open_database_table",
           "database_tables", "shown_path", "materialise", "release", "read_error", "open_directory",
           "open_duckdb_file"]

SUFFIXES = (".parquet", ".csv")
DATABASE_SUFFIXES = (".duckdb", ".db")
_NAMES = itertools.count()


def shown_path(path: Path) -> str:
    """The path as the analyst typed it: relative to the working folder when inside it."""
    resolved = path.resolve()
    try:
        return str(resolved.relative_to(Path.cwd()))
    except ValueError:
        return str(resolved)


def find_table_file(directory: Path, name: str) -> Path | None:
    """The file holding table ``name`` in ``directory``, or None when absent."""
    found = [directory / f"{name}{suffix}" for suffix in SUFFIXES]
    found = [p for p in found if p.is_file()]
    if len(found) > 1:
        raise DataError(
            f"{directory}: both {found[0].name} and {found[1].name} exist; keep one file per table.",
            file=str(found[0]),
        )
    return found[0] if found else None


def _csv_header(path: Path, shown: str) -> list[str]:
    """The header's names, numbered as pandas does when one repeats (``a``, ``a.1``)."""
    with path.open(newline="", encoding="utf-8-sig", errors="replace") as handle:
        header = next(csv.reader(handle, skipinitialspace=True), None)
    if not header:
        raise DataError(f"{shown}: cannot read the file (it has no header line)", file=shown)
    seen: dict[str, int] = {}
    out = []
    for name in header:
        n = seen.get(name, 0)
        seen[name] = n + 1
        out.append(name if n == 0 else f"{name}.{n}")
    return out


def open_file(path: Path) -> tuple[ir.Table, Source]:
    """The raw table of one CSV or Parquet file, and how to name its rows."""
    shown = shown_path(path)
    if not path.is_file():
        from ..errors import MissingTableError

        raise MissingTableError(f"{shown}: file not found", file=shown)
    if path.suffix == ".parquet":
        body = (f"SELECT file_row_number AS {ROW}, * EXCLUDE (file_row_number) "
                f"FROM read_parquet({sql_text(str(path))}, file_row_number=true)")
        source = Source(file=shown, row_word="row", row_offset=1)
    elif path.suffix == ".csv":
        header = _csv_header(path, shown)
        types = ", ".join(f"{sql_text(c)}: 'VARCHAR'" for c in header)
        # a value's leading spaces are dropped, as after the comma of "a, b"
        values = ", ".join(f"ltrim({sql_ident(c)}) AS {sql_ident(c)}" for c in header)
        body = (f"SELECT row_number() OVER () - 1 AS {ROW}, {values} FROM read_csv({sql_text(str(path))}, "
                f"auto_detect=false, header=true, columns={{{types}}}, delim=',', quote='\"', escape='\"', "
                f"strict_mode=true, null_padding=true, parallel=false)")
        source = Source(file=shown, row_word="line", row_offset=2,
                        lines=functools.partial(csv_record_lines, path))
        # read once into the engine (short rows padded with empty values), then checked there
        view = _view(body, shown)
        try:
            return materialise(view), source
        except engine_errors() as exc:
            if "Expected Number of Columns" in str(exc):
                raise ragged_error(path, shown) from None
            raise read_error(exc, shown) from None
    else:
        raise DataError(f"{shown}: a table must be a .csv or .parquet file", file=shown)
    return _view(body, shown), source


def _view(body: str, shown: str) -> ir.Table:
    con = connection()
    name = f"kpitools_raw_{next(_NAMES)}"
    try:
        con.raw_sql(f"CREATE OR REPLACE TEMP VIEW {name} AS {body}")
        return con.table(name)
    except engine_errors() as exc:  # the engine's own words, first line, name the problem
        raise read_error(exc, shown) from None


def materialise(expr: ir.Table) -> ir.Table:
    """``expr`` computed once into a table of the embedded engine (not into pandas)."""
    return connection().create_table(f"kpitools_table_{next(_NAMES)}", expr, temp=True)


def release(table: ir.Table) -> None:
    """Drop a table :func:`materialise` made, once nothing refers to it."""
    connection().raw_sql(f"DROP TABLE IF EXISTS {sql_ident(table.op().name)}")


def read_error(exc: BaseException, shown: str) -> DataError:
    """One line for a file the engine cannot read."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    reason = lines[0] if lines else type(exc).__name__
    for line in lines[1:]:
        if not line.startswith(("Original Line", "Possible", "*", "LINE")):
            reason += f": {line}"
            break
    reason = reason.replace("Invalid Input Error: ", "").replace("IO Error: ", "")
    return DataError(f"{shown}: cannot read the file ({reason[:300]})", file=shown)


def database_tables(path: Path) -> tuple[str, list[str]]:
    """Attach a DuckDB database file (read-only) and list its tables."""
    shown = shown_path(path)
    con = connection()
    alias = f"kpitools_db_{next(_NAMES)}"
    try:
        con.raw_sql(f"ATTACH {sql_text(str(path))} AS {alias} (READ_ONLY)")
        names = [r[0] for r in con.raw_sql(
            f"SELECT table_name FROM information_schema.tables WHERE table_catalog = {sql_text(alias)}").fetchall()]
    except engine_errors() as exc:
        raise read_error(exc, shown) from None
    return alias, names


def open_database_table(path: Path, alias: str, name: str) -> tuple[ir.Table, Source]:
    """The raw table ``name`` of an attached DuckDB database file."""
    shown = f"{shown_path(path)}, table {name}"
    body = f"SELECT row_number() OVER () - 1 AS {ROW}, * FROM {alias}.{sql_ident(name)}"
    return _view(body, shown), Source(file=shown, row_word="row", row_offset=1)


def open_directory(directory: Path, names: list[str], plan: Mapping | None) -> tuple[dict, dict, list]:
    """The raw tables of a data folder: each contract table's file, or what the mapping
    ``plan`` makes of the analyst's own files (raw table and source, files, errors)."""
    opened, files, errors = {}, {}, []
    for name in names:
        try:
            if plan is not None and name in plan.tables:
                raw, src, files[name] = open_mapped_file(directory, plan.tables[name], plan.dialect)
                opened[name] = (raw, src)
                continue
            path = find_table_file(directory, name)
            if path is None:
                continue
            files[name] = path
            raw, src = open_file(path)
            opened[name] = (raw, src)
        except DataError as exc:
            errors.append(exc)
    return opened, files, errors


def open_duckdb_file(path: Path, names: list[str], plan: Mapping | None) -> tuple[dict, dict, list]:
    """The raw tables of a DuckDB database file, named as the contract's or mapped."""
    alias, present = database_tables(path)
    opened, files, errors = {}, {}, []
    for name in names:
        if plan is not None and name in plan.tables:
            files[name] = path
            try:
                opened[name] = open_mapped_table(connection(), alias, plan.tables[name], plan.dialect,
                                                 shown_path(path))
            except DataError as exc:
                errors.append(exc)
        elif name in present:
            files[name] = path
            try:
                opened[name] = open_database_table(path, alias, name)
            except DataError as exc:
                errors.append(exc)
    return opened, files, errors


def no_tables(directory: Path, names: list[str]) -> DataError:
    """The error for a source without any contract table: the names expected, the files
    the folder has (a few), and which of them look like a contract table misnamed."""
    expected = ", ".join(f"{n}.csv" for n in names)
    seen = sorted(p.name for p in directory.iterdir() if not p.name.startswith(".")) if directory.is_dir() else []
    if not directory.exists():
        has = "the folder does not exist"
    elif not seen:
        has = "the folder is empty"
    else:
        has = "the folder has " + ", ".join(seen[:12]) + (f" and {len(seen) - 12} more" if len(seen) > 12 else "")
    stems = {name: Path(name).stem.strip().lower() for name in seen}
    close = [f"{name} (expected {stems[name]}.csv or {stems[name]}.parquet)" for name in seen
             if stems[name] in names]
    hint = f"; these look like contract tables: {', '.join(close)}" if close else ""
    return DataError(
        f"{shown_path(directory)}: no table of the data contract found: {has}{hint}. Expected files such as "
        f"{expected}, or the same names ending .parquet (docs/data-contract.md)",
        file=str(directory),
    )
