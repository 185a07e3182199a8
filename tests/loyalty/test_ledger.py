"""The ledger and the order/return integration, against hand-computed examples."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from loyalty_helpers import T0, add_customer, add_order, add_return, check_ledger, make_program
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from regulars.loyalty.catalogue import ProgramSpec, create_program
from regulars.loyalty.errors import IdempotencyConflictError, InsufficientPointsError
from regulars.loyalty.points.earning import on_order_recorded
from regulars.loyalty.points.expiry import expire_due, expire_lots, expiring_soon
from regulars.loyalty.points.redemption import adjust, redeem
from regulars.loyalty.points.returns import on_return_recorded, recredited_points, reversed_points
from regulars.loyalty.points.views import account_view, quote
from regulars.loyalty.program_store.quote import quote_programs
from regulars.loyalty.program_store.tables import LoyaltyTierState
from regulars.loyalty.tables import LoyaltyEntry, LoyaltyEvent, LoyaltyLot, LoyaltyLotConsumption
from regulars.store.tables import AuditEntry

LATER = T0 + timedelta(days=20)  # after the 14-day pending period
START = datetime(2020, 1, 1, tzinfo=UTC)


def test_order_earns_a_pending_lot_that_becomes_available(session: Session) -> None:
    program = make_program(session)
    order = add_order(session, "A1", "ann", "59.99")
    [posted] = on_order_recorded(session, order)
    session.commit()
    assert (posted.points, posted.balance, posted.money) == (59, 59, Decimal("0.59"))
    before = account_view(session, program, "ann", now=T0 + timedelta(days=13))
    assert (before.balance, before.available, before.pending) == (59, 0, 59)
    after = account_view(session, program, "ann", now=LATER)
    assert (after.available, after.pending) == (59, 0)
    assert after.lots[0].expires_at == T0 + timedelta(days=365)
    # Recording the same order again earns nothing more.
    assert on_order_recorded(session, order)[0].replay
    session.commit()
    assert account_view(session, program, "ann", now=LATER).balance == 59
    check_ledger(session)


def _tier_club(session: Session, code: str = "vip", **config: Any) -> None:
    """A ``tiers`` program (the one tier model) running since 2020."""
    spec = ProgramSpec(code, code.upper(), "tiers", {"code": code, **config}, starts_at=START)
    create_program(session, spec)
    session.commit()


def test_order_crossing_gold_earns_at_gold_this_order_included(session: Session) -> None:
    """Gold from 100.00 spent in 30 days, ×2; window 30 days, no grace.

    A1 60.00: window 60 < 100, no tier → 60 points. A2 50.00 the next day: 110 ≥ 100, the
    upgrade is immediate and this order counts → 50 × 2 = 100 points. A3 10.00 forty days
    later: gold's window (from A2, 30 days) ended with 50 in it (A1 left it) < 100, no
    grace → no tier → 10 points. The club emitted tier_changed twice (None → gold, gold →
    None); the points program emits none of its own.
    """
    program = make_program(session)
    gold = [{"name": "gold", "threshold": "100", "earn_multiplier": "2"}]
    _tier_club(session, tiers=gold, window_days=30, grace_days=0)
    first = add_order(session, "A1", "ann", "60.00")
    assert on_order_recorded(session, first)[0].points == 60
    second = add_order(session, "A2", "ann", "50.00", at=T0 + timedelta(days=1))
    assert on_order_recorded(session, second)[0].points == 100
    assert account_view(session, program, "ann", now=T0 + timedelta(days=2)).tier == "gold"
    third = add_order(session, "A3", "ann", "10.00", at=T0 + timedelta(days=40))
    assert on_order_recorded(session, third)[0].points == 10
    session.commit()
    assert account_view(session, program, "ann", now=T0 + timedelta(days=41)).tier is None
    events = session.scalars(select(LoyaltyEvent).order_by(LoyaltyEvent.id)).all()
    assert [(e.kind, e.payload["from"], e.payload["to"]) for e in events] == [
        ("tier_changed", None, "gold"),
        ("tier_changed", "gold", None),
    ]
    assert all(e.payload["program"] == "vip" for e in events)


def test_several_tier_clubs_earn_at_the_largest_multiplier(session: Session) -> None:
    """Club a: silver ×1.5 from 50; club b: bronze ×1.2 from 20, platinum ×3 from 500.
    An order of 80.00 reaches silver (a) and bronze (b): 80 × 1.5 = 120 points, the
    account's tier is silver. The next order of 500.00 reaches platinum in b: 500 × 3 = 1,500."""
    program = make_program(session)
    _tier_club(
        session, "a", tiers=[{"name": "silver", "threshold": "50", "earn_multiplier": "1.5"}]
    )
    _tier_club(
        session,
        "b",
        tiers=[
            {"name": "bronze", "threshold": "20", "earn_multiplier": "1.2"},
            {"name": "platinum", "threshold": "500", "earn_multiplier": "3"},
        ],
    )
    assert on_order_recorded(session, add_order(session, "A1", "ann", "80.00"))[0].points == 120
    assert account_view(session, program, "ann", now=T0).tier == "silver"
    big = add_order(session, "A2", "ann", "500.00", at=T0 + timedelta(hours=1))
    assert on_order_recorded(session, big)[0].points == 1500
    session.commit()
    assert account_view(session, program, "ann", now=T0 + timedelta(hours=2)).tier == "platinum"


def test_quote_earns_at_the_tier_the_cart_reaches_and_writes_nothing(session: Session) -> None:
    """Gold ×2 (5 % off) from 500.00. ann has spent 300.00. A cart of 250.00 reaches gold
    (550): the quote earns 250 × 2 = 500 points at tier gold, while the club's part shows
    the tier now (none, so no discount) and tier_after gold. A cart of 100.00 stays below:
    100 points, no tier. Nothing is written (no tier state row for the cart)."""
    program = make_program(session)
    gold = [{"name": "gold", "threshold": "500", "earn_multiplier": "2", "discount_pct": "5"}]
    _tier_club(session, tiers=gold)
    on_order_recorded(session, add_order(session, "A1", "ann", "300.00"))
    session.commit()
    states = session.scalar(select(func.count()).select_from(LoyaltyTierState))
    now = T0 + timedelta(days=1)
    crossing = quote(session, program, "ann", Decimal("250.00"), [], now=now)
    assert (crossing.points_earned, crossing.tier) == (500, "gold")
    [club] = quote_programs(session, "ann", Decimal("250.00"), [], now)
    assert (club.tier, club.discount_pct, club.tier_after) == (None, Decimal(0), "gold")
    below = quote(session, program, "ann", Decimal("100.00"), [], now=now)
    assert (below.points_earned, below.tier) == (100, None)
    assert session.scalar(select(func.count()).select_from(LoyaltyTierState)) == states


def test_spend_takes_oldest_expiring_available_lots_first(session: Session) -> None:
    program = make_program(session, config={"pending_days": 0})
    add_order(session, "A1", "ann", "100.00", at=T0)  # expires T0+365
    add_order(session, "A2", "ann", "50.00", at=T0 - timedelta(days=100))  # expires earlier
    for order_id in ("A1", "A2"):
        on_order_recorded(session, _order(session, order_id))
    posted = redeem(session, program, "ann", 70, key="k1", actor="test", now=LATER)
    session.commit()
    assert posted.balance == 80
    taken = session.execute(
        select(LoyaltyLot.order_id, LoyaltyLotConsumption.points)
        .join(LoyaltyLot, LoyaltyLot.id == LoyaltyLotConsumption.lot_id)
        .where(LoyaltyLotConsumption.entry_id == posted.entry_id)
        .order_by(LoyaltyLotConsumption.id)
    ).all()
    assert [tuple(t) for t in taken] == [("A2", 50), ("A1", 20)]
    check_ledger(session)


def _order(session: Session, order_id: str):  # type: ignore[no-untyped-def]
    from regulars.store.tables import Order

    return session.scalars(select(Order).where(Order.order_id == order_id)).one()


def test_redeem_refuses_more_than_available_and_is_idempotent(session: Session) -> None:
    program = make_program(session, config={"pending_days": 0})
    on_order_recorded(session, add_order(session, "A1", "ann", "100.00"))
    session.commit()
    with pytest.raises(InsufficientPointsError) as refused:
        redeem(session, program, "ann", 101, key="big", actor="test", now=LATER)
    session.rollback()
    assert refused.value.available == 100
    first = redeem(session, program, "ann", 30, key="k", actor="test", now=LATER)
    again = redeem(session, program, "ann", 30, key="k", actor="test", now=LATER)
    assert (again.entry_id, again.replay, again.balance) == (first.entry_id, True, 70)
    session.commit()
    with pytest.raises(IdempotencyConflictError):
        redeem(session, program, "ann", 31, key="k", actor="test", now=LATER)
    session.rollback()
    assert account_view(session, program, "ann", now=LATER).balance == 70


def test_full_return_reverses_everything_and_recredits_spent_points(session: Session) -> None:
    program = make_program(session, config={"pending_days": 0})
    on_order_recorded(session, add_order(session, "A0", "ann", "40.00"))  # 40 to spend
    order = add_order(session, "A1", "ann", "100.00")
    on_order_recorded(session, order)
    redeem(
        session,
        program,
        "ann",
        30,
        key="pay-A1",
        actor="test",
        now=LATER,
        order=_ref(order),
    )
    [outcome] = on_return_recorded(session, add_return(session, "R1", order, "100.00"), now=LATER)
    session.commit()
    assert outcome.reversal is not None
    assert outcome.recredit is not None
    assert outcome.reversal.posted.points == -100
    assert outcome.recredit.points == 30
    view = account_view(session, program, "ann", now=LATER)
    assert view.balance == 40  # 40 + 100 − 30 − 100 + 30
    check_ledger(session)


def _ref(order):  # type: ignore[no-untyped-def]
    from regulars.loyalty.accounting.ledger import OrderRef

    return OrderRef(order.shop_id, order.order_id)


def test_partial_returns_keep_floor_of_the_kept_share() -> None:
    # E = 10 on A = 10.00: returning 0.55 keeps floor(10 × 9.45 / 10) = 9, reverses 1.
    assert reversed_points(10, Decimal("10.00"), Decimal("0.55")) == 1
    assert reversed_points(10, Decimal("10.00"), Decimal("10.00")) == 10
    assert reversed_points(7, Decimal("3.00"), Decimal("1.00")) == 3  # keeps floor(4.67)
    assert recredited_points(30, Decimal("100.00"), Decimal("50.00")) == 15
    assert recredited_points(30, Decimal("100.00"), Decimal("33.00")) == 9  # floor(9.9)


def test_two_partial_returns_add_up_to_the_full_reversal(session: Session) -> None:
    make_program(session, config={"pending_days": 0})
    order = add_order(session, "A1", "ann", "10.00")
    on_order_recorded(session, order)  # 10 points
    [first] = on_return_recorded(session, add_return(session, "R1", order, "3.33"), now=LATER)
    [second] = on_return_recorded(session, add_return(session, "R2", order, "6.67"), now=LATER)
    assert first.reversal
    assert second.reversal
    assert first.reversal.posted.points == -4  # keeps floor(6.67) = 6
    assert second.reversal.posted.points == -6
    # a retry of a return does nothing more
    again = on_return_recorded(session, _return(session, "R2"), now=LATER)
    assert again[0].reversal is None
    session.commit()
    check_ledger(session)


def _return(session: Session, return_id: str):  # type: ignore[no-untyped-def]
    from regulars.store.tables import OrderReturn

    return session.scalars(select(OrderReturn).where(OrderReturn.return_id == return_id)).one()


def _spent_then_returned(session: Session, policy: str) -> None:
    """ann earns 100 on A1, spends 80 of them, then returns A1 entirely; she also has a
    20-point lot from A0."""
    program = make_program(session, config={"pending_days": 0}, shortfall_policy=policy)
    on_order_recorded(session, add_order(session, "A0", "ann", "20.00", at=T0 + timedelta(days=1)))
    order = add_order(session, "A1", "ann", "100.00")
    on_order_recorded(session, order)
    redeem(session, program, "ann", 80, key="spend", actor="test", now=LATER)
    session.commit()


def test_policy_allow_negative_takes_other_lots_then_goes_negative(session: Session) -> None:
    _spent_then_returned(session, "allow_negative")
    order = _order(session, "A1")
    [outcome] = on_return_recorded(session, add_return(session, "R1", order, "100.00"), now=LATER)
    r = outcome.reversal
    assert r is not None
    # A1's lot held 20 of its 100 → shortfall 80; A0's lot gives 20 → −60.
    assert (r.from_lot, r.shortfall, r.from_other_lots, r.negative) == (20, 80, 20, 60)
    assert r.posted.balance == -60
    # The next earning pays the overdraft first: 100 − 60 = 40 spendable.
    on_order_recorded(session, add_order(session, "A2", "ann", "100.00", at=T0 + timedelta(days=2)))
    session.commit()
    view = account_view(session, _program(session), "ann", now=LATER)
    assert (view.balance, view.available, view.overdraft) == (40, 40, 0)
    check_ledger(session, allow_negative=True)


def _program(session: Session):  # type: ignore[no-untyped-def]
    from regulars.loyalty.tables import LoyaltyProgram

    return session.scalars(select(LoyaltyProgram)).one()


def test_policy_claw_back_future_recovers_the_debt_from_later_earnings(session: Session) -> None:
    _spent_then_returned(session, "claw_back_future")
    order = _order(session, "A1")
    [outcome] = on_return_recorded(session, add_return(session, "R1", order, "100.00"), now=LATER)
    r = outcome.reversal
    assert r is not None
    assert (r.from_lot, r.debt, r.posted.balance) == (20, 80, 20)
    on_order_recorded(session, add_order(session, "A2", "ann", "50.00", at=T0 + timedelta(days=2)))
    session.commit()
    view = account_view(session, _program(session), "ann", now=LATER)
    assert (view.balance, view.debt) == (20, 30)  # 50 earned, all clawed back; 30 still owed
    kinds = session.scalars(select(LoyaltyEntry.kind).order_by(LoyaltyEntry.id)).all()
    assert kinds[-2:] == ["earn", "claw_back"]
    check_ledger(session)


def test_policy_deduct_from_refund_reports_the_money(session: Session) -> None:
    _spent_then_returned(session, "deduct_from_refund")
    order = _order(session, "A1")
    [outcome] = on_return_recorded(session, add_return(session, "R1", order, "100.00"), now=LATER)
    assert outcome.refund_deduction == Decimal("0.80")  # 80 points × 0.01
    assert outcome.reversal is not None
    assert outcome.reversal.posted.balance == 20
    [again] = on_return_recorded(session, _return(session, "R1"), now=LATER)
    assert again.refund_deduction == Decimal("0.80")
    session.commit()
    check_ledger(session)


def test_expiry_is_set_based_matched_to_lots_and_idempotent(session: Session) -> None:
    program = make_program(session, config={"pending_days": 0, "expiry_days": 30})
    on_order_recorded(session, add_order(session, "A1", "ann", "100.00"))
    on_order_recorded(session, add_order(session, "A2", "bob", "50.00", at=T0 + timedelta(days=10)))
    redeem(session, program, "ann", 40, key="s", actor="test", now=T0 + timedelta(days=1))
    session.commit()
    assert expire_lots(session, T0 + timedelta(days=30)) == 60  # ann's lot only
    session.commit()
    assert expire_lots(session, T0 + timedelta(days=30)) == 0
    assert account_view(session, program, "ann").balance == 0
    assert account_view(session, program, "bob").balance == 50
    [expiry] = session.scalars(select(LoyaltyEntry).where(LoyaltyEntry.kind == "expire")).all()
    assert expiry.points == -60
    assert expiry.lot_id is not None
    assert expire_lots(session, T0 + timedelta(days=40)) == 50
    session.commit()
    check_ledger(session)


def test_adjustment_is_audited_once_and_debits_need_cover(session: Session) -> None:
    program = make_program(session)
    add_customer(session, "ann")
    posted = adjust(session, program, "ann", 25, reason="goodwill", actor="apikey:abc", key="a1")
    replay = adjust(session, program, "ann", 25, reason="goodwill", actor="apikey:abc", key="a1")
    session.commit()
    assert posted.balance == 25
    assert replay.replay
    audits = session.scalars(select(AuditEntry).where(AuditEntry.action == "loyalty.adjust")).all()
    assert len(audits) == 1
    assert audits[0].details["points"] == 25
    with pytest.raises(InsufficientPointsError):
        adjust(session, program, "ann", -26, reason="fix", actor="cli", key="a2")
    session.rollback()
    assert adjust(session, program, "ann", -25, reason="fix", actor="cli", key="a3").balance == 0
    with pytest.raises(ValueError, match="reason"):
        adjust(session, program, "ann", 5, reason=" ", actor="cli", key="a4")


def test_household_members_earn_into_and_spend_from_one_account(session: Session) -> None:
    program = make_program(session, shared_household=True, config={"pending_days": 0})
    add_customer(session, "mum", household_id="h1")
    add_customer(session, "kid", household_id="h1")
    add_customer(session, "neighbour")
    on_order_recorded(session, add_order(session, "A1", "mum", "30.00"))
    on_order_recorded(session, add_order(session, "A2", "kid", "20.00"))
    on_order_recorded(session, add_order(session, "A3", "neighbour", "5.00"))
    redeem(session, program, "kid", 45, key="kid-pays", actor="test", now=LATER)
    session.commit()
    mum = account_view(session, program, "mum", now=LATER)
    assert mum.balance == 5
    assert mum.account_id == account_view(session, program, "kid").account_id
    assert account_view(session, program, "neighbour").balance == 5
    check_ledger(session)


def test_expire_due_and_warnings(store_engine: Engine, session: Session) -> None:
    program = make_program(session, config={"pending_days": 0, "expiry_days": 30})
    on_order_recorded(session, add_order(session, "A1", "ann", "10.00"))
    on_order_recorded(session, add_order(session, "A2", "bob", "20.00", at=T0 + timedelta(days=5)))
    session.commit()
    soon = expiring_soon(session, T0 + timedelta(days=25), days=7)
    assert [(w.customer_id, w.remaining) for w in soon] == [("ann", 10)]
    assert expire_due(store_engine, T0 + timedelta(days=30)) == 10
    assert expire_due(store_engine, T0 + timedelta(days=30)) == 0
    assert account_view(session, program, "ann").balance == 0
