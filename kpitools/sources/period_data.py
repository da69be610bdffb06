"""Read only what one period's KPIs need, so that ``kpitools kpis --period P`` does not
load years of events to answer for one month.

>>> data = load_period("data/sample", "2026-09")     # doctest: +SKIP
>>> compute_kpis(data, "2026-09")                     # doctest: +SKIP

Every small table is read whole. From a Parquet event log only three slices are
read, each with its filter pushed into the read (row groups outside the range are
skipped by their statistics):

- every event from 3 days before the period to 3 days after it (the columns the
  KPIs use: ``user_id``, ``timestamp``, ``event``, ``account_id``, ``feature``): the period's own
  events, plus the margin the ISO weeks of WAU (a week belongs to the month of its
  Thursday, so it reaches up to 3 days outside) and the sessions (2 days before) need;
- the follow-up events (``activated``, onboarding, ``purchase``) after that window,
  since activation and the trial funnel follow the period's signups and trial users
  after the period; and, when there is no subscriptions table, the ``purchase``
  events before it (a trial is paid when the user's first purchase ever falls
  within its window);
- the ``user_id`` of every event before the period, reduced at once to the period's
  active users that were seen before (``new_users`` counts the others).

The KPIs are the same as from :func:`kpitools.load`; a CSV event log cannot be read
in part and is loaded whole. Only the rows read are validated: ``kpitools check``
validates everything.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd

from ..errors import DataError
from ..periods import Period
from .data import (
    Dataset,
    Scope,
    _time_filters,
    _utc,
    find_table_file,
    load,
    no_tables,
    raise_problems,
    read_table,
    read_tables,
)
from .schema import TABLES

__all__ = ["FOLLOW_UP_EVENTS", "MARGIN", "load_period", "period_view", "table_bounds"]

FOLLOW_UP_EVENTS = ("activated", "onboarding_viewed", "onboarding_completed", "purchase")
# the optional event columns a period's KPIs use (trial accounts, feature adoption); the
# others come back empty
WINDOW_COLUMNS = ("account_id", "feature")
MARGIN = pd.Timedelta(days=3)


def table_bounds(directory: str | os.PathLike[str]) -> pd.DataFrame:
    """First and last value of each table's time column, without loading the tables where
    Parquet statistics say it.

    Returns
    -------
    DataFrame
        One row per table with dated rows: ``table``, ``column``, ``first``, ``last``
        (UTC), as :attr:`Dataset.time_bounds`.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(f"{directory}: no such data directory", file=str(directory))
    rows = []
    for name, spec in TABLES.items():
        path = find_table_file(directory, name)
        if path is None or not spec.time_column:
            continue
        try:
            rows += _bounds(path, name)
        except DataError:
            load(directory)  # says what is wrong with every table, together
            raise
    if not rows and not any(find_table_file(directory, n) for n in TABLES):
        raise no_tables(directory, list(TABLES))
    return pd.DataFrame(rows, columns=["table", "column", "first", "last"])


def _bounds(path: Path, name: str) -> list[dict]:
    """A table's row of :func:`table_bounds` ([] when it holds no dated row): from the
    Parquet statistics, else by reading and validating its time column."""
    column = TABLES[name].time_column
    bounds = _parquet_bounds(path, column) if path.suffix == ".parquet" else None
    if bounds is None:
        values = read_table(path, name, columns=[column])[column].dropna()
        if values.empty:
            return []
        bounds = (values.min(), values.max())
    return [{"table": name, "column": column, "first": bounds[0], "last": bounds[1]}]


def _parquet_bounds(path: Path, column: str) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """Min and max of a timestamp or date column from the row groups' statistics, or None
    when a row group has none (or the column is stored as text)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        meta = pq.ParquetFile(path).metadata
    except (OSError, ValueError):  # unreadable: read_table says so, naming the file
        return None
    schema = meta.schema.to_arrow_schema()
    if column not in schema.names:
        return None
    kind = schema.field(column).type
    if not (pa.types.is_timestamp(kind) or pa.types.is_date(kind)):
        return None
    index = schema.names.index(column)
    lows, highs = [], []
    for i in range(meta.num_row_groups):
        group = meta.row_group(i)
        if group.num_rows == 0:
            continue
        stats = group.column(index).statistics
        if stats is None or not stats.has_min_max:
            return None
        lows.append(stats.min)
        highs.append(stats.max)
    if not lows:
        return None
    return _utc(min(lows)).as_unit("ns"), _utc(max(highs)).as_unit("ns")


def load_period(directory: str | os.PathLike[str], period: Period | str) -> Dataset:
    """The tables one period's KPIs need, reading from the event log only the slices above.

    Parameters
    ----------
    directory : path-like
        A data directory, as for :func:`kpitools.load`.
    period : Period or str
        The period whose KPIs will be computed; :func:`kpitools.compute_kpis` refuses
        any other period for this Dataset.

    Returns
    -------
    Dataset
        ``scope`` says what its ``events`` hold; ``time_bounds`` and ``date_range``
        describe the whole files.
    """
    period = Period.parse(period)
    directory = Path(directory)
    events_path = find_table_file(directory, "events") if directory.is_dir() else None
    if events_path is None or events_path.suffix != ".parquet":
        return load(directory)
    start, end = period.start - MARGIN, period.end + MARGIN
    loaded, files, errors = read_tables(directory, TABLES, skip=("events",))
    try:
        window = read_table(events_path, "events", columns=list(WINDOW_COLUMNS), between=(start, end))
        parts = [window, read_table(events_path, "events", columns=[],
                                    where={"event": list(FOLLOW_UP_EVENTS)}, between=(end, None))]
        if "subscriptions" not in files:
            parts.insert(0, read_table(events_path, "events", columns=[], where={"event": ["purchase"]},
                                       between=(None, start)))
    except DataError as exc:  # reported with the other tables' problems
        raise_problems(loaded, files, [*errors, exc], filtered=("events",))
        raise
    loaded["events"] = pd.concat(parts, ignore_index=True)
    raise_problems(loaded, files, errors, filtered=("events",))
    period_users = _period_users(window, period)
    # the one pass over the earlier history runs in a thread (pyarrow releases the GIL) while
    # the KPIs are computed; it starts after the other reads, which would otherwise queue
    # behind it in pyarrow's thread pool
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kpitools-history")
    seen_before = pool.submit(_seen_before, events_path, period, period_users)
    pool.shutdown(wait=False)
    bounds = Dataset(directory=directory, tables={n: t for n, t in loaded.items() if n != "events"}).time_bounds
    bounds = pd.concat([bounds, pd.DataFrame(_bounds(events_path, "events"), columns=bounds.columns)],
                       ignore_index=True)
    scope = Scope(period=period, start=start, end=end, time_bounds=bounds, pending=seen_before)
    return Dataset(directory=directory, tables=loaded, files=files, scope=scope)


def period_view(data: Dataset, period: Period | str) -> Dataset:
    """The slice :func:`load_period` reads, cut from a Dataset already in memory.

    :func:`kpitools.compute_kpis` works on it, so that a history of many periods
    handles each period's events rather than the whole log each time. The
    follow-up events and each user's first event are found once per Dataset.
    """
    period = Period.parse(period)
    if data.scope is not None or data.events is None:
        return data
    from ..metrics.engagement import first_seen
    from .membership import isin

    events = data.cached("events_by_time", lambda: _by_time(data.events))
    start, end = period.start - MARGIN, period.end + MARGIN
    lo, hi = events["timestamp"].searchsorted([start, end])
    window = events.iloc[lo:hi]  # a slice: no copy
    follow = data.cached("follow_up_events",
                         lambda: events[isin(events["event"], FOLLOW_UP_EVENTS)])
    parts = [window, follow[(follow["timestamp"] >= end).to_numpy()]]
    if not data.has("subscriptions"):
        purchases = follow[(follow["event"] == "purchase").to_numpy()]
        parts.insert(0, purchases[(purchases["timestamp"] < start).to_numpy()])
    first = data.cached("first_seen", lambda: first_seen(events))
    users = _period_users(window, period)
    before = first.reindex(users)
    seen = users[(before < period.start).to_numpy(dtype=bool)]
    tables = {**data.tables, "events": pd.concat(parts, ignore_index=True)}
    scope = Scope(period=period, start=start, end=end, time_bounds=data.time_bounds, pending=seen)
    return Dataset(directory=data.directory, tables=tables, files=data.files, scope=scope)


def _period_users(window: pd.DataFrame, period: Period) -> pd.Index:
    """The distinct users with an event in the period itself (not its margin)."""
    ts = window["timestamp"]
    return pd.Index(window.loc[((ts >= period.start) & (ts < period.end)).to_numpy(), "user_id"].unique(),
                    dtype="str")


def _by_time(events: pd.DataFrame) -> pd.DataFrame:
    """The events in time order (ties keep their order): the frame itself when it already
    is, as most exports are."""
    if events["timestamp"].is_monotonic_increasing:
        return events
    return events.sort_values("timestamp", kind="stable", ignore_index=True)


def _seen_before(path: Path, period: Period, users: pd.Index) -> pd.Index:
    """The users (of ``users``) with an event before the period.

    One pass over the ``user_id`` column of the earlier row groups, each id looked up
    in a hash table of ``users`` (pyarrow ``index_in``), instead of a group-by of the
    whole history in pandas. A file whose ids or times are not stored as strings and
    timestamps is read and validated the ordinary way.
    """
    import pyarrow as pa
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    from .membership import occurring

    pushed = _time_filters(path, "timestamp", (None, period.start))
    dataset = ds.dataset(path, format="parquet")
    kind = dataset.schema.field("user_id").type
    if not pushed or not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        return occurring(users, read_table(path, "events", columns=[], between=(None, period.start))["user_id"])
    return occurring(users, dataset.to_table(columns=["user_id"], filter=pq.filters_to_expression(pushed))["user_id"])
