"""Stamp card ("6th coffee free") and the cumulative gifts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from regulars.loyalty.program_types.history import OrderLine, Purchase, Return
from regulars.loyalty.program_types.outcomes import FreeItem, Revoke
from regulars.loyalty.program_types.stamp_card import (
    Redemption,
    StampCard,
    StampCardConfig,
    add_stamps,
    redeem,
    remove_stamps,
    replay,
)
from regulars.loyalty.program_types.volume_gifts import (
    CouponGift,
    VolumeGift,
    coupon_gifts,
    coupons_collected,
    volume_gifts,
)

CAFE = StampCardConfig(code="coffee", skus=frozenset({"COFFEE"}), stamps_required=5)
T0 = datetime(2026, 5, 4, 8, tzinfo=UTC)


def coffees(order_id: str, hour: int, quantity: int, price: str = "3.20") -> Purchase:
    line = OrderLine(quantity, Decimal(price) * quantity, sku="COFFEE", category="drinks")
    cake = OrderLine(1, Decimal("2.50"), sku="CAKE", category="bakery")
    return Purchase(
        order_id, "ana", T0 + timedelta(hours=hour), line.amount + cake.amount, (line, cake)
    )


def test_sixth_coffee_free() -> None:
    """Ana buys 1+1+2 coffees (4 stamps), then 2 more: the card fills at 5, the 6th stamp
    goes on the new card, and one voucher for a free COFFEE is open. She redeems it with a
    zero-amount coffee line, which earns no stamp; the cake never counts."""
    events: list[Purchase | Return | Redemption] = [
        coffees("o1", 0, 1),
        coffees("o2", 1, 1),
        coffees("o3", 2, 2),
        coffees("o4", 3, 2),
    ]
    result = replay(CAFE, "ana", events)
    assert result.card == StampCard("ana", stamps=1, open=(1,), earned=1)
    assert result.outcomes == [
        FreeItem("stamp:coffee:ana:1", "stamp card coffee full", 1, "COFFEE")
    ]
    free = Purchase(
        "o5", "ana", T0 + timedelta(hours=4), Decimal(0), (OrderLine(1, Decimal(0), sku="COFFEE"),)
    )
    events += [Redemption("ana", T0 + timedelta(hours=4)), free]
    after = replay(CAFE, "ana", events).card
    assert after == StampCard("ana", stamps=1, open=(), earned=1, redeemed=1)


def test_return_revokes_an_unused_voucher_then_becomes_debt() -> None:
    """5 stamps → voucher 1. Returning 2 coffees: the card has 0, so voucher 1 is revoked
    (back to 5 stamps) and 2 come off: 3 left. Next: 2 coffees → voucher 2 (key not reused).
    Redeem it, return 4: 0 on the card, no open voucher → debt 4; 6 new coffees pay the
    debt first: 2 stamps."""
    card = StampCard("ana")
    card, vouchers = add_stamps(CAFE, card, 5)
    assert [v.key for v in vouchers] == ["stamp:coffee:ana:1"]
    card, revoked = remove_stamps(CAFE, card, 2)
    assert revoked == [Revoke("stamp:coffee:ana:1", "stamp card coffee: items returned")]
    assert (card.stamps, card.open, card.debt) == (3, (), 0)
    card, vouchers = add_stamps(CAFE, card, 2)
    assert [v.key for v in vouchers] == ["stamp:coffee:ana:2"]
    card, number = redeem(card)
    assert number == 2
    card, revoked = remove_stamps(CAFE, card, 4)
    assert (revoked, card.stamps, card.debt) == ([], 0, 4)
    card, vouchers = add_stamps(CAFE, card, 6)
    assert (vouchers, card.stamps, card.debt) == ([], 2, 0)
    with pytest.raises(ValueError, match="no open stamp-card voucher"):
        redeem(card)


def test_category_card_and_reward_category() -> None:
    card = StampCardConfig(
        code="pastry", categories=frozenset({"bakery"}), stamps_required=3, reward_category="bakery"
    )
    result = replay(card, "ana", [coffees("o1", 0, 1), coffees("o2", 1, 1), coffees("o3", 2, 1)])
    assert result.outcomes == [
        FreeItem("stamp:pastry:ana:1", "stamp card pastry full", 1, None, "bakery")
    ]


def test_a_card_must_count_something() -> None:
    with pytest.raises(ValueError, match="give skus, categories or both"):
        StampCardConfig(code="x", stamps_required=3)


moves = st.lists(
    st.tuples(st.sampled_from(["buy", "return", "redeem"]), st.integers(min_value=0, max_value=9)),
    max_size=40,
)


@given(moves, st.integers(min_value=1, max_value=7))
def test_stamps_never_negative_and_always_reconcile(steps: list[tuple[str, int]], n: int) -> None:
    """stamps + N × (open + redeemed) − debt = bought − returned, stamps in [0, N), and
    what the card holds never exceeds what was bought (returns never over-return)."""
    config = StampCardConfig(code="c", skus=frozenset({"S"}), stamps_required=n)
    card, bought, returned = StampCard("x"), 0, 0
    for action, qty in steps:
        if action == "buy":
            card, _ = add_stamps(config, card, qty)
            bought += qty
        elif action == "return":
            back = min(qty, bought - returned)
            card, _ = remove_stamps(config, card, back)
            returned += back
        elif card.open:
            card, _ = redeem(card)
        assert 0 <= card.stamps < n
        assert card.debt >= 0
        held = card.stamps + n * (len(card.open) + card.redeemed)
        assert held - card.debt == bought - returned
        assert card.stamps + n * len(card.open) <= bought - returned
        assert card.earned >= len(card.open) + card.redeemed


def test_volume_gift_every_1000_and_once_only() -> None:
    """Spend 1,200 + 1,250 − 100 = 2,350: with repeat, gifts 1 and 2; without, gift 1."""
    history = [coffees("a", 0, 1, "1197.50"), coffees("b", 1, 1, "1247.50")]  # +2.50 cake each
    returns = [Return("r", "b", "ana", T0 + timedelta(hours=2), Decimal(100))]
    repeat = VolumeGift(code="vol", threshold=Decimal(1000), gift="tote bag", repeat=True)
    assert [g.key for g in volume_gifts(repeat, "ana", history, returns)] == [
        "volume:vol:ana:1",
        "volume:vol:ana:2",
    ]
    once = repeat.model_copy(update={"repeat": False})
    assert len(volume_gifts(once, "ana", history, returns)) == 1
    assert volume_gifts(once, "bob", history, returns) == []


def test_coupon_gift_after_k_orders_not_returned_in_full() -> None:
    """Orders of 5.70 ×4 and one of 2.50 (below the 5.00 minimum); one returned in full:
    3 coupons; 3 per gift → 1 gift."""
    history = [coffees(f"o{i}", i, 1) for i in range(4)]
    history.append(Purchase("small", "ana", T0, Decimal("2.50")))
    returns = [Return("r", "o0", "ana", T0 + timedelta(days=1), Decimal("5.70"))]
    rule = CouponGift(code="cup", coupons_required=3, min_order_amount=Decimal(5), gift="mug")
    assert coupons_collected(rule, "ana", history, returns) == 3
    assert [g.key for g in coupon_gifts(rule, "ana", history, returns)] == ["coupons:cup:ana:1"]
