import json

import pytest

import kpitools
from kpitools.cli import main
from kpitools.metrics.economics import UNIT_KEYS
from kpitools.metrics.revenue import REVENUE_KEYS

from .conftest import write_csv


def test_compute_kpis_flat_object(tiny_dir):
    write_csv(tiny_dir, "costs", """
        date,category,amount
        2024-02-01,support,220
    """)
    data = kpitools.load(tiny_dir)
    kpis = kpitools.compute_kpis(data, "2024-02")
    assert set(REVENUE_KEYS) | {"early_churn_rate"} <= set(kpis)
    assert set(UNIT_KEYS) <= set(kpis)
    # 31 Jan and 29 Feb 2024: A1 100 + A2 1000 (A3 paid 10-28 Feb only): no movement
    assert (kpis["mrr"], kpis["arr"], kpis["customers"], kpis["arpu"]) == (1100, 13200, 2, 550)
    assert kpis["net_new_mrr"] == 0 and kpis["customer_churn_rate"] == 0
    assert kpis["cost_to_serve"] == 220 and kpis["cost_to_serve_per_customer"] == 110
    revenue = (100 * 29 + 1000 * 29 + 50 * 19) / 29
    assert kpis["revenue"] == pytest.approx(revenue, abs=1e-6)
    assert kpis["gross_margin"] == pytest.approx((revenue - 220) / revenue, abs=1e-6)
    # no churn in the window (Dec and Jan had no customers to lose): LTV is not a number
    assert kpis["ltv"] is None and kpis["quick_ratio"] is None
    assert kpis["sm_spend"] is None  # no spend table


def test_absent_tables_leave_their_keys_out(tiny_dir):
    (tiny_dir / "subscriptions.csv").unlink()
    kpis = kpitools.compute_kpis(kpitools.load(tiny_dir), "2024-02")
    assert kpis == {}


def test_not_computable_is_null(tiny_dir):
    from kpitools.metrics.kpis import kpis_for

    kpis = kpis_for(kpitools.load(tiny_dir), ["2023-06"])["2023-06"]  # before the data: nobody pays
    assert kpis["arpu"] is None and kpis["customers"] == 0


def test_cli_kpis_prints_json(tiny_dir, capsys):
    assert main(["kpis", "--data", str(tiny_dir), "--period", "2024-02"]) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert out["mrr"] == 1100.0 and "period" not in out  # key to number only
    assert all(isinstance(v, int | float) or v is None for v in out.values())
    assert captured.err.strip() == "kpis for 2024-02"


def test_cli_kpis_default_is_latest_complete_month(tiny_dir, capsys):
    # the data ends on 5 March 2024 (a subscription start): February is the latest complete month
    assert main(["kpis", "--data", str(tiny_dir)]) == 0
    captured = capsys.readouterr()
    assert captured.err.strip() == "kpis for 2024-02"
    assert json.loads(captured.out)["mrr"] == 1100.0  # 29 Feb, not 5 Mar (1150)


def test_cli_kpis_several_periods(tiny_dir, capsys):
    assert main(["kpis", "--data", str(tiny_dir), "--periods", "2024-01..2024-02"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["2024-01"]["mrr"] == 1100.0 and out["2024-02"]["mrr"] == 1100.0


def test_cli_bad_data_is_one_message(tmp_path, capsys):
    write_csv(tmp_path, "accounts", """
        account_id,signup_at,channel
        A1,soon,organic
    """)
    assert main(["kpis", "--data", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("kpitools: ") and "accounts.csv, column 'signup_at'" in err
    assert "Traceback" not in err


def test_cli_bad_period(tiny_dir, capsys):
    assert main(["kpis", "--data", str(tiny_dir), "--period", "2024-13"]) == 2
    assert "month number must be between 1 and 12" in capsys.readouterr().err


def test_cli_period_outside_the_data(tiny_dir, capsys):
    assert main(["kpis", "--data", str(tiny_dir), "--period", "2030-01"]) == 2
    assert "period 2030-01 lies outside the data, which runs from 2024-01-03 to 2024-03-05" in \
        capsys.readouterr().err


def test_cli_kpis_keys_runs_only_what_they_need(tiny_dir, capsys):
    assert main(["kpis", "--data", str(tiny_dir), "--period", "2024-02", "--keys", "mrr, customers"]) == 0
    assert json.loads(capsys.readouterr().out) == {"mrr": 1100.0, "customers": 2}  # A1 100 + A2 1000


def test_cli_kpis_unknown_key_is_one_message(tiny_dir, capsys):
    assert main(["kpis", "--data", str(tiny_dir), "--keys", "mrr,monthly_magic"]) == 2
    assert "unknown KPI key 'monthly_magic'" in capsys.readouterr().err


def test_keys_select_families_and_feature_keys(small_dir):
    data = kpitools.load(small_dir)
    everything = kpitools.compute_kpis(data, "2025-05")
    some = kpitools.compute_kpis(data, "2025-05", keys=["mau", "unique_visitors", "feature_adoption_rate"])
    features = {k for k in everything if k.startswith("feature_adoption_rate.")}
    assert features and set(some) == {"mau", "unique_visitors", *features}
    assert all(some[k] == everything[k] for k in some)
    assert [f.name for f in kpitools.metrics.kpis.families_for(["new_users"])] == ["active_users"]
    with pytest.raises(kpitools.KpiToolsError, match="unknown KPI key 'nope'"):
        kpitools.compute_kpis(data, "2025-05", keys=["nope"])


def test_cli_kpis_unreadable_parquet_is_one_message(tiny_dir, capsys):
    (tiny_dir / "events.parquet").write_bytes(b"not a parquet file")
    assert main(["kpis", "--data", str(tiny_dir), "--period", "2024-02"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("kpitools: ") and "events.parquet: cannot read the file" in err
    assert "Traceback" not in err


def test_a_category_limit_changes_only_the_per_value_keys(small_dir):
    """Limiting categories relabels values and changes no total: every KPI but the
    per-feature ones is the same, so kpis.json takes them from the reports' limited data."""
    from kpitools.metrics.kpis import kpis_for, kpis_like

    data = kpitools.load(small_dir)
    periods = ["2025-05", "2025-06", "2025-Q2"]
    full = kpis_for(data, periods)
    for n in (1, 2):
        limited = data.limit_categories(n)
        assert limited is not data  # something was relabelled
        batch = kpis_for(limited, periods)
        for p in periods:
            shown = batch[p]
            assert {k for k in shown if k.startswith("feature_adoption_rate.")} != \
                {k for k in full[p] if k.startswith("feature_adoption_rate.")}
            same = {k: v for k, v in shown.items() if not k.startswith("feature_adoption_rate.")}
            assert same == {k: v for k, v in full[p].items() if not k.startswith("feature_adoption_rate.")}
            like = kpis_like(data, p, limited=limited)
            assert list(like.items()) == list(full[p].items())  # the same values in the same order
