"""Points earning rules, against hand-computed examples."""

from __future__ import annotations

from decimal import Decimal

from regulars.loyalty.program_types.earning import (
    Line,
    PointsRules,
    Tier,
    highest_tier,
    max_redeemable,
    points_earned,
)

RULES = PointsRules(
    earn_per_unit=Decimal(1),
    point_value=Decimal("0.01"),
    sku_multipliers={"COFFEE": Decimal(3)},
    category_multipliers={"tea": Decimal(2)},
)
TIERS = [
    Tier(name="gold", threshold=Decimal(2000), earn_multiplier=Decimal(2)),
    Tier(name="silver", threshold=Decimal(500), earn_multiplier=Decimal("1.5")),
]


def test_order_without_lines_earns_on_net_amount() -> None:
    assert points_earned(RULES, Decimal("59.99")) == 59


def test_sku_multiplier_beats_category_and_floor_is_once_per_order() -> None:
    lines = [
        Line(Decimal("4.50"), sku="COFFEE", category="tea"),  # 13.5 (sku wins)
        Line(Decimal("3.30"), category="tea"),  # 6.6
        Line(Decimal("0.95")),  # 0.95
    ]
    # 13.5 + 6.6 + 0.95 = 21.05 -> 21; per-line flooring would give 13 + 6 + 0 = 19.
    assert points_earned(RULES, Decimal("8.75"), lines) == 21


def test_tier_multiplier_and_nothing_for_returns() -> None:
    assert points_earned(RULES, Decimal("100"), tier_multiplier=Decimal("1.5")) == 150
    assert points_earned(RULES, Decimal("-20")) == 0


def test_highest_tier_picks_highest_reached_in_any_order() -> None:
    assert highest_tier(TIERS, Decimal("499.99")) is None
    silver = highest_tier(TIERS, Decimal(500))
    assert silver is not None
    assert silver.name == "silver"
    gold = highest_tier(TIERS, Decimal(5000))
    assert gold is not None
    assert gold.name == "gold"


def test_redemption_cap() -> None:
    # 50 % of 30.00 = 15.00 = 1,500 points at 0.01; the balance limits too.
    assert max_redeemable(RULES, Decimal("30.00"), 10_000) == 1_500
    assert max_redeemable(RULES, Decimal("30.00"), 700) == 700
    assert max_redeemable(RULES, Decimal(0), 700) == 0
