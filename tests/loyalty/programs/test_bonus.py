"""Bonus / cashback points: bonus events on top of the shared earning rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from pydantic import ValidationError

from regulars.loyalty.program_types.bonus import (
    KEY_LENGTH,
    PointsProgramConfig,
    bounded_key,
    earn_for_profile,
    earn_for_purchase,
    earn_for_review,
    is_first_purchase,
    purchase_earns,
)
from regulars.loyalty.program_types.earning import PointsRules
from regulars.loyalty.program_types.history import OrderLine, Purchase

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
    spendable after 14 days, expiring 365 days after the order (as the ledger and the
    simulator have it)."""
    earlier = Purchase("o0", "c1", at(2026, 1, 2, 10), Decimal(10))
    order = Purchase("o1", "c1", at(2026, 1, 7, 10), Decimal("45.90"), shop_id="berlin")
    [earn] = earn_for_purchase(CONFIG, order, [earlier, order])
    assert (earn.key, earn.points, earn.reason) == ("order:berlin:o1", 45, "purchase")
    assert earn.available_at == at(2026, 1, 21, 10)
    assert earn.expires_at == at(2027, 1, 7, 10)


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
        ("order:default:o1", 45),
        ("bonus:welcome:c1", 23),
        ("bonus:welcome:c1:points", 100),
    ]
    assert sum(e.points for e in earns) == 168
    sources = [(p.kind, p.code) for p in purchase_earns(CONFIG, order, [order])]
    assert sources == [("base", None), ("first_purchase", "welcome"), ("first_purchase", "welcome")]


def test_largest_multiplier_wins_and_does_not_stack() -> None:
    """A first order of 100.00 on Black Friday (Paris) that is also a Tuesday? 27 Nov 2026 is
    a Friday: only ×3 black-friday and ×1.5 welcome apply; ×3 wins: 300 − 100 = +200."""
    order = Purchase("o9", "c2", at(2026, 11, 27, 12), Decimal(100))
    earns = earn_for_purchase(CONFIG, order, [])
    assert [(e.key, e.points) for e in earns] == [
        ("order:default:o9", 100),
        ("order:default:o9:bonus:black-friday", 200),
        ("bonus:welcome:c2:points", 100),
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
        ("order:default:o2", 10),
        ("order:default:o2:bonus:tuesdays", 10),
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


def test_review_bonus_once_per_subject_spendable_at_once() -> None:
    moment = at(2026, 3, 1, 9)
    [review] = earn_for_review(CONFIG, "c1", "SKU-7", moment)
    assert (review.key, review.points, review.available_at) == ("bonus:review:c1:SKU-7", 20, moment)
    assert review.expires_at == moment + timedelta(days=365)
    with pytest.raises(ValueError, match="subject"):
        earn_for_review(CONFIG, "c1", "", moment)


def test_profile_bonus_when_the_save_completes_the_default_fields() -> None:
    """Default required fields: name, email, phone, birthday (blank strings do not count)."""
    moment = at(2026, 3, 1, 9)
    full = {"name": "Ann", "email": "a@x.de", "phone": "+49 1", "birthday": "1990-05-01"}
    [profile] = earn_for_profile(CONFIG, "c1", None, full, moment)
    assert (profile.key, profile.points, profile.available_at) == ("bonus:profile:c1", 50, moment)
    assert earn_for_profile(CONFIG, "c1", {**full, "phone": " "}, full, moment) != []
    assert earn_for_profile(CONFIG, "c1", full, {**full, "name": "Anna"}, moment) == []
    assert earn_for_profile(CONFIG, "c1", None, {**full, "birthday": None}, moment) == []


def test_profile_bonus_with_its_own_required_fields() -> None:
    config = PointsProgramConfig.model_validate(
        {
            **RULES.model_dump(),
            "bonuses": [
                {
                    "kind": "profile_completed",
                    "code": "contact",
                    "points": 5,
                    "required_fields": ["email", "language"],
                }
            ],
        }
    )
    moment = at(2026, 3, 1, 9)
    assert earn_for_profile(config, "c1", None, {"email": "a@x.de"}, moment) == []
    [earn] = earn_for_profile(config, "c1", None, {"email": "a@x.de", "language": "de"}, moment)
    assert earn.points == 5
    with pytest.raises(ValidationError, match="required_fields"):
        PointsProgramConfig.model_validate(
            {
                **RULES.model_dump(),
                "bonuses": [
                    {"kind": "profile_completed", "code": "p", "points": 1, "required_fields": []}
                ],
            }
        )


def test_long_keys_are_bounded_and_stay_distinct() -> None:
    long_subject = "S" * 400
    [a] = earn_for_review(CONFIG, "c1", long_subject, at(2026, 3, 1))
    [b] = earn_for_review(CONFIG, "c1", long_subject + "x", at(2026, 3, 1))
    assert len(a.key) == len(b.key) == KEY_LENGTH
    assert a.key != b.key
    assert bounded_key("short") == "short"


def test_weekday_bonus_falls_back_to_the_default_time_zone() -> None:
    """Monday 5 Jan 2026 15:30 UTC is Tuesday 00:30 in Tokyo: with default_time_zone
    Asia/Tokyo a customer without a (known) zone gets the Tuesday bonus."""
    tokyo = CONFIG.model_copy(update={"default_time_zone": "Asia/Tokyo"})
    history = [Purchase("z", "c4", at(2025, 12, 1), Decimal(1))]
    order = Purchase("o2", "c4", at(2026, 1, 5, 15, 30), Decimal(10))
    assert len(earn_for_purchase(tokyo, order, history)) == 2
    assert len(earn_for_purchase(tokyo, order, history, time_zone="Not/AZone")) == 2
    assert len(earn_for_purchase(tokyo, order, history, time_zone="UTC")) == 1


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
    with pytest.raises(ValidationError, match="expiry_days must be more than pending_days"):
        PointsProgramConfig.model_validate(
            {**RULES.model_dump(), "pending_days": 30, "expiry_days": 30}
        )
    with pytest.raises(ValidationError, match="time_zone"):
        PointsProgramConfig.model_validate({**RULES.model_dump(), "default_time_zone": "Mars"})
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
