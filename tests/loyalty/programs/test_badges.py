"""Badges: awarded once when a metric reaches its target, with progress."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from regulars.loyalty.program_types.badges import BadgesConfig, Review, awards, progress
from regulars.loyalty.program_types.history import OrderLine, Purchase, Return
from regulars.loyalty.program_types.outcomes import BadgeAwarded

BADGES = BadgesConfig.model_validate(
    {
        "type": "badges",
        "badges": [
            {"code": "explorer", "name": "5 categories tried", "metric": "categories", "target": 5},
            {"code": "regular", "name": "10 orders", "metric": "orders", "target": 10},
            {"code": "critic", "name": "First review", "metric": "reviews", "target": 1},
            {"code": "big-spender", "name": "Spent 500", "metric": "spend", "target": 500},
        ],
    }
)
T0 = datetime(2026, 2, 1, 10, tzinfo=UTC)
CATEGORIES = ["tea", "coffee", "cakes", "tea", "mugs", "books", "tea"]


def order(i: int) -> Purchase:
    line = OrderLine(1, Decimal(40), sku=f"S{i}", category=CATEGORIES[i % len(CATEGORIES)])
    return Purchase(f"o{i}", "zoe", T0 + timedelta(days=i), Decimal(40), (line,))


def test_progress_and_awards_with_the_moment_reached() -> None:
    """Orders on days 0..8 at 40.00 each: categories tea, coffee, cakes, (tea), mugs, books →
    the 5th distinct category arrives with order 5 (day 5); 9 orders < 10; spend 360 < 500.
    One review on day 2."""
    purchases = [order(i) for i in range(9)]
    reviews = [Review("zoe", T0 + timedelta(days=2, hours=1), "S1")]
    got = {
        p.code: (p.value, p.achieved_at) for p in progress(BADGES, "zoe", purchases, (), reviews)
    }
    assert got == {
        "explorer": (Decimal(5), T0 + timedelta(days=5)),
        "regular": (Decimal(9), None),
        "critic": (Decimal(1), T0 + timedelta(days=2, hours=1)),
        "big-spender": (Decimal(360), None),
    }
    assert awards(BADGES, "zoe", purchases, (), reviews) == [
        BadgeAwarded("badge:explorer:zoe", "explorer", T0 + timedelta(days=5)),
        BadgeAwarded("badge:critic:zoe", "critic", T0 + timedelta(days=2, hours=1)),
    ]


def test_tenth_order_and_buy_and_return_earns_no_spend_badge() -> None:
    """13 orders of 40.00 on days 0..12: the 10th (day 9) earns "regular". Order 12 on
    day 12 brings spend to 13 × 40 = 520 ≥ 500 → "big-spender" on day 12; returning 40 two
    hours later leaves 480, but the badge stays. Had order 11 been returned on day 11 instead
    (before order 12), spend would peak at 480 and the badge never come."""
    purchases = [order(i) for i in range(13)]
    returns = [Return("r", "o12", "zoe", T0 + timedelta(days=12, hours=2), Decimal(40))]
    got = {p.code: p for p in progress(BADGES, "zoe", purchases, returns)}
    assert got["regular"].achieved_at == T0 + timedelta(days=9)
    assert got["big-spender"].achieved_at == T0 + timedelta(days=12)
    assert got["big-spender"].value == 480
    early_returns = [Return("r", "o11", "zoe", T0 + timedelta(days=11, hours=2), Decimal(40))]
    assert progress(BADGES, "zoe", purchases, early_returns)[3].achieved_at is None
    assert progress(BADGES, "other", purchases)[1].value == 0
