"""Loyalty stages and the funnel by hand."""

from __future__ import annotations

from datetime import date

import pytest

from regulars.analytics import StageConfig, customer_stage, loyalty_stages

AS_OF = date(2025, 1, 1)
ROWS = [
    ("A", "2023-01-10", "10"),  # one purchase → first purchase; first year: 1
    ("B", "2023-02-01", "10"),  # two purchases long ago → repeat; first year: 2
    ("B", "2023-03-01", "10"),
    ("C", "2023-01-05", "10"),  # first year: 1; last 365 days: 4 → attached; active,
    ("C", "2024-03-01", "10"),  # customer for 2 years → loyalty
    ("C", "2024-06-01", "10"),
    ("C", "2024-09-01", "10"),
    ("C", "2024-12-01", "10"),
    ("D", "2024-10-01", "10"),  # 3 purchases in the last year → attached, but a customer
    ("D", "2024-11-01", "10"),  # for only 92 days → attachment (not loyalty)
    ("D", "2024-12-01", "10"),
    ("E", "2024-06-01", "10"),  # 2 recent purchases < 3 → repeat purchases
    ("E", "2024-07-01", "10"),
]
# Baseline: customers whose first year is complete (first purchase ≤ 2024-01-02) are
# A, B, C with first-year purchases 1, 2, 1 → median 1; attached needs ≥ 3 × 1.


def test_customer_stages_by_hand(make_orders):  # type: ignore[no-untyped-def]
    table = customer_stage(make_orders(ROWS), as_of=AS_OF)
    stages = {r["customer_id"]: r["stage"] for r in table.to_pyarrow().to_pylist()}
    assert stages == {
        "A": "first purchase",
        "B": "repeat purchases",
        "C": "loyalty",
        "D": "attachment",
        "E": "repeat purchases",
    }


def test_funnel_by_hand(make_orders):  # type: ignore[no-untyped-def]
    funnel = loyalty_stages(make_orders(ROWS), as_of=AS_OF).to_pyarrow().to_pylist()
    # reached: first purchase 5; repeat {B, C, D, E} 4; attachment {C, D} 2; loyalty {C} 1
    assert [(r["stage"], r["customers"]) for r in funnel] == [
        ("first purchase", 5),
        ("repeat purchases", 4),
        ("attachment", 2),
        ("loyalty", 1),
    ]
    assert [r["share_of_previous"] for r in funnel] == [None, 80.0, 50.0, 50.0]


def test_funnel_with_visitors(make_orders):  # type: ignore[no-untyped-def]
    funnel = loyalty_stages(make_orders(ROWS), as_of=AS_OF, visitors=50).to_pyarrow().to_pylist()
    assert [r["stage"] for r in funnel][:2] == ["first visit", "first purchase"]
    assert funnel[0]["customers"] == 50
    assert funnel[0]["share_of_previous"] is None
    assert funnel[1]["share_of_previous"] == pytest.approx(10.0)  # 5 / 50


def test_lower_multiple_attaches_more(make_orders):  # type: ignore[no-untyped-def]
    table = customer_stage(
        make_orders(ROWS), as_of=AS_OF, config=StageConfig(attachment_multiple=2)
    )
    stages = {r["customer_id"]: r["stage"] for r in table.to_pyarrow().to_pylist()}
    assert stages["E"] == "attachment"  # 2 recent purchases ≥ 2 × 1
