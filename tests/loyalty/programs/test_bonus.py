"""Bonus / cashback points: bonus events on top of the shared earning rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from pydantic import ValidationError

from regulars.loyalty.programs.bonus import (
    PointsProgramConfig,
    earn_for_action,
    earn_for_purchase,
    is_first_purchase,
)
from regulars.loyalty.programs.history import OrderLine, Purchase
from regulars.loyalty.rules import PointsRules

RULES = PointsRules(
    earn_per_unit=Decimal(1),
    point_value=Decimal("0.01"),
    pending_days=14,
    expiry_days=365,
    category_multipliers={"tea": Decimal(2)},
)
CONFIG = PointsProgramConfig.model_validate(
    {
        **RULES.model_dump(),
        "bonuses": [
            {
                "kind": "period",
                "code": "black-friday",
                "multiplier": "3",
                "starts_at": "2026-11-27T00:00:00+01:00",
                "ends_at": "2026-11-28T00:00:00+01:00",
            },
            {"kind": "period", "code": "tuesdays", "multiplier": "2", "weekdays": [2]},
            {"kind": "first_purchase", "code": "welcome", "points": 100, "multiplier": "1.5"},
            {"kind": "review_written", "code": "review", "points": 20},
            {"kind": "profile_completed", "code": "profile", "points": 50},
        ],
    }
)


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def test_plain_order_earns_base_points_pending_then_expiring() -> None:
    """A Wednesday order of 45.90 (not the first): floor(45.90 × 1) = 45 points,
    spendable after 14 days, expiring 365 days after that."""
    earlier = Purchase("o0", "c1", at(2026, 1, 2, 10), Decimal(10))
    order = Purchase("o1", "c1", at(2026, 1, 7, 10), Decimal("45.90"))
    [earn] = earn_for_purchase(CONFIG, order, [earlier, order])
    assert (earn.key, earn.points, earn.reason) == ("points:order:o1", 45, "purchase")
    assert earn.available_at == at(2026, 1, 21, 10)
    assert earn.expires_at == at(2027, 1, 21, 10)


def test_first_purchase_gets_multiplier_part_and_fixed_points() -> None:
    """First order, 20.00 of tea (×2) and 5.50 else on a Wednesday:
    base = floor(40 + 5.5) = 45; at ×1.5: floor(45.5 × 1.5) = floor(68.25) = 68, so the
    welcome multiplier adds 68 − 45 = 23; the welcome gift adds 100. Total 168."""
    lines = (
        OrderLine(1, Decimal("20.00"), sku="T1", category="tea"),
        OrderLine(1, Decimal("5.50"), sku="B1", category="bakery"),
    )
    order = Purchase("o1", "c1", at(2026, 1, 7, 10), Decimal("25.50"), lines)
    earns = earn_for_purchase(CONFIG, order, [order])
    assert [(e.key, e.points) for e in earns] == [
        ("points:order:o1", 45),
        ("points:bonus:welcome:c1", 23),
        ("points:bonus:welcome:c1:points", 100),
    ]
    assert sum(e.points for e in earns) == 168


def test_largest_multiplier_wins_and_does_not_stack() -> None:
    """A first order of 100.00 on Black Friday (Paris) that is also a Tuesday? 27 Nov 2026 is
    a Friday: only ×3 black-friday and ×1.5 welcome apply; ×3 wins: 300 − 100 = +200."""
    order = Purchase("o9", "c2", at(2026, 11, 27, 12), Decimal(100))
    earns = earn_for_purchase(CONFIG, order, [])
    assert [(e.key, e.points) for e in earns] == [
        ("points:order:o9", 100),
        ("points:bonus:black-friday:o9", 200),
        ("points:bonus:welcome:c2:points", 100),
    ]


def test_period_bounds_follow_their_offsets() -> None:
    """Black Friday starts at midnight Paris time = 23:00 UTC on the 26th."""
    before = Purchase("a", "c3", at(2026, 11, 26, 22, 59), Decimal(10))
    inside = Purchase("b", "c3", at(2026, 11, 26, 23, 0), Decimal(10))
    history = [Purchase("z", "c3", at(2026, 1, 1), Decimal(1))]
    assert len(earn_for_purchase(CONFIG, before, history)) == 1
    assert earn_for_purchase(CONFIG, inside, history)[1].points == 20


def test_weekday_bonus_uses_the_customers_local_day() -> None:
    """Tuesday 6 Jan 2026 00:30 in Tokyo is Monday 15:30 UTC: a Tuesday there, not in UTC."""
    history = [Purchase("z", "c4", at(2025, 12, 1), Decimal(1))]
    order = Purchase("o2", "c4", at(2026, 1, 5, 15, 30), Decimal(10))
    assert len(earn_for_purchase(CONFIG, order, history, time_zone="UTC")) == 1
    tokyo = earn_for_purchase(CONFIG, order, history, time_zone="Asia/Tokyo")
    assert [(e.key, e.points) for e in tokyo] == [
        ("points:order:o2", 10),
        ("points:bonus:tuesdays:o2", 10),
    ]


def test_tier_multiplier_combines_with_bonus_once_floored() -> None:
    """10.50 at tier ×1.5: base floor(15.75) = 15; Tuesday ×2: floor(31.5) = 31 → +16."""
    history = [Purchase("z", "c5", at(2025, 12, 1), Decimal(1))]
    order = Purchase("o3", "c5", at(2026, 1, 6, 12), Decimal("10.50"))
    earns = earn_for_purchase(CONFIG, order, history, tier_multiplier=Decimal("1.5"))
    assert [e.points for e in earns] == [15, 16]


def test_first_purchase_is_by_time_then_order_id() -> None:
    a = Purchase("a", "c1", at(2026, 1, 1), Decimal(5))
    b = Purchase("b", "c1", at(2026, 1, 1), Decimal(5))
    refund_only = Purchase("r", "c1", at(2025, 1, 1), Decimal(0))
    other = Purchase("x", "c9", at(2020, 1, 1), Decimal(5))
    assert is_first_purchase(a, [a, b, refund_only, other])
    assert not is_first_purchase(b, [a, b])


def test_action_bonuses_and_their_keys() -> None:
    moment = at(2026, 3, 1, 9)
    [profile] = earn_for_action(CONFIG, "c1", "profile_completed", moment)
    assert (profile.key, profile.points, profile.available_at) == (
        "points:bonus:profile:c1",
        50,
        moment,
    )
    [review] = earn_for_action(CONFIG, "c1", "review_written", moment, subject="SKU-7")
    assert review.key == "points:bonus:review:c1:SKU-7"
    assert review.expires_at == moment + timedelta(days=365)
    with pytest.raises(ValueError, match="subject"):
        earn_for_action(CONFIG, "c1", "review_written", moment)


def test_config_errors_name_the_field() -> None:
    with pytest.raises(ValidationError, match="duplicate code"):
        PointsProgramConfig(
            **RULES.model_dump(),
            bonuses=[
                {"kind": "review_written", "code": "x", "points": 1},  # type: ignore[list-item]
                {"kind": "profile_completed", "code": "x", "points": 1},  # type: ignore[list-item]
            ],
        )
    with pytest.raises(ValidationError, match="give points, multiplier or both"):
        PointsProgramConfig.model_validate(
            {**RULES.model_dump(), "bonuses": [{"kind": "first_purchase", "code": "w"}]}
        )
    with pytest.raises(ValidationError, match="ends_at must be after"):
        PointsProgramConfig.model_validate(
            {
                **RULES.model_dump(),
                "bonuses": [
                    {
                        "kind": "period",
                        "code": "p",
                        "multiplier": 2,
                        "starts_at": "2026-01-02T00:00:00Z",
                        "ends_at": "2026-01-01T00:00:00Z",
                    }
                ],
            }
        )
