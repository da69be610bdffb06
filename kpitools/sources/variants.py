"""Values that differ only in case or surrounding spaces: warned about, not rejected.

The data contract (docs/data-contract.md, Bad input) warns about text categories that
differ only in case or surrounding spaces (``Organic`` and ``organic``): kpitools counts
them apart, as the data writes them, and says so. An id with spaces around it (``" A1 "``)
matches no ``"A1"`` in another table, so it is warned about too. One query per table
counts each category value (categories have few values), one more the spaced ids.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
import pandas as pd

from .schema import TABLES
from .validate import Source

__all__ = ["variant_warnings"]

MAX_SHOWN = 4


def variant_warnings(tables: dict[str, ir.Table], sources: dict[str, Source]) -> list[str]:
    """One line per column whose values differ only in case or surrounding spaces (text
    categories), or that has ids with spaces around them; the values shown with their
    row counts, the most common first."""
    lines: list[str] = []
    for name, table in tables.items():
        spec = TABLES[name]
        text = [c.name for c in spec.columns if c.kind == "text" and c.name in table.columns]
        ids = [c.name for c in spec.columns if c.kind == "id" and c.name in table.columns]
        where = sources[name].file
        if text:
            counted = ibis.union(*[
                table.filter(table[c].notnull()).group_by(value=table[c])
                .aggregate(rows=ibis._.count()).mutate(column=ibis.literal(c)) for c in text
            ]).to_pandas()
            for column in text:
                lines += _case_variants(counted[counted["column"] == column], where, column)
        if ids:
            spaced = {c: (table[c].notnull() & (table[c] != table[c].strip())) for c in ids}
            counts = table.aggregate(**{c: ibis.ifelse(f, 1, 0).sum() for c, f in spaced.items()}).to_pandas()
            for column in ids:
                n = counts[column].iloc[0]
                if pd.notna(n) and int(n) > 0:
                    shown = table.filter(spaced[column]).select(column).limit(3).to_pandas()[column]
                    values = ", ".join(repr(v) for v in shown)
                    rows = "1 row has an id" if n == 1 else f"{int(n):,} rows have ids"
                    around = "it" if n == 1 else "them"
                    lines.append(f"{where}, column '{column}': {rows} with spaces around {around} ({values}); "
                                 f"{'it matches' if n == 1 else 'they match'} no id written without the spaces")
    return lines


def _case_variants(counted: pd.DataFrame, where: str, column: str) -> list[str]:
    if counted.empty:
        return []
    counted = counted.assign(norm=counted["value"].astype(str).str.strip().str.casefold())
    groups = counted.groupby("norm")["value"].transform("nunique")
    clashes = counted[groups > 1].sort_values(["norm", "rows", "value"], ascending=[True, False, True])
    if clashes.empty:
        return []
    shown = []
    for _, group in list(clashes.groupby("norm", sort=False))[:MAX_SHOWN]:
        shown.append(" / ".join(f"{v!r} ({r:,} {'row' if r == 1 else 'rows'})"
                                for v, r in zip(group["value"], group["rows"], strict=True)))
    more = clashes["norm"].nunique() - len(shown)
    tail = f"; and {more} more" if more > 0 else ""
    return [f"{where}, column '{column}': values that differ only in case or surrounding spaces are counted "
            f"apart: {'; '.join(shown)}{tail}"]
