"""A customer merge keeps the duplicate's live program data (SQLite file and PostgreSQL):
vouchers move with state and key, badges unite, the tier club is evaluated again over the
merged orders, memberships, referrals, partner transactions and draw wins move; a retried
merge changes nothing more; a new customer-keyed table without a merge rule fails a test."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from loyalty_helpers import T0, add_customer, add_order, make_program
from sqlalchemy import Column, ForeignKey, MetaData, String, Table, func, select
from sqlalchemy.orm import Session

from regulars.api.schemas import MergeIn
from regulars.api.services.customers import merge_customers
from regulars.loyalty.catalogue import ProgramSpec, create_program
from regulars.loyalty.merging import SELF_REFERRAL_REASON
from regulars.loyalty.points.earning import on_order_recorded
from regulars.loyalty.program_store.tables import (
    Draw,
    DrawWinner,
    LoyaltyBadge,
    LoyaltyReward,
    LoyaltyTierState,
    Membership,
    MembershipPayment,
    PartnerTransaction,
    Referral,
)
from regulars.loyalty.tables import LoyaltyEvent
from regulars.store.tables import Base
from regulars.wiring import MERGE_RULES, MERGED_TABLES, tables_without_merge_rule

DAY = timedelta(days=1)


def _merge(session: Session) -> None:
    merge_customers(session, "ann", MergeIn(duplicate_id="bob"), actor="test")
    session.commit()


def test_every_customer_keyed_table_has_a_merge_rule() -> None:
    assert tables_without_merge_rule(Base.metadata) == []
    assert list(MERGED_TABLES) == list(MERGE_RULES)


def test_a_new_customer_keyed_table_without_a_rule_is_flagged() -> None:
    metadata = MetaData()
    Table("customers", metadata, Column("customer_id", String, primary_key=True))
    Table("orders", metadata, Column("customer_id", ForeignKey("customers.customer_id")))
    Table("stickers", metadata, Column("owner", ForeignKey("customers.customer_id")))
    assert tables_without_merge_rule(metadata) == ["stickers"]


def _reward(program_id: int, customer: str, key: str, state: str = "issued") -> LoyaltyReward:
    return LoyaltyReward(
        program_id=program_id,
        customer_id=customer,
        reward_key=key,
        kind="gift",
        gift="coffee",
        quantity=1,
        reason="test",
        state=state,
        issued_at=T0,
        redeemed_at=T0 + DAY if state == "redeemed" else None,
    )


def test_rewards_move_with_state_and_key(session: Session) -> None:
    """ann holds k1 (issued); bob holds k2 (redeemed) and k3 (issued). After the merge ann
    holds all 3, k2 still redeemed, k3 still issued (redeemable once)."""
    program = make_program(session)
    add_customer(session, "ann")
    add_customer(session, "bob")
    session.add_all(
        [
            _reward(program.id, "ann", "k1"),
            _reward(program.id, "bob", "k2", "redeemed"),
            _reward(program.id, "bob", "k3"),
        ]
    )
    session.commit()
    _merge(session)
    _merge(session)  # retried: nothing more
    rows = session.execute(
        select(LoyaltyReward.customer_id, LoyaltyReward.reward_key, LoyaltyReward.state)
        .order_by(LoyaltyReward.id)
        .execution_options(populate_existing=True)
    ).all()
    assert [tuple(r) for r in rows] == [
        ("ann", "k1", "issued"),
        ("ann", "k2", "redeemed"),
        ("ann", "k3", "issued"),
    ]


def test_stamp_vouchers_are_renumbered_so_merged_stamps_never_pay_twice(
    session: Session,
) -> None:
    """Card of 2 coffees. ann 1 coffee; bob 3 coffees → voucher bob:1 and 1 stamp left.
    After the merge bob's voucher is ann:1 and ann holds 4 stamps' worth of history; her
    next order (a tea, no stamp) replays 4 stamps → vouchers ann:1 (bob's, kept) and ann:2
    (new): 2 in all. Without renumbering ann:1 would be issued again beside bob:1 (3)."""
    stamps = {"code": "coffee", "skus": ["coffee"], "stamps_required": 2}
    create_program(session, ProgramSpec("coffee", "Coffee", "stamp_card", stamps, starts_at=T0))
    session.commit()
    coffee = [("coffee", "drinks", "3.00")]
    on_order_recorded(session, add_order(session, "A1", "ann", "3.00", at=T0, lines=coffee))
    for i in range(3):
        order = add_order(session, f"B{i}", "bob", "3.00", at=T0 + i * DAY, lines=coffee)
        on_order_recorded(session, order)
    session.commit()
    _merge(session)
    tea = [("tea", "drinks", "4.00")]
    on_order_recorded(session, add_order(session, "A2", "ann", "4.00", at=T0 + 9 * DAY, lines=tea))
    session.commit()
    keys = session.scalars(
        select(LoyaltyReward.reward_key)
        .where(LoyaltyReward.customer_id == "ann")
        .order_by(LoyaltyReward.reward_key)
    ).all()
    assert keys == ["stamp:coffee:ann:1", "stamp:coffee:ann:2"]
    assert session.scalar(select(func.count()).select_from(LoyaltyReward)) == 2


def test_badges_unite_keeping_the_earliest_award(session: Session) -> None:
    """ann: early (day 5); bob: early (day 2), late (day 9). Merged: early at day 2 once,
    late at day 9."""
    program = make_program(session)
    add_customer(session, "ann")
    add_customer(session, "bob")
    for customer, code, day in (("ann", "early", 5), ("bob", "early", 2), ("bob", "late", 9)):
        session.add(
            LoyaltyBadge(
                program_id=program.id,
                customer_id=customer,
                code=code,
                name=code,
                awarded_at=T0 + day * DAY,
            )
        )
    session.commit()
    _merge(session)
    rows = session.execute(
        select(LoyaltyBadge.customer_id, LoyaltyBadge.code, LoyaltyBadge.awarded_at)
        .order_by(LoyaltyBadge.code)
        .execution_options(populate_existing=True)
    ).all()
    assert [tuple(r) for r in rows] == [
        ("ann", "early", T0 + 2 * DAY),
        ("ann", "late", T0 + 9 * DAY),
    ]


CLUB: dict[str, Any] = {
    "code": "vip",
    "tiers": [
        {"name": "silver", "threshold": "50", "earn_multiplier": "1.5"},
        {"name": "gold", "threshold": "100", "earn_multiplier": "2"},
    ],
    "window_days": 30,
    "grace_days": 0,
}


def _tier_events(session: Session) -> list[tuple[str, Any, Any, str]]:
    rows = session.scalars(
        select(LoyaltyEvent).where(LoyaltyEvent.kind == "tier_changed").order_by(LoyaltyEvent.id)
    )
    return [
        (e.payload["customer_id"], e.payload["from"], e.payload["to"], e.event_key) for e in rows
    ]


def test_the_tier_club_is_evaluated_again_over_the_merged_orders(session: Session) -> None:
    """Silver from 50.00 in 30 days, gold from 100.00. ann spends 60.00 at T0 (silver), bob
    50.00 at T0 + 1 day (silver). Merged, ann has 60 + 50 = 110.00 within 30 days: gold at
    T0 + 1 day, told under ann's new key; bob's state is gone; a retry sends nothing."""
    make_program(session)
    create_program(session, ProgramSpec("vip", "VIP", "tiers", CLUB, starts_at=T0 - DAY))
    session.commit()
    on_order_recorded(session, add_order(session, "A1", "ann", "60.00", at=T0))
    on_order_recorded(session, add_order(session, "B1", "bob", "50.00", at=T0 + DAY))
    session.commit()
    before = _tier_events(session)
    assert [e[:3] for e in before] == [("ann", None, "silver"), ("bob", None, "silver")]

    _merge(session)
    _merge(session)

    states = session.execute(
        select(
            LoyaltyTierState.customer_id, LoyaltyTierState.tier, LoyaltyTierState.since
        ).execution_options(populate_existing=True)
    ).all()
    assert [tuple(s) for s in states] == [("ann", "gold", T0 + DAY)]
    after = _tier_events(session)
    assert after == [
        *before,
        ("ann", "silver", "gold", f"tier:vip:ann:{(T0 + DAY).isoformat()}"),
    ]


def test_memberships_referrals_partner_sales_and_draw_wins_move(session: Session) -> None:
    """Membership: both in one program; bob's period ends later (day 60 > day 30), so bob's
    row stays (now ann's) and ann's payment moves into it: 2 payments on one membership.
    Referrals: ann referred bob (pending → rejected, self-referral); bob referred cy
    (rewarded → referrer ann). Partner sale of bob → ann. Draw: ann rank 3, bob rank 1 →
    ann keeps rank 1 only."""
    program = make_program(session)
    for customer in ("ann", "bob", "cy"):
        add_customer(session, customer)
    for customer, ends, key in (("ann", 30, "pay-ann"), ("bob", 60, "pay-bob")):
        membership = Membership(
            program_id=program.id,
            customer_id=customer,
            plan="basic",
            period_start=T0,
            period_end=T0 + ends * DAY,
            charged=Decimal("5.00"),
        )
        session.add(membership)
        session.flush()
        session.add(
            MembershipPayment(
                membership_id=membership.id,
                key=key,
                kind="charge",
                amount=Decimal("5.00"),
                reason="period",
                occurred_at=T0,
            )
        )
    session.add_all(
        [
            Referral(program_id=program.id, referrer_id="ann", referee_id="bob", reason="x"),
            Referral(
                program_id=program.id,
                referrer_id="bob",
                referee_id="cy",
                state="rewarded",
                reason="paid",
            ),
            PartnerTransaction(
                program_id=program.id,
                partner="cinema",
                transaction_id="t1",
                kind="issue",
                customer_id="bob",
                points=10,
                occurred_at=T0,
            ),
        ]
    )
    draw = Draw(
        program_id=program.id,
        seed="s",
        rule={},
        eligible_count=3,
        eligible_sha256="0" * 64,
        actor="test",
    )
    session.add(draw)
    session.flush()
    session.add_all(
        [
            DrawWinner(draw_id=draw.id, rank=3, customer_id="ann", ticket="c"),
            DrawWinner(draw_id=draw.id, rank=1, customer_id="bob", ticket="a"),
        ]
    )
    session.commit()

    _merge(session)
    _merge(session)

    fresh = {"populate_existing": True}
    memberships = session.scalars(select(Membership).execution_options(**fresh)).all()
    assert [(m.customer_id, m.period_end) for m in memberships] == [("ann", T0 + 60 * DAY)]
    payments = session.scalars(select(MembershipPayment.membership_id)).all()
    assert payments == [memberships[0].id] * 2
    referrals = session.execute(
        select(Referral.referrer_id, Referral.referee_id, Referral.state, Referral.reason)
        .order_by(Referral.id)
        .execution_options(**fresh)
    ).all()
    assert [tuple(r) for r in referrals] == [
        ("ann", "ann", "rejected", SELF_REFERRAL_REASON),
        ("ann", "cy", "rewarded", "paid"),
    ]
    assert session.scalar(select(PartnerTransaction.customer_id)) == "ann"
    winners = session.execute(select(DrawWinner.customer_id, DrawWinner.rank)).all()
    assert [tuple(w) for w in winners] == [("ann", 1)]
    assert session.scalar(select(func.count()).select_from(LoyaltyEvent)) == 0
