"""Several programs at once over one history: the café's stamp card, the cosmetics shop's
growing discount card with VIP tiers, the online store's cashback with referrals.

All six configs come from JSON as a programs table stores them (``{"type": ..., ...}``)
and are validated by the one discriminated union.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from regulars.loyalty.program_types import (
    DiscountCardConfig,
    PointsProgramConfig,
    ReferralConfig,
    StampCardConfig,
    TierClubConfig,
    parse_program_config,
)
from regulars.loyalty.program_types.bonus import earn_for_purchase
from regulars.loyalty.program_types.discount_card import next_order_discount
from regulars.loyalty.program_types.history import OrderLine, Purchase
from regulars.loyalty.program_types.referral import Identity, Referral, decide
from regulars.loyalty.program_types.stamp_card import Redemption, replay
from regulars.loyalty.program_types.tiers import TierState, earn_multiplier, evaluate, spend_events

ROWS = [
    {"type": "stamp_card", "code": "coffee", "skus": ["COFFEE"], "stamps_required": 5},
    {
        "type": "discount_card",
        "steps": [
            {"threshold": "0", "pct": "5"},
            {"threshold": "10000", "pct": "7"},
            {"threshold": "25000", "pct": "10"},
        ],
    },
    {
        "type": "tiers",
        "code": "vip",
        "tiers": [
            {"name": "silver", "threshold": "500", "earn_multiplier": "1.5"},
            {
                "name": "gold",
                "threshold": "5000",
                "earn_multiplier": "2",
                "perks": ["free_delivery"],
            },
        ],
        "window_days": 365,
        "grace_days": 30,
    },
    {
        "type": "points",
        "earn_per_unit": "1",
        "point_value": "0.01",
        "pending_days": 14,
        "bonuses": [{"kind": "first_purchase", "code": "welcome", "points": 100}],
    },
    {"type": "referral", "referrer_points": 500, "referee_points": 300, "return_window_days": 14},
]
STAMPS, CARD, CLUB, POINTS, REFERRAL = (parse_program_config(row) for row in ROWS)
assert isinstance(STAMPS, StampCardConfig)
assert isinstance(CARD, DiscountCardConfig)
assert isinstance(CLUB, TierClubConfig)
assert isinstance(POINTS, PointsProgramConfig)
assert isinstance(REFERRAL, ReferralConfig)


def day(d: int) -> datetime:
    return datetime(2026, 3, d, 11, tzinfo=UTC)


def coffee(n: int, price: str = "3.20") -> OrderLine:
    return OrderLine(n, Decimal(price) * n, sku="COFFEE", category="drinks")


def item(sku: str, amount: str) -> OrderLine:
    return OrderLine(1, Decimal(amount), sku=sku, category="beauty")


def order(order_id: str, customer: str, d: int, *lines: OrderLine) -> Purchase:
    return Purchase(order_id, customer, day(d), sum((x.amount for x in lines), Decimal(0)), lines)


HISTORY = [
    order("A1", "ana", 2, coffee(2), item("LIPSTICK", "24.00")),  # 30.40
    order("B1", "ben", 5, coffee(1), item("CREAM", "96.80")),  # 100.00
    order("A2", "ana", 10, coffee(3), item("PERFUME", "10000.00")),  # 10,009.60
    order("A3", "ana", 20, coffee(1, "0"), item("SERUM", "50.00")),  # free coffee + 50.00
]


def test_all_programs_over_the_same_history() -> None:
    """By hand.

    Stamp card (5 stamps): Ana 2 + 3 → voucher on A2, the card starts over; A3's coffee is
    the free one (amount 0, no stamp). Ben: 1 stamp.

    Discount card: before A2 Ana has spent 30.40 → 5 %; before A3 10,040.00 → 7 %. Ben 5 %.

    VIP (spend in 365 days): A2 lifts Ana from 30.40 to 10,040.00 ≥ 5,000 → gold at once
    on 10 Mar, skipping silver. Ben's 100.00 reaches no tier.

    Points (1 per unit; the tier before each order sets the multiplier): A1 floor(30.40) = 30
    + 100 welcome; A2 floor(10,009.60) = 10,009 (no tier yet); A3 gold ×2: 100.
    B1: 100 + 100 welcome. Referral: B1 on 5 Mar → due 19 Mar: Ana +500, Ben +300.
    Ana 30 + 100 + 10,009 + 100 + 500 = 10,739 points; Ben 100 + 100 + 300 = 500.
    """
    events = [*HISTORY, Redemption("ana", day(20) - timedelta(seconds=1))]
    ana_card = replay(STAMPS, "ana", events)
    assert [o.key for o in ana_card.outcomes] == ["stamp:coffee:ana:1"]
    assert (ana_card.card.stamps, ana_card.card.redeemed) == (0, 1)
    assert replay(STAMPS, "ben", events).card.stamps == 1

    def pct(customer: str, d: int) -> Decimal | None:
        return next_order_discount(CARD, customer, HISTORY, [], day(d)).pct

    assert (pct("ana", 10), pct("ana", 20), pct("ben", 5)) == (5, 7, 5)

    def tier_before(purchase: Purchase) -> str | None:
        customer = purchase.customer_id
        before = [p for p in HISTORY if p.at < purchase.at]
        start = TierState(customer, as_of=day(1))
        return evaluate(CLUB, spend_events(customer, before, []), start, purchase.at).state.tier

    ana_vip = evaluate(CLUB, spend_events("ana", HISTORY, []), TierState("ana", day(1)), day(31))
    assert [(c.old, c.new, c.effective_at) for c in ana_vip.changes] == [(None, "gold", day(10))]
    assert [tier_before(p) for p in HISTORY] == [None, None, None, "gold"]

    points: dict[str, int] = {"ana": 0, "ben": 0}
    for purchase in HISTORY:
        multiplier = earn_multiplier(CLUB, tier_before(purchase))
        for earn in earn_for_purchase(POINTS, purchase, HISTORY, tier_multiplier=multiplier):
            points[purchase.customer_id] += earn.points
    assert points == {"ana": 30 + 100 + 10_009 + 100, "ben": 200}

    decision = decide(
        REFERRAL,
        Referral("ana", "ben", day(1)),
        Identity("ana", email="ana@example.com"),
        Identity("ben", email="ben@example.com"),
        HISTORY,
        [],
        [],
        now=day(25),
    )
    assert decision.due_at == day(19)
    for earn in decision.rewards:
        points["ana" if earn.key.endswith(":referrer") else "ben"] += earn.points
    assert points == {"ana": 10_739, "ben": 500}
