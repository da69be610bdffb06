"""The kpitools exception family.

Every error kpitools raises on purpose derives from :class:`KpiToolsError`, so
the command line can print one message and exit non-zero instead of showing a
traceback. Errors about the analyst's data also derive from ``ValueError``.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "KpiToolsError",
    "DataError",
    "MissingTableError",
    "MissingColumnError",
    "InvalidValueError",
    "PeriodError",
    "ReportError",
    "EngineError",
    "ParameterError",
]


class KpiToolsError(Exception):
    """Base class of every error kpitools raises on purpose."""


class DataError(KpiToolsError, ValueError):
    """A table of the data directory breaks the data contract.

    Attributes
    ----------
    file : str
        The file (or table name, for a DataFrame passed in directly).
    column : str or None
        The offending column, when one is to blame.
    rows : list of int
        Up to five offending rows, numbered as in the file.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str,
        column: str | None = None,
        rows: Sequence[int] = (),
    ) -> None:
        super().__init__(message)
        self.file = file
        self.column = column
        self.rows = list(rows)
        self.problems: list[DataError] = [self]
        self.frame = None  # the table as far as it could be read, when it was
        self.table: str | None = None  # the contract table of ``frame``

    @classmethod
    def together(cls, problems: Sequence[DataError]) -> DataError:
        """One error reporting every problem found in one run (the contract asks that
        problems be reported together): the first problem's class and fields, every
        message, and ``problems`` listing each."""
        flat = [p for problem in problems for p in problem.problems]
        if len(flat) == 1:
            return flat[0]
        first = flat[0]
        message = (f"{len(flat)} problems in the data:\n" +
                   "\n".join(f"- {p!s}".replace("\n", "\n  ") for p in flat))
        error = type(first)(message, file=first.file, column=first.column, rows=first.rows)
        error.problems = flat
        return error


class MissingTableError(DataError):
    """A table an analysis needs is not in the data directory."""


class MissingColumnError(DataError):
    """A required column is absent from a table."""


class InvalidValueError(DataError):
    """Values in a column cannot be parsed or break a rule of the contract."""


class PeriodError(KpiToolsError, ValueError):
    """A period string is malformed or outside the data."""


class ReportError(KpiToolsError):
    """One or more notebooks failed while rendering reports."""


class KeyNameError(KpiToolsError, ValueError):
    """A KPI key that no metric family computes."""


class DialectError(KpiToolsError, ValueError):
    """A SQL dialect that Ibis cannot write."""


class EngineError(KpiToolsError, ValueError):
    """The engine asked for cannot run here (PySpark or Java missing, a master that
    cannot be reached, an unknown engine name): one line saying what to install or fix."""


class ParameterError(KpiToolsError, ValueError):
    """A notebook parameter set on the command line (``-p name=value``) that no report
    notebook declares, or whose value is not of its default's kind."""
