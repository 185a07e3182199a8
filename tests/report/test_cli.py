"""The CLI end to end: demo, report and metrics, including user mistakes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
from typer.testing import CliRunner

from regulars.cli import app

runner = CliRunner()

ORDERS_CSV = """order_id,customer_id,ordered_at,amount
1,alice,2025-01-10,10.00
2,bob,2025-02-10,20.00
3,alice,2025-06-05,30.00
4,carol,2025-06-20,40.00
5,bob,2025-06-21,50.00
6,dave,2025-06-22,not-a-number
"""


def _regulars(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the installed console script, as a user would."""
    exe = Path(sys.executable).with_name("regulars")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, check=False)


def test_demo_writes_every_output(demo_report: Path) -> None:
    for name in ("report.html", "metrics.json", "customers.parquet", "rejects.csv"):
        assert (demo_report / name).stat().st_size > 0, name
    doc = json.loads((demo_report / "metrics.json").read_text())
    for key in (
        "customers_start",
        "customers_new",
        "customers_end",
        "retained",
        "lost",
        "crr",
        "churn_rate",
        "repeat_purchase_rate",
        "aov",
        "purchase_frequency",
    ):
        assert key in doc["current_period"], key
    assert doc["source"]["rows_rejected"] > 0  # the demo carries deliberate defects
    customers = pq.read_table(demo_report / "customers.parquet")
    assert customers.num_rows == doc["totals"]["customers"]
    for column in ("customer_id", "segment", "kind", "stage", "r_score"):
        assert column in customers.column_names


def test_metrics_json_matches_hand_computation(tmp_path: Path) -> None:
    orders = tmp_path / "orders.csv"
    orders.write_text(ORDERS_CSV)
    result = runner.invoke(
        app, ["metrics", str(orders), "--start", "2025-06-01", "--end", "2025-07-01", "--json"]
    )
    assert result.exit_code == 0, result.output
    k = json.loads(result.output)
    # S: alice and bob bought in the 365 days before 2025-06-01 → 2.
    # N: carol's first purchase is in June → 1 (dave's only row is rejected).
    # Both alice and bob bought again and are active at the end: retained 2, lost 0.
    assert (k["customers_start"], k["customers_new"], k["retained"], k["lost"]) == (2, 1, 2, 0)
    assert k["customers_end"] == 3
    assert k["crr"] == 100.0
    assert k["churn_rate"] == 0.0
    # June: 3 purchases (30 + 40 + 50 = 120) by 3 customers.
    assert float(k["aov"]) == 40.0
    assert k["purchase_frequency"] == 1.0
    assert k["repeat_purchase_rate"] == 0.0


def test_report_on_a_csv_writes_rejects(tmp_path: Path) -> None:
    orders = tmp_path / "orders.csv"
    orders.write_text(ORDERS_CSV)
    out = tmp_path / "out"
    result = runner.invoke(app, ["report", str(orders), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    rejects = (out / "rejects.csv").read_text()
    assert "amount" in rejects
    assert "not-a-number" in rejects
    # Four customers cannot support a churn model: the report says so instead of failing.
    future = json.loads((out / "metrics.json").read_text())["future"]
    assert any(problem.startswith("churn") for problem in future["problems"])


def test_missing_file_is_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    proc = _regulars("report", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "o"))
    assert proc.returncode == 2
    assert "nope.csv" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_bad_date_option_is_a_clear_error(tmp_path: Path) -> None:
    orders = tmp_path / "orders.csv"
    orders.write_text(ORDERS_CSV)
    proc = _regulars("metrics", str(orders), "--start", "June", "--end", "2025-07-01")
    assert proc.returncode == 2
    assert "--start" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bad_locale_or_currency_is_a_one_line_error(tmp_path: Path) -> None:
    orders = tmp_path / "orders.csv"
    orders.write_text(ORDERS_CSV)
    for option, value in (("--locale", "xx_QQ"), ("--currency", "EURO")):
        proc = _regulars("report", str(orders), "--out", str(tmp_path / "o"), option, value)
        assert proc.returncode == 2
        assert proc.stderr.strip().count("\n") == 0
        assert value in proc.stderr
        assert not (tmp_path / "o" / "report.html").exists()


def test_a_file_of_one_month_with_dates_past_the_limits_gets_a_report(tmp_path: Path) -> None:
    """Orders all in one month, plus rows at the calendar's edges: the report is built, the
    edge rows are in rejects.csv with their reason (no traceback, no overflow)."""
    orders = tmp_path / "orders.csv"
    rows = [f"o{i},c{i % 4},2024-03-{i + 1:02d} 10:00,{i + 5}.50" for i in range(12)]
    rows += ["late,c9,9999-12-31T23:59:59-05:00,5.00", "early,c9,0001-01-01T00:00:00+01:00,5"]
    orders.write_text("order_id,customer_id,ordered_at,amount\n" + "\n".join(rows) + "\n")
    out = tmp_path / "out"
    result = runner.invoke(app, ["report", str(orders), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "report.html").stat().st_size > 0
    rejects = (out / "rejects.csv").read_text(encoding="utf-8-sig")
    assert rejects.count("outside the accepted range") == 2
