import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from kpitools import Period, PeriodError, latest_complete, period_range
from kpitools.periods import resolve_period

UTC = "UTC"


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz=UTC)


@pytest.mark.parametrize(
    "text, start, end",
    [
        ("2024-02", "2024-02-01", "2024-03-01"),
        ("2024-12", "2024-12-01", "2025-01-01"),
        ("2024-Q1", "2024-01-01", "2024-04-01"),
        ("2024-Q4", "2024-10-01", "2025-01-01"),
        ("2024-W01", "2024-01-01", "2024-01-08"),  # 1 Jan 2024 is a Monday
        ("2021-W01", "2021-01-04", "2021-01-11"),  # ISO week 1 of 2021 starts 4 Jan
        ("2020-W53", "2020-12-28", "2021-01-04"),
    ],
)
def test_bounds(text, start, end):
    p = Period.parse(text)
    assert p.start == ts(start)
    assert p.end == ts(end)
    assert str(p) == text


def test_days_and_last_day():
    assert Period.parse("2024-02").days == 29
    assert Period.parse("2023-02").days == 28
    assert Period.parse("2024-Q1").days == 91
    assert Period.parse("2024-02").last_day == ts("2024-02-29")
    assert Period.parse("2024-Q2").last_day == ts("2024-06-30")


@pytest.mark.parametrize(
    "text, previous, last_year",
    [
        ("2024-01", "2023-12", "2023-01"),
        ("2024-Q1", "2023-Q4", "2023-Q1"),
        ("2021-W01", "2020-W53", "2020-W01"),
        ("2020-W53", "2020-W52", "2019-W52"),  # 2019 has 52 ISO weeks
    ],
)
def test_previous_and_last_year(text, previous, last_year):
    p = Period.parse(text)
    assert str(p.previous()) == previous
    assert str(p.same_period_last_year()) == last_year


def test_last_n_and_range():
    assert [str(p) for p in Period.parse("2024-02").last_n(3)] == ["2023-12", "2024-01", "2024-02"]
    assert [str(p) for p in period_range("2024-Q3", "2025-Q1")] == ["2024-Q3", "2024-Q4", "2025-Q1"]
    with pytest.raises(PeriodError, match="one kind"):
        period_range("2024-01", "2024-Q2")
    with pytest.raises(PeriodError, match="run forward"):
        period_range("2024-05", "2024-01")


@pytest.mark.parametrize("bad", ["2024-13", "2024-00", "2024-Q5", "2024-W54", "2021-W53", "24-01",
                                 "2024/01", "", "May 2024"])
def test_rejects_malformed(bad):
    with pytest.raises(PeriodError):
        Period.parse(bad)


def test_error_message_names_the_formats():
    with pytest.raises(PeriodError, match=r"YYYY-MM \(2024-05\), YYYY-Qn"):
        Period.parse("2024/05")


def test_latest_complete():
    # Data through 14 Oct 2026 (any time that day) covers September and Q3 fully.
    end = ts("2026-10-14 17:00")
    assert str(latest_complete(end, "M")) == "2026-09"
    assert str(latest_complete(end, "Q")) == "2026-Q3"
    assert str(latest_complete(end, "W")) == "2026-W41"  # Mon 5 to Sun 11 Oct
    # A last timestamp on the month's last day completes the month.
    assert str(latest_complete(ts("2026-09-30 00:05"), "M")) == "2026-09"
    assert str(latest_complete(ts("2026-09-29 23:59"), "M")) == "2026-08"
    assert str(latest_complete(ts("2026-09-30 23:59"), "Q")) == "2026-Q3"


def test_resolve_period_keywords():
    end = ts("2026-10-14")
    assert str(resolve_period(None, end)) == "2026-09"
    assert str(resolve_period("latest-quarter", end)) == "2026-Q3"
    assert str(resolve_period("2025-Q2", end)) == "2025-Q2"
    with pytest.raises(PeriodError, match="latest-month, latest-quarter"):
        resolve_period("latest-year", end)


periods = st.one_of(
    st.builds(Period, st.just("M"), st.integers(1990, 2060), st.integers(1, 12)),
    st.builds(Period, st.just("Q"), st.integers(1990, 2060), st.integers(1, 4)),
    st.builds(Period, st.just("W"), st.integers(1990, 2060), st.integers(1, 52)),
)


@given(periods, st.integers(-200, 200))
def test_shift_round_trips(p, n):
    assert p.shift(n).shift(-n) == p


@given(periods)
def test_periods_tile_time(p):
    assert p.start < p.end
    assert p.shift(1).start == p.end  # contiguous, no gap, no overlap
    assert p.contains(p.start) and not p.contains(p.end)
    assert Period.containing(p.start, p.kind) == p
    assert Period.containing(p.end - pd.Timedelta(microseconds=1), p.kind) == p
    assert Period.parse(str(p)) == p
