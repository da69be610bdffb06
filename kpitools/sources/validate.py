"""Parse and check one table against the data contract.

Every rule under "Bad input" in the contract lives here and in
:mod:`kpitools.sources.columns`. Every problem of a table is found before anything is
raised; they come as one :class:`~kpitools.errors.DataError` that names, for each,
the file, the column, what was expected and up to five offending rows as numbered
in the file; never a traceback from inside pandas.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import DataError, InvalidValueError, MissingColumnError
from .columns import Problem, empty_column, parse_column
from .schema import Table, table_spec

__all__ = ["Source", "parse_table", "check_table", "check_references"]

MAX_ROWS_SHOWN = 5


@dataclass(frozen=True)
class Source:
    """Where a table came from, to number its rows as the analyst sees them.

    ``row_offset`` is added to a row's 0-based position: 2 for a CSV file (the
    header is line 1), 1 for a Parquet file. ``index`` replaces positions by
    index labels, for a DataFrame passed in directly. ``kept`` maps the rows read
    to their positions in the file when only some were kept. ``lines`` gives the
    first line of each record of a CSV file (a quoted value may span lines); it is
    called only when a row is named in an error.
    """

    file: str
    row_word: str = "line"
    row_offset: int = 2
    index: pd.Index | None = None
    kept: np.ndarray | None = None
    lines: Callable[[], np.ndarray] | None = None

    def row_number(self, position: int) -> int | str:
        if self.index is not None:
            return self.index[position]
        position = int(self.kept[position]) if self.kept is not None else int(position)
        if self.lines is not None:
            lines = self.lines()
            if position < len(lines):
                return int(lines[position])
        return position + self.row_offset


def _show(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
        return "(empty)"
    text = str(value)
    return repr(text if len(text) <= 40 else text[:37] + "...")


def _error(raw: pd.DataFrame, source: Source, problem: Problem) -> InvalidValueError:
    return _fail(raw, source, problem.column, problem.bad, problem.problem, problem.expected,
                 show=problem.show or None)


def _fail(
    raw: pd.DataFrame,
    source: Source,
    column: str,
    bad: np.ndarray,
    problem: str,
    expected: str,
    show: Sequence[str] | None = None,
) -> InvalidValueError:
    """One InvalidValueError for the rows where ``bad`` is True."""
    positions = np.flatnonzero(bad)
    show = list(show or [column])
    shown = positions[:MAX_ROWS_SHOWN]
    numbers = [source.row_number(p) for p in shown]
    parts = []
    for pos, number in zip(shown, numbers, strict=True):
        values = ", ".join(f"{c}={_show(raw[c].iloc[pos])}" for c in show if c in raw)
        parts.append(f"{source.row_word} {number}: {values}")
    more = f" (and {len(positions) - len(shown)} more)" if len(positions) > len(shown) else ""
    rows_word = "row has" if len(positions) == 1 else "rows have"
    message = (
        f"{source.file}, column '{column}': {len(positions)} {rows_word} {problem}; "
        f"expected {expected}.\n  " + "\n  ".join(parts) + more
    )
    return InvalidValueError(message, file=source.file, column=column, rows=numbers)


def parse_table(raw: pd.DataFrame, spec: Table | str, source: Source, *,
                now: pd.Timestamp | None = None) -> pd.DataFrame:
    """Parse a raw table into the contract's types, enforcing every rule.

    Parameters
    ----------
    raw : DataFrame
        The table as read (CSV as strings, Parquet as stored).
    spec : Table or str
        The contract table, or its name.
    source : Source
        Where the table came from, for error messages.
    now : Timestamp, optional
        The time of the run (default: now): a timestamp of something that already
        happened (an event, a signup, a lead stage, a response, a close) after it is
        an error.

    Returns
    -------
    DataFrame
        A new frame: ids and text as strings, timestamps and dates as
        ``datetime64[ns, UTC]``, money and numbers as float, scores as Int64.
        Optional columns that were absent are added empty; extra columns are
        kept as they were.

    Raises
    ------
    DataError
        Every problem of the table together (see :meth:`DataError.together`).
    """
    spec = table_spec(spec) if isinstance(spec, str) else spec
    now = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)
    raw = raw.reset_index(drop=True) if source.index is None else raw
    errors: list[DataError] = []
    missing = [c for c in spec.required_columns if c not in raw.columns]
    if missing:
        names = ", ".join(f"'{m}'" for m in missing)
        found = ", ".join(f"'{c}'" for c in raw.columns) or "none"
        errors.append(MissingColumnError(
            f"{source.file}: required column {names} is missing; expected the columns of "
            f"the '{spec.name}' table ({', '.join(spec.required_columns)}), found {found}.",
            file=source.file,
            column=missing[0],
        ))
    out, problems = {}, []
    for col in spec.columns:
        if col.name in raw.columns:
            out[col.name], found = parse_column(raw, col, now=now)
            problems += found
        else:
            out[col.name] = empty_column(col, raw.index)
    frame = pd.DataFrame(out, index=raw.index)
    for extra in raw.columns:
        if extra not in frame.columns:
            frame[extra] = raw[extra]

    for col in spec.columns:
        if col.unique:
            dup = frame[col.name].duplicated(keep=False).to_numpy() & frame[col.name].notna().to_numpy()
            if dup.any():
                problems.append(Problem(col.name, dup, "a repeated id", "each id once"))
    for later, earlier, expected in _ORDER.get(spec.name, ()):
        bad = (frame[later] < frame[earlier]).fillna(False).to_numpy(dtype=bool)
        if bad.any():
            article = "an" if later[0] in "aeiou" else "a"
            problems.append(Problem(later, bad, f"{article} {later} before its {earlier}", expected,
                                    (earlier, later)))
    errors += [_error(raw, source, p) for p in problems]
    if errors:
        error = DataError.together(errors)
        error.frame = frame.reset_index(drop=True)  # what could be read, for checks across tables
        error.table = spec.name
        raise error
    return frame.reset_index(drop=True)


# (later column, earlier column, what is expected) for the tables whose rows hold two times
_ORDER = {
    "subscriptions": (("end_date", "start_date",
                       "end_date on or after start_date (it is exclusive), or empty while active"),),
    "opportunities": (("closed_at", "created_at", "closed_at on or after created_at"),),
}


def check_table(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """Validate a DataFrame an analyst passes straight to a metric function.

    Offending rows are named by the frame's index labels.
    """
    source = Source(file=f"the '{table}' DataFrame", row_word="index", index=frame.index)
    return parse_table(frame, table, source)


def check_references(
    child: pd.DataFrame,
    column: str,
    parent: pd.DataFrame,
    parent_column: str,
    source: Source,
    parent_file: str,
) -> None:
    """Every non-empty ``child[column]`` must exist in ``parent[parent_column]``."""
    from .membership import isin

    values = child[column]
    bad = values.notna().to_numpy() & ~isin(values, parent[parent_column])
    if bad.any():
        raise _fail(child, source, column, bad, f"an id missing from {parent_file}",
                    f"every {column} to exist in {parent_file}")
