"""The engine bridge (kpitools.engine) on hand-worked tables: medians written with window
functions, period windows (in memory and as literal SQL), ranges and remembered results."""

import math

import ibis
import pandas as pd
import pytest

from kpitools.engine import (
    every_period,
    in_range,
    literal_windows,
    remembered,
    run,
    table,
    windows,
    with_medians,
    within,
)
from kpitools.periods import Period


def test_medians_odd_even_missing_and_empty_groups():
    rows = table(pd.DataFrame({"g": ["a", "a", "a", "b", "b", "b", "b", "c", "d"],
                               "x": [5.0, 1.0, 3.0, 4.0, 1.0, None, 2.0, None, 7.0]}))
    totals = rows.group_by("g").agg(n=rows.count())
    out = run(with_medians(totals, rows, ["g"], {"median": rows.x, "doubled": rows.x * 2})).set_index("g")
    # a: 1, 3, 5 -> 3; b: 1, 2, 4 (the missing one left out) -> 2; c: nothing -> missing; d: 7
    assert out.loc["a", "median"] == 3 and out.loc["b", "median"] == 2 and out.loc["d", "median"] == 7
    assert math.isnan(out.loc["c", "median"]) and out.loc["c", "n"] == 1
    assert out.loc["a", "doubled"] == 6
    even = table(pd.DataFrame({"g": ["e"] * 4, "x": [10.0, 1.0, 4.0, 2.0]}))
    got = run(with_medians(even.group_by("g").agg(n=even.count()), even, ["g"], {"m": even.x}))
    assert got["m"].iloc[0] == 3  # (2 + 4) / 2


def test_windows_in_memory_and_as_literal_sql_agree():
    events = table(pd.DataFrame({"t": pd.to_datetime(["2024-01-31T23:59:59Z", "2024-02-01T00:00:00Z",
                                                      "2024-02-29T12:00:00Z", "2024-03-01T00:00:00Z"])}))
    periods = [Period.parse("2024-01"), Period.parse("2024-02")]
    rows = [(str(p), "period", p.start, p.end) for p in periods]
    counted = run(within(events, "t", windows(rows)).group_by("period").agg(n=ibis._.count()))
    with literal_windows():
        literal = run(within(events, "t", windows(rows)).group_by("period").agg(n=ibis._.count()))
    want = {"2024-01": 1, "2024-02": 2}  # start inclusive, end exclusive
    assert dict(zip(counted["period"], counted["n"], strict=True)) == want
    assert dict(zip(literal["period"], literal["n"], strict=True)) == want
    days = run(windows(rows))
    assert sorted(days["days"]) == [29, 31]


def test_in_range_and_every_period():
    frame = table(pd.DataFrame({"t": pd.to_datetime(["2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z"])}))
    assert len(run(frame.filter(in_range(frame.t, pd.Timestamp("2024-01-01"), "2024-01-02")))) == 1
    assert len(run(frame.filter(in_range(frame.t, None, None)))) == 2
    periods = [Period.parse("2024-03"), Period.parse("2024-01"), Period.parse("2024-02")]
    out = every_period(pd.DataFrame({"period": ["2024-01"], "n": [4]}), periods)
    assert out["period"].tolist() == ["2024-03", "2024-01", "2024-02"]
    assert out["n"].isna().tolist() == [True, False, True]


def test_remembered_results_are_computed_once_and_copied():
    frame = pd.DataFrame({"x": [1, 2]})
    calls = []

    def compute():
        calls.append(1)
        return pd.DataFrame({"y": [1]})

    first = remembered("test", frame, ("k",), compute)
    first.loc[0, "y"] = 99  # the caller's copy
    again = remembered("test", frame, ("k",), compute)
    assert len(calls) == 1 and again.loc[0, "y"] == 1
    remembered("test", pd.DataFrame({"x": [1, 2]}), ("k",), compute)  # another frame: computed again
    assert len(calls) == 2


def test_table_refuses_what_is_not_a_table():
    with pytest.raises(TypeError, match="Ibis table or a pandas DataFrame"):
        table([1, 2, 3])
