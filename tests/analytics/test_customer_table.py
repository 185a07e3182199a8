"""The per-customer table joins every per-customer figure and label."""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal

import pytest

from regulars.analytics import customer_table

AS_OF = date(2025, 1, 1)
ROWS = [
    ("A", "2023-01-10", "10"),
    ("C", "2023-01-05", "10"),
    ("C", "2024-03-01", "10"),
    ("C", "2024-06-01", "10"),
    ("C", "2024-09-01", "10"),
    ("C", "2024-12-01", "10"),
    ("C", "2024-12-15", "40", "0", "cancelled"),  # not a purchase
]


def test_customer_table_by_hand(make_orders):  # type: ignore[no-untyped-def]
    table = customer_table(make_orders(ROWS), as_of=AS_OF)
    rows = {r["customer_id"]: r for r in table.to_pyarrow().to_pylist()}
    a, c = rows["A"], rows["C"]
    assert (c["first_purchase"], c["last_purchase"]) == (date(2023, 1, 5), date(2024, 12, 1))
    assert (c["orders"], c["revenue"], c["aov"]) == (5, Decimal(50), 10.0)
    assert c["recency_days"] == 31  # 2024-12-01 → 2025-01-01
    assert c["tenure_days"] == 727  # 2023-01-05 → 2025-01-01 = 731 − 4
    assert c["active"] is True
    assert a["active"] is False  # last purchase 722 days ago > 365
    # Two customers: quintiles of 2 rows give scores 1 and 2; C leads on R, F and M.
    assert (a["rfm_cell"], a["segment"]) == ("111", "Lost")
    assert (c["rfm_cell"], c["segment"]) == ("222", "Hibernating")
    # C's gaps: 421, 92, 92, 91 days (span 696, Σgap² = 202,450):
    # CV = sqrt(4 × 202,450 − 696²) / 696 ≈ 0.8196 → evenness ≈ 0.180; evidence and
    # duration are 1 → regularity ≈ 18.0 → occasional.
    expected = 100 * (1 - math.sqrt(4 * 202_450 - 696**2) / 696)
    assert c["kind"] == "occasional"
    assert c["regularity"] == pytest.approx(expected)
    assert (a["kind"], a["regularity"]) == ("one-time", 0.0)
    # Baseline: A and C both have 1 first-year purchase → 1; C bought 4 times in the
    # last 365 days (≥ 3 × 1), is active and a customer for 2 years → loyalty.
    assert (a["stage"], c["stage"]) == ("first purchase", "loyalty")


def test_activity_window_sets_active(make_orders):  # type: ignore[no-untyped-def]
    table = customer_table(make_orders(ROWS), as_of=AS_OF, activity_window_days=30)
    rows = {r["customer_id"]: r for r in table.to_pyarrow().to_pylist()}
    assert rows["C"]["active"] is False  # 31 days since the last purchase > 30
    # with a 30-day window C is no longer active, so no longer in the loyalty stage
    assert rows["C"]["stage"] == "attachment"
