"""The data contract as code: every table, its columns, their types and rules.

This mirrors ``docs/data-contract.md``. The loader and validator read it; the
data-quality report prints it. One place to change when the contract changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Column", "Table", "TABLES", "ENGINE_TYPES", "table_spec"]


@dataclass(frozen=True)
class Column:
    """One column of the contract.

    ``kind`` is one of ``id`` (string identifier), ``text``, ``timestamp``,
    ``date``, ``money`` (number >= 0), ``number``, ``probability`` (number in
    [0, 1]), ``score`` (integer 0..10), ``choice`` (one of ``choices``) or
    ``period``. ``past`` marks the time of something that already happened (it
    cannot lie after the time of the run); ``open_end`` a date whose 9999-12-31
    means "no end".
    """

    name: str
    kind: str
    required: bool = False
    unique: bool = False
    choices: tuple[str, ...] = ()
    nullable: bool = False
    past: bool = False
    open_end: bool = False


@dataclass(frozen=True)
class Table:
    """One table of the contract."""

    name: str
    columns: tuple[Column, ...]
    needed_for: str
    time_column: str
    references: dict[str, str] = field(default_factory=dict)  # column -> table it must exist in

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def engine_schema(self) -> dict[str, str]:
        """The column types the engine holds this table in (Ibis type strings): ids, text
        and choices as strings, timestamps and dates as UTC timestamps (a date at
        midnight), amounts as float64, scores as int64."""
        return {c.name: ENGINE_TYPES[c.kind] for c in self.columns}

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)


ENGINE_TYPES = {"id": "string", "text": "string", "choice": "string", "period": "string",
                "timestamp": "timestamp('UTC')", "date": "timestamp('UTC')", "money": "float64",
                "number": "float64", "probability": "float64", "score": "int64"}

_STAGES = ("lead_at", "mql_at", "sal_at", "sql_at", "won_at")

TABLES: dict[str, Table] = {
    t.name: t
    for t in [
        Table(
            "accounts",
            (
                Column("account_id", "id", required=True, unique=True),
                Column("signup_at", "timestamp", required=True, past=True),
                Column("channel", "text", required=True),
                Column("segment", "text", nullable=True),
                Column("country", "text", nullable=True),
            ),
            needed_for="revenue, CAC and cohort reports",
            time_column="signup_at",
        ),
        Table(
            "subscriptions",
            (
                Column("subscription_id", "id", required=True, unique=True),
                Column("account_id", "id", required=True),
                Column("start_date", "date", required=True),
                Column("end_date", "date", nullable=True, open_end=True),
                Column("mrr", "money", required=True),
                Column("plan", "text", nullable=True),
                Column("billing_period", "choice", choices=("month", "year"), nullable=True),
            ),
            needed_for="MRR, churn, LTV and revenue retention",
            time_column="start_date",
            references={"account_id": "accounts"},
        ),
        Table(
            "events",
            (
                Column("user_id", "id", required=True),
                Column("timestamp", "timestamp", required=True, past=True),
                Column("event", "text", required=True),
                Column("account_id", "id", nullable=True),
                Column("feature", "text", nullable=True),
                Column("channel", "text", nullable=True),
            ),
            needed_for="engagement, event funnels and activity cohorts",
            time_column="timestamp",
        ),
        Table(
            "leads",
            (
                Column("lead_id", "id", required=True, unique=True),
                Column("created_at", "timestamp", required=True, past=True),
                Column("channel", "text", required=True),
                *(Column(s, "timestamp", nullable=True, past=True) for s in _STAGES),
                Column("account_id", "id", nullable=True),
            ),
            needed_for="the marketing funnel",
            time_column="created_at",
        ),
        Table(
            "opportunities",
            (
                Column("opportunity_id", "id", required=True),
                Column("created_at", "timestamp", required=True, past=True),
                Column("amount", "money", required=True),
                Column("probability", "probability", required=True),
                Column("closed_at", "timestamp", nullable=True, past=True),
                Column("status", "choice", required=True, choices=("open", "won", "lost")),
                Column("channel", "text", nullable=True),
            ),
            needed_for="pipeline volume and weighted pipeline",
            time_column="created_at",
        ),
        Table(
            "spend",
            (
                Column("date", "date", required=True),
                Column("channel", "text", required=True),
                Column("category", "choice", required=True, choices=("marketing", "sales")),
                Column("amount", "money", required=True),
            ),
            needed_for="CAC, LTV:CAC, payback and marketing ROI",
            time_column="date",
        ),
        Table(
            "costs",
            (
                Column("date", "date", required=True),
                Column("category", "text", required=True),
                Column("amount", "money", required=True),
            ),
            needed_for="cost to serve and gross margin",
            time_column="date",
        ),
        Table(
            "nps",
            (
                Column("respondent_id", "id", required=True),
                Column("responded_at", "timestamp", required=True, past=True),
                Column("score", "score", required=True),
                Column("account_id", "id", nullable=True),
            ),
            needed_for="NPS",
            time_column="responded_at",
        ),
        Table(
            "channel_metrics",
            (
                Column("date", "date", required=True),
                Column("channel", "text", required=True),
                Column("metric", "text", required=True),
                Column("value", "number", required=True),
            ),
            needed_for="leading indicators from outside the product",
            time_column="date",
        ),
        Table(
            "targets",
            (
                Column("period", "period", required=True),
                Column("kpi", "text", required=True),
                Column("target", "number", required=True),
            ),
            needed_for="goals",
            time_column="",
        ),
    ]
}


def table_spec(name: str) -> Table:
    """The contract of one table, by name."""
    try:
        return TABLES[name]
    except KeyError:
        known = ", ".join(TABLES)
        raise KeyError(f"no table {name!r} in the data contract (known: {known})") from None
