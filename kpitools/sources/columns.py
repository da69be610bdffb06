"""The contract's rules for one column, as engine expressions over the raw table.

:func:`column_rules` gives a column's value in the contract's type and the :class:`Rule` s
it must keep, each an Ibis boolean expression that is true on an offending row. They are
portable expressions (a regular expression, a ``TRY_CAST``, comparisons), so the same
rules check a CSV file in the embedded DuckDB and a table in PostgreSQL; nothing is read
into pandas. :mod:`kpitools.sources.validate` counts the offending rows of every rule in
one scan and fetches a few of them to name.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir
import pandas as pd

from ..periods import FIRST_YEAR, LAST_YEAR, Period
from .schema import ENGINE_TYPES, Column

__all__ = ["Rule", "column_rules", "clean_value", "period_names", "empty_value", "FIRST_YEAR", "LAST_YEAR",
           "OPEN_END", "LARGEST_NUMBER"]

# Dates outside FIRST_YEAR..LAST_YEAR are typing mistakes (or a billing system's
# "never"). How billing exports write "no end": read as an open span.
OPEN_END = pd.Timestamp("9999-12-31", tz="UTC")
# No amount or count in a KPI table is this large; below it sums of a billion rows stay
# finite and whole units exact enough, above it a float sum loses cents and can overflow.
LARGEST_NUMBER = 1e15

UTC = dt.Timestamp(timezone="UTC")
# what a date or time written as text must start with (TRY_CAST alone would also read
# "infinity" or "epoch"); what a number written as text must look like
_DATE_TEXT = r"^\d{4}-\d{1,2}-\d{1,2}([T ].*)?$"
_NUMBER_TEXT = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"
_INFINITE_TEXT = r"^[+-]?([iI][nN][fF]|[iI][nN][fF][iI][nN][iI][tT][yY])$"


@dataclass(frozen=True)
class Rule:
    """The rows of one column that break one rule of the contract: ``bad`` is true on
    them (NULL counts as false); ``show`` names the columns to quote from such a row."""

    column: str
    bad: ir.BooleanValue
    problem: str
    expected: str
    show: tuple[str, ...] = ()


def empty_value(col: Column) -> ir.Value:
    """An empty value of ``col``'s contract type (an absent optional column)."""
    return ibis.null(ENGINE_TYPES[col.kind])


def column_rules(raw: ir.Table, col: Column, *, now: pd.Timestamp,
                 periods: dict[str, str] | None = None) -> tuple[ir.Value, list[Rule]]:
    """The column ``col.name`` of ``raw`` in the contract's type, and the rules it keeps.

    Ids and text become strings, timestamps and dates UTC timestamps (dates at
    midnight), money and numbers float64, scores int64, choices lower-case strings. A
    value that breaks a rule is empty in the typed column. ``periods`` maps the distinct
    texts of a ``period`` column to their canonical names (:func:`period_names`).
    """
    value = raw[col.name]
    kind = value.type()
    if kind.is_nested():
        return empty_value(col), [Rule(col.name, value.notnull(), "a nested value (a list or a record)",
                                       "one plain value per cell")]
    present = value.notnull()
    if kind.is_floating():  # NaN, as pandas and Parquet writers mark an empty number
        present = present & ~value.isnan().fill_null(False)
    if kind.is_string():
        # blank: empty or only whitespace; the pattern runs only on the few values whose
        # first character is a space or a control character (a third of the check's time)
        present = present & ibis.ifelse(value.ascii_str() > 32, True, ~value.re_search(r"^\s*$"))
    rules = []
    if col.required and not col.nullable:
        rules.append(Rule(col.name, ~present, "no value", "a value in every row"))
    parse = {"id": _text, "text": _text, "choice": _choice, "timestamp": _timestamp, "date": _timestamp,
             "period": _period}.get(col.kind, _number)
    typed, found = parse(value, col, present, now=now, periods=periods or {})
    return typed, rules + found


def _as_text(value: ir.Value) -> ir.StringValue:
    kind = value.type()
    if kind.is_string():
        return value
    if kind.is_floating():  # an integer id column with gaps arrives as float: 7.0 -> "7"
        return ibis.ifelse(value == value.floor(), value.cast("int64").cast("string"), value.cast("string"))
    return value.cast("string")


def _text(value, col, present, **_):
    return _as_text(value), []


def _choice(value, col, present, **_):
    text = _as_text(value).strip().lower()
    bad = present & ~text.isin(list(col.choices))
    rule = Rule(col.name, bad, "a value that is not allowed", " or ".join(repr(c) for c in col.choices))
    return ibis.ifelse(present & ~bad, text, ibis.null("string")), [rule]


def period_names(texts: list[str]) -> dict[str, str]:
    """The canonical name of each text that names a period (the others are left out)."""
    out = {}
    for text in texts:
        with contextlib.suppress(ValueError):
            out[text] = str(Period.parse(text))
    return out


def _period(value, col, present, periods, **_):
    text = _as_text(value)
    bad = present & ~text.isin(list(periods) or [""])
    typed = ibis.null("string")
    for given, canonical in periods.items():
        typed = ibis.ifelse(text == given, ibis.literal(canonical, "string"), typed)
    rule = Rule(col.name, bad, "a value that is not a period", "YYYY-MM, YYYY-Qn or YYYY-Www")
    return typed, [rule]


def _is_time(kind: dt.DataType) -> bool:
    """A stored date or time: also DuckDB's nanosecond timestamps, which Ibis 12 does not
    know (``TIMESTAMP_NS``, ``TIMESTAMPTZ_NS``: pandas writes Parquet so by default)."""
    return kind.is_timestamp() or kind.is_date() or (kind.is_unknown() and "TIMESTAMP" in str(kind).upper())


def _expected_time(col: Column) -> str:
    return "a date written YYYY-MM-DD" if col.kind == "date" else "an ISO 8601 timestamp (2024-05-31T14:02:00Z)"


def _timestamp(value, col, present, now, **_):
    kind = value.type()
    if kind.is_boolean() or kind.is_numeric():
        what = "a true/false value" if kind.is_boolean() else "a number"
        return empty_value(col), [Rule(col.name, present, f"{what} instead of a date or time", _expected_time(col))]
    rules = []
    if _is_time(kind):
        parsed = value.cast(UTC)
    else:
        text = _as_text(value).strip()
        parsed = ibis.ifelse(text.re_search(_DATE_TEXT), text.try_cast(UTC), ibis.null(UTC))
        rules.append(Rule(col.name, present & parsed.isnull(), "a value that cannot be read as a date or time",
                          _expected_time(col)))
    if col.kind == "date":
        parsed = parsed.truncate("D").cast(UTC)  # Ibis would forget the time zone
    lowest = ibis.literal(pd.Timestamp(f"{FIRST_YEAR}-01-01", tz="UTC").to_pydatetime(), UTC)
    beyond = ibis.literal(pd.Timestamp(f"{LAST_YEAR + 1}-01-01", tz="UTC").to_pydatetime(), UTC)
    is_open = (parsed.truncate("D") == ibis.literal(OPEN_END.to_pydatetime(), UTC)) if col.open_end \
        else ibis.literal(False)
    outside = ((parsed < lowest) | (parsed >= beyond)) & ~is_open
    allowed = f"a date in the years {FIRST_YEAR} to {LAST_YEAR}"
    if col.open_end:
        allowed += " (or 9999-12-31 for an open end)"
    rules.append(Rule(col.name, outside, "a date outside the years the contract accepts", allowed))
    keep = ~(outside.fill_null(False) | is_open.fill_null(False))
    if col.past:
        stamp = now.tz_convert("UTC") if now.tzinfo else now.tz_localize("UTC")
        future = parsed > ibis.literal(stamp.to_pydatetime(), UTC)
        rules.append(Rule(col.name, future & keep, f"a time later than the time of this run "
                          f"({stamp:%Y-%m-%d %H:%M} UTC)",
                          "only things that already happened (a clock or time zone error, or a test row?)"))
        keep = keep & ~future.fill_null(False)
    return ibis.ifelse(keep, parsed, ibis.null(UTC)), rules


def _number(value, col, present, **_):
    kind = value.type()
    if kind.is_boolean():
        return empty_value(col), [Rule(col.name, present, "a true/false value", "a plain number such as 1250.50")]
    if kind.is_numeric():
        number = value.cast("float64")
        infinite = number.isinf()
    else:
        text = _as_text(value).strip()
        number = ibis.ifelse(text.re_search(_NUMBER_TEXT), text.try_cast("float64"), ibis.null("float64"))
        infinite = text.re_search(_INFINITE_TEXT)
        number = ibis.ifelse(infinite, ibis.literal(float("inf")), number)
    unreadable = present & ~infinite.fill_null(False) & (number.isnull() | number.isnan().fill_null(False))
    infinite = present & infinite.fill_null(False)
    huge = present & ~infinite & (number.abs() >= LARGEST_NUMBER).fill_null(False)
    rules = [Rule(col.name, unreadable, "a value that is not a number", "a plain number such as 1250.50"),
             Rule(col.name, infinite, "a value that is not finite", "a finite number (not inf or Infinity)"),
             Rule(col.name, huge, "a value too large to add up safely", f"a number below {LARGEST_NUMBER:.0e} in size")]
    valid = present & ~unreadable & ~infinite & ~huge
    if col.kind == "money":
        rule = Rule(col.name, valid & (number < 0), "a negative amount", "an amount >= 0")
    elif col.kind == "probability":
        rule = Rule(col.name, valid & ((number < 0) | (number > 1)), "a value outside [0, 1]",
                    "a probability from 0 to 1")
    elif col.kind == "score":
        rule = Rule(col.name, valid & ((number < 0) | (number > 10) | (number != number.floor())),
                    "a score that is not a whole number from 0 to 10", "an integer 0..10")
    else:
        rule = None
    if rule is not None:
        rules.append(rule)
        valid = valid & ~rule.bad
    typed = ibis.ifelse(valid, number, ibis.null("float64"))
    return (typed.cast("int64") if col.kind == "score" else typed), rules


def clean_value(value: ir.Value, col: Column, *, periods: dict[str, str] | None = None) -> ir.Value:
    """The column in the contract's type once its rules hold: the fewest conversions (a
    UTC timestamp column stays the stored column, so a filter on it reaches the scan)."""
    kind = value.type()
    if col.kind in ("id", "text"):
        return _as_text(value)
    if col.kind == "choice":
        return _as_text(value).strip().lower()
    if col.kind == "period":
        typed, _ = _period(value, col, value.notnull(), periods=periods or {})
        return typed
    if col.kind in ("timestamp", "date"):
        if kind.is_timestamp() and kind.timezone == "UTC":
            parsed = value
        elif _is_time(kind):
            parsed = value.cast(UTC)
        else:
            parsed = _as_text(value).strip().try_cast(UTC)
        if col.kind == "date":
            parsed = parsed.truncate("D").cast(UTC)  # Ibis would forget the time zone
        if col.open_end:
            is_open = parsed.truncate("D") == ibis.literal(OPEN_END.to_pydatetime(), UTC)
            parsed = ibis.ifelse(is_open, ibis.null(UTC), parsed)
        return parsed
    if kind.is_numeric():
        number = value.cast("float64")
        if kind.is_floating():
            number = ibis.ifelse(number.isnan(), ibis.null("float64"), number)
    else:
        number = _as_text(value).strip().nullif("").try_cast("float64")
    return number.cast("int64") if col.kind == "score" else number
