"""`regulars report` / `metrics` on a Shopify orders export, against hand computation.

tests/importers/files/shopify_orders.csv (Berlin shop, EUR):
  #1001 alice  paid                2024-03-05  54.90
  #1002 bob    partially refunded  2024-03-06  42.40 − 12.50 refunded = 29.90
  #1003 alice  refunded            2024-03-20  29.90 − 29.90 → not a purchase
  #1004 carol  voided (cancelled)  2024-03-21  → not a purchase
  #1005 phone +491512345678, pending 2024-03-31 09:15 +02:00 = 31 March in Berlin  1234.56
  #1006 dave   paid                2024-04-02  20.00
"""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from regulars.cli import app

SHOPIFY = Path(__file__).parent.parent / "importers" / "files" / "shopify_orders.csv"
runner = CliRunner()


def _metrics(start: str, end: str) -> dict[str, object]:
    result = runner.invoke(
        app,
        [
            "metrics",
            str(SHOPIFY),
            "--start",
            start,
            "--end",
            end,
            "--json",
            "--timezone",
            "Europe/Berlin",
        ],
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.output)  # type: ignore[no-any-return]


def test_march_counts_three_new_customers_and_net_revenue() -> None:
    k = _metrics("2024-03-01", "2024-04-01")
    # Purchases: #1001, #1002, #1005 by alice, bob and the phone customer, all new.
    assert (k["orders"], k["unique_customers"], k["customers_new"]) == (3, 3, 3)
    assert k["customers_start"] == 0
    assert k["crr"] is None  # nobody to retain: undefined, not 0 or 100
    # 54.90 + 29.90 + 1234.56 = 1319.36; AOV = 1319.36 / 3 = 439.786… (JSON: to the cent)
    assert k["revenue"] == "1319.36"
    assert k["aov"] == 439.79


def test_april_retains_everyone_active_at_the_start() -> None:
    k = _metrics("2024-04-01", "2024-05-01")
    # S = the three March buyers (all bought within 365 days); dave is new; nobody lapses
    # within a month, so all three are still active on 1 May.
    assert (k["customers_start"], k["customers_new"], k["retained"], k["lost"]) == (3, 1, 3, 0)
    assert k["customers_end"] == 4
    assert k["crr"] == 100.0
    # The repeat-based definition: none of the three bought again in April.
    repeat = k["repeat"]
    assert isinstance(repeat, dict)
    assert (repeat["retained"], repeat["lost"], repeat["crr"]) == (0, 3, 0.0)


def test_report_recognises_the_shopify_export(tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = runner.invoke(
        app,
        [
            "report",
            str(SHOPIFY),
            "--out",
            str(out),
            "--timezone",
            "Europe/Berlin",
            "--no-models",
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "metrics.json").read_text())
    assert doc["source"]["format"] == "shopify"
    assert doc["totals"]["customers"] == 4
    assert doc["totals"]["revenue"] == "1339.36"  # 1319.36 + dave's 20.00
