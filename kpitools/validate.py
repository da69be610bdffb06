"""Parse and check one table against the data contract.

Every rule under "Bad input" in the contract lives here. A broken table gives
one :class:`~kpitools.errors.DataError` that names the file, the column, what
was expected and up to five offending rows as numbered in the file; never a
traceback from inside pandas.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .errors import InvalidValueError, MissingColumnError
from .periods import Period
from .schema import Column, Table, table_spec

__all__ = ["Source", "parse_table", "check_table", "check_references"]

MAX_ROWS_SHOWN = 5


@dataclass(frozen=True)
class Source:
    """Where a table came from, to number its rows as the analyst sees them.

    ``row_offset`` is added to a row's 0-based position: 2 for a CSV file (the
    header is line 1), 1 for a Parquet file. ``index`` replaces positions by
    index labels, for a DataFrame passed in directly.
    """

    file: str
    row_word: str = "line"
    row_offset: int = 2
    index: pd.Index | None = None

    def row_number(self, position: int) -> int | str:
        if self.index is not None:
            return self.index[position]
        return int(position) + self.row_offset


def _show(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
        return "(empty)"
    text = str(value)
    return repr(text if len(text) <= 40 else text[:37] + "...")


def _fail(
    raw: pd.DataFrame,
    source: Source,
    column: str,
    bad: np.ndarray,
    problem: str,
    expected: str,
    show: Sequence[str] | None = None,
) -> None:
    """Raise one InvalidValueError for the rows where ``bad`` is True."""
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
    raise InvalidValueError(message, file=source.file, column=column, rows=numbers)


def _blank(series: pd.Series) -> np.ndarray:
    """Empty or whitespace-only strings (False for missing values). On Arrow strings a
    classification kernel, which allocates no stripped copy of the column."""
    if isinstance(series.dtype, pd.StringDtype) and hasattr(series.array, "__arrow_array__"):
        import pyarrow.compute as pc

        values = series.array.__arrow_array__()
        blank = pc.or_(pc.utf8_is_space(values), pc.equal(pc.binary_length(values), 0))
        if not pc.any(blank).as_py():  # the usual case: nothing to mark
            return np.zeros(len(series), dtype=bool)
        return blank.fill_null(False).to_numpy(zero_copy_only=False).astype(bool)
    return series.astype("str").str.strip().eq("").fillna(False).to_numpy(dtype=bool)


def _to_text(series: pd.Series) -> pd.Series:
    if pd.api.types.is_float_dtype(series):
        # An integer id column with gaps arrives as float from some writers: 7.0 -> "7".
        whole = series.dropna()
        if (whole == np.floor(whole)).all():
            series = series.astype("Int64")
    if isinstance(series.dtype, pd.StringDtype):
        return series
    out = series.astype("str")
    return out.where(series.notna(), None).astype("str")


def _to_timestamp(series: pd.Series) -> pd.Series:
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        out = series.dt.tz_convert("UTC")
    elif pd.api.types.is_datetime64_dtype(series):
        out = series.dt.tz_localize("UTC")
    else:
        values = series.astype("object")
        values = values.where(series.notna(), None)
        # Parquet date columns arrive as datetime.date objects; strings as ISO 8601.
        out = pd.to_datetime(values.map(_iso_text), utc=True, format="ISO8601", errors="coerce")
    return out.dt.as_unit("ns")


def _iso_text(value: object) -> object:
    if value is None:
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value).strip() or None


def _parse_column(raw: pd.DataFrame, col: Column, source: Source) -> pd.Series:
    series = raw[col.name]
    present = series.notna().to_numpy().copy()
    if col.kind in ("text", "id", "choice") and (
            series.dtype == object or pd.api.types.is_string_dtype(series)):
        present = present & ~_blank(series)

    if not col.nullable and col.required and not present.all():
        _fail(raw, source, col.name, ~present, "no value", "a value in every row")

    if col.kind in ("id", "text"):
        return _to_text(series)
    if col.kind == "choice":
        text = _to_text(series).str.strip().str.lower()
        bad = present & ~text.isin(col.choices).to_numpy()
        if bad.any():
            allowed = " or ".join(repr(c) for c in col.choices)
            _fail(raw, source, col.name, bad, "a value that is not allowed", allowed)
        return text.where(present, None)
    if col.kind in ("timestamp", "date"):
        parsed = _to_timestamp(series)
        bad = present & parsed.isna().to_numpy()
        if bad.any():
            what = "an ISO 8601 timestamp (2024-05-31T14:02:00Z)"
            if col.kind == "date":
                what = "a date written YYYY-MM-DD"
            _fail(raw, source, col.name, bad, "a value that cannot be read as a date or time", what)
        if col.kind == "date":
            parsed = parsed.dt.floor("D")
        return parsed
    if col.kind == "period":
        text = _to_text(series)
        bad = np.zeros(len(text), dtype=bool)
        for value in text.dropna().unique():
            try:
                Period.parse(value)
            except ValueError:
                bad |= (text == value).fillna(False).to_numpy()
        if bad.any():
            _fail(raw, source, col.name, bad, "a value that is not a period", "YYYY-MM, YYYY-Qn or YYYY-Www")
        return text.map(lambda v: str(Period.parse(v)) if isinstance(v, str) else v).astype("str")

    # numbers
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        number = series.astype("float64")
    else:
        text = series.astype("object").where(series.notna(), None)
        number = pd.to_numeric(text.map(lambda v: v.strip() if isinstance(v, str) else v),
                               errors="coerce").astype("float64")
    bad = present & number.isna().to_numpy()
    if bad.any():
        _fail(raw, source, col.name, bad, "a value that is not a number", "a plain number such as 1250.50")
    values = number.to_numpy()
    if col.kind == "money":
        bad = present & (values < 0)
        if bad.any():
            _fail(raw, source, col.name, bad, "a negative amount", "an amount >= 0")
    elif col.kind == "probability":
        bad = present & ((values < 0) | (values > 1))
        if bad.any():
            _fail(raw, source, col.name, bad, "a value outside [0, 1]", "a probability from 0 to 1")
    elif col.kind == "score":
        bad = present & ((values < 0) | (values > 10) | (values != np.floor(values)))
        if bad.any():
            _fail(raw, source, col.name, bad, "a score that is not a whole number from 0 to 10",
                  "an integer 0..10")
        return number.astype("Int64")
    return number


def parse_table(raw: pd.DataFrame, spec: Table | str, source: Source) -> pd.DataFrame:
    """Parse a raw table into the contract's types, enforcing every rule.

    Parameters
    ----------
    raw : DataFrame
        The table as read (CSV as strings, Parquet as stored).
    spec : Table or str
        The contract table, or its name.
    source : Source
        Where the table came from, for error messages.

    Returns
    -------
    DataFrame
        A new frame: ids and text as strings, timestamps and dates as
        ``datetime64[ns, UTC]``, money and numbers as float, scores as Int64.
        Optional columns that were absent are added empty; extra columns are
        kept as they were.
    """
    spec = table_spec(spec) if isinstance(spec, str) else spec
    raw = raw.reset_index(drop=True) if source.index is None else raw
    missing = [c for c in spec.required_columns if c not in raw.columns]
    if missing:
        names = ", ".join(f"'{m}'" for m in missing)
        found = ", ".join(f"'{c}'" for c in raw.columns) or "none"
        raise MissingColumnError(
            f"{source.file}: required column {names} is missing; expected the columns of "
            f"the '{spec.name}' table ({', '.join(spec.required_columns)}), found {found}.",
            file=source.file,
            column=missing[0],
        )
    out = {}
    for col in spec.columns:
        if col.name in raw.columns:
            out[col.name] = _parse_column(raw, col, source)
        else:
            out[col.name] = _empty(col, len(raw))
    frame = pd.DataFrame(out, index=raw.index)
    for extra in raw.columns:
        if extra not in frame.columns:
            frame[extra] = raw[extra]

    for col in spec.columns:
        if col.unique:
            dup = frame[col.name].duplicated(keep=False).to_numpy() & frame[col.name].notna().to_numpy()
            if dup.any():
                _fail(raw, source, col.name, dup, "a repeated id", "each id once")
    if spec.name == "subscriptions":
        bad = (frame["end_date"] < frame["start_date"]).fillna(False).to_numpy()
        if bad.any():
            _fail(raw, source, "end_date", bad, "an end_date before its start_date",
                  "end_date on or after start_date (it is exclusive), or empty while active",
                  show=["start_date", "end_date"])
    if spec.name == "opportunities":
        bad = (frame["closed_at"] < frame["created_at"]).fillna(False).to_numpy()
        if bad.any():
            _fail(raw, source, "closed_at", bad, "a closed_at before its created_at",
                  "closed_at on or after created_at", show=["created_at", "closed_at"])
    return frame.reset_index(drop=True)


def _empty(col: Column, n: int) -> pd.Series:
    if col.kind in ("timestamp", "date"):
        return pd.Series(pd.NaT, index=range(n), dtype="datetime64[ns, UTC]")
    if col.kind in ("money", "number", "probability"):
        return pd.Series(np.nan, index=range(n), dtype="float64")
    if col.kind == "score":
        return pd.Series(pd.NA, index=range(n), dtype="Int64")
    return pd.Series(None, index=range(n), dtype="str")


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
        _fail(child, source, column, bad, f"an id missing from {parent_file}",
              f"every {column} to exist in {parent_file}")
