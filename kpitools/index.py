"""``reports/index.html``: every period with its headline KPIs and a link to each report."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import jinja2

from .paths import TEMPLATES
from .periods import Period

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


def _periods(out: Path) -> list[dict]:
    rows = []
    for folder in out.iterdir():
        if not folder.is_dir() or folder.name.startswith("."):
            continue
        try:
            period = Period.parse(folder.name)
        except ValueError:
            continue
        manifest_path = folder / "manifest.json"
        manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
        kpis_path = folder / "kpis.json"
        kpis = json.loads(kpis_path.read_text()) if kpis_path.exists() else {}
        reports = []
        for name, entry in manifest.items():
            html = folder / f"{name}.html"
            reports.append({"name": name, "title": entry.get("title", name),
                            "href": f"{folder.name}/{name}.html" if html.exists() else None,
                            "skipped": entry.get("skipped", ""),
                            "failure": entry.get("last_failure") or ("" if entry.get("ok")
                                                                     else entry.get("error", ""))})
        headline = [{"label": label, "value": fmt.format(kpis[key])}
                    for key, label, fmt in HEADLINE if kpis.get(key) is not None]
        rows.append({"period": str(period), "label": period.label, "kind": period.kind_name,
                     "reports": reports, "headline": headline, "sort": (period.kind, period)})
    rows.sort(key=lambda r: (r["sort"][0], r["sort"][1]), reverse=True)
    return rows


def write_index(out: Path, *, template_dir: Path = TEMPLATES) -> Path:
    """Write ``out/index.html`` from the period folders found in ``out``."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(template_dir / "kpitools")),
                             autoescape=True)
    html = env.get_template("reports_index.html.j2").render(
        periods=_periods(out),
        css=(template_dir / "kpitools" / "report.css").read_text(encoding="utf-8"),
        generated_at=dt.datetime.now(dt.UTC).strftime("%d %b %Y %H:%M UTC"),
    )
    path = out / "index.html"
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(path)
    return path
