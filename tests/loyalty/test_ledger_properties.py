"""Ledger invariants over random sequences of earn / spend / cancel a spend / return /
expire / adjust.

After every operation: the cached balance is Σ entries; no lot is negative and each lot's
``remaining`` is its points less what debits took from it and what expired of it; the
balance is never below zero unless the program allows it. At the end every order is
returned in full, after which the orders have left nothing behind:

    balance − debt − deducted == Σ adjustments + Σ redemptions without an order
                                 + Σ their cancellations + Σ expiries

(every point an order earned was reversed — from the balance, as debt, or off the refund —
and every point spent on an order came back, by cancellation or return, once), so no
sequence creates points from nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from loyalty_helpers import (
    T0,
    add_customer,
    add_order,
    add_return,
    check_ledger,
    check_lots,
    make_program,
)
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from regulars.loyalty.accounting.ledger import OrderRef
from regulars.loyalty.errors import InsufficientPointsError
from regulars.loyalty.points.cancellation import cancel_redemption
from regulars.loyalty.points.earning import on_order_recorded
from regulars.loyalty.points.expiry import expire_lots
from regulars.loyalty.points.redemption import adjust, redeem
from regulars.loyalty.points.returns import on_return_recorded
from regulars.loyalty.tables import SHORTFALL_POLICIES, LoyaltyAccount, LoyaltyEntry, LoyaltyProgram
from regulars.store.tables import Order

Op = tuple[str, int, int]
ops = st.lists(
    st.one_of(
        st.tuples(st.just("earn"), st.integers(1, 30_000), st.just(0)),
        st.tuples(st.just("spend"), st.integers(1, 400), st.integers(-1, 5)),
        # small redemptions, which usually fit, and cancelling one of them (or again)
        st.tuples(st.just("spend"), st.integers(1, 40), st.integers(-1, 5)),
        st.tuples(st.just("cancel"), st.integers(0, 3), st.just(0)),
        st.tuples(st.just("return"), st.integers(0, 5), st.integers(1, 100)),
        st.tuples(st.just("adjust"), st.integers(-150, 150), st.just(0)),
        st.tuples(st.just("wait"), st.integers(1, 40), st.just(0)),
    ),
    max_size=25,
)


@dataclass
class Run:
    session: Session
    program: LoyaltyProgram
    customer: str
    now = T0
    orders: list[Order] = field(default_factory=list)
    returned: dict[str, Decimal] = field(default_factory=dict)
    redemptions: list[str] = field(default_factory=list)
    deducted: int = 0
    expiring: int = 0

    def key(self) -> str:
        return uuid.uuid4().hex

    def earn(self, cents: int) -> None:
        order_id = f"{self.customer}-{len(self.orders)}"
        order = add_order(
            self.session, order_id, self.customer, str(Decimal(cents) / 100), self.now
        )
        self.orders.append(order)
        on_order_recorded(self.session, order)

    def spend(self, points: int, order_index: int) -> None:
        ref = None
        if 0 <= order_index < len(self.orders):  # paying (part of) an order not fully returned
            order = self.orders[order_index]
            if self.returned.get(order.order_id, Decimal(0)) < order.amount:
                ref = OrderRef("default", order.order_id)
        key = self.key()
        try:
            redeem(
                self.session,
                self.program,
                self.customer,
                points,
                key=key,
                actor="test",
                order=ref,
                now=self.now,
            )
            self.redemptions.append(key)
        except InsufficientPointsError:
            self.session.rollback()

    def cancel(self, index: int) -> None:
        if index < len(self.redemptions):  # cancelling twice must give back nothing more
            key = self.redemptions[index]
            cancel_redemption(
                self.session, self.program, self.customer, key, actor="test", now=self.now
            )

    def give_back(self, order_index: int, percent: int) -> None:
        if order_index >= len(self.orders):
            return
        order = self.orders[order_index]
        left = order.amount - self.returned.get(order.order_id, Decimal(0))
        amount = min(left, (order.amount * percent / 100).quantize(Decimal("0.01")))
        if amount <= 0:
            return
        self.returned[order.order_id] = self.returned.get(order.order_id, Decimal(0)) + amount
        ret = add_return(self.session, self.key(), order, str(amount), self.now)
        for outcome in on_return_recorded(self.session, ret, now=self.now):
            if outcome.program != self.program.code:
                continue
            self.deducted += int(outcome.refund_deduction * 100)  # point_value 0.01
            if outcome.reversal is not None:
                self.expiring += outcome.reversal.expiring

    def change(self, points: int) -> None:
        if points == 0:
            return
        try:
            adjust(
                self.session,
                self.program,
                self.customer,
                points,
                reason="test",
                actor="test",
                key=self.key(),
                now=self.now,
            )
        except InsufficientPointsError:
            self.session.rollback()

    def wait(self, days: int) -> None:
        self.now += timedelta(days=days)
        expire_lots(self.session, self.now)

    def apply(self, op: Op) -> None:
        name, a, b = op
        {
            "earn": lambda: self.earn(a),
            "spend": lambda: self.spend(a, b),
            "cancel": lambda: self.cancel(a),
            "return": lambda: self.give_back(a, b),
            "adjust": lambda: self.change(a),
            "wait": lambda: self.wait(a),
        }[name]()
        self.session.commit()


def _sum(session: Session, account_id: int, *conditions: object) -> int:
    return int(
        session.scalar(
            select(func.coalesce(func.sum(LoyaltyEntry.points), 0)).where(
                LoyaltyEntry.account_id == account_id,
                *conditions,  # type: ignore[arg-type]
            )
        )
        or 0
    )


EXAMPLES = settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@EXAMPLES
@given(sequence=ops, policy=st.sampled_from(SHORTFALL_POLICIES))
def test_no_sequence_loses_or_invents_a_point(
    store_engine: Engine, sequence: list[Op], policy: str
) -> None:
    _example(store_engine, policy, sequence)


FUNDED: list[Op] = [("earn", 10_000, 0), ("earn", 8_000, 0), ("earn", 6_000, 0), ("wait", 8, 0)]
"""Three orders earned 100, 80 and 60 points, spendable: redemptions mostly fit."""
redemption_ops = st.lists(
    st.one_of(
        st.tuples(st.just("spend"), st.integers(1, 60), st.integers(-1, 2)),
        st.tuples(st.just("cancel"), st.integers(0, 4), st.just(0)),
        st.tuples(st.just("return"), st.integers(0, 2), st.integers(1, 100)),
        st.tuples(st.just("wait"), st.integers(1, 40), st.just(0)),
    ),
    max_size=20,
)


@EXAMPLES
@given(sequence=redemption_ops, policy=st.sampled_from(SHORTFALL_POLICIES))
def test_cancellations_and_returns_never_give_back_more_than_was_spent(
    store_engine: Engine, sequence: list[Op], policy: str
) -> None:
    """The same invariants on a funded account where redemptions, their cancellations
    (also after their lots expired, or twice) and returns of the orders they paid mix."""
    _example(store_engine, policy, FUNDED + sequence)


def _example(store_engine: Engine, policy: str, sequence: list[Op]) -> None:
    tag = uuid.uuid4().hex[:10]
    with Session(store_engine, expire_on_commit=False) as session:
        program = make_program(
            session,
            code=f"p{tag}",
            shortfall_policy=policy,
            config={"pending_days": 7, "expiry_days": 60},
        )
        try:
            _run_and_check(session, program, policy, sequence, f"c{tag}")
        finally:  # later examples run programs of their own
            session.rollback()
            program.active = False
            session.commit()


def _run_and_check(
    session: Session, program: LoyaltyProgram, policy: str, sequence: list[Op], customer: str
) -> None:
    run = Run(session, program, customer)
    add_customer(session, run.customer)
    session.commit()
    for op in sequence:
        run.apply(op)
        _check(session, program, policy)
    for index in range(len(run.orders)):
        run.give_back(index, 100)
        session.commit()
    _check(session, program, policy)
    account = session.scalars(
        select(LoyaltyAccount).where(LoyaltyAccount.program_id == program.id)
    ).one_or_none()
    if account is None:
        return
    session.refresh(account)
    unlinked_spend = _sum(
        session, account.id, LoyaltyEntry.kind == "spend", LoyaltyEntry.order_id.is_(None)
    )
    unlinked_cancel = _sum(
        session, account.id, LoyaltyEntry.kind == "cancel_spend", LoyaltyEntry.order_id.is_(None)
    )
    manual = _sum(session, account.id, LoyaltyEntry.kind == "adjust")
    expired = _sum(session, account.id, LoyaltyEntry.kind == "expire")
    left = account.balance - account.debt - run.deducted - run.expiring
    assert left == manual + unlinked_spend + unlinked_cancel + expired
    _check_given_back(session, account.id)


def _check_given_back(session: Session, account_id: int) -> None:
    """Per order: cancellations and re-credits together gave back exactly what its
    redemptions spent (every order is returned in full by now)."""
    per_order = _given_back_less_spent(session, account_id)
    assert all(net == 0 for net in per_order.values()), per_order


def _given_back_less_spent(session: Session, account_id: int) -> dict[str, int]:
    """Per order: Σ cancellations + Σ re-credits − Σ redemptions (never above 0)."""
    rows = session.execute(
        select(LoyaltyEntry.order_id, LoyaltyEntry.kind, func.sum(LoyaltyEntry.points))
        .where(
            LoyaltyEntry.account_id == account_id,
            LoyaltyEntry.order_id.is_not(None),
            LoyaltyEntry.kind.in_(["spend", "cancel_spend", "recredit"]),
        )
        .group_by(LoyaltyEntry.order_id, LoyaltyEntry.kind)
    ).all()
    per_order: dict[str, int] = {}
    for order_id, _kind, points in rows:
        per_order[order_id] = per_order.get(order_id, 0) + int(points)
    return per_order


def _check(session: Session, program: LoyaltyProgram, policy: str) -> None:
    check_ledger(session, allow_negative=policy == "allow_negative", program_id=program.id)
    for account_id in session.scalars(
        select(LoyaltyAccount.id).where(LoyaltyAccount.program_id == program.id)
    ):
        check_lots(session, account_id)
        assert all(net <= 0 for net in _given_back_less_spent(session, account_id).values())
