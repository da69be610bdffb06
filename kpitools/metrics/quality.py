"""Data quality: what the data directory holds, how complete it is, and what each
analysis will be able to compute for a period.

Every function takes a :class:`~kpitools.sources.data.Dataset` and returns a tidy
DataFrame; the ``data_quality`` notebook shows them.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir
import pandas as pd

from ..engine import UTC, Table, run, table, utc, utc_stamp, whole
from ..periods import Period, latest_complete
from ..sources.data import Dataset
from ..sources.schema import TABLES

__all__ = [
    "ANALYSES",
    "Analysis",
    "table_profile",
    "empty_shares",
    "id_checks",
    "overlapping_spans",
    "late_rows",
    "analysis_readiness",
    "complete_periods",
]


@dataclass(frozen=True)
class Analysis:
    """What one report notebook needs: at least one of ``needs`` (each a set of tables
    that together suffice), and ``optional`` tables that add sections; ``tiles`` when it
    shows KPI tiles or a KPI history (the report runner computes those KPIs first)."""

    name: str
    title: str
    needs: tuple[tuple[str, ...], ...]
    optional: tuple[str, ...] = ()
    tiles: bool = False


ANALYSES: tuple[Analysis, ...] = (
    Analysis("funnel", "Funnel", (("leads",), ("events",)), ("events", "opportunities", "accounts",
                                                             "subscriptions")),
    Analysis("retention_cohort", "Retention cohorts", (("subscriptions", "accounts"), ("events",)),
             ("accounts",)),
    Analysis("unit_economics", "Unit economics", (("subscriptions", "accounts"),),
             ("spend", "costs", "targets"), tiles=True),
    Analysis("engagement", "Engagement", (("events",),), ("nps", "accounts")),
    Analysis("overview", "KPI overview", (("subscriptions",), ("events",), ("leads",)),
             ("spend", "costs", "channel_metrics", "opportunities", "targets"), tiles=True),
)


def _table(data: Dataset, name: str) -> ir.Table | None:
    frame = data.tables.get(name)
    return None if frame is None else table(frame)


def _tables(data: Dataset) -> list[tuple[str, ir.Table]]:
    return [(name, table(frame)) for name, frame in data.tables.items()]


def table_profile(data: Dataset) -> pd.DataFrame:
    """One row per contract table: file, rows, columns, first and last timestamp.

    Columns: ``table``, ``file``, ``rows``, ``columns``, ``first``, ``last``,
    ``needed_for``. Absent tables have ``rows`` 0 and ``file`` empty.
    """
    counts = data.row_counts()
    bounds = data.time_bounds.set_index("table")
    rows = []
    for name, spec in TABLES.items():
        t = _table(data, name)
        present = name in bounds.index
        rows.append({
            "table": name,
            "file": data.files[name].name if name in data.files else None,
            "rows": counts.get(name, 0),
            "columns": 0 if t is None else len(t.columns),
            "first": bounds.loc[name, "first"] if present else pd.NaT,
            "last": bounds.loc[name, "last"] if present else pd.NaT,
            "needed_for": spec.needed_for,
        })
    out = pd.DataFrame(rows)
    for c in ("first", "last"):
        out[c] = pd.to_datetime(out[c], utc=True)
    return out


def empty_shares(data: Dataset) -> pd.DataFrame:
    """Share of empty values in every contract column of every present table.

    Columns: ``table``, ``column``, ``required``, ``empty``, ``empty_share``
    (``empty / rows``, 0 for an empty table). Optional columns the file lacks
    count as wholly empty. One query per table.
    """
    rows = []
    for name, t in _tables(data):
        columns = TABLES[name].columns
        counts = run(t.aggregate(_rows=t.count(), **{f"c{i}": t[c.name].isnull().ifelse(1, 0).sum()
                                                    for i, c in enumerate(columns)})).iloc[0]
        n = whole(counts["_rows"])
        for i, col in enumerate(columns):
            empty = whole(counts[f"c{i}"])
            rows.append({"table": name, "column": col.name, "required": col.required,
                         "empty": empty, "empty_share": empty / n if n else 0.0})
    return pd.DataFrame(rows, columns=["table", "column", "required", "empty", "empty_share"])


def overlapping_spans(subscriptions: Table) -> pd.DataFrame:
    """The subscription spans that start before an earlier-starting span of the same
    account has ended (ends are exclusive; an empty end is open). Legitimate for an
    account with several products, so counted, not rejected.

    Each span is compared with the latest end among the spans of its account that
    start before it (by start, then ``subscription_id``): a window over the account's
    spans, so the engine does the work.

    Returns
    -------
    DataFrame
        ``subscription_id``, ``account_id``, ``start_date`` of each such span, by
        account and start.
    """
    t = table(subscriptions, "subscriptions")
    far = ibis.literal(pd.Timestamp("9999-12-31", tz="UTC").to_pydatetime(), UTC)
    order = [t.start_date, t.subscription_id]
    so_far = ibis.window(group_by=t.account_id, order_by=order, rows=(None, 0))
    spans = t.select("subscription_id", "account_id", "start_date",
                     so_far=t.end_date.cast(UTC).fill_null(far).max().over(so_far))
    before = ibis.window(group_by=spans.account_id, order_by=[spans.start_date, spans.subscription_id])
    spans = spans.mutate(reach=spans.so_far.lag().over(before)).drop("so_far")
    found = spans.filter(spans.start_date < spans.reach).drop("reach")
    return run(found.order_by(["account_id", "start_date", "subscription_id"]))


def _offenders(table_name: str, column: str, check: str, ids: ir.Table) -> ir.Table:
    """One row of :func:`id_checks` from a table of offending ``id`` values (one row
    per offending row): how many rows, how many distinct ids, the first three ids."""
    first = ids.select(id=ids.id.cast("string")).distinct().order_by("id").limit(3)
    # the three in order, joined without an ordered aggregate (Spark has none)
    first = first.mutate(n=ibis.row_number().over(order_by=first.id))
    e0, e1, e2 = (first.id.max(where=first.n == n) for n in range(3))
    examples = first.aggregate(examples=e0 + (", " + e1).fill_null("") + (", " + e2).fill_null(""))
    counts = ids.aggregate(rows=ids.count(), distinct=ids.id.nunique())
    return counts.cross_join(examples).mutate(table=ibis.literal(table_name), column=ibis.literal(column),
                                              check=ibis.literal(check))


def id_checks(data: Dataset) -> pd.DataFrame:
    """Duplicate ids, orphan references and overlapping subscription spans.

    Columns: ``table``, ``column``, ``check``, ``rows`` (offending rows),
    ``distinct`` (distinct offending ids), ``examples`` (up to three, in order).
    Duplicates are counted for every id column (``account_id`` and ``lead_id``
    are already rejected on load); orphans are non-empty ``account_id`` values
    of leads, events and nps that are not in accounts; overlapping spans are
    those of :func:`overlapping_spans`. One query for all of them.
    """
    parts = []
    for name, column in (("accounts", "account_id"), ("leads", "lead_id"), ("opportunities", "opportunity_id")):
        t = _table(data, name)
        if t is not None:
            ids = t.select(id=t[column])
            repeated = ids.group_by("id").aggregate(n=ids.count()).filter(lambda r: r.n > 1)
            parts.append(_offenders(name, column, "duplicate id", ids.filter(ids.id.isin(repeated.id))))
    if data.subscriptions is not None:
        spans = ibis.memtable(overlapping_spans(data.subscriptions)[["account_id"]].astype("str"),
                              schema={"account_id": "string"})
        parts.append(_offenders("subscriptions", "account_id", "overlapping spans (several products?)",
                                spans.select(id=spans.account_id)))
    if data.accounts is not None:
        known = table(data.accounts).account_id
        for name in ("subscriptions", "leads", "events", "nps"):
            t = _table(data, name)
            if t is not None:
                ids = t.select(id=t.account_id)
                parts.append(_offenders(name, "account_id", "unknown account",
                                        ids.filter(ids.id.notnull() & ~ids.id.isin(known))))
    columns = ["table", "column", "check", "rows", "distinct", "examples"]
    if not parts:
        return pd.DataFrame(columns=columns)
    parts = [p.mutate(_order=ibis.literal(i)) for i, p in enumerate(parts)]
    out = run(ibis.union(*parts) if len(parts) > 1 else parts[0]).sort_values("_order")
    out["examples"] = out["examples"].fillna("")
    out[["rows", "distinct"]] = out[["rows", "distinct"]].fillna(0).astype("int64")
    return out[columns].reset_index(drop=True)


def late_rows(data: Dataset, *, now: pd.Timestamp | None = None) -> pd.DataFrame:
    """Rows dated in the future, and events after the rest of the data ends.

    The event log is usually exported separately from the other tables and
    often runs further: its rows after the last day any other table reaches
    compare unlike with like. A timestamp later than ``now`` (default: the
    current time) is in the future: a clock or time zone error.

    Returns
    -------
    DataFrame
        Columns ``table``, ``last`` (last timestamp), ``in_future`` (rows later
        than ``now``) and ``after_data_end`` (events only: rows on or after the
        day following the other tables' last timestamp; empty for the others).
        ``attrs["data_end"]`` holds that instant.
    """
    now = utc_stamp(pd.Timestamp.now(tz="UTC") if now is None else now)
    bounds = data.time_bounds.set_index("table")
    others = bounds.drop(index="events", errors="ignore")["last"].dropna()
    data_end = others.max().normalize() + pd.Timedelta(days=1) if len(others) else pd.NaT
    rows = []
    for name, row in bounds.iterrows():
        t = _table(data, name)
        values = t[row["column"]]
        measures = {"in_future": (values > utc(now)).ifelse(1, 0).sum()}
        if name == "events" and data_end is not pd.NaT:
            measures["after"] = (values >= utc(data_end)).ifelse(1, 0).sum()
        got = run(t.aggregate(**measures)).iloc[0]
        rows.append({"table": name, "last": row["last"], "in_future": whole(got["in_future"]),
                     "after_data_end": whole(got["after"]) if "after" in got else None})
    out = pd.DataFrame(rows, columns=["table", "last", "in_future", "after_data_end"])
    out["after_data_end"] = out["after_data_end"].astype("Int64")
    out.attrs["data_end"] = data_end
    return out


def complete_periods(data: Dataset) -> pd.DataFrame:
    """The latest complete month, quarter and ISO week, and how many complete
    months the data holds. Columns: ``kind``, ``latest_complete``, ``start``, ``end``."""
    start, end = data.date_range
    rows = []
    for kind in ("M", "Q", "W"):
        p = latest_complete(end, kind)
        rows.append({"kind": p.kind_name, "latest_complete": str(p), "start": p.start,
                     "end": p.end})
    out = pd.DataFrame(rows)
    first_full = Period.containing(start, "M")
    if first_full.start < start.normalize():
        first_full = first_full.shift(1)
    last_full = latest_complete(end, "M")
    months = 0 if last_full < first_full else len(pd.period_range(
        str(first_full), str(last_full), freq="M"))
    out.attrs["complete_months"] = months
    return out


def analysis_readiness(data: Dataset, period: Period) -> pd.DataFrame:
    """For each report notebook, whether the tables it needs are present and cover
    the period.

    Columns: ``analysis``, ``title``, ``status`` (``ready``, ``partial`` or
    ``cannot run``), ``uses`` (the tables it will use), ``missing`` (optional
    tables it lacks, whose sections will be skipped), ``note``.
    """
    start, end = data.date_range
    covered_to = end.normalize() + pd.Timedelta(days=1)
    covers = bool(period.start >= start.normalize() and period.end <= covered_to)
    history = bool(period.previous().start >= start.normalize())
    rows = []
    for a in ANALYSES:
        usable = [need for need in a.needs if data.has(*need)]
        if not usable:
            alternatives = " or ".join(" + ".join(n) for n in a.needs)
            rows.append({"analysis": a.name, "title": a.title, "status": "cannot run",
                         "uses": "", "missing": "", "note": f"needs {alternatives}"})
            continue
        uses = sorted({t for need in usable for t in need} |
                      {t for t in a.optional if data.has(t)})
        missing = [t for t in a.optional if not data.has(t)]
        notes = []
        if not covers:
            notes.append(f"the data does not cover all of {period}")
        if not history:
            notes.append(f"no data for the previous period {period.previous()}")
        status = "ready" if not (missing or notes) else "partial"
        rows.append({"analysis": a.name, "title": a.title, "status": status,
                     "uses": ", ".join(uses), "missing": ", ".join(missing),
                     "note": "; ".join(notes)})
    return pd.DataFrame(rows, columns=["analysis", "title", "status", "uses", "missing", "note"])



def monthly_rows(data: Dataset) -> pd.DataFrame:
    """Rows per calendar month of each table's time column.

    Columns: ``table``, ``month`` (first day, UTC), ``rows``. Months without
    rows inside a table's span appear with 0, so gaps in an export show. The
    engine counts the rows of every table by month in one query.
    """
    parts = []
    for name, t in _tables(data):
        col = TABLES[name].time_column
        if col:
            rows = t.filter(t[col].notnull())
            parts.append(rows.group_by(month=rows[col].truncate("M").cast(UTC))
                         .aggregate(rows=rows.count()).mutate(table=ibis.literal(name)))
    frames = []
    counted = run(ibis.union(*parts)) if len(parts) > 1 else run(parts[0]) if parts else pd.DataFrame()
    for name in data.tables:
        mine = counted[counted["table"] == name] if len(counted) else counted
        if mine.empty:
            continue
        months = pd.to_datetime(mine["month"], utc=True).dt.tz_convert(None).dt.to_period("M")
        counts = pd.Series(mine["rows"].to_numpy(), index=months).sort_index()
        full = pd.period_range(counts.index.min(), counts.index.max(), freq="M")
        counts = counts.reindex(full, fill_value=0)
        frames.append(pd.DataFrame({"table": name,
                                    "month": counts.index.to_timestamp().tz_localize("UTC"),
                                    "rows": counts.to_numpy().astype("int64")}))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["table", "month", "rows"])


def summary(data: Dataset, period: Period) -> dict[str, object]:
    """Headline facts for the data-quality narrative.

    Keys: ``start``, ``end``, ``tables_present``, ``tables_total``,
    ``absent`` (names), ``complete_months``, ``latest_month``,
    ``latest_quarter``, ``period_covered`` (bool), ``empty_required`` (count of
    required cells that are empty, always 0 after validation),
    ``problems`` (duplicate or orphan rows found by :func:`id_checks`).
    """
    start, end = data.date_range
    periods = complete_periods(data)
    covered_to = end.normalize() + pd.Timedelta(days=1)
    checks = id_checks(data)
    return {
        "start": start,
        "end": end,
        "tables_present": len(data.tables),
        "tables_total": len(TABLES),
        "absent": [t for t in TABLES if t not in data.tables],
        "complete_months": periods.attrs["complete_months"],
        "latest_month": periods.loc[periods["kind"] == "month", "latest_complete"].iloc[0],
        "latest_quarter": periods.loc[periods["kind"] == "quarter", "latest_complete"].iloc[0],
        "period_covered": bool(period.start >= start.normalize() and period.end <= covered_to),
        "problems": int(checks["rows"].sum()),
    }


def category_values(data: Dataset, *, top: int = 12) -> pd.DataFrame:
    """The most frequent values of the categorical columns an analysis groups by.

    Columns: ``table``, ``column``, ``value``, ``rows``, ``share``. A misspelt
    channel (``Paid Search`` beside ``paid_search``) splits every breakdown in two;
    this is where it shows.
    """
    wanted = {"accounts": ("channel", "segment"), "subscriptions": ("plan", "billing_period"),
              "events": ("event", "channel"), "leads": ("channel",),
              "opportunities": ("status", "channel"), "spend": ("channel", "category"),
              "costs": ("category",), "channel_metrics": ("channel", "metric")}
    parts = []
    counts = data.row_counts()
    for name, columns in wanted.items():
        t = _table(data, name)
        if t is None:
            continue
        for column in columns:
            values = t.filter(t[column].notnull())
            ranked = values.group_by(value=values[column].cast("string")).aggregate(rows=values.count())
            ranked = ranked.order_by([ibis.desc("rows"), "value"]).limit(top)
            parts.append(ranked.mutate(table=ibis.literal(name), column=ibis.literal(column),
                                       share=ranked.rows / max(counts.get(name, 0), 1)))
    columns = ["table", "column", "value", "rows", "share"]
    if not parts:
        return pd.DataFrame(columns=columns)
    out = run(ibis.union(*parts) if len(parts) > 1 else parts[0])
    order = {(t, c): i for i, (t, cs) in enumerate((t, cs) for t, cs in wanted.items()) for c in cs}
    out["_order"] = [order[(t, c)] for t, c in zip(out["table"], out["column"], strict=True)]
    out = out.sort_values(["_order", "rows", "value"], ascending=[True, False, True], kind="stable")
    return out[columns].reset_index(drop=True)
