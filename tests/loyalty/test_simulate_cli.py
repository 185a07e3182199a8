"""`regulars loyalty simulate` end to end: summary, JSON, the what-if page, and one-line
errors with exit status 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from regulars.cli import app

# The worked example of test_simulate.py (one member: 850 issued, 700 redeemed, 100
# expired, 50 outstanding by 2025-02-15) plus a second customer.
ORDERS_CSV = """order_id,customer_id,ordered_at,amount
1,a,2024-01-01,300.00
2,a,2024-01-10,400.00
3,a,2024-02-01,100.00
4,a,2024-03-01,50.00
5,b,2024-05-01,20.00
"""


@pytest.fixture
def orders(tmp_path: Path) -> Path:
    path = tmp_path / "orders.csv"
    path.write_text(ORDERS_CSV)
    return path


def test_simulate_writes_json_and_page(orders: Path, tmp_path: Path) -> None:
    config = tmp_path / "program.toml"
    config.write_text(
        '[rules]\nearn_per_unit = "1"\npoint_value = "0.01"\n'
        "[assumptions]\nenrolment_share = 1.0\nredeemer_share = 1.0\n"
    )
    out = tmp_path / "whatif"
    result = CliRunner().invoke(
        app,
        [
            "loyalty", "simulate", str(orders), "--config", str(config),
            "--end", "2025-02-15", "--margin", "0.4", "--out", str(out), "--json",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "simulation.json").read_text())
    assert doc["totals"]["points_issued"] == 870  # 850 + b's 20
    assert doc["totals"]["points_redeemed"] == 700
    assert doc["totals"]["points_expired"] == 100
    assert doc["totals"]["liability"] == "0.70"  # a's 50 + b's 20 points
    assert doc["break_even"]["basis"] == "profit"
    assert doc["verdict"].startswith("Over 14 months")
    html = (out / "simulation.html").read_text()
    assert "Is it worth it?" in html
    assert "fig-liability" in html
    assert "cdn.plot.ly" not in html.split("<script>")[0]  # offline: Plotly is inlined
    entries = pq.read_table(out / "entries.parquet")
    assert sum(entries.column("points").to_pylist()) == 70


def test_tiers_option_replaces_the_config_club_and_keeps_its_window(
    orders: Path, tmp_path: Path
) -> None:
    """a spends 300 + 400 in January 2024 (700 ≥ 500: silver ×1.5 on the order that
    crosses, 400 × 1.5 = 600): 300 + 600 + 100 × 1.5 + 50 × 1.5 = 1,125 points; b earns
    20. The club's window (400 days) comes from the config, the tiers from --tiers."""
    config = tmp_path / "program.toml"
    config.write_text(
        '[rules]\nearn_per_unit = "1"\npoint_value = "0.01"\n'
        '[tiers]\nwindow_days = 400\n[[tiers.tiers]]\nname = "gold"\nthreshold = "9000"\n'
        "[assumptions]\nenrolment_share = 1.0\nredeemer_share = 0.0\n"
    )
    result = CliRunner().invoke(
        app,
        [
            "loyalty", "simulate", str(orders), "--config", str(config),
            "--tiers", "silver:500:1.5:5", "--json",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["tiers"]["window_days"] == 400
    assert [t["name"] for t in doc["tiers"]["tiers"]] == ["silver"]
    assert doc["totals"]["points_issued"] == 1125 + 20
    parts = {p["name"]: p for p in doc["cost_parts"]}
    assert parts["tier multiplier points"]["points"] == 200 + 50 + 25
    assert doc["months"][-1]["tiers"] == {"base": 1, "silver": 1}


def test_lines_file_makes_category_multipliers_count(orders: Path, tmp_path: Path) -> None:
    """Order 1 (300.00) has one tea line of 300.00, tea ×2: 600 instead of 300 points, so
    870 + 300 in all; order 2's line file entry has no category: ×1."""
    config = tmp_path / "program.toml"
    config.write_text(
        '[rules]\nearn_per_unit = "1"\npoint_value = "0.01"\n'
        '[rules.category_multipliers]\ntea = "2"\n[assumptions]\nenrolment_share = 1.0\n'
    )
    lines = tmp_path / "lines.csv"
    lines.write_text("order_id,sku,category,line_amount\n1,T,tea,300.00\n2,X,,400.00\n")
    args = ["loyalty", "simulate", str(orders), "--config", str(config), "--json"]
    result = CliRunner().invoke(app, [*args, "--lines", str(lines)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["totals"]["points_issued"] == 870 + 300
    bad = tmp_path / "bad.csv"
    bad.write_text("order,amount\n1,2\n")
    run = _regulars(*args, "--lines", str(bad))
    assert run.returncode == 2
    assert "--lines:" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


def test_a_points_based_club_is_a_one_line_error(orders: Path, tmp_path: Path) -> None:
    config = tmp_path / "program.toml"
    config.write_text(
        '[rules]\nearn_per_unit = "1"\npoint_value = "0.01"\n[tiers]\nbasis = "points"\n'
        '[[tiers.tiers]]\nname = "gold"\nthreshold = "100"\n'
    )
    run = _regulars("loyalty", "simulate", str(orders), "--config", str(config))
    assert run.returncode == 2
    assert "tiers: Value error, basis 'points' is not simulated" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


def test_options_override_the_config_and_print_a_summary(orders: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "loyalty", "simulate", str(orders), "--earn-per-unit", "2", "--point-value",
            "0.01", "--expiry-days", "never", "--tiers", "silver:500:1.5:5",
            "--enrolment-share", "1",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "points issued" in result.output
    assert "tier mix at the end" in result.output
    assert "… bonus points" in result.output
    assert "No margin" in result.output


def _regulars(*args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("regulars")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, check=False)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--point-value", "0.01"], "--earn-per-unit is required"),
        (["--earn-per-unit", "1", "--point-value", "0"], "rules.point_value"),
        (["--earn-per-unit", "x", "--point-value", "0.01"], "--earn-per-unit: 'x'"),
        (["--earn-per-unit", "1", "--point-value", "0.01", "--tiers", "gold"], "--tiers"),
    ],
)
def test_bad_options_are_one_line_errors(orders: Path, options: list[str], message: str) -> None:
    run = _regulars("loyalty", "simulate", str(orders), *options)
    assert run.returncode == 2
    assert message in run.stderr
    assert "Traceback" not in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
