"""Cancelling a redemption, against hand-computed examples (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from loyalty_helpers import T0, add_customer, add_order, add_return, check_ledger, check_lots
from loyalty_helpers import make_program as _make_program
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from regulars.loyalty.accounting.ledger import OrderRef
from regulars.loyalty.economics.ledger_mapping import program_economics
from regulars.loyalty.errors import OrderCancelledError, RedemptionNotFoundError
from regulars.loyalty.points.cancellation import cancel_order_redemptions, cancel_redemption
from regulars.loyalty.points.earning import on_order_recorded
from regulars.loyalty.points.expiry import expire_lots
from regulars.loyalty.points.redemption import adjust, redeem
from regulars.loyalty.points.returns import on_return_recorded
from regulars.loyalty.points.views import account_view
from regulars.loyalty.tables import (
    LoyaltyAccount,
    LoyaltyEntry,
    LoyaltyLot,
    LoyaltyLotConsumption,
    LoyaltyProgram,
)
from regulars.store.tables import AuditEntry, Order

LATER = T0 + timedelta(days=20)


def make_program(session: Session, **overrides: object) -> LoyaltyProgram:
    return _make_program(session, config={"pending_days": 0, "expiry_days": 365}, **overrides)


def _earn(session: Session, order_id: str, amount: str, days: int = 0) -> Order:
    order = add_order(session, order_id, "ann", amount, at=T0 + timedelta(days=days))
    on_order_recorded(session, order)
    return order


def _lots(session: Session) -> dict[str, tuple[int, object]]:
    """order id → (remaining, expires_at) of each lot."""
    lots = session.scalars(select(LoyaltyLot).execution_options(populate_existing=True))
    return {str(lot.order_id): (lot.remaining, lot.expires_at) for lot in lots}


def _consumptions(session: Session, entry_id: int) -> list[tuple[str, int]]:
    rows = session.execute(
        select(LoyaltyLot.order_id, LoyaltyLotConsumption.points)
        .join(LoyaltyLot, LoyaltyLot.id == LoyaltyLotConsumption.lot_id)
        .where(LoyaltyLotConsumption.entry_id == entry_id)
        .order_by(LoyaltyLotConsumption.id)
    ).all()
    return [(str(order), points) for order, points in rows]


def _check(session: Session, allow_negative: bool = False) -> None:
    check_ledger(session, allow_negative=allow_negative)
    for account_id in session.scalars(select(LoyaltyAccount.id)):
        check_lots(session, account_id)


def test_points_go_back_to_the_lots_the_spend_took_them_from(session: Session) -> None:
    """A2 (50, expiring at day 265) and A1 (100, day 365); redeeming 70 takes 50 from A2
    and 20 from A1 (oldest-expiring first): 150 − 70 = 80. Cancelling gives 50 back to A2
    and 20 to A1, their expiry dates unchanged: 80 + 70 = 150."""
    program = make_program(session)
    _earn(session, "A2", "50.00", days=-100)
    _earn(session, "A1", "100.00")
    spent = redeem(session, program, "ann", 70, key="pay", actor="pos", now=LATER)
    session.commit()
    assert spent.balance == 80
    before = _lots(session)

    done = cancel_redemption(
        session, program, "ann", "pay", actor="pos", reason="card declined", now=LATER
    )
    session.commit()
    posted = done.posted
    assert (posted.kind, posted.points, posted.balance, posted.money) == (
        "cancel_spend",
        70,
        150,
        Decimal("0.70"),  # the redemption's own money: 70 × 0.01
    )
    assert (done.expired, done.clawed_back, done.spend_entry_id) == (0, 0, spent.entry_id)
    assert _consumptions(session, posted.entry_id) == [("A2", -50), ("A1", -20)]
    after = _lots(session)
    assert after == {"A2": (50, before["A2"][1]), "A1": (100, before["A1"][1])}
    assert after["A2"][1] == T0 - timedelta(days=100) + timedelta(days=365)
    _check(session)

    again = cancel_redemption(session, program, "ann", "pay", actor="pos", now=LATER)
    session.commit()
    assert (again.posted.entry_id, again.posted.replay, again.posted.balance) == (
        posted.entry_id,
        True,
        150,
    )
    assert account_view(session, program, "ann", now=LATER).balance == 150
    audits = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "loyalty.redemption.cancel")
    ).all()
    assert len(audits) == 1
    assert audits[0].details["points"] == 70
    assert audits[0].details["reason"] == "card declined"


@pytest.mark.parametrize("nightly_first", [False, True])
def test_points_of_an_expired_lot_come_back_and_expire_at_once(
    session: Session, nightly_first: bool
) -> None:
    """A2 earned 60 (expiring at day 265), A1 100 (day 365): 160. Redeeming 40 on day 20
    takes 40 of A2's 60: 120. On day 300 A2 has expired; cancelling gives the 40 back to
    A2, where they expire at once: 120 + 40 − 40 = 120, and the nightly expiry takes A2's
    other 20 (before or after the cancellation): 100 — exactly what the customer had
    without the redemption (160 − 60 expired). Cancelling late gains nothing."""
    program = make_program(session)
    _earn(session, "A2", "60.00", days=-100)
    _earn(session, "A1", "100.00")
    redeem(session, program, "ann", 40, key="pay", actor="pos", now=LATER)
    session.commit()
    day_300 = T0 + timedelta(days=300)
    if nightly_first:
        assert expire_lots(session, day_300) == 20
    done = cancel_redemption(session, program, "ann", "pay", actor="pos", now=day_300)
    assert (done.posted.points, done.expired) == (40, 40)
    assert done.posted.balance == (100 if nightly_first else 120)
    if not nightly_first:
        assert expire_lots(session, day_300) == 20  # A2's own 20; the 40 are gone already
    session.commit()
    assert account_view(session, program, "ann", now=day_300).balance == 100
    assert _lots(session)["A2"][0] == 0
    expiries = session.scalars(
        select(LoyaltyEntry.points).where(
            LoyaltyEntry.kind == "expire",
            LoyaltyEntry.idempotency_key == f"cancel:{done.spend_entry_id}:expire:1",
        )
    ).all()
    assert expiries == [-40]  # A2 is lot 1
    assert expire_lots(session, day_300) == 0
    _check(session)


def _paid_with_points(session: Session) -> tuple[LoyaltyProgram, Order]:
    """ann earned 200 on A0 and 100 on A1 (100.00), and paid 30 points of A1: 270."""
    program = make_program(session)
    _earn(session, "A0", "200.00")
    order = _earn(session, "A1", "100.00")
    redeem(
        session,
        program,
        "ann",
        30,
        key="pay-A1",
        actor="pos",
        order=OrderRef("default", "A1"),
        now=LATER,
    )
    session.commit()
    return program, order


def test_cancel_after_a_partial_return_gives_back_only_the_rest(session: Session) -> None:
    """Returning 50.00 of A1 reverses 100 − floor(100 × 50/100) = 50 and re-credits
    floor(30 × 50/100) = 15: 270 − 50 + 15 = 235. Cancelling then gives back
    min(30, 30 − 0 − 15) = 15: 250. Returning the other 50.00 reverses 50 and re-credits
    floor((30 − 15) × 100/100) − 15 = 0: 200. In all 15 + 15 = 30 came back, the spend."""
    program, order = _paid_with_points(session)
    [first] = on_return_recorded(session, add_return(session, "R1", order, "50.00"), now=LATER)
    assert first.recredit is not None
    assert (first.recredit.points, first.recredit.balance) == (15, 235)
    done = cancel_redemption(session, program, "ann", "pay-A1", actor="pos", now=LATER)
    assert (done.posted.points, done.posted.balance, done.posted.money) == (
        15,
        250,
        Decimal("0.15"),  # 0.30 × 15 / 30
    )
    [second] = on_return_recorded(session, add_return(session, "R2", order, "50.00"), now=LATER)
    session.commit()
    assert second.recredit is None
    assert account_view(session, program, "ann", now=LATER).balance == 200
    _check(session)


def test_return_after_a_cancel_recredits_nothing(session: Session) -> None:
    """Cancelling gives back all 30: 300. Returning 50.00 reverses 50 and re-credits
    floor((30 − 30) × 50/100) − 0 = 0: 250; the rest likewise: 200."""
    program, order = _paid_with_points(session)
    done = cancel_redemption(session, program, "ann", "pay-A1", actor="pos", now=LATER)
    assert (done.posted.points, done.posted.balance) == (30, 300)
    for return_id in ("R1", "R2"):
        ret = add_return(session, return_id, order, "50.00")
        [outcome] = on_return_recorded(session, ret, now=LATER)
        assert outcome.recredit is None
    session.commit()
    assert account_view(session, program, "ann", now=LATER).balance == 200
    _check(session)


def test_cancel_after_a_full_return_gives_back_nothing(session: Session) -> None:
    """Returning all of A1 re-credits the 30 (270 − 100 + 30 = 200); the cancellation is
    recorded with 0 points and the balance stays 200."""
    program, order = _paid_with_points(session)
    on_return_recorded(session, add_return(session, "R1", order, "100.00"), now=LATER)
    done = cancel_redemption(session, program, "ann", "pay-A1", actor="pos", now=LATER)
    session.commit()
    assert (done.posted.points, done.posted.balance, done.posted.money) == (0, 200, Decimal(0))
    _check(session)


def test_cancelled_points_pay_the_overdraft_first(session: Session) -> None:
    """allow_negative: A1 earned 100; 80 redeemed (no order): 20. Returning A1 takes the
    20 left in its lot and 80 more than the account holds: −80, overdraft 80. Cancelling
    the 80 puts them back into A1's lot and pays the overdraft from them: balance 0,
    overdraft 0, the lot empty — so its later expiry cannot take the balance below 0."""
    program = make_program(session)
    order = _earn(session, "A1", "100.00")
    redeem(session, program, "ann", 80, key="pay", actor="pos", now=LATER)
    on_return_recorded(session, add_return(session, "R1", order, "100.00"), now=LATER)
    session.commit()
    view = account_view(session, program, "ann", now=LATER)
    assert (view.balance, view.overdraft) == (-80, 80)
    done = cancel_redemption(session, program, "ann", "pay", actor="pos", now=LATER)
    session.commit()
    assert (done.posted.points, done.posted.balance) == (80, 0)
    assert _consumptions(session, done.posted.entry_id) == []  # 80 back, 80 paid
    view = account_view(session, program, "ann", now=LATER)
    assert (view.balance, view.overdraft, _lots(session)["A1"][0]) == (0, 0, 0)
    assert expire_lots(session, T0 + timedelta(days=400)) == 0
    _check(session, allow_negative=True)


def test_cancelled_points_repay_claw_back_debt(session: Session) -> None:
    """claw_back_future: A1 earned 100; 80 redeemed: 20. Returning A1 takes the 20 from
    its lot and leaves a debt of 80: balance 0. Cancelling puts 80 back, and the debt
    takes them, as it takes every credit: balance 0 + 80 − 80 = 0, debt 0."""
    program = make_program(session, shortfall_policy="claw_back_future")
    order = _earn(session, "A1", "100.00")
    redeem(session, program, "ann", 80, key="pay", actor="pos", now=LATER)
    on_return_recorded(session, add_return(session, "R1", order, "100.00"), now=LATER)
    done = cancel_redemption(session, program, "ann", "pay", actor="pos", now=LATER)
    session.commit()
    assert (done.posted.points, done.clawed_back, done.posted.balance) == (80, 80, 0)
    view = account_view(session, program, "ann", now=LATER)
    assert (view.balance, view.debt) == (0, 0)
    [claw] = session.scalars(
        select(LoyaltyEntry).where(LoyaltyEntry.idempotency_key == "cancel:2:claw_back")
    ).all()
    assert claw.points == -80
    again = cancel_redemption(session, program, "ann", "pay", actor="pos", now=LATER)
    assert (again.posted.replay, again.clawed_back, again.expired) == (True, 80, 0)
    _check(session)


def test_unknown_redemptions_are_not_found(session: Session) -> None:
    program = make_program(session)
    add_customer(session, "bob")
    with pytest.raises(RedemptionNotFoundError):
        cancel_redemption(session, program, "bob", "pay", actor="pos")  # no account
    _earn(session, "A1", "100.00")
    adjust(session, program, "ann", 5, reason="goodwill", actor="pos", key="pay")
    redeem(session, program, "ann", 10, key="other", actor="pos", now=LATER)
    with pytest.raises(RedemptionNotFoundError, match="'pay'"):
        cancel_redemption(session, program, "ann", "pay", actor="pos")  # an adjustment's key
    with pytest.raises(RedemptionNotFoundError):
        cancel_redemption(session, program, "bob", "other", actor="pos")  # ann's redemption


def test_an_order_recorded_cancelled_gives_back_its_redemptions(session: Session) -> None:
    """Two redemptions (30 and 20) for A9, then A9 cancelled: 100 − 50 + 50 = 100; a
    redemption for another order is left alone (−5)."""
    program = make_program(session)
    _earn(session, "A1", "100.00")
    for key, points, order_id in (("a", 30, "A9"), ("b", 20, "A9"), ("c", 5, "A8")):
        ref = OrderRef("default", order_id)
        redeem(session, program, "ann", points, key=key, actor="pos", order=ref, now=LATER)
    done = cancel_order_redemptions(session, "default", "A9", now=LATER)
    assert [d.posted.points for d in done] == [30, 20]
    assert [d.posted.replay for d in cancel_order_redemptions(session, "default", "A9")] == [
        True,
        True,
    ]
    session.commit()
    assert account_view(session, program, "ann", now=LATER).balance == 95
    actors = session.scalars(
        select(AuditEntry.actor).where(AuditEntry.action == "loyalty.redemption.cancel")
    ).all()
    assert actors == ["system", "system"]
    _check(session)


def test_points_cannot_be_redeemed_on_a_cancelled_order(session: Session) -> None:
    """A1 earns 100; 10 redeemed on A9 before A9 is recorded (the checkout); A9 then
    recorded as cancelled gives the 10 back. A new redemption on A9 is refused and writes
    nothing (balance 100), while the retry of the first one still answers its result."""
    program = make_program(session)
    _earn(session, "A1", "100.00")
    a9 = OrderRef("default", "A9")
    redeem(session, program, "ann", 10, key="a", actor="pos", order=a9, now=LATER)
    cancelled = add_order(session, "A9", "ann", "50.00", at=LATER)
    cancelled.status = "cancelled"
    session.flush()
    cancel_order_redemptions(session, "default", "A9", now=LATER)
    with pytest.raises(OrderCancelledError, match=r"order 'A9' .* is cancelled"):
        redeem(session, program, "ann", 5, key="b", actor="pos", order=a9, now=LATER)
    assert redeem(session, program, "ann", 10, key="a", actor="pos", order=a9, now=LATER).replay
    session.commit()
    assert account_view(session, program, "ann", now=LATER).balance == 100
    _check(session)


def test_live_economics_count_a_cancellation_as_given_back(
    store_engine: Engine, session: Session
) -> None:
    """January: 100 earned, 40 redeemed and the redemption cancelled: 40 re-credited,
    100 outstanding, and no reward cost: −(−40 + 40) × 0.01 = 0."""
    program = make_program(session)
    at = datetime(2026, 1, 5, 12, tzinfo=UTC)
    on_order_recorded(session, add_order(session, "A1", "ann", "100.00", at=at))
    redeem(session, program, "ann", 40, key="pay", actor="pos", now=at + timedelta(days=5))
    cancel_redemption(session, program, "ann", "pay", actor="pos", now=at + timedelta(days=6))
    session.commit()
    result = program_economics(store_engine, program.code, date(2026, 1, 1), date(2026, 2, 1))
    [january] = result.flow
    assert (january.issued, january.redeemed, january.recredited) == (100, 40, 40)
    assert (january.outstanding_end, result.reward_cost) == (100, Decimal("0.00"))
