"""``reports/index.html``: every period with its headline KPIs and a link to each report, in
the documented order, with the data each was rendered from."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import jinja2

from ..periods import Period
from .atomic import write_text
from .paths import TEMPLATES, report_rank
from .publish import read_manifest
from .sanitize import sanitize_html

__all__ = ["HEADLINE", "write_index"]

# (key, label, format) shown for each period when kpis.json has them.
HEADLINE = (
    ("mrr", "MRR", "{:,.0f}"),
    ("customers", "Customers", "{:,.0f}"),
    ("arpu", "ARPU", "{:,.0f}"),
    ("net_new_mrr", "Net new MRR", "{:+,.0f}"),
    ("customer_churn_rate", "Customer churn", "{:.1%}"),
    ("leads", "Leads", "{:,.0f}"),
    ("unique_visitors", "Unique visitors", "{:,.0f}"),
    ("sm_spend", "S&M spend", "{:,.0f}"),
    ("ltv_cac", "LTV:CAC", "{:.1f}"),
)


def _period_key(name: str) -> tuple[str, str]:
    p = Period.parse(name)
    return (p.kind, str(p))


def _kpis(path: Path) -> dict:
    try:
        kpis = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    except (OSError, ValueError):
        return {}
    return kpis if isinstance(kpis, dict) else {}


def _periods(out: Path, warn: Callable[[str], None] | None = None) -> list[dict]:
    rows = []
    for folder in out.iterdir():
        if not folder.is_dir() or folder.name.startswith("."):
            continue
        try:
            period = Period.parse(folder.name)
        except ValueError:
            continue
        manifest = read_manifest(folder, warn=warn)
        kpis = _kpis(folder / "kpis.json")
        # the data of the latest publication of the period, which its kpis.json and CSVs hold
        rendered = [e for e in manifest.values() if e.get("rendered_at") and e.get("data")]
        latest = max(rendered, key=lambda e: e["rendered_at"])["data"] if rendered else None
        reports = []
        for name, entry in sorted(manifest.items(), key=lambda item: report_rank(item[0])):
            html = folder / f"{name}.html"
            reports.append({"name": name, "title": entry.get("title", name),
                            "href": f"{folder.name}/{name}.html" if html.exists() else None,
                            "skipped": entry.get("skipped", ""),
                            "stale": (entry.get("rendered_at", "")[:10] if latest and entry.get("data")
                                      and entry.get("data") != latest and not entry.get("skipped") else ""),
                            "failure": entry.get("last_failure") or ("" if entry.get("ok")
                                                                     else entry.get("error", "")),
                            "source": entry.get("source", "")})
        headline = [{"label": label, "value": fmt.format(kpis[key])}
                    for key, label, fmt in HEADLINE if isinstance(kpis.get(key), (int, float))]
        rows.append({"period": str(period), "label": period.label, "kind": period.kind_name,
                     "reports": reports, "headline": headline, "sort": (period.kind, period)})
    rows.sort(key=lambda r: (r["sort"][0], r["sort"][1]), reverse=True)
    return rows


def write_index(out: Path, *, template_dir: Path = TEMPLATES, warn: Callable[[str], None] | None = None) -> Path:
    """Write ``out/index.html`` from the period folders found in ``out`` (atomically; an
    unreadable manifest is rebuilt from the reports on disk and said through ``warn``)."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(template_dir / "kpitools")),
                             autoescape=True)
    periods = _periods(out, warn)
    # the data each report was rendered from: one source is said once; reports of several
    # sources in one folder each say theirs
    sources = sorted({r["source"] for p in periods for r in p["reports"] if r["source"]})
    html = env.get_template("reports_index.html.j2").render(
        periods=periods, sources=sources,
        css=(template_dir / "kpitools" / "report.css").read_text(encoding="utf-8"),
        generated_at=dt.datetime.now(dt.UTC).strftime("%d %b %Y %H:%M UTC"),
    )
    return write_text(out / "index.html", sanitize_html(html)[0])
