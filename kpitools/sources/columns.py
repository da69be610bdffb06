"""Parse one column of a raw table into the contract's type and find the rows that break
its rules.

Each parser returns the typed column and the :class:`Problem` s it found; it never
raises, so that every problem of every table can be reported together (see
:mod:`kpitools.sources.validate`, which numbers the rows as in the file).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..periods import FIRST_YEAR, LAST_YEAR, Period
from .schema import Column

__all__ = ["Problem", "parse_column", "empty_column", "FIRST_YEAR", "LAST_YEAR", "OPEN_END", "LARGEST_NUMBER"]

# Dates outside FIRST_YEAR..LAST_YEAR are typing mistakes (or a billing system's
# "never"), and beyond the range a nanosecond timestamp holds.
# How billing exports write "no end": read as an open span.
OPEN_END = pd.Timestamp("9999-12-31", tz="UTC")
# No amount or count in a KPI table is this large; below it sums of a billion rows stay
# finite and whole units exact enough, above it a float sum loses cents and can overflow.
LARGEST_NUMBER = 1e15


@dataclass(frozen=True)
class Problem:
    """The rows of one column that break one rule of the contract."""

    column: str
    bad: np.ndarray  # one bool per row
    problem: str
    expected: str
    show: tuple[str, ...] = ()


def parse_column(raw: pd.DataFrame, col: Column, *, now: pd.Timestamp) -> tuple[pd.Series, list[Problem]]:
    """The column ``col.name`` of ``raw`` in the contract's type, and what is wrong with it.

    Ids and text become strings, timestamps and dates ``datetime64[ns, UTC]`` (dates at
    midnight), money and numbers float64, scores Int64, choices lower-case strings.
    A value that breaks a rule is left empty in the result and named in a Problem.
    """
    series = raw[col.name]
    nested = _nested(series)
    if nested.any():
        return empty_column(col, series.index), [Problem(col.name, nested, "a nested value (a list or a record)",
                                                 "one plain value per cell")]
    present = series.notna().to_numpy().copy()
    if col.kind in ("text", "id", "choice", "period") and (
            series.dtype == object or pd.api.types.is_string_dtype(series)):
        present &= ~_blank(series)
    problems = []
    if col.required and not col.nullable and not present.all():
        problems.append(Problem(col.name, ~present, "no value", "a value in every row"))
    parse = {"id": _text, "text": _text, "choice": _choice, "timestamp": _timestamp, "date": _timestamp,
             "period": _period, "score": _number}.get(col.kind, _number)
    out, found = parse(series, col, present, now)
    return out, problems + found


def _nested(series: pd.Series) -> np.ndarray:
    if series.dtype != object:
        return np.zeros(len(series), dtype=bool)
    return series.map(lambda v: isinstance(v, (list, tuple, dict, set, np.ndarray))).to_numpy(dtype=bool)


def empty_column(col: Column, index: pd.Index) -> pd.Series:
    """An all-empty column of ``col``'s parsed type (for an absent optional column, or one
    whose every value was rejected)."""
    if col.kind in ("timestamp", "date"):
        return pd.Series(pd.NaT, index=index, dtype="datetime64[ns, UTC]")
    if col.kind == "score":
        return pd.Series(pd.NA, index=index, dtype="Int64")
    if col.kind in ("money", "number", "probability"):
        return pd.Series(np.nan, index=index, dtype="float64")
    return pd.Series(None, index=index, dtype="str")


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
        if len(whole) and np.isfinite(whole).all() and (whole == np.floor(whole)).all():
            series = series.astype("Int64")
    if isinstance(series.dtype, pd.StringDtype):
        return series
    out = series.astype("str")
    return out.where(series.notna(), None).astype("str")


def _text(series, col, present, now):
    return _to_text(series), []


def _choice(series, col, present, now):
    text = _to_text(series).str.strip().str.lower()
    bad = present & ~text.isin(col.choices).to_numpy()
    problems = []
    if bad.any():
        problems.append(Problem(col.name, bad, "a value that is not allowed",
                                " or ".join(repr(c) for c in col.choices)))
    return text.where(present & ~bad, None), problems


def _period(series, col, present, now):
    text = _to_text(series)
    bad = np.zeros(len(text), dtype=bool)
    canonical = {}
    for value in text[present].unique():
        try:
            canonical[value] = str(Period.parse(value))
        except ValueError:
            bad |= (text == value).fillna(False).to_numpy()
    problems = []
    if bad.any():
        problems.append(Problem(col.name, bad, "a value that is not a period", "YYYY-MM, YYYY-Qn or YYYY-Www"))
    return text.map(canonical).astype("str"), problems


def _to_timestamp(series: pd.Series) -> pd.Series:
    """UTC timestamps in whatever unit holds them (nanoseconds end in 2262)."""
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        return series.dt.tz_convert("UTC")
    if pd.api.types.is_datetime64_dtype(series):
        return series.dt.tz_localize("UTC")
    values = series.astype("object")
    values = values.where(series.notna(), None)
    # Parquet date columns arrive as datetime.date objects; strings as ISO 8601.
    out = pd.to_datetime(values.map(_iso_text), utc=True, format="ISO8601", errors="coerce")
    if not isinstance(out.dtype, pd.DatetimeTZDtype):  # every value empty
        out = pd.Series(pd.NaT, index=series.index, dtype="datetime64[us, UTC]")
    return out


def _iso_text(value: object) -> object:
    if value is None:
        return None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value).strip() or None


def _timestamp(series, col, present, now):
    problems = []
    if pd.api.types.is_bool_dtype(series) or pd.api.types.is_numeric_dtype(series):
        what = "a true/false value" if pd.api.types.is_bool_dtype(series) else "a number"
        if present.any():
            problems.append(Problem(col.name, present, f"{what} instead of a date or time", _expected_time(col)))
        return empty_column(col, series.index), problems
    parsed = _to_timestamp(series)
    unreadable = present & parsed.isna().to_numpy()
    if unreadable.any():
        problems.append(Problem(col.name, unreadable, "a value that cannot be read as a date or time",
                                _expected_time(col)))
    if col.kind == "date":
        parsed = parsed.dt.floor("D")
    years = parsed.dt.year.to_numpy(dtype="float64", na_value=np.nan)
    is_open = (parsed == OPEN_END).to_numpy(dtype=bool) if col.open_end else np.zeros(len(parsed), bool)
    outside = ((years < FIRST_YEAR) | (years > LAST_YEAR)) & ~is_open
    if outside.any():
        allowed = f"a date in the years {FIRST_YEAR} to {LAST_YEAR}"
        if col.open_end:
            allowed += " (or 9999-12-31 for an open end)"
        problems.append(Problem(col.name, outside, "a date outside the years the contract accepts", allowed))
    keep = ~(outside | is_open)
    parsed = parsed.where(keep).dt.as_unit("ns")
    if col.past:
        future = (parsed > now).to_numpy(dtype=bool)
        if future.any():
            problems.append(Problem(col.name, future, f"a time later than the time of this run "
                                    f"({now:%Y-%m-%d %H:%M} UTC)",
                                    "only things that already happened (a clock or time zone "
                                    "error, or a test row?)"))
            parsed = parsed.where(~future)
    return parsed, problems


def _expected_time(col: Column) -> str:
    return "a date written YYYY-MM-DD" if col.kind == "date" else "an ISO 8601 timestamp (2024-05-31T14:02:00Z)"


def _number(series, col, present, now):
    problems = []
    if pd.api.types.is_bool_dtype(series) or (
            series.dtype == object and series.map(lambda v: isinstance(v, (bool, np.bool_))).any()):
        problems.append(Problem(col.name, present, "a true/false value", "a plain number such as 1250.50"))
        return empty_column(col, series.index), problems
    if pd.api.types.is_numeric_dtype(series):
        number = series.astype("float64")
    else:
        text = series.astype("object").where(series.notna(), None)
        number = pd.to_numeric(text.map(lambda v: v.strip() if isinstance(v, str) else v),
                               errors="coerce").astype("float64")
    values = number.to_numpy()
    with np.errstate(invalid="ignore"):
        unreadable = present & np.isnan(values)
        infinite = present & np.isinf(values)
        huge = present & np.isfinite(values) & (np.abs(values) >= LARGEST_NUMBER)
    for bad, what, expected in (
            (unreadable, "a value that is not a number", "a plain number such as 1250.50"),
            (infinite, "a value that is not finite", "a finite number (not inf or Infinity)"),
            (huge, "a value too large to add up safely", f"a number below {LARGEST_NUMBER:.0e} in size")):
        if bad.any():
            problems.append(Problem(col.name, bad, what, expected))
    valid = present & ~unreadable & ~infinite & ~huge
    with np.errstate(invalid="ignore"):
        if col.kind == "money":
            rule = ("a negative amount", "an amount >= 0", valid & (values < 0))
        elif col.kind == "probability":
            rule = ("a value outside [0, 1]", "a probability from 0 to 1", valid & ((values < 0) | (values > 1)))
        elif col.kind == "score":
            rule = ("a score that is not a whole number from 0 to 10", "an integer 0..10",
                    valid & ((values < 0) | (values > 10) | (values != np.floor(values))))
        else:
            rule = ("", "", np.zeros(len(values), dtype=bool))
    if rule[2].any():
        problems.append(Problem(col.name, rule[2], rule[0], rule[1]))
        valid &= ~rule[2]
    number = number.where(valid | ~present)
    if col.kind == "score":
        return number.astype("Int64"), problems
    return number, problems
