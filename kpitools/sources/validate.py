"""Check one table against the data contract, in the data's engine.

Every rule under "Bad input" in the contract is an engine expression (see
:mod:`kpitools.sources.columns`). A table's rules are counted in one scan; only for a
rule that some rows break are up to five of those rows fetched, numbered as in the file.
Every problem of a table is found before anything is raised; they come as one
:class:`~kpitools.errors.DataError` that names, for each, the file, the column, what was
expected and the offending rows; never a traceback from inside pandas or the engine.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from ..errors import DataError, InvalidValueError, MissingColumnError
from .columns import Rule, clean_value, column_rules, empty_value, period_names
from .schema import Table, table_spec

__all__ = ["Source", "database_source", "ROW", "Checked", "validate", "check_table", "check_references"]

MAX_ROWS_SHOWN = 5
# the column of a raw table that numbers its rows from 0 in the order of the file
ROW = "__row"


@dataclass(frozen=True)
class Source:
    """Where a table came from, to number its rows as the analyst sees them.

    ``row_word`` is empty for a table without line numbers (a database's): its rows are
    then named by their values alone, ``key`` first. ``row_offset`` is added to a row's
    0-based position: 2 for a CSV file (the header is line 1), 1 for a Parquet file. ``index`` replaces positions by
    index labels, for a DataFrame passed in directly. ``lines`` gives the first line
    of each record of a CSV file (a quoted value may span lines); it is called only
    when a row is named in an error.
    """

    file: str
    row_word: str = "line"
    row_offset: int = 2
    index: pd.Index | None = None
    lines: Callable[[], np.ndarray] | None = None
    # columns that name a row where there are no row numbers (a database's id column)
    key: tuple[str, ...] = ()

    def row_number(self, position: int) -> int | str:
        if self.index is not None:
            return self.index[position]
        position = int(position)
        if self.lines is not None:
            lines = self.lines()
            if position < len(lines):
                return int(lines[position])
        return position + self.row_offset


def database_source(file: str, table: str) -> Source:
    """A database table's source: no line numbers, a row named by the contract table's id
    column (or, for a table without one, such as events, by its required columns)."""
    spec = table_spec(table)
    ids = [c.name for c in spec.columns[:1] if c.kind == "id"] or list(spec.required_columns)
    return Source(file=file, row_word="", key=tuple(ids))


def _show(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT or value is pd.NA:
        return "(empty)"
    text = str(value)
    return repr(text if len(text) <= 40 else text[:37] + "...")


def _failure(rows: pd.DataFrame, count: int, source: Source, column: str, problem: str, expected: str,
             show: Sequence[str]) -> InvalidValueError:
    """One InvalidValueError for ``count`` offending rows, of which ``rows`` (column
    :data:`ROW` and the columns in ``show``) are named."""
    # a database's rows have no numbers: they are named by their values alone
    numbers = [source.row_number(p) for p in rows[ROW]] if source.row_word else []
    parts = []
    for i, (_, row) in enumerate(rows.iterrows()):
        values = ", ".join(f"{c}={_show(row[c])}" for c in show if c in row)
        parts.append(f"{source.row_word} {numbers[i]}: {values}" if numbers else values)
    more = f" (and {count - len(rows)} more)" if count > len(rows) else ""
    rows_word = "row has" if count == 1 else "rows have"
    message = (
        f"{source.file}, column '{column}': {count} {rows_word} {problem}; "
        f"expected {expected}.\n  " + "\n  ".join(parts) + more
    )
    return InvalidValueError(message, file=source.file, column=column, rows=numbers)


def find_problems(table: ir.Table, rules: Sequence[Rule], source: Source) -> list[InvalidValueError]:
    """The rules some rows of ``table`` break (counted in one scan), each as an error
    naming up to five of its rows (``table`` has the column :data:`ROW`)."""
    if not rules:
        return []
    # a rule that does not depend on the row (a column of an unknown type) is a scalar
    flags = [(rule.bad & table[ROW].notnull() if isinstance(rule.bad, ir.Scalar) else rule.bad).fill_null(False)
             for rule in rules]
    counts = table.aggregate(**{f"r{i}": ibis.ifelse(f, 1, 0).sum() for i, f in enumerate(flags)}).to_pandas()
    errors = []
    for i, (rule, flag) in enumerate(zip(rules, flags, strict=True)):
        count = counts[f"r{i}"].iloc[0]
        if pd.isna(count) or int(count) == 0:
            continue
        show = list(rule.show or (rule.column,))
        show = [*(k for k in source.key if k not in show and k in table.columns), *show]
        rows = table.filter(flag).order_by(ROW, *show).limit(MAX_ROWS_SHOWN).select(ROW, *show).to_pandas()
        errors.append(_failure(rows, int(count), source, rule.column, rule.problem, rule.expected, show))
    return errors


@dataclass(frozen=True)
class Checked:
    """A table that keeps the contract: ``clean`` in the contract's types for the
    metrics, ``typed`` the same with :data:`ROW`, for checks across tables."""

    clean: ir.Table
    typed: ir.Table


def validate(raw: ir.Table, spec: Table | str, source: Source, *, now: pd.Timestamp | None = None,
             check: bool = True) -> Checked:
    """The raw table in the contract's types, once every rule holds.

    Parameters
    ----------
    raw : Ibis table
        The table as stored (CSV as text, Parquet or a database as typed there), with
        the column :data:`ROW` numbering its rows from 0 as in the file.
    spec : Table or str
        The contract table, or its name.
    source : Source
        Where the table came from, for error messages.
    now : Timestamp, optional
        The time of the run (default: now): a timestamp of something that already
        happened (an event, a signup, a lead stage, a response, a close) after it is
        an error.
    check : bool
        False for a table known to keep the contract (checked earlier in the same
        report run): the types only, no rule is counted.

    Returns
    -------
    Checked
        Expressions over ``raw``: ids and text as strings, timestamps and dates as
        UTC timestamps, money and numbers as float64, scores as int64. Optional
        columns that were absent are added empty; extra columns are kept as they were.

    Raises
    ------
    DataError
        Every problem of the table together (see :meth:`DataError.together`); its
        ``frame`` is the table as far as it could be read, for checks across tables.
    """
    spec = table_spec(spec) if isinstance(spec, str) else spec
    now = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)
    columns = [c for c in raw.columns if c != ROW]
    errors: list[DataError] = []
    missing = [c for c in spec.required_columns if c not in columns]
    if missing:
        names = ", ".join(f"'{m}'" for m in missing)
        found = ", ".join(f"'{c}'" for c in columns) or "none"
        errors.append(MissingColumnError(
            f"{source.file}: required column {names} is missing; expected the columns of "
            f"the '{spec.name}' table ({', '.join(spec.required_columns)}; docs/data-contract.md), found {found}.",
            file=source.file,
            column=missing[0],
        ))
    typed: dict[str, ir.Value] = {}
    clean: dict[str, ir.Value] = {}
    rules: list[Rule] = []
    for col in spec.columns:
        if col.name not in columns:
            typed[col.name] = clean[col.name] = empty_value(col)
            continue
        periods = None
        if col.kind == "period":
            texts = raw.select(v=raw[col.name].cast("string")).distinct().to_pandas()["v"].dropna()
            periods = period_names(texts.tolist())
        typed[col.name], found = column_rules(raw, col, now=now, periods=periods)
        clean[col.name] = clean_value(raw[col.name], col, periods=periods)
        rules += found
    for col in spec.columns:
        if col.unique and col.name in columns:
            ids = raw.select(_id=typed[col.name])
            repeated = ids.group_by("_id").aggregate(_n=ids.count()).filter(lambda t: t._n > 1)
            rules.append(Rule(col.name, typed[col.name].isin(repeated._id), "a repeated id", "each id once"))
    for later, earlier, expected in _ORDER.get(spec.name, ()):
        if later in columns and earlier in columns:
            article = "an" if later[0] in "aeiou" else "a"
            rules.append(Rule(later, typed[later] < typed[earlier], f"{article} {later} before its {earlier}",
                              expected, (earlier, later)))
    extras = [c for c in columns if c not in typed]
    frame = raw.select(ROW, *[v.name(k) for k, v in typed.items()], *extras)
    if check:
        errors += find_problems(raw, rules, source)
    if errors:
        error = DataError.together(errors)
        error.frame = frame  # what could be read, for checks across tables
        error.table = spec.name
        raise error
    return Checked(clean=raw.select(*[v.name(k) for k, v in clean.items()], *extras), typed=frame)


# (later column, earlier column, what is expected) for the tables whose rows hold two times
_ORDER = {
    "subscriptions": (("end_date", "start_date",
                       "end_date on or after start_date (it is exclusive), or empty while active"),),
    "opportunities": (("closed_at", "created_at", "closed_at on or after created_at"),),
}


def check_table(frame: pd.DataFrame, table: str, *, now: pd.Timestamp | None = None) -> pd.DataFrame:
    """Validate a DataFrame an analyst passes straight to a metric function, and return it
    in the contract's types. Offending rows are named by the frame's index labels."""
    source = Source(file=f"the '{table}' DataFrame", row_word="index", index=frame.index)
    raw = frame.reset_index(drop=True)
    raw.insert(0, ROW, np.arange(len(raw), dtype="int64"))
    checked = validate(ibis.memtable(raw), table, source, now=now).typed
    out = checked.order_by(ROW).to_pandas().drop(columns=ROW)
    out.index = frame.index
    return out


def check_references(child: ir.Table, column: str, parent: ir.Table, parent_column: str,
                     source: Source, parent_file: str) -> list[InvalidValueError]:
    """The error (if any) for the non-empty ``child[column]`` missing from
    ``parent[parent_column]`` (``child`` has the column :data:`ROW`)."""
    values = child[column]
    rule = Rule(column, values.notnull() & ~values.isin(parent[parent_column]),
                f"an id missing from {parent_file}", f"every {column} to exist in {parent_file}")
    return find_problems(child, [rule], source)
