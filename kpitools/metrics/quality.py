"""Data quality: what the data directory holds, how complete it is, and what each
analysis will be able to compute for a period.

Every function takes a :class:`~kpitools.sources.data.Dataset` and returns a tidy
DataFrame; the ``data_quality`` notebook shows them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

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
    that together suffice), and ``optional`` tables that add sections."""

    name: str
    title: str
    needs: tuple[tuple[str, ...], ...]
    optional: tuple[str, ...] = ()


ANALYSES: tuple[Analysis, ...] = (
    Analysis("funnel", "Funnel", (("leads",), ("events",)), ("events", "opportunities", "accounts",
                                                             "subscriptions")),
    Analysis("retention_cohort", "Retention cohorts", (("subscriptions", "accounts"), ("events",)),
             ("accounts",)),
    Analysis("unit_economics", "Unit economics", (("subscriptions", "accounts"),),
             ("spend", "costs", "targets")),
    Analysis("engagement", "Engagement", (("events",),), ("nps", "accounts")),
    Analysis("overview", "KPI overview", (("subscriptions",), ("events",), ("leads",)),
             ("spend", "costs", "channel_metrics", "opportunities", "targets")),
)


def table_profile(data: Dataset) -> pd.DataFrame:
    """One row per contract table: file, rows, columns, first and last timestamp.

    Columns: ``table``, ``file``, ``rows``, ``columns``, ``first``, ``last``,
    ``needed_for``. Absent tables have ``rows`` 0 and ``file`` empty.
    """
    rows = []
    for name, spec in TABLES.items():
        frame = data.tables.get(name)
        first = last = pd.NaT
        if frame is not None and spec.time_column and len(frame):
            first, last = frame[spec.time_column].min(), frame[spec.time_column].max()
        rows.append({
            "table": name,
            "file": data.files[name].name if name in data.files else None,
            "rows": 0 if frame is None else len(frame),
            "columns": 0 if frame is None else frame.shape[1],
            "first": first,
            "last": last,
            "needed_for": spec.needed_for,
        })
    return pd.DataFrame(rows)


def empty_shares(data: Dataset) -> pd.DataFrame:
    """Share of empty values in every contract column of every present table.

    Columns: ``table``, ``column``, ``required``, ``empty``, ``empty_share``
    (``empty / rows``, 0 for an empty table). Optional columns the file lacks
    count as wholly empty.
    """
    rows = []
    for name, frame in data.tables.items():
        for col in TABLES[name].columns:
            empty = int(frame[col.name].isna().sum())
            rows.append({"table": name, "column": col.name, "required": col.required,
                         "empty": empty, "empty_share": empty / len(frame) if len(frame) else 0.0})
    return pd.DataFrame(rows, columns=["table", "column", "required", "empty", "empty_share"])


def overlapping_spans(subscriptions: pd.DataFrame) -> np.ndarray:
    """For each subscription span, whether it starts before an earlier-starting span of the
    same account has ended (ends are exclusive; an empty end is open). Legitimate for an
    account with several products, so counted, not rejected.

    Returns
    -------
    ndarray of bool
        One value per row of ``subscriptions``, in its order.
    """
    if subscriptions.empty:
        return np.zeros(0, dtype=bool)
    frame = pd.DataFrame({"account": subscriptions["account_id"].to_numpy(),
                          "start": subscriptions["start_date"].to_numpy(),
                          "end": subscriptions["end_date"].fillna(pd.Timestamp.max.tz_localize("UTC")
                                                                 .floor("D")).to_numpy(),
                          "row": np.arange(len(subscriptions))}).sort_values(["account", "start", "row"])
    reach = frame.groupby("account", sort=False)["end"].cummax()
    before = reach.groupby(frame["account"], sort=False).shift()
    overlap = (frame["start"] < before).to_numpy(dtype=bool)
    out = np.zeros(len(subscriptions), dtype=bool)
    out[frame["row"].to_numpy()] = overlap
    return out


def id_checks(data: Dataset) -> pd.DataFrame:
    """Duplicate ids, orphan references and overlapping subscription spans.

    Columns: ``table``, ``column``, ``check``, ``rows`` (offending rows),
    ``distinct`` (distinct offending ids), ``examples`` (up to three).
    Duplicates are counted for every id column (``account_id`` and ``lead_id``
    are already rejected on load); orphans are non-empty ``account_id`` values
    of leads, events and nps that are not in accounts; overlapping spans are
    those of :func:`overlapping_spans`.
    """
    rows = []

    def add(table: str, column: str, check: str, values: pd.Series) -> None:
        distinct = values.dropna().unique()
        rows.append({"table": table, "column": column, "check": check, "rows": len(values),
                     "distinct": len(distinct),
                     "examples": ", ".join(map(str, distinct[:3]))})

    for table, column in (("accounts", "account_id"), ("leads", "lead_id"),
                          ("opportunities", "opportunity_id")):
        frame = data.tables.get(table)
        if frame is not None:
            ids = frame[column]
            add(table, column, "duplicate id", ids[ids.duplicated(keep=False)])
    if data.subscriptions is not None:
        subs = data.subscriptions
        add("subscriptions", "account_id", "overlapping spans (several products?)",
            subs.loc[overlapping_spans(subs), "account_id"])
    if data.accounts is not None:
        known = data.accounts["account_id"]
        for table in ("subscriptions", "leads", "events", "nps"):
            frame = data.tables.get(table)
            if frame is not None:
                ids = frame["account_id"]
                add(table, "account_id", "unknown account", ids[ids.notna() & ~ids.isin(known)])
    return pd.DataFrame(rows, columns=["table", "column", "check", "rows", "distinct", "examples"])


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
    now = pd.Timestamp.now(tz="UTC") if now is None else pd.Timestamp(now)
    bounds = data.time_bounds.set_index("table")
    others = bounds.drop(index="events", errors="ignore")["last"].dropna()
    data_end = others.max().normalize() + pd.Timedelta(days=1) if len(others) else pd.NaT
    rows = []
    for table, row in bounds.iterrows():
        values = data.tables[table][row["column"]]
        after = None
        if table == "events" and data_end is not pd.NaT:
            after = int((values >= data_end).sum())
        rows.append({"table": table, "last": row["last"], "in_future": int((values > now).sum()),
                     "after_data_end": after})
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
    rows inside a table's span appear with 0, so gaps in an export show.
    """
    frames = []
    for name, frame in data.tables.items():
        col = TABLES[name].time_column
        if not col or frame[col].isna().all():
            continue
        months = frame[col].dropna().dt.tz_convert(None).dt.to_period("M")
        counts = months.value_counts().sort_index()
        full = pd.period_range(counts.index.min(), counts.index.max(), freq="M")
        counts = counts.reindex(full, fill_value=0)
        frames.append(pd.DataFrame({"table": name,
                                    "month": counts.index.to_timestamp().tz_localize("UTC"),
                                    "rows": counts.to_numpy()}))
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
    frames = []
    for table, columns in wanted.items():
        frame = data.tables.get(table)
        if frame is None:
            continue
        for column in columns:
            counts = frame[column].value_counts(dropna=True)
            head = counts.head(top)
            frames.append(pd.DataFrame({"table": table, "column": column,
                                        "value": head.index.astype(str), "rows": head.to_numpy(),
                                        "share": head.to_numpy() / max(len(frame), 1)}))
    if not frames:
        return pd.DataFrame(columns=["table", "column", "value", "rows", "share"])
    return pd.concat(frames, ignore_index=True)
