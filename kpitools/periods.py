"""Reporting periods: months (``2024-05``), quarters (``2024-Q2``), ISO weeks (``2024-W07``).

A period is the half-open interval ``[start, end)`` in UTC. Previous period,
same period last year, the last N periods and the latest complete period in
the data are all computed here, once, for every analysis.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from .errors import PeriodError

__all__ = ["Period", "PeriodKind", "parse_periods", "period_range", "latest_complete", "resolve_period",
           "resolve_periods", "check_within", "period_index", "FIRST_YEAR", "LAST_YEAR"]

# The years a date of the data contract, and so a period, may fall in.
FIRST_YEAR, LAST_YEAR = 1900, 2200

PeriodKind = Literal["M", "Q", "W"]

_PATTERNS: dict[str, re.Pattern[str]] = {
    "M": re.compile(r"^(\d{4})-(\d{2})$"),
    "Q": re.compile(r"^(\d{4})-Q(\d)$"),
    "W": re.compile(r"^(\d{4})-W(\d{2})$"),
}
_KIND_NAMES = {"M": "month", "Q": "quarter", "W": "week"}
_NAME_KINDS = {"month": "M", "quarter": "Q", "week": "W"}


def _weeks_in_iso_year(year: int) -> int:
    # December 28th is always in the last ISO week of its year.
    return dt.date(year, 12, 28).isocalendar()[1]


@dataclass(frozen=True, order=True)
class Period:
    """One reporting period.

    Parameters
    ----------
    kind : {"M", "Q", "W"}
        Month, quarter or ISO week.
    year : int
        Calendar year (ISO year for weeks).
    number : int
        Month 1-12, quarter 1-4 or ISO week 1-53.

    Examples
    --------
    >>> p = Period.parse("2024-Q2")
    >>> p.start, p.end
    (Timestamp('2024-04-01 00:00:00+0000', tz='UTC'), Timestamp('2024-07-01 00:00:00+0000', tz='UTC'))
    >>> str(p.previous()), str(p.same_period_last_year())
    ('2024-Q1', '2023-Q2')
    """

    kind: str
    year: int
    number: int

    def __post_init__(self) -> None:
        if self.kind not in _PATTERNS:
            raise PeriodError(f"period kind must be 'M', 'Q' or 'W', got {self.kind!r}")
        if not FIRST_YEAR <= self.year <= LAST_YEAR:
            raise PeriodError(f"period year must be between {FIRST_YEAR} and {LAST_YEAR}, got {self.year}")
        top = {"M": 12, "Q": 4, "W": _weeks_in_iso_year(self.year)}[self.kind]
        if not 1 <= self.number <= top:
            name = _KIND_NAMES[self.kind]
            raise PeriodError(
                f"{name} number must be between 1 and {top} in {self.year}, got {self.number}"
            )

    # -- construction -----------------------------------------------------------------
    @classmethod
    def parse(cls, text: str | Period) -> Period:
        """Parse ``YYYY-MM``, ``YYYY-Qn`` or ``YYYY-Www`` (case-insensitive)."""
        if isinstance(text, Period):
            return text
        if not isinstance(text, str):
            raise PeriodError(
                f"a period is a string such as '2024-05', '2024-Q2' or '2024-W07', got {text!r}"
            )
        clean = text.strip().upper()
        for kind, pattern in _PATTERNS.items():
            match = pattern.match(clean)
            if match:
                return cls(kind, int(match.group(1)), int(match.group(2)))
        raise PeriodError(
            f"cannot read period {text!r}: expected YYYY-MM (2024-05), YYYY-Qn (2024-Q2) "
            "or YYYY-Www (2024-W07)"
        )

    @classmethod
    def containing(cls, when: pd.Timestamp | dt.date | str, kind: str = "M") -> Period:
        """The period of the given kind that contains a timestamp."""
        ts = pd.Timestamp(when)
        if kind == "M":
            return cls("M", ts.year, ts.month)
        if kind == "Q":
            return cls("Q", ts.year, (ts.month - 1) // 3 + 1)
        if kind == "W":
            iso = ts.isocalendar()
            return cls("W", iso[0], iso[1])
        raise PeriodError(f"period kind must be 'M', 'Q' or 'W', got {kind!r}")

    # -- bounds -----------------------------------------------------------------------
    @property
    def start(self) -> pd.Timestamp:
        """First instant of the period (UTC)."""
        if self.kind == "M":
            return pd.Timestamp(self.year, self.number, 1, tz="UTC")
        if self.kind == "Q":
            return pd.Timestamp(self.year, 3 * self.number - 2, 1, tz="UTC")
        day = dt.date.fromisocalendar(self.year, self.number, 1)
        return pd.Timestamp(day.year, day.month, day.day, tz="UTC")

    @property
    def end(self) -> pd.Timestamp:
        """First instant after the period (exclusive bound, UTC)."""
        return self.shift(1).start

    @property
    def last_day(self) -> pd.Timestamp:
        """Midnight of the period's last day: where "value at period end" is read."""
        return self.end - pd.Timedelta(days=1)

    @property
    def days(self) -> int:
        """Number of days in the period."""
        return int((self.end - self.start) / pd.Timedelta(days=1))

    @property
    def months(self) -> float:
        """Length in months: 1 for a month, 3 for a quarter, 7/(365.25/12) for a week."""
        return {"M": 1.0, "Q": 3.0}.get(self.kind, 7 / (365.25 / 12))

    @property
    def kind_name(self) -> str:
        """``month``, ``quarter`` or ``week``."""
        return _KIND_NAMES[self.kind]

    @property
    def label(self) -> str:
        """A human title: ``September 2026``, ``Q3 2026``, ``Week 7, 2026``."""
        if self.kind == "M":
            return self.start.strftime("%B %Y")
        if self.kind == "Q":
            return f"Q{self.number} {self.year}"
        return f"Week {self.number}, {self.year} ({self.start:%d %b} to {self.last_day:%d %b})"

    def contains(self, when: pd.Timestamp) -> bool:
        """Whether a timestamp falls in ``[start, end)``."""
        ts = pd.Timestamp(when)
        if ts.tzinfo is None:
            ts = ts.tz_localize("UTC")
        return bool(self.start <= ts < self.end)

    # -- arithmetic -------------------------------------------------------------------
    def shift(self, n: int) -> Period:
        """The period ``n`` steps later (earlier for negative ``n``)."""
        if self.kind == "M":
            index = self.year * 12 + self.number - 1 + n
            return Period("M", index // 12, index % 12 + 1)
        if self.kind == "Q":
            index = self.year * 4 + self.number - 1 + n
            return Period("Q", index // 4, index % 4 + 1)
        monday = dt.date.fromisocalendar(self.year, self.number, 1) + dt.timedelta(weeks=n)
        iso = monday.isocalendar()
        return Period("W", iso[0], iso[1])

    def previous(self) -> Period:
        """The period just before this one."""
        return self.shift(-1)

    def same_period_last_year(self) -> Period:
        """Twelve months earlier; for a week, the same ISO week number a year earlier
        (week 53 maps to week 52 when the earlier year has none)."""
        if self.kind == "M":
            return self.shift(-12)
        if self.kind == "Q":
            return self.shift(-4)
        year = self.year - 1
        return Period("W", year, min(self.number, _weeks_in_iso_year(year)))

    def last_n(self, n: int) -> list[Period]:
        """The ``n`` periods ending with this one, oldest first."""
        if n < 1:
            raise PeriodError(f"last_n needs n >= 1, got {n}")
        return [self.shift(k) for k in range(-(n - 1), 1)]

    def __str__(self) -> str:
        if self.kind == "M":
            return f"{self.year:04d}-{self.number:02d}"
        if self.kind == "Q":
            return f"{self.year:04d}-Q{self.number}"
        return f"{self.year:04d}-W{self.number:02d}"

    def __repr__(self) -> str:
        return f"Period('{self}')"


def parse_periods(periods: str | Period | Iterable[str | Period]) -> list[Period]:
    """Periods from what a user passes where several are expected: a list of periods or
    period strings, or one period, or one string (``"2026-09"``, or comma-separated
    ``"2026-07,2026-08"``), never read character by character."""
    if isinstance(periods, Period):
        return [periods]
    if isinstance(periods, str):
        return [Period.parse(word.strip()) for word in periods.split(",") if word.strip()]
    return [Period.parse(p) for p in periods]


def period_range(first: str | Period, last: str | Period) -> list[Period]:
    """Every period from ``first`` to ``last`` inclusive; both of the same kind.

    ``period_range("2024-11", "2025-02")`` gives four months.
    """
    a, b = Period.parse(first), Period.parse(last)
    if a.kind != b.kind:
        raise PeriodError(f"a period range needs two periods of one kind, got {a} and {b}")
    if b < a:
        raise PeriodError(f"a period range must run forward, got {a}..{b}")
    out = [a]
    while out[-1] != b:
        out.append(out[-1].shift(1))
    return out


def latest_complete(data_end: pd.Timestamp, kind: str = "M") -> Period:
    """The last period that ends on or before the data's coverage end.

    The data is taken to cover whole days: a last timestamp on day ``d`` means
    the data runs to the start of ``d + 1``. A period is complete when its
    exclusive end is at or before that instant.
    """
    ts = pd.Timestamp(data_end)
    if ts.tzinfo is None:
        ts = ts.tz_localize("UTC")
    covered_to = ts.normalize() + pd.Timedelta(days=1)
    period = Period.containing(ts, kind)
    while period.end > covered_to:
        period = period.previous()
    return period


def resolve_period(text: str | Period | None, data_end: pd.Timestamp | None = None) -> Period:
    """Turn a period argument into a :class:`Period`.

    Accepts a period string, ``None`` or ``"latest"`` (the latest complete
    month), or ``"latest-month"``, ``"latest-quarter"``, ``"latest-week"``.
    """
    if isinstance(text, Period):
        return text
    word = (text or "latest").strip().lower()
    if word.startswith("latest"):
        name = word.partition("-")[2] or "month"
        if name not in _NAME_KINDS:
            raise PeriodError(
                f"cannot read period {text!r}: use latest-month, latest-quarter or latest-week"
            )
        if data_end is None:
            raise PeriodError(f"period {text!r} needs the data's end date")
        return latest_complete(data_end, _NAME_KINDS[name])
    return Period.parse(text)


def resolve_periods(period: str | None, periods: str | None,
                    data_range: tuple[pd.Timestamp, pd.Timestamp]) -> list[Period]:
    """The periods of a command line: ``--period`` (comma-separated words, default
    ``latest-month``) or ``--periods FIRST..LAST``, each within the data's range.

    Raises
    ------
    PeriodError
        A word is not a period, none is given, or a period lies outside the data.
    """
    end = data_range[1]
    if periods is not None:
        first, sep, last = periods.partition("..")
        if not sep or not first.strip() or not last.strip():
            raise PeriodError(f"--periods takes FIRST..LAST (2025-01..2025-06), got {periods!r}")
        found = period_range(resolve_period(first, end), resolve_period(last, end))
    else:
        words = [w for w in (period if period is not None else "latest-month").split(",") if w.strip()]
        if not words:
            raise PeriodError(f"--period names no period (got {period!r}); expected e.g. 2026-09, "
                              "2026-Q3 or latest-month")
        found = [resolve_period(w, end) for w in words]
    if not found:
        raise PeriodError(f"--periods {periods!r} is empty: its first period comes after its last")
    check_within(found, data_range)
    return list(dict.fromkeys(found))


def check_within(periods: Iterable[Period], data_range: tuple[pd.Timestamp, pd.Timestamp]) -> None:
    """Raise PeriodError naming the periods that lie wholly outside the data's range (a
    period the data covers in part, such as the current month, is allowed)."""
    start, end = data_range
    outside = [str(p) for p in periods if p.end <= start or p.start > end]
    if outside:
        raise PeriodError(f"period {', '.join(outside)} lies outside the data, which runs from "
                          f"{start:%Y-%m-%d} to {end:%Y-%m-%d}")


def period_index(when: pd.Series | pd.Index, origin: Period) -> np.ndarray:
    """For each timestamp, how many periods of ``origin``'s kind after ``origin`` its period
    lies (0 for ``origin`` itself, negative before it). Vectorised.
    """
    idx = pd.DatetimeIndex(pd.to_datetime(when, utc=True))
    if origin.kind == "M":
        return np.asarray(idx.year * 12 + idx.month - (origin.year * 12 + origin.number), dtype=np.int64)
    if origin.kind == "Q":
        return np.asarray(idx.year * 4 + (idx.month - 1) // 3 - (origin.year * 4 + origin.number - 1),
                          dtype=np.int64)
    week_ns = 7 * 86_400 * 10**9
    return np.floor_divide(idx.as_unit("ns").asi8 - origin.start.value, week_ns)
